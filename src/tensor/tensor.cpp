#include "pure16/tensor/tensor.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

#include "pure16/kernels/elementwise.h"

namespace pure16 {

std::string shape_string(const Shape& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Storage::Storage(size_t bytes, bool zero_fill) : bytes_(bytes) {
  const size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  data_ = static_cast<std::byte*>(std::aligned_alloc(kAlignment, rounded == 0 ? kAlignment : rounded));
  if (data_ == nullptr) throw std::bad_alloc();
  if (zero_fill) std::memset(data_, 0, rounded == 0 ? kAlignment : rounded);
}

Storage::~Storage() { std::free(data_); }

namespace {

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= shape[i];
  }
  return strides;
}

void check_shape(const Shape& shape) {
  for (int64_t d : shape)
    if (d < 0) throw std::invalid_argument("tensor: negative dimension in shape " + shape_string(shape));
}

// Calls f(flat_index, element_offset) for every element in row-major order of the shape.
template <class F>
void for_each_offset(const Shape& shape, const Shape& strides, F&& f) {
  const int64_t n = shape_numel(shape);
  std::vector<int64_t> index(shape.size(), 0);
  int64_t offset = 0;
  for (int64_t flat = 0; flat < n; ++flat) {
    f(flat, offset);
    for (size_t d = shape.size(); d-- > 0;) {
      offset += strides[d];
      if (++index[d] < shape[d]) break;
      offset -= strides[d] * shape[d];
      index[d] = 0;
    }
  }
}

}  // namespace

Tensor Tensor::zeros(const Shape& shape, DType dtype) {
  check_shape(shape);
  auto storage = std::make_shared<Storage>(size_t(shape_numel(shape)) * dtype_size(dtype));
  return view(std::move(storage), 0, shape, dtype);
}

Tensor Tensor::empty(const Shape& shape, DType dtype) {
  check_shape(shape);
  auto storage = std::make_shared<Storage>(size_t(shape_numel(shape)) * dtype_size(dtype), false);
  return view(std::move(storage), 0, shape, dtype);
}

Tensor Tensor::view(std::shared_ptr<Storage> storage, size_t byte_offset, const Shape& shape, DType dtype) {
  check_shape(shape);
  if (byte_offset + size_t(shape_numel(shape)) * dtype_size(dtype) > storage->bytes())
    throw std::out_of_range("tensor view " + shape_string(shape) + " at byte " + std::to_string(byte_offset) +
                            " exceeds storage of " + std::to_string(storage->bytes()) + " bytes");
  Tensor t;
  t.storage_ = std::move(storage);
  t.offset_ = byte_offset;
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.dtype_ = dtype;
  return t;
}

Tensor Tensor::from_doubles(const std::vector<double>& values, const Shape& shape, DType dtype) {
  if (int64_t(values.size()) != shape_numel(shape))
    throw std::invalid_argument("from_doubles: " + std::to_string(values.size()) + " values for shape " +
                                shape_string(shape));
  Tensor t = zeros(shape, dtype);
  kernels::convert(t.raw(), dtype, values.data(), DType::f64, t.numel());
  return t;
}

int64_t Tensor::size(int64_t d) const {
  if (d < 0) d += dim();
  if (d < 0 || d >= dim()) throw std::out_of_range("tensor of shape " + shape_string(shape_) + " has no dimension " + std::to_string(d));
  return shape_[size_t(d)];
}

bool Tensor::is_contiguous() const { return strides_ == contiguous_strides(shape_); }

void Tensor::check_type(DType requested) const {
  if (requested != dtype_)
    throw std::invalid_argument("tensor holds " + std::string(dtype_name(dtype_)) + ", accessed as " +
                                std::string(dtype_name(requested)));
}

Tensor Tensor::reshape(Shape shape) const {
  if (!is_contiguous()) throw std::invalid_argument("reshape needs a contiguous tensor");
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) throw std::invalid_argument("reshape: more than one -1 in " + shape_string(shape));
      infer = int64_t(i);
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0 && known > 0) shape[size_t(infer)] = numel() / known;
  if (shape_numel(shape) != numel())
    throw std::invalid_argument("cannot reshape " + shape_string(shape_) + " to " + shape_string(shape));
  return view(storage_, offset_, shape, dtype_);
}

Tensor Tensor::slice(int64_t d, int64_t begin, int64_t end) const {
  const int64_t extent = size(d);
  if (d < 0) d += dim();
  if (begin < 0 || end < begin || end > extent)
    throw std::out_of_range("slice [" + std::to_string(begin) + ", " + std::to_string(end) + ") of dimension " +
                            std::to_string(d) + " with size " + std::to_string(extent));
  Tensor t = *this;
  t.offset_ += size_t(begin * strides_[size_t(d)]) * dtype_size(dtype_);
  t.shape_[size_t(d)] = end - begin;
  return t;
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  size(d0), size(d1);  // range checks
  if (d0 < 0) d0 += dim();
  if (d1 < 0) d1 += dim();
  Tensor t = *this;
  std::swap(t.shape_[size_t(d0)], t.shape_[size_t(d1)]);
  std::swap(t.strides_[size_t(d0)], t.strides_[size_t(d1)]);
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  check_same_shape(*this, src, "copy_from");
  if (is_contiguous() && src.is_contiguous()) {
    kernels::convert(raw(), dtype_, src.raw(), src.dtype_, numel());
    return;
  }
  // Converted in one call, then scattered by byte copies (see to()).
  const Tensor dense = src.to(dtype_);
  const size_t size = dtype_size(dtype_);
  const std::byte* in = static_cast<const std::byte*>(dense.raw());
  std::byte* out = static_cast<std::byte*>(raw());
  for_each_offset(shape_, strides_, [&](int64_t flat, int64_t offset) {
    std::memcpy(out + offset * int64_t(size), in + flat * int64_t(size), size);
  });
}

Tensor Tensor::to(DType dtype) const {
  if (!is_contiguous()) {
    // Gather the elements in order by byte copies, then convert them in one call: a conversion
    // call per element would cost far more than the element (each call may open a parallel region).
    Tensor dense = empty(shape_, dtype_);
    const size_t size = dtype_size(dtype_);
    const std::byte* in = static_cast<const std::byte*>(raw());
    std::byte* out = static_cast<std::byte*>(dense.raw());
    for_each_offset(shape_, strides_, [&](int64_t flat, int64_t offset) {
      std::memcpy(out + flat * int64_t(size), in + offset * int64_t(size), size);
    });
    return dtype == dtype_ ? dense : dense.to(dtype);
  }
  Tensor out = zeros(shape_, dtype);
  kernels::convert(out.raw(), dtype, raw(), dtype_, numel());
  return out;
}

void Tensor::fill(double value) {
  Tensor one = from_doubles({value}, {1}, dtype_);
  const size_t size = dtype_size(dtype_);
  std::byte* out = static_cast<std::byte*>(raw());
  for_each_offset(shape_, strides_, [&](int64_t, int64_t offset) { std::memcpy(out + offset * int64_t(size), one.raw(), size); });
}

double Tensor::item(int64_t flat_index) const {
  if (flat_index < 0 || flat_index >= numel()) throw std::out_of_range("item " + std::to_string(flat_index) + " of " + shape_string(shape_));
  int64_t offset = 0, rest = flat_index;
  for (size_t d = shape_.size(); d-- > 0;) {
    offset += (rest % shape_[d]) * strides_[d];
    rest /= shape_[d];
  }
  double value = 0;
  kernels::convert(&value, DType::f64, static_cast<const std::byte*>(raw()) + offset * int64_t(dtype_size(dtype_)), dtype_, 1);
  return value;
}

std::vector<double> Tensor::to_doubles() const {
  const Tensor dense = to(DType::f64);
  const double* p = dense.data<double>();
  return std::vector<double>(p, p + numel());
}

void check_same_shape(const Tensor& a, const Tensor& b, const std::string& what) {
  if (a.shape() != b.shape())
    throw std::invalid_argument(what + ": shapes differ, " + shape_string(a.shape()) + " vs " + shape_string(b.shape()));
}

}  // namespace pure16
