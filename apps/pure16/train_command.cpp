// `pure16 train`: train a model on a dataset under a precision policy, with checkpoints.
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
#include "pure16/data/sources.h"
#include "pure16/dist/communicator.h"
#include "pure16/kernels/gemm.h"
#include "pure16/train/checkpoint.h"
#include "pure16/train/data_parallel.h"
#include "pure16/train/model_file.h"
#include "pure16/train/options.h"
#include "pure16/train/run_log.h"
#include "pure16/train/run.h"
#include "pure16/train/telemetry.h"

namespace pure16::cli {
namespace {

// What the command line adds to the library's options.
struct TrainCommand {
  train::TrainOptions run;
  int threads = 0;
  std::string log;
  std::string telemetry;
  int64_t telemetry_every = train::kDefaultTelemetryEvery;
  std::string checkpoint_dir;
  int64_t checkpoint_every = 0;
  int64_t keep_checkpoints = 0;
  std::string resume;  // a file or directory; "" with --resume alone: --checkpoint-dir
  bool resume_given = false;
  std::string init_from;
  int64_t num_classes = 0;  // 0: the dataset's
  // Data-parallel training (under mpirun).
  std::string comm_dtype;  // fp16, bf16, fp32; "": the compute dtype
  double bucket_mb = double(dist::kDefaultBucketBytes) / (1 << 20);
  bool divide_after_sum = false;
  bool no_overlap = false;
  bool sync_batchnorm = false;
  double comm_timeout = 60;
  bool check = false;
};

DType comm_dtype_named(const std::string& name) {
  if (name == "fp16") return DType::f16;
  if (name == "bf16") return DType::bf16;
  return DType::f32;
}

// Each epoch's communication: what went on the wire and how much of it backward hid. Rank 0's
// view; every rank sends the same bytes.
class CommReport : public train::Callback {
 public:
  CommReport(train::DataParallel& parallel, std::optional<train::RunLog>& log) : parallel_(parallel), log_(log) {}
  void after_epoch(train::Run& run, const train::EpochRecord& r) override {
    const dist::ReduceStats s = parallel_.take_stats();
    if (s.steps == 0) return;
    const int ranks = run.communicator().size();
    const double per_step = double(s.payload_bytes) / double(s.steps);
    // A ring all-reduce sends 2 (p - 1) / p of the buffer from each rank.
    const double ring = per_step * 2.0 * (ranks - 1) / ranks;
    std::printf("epoch %lld communication: %.0f B summed per step (%s, %zu buckets), ring all-reduce sends %.0f B "
                "per rank per step; all-reduce %.2f ms/step, %.2f ms/step exposed after backward, %.1f%% hidden\n",
                (long long)r.epoch, per_step, dtype_name(parallel_.reducer().options().comm_dtype).data(),
                parallel_.reducer().buckets().size(), ring, 1e3 * s.comm_seconds / double(s.steps),
                1e3 * s.exposed_seconds / double(s.steps), 100.0 * s.hidden_fraction());
    std::fflush(stdout);
    if (log_)
      log_->append({{"communication",
                     {{"epoch", r.epoch},
                      {"ranks", ranks},
                      {"comm_dtype", dtype_name(parallel_.reducer().options().comm_dtype)},
                      {"buckets", parallel_.reducer().buckets().size()},
                      {"payload_bytes_per_step", per_step},
                      {"ring_bytes_sent_per_step", ring},
                      {"allreduce_seconds_per_step", s.comm_seconds / double(s.steps)},
                      {"exposed_seconds_per_step", s.exposed_seconds / double(s.steps)},
                      {"hidden_fraction", s.hidden_fraction()}}}});
  }

 private:
  train::DataParallel& parallel_;
  std::optional<train::RunLog>& log_;
};

// A one-line progress bar, redrawn in place; only on a terminal.
class ProgressBar : public train::Callback {
 public:
  void after_batch(train::Run&, const train::BatchProgress& p) override {
    constexpr int kWidth = 30;
    const int filled = int(kWidth * p.batch / std::max<int64_t>(p.batches, 1));
    std::fprintf(stderr, "\repoch %lld [%.*s%*s] %lld/%lld loss %.4f %.0f img/s", (long long)p.epoch, filled,
                 "==============================", kWidth - filled, "", (long long)p.batch, (long long)p.batches,
                 p.mean_loss, p.images_per_second);
    if (p.batch == p.batches) std::fprintf(stderr, "\r%*s\r", kWidth + 60, "");
    std::fflush(stderr);
  }
};

// Prints each epoch's line and appends it to the run log.
class EpochReport : public train::Callback {
 public:
  EpochReport(int64_t epochs, std::optional<train::RunLog>& log) : epochs_(epochs), log_(log) {}
  void after_epoch(train::Run&, const train::EpochRecord& r) override {
    std::printf("epoch %lld/%lld%s  train_loss %.4f  test_loss %.4f  test_accuracy %.2f%%  top5 %.2f%%  %.0f img/s  "
                "%.1f s  lr %.4g  loss_scale %g  skipped %lld\n",
                (long long)r.epoch, (long long)epochs_, r.partial ? " (partial)" : "", r.train_loss, r.test_loss,
                100.0 * r.test_accuracy, 100.0 * r.test_top5_accuracy, r.images_per_second, r.seconds, r.lr,
                r.loss_scale, (long long)r.skipped_steps);
    std::fflush(stdout);
    if (log_) log_->append(train::epoch_json(r));
  }

 private:
  int64_t epochs_;
  std::optional<train::RunLog>& log_;
};

int train_in_world(const TrainCommand& c, dist::Communicator& world);

int run_train(const TrainCommand& c) {
  const std::unique_ptr<dist::Communicator> world = dist::make_world({c.comm_timeout});
  if (world->size() == 1) return train_in_world(c, *world);
  // Only rank 0 speaks and writes; the others keep stderr for their errors.
  if (world->rank() != 0 && std::freopen("/dev/null", "w", stdout) == nullptr)
    throw std::runtime_error("cannot silence rank " + std::to_string(world->rank()) + "'s standard output");
  try {
    return train_in_world(c, *world);
  } catch (const std::exception& e) {
    // The other ranks may wait in a collective this rank will never join: stop them all now.
    world->abort(dist::kExitCommFailure, "rank " + std::to_string(world->rank()) + ": " + e.what());
  }
  return dist::kExitCommFailure;  // not reached: abort() ends the process
}

int train_in_world(const TrainCommand& c, dist::Communicator& world) {
  omp_set_num_threads(c.threads > 0 ? c.threads : omp_get_num_procs());
  const train::TrainOptions& o = c.run;
  const bool writer = world.rank() == 0;
  const train::TrainConfig config = o.config();
  if (c.resume_given && c.resume.empty() && c.checkpoint_dir.empty())
    throw std::invalid_argument("--resume without a file or directory needs --checkpoint-dir");
  if ((c.checkpoint_every > 0 || c.keep_checkpoints > 0) && c.checkpoint_dir.empty())
    throw std::invalid_argument("--checkpoint-every and --keep-checkpoints need --checkpoint-dir");

  data::DataOptions data_options = o.data_options();
  data_options.rank = world.rank();
  data_options.world_size = world.size();
  data::DataSources sources = data::open_dataset(data_options);
  const data::DatasetIdentity& data = sources.identity;
  if (c.num_classes > 0 && c.num_classes < data.num_classes)
    throw std::invalid_argument("--num-classes " + std::to_string(c.num_classes) + " is fewer than the " +
                                std::to_string(data.num_classes) + " classes of " + data.name);
  train::Run run(config, data.sample_shape, c.num_classes > 0 ? c.num_classes : data.num_classes,
                 sources.train->num_batches());
  run.set_dataset(data);
  if (!c.init_from.empty()) {
    // Fine-tuning: a head of another number of classes keeps its fresh initialization.
    const train::ImportReport report =
        train::import_weights(io::read_safetensors(c.init_from), c.init_from, run.model(), run.store(), true);
    std::cout << "initialized from " << c.init_from << " (" << train::model_layout_name(report.layout) << " layout, "
              << report.tensors_loaded << " tensors)";
    for (const std::string& name : report.skipped) std::cout << (&name == &report.skipped.front() ? "; fresh: " : ", ") << name;
    std::cout << "\n";
  }

  std::filesystem::path resume_from;
  if (c.resume_given) {
    // --resume alone restarts a job: a checkpoint directory not made yet means a first start.
    const std::filesystem::path where = c.resume.empty() ? c.checkpoint_dir : c.resume;
    if (!c.resume.empty() || std::filesystem::exists(where)) resume_from = train::resolve_resume(where);
    if (resume_from.empty())
      std::cout << "no checkpoint in " << where.string() << " yet: starting at step 0\n";
    else
      run.restore(resume_from);
  }

  std::optional<train::DataParallel> parallel;
  if (world.size() > 1) {
    train::DataParallelOptions p;
    if (!c.comm_dtype.empty()) p.comm_dtype = comm_dtype_named(c.comm_dtype);
    p.bucket_bytes = std::max<int64_t>(1, int64_t(c.bucket_mb * double(1 << 20)));
    p.first_bucket_bytes = std::min(p.bucket_bytes, dist::kDefaultFirstBucketBytes);
    p.division = c.divide_after_sum ? dist::Division::after_sum : dist::Division::before_sum;
    p.overlap = !c.no_overlap;
    p.sync_batchnorm = c.sync_batchnorm;
    p.buffer_sync_every = c.checkpoint_every;
    parallel.emplace(run, world, p);
  }

  std::cout << "pure16 train: model " << o.model << ", dataset " << o.dataset << " (" << data.train_size << " train, "
            << data.test_size << " test), batch " << o.batch_size << ", lr " << o.lr << " (" << o.lr_schedule
            << (o.warmup_epochs > 0 ? ", warm-up " + std::to_string(o.warmup_epochs) + " epochs" : std::string()) << ")"
            << ", optimizer " << config.optimizer.describe() << ", threads " << omp_get_max_threads() << "\n"
            << "precision " << config.policy.describe() << "\n";
  if (run.store().groups().size() > 1) std::cout << "parameter groups " << run.store().describe_groups() << "\n";
  if (parallel) {
    const dist::ReducerOptions& r = parallel->reducer().options();
    std::cout << "data parallel: " << world.describe() << "; batch " << o.batch_size << " per rank, global batch "
              << o.batch_size * world.size() << "; " << run.steps_per_epoch() << " batches an epoch on every rank ("
              << data.train_size % world.size() << " of the " << data.train_size
              << " training samples left out of each epoch, a different draw each epoch, so every rank takes as many "
                 "steps)\n"
              << "gradients: summed in " << dtype_name(r.comm_dtype) << ", " << parallel->reducer().buckets().size()
              << " buckets of " << c.bucket_mb << " MB (the first " << double(r.first_bucket_bytes) / (1 << 20)
              << " MB), " << parallel->reducer().payload_bytes_per_step() << " B a step, divided by " << world.size()
              << (r.division == dist::Division::before_sum ? " before" : " after") << " the sum, "
              << (c.no_overlap ? "after backward" : "overlapped with backward") << "; comm timeout " << c.comm_timeout
              << " s; BatchNorm statistics of "
              << (c.sync_batchnorm ? "the global batch (synchronized)" : "each rank's batch") << "\n";
  }
  if (!resume_from.empty())
    std::cout << "resumed from " << resume_from.string() << " at step " << run.position().step << " (epoch "
              << run.position().epoch + 1 << ", batch " << run.position().batch << ")\n";
  if (!kernels::accumulation_is_native(config.policy.compute, config.policy.accumulation))
    std::cerr << "pure16: note: no AVX512-FP16 here (the CPU lacks it, or PURE16_ISA caps it), so "
              << kernels::accumulation_name(config.policy.accumulation) << " accumulation runs the "
              << kernels::gemm_variant(config.policy.compute, config.policy.accumulation)
              << " kernel, which rounds every fp16 sum in software; --accumulation auto (f32 here) is much faster\n";
  if (!sources.transforms.empty())
    std::cout << "transforms " << sources.transforms << "\n"
              << "loader workers " << o.workers << (o.skip_bad_images ? ", skipping unreadable images" : "") << "\n";

  if (c.check) {
    std::cout << "pure16 train: --check: the options, the dataset and the model are valid; nothing was trained\n";
    return 0;
  }

  // The log holds the epochs a resumed run has already done, then the new ones.
  std::optional<train::RunLog> log;
  if (!c.log.empty() && writer) {
    log.emplace(c.log);
    for (const train::EpochRecord& r : run.history()) log->append(train::epoch_json(r));
  }
  EpochReport report(o.epochs, log);
  run.add_callback(report);
  std::optional<CommReport> comm_report;
  if (parallel) run.add_callback(comm_report.emplace(*parallel, log));
  ProgressBar progress;
  if (writer && ::isatty(STDERR_FILENO)) run.add_callback(progress);
  std::optional<train::Telemetry> telemetry;
  if (!c.telemetry.empty() && writer) {
    telemetry.emplace(c.telemetry, c.telemetry_every);
    run.add_callback(*telemetry);
  }
  std::optional<train::Checkpointer> checkpointer;
  if (!c.checkpoint_dir.empty() && writer) {
    checkpointer.emplace(c.checkpoint_dir, c.checkpoint_every, c.keep_checkpoints);
    run.add_callback(*checkpointer);
  }

  train::TrainResult result;
  try {
    result = run.fit(*sources.train, *sources.test);
  } catch (const train::Diverged& e) {
    // The log ends with a final record that says so, so a runner reading it knows the run is over.
    if (log) {
      nlohmann::json record = train::final_json(run.result());
      record["diverged"] = true;
      record["diverged_at_step"] = e.step();
      record["message"] = e.what();
      log->append(record);
    }
    if (writer) std::fprintf(stderr, "pure16 train: %s\n", e.what());
    return train::kExitDiverged;
  }
  if (parallel) {
    // Cheap next to training, and the property everything above rests on.
    if (!parallel->replicas_identical())
      throw std::runtime_error("the ranks' weights differ after " + std::to_string(run.steps()) +
                               " steps (this rank's state hash " + std::to_string(parallel->state_hash()) + ")");
    std::printf("replicas identical: weights, buffers and optimizer state hash to %016llx on all %d ranks\n",
                (unsigned long long)parallel->state_hash(), world.size());
  }
  std::printf("final test_accuracy %.2f%%  parameters %lld  weights %lld B  gradients %lld B  optimizer %lld B  "
              "master weights %lld B  activations %lld B\n",
              100.0 * result.test_accuracy, (long long)result.parameters, (long long)result.memory.weights_bytes,
              (long long)result.memory.gradients_bytes, (long long)result.memory.optimizer_bytes,
              (long long)result.memory.master_weights_bytes, (long long)result.memory.activations_bytes);
  if (checkpointer && !checkpointer->last().empty()) std::printf("checkpoint %s\n", checkpointer->last().c_str());
  if (o.skip_bad_images) std::printf("skipped %lld unreadable images\n", (long long)sources.skipped_images());
  if (log) log->append(train::final_json(result));
  return 0;
}

}  // namespace

Command add_train_command(CLI::App& app) {
  auto command = std::make_shared<TrainCommand>();
  train::TrainOptions* o = &command->run;
  CLI::App* sub = app.add_subcommand("train", "Train a model");
  sub->add_option("--model", o->model, "Model to train")
      ->check(CLI::IsMember(nn::model_names()))
      ->capture_default_str();
  sub->add_option("--dataset", o->dataset, "Dataset")
      ->check(CLI::IsMember(data::dataset_names()))
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
  sub->add_option("--loss-scale", o->policy.loss_scale, "Loss scaling: none, dynamic or a number (default: the preset's)")
      ->check([](const std::string& s) {
        try {
          parse_loss_scale(s);
          return std::string();
        } catch (const std::exception& e) {
          return std::string(e.what());
        }
      });
  train::LossScaleTuning* tune = &o->policy.loss_scale_tuning;
  sub->add_option("--loss-scale-init", tune->initial, "Initial dynamic loss scale (default 65536)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--loss-scale-growth-interval", tune->growth_interval,
                  "Clean steps before the dynamic loss scale grows (default 2000)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--loss-scale-growth-factor", tune->growth_factor, "Growth factor of the loss scale (default 2)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--loss-scale-backoff", tune->backoff_factor, "Backoff factor of the loss scale (default 0.5)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--loss-scale-hysteresis", tune->hysteresis,
                  "Overflows tolerated before the loss scale backs off, reset at each growth (default 1, as GradScaler)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--loss-scale-min", tune->min_scale, "Floor of the dynamic loss scale (default 1)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--loss-scale-max", tune->max_scale, "Ceiling of the dynamic loss scale (default 2^24)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--rounding", o->policy.rounding, "Rounding of the weight update (default: the preset's)")
      ->check(CLI::IsMember(rounding_names()));
  sub->add_option("--momentum-rounding", o->policy.momentum_rounding,
                  "Rounding of the momentum of sgd and lars: nearest or stochastic (default: the preset's; "
                  "Adam's moments round as the weights)")
      ->check(CLI::IsMember(momentum_rounding_names()));
  sub->add_option("--accumulation", o->policy.accumulation,
                  "GEMM accumulation: auto (f16-block where fp16 FMAs are native, else f32), f32, f16, or "
                  "f16-block (fp16 within blocks of 64 products, f32 across them) (default: the preset's, auto)")
      ->check(CLI::IsMember(kernels::accumulation_names()));
  sub->add_option("--convolution", o->policy.convolution,
                  "Convolution algorithm: auto (winograd where it is faster), gemm (implicit GEMM), or winograd "
                  "(F(2x2,3x3) in binary32 for 3x3 stride-1 convolutions, gemm for the rest) (default: auto)")
      ->check(CLI::IsMember(kernels::conv_algorithm_names()));
  sub->add_option("--bn-stats-dtype", o->policy.statistics,
                  "dtype of BatchNorm's running statistics (default: the preset's compute dtype)")
      ->check(CLI::IsMember({"f32", "f16", "bf16"}));
  sub->add_option("--keep-fp32", o->policy.keep_fp32,
                  "Layers whose parameters, gradients, optimizer state and arithmetic stay fp32: first, last, or "
                  "layer paths or prefixes (fc1, layer1.0.conv1, layer4), comma-separated (default: none)")
      ->check([](const std::string& s) {
        try {
          parse_keep_fp32(s);
          return std::string();
        } catch (const std::exception& e) {
          return std::string(e.what());
        }
      });
  // Selectors name the model's layers, so they are checked once every flag is read.
  sub->final_callback([o] {
    try {
      o->check_keep_fp32();
    } catch (const std::invalid_argument& e) {
      throw CLI::ValidationError(e.what());
    }
  });
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
  sub->add_option("--optimizer", o->optimizer, "Optimizer")
      ->check(CLI::IsMember(optim::optimizer_names()))
      ->capture_default_str();
  sub->add_option("--momentum", o->momentum, "Momentum (sgd, lars)")->check(CLI::Range(0.0f, 1.0f))->capture_default_str();
  sub->add_flag("--nesterov", o->nesterov, "Nesterov momentum (sgd)");
  sub->add_option("--beta1", o->beta1, "Adam's first-moment decay")->check(CLI::Range(0.0f, 0.999999f))->capture_default_str();
  sub->add_option("--beta2", o->beta2, "Adam's second-moment decay")->check(CLI::Range(0.0f, 0.999999f))->capture_default_str();
  sub->add_option("--eps", o->eps, "Adam's epsilon")->check(CLI::NonNegativeNumber)->capture_default_str();
  sub->add_flag("--naive-adam", o->naive_adam,
                "Adam as PyTorch runs it on fp16 tensors: every operation rounded to the state dtype (for the ablation)");
  sub->add_option("--trust-coefficient", o->trust_coefficient, "LARS trust coefficient (eta)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub->add_option("--weight-decay", o->weight_decay, "Weight decay")->check(CLI::NonNegativeNumber)->capture_default_str();
  sub->add_option("--dropout", o->dropout, "Dropout after hidden activations")->check(CLI::Range(0.0f, 0.99f))->capture_default_str();
  sub->add_option("--seed", o->seed, "Random seed")->capture_default_str();
  sub->add_option("--divergence-window", o->divergence_window,
                  "Stop when this many steps in a row overflow and are skipped")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_flag("--continue-on-divergence", o->continue_on_divergence,
                "Keep training after the loss becomes NaN or every step is skipped (default: stop with exit status 3)");
  sub->add_option("--threads", command->threads, "Threads (default: all cores)")->check(CLI::PositiveNumber);
  sub->add_option("--log", command->log, "Write one JSON object per epoch, and a final summary, to this file");
  sub->add_option("--telemetry", command->telemetry,
                  "Append per-layer numerics (zeros, subnormals, inf/NaN, magnitudes, exponent histograms, lost "
                  "updates) of every --telemetry-every-th step to this file, one JSON line each (read it with "
                  "`pure16 telemetry FILE`)");
  sub->add_option("--telemetry-every", command->telemetry_every, "Steps between two telemetry records")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--checkpoint-dir", command->checkpoint_dir,
                  "Write checkpoints here: at each epoch's end, and every --checkpoint-every steps");
  sub->add_option("--checkpoint-every", command->checkpoint_every, "Also checkpoint every N optimizer steps (0: only at epoch ends)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub->add_option("--keep-checkpoints", command->keep_checkpoints, "Keep only the K newest checkpoints (0: all)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub->add_option("--init-from", command->init_from,
                  "Start from the weights of a safetensors file: a pure16 export, or a torchvision-layout state_dict "
                  "(fine-tuning; a last layer of another size starts fresh)");
  sub->add_option("--num-classes", command->num_classes, "Outputs of the model's last layer (default: the dataset's classes)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--comm-dtype", command->comm_dtype,
                  "Under mpirun: dtype of the gradients on the wire (default: the compute dtype)")
      ->check(CLI::IsMember({"fp16", "bf16", "fp32"}));
  sub->add_option("--bucket-mb", command->bucket_mb, "Under mpirun: gradient bucket size in MB (the first is at most 1 MB)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_flag("--divide-after-sum", command->divide_after_sum,
                "Under mpirun: divide the summed gradients by the ranks (default: each rank's before the sum, as DDP)");
  sub->add_flag("--no-overlap", command->no_overlap,
                "Under mpirun: sum every bucket after backward instead of during it (for the ablation)");
  sub->add_flag("--check", command->check,
                "Check the options, open the dataset, build the model (and restore --resume, --init-from), then exit "
                "without training");
  sub->add_flag("--sync-batchnorm", command->sync_batchnorm,
                "Under mpirun: BatchNorm normalizes with the statistics of the global batch, summed over the ranks "
                "(SyncBatchNorm), instead of each rank's");
  sub->add_option("--comm-timeout", command->comm_timeout,
                  "Under mpirun: seconds a rank waits for a collective before it stops the job (a rank died or hangs)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  CLI::Option* resume = sub->add_option("--resume", command->resume,
                                        "Continue from a checkpoint file, or the newest in a directory (alone: in "
                                        "--checkpoint-dir, starting afresh when it has none)")
                            ->expected(0, 1);
  return {sub, [command, resume] {
            command->resume_given = resume->count() > 0;
            return run_train(*command);
          }};
}

}  // namespace pure16::cli
