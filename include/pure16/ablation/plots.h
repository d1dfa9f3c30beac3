// The study's plots, drawn by scripts/plot_ablation.py with Debian's matplotlib from results.json.
// Plots are optional: without the interpreter or matplotlib the study still writes its report.
#pragma once

#include <filesystem>

#include "pure16/ablation/report.h"

namespace pure16::ablation {

/// The exit status with which plot_ablation.py says matplotlib cannot be imported.
constexpr int kPlotsUnavailableExit = 3;

/// Runs `python script out` (the script reads out/results.json and writes out/plots/*.png and
/// *.svg, its output going to out/plots/plot.log) and says what came of it.
PlotOutcome make_plots(const std::filesystem::path& python, const std::filesystem::path& script,
                       const std::filesystem::path& out);

}  // namespace pure16::ablation
