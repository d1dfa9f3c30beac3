// The dispatch table: one function pointer per op (and per GEMM dtype/accumulation), filled
// once at start-up. Selection starts from the scalar reference and lets each ISA level up to
// the active one overwrite the entries it implements, so the best available variant wins and
// an op a level does not implement keeps the one below it.
#pragma once

#include <array>
#include <cstdint>

#include "kernels/batchnorm_passes.h"
#include "pure16/kernels/adam_update.h"
#include "pure16/kernels/elementwise.h"
#include "pure16/kernels/gemm.h"
#include "pure16/kernels/isa.h"
#include "pure16/kernels/sgd_update.h"

namespace pure16::kernels {

enum class GemmKind { f32, f16_acc_f32, f16_acc_f16, f16_acc_f16_block, bf16_acc_f32, f64, count };

using GemmFn = void (*)(const GemmArgs&);
using ConvertFn = void (*)(void*, DType, const void*, DType, int64_t);
using ConvertStochasticFn = void (*)(void*, DType, const float*, int64_t, uint64_t, uint64_t, uint64_t);
using AddFn = void (*)(void*, const void*, const void*, DType, int64_t);
using AddBiasFn = void (*)(void*, const void*, DType, int64_t, int64_t, bool);
using ReluForwardFn = void (*)(void*, const void*, DType, int64_t);
using ReluBackwardFn = void (*)(void*, const void*, const void*, DType, int64_t);
using SumRowsFn = void (*)(void*, const void*, DType, int64_t, int64_t, float);
using DropoutFn = void (*)(void*, const void*, DType, int64_t, float, uint64_t, uint64_t);
using CountNonFiniteFn = int64_t (*)(const void*, DType, int64_t);
using SoftmaxXentFn = SoftmaxXentResult (*)(void*, const void*, const int32_t*, DType, int64_t, int64_t, float);
using SgdUpdateFn = void (*)(const SgdUpdateArgs&);
using AdamUpdateFn = void (*)(const AdamUpdateArgs&);

template <class Fn>
struct Entry {
  Fn fn = nullptr;
  Isa isa = Isa::scalar;
  void set(Fn f, Isa level) {
    fn = f;
    isa = level;
  }
};

struct KernelTable {
  std::array<Entry<GemmFn>, size_t(GemmKind::count)> gemm;
  Entry<ConvertFn> convert;
  Entry<ConvertStochasticFn> convert_stochastic;
  Entry<AddFn> add;
  Entry<AddBiasFn> add_bias;
  Entry<ReluForwardFn> relu_forward;
  Entry<ReluBackwardFn> relu_backward;
  Entry<SumRowsFn> sum_rows;
  Entry<DropoutFn> dropout;
  Entry<CountNonFiniteFn> count_nonfinite;
  Entry<SoftmaxXentFn> softmax_cross_entropy;
  Entry<SgdUpdateFn> sgd_update;
  Entry<AdamUpdateFn> adam_update;
  Entry<BatchnormSumsFn> batchnorm_sums;
  Entry<BatchnormNormalizeFn> batchnorm_normalize;
  Entry<BatchnormInputGradFn> batchnorm_input_grad;
};

/// The table for the active ISA level.
const KernelTable& kernel_table();

// Each ISA level's translation units fill the entries they implement. A variant's code may
// use its level's instructions; these registration functions only store pointers.
void register_gemm_scalar(KernelTable& table);
void register_gemm_avx2(KernelTable& table);
void register_gemm_avx512(KernelTable& table);
void register_gemm_avx512bf16(KernelTable& table);
void register_gemm_avx512fp16(KernelTable& table);
void register_elementwise_scalar(KernelTable& table);
void register_elementwise_avx2(KernelTable& table);
void register_elementwise_avx512(KernelTable& table);
void register_elementwise_avx512bf16(KernelTable& table);
void register_elementwise_avx512fp16(KernelTable& table);

}  // namespace pure16::kernels
