// CIFAR-10 and CIFAR-100, binary version (https://www.cs.toronto.edu/~kriz/cifar.html), held
// in memory as 32x32x3 HWC images.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "pure16/data/image.h"

namespace pure16::data {

/// Loads "cifar10-train" from data_batch_1.bin .. data_batch_5.bin and "cifar10-test" from
/// test_batch.bin, in `dir` or in `dir`/cifar-10-batches-bin (where the archive unpacks). A
/// record is 1 label byte then 3072 bytes: the 32x32 red plane, green plane, blue plane, each
/// row-major; samples are converted to HWC. 10 classes. Throws std::runtime_error naming the
/// file for a missing file, a size that is not a whole number of records (truncated), an empty
/// file and a label outside [0, 10).
ImageSplit load_cifar10(const std::filesystem::path& dir);

/// Loads "cifar100-train" from train.bin and "cifar100-test" from test.bin, in `dir` or in
/// `dir`/cifar-100-binary. A record is 2 label bytes (coarse, fine) then the 3072 planar
/// bytes; the label is the fine one (100 classes). Errors as for load_cifar10, with coarse
/// labels checked against [0, 20).
ImageSplit load_cifar100(const std::filesystem::path& dir);

enum class CifarVariant { cifar10, cifar100 };

/// The records of one batch file, converted to HWC.
struct CifarBatch {
  std::vector<uint8_t> pixels;  // (N, 32, 32, 3)
  std::vector<int32_t> labels;  // (N), the fine label for CIFAR-100
};

/// Parses the bytes of one batch file of `variant`; `name` names it in errors. Throws
/// std::runtime_error "cifar10 file <name>: ..." (or cifar100) for an empty file, a size that is
/// not a whole number of records (truncated) and a label out of range. The loaders above read
/// each file with it.
CifarBatch parse_cifar_batch(std::string_view bytes, CifarVariant variant, const std::string& name);

}  // namespace pure16::data
