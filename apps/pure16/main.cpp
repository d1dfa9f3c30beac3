// pure16: train neural networks in pure IEEE FP16.
#include <malloc.h>

#include <cstdio>
#include <exception>
#include <iostream>

#include "commands.h"

int main(int argc, char** argv) {
  // A training step frees and reallocates the same activation buffers every step. By default
  // glibc serves blocks this large with fresh mmap()s, or trims them off the heap, so every step
  // page-faulted its activations in again (3% of a resnet18-cifar step); keeping them in the
  // heap lets the next step reuse them. Peak memory is unchanged: the step reaches it anyway.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  CLI::App app{"pure16: neural-network training in pure IEEE FP16"};
  app.require_subcommand(1);
  const pure16::cli::Command commands[] = {pure16::cli::add_train_command(app), pure16::cli::add_info_command(app),
                                          pure16::cli::add_models_command(app), pure16::cli::add_bench_command(app),
                                          pure16::cli::add_eval_command(app),   pure16::cli::add_predict_command(app),
                                          pure16::cli::add_export_command(app), pure16::cli::add_ablate_command(app),
                                          pure16::cli::add_telemetry_command(app), pure16::cli::add_scale_command(app)};
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // Unknown flags and bad values: say what was wrong, show the usage, fail.
    std::cerr << "pure16: " << e.what() << "\n\n";
    CLI::App* sub = app.get_subcommands().empty() ? &app : app.get_subcommands().front();
    std::cerr << sub->help();
    return 2;
  }
  try {
    for (const auto& command : commands)
      if (command.app->parsed()) return command.run();
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "pure16: error: " << e.what() << "\n";
    return 1;
  }
}
