// Child processes without a shell: each arm of a study is a `pure16 train` of its own, so one that
// crashes or diverges takes nothing else down, and arguments reach it exactly as given.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace pure16::ablation {

struct ProcessStatus {
  int exit_code = 0;  // -1 when a signal ended it
  int signal = 0;
  bool succeeded() const { return exit_code == 0; }
};

/// Runs `program` with `args` and waits for it: standard input from /dev/null, standard output
/// and standard error written to the two files (which may be one file). Throws std::runtime_error
/// when it cannot be started; a program that does not exist is an exit code of 127, as in a shell.
ProcessStatus run_process(const std::filesystem::path& program, const std::vector<std::string>& args,
                          const std::filesystem::path& stdout_file, const std::filesystem::path& stderr_file);

/// "exited with status 1", "was killed by signal 9 (Killed)".
std::string describe(const ProcessStatus& status);

/// The running program's own file (/proc/self/exe), to start more of itself.
std::filesystem::path current_executable();

}  // namespace pure16::ablation
