// The processes of a data-parallel job and the collectives they run: sums and broadcasts of
// raw buffers. Under mpirun, in a build with MPI, the world is the MPI job; otherwise it is one
// process, where every collective is the identity, so the trainer has a single code path.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "pure16/tensor/dtype.h"

namespace pure16::dist {

/// A collective did not finish within the communication timeout: a rank died or hangs.
class CommTimeout : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The exit status of a rank that stops the job (a timeout, or an error on any rank).
constexpr int kExitCommFailure = 4;

struct CommOptions {
  /// Longest wait for one collective before CommTimeout; it bounds how long the survivors of a
  /// dead or hung rank wait.
  double timeout_seconds = 60;
};

/// A collective started and not yet waited for.
struct Ticket {
  int64_t id = -1;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// "one process", or the MPI library, its thread level and the ranks.
  virtual std::string describe() const = 0;

  /// Starts summing `n` elements of `dtype` at `data` over every rank, in place. f16, bf16 and
  /// f32 are summed by dist::sum_into (widen, add in binary32, round once per pairwise sum) on
  /// contiguous MPI datatypes of 2, 2 and 4 bytes, so the three take the same path and differ
  /// only in bytes; f64 by MPI's sum. Every rank receives the same bits. `data` must stay untouched
  /// until wait() returns. Collectives run in the order they are started, on every rank.
  virtual Ticket start_sum(void* data, int64_t n, DType dtype) = 0;
  /// Waits for a started collective; returns the seconds it ran once started (0 in one
  /// process). Throws CommTimeout after CommOptions::timeout_seconds without it finishing.
  virtual double wait(Ticket ticket) = 0;
  /// Copies `bytes` bytes at `data` on rank `root` to every other rank.
  virtual void broadcast(void* data, int64_t bytes, int root) = 0;
  /// Stops every rank of the job with `status`, after writing `why` to stderr. For errors that
  /// leave the other ranks waiting in a collective; in one process, exits.
  [[noreturn]] virtual void abort(int status, const std::string& why) = 0;

  /// start_sum and wait.
  double sum(void* data, int64_t n, DType dtype) { return wait(start_sum(data, n, dtype)); }
};

/// The world this process belongs to: the MPI job when the build has MPI and the process was
/// started by an MPI launcher (mpirun sets OMPI_COMM_WORLD_SIZE, PMIX_RANK or PMI_SIZE), one
/// process otherwise. At most one MPI world per process: MPI cannot be initialized twice.
std::unique_ptr<Communicator> make_world(const CommOptions& options = {});
/// The single-process world, whatever the build.
std::unique_ptr<Communicator> make_single_process_world();
/// Whether this build can run over MPI.
bool built_with_mpi();

}  // namespace pure16::dist
