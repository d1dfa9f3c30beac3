#include "pure16/ablation/plots.h"

#include <algorithm>

#include "pure16/ablation/arm_result.h"
#include "pure16/ablation/process.h"

namespace pure16::ablation {

PlotOutcome make_plots(const std::filesystem::path& python, const std::filesystem::path& script,
                       const std::filesystem::path& out) {
  PlotOutcome outcome;
  if (!std::filesystem::exists(python)) {
    outcome.note = python.string() + " does not exist (install python3-matplotlib: scripts/install_deps.sh)";
    return outcome;
  }
  if (!std::filesystem::exists(script)) {
    outcome.note = "the plot script " + script.string() + " is not there (give its path with --plot-script)";
    return outcome;
  }
  const std::filesystem::path dir = out / "plots";
  std::filesystem::create_directories(dir);
  const std::filesystem::path log = dir / "plot.log";
  const ProcessStatus status = run_process(python, {script.string(), out.string()}, log, log);
  if (!status.succeeded()) {
    std::string last = excerpt(log, 0, 1);
    while (!last.empty() && last.back() == '\n') last.pop_back();
    outcome.note = status.exit_code == kPlotsUnavailableExit
                       ? last
                       : script.string() + " " + describe(status) + ": " + last + " (see " + log.string() + ")";
    return outcome;
  }
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string extension = entry.path().extension().string();
    if (extension == ".png" || extension == ".svg")
      outcome.files.push_back(entry.path().lexically_relative(out).string());
  }
  std::sort(outcome.files.begin(), outcome.files.end());
  outcome.made = true;
  return outcome;
}

}  // namespace pure16::ablation
