#include "pure16/nn/layer.h"

#include <stdexcept>
#include <unordered_set>

namespace pure16::nn {
namespace {

void collect_storages(const Context& ctx, std::unordered_set<const Storage*>& seen) {
  for (const Tensor& t : ctx.saved)
    if (t.defined()) seen.insert(t.storage().get());
  for (const Context& child : ctx.children) collect_storages(child, seen);
}

// A layer computing in `dtype` sums its products as a GEMM of that dtype can: fp16 sums apply to
// fp16 data only, so a layer kept in fp32 in an fp16 run sums in binary32, as fp32 runs do.
// `scratch` holds the changed copy when one is needed; otherwise `options` pass through.
const RunOptions& options_for(const RunOptions& options, DType dtype, RunOptions& scratch) {
  const bool f16_sums = options.accumulation == kernels::Accumulation::f16 ||
                        options.accumulation == kernels::Accumulation::f16_block;
  if (!f16_sums || dtype == DType::f16) return options;
  scratch = options;
  scratch.accumulation = kernels::Accumulation::f32;
  return scratch;
}

}  // namespace

std::optional<DType> dtype_of(const Parameter& p) {
  if (!p.value.defined()) return std::nullopt;
  return p.value.dtype();
}

int64_t saved_bytes(const Context& ctx) {
  std::unordered_set<const Storage*> seen;
  collect_storages(ctx, seen);
  int64_t bytes = 0;
  for (const Storage* storage : seen) bytes += int64_t(storage->bytes());
  return bytes;
}

void prefix_state_names(Layer& layer, const std::string& prefix) {
  for (Parameter* p : layer.parameters()) p->name = prefix + "." + p->name;
  for (Parameter* b : layer.buffers()) b->name = prefix + "." + b->name;
}

RunOptions child_options(const RunOptions& options, const std::string& name) {
  RunOptions child = options;
  child.path = options.path.empty() ? name : options.path + "." + name;
  return child;
}

Tensor Layer::forward(const Tensor& x, Context& ctx, const RunOptions& options) {
  const Shape expected = output_shape(x.shape());  // throws on a bad input shape
  if (!x.is_contiguous()) throw std::invalid_argument(name() + ": input must be contiguous");
  ctx.input_shape = x.shape();
  ctx.input_dtype = x.dtype();
  const std::optional<DType> own = own_dtype();
  RunOptions scratch;
  Tensor y = !own ? forward_impl(x, ctx, options)
                  : forward_impl(x.dtype() == *own ? x : x.to(*own), ctx, options_for(options, *own, scratch));
  ctx.output_dtype = y.dtype();
  if (y.shape() != expected)
    throw std::logic_error(name() + ": produced " + shape_string(y.shape()) + ", expected " + shape_string(expected));
  return y;
}

Tensor Layer::backward(const Tensor& dy, const Context& ctx, const RunOptions& options, bool need_input_grad) {
  const Shape expected = output_shape(ctx.input_shape);
  if (dy.shape() != expected)
    throw std::invalid_argument(name() + ": gradient of shape " + shape_string(dy.shape()) + " for output " +
                                shape_string(expected));
  if (!dy.is_contiguous()) throw std::invalid_argument(name() + ": gradient must be contiguous");
  const Tensor g = dy.dtype() == ctx.output_dtype ? dy : dy.to(ctx.output_dtype);
  const std::optional<DType> own = own_dtype();
  RunOptions scratch;
  Tensor dx = !own ? backward_impl(g, ctx, options, need_input_grad)
                   : backward_impl(g, ctx, options_for(options, *own, scratch), need_input_grad);
  if (dx.defined() && dx.dtype() != ctx.input_dtype) dx = dx.to(ctx.input_dtype);
  if (need_input_grad && dx.shape() != ctx.input_shape)
    throw std::logic_error(name() + ": input gradient " + shape_string(dx.shape()) + " for input " +
                           shape_string(ctx.input_shape));
  return dx;
}

}  // namespace pure16::nn
