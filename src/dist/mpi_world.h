// The MPI world, built only when MPI was found (mpi_world_mpi.cpp).
#pragma once

#include <memory>

#include "pure16/dist/communicator.h"

namespace pure16::dist {

#ifdef PURE16_WITH_MPI
std::unique_ptr<Communicator> make_mpi_world(const CommOptions& options);
#endif

}  // namespace pure16::dist
