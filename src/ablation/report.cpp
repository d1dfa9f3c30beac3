#include "pure16/ablation/report.h"

#include <cmath>
#include <cstdio>

#include "pure16/io/atomic_file.h"

namespace pure16::ablation {
namespace {

std::string format(const char* pattern, double value) {
  char text[64];
  std::snprintf(text, sizeof text, pattern, value);
  return text;
}

// "mean ± std" with `pattern` for each number, times `scale` (100 for percent); the spread is left
// out for one seed and the cell is a dash for none.
std::string mean_std(const Summary& s, const char* pattern, double scale = 1.0) {
  if (s.n == 0) return "—";
  std::string cell = format(pattern, s.mean * scale);
  if (s.n > 1) cell += " ± " + format(pattern, s.std * scale);
  return cell;
}

std::string signed_mean_std(const Summary& s) {
  if (s.n == 0) return "—";
  std::string cell = format("%+.2f", s.mean * 100);
  if (s.n > 1) cell += " ± " + format("%.2f", s.std * 100);
  return cell;
}

std::string bytes(double count) {
  if (!std::isfinite(count) || count < 0) return "—";
  if (count < 1024) return format("%.0f B", count);
  if (count < 1024.0 * 1024) return format("%.1f KiB", count / 1024);
  return format("%.2f MiB", count / (1024.0 * 1024));
}

std::string memory_cell(const nlohmann::json& memory, const char* key) {
  const auto it = memory.is_object() ? memory.find(key) : memory.end();
  return it != memory.end() && it->is_number() ? bytes(it->get<double>()) : "—";
}

// "| a | b |\n", built with appends only (GCC 12 warns, wrongly, of overlapping copies in
// `"literal" + std::string` chains at -O3).
std::string table_row(const std::vector<std::string>& cells) {
  std::string row = "|";
  for (const std::string& cell : cells) {
    row += ' ';
    row += cell;
    row += " |";
  }
  row += '\n';
  return row;
}

std::string out_of(int64_t count, int64_t total) { return std::to_string(count) + "/" + std::to_string(total); }

std::string train_flags_line(const StudyConfig& config) {
  std::string line;
  for (const std::string& a : flag_arguments(config.train)) line += (line.empty() ? "" : " ") + a;
  return line;
}

// A number for CSV: shortest round trip, and an empty cell for a value that is not there.
std::string csv_number(double value) {
  return std::isfinite(value) ? nlohmann::json(value).dump() : "";
}

std::string csv_memory(const nlohmann::json& memory, const char* key) {
  const auto it = memory.is_object() ? memory.find(key) : memory.end();
  return it != memory.end() && it->is_number() ? it->dump() : "";
}

nlohmann::json summary_json(const Summary& s) {
  return {{"n", s.n}, {"mean", s.mean}, {"std", s.std}, {"min", s.min}, {"max", s.max}};
}

}  // namespace

std::string report_markdown(const StudyResults& study, const PlotOutcome& plots) {
  const StudyConfig& c = study.config;
  std::string md = "# Precision ablation: " + c.name + "\n\n";
  if (!c.description.empty()) md += c.description + "\n\n";
  md += "Every arm ran `pure16 train " + train_flags_line(c) + "` with its strategy's preset and overrides; seeds";
  for (size_t i = 0; i < c.seeds.size(); ++i) {
    md += i == 0 ? " " : ", ";
    md += std::to_string(c.seeds[i]);
  }
  md += " (one seed gives every strategy the same initialization and data order).\n\n";

  md += "## Accuracy\n\nTest accuracy in percent: mean ± sample standard deviation (n - 1) over the seeds that ran to "
        "the end, diverged ones included.";
  if (!c.baseline.empty())
    md += " Δ is the final accuracy minus " + c.baseline + "'s with the same seed, in percentage points: mean ± std of "
          "the per-seed differences.";
  md += " Losses are the last epoch's; img/s is each arm's mean over its epochs.\n\n";
  std::vector<std::string> header = {"strategy", "preset", "final test acc. %", "best test acc. %"};
  if (!c.baseline.empty()) header.push_back("Δ vs " + c.baseline + " (pp)");
  for (const char* column : {"train loss", "test loss", "img/s", "diverged", "failed"}) header.push_back(column);
  md += table_row(header) + table_row(std::vector<std::string>(header.size(), "---"));
  for (const StrategySummary& s : study.strategies) {
    std::vector<std::string> row = {s.name, s.precision, mean_std(s.final_accuracy, "%.2f", 100),
                                    mean_std(s.best_accuracy, "%.2f", 100)};
    if (!c.baseline.empty()) row.push_back(signed_mean_std(s.accuracy_difference));
    row.insert(row.end(), {mean_std(s.train_loss, "%.4f"), mean_std(s.test_loss, "%.4f"),
                           mean_std(s.images_per_second, "%.0f"), out_of(s.diverged, s.arms), out_of(s.failed, s.arms)});
    md += table_row(row);
  }

  md += "\n## Memory\n\nBytes of training state, from the run log's final record, and the size of the model "
        "`pure16 export` writes from the last checkpoint (each tensor in the dtype the run keeps it in: the "
        "compute dtype, fp32 in layers kept in fp32).\n\n";
  md += table_row({"strategy", "weights", "gradients", "optimizer state", "master weights", "activations", "model file"});
  md += table_row(std::vector<std::string>(7, "---"));
  for (const StrategySummary& s : study.strategies)
    md += table_row({s.name, memory_cell(s.memory, "weights_bytes"), memory_cell(s.memory, "gradients_bytes"),
                     memory_cell(s.memory, "optimizer_bytes"), memory_cell(s.memory, "master_weights_bytes"),
                     memory_cell(s.memory, "activations_bytes"), bytes(s.model_bytes.n ? s.model_bytes.mean : NAN)});

  if (study.failed_arms() > 0) {
    md += "\n## Failed arms\n\nThese arms exited without their final record; they count in no mean above and "
          "run again at the next `pure16 ablate`.\n";
    for (const ArmResult& arm : study.arms)
      if (!arm.ok())
        md += "\n### " + arm.strategy + ", seed " + std::to_string(arm.seed) + "\n\n```\n" + arm.failure +
              (arm.failure.empty() || arm.failure.back() == '\n' ? "" : "\n") + "```\n";
  }

  bool any_diverged = false;
  for (const ArmResult& arm : study.arms) any_diverged |= !arm.divergence.empty();
  if (any_diverged) {
    md += "\n## Diverged arms\n\nThese arms were stopped by `pure16 train`'s divergence check (a NaN loss applied, "
          "or every step skipped for the divergence window); their last evaluation counts in the means above.\n\n";
    for (const ArmResult& arm : study.arms)
      if (!arm.divergence.empty()) md += "- " + arm.strategy + ", seed " + std::to_string(arm.seed) + ": " + arm.divergence + "\n";
  }

  md += "\n## Plots\n\n";
  if (plots.made) {
    for (const std::string& file : plots.files)
      if (file.size() > 4 && file.compare(file.size() - 4, 4, ".svg") == 0) md += "![" + file + "](" + file + ")\n\n";
    md += "PNG versions of each plot are beside the SVG files.\n";
  } else {
    md += "Plots were not made: " + plots.note + "\n";
  }

  md += "\n## Files\n\n"
        "- `results.csv`: one row per arm; `epochs.csv`: one row per arm and epoch; `results.json`: all of it, with "
        "the per-strategy summaries and curves.\n"
        "- `arms/<strategy>/seed-<seed>/`: each arm's `log.jsonl`, `stdout.txt`, `stderr.txt`, last checkpoint and "
        "`model.safetensors`.\n";
  return md;
}

std::string results_csv(const StudyResults& study) {
  std::string csv =
      "strategy,precision,seed,status,final_test_accuracy,best_test_accuracy,final_train_loss,final_test_loss,"
      "images_per_second,training_seconds,epochs,weights_bytes,gradients_bytes,optimizer_bytes,master_weights_bytes,"
      "activations_bytes,model_bytes\n";
  for (const ArmResult& arm : study.arms) {
    std::string precision;
    for (const Strategy& s : study.config.strategies)
      if (s.name == arm.strategy) precision = s.precision;
    const bool ran = arm.ok() && !arm.epochs.empty();
    csv += arm.strategy + "," + precision + "," + std::to_string(arm.seed) + "," + arm_status_name(arm.status) + "," +
           csv_number(arm.ok() ? arm.final_accuracy : NAN) + "," + csv_number(ran ? arm.best_accuracy() : NAN) + "," +
           csv_number(ran ? arm.epochs.back().train_loss : NAN) + "," +
           csv_number(ran ? arm.epochs.back().test_loss : NAN) + "," +
           csv_number(ran ? arm.mean_images_per_second() : NAN) + "," + csv_number(ran ? arm.training_seconds() : NAN) +
           "," + std::to_string(arm.epochs.size()) + "," + csv_memory(arm.memory, "weights_bytes") + "," +
           csv_memory(arm.memory, "gradients_bytes") + "," + csv_memory(arm.memory, "optimizer_bytes") + "," +
           csv_memory(arm.memory, "master_weights_bytes") + "," + csv_memory(arm.memory, "activations_bytes") + "," +
           (arm.model_bytes >= 0 ? std::to_string(arm.model_bytes) : "") + "\n";
  }
  return csv;
}

std::string epochs_csv(const StudyResults& study) {
  std::string csv = "strategy,seed,epoch,train_loss,test_loss,test_accuracy,images_per_second,seconds,loss_scale\n";
  for (const ArmResult& arm : study.arms)
    for (const EpochPoint& e : arm.epochs)
      csv += arm.strategy + "," + std::to_string(arm.seed) + "," + std::to_string(e.epoch) + "," +
             csv_number(e.train_loss) + "," + csv_number(e.test_loss) + "," + csv_number(e.test_accuracy) + "," +
             csv_number(e.images_per_second) + "," + csv_number(e.seconds) + "," + csv_number(e.loss_scale) + "\n";
  return csv;
}

nlohmann::json results_json(const StudyResults& study, const PlotOutcome& plots) {
  const StudyConfig& c = study.config;
  nlohmann::json strategies = nlohmann::json::array();
  for (const StrategySummary& s : study.strategies) {
    nlohmann::json curve = nlohmann::json::array();
    for (const CurvePoint& p : s.curve)
      curve.push_back({{"epoch", p.epoch},
                       {"test_accuracy", summary_json(p.test_accuracy)},
                       {"train_loss", summary_json(p.train_loss)},
                       {"test_loss", summary_json(p.test_loss)},
                       {"loss_scale", summary_json(p.loss_scale)}});
    strategies.push_back({{"name", s.name},
                          {"precision", s.precision},
                          {"arms", s.arms},
                          {"failed", s.failed},
                          {"diverged", s.diverged},
                          {"final_test_accuracy", summary_json(s.final_accuracy)},
                          {"best_test_accuracy", summary_json(s.best_accuracy)},
                          {"accuracy_difference_from_baseline", summary_json(s.accuracy_difference)},
                          {"final_train_loss", summary_json(s.train_loss)},
                          {"final_test_loss", summary_json(s.test_loss)},
                          {"images_per_second", summary_json(s.images_per_second)},
                          {"model_bytes", summary_json(s.model_bytes)},
                          {"memory", s.memory},
                          {"curve", curve}});
  }
  nlohmann::json arms = nlohmann::json::array();
  for (const ArmResult& arm : study.arms) {
    nlohmann::json epochs = nlohmann::json::array();
    for (const EpochPoint& e : arm.epochs)
      epochs.push_back({{"epoch", e.epoch},
                        {"train_loss", e.train_loss},
                        {"test_loss", e.test_loss},
                        {"test_accuracy", e.test_accuracy},
                        {"images_per_second", e.images_per_second},
                        {"seconds", e.seconds},
                        {"loss_scale", e.loss_scale}});
    arms.push_back({{"strategy", arm.strategy},
                    {"seed", arm.seed},
                    {"status", arm_status_name(arm.status)},
                    {"failure", arm.failure},
                    {"divergence", arm.divergence},
                    {"dir", arm.dir.string()},
                    {"telemetry", arm.has_telemetry ? (arm.dir / "telemetry.jsonl").string() : ""},
                    {"final_test_accuracy", arm.ok() ? arm.final_accuracy : NAN},
                    {"best_test_accuracy", arm.best_accuracy()},
                    {"model_bytes", arm.model_bytes},
                    {"precision", arm.precision},
                    {"memory", arm.memory},
                    {"epochs", epochs}});
  }
  nlohmann::json config_strategies = nlohmann::json::array();
  for (const Strategy& s : c.strategies)
    config_strategies.push_back({{"name", s.name}, {"precision", s.precision}, {"train", s.train}});
  return {{"name", c.name},
          {"description", c.description},
          {"train", c.train},
          {"seeds", c.seeds},
          {"baseline", c.baseline},
          {"telemetry_every", c.telemetry_every},
          {"config_strategies", config_strategies},
          {"strategies", strategies},
          {"arms", arms},
          {"plots", {{"made", plots.made}, {"note", plots.note}, {"files", plots.files}}}};
}

void write_study_outputs(const std::filesystem::path& out, const StudyResults& study, const PlotOutcome& plots) {
  io::write_file_atomic(out / "results.json", results_json(study, plots).dump(1) + "\n");
  io::write_file_atomic(out / "results.csv", results_csv(study));
  io::write_file_atomic(out / "epochs.csv", epochs_csv(study));
  io::write_file_atomic(out / "report.md", report_markdown(study, plots));
}

}  // namespace pure16::ablation
