// An ImageNet-style folder tree of JPEG and PNG files, decoded lazily.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "pure16/data/image.h"

namespace pure16::data {

/// Indexes `root`/train and `root`/val, each holding one sub-folder per class, as torchvision's
/// ImageFolder does. The classes are the sorted names of train/'s sub-folders (label = position),
/// and val/ must hold the same set. In each class folder the files named *.jpg, *.jpeg or *.png
/// (any case) are the samples, in sorted order; other files, and names starting with '.', are
/// ignored. Images are decoded when asked for (ImageDataset::image), so indexing reads only
/// directories. The datasets are "<name>-train" and "<name>-val" with <name> the folder's name.
///
/// Throws std::runtime_error naming the folder when root, train/ or val/ is missing, when train/
/// has no class folders, when val/'s classes differ from train/'s, and when a class folder holds
/// no image files.
ImageSplit load_image_folder(const std::filesystem::path& root);

/// The class names of an image folder split (its sub-folders, sorted), as load_image_folder
/// assigns labels. Throws as above.
std::vector<std::string> image_folder_classes(const std::filesystem::path& split_dir);

}  // namespace pure16::data
