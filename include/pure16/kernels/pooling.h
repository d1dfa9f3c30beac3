// Pooling over the spatial dimensions of NHWC tensors: max, average, global average.
//
// Sums are binary32 (binary64 for f64) and each stored element is rounded once. Backward ops
// gather: every input element sums the contributions of the windows that cover it, so there
// are no write conflicts between threads and no repeated rounding.
#pragma once

#include <cstdint>

#include "pure16/tensor/dtype.h"

namespace pure16::kernels {

struct Pool2dShape {
  int64_t batch = 1, in_h = 1, in_w = 1, channels = 1;  // x (N, H, W, C)
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;

  int64_t out_h() const { return out_size(in_h, pad_h, kernel_h, stride_h); }
  int64_t out_w() const { return out_size(in_w, pad_w, kernel_w, stride_w); }
  /// Throws std::invalid_argument naming the offending value. As in PyTorch the padding may be
  /// at most half the kernel, so every window holds at least one input element.
  void validate() const;

  // 0 when the kernel does not fit the padded input.
  static int64_t out_size(int64_t in, int64_t pad, int64_t kernel, int64_t stride) {
    const int64_t span = in + 2 * pad - kernel;
    return span < 0 || stride <= 0 ? 0 : span / stride + 1;
  }
};

/// y (N, OH, OW, C) = window maxima; padding never wins (it acts as -inf), NaN propagates, the
/// first maximum in (kh, kw) order is taken.
void maxpool2d_forward(void* y, const void* x, DType dtype, const Pool2dShape& s);
/// dx (N, H, W, C) = sum of dy over the windows whose winner (as forward chooses it) is this
/// element (assigned). The winners are recomputed from x, the forward input: keeping x costs
/// nothing extra (the layer before saved it), unlike 4-byte indices per output.
void maxpool2d_backward(void* dx, const void* dy, const void* x, DType dtype, const Pool2dShape& s);

/// y = window sum / count, count = KH * KW with count_include_pad (PyTorch's default: padding
/// counts as zeros), else the number of input elements in the window.
void avgpool2d_forward(void* y, const void* x, DType dtype, const Pool2dShape& s, bool count_include_pad);
/// dx = sum over covering windows of dy / count (assigned).
void avgpool2d_backward(void* dx, const void* dy, DType dtype, const Pool2dShape& s, bool count_include_pad);

/// y (N, C) = mean of x (N, pixels, C) over the pixels.
void global_avgpool_forward(void* y, const void* x, DType dtype, int64_t batch, int64_t pixels, int64_t channels);
/// dx (N, pixels, C) = dy (N, C) / pixels.
void global_avgpool_backward(void* dx, const void* dy, DType dtype, int64_t batch, int64_t pixels, int64_t channels);

}  // namespace pure16::kernels
