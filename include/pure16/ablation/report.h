// The outputs of a study: report.md for people, results.csv (one row per arm), epochs.csv (one
// row per arm and epoch) and results.json (everything, what scripts/plot_ablation.py reads).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pure16/ablation/study.h"

namespace pure16::ablation {

/// What became of the plots: made (files relative to the output folder), or why not.
struct PlotOutcome {
  bool made = false;
  std::string note;  // why they were skipped or failed; "" when made
  std::vector<std::string> files;
};

std::string report_markdown(const StudyResults& study, const PlotOutcome& plots);
std::string results_csv(const StudyResults& study);
std::string epochs_csv(const StudyResults& study);
nlohmann::json results_json(const StudyResults& study, const PlotOutcome& plots);

/// Writes the four files into `out`, each atomically (a reader sees the old file or the new one).
void write_study_outputs(const std::filesystem::path& out, const StudyResults& study, const PlotOutcome& plots);

}  // namespace pure16::ablation
