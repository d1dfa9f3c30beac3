// `pure16 bench allreduce`, run under mpirun: the time of one all-reduce (sum) of buffers of
// several sizes in fp32, fp16 and bf16, the median of --steps after --warmup, every rank
// starting each one together (a broadcast first). Rank 0 prints; `pure16 scale` fits the ring
// model to these rows.
#include <algorithm>
#include <chrono>
#include <vector>

#include "bench_common.h"
#include "pure16/dist/communicator.h"

namespace pure16::cli::bench {

int run_allreduce(const Options& o) {
  const std::unique_ptr<dist::Communicator> world = dist::make_world();
  const std::vector<int64_t> sizes =
      o.elements.empty() ? std::vector<int64_t>{int64_t(1) << 18, int64_t(1) << 22, 25'000'000} : o.elements;
  nlohmann::json rows = nlohmann::json::array();
  std::string text = format("all-reduce over %d ranks (%s), median of %lld\n", world->size(),
                            world->describe().c_str(), (long long)o.steps);
  for (int64_t n : sizes) {
    double fp32_seconds = 0;
    for (DType dtype : {DType::f32, DType::f16, DType::bf16}) {
      const size_t bytes = size_t(n) * traits(dtype).size;
      // Values whose sums over any number of ranks stay finite and exact in every dtype: the
      // bits are not the point, the time is.
      Tensor buffer = Tensor::zeros({n}, dtype);
      std::vector<double> times;
      for (int64_t i = 0; i < o.warmup + o.steps; ++i) {
        char go = 0;
        world->broadcast(&go, 1, 0);
        const auto start = std::chrono::steady_clock::now();
        world->sum(buffer.raw(), n, dtype);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (i >= o.warmup) times.push_back(seconds);
      }
      std::sort(times.begin(), times.end());
      const double median = times[times.size() / 2];
      if (dtype == DType::f32) fp32_seconds = median;
      rows.push_back({{"ranks", world->size()},
                      {"dtype", dtype_name(dtype)},
                      {"elements", n},
                      {"bytes", bytes},
                      {"seconds", median},
                      {"fraction_of_fp32", median / fp32_seconds}});
      text += format("  %-4s %10lld elements %11zu B  %9.3f ms  %6.2f GB/s  %.2fx fp32's time\n",
                     dtype_name(dtype).data(), (long long)n, bytes, 1e3 * median, double(bytes) / median * 1e-9,
                     median / fp32_seconds);
    }
  }
  if (world->rank() == 0) emit(o, {{"allreduce", rows}}, text);
  return 0;
}

}  // namespace pure16::cli::bench
