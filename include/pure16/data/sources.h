// The datasets a front end can name (`--dataset`), opened into the batch sources a run trains
// and evaluates on. Every front end (the CLI's train, eval and predict, bench, tests) opens
// data through here, so a name means the same data and transforms everywhere.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "pure16/data/batch_source.h"
#include "pure16/data/dataset.h"
#include "pure16/data/identity.h"
#include "pure16/data/image.h"
#include "pure16/data/image_loader.h"
#include "pure16/data/transforms.h"

namespace pure16::data {

struct DatasetInfo {
  std::string name;
  std::string description;
};
/// mnist, synthetic, cifar10, cifar100, imagefolder.
const std::vector<DatasetInfo>& dataset_infos();
std::vector<std::string> dataset_names();

struct DataOptions {
  std::string dataset = "mnist";
  std::filesystem::path dir;  // empty: default_data_dir(dataset)
  int64_t image_size = 224;   // imagefolder: the side of the square images
  int64_t workers = 2;        // image decoding threads
  bool skip_bad_images = false;
  int64_t batch_size = 128;
  /// In-memory datasets evaluate in batches of this size; image datasets use batch_size (1000
  /// images of 224x224 would need gigabytes of activations).
  int64_t eval_batch_size = 1000;
  uint64_t seed = 0;
  /// This process's place in a data-parallel job: the training batches are its equal shard
  /// (ShardRemainder::drop: every rank takes the same number of steps), the test batches its
  /// shard of the whole test set.
  int64_t rank = 0;
  int64_t world_size = 1;
};

/// A dataset's training and evaluation batch sources, and what they read from. The sources
/// hold references into the datasets, which live on the heap, so this moves safely.
struct DataSources {
  std::shared_ptr<const Split> split;  // mnist, synthetic: in memory
  ImageSplit images;                   // cifar10, cifar100, imagefolder
  std::unique_ptr<BatchSource> train, test;
  ImageLoader* train_images = nullptr;
  ImageLoader* test_images = nullptr;
  DatasetIdentity identity;
  std::string transforms;  // a description, for image datasets

  int64_t skipped_images() const;
};

/// The evaluation transform of an image dataset (cifar10, cifar100, imagefolder) for square
/// samples of side `image_size`: what its test batches go through, and what a prediction on an
/// image file of it must go through too.
Pipeline eval_transforms(const std::string& dataset, int64_t image_size);

/// Opens `options.dataset`. Throws std::runtime_error naming the directory when it is missing
/// (with where to get the data), and std::invalid_argument for an unknown dataset name.
DataSources open_dataset(const DataOptions& options);

}  // namespace pure16::data
