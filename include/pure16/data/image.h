// 8-bit images: decoding JPEG and PNG files, writing them, and the interface of a labelled
// image dataset (CIFAR in memory, an image folder decoded lazily).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace pure16::data {

/// An 8-bit image, HWC: pixel (y, x) channel c is pixels[(y * width + x) * channels + c].
struct Image {
  int64_t height = 0, width = 0, channels = 0;
  std::vector<uint8_t> pixels;

  Image() = default;
  /// A zero-filled (black) image.
  Image(int64_t height, int64_t width, int64_t channels);
  uint8_t& at(int64_t y, int64_t x, int64_t c) { return pixels[size_t((y * width + x) * channels + c)]; }
  const uint8_t& at(int64_t y, int64_t x, int64_t c) const { return pixels[size_t((y * width + x) * channels + c)]; }
  bool operator==(const Image&) const = default;
};

/// Decodes a JPEG or PNG file, recognized by its first bytes (not its name), into 3-channel
/// RGB: gray is replicated, alpha is dropped, palettes are expanded and 16-bit samples are
/// scaled to 8 bits; CMYK JPEGs are converted. Throws std::runtime_error naming the file and
/// the reason for a missing or unreadable file, an unknown format, and corrupt or truncated
/// data (the decoders' own messages are passed on; neither decoder ever exits the process).
Image decode_image(const std::filesystem::path& path);
/// The same on an encoded image in memory; `source` names it in error messages.
Image decode_image(const uint8_t* data, size_t size, const std::string& source);

/// Writes `image` (1 channel: gray, or 3: RGB) as a baseline JPEG of `quality` 1-100.
/// Throws std::invalid_argument for other channel counts or an empty image, std::runtime_error
/// naming the file when it cannot be written.
void write_jpeg(const std::filesystem::path& path, const Image& image, int quality = 90);
/// Writes `image` as an 8-bit PNG: 1 channel gray, 2 gray + alpha, 3 RGB, 4 RGBA.
void write_png(const std::filesystem::path& path, const Image& image);

/// A labelled set of images. Implementations must allow concurrent calls of the const
/// functions from several threads (ImageLoader's workers decode in parallel).
class ImageDataset {
 public:
  virtual ~ImageDataset() = default;
  /// "cifar10-train", "imagefolder-val", ...
  virtual std::string name() const = 0;
  virtual int64_t size() const = 0;
  virtual int64_t num_classes() const = 0;
  /// The label of sample i, in [0, num_classes()).
  virtual int32_t label(int64_t i) const = 0;
  /// Sample i as 3-channel RGB. May decode a file, and then throws std::runtime_error naming it.
  virtual Image image(int64_t i) const = 0;
  /// What sample i comes from, for error messages: a file path, or a file and record number.
  virtual std::string source(int64_t i) const = 0;
};

/// A dataset's training and evaluation halves.
struct ImageSplit {
  std::shared_ptr<const ImageDataset> train, test;
};

}  // namespace pure16::data
