#include "pure16/dist/communicator.h"

#include <cstdio>
#include <cstdlib>

#include "mpi_world.h"

namespace pure16::dist {
namespace {

// Every collective over one rank is the identity.
class SingleProcess : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string describe() const override { return "one process"; }
  Ticket start_sum(void*, int64_t, DType) override { return {0}; }
  double wait(Ticket) override { return 0; }
  void broadcast(void*, int64_t, int) override {}
  [[noreturn]] void abort(int status, const std::string& why) override {
    std::fprintf(stderr, "pure16: %s\n", why.c_str());
    std::fflush(stderr);
    std::_Exit(status);
  }
};

bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"})
    if (std::getenv(name) != nullptr) return true;
  return false;
}

}  // namespace

std::unique_ptr<Communicator> make_single_process_world() { return std::make_unique<SingleProcess>(); }

#ifdef PURE16_WITH_MPI
bool built_with_mpi() { return true; }
std::unique_ptr<Communicator> make_world(const CommOptions& options) {
  return launched_by_mpi() ? make_mpi_world(options) : make_single_process_world();
}
#else
bool built_with_mpi() { return false; }
std::unique_ptr<Communicator> make_world(const CommOptions&) {
  if (launched_by_mpi())
    std::fprintf(stderr, "pure16: warning: started by an MPI launcher, but this build has no MPI "
                         "(install libopenmpi-dev and rebuild): every rank trains alone\n");
  return make_single_process_world();
}
#endif

}  // namespace pure16::dist
