// Atomic file replacement: readers see the old file or the new one, never a torn write.
#pragma once

#include <filesystem>
#include <string_view>

namespace pure16::io {

/// Writes `contents` to a temporary file beside `path`, flushes it to disk, then renames it
/// over `path`. Throws std::runtime_error naming the file on any failure; `path` is untouched
/// then and the temporary file is removed.
void write_file_atomic(const std::filesystem::path& path, std::string_view contents);

}  // namespace pure16::io
