// Direct convolution: the definition the GEMM path is tested against. Every output element is
// one sequential sum in binary32 (binary64 for f64) over the terms in loop order, rounded once
// to the dtype, which is what the tests' gamma_K bounds assume. Plain loops, no workspace.
#include "pure16/kernels/conv.h"

namespace pure16::kernels {
namespace {

template <class T>
void forward_ref(T* y, const T* x, const T* w, const Conv2dShape& s) {
  using Acc = compute_t<T>;
  const int64_t oh_n = s.out_h(), ow_n = s.out_w(), cg = s.group_in(), og = s.group_out();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < s.batch; ++n)
    for (int64_t oh = 0; oh < oh_n; ++oh)
      for (int64_t ow = 0; ow < ow_n; ++ow)
        for (int64_t co = 0; co < s.out_channels; ++co) {
          const int64_t g = co / og;
          Acc sum = 0;
          for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
            const int64_t ih = oh * s.stride_h - s.pad_h + kh * s.dilation_h;
            if (ih < 0 || ih >= s.in_h) continue;
            for (int64_t kw = 0; kw < s.kernel_w; ++kw) {
              const int64_t iw = ow * s.stride_w - s.pad_w + kw * s.dilation_w;
              if (iw < 0 || iw >= s.in_w) continue;
              const T* xp = x + ((n * s.in_h + ih) * s.in_w + iw) * s.in_channels + g * cg;
              const T* wp = w + ((co * s.kernel_h + kh) * s.kernel_w + kw) * cg;
              for (int64_t ci = 0; ci < cg; ++ci) sum += load_value(xp[ci]) * load_value(wp[ci]);
            }
          }
          y[((n * oh_n + oh) * ow_n + ow) * s.out_channels + co] = store_value<T>(sum);
        }
}

template <class T>
void backward_data_ref(T* dx, const T* dy, const T* w, const Conv2dShape& s) {
  using Acc = compute_t<T>;
  const int64_t oh_n = s.out_h(), ow_n = s.out_w(), cg = s.group_in(), og = s.group_out();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < s.batch; ++n)
    for (int64_t ih = 0; ih < s.in_h; ++ih)
      for (int64_t iw = 0; iw < s.in_w; ++iw)
        for (int64_t c = 0; c < s.in_channels; ++c) {
          const int64_t g = c / cg, ci = c % cg;
          Acc sum = 0;
          for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
            const int64_t th = ih + s.pad_h - kh * s.dilation_h;  // = oh * stride_h
            if (th < 0 || th % s.stride_h != 0 || th / s.stride_h >= oh_n) continue;
            for (int64_t kw = 0; kw < s.kernel_w; ++kw) {
              const int64_t tw = iw + s.pad_w - kw * s.dilation_w;
              if (tw < 0 || tw % s.stride_w != 0 || tw / s.stride_w >= ow_n) continue;
              const T* dyp = dy + ((n * oh_n + th / s.stride_h) * ow_n + tw / s.stride_w) * s.out_channels;
              for (int64_t co = g * og; co < (g + 1) * og; ++co)
                sum += load_value(dyp[co]) * load_value(w[((co * s.kernel_h + kh) * s.kernel_w + kw) * cg + ci]);
            }
          }
          dx[((n * s.in_h + ih) * s.in_w + iw) * s.in_channels + c] = store_value<T>(sum);
        }
}

template <class T>
void backward_weight_ref(T* dw, const T* dy, const T* x, const Conv2dShape& s) {
  using Acc = compute_t<T>;
  const int64_t oh_n = s.out_h(), ow_n = s.out_w(), cg = s.group_in(), og = s.group_out();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t co = 0; co < s.out_channels; ++co)
    for (int64_t kh = 0; kh < s.kernel_h; ++kh)
      for (int64_t kw = 0; kw < s.kernel_w; ++kw)
        for (int64_t ci = 0; ci < cg; ++ci) {
          const int64_t c = co / og * cg + ci;  // the input channel this weight reads
          Acc sum = 0;
          for (int64_t n = 0; n < s.batch; ++n)
            for (int64_t oh = 0; oh < oh_n; ++oh) {
              const int64_t ih = oh * s.stride_h - s.pad_h + kh * s.dilation_h;
              if (ih < 0 || ih >= s.in_h) continue;
              for (int64_t ow = 0; ow < ow_n; ++ow) {
                const int64_t iw = ow * s.stride_w - s.pad_w + kw * s.dilation_w;
                if (iw < 0 || iw >= s.in_w) continue;
                sum += load_value(dy[((n * oh_n + oh) * ow_n + ow) * s.out_channels + co]) *
                       load_value(x[((n * s.in_h + ih) * s.in_w + iw) * s.in_channels + c]);
              }
            }
          T& out = dw[((co * s.kernel_h + kh) * s.kernel_w + kw) * cg + ci];
          out = store_value<T>(load_value(out) + sum);
        }
}

}  // namespace

void conv2d_forward_reference(void* y, const void* x, const void* w, DType dtype, const Conv2dShape& s) {
  s.validate();
  dispatch(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    forward_ref(static_cast<T*>(y), static_cast<const T*>(x), static_cast<const T*>(w), s);
  });
}

void conv2d_backward_data_reference(void* dx, const void* dy, const void* w, DType dtype, const Conv2dShape& s) {
  s.validate();
  dispatch(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    backward_data_ref(static_cast<T*>(dx), static_cast<const T*>(dy), static_cast<const T*>(w), s);
  });
}

void conv2d_backward_weight_reference(void* dw, const void* dy, const void* x, DType dtype, const Conv2dShape& s) {
  s.validate();
  dispatch(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    backward_weight_ref(static_cast<T*>(dw), static_cast<const T*>(dy), static_cast<const T*>(x), s);
  });
}

}  // namespace pure16::kernels
