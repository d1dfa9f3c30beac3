// Transforms: exact geometry on images whose pixels encode their position, the randomness
// keyed by (seed, epoch, sample), torchvision's RandomResizedCrop rules, resampling, Normalize
// and the presets.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <stdexcept>
#include <utility>

#include "pure16/data/transforms.h"

namespace pure16::data {
namespace {

// Pixel (y, x) holds y in channel 0, x in channel 1 and 200 in channel 2, so a crop's origin
// can be read back from any pixel inside the image (zero padding reads as (0, 0, 0)).
Image coordinates(int64_t height, int64_t width) {
  Image image(height, width, 3);
  for (int64_t y = 0; y < height; ++y)
    for (int64_t x = 0; x < width; ++x) {
      image.at(y, x, 0) = uint8_t(y);
      image.at(y, x, 1) = uint8_t(x);
      image.at(y, x, 2) = 200;
    }
  return image;
}

Image constant(int64_t height, int64_t width, uint8_t value) {
  Image image(height, width, 3);
  std::fill(image.pixels.begin(), image.pixels.end(), value);
  return image;
}

TEST(ImageOps, CropReadsTheWindowAndZeroFillsOutside) {
  const Image image = coordinates(10, 12);
  const Image inside = crop(image, 2, 3, 4, 5);
  ASSERT_EQ(inside.height, 4);
  ASSERT_EQ(inside.width, 5);
  for (int64_t y = 0; y < 4; ++y)
    for (int64_t x = 0; x < 5; ++x) {
      EXPECT_EQ(inside.at(y, x, 0), y + 2);
      EXPECT_EQ(inside.at(y, x, 1), x + 3);
    }
  const Image padded = crop(image, -2, -3, 14, 18);  // 2 above, 3 left, 2 below, 3 right
  for (int64_t y = 0; y < 14; ++y)
    for (int64_t x = 0; x < 18; ++x) {
      const bool in = y >= 2 && y < 12 && x >= 3 && x < 15;
      EXPECT_EQ(padded.at(y, x, 2), in ? 200 : 0) << y << "," << x;
      if (in) {
        EXPECT_EQ(padded.at(y, x, 1), x - 3);
      }
    }
  EXPECT_EQ(crop(image, 50, 50, 2, 2), Image(2, 2, 3));  // entirely outside: black
}

TEST(ImageOps, FlipMirrorsColumns) {
  const Image image = coordinates(3, 7);
  const Image flipped = flip_horizontal(image);
  for (int64_t y = 0; y < 3; ++y)
    for (int64_t x = 0; x < 7; ++x) EXPECT_EQ(flipped.at(y, x, 1), 6 - x);
  EXPECT_EQ(flip_horizontal(flipped), image);
}

TEST(ImageOps, BilinearResizeMatchesPil) {
  // One row 0, 255 stretched to 4: the half-pixel-centred weights give 0, 63.75, 191.25, 255.
  Image row(1, 2, 1);
  row.pixels = {0, 255};
  EXPECT_EQ(resize_bilinear(row, 1, 4).pixels, (std::vector<uint8_t>{0, 64, 191, 255}));
  // Shrinking by 2 widens the triangle to support 2: output 0 weighs inputs 0, 1, 2 by
  // 3/7, 3/7, 1/7 and output 1 inputs 1, 2, 3 by 1/7, 3/7, 3/7 (PIL's antialiasing).
  Image blocks(4, 4, 1);
  blocks.pixels = {10, 20, 30, 40, 50, 60, 70, 80, 0, 0, 255, 255, 0, 0, 255, 255};
  EXPECT_EQ(resize_bilinear(blocks, 2, 2).pixels, (std::vector<uint8_t>{37, 77, 39, 198}));
  // Shrinking by 3: output 0 weighs inputs 0-3 by 2/3, 1, 2/3, 1/3 (the tap beyond the
  // edge dropped), normalized by their sum 8/3.
  Image line(1, 6, 1);
  line.pixels = {80, 0, 0, 0, 0, 0};
  EXPECT_EQ(resize_bilinear(line, 1, 2).pixels, (std::vector<uint8_t>{20, 0}));
  // A constant stays constant, same size is the identity, and channels are independent.
  EXPECT_EQ(resize_bilinear(constant(37, 53, 77), 224, 224), constant(224, 224, 77));
  EXPECT_EQ(resize_bilinear(constant(300, 200, 9), 13, 31), constant(13, 31, 9));
  const Image image = coordinates(20, 30);
  EXPECT_EQ(resize_bilinear(image, 20, 30), image);
  EXPECT_THROW(resize_bilinear(image, 0, 3), std::invalid_argument);
}

TEST(AugmentRandomTest, IsAPureFunctionOfItsKey) {
  auto draws = [](uint64_t seed, int64_t epoch, int64_t sample, int64_t step) {
    AugmentRandom r(seed, epoch, sample, step);
    std::vector<double> v;
    for (int i = 0; i < 10; ++i) v.push_back(r.uniform());
    for (int i = 0; i < 10; ++i) v.push_back(double(r.below(7)));
    return v;
  };
  const auto base = draws(1, 2, 3, 0);
  EXPECT_EQ(draws(1, 2, 3, 0), base);
  EXPECT_NE(draws(2, 2, 3, 0), base);
  EXPECT_NE(draws(1, 3, 3, 0), base);
  EXPECT_NE(draws(1, 2, 4, 0), base);
  EXPECT_NE(draws(1, 2, 3, 1), base);
  AugmentRandom r(5, 0, 0, 0);
  std::vector<int> counts(7, 0);
  for (int i = 0; i < 7000; ++i) {
    const double u = r.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    const int64_t k = r.below(7);
    ASSERT_GE(k, 0);
    ASSERT_LT(k, 7);
    ++counts[size_t(k)];
  }
  for (int c : counts) EXPECT_NEAR(c, 1000, 5 * 31);  // binomial sd ~ 29
}

TEST(Transforms, RandomCropTakesEveryPaddedOffsetAndKeepsPixels) {
  const Image image = coordinates(32, 32);
  const RandomCrop random_crop(32, 4);
  std::set<std::pair<int64_t, int64_t>> origins;
  for (int64_t sample = 0; sample < 2000; ++sample) {
    AugmentRandom r(7, 0, sample, 0);
    const Image out = random_crop.apply(image, r);
    ASSERT_EQ(out.height, 32);
    ASSERT_EQ(out.width, 32);
    // The window's origin, from the pixel at (16, 16), always inside the image.
    const int64_t top = out.at(16, 16, 0) - 16, left = out.at(16, 16, 1) - 16;
    ASSERT_GE(top, -4);
    ASSERT_LE(top, 4);
    ASSERT_GE(left, -4);
    ASSERT_LE(left, 4);
    ASSERT_EQ(out, crop(image, top, left, 32, 32)) << "sample " << sample;
    origins.insert({top, left});
  }
  EXPECT_EQ(origins.size(), 81u);  // every offset in [-4, 4]^2 occurs
  AugmentRandom r(0, 0, 0, 0);
  EXPECT_THROW(RandomCrop(40, 2).apply(image, r), std::invalid_argument);  // 36 < 40
  EXPECT_THROW(RandomCrop(0), std::invalid_argument);
}

TEST(Transforms, RandomHorizontalFlipFollowsItsProbability) {
  const Image image = coordinates(4, 9), flipped = flip_horizontal(image);
  int flips = 0;
  for (int64_t sample = 0; sample < 2000; ++sample) {
    AugmentRandom r(1, 0, sample, 0), always(1, 0, sample, 0), never(1, 0, sample, 0);
    const Image out = RandomHorizontalFlip().apply(image, r);
    ASSERT_TRUE(out == image || out == flipped);
    flips += out == flipped;
    EXPECT_EQ(RandomHorizontalFlip(1.0).apply(image, always), flipped);
    EXPECT_EQ(RandomHorizontalFlip(0.0).apply(image, never), image);
  }
  EXPECT_NEAR(flips, 1000, 5 * 23);
  EXPECT_THROW(RandomHorizontalFlip(1.5), std::invalid_argument);
}

TEST(Transforms, RandomResizedCropBoxesFollowTorchvisionRules) {
  const RandomResizedCrop rrc(24);
  int fallbacks = 0;
  for (int64_t sample = 0; sample < 1000; ++sample) {
    AugmentRandom r(3, 1, sample, 0);
    const RandomResizedCrop::Box b = rrc.box(60, 80, r);
    ASSERT_GT(b.height, 0);
    ASSERT_GT(b.width, 0);
    ASSERT_GE(b.top, 0);
    ASSERT_GE(b.left, 0);
    ASSERT_LE(b.top + b.height, 60);
    ASSERT_LE(b.left + b.width, 80);
    // Area fraction and aspect ratio as drawn, up to rounding each side to an integer.
    const double area = double(b.height * b.width) / (60.0 * 80.0);
    const double ratio = double(b.width) / double(b.height);
    EXPECT_GE(area, 0.08 * 0.7);
    EXPECT_LE(area, 1.0);
    EXPECT_GE(ratio, 0.75 * 0.85);
    EXPECT_LE(ratio, 4.0 / 3.0 / 0.85);
    fallbacks += b.height == 60 && b.width == 80;
  }
  EXPECT_LT(fallbacks, 50);
  // No box of ratio within [3/4, 4/3] fits a 10x1000 strip: the fallback is the centred crop
  // at ratio 4/3, 10 high and round(10 * 4/3) = 13 wide.
  AugmentRandom r(0, 0, 0, 0);
  const RandomResizedCrop::Box strip = rrc.box(10, 1000, r);
  EXPECT_EQ(strip.top, 0);
  EXPECT_EQ(strip.height, 10);
  EXPECT_EQ(strip.width, 13);
  EXPECT_EQ(strip.left, (1000 - 13) / 2);
  // And for a tall strip at ratio 3/4: round(10 / 0.75) = 13 high.
  const RandomResizedCrop::Box tall = rrc.box(1000, 10, r);
  EXPECT_EQ(tall.width, 10);
  EXPECT_EQ(tall.height, 13);
  EXPECT_EQ(tall.top, (1000 - 13) / 2);
}

TEST(Transforms, RandomResizedCropOutputSizeAndReproducibility) {
  const Image image = coordinates(40, 48);
  const RandomResizedCrop rrc(32);
  std::set<uint64_t> distinct;  // FNV-1a hashes of the outputs
  for (int64_t sample = 0; sample < 20; ++sample) {
    AugmentRandom a(9, 2, sample, 0), b(9, 2, sample, 0);
    const Image out = rrc.apply(image, a);
    EXPECT_EQ(out.height, 32);
    EXPECT_EQ(out.width, 32);
    EXPECT_EQ(out, rrc.apply(image, b));
    // The output is the resized box.
    AugmentRandom c(9, 2, sample, 0);
    const RandomResizedCrop::Box box = rrc.box(40, 48, c);
    EXPECT_EQ(out, resize_bilinear(crop(image, box.top, box.left, box.height, box.width), 32, 32));
    uint64_t hash = 0xcbf29ce484222325ull;
    for (uint8_t v : out.pixels) hash = (hash ^ v) * 0x100000001b3ull;
    distinct.insert(hash);
  }
  EXPECT_GT(distinct.size(), 15u);
  EXPECT_EQ(rrc.output_size(std::nullopt), (ImageSize{32, 32}));
}

TEST(Transforms, ResizeAndCenterCropAsTorchvision) {
  const Resize resize(36);
  EXPECT_EQ(resize.output_size(ImageSize{40, 48}), (ImageSize{36, 43}));  // 36 * 48 / 40 = 43.2
  EXPECT_EQ(resize.output_size(ImageSize{500, 375}), (ImageSize{48, 36}));
  EXPECT_EQ(resize.output_size(ImageSize{36, 36}), (ImageSize{36, 36}));
  EXPECT_EQ(resize.output_size(std::nullopt), std::nullopt);
  AugmentRandom r(0, 0, 0, 0);
  const Image resized = resize.apply(coordinates(40, 48), r);
  EXPECT_EQ(resized.height, 36);
  EXPECT_EQ(resized.width, 43);
  // CenterCrop(32) of 36x43: top round(2) = 2, left round(5.5) = 6 (half to even, as Python).
  const Image centre = CenterCrop(32).apply(resized, r);
  EXPECT_EQ(centre, crop(resized, 2, 6, 32, 32));
  // A smaller image is zero-padded around: 29 -> 32 puts 1 row above and 2 below.
  const Image small = coordinates(29, 32);
  const Image padded = CenterCrop(32).apply(small, r);
  EXPECT_EQ(padded, crop(small, -1, 0, 32, 32));
}

TEST(Transforms, NormalizeComputesEachValueInDoubleAndRoundsOnce) {
  const Normalize normalize({0.5, 0.25, 0.125}, {0.5, 0.25, 2.0});
  Image image(1, 3, 3);
  image.pixels = {0, 0, 0, 255, 255, 255, 51, 128, 200};
  const std::vector<float> out = normalize.apply(image);
  ASSERT_EQ(out.size(), 9u);
  const double mean[3] = {0.5, 0.25, 0.125}, std[3] = {0.5, 0.25, 2.0};
  for (size_t i = 0; i < 9; ++i) {
    const size_t c = i % 3;
    EXPECT_EQ(out[i], float((image.pixels[i] / 255.0 - mean[c]) / std[c])) << i;
  }
  EXPECT_EQ(out[0], -1.0f);
  EXPECT_EQ(out[3], 1.0f);
  EXPECT_THROW(normalize.apply(Image(2, 2, 1)), std::invalid_argument);
  EXPECT_THROW(Normalize({0.5}, {0.0}), std::invalid_argument);
  EXPECT_THROW(Normalize({0.5, 0.5}, {1.0}), std::invalid_argument);
}

TEST(Transforms, PresetsProduceTheirSizesAndDependOnlyOnTheKey) {
  const Image cifar = coordinates(32, 32), photo = coordinates(40, 48);
  const Pipeline cifar_train = cifar_train_transforms(), cifar_eval = cifar_eval_transforms();
  const Pipeline imagenet_train = imagenet_train_transforms(32), imagenet_eval = imagenet_eval_transforms(32);
  EXPECT_EQ(cifar_train.output_size(), (ImageSize{32, 32}));
  EXPECT_EQ(cifar_eval.output_size(), std::nullopt);  // normalize only: follows the input
  EXPECT_EQ(cifar_eval.output_size(ImageSize{32, 32}), (ImageSize{32, 32}));
  EXPECT_EQ(imagenet_train.output_size(), (ImageSize{32, 32}));
  EXPECT_EQ(imagenet_eval.output_size(), (ImageSize{32, 32}));
  EXPECT_EQ(imagenet_train_transforms().output_size(), (ImageSize{224, 224}));

  EXPECT_EQ(cifar_train(cifar, 1, 0, 5).size(), 32u * 32 * 3);
  EXPECT_EQ(imagenet_train(photo, 1, 0, 5).size(), 32u * 32 * 3);
  EXPECT_EQ(imagenet_eval(photo, 1, 0, 5).size(), 32u * 32 * 3);
  // Evaluation is deterministic; training augmentation is keyed by (seed, epoch, sample).
  EXPECT_EQ(imagenet_eval(photo, 1, 0, 5), imagenet_eval(photo, 2, 3, 4));
  EXPECT_EQ(cifar_train(cifar, 1, 0, 5), cifar_train(cifar, 1, 0, 5));
  int differ = 0;
  for (int64_t s = 0; s < 10; ++s) differ += cifar_train(cifar, 1, 0, s) != cifar_train(cifar, 1, 1, s);
  EXPECT_GE(differ, 8);
  // The CIFAR eval preset is exactly the normalization.
  const std::vector<float> eval = cifar_eval(cifar, 0, 0, 0);
  for (size_t i = 0; i < eval.size(); ++i) {
    const size_t c = i % 3;
    ASSERT_EQ(eval[i], float((cifar.pixels[i] / 255.0 - kCifar10Mean[c]) / kCifar10Std[c]));
  }
  EXPECT_NE(cifar_train.describe().find("RandomCrop(32, padding=4)"), std::string::npos) << cifar_train.describe();
}

}  // namespace
}  // namespace pure16::data
