// The gradient reducer's packing, division and unpacking, over a stand-in world of N ranks that
// all hold the same gradients and sum them along a butterfly with dist::sum_into (as an MPI
// all-reduce may): the average of N equal gradients is the gradient itself, exactly, when N is a
// power of two and nothing underflows, whichever side of the sum the division is on. The values
// (at most 7 significant bits) are exact in every dtype, so the wire's rounding is invisible.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "pure16/dist/gradient_reducer.h"
#include "pure16/dist/reduce_sum.h"
#include "pure16/kernels/elementwise.h"

namespace pure16::dist {
namespace {

class EqualRanks : public Communicator {
 public:
  explicit EqualRanks(int size) : size_(size) {}
  int rank() const override { return 0; }
  int size() const override { return size_; }
  std::string describe() const override { return "equal ranks"; }
  Ticket start_sum(void* data, int64_t n, DType dtype) override {
    const size_t bytes = size_t(n) * traits(dtype).size;
    for (int width = 1; width < size_; width *= 2) {
      std::vector<unsigned char> other(static_cast<const unsigned char*>(data), static_cast<const unsigned char*>(data) + bytes);
      if (dtype == DType::f32) {
        for (int64_t i = 0; i < n; ++i) static_cast<float*>(data)[i] += reinterpret_cast<float*>(other.data())[i];
      } else {
        sum_into(data, other.data(), dtype, n);
      }
    }
    started.push_back(n);
    return {int64_t(started.size()) - 1};
  }
  double wait(Ticket) override { return 0; }
  void broadcast(void*, int64_t, int) override {}
  [[noreturn]] void abort(int, const std::string& why) override { throw std::runtime_error(why); }
  std::vector<int64_t> started;  // elements of each sum, in order

 private:
  int size_;
};

Tensor filled(int64_t n, DType dtype, double start) {
  std::vector<float> values(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) values[size_t(i)] = float(std::ldexp(start + double(i % 97), -3 - int(i % 5)));
  Tensor t = Tensor::zeros({n}, dtype);
  kernels::convert(t.raw(), dtype, values.data(), DType::f32, n);
  return t;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return std::memcmp(a.raw(), b.raw(), size_t(a.numel()) * traits(a.dtype()).size) == 0;
}

TEST(GradientReducer, AverageOfEqualGradientsIsExactForPowersOfTwo) {
  for (DType comm : {DType::f16, DType::bf16, DType::f32})
    for (Division division : {Division::before_sum, Division::after_sum}) {
      EqualRanks world(4);
      // Two dtypes in one step: arenas may hold segments of several.
      std::vector<Tensor> grads{filled(300, DType::f16, 1), filled(1000, DType::f32, 5), filled(77, DType::f16, 9)};
      std::vector<Tensor> before;
      for (const Tensor& g : grads) before.push_back(g.clone());
      ReducerOptions options;
      options.comm_dtype = comm;
      options.division = division;
      options.bucket_bytes = 1000 * int64_t(traits(comm).size);
      options.first_bucket_bytes = 200 * int64_t(traits(comm).size);
      GradientReducer reducer(world, grads, options);
      ASSERT_EQ(reducer.buckets().size(), 3u);
      reducer.ready(0);
      EXPECT_TRUE(world.started.empty());
      reducer.ready(1);  // the first bucket holds only tensor 0; the second only tensor 1
      EXPECT_EQ(world.started, std::vector<int64_t>({300}));
      reducer.ready(2);
      EXPECT_EQ(world.started, std::vector<int64_t>({300, 1000}));
      reducer.finish();
      EXPECT_EQ(world.started, std::vector<int64_t>({300, 1000, 77}));
      for (size_t t = 0; t < grads.size(); ++t) {
        // f32 gradients through a 16-bit wire are rounded to it, once.
        Tensor expected = before[t];
        if (comm != DType::f32 && grads[t].dtype() == DType::f32) {
          Tensor wire = Tensor::zeros({expected.numel()}, comm);
          kernels::convert(wire.raw(), comm, expected.raw(), DType::f32, expected.numel());
          kernels::convert(expected.raw(), DType::f32, wire.raw(), comm, expected.numel());
        }
        EXPECT_TRUE(same_bytes(grads[t], expected)) << dtype_name(comm) << " tensor " << t;
      }
      const ReduceStats stats = reducer.take_stats();
      EXPECT_EQ(stats.steps, 1);
      EXPECT_EQ(stats.payload_bytes, (300 + 1000 + 77) * int64_t(traits(comm).size));
      EXPECT_EQ(reducer.payload_bytes_per_step(), stats.payload_bytes);
    }
}

TEST(GradientReducer, Fp16PayloadIsHalfOfFp32) {
  EqualRanks world(2);
  std::vector<Tensor> grads{filled(12345, DType::f16, 1)};
  ReducerOptions half, full;
  half.comm_dtype = DType::f16;
  full.comm_dtype = DType::f32;
  EXPECT_EQ(2 * GradientReducer(world, grads, half).payload_bytes_per_step(),
            GradientReducer(world, grads, full).payload_bytes_per_step());
}

}  // namespace
}  // namespace pure16::dist
