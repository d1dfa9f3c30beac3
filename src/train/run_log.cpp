#include "pure16/train/run_log.h"

#include "pure16/io/atomic_file.h"
#include "pure16/kernels/isa.h"

namespace pure16::train {

nlohmann::json epoch_json(const EpochRecord& r) {
  return {{"epoch", r.epoch},
          {"train_loss", r.train_loss},
          {"test_loss", r.test_loss},
          {"test_accuracy", r.test_accuracy},
          {"test_top5_accuracy", r.test_top5_accuracy},
          {"images_per_second", r.images_per_second},
          {"seconds", r.seconds},
          {"loss_scale", r.loss_scale},
          {"lr", r.lr},
          {"skipped_steps", r.skipped_steps},
          {"steps", r.steps},
          {"partial", r.partial}};
}

nlohmann::json final_json(const TrainResult& result) {
  return {{"final", true},
          {"test_accuracy", result.test_accuracy},
          {"steps", result.steps},
          {"parameters", result.parameters},
          {"precision",
           {{"name", result.policy.name},
            {"compute", dtype_name(result.policy.compute)},
            {"master", dtype_name(result.policy.master)},
            {"optimizer_state", dtype_name(result.policy.optimizer_state)},
            {"statistics", dtype_name(result.policy.statistics)},
            {"accumulation", kernels::accumulation_name(result.policy.accumulation)},
            {"accumulation_requested", kernels::accumulation_name(result.requested_accumulation)},
            {"convolution", kernels::conv_algorithm_name(result.policy.convolution)},
            {"loss_scale", loss_scale_name(result.policy.loss_scale)},
            {"rounding", rounding_name(result.policy.update_rounding)},
            {"momentum_rounding", rounding_name(result.policy.momentum_rounding)},
            {"keep_fp32", result.policy.keep_fp32},
            {"isa", kernels::isa_name(kernels::active_isa())}}},
          {"memory",
           {{"weights_bytes", result.memory.weights_bytes},
            {"gradients_bytes", result.memory.gradients_bytes},
            {"optimizer_bytes", result.memory.optimizer_bytes},
            {"master_weights_bytes", result.memory.master_weights_bytes},
            {"buffers_bytes", result.memory.buffers_bytes},
            {"activations_bytes", result.memory.activations_bytes}}}};
}

RunLog::RunLog(std::filesystem::path path) : path_(std::move(path)) { io::write_file_atomic(path_, ""); }

void RunLog::append(const nlohmann::json& record) {
  contents_ += record.dump() + "\n";
  io::write_file_atomic(path_, contents_);
}

}  // namespace pure16::train
