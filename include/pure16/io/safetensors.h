// The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length N, a JSON header of N bytes mapping each tensor name to {dtype, shape,
// data_offsets} (plus an optional "__metadata__" map of strings to strings), then the tensors'
// bytes, little-endian, row-major. Checkpoints and exported models are both this format, so
// PyTorch (safetensors.torch.load_file) and any other reader of it can open them.
//
// The reader trusts nothing: every malformed or hostile file is rejected with a
// std::runtime_error that starts with the file's name and says what is wrong.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "pure16/tensor/tensor.h"

namespace pure16::io {

/// The largest header the reader accepts (the reference implementation's limit).
constexpr uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

/// One tensor as stored: dtype is the format's own name ("F16", "BF16", "F32", "F64", "I64",
/// "I32", "U8", ...); `data` holds exactly numel(shape) * size(dtype) bytes, little-endian.
struct StoredTensor {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;  // empty: a scalar (one element)
  std::string data;

  bool operator==(const StoredTensor&) const = default;
};

struct SafetensorsFile {
  std::vector<StoredTensor> tensors;            // in the order of their data offsets
  std::map<std::string, std::string> metadata;  // "__metadata__"

  /// nullptr when there is no tensor of that name.
  const StoredTensor* find(std::string_view name) const;
  bool operator==(const SafetensorsFile&) const = default;
};

/// Bytes per element of a safetensors dtype name; throws std::invalid_argument for an unknown one.
size_t stored_dtype_size(std::string_view dtype);
/// numel(shape) * stored_dtype_size(dtype): the bytes a tensor of that dtype and shape holds.
/// Throws std::invalid_argument for an unknown dtype, a negative dimension, or an element count
/// or byte count that does not fit in int64.
uint64_t stored_tensor_bytes(std::string_view dtype, const std::vector<int64_t>& shape);
/// "F16" for DType::f16, "BF16", "F32", "F64".
std::string stored_dtype_name(DType dtype);

/// A contiguous copy of `tensor` as a StoredTensor called `name`.
StoredTensor to_stored(std::string name, const Tensor& tensor);
/// The tensor of a floating-point StoredTensor ("F16", "BF16", "F32", "F64"). Throws
/// std::runtime_error naming `file` and the tensor for any other dtype, and for a value that is
/// NaN or infinite when `require_finite` is set.
Tensor from_stored(const StoredTensor& stored, const std::string& file, bool require_finite = true);

/// The bytes of a safetensors file holding `contents`: header padded with spaces to a multiple
/// of 8 bytes, tensors in the order given, each at the next offset (no gaps).
std::string serialize_safetensors(const SafetensorsFile& contents);
/// Parses the bytes of a safetensors file; `file` names it in errors. Rejects: fewer than 8
/// bytes; a header length over kMaxSafetensorsHeaderBytes or past the end; a header that is not
/// a JSON object, or an entry that is not {dtype: string, shape: [non-negative ints],
/// data_offsets: [begin, end]}, or has other keys; an unknown dtype; a duplicate name; offsets
/// with begin > end, past the end of the data, overlapping, or leaving gaps (the data section
/// must be exactly covered); a byte count that is not numel(shape) * size(dtype); shapes whose
/// element count overflows; "__metadata__" that is not a map of strings to strings.
SafetensorsFile parse_safetensors(std::string_view bytes, const std::string& file);

/// Writes atomically (temporary file, fsync, rename, fsync of the directory): after a crash the
/// path holds the old file or the new one, complete.
void write_safetensors(const std::filesystem::path& path, const SafetensorsFile& contents);
/// Reads and parses a whole file; errors name `path`.
SafetensorsFile read_safetensors(const std::filesystem::path& path);

}  // namespace pure16::io
