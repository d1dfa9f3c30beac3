// The vector variants of batch normalization's passes (batchnorm_passes.h), written once over a
// SIMD wrapper S like the element-wise ops (elementwise_body.h). Channels are the lanes, values
// are loaded from fp16/bf16/f32 straight into binary32 lanes, and each lane does the
// reference's operations in its order (no fused multiply-adds), so the results are the
// reference's bits. Blocks of rows (sums) and rows (the maps) are split
// over threads as the reference splits them. Include only from ISA translation units.
#pragma once

#include <algorithm>
#include <type_traits>

#include "kernels/batchnorm_passes.h"
#include "kernels/elementwise_body.h"

namespace pure16::kernels::simd {
namespace {

// dy where the fused ReLU's output is positive, else 0 (NaN fails the comparison).
template <class S>
typename S::F masked(typename S::F dy, typename S::F relu_output) {
  return S::select(S::gt(relu_output, S::zero()), dy, S::zero());
}

// A column sum keeps its partials in registers over a chunk of rows: a group of kGroupVectors
// vectors of channels is loaded from the block's partials, takes the chunk's rows in order and
// is stored back (a float stored and reloaded is the same float, so each lane still adds its
// rows one by one from 0, as the reference). Summing straight into memory instead puts a
// store-to-load round trip on every row, 2-3x slower than reading the data. A chunk is a
// contiguous run of whole rows small enough to stay in L1 while its groups take turns, so the
// sources still stream through memory in order. Groups of 8 vectors fill half of AVX-512's 32
// registers with the gradient's two sums (wider groups read longer runs of each row); AVX2's 16
// registers take 4.
template <class S>
constexpr int kGroupVectors = S::lanes >= 16 ? 8 : 4;
constexpr int64_t kChunkElements = 4096;  // per source: 8 KiB of fp16 (24 KiB for three sources)

// part[s * channels + c + u * lanes] (s < sums, u < U) += the terms of rows [r0, r1) of the U
// vectors of channels from c, each of `count` lanes.
template <class S, int U, class T, class Count>
void group_sums(BatchnormSum kind, float* part, const T* a, const T* b, const T* mask, int64_t r0, int64_t r1,
                int64_t channels, const float* center, int64_t c, Count count) {
  using F = typename S::F;
  constexpr int64_t L = S::lanes;
  F acc[U], acc2[U], ctr[U];
  for (int u = 0; u < U; ++u) acc[u] = S::load(part + c + u * L, count);
  switch (kind) {
    case BatchnormSum::shifted:
      for (int u = 0; u < U; ++u) ctr[u] = S::load(center + c + u * L, count);
      for (int64_t r = r0; r < r1; ++r) {
        const T* ra = a + r * channels + c;
        for (int u = 0; u < U; ++u) acc[u] = S::add(acc[u], S::sub(S::load(ra + u * L, count), ctr[u]));
      }
      break;
    case BatchnormSum::squared_deviation:
      for (int u = 0; u < U; ++u) ctr[u] = S::load(center + c + u * L, count);
      for (int64_t r = r0; r < r1; ++r) {
        const T* ra = a + r * channels + c;
        for (int u = 0; u < U; ++u) {
          const F d = S::sub(S::load(ra + u * L, count), ctr[u]);
          acc[u] = S::add(acc[u], S::mul(d, d));
        }
      }
      break;
    case BatchnormSum::gradient: {
      for (int u = 0; u < U; ++u) acc2[u] = S::load(part + channels + c + u * L, count);
      const auto run = [&](auto with_mask) {
        for (int64_t r = r0; r < r1; ++r) {
          const int64_t at = r * channels + c;
          for (int u = 0; u < U; ++u) {
            F dy = S::load(a + at + u * L, count);
            if constexpr (decltype(with_mask)::value) dy = masked<S>(dy, S::load(mask + at + u * L, count));
            acc[u] = S::add(acc[u], dy);
            acc2[u] = S::add(acc2[u], S::mul(dy, S::load(b + at + u * L, count)));
          }
        }
      };
      if (mask != nullptr) run(std::true_type{});
      else run(std::false_type{});
      for (int u = 0; u < U; ++u) S::store(part + channels + c + u * L, acc2[u], count);
      break;
    }
  }
  for (int u = 0; u < U; ++u) S::store(part + c + u * L, acc[u], count);
}

template <class S>
void batchnorm_sums(BatchnormSum kind, float* partial, const void* a, const void* b, const void* mask, DType dtype,
                    int64_t rows, int64_t channels, const float* center) {
  dispatch_vector(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* pa = static_cast<const T*>(a);
    const T* pb = static_cast<const T*>(b);
    const T* pm = static_cast<const T*>(mask);
    const int64_t sums = batchnorm_sum_count(kind), blocks = (rows + kBatchnormBlockRows - 1) / kBatchnormBlockRows;
    const int64_t chunk = std::clamp<int64_t>(kChunkElements / channels, 1, kBatchnormBlockRows);
    constexpr int64_t group = kGroupVectors<S> * S::lanes;
#pragma omp parallel for schedule(static) if (rows * channels > kBatchnormParallelThreshold)
    for (int64_t blk = 0; blk < blocks; ++blk) {
      float* part = partial + blk * sums * channels;
      std::fill(part, part + sums * channels, 0.0f);
      const int64_t end = std::min(rows, (blk + 1) * kBatchnormBlockRows);
      for (int64_t r0 = blk * kBatchnormBlockRows; r0 < end; r0 += chunk) {
        const int64_t r1 = std::min(end, r0 + chunk);
        int64_t c = 0;
        for (; c + group <= channels; c += group)
          group_sums<S, kGroupVectors<S>>(kind, part, pa, pb, pm, r0, r1, channels, center, c, Full{});
        if constexpr (kGroupVectors<S> > 4)
          for (; c + 4 * S::lanes <= channels; c += 4 * S::lanes)
            group_sums<S, 4>(kind, part, pa, pb, pm, r0, r1, channels, center, c, Full{});
        for (; c + S::lanes <= channels; c += S::lanes)
          group_sums<S, 1>(kind, part, pa, pb, pm, r0, r1, channels, center, c, Full{});
        if (c < channels)
          group_sums<S, 1>(kind, part, pa, pb, pm, r0, r1, channels, center, c, Partial{int(channels - c)});
      }
    }
  });
}

// The maps below sweep one row at a time through functions that take their pointers by value:
// reached through the OpenMP region's shared variables instead, every pointer was reloaded
// after each store (the stores might alias them), a third of the loop's instructions.

// One row of batchnorm_normalize.
template <class S, bool kRelu, class T>
void normalize_row(T* y, T* xhat, const T* x, int64_t channels, const float* mean, const float* invstd,
                   const float* weight, const float* bias) {
  sweep<S>(0, channels, [&](int64_t c, auto count) {
    const auto h = S::mul(S::sub(S::load(x + c, count), S::load(mean + c, count)), S::load(invstd + c, count));
    S::store(xhat + c, h, count);
    const auto v = S::add(S::mul(h, S::load(weight + c, count)), S::load(bias + c, count));
    S::store(y + c, kRelu ? S::select(S::gt(v, S::zero()), v, S::zero()) : v, count);
  });
}

template <class S>
void batchnorm_normalize(void* y, void* xhat, const void* x, DType dtype, int64_t rows, int64_t channels,
                         const float* mean, const float* invstd, const float* weight, const float* bias, bool relu) {
  dispatch_vector(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* py = static_cast<T*>(y);
    T* ph = static_cast<T*>(xhat);
    const T* px = static_cast<const T*>(x);
#pragma omp parallel for schedule(static) if (rows * channels > kBatchnormParallelThreshold)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t at = r * channels;
      if (relu) normalize_row<S, true>(py + at, ph + at, px + at, channels, mean, invstd, weight, bias);
      else normalize_row<S, false>(py + at, ph + at, px + at, channels, mean, invstd, weight, bias);
    }
  });
}

// One row of batchnorm_input_grad.
template <class S, bool kMasked, class T>
void input_grad_row(T* dx, const T* dy, const T* xhat, const T* mask, int64_t channels, const float* scale,
                    const float* mean_dy, const float* mean_dy_xhat) {
  sweep<S>(0, channels, [&](int64_t c, auto count) {
    auto g = S::load(dy + c, count);
    if constexpr (kMasked) g = masked<S>(g, S::load(mask + c, count));
    const auto centered = S::sub(g, S::load(mean_dy + c, count));
    const auto projection = S::mul(S::load(xhat + c, count), S::load(mean_dy_xhat + c, count));
    S::store(dx + c, S::mul(S::load(scale + c, count), S::sub(centered, projection)), count);
  });
}

template <class S>
void batchnorm_input_grad(void* dx, const void* dy, const void* xhat, const void* mask, DType dtype, int64_t rows,
                          int64_t channels, const float* scale, const float* mean_dy, const float* mean_dy_xhat) {
  dispatch_vector(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* pdx = static_cast<T*>(dx);
    const T* pdy = static_cast<const T*>(dy);
    const T* ph = static_cast<const T*>(xhat);
    const T* pm = static_cast<const T*>(mask);
#pragma omp parallel for schedule(static) if (rows * channels > kBatchnormParallelThreshold)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t at = r * channels;
      if (pm != nullptr)
        input_grad_row<S, true>(pdx + at, pdy + at, ph + at, pm + at, channels, scale, mean_dy, mean_dy_xhat);
      else input_grad_row<S, false>(pdx + at, pdy + at, ph + at, pm, channels, scale, mean_dy, mean_dy_xhat);
    }
  });
}

template <class S>
void register_vector_batchnorm(KernelTable& table, Isa isa) {
  table.batchnorm_sums.set(batchnorm_sums<S>, isa);
  table.batchnorm_normalize.set(batchnorm_normalize<S>, isa);
  table.batchnorm_input_grad.set(batchnorm_input_grad<S>, isa);
}

}  // namespace
}  // namespace pure16::kernels::simd
