// Training checkpoints: one safetensors file holding everything a run needs to continue
// bitwise (docs/DESIGN.md, "Checkpoints"). Tensors, per parameter under its path name:
//   weights.<name>   the weights forward reads (compute dtype)
//   master.<name>    the master copy, when the policy keeps one
//   <arena>.<name>   each of the optimizer's state arenas: momentum (SGD, LARS), exp_avg and
//                    exp_avg_sq_sqrt (Adam; exp_avg_sq when naive), compensation (Kahan rounding)
//   buffers.<name>   BatchNorm running statistics
// and in __metadata__, "pure16_checkpoint": a JSON document with the configuration, the
// precision policy, the dataset's identity, the position (step, epoch, batch and the epoch's
// running sums), the loss scaler's state, the optimizer's scalars (updates applied, Adam's
// state_scale), the epochs' records, and a hash of all tensor bytes, so corruption that keeps the
// file well-formed is caught too.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pure16/io/safetensors.h"
#include "pure16/train/run.h"

namespace pure16::train {

/// The checkpoint of `run` as a safetensors file in memory.
io::SafetensorsFile checkpoint_contents(const Run& run);

/// What a run is, enough to build it again without its data: checkpoints and exported models
/// both carry it.
struct RunDescription {
  TrainConfig config;
  Shape sample_shape;
  int64_t num_classes = 0;
  int64_t steps_per_epoch = 0;
  data::DatasetIdentity dataset;
};
nlohmann::json run_description_json(const Run& run);
/// The inverse of run_description_json; throws std::invalid_argument naming what is wrong.
RunDescription run_description_from_json(const nlohmann::json& json);
/// A fresh run (initial weights) as `description` says.
std::unique_ptr<Run> build_run(const RunDescription& description);

/// What a checkpoint says about its run, without building it.
struct CheckpointHeader {
  RunDescription run;
  RunPosition position;
  std::vector<EpochRecord> history;
};
/// Reads and checks the metadata of checkpoint `contents`; errors name `file`.
CheckpointHeader read_checkpoint_header(const io::SafetensorsFile& contents, const std::string& file);

/// A run built from a checkpoint alone (its configuration, shapes and dataset identity), in the
/// checkpoint's state: for evaluation, prediction and export, where no training data is at hand.
std::unique_ptr<Run> load_run(const std::filesystem::path& path);

/// "checkpoint-step<step, 10 digits>.safetensors" in `dir`.
std::filesystem::path checkpoint_path(const std::filesystem::path& dir, int64_t step);
/// The checkpoints in `dir`, oldest (lowest step) first; names of other forms, such as the
/// temporary files of an interrupted write, are not checkpoints.
std::vector<std::filesystem::path> list_checkpoints(const std::filesystem::path& dir);
/// What `--resume` names: a checkpoint file as it is, or a directory's newest checkpoint;
/// empty when the directory holds none. Throws std::runtime_error for a path that does not exist.
std::filesystem::path resolve_resume(const std::filesystem::path& file_or_dir);

/// Writes checkpoints of a run as it trains: every `every` steps (0: never) and at the end of
/// every epoch, keeping the `keep` newest (0: all). Each write is atomic, so the newest complete
/// checkpoint survives a crash at any moment. On construction it creates `dir` and removes the
/// temporary files an interrupted write left there.
class Checkpointer : public Callback {
 public:
  Checkpointer(std::filesystem::path dir, int64_t every, int64_t keep);
  void after_batch(Run& run, const BatchProgress& progress) override;
  void after_epoch(Run& run, const EpochRecord& record) override;
  /// The last checkpoint written (empty before the first).
  const std::filesystem::path& last() const { return last_; }

 private:
  void save(Run& run);

  std::filesystem::path dir_;
  int64_t every_, keep_;
  std::filesystem::path last_;
};

nlohmann::json config_json(const TrainConfig& config);
/// The inverse of config_json; throws std::invalid_argument naming a missing or malformed field.
TrainConfig config_from_json(const nlohmann::json& json);

}  // namespace pure16::train
