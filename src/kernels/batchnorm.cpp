// Batch normalization kernels (see include/pure16/kernels/batchnorm.h). Per-channel sums run
// over fixed blocks of kBlockRows rows, each block summed in its own binary32 partials, then the
// blocks in order: the result is the same for any thread count, and the error of a sum of M
// terms is bounded by gamma_(kBlockRows + M / kBlockRows) instead of gamma_M.
#include "pure16/kernels/batchnorm.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "pure16/kernels/elementwise.h"

namespace pure16::kernels {
namespace {

constexpr int64_t kBlockRows = 256;
constexpr int64_t kParallelThreshold = 1 << 14;

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

// sums[s][c] = sum over rows r of what term(row, part) adds to part[s * C + c], with row[i] the
// binary32 (f64: binary64) values of row r of sources[i]; blocked as described at the top.
template <int S, class T, size_t I, class Term>
auto column_sums(int64_t rows, int64_t channels, const std::array<const T*, I>& sources, Term term) {
  using Acc = compute_t<T>;
  const int64_t blocks = (rows + kBlockRows - 1) / kBlockRows, tile = tile_rows(channels);
  std::vector<Acc> partial(static_cast<size_t>(blocks * S * channels), Acc(0));  // (blocks, S, C)
#pragma omp parallel if (rows * channels > kParallelThreshold)
  {
    std::vector<Acc> tiles(static_cast<size_t>(int64_t(I) * tile * channels));
#pragma omp for schedule(static)
    for (int64_t b = 0; b < blocks; ++b) {
      Acc* part = partial.data() + b * S * channels;
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
  std::array<std::vector<Acc>, S> sums;
  for (auto& v : sums) v.assign(static_cast<size_t>(channels), Acc(0));
  for (int64_t b = 0; b < blocks; ++b)
    for (int s = 0; s < S; ++s)
      for (int64_t c = 0; c < channels; ++c) sums[size_t(s)][size_t(c)] += partial[size_t((b * S + s) * channels + c)];
  return sums;
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

// y = xhat * weight + bias with xhat = (x - mean) * invstd, per element; xhat is stored too.
template <class T, class Acc>
void normalize(T* y, T* xhat, const T* x, const Acc* mean, const Acc* invstd, const T* weight, const T* bias,
               int64_t rows, int64_t channels) {
  const std::vector<Acc> w = widened(weight, channels), b = widened(bias, channels);
  map_rows<T, 1, 2>(rows, channels, {x}, {xhat, y}, [&](const auto& in, const auto& out) {
    for (int64_t c = 0; c < channels; ++c) {
      const Acc h = (in[0][c] - mean[c]) * invstd[c];
      out[0][c] = h;
      out[1][c] = h * w[size_t(c)] + b[size_t(c)];
    }
  });
}

template <class T>
void forward_training(T* y, T* xhat, T* mean_out, T* invstd_out, T* running_mean, T* running_var, const T* x,
                      const T* weight, const T* bias, int64_t rows, int64_t channels, double eps, double momentum) {
  using Acc = compute_t<T>;
  // Pass 1 sums x - x[0] (shifted data): the mean's rounding error then scales with the spread
  // of the values, not their magnitude (at mean 1000, std 1 the shifted terms are O(1)).
  const std::vector<Acc> shift = widened(x, channels);  // row 0
  const auto [sum] = column_sums<1, T, 1>(rows, channels, {x}, [&](const auto& row, Acc* part) {
    for (int64_t c = 0; c < channels; ++c) part[c] += row[0][c] - shift[size_t(c)];
  });
  std::vector<Acc> mean(static_cast<size_t>(channels)), invstd(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) mean[size_t(c)] = shift[size_t(c)] + sum[size_t(c)] / Acc(rows);
  // Pass 2: the biased variance as the mean of squared deviations from that mean.
  const auto [squares] = column_sums<1, T, 1>(rows, channels, {x}, [&](const auto& row, Acc* part) {
    for (int64_t c = 0; c < channels; ++c) {
      const Acc d = row[0][c] - mean[size_t(c)];
      part[c] += d * d;
    }
  });
  const Acc m = Acc(momentum);
  for (int64_t c = 0; c < channels; ++c) {
    const size_t k = size_t(c);
    const Acc var = squares[k] / Acc(rows);
    invstd[k] = Acc(1) / std::sqrt(var + Acc(eps));
    mean_out[c] = store_value<T>(mean[k]);
    invstd_out[c] = store_value<T>(invstd[k]);
    // PyTorch's running estimate uses the unbiased variance.
    const Acc unbiased = squares[k] / Acc(rows - 1);
    running_mean[c] = store_value<T>((Acc(1) - m) * load_value(running_mean[c]) + m * mean[k]);
    running_var[c] = store_value<T>((Acc(1) - m) * load_value(running_var[c]) + m * unbiased);
  }
  normalize(y, xhat, x, mean.data(), invstd.data(), weight, bias, rows, channels);
}

template <class T>
void forward_inference(T* y, T* xhat, T* invstd_out, const T* x, const T* running_mean, const T* running_var,
                       const T* weight, const T* bias, int64_t rows, int64_t channels, double eps) {
  using Acc = compute_t<T>;
  std::vector<Acc> mean(static_cast<size_t>(channels)), invstd(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) {
    mean[size_t(c)] = load_value(running_mean[c]);
    invstd[size_t(c)] = Acc(1) / std::sqrt(load_value(running_var[c]) + Acc(eps));
    invstd_out[c] = store_value<T>(invstd[size_t(c)]);
  }
  normalize(y, xhat, x, mean.data(), invstd.data(), weight, bias, rows, channels);
}

template <class T>
void backward(T* dx, T* dweight, T* dbias, const T* dy, const T* xhat, const T* invstd, const T* weight,
              int64_t rows, int64_t channels, bool batch_statistics) {
  using Acc = compute_t<T>;
  const auto [sum_dy, sum_dy_xhat] = column_sums<2, T, 2>(rows, channels, {dy, xhat}, [&](const auto& row, Acc* part) {
    for (int64_t c = 0; c < channels; ++c) {
      part[c] += row[0][c];
      part[channels + c] += row[0][c] * row[1][c];
    }
  });
  for (int64_t c = 0; c < channels; ++c) {
    dweight[c] = store_value<T>(load_value(dweight[c]) + sum_dy_xhat[size_t(c)]);
    dbias[c] = store_value<T>(load_value(dbias[c]) + sum_dy[size_t(c)]);
  }
  if (dx == nullptr) return;
  const size_t cn = static_cast<size_t>(channels);
  std::vector<Acc> scale(cn), mean_dy(cn, Acc(0)), mean_dy_xhat(cn, Acc(0));
  for (int64_t c = 0; c < channels; ++c) {
    const size_t k = size_t(c);
    scale[k] = load_value(weight[c]) * load_value(invstd[c]);
    if (batch_statistics) {
      mean_dy[k] = sum_dy[k] / Acc(rows);
      mean_dy_xhat[k] = sum_dy_xhat[k] / Acc(rows);
    }
  }
  map_rows<T, 2, 1>(rows, channels, {dy, xhat}, {dx}, [&](const auto& in, const auto& out) {
    for (int64_t c = 0; c < channels; ++c) {
      const size_t k = size_t(c);
      out[0][c] = scale[k] * (in[0][c] - mean_dy[k] - in[1][c] * mean_dy_xhat[k]);
    }
  });
}

}  // namespace

void batchnorm_forward_training(void* y, void* xhat, void* mean, void* invstd, void* running_mean,
                                void* running_var, const void* x, const void* weight, const void* bias,
                                DType dtype, int64_t rows, int64_t channels, double eps, double momentum) {
  check("batchnorm_forward_training", rows, channels, 2);
  dispatch(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    forward_training(static_cast<T*>(y), static_cast<T*>(xhat), static_cast<T*>(mean), static_cast<T*>(invstd),
                     static_cast<T*>(running_mean), static_cast<T*>(running_var), static_cast<const T*>(x),
                     static_cast<const T*>(weight), static_cast<const T*>(bias), rows, channels, eps, momentum);
  });
}

void batchnorm_forward_inference(void* y, void* xhat, void* invstd, const void* x, const void* running_mean,
                                 const void* running_var, const void* weight, const void* bias, DType dtype,
                                 int64_t rows, int64_t channels, double eps) {
  check("batchnorm_forward_inference", rows, channels, 0);
  dispatch(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    forward_inference(static_cast<T*>(y), static_cast<T*>(xhat), static_cast<T*>(invstd), static_cast<const T*>(x),
                      static_cast<const T*>(running_mean), static_cast<const T*>(running_var),
                      static_cast<const T*>(weight), static_cast<const T*>(bias), rows, channels, eps);
  });
}

void batchnorm_backward(void* dx, void* dweight, void* dbias, const void* dy, const void* xhat, const void* invstd,
                        const void* weight, DType dtype, int64_t rows, int64_t channels, bool batch_statistics) {
  check("batchnorm_backward", rows, channels, 0);
  dispatch(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    backward(static_cast<T*>(dx), static_cast<T*>(dweight), static_cast<T*>(dbias), static_cast<const T*>(dy),
             static_cast<const T*>(xhat), static_cast<const T*>(invstd), static_cast<const T*>(weight), rows,
             channels, batch_statistics);
  });
}

}  // namespace pure16::kernels
