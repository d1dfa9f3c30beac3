// `pure16 ablate`: a precision-ablation study. Trains one model under several strategies and
// seeds, each arm a `pure16 train` process, and writes report.md, results.csv, epochs.csv,
// results.json and plots into one folder (docs/ABLATION.md).
#include <omp.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "pure16/ablation/config.h"
#include "pure16/ablation/plan.h"
#include "pure16/ablation/plots.h"
#include "pure16/ablation/process.h"
#include "pure16/ablation/runner.h"
#include "pure16/ablation/study.h"

namespace pure16::cli {
namespace {

struct AblateOptions {
  std::string config;
  std::string out;  // default: ablation-<name>
  int64_t jobs = 0;  // 0: the config's
  bool dry_run = false;
  bool allow_failures = false;
  bool no_plots = false;
  std::string python = "/usr/bin/python3";
  std::string plot_script;  // default: scripts/plot_ablation.py beside the build folder
};

int run_ablate(const AblateOptions& o) {
  using namespace ablation;
  const StudyConfig config = load_study_config(o.config);
  const std::filesystem::path out = o.out.empty() ? "ablation-" + config.name : o.out;
  const std::filesystem::path program = current_executable();
  RunnerOptions runner{out, program, o.jobs > 0 ? o.jobs : config.jobs, 1};
  runner.threads = std::max<int64_t>(1, omp_get_num_procs() / runner.jobs);
  const std::vector<Arm> arms = plan_arms(config, out);

  if (o.dry_run) {
    for (const Arm& arm : arms) {
      const std::string reason = reason_to_run(arm);
      std::cout << "# arm " << arm.index + 1 << "/" << arms.size() << " " << arm.strategy << " seed " << arm.seed << ": "
                << (reason.empty() ? "done (cached)" : reason) << "\n";
      std::vector<std::string> train = arm.train_command(runner.threads);
      train.insert(train.begin(), program.string());
      std::vector<std::string> exported = arm.export_command(arm.checkpoints() / "<last checkpoint>");
      exported.insert(exported.begin(), program.string());
      std::cout << shell_line(train) << "\n" << shell_line(exported) << "\n";
    }
    return 0;
  }

  std::filesystem::create_directories(out);
  std::cout << "pure16 ablate: " << config.name << ", " << config.strategies.size() << " strategies x "
            << config.seeds.size() << " seeds, into " << out.string() << std::endl;
  const StudyResults study = summarize_study(config, run_arms(arms, runner, std::cout));

  // The plot script reads results.json, so the results are written before the plots are drawn,
  // and again after, to record what came of them.
  PlotOutcome plots;
  plots.note = o.no_plots ? "--no-plots was given." : "they were not drawn yet.";
  write_study_outputs(out, study, plots);
  if (!o.no_plots) {
    const std::filesystem::path script =
        o.plot_script.empty() ? program.parent_path().parent_path() / "scripts" / "plot_ablation.py"
                              : std::filesystem::path(o.plot_script);
    plots = make_plots(o.python, script, out);
    write_study_outputs(out, study, plots);
    if (!plots.made) std::cerr << "pure16 ablate: plots skipped: " << plots.note << "\n";
  }
  std::cout << "wrote " << (out / "report.md").string() << ", results.csv, epochs.csv, results.json"
            << (plots.made ? " and " + std::to_string(plots.files.size()) + " plot files" : "") << "\n";

  const int64_t failed = study.failed_arms();
  if (failed == 0) return 0;
  const bool allowed = o.allow_failures || config.allow_failures;
  std::cerr << "pure16 ablate: " << failed << " of " << arms.size() << " arms failed (report.md lists them)"
            << (allowed ? "; allowed by " + std::string(o.allow_failures ? "--allow-failures" : "the config") : "")
            << "\n";
  return allowed ? 0 : 1;
}

}  // namespace

Command add_ablate_command(CLI::App& app) {
  auto o = std::make_shared<AblateOptions>();
  CLI::App* sub = app.add_subcommand(
      "ablate", "Run a precision-ablation study: strategies x seeds of one training setup, with a report");
  sub->add_option("--config", o->config, "The study, a JSON file (docs/ABLATION.md)")->required();
  sub->add_option("--out", o->out, "Output folder (default: ablation-<config name>)");
  sub->add_option("--jobs", o->jobs, "Arms to run side by side, each with the cores / jobs threads (default: the "
                                     "config's \"jobs\", else 1)")
      ->check(CLI::PositiveNumber);
  sub->add_flag("--dry-run", o->dry_run, "Print each arm's commands and whether it would run; run nothing");
  sub->add_flag("--allow-failures", o->allow_failures,
                "Exit 0 even when arms failed (as \"allow_failures\": true in the config)");
  sub->add_flag("--no-plots", o->no_plots, "Do not draw the plots");
  sub->add_option("--python", o->python, "The Python that draws the plots, with matplotlib")->capture_default_str();
  sub->add_option("--plot-script", o->plot_script,
                  "The plot script (default: scripts/plot_ablation.py of the source tree above this binary's folder)");
  return {sub, [o] { return run_ablate(*o); }};
}

}  // namespace pure16::cli
