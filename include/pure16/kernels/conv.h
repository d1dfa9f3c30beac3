// 2-D convolution on NHWC activations, with weights laid out (C_out, KH, KW, C_in / groups).
//
// Three ops, each as a pair: the path the layers use, built on kernels::gemm, and a direct
// scalar reference (plain loops, one binary32 sum per output; binary64 for f64) the tests
// compare it with. The GEMM path is an implicit GEMM: the patch matrix (im2col) is read by the
// GEMM's packing one cache block at a time and never stored whole; 1x1 stride-1 unpadded
// convolutions read the NHWC tensor directly.
//   forward          y  (N, OH, OW, C_out)  = conv(x, w)               (assigned)
//   backward_data    dx (N, H, W, C_in)     = conv^T(dy, w)            (assigned)
//   backward_weight  dw (C_out, KH, KW, Cg) += correlation of dy and x  (accumulated, as every
//                                                                        parameter gradient)
// The bias is not part of these ops: add_bias / sum_rows over the (N*OH*OW, C_out) matrix do it.
//
// Rounding (what the tests' bounds assume):
//   forward          each output is one GEMM sum over K = KH*KW*Cg products in the GEMM's
//                    accumulator, rounded once to the dtype.
//   backward_data    stride 1: the convolution of dy with the spatially flipped, channel-
//                    transposed filters, so each element is one GEMM sum over KH*KW*C_out/groups
//                    products rounded once. Other strides, undilated: one such convolution per
//                    phase of the stride, over that phase's taps, so each element is one GEMM sum
//                    over at most KH*KW*C_out/groups products rounded once (zero where no tap
//                    reaches). Dilated and strided: dP = dy_g W_g is a GEMM sum over
//                    C_out/groups products, rounded to the dtype; col2im then sums the KH*KW (or
//                    fewer) patch entries of each input element in binary32 and rounds once more.
//                    If the workspace splits one image into several row chunks, an element
//                    touched by two chunks is rounded once per chunk.
//   backward_weight  one GEMM (beta = 1): a sum over all output pixels in the accumulator,
//                    added to the old dw in binary32, rounded once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pure16/kernels/gemm.h"
#include "pure16/tensor/dtype.h"

namespace pure16::kernels {

struct Conv2dShape {
  int64_t batch = 1, in_h = 1, in_w = 1, in_channels = 1;  // x (N, H, W, C_in)
  int64_t out_channels = 1;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t groups = 1;

  // 0 when the dilated kernel does not fit the padded input (the division alone would round
  // a small negative span up to 0 and give 1).
  int64_t out_h() const { return out_size(in_h, pad_h, dilation_h * (kernel_h - 1) + 1, stride_h); }
  int64_t out_w() const { return out_size(in_w, pad_w, dilation_w * (kernel_w - 1) + 1, stride_w); }
  int64_t group_in() const { return in_channels / groups; }    // Cg: channels a filter sees
  int64_t group_out() const { return out_channels / groups; }  // filters per group
  int64_t patch() const { return kernel_h * kernel_w * group_in(); }  // K of the GEMM
  /// Throws std::invalid_argument naming the offending value for an inconsistent shape.
  void validate() const;

  static int64_t out_size(int64_t in, int64_t pad, int64_t extent, int64_t stride) {
    const int64_t span = in + 2 * pad - extent;
    return span < 0 || stride <= 0 ? 0 : span / stride + 1;
  }
};

/// Bytes of workspace backward_data's col2im path may use per call (the calling thread's
/// buffer, kept between calls) for patch gradients, computed in chunks of output rows that fit.
/// (For fp16/bf16 it also keeps a binary32 copy of the patch gradients.)
inline constexpr int64_t kConvWorkspaceBytes = int64_t(64) << 20;

/// How a convolution is computed. `gemm`: the implicit GEMM above, for every shape. `winograd`:
/// Winograd's F(2x2, 3x3) (kernels/conv_winograd.h: 2.25x fewer multiplications, binary32
/// transforms, bounds stated there) for 3x3, stride-1, undilated, ungrouped convolutions padded
/// by at most 2 whose accumulation runs as f32, the GEMM path for the rest. `automatic`: winograd
/// where it is faster (conv_algorithm_used says which runs).
enum class ConvAlgorithm : uint8_t { automatic, gemm, winograd };
std::string_view conv_algorithm_name(ConvAlgorithm algorithm);  // "auto", "gemm", "winograd"
std::vector<std::string> conv_algorithm_names();
/// The inverse of conv_algorithm_name; throws std::invalid_argument listing the names.
ConvAlgorithm parse_conv_algorithm(std::string_view name);
/// The algorithm (gemm or winograd) that computes the forward pass and both gradients of a
/// convolution of shape s (validated) on the active ISA level.
ConvAlgorithm conv_algorithm_used(ConvAlgorithm algorithm, DType dtype, Accumulation acc, const Conv2dShape& s);

// The convolutions the layers run. `acc` is the GEMM accumulation (RunOptions::accumulation).
// `workspace_bytes` bounds col2im's patch gradients; tests pass a small value to exercise the
// chunking.
void conv2d_forward(void* y, const void* x, const void* w, DType dtype, Accumulation acc, const Conv2dShape& s,
                    ConvAlgorithm algorithm);
void conv2d_backward_data(void* dx, const void* dy, const void* w, DType dtype, Accumulation acc, const Conv2dShape& s,
                          ConvAlgorithm algorithm, int64_t workspace_bytes = kConvWorkspaceBytes);
void conv2d_backward_weight(void* dw, const void* dy, const void* x, DType dtype, Accumulation acc,
                            const Conv2dShape& s, ConvAlgorithm algorithm);

// The direct references: every output element is one sum, in binary32 (binary64 for f64),
// rounded once (backward_weight: the old dw is added to the sum before that rounding).
void conv2d_forward_reference(void* y, const void* x, const void* w, DType dtype, const Conv2dShape& s);
void conv2d_backward_data_reference(void* dx, const void* dy, const void* w, DType dtype, const Conv2dShape& s);
void conv2d_backward_weight_reference(void* dw, const void* dy, const void* x, DType dtype, const Conv2dShape& s);

}  // namespace pure16::kernels
