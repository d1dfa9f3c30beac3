#include "pure16/data/image_folder.h"

#include <algorithm>
#include <cctype>
#include <iterator>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace pure16::data {
namespace {

namespace fs = std::filesystem;

bool hidden(const fs::path& p) { return p.filename().string().starts_with('.'); }

bool is_image_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

void require_directory(const fs::path& dir, const std::string& what) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw std::runtime_error("image folder: " + what + " " + dir.string() + " does not exist");
}

class ImageFolderDataset : public ImageDataset {
 public:
  ImageFolderDataset(std::string name, fs::path dir, const std::vector<std::string>& classes)
      : name_(std::move(name)), dir_(std::move(dir)), classes_(int64_t(classes.size())) {
    for (size_t c = 0; c < classes.size(); ++c) {
      std::vector<std::string> names;
      for (const fs::directory_entry& entry : fs::directory_iterator(dir_ / classes[c])) {
        if (hidden(entry.path()) || !is_image_name(entry.path())) continue;
        std::error_code ec;
        if (entry.is_regular_file(ec)) names.push_back(entry.path().filename().string());
      }
      if (names.empty())
        throw std::runtime_error("image folder: class folder " + (dir_ / classes[c]).string() +
                                 " holds no .jpg, .jpeg or .png files");
      std::sort(names.begin(), names.end());
      for (const std::string& n : names) {
        files_.push_back(classes[c] + "/" + n);
        labels_.push_back(int32_t(c));
      }
    }
  }

  std::string name() const override { return name_; }
  int64_t size() const override { return int64_t(labels_.size()); }
  int64_t num_classes() const override { return classes_; }
  int32_t label(int64_t i) const override { return labels_.at(size_t(i)); }
  Image image(int64_t i) const override { return decode_image(path(i)); }
  std::string source(int64_t i) const override { return path(i).string(); }

 private:
  fs::path path(int64_t i) const {
    if (i < 0 || i >= size())
      throw std::out_of_range(name_ + ": sample " + std::to_string(i) + " is outside [0, " + std::to_string(size()) +
                              ")");
    return dir_ / files_[size_t(i)];
  }

  std::string name_;
  fs::path dir_;
  int64_t classes_;
  std::vector<std::string> files_;  // "<class>/<file>", relative to dir_
  std::vector<int32_t> labels_;
};

}  // namespace

std::vector<std::string> image_folder_classes(const fs::path& split_dir) {
  require_directory(split_dir, "folder");
  std::vector<std::string> classes;
  for (const fs::directory_entry& entry : fs::directory_iterator(split_dir)) {
    std::error_code ec;
    if (!hidden(entry.path()) && entry.is_directory(ec)) classes.push_back(entry.path().filename().string());
  }
  std::sort(classes.begin(), classes.end());
  if (classes.empty())
    throw std::runtime_error("image folder: " + split_dir.string() +
                             " holds no class folders (expected one sub-folder per class)");
  return classes;
}

ImageSplit load_image_folder(const fs::path& root) {
  require_directory(root, "root");
  require_directory(root / "train", "training folder");
  require_directory(root / "val", "validation folder");
  const std::vector<std::string> classes = image_folder_classes(root / "train");
  const std::vector<std::string> val_classes = image_folder_classes(root / "val");
  if (val_classes != classes) {
    // Name the first class that one side has and the other lacks.
    std::vector<std::string> only_train, only_val;
    std::set_difference(classes.begin(), classes.end(), val_classes.begin(), val_classes.end(),
                        std::back_inserter(only_train));
    std::set_difference(val_classes.begin(), val_classes.end(), classes.begin(), classes.end(),
                        std::back_inserter(only_val));
    std::string what = "image folder " + root.string() + ": val/ and train/ hold different classes (" +
                       std::to_string(val_classes.size()) + " vs " + std::to_string(classes.size()) + ")";
    if (!only_train.empty()) what += "; " + (root / "val" / only_train[0]).string() + " is missing";
    if (!only_val.empty()) what += "; " + (root / "val" / only_val[0]).string() + " is not a class of train/";
    throw std::runtime_error(what);
  }
  std::string name = fs::weakly_canonical(root).filename().string();
  if (name.empty()) name = "imagefolder";
  return {std::make_shared<ImageFolderDataset>(name + "-train", root / "train", classes),
          std::make_shared<ImageFolderDataset>(name + "-val", root / "val", classes)};
}

}  // namespace pure16::data
