// `pure16 train`: train a model on a dataset under a precision policy.
#include <omp.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include "commands.h"
#include "pure16/data/cifar.h"
#include "pure16/data/data_dir.h"
#include "pure16/data/image_folder.h"
#include "pure16/data/image_loader.h"
#include "pure16/data/loader.h"
#include "pure16/data/mnist.h"
#include "pure16/data/synthetic.h"
#include "pure16/data/transforms.h"
#include "pure16/kernels/gemm.h"
#include "pure16/train/run_log.h"
#include "pure16/train/trainer.h"

namespace pure16::cli {
namespace {

struct TrainOptions {
  std::string model = "mlp";
  std::string dataset = "mnist";
  std::string data_dir;
  int64_t image_size = 224;
  int64_t workers = 2;
  bool skip_bad_images = false;
  std::string precision = "pure-fp16";
  std::string loss_scale;  // empty: the preset's
  std::string rounding;    // empty: the preset's
  std::string accumulation;
  int64_t epochs = 5;
  int64_t max_steps = 0;
  int64_t batch_size = 128;
  float lr = 0.05f;
  std::string lr_schedule = "constant";
  double warmup_epochs = 0;
  std::vector<double> lr_milestones;
  float lr_gamma = 0.1f;
  float momentum = 0.9f;
  float weight_decay = 0.0f;
  bool nesterov = false;
  float dropout = 0.0f;
  uint64_t seed = 0;
  int threads = 0;
  std::string log;
};

// The training and evaluation batch sources of --dataset, with what they read from. The
// sources hold references into the datasets, which live on the heap, so this moves safely.
struct DataSources {
  std::shared_ptr<const data::Split> split;  // mnist, synthetic: in memory
  data::ImageSplit images;                   // cifar10, cifar100, imagefolder
  std::unique_ptr<data::BatchSource> train, test;
  data::ImageLoader* train_images = nullptr;
  data::ImageLoader* test_images = nullptr;
  int64_t train_size = 0, test_size = 0;
  std::string transforms;  // a description, for image datasets

  int64_t skipped_images() const {
    return (train_images ? train_images->skipped_images() : 0) + (test_images ? test_images->skipped_images() : 0);
  }
};

// Where to get each dataset, for the error when its directory is missing.
std::string fetch_hint(const std::string& dataset, const std::filesystem::path& dir) {
  if (dataset == "cifar10")
    return "download the binary version, cifar-10-binary.tar.gz, from https://www.cs.toronto.edu/~kriz/cifar.html "
           "and unpack it into " + dir.string();
  if (dataset == "cifar100")
    return "download the binary version, cifar-100-binary.tar.gz, from https://www.cs.toronto.edu/~kriz/cifar.html "
           "and unpack it into " + dir.string();
  if (dataset == "imagefolder")
    return "expected " + dir.string() + "/train/<class>/*.jpg and " + dir.string() + "/val/<class>/*.jpg";
  return "fetch MNIST with scripts/fetch_mnist.sh " + dir.string();
}

// --data, or the default; it must exist.
std::filesystem::path dataset_dir(const TrainOptions& o) {
  const std::filesystem::path dir =
      o.data_dir.empty() ? data::default_data_dir(o.dataset) : std::filesystem::path(o.data_dir);
  if (!std::filesystem::is_directory(dir))
    throw std::runtime_error("dataset directory " + dir.string() + " does not exist (" + fetch_hint(o.dataset, dir) +
                             ")");
  return dir;
}

DataSources load_dataset(const TrainOptions& o, const train::TrainConfig& config) {
  DataSources sources;
  if (o.dataset == "synthetic" || o.dataset == "mnist") {
    if (o.dataset == "synthetic") {
      sources.split = std::make_shared<data::Split>(data::make_synthetic({28, 28, 1}, 10, 8192, 2048, o.seed));
    } else {
      sources.split = std::make_shared<data::Split>(data::load_mnist(dataset_dir(o)));
    }
    // As train::train(config, split) does: shuffled training batches, evaluation in order.
    sources.train = std::make_unique<data::Loader>(sources.split->train, config.batch_size, true, config.seed);
    sources.test = std::make_unique<data::Loader>(sources.split->test, config.eval_batch_size, false, config.seed);
    sources.train_size = sources.split->train.size();
    sources.test_size = sources.split->test.size();
    return sources;
  }

  const std::filesystem::path dir = dataset_dir(o);
  const bool cifar = o.dataset == "cifar10" || o.dataset == "cifar100";
  if (o.dataset == "cifar10") sources.images = data::load_cifar10(dir);
  else if (o.dataset == "cifar100") sources.images = data::load_cifar100(dir);
  else sources.images = data::load_image_folder(dir);
  data::Pipeline train_transforms =
      cifar ? data::cifar_train_transforms() : data::imagenet_train_transforms(o.image_size);
  data::Pipeline test_transforms = cifar ? data::cifar_eval_transforms() : data::imagenet_eval_transforms(o.image_size);
  sources.transforms = "train: " + train_transforms.describe() + "; eval: " + test_transforms.describe();

  // Evaluation uses the training batch size: 1000 images of 224x224 would need gigabytes of
  // activations.
  data::ImageLoaderOptions options;
  options.batch_size = config.batch_size;
  options.seed = config.seed;
  options.workers = o.workers;
  options.skip_unreadable = o.skip_bad_images;
  auto train_loader = std::make_unique<data::ImageLoader>(*sources.images.train, std::move(train_transforms), options);
  options.shuffle = false;
  auto test_loader = std::make_unique<data::ImageLoader>(*sources.images.test, std::move(test_transforms), options);
  sources.train_images = train_loader.get();
  sources.test_images = test_loader.get();
  sources.train = std::move(train_loader);
  sources.test = std::move(test_loader);
  sources.train_size = sources.images.train->size();
  sources.test_size = sources.images.test->size();
  return sources;
}

PrecisionPolicy make_policy(const TrainOptions& o) {
  PrecisionPolicy policy = PrecisionPolicy::preset(o.precision);
  if (!o.loss_scale.empty()) policy.loss_scale = parse_loss_scale(o.loss_scale);
  if (!o.rounding.empty()) policy.update_rounding = parse_rounding(o.rounding);
  if (!o.accumulation.empty()) policy.accumulation = kernels::parse_accumulation(o.accumulation);
  policy.validate();
  return policy;
}

// A one-line progress bar, redrawn in place; only on a terminal.
void draw_progress(int64_t epoch, int64_t batch, int64_t batches, double loss, double images_per_second) {
  constexpr int kWidth = 30;
  const int filled = int(kWidth * batch / std::max<int64_t>(batches, 1));
  std::fprintf(stderr, "\repoch %lld [%.*s%*s] %lld/%lld loss %.4f %.0f img/s", (long long)epoch, filled,
               "==============================", kWidth - filled, "", (long long)batch, (long long)batches, loss,
               images_per_second);
  if (batch == batches) std::fprintf(stderr, "\r%*s\r", kWidth + 60, "");
  std::fflush(stderr);
}

int run_train(const TrainOptions& o) {
  omp_set_num_threads(o.threads > 0 ? o.threads : omp_get_num_procs());
  train::TrainConfig config;
  config.model = o.model;
  config.model_options.dropout = o.dropout;
  config.policy = make_policy(o);
  config.sgd = optim::SgdConfig{o.lr, o.momentum, o.weight_decay, o.nesterov};
  config.sgd.validate();
  config.lr_schedule = optim::parse_lr_schedule(o.lr_schedule);
  config.warmup_epochs = o.warmup_epochs;
  config.lr_milestones = o.lr_milestones;
  config.lr_gamma = o.lr_gamma;
  config.epochs = o.epochs;
  config.max_steps = o.max_steps;
  config.batch_size = o.batch_size;
  config.seed = o.seed;

  std::optional<train::RunLog> log;
  if (!o.log.empty()) log.emplace(o.log);
  DataSources sources = load_dataset(o, config);
  std::cout << "pure16 train: model " << o.model << ", dataset " << o.dataset << " (" << sources.train_size
            << " train, " << sources.test_size << " test), batch " << o.batch_size << ", lr " << o.lr << " (" << o.lr_schedule
            << (o.warmup_epochs > 0 ? ", warm-up " + std::to_string(o.warmup_epochs) + " epochs" : std::string()) << ")"
            << ", momentum " << o.momentum << ", threads " << omp_get_max_threads() << "\n"
            << "precision " << config.policy.describe() << "\n";
  if (!kernels::accumulation_is_native(config.policy.compute, config.policy.accumulation))
    std::cerr << "pure16: note: no AVX512-FP16 here (the CPU lacks it, or PURE16_ISA caps it), so "
              << kernels::accumulation_name(config.policy.accumulation) << " accumulation runs the "
              << kernels::gemm_variant(config.policy.compute, config.policy.accumulation)
              << " kernel, which rounds every fp16 sum in software; --accumulation auto (f32 here) is much faster\n";
  if (!sources.transforms.empty())
    std::cout << "transforms " << sources.transforms << "\n"
              << "loader workers " << o.workers << (o.skip_bad_images ? ", skipping unreadable images" : "") << "\n";

  train::Callbacks callbacks;
  callbacks.on_epoch = [&](const train::EpochRecord& r) {
    std::printf("epoch %lld/%lld%s  train_loss %.4f  test_loss %.4f  test_accuracy %.2f%%  %.0f img/s  %.1f s  "
                "lr %.4g  loss_scale %g  skipped %lld\n",
                (long long)r.epoch, (long long)o.epochs, r.partial ? " (partial)" : "", r.train_loss, r.test_loss,
                100.0 * r.test_accuracy, r.images_per_second, r.seconds, r.lr, r.loss_scale, (long long)r.skipped_steps);
    std::fflush(stdout);
    if (log) log->append(train::epoch_json(r));
  };
  if (::isatty(STDERR_FILENO)) callbacks.on_batch = draw_progress;

  const train::TrainResult result = train::train(config, *sources.train, *sources.test, callbacks);
  std::printf("final test_accuracy %.2f%%  parameters %lld  weights %lld B  gradients %lld B  optimizer %lld B  "
              "master weights %lld B  activations %lld B\n",
              100.0 * result.test_accuracy, (long long)result.parameters, (long long)result.memory.weights_bytes,
              (long long)result.memory.gradients_bytes, (long long)result.memory.optimizer_bytes,
              (long long)result.memory.master_weights_bytes, (long long)result.memory.activations_bytes);
  if (o.skip_bad_images) std::printf("skipped %lld unreadable images\n", (long long)sources.skipped_images());
  if (log) log->append(train::final_json(result));
  return 0;
}

}  // namespace

Command add_train_command(CLI::App& app) {
  auto o = std::make_shared<TrainOptions>();
  CLI::App* sub = app.add_subcommand("train", "Train a model");
  std::vector<std::string> models;
  for (const nn::ModelInfo& info : nn::model_infos()) models.push_back(info.name);
  sub->add_option("--model", o->model, "Model to train")->check(CLI::IsMember(models))->capture_default_str();
  sub->add_option("--dataset", o->dataset, "Dataset")
      ->check(CLI::IsMember({"mnist", "synthetic", "cifar10", "cifar100", "imagefolder"}))
      ->capture_default_str();
  sub->add_option("--data", o->data_dir, "Dataset directory (default: ${PURE16_DATA:-~/.cache/pure16}/<dataset>)");
  sub->add_option("--image-size", o->image_size, "Side of the square training images (imagefolder)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--workers", o->workers, "Threads decoding and augmenting images ahead of training (0: none)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub->add_flag("--skip-bad-images", o->skip_bad_images,
                "Leave out unreadable images, and report how many, instead of failing");
  sub->add_option("--precision", o->precision, "Precision policy")
      ->check(CLI::IsMember(PrecisionPolicy::preset_names()))
      ->capture_default_str();
  sub->add_option("--loss-scale", o->loss_scale, "Loss scaling: none, dynamic or a number (default: the preset's)")
      ->check([](const std::string& s) {
        try {
          parse_loss_scale(s);
          return std::string();
        } catch (const std::exception& e) {
          return std::string(e.what());
        }
      });
  sub->add_option("--rounding", o->rounding, "Rounding of the weight update (default: the preset's)")
      ->check(CLI::IsMember({"nearest", "stochastic"}));
  sub->add_option("--accumulation", o->accumulation,
                  "GEMM accumulation: auto (f16-block where fp16 FMAs are native, else f32), f32, f16, or "
                  "f16-block (fp16 within blocks of 64 products, f32 across them) (default: the preset's, auto)")
      ->check(CLI::IsMember(kernels::accumulation_names()));
  sub->add_option("--epochs", o->epochs, "Epochs")->check(CLI::PositiveNumber)->capture_default_str();
  sub->add_option("--max-steps", o->max_steps, "Stop after this many optimizer steps (0: no limit)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub->add_option("--batch-size", o->batch_size, "Batch size")->check(CLI::PositiveNumber)->capture_default_str();
  sub->add_option("--lr", o->lr, "Learning rate")->check(CLI::NonNegativeNumber)->capture_default_str();
  sub->add_option("--lr-schedule", o->lr_schedule, "Learning-rate schedule, stepped per batch")
      ->check(CLI::IsMember({"constant", "cosine", "step"}))
      ->capture_default_str();
  sub->add_option("--warmup-epochs", o->warmup_epochs, "Linear learning-rate warm-up (epochs, may be fractional)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub->add_option("--lr-milestones", o->lr_milestones, "Step schedule: epochs at which the rate is multiplied by --lr-gamma")
      ->delimiter(',');
  sub->add_option("--lr-gamma", o->lr_gamma, "Step schedule: factor at each milestone")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--momentum", o->momentum, "SGD momentum")->check(CLI::Range(0.0f, 1.0f))->capture_default_str();
  sub->add_flag("--nesterov", o->nesterov, "Nesterov momentum");
  sub->add_option("--weight-decay", o->weight_decay, "Weight decay")->check(CLI::NonNegativeNumber)->capture_default_str();
  sub->add_option("--dropout", o->dropout, "Dropout after hidden activations")->check(CLI::Range(0.0f, 0.99f))->capture_default_str();
  sub->add_option("--seed", o->seed, "Random seed")->capture_default_str();
  sub->add_option("--threads", o->threads, "Threads (default: all cores)")->check(CLI::PositiveNumber);
  sub->add_option("--log", o->log, "Write one JSON object per epoch, and a final summary, to this file");
  return {sub, [o] { return run_train(*o); }};
}

}  // namespace pure16::cli
