// Reading a whole file for a parser: every reader of untrusted files (safetensors, IDX, CIFAR,
// images) goes through this, so each reports a missing, unreadable or odd file the same way.
#pragma once

#include <filesystem>
#include <string>

namespace pure16::io {

/// The bytes of the regular file `path`. Throws std::runtime_error "<context>: <problem>" when
/// it does not exist, is a directory or not a regular file (a FIFO, a device), cannot be opened,
/// or cannot be read in full. Allocates only what the file holds.
std::string read_file(const std::filesystem::path& path, const std::string& context);

/// Throws std::runtime_error "<context>: <problem>", the form in which every reader reports what
/// is wrong with a file (context: the file's name, and what in it, e.g. "idx file a.idx").
[[noreturn]] void fail_reading(const std::string& context, const std::string& problem);

}  // namespace pure16::io
