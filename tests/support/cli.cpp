#include "support/cli.h"

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace pure16::testing {

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

CliResult run_command(const std::string& command, const std::filesystem::path& scratch) {
  std::filesystem::create_directories(scratch);
  const std::string redirected = command + " >" + (scratch / "out").string() + " 2>" + (scratch / "err").string() +
                                 " </dev/null";
  const int status = std::system(redirected.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file(scratch / "out"), read_file(scratch / "err")};
}

CliResult run_cli(const std::string& args, const std::filesystem::path& scratch, const std::string& env) {
  return run_command(env + " " + PURE16_CLI_PATH + " " + args, scratch);
}

}  // namespace pure16::testing
