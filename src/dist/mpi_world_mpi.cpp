// The MPI world. One thread of ours, the communication thread, makes every MPI call (it also
// initializes and finalizes MPI), so collectives progress while the trainer computes: Open MPI
// does not progress non-blocking collectives in the background, and a blocking MPI_Allreduce on
// a thread of its own does not need to be polled. The trainer queues collectives and waits for
// them with a deadline, which is what bounds the wait for a dead or hung rank.
#include <mpi.h>
#include <omp.h>

#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "mpi_world.h"
#include "pure16/dist/reduce_sum.h"

namespace pure16::dist {
namespace {

// MPI_User_function for the floats: dist::sum_into, the dtype told apart by the op.
void sum_f16(void* in, void* inout, int* len, MPI_Datatype*) { sum_into(inout, in, DType::f16, *len); }
void sum_bf16(void* in, void* inout, int* len, MPI_Datatype*) { sum_into(inout, in, DType::bf16, *len); }
void sum_f32(void* in, void* inout, int* len, MPI_Datatype*) { sum_into(inout, in, DType::f32, *len); }

struct Job {
  std::function<void()> work;
  double seconds = 0;
  bool done = false;
};

class MpiWorld : public Communicator {
 public:
  explicit MpiWorld(const CommOptions& options) : options_(options) {
    thread_ = std::thread([this] { serve(); });
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [this] { return initialized_; });
  }

  ~MpiWorld() override {
    // MPI_Finalize waits for every rank; a rank that never comes would hold this one forever.
    Ticket finalize = submit([] { MPI_Finalize(); });
    try {
      wait(finalize);
    } catch (const CommTimeout& e) {
      abort(kExitCommFailure, e.what());
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
    thread_.join();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string describe() const override { return description_; }

  Ticket start_sum(void* data, int64_t n, DType dtype) override {
    if (n > INT_MAX) throw std::invalid_argument("MPI sum of " + std::to_string(n) + " elements: more than INT_MAX");
    MPI_Datatype type = f32_;
    MPI_Op op = sum_f32_;
    if (dtype == DType::f16) type = f16_, op = sum_f16_;
    if (dtype == DType::bf16) type = bf16_, op = sum_bf16_;
    if (dtype == DType::f64) type = MPI_DOUBLE, op = MPI_SUM;
    return submit([=] { MPI_Allreduce(MPI_IN_PLACE, data, int(n), type, op, MPI_COMM_WORLD); });
  }

  double wait(Ticket ticket) override {
    std::unique_lock<std::mutex> lock(mutex_);
    auto found = jobs_.find(ticket.id);
    if (found == jobs_.end()) throw std::logic_error("MPI wait: no collective " + std::to_string(ticket.id));
    const std::shared_ptr<Job> job = found->second;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(options_.timeout_seconds);
    if (!changed_.wait_until(lock, deadline, [&] { return job->done; }))
      throw CommTimeout("rank " + std::to_string(rank_) + " of " + std::to_string(size_) + ": a collective (#" +
                        std::to_string(ticket.id) + ") did not finish within --comm-timeout " +
                        std::to_string(options_.timeout_seconds) + " s: another rank died or hangs");
    jobs_.erase(found);
    return job->seconds;
  }

  void broadcast(void* data, int64_t bytes, int root) override {
    if (bytes > INT_MAX) throw std::invalid_argument("MPI broadcast of " + std::to_string(bytes) + " bytes: more than INT_MAX");
    wait(submit([=] { MPI_Bcast(data, int(bytes), MPI_BYTE, root, MPI_COMM_WORLD); }));
  }

  [[noreturn]] void abort(int status, const std::string& why) override {
    std::fprintf(stderr, "pure16: %s; stopping all %d ranks\n", why.c_str(), size_);
    std::fflush(stderr);
    // MPI_Abort from this thread while the communication thread may sit in a collective:
    // Open MPI's runtime kills every rank of the job, whatever they are doing.
    MPI_Abort(MPI_COMM_WORLD, status);
    std::_Exit(status);
  }

 private:
  Ticket submit(std::function<void()> work) {
    auto job = std::make_shared<Job>();
    job->work = std::move(work);
    Ticket ticket;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ticket.id = next_id_++;
      jobs_[ticket.id] = job;
      queue_.push_back(job);
    }
    changed_.notify_all();
    return ticket;
  }

  void serve() {
    // The sum op runs on this thread, inside MPI, many times an all-reduce (once per segment):
    // an OpenMP team for each would cost more than the sum, and its spinning threads would
    // compete with the trainer's.
    omp_set_num_threads(1);
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    MPI_Type_contiguous(2, MPI_BYTE, &f16_);
    MPI_Type_commit(&f16_);
    MPI_Type_contiguous(2, MPI_BYTE, &bf16_);
    MPI_Type_commit(&bf16_);
    MPI_Type_contiguous(4, MPI_BYTE, &f32_);
    MPI_Type_commit(&f32_);
    MPI_Op_create(&sum_f16, 1, &sum_f16_);
    MPI_Op_create(&sum_bf16, 1, &sum_bf16_);
    MPI_Op_create(&sum_f32, 1, &sum_f32_);
    char library[MPI_MAX_LIBRARY_VERSION_STRING];
    int length = 0;
    MPI_Get_library_version(library, &length);
    std::string name(library, size_t(length));
    name = name.substr(0, name.find_first_of(",\n"));
    const char* level = provided == MPI_THREAD_MULTIPLE ? "multiple" : provided == MPI_THREAD_SERIALIZED ? "serialized"
                        : provided == MPI_THREAD_FUNNELED ? "funneled" : "single";
    {
      std::lock_guard<std::mutex> lock(mutex_);
      description_ = name + ", " + std::to_string(size_) + " ranks, thread level " + level +
                     " (one communication thread makes the MPI calls)";
      initialized_ = true;
    }
    changed_.notify_all();
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        job = queue_.front();
        queue_.pop_front();
      }
      const auto start = std::chrono::steady_clock::now();
      job->work();
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      {
        std::lock_guard<std::mutex> lock(mutex_);
        job->seconds = seconds;
        job->done = true;
      }
      changed_.notify_all();
    }
  }

  CommOptions options_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::unordered_map<int64_t, std::shared_ptr<Job>> jobs_;
  int64_t next_id_ = 0;
  bool initialized_ = false, stopping_ = false;
  int rank_ = 0, size_ = 1;
  std::string description_;
  MPI_Datatype f16_ = MPI_DATATYPE_NULL, bf16_ = MPI_DATATYPE_NULL, f32_ = MPI_DATATYPE_NULL;
  MPI_Op sum_f16_ = MPI_OP_NULL, sum_bf16_ = MPI_OP_NULL, sum_f32_ = MPI_OP_NULL;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_world(const CommOptions& options) { return std::make_unique<MpiWorld>(options); }

}  // namespace pure16::dist
