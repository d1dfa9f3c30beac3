// DType: the traits table, parse_dtype, dtype_of, dispatch and the load/store helpers.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <type_traits>

#include "pure16/tensor/dtype.h"

namespace pure16 {
namespace {

constexpr DType kAll[] = {DType::f32, DType::f16, DType::bf16, DType::f64};

TEST(DType, Traits) {
  EXPECT_EQ(dtype_size(DType::f32), 4u);
  EXPECT_EQ(dtype_size(DType::f16), 2u);
  EXPECT_EQ(dtype_size(DType::bf16), 2u);
  EXPECT_EQ(dtype_size(DType::f64), 8u);
  EXPECT_EQ(dtype_name(DType::f32), "f32");
  EXPECT_EQ(dtype_name(DType::f16), "f16");
  EXPECT_EQ(dtype_name(DType::bf16), "bf16");
  EXPECT_EQ(dtype_name(DType::f64), "f64");
  // u = 2^-p for a p-bit significand: 24, 11, 8, 53.
  EXPECT_EQ(traits(DType::f32).unit_roundoff, 0x1.0p-24);
  EXPECT_EQ(traits(DType::f16).unit_roundoff, 0x1.0p-11);
  EXPECT_EQ(traits(DType::bf16).unit_roundoff, 0x1.0p-8);
  EXPECT_EQ(traits(DType::f64).unit_roundoff, 0x1.0p-53);
  EXPECT_THROW(traits(DType(17)), std::out_of_range);
}

TEST(DType, SizeMatchesTheStorageType) {
  for (DType d : kAll) {
    const size_t size = dispatch(d, [](auto tag) { return sizeof(typename decltype(tag)::type); });
    EXPECT_EQ(size, dtype_size(d)) << dtype_name(d);
    const DType back = dispatch(d, [](auto tag) { return dtype_of<typename decltype(tag)::type>(); });
    EXPECT_EQ(back, d) << dtype_name(d);
  }
  static_assert(dtype_of<float>() == DType::f32 && dtype_of<fp16>() == DType::f16);
  static_assert(dtype_of<bf16>() == DType::bf16 && dtype_of<double>() == DType::f64);
}

TEST(DType, ParseNamesAndAliases) {
  for (DType d : kAll) EXPECT_EQ(parse_dtype(dtype_name(d)), d);
  EXPECT_EQ(parse_dtype("fp32"), DType::f32);
  EXPECT_EQ(parse_dtype("float32"), DType::f32);
  EXPECT_EQ(parse_dtype("fp16"), DType::f16);
  EXPECT_EQ(parse_dtype("float16"), DType::f16);
  EXPECT_EQ(parse_dtype("bfloat16"), DType::bf16);
  EXPECT_EQ(parse_dtype("fp64"), DType::f64);
  EXPECT_EQ(parse_dtype("float64"), DType::f64);
}

TEST(DType, ParseRejectsUnknownNames) {
  for (const char* bad : {"", "F16", "half", "f8", "bf16 ", "int8"}) {
    try {
      parse_dtype(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const std::invalid_argument& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("'" + std::string(bad) + "'"), std::string::npos) << message;
      EXPECT_NE(message.find("f32, f16, bf16 or f64"), std::string::npos) << message;
    }
  }
}

TEST(DType, ComputeTypeAndLoadStore) {
  static_assert(std::is_same_v<compute_t<fp16>, float> && std::is_same_v<compute_t<bf16>, float>);
  static_assert(std::is_same_v<compute_t<float>, float> && std::is_same_v<compute_t<double>, double>);
  EXPECT_EQ(load_value(fp16::from_bits(0x3e00)), 1.5f);
  EXPECT_EQ(load_value(bf16::from_bits(0x3fc0)), 1.5f);
  EXPECT_EQ(load_value(2.5), 2.5);
  EXPECT_EQ(store_value<fp16>(1.0f + 0x1.0p-11f).bits, 0x3c00);  // round to nearest even
  EXPECT_EQ(store_value<bf16>(1.0f + 0x1.8p-7f).bits, 0x3f82);
  EXPECT_EQ(store_value<double>(0.1), 0.1);
  EXPECT_EQ(store_value<float>(0.25f), 0.25f);
}

}  // namespace
}  // namespace pure16
