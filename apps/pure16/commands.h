// Sub-commands of the `pure16` CLI. Each registers itself and its options on the app and
// returns the function that runs it after parsing.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace pure16::cli {

struct Command {
  CLI::App* app;
  std::function<int()> run;
};

Command add_train_command(CLI::App& app);
Command add_info_command(CLI::App& app);
Command add_models_command(CLI::App& app);
Command add_bench_command(CLI::App& app);
Command add_eval_command(CLI::App& app);
Command add_predict_command(CLI::App& app);
Command add_export_command(CLI::App& app);
Command add_ablate_command(CLI::App& app);
Command add_telemetry_command(CLI::App& app);
Command add_scale_command(CLI::App& app);

}  // namespace pure16::cli
