// Batch normalization kernels (see include/pure16/kernels/batchnorm.h). Per-channel sums run
// over fixed blocks of kBlockRows rows, each block summed in its own binary32 partials, then the
// blocks in order: the result is the same for any thread count, and the error of a sum of M
// terms is bounded by gamma_(kBlockRows + M / kBlockRows) instead of gamma_M.
//
// The passes over the rows (column sums, normalization, input gradient) are dispatch-table ops
// (batchnorm_passes.h); this file holds their scalar references and the per-channel arithmetic
// between them, which is the same whichever variant runs the passes.
#include "pure16/kernels/batchnorm.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/batchnorm_passes.h"
#include "kernels/kernel_table.h"
#include "pure16/kernels/elementwise.h"

namespace pure16::kernels {
namespace {

constexpr int64_t kBlockRows = kBatchnormBlockRows;
constexpr int64_t kParallelThreshold = kBatchnormParallelThreshold;

void check(const char* op, int64_t rows, int64_t channels, int64_t min_rows) {
  if (channels <= 0) throw std::invalid_argument(std::string(op) + ": channels must be positive, got " + std::to_string(channels));
  if (rows < min_rows)
    throw std::invalid_argument(std::string(op) + ": needs at least " + std::to_string(min_rows) +
                                " values per channel, got " + std::to_string(rows));
}

// Tiles of whole rows move between storage and arithmetic through the dispatch table's
// vectorized conversion (exact widening on load, one round-to-nearest-even on store, as
// load_value/store_value). Each call costs about half a microsecond of fixed overhead, so tiles
// hold up to kTileElements values; that stays at or below convert's own threshold for splitting
// over threads, so inside the loops below it runs on the calling thread.
constexpr int64_t kTileElements = 1 << 15;

template <class T>
void load_tile(compute_t<T>* dst, const T* src, int64_t n) {
  if constexpr (std::is_same_v<T, compute_t<T>>) std::copy(src, src + n, dst);
  else convert(dst, DType::f32, src, dtype_of<T>(), n);
}
template <class T>
void store_tile(T* dst, const compute_t<T>* src, int64_t n) {
  if constexpr (std::is_same_v<T, compute_t<T>>) std::copy(src, src + n, dst);
  else convert(dst, dtype_of<T>(), src, DType::f32, n);
}
template <class T>
std::vector<compute_t<T>> widened(const T* src, int64_t n) {
  std::vector<compute_t<T>> out(static_cast<size_t>(n));
  load_tile(out.data(), src, n);
  return out;
}

int64_t tile_rows(int64_t channels) { return std::clamp<int64_t>(kTileElements / channels, 1, kBlockRows); }

// partial[(b * S + s) * C + c] = sum over the rows r of block b of what term(row, part) adds to
// part[s * C + c], with row[i] the binary32 (f64: binary64) values of row r of sources[i].
template <int S, class T, size_t I, class Term>
void block_sums(compute_t<T>* partial, int64_t rows, int64_t channels, const std::array<const T*, I>& sources,
                Term term) {
  using Acc = compute_t<T>;
  const int64_t blocks = (rows + kBlockRows - 1) / kBlockRows, tile = tile_rows(channels);
  std::fill(partial, partial + blocks * S * channels, Acc(0));
#pragma omp parallel if (rows * channels > kParallelThreshold)
  {
    std::vector<Acc> tiles(static_cast<size_t>(int64_t(I) * tile * channels));
#pragma omp for schedule(static)
    for (int64_t b = 0; b < blocks; ++b) {
      Acc* part = partial + b * S * channels;
      const int64_t b_end = std::min(rows, (b + 1) * kBlockRows);
      for (int64_t r0 = b * kBlockRows; r0 < b_end; r0 += tile) {
        const int64_t n = std::min(tile, b_end - r0);
        for (size_t i = 0; i < I; ++i)
          load_tile(tiles.data() + int64_t(i) * tile * channels, sources[i] + r0 * channels, n * channels);
        for (int64_t r = 0; r < n; ++r) {
          std::array<const Acc*, I> row;
          for (size_t i = 0; i < I; ++i) row[i] = tiles.data() + (int64_t(i) * tile + r) * channels;
          term(row, part);
        }
      }
    }
  }
}

// For each tile of rows, in parallel: load `in` (I sources), call f(row_in, row_out) per row,
// store `out` (O destinations).
template <class T, size_t I, size_t O, class F>
void map_rows(int64_t rows, int64_t channels, const std::array<const T*, I>& in, const std::array<T*, O>& out, F f) {
  using Acc = compute_t<T>;
  const int64_t tile = tile_rows(channels), tiles = (rows + tile - 1) / tile;
#pragma omp parallel if (rows * channels > kParallelThreshold)
  {
    std::vector<Acc> buf(static_cast<size_t>(int64_t(I + O) * tile * channels));
#pragma omp for schedule(static)
    for (int64_t t = 0; t < tiles; ++t) {
      const int64_t r0 = t * tile, n = std::min(tile, rows - r0);
      for (size_t i = 0; i < I; ++i)
        load_tile(buf.data() + int64_t(i) * tile * channels, in[i] + r0 * channels, n * channels);
      for (int64_t r = 0; r < n; ++r) {
        std::array<const Acc*, I> row_in;
        std::array<Acc*, O> row_out;
        for (size_t i = 0; i < I; ++i) row_in[i] = buf.data() + (int64_t(i) * tile + r) * channels;
        for (size_t o = 0; o < O; ++o) row_out[o] = buf.data() + (int64_t(I + o) * tile + r) * channels;
        f(row_in, row_out);
      }
      for (size_t o = 0; o < O; ++o)
        store_tile(out[o] + r0 * channels, buf.data() + int64_t(I + o) * tile * channels, n * channels);
    }
  }
}

// ---- The reference passes (batchnorm_passes.h), for every dtype.

// dy where the fused ReLU's output is positive, else 0 (NaN fails the comparison).
template <class Acc>
Acc masked(Acc dy, Acc relu_output) {
  return relu_output > Acc(0) ? dy : Acc(0);
}

template <class T>
void sums_ref(BatchnormSum kind, compute_t<T>* partial, const T* a, const T* b, const T* mask, int64_t rows,
              int64_t channels, const compute_t<T>* center) {
  using Acc = compute_t<T>;
  switch (kind) {
    case BatchnormSum::shifted:
      return block_sums<1, T, 1>(partial, rows, channels, {a}, [&](const auto& row, Acc* part) {
        for (int64_t c = 0; c < channels; ++c) part[c] += row[0][c] - center[c];
      });
    case BatchnormSum::squared_deviation:
      return block_sums<1, T, 1>(partial, rows, channels, {a}, [&](const auto& row, Acc* part) {
        for (int64_t c = 0; c < channels; ++c) {
          const Acc d = row[0][c] - center[c];
          part[c] += d * d;
        }
      });
    case BatchnormSum::gradient:
      if (mask != nullptr)
        return block_sums<2, T, 3>(partial, rows, channels, {a, b, mask}, [&](const auto& row, Acc* part) {
          for (int64_t c = 0; c < channels; ++c) {
            const Acc g = masked(row[0][c], row[2][c]);
            part[c] += g;
            part[channels + c] += g * row[1][c];
          }
        });
      return block_sums<2, T, 2>(partial, rows, channels, {a, b}, [&](const auto& row, Acc* part) {
        for (int64_t c = 0; c < channels; ++c) {
          part[c] += row[0][c];
          part[channels + c] += row[0][c] * row[1][c];
        }
      });
  }
}

template <class T, class Acc>
void normalize_ref(T* y, T* xhat, const T* x, int64_t rows, int64_t channels, const Acc* mean, const Acc* invstd,
                   const Acc* weight, const Acc* bias, bool relu) {
  map_rows<T, 1, 2>(rows, channels, {x}, {xhat, y}, [&](const auto& in, const auto& out) {
    for (int64_t c = 0; c < channels; ++c) {
      const Acc h = (in[0][c] - mean[c]) * invstd[c];
      out[0][c] = h;
      const Acc v = h * weight[c] + bias[c];
      out[1][c] = relu && !(v > Acc(0)) ? Acc(0) : v;  // rounding keeps the sign, so ReLU may come first
    }
  });
}

template <class T, class Acc>
void input_grad_ref(T* dx, const T* dy, const T* xhat, const T* mask, int64_t rows, int64_t channels,
                    const Acc* scale, const Acc* mean_dy, const Acc* mean_dy_xhat) {
  if (mask != nullptr) {
    map_rows<T, 3, 1>(rows, channels, {dy, xhat, mask}, {dx}, [&](const auto& in, const auto& out) {
      for (int64_t c = 0; c < channels; ++c)
        out[0][c] = scale[c] * (masked(in[0][c], in[2][c]) - mean_dy[c] - in[1][c] * mean_dy_xhat[c]);
    });
    return;
  }
  map_rows<T, 2, 1>(rows, channels, {dy, xhat}, {dx}, [&](const auto& in, const auto& out) {
    for (int64_t c = 0; c < channels; ++c) out[0][c] = scale[c] * (in[0][c] - mean_dy[c] - in[1][c] * mean_dy_xhat[c]);
  });
}

// Calls f(TypeTag<T>) for the dtypes the table's passes take.
template <class F>
void dispatch_binary32(DType dtype, F f) {
  if (dtype == DType::f64) throw std::logic_error("batchnorm passes: f64 runs the binary64 reference directly");
  dispatch(dtype, f);
}

void sums_table_ref(BatchnormSum kind, float* partial, const void* a, const void* b, const void* mask, DType dtype,
                    int64_t rows, int64_t channels, const float* center) {
  dispatch_binary32(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<T, double>)
      sums_ref<T>(kind, partial, static_cast<const T*>(a), static_cast<const T*>(b), static_cast<const T*>(mask), rows,
                  channels, center);
  });
}
void normalize_table_ref(void* y, void* xhat, const void* x, DType dtype, int64_t rows, int64_t channels,
                         const float* mean, const float* invstd, const float* weight, const float* bias, bool relu) {
  dispatch_binary32(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<T, double>)
      normalize_ref(static_cast<T*>(y), static_cast<T*>(xhat), static_cast<const T*>(x), rows, channels, mean, invstd,
                    weight, bias, relu);
  });
}
void input_grad_table_ref(void* dx, const void* dy, const void* xhat, const void* mask, DType dtype, int64_t rows,
                          int64_t channels, const float* scale, const float* mean_dy, const float* mean_dy_xhat) {
  dispatch_binary32(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<T, double>)
      input_grad_ref(static_cast<T*>(dx), static_cast<const T*>(dy), static_cast<const T*>(xhat),
                     static_cast<const T*>(mask), rows, channels, scale, mean_dy, mean_dy_xhat);
  });
}

// ---- The passes as the kernels below call them: the table's variant for binary32 arithmetic,
// the reference directly for f64.

template <class T>
struct Passes {
  using Acc = compute_t<T>;
  static constexpr bool kTable = !std::is_same_v<T, double>;

  // sums[s][c] over all rows: the blocks' partials added in block order.
  static std::array<std::vector<Acc>, 2> column_sums(BatchnormSum kind, const T* a, const T* b, const T* mask,
                                                     int64_t rows, int64_t channels, const Acc* center) {
    const int sums_per_channel = batchnorm_sum_count(kind);
    const int64_t blocks = (rows + kBlockRows - 1) / kBlockRows;
    std::vector<Acc> partial(static_cast<size_t>(blocks * sums_per_channel * channels));
    if constexpr (kTable)
      kernel_table().batchnorm_sums.fn(kind, partial.data(), a, b, mask, dtype_of<T>(), rows, channels, center);
    else sums_ref<T>(kind, partial.data(), a, b, mask, rows, channels, center);
    std::array<std::vector<Acc>, 2> sums;
    for (int s = 0; s < sums_per_channel; ++s) {
      auto& out = sums[size_t(s)];
      out.assign(static_cast<size_t>(channels), Acc(0));
      for (int64_t blk = 0; blk < blocks; ++blk)
        for (int64_t c = 0; c < channels; ++c) out[size_t(c)] += partial[size_t((blk * sums_per_channel + s) * channels + c)];
    }
    return sums;
  }
  static void normalize(T* y, T* xhat, const T* x, int64_t rows, int64_t channels, const Acc* mean, const Acc* invstd,
                        const Acc* weight, const Acc* bias, bool relu) {
    if constexpr (kTable)
      kernel_table().batchnorm_normalize.fn(y, xhat, x, dtype_of<T>(), rows, channels, mean, invstd, weight, bias, relu);
    else normalize_ref(y, xhat, x, rows, channels, mean, invstd, weight, bias, relu);
  }
  static void input_grad(T* dx, const T* dy, const T* xhat, const T* mask, int64_t rows, int64_t channels,
                         const Acc* scale, const Acc* mean_dy, const Acc* mean_dy_xhat) {
    if constexpr (kTable)
      kernel_table().batchnorm_input_grad.fn(dx, dy, xhat, mask, dtype_of<T>(), rows, channels, scale, mean_dy,
                                             mean_dy_xhat);
    else input_grad_ref(dx, dy, xhat, mask, rows, channels, scale, mean_dy, mean_dy_xhat);
  }
};

// y = xhat * weight + bias with xhat = (x - mean) * invstd, per element; xhat is stored too.
template <class T, class Acc>
void normalize(T* y, T* xhat, const T* x, const Acc* mean, const Acc* invstd, const T* weight, const T* bias,
               int64_t rows, int64_t channels, bool relu) {
  const std::vector<Acc> w = widened(weight, channels), b = widened(bias, channels);
  Passes<T>::normalize(y, xhat, x, rows, channels, mean, invstd, w.data(), b.data(), relu);
}

template <class T, class S>
void forward_training(T* y, T* xhat, T* mean_out, T* invstd_out, S* running_mean, S* running_var, const T* x,
                      const T* weight, const T* bias, int64_t rows, int64_t channels, double eps, double momentum,
                      bool relu, ReplicaSum* replicas) {
  using Acc = compute_t<T>;
  const size_t cn = static_cast<size_t>(channels);
  // Pass 1 sums x - x[0] (shifted data): the mean's rounding error then scales with the spread
  // of the values, not their magnitude (at mean 1000, std 1 the shifted terms are O(1)).
  const std::vector<Acc> shift = widened(x, channels);  // row 0
  const auto sum = Passes<T>::column_sums(BatchnormSum::shifted, x, nullptr, nullptr, rows, channels, shift.data())[0];
  std::vector<Acc> mean(cn), invstd(cn);
  for (size_t c = 0; c < cn; ++c) mean[c] = shift[c] + sum[c] / Acc(rows);
  Acc total_rows = Acc(rows);
  if (replicas != nullptr) {
    // Every replica's rows * mean, and its row count last (exact below 2^24 rows in binary32).
    std::vector<Acc> totals(cn + 1);
    for (size_t c = 0; c < cn; ++c) totals[c] = mean[c] * Acc(rows);
    totals[cn] = Acc(rows);
    replicas->sum(totals.data(), channels + 1);
    total_rows = totals[cn];
    for (size_t c = 0; c < cn; ++c) mean[c] = totals[c] / total_rows;
  }
  // Pass 2: the biased variance as the mean of squared deviations from that mean.
  auto squares =
      Passes<T>::column_sums(BatchnormSum::squared_deviation, x, nullptr, nullptr, rows, channels, mean.data())[0];
  if (replicas != nullptr) replicas->sum(squares.data(), channels);
  const Acc m = Acc(momentum);
  for (int64_t c = 0; c < channels; ++c) {
    const size_t k = size_t(c);
    const Acc var = squares[k] / total_rows;
    invstd[k] = Acc(1) / std::sqrt(var + Acc(eps));
    mean_out[c] = store_value<T>(mean[k]);
    invstd_out[c] = store_value<T>(invstd[k]);
    // PyTorch's running estimate uses the unbiased variance.
    const Acc unbiased = squares[k] / (total_rows - Acc(1));
    running_mean[c] = store_value<S>((Acc(1) - m) * Acc(load_value(running_mean[c])) + m * mean[k]);
    running_var[c] = store_value<S>((Acc(1) - m) * Acc(load_value(running_var[c])) + m * unbiased);
  }
  normalize(y, xhat, x, mean.data(), invstd.data(), weight, bias, rows, channels, relu);
}

template <class T, class S>
void forward_inference(T* y, T* xhat, T* invstd_out, const T* x, const S* running_mean, const S* running_var,
                       const T* weight, const T* bias, int64_t rows, int64_t channels, double eps, bool relu) {
  using Acc = compute_t<T>;
  std::vector<Acc> mean(static_cast<size_t>(channels)), invstd(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) {
    mean[size_t(c)] = Acc(load_value(running_mean[c]));
    invstd[size_t(c)] = Acc(1) / std::sqrt(Acc(load_value(running_var[c])) + Acc(eps));
    invstd_out[c] = store_value<T>(invstd[size_t(c)]);
  }
  normalize(y, xhat, x, mean.data(), invstd.data(), weight, bias, rows, channels, relu);
}

template <class T>
void backward(T* dx, T* dweight, T* dbias, const T* dy, const T* xhat, const T* invstd, const T* weight, int64_t rows,
              int64_t channels, bool batch_statistics, const T* relu_output, ReplicaSum* replicas) {
  using Acc = compute_t<T>;
  auto [sum_dy, sum_dy_xhat] =
      Passes<T>::column_sums(BatchnormSum::gradient, dy, xhat, relu_output, rows, channels, nullptr);
  for (int64_t c = 0; c < channels; ++c) {
    dweight[c] = store_value<T>(load_value(dweight[c]) + sum_dy_xhat[size_t(c)]);
    dbias[c] = store_value<T>(load_value(dbias[c]) + sum_dy[size_t(c)]);
  }
  if (dx == nullptr) return;
  const size_t cn = static_cast<size_t>(channels);
  Acc total_rows = Acc(rows);
  if (batch_statistics && replicas != nullptr) {
    std::vector<Acc> sums(2 * cn + 1);
    std::copy(sum_dy.begin(), sum_dy.end(), sums.begin());
    std::copy(sum_dy_xhat.begin(), sum_dy_xhat.end(), sums.begin() + channels);
    sums[2 * cn] = Acc(rows);
    replicas->sum(sums.data(), 2 * channels + 1);
    std::copy(sums.begin(), sums.begin() + channels, sum_dy.begin());
    std::copy(sums.begin() + channels, sums.begin() + 2 * channels, sum_dy_xhat.begin());
    total_rows = sums[2 * cn];
  }
  std::vector<Acc> scale(cn), mean_dy(cn, Acc(0)), mean_dy_xhat(cn, Acc(0));
  for (int64_t c = 0; c < channels; ++c) {
    const size_t k = size_t(c);
    scale[k] = load_value(weight[c]) * load_value(invstd[c]);
    if (batch_statistics) {
      mean_dy[k] = sum_dy[k] / total_rows;
      mean_dy_xhat[k] = sum_dy_xhat[k] / total_rows;
    }
  }
  Passes<T>::input_grad(dx, dy, xhat, relu_output, rows, channels, scale.data(), mean_dy.data(), mean_dy_xhat.data());
}

}  // namespace

void batchnorm_forward_training(void* y, void* xhat, void* mean, void* invstd, void* running_mean, void* running_var,
                                const void* x, const void* weight, const void* bias, DType dtype,
                                DType statistics_dtype, int64_t rows, int64_t channels, double eps, double momentum,
                                bool relu, ReplicaSum* replicas) {
  check("batchnorm_forward_training", rows, channels, 2);
  dispatch(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    dispatch(statistics_dtype, [&](auto statistics_tag) {
      using S = typename decltype(statistics_tag)::type;
      forward_training(static_cast<T*>(y), static_cast<T*>(xhat), static_cast<T*>(mean), static_cast<T*>(invstd),
                       static_cast<S*>(running_mean), static_cast<S*>(running_var), static_cast<const T*>(x),
                       static_cast<const T*>(weight), static_cast<const T*>(bias), rows, channels, eps, momentum, relu,
                       replicas);
    });
  });
}

void batchnorm_forward_inference(void* y, void* xhat, void* invstd, const void* x, const void* running_mean,
                                 const void* running_var, const void* weight, const void* bias, DType dtype,
                                 DType statistics_dtype, int64_t rows, int64_t channels, double eps, bool relu) {
  check("batchnorm_forward_inference", rows, channels, 0);
  dispatch(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    dispatch(statistics_dtype, [&](auto statistics_tag) {
      using S = typename decltype(statistics_tag)::type;
      forward_inference(static_cast<T*>(y), static_cast<T*>(xhat), static_cast<T*>(invstd), static_cast<const T*>(x),
                        static_cast<const S*>(running_mean), static_cast<const S*>(running_var),
                        static_cast<const T*>(weight), static_cast<const T*>(bias), rows, channels, eps, relu);
    });
  });
}

void batchnorm_backward(void* dx, void* dweight, void* dbias, const void* dy, const void* xhat, const void* invstd,
                        const void* weight, DType dtype, int64_t rows, int64_t channels, bool batch_statistics,
                        const void* relu_output, ReplicaSum* replicas) {
  check("batchnorm_backward", rows, channels, 0);
  dispatch(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    backward(static_cast<T*>(dx), static_cast<T*>(dweight), static_cast<T*>(dbias), static_cast<const T*>(dy),
             static_cast<const T*>(xhat), static_cast<const T*>(invstd), static_cast<const T*>(weight), rows, channels,
             batch_statistics, static_cast<const T*>(relu_output), replicas);
  });
}

void register_batchnorm_scalar(KernelTable& table) {
  table.batchnorm_sums.set(sums_table_ref, Isa::scalar);
  table.batchnorm_normalize.set(normalize_table_ref, Isa::scalar);
  table.batchnorm_input_grad.set(input_grad_table_ref, Isa::scalar);
}

}  // namespace pure16::kernels
