// The CUDA backend: device discovery, a batch of K networks in one device allocation with named
// views per network, the phases of SPEC.md "Training" as one launch per phase for all networks
// (kernels in cuda_kernels.cuh), and the Engine of a single network as a batch of one.
//
// Every CUDA call is checked and every call of the Engine/Batch interface synchronises before
// it returns, so a failure surfaces in the call that caused it, as goal::Error("GOAL_CUDA") or
// ("GOAL_ENOMEM"); nothing here exits. Calls arrive on libuv worker threads (never two at once
// on one object), so each one selects device 0 first.
//
// Shapes: see cuda_kernels.cuh. Host arrays are float64 in SPEC orientation (engine.h).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "cuda_kernels.cuh"
#include "engine.h"
#include "net_constants.h"

#ifndef GOAL_CUDA_ARCHS  // set by CMakeLists.txt from CMAKE_CUDA_ARCHITECTURES
#define GOAL_CUDA_ARCHS "this build's architectures"
#endif

namespace goal {

namespace {

// A kernel fault (an illegal address, a trap, a watchdog's timeout, an uncorrectable memory
// error: the errors driver_types.h says leave the process unable to use CUDA) is sticky: the
// process's CUDA context is lost and every later CUDA call fails. Once one is seen,
// cuda_info() says so (auto then runs on the CPU) and a new batch is refused with that cause,
// rather than failing in a phase of its own with a message that blames the phase.
std::mutex lost_lock;
std::string lost;  // the first fault's error; empty while the context is sound

bool is_sticky(cudaError_t e) {
  // Toolkits before 12.8 have no names for these two (a CUDA 12.0–12.7 build must still compile).
  constexpr int kContained = 226, kTensorMemoryLeak = 721;
  if (static_cast<int>(e) == kContained || static_cast<int>(e) == kTensorMemoryLeak) return true;
  switch (e) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchTimeout:
    case cudaErrorAssert:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorLaunchFailure:
    case cudaErrorECCUncorrectable:
    case cudaErrorMpsClientTerminated:
    case cudaErrorExternalDevice:
      return true;
    default:
      return false;
  }
}

std::string context_lost() {
  std::lock_guard<std::mutex> g(lost_lock);
  return lost;
}

}  // namespace

CudaInfo cuda_info(const Settings& s) {
  CudaInfo info;
  info.compiled = true;
  cudaRuntimeGetVersion(&info.runtime);
  if (cudaDriverGetVersion(&info.driver) != cudaSuccess) info.driver = 0;
  if (const std::string l = context_lost(); !l.empty()) {
    info.reason = "an earlier GPU fault in this process (" + l + ") left the GPU unusable until the process restarts";
    return info;
  }
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
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) {
    cudaGetLastError();
    info.reason = "cannot read the properties of CUDA device 0";
    return info;
  }
  info.count = count;
  info.name = prop.name;
  info.major = prop.major;
  info.minor = prop.minor;
  info.sms = prop.multiProcessorCount;
  info.memory = double(prop.totalGlobalMem);
  // The build holds code for some architectures only (sm_90 and compute_90 PTX by default): an
  // older GPU has a driver and a device but no image to run, and must be reported unavailable
  // (so auto falls back to the CPU). The first call also creates the device's context.
  // A thread that waits for the GPU sleeps rather than spins (a libuv worker would otherwise hold
  // a core at 100% for as long as its kernels run). Set before the next call creates the
  // context; where a context exists already, a refusal is harmless and ignored. GOAL_CUDA_SPIN=1
  // keeps the runtime's default instead, for a platform whose interrupt-driven waits misbehave
  // (the device check falls back to it when a first tiny run does not return).
  if (!s.cuda_spin && cudaSetDeviceFlags(cudaDeviceScheduleBlockingSync) != cudaSuccess)
    cudaGetLastError();
  cudaFuncAttributes attr;
  const cudaError_t image = cudaFuncGetAttributes(&attr, gpu::readout_kernel<float>);
  if (image != cudaSuccess) {
    cudaGetLastError();
    const std::string device = std::string(prop.name) + " (compute capability " + std::to_string(prop.major) + "." +
                               std::to_string(prop.minor) + ")";
    if (image == cudaErrorNoKernelImageForDevice || image == cudaErrorInvalidDeviceFunction) {
      info.reason = "this build has no code for " + device + ", only for " GOAL_CUDA_ARCHS +
                    "; rebuild with npx cmake-js rebuild --CDCMAKE_CUDA_ARCHITECTURES=" + std::to_string(prop.major) +
                    std::to_string(prop.minor);
      // CUDA 13's nvcc builds for compute capability 7.5 and newer only.
      if (prop.major * 10 + prop.minor < 75 && info.runtime >= 13000) info.reason += ", with a CUDA 12 nvcc";
    } else
      info.reason = "CUDA device 0, " + device + ", cannot be used: " + cudaGetErrorString(image);
    return info;
  }
  info.available = true;
  return info;
}

namespace {

using gpu::DevNet;

[[noreturn]] void fail(cudaError_t err, const std::string& what) {
  cudaGetLastError();  // clears the error unless it is sticky (then the context is lost anyway)
  const std::string message = what + " failed: " + cudaGetErrorString(err);
  if (is_sticky(err)) {
    {
      std::lock_guard<std::mutex> g(lost_lock);
      if (lost.empty()) lost = cudaGetErrorString(err);
    }
    throw Error("GOAL_CUDA", message + "; the GPU is unusable in this process from now on: restart the process, or run on the CPU");
  }
  throw Error(err == cudaErrorMemoryAllocation ? "GOAL_ENOMEM" : "GOAL_CUDA", message);
}

void check(cudaError_t err, const std::string& what) {
  if (err != cudaSuccess) fail(err, what);
}


// Device memory that frees itself (never throwing), so a constructor that fails halfway leaks nothing.
class DeviceMemory {
 public:
  DeviceMemory() = default;
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;
  ~DeviceMemory() { release(); }

  // Refuses, before asking, what clearly does not fit in the free device memory, counting
  // `later` bytes that a later phase will need beside these (`later_what`).
  void allocate(size_t bytes, const std::string& what, size_t later = 0, const char* later_what = "") {
    release();
    size_t free_b = 0, total_b = 0;
    check(cudaMemGetInfo(&free_b, &total_b), "cudaMemGetInfo");
    if (double(bytes) + double(later) > 0.95 * double(free_b))
      throw Error("GOAL_ENOMEM", what + ": " + memory_text(double(bytes)) + " of GPU memory" +
                                     (later ? std::string(", and ") + memory_text(double(later)) + " more " + later_what : "") +
                                     "; " + memory_text(double(free_b)) + " of the GPU's " + memory_text(double(total_b)) + " are free");
    check(cudaMalloc(&p_, bytes), "cudaMalloc of " + memory_text(double(bytes)) + " for " + what);
    bytes_ = bytes;
  }
  void release() {
    if (p_) cudaFree(p_);
    p_ = nullptr;
    bytes_ = 0;
  }
  template <typename T>
  T* as() const { return static_cast<T*>(p_); }
  size_t bytes() const { return bytes_; }

 private:
  void* p_ = nullptr;
  size_t bytes_ = 0;
};

class Streams {
 public:
  Streams() = default;
  Streams(const Streams&) = delete;
  Streams& operator=(const Streams&) = delete;
  ~Streams() {
    for (cudaStream_t s : s_) cudaStreamDestroy(s);
  }
  // Non-blocking: work of another batch (another thread) on its streams never waits for ours,
  // nor ours for its, as it would through the legacy default stream.
  void create(size_t n) {
    while (s_.size() < n) {
      cudaStream_t s;
      check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
      s_.push_back(s);
    }
  }
  cudaStream_t operator[](size_t k) const { return s_[k]; }
  // Waits for everything queued; a kernel's failure (e.g. an illegal address) surfaces here.
  void sync(const std::string& what) const {
    for (cudaStream_t s : s_) check(cudaStreamSynchronize(s), what + " on the GPU");
  }
  // Waits for every stream, whatever fails: a call that failed part-way leaves nothing running.
  void drain() const noexcept {
    for (cudaStream_t s : s_) cudaStreamSynchronize(s);
    cudaGetLastError();
  }
  // Copies and fills go on the first stream and are waited for (so a pageable upload has
  // landed before a kernel on any of the streams reads it); a plain cudaMemcpy would run on the
  // legacy default stream and wait for every other batch's kernels too. Non-blocking streams
  // do not wait for each other: a copy of what kernels on other streams wrote needs sync() first.
  void copy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, const std::string& what) const {
    check(cudaMemcpyAsync(dst, src, bytes, kind, s_[0]), what);
    check(cudaStreamSynchronize(s_[0]), what);
  }
  void copy_2d(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width, size_t height,
               cudaMemcpyKind kind, const std::string& what) const {
    check(cudaMemcpy2DAsync(dst, dpitch, src, spitch, width, height, kind, s_[0]), what);
    check(cudaStreamSynchronize(s_[0]), what);
  }
  void zero(void* dst, size_t bytes, const std::string& what) const {
    check(cudaMemsetAsync(dst, 0, bytes, s_[0]), what);
    check(cudaStreamSynchronize(s_[0]), what);
  }

 private:
  std::vector<cudaStream_t> s_;
};

#if !defined(GOAL_CUDA_EMU)
template <typename... KArgs, typename... Args>
cudaError_t launch(void (*kernel)(KArgs...), int grid, int block, size_t smem, cudaStream_t stream, Args... args) {
  kernel<<<grid, block, smem, stream>>>(args...);
  return cudaGetLastError();  // a bad configuration; a fault inside shows at the next sync
}

// All blocks resident at once (the grid path's grid-wide barriers need it).
template <typename... KArgs, typename... Args>
cudaError_t launch_cooperative(void (*kernel)(KArgs...), int grid, int block, size_t smem, cudaStream_t stream,
                               Args... args) {
  std::tuple<KArgs...> values(args...);
  return std::apply(
      [&](auto&... v) {
        void* ptrs[] = {static_cast<void*>(&v)...};
        return cudaLaunchCooperativeKernel(reinterpret_cast<const void*>(kernel), dim3(grid), dim3(block), ptrs,
                                           smem, stream);
      },
      values);
}
#endif

// A cooperative launch needs every block of its grid resident at once; kernels of another batch
// running on other streams (another thread of this process) could hold the multiprocessors it
// counted on. So grid-path launches run alone: they take this gate exclusively, every other
// launch shares it. A waiting exclusive call goes first: std::shared_mutex (a glibc rwlock)
// lets new shared holders in ahead of it, so overlapping block-path batches could keep a
// grid-path batch waiting for as long as they run.
class Gate {
 public:
  void lock() {
    std::unique_lock<std::mutex> l(m_);
    ++waiting_;
    free_.wait(l, [this] { return !alone_ && shared_ == 0; });
    --waiting_;
    alone_ = true;
  }
  void unlock() {
    {
      std::lock_guard<std::mutex> l(m_);
      alone_ = false;
    }
    free_.notify_all();
  }
  void lock_shared() {
    std::unique_lock<std::mutex> l(m_);
    free_.wait(l, [this] { return !alone_ && waiting_ == 0; });
    ++shared_;
  }
  void unlock_shared() {
    bool last;
    {
      std::lock_guard<std::mutex> l(m_);
      last = --shared_ == 0;
    }
    if (last) free_.notify_all();
  }
#if defined(GOAL_CUDA_EMU)
  // Exclusive calls waiting (the emulation check watches it).
  int waiting() {
    std::lock_guard<std::mutex> l(m_);
    return waiting_;
  }
#endif

 private:
  std::mutex m_;
  std::condition_variable free_;
  int shared_ = 0, waiting_ = 0;
  bool alone_ = false;
};
Gate gpu_gate;

// A call's hold on the gate, exclusive or shared. A call that throws part-way (a launch refused
// after others were queued) waits for its streams before it lets go: nothing of it still runs
// when the next call, or a read, begins.
class GateHold {
 public:
  GateHold(bool exclusive, const Streams& streams) : exclusive_(exclusive), streams_(streams) {
    if (exclusive_) gpu_gate.lock();
    else gpu_gate.lock_shared();
  }
  GateHold(const GateHold&) = delete;
  GateHold& operator=(const GateHold&) = delete;
  ~GateHold() {
    if (std::uncaught_exceptions() > unwinding_) streams_.drain();
    if (exclusive_) gpu_gate.unlock();
    else gpu_gate.unlock_shared();
  }

 private:
  bool exclusive_;
  const Streams& streams_;
  int unwinding_ = std::uncaught_exceptions();
};

constexpr size_t kPad = 256;
size_t pad(size_t bytes) { return (bytes + kPad - 1) / kPad * kPad; }

// Byte offsets of one network's arrays from its base, in allocation order. The head (the
// initial matrices and the task) is uploaded in one copy; everything else starts at zero.
struct NetLayout {
  size_t W_ih, W_hh, W_ho, W_trg, targ, clock, head;
  size_t r_targ, Bt, P, D, Q, xin, err, m, s, Z_targ, Z, WT, v, z, h, e, q, c, g, xs, xh, xu, mask, umask, part, a, dz, rows;
  size_t bytes;

  NetLayout(const Config& cfg, size_t f, bool grid_path, bool wt_global, int pitch, int ntiles) {
    const size_t N = size_t(cfg.N), I = size_t(cfg.I), O = size_t(cfg.O), T = size_t(cfg.T), R = size_t(cfg.R);
    const size_t NP = size_t(gpu::ceil_to(int(N), gpu::kWarp));
    size_t o = 0;
    auto take = [&o](size_t bytes) {
      const size_t at = o;
      o += pad(bytes);
      return at;
    };
    W_ih = take(I * N * f);
    W_hh = take(N * N * f);
    W_ho = take(N * O * f);
    W_trg = take(O * N * f);
    targ = take(T * O * f);
    clock = take((T - 1) * I * f);
    head = o;
    r_targ = take(T * N * f);
    Bt = take(R * N * f);
    const bool out = cfg.feedback == Feedback::out;
    P = take(out ? T * R * f : 0);
    D = take(dense_feedback(int64_t(N), int64_t(R), out) ? N * size_t(pitch) * f : 0);
    Q = take(T * N * f);
    xin = take(grid_path ? 0 : (T - 1) * N * f);
    err = take(T * O * f);
    m = take(f);
    s = take(f);
    Z_targ = take(T * N);
    Z = take(T * N);
    WT = take(wt_global ? N * size_t(pitch) * f : 0);
    const size_t vecN = grid_path ? N * f : 0;
    v = take(vecN);
    z = take(vecN);
    h = take(vecN);
    e = take(vecN);
    q = take(vecN);
    c = take(vecN);
    g = take(vecN);
    xs = take(grid_path ? 2 * NP * f : 0);
    xh = take(grid_path ? 2 * NP * f : 0);
    xu = take(grid_path ? 2 * NP * f : 0);
    mask = take(grid_path ? 2 * size_t(ntiles) * sizeof(unsigned) : 0);
    umask = take(grid_path ? 2 * size_t(ntiles) * sizeof(unsigned) : 0);
    part = take(grid_path ? size_t(ntiles) * R * f : 0);
    a = take(grid_path ? R * f : 0);
    dz = take(2 * sizeof(unsigned long long));
    rows = take(N * sizeof(double));
    bytes = o;
  }
};

template <typename F>
void to_dtype(unsigned char* dst, const double* src, int64_t n) {
  F* d = reinterpret_cast<F*>(dst);
  for (int64_t k = 0; k < n; ++k) d[k] = F(src[k]);
}

template <typename F>
class CudaBatch final : public Batch {
  using Bits = typename gpu::Ordered<F>::type;
  using BlockKernel = void (*)(const DevNet<F>*, const int*, int, int64_t, int, double*, double*);

 public:
  CudaBatch(const std::vector<Config>& c, const std::vector<Inputs>& in) : cfg_(c), K_(int(c.size())) {
    use_device();
    check(cudaGetDeviceProperties(&prop_, 0), "cudaGetDeviceProperties");
    device_ = cuda_device(prop_.name);
    N_ = int(c[0].N);
    T_ = int(c[0].T);
    O_ = int(c[0].O);
    grid_path_ = N_ > gpu::block_max_n<F>();
    if (grid_path_ && !prop_.cooperativeLaunch)
      throw Error("GOAL_CUDA", "networks of N > " + std::to_string(gpu::block_max_n<F>()) +
                                   " need cooperative launches, which " + prop_.name + " does not support");
    nt_ = gpu::ceil_to(N_, gpu::kWarp);
    pitch_ = gpu::wt_pitch<F>(N_);
    ntiles_ = (N_ + gpu::kTile - 1) / gpu::kTile;
    for (const Config& x : c) {
      const bool out = x.feedback == Feedback::out;
      if (x.R > 0 && !dense_feedback(N_, x.R, out)) Rfac_ = std::max(Rfac_, int(x.R));
    }
    if (!grid_path_) plan_block_groups();
    streams_.create(std::max<size_t>(1, groups_.size()));  // before the uploads, which go on streams_[0]
    allocate_and_upload(in);
    margins_.assign(size_t(K_), INFINITY);
  }

  int64_t size() const override { return K_; }

  void target_run() override {
    use_device();
    GateHold hold(grid_path_, streams_);
    if (!grid_path_) {
      const size_t smem = gpu::target_layout(N_, sizeof(F)).bytes;
      set_smem(gpu::block_target<F>, smem);
      check(launch(gpu::block_target<F>, K_, nt_, smem, streams_[0], d_nets_, d_ids_), "launching the target run");
    } else {
      launch_grid(gpu::grid_target<F, true>, gpu::grid_target<F, false>, "launching the target run",
                  [&](auto kernel, const GridPlan& p) {
                    return launch_cooperative(kernel, p.blocks, gpu::kGridThreads, p.smem, streams_[0], d_nets_,
                                              d_ids_, K_, ntiles_, p.ipb);
                  });
    }
    streams_.sync("the target run");
    fetch_margins();
    targeted_ = true;
  }

  void readout_epochs(int64_t n, double* mse) override {
    require(targeted_, "readout epochs need the target run first");
    use_device();
    GateHold hold(false, streams_);
    size_t smem;
    const int place = readout_plan(smem);
    for (int64_t done = 0; done < n;) {
      const int chunk = int(std::min<int64_t>(n - done, max_chunk()));
      double* out = output(size_t(K_) * size_t(chunk));
      check(launch(gpu::readout_kernel<F>, K_, gpu::kAuxThreads, smem, streams_[0], d_nets_, d_ids_, chunk, place, 0,
                   out),
            "launching the readout epochs");
      streams_.sync("the readout epochs");
      copy_rows(mse + done, n, out, chunk);
      done += chunk;
    }
  }

  void build_feedback(const double* const* noise) override {
    require(targeted_, "the feedback needs the target run first");
    use_device();
    GateHold hold(false, streams_);
    std::vector<size_t> off(static_cast<size_t>(K_));
    size_t total = 0;
    for (int k = 0; k < K_; ++k) {
      off[size_t(k)] = total;
      total += size_t(noise_size(cfg_[size_t(k)]));
    }
    if (noise_.bytes() < total * sizeof(double)) noise_.allocate(total * sizeof(double), "the feedback noise");
    std::vector<const double*> ptrs(static_cast<size_t>(K_));
    for (int k = 0; k < K_; ++k) {
      double* dst = noise_.as<double>() + off[size_t(k)];
      const size_t count = size_t(noise_size(cfg_[size_t(k)]));
      streams_.copy(dst, noise[k], count * sizeof(double), cudaMemcpyHostToDevice, "copying the feedback noise");
      ptrs[size_t(k)] = dst;
    }
    streams_.copy(d_noise_ptrs_, ptrs.data(), ptrs.size() * sizeof(double*), cudaMemcpyHostToDevice,
          "copying the feedback noise pointers");
    const DevNet<F>* nets = d_nets_;
    const int slices = feedback_slices();
    const char* what = "launching the feedback construction";
    check(launch(gpu::feedback_scale_kernel<F>, int((K_ + gpu::kWarp - 1) / gpu::kWarp), gpu::kWarp, 0, streams_[0],
                 nets, int(K_)),
          what);
    check(launch(gpu::feedback_entries_kernel<F>, K_ * slices, gpu::kAuxThreads, 0, streams_[0], nets,
                 static_cast<const double* const*>(d_noise_ptrs_), slices),
          what);
    check(launch(gpu::feedback_finish_kernel<F>, K_ * slices, gpu::kAuxThreads, 0, streams_[0], nets, slices), what);
    if (ndense_ > 0) {
      const int64_t entries = int64_t(ndense_) * N_ * N_;
      const int blocks = int(std::min<int64_t>((entries + gpu::kAuxThreads - 1) / gpu::kAuxThreads,
                                               int64_t(prop_.multiProcessorCount) * 16));
      check(launch(gpu::dense_feedback_kernel<F>, blocks, gpu::kAuxThreads, 0, streams_[0],
                   static_cast<const DevNet<F>*>(d_nets_), static_cast<const int*>(d_dense_ids_), ndense_),
            "launching the feedback matrix construction");
    }
    streams_.sync("the feedback construction");
    // K·N² doubles that nothing reads again: freed after the first build (the only one without
    // resample); a resampled run allocates them once more and keeps them from its second build
    // on (it builds every epoch, and a cudaFree each time would wait for every batch's kernels).
    if (builds_++ == 0) noise_.release();
    has_feedback_ = true;
  }

  void recurrent_epochs(int64_t n, double* mse_rec, double* dz) override {
    require(has_feedback_, "recurrent epochs need the feedback first");
    use_device();
    GateHold hold(grid_path_, streams_);
    for (int64_t done = 0; done < n;) {
      const int chunk = int(std::min<int64_t>(n - done, max_chunk()));
      double* out = output(2 * size_t(K_) * size_t(chunk));
      double* out_dz = out + size_t(K_) * size_t(chunk);
      if (!grid_path_) {
        for (size_t gi = 0; gi < groups_.size(); ++gi) {
          const Group& gr = groups_[gi];
          const BlockKernel kern = !w_on_chip_ ? gpu::block_recurrent<F, false, false>
                                   : gr.fb_on_chip ? gpu::block_recurrent<F, true, true>
                                                   : gpu::block_recurrent<F, true, false>;
          set_smem(kern, gr.smem);
          check(launch(kern, int(gr.nets.size()), nt_, gr.smem, streams_[gi], d_nets_, gr.d_ids, chunk,
                       int64_t(gr.fb_elems), gr.Rmax, out, out_dz),
                "launching the recurrent epochs");
        }
      } else {
        launch_grid(gpu::grid_recurrent<F, true>, gpu::grid_recurrent<F, false>, "launching the recurrent epochs",
                    [&](auto kernel, const GridPlan& p) {
                      return launch_cooperative(kernel, p.blocks, gpu::kGridThreads, p.smem, streams_[0], d_nets_,
                                                d_ids_, K_, ntiles_, p.ipb, chunk, Rfac_, out, out_dz);
                    });
      }
      streams_.sync("the recurrent epochs");
      copy_rows(mse_rec + done, n, out, chunk);
      copy_rows(dz + done, n, out_dz, chunk);
      done += chunk;
      epochs_run_ += chunk;
    }
    if (n > 0) fetch_margins();
  }

  double readout_mse(int64_t k) override {
    const size_t x = index(k);
    require(targeted_, "the readout MSE needs the target run first");
    use_device();
    GateHold hold(false, streams_);
    size_t smem;
    const int place = readout_plan(smem);
    double* out = output(size_t(K_));
    check(launch(gpu::readout_kernel<F>, 1, gpu::kAuxThreads, smem, streams_[0], d_nets_, d_ids_ + x, 1, place, 1, out),
          "launching the readout MSE");
    streams_.sync("the readout MSE");
    double mse = 0;
    streams_.copy(&mse, out + x, sizeof mse, cudaMemcpyDeviceToHost, "copying the readout MSE");
    return mse;
  }

  void read(int64_t k, Field f, double* out) override {
    const size_t x = index(k);
    const Config& c = cfg_[x];
    const DevNet<F>& n = nets_[x];
    use_device();
    switch (f) {
      case Field::W_ih: return copy_out(out, n.W_ih, c.I * c.N);
      case Field::W_hh: return copy_out(out, n.W_hh, c.N * c.N);
      case Field::W_ho: return copy_out(out, n.W_ho, c.N * c.O);
      case Field::W_trg: return copy_out(out, n.W_trg, c.O * c.N);
      case Field::r_targ:
        require(targeted_, "r* needs the target run first");
        return copy_out(out, n.r_targ, c.T * c.N);
      case Field::D: {
        require(has_feedback_, "D needs the feedback first");
        if (n.dense) {  // as the engine keeps it (rows of pitch_)
          std::vector<F> rows(static_cast<size_t>(c.N) * size_t(pitch_));
          streams_.copy(rows.data(), n.D, rows.size() * sizeof(F), cudaMemcpyDeviceToHost, "copying D");
          for (int64_t i = 0; i < c.N; ++i)
            for (int64_t j = 0; j < c.N; ++j) out[i * c.N + j] = double(rows[size_t(i * pitch_ + j)]);
          return;
        }
        GateHold hold(false, streams_);
        DeviceMemory D;
        D.allocate(size_t(c.N * c.N) * sizeof(double), "the feedback matrix D");
        const int blocks = int(std::min<int64_t>((c.N * c.N + gpu::kAuxThreads - 1) / gpu::kAuxThreads,
                                                 int64_t(prop_.multiProcessorCount) * 16));
        check(launch(gpu::feedback_matrix_kernel<F>, blocks, gpu::kAuxThreads, 0, streams_[0],
                     static_cast<const DevNet<F>*>(d_nets_ + x), D.as<double>()),
              "launching the feedback matrix");
        streams_.sync("the feedback matrix");
        streams_.copy(out, D.as<double>(), D.bytes(), cudaMemcpyDeviceToHost, "copying the feedback matrix");
        return;
      }
      case Field::B: {
        require(has_feedback_ && c.R > 0, "B is kept only for a rank-R feedback, once built");
        std::vector<F> Bt(static_cast<size_t>(c.R * c.N));
        streams_.copy(Bt.data(), n.Bt, Bt.size() * sizeof(F), cudaMemcpyDeviceToHost, "copying B");
        for (int64_t i = 0; i < c.N; ++i)
          for (int64_t r = 0; r < c.R; ++r) out[i * c.R + r] = double(Bt[size_t(r * c.N + i)]);
        return;
      }
    }
  }

  void read(int64_t k, Raster f, uint8_t* out) override {
    const size_t x = index(k);
    use_device();
    const size_t bytes = size_t(T_) * size_t(N_);
    if (f == Raster::Z_targ) {
      require(targeted_, "Z* needs the target run first");
      streams_.copy(out, nets_[x].Z_targ, bytes, cudaMemcpyDeviceToHost, "copying Z*");
    } else {
      require(epochs_run_ > 0, "Z_last needs a recurrent epoch first");
      streams_.copy(out, nets_[x].Z, bytes, cudaMemcpyDeviceToHost, "copying Z_last");
    }
  }

  double min_margin(int64_t k) const override { return margins_[index(k)]; }
  const Config& config(int64_t k) const override { return cfg_[index(k)]; }
  const char* device() const override { return device_.c_str(); }

 private:
  // Block path: networks launched together share one shared-memory size.
  struct Group {
    bool fb_on_chip = false;
    int Rmax = 0;
    size_t fb_elems = 0, smem = 0;
    std::vector<int> nets;
    int* d_ids = nullptr;
  };

  struct GridPlan {
    bool w_on_chip;
    int ipb, blocks;
    size_t smem;
  };

  static void use_device() { check(cudaSetDevice(0), "cudaSetDevice(0)"); }

  static void require(bool ok, const char* what) {
    if (!ok) throw Error("GOAL_STATE", what);
  }

  size_t index(int64_t k) const {
    if (k < 0 || k >= K_) throw Error("GOAL_INVALID", "network index out of range");
    return size_t(k);
  }

  // The attribute is the kernel's, for the whole process: every batch sets the same bound (the
  // device's), so batches running at once on other threads never lower it under each other.
  template <typename Kernel>
  void set_smem(Kernel kernel, size_t bytes) const {
    if (bytes > prop_.sharedMemPerBlockOptin)
      throw Error("GOAL_INTERNAL", "a launch plan exceeds the shared memory of a block (" + std::to_string(bytes) + " bytes)");
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(prop_.sharedMemPerBlockOptin)),
          "cudaFuncSetAttribute(MaxDynamicSharedMemorySize)");
    // All of the L1/shared split as shared memory: the occupancy the plans (and the cooperative
    // launch's residency check) count on is then the one the driver configures.
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributePreferredSharedMemoryCarveout, int(cudaSharedmemCarveoutMaxShared)),
          "cudaFuncSetAttribute(PreferredSharedMemoryCarveout)");
  }

  // Groups the networks by how many of their blocks fit on a multiprocessor (the rank decides
  // whether the feedback fits on chip and how much shared memory a block takes), so that
  // small-rank networks are not launched with the shared memory the largest rank needs.
  void plan_block_groups() {
    const size_t f = sizeof(F), optin = prop_.sharedMemPerBlockOptin;
    w_on_chip_ = gpu::block_layout(N_, pitch_, 0, N_, true, false, f).bytes <= optin;
    // Keyed also by dense: a dense network's feedback (N·pitch) and a factored one's rank are
    // maxima of different networks, and together could outgrow a block.
    std::map<std::tuple<bool, size_t, bool>, Group> by_key;
    for (int k = 0; k < K_; ++k) {
      const Config& c = cfg_[size_t(k)];
      const int R = int(c.R);
      const size_t elems = gpu::feedback_elems(N_, R, c.feedback == Feedback::out, pitch_);
      const bool fb = w_on_chip_ && R > 0 && gpu::block_layout(N_, pitch_, elems, R, true, true, f).bytes <= optin;
      const size_t bytes = gpu::block_layout(N_, pitch_, elems, R, w_on_chip_, fb, f).bytes;
      const size_t per_sm = std::max<size_t>(
          1, std::min<size_t>(prop_.sharedMemPerMultiprocessor / (bytes + prop_.reservedSharedMemPerBlock),
                              size_t(prop_.maxThreadsPerMultiProcessor / nt_)));
      Group& g = by_key[{fb, per_sm, c.R > 0 && dense_feedback(N_, R, c.feedback == Feedback::out)}];
      g.fb_on_chip = fb;
      g.Rmax = std::max(g.Rmax, R);
      g.fb_elems = std::max(g.fb_elems, elems);
      g.nets.push_back(k);
    }
    for (auto& [key, g] : by_key) {
      g.smem = gpu::block_layout(N_, pitch_, g.fb_elems, g.Rmax, w_on_chip_, g.fb_on_chip, f).bytes;
      // Refused here, before any launch, so that no call can leave some groups advanced.
      if (g.smem > optin)
        throw Error("GOAL_INTERNAL", "a launch plan exceeds the shared memory of a block (" + std::to_string(g.smem) +
                                         " bytes)");
      groups_.push_back(std::move(g));
    }
  }

  // A cooperative launch needs every block resident at once. The plan trusts the occupancy
  // API; should the driver still refuse the launch as too large (it kept part of the GPU), the
  // grid is planned again for half as many resident blocks, and again, before giving up.
  template <typename Kernel, typename Launch>
  void launch_grid(Kernel on_chip, Kernel off_chip, const char* what, Launch&& go) {
    for (int share = 1;; share *= 2) {
      const GridPlan p = plan_grid(on_chip, off_chip, share);
      const cudaError_t e = go(p.w_on_chip ? on_chip : off_chip, p);
      if (e != cudaErrorCooperativeLaunchTooLarge || p.blocks == 1) return check(e, what);
      cudaGetLastError();  // not a sticky error: clear it and plan again
    }
  }

  // Grid path: tiles on chip with as few per block as the GPU allows, else W_hh in global
  // memory (L2) with at most as many blocks as are resident at once (1/share of what the
  // occupancy API counts).
  template <typename Kernel>
  GridPlan plan_grid(Kernel on_chip, Kernel off_chip, int share = 1) const {
    const int items = K_ * ntiles_;
    for (int ipb = 1;; ++ipb) {
      const size_t smem = gpu::grid_layout(N_, ipb, true, sizeof(F)).bytes;
      if (smem > prop_.sharedMemPerBlockOptin) break;
      const int blocks = (items + ipb - 1) / ipb, cap = resident(on_chip, smem) / share;
      if (blocks <= cap) return GridPlan{true, ipb, blocks, smem};
      if (cap == 0) break;
    }
    const size_t smem = gpu::grid_layout(N_, 1, false, sizeof(F)).bytes;
    const int cap = resident(off_chip, smem) / share;
    if (cap == 0) throw Error("GOAL_CUDA", "no block of the grid path fits on this GPU");
    const int ipb = (items + cap - 1) / cap;
    return GridPlan{false, ipb, (items + ipb - 1) / ipb, smem};
  }

  template <typename Kernel>
  int resident(Kernel kernel, size_t smem) const {
    set_smem(kernel, smem);
    int per_sm = 0;
    check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, gpu::kGridThreads, smem),
          "cudaOccupancyMaxActiveBlocksPerMultiprocessor");
    return per_sm * prop_.multiProcessorCount;
  }

  // The readout kernel's on-chip placement, its shared memory (set on the kernel) in `smem`.
  int readout_plan(size_t& smem) const {
    const int place = readout_place();
    smem = gpu::readout_layout(N_, O_, T_, place, sizeof(F)).bytes;
    set_smem(gpu::readout_kernel<F>, smem);
    return place;
  }

  // err always fits; then W_ho; then r* (the readout reads r* twice per epoch).
  int readout_place() const {
    int place = 0;
    for (int add : {gpu::kErrOnChip, gpu::kWhoOnChip, gpu::kROnChip}) {
      if (gpu::readout_layout(N_, O_, T_, place | add, sizeof(F)).bytes <= prop_.sharedMemPerBlockOptin)
        place |= add;
      else
        break;
    }
    return place;
  }

  // Bytes of every network's feedback noise, as build_feedback uploads it (float64).
  size_t noise_bytes() const {
    size_t total = 0;
    for (const Config& c : cfg_) total += size_t(noise_size(c));
    return total * sizeof(double);
  }

  // Blocks per network of the feedback kernels: enough for the largest network's work items (LTTS
  // rows, Bt entries, P entries), at most 8 blocks per multiprocessor over the whole batch (a
  // batch of many small networks keeps one block each).
  int feedback_slices() const {
    int64_t work = 1;
    for (const Config& c : cfg_)
      work = std::max<int64_t>(work, c.R == 0 ? c.N : std::max<int64_t>(c.R * c.N, c.feedback == Feedback::out ? c.T * c.R : 0));
    const int64_t wanted = (work + gpu::kAuxThreads - 1) / gpu::kAuxThreads;
    const int64_t room = std::max<int64_t>(1, int64_t(prop_.multiProcessorCount) * 8 / K_);
    return int(std::max<int64_t>(1, std::min(wanted, room)));
  }

  // Epochs per launch: bounds the output buffer (2·K·chunk doubles, at most 256 MiB).
  int64_t max_chunk() const { return std::max<int64_t>(1, std::min<int64_t>(int64_t(1) << 20, (int64_t(1) << 24) / K_)); }

  double* output(size_t count) {
    if (out_.bytes() < count * sizeof(double)) out_.allocate(count * sizeof(double), "the per-epoch statistics");
    return out_.as<double>();
  }

  // Device K×chunk (network-major) into host K×n at column `done` (already added to dst).
  void copy_rows(double* dst, int64_t n, const double* src, int chunk) const {
    streams_.copy_2d(dst, size_t(n) * sizeof(double), src, size_t(chunk) * sizeof(double),
                     size_t(chunk) * sizeof(double), size_t(K_), cudaMemcpyDeviceToHost,
                     "copying the per-epoch statistics");
  }

  void copy_out(double* dst, const F* src, int64_t count) const {
    std::vector<F> host(static_cast<size_t>(count));
    streams_.copy(host.data(), src, host.size() * sizeof(F), cudaMemcpyDeviceToHost, "copying a matrix");
    for (int64_t k = 0; k < count; ++k) dst[k] = double(host[size_t(k)]);
  }

  void fetch_margins() {
    std::vector<Bits> bits(static_cast<size_t>(K_));
    streams_.copy(bits.data(), d_margins_, bits.size() * sizeof(Bits), cudaMemcpyDeviceToHost,
          "copying the margins");
    for (size_t k = 0; k < bits.size(); ++k) margins_[k] = double(gpu::Ordered<F>::value(bits[k]));
  }

  // One allocation: the K views, index lists, noise pointers and margins, then each network's
  // arrays (NetLayout). The initial matrices and task are converted to F on the host.
  void allocate_and_upload(const std::vector<Inputs>& in) {
    const size_t f = sizeof(F), K = size_t(K_);
    const bool wt_global = !grid_path_ && !w_on_chip_;
    size_t o = 0;
    const size_t at_nets = o;
    o += pad(K * sizeof(DevNet<F>));
    const size_t at_ids = o;
    o += pad(K * sizeof(int));
    const size_t at_group_ids = o;
    o += pad(K * sizeof(int));
    const size_t at_noise = o;
    o += pad(K * sizeof(double*));
    const size_t at_margins = o;
    o += pad(K * sizeof(Bits));
    const size_t at_dense_ids = o;
    o += pad(K * sizeof(int));
    std::vector<size_t> base(K);
    std::vector<NetLayout> layouts;
    layouts.reserve(K);
    for (size_t k = 0; k < K; ++k) {
      layouts.emplace_back(cfg_[k], f, grid_path_, wt_global, pitch_, ntiles_);
      base[k] = o;
      o += layouts.back().bytes;
    }
    // The feedback noise (float64, N×N for spk) is uploaded only when the feedback is built,
    // but counted now: a batch that clearly cannot hold it is refused before its target run and
    // readout (not counted: the per-epoch statistics, small beside it; and a run without
    // recurrent epochs, which may never build the feedback, is held to it all the same).
    mem_.allocate(o, std::to_string(K) + (K == 1 ? " network" : " networks") + " of N=" + std::to_string(N_),
                  noise_bytes(), "while their feedback is built (its noise)");
    unsigned char* mem = mem_.as<unsigned char>();
    streams_.zero(mem, o, "clearing the networks' memory");

    nets_.resize(K);
    size_t max_head = 0;
    for (const NetLayout& L : layouts) max_head = std::max(max_head, L.head);
    std::vector<unsigned char> head(max_head);
    for (size_t k = 0; k < K; ++k) {
      const Config& c = cfg_[k];
      const NetLayout& L = layouts[k];
      unsigned char* b = mem + base[k];
      DevNet<F>& n = nets_[k];
      n.N = int(c.N);
      n.I = int(c.I);
      n.O = int(c.O);
      n.T = int(c.T);
      n.R = int(c.R);
      n.out_feedback = c.feedback == Feedback::out;
      n.dense = c.R > 0 && dense_feedback(n.N, n.R, n.out_feedback);
      n.pitch = pitch_;
      set_constants<F>(n, c);
      auto arr = [b](size_t off) { return reinterpret_cast<F*>(b + off); };
      n.W_ih = arr(L.W_ih);
      n.W_hh = arr(L.W_hh);
      n.W_ho = arr(L.W_ho);
      n.W_trg = arr(L.W_trg);
      n.targ = arr(L.targ);
      n.clock = arr(L.clock);
      n.r_targ = arr(L.r_targ);
      n.Bt = arr(L.Bt);
      n.P = arr(L.P);
      n.D = arr(L.D);
      n.Q = arr(L.Q);
      n.xin = arr(L.xin);
      n.err = arr(L.err);
      n.m = arr(L.m);
      n.s = arr(L.s);
      n.margin = reinterpret_cast<Bits*>(mem + at_margins) + k;
      n.Z_targ = b + L.Z_targ;
      n.Z = b + L.Z;
      n.WT = arr(L.WT);
      n.v = arr(L.v);
      n.z = arr(L.z);
      n.h = arr(L.h);
      n.e = arr(L.e);
      n.q = arr(L.q);
      n.c = arr(L.c);
      n.g = arr(L.g);
      n.xs = arr(L.xs);
      n.xh = arr(L.xh);
      n.xu = arr(L.xu);
      n.mask = reinterpret_cast<unsigned*>(b + L.mask);
      n.umask = reinterpret_cast<unsigned*>(b + L.umask);
      n.part = arr(L.part);
      n.a = arr(L.a);
      n.dz = reinterpret_cast<unsigned long long*>(b + L.dz);
      n.rows = reinterpret_cast<double*>(b + L.rows);

      to_dtype<F>(head.data() + L.W_ih, in[k].W_ih, c.I * c.N);
      to_dtype<F>(head.data() + L.W_hh, in[k].W_hh, c.N * c.N);
      to_dtype<F>(head.data() + L.W_ho, in[k].W_ho, c.N * c.O);
      to_dtype<F>(head.data() + L.W_trg, in[k].W_trg, c.O * c.N);
      to_dtype<F>(head.data() + L.targ, in[k].targ, c.T * c.O);
      to_dtype<F>(head.data() + L.clock, in[k].clock, (c.T - 1) * c.I);
      streams_.copy(b, head.data(), L.head, cudaMemcpyHostToDevice, "copying the initial matrices");
    }
    d_nets_ = reinterpret_cast<DevNet<F>*>(mem + at_nets);
    streams_.copy(d_nets_, nets_.data(), K * sizeof(DevNet<F>), cudaMemcpyHostToDevice, "copying the networks");

    std::vector<int> ids(K);
    for (size_t k = 0; k < K; ++k) ids[k] = int(k);
    d_ids_ = reinterpret_cast<int*>(mem + at_ids);
    streams_.copy(d_ids_, ids.data(), K * sizeof(int), cudaMemcpyHostToDevice, "copying the network indices");
    int* group_ids = reinterpret_cast<int*>(mem + at_group_ids);
    for (Group& g : groups_) {
      g.d_ids = group_ids;
      streams_.copy(group_ids, g.nets.data(), g.nets.size() * sizeof(int), cudaMemcpyHostToDevice,
            "copying the network indices");
      group_ids += g.nets.size();
    }
    std::vector<int> dense;
    for (size_t k = 0; k < K; ++k)
      if (nets_[k].dense) dense.push_back(int(k));
    ndense_ = int(dense.size());
    d_dense_ids_ = reinterpret_cast<int*>(mem + at_dense_ids);
    if (!dense.empty())
      streams_.copy(d_dense_ids_, dense.data(), dense.size() * sizeof(int), cudaMemcpyHostToDevice,
            "copying the network indices");
    d_noise_ptrs_ = reinterpret_cast<const double**>(mem + at_noise);
    d_margins_ = reinterpret_cast<Bits*>(mem + at_margins);
    const std::vector<Bits> inf(K, gpu::Ordered<F>::bits(F(INFINITY)));
    streams_.copy(d_margins_, inf.data(), K * sizeof(Bits), cudaMemcpyHostToDevice, "copying the margins");
  }

  std::vector<Config> cfg_;
  int K_;
  int N_ = 0, T_ = 0, O_ = 0, Rfac_ = 0, ndense_ = 0;
  bool grid_path_ = false, w_on_chip_ = false;
  int nt_ = 0, pitch_ = 0, ntiles_ = 0;
  cudaDeviceProp prop_{};
  std::string device_;
  std::vector<Group> groups_;
  std::vector<DevNet<F>> nets_;  // host copy of the views (device pointers)
  DeviceMemory mem_, out_, noise_;
  DevNet<F>* d_nets_ = nullptr;
  int* d_ids_ = nullptr;        // 0..K−1
  int* d_dense_ids_ = nullptr;  // networks with a dense feedback
  const double** d_noise_ptrs_ = nullptr;
  Bits* d_margins_ = nullptr;
  Streams streams_;
  std::vector<double> margins_;
  bool targeted_ = false, has_feedback_ = false;
  int builds_ = 0;  // feedback builds so far
  int64_t epochs_run_ = 0;
};

// A single network: a batch of one.
class CudaNet final : public Engine {
 public:
  explicit CudaNet(std::unique_ptr<Batch> b) : b_(std::move(b)) {}
  void target_run() override { b_->target_run(); }
  void readout_epochs(int64_t n, double* mse) override { b_->readout_epochs(n, mse); }
  void build_feedback(const double* noise) override {
    const double* one[1] = {noise};
    b_->build_feedback(one);
  }
  void recurrent_epochs(int64_t n, double* mse_rec, double* dz) override { b_->recurrent_epochs(n, mse_rec, dz); }
  double readout_mse() override { return b_->readout_mse(0); }
  void read(Field f, double* out) override { b_->read(0, f, out); }
  void read(Raster f, uint8_t* out) override { b_->read(0, f, out); }
  double min_margin() const override { return b_->min_margin(0); }
  const Config& config() const override { return b_->config(0); }
  const char* device() const override { return b_->device(); }

 private:
  std::unique_ptr<Batch> b_;
};

void require_device(const Settings& s) {
  const CudaInfo info = cuda_info(s);
  if (!info.available) throw Error("GOAL_NO_CUDA", info.reason);
}

}  // namespace

std::unique_ptr<Batch> make_cuda_batch(const std::vector<Config>& c, const std::vector<Inputs>& in, const Settings& s) {
  check_batch(c);
  if (in.size() != c.size()) throw Error("GOAL_INVALID", "one set of inputs per network");
  require_device(s);
  if (c[0].dtype == DType::f32) return std::make_unique<CudaBatch<float>>(c, in);
  return std::make_unique<CudaBatch<double>>(c, in);
}

std::unique_ptr<Engine> make_cuda_engine(const Config& c, const Inputs& in) {
  return std::make_unique<CudaNet>(make_cuda_batch({c}, {in}));
}

}  // namespace goal
