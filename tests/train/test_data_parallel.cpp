// DataParallel over ranks that are threads of this process (a stand-in communicator with the
// same contract as the MPI world: every rank receives the same sums): N ranks with batch B step
// like one rank with batch N B, within a bound derived from the two summation orders, at every
// step, for the MLP and LeNet-5 and N = 2 and 4; and their replicas stay bitwise equal.
//
// After each step of the ranks, one rank of batch N B takes the same step from the same weights
// (the ranks' weights before it), so each step is checked on its own: differences do not
// compound from step to step, and the bound need not follow a chaotic trajectory.
//
// The bound, for the fp32 preset with plain SGD (no momentum, decay or loss scaling). A weight
// gradient element is an inner product over the batch and, for a convolution, the output
// positions: g = sum_t dy_t x_t (dy: the layer's output gradient, masked by its fused ReLU; x:
// its input, the tap of the kernel). One rank sums n = N B P products a_t (P positions a row;
// its dy carry 1/(N B)); each of N ranks sums B P products c'_t (dy carrying 1/B), the N rank
// sums are added in binary32 (N - 1 roundings, in any order) and divided by N (exact for N a
// power of two), i.e. the terms c_t = c'_t / N. In binary32 (unit roundoff u, gamma_n = n u /
// (1 - n u)), any order of summation gives
//   |g_one - sum a_t| <= gamma_n sum |a_t|,
//   |g_ranks - sum c_t| <= (gamma_{BP} + gamma_{N-1} (1 + gamma_{BP})) sum |c_t|,
// and |sum a_t - sum c_t| <= sum |a_t - c_t|, computed here in binary64 from the values the
// layers saw (the rows of the two runs may differ: GEMM rows need not be bitwise independent of
// the batch size). The update w' = w - lr g rounds twice in each run: |w'_one - w'_ranks| <=
// lr |g_one - g_ranks| (1 + u) + 2u (|lr g_one| + |w'_one| + |lr g_ranks| + |w'_ranks|).
// Products that underflow add at most 2^-150 each.
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

std::vector<float> floats(const Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  kernels::convert(v.data(), DType::f32, t.contiguous().raw(), t.dtype(), t.numel());
  return v;
}

using Weights = std::map<std::string, std::vector<float>>;

// What each named layer saw in one step: its output and the gradient with respect to it.
struct StepRecord : nn::LayerObserver {
  std::map<std::string, std::vector<float>> output, grad;
  std::vector<float> input;  // the batch, (rows, H, W, C)
  Weights before, after;     // by parameter name
  Weights grads;             // after the step
  uint64_t hash = 0;
  void on_forward(const std::string& path, const Tensor& y) override { output[path] = floats(y); }
  void on_backward(const std::string& path, const Tensor& dy) override { grad[path] = floats(dy); }
};

// A layer with parameters, as the bound sees it: a convolution of stride 1 over an (H, W, C)
// input, or a Linear as the convolution of a 1 x 1 kernel over a 1 x 1 x features input.
struct LayerSpec {
  std::string name;
  std::string source;  // the named layer whose output it reads ("": the batch)
  int64_t pool = 1;    // the window of the unnamed max-pool between source and layer (stride = window)
  int64_t kernel = 1;  // 1 for a Linear
  int64_t padding = 0;
  bool relu = true;     // fused into the layer
  bool linear = false;  // reads its input flattened
};

struct Case {
  std::string model;
  Shape sample;  // (H, W, C)
  std::vector<LayerSpec> layers;
};

const Case kMlp{
    "mlp",
    {8, 8, 1},
    {{"fc1", "", 1, 1, 0, true, true}, {"fc2", "fc1", 1, 1, 0, true, true}, {"fc3", "fc2", 1, 1, 0, false, true}}};
// Conv 5x5 pad 2 -> pool 2 -> conv 5x5 -> pool 2 -> flatten -> fc1, fc2, fc3 (nn/lenet.cpp).
const Case kLenet{"lenet5",
                  {16, 16, 1},
                  {{"conv1", "", 1, 5, 2, true, false},
                   {"conv2", "conv1", 2, 5, 0, true, false},
                   {"fc1", "conv2", 2, 1, 0, true, true},
                   {"fc2", "fc1", 1, 1, 0, true, true},
                   {"fc3", "fc2", 1, 1, 0, false, true}}};

constexpr int64_t kGlobalBatch = 32;
constexpr int kSteps = 3;
constexpr float kLr = 0.1f;

TrainConfig config(const Case& c, int64_t batch) {
  TrainConfig config;
  config.model = c.model;
  config.policy = PrecisionPolicy::preset("fp32");
  config.optimizer = optim::OptimizerConfig::sgd(kLr, 0.0f);
  config.batch_size = batch;
  config.seed = 5;
  return config;
}

Weights weights_of(Run& run) {
  Weights w;
  for (nn::Parameter* p : run.store().parameters()) w[p->name] = floats(p->value);
  return w;
}

void set_weights(Run& run, const Weights& w) {
  for (nn::Parameter* p : run.store().parameters()) {
    const std::vector<float>& v = w.at(p->name);
    ASSERT_EQ(int64_t(v.size()), p->value.numel());
    std::memcpy(p->value.data<float>(), v.data(), v.size() * sizeof(float));
  }
}

// kSteps steps of rank `rank` of `comm`'s job, or, without comm, of one rank that starts each
// step k from `start->at(k).before` (the ranks' weights).
void train(const Case& c, const data::Dataset& data, int64_t batch, dist::Communicator* comm,
           std::vector<StepRecord>& steps, const std::vector<StepRecord>* start = nullptr) {
  omp_set_num_threads(1);
  const int rank = comm ? comm->rank() : 0, size = comm ? comm->size() : 1;
  data::Loader loader(data, batch, true, 5, rank, size, data::ShardRemainder::drop);
  Run run(config(c, batch), c.sample, 10, loader.num_batches());
  std::optional<DataParallel> parallel;
  if (comm != nullptr) {
    DataParallelOptions options;
    options.comm_dtype = DType::f32;
    options.division = dist::Division::after_sum;
    parallel.emplace(run, *comm, options);
  }
  loader.start_epoch(0);
  steps.resize(kSteps);
  for (int k = 0; k < kSteps; ++k) {
    StepRecord& record = steps[size_t(k)];
    if (start != nullptr) set_weights(run, start->at(size_t(k)).before);
    record.before = weights_of(run);
    run.observe_layers(&record);
    const data::Batch b = loader.batch(k, DType::f32);
    record.input = floats(b.inputs);
    run.train_step(b);
    run.observe_layers(nullptr);
    record.after = weights_of(run);
    for (nn::Parameter* p : run.store().parameters()) record.grads[p->name] = floats(p->grad);
    if (parallel) record.hash = parallel->state_hash();
  }
}

// The (H, W, C) input a layer reads, for row `row` of `record`: its source's output (or the
// batch), max-pooled as the model does between them.
struct LayerInput {
  int64_t h = 1, w = 1, c = 1;
  std::vector<float> values;  // (rows, h, w, c)
};

LayerInput input_of(const Case& cs, const LayerSpec& layer, const StepRecord& record, int64_t rows) {
  LayerInput in;
  int64_t h = cs.sample[0], w = cs.sample[1], ch = cs.sample[2];
  const std::vector<float>* src = &record.input;
  if (!layer.source.empty()) {
    // A source is a convolution (its output (rows, h, w, ch)) or a Linear ((rows, features)).
    const LayerSpec& s =
        *std::find_if(cs.layers.begin(), cs.layers.end(), [&](const LayerSpec& l) { return l.name == layer.source; });
    src = &record.output.at(layer.source);
    const LayerInput s_in = input_of(cs, s, record, rows);
    const int64_t features = int64_t(src->size()) / rows;
    if (s.linear) {
      h = w = 1;
      ch = features;
    } else {
      h = s_in.h + 2 * s.padding - s.kernel + 1;
      w = s_in.w + 2 * s.padding - s.kernel + 1;
      ch = features / (h * w);
    }
  }
  const int64_t p = layer.pool;
  in.h = h / p, in.w = w / p, in.c = ch;
  in.values.resize(size_t(rows * in.h * in.w * in.c));
  for (int64_t n = 0; n < rows; ++n)
    for (int64_t y = 0; y < in.h; ++y)
      for (int64_t x = 0; x < in.w; ++x)
        for (int64_t k = 0; k < ch; ++k) {
          float m = -INFINITY;
          for (int64_t dy = 0; dy < p; ++dy)
            for (int64_t dx = 0; dx < p; ++dx)
              m = std::max(m, (*src)[size_t(((n * h + y * p + dy) * w + x * p + dx) * ch + k)]);
          in.values[size_t(((n * in.h + y) * in.w + x) * in.c + k)] = m;
        }
  if (layer.linear) {
    in.c = in.h * in.w * in.c;
    in.h = in.w = 1;
  }
  return in;
}

struct BoundCheck {
  int64_t checked = 0, differing = 0;
  double worst = 0;  // the largest difference as a fraction of its bound
};

// Checks step `k`: every weight of `one` (one rank of N B) against rank 0 of `ranks`.
void check_step(const Case& cs, const StepRecord& one, const std::vector<const StepRecord*>& ranks,
                BoundCheck& result) {
  const int64_t n_ranks = int64_t(ranks.size()), rows = kGlobalBatch, rank_rows = rows / n_ranks;
  const double u = std::ldexp(1.0, -24);
  const auto gamma = [&](double n) { return n * u / (1 - n * u); };
  for (const LayerSpec& layer : cs.layers) {
    const LayerInput x_one = input_of(cs, layer, one, rows);
    std::vector<LayerInput> x_ranks;
    // Looked up once: map lookups in the loops below took most of this test's time under ASan.
    std::vector<const std::vector<float>*> y_ranks, g_ranks;
    for (const StepRecord* r : ranks) {
      x_ranks.push_back(input_of(cs, layer, *r, rank_rows));
      y_ranks.push_back(&r->output.at(layer.name));
      g_ranks.push_back(&r->grad.at(layer.name));
    }
    const int64_t oh = x_one.h + 2 * layer.padding - layer.kernel + 1,
                  ow = x_one.w + 2 * layer.padding - layer.kernel + 1;
    const int64_t out = int64_t(one.output.at(layer.name).size()) / (rows * oh * ow);
    const int64_t positions = oh * ow, taps = layer.kernel * layer.kernel * x_one.c;
    // Row i of the global batch is row i / N of rank i % N (strided shards).
    const auto dy = [&](const std::vector<float>& y, const std::vector<float>& g, int64_t row, int64_t pos,
                        int64_t o) -> double {
      const size_t e = size_t((row * positions + pos) * out + o);
      return layer.relu && !(y[e] > 0) ? 0.0 : double(g[e]);
    };
    const std::vector<float>&y_one = one.output.at(layer.name), &g_one = one.grad.at(layer.name);
    // The input under tap t (kh, kw, c) at output position pos; -1 is the bias's constant 1.
    const auto x = [&](const LayerInput& in, int64_t row, int64_t pos, int64_t t) -> double {
      if (t < 0) return 1.0;
      const int64_t c = t % in.c, kw = (t / in.c) % layer.kernel, kh = t / (in.c * layer.kernel);
      const int64_t y = pos / ow + kh - layer.padding, xx = pos % ow + kw - layer.padding;
      if (y < 0 || y >= in.h || xx < 0 || xx >= in.w) return 0.0;
      return in.values[size_t(((row * in.h + y) * in.w + xx) * in.c + c)];
    };
    for (const std::string param : {"weight", "bias"}) {
      const std::string name = layer.name + "." + param;
      const std::vector<float>& wa = one.after.at(name);
      const std::vector<float>& wb = ranks[0]->after.at(name);
      const std::vector<float>& ga = one.grads.at(name);
      const std::vector<float>& gb = ranks[0]->grads.at(name);
      ASSERT_EQ(one.before.at(name), ranks[0]->before.at(name))
          << name << ": the one-rank step did not start from the ranks' weights";
      for (int64_t o = 0; o < out; ++o)
        for (int64_t t = (param == "bias" ? -1 : 0); t < (param == "bias" ? 0 : taps); ++t) {
          double diff = 0, sum_a = 0, sum_c = 0;
          for (int64_t i = 0; i < rows; ++i) {
            const std::vector<float>&y_rank = *y_ranks[size_t(i % n_ranks)], &g_rank = *g_ranks[size_t(i % n_ranks)];
            const LayerInput& x_rank = x_ranks[size_t(i % n_ranks)];
            for (int64_t pos = 0; pos < positions; ++pos) {
              const double a = dy(y_one, g_one, i, pos, o) * x(x_one, i, pos, t);
              const double c =
                  dy(y_rank, g_rank, i / n_ranks, pos, o) * x(x_rank, i / n_ranks, pos, t) / double(n_ranks);
              diff += std::fabs(a - c);
              sum_a += std::fabs(a);
              sum_c += std::fabs(c);
            }
          }
          const double n_one = double(rows * positions), n_rank = double(rank_rows * positions);
          const double grad_bound = diff + gamma(n_one) * sum_a +
                                    (gamma(n_rank) + gamma(double(n_ranks - 1)) * (1 + gamma(n_rank))) * sum_c +
                                    2 * n_one * std::ldexp(1.0, -150);
          const size_t e = size_t(param == "bias" ? o : o * taps + t);
          const double bound =
              kLr * grad_bound * (1 + u) +
              2 * u * (std::fabs(kLr * ga[e]) + std::fabs(wa[e]) + std::fabs(kLr * gb[e]) + std::fabs(wb[e]));
          const double d = std::fabs(double(wa[e]) - double(wb[e]));
          EXPECT_LE(d, bound) << name << "[" << e << "]";
          ++result.checked;
          result.differing += d > 0 ? 1 : 0;
          if (bound > 0) result.worst = std::max(result.worst, d / bound);
        }
    }
  }
}

void expect_ranks_step_like_one_rank(const Case& cs, int n_ranks) {
  const data::Split split = data::make_synthetic(cs.sample, 10, kSteps * kGlobalBatch + 3, 16, 1);
  std::vector<std::vector<StepRecord>> ranks(static_cast<size_t>(n_ranks));
  {
    SharedWorld world(n_ranks);
    std::vector<std::unique_ptr<ThreadRank>> comms;
    for (int r = 0; r < n_ranks; ++r) comms.push_back(std::make_unique<ThreadRank>(world, r));
    std::vector<std::thread> others;
    for (int r = 1; r < n_ranks; ++r)
      others.emplace_back(
          [&, r] { train(cs, split.train, kGlobalBatch / n_ranks, comms[size_t(r)].get(), ranks[size_t(r)]); });
    train(cs, split.train, kGlobalBatch / n_ranks, comms[0].get(), ranks[0]);
    for (std::thread& t : others) t.join();
  }
  std::vector<StepRecord> one;
  train(cs, split.train, kGlobalBatch, nullptr, one, &ranks[0]);

  BoundCheck result;
  for (int k = 0; k < kSteps; ++k) {
    std::vector<const StepRecord*> step;
    for (int r = 0; r < n_ranks; ++r) {
      step.push_back(&ranks[size_t(r)][size_t(k)]);
      EXPECT_EQ(step.back()->hash, step[0]->hash) << "rank " << r << " after step " << k;
      EXPECT_EQ(step.back()->after, step[0]->after) << "rank " << r << " after step " << k;
    }
    // The ranks moved: each step changes the weights, so the comparison is not of a no-op.
    EXPECT_NE(step[0]->after, step[0]->before) << "step " << k;
    check_step(cs, one[size_t(k)], step, result);
  }
  EXPECT_GT(result.checked, 0);
  std::printf(
      "%s: %lld weight updates checked over %d steps, %lld differ between 1 x %lld and %d x %lld; the largest "
      "difference is %.3g of its bound\n",
      cs.model.c_str(), (long long)result.checked, kSteps, (long long)result.differing, (long long)kGlobalBatch,
      n_ranks, (long long)(kGlobalBatch / n_ranks), result.worst);
}

TEST(DataParallel, TwoRanksStepLikeOneRankOfTheGlobalBatchMlp) { expect_ranks_step_like_one_rank(kMlp, 2); }
TEST(DataParallel, FourRanksStepLikeOneRankOfTheGlobalBatchMlp) { expect_ranks_step_like_one_rank(kMlp, 4); }
TEST(DataParallel, TwoRanksStepLikeOneRankOfTheGlobalBatchLenet) { expect_ranks_step_like_one_rank(kLenet, 2); }
TEST(DataParallel, FourRanksStepLikeOneRankOfTheGlobalBatchLenet) { expect_ranks_step_like_one_rank(kLenet, 4); }

}  // namespace
}  // namespace pure16::train
