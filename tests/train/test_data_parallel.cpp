// DataParallel over ranks that are threads of this process (a stand-in communicator with the
// same contract as the MPI world: every rank receives the same sums): two ranks with batch B
// step like one rank with batch 2B, within a bound derived from the two summation orders, and
// their replicas stay bitwise equal.
//
// The bound, for the fp32 preset with plain SGD (no momentum, decay or loss scaling). A weight
// gradient element is an inner product over the batch, g = sum_i dy_i x_i (dy: the layer's output
// gradient, masked by its fused ReLU; x: its input). One rank sums 2B products a_i (its dy carry
// 1/(2B)); each of two ranks sums B products c'_i (dy carrying 1/B), the ranks' sums are added
// (one rounding) and halved (exact), i.e. the terms c_i = c'_i / 2. In binary32 (unit roundoff
// u, gamma_n = n u / (1 - n u)), any order of summation gives
//   |g_one - sum a_i| <= gamma_2B sum |a_i|,   |g_two - sum c_i| <= (gamma_B + u (1 + gamma_B)) sum |c_i|,
// and |sum a_i - sum c_i| <= sum |a_i - c_i|, computed here in binary64 from the values the
// layers saw (the rows of the two runs may differ: GEMM rows need not be bitwise independent of
// the batch size). The update w' = w - lr g rounds twice in each run: |w'_one - w'_two| <=
// lr |g_one - g_two| (1 + u) + 2u (|lr g_one| + |w'_one| + |lr g_two| + |w'_two|). Products that
// underflow add at most 2^-150 each.
#include <gtest/gtest.h>

#include <barrier>
#include <cmath>
#include <cstring>
#include <map>
#include <thread>
#include <vector>

#include <omp.h>

#include "pure16/data/loader.h"
#include "pure16/data/synthetic.h"
#include "pure16/dist/reduce_sum.h"
#include "pure16/kernels/elementwise.h"
#include "pure16/train/data_parallel.h"

namespace pure16::train {
namespace {

// Ranks as threads: rank 0 sums every rank's buffer in rank order, the others copy the result.
struct SharedWorld {
  explicit SharedWorld(int size) : size(size), sync(size), buffers(size_t(size)) {}
  int size;
  std::barrier<> sync;
  std::vector<void*> buffers;
};

class ThreadRank : public dist::Communicator {
 public:
  ThreadRank(SharedWorld& world, int rank) : world_(world), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return world_.size; }
  std::string describe() const override { return "threads"; }
  dist::Ticket start_sum(void* data, int64_t n, DType dtype) override {
    world_.buffers[size_t(rank_)] = data;
    world_.sync.arrive_and_wait();
    if (rank_ == 0)
      for (int r = 1; r < world_.size; ++r) {
        if (dtype == DType::f64) {
          for (int64_t i = 0; i < n; ++i) static_cast<double*>(data)[i] += static_cast<double*>(world_.buffers[size_t(r)])[i];
        } else {
          dist::sum_into(data, world_.buffers[size_t(r)], dtype, n);
        }
      }
    world_.sync.arrive_and_wait();
    if (rank_ != 0) std::memcpy(data, world_.buffers[0], size_t(n) * traits(dtype).size);
    world_.sync.arrive_and_wait();
    return {0};
  }
  double wait(dist::Ticket) override { return 0; }
  void broadcast(void* data, int64_t bytes, int root) override {
    world_.buffers[size_t(rank_)] = data;
    world_.sync.arrive_and_wait();
    if (rank_ != root) std::memcpy(data, world_.buffers[size_t(root)], size_t(bytes));
    world_.sync.arrive_and_wait();
  }
  [[noreturn]] void abort(int, const std::string& why) override { throw std::runtime_error(why); }

 private:
  SharedWorld& world_;
  int rank_;
};

// What each named layer saw in the step: its output and the gradient with respect to it.
struct Seen : nn::LayerObserver {
  std::map<std::string, std::vector<float>> output, grad;
  static std::vector<float> floats(const Tensor& t) {
    std::vector<float> v(static_cast<size_t>(t.numel()));
    kernels::convert(v.data(), DType::f32, t.contiguous().raw(), t.dtype(), t.numel());
    return v;
  }
  void on_forward(const std::string& path, const Tensor& y) override { output[path] = floats(y); }
  void on_backward(const std::string& path, const Tensor& dy) override { grad[path] = floats(dy); }
};

struct StepRecord {
  Seen seen;
  std::vector<float> input;                        // the batch, (rows, features)
  std::map<std::string, std::vector<float>> grads;  // by parameter name, after the step
  std::map<std::string, std::vector<float>> weights;
  uint64_t hash = 0;
};

constexpr int64_t kRankBatch = 16;
const Shape kSample{8, 8, 1};

TrainConfig config() {
  TrainConfig c;
  c.model = "mlp";
  c.policy = PrecisionPolicy::preset("fp32");
  c.optimizer = optim::OptimizerConfig::sgd(0.5f, 0.0f);
  c.batch_size = kRankBatch;
  c.seed = 5;
  return c;
}

// One step of rank `rank` of `size` (batch kRankBatch each), or of one rank with batch 2 kRankBatch.
void one_step(const data::Dataset& train, int rank, int size, int64_t batch, dist::Communicator* comm, StepRecord& out) {
  omp_set_num_threads(1);
  data::Loader loader(train, batch, true, 5, rank, size, data::ShardRemainder::drop);
  Run run(config(), kSample, 10, loader.num_batches());
  std::optional<DataParallel> parallel;
  if (comm != nullptr) {
    DataParallelOptions options;
    options.comm_dtype = DType::f32;
    options.division = dist::Division::after_sum;
    parallel.emplace(run, *comm, options);
  }
  run.observe_layers(&out.seen);
  loader.start_epoch(0);
  const data::Batch b = loader.batch(0, DType::f32);
  out.input = Seen::floats(b.inputs);
  run.train_step(b);
  for (nn::Parameter* p : run.store().parameters()) {
    out.grads[p->name] = Seen::floats(p->grad);
    out.weights[p->name] = Seen::floats(p->value);
  }
  if (parallel) out.hash = parallel->state_hash();
  run.observe_layers(nullptr);
}

TEST(DataParallel, TwoRanksOfBStepLikeOneRankOf2BWithinTheDerivedBound) {
  const data::Split split = data::make_synthetic(kSample, 10, 4 * kRankBatch + 3, 16, 1);
  StepRecord one, two[2];
  one_step(split.train, 0, 1, 2 * kRankBatch, nullptr, one);
  SharedWorld world(2);
  ThreadRank rank0(world, 0), rank1(world, 1);
  std::thread other([&] { one_step(split.train, 1, 2, kRankBatch, &rank1, two[1]); });
  one_step(split.train, 0, 2, kRankBatch, &rank0, two[0]);
  other.join();
  EXPECT_EQ(two[0].hash, two[1].hash);
  for (const auto& [name, w] : two[0].weights) EXPECT_EQ(w, two[1].weights.at(name)) << name;

  const double u = std::ldexp(1.0, -24);
  const auto gamma = [&](double n) { return n * u / (1 - n * u); };
  const int64_t rows = 2 * kRankBatch;
  const float lr = config().optimizer.lr;
  // fc1 reads the flattened batch; fc2 and fc3 the previous layer's output.
  const std::vector<std::pair<std::string, std::string>> layers{{"fc1", ""}, {"fc2", "fc1"}, {"fc3", "fc2"}};
  int64_t checked = 0, differing = 0;
  double worst = 0;  // the largest difference as a fraction of its bound
  for (const auto& [layer, previous] : layers) {
    const bool relu = layer != "fc3";
    const std::vector<float>& y_one = one.seen.output.at(layer);
    const std::vector<float>& g_one = one.seen.grad.at(layer);
    const std::vector<float>& x_one = previous.empty() ? one.input : one.seen.output.at(previous);
    const int64_t out = int64_t(y_one.size()) / rows, in = int64_t(x_one.size()) / rows;
    // Row i of the global batch is row i / 2 of rank i % 2 (strided shards).
    const auto dy = [&](const StepRecord& r, int64_t i, int64_t o) {
      const std::vector<float>& y = r.seen.output.at(layer);
      const double g = r.seen.grad.at(layer)[size_t(i * out + o)];
      return relu && !(y[size_t(i * out + o)] > 0) ? 0.0 : g;
    };
    const auto x = [&](const StepRecord& r, int64_t i, int64_t j) -> double {
      return j < 0 ? 1.0 : (previous.empty() ? r.input : r.seen.output.at(previous))[size_t(i * in + j)];
    };
    for (const std::string param : {"weight", "bias"}) {
      const std::string name = layer + "." + param;
      const std::vector<float>& ga = one.grads.at(name);
      const std::vector<float>& gb = two[0].grads.at(name);
      const std::vector<float>& wa = one.weights.at(name);
      const std::vector<float>& wb = two[0].weights.at(name);
      for (int64_t o = 0; o < out; ++o)
        for (int64_t j = (param == "bias" ? -1 : 0); j < (param == "bias" ? 0 : in); ++j) {
          double diff = 0, sum_a = 0, sum_c = 0;
          for (int64_t i = 0; i < rows; ++i) {
            const StepRecord& rank = two[i % 2];
            const double a = dy(one, i, o) * x(one, i, j);
            const double c = dy(rank, i / 2, o) * x(rank, i / 2, j) / 2;
            diff += std::fabs(a - c);
            sum_a += std::fabs(a);
            sum_c += std::fabs(c);
          }
          const size_t e = size_t(param == "bias" ? o : o * in + j);
          const double grad_bound = diff + gamma(double(rows)) * sum_a + (gamma(double(kRankBatch)) + u * (1 + gamma(double(kRankBatch)))) * sum_c +
                                    double(2 * rows) * std::ldexp(1.0, -150);
          const double bound = lr * grad_bound * (1 + u) +
                               2 * u * (std::fabs(lr * ga[e]) + std::fabs(wa[e]) + std::fabs(lr * gb[e]) + std::fabs(wb[e]));
          const double d = std::fabs(double(wa[e]) - double(wb[e]));
          EXPECT_LE(d, bound) << name << "[" << e << "]";
          ++checked;
          differing += d > 0 ? 1 : 0;
          if (bound > 0) worst = std::max(worst, d / bound);
        }
    }
    (void)g_one;
  }
  EXPECT_GT(checked, 0);
  std::printf("%lld weights checked, %lld differ between 1 x %lld and 2 x %lld; the largest difference is %.3g of its bound\n",
              (long long)checked, (long long)differing, (long long)rows, (long long)kRankBatch, worst);
}

}  // namespace
}  // namespace pure16::train
