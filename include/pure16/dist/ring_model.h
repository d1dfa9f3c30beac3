// The alpha-beta model of a ring all-reduce (Thakur, Rabenseifner and Gropp 2005; Patarasuk and
// Yuan 2009): over p ranks, n bytes take 2 (p - 1) messages of latency alpha each and send
// 2 (p - 1) / p n bytes from every rank at beta seconds a byte,
//
//   time = 2 (p - 1) alpha + 2 ((p - 1) / p) n beta,
//
// and a step of data-parallel training is its compute time plus the part of the gradients'
// all-reduce that backward does not hide. `pure16 scale` fits alpha and beta to all-reduces
// measured here and projects steps on a cluster of given latency and bandwidth.
#pragma once

#include <cstdint>
#include <vector>

namespace pure16::dist {

struct RingModel {
  double alpha = 0;  // seconds per message
  double beta = 0;   // seconds per byte
  /// One all-reduce of `bytes` over `ranks`, sent as `buckets` all-reduces (alpha paid per bucket).
  double seconds(int64_t ranks, double bytes, int64_t buckets = 1) const;
  /// A link of `gbps` gigabits a second and `latency_us` microseconds a message.
  static RingModel link(double gbps, double latency_us);
};

struct RingSample {
  int64_t ranks = 2;
  double bytes = 0;
  double seconds = 0;
};

/// Least squares over the samples (each weighted by 1 / seconds, so small and large all-reduces
/// count alike) of seconds = 2 (p - 1) alpha + 2 ((p - 1) / p) bytes beta. Throws
/// std::invalid_argument with fewer than two samples of different sizes, or a negative fit.
RingModel fit_ring(const std::vector<RingSample>& samples);

/// One projected step of data-parallel training.
struct StepProjection {
  int64_t ranks = 1;
  double comm_seconds = 0;     // the gradients' all-reduce
  double exposed_seconds = 0;  // its part after backward ends
  double step_seconds = 0;     // compute plus exposed communication
  double hidden_fraction = 0;  // of the all-reduce, behind backward
  double efficiency = 0;       // compute / step: the scaling efficiency for weak scaling
};

/// A step of `compute_seconds`, the last `backward_seconds` of it backward, which produces the
/// gradients at an even rate in buckets (DDP's: the first of `first_bucket_bytes`, then
/// `bucket_bytes`, the rest last). Each bucket's all-reduce starts when backward has produced it
/// and the previous one has finished (one communication thread); what runs past backward's end
/// is exposed, the last bucket's at least.
StepProjection project_step(const RingModel& model, int64_t ranks, double gradient_bytes, double bucket_bytes,
                            double first_bucket_bytes, double compute_seconds, double backward_seconds);

}  // namespace pure16::dist
