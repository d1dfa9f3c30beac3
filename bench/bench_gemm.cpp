// GEMM throughput of the active variant for each dtype/accumulation kind, in GFLOP/s (2 M N K
// per call), on square shapes and a few network-like ones, with one thread and with all of them.
//
//   ./bench_gemm                                  everything
//   ./bench_gemm --benchmark_filter='f16_acc_f16' one kind
//   ./bench_gemm --benchmark_filter='threads:1'   single-threaded only
//   PURE16_ISA=avx512 ./bench_gemm                variants of a lower level
//   PURE16_BENCH_THREADS=1 ./bench_gemm           only the given thread count ("all": all threads)
#include <omp.h>

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "pure16/kernels/gemm.h"
#include "pure16/tensor/dtype.h"

namespace {

using pure16::DType;
using pure16::kernels::Accumulation;

struct Kind {
  DType dtype;
  Accumulation acc;
};

struct GemmShape {
  const char* name;
  int64_t m, n, k;
  bool trans_a, trans_b;
};

constexpr Kind kKinds[] = {{DType::f32, Accumulation::f32},
                           {DType::f16, Accumulation::f32},
                           {DType::f16, Accumulation::f16},
                           {DType::bf16, Accumulation::f32}};

constexpr GemmShape kShapes[] = {
    {"square", 256, 256, 256, false, false},
    {"square", 512, 512, 512, false, false},
    {"square", 1024, 1024, 1024, false, false},
    // Linear layer forward, Y = X W^T: batch 512, 1024 -> 1024 features.
    {"linear_fwd_NT", 512, 1024, 1024, false, true},
    // Its weight gradient, dW = dY^T X.
    {"linear_dw_TN", 1024, 1024, 512, true, false},
    // ResNet-50 conv4 3x3 as im2col GEMM, batch 8: (8*14*14) x 256 outputs x (3*3*256).
    {"resnet_conv3x3", 1568, 256, 2304, false, false},
    // ResNet-50 conv2 1x1 reduce, batch 8: (8*56*56) x 64 x 256.
    {"resnet_conv1x1", 25088, 64, 256, false, false},
};

// Storage of n values of the dtype, small uniform numbers so fp16 sums stay finite.
std::vector<std::byte> random_matrix(DType dtype, int64_t n, uint64_t seed) {
  std::vector<std::byte> bytes(size_t(n) * pure16::dtype_size(dtype));
  uint64_t state = seed * 6364136223846793005ull + 1442695040888963407ull;
  pure16::dispatch(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (int64_t i = 0; i < n; ++i) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      const double u = double(state >> 11) * 0x1.0p-53;  // [0, 1)
      const T x = pure16::from_double<T>((u - 0.5) * 0.25);
      std::memcpy(bytes.data() + size_t(i) * sizeof(T), &x, sizeof(T));
    }
  });
  return bytes;
}

void bench_gemm(benchmark::State& state, Kind kind, GemmShape shape, int threads) {
  const int64_t m = shape.m, n = shape.n, k = shape.k;
  std::vector<std::byte> a = random_matrix(kind.dtype, m * k, 1);
  std::vector<std::byte> b = random_matrix(kind.dtype, k * n, 2);
  std::vector<std::byte> c = random_matrix(kind.dtype, m * n, 3);
  pure16::kernels::GemmArgs args;
  args.trans_a = shape.trans_a;
  args.trans_b = shape.trans_b;
  args.m = m;
  args.n = n;
  args.k = k;
  args.a = a.data();
  args.lda = shape.trans_a ? m : k;
  args.b = b.data();
  args.ldb = shape.trans_b ? k : n;
  args.c = c.data();
  args.ldc = n;
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  for (auto _ : state) {
    pure16::kernels::gemm(kind.dtype, kind.acc, args);
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  omp_set_num_threads(saved);
  state.counters["GFLOP/s"] =
      benchmark::Counter(2e-9 * double(m) * double(n) * double(k), benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(pure16::kernels::gemm_variant(kind.dtype, kind.acc)));
}

}  // namespace

int main(int argc, char** argv) {
  const int all = omp_get_max_threads();
  std::vector<int> thread_counts = {1, all};
  if (all == 1) thread_counts = {1};
  if (const char* env = std::getenv("PURE16_BENCH_THREADS"); env != nullptr && *env != '\0')
    thread_counts = {std::string(env) == "all" ? all : std::max(1, std::atoi(env))};
  for (const Kind& kind : kKinds) {
    for (const GemmShape& shape : kShapes) {
      for (int threads : thread_counts) {
        const std::string name = "gemm/" + std::string(pure16::dtype_name(kind.dtype)) + "_acc_" +
                                 std::string(pure16::kernels::accumulation_name(kind.acc)) + "/" + shape.name + "/" +
                                 std::to_string(shape.m) + "x" + std::to_string(shape.n) + "x" +
                                 std::to_string(shape.k) + "/threads:" + std::to_string(threads);
        benchmark::RegisterBenchmark(name.c_str(), bench_gemm, kind, shape, threads)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
