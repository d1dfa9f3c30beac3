// The safetensors format: reading, validating and writing its bytes. Conversion between
// StoredTensor and Tensor is in stored_tensor.cpp, so this file needs nothing of the tensor
// library (the fuzz target links it alone).
#include "pure16/io/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>

#include "io/quoted_name.h"
#include "pure16/io/atomic_file.h"
#include "pure16/io/read_file.h"

namespace pure16::io {

// The header length and every tensor's bytes are little-endian; they are copied as they are.
static_assert(std::endian::native == std::endian::little, "a big-endian host needs byte swaps here");

namespace {

using nlohmann::json;

constexpr size_t kLengthBytes = 8;  // the u64 header length
constexpr std::string_view kMetadataKey = "__metadata__";
constexpr size_t kMaxQuotedBytes = 80;

struct StoredDTypeInfo {
  std::string_view name;
  size_t size;
};
// Every dtype of the format with a whole number of bytes per element.
constexpr StoredDTypeInfo kStoredDTypes[] = {
    {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2},
    {"BF16", 2}, {"I32", 4}, {"U32", 4}, {"F32", 4},     {"F64", 8},     {"I64", 8}, {"U64", 8},
};

const StoredDTypeInfo* find_stored_dtype(std::string_view name) {
  for (const StoredDTypeInfo& info : kStoredDTypes)
    if (info.name == name) return &info;
  return nullptr;
}

// numel(shape) * element_size for non-negative dimensions; nullopt when the element count or
// the byte count leaves int64 (as the reference reader does, even when a later dimension is 0).
std::optional<uint64_t> checked_tensor_bytes(size_t element_size, const std::vector<int64_t>& shape) {
  int64_t numel = 1;
  for (int64_t d : shape)
    if (__builtin_mul_overflow(numel, d, &numel)) return std::nullopt;
  int64_t bytes = 0;
  if (__builtin_mul_overflow(numel, int64_t(element_size), &bytes)) return std::nullopt;
  return uint64_t(bytes);
}

// "a number", "an array": what a JSON value is, for messages.
std::string kind_of(const json& value) {
  const std::string type = value.type_name();
  return (type == "array" || type == "object" ? "an " : "a ") + type;
}

std::string offsets_text(uint64_t begin, uint64_t end) {
  return "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

// nlohmann's parser builds whatever JSON it is given and keeps the last of duplicate keys. This
// callback stops it at the first duplicate key (two tensors of one name would otherwise be read
// as one) and at the first value nested deeper than a header can be (depth 3: the elements of a
// shape), so "[[[[..." cannot make it build millions of nested arrays.
class HeaderGuard {
 public:
  explicit HeaderGuard(const std::string& file) : file_(file) {}

  bool operator()(int depth, json::parse_event_t event, json& parsed) {
    if (depth > kMaxDepth) fail_reading(file_, "header nests values deeper than a safetensors header does");
    if (event == json::parse_event_t::object_start) keys_[size_t(depth) + 1].clear();
    if (event == json::parse_event_t::key) {
      const std::string& key = parsed.get_ref<const std::string&>();
      if (!keys_[size_t(depth)].insert(key).second)
        fail_reading(file_, depth == 1
                                ? "name " + quoted_name(key) + " appears twice in the header"
                                : "key " + quoted_name(key) + " appears twice in the entry of " + quoted_name(entry_));
      if (depth == 1) entry_ = key;
    }
    return true;
  }

 private:
  static constexpr int kMaxDepth = 3;
  const std::string& file_;
  std::set<std::string> keys_[kMaxDepth + 2];  // keys of the object open at each depth
  std::string entry_;                          // the top-level key being parsed
};

json parse_header_json(std::string_view header, const std::string& file) {
  if (header.empty() || header.front() != '{')
    fail_reading(file, "header is not a JSON object (it must start with '{')");
  try {
    return json::parse(header.begin(), header.end(), HeaderGuard(file));
  } catch (const json::exception& e) {
    fail_reading(file, std::string("header is not valid JSON: ") + e.what());
  }
}

std::map<std::string, std::string> parse_metadata(const json& value, const std::string& file) {
  if (!value.is_object())
    fail_reading(file, "\"__metadata__\" is " + kind_of(value) + ", not a map of strings to strings");
  std::map<std::string, std::string> metadata;
  for (const auto& [key, item] : value.items()) {
    if (!item.is_string())
      fail_reading(file, "\"__metadata__\" maps " + quoted_name(key) + " to " + kind_of(item) + ", not a string");
    metadata.emplace(key, item.get<std::string>());
  }
  return metadata;
}

// A tensor's header entry, checked on its own; its data is copied once all offsets are checked.
struct Entry {
  StoredTensor tensor;
  uint64_t begin = 0, end = 0;
};

Entry parse_entry(const std::string& name, const json& value, uint64_t data_bytes, const std::string& file) {
  const std::string where = "tensor " + quoted_name(name);
  if (!value.is_object()) fail_reading(file, where + ": entry is " + kind_of(value) + ", not an object");
  for (const auto& item : value.items())
    if (item.key() != "dtype" && item.key() != "shape" && item.key() != "data_offsets")
      fail_reading(file,
                   where + ": unexpected key " + quoted_name(item.key()) + " (expected dtype, shape, data_offsets)");
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!value.contains(key)) fail_reading(file, where + ": no \"" + key + "\"");

  Entry entry;
  entry.tensor.name = name;
  const json& dtype = value["dtype"];
  if (!dtype.is_string()) fail_reading(file, where + ": dtype is " + kind_of(dtype) + ", not a string");
  entry.tensor.dtype = dtype.get<std::string>();
  const StoredDTypeInfo* info = find_stored_dtype(entry.tensor.dtype);
  if (info == nullptr) fail_reading(file, where + ": unknown dtype " + quoted_name(entry.tensor.dtype));

  const json& shape = value["shape"];
  if (!shape.is_array()) fail_reading(file, where + ": shape is " + kind_of(shape) + ", not a list");
  for (const json& dim : shape) {
    if (!dim.is_number_unsigned())
      fail_reading(file,
                   where + ": shape holds " + dim.dump().substr(0, kMaxQuotedBytes) + ", not a non-negative integer");
    const uint64_t d = dim.get<uint64_t>();
    if (d > uint64_t(std::numeric_limits<int64_t>::max()))
      fail_reading(file, where + ": dimension " + std::to_string(d) + " does not fit in int64");
    entry.tensor.shape.push_back(int64_t(d));
  }

  const json& offsets = value["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned())
    fail_reading(file, where + ": data_offsets is not a list of two non-negative integers");
  entry.begin = offsets[0].get<uint64_t>();
  entry.end = offsets[1].get<uint64_t>();
  if (entry.begin > entry.end)
    fail_reading(file, where + ": " + offsets_text(entry.begin, entry.end) + " begin after they end");
  if (entry.end > data_bytes)
    fail_reading(file, where + ": " + offsets_text(entry.begin, entry.end) + " run past the end of the data (" +
                           std::to_string(data_bytes) + " bytes)");

  const std::optional<uint64_t> bytes = checked_tensor_bytes(info->size, entry.tensor.shape);
  if (!bytes)
    fail_reading(file, where + ": the element count of its shape (" + std::to_string(shape.size()) +
                           " dimensions) overflows int64");
  if (*bytes != entry.end - entry.begin)
    fail_reading(file, where + ": its shape of " + entry.tensor.dtype + " needs " + std::to_string(*bytes) +
                           " bytes, its " + offsets_text(entry.begin, entry.end) + " hold " +
                           std::to_string(entry.end - entry.begin));
  return entry;
}

// The tensors must tile the data section: in offset order, each begins where the one before
// ends, and the last ends at the end of the file. Bytes that belong to no tensor, or to two,
// are how a file smuggles data past a reader or makes two tensors alias.
void check_coverage(std::vector<Entry>& entries, uint64_t data_bytes, const std::string& file) {
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t covered = 0;
  const Entry* previous = nullptr;
  for (const Entry& entry : entries) {
    const std::string where =
        "tensor " + quoted_name(entry.tensor.name) + " (" + offsets_text(entry.begin, entry.end) + ")";
    if (entry.begin < covered)
      fail_reading(file, where + " overlaps tensor " + quoted_name(previous->tensor.name) + ", which ends at " +
                             std::to_string(covered));
    if (entry.begin > covered)
      fail_reading(file, where + " leaves a gap of " + std::to_string(entry.begin - covered) +
                             " bytes in the data after offset " + std::to_string(covered));
    covered = entry.end;
    previous = &entry;
  }
  if (covered != data_bytes)
    fail_reading(file, "the last " + std::to_string(data_bytes - covered) + " of the " + std::to_string(data_bytes) +
                           " bytes of data belong to no tensor");
}

}  // namespace

std::string quoted_name(std::string_view name) {
  std::string out = "\"";
  for (size_t i = 0; i < name.size(); ++i) {
    if (i == kMaxQuotedBytes) {
      out += "...";
      break;
    }
    const auto c = static_cast<unsigned char>(name[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c < 0x20 || c == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
      out += escaped;
    } else {
      out += char(c);
    }
  }
  return out + "\"";
}

const StoredTensor* SafetensorsFile::find(std::string_view name) const {
  for (const StoredTensor& tensor : tensors)
    if (tensor.name == name) return &tensor;
  return nullptr;
}

size_t stored_dtype_size(std::string_view dtype) {
  const StoredDTypeInfo* info = find_stored_dtype(dtype);
  if (info == nullptr) throw std::invalid_argument("unknown safetensors dtype " + quoted_name(dtype));
  return info->size;
}

uint64_t stored_tensor_bytes(std::string_view dtype, const std::vector<int64_t>& shape) {
  const size_t element_size = stored_dtype_size(dtype);
  for (int64_t d : shape)
    if (d < 0) throw std::invalid_argument("negative dimension " + std::to_string(d) + " in a tensor's shape");
  const std::optional<uint64_t> bytes = checked_tensor_bytes(element_size, shape);
  if (!bytes) throw std::invalid_argument("the element count of a shape of " + std::to_string(shape.size()) +
                                          " dimensions overflows int64");
  return *bytes;
}

std::string serialize_safetensors(const SafetensorsFile& contents) {
  // ordered_json keeps the header in the order of the data: metadata first, then each tensor.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!contents.metadata.empty()) header[std::string(kMetadataKey)] = contents.metadata;
  std::set<std::string_view> names;
  uint64_t offset = 0;
  for (const StoredTensor& tensor : contents.tensors) {
    const std::string where = "serialize_safetensors: tensor " + quoted_name(tensor.name);
    if (tensor.name == kMetadataKey) throw std::invalid_argument(where + ": the name is reserved for metadata");
    if (!names.insert(tensor.name).second) throw std::invalid_argument(where + ": the name appears twice");
    uint64_t bytes = 0;
    try {
      bytes = stored_tensor_bytes(tensor.dtype, tensor.shape);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(where + ": " + e.what());
    }
    if (bytes != tensor.data.size())
      throw std::invalid_argument(where + ": holds " + std::to_string(tensor.data.size()) + " bytes, its shape of " +
                                  tensor.dtype + " needs " + std::to_string(bytes));
    header[tensor.name] = {
        {"dtype", tensor.dtype}, {"shape", tensor.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::ordered_json::type_error& e) {
    throw std::invalid_argument(std::string("serialize_safetensors: a name or metadata string is not UTF-8: ") +
                                e.what());
  }
  // Padding to 8 bytes aligns the data section, so a reader can map 8-byte elements in place.
  text.append((kLengthBytes - text.size() % kLengthBytes) % kLengthBytes, ' ');

  std::string out(kLengthBytes, '\0');
  const uint64_t length = text.size();
  std::memcpy(out.data(), &length, kLengthBytes);
  out.reserve(kLengthBytes + text.size() + offset);
  out += text;
  for (const StoredTensor& tensor : contents.tensors) out += tensor.data;
  return out;
}

SafetensorsFile parse_safetensors(std::string_view bytes, const std::string& file) {
  if (bytes.size() < kLengthBytes)
    fail_reading(file, "truncated: " + std::to_string(bytes.size()) + " bytes, fewer than the 8 of the header length");
  uint64_t header_length = 0;
  std::memcpy(&header_length, bytes.data(), kLengthBytes);
  if (header_length > kMaxSafetensorsHeaderBytes)
    fail_reading(file, "header length " + std::to_string(header_length) + " exceeds the limit of " +
                           std::to_string(kMaxSafetensorsHeaderBytes) + " bytes");
  if (header_length > bytes.size() - kLengthBytes)
    fail_reading(file, "header length " + std::to_string(header_length) + " runs past the end of the file (" +
                           std::to_string(bytes.size() - kLengthBytes) + " bytes follow it)");
  const std::string_view data = bytes.substr(kLengthBytes + header_length);
  const json header = parse_header_json(bytes.substr(kLengthBytes, header_length), file);

  SafetensorsFile contents;
  std::vector<Entry> entries;
  for (const auto& [name, value] : header.items()) {
    if (name == kMetadataKey) contents.metadata = parse_metadata(value, file);
    else entries.push_back(parse_entry(name, value, data.size(), file));
  }
  check_coverage(entries, data.size(), file);
  for (Entry& entry : entries) {
    entry.tensor.data.assign(data.substr(entry.begin, entry.end - entry.begin));
    contents.tensors.push_back(std::move(entry.tensor));
  }
  return contents;
}

void write_safetensors(const std::filesystem::path& path, const SafetensorsFile& contents) {
  write_file_atomic(path, serialize_safetensors(contents));
}

SafetensorsFile read_safetensors(const std::filesystem::path& path) {
  return parse_safetensors(read_file(path, path.string()), path.string());
}

}  // namespace pure16::io
