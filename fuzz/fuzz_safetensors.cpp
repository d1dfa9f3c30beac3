// parse_safetensors on arbitrary bytes: it must return or throw std::runtime_error (any other
// exception, a crash or a sanitizer report is a bug), and what it returns must be a file the
// writer can write and the reader read back unchanged.
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "pure16/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pure16::io;
  SafetensorsFile contents;
  try {
    contents = parse_safetensors(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz input");
  } catch (const std::runtime_error&) {
    return 0;
  }
  if (parse_safetensors(serialize_safetensors(contents), "rewritten fuzz input") != contents) __builtin_trap();
  return 0;
}
