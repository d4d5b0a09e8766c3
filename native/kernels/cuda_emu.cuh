// A host emulation of the part of CUDA that cuda_kernels.cuh and cuda_engine.cu use, so that the
// kernels' logic (indices, barriers, shuffles, shared-memory layouts, the launch planning) can
// run and be checked against the CPU engine on a machine without a GPU. Every CUDA thread is a
// host thread (a launch's blocks run up to four at once, a cooperative grid's all at once);
// __syncthreads and grid-wide barriers are std::barrier; a warp shuffle or ballot
// is an exchange through per-warp slots between two warp barriers. Shared memory is a heap
// block of exactly the launch's size (AddressSanitizer sees overruns), and all synchronisation
// goes through std::barrier/atomics (ThreadSanitizer sees a missing barrier as a data race).
// Not part of the addon: cuda_emu_check.cu builds it (GOAL_CUDA_EMU).
//
// The emulated device has GOAL_EMU_SMS multiprocessors (default 4) with an H100/H200's shared
// memory (GOAL_EMU_SMEM_KB sets another size) and, with GOAL_EMU_REGS, its register file; exp
// is goal_math.h's on both sides, so the block path must equal the CPU engine bit for bit.
#pragma once

#include <algorithm>
#include <atomic>
#include <barrier>
#include <bit>
#include <cassert>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) alignas(n)

struct alignas(16) float4 {
  float x, y, z, w;
};
struct alignas(16) double2 {
  double x, y;
};
inline float4 make_float4(float a, float b, float c, float d) { return {a, b, c, d}; }
inline double2 make_double2(double a, double b) { return {a, b}; }

struct dim3 {
  unsigned x, y, z;
  dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidDeviceFunction = 98,
  cudaErrorNoKernelImageForDevice = 209,
  cudaErrorECCUncorrectable = 214,
  cudaErrorContained = 226,
  cudaErrorIllegalAddress = 700,
  cudaErrorLaunchTimeout = 702,
  cudaErrorAssert = 710,
  cudaErrorHardwareStackError = 714,
  cudaErrorIllegalInstruction = 715,
  cudaErrorMisalignedAddress = 716,
  cudaErrorInvalidAddressSpace = 717,
  cudaErrorInvalidPc = 718,
  cudaErrorLaunchFailure = 719,
  cudaErrorCooperativeLaunchTooLarge = 720,
  cudaErrorTensorMemoryLeak = 721,
  cudaErrorMpsClientTerminated = 810,
  cudaErrorExternalDevice = 911,
};
enum cudaMemcpyKind { cudaMemcpyHostToHost, cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice };
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize, cudaFuncAttributePreferredSharedMemoryCarveout };
enum cudaSharedCarveout { cudaSharedmemCarveoutMaxShared = 100 };
struct CUstream_emu;
using cudaStream_t = CUstream_emu*;

struct cudaDeviceProp {
  char name[256];
  int major, minor, multiProcessorCount, maxThreadsPerMultiProcessor, cooperativeLaunch;
  size_t totalGlobalMem, sharedMemPerBlockOptin, sharedMemPerMultiprocessor, reservedSharedMemPerBlock;
};

namespace goal_emu {

#if defined(__SANITIZE_THREAD__)  // g++
#define GOAL_EMU_TSAN 1
#elif defined(__has_feature)  // clang
#if __has_feature(thread_sanitizer)
#define GOAL_EMU_TSAN 1
#endif
#endif
#if defined(GOAL_EMU_TSAN) && (defined(__x86_64__) || defined(__i386__))
// Under ThreadSanitizer a std::barrier in a shuffle or ballot would order the lanes' other
// memory, as CUDA's __shfl_sync and __ballot_sync do not: a kernel reading a neighbour's
// shared-memory write after a shuffle, without __syncwarp, would pass unreported. So here the
// lanes meet on relaxed atomics only (the values still arrive: x86 keeps stores in order and
// the signal fences keep the compiler from reordering them), and such a read is a reported race.
// Elsewhere (not x86) the lanes meet on std::barrier, and such a read goes unreported.
struct WarpBarrier {
  explicit WarpBarrier(int /* 32 lanes */) {}
  std::atomic<int> count{0};
  std::atomic<unsigned> gen{0};
  void arrive_and_wait() {
    const unsigned g = gen.load(std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (count.fetch_add(1, std::memory_order_relaxed) == 31) {
      count.store(0, std::memory_order_relaxed);
      std::atomic_signal_fence(std::memory_order_seq_cst);
      gen.fetch_add(1, std::memory_order_relaxed);
    } else {
      while (gen.load(std::memory_order_relaxed) == g) std::this_thread::yield();
    }
    std::atomic_signal_fence(std::memory_order_seq_cst);
  }
};
using WarpSlot = std::atomic<uint64_t>;
inline void put(WarpSlot& s, uint64_t v) { s.store(v, std::memory_order_relaxed); }
inline uint64_t get(const WarpSlot& s) { return s.load(std::memory_order_relaxed); }
#else
using WarpBarrier = std::barrier<>;
using WarpSlot = uint64_t;
inline void put(WarpSlot& s, uint64_t v) { s = v; }
inline uint64_t get(const WarpSlot& s) { return s; }
#endif

struct Warp {
  WarpBarrier bar{32};
  WarpSlot slot[32];
};

struct Block {
  std::unique_ptr<std::barrier<>> bar;
  std::vector<std::unique_ptr<Warp>> warps;
  unsigned char* smem = nullptr;
};

struct Ctx {
  dim3 thread, block, bdim, gdim;
  Block* blk = nullptr;
  std::barrier<>* grid = nullptr;  // one arrival per block, cooperative launches only
};

inline thread_local Ctx ctx;

struct State {
  std::mutex lock;
  std::map<void*, size_t> allocations;
  std::map<const void*, size_t> max_smem;  // cudaFuncAttributeMaxDynamicSharedMemorySize
  cudaError_t last = cudaSuccess;
  size_t in_use = 0;
  size_t memory = size_t(8) << 30;    // the device's memory (a test may lower it)
  std::atomic<int> coop_refused{0};  // cooperative launches refused as too large
  size_t coop_smem_max = 0;           // the most shared memory a cooperative launch ran with
  std::set<const void*> ran;          // every kernel a launch ran
  std::atomic<bool> fault{false};     // the next launch faults (an illegal address)
};
inline State& state() {
  static State s;
  return s;
}

inline int sms() {
  const char* v = std::getenv("GOAL_EMU_SMS");
  return v && *v ? std::atoi(v) : 4;
}
// The multiprocessors a cooperative launch really gets (default: all): fewer stands for a
// driver that keeps part of the GPU while the occupancy API promises all of it.
inline int coop_sms() {
  const char* v = std::getenv("GOAL_EMU_COOP_SMS");
  return v && *v ? std::atoi(v) : sms();
}
// Registers per thread, for every kernel (default 0: not a limit). On sm_90 the grid kernels
// may use up to 128 (their __launch_bounds__(256, 2)), so as few as 2 of their blocks fit on a
// multiprocessor, where threads and shared memory alone would allow up to 8: GOAL_EMU_REGS=128
// plans as an H200 does for grid_recurrent (128 in ptxas -v with nvcc 13.0); grid_target
// uses fewer (79 to 128 by variant), so on an H200 its plans can hold more blocks.
inline int regs() {
  const char* v = std::getenv("GOAL_EMU_REGS");
  return v && *v ? std::atoi(v) : 0;
}
// Shared memory a block may opt into, in KB (default 227, an H100/H200's; an A100 has 163,
// sm_86/89/120 have 99); a multiprocessor has 1 KB more. Less sends the engine down the paths
// that keep W_hh, the feedback or r* in global memory at sizes the emulation can run (an
// H200's block path never keeps W_hh there; a GPU with less shared memory does near N = 224).
inline size_t optin() {
  const char* v = std::getenv("GOAL_EMU_SMEM_KB");
  return size_t(v && *v ? std::atoi(v) : 227) * 1024;
}
constexpr size_t kReserved = 1024;
constexpr int kThreadsPerSM = 2048, kRegsPerSM = 65536;

inline Warp& warp() { return *ctx.blk->warps[ctx.thread.x / 32]; }
inline int lane() { return int(ctx.thread.x % 32); }

inline cudaError_t fail(cudaError_t e) {
  state().last = e;
  return e;
}

// Runs one block's threads to completion.
template <typename Fn>
void run_block(Fn& body, dim3 block, dim3 bdim, dim3 gdim, size_t smem, std::barrier<>* grid,
               std::vector<std::thread>& threads, std::vector<std::unique_ptr<Block>>& keep) {
  auto b = std::make_unique<Block>();
  b->bar = std::make_unique<std::barrier<>>(std::ptrdiff_t(bdim.x));
  for (unsigned w = 0; w < bdim.x / 32; ++w) b->warps.push_back(std::make_unique<Warp>());
  b->smem = static_cast<unsigned char*>(std::aligned_alloc(16, smem ? (smem + 15) / 16 * 16 : 16));
  std::memset(b->smem, 0xA5, smem ? (smem + 15) / 16 * 16 : 16);  // garbage, as on a GPU
  Block* bp = b.get();
  keep.push_back(std::move(b));
  for (unsigned t = 0; t < bdim.x; ++t)
    threads.emplace_back([&body, bp, t, block, bdim, gdim, grid] {
      ctx.thread = dim3(t);
      ctx.block = block;
      ctx.bdim = bdim;
      ctx.gdim = gdim;
      ctx.blk = bp;
      ctx.grid = grid;
      body();
    });
}

inline void free_blocks(std::vector<std::unique_ptr<Block>>& keep) {
  for (auto& b : keep) std::free(b->smem);
  keep.clear();
}

inline cudaError_t check_launch(const void* kernel, int grid, int block, size_t smem) {
  if (grid < 1 || block < 32 || block > 1024 || block % 32 || smem > optin()) return fail(cudaErrorInvalidValue);
  if (smem > 48 * 1024) {
    std::lock_guard<std::mutex> g(state().lock);
    auto it = state().max_smem.find(kernel);
    if (it == state().max_smem.end() || it->second < smem) return fail(cudaErrorInvalidValue);
  }
  return cudaSuccess;
}

// Records a launch about to run; false when it faults instead (inject_fault).
inline bool launching(const void* kernel) {
  if (state().fault.exchange(false)) {
    fail(cudaErrorIllegalAddress);
    return false;
  }
  std::lock_guard<std::mutex> g(state().lock);
  state().ran.insert(kernel);
  return true;
}

// The next launch fails as a kernel that touched an illegal address does (a sticky error).
inline void inject_fault() { state().fault = true; }

// Whether some launch ran this kernel (one of a template's variants).
template <typename Kernel>
bool has_run(Kernel* kernel) {
  std::lock_guard<std::mutex> g(state().lock);
  return state().ran.count(reinterpret_cast<const void*>(kernel)) > 0;
}

inline int occupancy(int block, size_t smem) {
  const int by_threads = kThreadsPerSM / block;
  const int by_smem = int((optin() + 1024) / (smem + kReserved));
  const int by_regs = regs() > 0 ? kRegsPerSM / (regs() * block) : by_threads;
  return std::min(by_threads, std::min(by_smem, by_regs));
}

}  // namespace goal_emu

#define threadIdx (goal_emu::ctx.thread)
#define blockIdx (goal_emu::ctx.block)
#define blockDim (goal_emu::ctx.bdim)
#define gridDim (goal_emu::ctx.gdim)

inline void __syncthreads() { goal_emu::ctx.blk->bar->arrive_and_wait(); }

inline unsigned __ballot_sync(unsigned mask, int pred) {
  if (mask != 0xffffffffu) std::abort();
  goal_emu::Warp& w = goal_emu::warp();
  goal_emu::put(w.slot[goal_emu::lane()], pred != 0);
  w.bar.arrive_and_wait();
  unsigned r = 0;
  for (int l = 0; l < 32; ++l)
    if (goal_emu::get(w.slot[l])) r |= 1u << l;
  w.bar.arrive_and_wait();
  return r;
}

template <typename T>
T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  static_assert(sizeof(T) <= 8, "shuffles move at most 8 bytes");
  if (mask != 0xffffffffu) std::abort();
  goal_emu::Warp& w = goal_emu::warp();
  const int lane = goal_emu::lane();
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  goal_emu::put(w.slot[lane], bits);
  w.bar.arrive_and_wait();
  const int seg = lane / width * width, src = lane + int(delta);
  T r = v;
  if (src < seg + width) {
    const uint64_t got = goal_emu::get(w.slot[src]);
    std::memcpy(&r, &got, sizeof(T));
  }
  w.bar.arrive_and_wait();
  return r;
}

inline int __popc(unsigned x) { return std::popcount(x); }
inline unsigned __float_as_uint(float x) { return std::bit_cast<unsigned>(x); }
inline long long __double_as_longlong(double x) { return std::bit_cast<long long>(x); }

template <typename T>
T atomicAdd(T* p, T v) {
  return std::atomic_ref<T>(*p).fetch_add(v);
}
template <typename T>
T atomicMin(T* p, T v) {
  std::atomic_ref<T> a(*p);
  T cur = a.load();
  while (v < cur && !a.compare_exchange_weak(cur, v)) {
  }
  return cur;
}

inline unsigned char* smem_base() { return goal_emu::ctx.blk->smem; }

inline void grid_sync() {
  __syncthreads();
  if (threadIdx.x == 0) goal_emu::ctx.grid->arrive_and_wait();
  __syncthreads();
}

#define GOAL_CHECK_ALIGNED(p)                                                     \
  do {                                                                            \
    if (reinterpret_cast<uintptr_t>(p) % 16) {                                    \
      std::fprintf(stderr, "misaligned 16-byte access at %p\n", (const void*)(p)); \
      std::abort();                                                               \
    }                                                                             \
  } while (0)

// ---- runtime API ----

inline cudaError_t cudaRuntimeGetVersion(int* v) {
  *v = 13000;
  return cudaSuccess;
}
inline cudaError_t cudaDriverGetVersion(int* v) {
  *v = 13000;
  return cudaSuccess;
}
inline cudaError_t cudaGetDeviceCount(int* n) {
  *n = 1;
  return cudaSuccess;
}
inline cudaError_t cudaSetDevice(int) { return cudaSuccess; }
constexpr unsigned cudaDeviceScheduleBlockingSync = 4;
inline cudaError_t cudaSetDeviceFlags(unsigned) { return cudaSuccess; }
inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int) {
  std::memset(p, 0, sizeof *p);
  std::snprintf(p->name, sizeof p->name, "emulated sm_90 (%d SMs)", goal_emu::sms());
  p->major = 9;
  p->minor = 0;
  p->multiProcessorCount = goal_emu::sms();
  p->maxThreadsPerMultiProcessor = goal_emu::kThreadsPerSM;
  p->cooperativeLaunch = 1;
  p->totalGlobalMem = goal_emu::state().memory;
  p->sharedMemPerBlockOptin = goal_emu::optin();
  p->sharedMemPerMultiprocessor = goal_emu::optin() + 1024;
  p->reservedSharedMemPerBlock = goal_emu::kReserved;
  return cudaSuccess;
}
inline cudaError_t cudaGetLastError() {
  const cudaError_t e = goal_emu::state().last;
  goal_emu::state().last = cudaSuccess;
  return e;
}
inline const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorCooperativeLaunchTooLarge: return "too many blocks in cooperative launch";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
    default: return "unspecified launch failure";
  }
}
inline cudaError_t cudaMemGetInfo(size_t* free_b, size_t* total_b) {
  std::lock_guard<std::mutex> g(goal_emu::state().lock);
  *total_b = goal_emu::state().memory;
  *free_b = goal_emu::state().memory - std::min(goal_emu::state().in_use, goal_emu::state().memory);
  return cudaSuccess;
}
inline cudaError_t cudaMalloc(void** p, size_t bytes) {
  goal_emu::State& s = goal_emu::state();
  {
    // Reserved under the lock: two allocations at once cannot both take the last room.
    std::lock_guard<std::mutex> g(s.lock);
    if (s.in_use > s.memory || bytes > s.memory - s.in_use) return goal_emu::fail(cudaErrorMemoryAllocation);
    s.in_use += bytes;
  }
  *p = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
  std::lock_guard<std::mutex> g(s.lock);
  if (!*p) {
    s.in_use -= bytes;
    return goal_emu::fail(cudaErrorMemoryAllocation);
  }
  std::memset(*p, 0x5A, (bytes + 255) / 256 * 256);  // garbage until written
  s.allocations[*p] = bytes;
  return cudaSuccess;
}
inline cudaError_t cudaFree(void* p) {
  if (!p) return cudaSuccess;
  std::lock_guard<std::mutex> g(goal_emu::state().lock);
  auto it = goal_emu::state().allocations.find(p);
  if (it == goal_emu::state().allocations.end()) return goal_emu::fail(cudaErrorInvalidValue);
  goal_emu::state().in_use -= it->second;
  goal_emu::state().allocations.erase(it);
  std::free(p);
  return cudaSuccess;
}
// Stream work runs at once here; the engine waits for the stream after each of these anyway.
inline cudaError_t cudaMemsetAsync(void* p, int v, size_t n, cudaStream_t s) {
  if (!s) return goal_emu::fail(cudaErrorInvalidValue);  // the engine never uses the legacy stream
  std::memset(p, v, n);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t n, cudaMemcpyKind, cudaStream_t s) {
  if (!s) return goal_emu::fail(cudaErrorInvalidValue);
  if (n) std::memcpy(dst, src, n);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width,
                                     size_t height, cudaMemcpyKind, cudaStream_t s) {
  if (!s) return goal_emu::fail(cudaErrorInvalidValue);
  if (width > dpitch || width > spitch) return goal_emu::fail(cudaErrorInvalidValue);
  for (size_t r = 0; r < height; ++r)
    std::memcpy(static_cast<char*>(dst) + r * dpitch, static_cast<const char*>(src) + r * spitch, width);
  return cudaSuccess;
}
constexpr unsigned cudaStreamNonBlocking = 1;
inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned flags) {
  if (flags != cudaStreamNonBlocking) return goal_emu::fail(cudaErrorInvalidValue);
  *s = reinterpret_cast<cudaStream_t>(new char);
  return cudaSuccess;
}
inline cudaError_t cudaStreamDestroy(cudaStream_t s) {
  delete reinterpret_cast<char*>(s);
  return cudaSuccess;
}
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return goal_emu::state().last; }

struct cudaFuncAttributes {
  int maxThreadsPerBlock;
};
template <typename Kernel>
cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* a, Kernel*) {
  a->maxThreadsPerBlock = 1024;
  return cudaSuccess;
}

template <typename Kernel>
cudaError_t cudaFuncSetAttribute(Kernel* k, cudaFuncAttribute attr, int value) {
  if (attr == cudaFuncAttributePreferredSharedMemoryCarveout) {  // a hint; the emulation has one carveout
    return value < 0 || value > 100 ? goal_emu::fail(cudaErrorInvalidValue) : cudaSuccess;
  }
  if (value < 0 || size_t(value) > goal_emu::optin()) return goal_emu::fail(cudaErrorInvalidValue);
  std::lock_guard<std::mutex> g(goal_emu::state().lock);
  goal_emu::state().max_smem[reinterpret_cast<const void*>(k)] = size_t(value);
  return cudaSuccess;
}

template <typename Kernel>
cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int* n, Kernel*, int block, size_t smem) {
  *n = goal_emu::occupancy(block, smem);
  return cudaSuccess;
}

// Blocks run in waves of up to 4 at once, as resident blocks run together on a GPU: blocks
// that touch the same global memory without atomics race (ThreadSanitizer reports it).
template <typename... KArgs, typename... Args>
cudaError_t launch(void (*kernel)(KArgs...), int grid, int block, size_t smem, cudaStream_t, Args... args) {
  const cudaError_t err = goal_emu::check_launch(reinterpret_cast<const void*>(kernel), grid, block, smem);
  if (err != cudaSuccess) return err;
  if (!goal_emu::launching(reinterpret_cast<const void*>(kernel))) return cudaErrorIllegalAddress;
  std::tuple<KArgs...> values(args...);
  auto body = [&] { std::apply(kernel, values); };
  const int wave = std::max(1, std::min({4, grid, goal_emu::occupancy(block, smem) * goal_emu::sms()}));
  for (int first = 0; first < grid; first += wave) {
    std::vector<std::thread> threads;
    std::vector<std::unique_ptr<goal_emu::Block>> keep;
    for (int b = first; b < std::min(grid, first + wave); ++b)
      goal_emu::run_block(body, dim3(unsigned(b)), dim3(unsigned(block)), dim3(unsigned(grid)), smem, nullptr, threads,
                          keep);
    for (auto& t : threads) t.join();
    goal_emu::free_blocks(keep);
  }
  return cudaSuccess;
}

// Every block at once, with a grid-wide barrier; refused beyond the resident capacity.
template <typename... KArgs, typename... Args>
cudaError_t launch_cooperative(void (*kernel)(KArgs...), int grid, int block, size_t smem, cudaStream_t,
                               Args... args) {
  const cudaError_t e = goal_emu::check_launch(reinterpret_cast<const void*>(kernel), grid, block, smem);
  if (e != cudaSuccess) return e;
  if (grid > goal_emu::occupancy(block, smem) * goal_emu::coop_sms()) {
    ++goal_emu::state().coop_refused;
    return goal_emu::fail(cudaErrorCooperativeLaunchTooLarge);
  }
  {
    std::lock_guard<std::mutex> g(goal_emu::state().lock);
    goal_emu::state().coop_smem_max = std::max(goal_emu::state().coop_smem_max, smem);
  }
  if (!goal_emu::launching(reinterpret_cast<const void*>(kernel))) return cudaErrorIllegalAddress;
  std::tuple<KArgs...> values(args...);
  auto body = [&] { std::apply(kernel, values); };
  std::barrier<> grid_bar(grid);
  std::vector<std::thread> threads;
  std::vector<std::unique_ptr<goal_emu::Block>> keep;
  for (int b = 0; b < grid; ++b)
    goal_emu::run_block(body, dim3(unsigned(b)), dim3(unsigned(block)), dim3(unsigned(grid)), smem, &grid_bar, threads,
                        keep);
  for (auto& t : threads) t.join();
  goal_emu::free_blocks(keep);
  return cudaSuccess;
}
