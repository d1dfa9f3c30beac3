// `pure16 predict`: the most likely classes of images (JPEG/PNG) or of samples of an IDX file,
// by a checkpoint or an exported model, with their probabilities.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "pure16/data/idx.h"
#include "pure16/data/image.h"
#include "pure16/data/mnist.h"
#include "pure16/data/sources.h"
#include "pure16/io/atomic_file.h"
#include "pure16/kernels/elementwise.h"
#include "pure16/train/saved_model.h"

namespace pure16::cli {
namespace {

struct PredictOptions {
  std::string checkpoint;
  std::vector<std::string> files;
  std::vector<int64_t> indices{0};
  int64_t top_k = 5;
  bool json = false;
  std::string save_inputs;
  int threads = 0;
};

struct Sample {
  std::string name;  // the file, and the index for an IDX sample
  std::vector<float> values;
};

bool is_idx(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  char magic[2] = {1, 1};
  in.read(magic, 2);
  return in && magic[0] == 0 && magic[1] == 0;
}

// Samples `indices` of an IDX file of 8-bit images, normalized as MNIST's.
std::vector<Sample> idx_samples(const std::string& file, const std::vector<int64_t>& indices, const Shape& shape) {
  const data::IdxArray array = data::read_idx(file);
  const int64_t per_sample = shape_numel(shape);
  if (array.dims.size() != 3 || shape.size() != 3 || array.dims[1] != shape[0] || array.dims[2] != shape[1] ||
      shape[2] != 1)
    throw std::runtime_error(file + ": the model takes " + shape_string(shape) + " samples; this IDX file holds " +
                             std::to_string(array.dims.size()) + "-dimensional data of another shape");
  std::vector<Sample> samples;
  for (int64_t i : indices) {
    if (i < 0 || i >= array.dims[0])
      throw std::runtime_error(file + ": no sample " + std::to_string(i) + " (it holds " + std::to_string(array.dims[0]) + ")");
    samples.push_back({file + "#" + std::to_string(i), data::normalize_mnist(array.values.data() + i * per_sample, size_t(per_sample))});
  }
  return samples;
}

Sample image_sample(const std::string& file, const data::DatasetIdentity& dataset, const Shape& shape) {
  const std::string kind = dataset.name.substr(0, dataset.name.find(':'));
  if (kind != "cifar10" && kind != "cifar100" && kind != "imagefolder")
    throw std::runtime_error(file + ": the model was trained on " + dataset.name +
                             ", whose samples are not images; give samples of an IDX file");
  const data::Pipeline transforms = data::eval_transforms(kind, shape.at(0));
  const data::Image image = data::decode_image(file);
  const std::optional<data::ImageSize> size = transforms.output_size(data::ImageSize{image.height, image.width});
  if (!size || (*size)[0] != shape[0] || (*size)[1] != shape[1])
    throw std::runtime_error(file + ": a " + std::to_string(image.width) + "x" + std::to_string(image.height) +
                             " image; after the evaluation transform (" + transforms.describe() +
                             ") the model needs " + std::to_string(shape[1]) + "x" + std::to_string(shape[0]));
  return {file, transforms(image, 0, 0, 0)};
}

int run_predict(const PredictOptions& o) {
  omp_set_num_threads(o.threads > 0 ? o.threads : omp_get_num_procs());
  const std::unique_ptr<train::Run> run = train::load_saved_model(o.checkpoint);
  const Shape& shape = run->sample_shape();
  std::vector<Sample> samples;
  for (const std::string& file : o.files) {
    if (is_idx(file)) {
      for (Sample& s : idx_samples(file, o.indices, shape)) samples.push_back(std::move(s));
    } else {
      samples.push_back(image_sample(file, run->dataset(), shape));
    }
  }
  const int64_t n = int64_t(samples.size());
  std::vector<float> inputs;
  for (const Sample& s : samples) inputs.insert(inputs.end(), s.values.begin(), s.values.end());
  if (!o.save_inputs.empty())
    io::write_file_atomic(o.save_inputs, std::string_view(reinterpret_cast<const char*>(inputs.data()), inputs.size() * 4));
  Shape batch_shape{n};
  batch_shape.insert(batch_shape.end(), shape.begin(), shape.end());
  Tensor batch = Tensor::empty(batch_shape, DType::f32);
  std::copy(inputs.begin(), inputs.end(), batch.data<float>());
  const Tensor logits = run->logits(batch).to(DType::f32);

  const int64_t classes = run->num_classes();
  const std::vector<std::string>& names = run->dataset().class_names;
  const int64_t k = std::min(o.top_k, classes);
  nlohmann::json out = nlohmann::json::array();
  for (int64_t i = 0; i < n; ++i) {
    const float* row = logits.data<float>() + i * classes;
    const double top = *std::max_element(row, row + classes);
    double sum = 0;
    for (int64_t c = 0; c < classes; ++c) sum += std::exp(double(row[c]) - top);
    std::vector<int64_t> order(static_cast<size_t>(classes));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return row[a] > row[b]; });
    nlohmann::json top_k = nlohmann::json::array();
    std::string line = samples[size_t(i)].name + ":";
    for (int64_t j = 0; j < k; ++j) {
      const int64_t c = order[size_t(j)];
      const std::string name = size_t(c) < names.size() ? names[size_t(c)] : std::to_string(c);
      const double p = std::exp(double(row[c]) - top) / sum;
      top_k.push_back({{"class", name}, {"index", c}, {"probability", p}});
      char part[256];
      std::snprintf(part, sizeof part, " %s %.2f%%", name.c_str(), 100.0 * p);
      line += part;
    }
    if (!o.json) std::cout << line << "\n";
    out.push_back({{"input", samples[size_t(i)].name}, {"top", top_k}, {"logits", std::vector<float>(row, row + classes)}});
  }
  if (o.json) std::cout << out.dump() << "\n";
  return 0;
}

}  // namespace

Command add_predict_command(CLI::App& app) {
  auto o = std::make_shared<PredictOptions>();
  CLI::App* sub = app.add_subcommand("predict", "Most likely classes of images or IDX samples, with probabilities");
  sub->add_option("--checkpoint", o->checkpoint, "Checkpoint or exported model")->required();
  sub->add_option("files", o->files, "JPEG or PNG images (the dataset's evaluation transform is applied), or IDX files")
      ->required();
  sub->add_option("--index", o->indices, "Samples of each IDX file to predict (default: 0)")->delimiter(',');
  sub->add_option("--top-k", o->top_k, "Classes to show per input")->check(CLI::PositiveNumber)->capture_default_str();
  sub->add_flag("--json", o->json, "Print one JSON array: per input, the top classes and all logits");
  sub->add_option("--save-inputs", o->save_inputs,
                  "Also write the model's inputs after the transform, float32 (N, H, W, C), to compare with other tools");
  sub->add_option("--threads", o->threads, "Threads (default: all cores)")->check(CLI::PositiveNumber);
  return {sub, [o] { return run_predict(*o); }};
}

}  // namespace pure16::cli
