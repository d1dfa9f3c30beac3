// Element types as a run-time tag, with one traits table and one dispatch helper.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "pure16/numerics/float16.h"

namespace pure16 {

/// f64 exists for float64 references (gradient checks, error bounds); only the scalar
/// kernels implement it.
enum class DType : uint8_t { f32, f16, bf16, f64 };

struct DTypeTraits {
  std::string_view name;
  size_t size;
  double unit_roundoff;  // 2^-p for a p-bit significand: the bound on one rounding's relative error
};

const DTypeTraits& traits(DType dtype);
inline size_t dtype_size(DType dtype) { return traits(dtype).size; }
inline std::string_view dtype_name(DType dtype) { return traits(dtype).name; }
/// Parses "f32", "f16", "bf16", "f64" (also "fp32", "fp16", "float32", ...); throws otherwise.
DType parse_dtype(std::string_view name);

template <class T>
struct TypeTag {
  using type = T;
};

template <class T>
constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<fp16>() { return DType::f16; }
template <> constexpr DType dtype_of<bf16>() { return DType::bf16; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }

/// Calls f(TypeTag<T>{}) with T the storage type of `dtype`.
template <class F>
decltype(auto) dispatch(DType dtype, F&& f) {
  switch (dtype) {
    case DType::f32: return std::forward<F>(f)(TypeTag<float>{});
    case DType::f16: return std::forward<F>(f)(TypeTag<fp16>{});
    case DType::bf16: return std::forward<F>(f)(TypeTag<bf16>{});
    case DType::f64: break;
  }
  return std::forward<F>(f)(TypeTag<double>{});
}

/// The type arithmetic on T is carried out in: double for f64, float otherwise.
template <class T>
using compute_t = std::conditional_t<std::is_same_v<T, double>, double, float>;

template <class T>
constexpr compute_t<T> load_value(T v) {
  if constexpr (std::is_same_v<T, double> || std::is_same_v<T, float>) return v;
  else return to_float(v);
}
template <class T>
constexpr T store_value(compute_t<T> v) {
  if constexpr (std::is_same_v<T, double> || std::is_same_v<T, float>) return v;
  else return from_float<T>(v);
}

}  // namespace pure16
