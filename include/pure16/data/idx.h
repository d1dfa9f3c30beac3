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
#include <string>
#include <string_view>
#include <vector>

namespace pure16::data {

struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> values;  // prod(dims) values, row-major
};

/// Parses the bytes of an unsigned-byte IDX file; `name` names it in errors. Throws
/// std::runtime_error "idx file <name>: ..." when the magic number or type code is wrong, when
/// it has no dimensions or more than 16, or when its length differs from what the header says
/// (truncated header or payload, trailing bytes). The header is checked against the byte count
/// before anything is allocated.
IdxArray parse_idx(std::string_view bytes, const std::string& name);

/// Reads and parses an unsigned-byte IDX file; errors as parse_idx's, and for a file that is
/// missing or unreadable.
IdxArray read_idx(const std::filesystem::path& file);

/// Writes `array` as an unsigned-byte IDX file (the inverse of read_idx; for tests and tools).
/// Throws std::invalid_argument when values.size() != prod(dims) or a dimension does not fit
/// the format, std::runtime_error naming the file when it cannot be written.
void write_idx(const std::filesystem::path& file, const IdxArray& array);

}  // namespace pure16::data
