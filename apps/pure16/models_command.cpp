// `pure16 models`: the model zoo with parameter counts and the work of one image.
#include <cstdio>

#include "commands.h"
#include "pure16/nn/models.h"

namespace pure16::cli {
namespace {

int64_t parameter_count(nn::Layer& model) {
  int64_t n = 0;
  for (const nn::Parameter* p : model.parameters()) n += shape_numel(p->shape);
  return n;
}

std::string shape_text(const Shape& s) {
  return std::to_string(s[0]) + "x" + std::to_string(s[1]) + "x" + std::to_string(s[2]);
}

int run_models() {
  // Training does about three times the forward work: the forward pass, the gradient with
  // respect to the inputs and the gradient with respect to the weights.
  std::printf("%-16s %-10s %8s %14s %14s %14s  %s\n", "model", "input", "classes", "parameters", "fwd GFLOP/img",
              "train GFLOP/img", "description");
  for (const nn::ModelInfo& info : nn::model_infos()) {
    auto model = nn::build_model(info.name, info.sample_shape, info.num_classes);
    const Shape one_image{1, info.sample_shape[0], info.sample_shape[1], info.sample_shape[2]};
    const double gflops = double(model->forward_flops(one_image)) * 1e-9;
    std::printf("%-16s %-10s %8lld %14lld %14.4f %15.4f  %s\n", info.name.c_str(), shape_text(info.sample_shape).c_str(),
                (long long)info.num_classes, (long long)parameter_count(*model), gflops, 3 * gflops,
                info.description.c_str());
  }
  return 0;
}

}  // namespace

Command add_models_command(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("models", "List the models with parameter counts and FLOPs per image");
  return {sub, [] { return run_models(); }};
}

}  // namespace pure16::cli
