#include "pure16/io/read_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace pure16::io {

void fail_reading(const std::string& context, const std::string& problem) {
  throw std::runtime_error(context + ": " + problem);
}

std::string read_file(const std::filesystem::path& path, const std::string& context) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    if (error == ENOENT) fail_reading(context, "no such file");
    fail_reading(context, std::string("cannot open it for reading: ") + std::strerror(error));
  }
  // Closes the descriptor on every way out, the throws included.
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};

  struct stat info {};
  if (::fstat(fd, &info) != 0) fail_reading(context, std::string("cannot determine its size: ") + std::strerror(errno));
  if (S_ISDIR(info.st_mode)) fail_reading(context, "is a directory, not a file");
  // A FIFO or a device has no size to check a header against, and may never end.
  if (!S_ISREG(info.st_mode)) fail_reading(context, "is not a regular file");

  std::string bytes(size_t(info.st_size), '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_reading(context, std::string("read error: ") + std::strerror(errno));
    if (n == 0)
      fail_reading(context, "it shrank while being read (" + std::to_string(done) + " of " +
                                std::to_string(bytes.size()) + " bytes)");
    done += size_t(n);
  }
  return bytes;
}

}  // namespace pure16::io
