// The batch-normalization kernels at every ISA level the CPU supports give the scalar
// reference's bits, for f32, fp16 and bf16: the vector passes do the reference's binary32
// operations lane by lane (accuracy against float64 is tested in tests/nn/test_batchnorm.cpp).
// Shapes cover vector tails (channels 1, 3, 17, 100), every width of the column sums' register
// groups (200 = 128 + 64 + 8 and 300 = 2 x 128 + 2 x 16 + 12 with AVX-512; 32-channel groups
// and tails with AVX2), row blocks (255, 256, 257 rows) and chunks within them, and a threaded case,
// with and without a fused ReLU.
#include <gtest/gtest.h>
#include <omp.h>

#include <cstring>
#include <string>
#include <vector>

#include "pure16/kernels/batchnorm.h"
#include "pure16/kernels/isa.h"
#include "pure16/tensor/dtype.h"
#include "support/reference.h"

namespace pure16::kernels {
namespace {

using pure16::testing::for_each_isa;

// n values of one dtype as raw bytes, from doubles rounded to nearest.
std::vector<unsigned char> values(DType dtype, const std::vector<double>& v) {
  std::vector<unsigned char> out(v.size() * dtype_size(dtype));
  dispatch(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (size_t i = 0; i < v.size(); ++i) {
      const T x = from_double<T>(v[i]);
      std::memcpy(out.data() + i * sizeof(T), &x, sizeof(T));
    }
  });
  return out;
}

std::vector<double> values_as_doubles(DType dtype, const std::vector<unsigned char>& bytes) {
  std::vector<double> out(bytes.size() / dtype_size(dtype));
  dispatch(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (size_t i = 0; i < out.size(); ++i) {
      T x;
      std::memcpy(&x, bytes.data() + i * sizeof(T), sizeof(T));
      out[i] = as_double(x);
    }
  });
  return out;
}

struct Outputs {
  std::vector<std::vector<unsigned char>> buffers;  // every output, in a fixed order
  bool operator==(const Outputs&) const = default;
};

// Runs all three kernels on data made from `seed` and returns everything they wrote.
Outputs run_all(DType dtype, int64_t rows, int64_t channels, uint64_t seed) {
  const int64_t n = rows * channels;
  std::vector<double> xv = testing::random_values(n, seed, -3.0, 3.0);
  for (int64_t r = 0; r < rows; ++r) xv[size_t(r * channels)] += 1000.0;  // channel 0: mean about 1000
  const auto x = values(dtype, xv);
  const auto dy = values(dtype, testing::random_values(n, seed + 1, -1.0, 1.0));
  const auto weight = values(dtype, testing::random_values(channels, seed + 2, 0.5, 1.5));
  const auto bias = values(dtype, testing::random_values(channels, seed + 3, -0.5, 0.5));
  const auto big = [&](int64_t count) { return std::vector<unsigned char>(size_t(count) * dtype_size(dtype)); };
  auto y = big(n), xhat = big(n), mean = big(channels), invstd = big(channels);
  auto running_mean = values(dtype, testing::random_values(channels, seed + 4, -0.1, 0.1));
  auto running_var = values(dtype, testing::random_values(channels, seed + 5, 0.9, 1.1));
  batchnorm_forward_training(y.data(), xhat.data(), mean.data(), invstd.data(), running_mean.data(), running_var.data(),
                             x.data(), weight.data(), bias.data(), dtype, dtype, rows, channels, 1e-5, 0.1);
  Outputs out{{y, xhat, mean, invstd, running_mean, running_var}};
  for (bool batch_statistics : {true, false}) {
    auto dx = big(n), dweight = values(dtype, std::vector<double>(size_t(channels), 0.25)), dbias = dweight;
    batchnorm_backward(dx.data(), dweight.data(), dbias.data(), dy.data(), xhat.data(), invstd.data(), weight.data(),
                       dtype, rows, channels, batch_statistics);
    out.buffers.insert(out.buffers.end(), {dx, dweight, dbias});
  }
  auto dweight = big(channels), dbias = big(channels);  // no input gradient wanted
  batchnorm_backward(nullptr, dweight.data(), dbias.data(), dy.data(), xhat.data(), invstd.data(), weight.data(), dtype,
                     rows, channels, true);
  auto y_eval = big(n), xhat_eval = big(n), invstd_eval = big(channels);
  batchnorm_forward_inference(y_eval.data(), xhat_eval.data(), invstd_eval.data(), x.data(), running_mean.data(),
                              running_var.data(), weight.data(), bias.data(), dtype, dtype, rows, channels, 1e-5);
  auto in_place = x;  // y aliasing x
  auto xhat_in_place = big(n);
  batchnorm_forward_inference(in_place.data(), xhat_in_place.data(), invstd_eval.data(), in_place.data(),
                              running_mean.data(), running_var.data(), weight.data(), bias.data(), dtype, dtype, rows,
                              channels, 1e-5);
  out.buffers.insert(out.buffers.end(), {dweight, dbias, y_eval, xhat_eval, invstd_eval, in_place, xhat_in_place});
  // With the ReLU fused in: its output, and backward through it.
  auto y_relu = big(n), xhat_relu = big(n), mean_relu = big(channels), invstd_relu = big(channels);
  batchnorm_forward_training(y_relu.data(), xhat_relu.data(), mean_relu.data(), invstd_relu.data(),
                             running_mean.data(), running_var.data(), x.data(), weight.data(), bias.data(), dtype, dtype, rows,
                             channels, 1e-5, 0.1, true);
  auto dx_relu = big(n), dweight_relu = big(channels), dbias_relu = big(channels);
  batchnorm_backward(dx_relu.data(), dweight_relu.data(), dbias_relu.data(), dy.data(), xhat_relu.data(),
                     invstd_relu.data(), weight.data(), dtype, rows, channels, true, y_relu.data());
  auto y_eval_relu = big(n);
  batchnorm_forward_inference(y_eval_relu.data(), xhat_eval.data(), invstd_eval.data(), x.data(), running_mean.data(),
                              running_var.data(), weight.data(), bias.data(), dtype, dtype, rows, channels, 1e-5, true);
  out.buffers.insert(out.buffers.end(), {y_relu, dx_relu, dweight_relu, dbias_relu, y_eval_relu});
  return out;
}

void expect_every_level_matches_scalar(DType dtype, int64_t rows, int64_t channels) {
  SCOPED_TRACE(std::string(dtype_name(dtype)) + " rows=" + std::to_string(rows) + " channels=" + std::to_string(channels));
  Outputs reference;
  for_each_isa([&](Isa isa) {
    const Outputs got = run_all(dtype, rows, channels, uint64_t(rows * 131 + channels));
    if (isa == Isa::scalar) {
      reference = got;
      return;
    }
    ASSERT_EQ(got.buffers.size(), reference.buffers.size());
    for (size_t i = 0; i < got.buffers.size(); ++i)
      EXPECT_TRUE(got.buffers[i] == reference.buffers[i]) << "output " << i << " differs at " << isa_name(isa);
  });
}

TEST(BatchnormKernels, EveryLevelGivesTheReferenceBits) {
  for (DType dtype : {DType::f32, DType::f16, DType::bf16})
    for (int64_t channels : {1, 3, 16, 17, 64, 100, 200, 300})
      for (int64_t rows : {2, 7, 255, 256, 257, 1000}) expect_every_level_matches_scalar(dtype, rows, channels);
}

// Running statistics in binary32 under fp16 activations: the update is computed as before, and
// only its final rounding differs, so rounding the binary32 statistics to fp16 gives the fp16
// statistics' bits; evaluation reads either.
TEST(BatchnormKernels, RunningStatisticsMayBeKeptInBinary32) {
  const int64_t rows = 64, channels = 24;
  const auto x = values(DType::f16, testing::random_values(rows * channels, 5, -2.0, 3.0));
  const auto weight = values(DType::f16, testing::random_values(channels, 6, 0.5, 1.5));
  const auto bias = values(DType::f16, testing::random_values(channels, 7, -0.5, 0.5));
  const std::vector<double> mean0 = testing::random_values(channels, 8, -0.1, 0.1);
  const std::vector<double> var0 = testing::random_values(channels, 9, 0.9, 1.1);
  std::vector<std::vector<unsigned char>> stats;
  for (DType statistics : {DType::f16, DType::f32}) {
    std::vector<unsigned char> y(x.size()), xhat(x.size()), mean(size_t(channels) * 2), invstd(size_t(channels) * 2);
    // The starting statistics are fp16 values in both, so only the update's rounding differs.
    auto running_mean = values(statistics, values_as_doubles(DType::f16, values(DType::f16, mean0)));
    auto running_var = values(statistics, values_as_doubles(DType::f16, values(DType::f16, var0)));
    batchnorm_forward_training(y.data(), xhat.data(), mean.data(), invstd.data(), running_mean.data(),
                               running_var.data(), x.data(), weight.data(), bias.data(), DType::f16, statistics, rows,
                               channels, 1e-5, 0.1);
    const std::vector<double> m = values_as_doubles(statistics, running_mean), v = values_as_doubles(statistics, running_var);
    std::vector<double> both(m);
    both.insert(both.end(), v.begin(), v.end());
    stats.push_back(values(DType::f16, both));
    if (statistics == DType::f32) {
      EXPECT_NE(values(DType::f32, both), values(DType::f32, values_as_doubles(DType::f16, stats[0])))
          << "binary32 statistics kept no more than fp16 ones";
      std::vector<unsigned char> y_eval(x.size()), xhat_eval(x.size()), invstd_eval(size_t(channels) * 2);
      batchnorm_forward_inference(y_eval.data(), xhat_eval.data(), invstd_eval.data(), x.data(), running_mean.data(),
                                  running_var.data(), weight.data(), bias.data(), DType::f16, statistics, rows,
                                  channels, 1e-5);
      const std::vector<double> out = values_as_doubles(DType::f16, y_eval);
      for (double value : out) EXPECT_TRUE(std::isfinite(value));
    }
  }
  EXPECT_EQ(stats[0], stats[1]);
}

TEST(BatchnormKernels, ThreadedPassesGiveTheSameBits) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(2);
  for (DType dtype : {DType::f32, DType::f16}) expect_every_level_matches_scalar(dtype, 3000, 64);
  omp_set_num_threads(saved);
}

}  // namespace
}  // namespace pure16::kernels
