// read_idx / write_idx: the format, and a clear error naming the file for every malformed input.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "pure16/data/idx.h"

namespace pure16::data {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test (ctest runs the tests of this file in parallel processes).
class IdxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("pure16_idx_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write_bytes(const std::string& name, const std::vector<uint8_t>& bytes) {
    const fs::path file = dir_ / name;
    std::ofstream out(file, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    return file;
  }

  fs::path dir_;
};

// A valid header for `dims`, then `payload` bytes 0, 1, 2, ...
std::vector<uint8_t> idx_bytes(const std::vector<uint32_t>& dims, size_t payload, uint8_t type = 0x08) {
  std::vector<uint8_t> bytes{0, 0, type, uint8_t(dims.size())};
  for (uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(uint8_t(d >> shift));
  for (size_t i = 0; i < payload; ++i) bytes.push_back(uint8_t(i));
  return bytes;
}

// Expects read_idx(file) to throw a std::runtime_error whose message names the file and
// contains `what`.
void expect_idx_error(const fs::path& file, const std::string& what) {
  try {
    read_idx(file);
    ADD_FAILURE() << "read_idx(" << file << ") did not throw; expected '" << what << "'";
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(file.string()), std::string::npos) << "message does not name the file: " << message;
    EXPECT_NE(message.find(what), std::string::npos) << "message lacks '" << what << "': " << message;
  }
}

TEST_F(IdxTest, ReadsBigEndianHeaderAndRowMajorValues) {
  // dims 2 x 3 spelled out byte by byte; 0x0102 as a dimension checks the byte order.
  const fs::path file = write_bytes("a.idx", {0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 10, 11, 12, 13, 14, 15});
  const IdxArray a = read_idx(file);
  EXPECT_EQ(a.dims, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a.values, (std::vector<uint8_t>{10, 11, 12, 13, 14, 15}));

  const IdxArray b = read_idx(write_bytes("b.idx", idx_bytes({0x0102}, 0x0102)));
  EXPECT_EQ(b.dims, (std::vector<int64_t>{258}));
  ASSERT_EQ(b.values.size(), 258u);
  EXPECT_EQ(b.values[257], 1);
}

TEST_F(IdxTest, WriteThenReadRoundTrips) {
  IdxArray a;
  a.dims = {3, 4, 5};
  for (int i = 0; i < 60; ++i) a.values.push_back(uint8_t(i * 7));
  write_idx(dir_ / "x.idx", a);
  EXPECT_EQ(fs::file_size(dir_ / "x.idx"), 4u + 12u + 60u);
  const IdxArray b = read_idx(dir_ / "x.idx");
  EXPECT_EQ(b.dims, a.dims);
  EXPECT_EQ(b.values, a.values);

  IdxArray empty;
  empty.dims = {0, 28, 28};
  write_idx(dir_ / "empty.idx", empty);
  const IdxArray c = read_idx(dir_ / "empty.idx");
  EXPECT_EQ(c.dims, empty.dims);
  EXPECT_TRUE(c.values.empty());
}

TEST_F(IdxTest, WriteRejectsInconsistentArrays) {
  IdxArray a;
  a.dims = {2, 2};
  a.values = {1, 2, 3};
  EXPECT_THROW(write_idx(dir_ / "bad.idx", a), std::invalid_argument);
  a.dims = {};
  a.values = {};
  EXPECT_THROW(write_idx(dir_ / "bad.idx", a), std::invalid_argument);
  a.dims = {-1};
  EXPECT_THROW(write_idx(dir_ / "bad.idx", a), std::invalid_argument);
  a.dims = {1};
  a.values = {7};
  EXPECT_THROW(write_idx(dir_ / "no-such-dir" / "a.idx", a), std::runtime_error);
}

TEST_F(IdxTest, MissingFile) { expect_idx_error(dir_ / "nothing-here-idx1-ubyte", "no such file"); }

TEST_F(IdxTest, DirectoryInsteadOfFile) { expect_idx_error(dir_, "directory"); }

TEST_F(IdxTest, TruncatedHeader) {
  expect_idx_error(write_bytes("empty", {}), "truncated header");
  expect_idx_error(write_bytes("three-bytes", {0, 0, 8}), "truncated header");
  // Three dimensions announced, two present.
  expect_idx_error(write_bytes("two-of-three", {0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 1}), "truncated header");
  expect_idx_error(write_bytes("partial-dim", {0, 0, 8, 1, 0, 0}), "truncated header");
}

TEST_F(IdxTest, WrongMagicNumber) {
  std::vector<uint8_t> bytes = idx_bytes({4}, 4);
  bytes[0] = 0x1f;  // e.g. a gzip file: 1f 8b 08 ...
  bytes[1] = 0x8b;
  expect_idx_error(write_bytes("gzipped", bytes), "bad magic number 0x1f8b0801");
  bytes[0] = 0;
  bytes[1] = 1;
  expect_idx_error(write_bytes("second-byte", bytes), "bad magic number");
}

TEST_F(IdxTest, UnsupportedTypeCode) {
  expect_idx_error(write_bytes("floats", idx_bytes({4}, 16, 0x0D)), "unsupported type code 0x0d (float)");
  expect_idx_error(write_bytes("signed", idx_bytes({4}, 4, 0x09)), "unsupported type code 0x09");
  expect_idx_error(write_bytes("garbage", idx_bytes({4}, 4, 0x42)), "unsupported type code 0x42");
}

TEST_F(IdxTest, WrongNumberOfDimensions) {
  expect_idx_error(write_bytes("zero-dims", {0, 0, 8, 0}), "wrong number of dimensions 0");
  expect_idx_error(write_bytes("many-dims", idx_bytes(std::vector<uint32_t>(17, 1), 1)), "wrong number of dimensions 17");
}

TEST_F(IdxTest, TruncatedPayload) {
  expect_idx_error(write_bytes("short", idx_bytes({10, 28, 28}, 10 * 28 * 28 - 1)), "truncated");
  expect_idx_error(write_bytes("no-data", idx_bytes({5}, 0)), "need 5 bytes of data, the file has 0");
  // A header whose dimensions multiply past 2^64 is a truncated file, not an overflow.
  expect_idx_error(write_bytes("huge", idx_bytes({0xffffffffu, 0xffffffffu, 0xffffffffu}, 3)), "truncated");
}

TEST_F(IdxTest, ParsesFromMemoryNamingTheSource) {
  const std::vector<uint8_t> bytes = idx_bytes({2, 2}, 4);
  const IdxArray a = parse_idx(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), "in memory");
  EXPECT_EQ(a.dims, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(a.values, (std::vector<uint8_t>{0, 1, 2, 3}));
  try {
    parse_idx("\x1f\x8b", "shard 3");
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "idx file shard 3: truncated header: 2 bytes, the magic number needs 4");
  }
}

TEST_F(IdxTest, EveryTruncationIsAnError) {
  const std::vector<uint8_t> bytes = idx_bytes({3, 2, 2}, 12);
  for (size_t n = 0; n < bytes.size(); ++n) {
    SCOPED_TRACE(n);
    expect_idx_error(write_bytes("cut", std::vector<uint8_t>(bytes.begin(), bytes.begin() + ptrdiff_t(n))),
                     n < 16 ? "truncated header" : "truncated: dimensions 3x2x2 need 12 bytes");
  }
}

TEST_F(IdxTest, HugeDimensionsAreComparedWithTheFileSizeBeforeAllocating) {
  // 2^31 x 2^31 one-byte values (4 EiB) claimed by a 16-byte file: a vector of that size would
  // throw std::length_error, not the file error.
  expect_idx_error(write_bytes("huge", idx_bytes({1u << 31, 1u << 31}, 4)),
                   "dimensions 2147483648x2147483648 need 4611686018427387904 bytes of data, the file has 4");
}

TEST_F(IdxTest, NotARegularFile) { expect_idx_error("/dev/null", "not a regular file"); }

TEST_F(IdxTest, TrailingGarbage) {
  expect_idx_error(write_bytes("long", idx_bytes({2, 3}, 7)), "trailing garbage: 1 bytes");
  expect_idx_error(write_bytes("zero-size-long", idx_bytes({0}, 1)), "trailing garbage");
}

}  // namespace
}  // namespace pure16::data
