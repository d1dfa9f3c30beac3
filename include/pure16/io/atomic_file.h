// Atomic file replacement: readers see the old file or the new one, never a torn write.
#pragma once

#include <filesystem>
#include <string_view>

namespace pure16::io {

/// Writes `contents` to a temporary file beside `path`, flushes it to disk, renames it over
/// `path` and flushes the directory, so the rename itself survives a crash. Throws
/// std::runtime_error naming the file on any failure; a failure before the rename leaves `path`
/// untouched and removes the temporary file.
void write_file_atomic(const std::filesystem::path& path, std::string_view contents);

}  // namespace pure16::io
