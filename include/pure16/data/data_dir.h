// Where datasets live by default: ${PURE16_DATA:-$HOME/.cache/pure16}/<dataset>.
#pragma once

#include <filesystem>
#include <string_view>

namespace pure16::data {

std::filesystem::path default_data_root();
std::filesystem::path default_data_dir(std::string_view dataset);

}  // namespace pure16::data
