#include "pure16/data/cifar.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "pure16/io/read_file.h"

namespace pure16::data {
namespace {

constexpr int64_t kSide = 32, kChannels = 3;
constexpr int64_t kImageBytes = kSide * kSide * kChannels;  // 3072

struct CifarFormat {
  std::string name;       // "cifar10"
  std::string subfolder;  // where the official archive unpacks
  std::vector<std::string> train_files, test_files;
  int64_t label_bytes;  // 1 (label) or 2 (coarse, fine); the label used is the last one
  int64_t classes;
  int64_t coarse_classes;  // checked when label_bytes == 2
};

const CifarFormat kCifar10{
    .name = "cifar10",
    .subfolder = "cifar-10-batches-bin",
    .train_files = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"},
    .test_files = {"test_batch.bin"},
    .label_bytes = 1,
    .classes = 10,
    .coarse_classes = 0};
const CifarFormat kCifar100{.name = "cifar100",
                            .subfolder = "cifar-100-binary",
                            .train_files = {"train.bin"},
                            .test_files = {"test.bin"},
                            .label_bytes = 2,
                            .classes = 100,
                            .coarse_classes = 20};

// Checks every record's size and labels, converting planar RGB to HWC.
CifarBatch parse_batch(const CifarFormat& format, std::string_view bytes, const std::string& name) {
  const std::string where = format.name + " file " + name;
  const int64_t record = format.label_bytes + kImageBytes;
  if (bytes.empty()) throw std::runtime_error(where + ": empty file, no records");
  if (bytes.size() % size_t(record) != 0)
    throw std::runtime_error(where + ": " + std::to_string(bytes.size()) + " bytes is not a whole number of " +
                             std::to_string(record) + "-byte records (truncated?)");
  const int64_t records = int64_t(bytes.size()) / record;
  CifarBatch batch;
  batch.pixels.resize(size_t(records * kImageBytes));
  batch.labels.reserve(size_t(records));
  for (int64_t r = 0; r < records; ++r) {
    const auto* p = reinterpret_cast<const uint8_t*>(bytes.data()) + r * record;
    if (format.label_bytes == 2 && p[0] >= format.coarse_classes)
      throw std::runtime_error(where + ": record " + std::to_string(r) + " has coarse label " + std::to_string(p[0]) +
                               ", outside [0, " + std::to_string(format.coarse_classes) + ")");
    const uint8_t label = p[format.label_bytes - 1];
    if (label >= format.classes)
      throw std::runtime_error(where + ": record " + std::to_string(r) + " has label " + std::to_string(label) +
                               ", outside [0, " + std::to_string(format.classes) + ")");
    batch.labels.push_back(label);
    const uint8_t* planes = p + format.label_bytes;                // (C, H, W)
    uint8_t* hwc = batch.pixels.data() + size_t(r * kImageBytes);  // (H, W, C)
    for (int64_t j = 0; j < kSide * kSide; ++j)
      for (int64_t c = 0; c < kChannels; ++c) hwc[j * kChannels + c] = planes[c * kSide * kSide + j];
  }
  return batch;
}

class CifarDataset : public ImageDataset {
 public:
  CifarDataset(std::string name, int64_t classes) : name_(std::move(name)), classes_(classes) {}

  std::string name() const override { return name_; }
  int64_t size() const override { return int64_t(labels_.size()); }
  int64_t num_classes() const override { return classes_; }
  int32_t label(int64_t i) const override { return labels_.at(size_t(i)); }
  Image image(int64_t i) const override {
    check_index(i);
    Image image;
    image.height = kSide;
    image.width = kSide;
    image.channels = kChannels;
    const auto first = pixels_.begin() + i * kImageBytes;
    image.pixels.assign(first, first + kImageBytes);
    return image;
  }
  std::string source(int64_t i) const override {
    check_index(i);
    // The last file whose first sample is <= i.
    const auto file =
        std::upper_bound(files_.begin(), files_.end(), i, [](int64_t s, const File& f) { return s < f.first_sample; }) -
        1;
    return file->path + " record " + std::to_string(i - file->first_sample);
  }

  // Appends every record of one file.
  void append_file(const CifarFormat& format, const std::filesystem::path& path) {
    const std::string bytes = io::read_file(path, format.name + " file " + path.string());
    const CifarBatch batch = parse_batch(format, bytes, path.string());
    files_.push_back({path.string(), size()});
    pixels_.insert(pixels_.end(), batch.pixels.begin(), batch.pixels.end());
    labels_.insert(labels_.end(), batch.labels.begin(), batch.labels.end());
  }

 private:
  void check_index(int64_t i) const {
    if (i < 0 || i >= size())
      throw std::out_of_range(name_ + ": sample " + std::to_string(i) + " is outside [0, " + std::to_string(size()) +
                              ")");
  }

  struct File {
    std::string path;
    int64_t first_sample;
  };
  std::string name_;
  int64_t classes_;
  std::vector<uint8_t> pixels_;  // (N, 32, 32, 3)
  std::vector<int32_t> labels_;
  std::vector<File> files_;  // in sample order
};

ImageSplit load(const CifarFormat& format, const std::filesystem::path& dir) {
  // The files sit in `dir` itself or in the folder the archive unpacks to.
  std::error_code ec;
  std::filesystem::path root = dir;
  if (!std::filesystem::exists(dir / format.train_files[0], ec) &&
      std::filesystem::exists(dir / format.subfolder / format.train_files[0], ec))
    root = dir / format.subfolder;
  if (!std::filesystem::exists(root / format.train_files[0], ec))
    throw std::runtime_error(format.name + " file " + (dir / format.train_files[0]).string() + ": no such file (nor " +
                             (dir / format.subfolder / format.train_files[0]).string() +
                             "); expected the binary version of the dataset");

  auto train = std::make_shared<CifarDataset>(format.name + "-train", format.classes);
  for (const std::string& file : format.train_files) train->append_file(format, root / file);
  auto test = std::make_shared<CifarDataset>(format.name + "-test", format.classes);
  for (const std::string& file : format.test_files) test->append_file(format, root / file);
  return {train, test};
}

}  // namespace

CifarBatch parse_cifar_batch(std::string_view bytes, CifarVariant variant, const std::string& name) {
  return parse_batch(variant == CifarVariant::cifar10 ? kCifar10 : kCifar100, bytes, name);
}

ImageSplit load_cifar10(const std::filesystem::path& dir) { return load(kCifar10, dir); }
ImageSplit load_cifar100(const std::filesystem::path& dir) { return load(kCifar100, dir); }

}  // namespace pure16::data
