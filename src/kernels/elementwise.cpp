#include "pure16/kernels/elementwise.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/elementwise_reference.h"
#include "kernels/kernel_table.h"

namespace pure16::kernels {

void convert(void* dst, DType dst_type, const void* src, DType src_type, int64_t n) {
  kernel_table().convert.fn(dst, dst_type, src, src_type, n);
}
void convert_stochastic(void* dst, DType dst_type, const float* src, int64_t n, uint64_t seed, uint64_t stream,
                        uint64_t first_index) {
  kernel_table().convert_stochastic.fn(dst, dst_type, src, n, seed, stream, first_index);
}
void add(void* out, const void* a, const void* b, DType dtype, int64_t n) { kernel_table().add.fn(out, a, b, dtype, n); }
void add_bias(void* y, const void* bias, DType dtype, int64_t rows, int64_t cols, bool relu) {
  kernel_table().add_bias.fn(y, bias, dtype, rows, cols, relu);
}
void relu_forward(void* y, const void* x, DType dtype, int64_t n) { kernel_table().relu_forward.fn(y, x, dtype, n); }
void relu_backward(void* dx, const void* dy, const void* y, DType dtype, int64_t n) {
  kernel_table().relu_backward.fn(dx, dy, y, dtype, n);
}
void sum_rows(void* out, const void* x, DType dtype, int64_t rows, int64_t cols, float beta) {
  kernel_table().sum_rows.fn(out, x, dtype, rows, cols, beta);
}
void dropout(void* y, const void* x, DType dtype, int64_t n, float p, uint64_t seed, uint64_t stream) {
  if (!(p >= 0.0f && p < 1.0f)) throw std::invalid_argument("dropout: probability must be in [0, 1), got " + std::to_string(p));
  kernel_table().dropout.fn(y, x, dtype, n, p, seed, stream);
}
int64_t count_nonfinite(const void* x, DType dtype, int64_t n) { return kernel_table().count_nonfinite.fn(x, dtype, n); }
double sum_squares(const void* x, DType dtype, int64_t n) {
  constexpr int64_t kBlock = 1 << 13;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> partial(size_t(blocks), 0.0);
  dispatch(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* in = static_cast<const T*>(x);
#pragma omp parallel for schedule(static) if (n > kParallelThreshold)
    for (int64_t b = 0; b < blocks; ++b) {
      double sum = 0;
      for (int64_t i = b * kBlock; i < std::min(n, (b + 1) * kBlock); ++i) sum += as_double(in[i]) * as_double(in[i]);
      partial[size_t(b)] = sum;
    }
  });
  double total = 0;
  for (double p : partial) total += p;
  return total;
}
SoftmaxXentResult softmax_cross_entropy(void* dlogits, const void* logits, const int32_t* labels, DType dtype,
                                        int64_t batch, int64_t classes, float grad_scale) {
  for (int64_t i = 0; i < batch; ++i)
    if (labels[i] < 0 || labels[i] >= classes)
      throw std::invalid_argument("softmax_cross_entropy: label " + std::to_string(labels[i]) + " at row " +
                                  std::to_string(i) + " is outside [0, " + std::to_string(classes) + ")");
  return kernel_table().softmax_cross_entropy.fn(dlogits, logits, labels, dtype, batch, classes, grad_scale);
}

std::string_view elementwise_variant(std::string_view op) {
  const KernelTable& t = kernel_table();
  if (op == "convert") return isa_name(t.convert.isa);
  if (op == "convert_stochastic") return isa_name(t.convert_stochastic.isa);
  if (op == "add") return isa_name(t.add.isa);
  if (op == "add_bias") return isa_name(t.add_bias.isa);
  if (op == "relu_forward") return isa_name(t.relu_forward.isa);
  if (op == "relu_backward") return isa_name(t.relu_backward.isa);
  if (op == "sum_rows") return isa_name(t.sum_rows.isa);
  if (op == "dropout") return isa_name(t.dropout.isa);
  if (op == "count_nonfinite") return isa_name(t.count_nonfinite.isa);
  if (op == "softmax_cross_entropy") return isa_name(t.softmax_cross_entropy.isa);
  if (op == "sgd_update") return isa_name(t.sgd_update.isa);
  if (op == "adam_update") return isa_name(t.adam_update.isa);
  throw std::invalid_argument("elementwise_variant: unknown op '" + std::string(op) + "'");
}

}  // namespace pure16::kernels
