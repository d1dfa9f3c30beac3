// ImageLoader: the same order and sharding as Loader, batches independent of the worker count,
// random access and restarts while workers run, errors and skipping, dtypes, real files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "pure16/data/image_folder.h"
#include "pure16/data/image_loader.h"
#include "pure16/data/loader.h"

namespace pure16::data {
namespace {

namespace fs = std::filesystem;

// Sample i is a side x side image whose channels 0 and 1 hold i % 256 and i / 256 everywhere
// (so the index survives any crop that stays inside the image) and whose channel 2 varies with
// the position (so crops and flips show). Samples in `bad` fail to "decode"; sample
// `odd_size` is one pixel wider than the others.
class SyntheticImages : public ImageDataset {
 public:
  SyntheticImages(int64_t n, int64_t classes, int64_t side = 16, std::set<int64_t> bad = {}, int64_t odd_size = -1)
      : n_(n), classes_(classes), side_(side), bad_(std::move(bad)), odd_size_(odd_size) {}
  std::string name() const override { return "synthetic-images"; }
  int64_t size() const override { return n_; }
  int64_t num_classes() const override { return classes_; }
  int32_t label(int64_t i) const override { return int32_t(i % classes_); }
  Image image(int64_t i) const override {
    if (bad_.count(i)) throw std::runtime_error("image " + source(i) + ": corrupt JPEG: simulated");
    Image image(side_, side_ + (i == odd_size_ ? 1 : 0), 3);
    for (int64_t y = 0; y < image.height; ++y)
      for (int64_t x = 0; x < image.width; ++x) {
        image.at(y, x, 0) = uint8_t(i % 256);
        image.at(y, x, 1) = uint8_t(i / 256);
        image.at(y, x, 2) = uint8_t(y * 16 + x);
      }
    return image;
  }
  std::string source(int64_t i) const override { return "/fake/sample_" + std::to_string(i) + ".jpg"; }

 private:
  int64_t n_, classes_, side_;
  std::set<int64_t> bad_;
  int64_t odd_size_;
};

// Normalization to x / 255, so the sample index can be read back.
Pipeline plain() { return Pipeline({}, Normalize({0, 0, 0}, {1, 1, 1})); }
// Random crops (that keep the centre inside the image) and flips.
Pipeline augmenting() {
  return Pipeline({std::make_shared<RandomCrop>(16, 2), std::make_shared<RandomHorizontalFlip>()},
                  Normalize({0, 0, 0}, {1, 1, 1}));
}

ImageLoaderOptions options(int64_t batch, bool shuffle, uint64_t seed, int64_t workers = 2) {
  ImageLoaderOptions o;
  o.batch_size = batch;
  o.shuffle = shuffle;
  o.seed = seed;
  o.workers = workers;
  return o;
}

// The dataset index of each row of a batch, read from the centre pixel.
std::vector<int64_t> rows_of(const Batch& batch) {
  const Tensor x = batch.inputs.to(DType::f32);
  const int64_t h = x.size(1), w = x.size(2), row = h * w * 3;
  const float* p = x.data<float>();
  std::vector<int64_t> samples;
  for (int64_t r = 0; r < x.size(0); ++r) {
    const float* centre = p + r * row + ((h / 2) * w + w / 2) * 3;
    samples.push_back(std::lround(centre[0] * 255) + 256 * std::lround(centre[1] * 255));
  }
  return samples;
}

// Every batch of one epoch, in order.
std::vector<Batch> epoch_batches(ImageLoader& loader, int64_t epoch, DType dtype = DType::f32) {
  loader.start_epoch(epoch);
  std::vector<Batch> batches;
  for (int64_t b = 0; b < loader.num_batches(); ++b) batches.push_back(loader.batch(b, dtype));
  return batches;
}

bool same(const Batch& a, const Batch& b) {
  return a.inputs.dtype() == b.inputs.dtype() && a.inputs.shape() == b.inputs.shape() && a.labels == b.labels &&
         std::memcmp(a.inputs.raw(), b.inputs.raw(), a.inputs.nbytes()) == 0;
}

std::vector<int64_t> iota(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), int64_t(0));
  return v;
}

TEST(ImageLoader, OrderAndShardingAreLoaders) {
  Dataset d;  // only its size matters to Loader's order
  d.name = "order";
  d.sample_shape = {1};
  d.num_classes = 1;
  d.inputs.assign(103, 0.0f);
  d.labels.assign(103, 0);
  const SyntheticImages images(103, 5);
  for (int64_t world : {1, 3}) {
    for (int64_t rank = 0; rank < world; ++rank) {
      Loader loader(d, 10, true, 7, rank, world);
      ImageLoaderOptions o = options(10, true, 7);
      o.rank = rank;
      o.world_size = world;
      ImageLoader image_loader(images, plain(), o);
      for (int64_t epoch : {0, 1, 5}) {
        loader.start_epoch(epoch);
        image_loader.start_epoch(epoch);
        ASSERT_EQ(image_loader.num_batches(), loader.num_batches());
        for (int64_t b = 0; b < loader.num_batches(); ++b)
          ASSERT_EQ(image_loader.batch_indices(b), loader.batch_indices(b)) << world << " " << rank << " " << epoch;
      }
    }
  }
}

TEST(ImageLoader, EverySampleOncePerEpochWithAPartialLastBatch) {
  const SyntheticImages images(103, 5);
  for (int64_t workers : {0, 1, 3}) {
    ImageLoader loader(images, plain(), options(10, true, 3, workers));
    EXPECT_EQ(loader.num_batches(), 11);
    EXPECT_EQ(loader.sample_shape(), (Shape{16, 16, 3}));
    EXPECT_EQ(loader.num_classes(), 5);
    for (int64_t epoch = 0; epoch < 3; ++epoch) {
      const std::vector<Batch> batches = epoch_batches(loader, epoch);
      std::vector<int64_t> seen;
      for (size_t b = 0; b < batches.size(); ++b) {
        const int64_t rows = b + 1 < batches.size() ? 10 : 3;
        ASSERT_EQ(batches[b].inputs.shape(), (Shape{rows, 16, 16, 3}));
        const std::vector<int64_t> samples = rows_of(batches[b]);
        EXPECT_EQ(samples, loader.batch_indices(int64_t(b)));
        for (int64_t r = 0; r < rows; ++r) EXPECT_EQ(batches[b].labels[size_t(r)], samples[size_t(r)] % 5);
        seen.insert(seen.end(), samples.begin(), samples.end());
      }
      EXPECT_NE(seen, iota(103));  // shuffled
      std::sort(seen.begin(), seen.end());
      EXPECT_EQ(seen, iota(103)) << "workers " << workers << ", epoch " << epoch;
    }
  }
  // Without shuffle: the natural order, whatever the epoch.
  ImageLoader ordered(images, plain(), options(25, false, 3));
  std::vector<int64_t> seen;
  for (const Batch& b : epoch_batches(ordered, 4)) {
    const std::vector<int64_t> rows = rows_of(b);
    seen.insert(seen.end(), rows.begin(), rows.end());
  }
  EXPECT_EQ(seen, iota(103));
}

TEST(ImageLoader, BatchesDoNotDependOnWorkersOrPrefetch) {
  const SyntheticImages images(70, 4);
  for (DType dtype : {DType::f32, DType::f16}) {
    ImageLoader reference(images, augmenting(), options(8, true, 21, 0));
    const std::vector<Batch> epoch0 = epoch_batches(reference, 0, dtype), epoch1 = epoch_batches(reference, 1, dtype);
    for (int64_t workers : {1, 3}) {
      for (int64_t prefetch : {1, 4}) {
        ImageLoaderOptions o = options(8, true, 21, workers);
        o.prefetch = prefetch;
        ImageLoader loader(images, augmenting(), o);
        const std::vector<Batch> a0 = epoch_batches(loader, 0, dtype), a1 = epoch_batches(loader, 1, dtype);
        ASSERT_EQ(a0.size(), epoch0.size());
        for (size_t b = 0; b < a0.size(); ++b) {
          EXPECT_TRUE(same(a0[b], epoch0[b])) << "epoch 0 batch " << b << ", " << workers << " workers";
          EXPECT_TRUE(same(a1[b], epoch1[b])) << "epoch 1 batch " << b << ", " << workers << " workers";
        }
      }
    }
    // The augmentation changes with the epoch: the same sample is cropped or flipped anew.
    ImageLoader unshuffled(images, augmenting(), options(70, false, 21));
    const Batch e0 = epoch_batches(unshuffled, 0, dtype)[0], e1 = epoch_batches(unshuffled, 1, dtype)[0];
    EXPECT_EQ(rows_of(e0), rows_of(e1));
    EXPECT_NE(std::memcmp(e0.inputs.raw(), e1.inputs.raw(), e0.inputs.nbytes()), 0);
  }
}

TEST(ImageLoader, ShardsPartitionTheDataset) {
  const SyntheticImages images(50, 5);
  std::vector<int64_t> all;
  std::vector<int64_t> sizes;
  for (int64_t rank = 0; rank < 3; ++rank) {
    ImageLoaderOptions o = options(4, true, 9);
    o.rank = rank;
    o.world_size = 3;
    ImageLoader loader(images, augmenting(), o);
    sizes.push_back(loader.shard_size());
    for (const Batch& b : epoch_batches(loader, 2)) {
      const std::vector<int64_t> rows = rows_of(b);
      all.insert(all.end(), rows.begin(), rows.end());
    }
  }
  EXPECT_EQ(sizes, (std::vector<int64_t>{17, 17, 16}));
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, iota(50));
}

TEST(ImageLoader, RandomAccessAndRestartsWhileWorkersRun) {
  const SyntheticImages images(90, 3);
  ImageLoader reference(images, augmenting(), options(7, true, 4, 0));
  const std::vector<Batch> epoch3 = epoch_batches(reference, 3);
  const std::vector<Batch> epoch4 = epoch_batches(reference, 4);

  ImageLoader loader(images, augmenting(), options(7, true, 4, 3));
  loader.start_epoch(3);
  // Out of order, backwards, repeated.
  for (int64_t b : {5, 2, 0, 12, 12, 1, 6, 7, 3})
    EXPECT_TRUE(same(loader.batch(b, DType::f32), epoch3[size_t(b)])) << b;
  // A restart in the middle of an epoch abandons the workers' work.
  loader.start_epoch(4);
  loader.start_epoch(3);
  EXPECT_TRUE(same(loader.batch(0, DType::f32), epoch3[0]));
  EXPECT_TRUE(same(loader.batch(1, DType::f32), epoch3[1]));
  loader.start_epoch(4);
  for (size_t b = 0; b < epoch4.size(); ++b) EXPECT_TRUE(same(loader.batch(int64_t(b), DType::f32), epoch4[b])) << b;
  EXPECT_THROW(loader.batch(13, DType::f32), std::out_of_range);
  EXPECT_THROW(loader.batch(-1, DType::f32), std::out_of_range);

  // Destroyed with work in flight, repeatedly: the destructor stops and joins the workers.
  for (int i = 0; i < 20; ++i) {
    ImageLoader busy(images, augmenting(), options(7, true, 4, 3));
    busy.start_epoch(i);
    if (i % 2) busy.batch(0, DType::f16);
  }
}

TEST(ImageLoader, DtypesMatchConvertingTheBinary32Batch) {
  const SyntheticImages images(40, 4);
  ImageLoader f32(images, augmenting(), options(16, true, 8, 0));
  const std::vector<Batch> exact = epoch_batches(f32, 0, DType::f32);
  for (DType dtype : {DType::f16, DType::bf16}) {
    ImageLoader loader(images, augmenting(), options(16, true, 8, 2));
    const std::vector<Batch> batches = epoch_batches(loader, 0, dtype);
    for (size_t b = 0; b < batches.size(); ++b) {
      EXPECT_EQ(batches[b].inputs.dtype(), dtype);
      Batch expected{exact[b].inputs.to(dtype), exact[b].labels};
      EXPECT_TRUE(same(batches[b], expected)) << dtype_name(dtype) << " batch " << b;
    }
  }
  // Workers prepare the dtype last asked for; asking for another one after it still gives the
  // exact result.
  ImageLoader switching(images, augmenting(), options(16, true, 8, 2));
  switching.start_epoch(0);
  (void)switching.batch(0, DType::f16);
  EXPECT_TRUE(same(switching.batch(1, DType::f32), exact[1]));
  EXPECT_TRUE(same(switching.batch(2, DType::f32), exact[2]));
}

TEST(ImageLoader, UnreadableImagesFailTheirBatchOrAreSkippedAndCounted) {
  const SyntheticImages images(40, 4, 16, {13, 27});
  for (int64_t workers : {0, 2}) {
    ImageLoader loader(images, plain(), options(10, false, 1, workers));
    loader.start_epoch(0);
    EXPECT_EQ(rows_of(loader.batch(0, DType::f32)), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
    try {
      loader.batch(1, DType::f32);
      ADD_FAILURE() << "no error for the batch holding sample 13";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("/fake/sample_13.jpg"), std::string::npos) << e.what();
    }
    EXPECT_THROW(loader.batch(2, DType::f32), std::runtime_error);
    EXPECT_EQ(loader.batch(3, DType::f32).labels.size(), 10u);  // the loader goes on
    EXPECT_EQ(loader.skipped_images(), 0);
  }

  ImageLoaderOptions o = options(10, true, 1, 2);
  o.skip_unreadable = true;
  ImageLoader skipping(images, augmenting(), o);
  for (int64_t epoch = 0; epoch < 2; ++epoch) {
    std::vector<int64_t> seen;
    for (const Batch& b : epoch_batches(skipping, epoch)) {
      const std::vector<int64_t> rows = rows_of(b);
      ASSERT_EQ(b.labels.size(), rows.size());
      ASSERT_EQ(b.inputs.size(0), int64_t(rows.size()));
      for (size_t r = 0; r < rows.size(); ++r) EXPECT_EQ(b.labels[r], rows[r] % 4);
      seen.insert(seen.end(), rows.begin(), rows.end());
    }
    std::sort(seen.begin(), seen.end());
    std::vector<int64_t> expected = iota(40);
    expected.erase(std::remove_if(expected.begin(), expected.end(), [](int64_t i) { return i == 13 || i == 27; }),
                   expected.end());
    EXPECT_EQ(seen, expected);
    EXPECT_EQ(skipping.skipped_images(), 2 * (epoch + 1));
  }

  // A batch with nothing readable is still an error.
  const SyntheticImages all_bad(4, 2, 16, {0, 1, 2, 3});
  ImageLoaderOptions tiny = options(2, false, 1, 1);
  tiny.skip_unreadable = true;
  ImageLoader hopeless(all_bad, augmenting(), tiny);
  try {
    hopeless.batch(0, DType::f32);
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("every image"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("/fake/sample_0.jpg"), std::string::npos) << e.what();
  }
}

TEST(ImageLoader, ImagesOfTheWrongSizeAreErrorsNamingTheFile) {
  // Normalization alone keeps each image's size: sample 0 fixes it at 16x16, and sample 6 is
  // 16x17.
  const SyntheticImages images(12, 3, 16, {}, 6);
  ImageLoader loader(images, plain(), options(4, false, 0, 2));
  EXPECT_EQ(loader.sample_shape(), (Shape{16, 16, 3}));
  loader.start_epoch(0);
  EXPECT_NO_THROW(loader.batch(0, DType::f32));
  try {
    loader.batch(1, DType::f32);
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("/fake/sample_6.jpg"), std::string::npos) << message;
    EXPECT_NE(message.find("16x17"), std::string::npos) << message;
  }
  // A pipeline that fixes the size makes every image fit.
  ImageLoader cropping(images, augmenting(), options(4, false, 0, 2));
  for (const Batch& b : epoch_batches(cropping, 0)) EXPECT_EQ(b.inputs.shape(), (Shape{4, 16, 16, 3}));
}

TEST(ImageLoader, RejectsBadArguments) {
  const SyntheticImages images(10, 2);
  auto make = [&](ImageLoaderOptions o) { ImageLoader loader(images, plain(), o); };
  ImageLoaderOptions o = options(4, true, 0);
  o.batch_size = 0;
  EXPECT_THROW(make(o), std::invalid_argument);
  o = options(4, true, 0);
  o.world_size = 2;
  o.rank = 2;
  EXPECT_THROW(make(o), std::invalid_argument);
  o = options(4, true, 0);
  o.workers = -1;
  EXPECT_THROW(make(o), std::invalid_argument);
  o = options(4, true, 0);
  o.prefetch = 0;
  EXPECT_THROW(make(o), std::invalid_argument);
  const SyntheticImages empty(0, 2);
  EXPECT_THROW(ImageLoader(empty, plain(), options(4, true, 0)), std::invalid_argument);
}

TEST(ImageLoader, CorruptFileInAnImageFolderIsSkippedAndCounted) {
  const fs::path root = fs::temp_directory_path() / ("pure16_loader_folder_" + std::to_string(::getpid()));
  fs::remove_all(root);
  for (const char* split : {"train", "val"})
    for (const char* cls : {"a", "b"}) {
      fs::create_directories(root / split / cls);
      for (int i = 0; i < 5; ++i) {
        Image image(40, 48, 3);
        std::fill(image.pixels.begin(), image.pixels.end(), uint8_t(40 * i + 10));
        if (i % 2)
          write_jpeg(root / split / cls / ("p" + std::to_string(i) + ".jpg"), image);
        else
          write_png(root / split / cls / ("p" + std::to_string(i) + ".png"), image);
      }
    }
  const fs::path bad = root / "train" / "b" / "p3.jpg";
  std::ofstream(bad, std::ios::binary | std::ios::trunc) << "\x89PNG\r\n\x1a\n and then nothing sensible";
  const ImageSplit split = load_image_folder(root);

  ImageLoader strict(*split.train, imagenet_train_transforms(24), options(10, true, 2));
  try {
    strict.batch(0, DType::f16);
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(bad.string()), std::string::npos) << e.what();
  }

  ImageLoaderOptions o = options(3, true, 2);
  o.skip_unreadable = true;
  ImageLoader lenient(*split.train, imagenet_train_transforms(24), o);
  int64_t rows = 0;
  for (const Batch& b : epoch_batches(lenient, 0, DType::f16)) {
    EXPECT_EQ(b.inputs.shape()[1], 24);
    rows += b.inputs.size(0);
  }
  EXPECT_EQ(rows, 9);
  EXPECT_EQ(lenient.skipped_images(), 1);
  fs::remove_all(root);
}

}  // namespace
}  // namespace pure16::data
