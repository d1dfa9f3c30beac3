// The vector variants of batch normalization's passes (batchnorm_passes.h), written once over a
// SIMD wrapper S like the element-wise ops (elementwise_body.h). Channels are the lanes: each
// row is swept across its channels, values loaded from fp16/bf16/f32 straight into binary32
// lanes, and each lane does the reference's operations in its order (no fused multiply-adds),
// so the results are the reference's bits. Blocks of rows (sums) and rows (the maps) are split
// over threads as the reference splits them. Include only from ISA translation units.
#pragma once

#include <algorithm>

#include "kernels/batchnorm_passes.h"
#include "kernels/elementwise_body.h"

namespace pure16::kernels::simd {
namespace {

// dy where the fused ReLU's output (mask, when given) is positive, else 0.
template <class S, class T, class Count>
typename S::F masked(typename S::F dy, const T* mask, int64_t c, Count count) {
  if (mask == nullptr) return dy;
  return S::select(S::gt(S::load(mask + c, count), S::zero()), dy, S::zero());
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
#pragma omp parallel for schedule(static) if (rows * channels > kBatchnormParallelThreshold)
    for (int64_t blk = 0; blk < blocks; ++blk) {
      float* part = partial + blk * sums * channels;
      std::fill(part, part + sums * channels, 0.0f);
      const int64_t end = std::min(rows, (blk + 1) * kBatchnormBlockRows);
      for (int64_t r = blk * kBatchnormBlockRows; r < end; ++r) {
        const T* ra = pa + r * channels;
        switch (kind) {
          case BatchnormSum::shifted:
            sweep<S>(0, channels, [&](int64_t c, auto count) {
              const auto term = S::sub(S::load(ra + c, count), S::load(center + c, count));
              S::store(part + c, S::add(S::load(part + c, count), term), count);
            });
            break;
          case BatchnormSum::squared_deviation:
            sweep<S>(0, channels, [&](int64_t c, auto count) {
              const auto d = S::sub(S::load(ra + c, count), S::load(center + c, count));
              S::store(part + c, S::add(S::load(part + c, count), S::mul(d, d)), count);
            });
            break;
          case BatchnormSum::gradient: {
            const T* rb = pb + r * channels;
            const T* rm = pm != nullptr ? pm + r * channels : nullptr;
            sweep<S>(0, channels, [&](int64_t c, auto count) {
              const auto dy = masked<S>(S::load(ra + c, count), rm, c, count);
              S::store(part + c, S::add(S::load(part + c, count), dy), count);
              float* second = part + channels + c;
              S::store(second, S::add(S::load(second, count), S::mul(dy, S::load(rb + c, count))), count);
            });
            break;
          }
        }
      }
    }
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
      sweep<S>(0, channels, [&](int64_t c, auto count) {
        const auto h = S::mul(S::sub(S::load(px + at + c, count), S::load(mean + c, count)), S::load(invstd + c, count));
        S::store(ph + at + c, h, count);
        const auto v = S::add(S::mul(h, S::load(weight + c, count)), S::load(bias + c, count));
        S::store(py + at + c, relu ? S::select(S::gt(v, S::zero()), v, S::zero()) : v, count);
      });
    }
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
      const T* rm = pm != nullptr ? pm + at : nullptr;
      sweep<S>(0, channels, [&](int64_t c, auto count) {
        const auto g = masked<S>(S::load(pdy + at + c, count), rm, c, count);
        const auto centered = S::sub(g, S::load(mean_dy + c, count));
        const auto projection = S::mul(S::load(ph + at + c, count), S::load(mean_dy_xhat + c, count));
        S::store(pdx + at + c, S::mul(S::load(scale + c, count), S::sub(centered, projection)), count);
      });
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
