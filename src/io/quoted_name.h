// Tensor names and metadata keys in error messages come from untrusted files.
#pragma once

#include <string>
#include <string_view>

namespace pure16::io {

/// `name` in double quotes for an error message: control characters, quotes and backslashes
/// escaped, and cut short (with "...") past 80 bytes, so a hostile name cannot garble or flood it.
std::string quoted_name(std::string_view name);

}  // namespace pure16::io
