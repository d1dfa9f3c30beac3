// Winograd F(2x2, 3x3) on NHWC tensors (see kernels/conv_winograd.h).
//
// The output is cut into 2x2 tiles, numbered (n, tile row, tile column), and processed a chunk of
// tiles at a time, so that the chunk's transformed inputs V (16, tiles, C_in) and products
// M (16, tiles, C_out) stay in cache. In each chunk the threads share the transforms (tile by
// tile) and the 16 GEMMs (point by point, each GEMM on one thread). Chunk sizes do not depend on
// the thread count, and each output or point is computed by one thread in a fixed order, so
// the bits do not either. Every transform works on one tile's pixels a channel vector at a time
// (NHWC keeps a pixel's channels adjacent).
#include "kernels/conv_winograd.h"

#include <algorithm>
#include <cstring>

#include "kernels/gemm_args.h"
#include "kernels/workspace.h"
#include "pure16/kernels/elementwise.h"

namespace pure16::kernels {
namespace {

constexpr int64_t kPoints = 16;  // the 4x4 transformed tile
// A chunk's transformed tiles and products take about this many bytes, but a chunk has at least
// kMinChunkTiles tiles: each GEMM packs its point's filters again, which more rows amortize.
constexpr int64_t kChunkBytes = int64_t(4) << 20;
constexpr int64_t kMinChunkTiles = 128;
constexpr int64_t kParallelWork = int64_t(1) << 16;  // multiply-adds below which one thread does it

struct TileGrid {
  const Conv2dShape& s;
  int64_t rows = (s.out_h() + 1) / 2, cols = (s.out_w() + 1) / 2;
  int64_t count() const { return s.batch * rows * cols; }
  int64_t chunk(int64_t channels) const {
    const int64_t by_bytes = kChunkBytes / (kPoints * channels * int64_t(sizeof(float)));
    return std::min(count(), std::max(kMinChunkTiles, by_bytes));
  }
};

struct Tile {
  int64_t n, oh, ow;  // image and top-left output pixel
};

Tile tile_at(const TileGrid& g, int64_t t) {
  const int64_t per_image = g.rows * g.cols, r = t % per_image;
  return {t / per_image, 2 * (r / g.cols), 2 * (r % g.cols)};
}

// The `size` x `size` pixels of an NHWC tensor (height h, width w, `channels` channels) whose top
// left is (top, left), widened to binary32 in `out` (pixel (r, q) at (r * size + q) * channels),
// zero outside the image.
void read_pixels(float* out, const void* src, DType dtype, int64_t h, int64_t w, int64_t channels, int64_t n,
                 int64_t top, int64_t left, int64_t size) {
  const int64_t q0 = std::clamp<int64_t>(-left, 0, size), q1 = std::clamp<int64_t>(w - left, 0, size);
  const size_t elem = dtype_size(dtype);
  for (int64_t r = 0; r < size; ++r) {
    float* row = out + r * size * channels;
    const int64_t y = top + r;
    if (y < 0 || y >= h || q1 <= q0) {
      std::fill(row, row + size * channels, 0.0f);
      continue;
    }
    std::fill(row, row + q0 * channels, 0.0f);
    const auto* pixel = static_cast<const std::byte*>(src) + size_t(((n * h + y) * w + left + q0) * channels) * elem;
    convert(row + q0 * channels, DType::f32, pixel, dtype, (q1 - q0) * channels);
    std::fill(row + q1 * channels, row + size * channels, 0.0f);
  }
}

// v[p * stride + c] = (B^T d B)[p] for each channel c of the 4x4 pixels d (read_pixels' layout),
// B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1].
void transform_input(float* v, int64_t stride, const float* d, int64_t channels) {
#pragma omp simd
  for (int64_t c = 0; c < channels; ++c) {
    float e[4][4];
    for (int q = 0; q < 4; ++q) {
      const float d0 = d[(0 + q) * channels + c], d1 = d[(4 + q) * channels + c];
      const float d2 = d[(8 + q) * channels + c], d3 = d[(12 + q) * channels + c];
      e[0][q] = d0 - d2;
      e[1][q] = d1 + d2;
      e[2][q] = d2 - d1;
      e[3][q] = d1 - d3;
    }
    for (int r = 0; r < 4; ++r) {
      v[(4 * r + 0) * stride + c] = e[r][0] - e[r][2];
      v[(4 * r + 1) * stride + c] = e[r][1] + e[r][2];
      v[(4 * r + 2) * stride + c] = e[r][2] - e[r][1];
      v[(4 * r + 3) * stride + c] = e[r][1] - e[r][3];
    }
  }
}

// u[p * stride + c] = (G g G^T)[p] for each channel c of the 3x3 taps g (tap (a, b) at
// g[(3 * a + b) * tap_stride + c]), G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1].
void transform_filter(float* u, int64_t stride, const float* g, int64_t tap_stride, int64_t channels) {
#pragma omp simd
  for (int64_t c = 0; c < channels; ++c) {
    float h[4][3];
    for (int b = 0; b < 3; ++b) {
      const float g0 = g[b * tap_stride + c], g1 = g[(3 + b) * tap_stride + c], g2 = g[(6 + b) * tap_stride + c];
      const float outer = g0 + g2;
      h[0][b] = g0;
      h[1][b] = (outer + g1) * 0.5f;
      h[2][b] = (outer - g1) * 0.5f;
      h[3][b] = g2;
    }
    for (int r = 0; r < 4; ++r) {
      const float outer = h[r][0] + h[r][2];
      u[(4 * r + 0) * stride + c] = h[r][0];
      u[(4 * r + 1) * stride + c] = (outer + h[r][1]) * 0.5f;
      u[(4 * r + 2) * stride + c] = (outer - h[r][1]) * 0.5f;
      u[(4 * r + 3) * stride + c] = h[r][2];
    }
  }
}

// y[(2 * r + q) * channels + c] = (A^T m A)[r][q] for each channel c of the 16 points
// m[p * stride + c], A^T = [1 1 1 0; 0 1 -1 -1].
void transform_output(float* y, const float* m, int64_t stride, int64_t channels) {
#pragma omp simd
  for (int64_t c = 0; c < channels; ++c) {
    float a[2][4];
    for (int q = 0; q < 4; ++q) {
      const float m0 = m[(0 + q) * stride + c], m1 = m[(4 + q) * stride + c];
      const float m2 = m[(8 + q) * stride + c], m3 = m[(12 + q) * stride + c];
      a[0][q] = m0 + m1 + m2;
      a[1][q] = m1 - m2 - m3;
    }
    for (int r = 0; r < 2; ++r) {
      y[(2 * r + 0) * channels + c] = a[r][0] + a[r][1] + a[r][2];
      y[(2 * r + 1) * channels + c] = a[r][1] - a[r][2] - a[r][3];
    }
  }
}

// dm[p * stride + c] = (A dy A^T)[p] for each channel c of the 2x2 output gradients dy
// (read_pixels' layout): the adjoint of transform_output.
void transform_output_grad(float* dm, int64_t stride, const float* dy, int64_t channels) {
#pragma omp simd
  for (int64_t c = 0; c < channels; ++c) {
    float b[4][2];
    for (int q = 0; q < 2; ++q) {
      const float y0 = dy[q * channels + c], y1 = dy[(2 + q) * channels + c];
      b[0][q] = y0;
      b[1][q] = y0 + y1;
      b[2][q] = y0 - y1;
      b[3][q] = -y1;
    }
    for (int r = 0; r < 4; ++r) {
      dm[(4 * r + 0) * stride + c] = b[r][0];
      dm[(4 * r + 1) * stride + c] = b[r][0] + b[r][1];
      dm[(4 * r + 2) * stride + c] = b[r][0] - b[r][1];
      dm[(4 * r + 3) * stride + c] = -b[r][1];
    }
  }
}

// dg[(3 * a + b) * channels + c] += (G^T du G)[a][b] for each channel c of the 16 points
// du[p * stride + c]: the adjoint of transform_filter.
void transform_filter_grad(float* dg, const float* du, int64_t stride, int64_t channels) {
#pragma omp simd
  for (int64_t c = 0; c < channels; ++c) {
    float h[3][4];
    for (int q = 0; q < 4; ++q) {
      const float u0 = du[(0 + q) * stride + c], u1 = du[(4 + q) * stride + c];
      const float u2 = du[(8 + q) * stride + c], u3 = du[(12 + q) * stride + c];
      h[0][q] = u0 + (u1 + u2) * 0.5f;
      h[1][q] = (u1 - u2) * 0.5f;
      h[2][q] = (u1 + u2) * 0.5f + u3;
    }
    for (int a = 0; a < 3; ++a) {
      dg[(3 * a + 0) * channels + c] += h[a][0] + (h[a][1] + h[a][2]) * 0.5f;
      dg[(3 * a + 1) * channels + c] += (h[a][1] - h[a][2]) * 0.5f;
      dg[(3 * a + 2) * channels + c] += (h[a][1] + h[a][2]) * 0.5f + h[a][3];
    }
  }
}

// The transformed filters U, 16 points of (C_out, C_in) (or (C_in, C_out) when flipped: the
// channel that is contiguous in w stays contiguous).
const float* transformed_filters(const void* w, bool flipped, DType dtype, const Conv2dShape& s) {
  const int64_t outer = flipped ? s.in_channels : s.out_channels, inner = flipped ? s.out_channels : s.in_channels;
  float* u = thread_workspace<float>(WorkspaceUse::winograd_filters, kPoints * outer * inner);
#pragma omp parallel if (outer * inner * 9 > kParallelWork)
  {
    float* taps = thread_workspace<float>(WorkspaceUse::winograd_pixels, 9 * inner);
    float* flipped_taps = flipped ? thread_workspace<float>(WorkspaceUse::winograd_tiles, 9 * inner) : taps;
#pragma omp for schedule(static)
    for (int64_t o = 0; o < outer; ++o) {
      convert(taps, DType::f32, static_cast<const std::byte*>(w) + size_t(o * 9 * inner) * dtype_size(dtype), dtype,
              9 * inner);
      if (flipped)  // tap (a, b) of the input gradient's filter is tap (2 - a, 2 - b) of w
        for (int64_t tap = 0; tap < 9; ++tap)
          std::memcpy(flipped_taps + tap * inner, taps + (8 - tap) * inner, size_t(inner) * sizeof(float));
      transform_filter(u + o * inner, outer * inner, flipped_taps, inner, inner);
    }
  }
  return u;
}

// A chunk's buffers: the transformed inputs V (16, chunk, C_in), then the products M or their
// gradients dM (16, chunk, C_out).
struct ChunkBuffers {
  int64_t tiles;  // per chunk (the last may have fewer)
  float* inputs;
  float* outputs;
};

ChunkBuffers chunk_buffers(const TileGrid& grid) {
  const int64_t ci = grid.s.in_channels, co = grid.s.out_channels, chunk = grid.chunk(ci + co);
  float* v = thread_workspace<float>(WorkspaceUse::winograd_tiles, kPoints * chunk * (ci + co));
  return {chunk, v, v + kPoints * chunk * ci};
}

// V of tiles [t0, t0 + tiles) of x, shared among the threads of the enclosing parallel region;
// `pixels` is the calling thread's 16 * C_in floats.
void transform_inputs(float* v, const void* x, DType dtype, const TileGrid& grid, int64_t t0, int64_t tiles,
                      float* pixels) {
  const Conv2dShape& s = grid.s;
#pragma omp for schedule(static)
  for (int64_t i = 0; i < tiles; ++i) {
    const Tile t = tile_at(grid, t0 + i);
    read_pixels(pixels, x, dtype, s.in_h, s.in_w, s.in_channels, t.n, t.oh - s.pad_h, t.ow - s.pad_w, 4);
    transform_input(v + i * s.in_channels, tiles * s.in_channels, pixels, s.in_channels);
  }
}

}  // namespace

bool winograd_fits(const Conv2dShape& s) {
  return s.kernel_h == 3 && s.kernel_w == 3 && s.stride_h == 1 && s.stride_w == 1 && s.dilation_h == 1 &&
         s.dilation_w == 1 && s.groups == 1 && s.pad_h <= 2 && s.pad_w <= 2;
}

void winograd_forward(void* y, const void* x, const void* w, bool flipped, DType dtype, const Conv2dShape& s) {
  const TileGrid grid{s};
  const int64_t ci = s.in_channels, co = s.out_channels, oh = s.out_h(), ow = s.out_w();
  const float* u = transformed_filters(w, flipped, dtype, s);
  const auto [chunk, v, m] = chunk_buffers(grid);
  const size_t elem = dtype_size(dtype);
#pragma omp parallel if (grid.count() * ci * co > kParallelWork)
  {
    float* pixels = thread_workspace<float>(WorkspaceUse::winograd_pixels, 16 * std::max(ci, co));
    for (int64_t t0 = 0; t0 < grid.count(); t0 += chunk) {
      const int64_t tiles = std::min(chunk, grid.count() - t0);
      transform_inputs(v, x, dtype, grid, t0, tiles, pixels);
#pragma omp for schedule(static)
      for (int64_t p = 0; p < kPoints; ++p) {  // M_p (tiles, C_out) = V_p (tiles, C_in) U_p^T
        const float* u_p = u + p * co * ci;
        gemm(DType::f32, Accumulation::f32,
             make_gemm_args(false, !flipped, tiles, co, ci, v + p * tiles * ci, ci, u_p, flipped ? co : ci,
                            m + p * tiles * co, co, 0.0f));
      }
#pragma omp for schedule(static)
      for (int64_t i = 0; i < tiles; ++i) {
        const Tile t = tile_at(grid, t0 + i);
        transform_output(pixels, m + i * co, tiles * co, co);
        const int64_t width = std::min<int64_t>(2, ow - t.ow);
        for (int64_t r = 0; r < std::min<int64_t>(2, oh - t.oh); ++r)
          convert(static_cast<std::byte*>(y) + size_t(((t.n * oh + t.oh + r) * ow + t.ow) * co) * elem, dtype,
                  pixels + 2 * r * co, DType::f32, width * co);
      }
    }
  }
}

void winograd_backward_weight(void* dw, const void* dy, const void* x, DType dtype, const Conv2dShape& s) {
  const TileGrid grid{s};
  const int64_t ci = s.in_channels, co = s.out_channels, oh = s.out_h(), ow = s.out_w();
  float* du = thread_workspace<float>(WorkspaceUse::winograd_filters, kPoints * co * ci);
  const auto [chunk, v, dm] = chunk_buffers(grid);
  const size_t elem = dtype_size(dtype);
#pragma omp parallel if (grid.count() * ci * co > kParallelWork)
  {
    float* pixels = thread_workspace<float>(WorkspaceUse::winograd_pixels, 16 * std::max(ci, co));
    for (int64_t t0 = 0; t0 < grid.count(); t0 += chunk) {
      const int64_t tiles = std::min(chunk, grid.count() - t0);
      transform_inputs(v, x, dtype, grid, t0, tiles, pixels);
#pragma omp for schedule(static)
      for (int64_t i = 0; i < tiles; ++i) {
        const Tile t = tile_at(grid, t0 + i);
        read_pixels(pixels, dy, dtype, oh, ow, co, t.n, t.oh, t.ow, 2);
        transform_output_grad(dm + i * co, tiles * co, pixels, co);
      }
#pragma omp for schedule(static)
      for (int64_t p = 0; p < kPoints; ++p)  // dU_p (C_out, C_in) += dM_p^T (C_out, tiles) V_p (tiles, C_in)
        gemm(DType::f32, Accumulation::f32,
             make_gemm_args(true, false, co, ci, tiles, dm + p * tiles * co, co, v + p * tiles * ci, ci,
                            du + p * co * ci, ci, t0 == 0 ? 0.0f : 1.0f));
    }
#pragma omp for schedule(static)
    for (int64_t o = 0; o < co; ++o) {  // dw[o] (3, 3, C_in) += G^T dU G, rounded once
      auto* dw_o = static_cast<std::byte*>(dw) + size_t(o * 9 * ci) * elem;
      convert(pixels, DType::f32, dw_o, dtype, 9 * ci);
      transform_filter_grad(pixels, du + o * ci, co * ci, ci);
      convert(dw_o, dtype, pixels, DType::f32, 9 * ci);
    }
  }
}

}  // namespace pure16::kernels
