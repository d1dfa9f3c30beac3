#include "pure16/data/sources.h"

#include <algorithm>
#include <fstream>
#include <stdexcept>

#include "pure16/data/cifar.h"
#include "pure16/data/data_dir.h"
#include "pure16/data/image_folder.h"
#include "pure16/data/loader.h"
#include "pure16/data/mnist.h"
#include "pure16/data/synthetic.h"
#include "pure16/data/transforms.h"

namespace pure16::data {
namespace {

// Where to get each dataset, for the error when its directory is missing.
std::string fetch_hint(const std::string& dataset, const std::filesystem::path& dir) {
  if (dataset == "cifar10")
    return "download the binary version, cifar-10-binary.tar.gz, from https://www.cs.toronto.edu/~kriz/cifar.html "
           "and unpack it into " + dir.string();
  if (dataset == "cifar100")
    return "download the binary version, cifar-100-binary.tar.gz, from https://www.cs.toronto.edu/~kriz/cifar.html "
           "and unpack it into " + dir.string();
  if (dataset == "imagefolder")
    return "expected " + dir.string() + "/train/<class>/*.jpg and " + dir.string() + "/val/<class>/*.jpg";
  return "fetch MNIST with scripts/fetch_mnist.sh " + dir.string();
}

std::filesystem::path dataset_dir(const DataOptions& o) {
  const std::filesystem::path dir = o.dir.empty() ? default_data_dir(o.dataset) : o.dir;
  if (!std::filesystem::is_directory(dir))
    throw std::runtime_error("dataset directory " + dir.string() + " does not exist (" + fetch_hint(o.dataset, dir) +
                             ")");
  return dir;
}

std::vector<std::string> numbered_classes(int64_t count) {
  std::vector<std::string> names;
  for (int64_t i = 0; i < count; ++i) names.push_back(std::to_string(i));
  return names;
}

// CIFAR-100's binary archive names its fine classes in fine_label_names.txt, one a line.
std::vector<std::string> cifar100_classes(const std::filesystem::path& dir) {
  for (const std::filesystem::path& file : {dir / "fine_label_names.txt", dir / "cifar-100-binary" / "fine_label_names.txt"}) {
    std::ifstream in(file);
    if (!in) continue;
    std::vector<std::string> names;
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) names.push_back(line);
    if (names.size() == 100) return names;
  }
  return numbered_classes(100);
}

uint64_t image_labels_hash(const ImageDataset& dataset, uint64_t hash) {
  for (int64_t i = 0; i < dataset.size(); ++i) {
    const int32_t label = dataset.label(i);
    hash = labels_hash(&label, 1, hash);
  }
  return hash;
}

}  // namespace

const std::vector<DatasetInfo>& dataset_infos() {
  static const std::vector<DatasetInfo> infos{
      {"mnist", "MNIST digits, 28x28x1, 60000 train / 10000 test (scripts/fetch_mnist.sh)"},
      {"synthetic", "a fixed random teacher, 28x28x1, 10 classes, 8192 train / 2048 test (no files)"},
      {"cifar10", "CIFAR-10 binary batches, 32x32x3, 10 classes"},
      {"cifar100", "CIFAR-100 binary batches, 32x32x3, 100 fine classes"},
      {"imagefolder", "train/<class>/ and val/<class>/ folders of JPEG or PNG images"},
  };
  return infos;
}

std::vector<std::string> dataset_names() {
  std::vector<std::string> names;
  for (const DatasetInfo& info : dataset_infos()) names.push_back(info.name);
  return names;
}

Pipeline eval_transforms(const std::string& dataset, int64_t image_size) {
  if (dataset == "cifar10" || dataset == "cifar100") return cifar_eval_transforms();
  if (dataset == "imagefolder") return imagenet_eval_transforms(image_size);
  throw std::invalid_argument("dataset '" + dataset + "' is not made of image files");
}

int64_t DataSources::skipped_images() const {
  return (train_images ? train_images->skipped_images() : 0) + (test_images ? test_images->skipped_images() : 0);
}

DataSources open_dataset(const DataOptions& o) {
  const std::vector<std::string> names = dataset_names();
  if (std::find(names.begin(), names.end(), o.dataset) == names.end())
    throw std::invalid_argument("unknown dataset '" + o.dataset + "'");
  DataSources sources;
  DatasetIdentity& id = sources.identity;
  id.name = o.dataset;
  if (o.dataset == "synthetic" || o.dataset == "mnist") {
    if (o.dataset == "synthetic") {
      // One fixed draw: the data must not change with the seed of the run that trains on it.
      sources.split = std::make_shared<Split>(make_synthetic({28, 28, 1}, 10, 8192, 2048, 0));
    } else {
      sources.split = std::make_shared<Split>(load_mnist(dataset_dir(o)));
    }
    const Split& split = *sources.split;
    sources.train = std::make_unique<Loader>(split.train, o.batch_size, true, o.seed, o.rank, o.world_size,
                                             ShardRemainder::drop);
    sources.test = std::make_unique<Loader>(split.test, o.eval_batch_size, false, o.seed, o.rank, o.world_size);
    id.sample_shape = split.train.sample_shape;
    id.num_classes = split.train.num_classes;
    id.train_size = split.train.size();
    id.test_size = split.test.size();
    id.label_hash = labels_hash(split.test.labels.data(), split.test.size(),
                                labels_hash(split.train.labels.data(), split.train.size()));
    id.class_names = numbered_classes(id.num_classes);
    return sources;
  }

  const std::filesystem::path dir = dataset_dir(o);
  const bool cifar = o.dataset == "cifar10" || o.dataset == "cifar100";
  if (o.dataset == "cifar10") {
    sources.images = load_cifar10(dir);
    id.class_names = {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
  } else if (o.dataset == "cifar100") {
    sources.images = load_cifar100(dir);
    id.class_names = cifar100_classes(dir);
  } else {
    sources.images = load_image_folder(dir);
    id.class_names = image_folder_classes(dir / "train");
    id.name = "imagefolder:" + std::filesystem::weakly_canonical(dir).filename().string();
  }
  Pipeline train_transforms = cifar ? cifar_train_transforms() : imagenet_train_transforms(o.image_size);
  Pipeline test_transforms = eval_transforms(o.dataset, o.image_size);
  sources.transforms = "train: " + train_transforms.describe() + "; eval: " + test_transforms.describe();

  ImageLoaderOptions options;
  options.batch_size = o.batch_size;
  options.seed = o.seed;
  options.workers = o.workers;
  options.skip_unreadable = o.skip_bad_images;
  options.rank = o.rank;
  options.world_size = o.world_size;
  options.remainder = ShardRemainder::drop;
  auto train_loader = std::make_unique<ImageLoader>(*sources.images.train, std::move(train_transforms), options);
  options.shuffle = false;
  options.remainder = ShardRemainder::keep;
  auto test_loader = std::make_unique<ImageLoader>(*sources.images.test, std::move(test_transforms), options);
  sources.train_images = train_loader.get();
  sources.test_images = test_loader.get();
  id.sample_shape = train_loader->sample_shape();
  id.num_classes = sources.images.train->num_classes();
  id.train_size = sources.images.train->size();
  id.test_size = sources.images.test->size();
  id.label_hash = image_labels_hash(*sources.images.test, image_labels_hash(*sources.images.train, labels_hash(nullptr, 0)));
  sources.train = std::move(train_loader);
  sources.test = std::move(test_loader);
  return sources;
}

}  // namespace pure16::data
