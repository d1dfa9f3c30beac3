#include "pure16/io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace pure16::io {
namespace {

[[noreturn]] void fail_with_errno(const std::filesystem::path& path, const std::string& what, int error) {
  throw std::runtime_error(path.string() + ": " + what + ": " + std::strerror(error));
}

// A rename is an update of the directory, which has its own cache: until the directory is
// flushed too, a crash can bring back the old name (or, for a new file, none).
void fsync_directory(const std::filesystem::path& path) {
  const std::filesystem::path parent = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  const int fd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail_with_errno(path, "cannot open its directory to flush the rename", errno);
  if (::fsync(fd) != 0) {
    const int error = errno;
    ::close(fd);
    fail_with_errno(path, "fsync of its directory failed", error);
  }
  ::close(fd);
}

}  // namespace

void write_file_atomic(const std::filesystem::path& path, std::string_view contents) {
  const std::filesystem::path temp = path.string() + ".tmp." + std::to_string(::getpid());
  // Closes `fd` when open and removes the temporary file; errno is read first, since both can
  // change it.
  auto fail = [&](const std::string& what, int fd) {
    const int error = errno;
    if (fd >= 0) ::close(fd);
    ::unlink(temp.c_str());
    fail_with_errno(path, what, error);
  };
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot create temporary file", -1);
  size_t written = 0;
  while (written < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write failed", fd);
    }
    written += size_t(n);
  }
  if (::fsync(fd) != 0) fail("fsync failed", fd);
  if (::close(fd) != 0) fail("close failed", -1);
  if (::rename(temp.c_str(), path.c_str()) != 0) fail("rename failed", -1);
  fsync_directory(path);
}

}  // namespace pure16::io
