// load_image_folder on a generated tree of real JPEG and PNG files: classes, labels, lazy
// decoding, each kind of bad tree, and a few training steps through ImageLoader.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "pure16/data/image_folder.h"
#include "pure16/data/image_loader.h"
#include "pure16/data/transforms.h"
#include "pure16/train/run.h"

namespace pure16::data {
namespace {

namespace fs = std::filesystem;

// A 40x48 image that differs per class and per index.
Image picture(int64_t cls, int64_t index) {
  Image image(40, 48, 3);
  for (int64_t y = 0; y < 40; ++y)
    for (int64_t x = 0; x < 48; ++x) {
      image.at(y, x, 0) = uint8_t(60 * cls + y);
      image.at(y, x, 1) = uint8_t(4 * index + x);
      image.at(y, x, 2) = uint8_t(120 + (cls == 1 ? x : y));
    }
  return image;
}

const std::vector<std::string> kClasses{"cat", "dog", "zebra"};

// root/{train,val}/{cat,dog,zebra}/: `train` and `val` images per class, alternately
// JPEG and PNG with names in mixed case, plus files that must be ignored.
void write_tree(const fs::path& root, int64_t train, int64_t val) {
  for (const auto& [split, count] : {std::pair<std::string, int64_t>{"train", train}, {"val", val}})
    for (size_t c = 0; c < kClasses.size(); ++c) {
      const fs::path dir = root / split / kClasses[c];
      fs::create_directories(dir);
      for (int64_t i = 0; i < count; ++i) {
        const std::string stem = "img" + std::to_string(10 + i);
        if (i % 3 == 0)
          write_png(dir / (stem + ".png"), picture(int64_t(c), i));
        else if (i % 3 == 1)
          write_jpeg(dir / (stem + ".JPG"), picture(int64_t(c), i));
        else
          write_jpeg(dir / (stem + ".jpeg"), picture(int64_t(c), i));
      }
      std::ofstream(dir / "notes.txt") << "not an image";
      std::ofstream(dir / ".hidden.jpg") << "not an image either";
    }
}

class ImageFolderTree : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ =
        fs::temp_directory_path() / ("pure16_folder_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    write_tree(root_, 10, 4);
  }
  void TearDown() override { fs::remove_all(root_); }

  // Expects load_image_folder to throw a std::runtime_error naming `path`.
  void expect_error(const fs::path& path, const std::string& what) {
    try {
      load_image_folder(root_);
      ADD_FAILURE() << "no error; expected '" << what << "' about " << path;
    } catch (const std::runtime_error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(path.string()), std::string::npos) << "message does not name " << path << ": " << message;
      EXPECT_NE(message.find(what), std::string::npos) << "message lacks '" << what << "': " << message;
    }
  }

  fs::path root_;
};

TEST_F(ImageFolderTree, IndexesClassesAndFilesInSortedOrder) {
  EXPECT_EQ(image_folder_classes(root_ / "train"), kClasses);
  const ImageSplit split = load_image_folder(root_);
  ASSERT_EQ(split.train->size(), 30);
  ASSERT_EQ(split.test->size(), 12);
  EXPECT_EQ(split.train->num_classes(), 3);
  EXPECT_EQ(split.test->num_classes(), 3);
  EXPECT_EQ(split.train->name(), root_.filename().string() + "-train");
  for (int64_t i = 0; i < 30; ++i) EXPECT_EQ(split.train->label(i), i / 10);
  for (int64_t i = 0; i < 12; ++i) EXPECT_EQ(split.test->label(i), i / 4);
  // Sorted by name within a class: img10.png, img11.JPG, img12.jpeg, ...
  EXPECT_EQ(split.train->source(0), (root_ / "train" / "cat" / "img10.png").string());
  EXPECT_EQ(split.train->source(11), (root_ / "train" / "dog" / "img11.JPG").string());
  EXPECT_EQ(split.test->source(10), (root_ / "val" / "zebra" / "img12.jpeg").string());

  // Decoded when asked for; PNG exactly, JPEG closely.
  EXPECT_EQ(split.train->image(20), picture(2, 0));
  const Image jpeg = split.train->image(11), original = picture(1, 1);
  ASSERT_EQ(jpeg.height, 40);
  ASSERT_EQ(jpeg.width, 48);
  ASSERT_EQ(jpeg.channels, 3);
  double error = 0;
  for (size_t i = 0; i < jpeg.pixels.size(); ++i) error += std::abs(int(jpeg.pixels[i]) - int(original.pixels[i]));
  EXPECT_LT(error / double(jpeg.pixels.size()), 4.0);
}

TEST_F(ImageFolderTree, BadTreesAreErrorsNamingTheFolder) {
  fs::remove_all(root_ / "val");
  expect_error(root_ / "val", "does not exist");
  fs::remove_all(root_ / "train");
  expect_error(root_ / "train", "does not exist");
  fs::remove_all(root_);
  expect_error(root_, "does not exist");

  write_tree(root_, 2, 2);
  for (const auto& entry : fs::directory_iterator(root_ / "train" / "dog")) fs::remove(entry.path());
  expect_error(root_ / "train" / "dog", "no .jpg, .jpeg or .png files");

  fs::remove_all(root_);
  write_tree(root_, 2, 2);
  fs::remove_all(root_ / "val" / "zebra");
  expect_error(root_ / "val" / "zebra", "different classes");
  fs::create_directories(root_ / "val" / "zebra");
  fs::create_directories(root_ / "val" / "yak");
  expect_error(root_ / "val" / "yak", "different classes");

  fs::remove_all(root_);
  fs::create_directories(root_ / "train");
  fs::create_directories(root_ / "val");
  expect_error(root_ / "train", "no class folders");
}

TEST_F(ImageFolderTree, CorruptFileIsAnErrorNamingIt) {
  const fs::path bad = root_ / "train" / "dog" / "img13.JPG";
  std::ofstream(bad, std::ios::binary | std::ios::trunc) << "\xff\xd8\xff not really a jpeg";
  const ImageSplit split = load_image_folder(root_);  // indexing does not read the files
  try {
    split.train->image(13);
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(bad.string()), std::string::npos) << e.what();
  }
}

TEST_F(ImageFolderTree, TrainsAnMlpThroughImageLoader) {
  const ImageSplit split = load_image_folder(root_);
  ImageLoaderOptions options;
  options.batch_size = 4;
  options.seed = 11;
  ImageLoader train_source(*split.train, imagenet_train_transforms(32), options);
  options.shuffle = false;
  ImageLoader test_source(*split.test, imagenet_eval_transforms(32), options);
  EXPECT_EQ(train_source.sample_shape(), (Shape{32, 32, 3}));
  EXPECT_EQ(train_source.num_classes(), 3);

  train::TrainConfig config;
  config.model = "mlp";
  config.policy = PrecisionPolicy::preset("pure-fp16");
  config.epochs = 2;
  config.max_steps = 10;  // the first epoch (8 batches, the last partial) and 2 of the second
  config.batch_size = 4;
  config.seed = 11;
  const train::TrainResult result = train::train(config, train_source, test_source);
  EXPECT_EQ(result.steps, 10);
  ASSERT_EQ(result.epochs.size(), 2u);
  EXPECT_FALSE(result.epochs[0].partial);
  EXPECT_EQ(result.epochs[0].steps, 8);
  EXPECT_TRUE(result.epochs[1].partial);
  for (const train::EpochRecord& r : result.epochs) {
    EXPECT_TRUE(std::isfinite(r.train_loss));
    EXPECT_TRUE(std::isfinite(r.test_loss));
  }
}

}  // namespace
}  // namespace pure16::data
