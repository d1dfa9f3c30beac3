// Synchronized BatchNorm (RunOptions::batch_statistics_replicas): N replicas, each holding a
// slice of the batch, normalize like one BatchNorm over the whole batch.
//
// Forward is checked bit for bit: the inputs are small integers and the row counts powers of
// two, so every sum, mean, deviation and square of the two passes is exact in binary32 and
// binary64, and the replicas' summation order cannot show. Without the replicas, the slices'
// own statistics give other outputs.
//
// Backward: sum(dy) is exact too (dy multiples of 1/8), but sum(dy * xhat) is not, and its two
// summation orders (n rows at once, or n / N rows on each replica and N - 1 additions) differ by
// at most 2 gamma_(n+N) S with S = sum |dy xhat|. The mean m = sum / n (n a power of two: exact)
// then differs by dm <= 2 gamma_(n+N) S / n, and |m| <= 1.01 S / n. The kernel computes
// dx = scale ((dy - mean(dy)) - xhat m) with each operation rounded (unit roundoff u), so
//   |dx_a - dx_b| <= 1.01 (|scale xhat| (dm + 2 u S / n) + 2 u (|dx_a| + |dx_b|)),
// 1.01 absorbing the second-order terms.
#include <gtest/gtest.h>

#include <barrier>
#include <cmath>
#include <memory>
#include <thread>
#include <vector>

#include "pure16/kernels/batchnorm.h"
#include "pure16/nn/batchnorm.h"
#include "support/reference.h"

namespace pure16::nn {
namespace {

// Replicas as threads: replica 0 adds every replica's values in order; all read the sums.
class ThreadReplicas {
 public:
  explicit ThreadReplicas(int size) : size_(size), sync_(size), float_(size_t(size)), double_(size_t(size)) {}

  class Member : public kernels::ReplicaSum {
   public:
    Member(ThreadReplicas& all, int index) : all_(all), index_(index) {}
    void sum(float* values, int64_t n) override { all_.sum(index_, values, n, all_.float_); }
    void sum(double* values, int64_t n) override { all_.sum(index_, values, n, all_.double_); }

   private:
    ThreadReplicas& all_;
    int index_;
  };

 private:
  template <class T>
  void sum(int index, T* values, int64_t n, std::vector<T*>& slots) {
    slots[size_t(index)] = values;
    sync_.arrive_and_wait();
    if (index == 0)
      for (int r = 1; r < size_; ++r)
        for (int64_t i = 0; i < n; ++i) values[i] += slots[size_t(r)][i];
    sync_.arrive_and_wait();
    if (index != 0)
      for (int64_t i = 0; i < n; ++i) values[i] = slots[0][i];
    sync_.arrive_and_wait();
  }

  int size_;
  std::barrier<> sync_;
  std::vector<float*> float_;
  std::vector<double*> double_;
};

constexpr int64_t kChannels = 5, kH = 4, kW = 4, kTotalImages = 4;  // 64 rows in all

PrecisionPolicy policy_for(DType dtype) {
  PrecisionPolicy p;
  p.name = "test";
  p.compute = p.master = p.optimizer_state = dtype;
  return p;
}

// A BatchNorm with its parameters, given the same weights on every replica.
struct Replica {
  BatchNorm2d layer{kChannels};
  ParameterStore store;
  Context ctx;
  Tensor y, dx;
  explicit Replica(DType dtype) {
    layer.weight().init = Init::uniform(1.5);
    layer.bias().init = Init::uniform(1.0);
    store.build(layer.parameters(), policy_for(dtype), 3, layer.buffers());
  }
  void step(const Tensor& x, const Tensor& dy, kernels::ReplicaSum* replicas) {
    RunOptions options;
    options.batch_statistics_replicas = replicas;
    y = layer.forward(x, ctx, options);
    dx = layer.backward(dy, ctx, options, true);
  }
};

std::vector<double> integers(int64_t n, uint64_t seed, int64_t low, int64_t high, double unit) {
  std::vector<double> v = testing::random_values(n, seed, double(low), double(high) + 1);
  for (double& e : v) e = std::min(std::floor(e), double(high)) * unit;
  return v;
}

// Rows [first, first + count) of a (rows, kChannels) table of doubles.
std::vector<double> rows_of(const std::vector<double>& v, int64_t first, int64_t count) {
  return {v.begin() + first * kChannels, v.begin() + (first + count) * kChannels};
}

void expect_replicas_normalize_like_the_whole_batch(DType dtype, int n_replicas) {
  SCOPED_TRACE(std::string(dtype_name(dtype)) + ", " + std::to_string(n_replicas) + " replicas");
  const int64_t images = kTotalImages / n_replicas, rows = images * kH * kW, total = rows * n_replicas;
  const std::vector<double> x = integers(total * kChannels, 11, -2, 2, 1.0);
  const std::vector<double> dy = integers(total * kChannels, 12, -8, 8, 0.125);
  const Shape whole_shape{kTotalImages, kH, kW, kChannels}, slice_shape{images, kH, kW, kChannels};

  Replica whole(dtype);
  whole.step(Tensor::from_doubles(x, whole_shape, dtype), Tensor::from_doubles(dy, whole_shape, dtype), nullptr);

  ThreadReplicas world(n_replicas);
  std::vector<std::unique_ptr<Replica>> replicas, alone;
  for (int r = 0; r < n_replicas; ++r) {
    replicas.push_back(std::make_unique<Replica>(dtype));
    alone.push_back(std::make_unique<Replica>(dtype));
  }
  std::vector<std::thread> threads;
  for (int r = 0; r < n_replicas; ++r)
    threads.emplace_back([&, r] {
      ThreadReplicas::Member member(world, r);
      replicas[size_t(r)]->step(Tensor::from_doubles(rows_of(x, r * rows, rows), slice_shape, dtype),
                                Tensor::from_doubles(rows_of(dy, r * rows, rows), slice_shape, dtype), &member);
    });
  for (std::thread& t : threads) t.join();

  const double u = dtype == DType::f64 ? 0x1.0p-53 : 0x1.0p-24;
  const double gamma = testing::gamma(total + n_replicas, u);
  const std::vector<double> xhat = whole.ctx.saved.at(0).to_doubles(), invstd = whole.ctx.saved.at(1).to_doubles();
  const std::vector<double> weight = whole.layer.weight().value.to_doubles();
  std::vector<double> s(kChannels, 0.0);  // sum |dy xhat| per channel
  for (int64_t i = 0; i < total; ++i)
    for (int64_t c = 0; c < kChannels; ++c)
      s[size_t(c)] += std::fabs(dy[size_t(i * kChannels + c)] * xhat[size_t(i * kChannels + c)]);
  const std::vector<double> y_whole = whole.y.to_doubles(), dx_whole = whole.dx.to_doubles();
  std::vector<double> bias_grad_sum(kChannels, 0.0);
  bool alone_differs = false;
  double worst = 0;
  for (int r = 0; r < n_replicas; ++r) {
    Replica& replica = *replicas[size_t(r)];
    EXPECT_EQ(replica.y.to_doubles(), rows_of(y_whole, r * rows, rows)) << "replica " << r;
    EXPECT_EQ(replica.ctx.saved.at(0).to_doubles(), rows_of(xhat, r * rows, rows)) << "replica " << r;
    EXPECT_EQ(replica.ctx.saved.at(1).to_doubles(), invstd) << "replica " << r;
    EXPECT_EQ(replica.layer.running_mean().value.to_doubles(), whole.layer.running_mean().value.to_doubles());
    EXPECT_EQ(replica.layer.running_var().value.to_doubles(), whole.layer.running_var().value.to_doubles());
    const std::vector<double> dx = replica.dx.to_doubles();
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t c = 0; c < kChannels; ++c) {
        const size_t local = size_t(i * kChannels + c), global = size_t((r * rows + i) * kChannels + c);
        const double m = s[size_t(c)] / double(total);
        const double bound =
            1.01 * (std::fabs(weight[size_t(c)] * invstd[size_t(c)] * xhat[global]) * (2 * gamma * m + 2 * u * m) +
                    2 * u * (std::fabs(dx[local]) + std::fabs(dx_whole[global])));
        const double d = std::fabs(dx[local] - dx_whole[global]);
        EXPECT_LE(d, bound) << "replica " << r << " dx[" << local << "]";
        if (bound > 0) worst = std::max(worst, d / bound);
      }
    // Each replica's parameter gradients are its own slice's: they add up to the whole batch's.
    const std::vector<double> bias_grad = replica.layer.bias().grad.to_doubles();
    for (int64_t c = 0; c < kChannels; ++c) bias_grad_sum[size_t(c)] += bias_grad[size_t(c)];
    // The slice alone, with its own statistics, normalizes differently.
    alone[size_t(r)]->step(Tensor::from_doubles(rows_of(x, r * rows, rows), slice_shape, dtype),
                           Tensor::from_doubles(rows_of(dy, r * rows, rows), slice_shape, dtype), nullptr);
    alone_differs = alone_differs || alone[size_t(r)]->y.to_doubles() != replica.y.to_doubles();
  }
  EXPECT_EQ(bias_grad_sum, whole.layer.bias().grad.to_doubles());
  EXPECT_TRUE(alone_differs);
  std::printf("%s, %d replicas: the largest dx difference is %.3g of its bound\n",
              std::string(dtype_name(dtype)).c_str(), n_replicas, worst);
}

TEST(SyncBatchNorm, ReplicasNormalizeLikeTheWholeBatch) {
  for (DType dtype : {DType::f32, DType::f64})
    for (int n : {2, 4}) expect_replicas_normalize_like_the_whole_batch(dtype, n);
}

}  // namespace
}  // namespace pure16::nn
