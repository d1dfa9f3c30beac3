// The safetensors reader and writer: round trips, the exact bytes of the format (checked against
// files built by hand, not by our writer), and a clear error for every malformed file.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "pure16/io/safetensors.h"

namespace pure16::io {
namespace {

namespace fs = std::filesystem;

const std::string kFile = "model.safetensors";

// The 8-byte little-endian length, spelled out byte by byte.
std::string length_bytes(uint64_t length) {
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(char((length >> (8 * i)) & 0xff));
  return out;
}

// A file of `header` (unpadded, as some writers leave it) followed by `data`.
std::string file_bytes(const std::string& header, const std::string& data = "") {
  return length_bytes(header.size()) + header + data;
}

// One header entry, as text.
std::string entry(const std::string& dtype, const std::string& shape, uint64_t begin, uint64_t end) {
  return R"({"dtype":")" + dtype + R"(","shape":)" + shape + R"(,"data_offsets":[)" + std::to_string(begin) + "," +
         std::to_string(end) + "]}";
}

// Expects parse_safetensors to reject `bytes` with a message that starts with the file name and
// contains `what`.
void expect_rejected(const std::string& bytes, const std::string& what) {
  try {
    parse_safetensors(bytes, kFile);
    ADD_FAILURE() << "accepted; expected '" << what << "'";
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind(kFile + ": ", 0), 0u) << "message does not start with the file name: " << message;
    EXPECT_NE(message.find(what), std::string::npos) << "message lacks '" << what << "': " << message;
  }
}

// Bitwise equality of two contiguous tensors.
void expect_same_tensor(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.dtype(), b.dtype());
  ASSERT_EQ(a.shape(), b.shape());
  EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.nbytes()), 0);
}

class SafetensorsFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("pure16_safetensors_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(SafetensorsFiles, EveryFloatDtypeAndAnIntegerScalarRoundTrip) {
  // Subnormals, signed zero, fp16's largest finite value and values that round in fp16 and bf16.
  const std::vector<double> values = {0.0, -0.0, 1.0, -2.5, 65504.0, 6e-8, 3.0e-5, 1.0 / 3.0, 1e4, -7.75, 0.1, 42.0};
  SafetensorsFile contents;
  std::vector<Tensor> originals;
  for (DType dtype : {DType::f16, DType::bf16, DType::f32, DType::f64}) {
    originals.push_back(Tensor::from_doubles(values, {3, 4}, dtype));
    contents.tensors.push_back(to_stored("layer." + std::string(dtype_name(dtype)), originals.back()));
  }
  StoredTensor step{"step", "I64", {}, std::string(8, '\0')};
  const int64_t step_value = -1234567890123;
  std::memcpy(step.data.data(), &step_value, 8);
  contents.tensors.push_back(step);
  contents.metadata = {{"format", "pt"}, {"epoch", "3"}};

  const fs::path path = dir_ / "model.safetensors";
  write_safetensors(path, contents);
  const SafetensorsFile read = read_safetensors(path);

  EXPECT_EQ(read.metadata, contents.metadata);
  ASSERT_EQ(read.tensors.size(), contents.tensors.size());
  for (size_t i = 0; i < contents.tensors.size(); ++i) {
    EXPECT_EQ(read.tensors[i].name, contents.tensors[i].name);
    EXPECT_EQ(read.tensors[i].dtype, contents.tensors[i].dtype);
    EXPECT_EQ(read.tensors[i].shape, contents.tensors[i].shape);
    EXPECT_EQ(read.tensors[i].data, contents.tensors[i].data);
  }
  for (size_t i = 0; i < originals.size(); ++i) {
    const StoredTensor* stored = read.find(contents.tensors[i].name);
    ASSERT_NE(stored, nullptr);
    expect_same_tensor(from_stored(*stored, path.string()), originals[i]);
  }
  EXPECT_EQ(read.find("nothing"), nullptr);
  int64_t read_step = 0;
  std::memcpy(&read_step, read.find("step")->data.data(), 8);
  EXPECT_EQ(read_step, step_value);
  EXPECT_EQ(read.find("step")->shape, std::vector<int64_t>{});
}

TEST_F(SafetensorsFiles, ViewsAreStoredContiguously) {
  const Tensor matrix = Tensor::from_doubles({1, 2, 3, 4, 5, 6}, {2, 3}, DType::f32);
  const StoredTensor stored = to_stored("t", matrix.transpose(0, 1));
  EXPECT_EQ(stored.shape, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(from_stored(stored, kFile).to_doubles(), (std::vector<double>{1, 4, 2, 5, 3, 6}));
  const StoredTensor row = to_stored("row", matrix.slice(0, 1, 2));
  EXPECT_EQ(from_stored(row, kFile).to_doubles(), (std::vector<double>{4, 5, 6}));
}

// The bytes of a small file, spelled out without our writer: the length, the header as the
// reference implementation writes it, space padding to 8 bytes, then the data.
TEST(SafetensorsLayout, WriterProducesTheFormatByteForByte) {
  const std::string header =
      R"({"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("b":{"dtype":"F16","shape":[],"data_offsets":[8,10]}})";
  const std::string padding((8 - header.size() % 8) % 8, ' ');
  // 1.0f = 0x3f800000, -2.0f = 0xc0000000, fp16 1.0 = 0x3c00, each little-endian.
  const std::string data("\x00\x00\x80\x3f\x00\x00\x00\xc0\x00\x3c", 10);
  const std::string expected = length_bytes(header.size() + padding.size()) + header + padding + data;

  SafetensorsFile contents;
  contents.metadata = {{"format", "pt"}};
  contents.tensors.push_back(to_stored("w", Tensor::from_doubles({1.0, -2.0}, {2}, DType::f32)));
  contents.tensors.push_back(to_stored("b", Tensor::from_doubles({1.0}, {}, DType::f16)));
  const std::string written = serialize_safetensors(contents);
  EXPECT_EQ(written, expected);
  EXPECT_EQ((8 + header.size() + padding.size()) % 8, 0u);

  const SafetensorsFile read = parse_safetensors(expected, kFile);
  ASSERT_EQ(read.tensors.size(), 2u);
  EXPECT_EQ(from_stored(read.tensors[0], kFile).to_doubles(), (std::vector<double>{1.0, -2.0}));
  EXPECT_EQ(from_stored(read.tensors[1], kFile).to_doubles(), (std::vector<double>{1.0}));
  EXPECT_EQ(read.metadata.at("format"), "pt");
}

TEST(SafetensorsLayout, ReaderAcceptsAnyKeyOrderSpacingAndNoPadding) {
  // Keys in another order than the data, whitespace inside, a length not a multiple of 8,
  // tensors of zero elements (one at the very end) and an empty metadata map.
  const std::string header = "{ \"z\" : {\"data_offsets\":[0,2], \"shape\":[1], \"dtype\":\"BF16\"},\n"
                             "  \"a\":" + entry("U8", "[3]", 2, 5) + ", \"empty\":" + entry("F64", "[0,7]", 5, 5) +
                             ", \"__metadata__\": {} }";
  ASSERT_NE(header.size() % 8, 0u);
  const SafetensorsFile read = parse_safetensors(file_bytes(header, std::string("\x80\x3f" "abc", 5)), kFile);
  ASSERT_EQ(read.tensors.size(), 3u);
  // In the order of their data.
  EXPECT_EQ(read.tensors[0].name, "z");
  EXPECT_EQ(read.tensors[1].name, "a");
  EXPECT_EQ(read.tensors[2].name, "empty");
  EXPECT_EQ(from_stored(read.tensors[0], kFile).to_doubles(), (std::vector<double>{1.0}));
  EXPECT_EQ(read.tensors[1].data, "abc");
  EXPECT_EQ(read.tensors[2].shape, (std::vector<int64_t>{0, 7}));
  EXPECT_TRUE(read.metadata.empty());

  const SafetensorsFile empty = parse_safetensors(file_bytes("{}"), kFile);
  EXPECT_TRUE(empty.tensors.empty());
}

TEST(SafetensorsDTypes, SizesAndNames) {
  const std::pair<const char*, size_t> sizes[] = {{"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"I16", 2}, {"U16", 2},
                                                  {"F16", 2},  {"BF16", 2}, {"I32", 4}, {"U32", 4}, {"F32", 4},
                                                  {"F64", 8},  {"I64", 8},  {"U64", 8}};
  for (const auto& [name, size] : sizes) EXPECT_EQ(stored_dtype_size(name), size) << name;
  EXPECT_THROW(stored_dtype_size("f32"), std::invalid_argument);
  EXPECT_THROW(stored_dtype_size("F17"), std::invalid_argument);
  EXPECT_EQ(stored_dtype_name(DType::f16), "F16");
  EXPECT_EQ(stored_dtype_name(DType::bf16), "BF16");
  EXPECT_EQ(stored_dtype_name(DType::f32), "F32");
  EXPECT_EQ(stored_dtype_name(DType::f64), "F64");
  EXPECT_EQ(stored_tensor_bytes("F32", {2, 3}), 24u);
  EXPECT_EQ(stored_tensor_bytes("I64", {}), 8u);
  EXPECT_THROW(stored_tensor_bytes("F32", {2, -3}), std::invalid_argument);
  EXPECT_THROW(stored_tensor_bytes("U8", {int64_t(1) << 32, int64_t(1) << 32}), std::invalid_argument);
  EXPECT_THROW(stored_tensor_bytes("F64", {int64_t(1) << 61}), std::invalid_argument);  // 2^64 bytes
}

TEST(SafetensorsRejects, EveryTruncation) {
  SafetensorsFile contents;
  contents.metadata = {{"k", "v"}};
  contents.tensors.push_back(to_stored("a", Tensor::from_doubles({1, 2, 3}, {3}, DType::f32)));
  contents.tensors.push_back(to_stored("b", Tensor::from_doubles({4, 5}, {2}, DType::f16)));
  const std::string bytes = serialize_safetensors(contents);
  ASSERT_NO_THROW(parse_safetensors(bytes, kFile));
  for (size_t n = 0; n < bytes.size(); ++n) {
    SCOPED_TRACE(n);
    expect_rejected(bytes.substr(0, n), n < 8 ? "fewer than the 8 of the header length"
                                              : (n < bytes.size() - 16 ? "runs past the end of the file"
                                                                       : "run past the end of the data"));
  }
}

TEST(SafetensorsRejects, HeaderLength) {
  expect_rejected(length_bytes(100'000'001) + "{}", "header length 100000001 exceeds the limit of 100000000 bytes");
  expect_rejected(length_bytes(std::numeric_limits<uint64_t>::max()) + "{}", "exceeds the limit");
  expect_rejected(length_bytes(1000) + "{}", "header length 1000 runs past the end of the file (2 bytes follow it)");
  expect_rejected(length_bytes(0), "not a JSON object");
}

TEST(SafetensorsRejects, HeadersThatAreNotAJsonObject) {
  expect_rejected(file_bytes("[1, 2]"), "header is not a JSON object");
  expect_rejected(file_bytes("\"text\""), "header is not a JSON object");
  expect_rejected(file_bytes(" {}"), "header is not a JSON object");
  expect_rejected(file_bytes("{"), "header is not valid JSON");
  expect_rejected(file_bytes("{} {}"), "header is not valid JSON");
  expect_rejected(file_bytes("{\"a\": }"), "header is not valid JSON");
  expect_rejected(file_bytes("{\"\xff\": 1}"), "header is not valid JSON");  // not UTF-8
  expect_rejected(file_bytes("{\"a\": [[[[[[[[1]]]]]]]]}"), "nests values deeper");
}

TEST(SafetensorsRejects, MalformedEntries) {
  expect_rejected(file_bytes(R"({"a": 5})"), "tensor \"a\": entry is a number, not an object");
  expect_rejected(file_bytes(R"({"a": {"shape":[1],"data_offsets":[0,1]}})", "x"), "tensor \"a\": no \"dtype\"");
  expect_rejected(file_bytes(R"({"a": {"dtype":"U8","data_offsets":[0,1]}})", "x"), "tensor \"a\": no \"shape\"");
  expect_rejected(file_bytes(R"({"a": {"dtype":"U8","shape":[1]}})", "x"), "tensor \"a\": no \"data_offsets\"");
  expect_rejected(file_bytes(R"({"a": {"dtype":"U8","shape":[1],"data_offsets":[0,1],"extra":0}})", "x"),
                  "tensor \"a\": unexpected key \"extra\"");
  expect_rejected(file_bytes(R"({"a": {"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}})", "x"),
                  "key \"dtype\" appears twice in the entry of \"a\"");
  expect_rejected(file_bytes(R"({"a":)" + entry("F17", "[1]", 0, 1) + "}", "x"), "unknown dtype \"F17\"");
  expect_rejected(file_bytes(R"({"a": {"dtype":1,"shape":[1],"data_offsets":[0,1]}})", "x"), "dtype is a number");
  expect_rejected(file_bytes(R"({"a":)" + entry("U8", "7", 0, 1) + "}", "x"), "shape is a number, not a list");
  expect_rejected(file_bytes(R"({"a": {"dtype":"U8","shape":[1],"data_offsets":[0,1,1]}})", "x"),
                  "data_offsets is not a list of two non-negative integers");
  expect_rejected(file_bytes(R"({"a": {"dtype":"U8","shape":[1],"data_offsets":[-1,1]}})", "x"),
                  "data_offsets is not a list of two non-negative integers");
}

TEST(SafetensorsRejects, DuplicateNames) {
  expect_rejected(file_bytes(R"({"a":)" + entry("U8", "[1]", 0, 1) + R"(,"a":)" + entry("U8", "[1]", 1, 2) + "}", "xy"),
                  "name \"a\" appears twice in the header");
  expect_rejected(file_bytes(R"({"__metadata__":{},"__metadata__":{}})"), "name \"__metadata__\" appears twice");
}

TEST(SafetensorsRejects, OffsetsThatDoNotTileTheData) {
  expect_rejected(file_bytes(R"({"a":)" + entry("U8", "[0]", 4, 3) + "}", "xxxx"),
                  "tensor \"a\": data_offsets [4, 3] begin after they end");
  expect_rejected(file_bytes(R"({"a":)" + entry("F32", "[2]", 0, 8) + "}", "xxxx"),
                  "data_offsets [0, 8] run past the end of the data (4 bytes)");
  expect_rejected(file_bytes(R"({"a":)" + entry("F32", "[2]", 0, 8) + R"(,"b":)" + entry("F32", "[2]", 4, 12) + "}",
                             std::string(12, 'x')),
                  "tensor \"b\" (data_offsets [4, 12]) overlaps tensor \"a\", which ends at 8");
  // A tensor of no bytes inside another one overlaps it too.
  expect_rejected(file_bytes(R"({"a":)" + entry("F32", "[2]", 0, 8) + R"(,"z":)" + entry("F32", "[0]", 4, 4) + "}",
                             std::string(8, 'x')),
                  "tensor \"z\" (data_offsets [4, 4]) overlaps tensor \"a\"");
  expect_rejected(file_bytes(R"({"a":)" + entry("F32", "[2]", 0, 8) + R"(,"b":)" + entry("F32", "[2]", 12, 20) + "}",
                             std::string(20, 'x')),
                  "tensor \"b\" (data_offsets [12, 20]) leaves a gap of 4 bytes in the data after offset 8");
  expect_rejected(file_bytes(R"({"a":)" + entry("F32", "[2]", 4, 12) + "}", std::string(12, 'x')),
                  "leaves a gap of 4 bytes in the data after offset 0");
  expect_rejected(file_bytes(R"({"a":)" + entry("F32", "[2]", 0, 8) + "}", std::string(12, 'x')),
                  "the last 4 of the 12 bytes of data belong to no tensor");
  expect_rejected(file_bytes("{}", "abc"), "the last 3 of the 3 bytes of data belong to no tensor");
}

TEST(SafetensorsRejects, ShapesAndByteCounts) {
  expect_rejected(file_bytes(R"({"a":)" + entry("F32", "[3]", 0, 8) + "}", std::string(8, 'x')),
                  "tensor \"a\": its shape of F32 needs 12 bytes, its data_offsets [0, 8] hold 8");
  expect_rejected(file_bytes(R"({"a":)" + entry("F32", "[2, -1]", 0, 0) + "}"), "shape holds -1, not a non-negative");
  expect_rejected(file_bytes(R"({"a":)" + entry("F32", "[1.5]", 0, 0) + "}"), "shape holds 1.5, not a non-negative");
  expect_rejected(file_bytes(R"({"a":)" + entry("F32", "[\"2\"]", 0, 0) + "}"), "shape holds \"2\"");
  expect_rejected(file_bytes(R"({"a":)" + entry("U8", "[9223372036854775808]", 0, 0) + "}"),
                  "dimension 9223372036854775808 does not fit in int64");
  // The element count overflows even though a later dimension is 0 (as the reference reader).
  expect_rejected(file_bytes(R"({"a":)" + entry("U8", "[4294967296, 4294967296, 0]", 0, 0) + "}"),
                  "the element count of its shape (3 dimensions) overflows int64");
  // 2^61 elements of 8 bytes: the byte count overflows.
  expect_rejected(file_bytes(R"({"a":)" + entry("F64", "[2305843009213693952]", 0, 0) + "}"), "overflows int64");
}

TEST(SafetensorsRejects, MetadataThatIsNotAMapOfStrings) {
  expect_rejected(file_bytes(R"({"__metadata__": {"epoch": 3}})"), "\"__metadata__\" maps \"epoch\" to a number");
  expect_rejected(file_bytes(R"({"__metadata__": {"a": "b", "c": null}})"), "maps \"c\" to a null, not a string");
  expect_rejected(file_bytes(R"({"__metadata__": ["a"]})"), "\"__metadata__\" is an array, not a map");
  expect_rejected(file_bytes(R"({"__metadata__": {"a": {"b": "c"}}})"), "maps \"a\" to an object");
}

TEST(SafetensorsRejects, HostileNamesAreQuotedAndCutShort) {
  try {
    parse_safetensors(file_bytes("{\"evil\\n\\\"name\\\"" + std::string(1000, 'x') + "\": 5}"), kFile);
    ADD_FAILURE() << "accepted";
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(R"("evil\x0a\"name\"xxx)"), std::string::npos) << message;
    EXPECT_NE(message.find("...\""), std::string::npos) << message;
    EXPECT_LT(message.size(), 200u) << message;
  }
}

TEST(SafetensorsFromStored, RejectsNonFiniteValuesNamingTheTensorAndIndex) {
  for (DType dtype : {DType::f16, DType::bf16, DType::f32, DType::f64}) {
    SCOPED_TRACE(dtype_name(dtype));
    for (double bad : {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                       -std::numeric_limits<double>::infinity()}) {
      std::vector<double> values(8, 1.0);
      values[5] = bad;
      values[7] = std::numeric_limits<double>::quiet_NaN();  // only the first is reported
      const StoredTensor stored = to_stored("conv1.weight", Tensor::from_doubles(values, {2, 4}, dtype));
      try {
        from_stored(stored, kFile);
        ADD_FAILURE() << "accepted " << bad;
      } catch (const std::runtime_error& e) {
        const std::string expected = kFile + ": tensor \"conv1.weight\": holds " +
                                     (std::isnan(bad) ? "NaN" : "infinity") + " at index 5 ([1, 1] of shape [2, 4])";
        EXPECT_EQ(std::string(e.what()), expected);
      }
      const Tensor kept = from_stored(stored, kFile, /*require_finite=*/false);
      EXPECT_EQ(std::isnan(kept.item(5)), std::isnan(bad));
      EXPECT_TRUE(std::isnan(kept.item(7)));
    }
  }
}

TEST(SafetensorsFromStored, RejectsWhatIsNotAFloatTensor) {
  auto expect_error = [](const StoredTensor& stored, const std::string& what) {
    try {
      from_stored(stored, kFile);
      ADD_FAILURE() << "accepted; expected '" << what << "'";
    } catch (const std::runtime_error& e) {
      const std::string message = e.what();
      EXPECT_EQ(message.rfind(kFile + ": tensor \"" + stored.name + "\": ", 0), 0u) << message;
      EXPECT_NE(message.find(what), std::string::npos) << message;
    }
  };
  expect_error({"step", "I64", {}, std::string(8, '\0')}, "dtype \"I64\" is not a floating-point dtype");
  expect_error({"w", "F32", {3}, std::string(8, '\0')}, "holds 8 bytes, its shape [3] of F32 needs 12");
  expect_error({"w", "F32", {-3}, ""}, "negative dimension -3");
}

TEST_F(SafetensorsFiles, SerializeRejectsInconsistentContents) {
  auto contents_of = [](std::vector<StoredTensor> tensors) {
    SafetensorsFile contents;
    contents.tensors = std::move(tensors);
    return contents;
  };
  const StoredTensor ok{"a", "U8", {2}, "xy"};
  EXPECT_THROW(serialize_safetensors(contents_of({ok, ok})), std::invalid_argument);
  EXPECT_THROW(serialize_safetensors(contents_of({{"__metadata__", "U8", {2}, "xy"}})), std::invalid_argument);
  EXPECT_THROW(serialize_safetensors(contents_of({{"a", "U8", {3}, "xy"}})), std::invalid_argument);
  EXPECT_THROW(serialize_safetensors(contents_of({{"a", "Q8", {2}, "xy"}})), std::invalid_argument);
  EXPECT_THROW(serialize_safetensors(contents_of({{"a\xff", "U8", {2}, "xy"}})), std::invalid_argument);
  EXPECT_NO_THROW(serialize_safetensors(contents_of({ok})));
  // Nothing is written when the contents are rejected.
  EXPECT_THROW(write_safetensors(dir_ / "bad.safetensors", contents_of({ok, ok})), std::invalid_argument);
  EXPECT_FALSE(fs::exists(dir_ / "bad.safetensors"));
}

TEST_F(SafetensorsFiles, WriteReplacesAtomicallyAndReadNamesThePath) {
  const fs::path path = dir_ / "checkpoint.safetensors";
  SafetensorsFile first;
  first.tensors.push_back({"a", "U8", {1}, "1"});
  write_safetensors(path, first);
  SafetensorsFile second;
  second.tensors.push_back({"b", "U8", {2}, "22"});
  write_safetensors(path, second);
  EXPECT_EQ(read_safetensors(path).tensors.at(0).name, "b");
  // No temporary file is left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);

  auto expect_read_error = [](const fs::path& file, const std::string& what) {
    try {
      read_safetensors(file);
      ADD_FAILURE() << "read " << file;
    } catch (const std::runtime_error& e) {
      const std::string message = e.what();
      EXPECT_EQ(message.rfind(file.string() + ": ", 0), 0u) << message;
      EXPECT_NE(message.find(what), std::string::npos) << message;
    }
  };
  expect_read_error(dir_ / "missing.safetensors", "no such file");
  expect_read_error(dir_, "directory");
  std::ofstream(dir_ / "short.safetensors") << "abc";
  expect_read_error(dir_ / "short.safetensors", "fewer than the 8 of the header length");
  EXPECT_THROW(write_safetensors(dir_ / "no" / "such" / "dir.safetensors", second), std::runtime_error);
}

}  // namespace
}  // namespace pure16::io
