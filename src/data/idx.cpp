#include "pure16/data/idx.h"

#include <cstdio>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <string>
#include <system_error>

namespace pure16::data {
namespace {

constexpr uint8_t kUnsignedByte = 0x08;
// Far more than any real IDX file holds; keeps the header from describing absurd arrays.
constexpr int kMaxDims = 16;

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& what) {
  throw std::runtime_error("idx file " + file.string() + ": " + what);
}

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

IdxArray read_idx(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) fail(file, "no such file");
  if (std::filesystem::is_directory(file, ec)) fail(file, "is a directory, not a file");
  const uintmax_t file_size = std::filesystem::file_size(file, ec);
  if (ec) fail(file, "cannot determine its size: " + ec.message());
  std::ifstream in(file, std::ios::binary);
  if (!in) fail(file, "cannot open it for reading");

  // Header: magic (4 bytes), then one big-endian uint32 per dimension.
  unsigned char magic[4];
  if (file_size < 4) fail(file, "truncated header: " + std::to_string(file_size) + " bytes, the magic number needs 4");
  if (!in.read(reinterpret_cast<char*>(magic), 4)) fail(file, "read error in the header");
  if (magic[0] != 0 || magic[1] != 0)
    fail(file, "bad magic number " + hex(big_endian_u32(magic), 8) + " (an IDX file starts with two zero bytes)");
  if (magic[2] != kUnsignedByte)
    fail(file, "unsupported type code " + hex(magic[2], 2) + " (" + type_name(magic[2]) +
                   "); only unsigned byte (0x08) is supported");
  const int ndims = magic[3];
  if (ndims == 0 || ndims > kMaxDims)
    fail(file, "wrong number of dimensions " + std::to_string(ndims) + " (expected 1 to " + std::to_string(kMaxDims) + ")");
  const uintmax_t header_size = 4 + 4 * uintmax_t(ndims);
  if (file_size < header_size)
    fail(file, "truncated header: " + std::to_string(file_size) + " bytes, " + std::to_string(ndims) +
                   " dimensions need " + std::to_string(header_size));

  IdxArray array;
  unsigned char dim_bytes[4 * kMaxDims];
  if (!in.read(reinterpret_cast<char*>(dim_bytes), std::streamsize(4 * ndims))) fail(file, "read error in the header");
  // Each dimension is below 2^32, but the product of up to 16 of them can overflow; anything
  // beyond the file's size is rejected below anyway, so saturate instead.
  bool any_zero = false;
  for (int d = 0; d < ndims; ++d) {
    array.dims.push_back(int64_t(big_endian_u32(dim_bytes + 4 * d)));
    any_zero = any_zero || array.dims.back() == 0;
  }
  uintmax_t count = any_zero ? 0 : 1;
  for (int d = 0; d < ndims && count != 0; ++d) {
    const uintmax_t dim = uintmax_t(array.dims[size_t(d)]);
    count = count > std::numeric_limits<uintmax_t>::max() / dim ? std::numeric_limits<uintmax_t>::max() : count * dim;
  }

  const uintmax_t payload = file_size - header_size;
  std::string dims_text;
  for (size_t d = 0; d < array.dims.size(); ++d) {
    if (d > 0) dims_text += 'x';
    dims_text += std::to_string(array.dims[d]);
  }
  if (payload < count)
    fail(file, "truncated: dimensions " + dims_text + " need " + std::to_string(count) + " bytes of data, the file has " +
                   std::to_string(payload));
  if (payload > count)
    fail(file, "trailing garbage: " + std::to_string(payload - count) + " bytes after the " + std::to_string(count) +
                   " bytes of data that dimensions " + dims_text + " describe");

  array.values.resize(size_t(count));
  if (count > 0 && !in.read(reinterpret_cast<char*>(array.values.data()), std::streamsize(count)))
    fail(file, "read error in the data");
  return array;
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
