// parse_cifar_batch on arbitrary bytes, as CIFAR-10 and as CIFAR-100: it must return or throw
// std::runtime_error, and what it returns must be whole 32x32x3 images with labels in range.
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "pure16/data/cifar.h"

namespace {

void parse(std::string_view bytes, pure16::data::CifarVariant variant, int32_t classes) {
  pure16::data::CifarBatch batch;
  try {
    batch = pure16::data::parse_cifar_batch(bytes, variant, "fuzz input");
  } catch (const std::runtime_error&) {
    return;
  }
  if (batch.labels.empty() || batch.pixels.size() != batch.labels.size() * 32 * 32 * 3) __builtin_trap();
  for (int32_t label : batch.labels)
    if (label < 0 || label >= classes) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  parse(bytes, pure16::data::CifarVariant::cifar10, 10);
  parse(bytes, pure16::data::CifarVariant::cifar100, 100);
  return 0;
}
