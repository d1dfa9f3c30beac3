// `pure16 export`: a checkpoint's model as a safetensors file for other tools, in pure16's
// layout or in torchvision's (what load_state_dict of torchvision's ResNets expects).
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "commands.h"
#include "pure16/train/saved_model.h"

namespace pure16::cli {
namespace {

struct ExportOptions {
  std::string checkpoint;
  std::string out;
  std::string dtype;  // empty: each tensor in the dtype the run keeps it in
  std::string layout = "pure16";
};

int run_export(const ExportOptions& o) {
  const std::unique_ptr<train::Run> run = train::load_saved_model(o.checkpoint);
  // Without --dtype each tensor keeps the run's dtype for it (layers kept in fp32 stay fp32).
  const std::optional<DType> dtype = o.dtype.empty() ? std::nullopt : std::optional(parse_dtype(o.dtype));
  if (dtype == DType::f64) throw std::invalid_argument("--dtype must be fp16, bf16 or fp32");
  const train::ModelLayout layout = train::parse_model_layout(o.layout);
  const io::SafetensorsFile contents = train::export_run(*run, layout, dtype);
  io::write_safetensors(o.out, contents);
  // The size the same model takes at the other widths, for the comparison users ask for first.
  const size_t bytes = io::serialize_safetensors(contents).size();
  const size_t fp32_bytes = io::serialize_safetensors(train::export_run(*run, layout, DType::f32)).size();
  std::printf("wrote %s: %s %s, %zu tensors, %lld parameters, %zu bytes (fp32: %zu bytes, %.3fx)\n", o.out.c_str(),
              run->config().model.c_str(), contents.metadata.at("pure16_dtype").c_str(), contents.tensors.size(),
              (long long)run->store().parameter_count(), bytes, fp32_bytes, double(bytes) / double(fp32_bytes));
  return 0;
}

}  // namespace

Command add_export_command(CLI::App& app) {
  auto o = std::make_shared<ExportOptions>();
  CLI::App* sub = app.add_subcommand("export", "Write a checkpoint's model as safetensors, for PyTorch and other tools");
  sub->add_option("--checkpoint", o->checkpoint, "Checkpoint (or exported model) to read")->required();
  sub->add_option("--out", o->out, "File to write (.safetensors)")->required();
  sub->add_option("--dtype", o->dtype,
                  "Element type of the weights (default: the run's, per tensor: its compute dtype, fp32 for layers "
                  "kept in fp32)")
      ->check(CLI::IsMember({"fp16", "bf16", "fp32", "f16", "f32"}));
  sub->add_option("--layout", o->layout,
                  "pure16 (our shapes: convolutions OHWI) or torchvision (state_dict names and shapes: OIHW, "
                  "num_batches_tracked)")
      ->check(CLI::IsMember({"pure16", "torchvision"}))
      ->capture_default_str();
  return {sub, [o] { return run_export(*o); }};
}

}  // namespace pure16::cli
