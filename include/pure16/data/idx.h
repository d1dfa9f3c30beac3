// The IDX file format of MNIST (http://yann.lecun.com/exdb/mnist/): a big-endian header, then
// the values row-major.
//
//   bytes 0-1  zero
//   byte  2    type code (0x08 = unsigned byte, the only one supported here)
//   byte  3    number of dimensions n
//   4 * n      the dimensions, each a big-endian uint32
//   ...        prod(dims) values
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

namespace pure16::data {

struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> values;  // prod(dims) values, row-major
};

/// Reads an unsigned-byte IDX file. Throws std::runtime_error naming the file when it is
/// missing or unreadable, when the magic number or type code is wrong, when it has no
/// dimensions, or when its length differs from what the header says (truncated header or
/// payload, trailing bytes).
IdxArray read_idx(const std::filesystem::path& file);

/// Writes `array` as an unsigned-byte IDX file (the inverse of read_idx; for tests and tools).
/// Throws std::invalid_argument when values.size() != prod(dims) or a dimension does not fit
/// the format, std::runtime_error naming the file when it cannot be written.
void write_idx(const std::filesystem::path& file, const IdxArray& array);

}  // namespace pure16::data
