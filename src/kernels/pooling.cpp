// Pooling kernels (see include/pure16/kernels/pooling.h). Loops run over output (or input)
// rows in parallel and over channels innermost, which NHWC keeps contiguous.
#include "pure16/kernels/pooling.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "pure16/kernels/elementwise.h"

namespace pure16::kernels {
namespace {

constexpr int64_t kParallelThreshold = 1 << 14;

// The window of output index o along one axis: input indices [begin, end) clipped to the input,
// and `padded_len`, its length clipped to the padded input only (for count_include_pad).
struct Window {
  int64_t begin, end, padded_len;
};
Window window(int64_t o, int64_t stride, int64_t pad, int64_t kernel, int64_t size) {
  const int64_t start = o * stride - pad;
  return {std::max<int64_t>(start, 0), std::min(start + kernel, size), std::min(start + kernel, size + pad) - start};
}

// The outputs whose windows cover input index i along one axis: [first, last].
struct Cover {
  int64_t first, last;
};
Cover covering(int64_t i, int64_t stride, int64_t pad, int64_t kernel, int64_t out_size) {
  // o covers i when o * stride - pad <= i < o * stride - pad + kernel.
  const int64_t first = i + pad < kernel ? 0 : (i + pad - kernel) / stride + 1;
  return {first, std::min(out_size - 1, (i + pad) / stride)};
}

int64_t avg_count(const Pool2dShape& s, int64_t oh, int64_t ow, bool count_include_pad) {
  const Window h = window(oh, s.stride_h, s.pad_h, s.kernel_h, s.in_h);
  const Window w = window(ow, s.stride_w, s.pad_w, s.kernel_w, s.in_w);
  if (count_include_pad) return h.padded_len * w.padded_len;
  return (h.end - h.begin) * (w.end - w.begin);
}

// Calls visit(n, oh, ow, out, best) for every output pixel, best[c] pointing at the input
// element that wins channel c's window: the first maximum, or the last NaN (which then
// propagates, as in PyTorch). Images are split over threads when `parallel`.
template <class T, class Visit>
void for_each_window_max(const T* x, const Pool2dShape& s, bool parallel, Visit visit) {
  const int64_t oh_n = s.out_h(), ow_n = s.out_w(), c_n = s.channels;
#pragma omp parallel if (parallel)
  {
    std::vector<const T*> best(static_cast<size_t>(c_n));
#pragma omp for schedule(static)
    for (int64_t n = 0; n < s.batch; ++n)
      for (int64_t oh = 0; oh < oh_n; ++oh) {
        const Window h = window(oh, s.stride_h, s.pad_h, s.kernel_h, s.in_h);
        for (int64_t ow = 0; ow < ow_n; ++ow) {
          const Window w = window(ow, s.stride_w, s.pad_w, s.kernel_w, s.in_w);
          bool first = true;
          for (int64_t ih = h.begin; ih < h.end; ++ih)
            for (int64_t iw = w.begin; iw < w.end; ++iw) {
              const T* xp = x + ((n * s.in_h + ih) * s.in_w + iw) * c_n;
              if (first) {
                for (int64_t c = 0; c < c_n; ++c) best[size_t(c)] = xp + c;
                first = false;
                continue;
              }
              for (int64_t c = 0; c < c_n; ++c) {
                const auto v = load_value(xp[c]);
                if (v > load_value(*best[size_t(c)]) || std::isnan(v)) best[size_t(c)] = xp + c;
              }
            }
          visit(n, ((n * oh_n + oh) * ow_n + ow) * c_n, best.data());
        }
      }
  }
}

template <class T>
void maxpool_forward(T* y, const T* x, const Pool2dShape& s) {
  const int64_t c_n = s.channels;
  for_each_window_max(x, s, s.batch * s.out_h() * s.out_w() * c_n > kParallelThreshold,
                      [&](int64_t, int64_t out, const T* const* best) {
                        for (int64_t c = 0; c < c_n; ++c) y[out + c] = *best[c];
                      });
}

// The gradient goes to each window's winner. One thread owns each image's dx, and within an
// image the outputs come in order, so an input element in several windows sums their gradients
// in a fixed order (the order of the windows), for any thread count.
template <class T>
void maxpool_backward(T* dx, const T* dy, const T* x, const Pool2dShape& s) {
  const int64_t c_n = s.channels, image = s.in_h * s.in_w * c_n;
  std::fill(dx, dx + s.batch * image, T(0));
  for_each_window_max(x, s, s.batch > 1 && s.batch * image > kParallelThreshold,
                      [&](int64_t, int64_t out, const T* const* best) {
                        for (int64_t c = 0; c < c_n; ++c) {
                          T* target = dx + (best[c] - x);
                          *target = store_value<T>(load_value(*target) + load_value(dy[out + c]));
                        }
                      });
}

template <class T>
void avgpool_forward(T* y, const T* x, const Pool2dShape& s, bool count_include_pad) {
  using Acc = compute_t<T>;
  const int64_t oh_n = s.out_h(), ow_n = s.out_w(), c_n = s.channels;
#pragma omp parallel if (s.batch * oh_n * ow_n * c_n > kParallelThreshold)
  {
    std::vector<Acc> sum(static_cast<size_t>(c_n));
#pragma omp for collapse(2) schedule(static)
    for (int64_t n = 0; n < s.batch; ++n)
      for (int64_t oh = 0; oh < oh_n; ++oh) {
        const Window h = window(oh, s.stride_h, s.pad_h, s.kernel_h, s.in_h);
        for (int64_t ow = 0; ow < ow_n; ++ow) {
          const Window w = window(ow, s.stride_w, s.pad_w, s.kernel_w, s.in_w);
          std::fill(sum.begin(), sum.end(), Acc(0));
          for (int64_t ih = h.begin; ih < h.end; ++ih)
            for (int64_t iw = w.begin; iw < w.end; ++iw) {
              const T* xp = x + ((n * s.in_h + ih) * s.in_w + iw) * c_n;
              for (int64_t c = 0; c < c_n; ++c) sum[size_t(c)] += load_value(xp[c]);
            }
          const Acc count = Acc(avg_count(s, oh, ow, count_include_pad));
          T* out = y + ((n * oh_n + oh) * ow_n + ow) * c_n;
          for (int64_t c = 0; c < c_n; ++c) out[c] = store_value<T>(sum[size_t(c)] / count);
        }
      }
  }
}

// dx[n, ih, iw, :] = the sum over the outputs whose windows cover (ih, iw) of dy / their count:
// gathered per input element, so threads never write the same element.
template <class T>
void avgpool_backward(T* dx, const T* dy, const Pool2dShape& s, bool count_include_pad) {
  using Acc = compute_t<T>;
  const int64_t oh_n = s.out_h(), ow_n = s.out_w(), c_n = s.channels;
#pragma omp parallel if (s.batch * s.in_h * s.in_w * c_n > kParallelThreshold)
  {
    std::vector<Acc> sum(static_cast<size_t>(c_n));
#pragma omp for collapse(2) schedule(static)
    for (int64_t n = 0; n < s.batch; ++n)
      for (int64_t ih = 0; ih < s.in_h; ++ih) {
        const Cover ch = covering(ih, s.stride_h, s.pad_h, s.kernel_h, oh_n);
        for (int64_t iw = 0; iw < s.in_w; ++iw) {
          const Cover cw = covering(iw, s.stride_w, s.pad_w, s.kernel_w, ow_n);
          std::fill(sum.begin(), sum.end(), Acc(0));
          for (int64_t oh = ch.first; oh <= ch.last; ++oh)
            for (int64_t ow = cw.first; ow <= cw.last; ++ow) {
              const T* g = dy + ((n * oh_n + oh) * ow_n + ow) * c_n;
              const Acc count = Acc(avg_count(s, oh, ow, count_include_pad));
              for (int64_t c = 0; c < c_n; ++c) sum[size_t(c)] += load_value(g[c]) / count;
            }
          T* dst = dx + ((n * s.in_h + ih) * s.in_w + iw) * c_n;
          for (int64_t c = 0; c < c_n; ++c) dst[c] = store_value<T>(sum[size_t(c)]);
        }
      }
  }
}

template <class T>
void global_forward(T* y, const T* x, int64_t batch, int64_t pixels, int64_t channels) {
  using Acc = compute_t<T>;
#pragma omp parallel if (batch * pixels * channels > kParallelThreshold)
  {
    std::vector<Acc> sum(static_cast<size_t>(channels));
#pragma omp for schedule(static)
    for (int64_t n = 0; n < batch; ++n) {
      std::fill(sum.begin(), sum.end(), Acc(0));
      for (int64_t p = 0; p < pixels; ++p) {
        const T* xp = x + (n * pixels + p) * channels;
        for (int64_t c = 0; c < channels; ++c) sum[size_t(c)] += load_value(xp[c]);
      }
      for (int64_t c = 0; c < channels; ++c) y[n * channels + c] = store_value<T>(sum[size_t(c)] / Acc(pixels));
    }
  }
}

template <class T>
void global_backward(T* dx, const T* dy, int64_t batch, int64_t pixels, int64_t channels) {
  using Acc = compute_t<T>;
#pragma omp parallel for collapse(2) schedule(static) if (batch * pixels * channels > kParallelThreshold)
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t p = 0; p < pixels; ++p)
      for (int64_t c = 0; c < channels; ++c)
        dx[(n * pixels + p) * channels + c] = store_value<T>(load_value(dy[n * channels + c]) / Acc(pixels));
}

}  // namespace

void Pool2dShape::validate() const {
  auto fail = [](const std::string& what, int64_t v) {
    throw std::invalid_argument("pool2d: " + what + " " + std::to_string(v));
  };
  if (batch < 0) fail("negative batch", batch);
  if (in_h <= 0 || in_w <= 0) fail("input height/width must be positive, got", std::min(in_h, in_w));
  if (channels <= 0) fail("channels must be positive, got", channels);
  if (kernel_h <= 0 || kernel_w <= 0) fail("kernel size must be positive, got", std::min(kernel_h, kernel_w));
  if (stride_h <= 0 || stride_w <= 0) fail("stride must be positive, got", std::min(stride_h, stride_w));
  if (pad_h < 0 || pad_w < 0) fail("padding must be non-negative, got", std::min(pad_h, pad_w));
  if (2 * pad_h > kernel_h || 2 * pad_w > kernel_w) fail("padding must be at most half the kernel, got", std::max(pad_h, pad_w));
  if (out_h() <= 0 || out_w() <= 0)
    fail("kernel is larger than the padded input of size", out_h() <= 0 ? in_h + 2 * pad_h : in_w + 2 * pad_w);
}

namespace {

// fp16 and bf16 pooling runs on binary32 copies: the loops above are scalar, and a software
// conversion per element made them a quarter of a LeNet step. The vectorized conversions are
// exact on the way in and round once to nearest even on the way out, as store_value would, so
// the results are the same bits.
bool narrow(DType dtype) { return dtype == DType::f16 || dtype == DType::bf16; }

std::vector<float> widened(const void* src, DType dtype, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  convert(out.data(), DType::f32, src, dtype, n);
  return out;
}

int64_t input_numel(const Pool2dShape& s) { return s.batch * s.in_h * s.in_w * s.channels; }
int64_t output_numel(const Pool2dShape& s) { return s.batch * s.out_h() * s.out_w() * s.channels; }

// Calls pool(out, in...) with every pointer typed T, or on binary32 copies for fp16/bf16 (then
// out, of out_n elements, is written back rounded).
template <class Pool, class... In>
void typed_or_widened(DType dtype, void* out, int64_t out_n, Pool pool, In... in) {  // In: (pointer, count)
  if (narrow(dtype)) {
    std::vector<float> result(static_cast<size_t>(out_n));
    pool(result.data(), widened(in.first, dtype, in.second).data()...);
    convert(out, dtype, result.data(), DType::f32, out_n);
    return;
  }
  dispatch(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    pool(static_cast<T*>(out), static_cast<const T*>(in.first)...);
  });
}

}  // namespace

void maxpool2d_forward(void* y, const void* x, DType dtype, const Pool2dShape& s) {
  s.validate();
  typed_or_widened(
      dtype, y, output_numel(s), [&](auto* out, const auto* in) { maxpool_forward(out, in, s); },
      std::pair{x, input_numel(s)});
}

void maxpool2d_backward(void* dx, const void* dy, const void* x, DType dtype, const Pool2dShape& s) {
  s.validate();
  typed_or_widened(
      dtype, dx, input_numel(s), [&](auto* out, const auto* grad, const auto* in) { maxpool_backward(out, grad, in, s); },
      std::pair{dy, output_numel(s)}, std::pair{x, input_numel(s)});
}

void avgpool2d_forward(void* y, const void* x, DType dtype, const Pool2dShape& s, bool count_include_pad) {
  s.validate();
  typed_or_widened(
      dtype, y, output_numel(s), [&](auto* out, const auto* in) { avgpool_forward(out, in, s, count_include_pad); },
      std::pair{x, input_numel(s)});
}

void avgpool2d_backward(void* dx, const void* dy, DType dtype, const Pool2dShape& s, bool count_include_pad) {
  s.validate();
  typed_or_widened(
      dtype, dx, input_numel(s), [&](auto* out, const auto* grad) { avgpool_backward(out, grad, s, count_include_pad); },
      std::pair{dy, output_numel(s)});
}

void global_avgpool_forward(void* y, const void* x, DType dtype, int64_t batch, int64_t pixels, int64_t channels) {
  if (pixels <= 0 || channels <= 0) throw std::invalid_argument("global_avgpool: empty input");
  dispatch(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    global_forward(static_cast<T*>(y), static_cast<const T*>(x), batch, pixels, channels);
  });
}

void global_avgpool_backward(void* dx, const void* dy, DType dtype, int64_t batch, int64_t pixels, int64_t channels) {
  if (pixels <= 0 || channels <= 0) throw std::invalid_argument("global_avgpool: empty input");
  dispatch(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    global_backward(static_cast<T*>(dx), static_cast<const T*>(dy), batch, pixels, channels);
  });
}

}  // namespace pure16::kernels
