// `pure16 eval`: test loss, top-1 and top-5 accuracy of a checkpoint or exported model.
#include <omp.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "pure16/data/sources.h"
#include "pure16/io/atomic_file.h"
#include "pure16/train/saved_model.h"

namespace pure16::cli {
namespace {

struct EvalOptions {
  std::string checkpoint;
  std::string dataset;  // empty: the one the model was trained on
  std::string data_dir;
  int64_t workers = 2;
  int threads = 0;
  std::string log;
};

int run_eval(const EvalOptions& o) {
  omp_set_num_threads(o.threads > 0 ? o.threads : omp_get_num_procs());
  const std::unique_ptr<train::Run> run = train::load_saved_model(o.checkpoint);
  const data::DatasetIdentity& trained_on = run->dataset();
  data::DataOptions options;
  // An image folder's identity is "imagefolder:<folder>": the dataset is the part before ':'.
  options.dataset = o.dataset.empty() ? trained_on.name.substr(0, trained_on.name.find(':')) : o.dataset;
  options.dir = o.data_dir;
  options.image_size = run->sample_shape().at(0);
  options.workers = o.workers;
  options.batch_size = run->config().batch_size;
  options.eval_batch_size = run->config().eval_batch_size;
  options.seed = run->config().seed;
  data::DataSources sources = data::open_dataset(options);
  const data::DatasetIdentity& data = sources.identity;
  if (data.sample_shape != run->sample_shape() || data.num_classes != run->num_classes())
    throw std::runtime_error(o.checkpoint + ": the model takes " + shape_string(run->sample_shape()) + " samples of " +
                             std::to_string(run->num_classes()) + " classes, dataset " + data.name + " has " +
                             shape_string(data.sample_shape) + " samples of " + std::to_string(data.num_classes));
  const std::string difference = data.difference(trained_on);
  if (!difference.empty()) std::cerr << "pure16: note: not the data the model was trained on (" << difference << ")\n";

  const train::EvalResult r = run->evaluate(*sources.test);
  std::printf("%s on %s (%lld test samples): test_loss %.4f  top1 %.2f%%  top5 %.2f%%\n", o.checkpoint.c_str(),
              data.name.c_str(), (long long)r.samples, r.loss, 100.0 * r.accuracy, 100.0 * r.top5_accuracy);
  if (!o.log.empty()) {
    const nlohmann::json record{{"model", o.checkpoint}, {"dataset", data.name},  {"samples", r.samples},
                                {"test_loss", r.loss},   {"test_accuracy", r.accuracy}, {"test_top5_accuracy", r.top5_accuracy}};
    io::write_file_atomic(o.log, record.dump() + "\n");
  }
  return 0;
}

}  // namespace

Command add_eval_command(CLI::App& app) {
  auto o = std::make_shared<EvalOptions>();
  CLI::App* sub = app.add_subcommand("eval", "Test loss, top-1 and top-5 accuracy of a checkpoint or exported model");
  sub->add_option("--checkpoint", o->checkpoint, "Checkpoint or exported model")->required();
  sub->add_option("--dataset", o->dataset, "Dataset (default: the one the model was trained on)")
      ->check(CLI::IsMember(data::dataset_names()));
  sub->add_option("--data", o->data_dir, "Dataset directory (default: ${PURE16_DATA:-~/.cache/pure16}/<dataset>)");
  sub->add_option("--workers", o->workers, "Threads decoding images")->check(CLI::NonNegativeNumber)->capture_default_str();
  sub->add_option("--threads", o->threads, "Threads (default: all cores)")->check(CLI::PositiveNumber);
  sub->add_option("--log", o->log, "Write the result as one JSON object to this file");
  return {sub, [o] { return run_eval(*o); }};
}

}  // namespace pure16::cli
