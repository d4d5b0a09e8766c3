// Stand-in for the CUDA backend in builds without nvcc, or built with GOAL_NO_CUDA=1.
#include "engine.h"

namespace goal {

CudaInfo cuda_info(const Settings&) {
  CudaInfo info;
#if defined(GOAL_CUDA_OFF)
  info.reason = "this build has no CUDA backend: it was skipped (GOAL_NO_CUDA=1 or GOAL_CUDA=OFF when goal-snn was built)";
#else
  info.reason = "this build has no CUDA backend: nvcc was not found when goal-snn was built";
#endif
  return info;
}

std::unique_ptr<Batch> make_cuda_batch(const std::vector<Config>&, const std::vector<Inputs>&, const Settings&) {
  throw Error("GOAL_NO_CUDA", cuda_info().reason);
}

std::unique_ptr<Engine> make_cuda_engine(const Config&, const Inputs&) {
  throw Error("GOAL_NO_CUDA", cuda_info().reason);
}

}  // namespace goal
