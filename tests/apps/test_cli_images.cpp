// `pure16 train` on image datasets generated here: an image folder of real JPEG and PNG files
// and CIFAR-10 binary files, run as a user would.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "pure16/data/image.h"
#include "pure16/nn/models.h"
#include "pure16/train/checkpoint.h"
#include "pure16/train/saved_model.h"
#include "support/cli.h"
#include "support/torch_check.h"

namespace {

namespace fs = std::filesystem;
using pure16::data::Image;
using pure16::testing::CliResult;
using pure16::testing::read_file;

class CliImages : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("pure16_cli_images_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  CliResult run_cli(const std::string& args, const std::string& env = "") {
    return pure16::testing::run_cli(args, dir_, env);
  }

  // root/{train,val}/{ant,bee,cow}: 10 training and 4 validation images per class, 40x48,
  // alternately JPEG and PNG.
  fs::path write_image_folder() {
    const fs::path root = dir_ / "folder";
    for (const auto& [split, count] : {std::pair<std::string, int>{"train", 10}, {"val", 4}})
      for (int c = 0; c < 3; ++c) {
        const fs::path dir = root / split / std::vector<std::string>{"ant", "bee", "cow"}[size_t(c)];
        fs::create_directories(dir);
        for (int i = 0; i < count; ++i) {
          Image image(40, 48, 3);
          for (int64_t y = 0; y < 40; ++y)
            for (int64_t x = 0; x < 48; ++x) {
              image.at(y, x, 0) = uint8_t(80 * c + y);
              image.at(y, x, 1) = uint8_t(5 * i + x);
              image.at(y, x, 2) = uint8_t(c == 1 ? 2 * x : 3 * y);
            }
          const std::string stem = "img" + std::to_string(i);
          if (i % 2)
            pure16::data::write_jpeg(dir / (stem + ".jpg"), image);
          else
            pure16::data::write_png(dir / (stem + ".png"), image);
        }
      }
    return root;
  }

  // data_batch_1..5.bin with 20 records each and test_batch.bin with 16.
  fs::path write_cifar10() {
    const fs::path root = dir_ / "cifar10";
    fs::create_directories(root);
    auto write = [&](const std::string& name, int records, int first) {
      std::ofstream out(root / name, std::ios::binary);
      for (int r = 0; r < records; ++r) {
        out.put(char((first + r) % 10));
        for (int j = 0; j < 3072; ++j) out.put(char((first + r) * 13 + j % 97));
      }
    };
    for (int b = 1; b <= 5; ++b) write("data_batch_" + std::to_string(b) + ".bin", 20, 20 * b);
    write("test_batch.bin", 16, 500);
    return root;
  }

  std::vector<nlohmann::json> log_records(const fs::path& log) {
    std::istringstream lines(read_file(log));
    std::vector<nlohmann::json> records;
    for (std::string line; std::getline(lines, line);) records.push_back(nlohmann::json::parse(line));
    return records;
  }

  fs::path dir_;
};

// The CIFAR-shaped ResNet when the model zoo has it (it fits 32x32 inputs), otherwise the MLP.
std::string image_model() {
  const auto& infos = pure16::nn::model_infos();
  const bool resnet = std::any_of(infos.begin(), infos.end(), [](const auto& i) { return i.name == "resnet18-cifar"; });
  return resnet ? "resnet18-cifar" : "mlp";
}

TEST_F(CliImages, TrainsOnAnImageFolder) {
  const fs::path root = write_image_folder(), log = dir_ / "run.jsonl";
  const std::string model = image_model();
  const CliResult r = run_cli("train --dataset imagefolder --data " + root.string() +
                              " --image-size 32 --max-steps 3 "
                              "--batch-size 4 --threads 2 --workers 2 --model " +
                              model + " --log " + log.string());
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("model " + model + ", dataset imagefolder (30 train, 12 test), batch 4"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("RandomResizedCrop(32"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CenterCrop(32)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("epoch 1/5 (partial)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("final test_accuracy"), std::string::npos) << r.out;
  const std::vector<nlohmann::json> records = log_records(log);
  ASSERT_EQ(records.size(), 2u) << read_file(log);
  EXPECT_EQ(records[0]["epoch"], 1);
  EXPECT_EQ(records[0]["steps"], 3);
  EXPECT_TRUE(records[0]["partial"].get<bool>());
  EXPECT_TRUE(records[1]["final"].get<bool>());
  EXPECT_EQ(records[1]["steps"], 3);
}

TEST_F(CliImages, TrainsOnCifar10Files) {
  const fs::path root = write_cifar10();
  const CliResult r = run_cli("train --dataset cifar10 --data " + root.string() +
                              " --epochs 1 --max-steps 4 --batch-size 16 --threads 2 --workers 1");
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("model mlp, dataset cifar10 (100 train, 16 test)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("RandomCrop(32, padding=4)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("epoch 1/1 (partial)"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("unreadable"), std::string::npos) << r.out;  // only reported with --skip-bad-images
}

TEST_F(CliImages, BadImagesFailTheRunOrAreSkippedAndReported) {
  const fs::path root = write_image_folder();
  const fs::path bad = root / "val" / "bee" / "img1.jpg";
  std::ofstream(bad, std::ios::binary | std::ios::trunc) << "\xff\xd8\xff garbage";
  const std::string args = "train --dataset imagefolder --data " + root.string() +
                           " --image-size 16 --max-steps 2 --batch-size 4 --threads 2 --epochs 1";
  const CliResult strict = run_cli(args);
  EXPECT_NE(strict.exit_code, 0) << strict.out;
  EXPECT_NE(strict.err.find(bad.string()), std::string::npos) << strict.err;

  const CliResult lenient = run_cli(args + " --skip-bad-images");
  ASSERT_EQ(lenient.exit_code, 0) << lenient.err << lenient.out;
  EXPECT_NE(lenient.out.find("skipped 1 unreadable images"), std::string::npos) << lenient.out;
}

TEST_F(CliImages, MissingDataAndBadOptionsAreRejected) {
  CliResult r = run_cli("train --dataset cifar10 --data /nonexistent/pure16/cifar10 --epochs 1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("/nonexistent/pure16/cifar10"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("cifar-10-binary"), std::string::npos) << r.err;
  // The default directory comes from PURE16_DATA.
  r = run_cli("train --dataset imagefolder --epochs 1", "PURE16_DATA=/nonexistent/pure16-root");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("/nonexistent/pure16-root/imagefolder"), std::string::npos) << r.err;
  // A directory without the files names the file.
  fs::create_directories(dir_ / "empty");
  r = run_cli("train --dataset cifar100 --data " + (dir_ / "empty").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find((dir_ / "empty" / "train.bin").string()), std::string::npos) << r.err;
  for (const char* args : {"train --dataset imagenet", "train --workers -1", "train --image-size 0"}) {
    r = run_cli(args);
    EXPECT_NE(r.exit_code, 0) << args;
    EXPECT_FALSE(r.err.empty()) << args;
  }
}

// PyTorch loads a resnet18-cifar exported in torchvision's layout (load_state_dict, strict) and,
// on the very inputs `pure16 predict` ran, gives the logits predict printed, within the bound
// derived in tests/support/torch_check.cpp. Binary32 sums (--accumulation f32): the bound for
// f16-block sums would exceed the logits. Skipped without torch and torchvision.
TEST_F(CliImages, TorchvisionExportGivesPredictsLogitsInPyTorch) {
  if (!pure16::testing::torch_available()) GTEST_SKIP() << "/usr/bin/python3 cannot import torch and torchvision";
  const fs::path root = write_image_folder();
  // Every validation image: 4 of each class, JPEG and PNG.
  std::string images;
  for (const char* cls : {"ant", "bee", "cow"})
    for (const char* file : {"img0.png", "img1.jpg", "img2.png", "img3.jpg"})
      images.append(" ").append((root / "val" / cls / file).string());
  for (const std::string precision : {"fp32", "pure-fp16"}) {
    const fs::path dir = dir_ / precision;
    CliResult r = run_cli("train --model resnet18-cifar --dataset imagefolder --data " + root.string() +
                          " --image-size 32 --batch-size 8 --max-steps 3 --epochs 1 --threads 2 --accumulation f32"
                          " --precision " + precision + " --checkpoint-dir " + dir.string());
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    const fs::path checkpoint = pure16::train::resolve_resume(dir);
    const fs::path exported = dir / "tv.safetensors", inputs = dir / "inputs.f32", logits = dir / "logits.f32";
    r = run_cli("export --layout torchvision --dtype fp32 --checkpoint " + checkpoint.string() + " --out " + exported.string());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = run_cli("predict --json --checkpoint " + checkpoint.string() + " --save-inputs " + inputs.string() + images);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json predictions = nlohmann::json::parse(r.out);
    ASSERT_EQ(predictions.size(), 12u);
    std::vector<float> printed;
    for (const nlohmann::json& p : predictions)
      for (float v : p["logits"].get<std::vector<float>>()) printed.push_back(v);
    std::ofstream(logits, std::ios::binary)
        .write(reinterpret_cast<const char*>(printed.data()), std::streamsize(printed.size() * sizeof(float)));

    const std::unique_ptr<pure16::train::Run> run = pure16::train::load_saved_model(checkpoint);
    pure16::Tensor x = pure16::Tensor::empty({12, 32, 32, 3}, pure16::DType::f32);
    std::ifstream(inputs, std::ios::binary).read(static_cast<char*>(x.raw()), std::streamsize(x.nbytes()));
    // ResNet-18: 18 convolution and Linear layers on the longest path, at most 3 * 3 * 512 products a sum.
    const double tolerance = pure16::testing::logits_tolerance(run->model(), x, run->policy(), 18, 9 * 512);
    const CliResult check = pure16::testing::check_with_torch(exported, "resnet18-cifar", {32, 32, 3}, inputs, logits,
                                                              tolerance, dir);
    std::printf("%s: tolerance %.3e; %s", precision.c_str(), tolerance, check.out.c_str());
    EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  }
}

}  // namespace
