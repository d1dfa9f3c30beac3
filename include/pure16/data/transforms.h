// Image augmentation and normalization, after torchvision.transforms, on 8-bit HWC images.
//
// Randomness: every random choice for sample `i` in epoch `e` comes from Philox keyed by the
// seed, with counter (i, e, step), `step` being the transform's position in its pipeline. A
// sample's augmentation is therefore a pure function of (seed, epoch, sample index): it does not
// depend on which thread computes it, in what order, or how the dataset is sharded.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pure16/data/image.h"

namespace pure16::data {

/// The random stream of one transform applied to one sample.
class AugmentRandom {
 public:
  AugmentRandom(uint64_t seed, int64_t epoch, int64_t sample, int64_t step);
  uint32_t next();
  /// Uniform in [0, 1) with 53 random bits.
  double uniform();
  double uniform(double low, double high) { return low + (high - low) * uniform(); }
  /// Uniform integer in [0, bound), bound > 0.
  int64_t below(int64_t bound);

 private:
  uint64_t key_, sample_, stream_;
  uint64_t block_ = 0;
  std::array<uint32_t, 4> words_{};
  int used_ = 4;
};

/// (height, width).
using ImageSize = std::array<int64_t, 2>;

/// One geometric step: 8-bit image in, 8-bit image out, channels unchanged.
class Transform {
 public:
  virtual ~Transform() = default;
  virtual Image apply(const Image& image, AugmentRandom& random) const = 0;
  /// The output size for an input of `input` (nullopt: unknown); nullopt when it is not fixed.
  virtual std::optional<ImageSize> output_size(std::optional<ImageSize> input) const = 0;
  virtual std::string describe() const = 0;
};

/// Zero-pads `padding` pixels on every side, then crops a size x size window at a uniformly
/// random position (torchvision RandomCrop(size, padding)). Throws std::invalid_argument for an
/// image smaller than the window after padding.
class RandomCrop : public Transform {
 public:
  RandomCrop(int64_t size, int64_t padding = 0);
  Image apply(const Image& image, AugmentRandom& random) const override;
  std::optional<ImageSize> output_size(std::optional<ImageSize>) const override { return ImageSize{size_, size_}; }
  std::string describe() const override;

 private:
  int64_t size_, padding_;
};

/// Mirrors left-right with probability p.
class RandomHorizontalFlip : public Transform {
 public:
  explicit RandomHorizontalFlip(double p = 0.5);
  Image apply(const Image& image, AugmentRandom& random) const override;
  std::optional<ImageSize> output_size(std::optional<ImageSize> input) const override { return input; }
  std::string describe() const override;

 private:
  double p_;
};

/// torchvision RandomResizedCrop: up to 10 attempts draw an area fraction in `scale` and a
/// log-uniform aspect ratio in `ratio` and keep the first box that fits; otherwise the centre
/// crop at the nearest allowed ratio. The box is resized to size x size (resize_bilinear).
class RandomResizedCrop : public Transform {
 public:
  struct Box {
    int64_t top, left, height, width;
  };
  RandomResizedCrop(int64_t size, std::array<double, 2> scale = {0.08, 1.0},
                    std::array<double, 2> ratio = {3.0 / 4.0, 4.0 / 3.0});
  /// The box chosen for an image of height x width.
  Box box(int64_t height, int64_t width, AugmentRandom& random) const;
  Image apply(const Image& image, AugmentRandom& random) const override;
  std::optional<ImageSize> output_size(std::optional<ImageSize>) const override { return ImageSize{size_, size_}; }
  std::string describe() const override;

 private:
  int64_t size_;
  std::array<double, 2> scale_, ratio_;
};

/// Scales the shorter side to `shorter_side`, the longer one in proportion (rounded down), as
/// torchvision Resize(int).
class Resize : public Transform {
 public:
  explicit Resize(int64_t shorter_side);
  Image apply(const Image& image, AugmentRandom& random) const override;
  std::optional<ImageSize> output_size(std::optional<ImageSize> input) const override;
  std::string describe() const override;

 private:
  int64_t shorter_side_;
};

/// The centred size x size window (zero-padded when the image is smaller), as torchvision.
class CenterCrop : public Transform {
 public:
  explicit CenterCrop(int64_t size);
  Image apply(const Image& image, AugmentRandom& random) const override;
  std::optional<ImageSize> output_size(std::optional<ImageSize>) const override { return ImageSize{size_, size_}; }
  std::string describe() const override;

 private:
  int64_t size_;
};

/// out = (x / 255 - mean[c]) / std[c] per channel, HWC, to binary32 (each of the 256 values
/// per channel computed in binary64 and rounded once).
class Normalize {
 public:
  Normalize(std::vector<double> mean, std::vector<double> std);
  /// Writes image.height * image.width * channels floats. Throws std::invalid_argument when the
  /// image's channel count differs from mean's.
  void apply(const Image& image, float* out) const;
  std::vector<float> apply(const Image& image) const;
  int64_t channels() const { return int64_t(table_.size()); }
  std::string describe() const;

 private:
  std::vector<double> mean_, std_;
  std::vector<std::array<float, 256>> table_;
};

/// Geometric steps, then Normalize: what turns a decoded image into a sample.
class Pipeline {
 public:
  Pipeline(std::vector<std::shared_ptr<const Transform>> steps, Normalize normalize);
  /// Runs the steps on sample `sample` of epoch `epoch` (step k draws from AugmentRandom(seed,
  /// epoch, sample, k)).
  Image augment(Image image, uint64_t seed, int64_t epoch, int64_t sample) const;
  void normalize(const Image& image, float* out) const { normalize_.apply(image, out); }
  /// augment then normalize.
  std::vector<float> operator()(const Image& image, uint64_t seed, int64_t epoch, int64_t sample) const;
  /// The output size for inputs of `input` (nullopt: unknown); nullopt when not fixed.
  std::optional<ImageSize> output_size(std::optional<ImageSize> input = std::nullopt) const;
  int64_t channels() const { return normalize_.channels(); }
  std::string describe() const;

 private:
  std::vector<std::shared_ptr<const Transform>> steps_;
  Normalize normalize_;
};

/// Per-channel mean and standard deviation of the training pixels scaled to [0, 1].
inline const std::vector<double> kCifar10Mean{0.4914, 0.4822, 0.4465};
inline const std::vector<double> kCifar10Std{0.2470, 0.2435, 0.2616};
inline const std::vector<double> kImageNetMean{0.485, 0.456, 0.406};
inline const std::vector<double> kImageNetStd{0.229, 0.224, 0.225};

/// RandomCrop(32, padding 4), RandomHorizontalFlip, Normalize(CIFAR-10).
Pipeline cifar_train_transforms();
/// Normalize(CIFAR-10) only.
Pipeline cifar_eval_transforms();
/// RandomResizedCrop(size), RandomHorizontalFlip, Normalize(ImageNet).
Pipeline imagenet_train_transforms(int64_t size = 224);
/// Resize(size * 256 / 224), CenterCrop(size), Normalize(ImageNet).
Pipeline imagenet_eval_transforms(int64_t size = 224);

/// The window (top, left, height, width) of `image`; pixels outside the image are zero.
Image crop(const Image& image, int64_t top, int64_t left, int64_t height, int64_t width);
Image flip_horizontal(const Image& image);
/// Bilinear resampling with PIL's (and torchvision's antialias=True) triangle filter: when
/// shrinking, the filter widens by the scale factor, so every input pixel contributes. Pixel
/// centres are aligned (align_corners=False). Each output is rounded once to 8 bits.
Image resize_bilinear(const Image& image, int64_t height, int64_t width);

}  // namespace pure16::data
