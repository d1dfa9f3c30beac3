#include "pure16/ablation/process.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace pure16::ablation {

ProcessStatus run_process(const std::filesystem::path& program, const std::vector<std::string>& args,
                          const std::filesystem::path& stdout_file, const std::filesystem::path& stderr_file) {
  std::vector<std::string> strings = {program.string()};
  strings.insert(strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const int out_flags = O_WRONLY | O_CREAT | O_TRUNC;
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, stdout_file.c_str(), out_flags, 0644);
  if (stderr_file == stdout_file)
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  else
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_file.c_str(), out_flags, 0644);
  pid_t pid = 0;
  const int error = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  // glibc reports a missing program from the child, as exit status 127; others may return ENOENT.
  if (error == ENOENT) return {127, 0};
  if (error != 0) throw std::runtime_error("cannot start " + program.string() + ": " + std::strerror(error));

  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw std::runtime_error("waiting for " + program.string() + ": " + std::strerror(errno));
  if (WIFSIGNALED(status)) return {-1, WTERMSIG(status)};
  return {WEXITSTATUS(status), 0};
}

std::string describe(const ProcessStatus& status) {
  if (status.signal != 0)
    return "was killed by signal " + std::to_string(status.signal) + " (" + strsignal(status.signal) + ")";
  return "exited with status " + std::to_string(status.exit_code);
}

std::filesystem::path current_executable() { return std::filesystem::read_symlink("/proc/self/exe"); }

}  // namespace pure16::ablation
