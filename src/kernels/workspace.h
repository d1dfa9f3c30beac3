// Scratch buffers of the calling thread for the convolution paths: each grows to the largest
// request and is kept between calls (OpenMP keeps its worker threads), so a training step does
// not allocate and fault in megabytes per layer. One buffer per use, so that a path calling
// another (a strided input gradient running a convolution per phase) never hands out the memory
// its caller still holds.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <new>

namespace pure16::kernels {

enum class WorkspaceUse {
  conv_patches,      // col2im's patch gradients, a phase's output (conv.cpp)
  winograd_filters,  // transformed filters or their gradients (conv_winograd.cpp)
  winograd_tiles,    // a chunk's transformed tiles and their products
  winograd_pixels,   // one tile's input pixels or output pixels, in binary32
  count
};

class ThreadBuffer {
 public:
  ThreadBuffer() = default;
  ThreadBuffer(const ThreadBuffer&) = delete;
  ThreadBuffer& operator=(const ThreadBuffer&) = delete;
  ~ThreadBuffer() {
    if (data_ != nullptr) ::operator delete(data_, std::align_val_t(64));
  }
  void* get(size_t bytes) {
    if (bytes > bytes_) {
      if (data_ != nullptr) ::operator delete(data_, std::align_val_t(64));
      data_ = nullptr;
      data_ = ::operator new(bytes, std::align_val_t(64));
      bytes_ = bytes;
    }
    return data_;
  }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

/// `elements` of T (at least one) in the calling thread's buffer for `use`, 64-byte aligned; valid
/// until the next request for the same use on this thread.
template <class T>
T* thread_workspace(WorkspaceUse use, int64_t elements) {
  thread_local std::array<ThreadBuffer, size_t(WorkspaceUse::count)> buffers;
  return static_cast<T*>(buffers[size_t(use)].get(size_t(std::max<int64_t>(elements, 1)) * sizeof(T)));
}

}  // namespace pure16::kernels
