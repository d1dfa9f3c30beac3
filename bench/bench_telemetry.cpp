// What telemetry costs: MNIST training steps of a model with and without a train::Telemetry
// callback, the two runs interleaved round by round in one process so that both see the same
// machine load. Each round times `every` steps of each run (so exactly one sampled step of the
// observed run); the overhead is the median over rounds of (observed / plain - 1).
//
//   bench_telemetry [--model mlp|lenet5] [--precision P] [--every N] [--rounds R] [--batch-size B]
//                   [--data DIR] [--threads T]
#include <malloc.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "pure16/data/loader.h"
#include "pure16/data/mnist.h"
#include "pure16/train/telemetry.h"

namespace {

using namespace pure16;

struct Options {
  std::string model = "mlp";
  std::string precision = "pure-fp16";
  int64_t every = train::kDefaultTelemetryEvery;
  int64_t rounds = 7;
  int64_t batch_size = 128;
  std::string data = std::string(std::getenv("HOME") ? std::getenv("HOME") : ".") + "/.cache/pure16/mnist";
  int threads = 0;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i], value = argv[i + 1];
    if (key == "--model") o.model = value;
    else if (key == "--precision") o.precision = value;
    else if (key == "--every") o.every = std::stoll(value);
    else if (key == "--rounds") o.rounds = std::stoll(value);
    else if (key == "--batch-size") o.batch_size = std::stoll(value);
    else if (key == "--data") o.data = value;
    else if (key == "--threads") o.threads = std::stoi(value);
    else throw std::invalid_argument("unknown option " + key);
  }
  if (argc % 2 == 0) throw std::invalid_argument(std::string("option ") + argv[argc - 1] + " has no value");
  return o;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) try {
  // As `pure16` does (apps/pure16/main.cpp): large blocks stay in the heap between steps, so the
  // buffers telemetry allocates on a sampled step are not page-faulted in afresh each time.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  const Options o = parse(argc, argv);
  if (o.threads > 0) omp_set_num_threads(o.threads);
  const data::Split split = data::load_mnist(o.data);
  data::Loader loader(split.train, o.batch_size, true, 0);
  train::TrainConfig config;
  config.model = o.model;
  config.policy = PrecisionPolicy::preset(o.precision);
  config.optimizer = optim::OptimizerConfig::sgd(0.05f, 0.9f, 0.0f, false);
  config.batch_size = o.batch_size;
  train::Run plain(config, split.train.sample_shape, split.train.num_classes, loader.num_batches());
  train::Run observed(config, split.train.sample_shape, split.train.num_classes, loader.num_batches());
  const auto file = std::filesystem::temp_directory_path() / "pure16_bench_telemetry.jsonl";
  std::filesystem::remove(file);
  train::Telemetry telemetry(file, o.every);
  observed.add_callback(telemetry);

  using Clock = std::chrono::steady_clock;
  auto time_steps = [&](train::Run& run, int64_t first_batch) {
    const auto start = Clock::now();
    for (int64_t i = 0; i < o.every; ++i)
      run.train_step(loader.batch((first_batch + i) % loader.num_batches(), config.policy.compute));
    return std::chrono::duration<double>(Clock::now() - start).count() / double(o.every);
  };
  time_steps(plain, 0);  // warm-up: first-touch of buffers, the observed run's first record
  time_steps(observed, 0);
  int64_t next_batch = o.every;
  std::vector<double> plain_times, observed_times, ratios;
  for (int64_t r = 0; r < o.rounds; ++r) {
    const double a = time_steps(plain, next_batch), b = time_steps(observed, next_batch);
    next_batch += o.every;
    plain_times.push_back(a);
    observed_times.push_back(b);
    ratios.push_back(b / a - 1);
  }
  std::printf("%-7s %-10s every %4lld  threads %d  step %.3f ms plain, %.3f ms with telemetry  overhead %+.2f%% "
              "(median of %lld rounds; per-round range %+.2f%% to %+.2f%%)  records %lld\n",
              o.model.c_str(), o.precision.c_str(), (long long)o.every, omp_get_max_threads(),
              1e3 * median(plain_times), 1e3 * median(observed_times), 100 * median(ratios), (long long)o.rounds,
              100 * *std::min_element(ratios.begin(), ratios.end()), 100 * *std::max_element(ratios.begin(), ratios.end()),
              (long long)telemetry.records());
  std::filesystem::remove(file);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_telemetry: %s\n", e.what());
  return 1;
}
