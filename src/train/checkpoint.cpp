#include "pure16/train/checkpoint.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "pure16/io/read_file.h"
#include "pure16/kernels/elementwise.h"
#include "pure16/train/run_log.h"

namespace pure16::train {
namespace {

constexpr int kFormatVersion = 2;
constexpr const char* kMetadataKey = "pure16_checkpoint";
constexpr std::string_view kFilePrefix = "checkpoint-step";
constexpr std::string_view kFileSuffix = ".safetensors";

// JSON has no NaN (nlohmann writes null): a loss that was NaN comes back as NaN.
double number_from(const nlohmann::json& json) { return json.is_null() ? NAN : json.get<double>(); }

// FNV-1a over 8-byte words (then the tail bytes): quick over hundreds of megabytes, and any
// flipped bit changes it.
uint64_t hash_bytes(std::string_view bytes, uint64_t hash) {
  constexpr uint64_t kPrime = 0x100000001b3ull;
  size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, bytes.data() + i, 8);
    hash = (hash ^ word) * kPrime;
  }
  for (; i < bytes.size(); ++i) hash = (hash ^ uint8_t(bytes[i])) * kPrime;
  return hash;
}

uint64_t tensors_hash(const io::SafetensorsFile& contents) {
  std::vector<const io::StoredTensor*> sorted;
  for (const io::StoredTensor& t : contents.tensors) sorted.push_back(&t);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->name < b->name; });
  uint64_t hash = 0xcbf29ce484222325ull;
  for (const io::StoredTensor* t : sorted) {
    hash = hash_bytes(t->name, hash);
    hash = hash_bytes(t->dtype, hash);
    for (int64_t d : t->shape) hash = hash_bytes(std::to_string(d) + ",", hash);
    hash = hash_bytes(t->data, hash);
  }
  return hash;
}

nlohmann::json policy_json(const PrecisionPolicy& p) {
  return {{"name", p.name},
          {"compute", dtype_name(p.compute)},
          {"master", dtype_name(p.master)},
          {"optimizer_state", dtype_name(p.optimizer_state)},
          {"statistics", dtype_name(p.statistics)},
          {"accumulation", kernels::accumulation_name(p.accumulation)},
          {"convolution", kernels::conv_algorithm_name(p.convolution)},
          {"loss_scale",
           {{"mode", loss_scale_name(LossScaleConfig{p.loss_scale.mode})},
            {"initial", p.loss_scale.initial},
            {"growth_factor", p.loss_scale.growth_factor},
            {"backoff_factor", p.loss_scale.backoff_factor},
            {"growth_interval", p.loss_scale.growth_interval},
            {"hysteresis", p.loss_scale.hysteresis},
            {"min_scale", p.loss_scale.min_scale},
            {"max_scale", p.loss_scale.max_scale}}},
          {"rounding", rounding_name(p.update_rounding)},
          {"momentum_rounding", rounding_name(p.momentum_rounding)},
          {"keep_fp32", p.keep_fp32}};
}

PrecisionPolicy policy_from_json(const nlohmann::json& j) {
  PrecisionPolicy p;
  p.name = j.at("name").get<std::string>();
  p.compute = parse_dtype(j.at("compute").get<std::string>());
  p.master = parse_dtype(j.at("master").get<std::string>());
  p.optimizer_state = parse_dtype(j.at("optimizer_state").get<std::string>());
  p.statistics = parse_dtype(j.at("statistics").get<std::string>());
  p.accumulation = kernels::parse_accumulation(j.at("accumulation").get<std::string>());
  // Written since Winograd's convolutions came; a file from before ran the implicit GEMM.
  p.convolution = kernels::parse_conv_algorithm(j.value("convolution", std::string("gemm")));
  const nlohmann::json& s = j.at("loss_scale");
  const std::string mode = s.at("mode").get<std::string>();
  p.loss_scale.mode = mode == "none" ? LossScaleMode::none : mode == "dynamic" ? LossScaleMode::dynamic : LossScaleMode::fixed;
  p.loss_scale.initial = s.at("initial").get<float>();
  p.loss_scale.growth_factor = s.at("growth_factor").get<float>();
  p.loss_scale.backoff_factor = s.at("backoff_factor").get<float>();
  p.loss_scale.growth_interval = s.at("growth_interval").get<int64_t>();
  p.loss_scale.hysteresis = s.at("hysteresis").get<int64_t>();
  p.loss_scale.min_scale = s.at("min_scale").get<float>();
  p.loss_scale.max_scale = s.at("max_scale").get<float>();
  p.update_rounding = parse_rounding(j.at("rounding").get<std::string>());
  // Written since the momentum got its own rounding; before, it rounded as the weights (nearest under kahan).
  p.momentum_rounding = j.contains("momentum_rounding") ? parse_rounding(j.at("momentum_rounding").get<std::string>())
                        : p.update_rounding == Rounding::stochastic ? Rounding::stochastic
                                                                    : Rounding::nearest;
  // Written since the per-layer overrides came; a file from before keeps no layer in fp32.
  p.keep_fp32 = j.value("keep_fp32", std::vector<std::string>{});
  p.validate();
  return p;
}

nlohmann::json optimizer_json(const optim::OptimizerConfig& o) {
  return {{"name", o.name},         {"lr", o.lr},       {"momentum", o.momentum}, {"weight_decay", o.weight_decay},
          {"nesterov", o.nesterov}, {"beta1", o.beta1}, {"beta2", o.beta2},       {"eps", o.eps},
          {"naive", o.naive},       {"trust_coefficient", o.trust_coefficient}};
}

optim::OptimizerConfig optimizer_from_json(const nlohmann::json& j) {
  optim::OptimizerConfig o;
  o.name = j.at("name").get<std::string>();
  o.lr = j.at("lr").get<float>();
  o.momentum = j.at("momentum").get<float>();
  o.weight_decay = j.at("weight_decay").get<float>();
  o.nesterov = j.at("nesterov").get<bool>();
  o.beta1 = j.at("beta1").get<float>();
  o.beta2 = j.at("beta2").get<float>();
  o.eps = j.at("eps").get<float>();
  o.naive = j.at("naive").get<bool>();
  o.trust_coefficient = j.at("trust_coefficient").get<float>();
  return o;
}

EpochRecord record_from_json(const nlohmann::json& j) {
  EpochRecord r;
  r.epoch = j.at("epoch").get<int64_t>();
  r.lr = j.at("lr").get<double>();
  r.train_loss = number_from(j.at("train_loss"));
  r.test_loss = number_from(j.at("test_loss"));
  r.test_accuracy = j.at("test_accuracy").get<double>();
  r.test_top5_accuracy = j.at("test_top5_accuracy").get<double>();
  r.images_per_second = j.at("images_per_second").get<double>();
  r.seconds = j.at("seconds").get<double>();
  r.loss_scale = j.at("loss_scale").get<double>();
  r.skipped_steps = j.at("skipped_steps").get<int64_t>();
  r.steps = j.at("steps").get<int64_t>();
  r.partial = j.at("partial").get<bool>();
  return r;
}

nlohmann::json identity_json(const data::DatasetIdentity& d) {
  return {{"name", d.name},
          {"sample_shape", d.sample_shape},
          {"num_classes", d.num_classes},
          {"train_size", d.train_size},
          {"test_size", d.test_size},
          {"label_hash", std::to_string(d.label_hash)},  // a string: JSON readers may hold numbers as doubles
          {"class_names", d.class_names}};
}

data::DatasetIdentity identity_from_json(const nlohmann::json& j) {
  data::DatasetIdentity d;
  d.name = j.at("name").get<std::string>();
  d.sample_shape = j.at("sample_shape").get<Shape>();
  d.num_classes = j.at("num_classes").get<int64_t>();
  d.train_size = j.at("train_size").get<int64_t>();
  d.test_size = j.at("test_size").get<int64_t>();
  d.label_hash = std::stoull(j.at("label_hash").get<std::string>());
  d.class_names = j.at("class_names").get<std::vector<std::string>>();
  return d;
}

nlohmann::json position_json(const RunPosition& p) {
  return {{"step", p.step},
          {"epoch", p.epoch},
          {"batch", p.batch},
          {"loss_sum", p.loss_sum},
          {"finite_batches", p.finite_batches},
          {"images", p.images},
          {"skipped_at_epoch_start", p.skipped_at_epoch_start},
          {"seconds", p.seconds},
          {"skipped_in_a_row", p.skipped_in_a_row}};
}

RunPosition position_from_json(const nlohmann::json& j) {
  RunPosition p;
  p.step = j.at("step").get<int64_t>();
  p.epoch = j.at("epoch").get<int64_t>();
  p.batch = j.at("batch").get<int64_t>();
  p.loss_sum = j.at("loss_sum").get<double>();
  p.finite_batches = j.at("finite_batches").get<int64_t>();
  p.images = j.at("images").get<int64_t>();
  p.skipped_at_epoch_start = j.at("skipped_at_epoch_start").get<int64_t>();
  p.seconds = j.at("seconds").get<double>();
  p.skipped_in_a_row = j.at("skipped_in_a_row").get<int64_t>();
  if (p.skipped_in_a_row < 0 || p.step < 0 || p.epoch < 0 || p.batch < 0 || p.finite_batches < 0 || p.images < 0)
    throw std::invalid_argument("negative count in the position");
  return p;
}

// The checkpoint's JSON document, checked against the tensors' hash.
nlohmann::json checkpoint_document(const io::SafetensorsFile& contents, const std::string& file) {
  const auto it = contents.metadata.find(kMetadataKey);
  if (it == contents.metadata.end())
    io::fail_reading(file,
                     "not a pure16 checkpoint (no \"" + std::string(kMetadataKey) + "\" in the safetensors metadata)");
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(it->second);
  } catch (const std::exception& e) {
    io::fail_reading(file, std::string("checkpoint metadata is not valid JSON: ") + e.what());
  }
  if (!doc.is_object()) io::fail_reading(file, "checkpoint metadata is not a JSON object");
  try {
    const int version = doc.at("version").get<int>();
    if (version != kFormatVersion)
      io::fail_reading(file, "checkpoint format version " + std::to_string(version) + ", this pure16 reads version " +
                                 std::to_string(kFormatVersion));
    const std::string stored_hash = doc.at("tensors_hash").get<std::string>();
    if (stored_hash != std::to_string(tensors_hash(contents)))
      io::fail_reading(file, "checkpoint is corrupt: its tensors do not match the hash recorded when it was written");
  } catch (const nlohmann::json::exception& e) {
    io::fail_reading(file, std::string("checkpoint metadata: ") + e.what());
  }
  return doc;
}

// The first difference between two configurations in what a resumed run must keep.
std::string config_mismatch(const TrainConfig& mine, const TrainConfig& theirs) {
  if (mine.model != theirs.model) return "model: " + mine.model + " vs " + theirs.model;
  if (mine.optimizer.name != theirs.optimizer.name)
    return "optimizer: " + mine.optimizer.name + " vs " + theirs.optimizer.name;
  if (mine.model_options.dropout != theirs.model_options.dropout)
    return "dropout: " + std::to_string(mine.model_options.dropout) + " vs " + std::to_string(theirs.model_options.dropout);
  const nlohmann::json a = policy_json(mine.policy), b = policy_json(theirs.policy);
  if (a != b) return "precision: " + mine.policy.describe() + " vs " + theirs.policy.describe();
  if (mine.batch_size != theirs.batch_size)
    return "batch size: " + std::to_string(mine.batch_size) + " vs " + std::to_string(theirs.batch_size);
  if (mine.seed != theirs.seed) return "seed: " + std::to_string(mine.seed) + " vs " + std::to_string(theirs.seed);
  return "";
}

// Copies stored tensor `name` into `out` (a parameter's or buffer's view, in the dtype this run
// keeps it in), checking dtype and shape.
void load_into(const io::SafetensorsFile& contents, const std::string& file, const std::string& name, Tensor out) {
  const io::StoredTensor* t = contents.find(name);
  if (t == nullptr) io::fail_reading(file, "checkpoint has no tensor " + name);
  const std::string dtype = io::stored_dtype_name(out.dtype());
  if (t->dtype != dtype) io::fail_reading(file, "tensor " + name + " is " + t->dtype + ", this run keeps it as " + dtype);
  if (Shape(t->shape.begin(), t->shape.end()) != out.shape())
    io::fail_reading(file, "tensor " + name + " has shape " + shape_string(Shape(t->shape.begin(), t->shape.end())) +
                   ", the model's is " + shape_string(out.shape()));
  std::memcpy(out.raw(), t->data.data(), t->data.size());
}

void check_finite(const nn::Arena& arena, const std::string& file, const std::string& what) {
  for (size_t g = 0; g < arena.groups(); ++g) {
    const Tensor& segment = arena.segment(g);
    if (kernels::count_nonfinite(segment.raw(), segment.dtype(), segment.numel()) > 0)
      io::fail_reading(file, "checkpoint holds NaN or infinite values in its " + what);
  }
}

}  // namespace

nlohmann::json config_json(const TrainConfig& c) {
  return {{"model", c.model},
          {"dropout", c.model_options.dropout},
          {"policy", policy_json(c.policy)},
          {"optimizer", optimizer_json(c.optimizer)},
          {"lr_schedule", optim::lr_schedule_name(c.lr_schedule)},
          {"warmup_epochs", c.warmup_epochs},
          {"lr_milestones", c.lr_milestones},
          {"lr_gamma", c.lr_gamma},
          {"epochs", c.epochs},
          {"max_steps", c.max_steps},
          {"batch_size", c.batch_size},
          {"eval_batch_size", c.eval_batch_size},
          {"seed", std::to_string(c.seed)},
          {"divergence_window", c.divergence_window},
          {"stop_on_divergence", c.stop_on_divergence}};
}

TrainConfig config_from_json(const nlohmann::json& j) {
  try {
    TrainConfig c;
    c.model = j.at("model").get<std::string>();
    c.model_options.dropout = j.at("dropout").get<float>();
    c.policy = policy_from_json(j.at("policy"));
    c.optimizer = optimizer_from_json(j.at("optimizer"));
    c.lr_schedule = optim::parse_lr_schedule(j.at("lr_schedule").get<std::string>());
    c.warmup_epochs = j.at("warmup_epochs").get<double>();
    c.lr_milestones = j.at("lr_milestones").get<std::vector<double>>();
    c.lr_gamma = j.at("lr_gamma").get<float>();
    c.epochs = j.at("epochs").get<int64_t>();
    c.max_steps = j.at("max_steps").get<int64_t>();
    c.batch_size = j.at("batch_size").get<int64_t>();
    c.eval_batch_size = j.at("eval_batch_size").get<int64_t>();
    c.seed = std::stoull(j.at("seed").get<std::string>());
    c.divergence_window = j.at("divergence_window").get<int64_t>();
    c.stop_on_divergence = j.at("stop_on_divergence").get<bool>();
    c.validate();
    return c;
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("configuration: ") + e.what());
  }
}

io::SafetensorsFile checkpoint_contents(const Run& run) {
  io::SafetensorsFile contents;
  auto& model = const_cast<Run&>(run).model();  // parameters() is not const; nothing is changed
  const nn::ParameterStore& store = run.store();
  const std::vector<optim::StateArena> arenas = const_cast<Run&>(run).optimizer().state_arenas();
  for (nn::Parameter* p : model.parameters()) {
    contents.tensors.push_back(io::to_stored("weights." + p->name, p->value));
    if (store.has_master_copy(*p)) contents.tensors.push_back(io::to_stored("master." + p->name, store.master().view(*p)));
    for (const optim::StateArena& arena : arenas)
      contents.tensors.push_back(io::to_stored(arena.name + "." + p->name, arena.arena->view(*p)));
  }
  for (nn::Parameter* b : model.buffers()) contents.tensors.push_back(io::to_stored("buffers." + b->name, b->value));

  const LossScalerState scaler = run.scaler().state();
  nlohmann::json history = nlohmann::json::array();
  for (const EpochRecord& r : run.history()) history.push_back(epoch_json(r));  // the run log's record
  nlohmann::json optimizer_scalars = nlohmann::json::object();
  for (const auto& [name, value] : run.optimizer().state_scalars()) optimizer_scalars[name] = value;
  const nlohmann::json doc{{"version", kFormatVersion},
                           {"run", run_description_json(run)},
                           {"position", position_json(run.position())},
                           {"loss_scaler",
                            {{"scale", scaler.scale},
                             {"clean_steps", scaler.clean_steps},
                             {"skipped", scaler.skipped},
                             {"hysteresis_left", scaler.hysteresis_left}}},
                           {"optimizer", optimizer_scalars},
                           {"history", history},
                           {"tensors_hash", std::to_string(tensors_hash(contents))}};
  contents.metadata[kMetadataKey] = doc.dump();
  contents.metadata["format"] = "pt";
  return contents;
}

nlohmann::json run_description_json(const Run& run) {
  return {{"config", config_json(run.config())},
          {"sample_shape", run.sample_shape()},
          {"num_classes", run.num_classes()},
          {"steps_per_epoch", run.steps_per_epoch()},
          {"dataset", identity_json(run.dataset())}};
}

RunDescription run_description_from_json(const nlohmann::json& j) {
  try {
    RunDescription d;
    d.config = config_from_json(j.at("config"));
    d.sample_shape = j.at("sample_shape").get<Shape>();
    d.num_classes = j.at("num_classes").get<int64_t>();
    d.steps_per_epoch = j.at("steps_per_epoch").get<int64_t>();
    d.dataset = identity_from_json(j.at("dataset"));
    return d;
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(e.what());
  }
}

std::unique_ptr<Run> build_run(const RunDescription& d) {
  auto run = std::make_unique<Run>(d.config, d.sample_shape, d.num_classes, d.steps_per_epoch);
  run->set_dataset(d.dataset);
  return run;
}

CheckpointHeader read_checkpoint_header(const io::SafetensorsFile& contents, const std::string& file) {
  const nlohmann::json doc = checkpoint_document(contents, file);
  try {
    CheckpointHeader h;
    h.run = run_description_from_json(doc.at("run"));
    h.position = position_from_json(doc.at("position"));
    for (const nlohmann::json& r : doc.at("history")) h.history.push_back(record_from_json(r));
    return h;
  } catch (const std::exception& e) {
    io::fail_reading(file, std::string("checkpoint metadata: ") + e.what());
  }
}

void Run::save(const std::filesystem::path& path) const { io::write_safetensors(path, checkpoint_contents(*this)); }

void Run::restore(const std::filesystem::path& path) { restore(io::read_safetensors(path), path.string()); }

void Run::restore(const io::SafetensorsFile& contents, const std::string& file) {
  const CheckpointHeader header = read_checkpoint_header(contents, file);
  const nlohmann::json doc = nlohmann::json::parse(contents.metadata.at(kMetadataKey));
  const std::string mismatch = config_mismatch(config_, header.run.config);
  if (!mismatch.empty())
    io::fail_reading(file, "cannot resume this run from it, the " + mismatch + " (run vs checkpoint)");
  const std::string data_mismatch = dataset_.difference(header.run.dataset);
  if (!data_mismatch.empty())
    io::fail_reading(file, "cannot resume this run from it, the " + data_mismatch + " (run vs checkpoint)");
  if (header.run.steps_per_epoch != steps_per_epoch_)
    io::fail_reading(file, "checkpoint was written with " + std::to_string(header.run.steps_per_epoch) +
                               " batches an epoch, this run has " + std::to_string(steps_per_epoch_));

  std::vector<std::string> expected;
  for (nn::Parameter* p : model_->parameters()) {
    load_into(contents, file, "weights." + p->name, store_.values().view(*p));
    expected.push_back("weights." + p->name);
    if (store_.has_master_copy(*p)) {
      load_into(contents, file, "master." + p->name, store_.master().view(*p));
      expected.push_back("master." + p->name);
    }
    for (const optim::StateArena& arena : optimizer_->state_arenas()) {
      load_into(contents, file, arena.name + "." + p->name, arena.arena->view(*p));
      expected.push_back(arena.name + "." + p->name);
    }
  }
  for (nn::Parameter* b : model_->buffers()) {
    load_into(contents, file, "buffers." + b->name, b->value);
    expected.push_back("buffers." + b->name);
  }
  std::sort(expected.begin(), expected.end());
  for (const io::StoredTensor& t : contents.tensors)
    if (!std::binary_search(expected.begin(), expected.end(), t.name))
      io::fail_reading(file, "checkpoint has a tensor this run does not: " + t.name);
  check_finite(store_.values(), file, "weights");
  check_finite(store_.master(), file, "master weights");
  for (const optim::StateArena& arena : optimizer_->state_arenas())
    check_finite(*arena.arena, file, "optimizer's " + arena.name);

  try {
    const nlohmann::json& s = doc.at("loss_scaler");
    scaler_.restore({s.at("scale").get<float>(), s.at("clean_steps").get<int64_t>(), s.at("skipped").get<int64_t>(),
                     s.at("hysteresis_left").get<int64_t>()});
    optim::StateScalars scalars;
    for (const auto& [name, value] : doc.at("optimizer").items()) scalars.emplace_back(name, value.get<double>());
    optimizer_->restore_scalars(scalars);
  } catch (const std::exception& e) {
    io::fail_reading(file, std::string("checkpoint metadata: ") + e.what());
  }
  position_ = header.position;
  history_ = header.history;
}

std::unique_ptr<Run> load_run(const std::filesystem::path& path) {
  const std::string file = path.string();
  const io::SafetensorsFile contents = io::read_safetensors(path);
  std::unique_ptr<Run> run = build_run(read_checkpoint_header(contents, file).run);
  run->restore(contents, file);
  return run;
}

std::filesystem::path checkpoint_path(const std::filesystem::path& dir, int64_t step) {
  char digits[32];
  std::snprintf(digits, sizeof digits, "%010lld", static_cast<long long>(step));
  return dir / (std::string(kFilePrefix) + digits + std::string(kFileSuffix));
}

std::vector<std::filesystem::path> list_checkpoints(const std::filesystem::path& dir) {
  std::vector<std::pair<int64_t, std::filesystem::path>> found;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || name.size() <= kFilePrefix.size() + kFileSuffix.size() ||
        name.compare(0, kFilePrefix.size(), kFilePrefix) != 0 ||
        name.compare(name.size() - kFileSuffix.size(), kFileSuffix.size(), kFileSuffix) != 0)
      continue;
    const std::string digits = name.substr(kFilePrefix.size(), name.size() - kFilePrefix.size() - kFileSuffix.size());
    int64_t step = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), step);
    if (error != std::errc() || end != digits.data() + digits.size()) continue;
    found.emplace_back(step, entry.path());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::filesystem::path> paths;
  for (auto& [step, path] : found) paths.push_back(path);
  return paths;
}

std::filesystem::path resolve_resume(const std::filesystem::path& file_or_dir) {
  if (std::filesystem::is_regular_file(file_or_dir)) return file_or_dir;
  if (!std::filesystem::is_directory(file_or_dir))
    throw std::runtime_error(file_or_dir.string() + ": no such checkpoint file or directory");
  const std::vector<std::filesystem::path> all = list_checkpoints(file_or_dir);
  return all.empty() ? std::filesystem::path() : all.back();
}

Checkpointer::Checkpointer(std::filesystem::path dir, int64_t every, int64_t keep)
    : dir_(std::move(dir)), every_(every), keep_(keep) {
  if (every_ < 0 || keep_ < 0) throw std::invalid_argument("checkpoint interval and count must be non-negative");
  std::filesystem::create_directories(dir_);
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    const std::string name = entry.path().filename().string();
    if (name.compare(0, kFilePrefix.size(), kFilePrefix) == 0 && name.find(".tmp.") != std::string::npos)
      std::filesystem::remove(entry.path());
  }
}

void Checkpointer::after_batch(Run& run, const BatchProgress&) {
  if (every_ > 0 && run.steps() % every_ == 0) save(run);
}

void Checkpointer::after_epoch(Run& run, const EpochRecord&) { save(run); }

void Checkpointer::save(Run& run) {
  last_ = checkpoint_path(dir_, run.steps());
  run.save(last_);
  if (keep_ == 0) return;
  std::vector<std::filesystem::path> all = list_checkpoints(dir_);
  for (size_t i = 0; i + size_t(keep_) < all.size(); ++i) std::filesystem::remove(all[i]);
}

}  // namespace pure16::train
