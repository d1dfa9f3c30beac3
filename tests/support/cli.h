// Runs the `pure16` command line as a user would, for the tests of tests/apps/, and other
// programs the tests need (the PyTorch check of exported models).
#pragma once

#include <filesystem>
#include <string>

namespace pure16::testing {

struct CliResult {
  int exit_code;  // -1 when the process did not exit normally
  std::string out, err;
};

/// Runs `command` through the shell with no standard input; stdout and stderr pass through
/// files in `scratch`.
CliResult run_command(const std::string& command, const std::filesystem::path& scratch);

/// Runs `pure16 <args>` as run_command does, with `env` (assignments such as "PURE16_DATA=/x")
/// in front.
CliResult run_cli(const std::string& args, const std::filesystem::path& scratch, const std::string& env = "");

/// The whole file, or "" if it cannot be read.
std::string read_file(const std::filesystem::path& path);

}  // namespace pure16::testing
