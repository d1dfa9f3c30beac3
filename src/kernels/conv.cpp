// Convolution as GEMM on NHWC tensors (see include/pure16/kernels/conv.h).
//
// Output pixel r = (n, oh, ow) is row r of the (N*OH*OW, C_out) output matrix. For group g the
// patch matrix P_g (rows, K = KH*KW*Cg) holds in row r the input values the filters see at r,
// ordered (kh, kw, ci) like a filter, so
//   forward          Y_g (rows, C_out/groups)  = P_g W_g^T          W_g (C_out/groups, K)
//   backward_weight  dW_g (C_out/groups, K)   += dY_g^T P_g
//   backward_data    stride 1: a forward convolution of dY with flipped filters; strided
//                    (undilated): one such convolution per phase of the stride, each giving a
//                    subset of the input pixels; otherwise dP_g (rows, K) = dY_g W_g, then
//                    col2im: each input element collects the patch entries that read it.
// P is never stored: the GEMM packs it from a RowSource (patch_runs) one cache block at a time.
// With NHWC every patch entry (kh, kw) is a contiguous run of Cg channels, so a patch row is a
// few runs of the input. A 1x1 stride-1 unpadded convolution needs no patch matrix: x viewed as
// (N*H*W, C_in) already is P (leading dimension C_in, group g at column g*Cg).
//
// col2im's patch gradients live in a per-thread buffer of at most workspace_bytes; larger
// problems are processed in chunks of output rows. A phase's output (about dx / stride area)
// lives in the same buffer. Only the col2im and phase copy loops are parallel here; the GEMM is
// multithreaded inside, and it is always called outside any parallel region.
#include "pure16/kernels/conv.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/conv_winograd.h"
#include "kernels/gemm_args.h"
#include "kernels/workspace.h"
#include "pure16/kernels/elementwise.h"

namespace pure16::kernels {
namespace {

constexpr int64_t kParallelThreshold = 1 << 14;  // elements below which a loop stays serial

bool is_pointwise(const Conv2dShape& s) {
  return s.kernel_h == 1 && s.kernel_w == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_h == 0 && s.pad_w == 0;
}

int64_t rows_per_chunk(const Conv2dShape& s, size_t elem_size, int64_t workspace_bytes) {
  const int64_t per_row = s.patch() * int64_t(elem_size);
  return std::max<int64_t>(1, workspace_bytes / per_row);
}

// Row ih of image n of an NHWC tensor.
template <class T>
const T* x_row(const T* x, const Conv2dShape& s, int64_t n, int64_t ih) {
  return x + (n * s.in_h + ih) * s.in_w * s.in_channels;
}

// The output pixels a GEMM over the patch matrix computes: rows [oh0, oh0 + h) and columns
// [ow0, ow0 + w) of the convolution's output. All of it, except for the phases of a strided input
// gradient, whose border rows and columns would reach only padding.
struct OutputWindow {
  int64_t oh0, ow0, h, w;
};

OutputWindow whole_output(const Conv2dShape& s) { return {0, 0, s.out_h(), s.out_w()}; }

bool is_whole_output(const OutputWindow& o, const Conv2dShape& s) {
  return o.oh0 == 0 && o.ow0 == 0 && o.h == s.out_h() && o.w == s.out_w();
}

// The patch matrix P_g of one group, read as runs by the GEMM (implicit GEMM): row r, columns
// [col, col + count) = the input values the filters see at the window's output pixel r, zero
// where they read padding.
template <class T>
struct Patches {
  const T* x;
  const Conv2dShape* s;
  int64_t g;
  OutputWindow out;
};

// With one group and no horizontal dilation, a kernel row reads KW neighbouring pixels whose
// channels are adjacent in NHWC: column kw * C_in + ci of the kernel row is x[iw0 * C_in + it].
bool contiguous_kernel_rows(const Conv2dShape& s) { return s.groups == 1 && s.dilation_w == 1; }

// A row is at most three runs (zeros, input, zeros) per kernel row when kernel rows are
// contiguous, else one per kernel column.
int64_t max_patch_runs(const Conv2dShape& s) {
  return contiguous_kernel_rows(s) ? 3 * s.kernel_h : s.kernel_h * s.kernel_w;
}

template <class T>
void patch_runs(const void* context, int64_t row, int64_t rows, int64_t col, int64_t count, RowRun* runs,
                int64_t* row_ends) {
  const Patches<T>& p = *static_cast<const Patches<T>*>(context);
  const Conv2dShape& s = *p.s;
  const int64_t oh_n = p.out.h, ow_n = p.out.w, cg = s.group_in(), kw_n = s.kernel_w, row_len = kw_n * cg;
  const bool contiguous_rows = contiguous_kernel_rows(s);
  int64_t written = 0;
  const auto emit = [&](const T* src, int64_t n) {
    if (n > 0) runs[written++] = RowRun{src, n};
  };
  // Consecutive rows are consecutive output pixels: divide once, then step (n, oh, ow).
  int64_t n = row / (oh_n * ow_n), oh = row / ow_n % oh_n, ow = row % ow_n;
  const auto next_pixel = [&] {
    if (++ow == ow_n) {
      ow = 0;
      if (++oh == oh_n) {
        oh = 0;
        ++n;
      }
    }
  };
  // Every row asks for the same columns: the kernel row they start in is found once, then the
  // loops below step kernel rows without dividing (a division per run cost as much as the copy).
  const int64_t first_kh = col / row_len, end = col + count;
  const int64_t kernel_row_stride = s.dilation_h * s.in_w * s.in_channels;
  for (int64_t i = 0; i < rows; row_ends[i++] = written, next_pixel()) {
    const int64_t iw0 = (p.out.ow0 + ow) * s.stride_w - s.pad_w, ih0 = (p.out.oh0 + oh) * s.stride_h - s.pad_h;
    // A patch away from the borders (most of them) is KH contiguous runs, one per kernel row,
    // clipped to the asked-for columns (a K cache block of the GEMM).
    if (contiguous_rows && iw0 >= 0 && iw0 + kw_n <= s.in_w && ih0 >= 0 &&
        ih0 + (s.kernel_h - 1) * s.dilation_h < s.in_h) {
      const T* src = x_row(p.x, s, n, ih0) + iw0 * s.in_channels;
      for (int64_t c = col, kh = first_kh; c < end; ++kh) {
        const int64_t len = std::min(end, (kh + 1) * row_len) - c;
        emit(src + kh * kernel_row_stride + (c - kh * row_len), len);
        c += len;
      }
      continue;
    }
    for (int64_t c = col, kh = first_kh; c < end; ++kh) {
      const int64_t kernel_row_end = std::min(end, (kh + 1) * row_len);
      const int64_t ih = ih0 + kh * s.dilation_h;
      if (ih < 0 || ih >= s.in_h) {
        emit(nullptr, kernel_row_end - c);
        c = kernel_row_end;
        continue;
      }
      const T* src_row = x_row(p.x, s, n, ih) + p.g * cg;
      if (contiguous_rows) {  // kernel-row columns [lo, hi) read inside the image
        const int64_t base = kh * row_len;
        const int64_t lo = base + std::clamp<int64_t>(-iw0, 0, kw_n) * cg;
        const int64_t hi = base + std::clamp<int64_t>(s.in_w - iw0, 0, kw_n) * cg;
        const int64_t copy_begin = std::clamp(lo, c, kernel_row_end), copy_end = std::clamp(hi, copy_begin, kernel_row_end);
        emit(nullptr, copy_begin - c);
        emit(src_row + iw0 * s.in_channels + (copy_begin - base), copy_end - copy_begin);
        emit(nullptr, kernel_row_end - copy_end);
        c = kernel_row_end;
        continue;
      }
      while (c < kernel_row_end) {  // one kernel column (a run of Cg channels) at a time
        const int64_t within = c - kh * row_len, kw = within / cg, ci = within % cg;
        const int64_t len = std::min(kernel_row_end - c, cg - ci);
        const int64_t iw = iw0 + kw * s.dilation_w;
        emit(iw < 0 || iw >= s.in_w ? nullptr : src_row + iw * s.in_channels + ci, len);
        c += len;
      }
    }
  }
}

// Whole rows of dx move between storage and arithmetic through the dispatch table's
// vectorized conversion (exact widening, one round-to-nearest-even on store). A row of W * C_in
// values is at most convert's threshold for splitting over threads in ResNet-sized layers, so
// inside col2im's parallel loop it runs on the calling thread (and were it larger, OpenMP's
// default of one active level would still keep it there).
template <class T>
void load_tile(compute_t<T>* dst, const T* src, int64_t n) {
  if constexpr (std::is_same_v<T, compute_t<T>>) std::copy(src, src + n, dst);
  else convert(dst, DType::f32, src, dtype_of<T>(), n);
}
template <class T>
void store_tile(T* dst, const compute_t<T>* src, int64_t n) {
  if constexpr (std::is_same_v<T, compute_t<T>>) std::copy(src, src + n, dst);
  else convert(dst, dtype_of<T>(), src, DType::f32, n);
}

// dx[group g] += the entries of dP (r1 - r0, K) for output rows [r0, r1) (already widened to
// binary32, binary64 for f64), gathered per input element: its contributions are summed and
// added to dx with one rounding. Parallel over the input rows (n, ih) the chunk touches.
template <class T>
void col2im(T* dx, const compute_t<T>* dp, const Conv2dShape& s, int64_t g, int64_t r0, int64_t r1) {
  using Acc = compute_t<T>;
  const int64_t oh_n = s.out_h(), ow_n = s.out_w(), ohw = oh_n * ow_n, cg = s.group_in(), k = s.patch();
  const int64_t row_len = s.in_w * s.in_channels;
  // The input rows the chunk can touch, per image: from its first to its last output row.
  const int64_t n0 = r0 / ohw, n1 = (r1 - 1) / ohw;
  struct Span {
    int64_t n, ih_lo, ih_hi;
  };
  std::vector<Span> spans;
  for (int64_t n = n0; n <= n1; ++n) {
    const int64_t first = (std::max(r0, n * ohw) - n * ohw) / ow_n;
    const int64_t last = (std::min(r1, (n + 1) * ohw) - 1 - n * ohw) / ow_n;
    const int64_t lo = std::max<int64_t>(0, first * s.stride_h - s.pad_h);
    const int64_t hi = std::min<int64_t>(s.in_h - 1, last * s.stride_h - s.pad_h + (s.kernel_h - 1) * s.dilation_h);
    spans.push_back({n, lo, hi});
  }
  std::vector<int64_t> offsets{0};  // (image, input row) pairs flattened for one parallel loop
  for (const Span& sp : spans) offsets.push_back(offsets.back() + std::max<int64_t>(0, sp.ih_hi - sp.ih_lo + 1));
  const int64_t items = offsets.back();

#pragma omp parallel if (items * s.in_w * k > kParallelThreshold)
  {
    // The sums of one input row of this group, (W, Cg), and the dx row, (W, C_in).
    std::vector<Acc> sums(static_cast<size_t>(s.in_w * cg)), row(static_cast<size_t>(row_len));
#pragma omp for schedule(static)
    for (int64_t item = 0; item < items; ++item) {
      const size_t si = size_t(std::upper_bound(offsets.begin(), offsets.end(), item) - offsets.begin() - 1);
      const int64_t n = spans[si].n, ih = spans[si].ih_lo + (item - offsets[si]);
      std::fill(sums.begin(), sums.end(), Acc(0));
      for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
        const int64_t th = ih + s.pad_h - kh * s.dilation_h;  // = oh * stride_h
        if (th < 0 || th % s.stride_h != 0 || th / s.stride_h >= oh_n) continue;
        const int64_t oh = th / s.stride_h;
        for (int64_t iw = 0; iw < s.in_w; ++iw) {
          Acc* sum = sums.data() + iw * cg;
          for (int64_t kw = 0; kw < s.kernel_w; ++kw) {
            const int64_t tw = iw + s.pad_w - kw * s.dilation_w;
            if (tw < 0 || tw % s.stride_w != 0 || tw / s.stride_w >= ow_n) continue;
            const int64_t r = n * ohw + oh * ow_n + tw / s.stride_w;
            if (r < r0 || r >= r1) continue;
            const Acc* src = dp + (r - r0) * k + (kh * s.kernel_w + kw) * cg;
            for (int64_t c = 0; c < cg; ++c) sum[c] += src[c];
          }
        }
      }
      // Adding an exact zero to an untouched element leaves it unchanged, so the whole row can
      // be updated at once.
      T* dst = dx + (n * s.in_h + ih) * row_len;
      load_tile(row.data(), dst, row_len);
      for (int64_t iw = 0; iw < s.in_w; ++iw)
        for (int64_t c = 0; c < cg; ++c) row[size_t(iw * s.in_channels + g * cg + c)] += sums[size_t(iw * cg + c)];
      store_tile(dst, row.data(), row_len);
    }
  }
}

// The input gradient of a convolution is itself made of convolutions of dy (see
// backward_data_as_convolution and backward_data_by_phases) whose filters are some of the
// original taps, in reverse order and with the channel roles swapped. The taps used are
// kh = first_h + step_h * i for i < taps_h (likewise in w), and the flipped filter is
// W'_g[ci][i'][j'][co] = W_g[co][kh(taps_h - 1 - i')][kw(taps_w - 1 - j')][ci].
struct FlippedTaps {
  const Conv2dShape* s;  // the convolution being differentiated
  int64_t first_h, first_w, step_h, step_w, taps_h, taps_w;
};

// As the GEMM's B operand, stored (K' = taps_h * taps_w * og, cg) untransposed, row (i', j', co)
// of the flipped filters is a contiguous run of cg channels of W: the GEMM reads them through
// this RowSource without their ever being built.
template <class T>
struct FlippedFilters {
  const T* w;
  const FlippedTaps* taps;
  int64_t g;
};

template <class T>
void flipped_filter_runs(const void* context, int64_t row, int64_t rows, int64_t col, int64_t count, RowRun* runs,
                         int64_t* row_ends) {
  const FlippedFilters<T>& f = *static_cast<const FlippedFilters<T>*>(context);
  const FlippedTaps& t = *f.taps;
  const Conv2dShape& s = *t.s;
  const int64_t og = s.group_out(), cg = s.group_in();
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t q = row + r, co = q % og, tap = q / og;
    const int64_t kh = t.first_h + t.step_h * (t.taps_h - 1 - tap / t.taps_w);
    const int64_t kw = t.first_w + t.step_w * (t.taps_w - 1 - tap % t.taps_w);
    runs[r] = RowRun{f.w + (((f.g * og + co) * s.kernel_h + kh) * s.kernel_w + kw) * cg + col, count};
    row_ends[r] = r + 1;
  }
}

// The filters of a convolution as the GEMM's B operand for group g: stored W_g (og, K), read
// transposed; or flipped, read through FlippedFilters (whose taps must outlive the GEMM).
template <class T>
struct Filters {
  const T* w = nullptr;
  const FlippedTaps* flipped = nullptr;
};

// y = the window `out` of the convolution's output, (N, out.h, out.w, C_out).
template <class T>
void forward(T* y, const T* x, const Filters<T>& filters, DType dtype, Accumulation acc, const Conv2dShape& s,
             const OutputWindow& out) {
  const int64_t rows = s.batch * out.h * out.w, cg = s.group_in(), og = s.group_out(), k = s.patch();
  const T* w = filters.w;
  const bool pointwise = is_pointwise(s) && is_whole_output(out, s);  // x itself is the patch matrix
  for (int64_t g = 0; g < s.groups; ++g) {
    if (pointwise && filters.flipped == nullptr) {  // Y_g (rows, og) = X_g (rows, cg) W_g^T
      gemm(dtype, acc,
           make_gemm_args(false, true, rows, og, cg, x + g * cg, s.in_channels, w + g * og * cg, cg, y + g * og,
                          s.out_channels, 0.0f));
      continue;
    }
    if (pointwise) {  // one flipped tap: its (cg, og) slice of the original W_g, a plain matrix
      const FlippedTaps& t = *filters.flipped;
      const Conv2dShape& o = *t.s;
      const T* tap = w + ((g * cg * o.kernel_h + t.first_h) * o.kernel_w + t.first_w) * og;
      gemm(dtype, acc,
           make_gemm_args(false, false, rows, og, cg, x + g * cg, s.in_channels, tap, o.kernel_h * o.kernel_w * og,
                          y + g * og, s.out_channels, 0.0f));
      continue;
    }
    const Patches<T> patches{x, &s, g, out};
    const RowSource source{patch_runs<T>, &patches, max_patch_runs(s)};
    const FlippedFilters<T> flipped{w, filters.flipped, g};
    const RowSource flipped_source{flipped_filter_runs<T>, &flipped, 1};
    GemmArgs args =
        make_gemm_args(false, true, rows, og, k, nullptr, 0, w + g * og * k, k, y + g * og, s.out_channels, 0.0f);
    if (filters.flipped != nullptr) {
      args.trans_b = false;
      args.b = nullptr;
      args.ldb = 0;
      args.b_rows = &flipped_source;
    }
    args.a_rows = &source;
    gemm(dtype, acc, args);
  }
}

template <class T>
void backward_weight(T* dw, const T* dy, const T* x, DType dtype, Accumulation acc, const Conv2dShape& s) {
  const int64_t rows = s.batch * s.out_h() * s.out_w(), cg = s.group_in(), og = s.group_out(), k = s.patch();
  for (int64_t g = 0; g < s.groups; ++g) {
    if (is_pointwise(s)) {  // dW_g (og, cg) += dY_g^T (og, rows) X_g (rows, cg)
      gemm(dtype, acc,
           make_gemm_args(true, false, og, cg, rows, dy + g * og, s.out_channels, x + g * cg, s.in_channels,
                          dw + g * og * cg, cg, 1.0f));
      continue;
    }
    const Patches<T> patches{x, &s, g, whole_output(s)};  // dW_g (og, K) += dY_g^T (og, rows) P_g (rows, K)
    const RowSource source{patch_runs<T>, &patches, max_patch_runs(s)};
    GemmArgs args =
        make_gemm_args(true, false, og, k, rows, dy + g * og, s.out_channels, nullptr, 0, dw + g * og * k, k, 1.0f);
    args.b_rows = &source;
    gemm(dtype, acc, args);
  }
}

// The stride-1 convolution of dy, with the flipped taps of the convolution being
// differentiated as its filters, whose output is dx (or a phase of it).
Conv2dShape convolution_of_dy(const FlippedTaps& taps, int64_t dilation_h, int64_t dilation_w, int64_t pad_h,
                              int64_t pad_w) {
  const Conv2dShape& s = *taps.s;
  Conv2dShape t;
  t.batch = s.batch;
  t.in_h = s.out_h();
  t.in_w = s.out_w();
  t.in_channels = s.out_channels;
  t.out_channels = s.in_channels;
  t.groups = s.groups;
  t.kernel_h = taps.taps_h;
  t.kernel_w = taps.taps_w;
  t.dilation_h = dilation_h;
  t.dilation_w = dilation_w;
  t.pad_h = pad_h;
  t.pad_w = pad_w;
  return t;
}

// The input gradient of a stride-1 convolution as the forward convolution of dy with the
// flipped filters (see FlippedFilters). False when the padding exceeds what that allows (then
// the col2im path runs).
template <class T>
bool backward_data_as_convolution(T* dx, const T* dy, const T* w, DType dtype, Accumulation acc, const Conv2dShape& s) {
  if (s.stride_h != 1 || s.stride_w != 1) return false;
  const int64_t pad_h = s.dilation_h * (s.kernel_h - 1) - s.pad_h, pad_w = s.dilation_w * (s.kernel_w - 1) - s.pad_w;
  if (pad_h < 0 || pad_w < 0) return false;
  const FlippedTaps taps{&s, 0, 0, 1, 1, s.kernel_h, s.kernel_w};
  const Conv2dShape t = convolution_of_dy(taps, s.dilation_h, s.dilation_w, pad_h, pad_w);
  forward(dx, dy, Filters<T>{w, &taps}, dtype, acc, t, whole_output(t));
  return true;
}

// The rows a of a phase's output whose input row stride * a + r - pad lies in [0, in).
std::pair<int64_t, int64_t> phase_rows(int64_t in, int64_t pad, int64_t stride, int64_t r) {
  const auto floor_div = [](int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); };
  return {std::max<int64_t>(0, -floor_div(r - pad, stride)), floor_div(in - 1 + pad - r, stride) + 1};
}

// The input gradient of a strided convolution (dilation 1), by phases: the input pixels with
// (ih + pad_h) % stride_h == rh and (iw + pad_w) % stride_w == rw are reached only by the taps
// kh = rh + stride_h * i, kw = rw + stride_w * j, and input row ih = stride_h * a + rh - pad_h
// by output rows a - i. So each phase is a stride-1 convolution of dy with those taps flipped,
// padded by taps - 1, whose output pixel (n, a, b) is that input pixel's gradient: no patch
// gradients and no col2im sums, at the price of one copy of each phase's output into dx. Only
// the output window of a and b that land inside the input is computed (at 8x8, the whole output
// was up to 36% more rows). Input pixels no tap reaches (stride > kernel) get zero. False for
// dilated convolutions (then col2im runs).
template <class T>
bool backward_data_by_phases(T* dx, const T* dy, const T* w, DType dtype, Accumulation acc, const Conv2dShape& s) {
  if (s.dilation_h != 1 || s.dilation_w != 1) return false;
  if (s.stride_h > s.kernel_h || s.stride_w > s.kernel_w)
    std::memset(static_cast<void*>(dx), 0, size_t(s.batch * s.in_h * s.in_w * s.in_channels) * sizeof(T));
  for (int64_t rh = 0; rh < std::min(s.stride_h, s.kernel_h); ++rh) {
    for (int64_t rw = 0; rw < std::min(s.stride_w, s.kernel_w); ++rw) {
      const auto [a0, a1] = phase_rows(s.in_h, s.pad_h, s.stride_h, rh);
      const auto [b0, b1] = phase_rows(s.in_w, s.pad_w, s.stride_w, rw);
      if (a1 <= a0 || b1 <= b0) continue;  // no input pixel in this phase
      const FlippedTaps taps{&s, rh, rw, s.stride_h, s.stride_w, (s.kernel_h - rh + s.stride_h - 1) / s.stride_h,
                             (s.kernel_w - rw + s.stride_w - 1) / s.stride_w};
      const Conv2dShape t = convolution_of_dy(taps, 1, 1, taps.taps_h - 1, taps.taps_w - 1);
      const OutputWindow out{a0, b0, a1 - a0, b1 - b0};
      const int64_t c = s.in_channels;
      T* phase = thread_workspace<T>(WorkspaceUse::conv_patches, t.batch * out.h * out.w * c);
      forward(phase, dy, Filters<T>{w, &taps}, dtype, acc, t, out);
#pragma omp parallel for collapse(2) schedule(static) if (t.batch * out.h * out.w * c > kParallelThreshold)
      for (int64_t n = 0; n < t.batch; ++n) {
        for (int64_t a = 0; a < out.h; ++a) {
          const int64_t ih = s.stride_h * (a0 + a) + rh - s.pad_h;
          for (int64_t b = 0; b < out.w; ++b) {
            const int64_t iw = s.stride_w * (b0 + b) + rw - s.pad_w;
            std::memcpy(static_cast<void*>(dx + ((n * s.in_h + ih) * s.in_w + iw) * c),
                        phase + ((n * out.h + a) * out.w + b) * c, size_t(c) * sizeof(T));
          }
        }
      }
    }
  }
  return true;
}

template <class T>
void backward_data(T* dx, const T* dy, const T* w, DType dtype, Accumulation acc, const Conv2dShape& s,
                   int64_t ws_bytes) {
  const int64_t rows = s.batch * s.out_h() * s.out_w(), cg = s.group_in(), og = s.group_out(), k = s.patch();
  if (is_pointwise(s)) {  // dX_g (rows, cg) = dY_g (rows, og) W_g (og, cg)
    for (int64_t g = 0; g < s.groups; ++g)
      gemm(dtype, acc,
           make_gemm_args(false, false, rows, cg, og, dy + g * og, s.out_channels, w + g * og * cg, cg, dx + g * cg,
                          s.in_channels, 0.0f));
    return;
  }
  if (backward_data_as_convolution(dx, dy, w, dtype, acc, s)) return;
  if (backward_data_by_phases(dx, dy, w, dtype, acc, s)) return;
  std::memset(static_cast<void*>(dx), 0, size_t(s.batch * s.in_h * s.in_w * s.in_channels) * sizeof(T));
  // fp16/bf16: dP is widened once per chunk (one vectorized conversion) for col2im's sums; the
  // workspace holds both copies.
  using Acc = compute_t<T>;
  constexpr bool widen = !std::is_same_v<T, Acc>;
  const int64_t chunk = rows_per_chunk(s, sizeof(T) + (widen ? sizeof(Acc) : 0), ws_bytes);
  const int64_t narrow_bytes = (std::min(chunk, rows) * k * int64_t(sizeof(T)) + 63) / 64 * 64;
  std::byte* ws = thread_workspace<std::byte>(
      WorkspaceUse::conv_patches, narrow_bytes + (widen ? std::min(chunk, rows) * k * int64_t(sizeof(Acc)) : 0));
  T* dp = reinterpret_cast<T*>(ws);
  Acc* dp_wide = widen ? reinterpret_cast<Acc*>(ws + narrow_bytes) : reinterpret_cast<Acc*>(dp);
  for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
    const int64_t r1 = std::min(rows, r0 + chunk);
    for (int64_t g = 0; g < s.groups; ++g) {
      gemm(dtype, acc,
           make_gemm_args(false, false, r1 - r0, k, og, dy + r0 * s.out_channels + g * og, s.out_channels,
                          w + g * og * k, k, dp, k, 0.0f));
      if constexpr (widen) convert(dp_wide, DType::f32, dp, dtype, (r1 - r0) * k);
      col2im(dx, dp_wide, s, g, r0, r1);
    }
  }
}

}  // namespace

void Conv2dShape::validate() const {
  auto fail = [](const std::string& what, int64_t v) {
    throw std::invalid_argument("conv2d: " + what + " " + std::to_string(v));
  };
  if (batch < 0) fail("negative batch", batch);
  if (in_h <= 0 || in_w <= 0) fail("input height/width must be positive, got", in_h <= 0 ? in_h : in_w);
  if (in_channels <= 0 || out_channels <= 0) fail("channel counts must be positive, got", std::min(in_channels, out_channels));
  if (kernel_h <= 0 || kernel_w <= 0) fail("kernel size must be positive, got", std::min(kernel_h, kernel_w));
  if (stride_h <= 0 || stride_w <= 0) fail("stride must be positive, got", std::min(stride_h, stride_w));
  if (dilation_h <= 0 || dilation_w <= 0) fail("dilation must be positive, got", std::min(dilation_h, dilation_w));
  if (pad_h < 0 || pad_w < 0) fail("padding must be non-negative, got", std::min(pad_h, pad_w));
  if (groups <= 0 || in_channels % groups != 0 || out_channels % groups != 0)
    fail("groups must divide both channel counts (" + std::to_string(in_channels) + ", " +
             std::to_string(out_channels) + "), got",
         groups);
  if (out_h() <= 0 || out_w() <= 0)
    fail("kernel (with dilation) is larger than the padded input of size", out_h() <= 0 ? in_h + 2 * pad_h : in_w + 2 * pad_w);
}

std::string_view conv_algorithm_name(ConvAlgorithm algorithm) {
  switch (algorithm) {
    case ConvAlgorithm::automatic:
      return "auto";
    case ConvAlgorithm::gemm:
      return "gemm";
    case ConvAlgorithm::winograd:
      return "winograd";
  }
  return "?";
}

namespace {
constexpr ConvAlgorithm kConvAlgorithms[] = {ConvAlgorithm::automatic, ConvAlgorithm::gemm, ConvAlgorithm::winograd};
// Below this many channels on either side, the transforms' work is no longer small beside the
// GEMMs' (whose inner dimension is the input channels), and the GEMM path is faster.
constexpr int64_t kWinogradMinChannels = 16;
}  // namespace

std::vector<std::string> conv_algorithm_names() {
  std::vector<std::string> names;
  for (ConvAlgorithm a : kConvAlgorithms) names.emplace_back(conv_algorithm_name(a));
  return names;
}

ConvAlgorithm parse_conv_algorithm(std::string_view name) {
  for (ConvAlgorithm a : kConvAlgorithms)
    if (name == conv_algorithm_name(a)) return a;
  std::string names;
  for (const std::string& n : conv_algorithm_names()) names += (names.empty() ? "" : ", ") + n;
  throw std::invalid_argument("unknown convolution algorithm '" + std::string(name) + "' (" + names + ")");
}

ConvAlgorithm conv_algorithm_used(ConvAlgorithm algorithm, DType dtype, Accumulation acc, const Conv2dShape& s) {
  const bool possible = algorithm != ConvAlgorithm::gemm && winograd_fits(s) && dtype != DType::f64 &&
                        resolve_accumulation(dtype, acc) == Accumulation::f32;
  if (!possible) return ConvAlgorithm::gemm;
  if (algorithm == ConvAlgorithm::winograd) return ConvAlgorithm::winograd;
  // bf16 dot products (vdpbf16ps) run at twice the binary32 FMA rate, about what Winograd's
  // 2.25x fewer binary32 multiplications gain.
  const bool native_bf16 = dtype == DType::bf16 && gemm_variant(dtype, Accumulation::f32) == "avx512bf16";
  return !native_bf16 && s.in_channels >= kWinogradMinChannels && s.out_channels >= kWinogradMinChannels
             ? ConvAlgorithm::winograd
             : ConvAlgorithm::gemm;
}

void conv2d_forward(void* y, const void* x, const void* w, DType dtype, Accumulation acc, const Conv2dShape& s,
                    ConvAlgorithm algorithm) {
  s.validate();
  if (conv_algorithm_used(algorithm, dtype, acc, s) == ConvAlgorithm::winograd)
    return winograd_forward(y, x, w, false, dtype, s);
  dispatch(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    forward(static_cast<T*>(y), static_cast<const T*>(x), Filters<T>{static_cast<const T*>(w)}, dtype, acc, s,
            whole_output(s));
  });
}

void conv2d_backward_data(void* dx, const void* dy, const void* w, DType dtype, Accumulation acc, const Conv2dShape& s,
                          ConvAlgorithm algorithm, int64_t workspace_bytes) {
  s.validate();
  if (conv_algorithm_used(algorithm, dtype, acc, s) == ConvAlgorithm::winograd) {
    // The stride-1 convolution of dy with the flipped filters (see backward_data_as_convolution).
    const FlippedTaps taps{&s, 0, 0, 1, 1, 3, 3};
    return winograd_forward(dx, dy, w, true, dtype, convolution_of_dy(taps, 1, 1, 2 - s.pad_h, 2 - s.pad_w));
  }
  dispatch(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    backward_data(static_cast<T*>(dx), static_cast<const T*>(dy), static_cast<const T*>(w), dtype, acc, s,
                  workspace_bytes);
  });
}

void conv2d_backward_weight(void* dw, const void* dy, const void* x, DType dtype, Accumulation acc,
                            const Conv2dShape& s, ConvAlgorithm algorithm) {
  s.validate();
  if (conv_algorithm_used(algorithm, dtype, acc, s) == ConvAlgorithm::winograd)
    return winograd_backward_weight(dw, dy, x, dtype, s);
  dispatch(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    backward_weight(static_cast<T*>(dw), static_cast<const T*>(dy), static_cast<const T*>(x), dtype, acc, s);
  });
}

}  // namespace pure16::kernels
