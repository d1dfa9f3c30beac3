// Tensor: allocation, views that share storage (reshape, slice, transpose), element access and
// the error messages of bad shapes and indices.
#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "pure16/tensor/tensor.h"

namespace pure16 {
namespace {

constexpr DType kAll[] = {DType::f32, DType::f16, DType::bf16, DType::f64};

std::vector<double> iota(int64_t n, double start = 0) {
  std::vector<double> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), start);
  return v;
}

// Expects `f` to throw E with every string of `parts` in its message.
template <class E, class F>
void expect_error(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "did not throw";
  } catch (const E& e) {
    const std::string message = e.what();
    for (const std::string& part : parts) EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
  }
}

TEST(Tensor, ShapeHelpers) {
  EXPECT_EQ(shape_string({}), "[]");
  EXPECT_EQ(shape_string({2, 3, 4}), "[2, 3, 4]");
  EXPECT_EQ(shape_numel({}), 1);
  EXPECT_EQ(shape_numel({2, 3, 4}), 24);
  EXPECT_EQ(shape_numel({2, 0, 4}), 0);
}

TEST(Tensor, ZerosAreAlignedAndZeroFilled) {
  for (DType d : kAll) {
    for (const Shape& shape : std::vector<Shape>{{}, {0}, {1}, {3}, {7, 5}, {2, 3, 33}}) {
      const Tensor t = Tensor::zeros(shape, d);
      EXPECT_TRUE(t.defined());
      EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw()) % 64, 0u) << shape_string(shape);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(t.storage()->data()) % Storage::kAlignment, 0u);
      EXPECT_EQ(t.shape(), shape);
      EXPECT_EQ(t.dtype(), d);
      EXPECT_EQ(t.numel(), shape_numel(shape));
      EXPECT_EQ(t.nbytes(), size_t(shape_numel(shape)) * dtype_size(d));
      EXPECT_EQ(t.storage()->bytes(), t.nbytes());
      EXPECT_TRUE(t.is_contiguous());
      for (double v : t.to_doubles()) EXPECT_EQ(v, 0.0);
    }
  }
  const Tensor t = Tensor::zeros({2, 3, 4}, DType::f16);
  EXPECT_EQ(t.strides(), (Shape{12, 4, 1}));
  EXPECT_EQ(t.dim(), 3);
  EXPECT_EQ(t.size(0), 2);
  EXPECT_EQ(t.size(-1), 4);
  EXPECT_FALSE(Tensor().defined());
}

TEST(Tensor, BadShapesAndIndices) {
  expect_error<std::invalid_argument>([] { Tensor::zeros({2, -3}, DType::f32); }, {"negative dimension", "[2, -3]"});
  const Tensor t = Tensor::zeros({2, 3}, DType::f32);
  expect_error<std::out_of_range>([&] { t.size(2); }, {"[2, 3]", "no dimension 2"});
  expect_error<std::out_of_range>([&] { t.size(-3); }, {"[2, 3]"});
  expect_error<std::out_of_range>([&] { t.item(6); }, {"item 6", "[2, 3]"});
  expect_error<std::out_of_range>([&] { t.item(-1); }, {"item -1"});
  expect_error<std::invalid_argument>([&] { t.data<fp16>(); }, {"holds f32", "accessed as f16"});
  expect_error<std::invalid_argument>([] { Tensor::from_doubles({1, 2, 3}, {2, 2}, DType::f16); },
                                      {"from_doubles", "3 values", "[2, 2]"});
  expect_error<std::out_of_range>([&] { Tensor::view(t.storage(), 8, {2, 3}, DType::f32); },
                                  {"[2, 3]", "byte 8", "24 bytes"});
  expect_error<std::invalid_argument>([&] { Tensor::zeros({3, 2}, DType::f32).copy_from(t); },
                                      {"copy_from", "[3, 2]", "[2, 3]"});
  expect_error<std::invalid_argument>([&] { check_same_shape(t, Tensor::zeros({6}, DType::f32), "add"); },
                                      {"add: shapes differ", "[2, 3] vs [6]"});
}

TEST(Tensor, ViewIntoExistingStorage) {
  auto storage = std::make_shared<Storage>(256);
  const Tensor a = Tensor::view(storage, 0, {8, 4}, DType::f32);
  Tensor b = Tensor::view(storage, 64, {8}, DType::f16);
  b.fill(2.0);
  // b's 16 bytes overlay a's row 4 (bytes 64..79): the fp16 pair 0x4000 0x4000 read as one
  // float, 0x40004000, is 2 (1 + 2^-9).
  EXPECT_EQ(a.item(16), 2.00390625);
  EXPECT_EQ(a.item(19), 2.00390625);
  EXPECT_EQ(a.item(20), 0.0);
  EXPECT_EQ(a.item(15), 0.0);
  EXPECT_EQ(b.storage().get(), storage.get());
  EXPECT_NO_THROW(Tensor::view(storage, 192, {16}, DType::f32));
  EXPECT_THROW(Tensor::view(storage, 196, {16}, DType::f32), std::out_of_range);
}

TEST(Tensor, ReshapeSharesStorage) {
  Tensor t = Tensor::from_doubles(iota(24), {2, 3, 4}, DType::f16);
  Tensor r = t.reshape({6, -1});
  EXPECT_EQ(r.shape(), (Shape{6, 4}));
  EXPECT_EQ(r.storage(), t.storage());
  EXPECT_EQ(r.raw(), t.raw());
  r.data<fp16>()[5] = to_fp16(100.0f);
  EXPECT_EQ(t.item(5), 100.0);  // a write through the view is seen by the original
  EXPECT_EQ(t.reshape({-1}).shape(), (Shape{24}));
  EXPECT_EQ(t.reshape({4, 3, 2}).item(23), 23.0);
  EXPECT_EQ(Tensor::zeros({0, 3}, DType::f32).reshape({3, 0}).shape(), (Shape{3, 0}));
  expect_error<std::invalid_argument>([&] { t.reshape({5, 5}); }, {"cannot reshape [2, 3, 4] to [5, 5]"});
  expect_error<std::invalid_argument>([&] { t.reshape({5, -1}); }, {"cannot reshape"});
  expect_error<std::invalid_argument>([&] { t.reshape({-1, -1}); }, {"more than one -1"});
  expect_error<std::invalid_argument>([&] { t.transpose(0, 1).reshape({24}); }, {"contiguous"});
}

TEST(Tensor, SliceSharesStorage) {
  Tensor t = Tensor::from_doubles(iota(12), {3, 4}, DType::f32);
  Tensor rows = t.slice(0, 1, 3);
  EXPECT_EQ(rows.shape(), (Shape{2, 4}));
  EXPECT_TRUE(rows.is_contiguous());
  EXPECT_EQ(rows.storage(), t.storage());
  EXPECT_EQ(rows.to_doubles(), iota(8, 4));
  Tensor cols = t.slice(1, 1, 3);  // columns 1, 2
  EXPECT_EQ(cols.shape(), (Shape{3, 2}));
  EXPECT_FALSE(cols.is_contiguous());
  EXPECT_EQ(cols.strides(), (Shape{4, 1}));
  EXPECT_EQ(cols.to_doubles(), (std::vector<double>{1, 2, 5, 6, 9, 10}));
  cols.fill(-1.0);
  EXPECT_EQ(t.to_doubles(), (std::vector<double>{0, -1, -1, 3, 4, -1, -1, 7, 8, -1, -1, 11}));
  // Negative dimension, empty slice, slice of a slice.
  EXPECT_EQ(t.slice(-1, 3, 4).to_doubles(), (std::vector<double>{3, 7, 11}));
  EXPECT_EQ(t.slice(0, 2, 2).numel(), 0);
  EXPECT_EQ(t.slice(0, 1, 3).slice(1, 3, 4).to_doubles(), (std::vector<double>{7, 11}));
  EXPECT_EQ(t.slice(1, 1, 3).slice(0, 2, 3).to_doubles(), (std::vector<double>{-1, -1}));
  expect_error<std::out_of_range>([&] { t.slice(0, 2, 4); }, {"slice [2, 4)", "dimension 0", "size 3"});
  expect_error<std::out_of_range>([&] { t.slice(1, 3, 2); }, {"slice [3, 2)"});
  expect_error<std::out_of_range>([&] { t.slice(0, -1, 2); }, {"slice [-1, 2)"});
  expect_error<std::out_of_range>([&] { t.slice(2, 0, 1); }, {"no dimension 2"});
}

TEST(Tensor, TransposeSharesStorage) {
  Tensor t = Tensor::from_doubles(iota(6), {2, 3}, DType::bf16);
  Tensor tt = t.transpose(0, 1);
  EXPECT_EQ(tt.shape(), (Shape{3, 2}));
  EXPECT_EQ(tt.strides(), (Shape{1, 3}));
  EXPECT_FALSE(tt.is_contiguous());
  EXPECT_EQ(tt.storage(), t.storage());
  EXPECT_EQ(tt.to_doubles(), (std::vector<double>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(tt.item(1), 3.0);
  tt.slice(0, 2, 3).fill(9.0);  // column 2 of t
  EXPECT_EQ(t.to_doubles(), (std::vector<double>{0, 1, 9, 3, 4, 9}));
  EXPECT_EQ(t.transpose(-1, 0).shape(), (Shape{3, 2}));
  EXPECT_TRUE(tt.transpose(0, 1).is_contiguous());
  const Tensor cube = Tensor::from_doubles(iota(24), {2, 3, 4}, DType::f64);
  const Tensor swapped = cube.transpose(0, 2);  // (4, 3, 2): swapped[k][j][i] = cube[i][j][k]
  EXPECT_EQ(swapped.item(1), 12.0);             // [0][0][1] = cube[1][0][0]
  EXPECT_EQ(swapped.item(2), 4.0);              // [0][1][0] = cube[0][1][0]
  EXPECT_EQ(swapped.item(23), 23.0);
  expect_error<std::out_of_range>([&] { t.transpose(0, 2); }, {"no dimension 2"});
}

TEST(Tensor, ContiguousAndClone) {
  Tensor t = Tensor::from_doubles(iota(6), {2, 3}, DType::f16);
  const Tensor same = t.contiguous();
  EXPECT_EQ(same.storage(), t.storage());  // already contiguous: no copy
  const Tensor dense = t.transpose(0, 1).contiguous();
  EXPECT_NE(dense.storage(), t.storage());
  EXPECT_TRUE(dense.is_contiguous());
  EXPECT_EQ(dense.to_doubles(), (std::vector<double>{0, 3, 1, 4, 2, 5}));
  Tensor copy = t.clone();
  EXPECT_NE(copy.storage(), t.storage());
  copy.fill(7.0);
  EXPECT_EQ(t.item(0), 0.0);
  EXPECT_EQ(copy.dtype(), DType::f16);
}

TEST(Tensor, FillRoundsOnce) {
  for (DType d : kAll) {
    Tensor t = Tensor::zeros({5}, d);
    t.fill(1.0 / 3.0);
    const double expected = dispatch(d, [](auto tag) { return as_double(from_double<typename decltype(tag)::type>(1.0 / 3.0)); });
    for (double v : t.to_doubles()) EXPECT_EQ(v, expected) << dtype_name(d);
  }
}

TEST(Tensor, ScalarTensor) {
  Tensor s = Tensor::from_doubles({2.5}, {}, DType::f16);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.numel(), 1);
  EXPECT_EQ(s.item(0), 2.5);
  EXPECT_EQ(s.reshape({1, 1}).shape(), (Shape{1, 1}));
  EXPECT_EQ(s.to(DType::f32).to_doubles(), (std::vector<double>{2.5}));
}

}  // namespace
}  // namespace pure16
