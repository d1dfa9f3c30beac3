#include "pure16/data/transforms.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <string>

#include "pure16/numerics/philox.h"
#include "pure16/numerics/random_streams.h"

namespace pure16::data {
namespace {

void check_positive(int64_t value, const std::string& what) {
  if (value <= 0) throw std::invalid_argument(what + " must be positive, got " + std::to_string(value));
}

std::string size_string(const Image& image) { return std::to_string(image.height) + "x" + std::to_string(image.width); }

// The resampling weights of one output coordinate: inputs [first, first + weights.size()).
struct Taps {
  int64_t first = 0;
  std::vector<float> weights;
};

// PIL's precompute_coeffs (libImaging/Resample.c) for the bilinear (triangle) filter, support 1.
std::vector<Taps> resample_taps(int64_t in, int64_t out) {
  const double scale = double(in) / double(out);
  const double filter_scale = std::max(scale, 1.0);
  const double support = filter_scale;
  std::vector<Taps> taps(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) {
    const double center = (double(o) + 0.5) * scale;
    const int64_t lo = std::max<int64_t>(int64_t(center - support + 0.5), 0);
    const int64_t hi = std::min<int64_t>(int64_t(center + support + 0.5), in);
    Taps& t = taps[size_t(o)];
    t.first = lo;
    double sum = 0;
    std::vector<double> w;
    for (int64_t i = lo; i < hi; ++i) {
      w.push_back(std::max(0.0, 1.0 - std::abs((double(i) - center + 0.5) / filter_scale)));
      sum += w.back();
    }
    for (double v : w) t.weights.push_back(float(sum != 0 ? v / sum : 0.0));
  }
  return taps;
}

}  // namespace

// ---- randomness ----

AugmentRandom::AugmentRandom(uint64_t seed, int64_t epoch, int64_t sample, int64_t step)
    : key_(seed ^ kAugmentKey),
      sample_(uint64_t(sample)),
      // The high counter word: epoch (32 bits), step (16 bits), then 16 bits of block counter.
      stream_(uint64_t(uint32_t(epoch)) << 32 | uint64_t(uint16_t(step)) << 16) {}

uint32_t AugmentRandom::next() {
  if (used_ == 4) {
    words_ = Philox4x32::generate(key_, sample_, stream_ | (block_++ & 0xffff));
    used_ = 0;
  }
  return words_[size_t(used_++)];
}

double AugmentRandom::uniform() {
  const uint64_t hi = next(), lo = next();
  return double(hi << 21 | lo >> 11) * 0x1.0p-53;
}

int64_t AugmentRandom::below(int64_t bound) {
  if (bound <= 0)
    throw std::invalid_argument("AugmentRandom::below: bound must be positive, got " + std::to_string(bound));
  const uint64_t hi = next(), lo = next();
  // Lemire's multiply-shift: bias below bound / 2^64.
  return int64_t((unsigned __int128)(hi << 32 | lo) * uint64_t(bound) >> 64);
}

// ---- image operations ----

Image crop(const Image& image, int64_t top, int64_t left, int64_t height, int64_t width) {
  check_positive(height, "crop height");
  check_positive(width, "crop width");
  Image out(height, width, image.channels);
  const int64_t c = image.channels;
  // The columns of the window that fall inside the image.
  const int64_t x0 = std::clamp<int64_t>(-left, 0, width), x1 = std::clamp<int64_t>(image.width - left, 0, width);
  if (x1 <= x0) return out;
  for (int64_t y = 0; y < height; ++y) {
    const int64_t sy = top + y;
    if (sy < 0 || sy >= image.height) continue;
    std::memcpy(&out.at(y, x0, 0), &image.at(sy, left + x0, 0), size_t((x1 - x0) * c));
  }
  return out;
}

Image flip_horizontal(const Image& image) {
  Image out(image.height, image.width, image.channels);
  const int64_t c = image.channels;
  for (int64_t y = 0; y < image.height; ++y)
    for (int64_t x = 0; x < image.width; ++x)
      std::memcpy(&out.at(y, image.width - 1 - x, 0), &image.at(y, x, 0), size_t(c));
  return out;
}

Image resize_bilinear(const Image& image, int64_t height, int64_t width) {
  check_positive(height, "resize height");
  check_positive(width, "resize width");
  if (image.height <= 0 || image.width <= 0)
    throw std::invalid_argument("resize_bilinear: cannot resize an empty " + size_string(image) + " image");
  if (height == image.height && width == image.width) return image;
  const int64_t c = image.channels;
  const std::vector<Taps> across = resample_taps(image.width, width), down = resample_taps(image.height, height);
  // Horizontal pass into binary32 (image.height, width, c), then vertical into 8 bits; PIL
  // rounds between the passes too, this rounds once.
  std::vector<float> rows(static_cast<size_t>(image.height * width * c), 0.0f);
  for (int64_t y = 0; y < image.height; ++y)
    for (int64_t x = 0; x < width; ++x) {
      const Taps& t = across[size_t(x)];
      float* dst = &rows[size_t((y * width + x) * c)];
      for (size_t k = 0; k < t.weights.size(); ++k) {
        const uint8_t* src = &image.at(y, t.first + int64_t(k), 0);
        for (int64_t ch = 0; ch < c; ++ch) dst[ch] += t.weights[k] * float(src[ch]);
      }
    }
  Image out(height, width, c);
  std::vector<float> acc(static_cast<size_t>(width * c));
  for (int64_t y = 0; y < height; ++y) {
    const Taps& t = down[size_t(y)];
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (size_t k = 0; k < t.weights.size(); ++k) {
      const float* src = &rows[size_t((t.first + int64_t(k)) * width * c)];
      for (size_t j = 0; j < acc.size(); ++j) acc[j] += t.weights[k] * src[j];
    }
    uint8_t* dst = &out.at(y, 0, 0);
    for (size_t j = 0; j < acc.size(); ++j) dst[j] = uint8_t(std::clamp(std::nearbyint(acc[j]), 0.0f, 255.0f));
  }
  return out;
}

// ---- transforms ----

RandomCrop::RandomCrop(int64_t size, int64_t padding) : size_(size), padding_(padding) {
  check_positive(size, "RandomCrop size");
  if (padding < 0)
    throw std::invalid_argument("RandomCrop padding must be non-negative, got " + std::to_string(padding));
}

Image RandomCrop::apply(const Image& image, AugmentRandom& random) const {
  const int64_t h = image.height + 2 * padding_, w = image.width + 2 * padding_;
  if (h < size_ || w < size_)
    throw std::invalid_argument(describe() + ": a " + size_string(image) + " image is smaller than the crop");
  const int64_t top = random.below(h - size_ + 1), left = random.below(w - size_ + 1);
  return crop(image, top - padding_, left - padding_, size_, size_);
}

std::string RandomCrop::describe() const {
  return "RandomCrop(" + std::to_string(size_) + ", padding=" + std::to_string(padding_) + ")";
}

RandomHorizontalFlip::RandomHorizontalFlip(double p) : p_(p) {
  if (!(p >= 0 && p <= 1))
    throw std::invalid_argument("RandomHorizontalFlip probability " + std::to_string(p) + " is outside [0, 1]");
}

Image RandomHorizontalFlip::apply(const Image& image, AugmentRandom& random) const {
  return random.uniform() < p_ ? flip_horizontal(image) : image;
}

std::string RandomHorizontalFlip::describe() const {
  std::ostringstream s;
  s << "RandomHorizontalFlip(p=" << p_ << ")";
  return s.str();
}

RandomResizedCrop::RandomResizedCrop(int64_t size, std::array<double, 2> scale, std::array<double, 2> ratio)
    : size_(size), scale_(scale), ratio_(ratio) {
  check_positive(size, "RandomResizedCrop size");
  if (!(scale[0] > 0 && scale[0] <= scale[1] && scale[1] <= 1))
    throw std::invalid_argument("RandomResizedCrop scale must satisfy 0 < low <= high <= 1");
  if (!(ratio[0] > 0 && ratio[0] <= ratio[1]))
    throw std::invalid_argument("RandomResizedCrop ratio must satisfy 0 < low <= high");
}

RandomResizedCrop::Box RandomResizedCrop::box(int64_t height, int64_t width, AugmentRandom& random) const {
  // torchvision.transforms.RandomResizedCrop.get_params; std::nearbyint rounds half to even,
  // as Python's round does.
  const double area = double(height) * double(width);
  const double log_lo = std::log(ratio_[0]), log_hi = std::log(ratio_[1]);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * random.uniform(scale_[0], scale_[1]);
    const double aspect = std::exp(random.uniform(log_lo, log_hi));
    const auto w = int64_t(std::nearbyint(std::sqrt(target_area * aspect)));
    const auto h = int64_t(std::nearbyint(std::sqrt(target_area / aspect)));
    if (0 < w && w <= width && 0 < h && h <= height) {
      const int64_t top = random.below(height - h + 1);
      const int64_t left = random.below(width - w + 1);
      return {top, left, h, w};
    }
  }
  // Fallback: the centre crop, narrowed to the nearest allowed aspect ratio.
  const double in_ratio = double(width) / double(height);
  int64_t w = width, h = height;
  if (in_ratio < ratio_[0])
    h = int64_t(std::nearbyint(double(w) / ratio_[0]));
  else if (in_ratio > ratio_[1])
    w = int64_t(std::nearbyint(double(h) * ratio_[1]));
  return {(height - h) / 2, (width - w) / 2, h, w};
}

Image RandomResizedCrop::apply(const Image& image, AugmentRandom& random) const {
  if (image.height <= 0 || image.width <= 0)
    throw std::invalid_argument(describe() + ": cannot crop an empty " + size_string(image) + " image");
  const Box b = box(image.height, image.width, random);
  return resize_bilinear(crop(image, b.top, b.left, b.height, b.width), size_, size_);
}

std::string RandomResizedCrop::describe() const {
  std::ostringstream s;
  s << "RandomResizedCrop(" << size_ << ", scale=(" << scale_[0] << ", " << scale_[1] << "), ratio=(" << ratio_[0]
    << ", " << ratio_[1] << "))";
  return s.str();
}

Resize::Resize(int64_t shorter_side) : shorter_side_(shorter_side) { check_positive(shorter_side, "Resize size"); }

std::optional<ImageSize> Resize::output_size(std::optional<ImageSize> input) const {
  if (!input) return std::nullopt;
  const auto [h, w] = *input;
  // torchvision: the longer side is int(size * long / short), rounded down.
  if (w <= h) return ImageSize{shorter_side_ * h / w, shorter_side_};
  return ImageSize{shorter_side_, shorter_side_ * w / h};
}

Image Resize::apply(const Image& image, AugmentRandom&) const {
  if (image.height <= 0 || image.width <= 0)
    throw std::invalid_argument(describe() + ": cannot resize an empty " + size_string(image) + " image");
  const ImageSize size = *output_size(ImageSize{image.height, image.width});
  return resize_bilinear(image, size[0], size[1]);
}

std::string Resize::describe() const { return "Resize(" + std::to_string(shorter_side_) + ")"; }

CenterCrop::CenterCrop(int64_t size) : size_(size) { check_positive(size, "CenterCrop size"); }

Image CenterCrop::apply(const Image& image, AugmentRandom&) const {
  // torchvision: offset round((in - out) / 2) (half to even) when the image is larger; when
  // it is smaller it pads (out - in) / 2 rounded down before and the rest after.
  auto offset = [](int64_t in, int64_t out) {
    return in >= out ? int64_t(std::nearbyint(double(in - out) / 2.0)) : -((out - in) / 2);
  };
  return crop(image, offset(image.height, size_), offset(image.width, size_), size_, size_);
}

std::string CenterCrop::describe() const { return "CenterCrop(" + std::to_string(size_) + ")"; }

// ---- normalization and pipelines ----

Normalize::Normalize(std::vector<double> mean, std::vector<double> std) : mean_(std::move(mean)), std_(std::move(std)) {
  if (mean_.empty() || mean_.size() != std_.size())
    throw std::invalid_argument("Normalize: " + std::to_string(mean_.size()) + " means and " +
                                std::to_string(std_.size()) + " standard deviations (need one of each per channel)");
  table_.resize(mean_.size());
  for (size_t c = 0; c < mean_.size(); ++c) {
    if (!(std_[c] > 0))
      throw std::invalid_argument("Normalize: standard deviation " + std::to_string(std_[c]) + " is not positive");
    for (int v = 0; v < 256; ++v) table_[c][size_t(v)] = float((double(v) / 255.0 - mean_[c]) / std_[c]);
  }
}

void Normalize::apply(const Image& image, float* out) const {
  const int64_t c = channels();
  if (image.channels != c)
    throw std::invalid_argument("Normalize: a " + std::to_string(image.channels) + "-channel image, expected " +
                                std::to_string(c));
  const int64_t pixels = image.height * image.width;
  for (int64_t p = 0; p < pixels; ++p)
    for (int64_t ch = 0; ch < c; ++ch) out[p * c + ch] = table_[size_t(ch)][image.pixels[size_t(p * c + ch)]];
}

std::vector<float> Normalize::apply(const Image& image) const {
  std::vector<float> out(image.pixels.size());
  apply(image, out.data());
  return out;
}

std::string Normalize::describe() const {
  std::ostringstream s;
  s << "Normalize(mean=(";
  for (size_t c = 0; c < mean_.size(); ++c) s << (c ? ", " : "") << mean_[c];
  s << "), std=(";
  for (size_t c = 0; c < std_.size(); ++c) s << (c ? ", " : "") << std_[c];
  s << "))";
  return s.str();
}

Pipeline::Pipeline(std::vector<std::shared_ptr<const Transform>> steps, Normalize normalize)
    : steps_(std::move(steps)), normalize_(std::move(normalize)) {
  for (const auto& step : steps_)
    if (step == nullptr) throw std::invalid_argument("Pipeline: null transform");
  if (steps_.size() > 0xffff) throw std::invalid_argument("Pipeline: too many steps");
}

Image Pipeline::augment(Image image, uint64_t seed, int64_t epoch, int64_t sample) const {
  for (size_t k = 0; k < steps_.size(); ++k) {
    AugmentRandom random(seed, epoch, sample, int64_t(k));
    image = steps_[k]->apply(image, random);
  }
  return image;
}

std::vector<float> Pipeline::operator()(const Image& image, uint64_t seed, int64_t epoch, int64_t sample) const {
  return normalize_.apply(augment(image, seed, epoch, sample));
}

std::optional<ImageSize> Pipeline::output_size(std::optional<ImageSize> input) const {
  for (const auto& step : steps_) input = step->output_size(input);
  return input;
}

std::string Pipeline::describe() const {
  std::string s;
  for (const auto& step : steps_) s += step->describe() + ", ";
  return s + normalize_.describe();
}

Pipeline cifar_train_transforms() {
  return Pipeline({std::make_shared<RandomCrop>(32, 4), std::make_shared<RandomHorizontalFlip>()},
                  Normalize(kCifar10Mean, kCifar10Std));
}

Pipeline cifar_eval_transforms() { return Pipeline({}, Normalize(kCifar10Mean, kCifar10Std)); }

Pipeline imagenet_train_transforms(int64_t size) {
  return Pipeline({std::make_shared<RandomResizedCrop>(size), std::make_shared<RandomHorizontalFlip>()},
                  Normalize(kImageNetMean, kImageNetStd));
}

Pipeline imagenet_eval_transforms(int64_t size) {
  check_positive(size, "image size");
  return Pipeline({std::make_shared<Resize>(size * 256 / 224), std::make_shared<CenterCrop>(size)},
                  Normalize(kImageNetMean, kImageNetStd));
}

}  // namespace pure16::data
