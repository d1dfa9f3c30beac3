// load_mnist on small hand-made IDX files (every kind of bad input), and on the real files
// when scripts/fetch_mnist.sh has fetched them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "pure16/data/idx.h"
#include "pure16/data/mnist.h"

namespace pure16::data {
namespace {

namespace fs = std::filesystem;

constexpr const char* kTrainImages = "train-images-idx3-ubyte";
constexpr const char* kTrainLabels = "train-labels-idx1-ubyte";
constexpr const char* kTestImages = "t10k-images-idx3-ubyte";
constexpr const char* kTestLabels = "t10k-labels-idx1-ubyte";

IdxArray images(int64_t count, int64_t rows = 28, int64_t cols = 28) {
  IdxArray a;
  a.dims = {count, rows, cols};
  for (int64_t i = 0; i < count * rows * cols; ++i) a.values.push_back(uint8_t((i * 37) % 256));
  return a;
}
IdxArray labels(int64_t count) {
  IdxArray a;
  a.dims = {count};
  for (int64_t i = 0; i < count; ++i) a.values.push_back(uint8_t((i * 3) % 10));
  return a;
}

class MnistFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("pure16_mnist_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    write_idx(dir_ / kTrainImages, images(6));
    write_idx(dir_ / kTrainLabels, labels(6));
    write_idx(dir_ / kTestImages, images(4));
    write_idx(dir_ / kTestLabels, labels(4));
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Expects load_mnist to throw a std::runtime_error naming `file` and containing `what`.
  void expect_error(const std::string& file, const std::string& what) {
    try {
      load_mnist(dir_);
      ADD_FAILURE() << "load_mnist did not throw; expected '" << what << "' about " << file;
    } catch (const std::runtime_error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find((dir_ / file).string()), std::string::npos) << "message does not name " << file << ": " << message;
      EXPECT_NE(message.find(what), std::string::npos) << "message lacks '" << what << "': " << message;
    }
  }

  fs::path dir_;
};

TEST_F(MnistFilesTest, LoadsAndNormalizes) {
  const Split split = load_mnist(dir_);
  EXPECT_EQ(split.train.name, "mnist-train");
  EXPECT_EQ(split.test.name, "mnist-test");
  for (const Dataset* d : {&split.train, &split.test}) {
    EXPECT_EQ(d->sample_shape, (Shape{28, 28, 1}));
    EXPECT_EQ(d->num_classes, 10);
    EXPECT_EQ(d->sample_numel(), 784);
    EXPECT_EQ(int64_t(d->inputs.size()), d->size() * 784);
  }
  ASSERT_EQ(split.train.size(), 6);
  ASSERT_EQ(split.test.size(), 4);
  const IdxArray pixels = images(6);
  for (size_t i = 0; i < pixels.values.size(); ++i) {
    const float expected = float((pixels.values[i] / 255.0 - 0.1307) / 0.3081);
    ASSERT_EQ(split.train.inputs[i], expected) << "pixel " << i;
  }
  EXPECT_NEAR(split.train.inputs[0], -0.1307 / 0.3081, 1e-6);  // pixel value 0
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(split.train.labels[size_t(i)], (i * 3) % 10);
}

TEST_F(MnistFilesTest, EmptySplitsLoad) {
  write_idx(dir_ / kTestImages, images(0));
  write_idx(dir_ / kTestLabels, labels(0));
  const Split split = load_mnist(dir_);
  EXPECT_EQ(split.test.size(), 0);
  EXPECT_TRUE(split.test.inputs.empty());
}

TEST_F(MnistFilesTest, MissingFile) {
  for (const char* name : {kTrainImages, kTrainLabels, kTestImages, kTestLabels}) {
    SCOPED_TRACE(name);
    const fs::path saved = dir_ / (std::string(name) + ".saved");
    fs::rename(dir_ / name, saved);
    expect_error(name, "no such file");
    fs::rename(saved, dir_ / name);
  }
}

TEST_F(MnistFilesTest, TruncatedFile) {
  fs::resize_file(dir_ / kTestImages, fs::file_size(dir_ / kTestImages) - 100);
  expect_error(kTestImages, "truncated");
}

TEST_F(MnistFilesTest, TrailingGarbage) {
  std::ofstream(dir_ / kTrainLabels, std::ios::binary | std::ios::app) << "junk";
  expect_error(kTrainLabels, "trailing garbage");
}

TEST_F(MnistFilesTest, CountsDisagree) {
  write_idx(dir_ / kTrainLabels, labels(5));
  expect_error(kTrainImages, "6 images");
  expect_error(kTrainLabels, "5 labels");
}

TEST_F(MnistFilesTest, LabelOutOfRange) {
  IdxArray bad = labels(4);
  bad.values[2] = 10;
  write_idx(dir_ / kTestLabels, bad);
  expect_error(kTestLabels, "label 10 of sample 2");
  bad.values[2] = 255;
  write_idx(dir_ / kTestLabels, bad);
  expect_error(kTestLabels, "label 255");
}

TEST_F(MnistFilesTest, WrongDimensions) {
  // Labels stored as images, images stored flat, images of the wrong size.
  IdxArray flat;
  flat.dims = {6 * 784};
  flat.values.assign(6 * 784, 0);
  write_idx(dir_ / kTrainImages, flat);
  expect_error(kTrainImages, "1 dimensions, expected 3");

  write_idx(dir_ / kTrainImages, images(6, 28, 27));
  expect_error(kTrainImages, "28x27, expected 28x28");

  write_idx(dir_ / kTrainImages, images(6));
  IdxArray two_d;
  two_d.dims = {6, 1};
  two_d.values.assign(6, 1);
  write_idx(dir_ / kTrainLabels, two_d);
  expect_error(kTrainLabels, "2 dimensions, expected 1");
}

TEST_F(MnistFilesTest, WrongTypeCode) {
  // Rewrite the type byte of a valid file: 0x0C (int).
  std::fstream f(dir_ / kTestLabels, std::ios::binary | std::ios::in | std::ios::out);
  f.seekp(2);
  f.put(char(0x0C));
  f.close();
  expect_error(kTestLabels, "unsupported type code 0x0c");
}

// The real data set, when present.
fs::path real_mnist_dir() {
  const char* root = std::getenv("PURE16_DATA");
  if (root != nullptr && *root != '\0' && fs::exists(fs::path(root) / "mnist" / kTrainImages)) return fs::path(root) / "mnist";
  const char* home = std::getenv("HOME");
  if (home != nullptr && fs::exists(fs::path(home) / ".cache/pure16/mnist" / kTrainImages))
    return fs::path(home) / ".cache/pure16/mnist";
  return {};
}

TEST(MnistReal, CountsLabelsAndPixelStatistics) {
  const fs::path dir = real_mnist_dir();
  if (dir.empty()) GTEST_SKIP() << "MNIST not found in $PURE16_DATA/mnist or ~/.cache/pure16/mnist (scripts/fetch_mnist.sh)";
  const auto start = std::chrono::steady_clock::now();
  const Split split = load_mnist(dir);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  RecordProperty("load_seconds", std::to_string(seconds));

  ASSERT_EQ(split.train.size(), 60000);
  ASSERT_EQ(split.test.size(), 10000);
  EXPECT_EQ(split.train.inputs.size(), 60000u * 784u);
  EXPECT_EQ(split.test.inputs.size(), 10000u * 784u);
  EXPECT_EQ(split.train.labels[0], 5);  // the famous first "5"
  EXPECT_EQ(split.test.labels[0], 7);

  // Every digit is common: the rarest are 5 (5421 in train, 892 in test), the most common 1.
  for (const Dataset* d : {&split.train, &split.test}) {
    std::array<int64_t, 10> histogram{};
    for (int32_t label : d->labels) ++histogram[size_t(label)];
    const double expected = double(d->size()) / 10;
    for (int c = 0; c < 10; ++c) {
      EXPECT_GT(histogram[size_t(c)], 0.85 * expected) << d->name << " class " << c;
      EXPECT_LT(histogram[size_t(c)], 1.15 * expected) << d->name << " class " << c;
    }
  }
  EXPECT_EQ(std::count(split.train.labels.begin(), split.train.labels.end(), 5), 5421);
  EXPECT_EQ(std::count(split.train.labels.begin(), split.train.labels.end(), 1), 6742);

  // The normalization constants are the training set's pixel mean and standard deviation, so
  // the normalized training pixels have mean ~0 and standard deviation ~1.
  double sum = 0, sum_sq = 0;
  for (float x : split.train.inputs) {
    sum += x;
    sum_sq += double(x) * x;
  }
  const double n = double(split.train.inputs.size());
  const double mean = sum / n;
  EXPECT_NEAR(mean, 0.0, 0.01);
  EXPECT_NEAR(std::sqrt(sum_sq / n - mean * mean), 1.0, 0.01);
  const auto [lo, hi] = std::minmax_element(split.train.inputs.begin(), split.train.inputs.end());
  EXPECT_FLOAT_EQ(*lo, float(-0.1307 / 0.3081));
  EXPECT_FLOAT_EQ(*hi, float((1 - 0.1307) / 0.3081));
}

}  // namespace
}  // namespace pure16::data
