#include "pure16/data/idx.h"

#include <cstdio>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <string>

#include "pure16/io/read_file.h"

namespace pure16::data {
namespace {

constexpr uint8_t kUnsignedByte = 0x08;
// Far more than any real IDX file holds; keeps the header from describing absurd arrays.
constexpr int kMaxDims = 16;

std::string hex(uint64_t value, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%0*llx", digits, static_cast<unsigned long long>(value));
  return buf;
}

const char* type_name(uint8_t code) {
  switch (code) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "short";
    case 0x0C: return "int";
    case 0x0D: return "float";
    case 0x0E: return "double";
    default: return "unknown";
  }
}

uint32_t big_endian_u32(const unsigned char* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

}  // namespace

IdxArray parse_idx(std::string_view bytes, const std::string& name) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const uint64_t size = bytes.size();
  const std::string file = "idx file " + name;

  // Header: magic (4 bytes), then one big-endian uint32 per dimension.
  if (size < 4)
    io::fail_reading(file, "truncated header: " + std::to_string(size) + " bytes, the magic number needs 4");
  if (p[0] != 0 || p[1] != 0)
    io::fail_reading(file,
                     "bad magic number " + hex(big_endian_u32(p), 8) + " (an IDX file starts with two zero bytes)");
  if (p[2] != kUnsignedByte)
    io::fail_reading(file, "unsupported type code " + hex(p[2], 2) + " (" + type_name(p[2]) +
                               "); only unsigned byte (0x08) is supported");
  const int ndims = p[3];
  if (ndims == 0 || ndims > kMaxDims)
    io::fail_reading(file, "wrong number of dimensions " + std::to_string(ndims) + " (expected 1 to " +
                               std::to_string(kMaxDims) + ")");
  const uint64_t header_size = 4 + 4 * uint64_t(ndims);
  if (size < header_size)
    io::fail_reading(file, "truncated header: " + std::to_string(size) + " bytes, " + std::to_string(ndims) +
                               " dimensions need " + std::to_string(header_size));

  IdxArray array;
  // Each dimension is below 2^32, but the product of up to 16 of them can overflow; anything
  // beyond the file's size is rejected below anyway, so saturate instead.
  bool any_zero = false;
  for (int d = 0; d < ndims; ++d) {
    array.dims.push_back(int64_t(big_endian_u32(p + 4 + 4 * d)));
    any_zero = any_zero || array.dims.back() == 0;
  }
  uint64_t count = any_zero ? 0 : 1;
  for (int d = 0; d < ndims && count != 0; ++d) {
    const uint64_t dim = uint64_t(array.dims[size_t(d)]);
    count = count > std::numeric_limits<uint64_t>::max() / dim ? std::numeric_limits<uint64_t>::max() : count * dim;
  }

  const uint64_t payload = size - header_size;
  std::string dims_text;
  for (size_t d = 0; d < array.dims.size(); ++d) {
    if (d > 0) dims_text += 'x';
    dims_text += std::to_string(array.dims[d]);
  }
  if (payload < count)
    io::fail_reading(file, "truncated: dimensions " + dims_text + " need " + std::to_string(count) +
                               " bytes of data, the file has " + std::to_string(payload));
  if (payload > count)
    io::fail_reading(file, "trailing garbage: " + std::to_string(payload - count) + " bytes after the " +
                               std::to_string(count) + " bytes of data that dimensions " + dims_text + " describe");

  array.values.assign(p + header_size, p + size);
  return array;
}

IdxArray read_idx(const std::filesystem::path& file) {
  return parse_idx(io::read_file(file, "idx file " + file.string()), file.string());
}

void write_idx(const std::filesystem::path& file, const IdxArray& array) {
  if (array.dims.empty() || array.dims.size() > size_t(kMaxDims))
    throw std::invalid_argument("write_idx " + file.string() + ": " + std::to_string(array.dims.size()) +
                                " dimensions (expected 1 to " + std::to_string(kMaxDims) + ")");
  uint64_t count = 1;
  std::string header{'\0', '\0', char(kUnsignedByte), char(array.dims.size())};
  for (int64_t dim : array.dims) {
    if (dim < 0 || dim > int64_t(std::numeric_limits<uint32_t>::max()))
      throw std::invalid_argument("write_idx " + file.string() + ": dimension " + std::to_string(dim) +
                                  " does not fit an unsigned 32-bit field");
    count *= uint64_t(dim);
    for (int shift = 24; shift >= 0; shift -= 8) header.push_back(char((uint64_t(dim) >> shift) & 0xff));
  }
  if (count != array.values.size())
    throw std::invalid_argument("write_idx " + file.string() + ": " + std::to_string(array.values.size()) +
                                " values for " + std::to_string(count) + " elements");
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("idx file " + file.string() + ": cannot open it for writing");
  out.write(header.data(), std::streamsize(header.size()));
  out.write(reinterpret_cast<const char*>(array.values.data()), std::streamsize(array.values.size()));
  out.close();
  if (!out) throw std::runtime_error("idx file " + file.string() + ": write failed");
}

}  // namespace pure16::data
