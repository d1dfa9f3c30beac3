// decode_image (JPEG through libjpeg-turbo, PNG through libpng) on arbitrary bytes: it must
// return or throw std::runtime_error, and what it returns must be an RGB image of its size.
#include <cstdint>
#include <stdexcept>

#include "pure16/data/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pure16::data::Image image;
  try {
    image = pure16::data::decode_image(data, size, "fuzz input");
  } catch (const std::runtime_error&) {
    return 0;
  }
  if (image.channels != 3 || image.height <= 0 || image.width <= 0 ||
      image.pixels.size() != size_t(image.height * image.width * 3))
    __builtin_trap();
  return 0;
}
