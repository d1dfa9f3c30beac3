// parse_idx on arbitrary bytes: it must return or throw std::runtime_error, and what it returns
// must hold exactly prod(dims) values.
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "pure16/data/idx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pure16::data::IdxArray array;
  try {
    array = pure16::data::parse_idx(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz input");
  } catch (const std::runtime_error&) {
    return 0;
  }
  uint64_t count = 1;
  for (int64_t dim : array.dims) count *= uint64_t(dim);
  if (array.dims.empty() || count != array.values.size()) __builtin_trap();
  return 0;
}
