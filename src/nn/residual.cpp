#include "pure16/nn/residual.h"

#include <algorithm>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "pure16/kernels/elementwise.h"

namespace pure16::nn {
namespace {

// out = a + b, element-wise, in binary32 (binary64 for f64) and rounded once. fp16/bf16 go
// through binary32 chunks with the dispatch table's vectorized conversion (a chunk is below its
// threshold for a parallel region of its own, so it runs on the calling thread).
Tensor sum_of(const Tensor& a, const Tensor& b) {
  constexpr int64_t kChunk = 1 << 15;  // amortizes the ~0.5 us fixed cost of a convert call
  Tensor out = Tensor::empty(a.shape(), a.dtype());
  const int64_t n = a.numel();
  const DType dtype = a.dtype();
  dispatch(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* pa = static_cast<const T*>(a.raw());
    const T* pb = static_cast<const T*>(b.raw());
    T* po = static_cast<T*>(out.raw());
    if constexpr (std::is_same_v<T, compute_t<T>>) {
#pragma omp parallel for schedule(static) if (n > (1 << 15))
      for (int64_t i = 0; i < n; ++i) po[i] = pa[i] + pb[i];
    } else {
      const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel if (n > (1 << 15))
      {
        std::vector<float> fa(kChunk), fb(kChunk);
#pragma omp for schedule(static)
        for (int64_t c = 0; c < chunks; ++c) {
          const int64_t begin = c * kChunk, len = std::min(kChunk, n - begin);
          kernels::convert(fa.data(), DType::f32, pa + begin, dtype, len);
          kernels::convert(fb.data(), DType::f32, pb + begin, dtype, len);
          for (int64_t i = 0; i < len; ++i) fa[size_t(i)] += fb[size_t(i)];
          kernels::convert(po + begin, dtype, fa.data(), DType::f32, len);
        }
      }
    }
  });
  return out;
}

}  // namespace

Residual::Residual(std::unique_ptr<Sequential> main, std::unique_ptr<Sequential> shortcut)
    : main_(std::move(main)), shortcut_(std::move(shortcut)) {
  if (!main_) throw std::invalid_argument("Residual: the main branch is missing");
}

std::string Residual::name() const {
  return "Residual(" + main_->name() + (shortcut_ ? " + " + shortcut_->name() : " + identity") + ")";
}

Shape Residual::output_shape(const Shape& input) const {
  const Shape main_out = main_->output_shape(input);
  const Shape short_out = shortcut_ ? shortcut_->output_shape(input) : input;
  if (main_out != short_out)
    throw std::invalid_argument(name() + ": for input " + shape_string(input) + " the main branch gives " +
                                shape_string(main_out) + " but the shortcut " + shape_string(short_out));
  return main_out;
}

std::vector<Parameter*> Residual::parameters() {
  std::vector<Parameter*> out = main_->parameters();
  if (shortcut_)
    for (Parameter* p : shortcut_->parameters()) out.push_back(p);
  return out;
}

std::vector<Parameter*> Residual::buffers() {
  std::vector<Parameter*> out = main_->buffers();
  if (shortcut_)
    for (Parameter* b : shortcut_->buffers()) out.push_back(b);
  return out;
}

int64_t Residual::forward_flops(const Shape& input) const {
  return main_->forward_flops(input) + (shortcut_ ? shortcut_->forward_flops(input) : 0);
}

Tensor Residual::forward_impl(const Tensor& x, Context& ctx, const RunOptions& options) {
  ctx.children.assign(shortcut_ ? 2 : 1, Context{});
  const Tensor main_out = main_->forward(x, ctx.children[0], options);
  const Tensor short_out = shortcut_ ? shortcut_->forward(x, ctx.children[1], options) : x;
  // A new tensor: either branch's output may be held by a context (or be x itself).
  return sum_of(main_out, short_out);
}

Tensor Residual::backward_impl(const Tensor& dy, const Context& ctx, const RunOptions& options, bool need_input_grad) {
  if (ctx.children.size() != (shortcut_ ? 2u : 1u)) throw std::logic_error(name() + ": backward without forward");
  // Both branches always run backward for their parameter gradients.
  const Tensor d_main = main_->backward(dy, ctx.children[0], options, need_input_grad);
  const Tensor d_short = shortcut_ ? shortcut_->backward(dy, ctx.children[1], options, need_input_grad) : dy;
  if (!need_input_grad) return {};
  return sum_of(d_main.contiguous(), d_short.contiguous());
}

}  // namespace pure16::nn
