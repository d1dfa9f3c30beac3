// Winograd's minimal filtering algorithm F(2x2, 3x3) for the convolutions most of a ResNet's work
// is in: 3x3 filters, stride 1, no dilation, one group, padding at most 2 (so that the input
// gradient, a convolution of dy padded by 2 - pad, is one too).
//
// Each 2x2 block of output pixels (a tile) is Y = A^T [(G g G^T) . (B^T d B)] A for the 4x4
// input pixels d it sees and each 3x3 filter g: the 16 points of the transformed domain are 16
// independent GEMMs over the input channels, with 16 multiplications for 4 outputs where the
// GEMM path does 36 (2.25x fewer). All of it is in binary32: the inputs are widened once, the
// transforms add and halve in binary32 (every coefficient is 0, +-1 or +-1/2), the GEMMs sum in
// binary32, and each result is rounded once to the dtype. So the result differs from the GEMM
// path's by a few binary32 roundings of the transforms, far below fp16's or bf16's own rounding.
//
// Error bound, for the tests (u = 2^-24, gamma_n = n u / (1 - n u)), before the rounding of the
// result to the dtype: for C input channels, with |.| taken of every entry,
//   |y - y_exact| <= gamma_{C + 11} * |A^T| [ sum_c |G| |g_c| |G^T| . |B^T| |d_c| |B| ] |A|
// (B^T d B: one addition a level, two levels; G g G^T: two a level; the product; C - 1 sums;
// A^T M A: two a level), and for the filter gradient, a sum over the T tiles added to dw_old,
//   |dw - dw_exact| <= gamma_{T + 10} * ( |G^T| [ sum_t |A| |dy_t| |A^T| . |B^T| |d_t| |B| ] |G|
//                                         + |dw_old| ).
#pragma once

#include "pure16/kernels/conv.h"

namespace pure16::kernels {

/// Whether the shape is one the Winograd path computes (forward, input and filter gradients).
bool winograd_fits(const Conv2dShape& s);

/// y = conv(x, w), w stored (C_out, 3, 3, C_in). With `flipped`, the filters are those of the
/// input gradient of the convolution whose filters w are: w stored (C_in, 3, 3, C_out) of this
/// convolution, read spatially flipped with the channel roles swapped.
void winograd_forward(void* y, const void* x, const void* w, bool flipped, DType dtype, const Conv2dShape& s);

/// dw += the filter gradient, dy (N, OH, OW, C_out) and x (N, H, W, C_in).
void winograd_backward_weight(void* dw, const void* dy, const void* x, DType dtype, const Conv2dShape& s);

}  // namespace pure16::kernels
