// load_cifar10 / load_cifar100 on small generated files in the binary format (every kind of
// bad input), and a few training steps on them through ImageLoader.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "pure16/data/cifar.h"
#include "pure16/data/image_loader.h"
#include "pure16/data/transforms.h"
#include "pure16/nn/models.h"
#include "pure16/train/run.h"

namespace pure16::data {
namespace {

namespace fs = std::filesystem;

// The value of pixel (y, x) channel c of a record: it depends on all four, so a planar/HWC
// mix-up shows.
uint8_t pixel(int64_t record, int64_t c, int64_t y, int64_t x) { return uint8_t(record * 7 + c * 85 + y * 3 + x); }

// `count` records with labels (first + r) % classes; CIFAR-100 records get coarse label
// fine % 20 before the fine one.
std::vector<uint8_t> records(int64_t count, int64_t first, int64_t classes, bool cifar100) {
  std::vector<uint8_t> bytes;
  for (int64_t r = 0; r < count; ++r) {
    const auto label = uint8_t((first + r) % classes);
    if (cifar100) bytes.push_back(uint8_t(label % 20));
    bytes.push_back(label);
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < 32; ++y)
        for (int64_t x = 0; x < 32; ++x) bytes.push_back(pixel(first + r, c, y, x));
  }
  return bytes;
}

void write_bytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

constexpr int64_t kPerBatch = 40, kTest = 30;

// data_batch_1..5 of 40 records each (200 training samples) and a test batch of 30.
void write_cifar10(const fs::path& dir) {
  fs::create_directories(dir);
  for (int b = 1; b <= 5; ++b)
    write_bytes(dir / ("data_batch_" + std::to_string(b) + ".bin"), records(kPerBatch, (b - 1) * kPerBatch, 10, false));
  write_bytes(dir / "test_batch.bin", records(kTest, 1000, 10, false));
}

class CifarFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("pure16_cifar_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    write_cifar10(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Expects `load` to throw a std::runtime_error naming `file` and saying `what`.
  template <class Load>
  void expect_error(Load load, const fs::path& file, const std::string& what) {
    try {
      load(dir_);
      ADD_FAILURE() << "no error; expected '" << what << "' about " << file;
    } catch (const std::runtime_error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(file.string()), std::string::npos) << "message does not name " << file << ": " << message;
      EXPECT_NE(message.find(what), std::string::npos) << "message lacks '" << what << "': " << message;
    }
  }

  fs::path dir_;
};

TEST_F(CifarFiles, LoadsRecordsAsHwcImages) {
  const ImageSplit split = load_cifar10(dir_);
  ASSERT_EQ(split.train->size(), 5 * kPerBatch);
  ASSERT_EQ(split.test->size(), kTest);
  EXPECT_EQ(split.train->name(), "cifar10-train");
  EXPECT_EQ(split.test->name(), "cifar10-test");
  EXPECT_EQ(split.train->num_classes(), 10);
  for (int64_t i : {int64_t(0), int64_t(39), int64_t(40), int64_t(123), int64_t(199)}) {
    EXPECT_EQ(split.train->label(i), i % 10);
    const Image image = split.train->image(i);
    ASSERT_EQ(image.height, 32);
    ASSERT_EQ(image.width, 32);
    ASSERT_EQ(image.channels, 3);
    for (int64_t y = 0; y < 32; y += 5)
      for (int64_t x = 0; x < 32; x += 3)
        for (int64_t c = 0; c < 3; ++c) ASSERT_EQ(image.at(y, x, c), pixel(i, c, y, x)) << i << " " << y << " " << x;
  }
  EXPECT_EQ(split.test->image(2).at(1, 2, 1), pixel(1002, 1, 1, 2));
  // The source names the file and the record in it.
  EXPECT_EQ(split.train->source(123), (dir_ / "data_batch_4.bin").string() + " record 3");
  EXPECT_EQ(split.test->source(0), (dir_ / "test_batch.bin").string() + " record 0");
  EXPECT_THROW(split.train->image(200), std::out_of_range);
}

TEST_F(CifarFiles, FindsTheArchiveFolder) {
  const fs::path nested = dir_ / "cifar-10-batches-bin";
  fs::create_directories(nested);
  for (const auto& entry : fs::directory_iterator(dir_))
    if (entry.is_regular_file()) fs::rename(entry.path(), nested / entry.path().filename());
  const ImageSplit split = load_cifar10(dir_);
  EXPECT_EQ(split.train->size(), 200);
  EXPECT_NE(split.train->source(0).find("cifar-10-batches-bin"), std::string::npos);
}

TEST_F(CifarFiles, BadFilesAreErrorsNamingTheFile) {
  fs::remove(dir_ / "data_batch_3.bin");
  expect_error(load_cifar10, dir_ / "data_batch_3.bin", "no such file");
  write_cifar10(dir_);

  // Truncated: 100 bytes short of a whole number of records.
  std::vector<uint8_t> bytes = records(kPerBatch, 0, 10, false);
  // erase, not resize(size - 100): GCC 12 at -O1 (the sanitizer build) cannot see that the size
  // exceeds 100 and reports the wrapped-around bound as an overflow.
  bytes.erase(bytes.end() - 100, bytes.end());
  write_bytes(dir_ / "data_batch_2.bin", bytes);
  expect_error(load_cifar10, dir_ / "data_batch_2.bin", "truncated");
  write_cifar10(dir_);

  write_bytes(dir_ / "data_batch_5.bin", {});
  expect_error(load_cifar10, dir_ / "data_batch_5.bin", "empty");
  write_cifar10(dir_);

  bytes = records(kTest, 0, 10, false);
  bytes[3073 * 4] = 10;  // record 4's label
  write_bytes(dir_ / "test_batch.bin", bytes);
  expect_error(load_cifar10, dir_ / "test_batch.bin", "record 4 has label 10");

  fs::remove_all(dir_);
  fs::create_directories(dir_);
  expect_error(load_cifar10, dir_ / "data_batch_1.bin", "no such file");
}

TEST_F(CifarFiles, Cifar100UsesTheFineLabel) {
  write_bytes(dir_ / "train.bin", records(150, 0, 100, true));
  write_bytes(dir_ / "test.bin", records(20, 500, 100, true));
  const ImageSplit split = load_cifar100(dir_);
  EXPECT_EQ(split.train->name(), "cifar100-train");
  ASSERT_EQ(split.train->size(), 150);
  ASSERT_EQ(split.test->size(), 20);
  EXPECT_EQ(split.train->num_classes(), 100);
  EXPECT_EQ(split.train->label(123), 23);
  EXPECT_EQ(split.test->label(3), 3);
  EXPECT_EQ(split.train->image(77).at(5, 6, 2), pixel(77, 2, 5, 6));

  std::vector<uint8_t> bytes = records(20, 0, 100, true);
  bytes[3074 * 2 + 1] = 100;  // record 2's fine label
  write_bytes(dir_ / "test.bin", bytes);
  expect_error(load_cifar100, dir_ / "test.bin", "record 2 has label 100");
  bytes = records(20, 0, 100, true);
  bytes[3074 * 5] = 20;  // record 5's coarse label
  write_bytes(dir_ / "test.bin", bytes);
  expect_error(load_cifar100, dir_ / "test.bin", "coarse label 20");
  // CIFAR-10 records are one byte shorter: not a whole number of CIFAR-100 records.
  write_bytes(dir_ / "test.bin", records(20, 0, 10, false));
  expect_error(load_cifar100, dir_ / "test.bin", "3074-byte records");
}

TEST(CifarBatch, ParsesFromMemoryToHwc) {
  const std::vector<uint8_t> bytes = records(3, 20, 10, false);
  const CifarBatch batch =
      parse_cifar_batch(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
                        CifarVariant::cifar10, "in memory");
  EXPECT_EQ(batch.labels, (std::vector<int32_t>{0, 1, 2}));
  ASSERT_EQ(batch.pixels.size(), 3u * 32 * 32 * 3);
  // Record 1, pixel (y 4, x 5), channel 2, in HWC order.
  EXPECT_EQ(batch.pixels[3072 + (4 * 32 + 5) * 3 + 2], pixel(21, 2, 4, 5));

  const std::vector<uint8_t> fine = records(2, 7, 100, true);
  const CifarBatch hundred = parse_cifar_batch(
      std::string_view(reinterpret_cast<const char*>(fine.data()), fine.size()), CifarVariant::cifar100, "in memory");
  EXPECT_EQ(hundred.labels, (std::vector<int32_t>{7, 8}));
}

TEST(CifarBatch, EveryPartialRecordIsAnErrorNamingTheSource) {
  const std::vector<uint8_t> bytes = records(2, 0, 10, false);
  for (size_t n : {size_t(0), size_t(1), size_t(3072), size_t(3074), size_t(6145)}) {
    SCOPED_TRACE(n);
    try {
      parse_cifar_batch(std::string_view(reinterpret_cast<const char*>(bytes.data()), n), CifarVariant::cifar10,
                        "shard 9");
      ADD_FAILURE() << "no error";
    } catch (const std::runtime_error& e) {
      const std::string message = e.what();
      EXPECT_EQ(message.rfind("cifar10 file shard 9: ", 0), 0u) << message;
      EXPECT_NE(message.find(n == 0 ? "empty file" : "not a whole number of 3073-byte records"), std::string::npos)
          << message;
    }
  }
}

TEST_F(CifarFiles, ADirectoryInPlaceOfABatchIsAnError) {
  fs::remove(dir_ / "data_batch_4.bin");
  fs::create_directories(dir_ / "data_batch_4.bin");
  expect_error(load_cifar10, dir_ / "data_batch_4.bin", "is a directory");
}

train::TrainConfig few_steps(const std::string& model, int64_t steps, int64_t batch) {
  train::TrainConfig config;
  config.model = model;
  config.policy = PrecisionPolicy::preset("pure-fp16");
  config.epochs = 1;
  config.max_steps = steps;
  config.batch_size = batch;
  config.seed = 5;
  return config;
}

TEST_F(CifarFiles, TrainsAnMlpThroughImageLoader) {
  const ImageSplit split = load_cifar10(dir_);
  ImageLoaderOptions options;
  options.batch_size = 16;
  options.seed = 5;
  ImageLoader train_source(*split.train, cifar_train_transforms(), options);
  options.shuffle = false;
  ImageLoader test_source(*split.test, cifar_eval_transforms(), options);
  EXPECT_EQ(train_source.sample_shape(), (Shape{32, 32, 3}));
  EXPECT_EQ(test_source.sample_shape(), (Shape{32, 32, 3}));

  const train::TrainResult result = train::train(few_steps("mlp", 6, 16), train_source, test_source);
  EXPECT_EQ(result.steps, 6);
  ASSERT_EQ(result.epochs.size(), 1u);
  EXPECT_TRUE(std::isfinite(result.epochs[0].train_loss));
  EXPECT_TRUE(std::isfinite(result.epochs[0].test_loss));
  EXPECT_TRUE(result.epochs[0].partial);
  // Evaluated over the whole test file: the accuracy is a count of its kTest records.
  const double correct = result.test_accuracy * kTest;
  EXPECT_NEAR(correct, std::round(correct), 1e-9);
}

TEST_F(CifarFiles, TrainsResNet18CifarForTwoSteps) {
  const auto& infos = nn::model_infos();
  if (std::none_of(infos.begin(), infos.end(), [](const nn::ModelInfo& i) { return i.name == "resnet18-cifar"; }))
    GTEST_SKIP() << "resnet18-cifar is not in the model zoo";
  // A small test batch keeps the evaluation pass short.
  write_bytes(dir_ / "test_batch.bin", records(8, 1000, 10, false));
  const ImageSplit split = load_cifar10(dir_);
  ImageLoaderOptions options;
  options.batch_size = 8;
  options.seed = 5;
  ImageLoader train_source(*split.train, cifar_train_transforms(), options);
  options.shuffle = false;
  ImageLoader test_source(*split.test, cifar_eval_transforms(), options);
  const train::TrainResult result = train::train(few_steps("resnet18-cifar", 2, 8), train_source, test_source);
  EXPECT_EQ(result.steps, 2);
  ASSERT_EQ(result.epochs.size(), 1u);
  EXPECT_TRUE(std::isfinite(result.epochs[0].train_loss));
  EXPECT_TRUE(std::isfinite(result.epochs[0].test_loss));
  EXPECT_GT(result.parameters, 11'000'000);
}

}  // namespace
}  // namespace pure16::data
