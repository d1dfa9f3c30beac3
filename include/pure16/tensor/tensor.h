// A strided view over shared, 64-byte-aligned storage, with a run-time dtype.
//
// Ownership: Storage is a reference-counted allocation; tensors are cheap handles that share
// it. Views (reshape, slice, transpose, arena carving) share storage; clone() and to() copy.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pure16/tensor/dtype.h"

namespace pure16 {

using Shape = std::vector<int64_t>;

std::string shape_string(const Shape& shape);
int64_t shape_numel(const Shape& shape);

/// One aligned allocation of `bytes` bytes, zero-filled unless asked not to be.
class Storage {
 public:
  static constexpr size_t kAlignment = 64;
  explicit Storage(size_t bytes, bool zero_fill = true);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  std::byte* data() { return data_; }
  const std::byte* data() const { return data_; }
  size_t bytes() const { return bytes_; }

 private:
  std::byte* data_ = nullptr;
  size_t bytes_ = 0;
};

class Tensor {
 public:
  Tensor() = default;
  /// A new zero-filled contiguous tensor.
  static Tensor zeros(const Shape& shape, DType dtype);
  /// A new contiguous tensor whose contents are undefined: for outputs a kernel assigns in full,
  /// where zero-filling would be one more pass over memory.
  static Tensor empty(const Shape& shape, DType dtype);
  /// A contiguous view of `shape` at `byte_offset` into existing storage.
  static Tensor view(std::shared_ptr<Storage> storage, size_t byte_offset, const Shape& shape, DType dtype);
  /// A contiguous tensor holding `values` rounded to `dtype` (round-to-nearest-even).
  static Tensor from_doubles(const std::vector<double>& values, const Shape& shape, DType dtype);

  bool defined() const { return storage_ != nullptr; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  int64_t dim() const { return int64_t(shape_.size()); }
  int64_t size(int64_t d) const;
  int64_t numel() const { return shape_numel(shape_); }
  size_t nbytes() const { return size_t(numel()) * dtype_size(dtype_); }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return storage_; }

  void* raw() { return storage_->data() + offset_; }
  const void* raw() const { return storage_->data() + offset_; }
  template <class T>
  T* data() {
    check_type(dtype_of<T>());
    return reinterpret_cast<T*>(raw());
  }
  template <class T>
  const T* data() const {
    check_type(dtype_of<T>());
    return reinterpret_cast<const T*>(raw());
  }

  /// Views. reshape() needs a contiguous tensor; -1 infers one dimension.
  Tensor reshape(Shape shape) const;
  Tensor slice(int64_t dim, int64_t begin, int64_t end) const;
  Tensor transpose(int64_t d0, int64_t d1) const;

  /// Copies. to() converts with round-to-nearest-even; contiguous() densifies a view.
  Tensor to(DType dtype) const;
  Tensor clone() const { return to(dtype_); }
  Tensor contiguous() const { return is_contiguous() ? *this : clone(); }
  /// Copies `src` into this tensor (same shape), converting dtype.
  void copy_from(const Tensor& src);
  void fill(double value);

  /// Element access in float64, for tests and small reductions; not for hot paths.
  double item(int64_t flat_index) const;
  std::vector<double> to_doubles() const;

 private:
  void check_type(DType requested) const;
  std::shared_ptr<Storage> storage_;
  size_t offset_ = 0;
  Shape shape_;
  Shape strides_;  // in elements
  DType dtype_ = DType::f32;
};

/// Throws std::invalid_argument with `what` and both shapes unless a and b have equal shapes.
void check_same_shape(const Tensor& a, const Tensor& b, const std::string& what);

}  // namespace pure16
