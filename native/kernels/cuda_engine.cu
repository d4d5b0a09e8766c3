// CUDA backend: device discovery. (The epoch kernels follow in their own change.)
#include <cuda_runtime.h>

#include "engine.h"

namespace goal {

CudaInfo cuda_info() {
  CudaInfo info;
  info.compiled = true;
  cudaRuntimeGetVersion(&info.runtime);
  if (cudaDriverGetVersion(&info.driver) != cudaSuccess) info.driver = 0;
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess || count == 0) {
    // Without a driver this is error 35 (insufficient driver), not 100 (no device): any
    // error means "no usable device"; clear it so later calls start clean.
    cudaGetLastError();
    if (info.driver == 0) info.reason = "no NVIDIA driver found (no GPU on this machine?)";
    else if (err != cudaSuccess) info.reason = std::string("no usable CUDA device (") + cudaGetErrorString(err) + ")";
    else info.reason = "no CUDA device found";
    return info;
  }
  cudaDeviceProp prop;
  cudaGetDeviceProperties(&prop, 0);
  info.available = true;
  info.count = count;
  info.name = prop.name;
  info.major = prop.major;
  info.minor = prop.minor;
  info.sms = prop.multiProcessorCount;
  info.memory = double(prop.totalGlobalMem);
  return info;
}

std::unique_ptr<Batch> make_cuda_batch(const std::vector<Config>&, const std::vector<Inputs>&) {
  throw Error("GOAL_NO_CUDA", "the CUDA epoch kernels are not part of this build yet");
}

std::unique_ptr<Engine> make_cuda_engine(const Config&, const Inputs&) {
  throw Error("GOAL_NO_CUDA", "the CUDA epoch kernels are not part of this build yet");
}

}  // namespace goal
