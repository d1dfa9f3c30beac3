// `pure16 telemetry FILE`: reads what `pure16 train --telemetry FILE` appended and answers which
// layer overflowed or underflowed first, at which step, and where updates were lost.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "commands.h"

namespace pure16::cli {
namespace {

struct TelemetryOptions {
  std::string file;
  double underflow_threshold = 0.5;
  int64_t top = 5;
};

// The fields the report reads, per tensor of a record.
struct TensorLine {
  std::string name, role;
  double infs = 0, nans = 0;
  std::optional<double> underflow;     // see underflow_of
  std::optional<double> lost_updates;  // update entries
};

struct Record {
  int64_t step = 0;
  std::string dtype;
  std::vector<TensorLine> tensors;
};

// Reads one field, or says where the file is wrong.
class LineReader {
 public:
  LineReader(const std::string& file, int64_t line) : where_(file + ":" + std::to_string(line) + ": ") {}
  [[noreturn]] void fail(const std::string& what) const { throw std::runtime_error(where_ + what); }
  const nlohmann::json& field(const nlohmann::json& object, const char* key, const char* of) const {
    const auto it = object.find(key);
    if (it == object.end()) fail(std::string(of) + " has no \"" + key + "\"");
    return *it;
  }
  double number(const nlohmann::json& object, const char* key, const char* of) const {
    const nlohmann::json& v = field(object, key, of);
    if (!v.is_number()) fail(std::string(of) + "'s \"" + key + "\" is not a number");
    return v.get<double>();
  }
  std::string text(const nlohmann::json& object, const char* key, const char* of) const {
    const nlohmann::json& v = field(object, key, of);
    if (!v.is_string()) fail(std::string(of) + "'s \"" + key + "\" is not a string");
    return v.get<std::string>();
  }

 private:
  std::string where_;
};

// What counts as underflow in an entry: for an fp32 tensor, the part fp16 could not hold (below
// its smallest subnormal); otherwise, for gradients, the part stored as zero or subnormal.
std::optional<double> underflow_of(const nlohmann::json& entry, const std::string& role, const LineReader& reader) {
  if (entry.contains("fp16_underflow")) return reader.number(entry, "fp16_underflow", "a tensor");
  if (role == "weight_grad" || role == "activation_grad")
    return reader.number(entry, "zeros", "a tensor") + reader.number(entry, "subnormals", "a tensor");
  return std::nullopt;
}

std::vector<Record> read_records(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error("cannot open " + file);
  std::vector<Record> records;
  std::string text;
  for (int64_t number = 1; std::getline(in, text); ++number) {
    const LineReader reader(file, number);
    nlohmann::json line;
    try {
      line = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
      reader.fail(std::string("not a JSON record: ") + e.what());
    }
    if (!line.is_object()) reader.fail("not a JSON object");
    Record record;
    const double step = reader.number(line, "step", "the record");
    if (step < 0 || step != double(int64_t(step))) reader.fail("the record's \"step\" is not a step number");
    record.step = int64_t(step);
    record.dtype = reader.text(line, "dtype", "the record");
    const nlohmann::json& tensors = reader.field(line, "tensors", "the record");
    if (!tensors.is_array()) reader.fail("the record's \"tensors\" is not an array");
    for (const nlohmann::json& entry : tensors) {
      if (!entry.is_object()) reader.fail("an entry of \"tensors\" is not an object");
      TensorLine t;
      t.name = reader.text(entry, "name", "a tensor");
      t.role = reader.text(entry, "role", "a tensor");
      t.infs = reader.number(entry, "infs", "a tensor");
      t.nans = reader.number(entry, "nans", "a tensor");
      t.underflow = underflow_of(entry, t.role, reader);
      if (entry.contains("lost_updates")) t.lost_updates = reader.number(entry, "lost_updates", "a tensor");
      record.tensors.push_back(std::move(t));
    }
    records.push_back(std::move(record));
  }
  if (in.bad()) throw std::runtime_error("cannot read " + file);
  return records;
}

const char* const kRoles[] = {"weight", "weight_grad", "update", "activation", "activation_grad"};

// Per role, the first record in which any of its tensors passes `test`, and those tensors in the
// order the step made them, the first named first: records list weights and activations in
// forward order and activation gradients in backward order, but weight gradients in forward
// order, though backward makes the last layer's first.
template <class Test>
void print_firsts(const std::vector<Record>& records, Test test) {
  for (const char* role : kRoles) {
    const bool reversed = std::string(role) == "weight_grad";
    std::printf("  %-16s", role);
    bool found = false;
    for (const Record& r : records) {
      std::vector<std::string> names;
      for (const TensorLine& t : r.tensors)
        if (t.role == role && test(t)) names.push_back(t.name);
      if (names.empty()) continue;
      if (reversed) std::reverse(names.begin(), names.end());
      std::string then;
      for (size_t i = 1; i < names.size(); ++i) then += (i > 1 ? ", " : " (then ") + names[i];
      std::printf("step %lld: %s%s\n", (long long)r.step, names.front().c_str(), then.empty() ? "" : (then + ")").c_str());
      found = true;
      break;
    }
    if (!found) std::printf("none\n");
  }
}

struct Worst {
  double value = -1;
  int64_t step = 0;
};

// The `top` largest values of `measure` over (tensor, role), each at the step it peaked.
template <class Measure>
void print_worst(const std::vector<Record>& records, const char* title, int64_t top, Measure measure) {
  std::map<std::pair<std::string, std::string>, Worst> worst;
  for (const Record& r : records)
    for (const TensorLine& t : r.tensors) {
      const std::optional<double> v = measure(t);
      if (!v) continue;
      Worst& w = worst[{t.name, t.role}];
      if (*v > w.value) w = {*v, r.step};
    }
  std::vector<std::pair<std::pair<std::string, std::string>, Worst>> rows(worst.begin(), worst.end());
  std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.value > b.second.value; });
  std::printf("%s\n", title);
  if (rows.empty()) std::printf("  (none recorded)\n");
  for (size_t i = 0; i < rows.size() && int64_t(i) < top; ++i)
    std::printf("  %-32s %-16s %8.4f  step %lld\n", rows[i].first.first.c_str(), rows[i].first.second.c_str(),
                rows[i].second.value, (long long)rows[i].second.step);
}

int run_telemetry(const TelemetryOptions& o) {
  const std::vector<Record> records = read_records(o.file);
  if (records.empty()) {
    std::printf("%s: no records\n", o.file.c_str());
    return 0;
  }
  std::printf("%s: %zu records, steps %lld to %lld, dtype %s\n", o.file.c_str(), records.size(),
              (long long)records.front().step, (long long)records.back().step, records.front().dtype.c_str());
  std::printf("first overflow (inf or NaN), by role:\n");
  print_firsts(records, [](const TensorLine& t) { return t.infs > 0 || t.nans > 0; });
  std::printf("first underflow (gradients stored as zero or subnormal, or fp32 values below fp16's smallest "
              "subnormal, over %g of a tensor), by role:\n",
              o.underflow_threshold);
  print_firsts(records, [&o](const TensorLine& t) { return t.underflow && *t.underflow > o.underflow_threshold; });
  print_worst(records, "most updates lost to rounding (fraction of the weights meant to change):", o.top,
              [](const TensorLine& t) { return t.lost_updates; });
  print_worst(records, "most underflow:", o.top, [](const TensorLine& t) { return t.underflow; });
  return 0;
}

}  // namespace

Command add_telemetry_command(CLI::App& app) {
  auto options = std::make_shared<TelemetryOptions>();
  CLI::App* sub = app.add_subcommand(
      "telemetry", "Which layer overflowed or underflowed first, and where updates were lost, from a --telemetry file");
  sub->add_option("file", options->file, "The file `pure16 train --telemetry` wrote")->required();
  sub->add_option("--underflow-threshold", options->underflow_threshold,
                  "The fraction of a tensor that must underflow to count")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  sub->add_option("--top", options->top, "Rows of each table of the worst tensors")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  return {sub, [options] { return run_telemetry(*options); }};
}

}  // namespace pure16::cli
