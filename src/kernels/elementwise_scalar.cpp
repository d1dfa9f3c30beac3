// Scalar references for the element-wise ops: one plain loop each, in the element order the
// header documents. Vectorized variants must match these within the bounds in the tests.
#include <bit>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "kernels/elementwise_reference.h"
#include "kernels/kernel_table.h"
#include "pure16/numerics/philox.h"

namespace pure16::kernels {
namespace {

// A converted NaN is quiet, as IEEE 754 convertFormat delivers it (and fp16/bf16 rounding
// does). Explicit for float and double, because an optimizing compiler may fold the
// round trip through double away, and the quieting with it.
template <class D>
D quiet_nan(D v) {
  if constexpr (std::is_same_v<D, float>) {
    if (std::isnan(v)) return std::bit_cast<float>(std::bit_cast<uint32_t>(v) | 0x00400000u);
  } else if constexpr (std::is_same_v<D, double>) {
    if (std::isnan(v)) return std::bit_cast<double>(std::bit_cast<uint64_t>(v) | (uint64_t(1) << 51));
  }
  return v;
}
}  // namespace

void convert_ref(void* dst, DType dst_type, const void* src, DType src_type, int64_t n) {
  dispatch(src_type, [&](auto src_tag) {
    using S = typename decltype(src_tag)::type;
    dispatch(dst_type, [&](auto dst_tag) {
      using D = typename decltype(dst_tag)::type;
      const S* in = static_cast<const S*>(src);
      D* out = static_cast<D*>(dst);
#pragma omp parallel for schedule(static) if (n > kParallelThreshold)
      for (int64_t i = 0; i < n; ++i) out[i] = quiet_nan(from_double<D>(as_double(in[i])));  // one rounding
    });
  });
}

void convert_stochastic_ref(void* dst, DType dst_type, const float* src, int64_t n, uint64_t seed, uint64_t stream,
                            uint64_t first_index) {
  switch (dst_type) {
    case DType::f32: std::copy(src, src + n, static_cast<float*>(dst)); return;
    case DType::f16: {
      fp16* out = static_cast<fp16*>(dst);
#pragma omp parallel for schedule(static) if (n > kParallelThreshold)
      for (int64_t i = 0; i < n; ++i)
        out[i] = to_fp16_stochastic(src[i], Philox4x32::word(seed, stream, first_index + uint64_t(i)));
      return;
    }
    case DType::bf16: {
      bf16* out = static_cast<bf16*>(dst);
#pragma omp parallel for schedule(static) if (n > kParallelThreshold)
      for (int64_t i = 0; i < n; ++i)
        out[i] = to_bf16_stochastic(src[i], Philox4x32::word(seed, stream, first_index + uint64_t(i)));
      return;
    }
    case DType::f64: break;
  }
  throw std::invalid_argument("convert_stochastic: target must be f32, f16 or bf16");
}

void add_bias_ref(void* y, const void* bias, DType dtype, int64_t rows, int64_t cols, bool relu) {
  dispatch(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    T* out = static_cast<T*>(y);
    const T* b = static_cast<const T*>(bias);
#pragma omp parallel for schedule(static) if (rows * cols > kParallelThreshold)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        const C v = load_value(out[r * cols + c]) + load_value(b[c]);
        out[r * cols + c] = store_value<T>(relu && !(v > C(0)) ? C(0) : v);  // rounding keeps the sign
      }
  });
}

void add_ref(void* out, const void* a, const void* b, DType dtype, int64_t n) {
  dispatch(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* o = static_cast<T*>(out);
    const T* pa = static_cast<const T*>(a);
    const T* pb = static_cast<const T*>(b);
#pragma omp parallel for schedule(static) if (n > kParallelThreshold)
    for (int64_t i = 0; i < n; ++i) o[i] = store_value<T>(load_value(pa[i]) + load_value(pb[i]));
  });
}

void relu_forward_ref(void* y, const void* x, DType dtype, int64_t n) {
  dispatch(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* out = static_cast<T*>(y);
    const T* in = static_cast<const T*>(x);
#pragma omp parallel for schedule(static) if (n > kParallelThreshold)
    for (int64_t i = 0; i < n; ++i) out[i] = load_value(in[i]) > 0 ? in[i] : T{};  // NaN maps to 0, as max(x, 0)
  });
}

void relu_backward_ref(void* dx, const void* dy, const void* y, DType dtype, int64_t n) {
  dispatch(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* out = static_cast<T*>(dx);
    const T* grad = static_cast<const T*>(dy);
    const T* act = static_cast<const T*>(y);
#pragma omp parallel for schedule(static) if (n > kParallelThreshold)
    for (int64_t i = 0; i < n; ++i) out[i] = load_value(act[i]) > 0 ? grad[i] : T{};
  });
}

void sum_rows_ref(void* out, const void* x, DType dtype, int64_t rows, int64_t cols, float beta) {
  dispatch(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    T* o = static_cast<T*>(out);
    const T* in = static_cast<const T*>(x);
#pragma omp parallel for schedule(static) if (rows * cols > kParallelThreshold)
    for (int64_t c = 0; c < cols; ++c) {
      C sum = 0;
      for (int64_t r = 0; r < rows; ++r) sum += load_value(in[r * cols + c]);
      if (beta != 0.0f) sum += C(beta) * load_value(o[c]);
      o[c] = store_value<T>(sum);
    }
  });
}

void dropout_ref(void* y, const void* x, DType dtype, int64_t n, float p, uint64_t seed, uint64_t stream) {
  dispatch(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    T* out = static_cast<T*>(y);
    const T* in = static_cast<const T*>(x);
    const C keep_scale = C(1) / (C(1) - C(p));
#pragma omp parallel for schedule(static) if (n > kParallelThreshold)
    for (int64_t i = 0; i < n; ++i) {
      const bool keep = uniform_float(Philox4x32::word(seed, stream, uint64_t(i))) >= p;
      out[i] = keep ? store_value<T>(load_value(in[i]) * keep_scale) : T{};
    }
  });
}

int64_t count_nonfinite_ref(const void* x, DType dtype, int64_t n) {
  return dispatch(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* in = static_cast<const T*>(x);
    int64_t count = 0;
#pragma omp parallel for schedule(static) reduction(+ : count) if (n > kParallelThreshold)
    for (int64_t i = 0; i < n; ++i) count += std::isfinite(as_double(in[i])) ? 0 : 1;
    return count;
  });
}

SoftmaxXentResult softmax_cross_entropy_ref(void* dlogits, const void* logits, const int32_t* labels, DType dtype,
                                            int64_t batch, int64_t classes, float grad_scale) {
  return dispatch(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    const T* z = static_cast<const T*>(logits);
    T* dz = static_cast<T*>(dlogits);
    double loss_sum = 0;
    int64_t correct = 0;
#pragma omp parallel for schedule(static) reduction(+ : loss_sum, correct) if (batch * classes > kParallelThreshold)
    for (int64_t r = 0; r < batch; ++r) {
      const T* row = z + r * classes;
      C max = -std::numeric_limits<C>::infinity();
      int64_t arg_max = 0;
      for (int64_t c = 0; c < classes; ++c) {
        const C v = load_value(row[c]);
        if (v > max) {
          max = v;
          arg_max = c;
        }
      }
      C denom = 0;
      for (int64_t c = 0; c < classes; ++c) denom += std::exp(load_value(row[c]) - max);
      const C log_denom = std::log(denom);
      loss_sum += double(log_denom - (load_value(row[labels[r]]) - max));
      correct += arg_max == labels[r] ? 1 : 0;
      if (dz != nullptr) {
        for (int64_t c = 0; c < classes; ++c) {
          const C softmax = std::exp(load_value(row[c]) - max - log_denom);
          const C target = c == labels[r] ? C(1) : C(0);
          dz[r * classes + c] = store_value<T>(C(grad_scale) * (softmax - target));
        }
      }
    }
    return SoftmaxXentResult{loss_sum, correct};
  });
}

void register_elementwise_scalar(KernelTable& table) {
  table.convert.set(convert_ref, Isa::scalar);
  table.convert_stochastic.set(convert_stochastic_ref, Isa::scalar);
  table.add.set(add_ref, Isa::scalar);
  table.add_bias.set(add_bias_ref, Isa::scalar);
  table.relu_forward.set(relu_forward_ref, Isa::scalar);
  table.relu_backward.set(relu_backward_ref, Isa::scalar);
  table.sum_rows.set(sum_rows_ref, Isa::scalar);
  table.dropout.set(dropout_ref, Isa::scalar);
  table.count_nonfinite.set(count_nonfinite_ref, Isa::scalar);
  table.softmax_cross_entropy.set(softmax_cross_entropy_ref, Isa::scalar);
  table.sgd_update.set(sgd_update_ref, Isa::scalar);
  table.adam_update.set(adam_update_ref, Isa::scalar);
  register_batchnorm_scalar(table);
}

}  // namespace pure16::kernels
