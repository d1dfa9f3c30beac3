// General matrix multiply, C = alpha * op(A) * op(B) + beta * C, row-major.
//
// A, B and C share one dtype. What the products are summed in is the caller's explicit
// choice (Accumulation), never implied by the dtype:
//   f32, Accumulation::f32   binary32 throughout
//   f16, Accumulation::f32   fp16 inputs, products summed in binary32, C rounded to fp16 once
//   f16, Accumulation::f16   every partial sum rounded to fp16 (what native fp16 FMA does)
//   f16, Accumulation::f16_block
//                            K is cut into blocks of kF16AccumulationBlock from p = 0; within a
//                            block every partial sum is rounded to fp16 (native fp16 FMAs, at
//                            twice the binary32 rate), and the blocks' sums are added in order
//                            to a binary32 total, which C receives rounded once
//   bf16, Accumulation::f32  bf16 inputs, binary32 sums, C rounded to bf16 once
//   f64, Accumulation::f32   binary64 (the reference; scalar only; the flag is ignored)
//   any, Accumulation::automatic
//                            the fastest of the above for the dtype on the active ISA level: f16_block
//                            for f16 where fp16 FMAs are native (avx512fp16), f32 everywhere else
//                            (resolve_accumulation says which)
// Error bound, for the tests: |C - C_exact| <= gamma_n * |alpha| * (|op(A)| |op(B)|) + rounding of
// C, with gamma_n = n u / (1 - n u), n = K (+1 for beta) and u the accumulator's unit roundoff;
// for f16_block, gamma_b(2^-11) + (1 + gamma_b(2^-11)) gamma_{K/b + 2}(2^-24), b the block length.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pure16/tensor/tensor.h"

namespace pure16::kernels {

enum class Accumulation : uint8_t { f32, f16, f16_block, automatic };
inline constexpr int64_t kF16AccumulationBlock = 64;
std::string_view accumulation_name(Accumulation acc);  // "f32", "f16", "f16-block", "auto"
/// Every accumulation's name, `auto` included: what the CLI accepts for training.
std::vector<std::string> accumulation_names();
/// The inverse of accumulation_name; throws std::invalid_argument listing the names.
Accumulation parse_accumulation(std::string_view name);
/// What `acc` runs as for `dtype` on the active ISA level: `automatic` becomes f16_block for f16
/// data where the CPU multiplies fp16 natively (AVX512-FP16), and f32 otherwise; the others are
/// returned as they are.
Accumulation resolve_accumulation(DType dtype, Accumulation acc);
/// Whether (dtype, acc) runs at the machine's full rate for its data: false for the f16
/// accumulations without native fp16 FMAs, which then emulate every fp16 rounding (or run the
/// scalar reference), several times slower than f32 accumulation of the same data.
bool accumulation_is_native(DType dtype, Accumulation acc);

/// Every (dtype, accumulation) pair the GEMM implements, but the f64 reference: what `info` and
/// the benchmarks list.
const std::vector<std::pair<DType, Accumulation>>& gemm_kinds();

/// A piece of a row of an operand read through a RowSource: `count` elements stored
/// consecutively at `src` (in the GEMM's dtype), or `count` zeros when src is null.
struct RowRun {
  const void* src = nullptr;
  int64_t count = 0;
};

/// An operand that is not stored but produced on demand: the patch matrix of an implicit-GEMM
/// convolution. A row is a sequence of runs of stored elements and zeros, and the blocked kernels
/// pack straight from those runs one cache block at a time, so neither the whole matrix nor a
/// copy of a block is ever written.
struct RowSource {
  /// For each row of [row, row + rows) in turn, appends to `runs` the runs that make up its
  /// elements [col, col + count), in order, and sets row_ends[i] to the number of runs written so
  /// far. `runs` has room for rows * max_runs.
  void (*runs)(const void* context, int64_t row, int64_t rows, int64_t col, int64_t count, RowRun* runs,
               int64_t* row_ends) = nullptr;
  const void* context = nullptr;
  int64_t max_runs = 1;  // the most runs any row (any column range of it) takes
};

/// Writes elements [col, col + count) of rows [row, row + rows) of `source` densely to dst, row i
/// at dst + i * ld elements of elem_size bytes.
void read_rows(const RowSource& source, int64_t row, int64_t rows, int64_t col, int64_t count, size_t elem_size,
               void* dst, int64_t ld);

struct GemmArgs {
  bool trans_a = false;  // op(A) = A^T: A is stored (K, M)
  bool trans_b = false;  // op(B) = B^T: B is stored (N, K)
  int64_t m = 0, n = 0, k = 0;
  const void* a = nullptr;  // (M, K) or (K, M), leading dimension lda
  int64_t lda = 0;
  const void* b = nullptr;  // (K, N) or (N, K), leading dimension ldb
  int64_t ldb = 0;
  void* c = nullptr;  // (M, N), leading dimension ldc
  int64_t ldc = 0;
  float alpha = 1.0f;
  float beta = 0.0f;  // beta == 0 ignores C's old contents, even NaN
  // When set, A (stored (M, K); trans_a must be false) or B (stored (K, N); trans_b false) is
  // read through the source instead of from a / b.
  const RowSource* a_rows = nullptr;
  const RowSource* b_rows = nullptr;
};

/// Runs the active variant for (dtype, resolve_accumulation(dtype, acc)). Throws
/// std::invalid_argument for combinations
/// that do not exist (f16 accumulation of f32 or bf16 inputs).
void gemm(DType dtype, Accumulation acc, const GemmArgs& args);

/// Tensor form: checks dtypes, ranks, shapes and contiguity of the last dimension.
void gemm(Tensor& c, const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, float alpha, float beta,
          Accumulation acc);

/// The ISA level whose variant gemm() currently runs for (dtype, acc), `automatic` resolved.
std::string_view gemm_variant(DType dtype, Accumulation acc);

}  // namespace pure16::kernels
