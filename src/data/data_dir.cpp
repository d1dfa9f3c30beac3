#include "pure16/data/data_dir.h"

#include <cstdlib>

namespace pure16::data {

std::filesystem::path default_data_root() {
  if (const char* env = std::getenv("PURE16_DATA"); env != nullptr && *env != '\0') return env;
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home != nullptr ? home : ".") / ".cache" / "pure16";
}

std::filesystem::path default_data_dir(std::string_view dataset) { return default_data_root() / dataset; }

}  // namespace pure16::data
