// Stand-in for the CUDA backend in builds without nvcc.
#include "engine.h"

namespace goal {

CudaInfo cuda_info() {
  CudaInfo info;
  info.reason = "this build has no CUDA backend: nvcc was not found when goal-snn was built";
  return info;
}

std::unique_ptr<Batch> make_cuda_batch(const std::vector<Config>&, const std::vector<Inputs>&) {
  throw Error("GOAL_NO_CUDA", cuda_info().reason);
}

std::unique_ptr<Engine> make_cuda_engine(const Config&, const Inputs&) {
  throw Error("GOAL_NO_CUDA", cuda_info().reason);
}

}  // namespace goal
