// A model's weights as a safetensors file, for use outside the process that trained it.
//
// Every parameter and buffer is stored under its path name (Parameter::name, torchvision's
// state_dict key), in one of two layouts:
//   pure16       our tensors as they are: convolution weights (O, KH, KW, I), and the features
//                of a flattened (H, W, C) map in (h, w, c) order;
//   torchvision  what load_state_dict of the equivalent PyTorch module expects: convolution
//                weights (O, I, KH, KW), the columns of the first Linear after a Flatten of an
//                (H, W, C) map in (c, h, w) order (PyTorch flattens NCHW), and each BatchNorm's
//                `num_batches_tracked` (an int64 scalar). Linear weights are (out, in) in both.
// The file's metadata says which ("pure16_layout"); a file without it (torch's save_file of a
// state_dict) is read as torchvision's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pure16/io/safetensors.h"
#include "pure16/nn/parameters.h"
#include "pure16/nn/sequential.h"

namespace pure16::train {

enum class ModelLayout { pure16, torchvision };

/// "pure16" or "torchvision"; throws std::invalid_argument naming the known layouts otherwise.
ModelLayout parse_model_layout(std::string_view name);
std::string_view model_layout_name(ModelLayout layout);

/// The weights of `model`, whose tensors `store` holds, in `layout`: each parameter read from
/// the master weights (the values when there is no master copy), each buffer from its values,
/// rounded once to nearest even to `dtype` (f32, f16 or bf16), or without one to the dtype the
/// run keeps the tensor's values in (fp32 for a layer the policy keeps in fp32). In the torchvision
/// layout each BatchNorm's num_batches_tracked is `batches_tracked`. Metadata: "format": "pt"
/// (what safetensors.torch expects), "pure16_layout", "pure16_model" (`model_name`),
/// "pure16_dtype" (the dtypes written, joined by "+" when there are several: "f32+f16").
io::SafetensorsFile export_model(nn::Sequential& model, const nn::ParameterStore& store, const std::string& model_name,
                                 ModelLayout layout, std::optional<DType> dtype, int64_t batches_tracked);

struct ImportReport {
  ModelLayout layout = ModelLayout::torchvision;  // as the file says
  int64_t tensors_loaded = 0;                     // parameters and buffers (num_batches_tracked aside)
  std::vector<std::string> skipped;               // the head's tensors that replace_head kept fresh
};

/// Loads the weights in `contents` (read from `file`, which errors name) into `model`, whose
/// tensors `store` holds: the master weights (if there is a copy) and the values of each
/// parameter, and the buffers, converted from the file's dtype and layout with one rounding
/// to nearest even. Throws std::runtime_error starting with `file` for a missing tensor, a tensor
/// the model does not have (a BatchNorm's num_batches_tracked aside: we do not keep it), a shape
/// other than the model's, a non-float dtype and a value that is NaN or infinite; the model is
/// then left unchanged. With `replace_head`, a last Linear layer of another number of outputs
/// (fine-tuning on other classes) keeps its fresh initialisation and is reported as skipped.
ImportReport import_weights(const io::SafetensorsFile& contents, const std::string& file, nn::Sequential& model,
                            nn::ParameterStore& store, bool replace_head);

}  // namespace pure16::train
