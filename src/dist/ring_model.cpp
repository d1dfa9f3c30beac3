#include "pure16/dist/ring_model.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace pure16::dist {

double RingModel::seconds(int64_t ranks, double bytes, int64_t buckets) const {
  if (ranks <= 1) return 0;
  const double p = double(ranks);
  return double(buckets) * 2 * (p - 1) * alpha + 2 * ((p - 1) / p) * bytes * beta;
}

RingModel RingModel::link(double gbps, double latency_us) { return {latency_us * 1e-6, 8.0 / (gbps * 1e9)}; }

RingModel fit_ring(const std::vector<RingSample>& samples) {
  // Normal equations of the weighted 2x2 least squares: rows (x1, x2) = (2 (p - 1), 2 (p - 1) / p n).
  double a11 = 0, a12 = 0, a22 = 0, b1 = 0, b2 = 0;
  for (const RingSample& s : samples) {
    if (s.ranks < 2 || s.seconds <= 0 || s.bytes < 0)
      throw std::invalid_argument("fit_ring: a sample of " + std::to_string(s.ranks) + " ranks, " +
                                  std::to_string(s.bytes) + " B in " + std::to_string(s.seconds) + " s");
    const double p = double(s.ranks), w = 1.0 / s.seconds;
    const double x1 = 2 * (p - 1) * w, x2 = 2 * ((p - 1) / p) * s.bytes * w, y = s.seconds * w;
    a11 += x1 * x1, a12 += x1 * x2, a22 += x2 * x2, b1 += x1 * y, b2 += x2 * y;
  }
  const double det = a11 * a22 - a12 * a12;
  if (samples.size() < 2 || !(std::fabs(det) > 1e-12 * a11 * a22))
    throw std::invalid_argument("fit_ring: needs all-reduces of at least two sizes, got " +
                                std::to_string(samples.size()) + " samples");
  RingModel m{(b1 * a22 - b2 * a12) / det, (a11 * b2 - a12 * b1) / det};
  // Latency below the resolution of the measurements comes out slightly negative: it is zero.
  m.alpha = std::max(m.alpha, 0.0);
  if (m.beta <= 0) throw std::invalid_argument("fit_ring: the fitted time per byte is not positive");
  return m;
}

StepProjection project_step(const RingModel& model, int64_t ranks, double gradient_bytes, double bucket_bytes,
                            double first_bucket_bytes, double compute_seconds, double backward_seconds) {
  StepProjection s;
  s.ranks = ranks;
  double produced = 0, finished = 0;  // bytes backward has produced; when the last all-reduce ends
  while (produced < gradient_bytes) {
    const double bytes = std::min(produced == 0 ? first_bucket_bytes : bucket_bytes, gradient_bytes - produced);
    produced += bytes;
    const double ready = backward_seconds * produced / gradient_bytes;
    const double seconds = model.seconds(ranks, bytes);
    finished = std::max(finished, ready) + seconds;
    s.comm_seconds += seconds;
  }
  s.exposed_seconds = std::max(0.0, finished - backward_seconds);
  s.step_seconds = compute_seconds + s.exposed_seconds;
  s.hidden_fraction = s.comm_seconds > 0 ? 1 - s.exposed_seconds / s.comm_seconds : 0;
  s.efficiency = compute_seconds / s.step_seconds;
  return s;
}

}  // namespace pure16::dist
