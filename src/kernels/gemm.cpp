#include "pure16/kernels/gemm.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/kernel_table.h"

namespace pure16::kernels {
namespace {

GemmKind gemm_kind(DType dtype, Accumulation requested) {
  const Accumulation acc = resolve_accumulation(dtype, requested);
  switch (dtype) {
    case DType::f32:
      if (acc == Accumulation::f32) return GemmKind::f32;
      break;
    case DType::f16:
      switch (acc) {
        case Accumulation::f32: return GemmKind::f16_acc_f32;
        case Accumulation::f16: return GemmKind::f16_acc_f16;
        case Accumulation::f16_block: return GemmKind::f16_acc_f16_block;
        case Accumulation::automatic: break;  // resolved above
      }
      break;
    case DType::bf16:
      if (acc == Accumulation::f32) return GemmKind::bf16_acc_f32;
      break;
    case DType::f64: return GemmKind::f64;
  }
  throw std::invalid_argument("gemm: no " + std::string(accumulation_name(acc)) + " accumulation for " +
                              std::string(dtype_name(dtype)) + " inputs");
}

// Reads a whole operand from its RowSource into `storage`: what the scalar reference, which
// has no packing to read through, multiplies instead.
const void* materialize(const RowSource& source, int64_t rows, int64_t cols, DType dtype, std::vector<std::byte>& storage) {
  const size_t row_bytes = size_t(cols) * dtype_size(dtype);
  storage.resize(size_t(rows) * row_bytes);
  read_rows(source, 0, rows, 0, cols, dtype_size(dtype), storage.data(), cols);
  return storage.data();
}

}  // namespace

void read_rows(const RowSource& source, int64_t row, int64_t rows, int64_t col, int64_t count, size_t elem_size,
               void* dst, int64_t ld) {
  constexpr int64_t kRowsPerCall = 16;  // bounds the run buffer
  std::vector<RowRun> runs(size_t(std::min(rows, kRowsPerCall) * source.max_runs));
  int64_t row_ends[kRowsPerCall];
  for (int64_t r0 = 0; r0 < rows; r0 += kRowsPerCall) {
    const int64_t n = std::min(kRowsPerCall, rows - r0);
    source.runs(source.context, row + r0, n, col, count, runs.data(), row_ends);
    for (int64_t i = 0, first = 0; i < n; first = row_ends[i++]) {
      auto* out = static_cast<std::byte*>(dst) + size_t((r0 + i) * ld) * elem_size;
      for (int64_t j = first; j < row_ends[i]; ++j) {
        const size_t bytes = size_t(runs[size_t(j)].count) * elem_size;
        if (runs[size_t(j)].src != nullptr) std::memcpy(out, runs[size_t(j)].src, bytes);
        else std::memset(out, 0, bytes);
        out += bytes;
      }
    }
  }
}

std::string_view accumulation_name(Accumulation acc) {
  switch (acc) {
    case Accumulation::f32: return "f32";
    case Accumulation::f16: return "f16";
    case Accumulation::f16_block: return "f16-block";
    case Accumulation::automatic: return "auto";
  }
  return "?";
}

constexpr Accumulation kAccumulations[] = {Accumulation::automatic, Accumulation::f32, Accumulation::f16,
                                           Accumulation::f16_block};

std::vector<std::string> accumulation_names() {
  std::vector<std::string> names;
  for (Accumulation acc : kAccumulations) names.emplace_back(accumulation_name(acc));
  return names;
}

Accumulation parse_accumulation(std::string_view name) {
  for (Accumulation acc : kAccumulations)
    if (name == accumulation_name(acc)) return acc;
  std::string names;
  for (const std::string& n : accumulation_names()) names += (names.empty() ? "" : ", ") + n;
  throw std::invalid_argument("unknown accumulation '" + std::string(name) + "' (" + names + ")");
}

Accumulation resolve_accumulation(DType dtype, Accumulation acc) {
  if (acc != Accumulation::automatic) return acc;
  return dtype == DType::f16 && active_isa() >= Isa::avx512fp16 ? Accumulation::f16_block : Accumulation::f32;
}

bool accumulation_is_native(DType dtype, Accumulation acc) {
  const Accumulation resolved = resolve_accumulation(dtype, acc);
  return resolved == Accumulation::f32 || gemm_variant(dtype, resolved) == isa_name(Isa::avx512fp16);
}

const std::vector<std::pair<DType, Accumulation>>& gemm_kinds() {
  static const std::vector<std::pair<DType, Accumulation>> kinds{{DType::f32, Accumulation::f32},
                                                                 {DType::f16, Accumulation::f32},
                                                                 {DType::f16, Accumulation::f16},
                                                                 {DType::f16, Accumulation::f16_block},
                                                                 {DType::bf16, Accumulation::f32}};
  return kinds;
}

void gemm(DType dtype, Accumulation acc, const GemmArgs& args) {
  if (args.m < 0 || args.n < 0 || args.k < 0) throw std::invalid_argument("gemm: negative dimension");
  if ((args.a_rows && args.trans_a) || (args.b_rows && args.trans_b))
    throw std::invalid_argument("gemm: an operand read through a RowSource cannot be transposed");
  if (args.m == 0 || args.n == 0) return;
  const Entry<GemmFn>& entry = kernel_table().gemm[size_t(gemm_kind(dtype, acc))];
  if (entry.isa == Isa::scalar && (args.a_rows || args.b_rows)) {
    GemmArgs stored = args;
    std::vector<std::byte> a_storage, b_storage;
    if (args.a_rows) {
      stored.a = materialize(*args.a_rows, args.m, args.k, dtype, a_storage);
      stored.lda = args.k;
      stored.a_rows = nullptr;
    }
    if (args.b_rows) {
      stored.b = materialize(*args.b_rows, args.k, args.n, dtype, b_storage);
      stored.ldb = args.n;
      stored.b_rows = nullptr;
    }
    entry.fn(stored);
    return;
  }
  entry.fn(args);
}

void gemm(Tensor& c, const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, float alpha, float beta,
          Accumulation acc) {
  if (a.dtype() != c.dtype() || b.dtype() != c.dtype())
    throw std::invalid_argument("gemm: dtypes differ (A " + std::string(dtype_name(a.dtype())) + ", B " +
                                std::string(dtype_name(b.dtype())) + ", C " + std::string(dtype_name(c.dtype())) +
                                ")");
  if (a.dim() != 2 || b.dim() != 2 || c.dim() != 2) throw std::invalid_argument("gemm: operands must be matrices");
  for (const Tensor* t : {&a, &b, static_cast<const Tensor*>(&c)})
    if (t->strides()[1] != 1) throw std::invalid_argument("gemm: rows must be contiguous");
  GemmArgs args;
  args.trans_a = trans_a;
  args.trans_b = trans_b;
  args.m = trans_a ? a.size(1) : a.size(0);
  args.k = trans_a ? a.size(0) : a.size(1);
  const int64_t kb = trans_b ? b.size(1) : b.size(0);
  args.n = trans_b ? b.size(0) : b.size(1);
  if (kb != args.k || c.size(0) != args.m || c.size(1) != args.n)
    throw std::invalid_argument("gemm: shapes do not match: op(A) " + std::to_string(args.m) + "x" +
                                std::to_string(args.k) + ", op(B) " + std::to_string(kb) + "x" +
                                std::to_string(args.n) + ", C " + shape_string(c.shape()));
  args.a = a.raw();
  args.lda = a.strides()[0];
  args.b = b.raw();
  args.ldb = b.strides()[0];
  args.c = c.raw();
  args.ldc = c.strides()[0];
  args.alpha = alpha;
  args.beta = beta;
  gemm(c.dtype(), acc, args);
}

std::string_view gemm_variant(DType dtype, Accumulation acc) {
  return isa_name(kernel_table().gemm[size_t(gemm_kind(dtype, acc))].isa);
}

}  // namespace pure16::kernels
