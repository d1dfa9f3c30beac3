// Conversion between pure16 tensors and the tensors of a safetensors file.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "io/quoted_name.h"
#include "pure16/io/safetensors.h"

namespace pure16::io {
namespace {

// The format's names of the dtypes a Tensor can hold.
constexpr std::pair<DType, std::string_view> kTensorDTypes[] = {
    {DType::f16, "F16"}, {DType::bf16, "BF16"}, {DType::f32, "F32"}, {DType::f64, "F64"}};

[[noreturn]] void fail(const std::string& file, const StoredTensor& stored, const std::string& what) {
  throw std::runtime_error(file + ": tensor " + quoted_name(stored.name) + ": " + what);
}

// The flat index of the first NaN or infinity in a contiguous tensor, or -1.
int64_t first_non_finite(const Tensor& tensor) {
  return dispatch(tensor.dtype(), [&](auto tag) -> int64_t {
    using T = typename decltype(tag)::type;
    const T* values = tensor.data<T>();
    for (int64_t i = 0; i < tensor.numel(); ++i)
      if (!std::isfinite(load_value(values[i]))) return i;
    return -1;
  });
}

// "[1, 2]": the index into `shape` of a flat row-major index.
std::string index_text(int64_t flat, const Shape& shape) {
  Shape index(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  return shape_string(index);
}

}  // namespace

std::string stored_dtype_name(DType dtype) {
  for (const auto& [type, name] : kTensorDTypes)
    if (type == dtype) return std::string(name);
  throw std::invalid_argument("stored_dtype_name: dtype " + std::string(dtype_name(dtype)) +
                              " has no safetensors name");
}

StoredTensor to_stored(std::string name, const Tensor& tensor) {
  if (!tensor.defined()) throw std::invalid_argument("to_stored: tensor " + quoted_name(name) + " is undefined");
  const Tensor dense = tensor.contiguous();
  StoredTensor stored;
  stored.name = std::move(name);
  stored.dtype = stored_dtype_name(tensor.dtype());
  stored.shape = tensor.shape();
  stored.data.assign(static_cast<const char*>(dense.raw()), dense.nbytes());
  return stored;
}

Tensor from_stored(const StoredTensor& stored, const std::string& file, bool require_finite) {
  const auto* match = std::find_if(std::begin(kTensorDTypes), std::end(kTensorDTypes),
                                   [&](const auto& entry) { return entry.second == stored.dtype; });
  if (match == std::end(kTensorDTypes))
    fail(file, stored, "dtype " + quoted_name(stored.dtype) + " is not a floating-point dtype (F16, BF16, F32, F64)");
  uint64_t bytes = 0;
  try {
    bytes = stored_tensor_bytes(stored.dtype, stored.shape);
  } catch (const std::invalid_argument& e) {
    fail(file, stored, e.what());
  }
  if (bytes != stored.data.size())
    fail(file, stored, "holds " + std::to_string(stored.data.size()) + " bytes, its shape " +
                           shape_string(stored.shape) + " of " + stored.dtype + " needs " + std::to_string(bytes));

  Tensor tensor = Tensor::empty(stored.shape, match->first);
  std::memcpy(tensor.raw(), stored.data.data(), stored.data.size());
  if (require_finite) {
    const int64_t bad = first_non_finite(tensor);
    if (bad >= 0)
      fail(file, stored, std::string("holds ") + (std::isnan(tensor.item(bad)) ? "NaN" : "infinity") + " at index " +
                             std::to_string(bad) + " (" + index_text(bad, stored.shape) + " of shape " +
                             shape_string(stored.shape) + ")");
  }
  return tensor;
}

}  // namespace pure16::io
