#include "pure16/train/model_file.h"

#include <array>
#include <set>
#include <stdexcept>
#include <utility>

#include "pure16/nn/activation.h"
#include "pure16/nn/batchnorm.h"
#include "pure16/nn/conv2d.h"
#include "pure16/nn/linear.h"
#include "pure16/nn/residual.h"

namespace pure16::train {
namespace {

constexpr std::array<std::pair<ModelLayout, std::string_view>, 2> kLayouts{{
    {ModelLayout::pure16, "pure16"},
    {ModelLayout::torchvision, "torchvision"},
}};

// Where a tensor's layout in a file differs from ours: our data viewed as (rows, inner,
// channels) is the file's viewed as (rows, channels, inner). In the torchvision layout that
// moves the input channels of a convolution's (O, KH, KW, I) weight before its kernel
// positions, and the channels of a flattened (H, W, C) map before its pixels in the columns of
// the Linear that reads it. With inner or channels 1 the data is the same.
struct Relayout {
  int64_t rows = 1, inner = 1, channels = 1;
  Shape file_shape;
};

Relayout same_layout(const Shape& shape) { return {shape_numel(shape), 1, 1, shape}; }

// One tensor of a model's file, in torchvision's state_dict order.
struct Entry {
  std::string name;
  nn::Parameter* tensor = nullptr;  // nullptr: a BatchNorm's num_batches_tracked, which we do not keep
  bool trained = false;             // a parameter, whose master weights (if any) hold it; else a buffer
  bool in_head = false;             // of the last Linear layer, which replace_head may keep fresh
  Relayout torchvision;
};

// Walks a model's layers, collecting its entries.
class EntryCollector {
 public:
  std::vector<Entry> collect(nn::Sequential& model) {
    add_sequential(model);
    if (head_ != nullptr)
      for (Entry& e : entries_) e.in_head = e.tensor == &head_->weight() || e.tensor == &head_->bias();
    return std::move(entries_);
  }

 private:
  void add_sequential(nn::Sequential& chain) {
    Shape flattened_map;  // (H, W, C) of a Flatten since the last layer with state
    for (const auto& child : chain.layers()) {
      if (const auto* flatten = dynamic_cast<const nn::Flatten*>(child.get())) {
        if (flatten->item_shape().size() == 3) flattened_map = flatten->item_shape();
      } else if (add_layer(*child, flattened_map)) {
        flattened_map.clear();
      }
    }
  }

  // Appends the layer's entries, each layer's parameters before its buffers (torchvision's
  // order); returns whether it had any. `flattened_map` is the (H, W, C) map its input features
  // were flattened from, or empty.
  bool add_layer(nn::Layer& layer, const Shape& flattened_map) {
    const size_t before = entries_.size();
    if (auto* chain = dynamic_cast<nn::Sequential*>(&layer)) {
      add_sequential(*chain);
    } else if (auto* block = dynamic_cast<nn::Residual*>(&layer)) {
      add_sequential(block->main());
      if (block->shortcut() != nullptr) add_sequential(*block->shortcut());
    } else {
      for (nn::Parameter* p : layer.parameters())
        entries_.push_back({p->name, p, true, false, torchvision_layout(layer, *p, flattened_map)});
      for (nn::Parameter* b : layer.buffers()) entries_.push_back({b->name, b, false, false, same_layout(b->shape)});
      if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(&layer))
        entries_.push_back({sibling(bn->weight().name, "num_batches_tracked"), nullptr, false, false, {}});
      if (auto* linear = dynamic_cast<nn::Linear*>(&layer)) head_ = linear;
    }
    return entries_.size() != before;
  }

  static Relayout torchvision_layout(nn::Layer& layer, const nn::Parameter& p, const Shape& flattened_map) {
    const Shape& s = p.shape;
    auto* conv = dynamic_cast<nn::Conv2d*>(&layer);
    if (conv != nullptr && &p == &conv->weight()) return {s[0], s[1] * s[2], s[3], {s[0], s[3], s[1], s[2]}};
    auto* linear = dynamic_cast<nn::Linear*>(&layer);
    if (linear != nullptr && &p == &linear->weight() && !flattened_map.empty())
      return {s[0], flattened_map[0] * flattened_map[1], flattened_map[2], s};
    return same_layout(s);
  }

  // "<path>.weight" -> "<path>.<leaf>"
  static std::string sibling(const std::string& name, const std::string& leaf) {
    return name.substr(0, name.rfind('.') + 1) + leaf;  // no '.': rfind gives npos, and npos + 1 is 0
  }

  std::vector<Entry> entries_;
  nn::Linear* head_ = nullptr;
};

Relayout relayout_in(ModelLayout layout, const Entry& e) {
  return layout == ModelLayout::torchvision ? e.torchvision : same_layout(e.tensor->shape);
}

void check_store_holds(const nn::ParameterStore& store, nn::Sequential& model, const std::string& what) {
  if (store.parameters() != model.parameters())
    throw std::invalid_argument(what + ": the parameter store was not built for this model");
}

io::StoredTensor int64_scalar(std::string name, int64_t value) {
  std::string bytes(8, '\0');
  for (size_t i = 0; i < 8; ++i) bytes[i] = char((uint64_t(value) >> (8 * i)) & 0xff);  // little-endian on any host
  return {std::move(name), "I64", {}, bytes};
}

// The first few of `names`, for a message.
std::string name_list(const std::vector<std::string>& names) {
  constexpr size_t kShown = 5;
  std::string s;
  for (size_t i = 0; i < names.size() && i < kShown; ++i) s += (i ? ", " : "") + names[i];
  if (names.size() > kShown) s += " and " + std::to_string(names.size() - kShown) + " more";
  return s;
}

ModelLayout layout_of(const io::SafetensorsFile& contents, const std::string& file) {
  const auto it = contents.metadata.find("pure16_layout");
  if (it == contents.metadata.end()) return ModelLayout::torchvision;  // torch's save_file of a state_dict
  try {
    return parse_model_layout(it->second);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(file + ": metadata pure16_layout: " + e.what());
  }
}

// With replace_head: whether the file's head has another number of outputs than ours (its
// weight another number of rows, the same columns), so ours is to be kept.
bool head_is_replaced(const std::vector<Entry>& entries, const io::SafetensorsFile& contents, ModelLayout layout) {
  for (const Entry& e : entries) {
    if (!e.in_head || e.tensor->shape.size() != 2) continue;  // the head's weight, not its bias
    const io::StoredTensor* stored = contents.find(e.name);
    const Shape expected = relayout_in(layout, e).file_shape;
    return stored != nullptr && stored->shape.size() == 2 && stored->shape[1] == expected[1] &&
           stored->shape[0] != expected[0];
  }
  return false;
}

}  // namespace

ModelLayout parse_model_layout(std::string_view name) {
  std::string known;
  for (const auto& [layout, layout_name] : kLayouts) {
    if (name == layout_name) return layout;
    known += (known.empty() ? "" : ", ") + std::string(layout_name);
  }
  throw std::invalid_argument("unknown model layout '" + std::string(name) + "' (known: " + known + ")");
}

std::string_view model_layout_name(ModelLayout layout) {
  for (const auto& [known, name] : kLayouts)
    if (known == layout) return name;
  throw std::logic_error("model layout without a name");
}

io::SafetensorsFile export_model(nn::Sequential& model, const nn::ParameterStore& store, const std::string& model_name,
                                 ModelLayout layout, std::optional<DType> dtype, int64_t batches_tracked) {
  if (dtype == DType::f64) throw std::invalid_argument("export_model: dtype must be f32, f16 or bf16, got f64");
  check_store_holds(store, model, "export_model");
  io::SafetensorsFile file;
  std::string dtypes;  // those written, in order of appearance: "f16", or "f32+f16" with layers kept in fp32
  for (const Entry& e : EntryCollector().collect(model)) {
    if (e.tensor == nullptr) {
      if (layout == ModelLayout::torchvision) file.tensors.push_back(int64_scalar(e.name, batches_tracked));
      continue;
    }
    const Tensor ours = e.trained ? store.master().view(*e.tensor) : e.tensor->value;
    const DType stored_dtype = dtype.value_or(e.tensor->value.dtype());
    const Relayout r = relayout_in(layout, e);
    // to() rounds once, to nearest even, as it densifies the permuted view.
    const Tensor stored =
        ours.reshape({r.rows, r.inner, r.channels}).transpose(1, 2).to(stored_dtype).reshape(r.file_shape);
    file.tensors.push_back(io::to_stored(e.name, stored));
    const std::string name(dtype_name(stored_dtype));
    if (("+" + dtypes + "+").find("+" + name + "+") == std::string::npos) dtypes += (dtypes.empty() ? "" : "+") + name;
  }
  file.metadata = {{"format", "pt"},
                   {"pure16_layout", std::string(model_layout_name(layout))},
                   {"pure16_model", model_name},
                   {"pure16_dtype", dtypes}};
  return file;
}

ImportReport import_weights(const io::SafetensorsFile& contents, const std::string& file, nn::Sequential& model,
                            nn::ParameterStore& store, bool replace_head) {
  check_store_holds(store, model, "import_weights(" + file + ")");
  ImportReport report;
  report.layout = layout_of(contents, file);
  const std::string in_layout = " in the " + std::string(model_layout_name(report.layout)) + " layout";
  const std::vector<Entry> entries = EntryCollector().collect(model);

  std::set<std::string> known;
  for (const Entry& e : entries) known.insert(e.name);
  std::vector<std::string> unknown;
  for (const io::StoredTensor& t : contents.tensors)
    if (known.count(t.name) == 0) unknown.push_back(t.name);
  if (!unknown.empty())
    throw std::runtime_error(file + ": " + std::to_string(unknown.size()) + " tensor(s) the model does not have: " +
                             name_list(unknown));

  // Everything is checked and converted before anything is written, so a bad file leaves the
  // model as it was.
  const bool keep_head = replace_head && head_is_replaced(entries, contents, report.layout);
  std::vector<std::pair<const Entry*, Tensor>> loads;
  for (const Entry& e : entries) {
    if (e.tensor == nullptr) continue;  // num_batches_tracked: optional, and not kept
    const io::StoredTensor* stored = contents.find(e.name);
    if (stored == nullptr)
      throw std::runtime_error(file + ": no tensor " + e.name + " (the model's is " + shape_string(e.tensor->shape) +
                               ")");
    if (keep_head && e.in_head) {
      report.skipped.push_back(e.name);
      continue;
    }
    const Relayout r = relayout_in(report.layout, e);
    if (stored->shape != r.file_shape)
      throw std::runtime_error(file + ": tensor " + e.name + " has shape " + shape_string(stored->shape) +
                               ", the model expects " + shape_string(r.file_shape) + in_layout);
    const Tensor data = io::from_stored(*stored, file);  // throws for a non-float dtype, NaN or inf
    loads.emplace_back(&e, data.reshape({r.rows, r.channels, r.inner}).transpose(1, 2));
  }

  for (const auto& [e, data] : loads) {
    const Relayout r = relayout_in(report.layout, *e);
    Tensor target = e->trained ? store.master().view(*e->tensor) : e->tensor->value;
    target.reshape({r.rows, r.inner, r.channels}).copy_from(data);
    // The values are the master weights rounded to the compute dtype, as after an update.
    if (e->trained && store.has_master_copy(*e->tensor)) e->tensor->value.copy_from(target);
  }
  report.tensors_loaded = int64_t(loads.size());
  return report;
}

}  // namespace pure16::train
