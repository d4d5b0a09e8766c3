// The engine contract shared by the CPU and CUDA backends. No Node-API here.
//
// Shapes (row-major, SPEC.md orientation): W_ih I×N, W_hh N×N, W_ho N×O, W_trg O×N,
// targ (y*) T×O, clock (x) (T−1)×I, feedback noise N×N (spk) or N×R (out).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace goal {

// A failure the binding turns into a JS Error with this `code`.
class Error : public std::runtime_error {
 public:
  Error(const char* code, const std::string& message) : std::runtime_error(message), code_(code) {}
  const char* code() const { return code_; }

 private:
  const char* code_;
};

enum class DType { f32, f64 };
enum class Feedback { spk, out };

// Every field is set by the caller: the defaults live in src/params.ts alone (sizes and time
// constants left at zero are refused by check_config).
struct Config {
  int64_t N = 0, I = 0, O = 0, T = 0;
  int64_t R = 0;  // feedback rank; 0 = LTTS (spk only)
  Feedback feedback = Feedback::spk;
  DType dtype = DType::f32;
  double tau_m = 0, tau_s = 0, tau_o = 0;  // units of dt
  double v_init = 0, bias = 0, reset = 0, thr = 0;
  double rec_lr = 0, out_lr = 0;
};

// The largest size (N, I, O, T, R) an engine takes: every product of sizes stays far from
// int64 overflow. src/params.ts's MAX_SIZE is the same (test/binding.test.ts holds them so).
constexpr int64_t kMaxSize = int64_t(1) << 20;

// Initial matrices and the task, all float64 (converted to the engine's dtype once).
struct Inputs {
  const double* W_ih;
  const double* W_hh;
  const double* W_ho;
  const double* W_trg;
  const double* targ;
  const double* clock;
};

// What can be copied out of an engine (as float64, or bytes for rasters).
enum class Field { W_ih, W_hh, W_ho, W_trg, D, B, r_targ };
enum class Raster { Z_targ, Z_last };

class Engine {
 public:
  virtual ~Engine() = default;
  // SPEC "Training" step 1: Z* = run(x, d), r* = filter(Z*).
  virtual void target_run() = 0;
  // Step 2: n readout epochs; mse[k] before the k-th update.
  virtual void readout_epochs(int64_t n, double* mse) = 0;
  // Step 3 from standard normals g (N×N for spk, N×R for out).
  virtual void build_feedback(const double* noise) = 0;
  // Step 4: n recurrent epochs; mse_rec[k], dz[k] per epoch.
  virtual void recurrent_epochs(int64_t n, double* mse_rec, double* dz) = 0;
  // MSE of the readout on r* with the current W_ho, without training it.
  virtual double readout_mse() = 0;
  virtual void read(Field f, double* out) = 0;  // out has field_size(cfg, f) entries
  virtual void read(Raster f, uint8_t* out) = 0;  // T×N
  // Smallest |v' − thr| met so far (target run and recurrent epochs).
  virtual double min_margin() const = 0;
  virtual const Config& config() const = 0;
  virtual const char* device() const = 0;  // e.g. "cpu:avx2"
};

// K independent networks trained in lockstep by one call per phase: the engine of sweeps.
// The networks share N, I, O, T and dtype; each has its own rank, feedback, constants and
// matrices. Per-epoch outputs are network-major: out[k * n + epoch].
class Batch {
 public:
  virtual ~Batch() = default;
  virtual int64_t size() const = 0;
  virtual void target_run() = 0;
  virtual void readout_epochs(int64_t n, double* mse) = 0;
  virtual void build_feedback(const double* const* noise) = 0;  // one pointer per network
  virtual void recurrent_epochs(int64_t n, double* mse_rec, double* dz) = 0;
  virtual double readout_mse(int64_t k) = 0;
  virtual void read(int64_t k, Field f, double* out) = 0;
  virtual void read(int64_t k, Raster f, uint8_t* out) = 0;
  virtual double min_margin(int64_t k) const = 0;
  virtual const Config& config(int64_t k) const = 0;
  virtual const char* device() const = 0;
  // From any thread, while a call runs or before one: the CPU's calls stop at their next check
  // (between steps of the target run, every 64 steps of a recurrent epoch, between epochs,
  // between rows of the N²R product D) and fail with GOAL_ABORTED, as does any later one.
  // The GPU's calls run to their end (short there). A stopped batch is only good for disposal.
  void stop() noexcept { stop_.store(true, std::memory_order_relaxed); }

 protected:
  std::atomic<bool> stop_{false};
};

// Checks that the configs may share a batch (same N, I, O, T, dtype; each valid).
void check_batch(const std::vector<Config>& c);

// The settings the environment gives (GOAL_CPU_ISA, GOAL_CUDA_SPIN), read by the caller: the
// engines never call getenv, which races with a setenv on another thread (a worker's
// process.env) and may then read freed memory.
struct Settings {
  std::string cpu_isa;     // GOAL_CPU_ISA: base, avx2 or avx512 forces that variant; "" the widest
  bool cuda_spin = false;  // GOAL_CUDA_SPIN=1: waits for the GPU spin (the runtime's default)
};

// CPU: each network is a CPU engine; every call spreads the networks over `threads` threads.
std::unique_ptr<Batch> make_cpu_batch(const std::vector<Config>& c, const std::vector<Inputs>& in, int threads,
                                      const Settings& s = {});
std::unique_ptr<Batch> make_cuda_batch(const std::vector<Config>& c, const std::vector<Inputs>& in, const Settings& s = {});

int64_t field_size(const Config& c, Field f);
int64_t noise_size(const Config& c);

// Checks sizes and finiteness of the configuration; throws Error("GOAL_INVALID").
void check_config(const Config& c);

// Bytes one network needs in the given dtype (for the allocation check before training).
double bytes_needed(const Config& c);

// GOAL_ENOMEM, naming `what`, when `need` bytes pass 90% of this machine's physical memory.
void check_host_memory(double need, const std::string& what);

// `stop`, when given, ends a call early (GOAL_ABORTED): see Batch::stop.
std::unique_ptr<Engine> make_cpu_engine(const Config& c, const Inputs& in, const std::atomic<bool>* stop = nullptr,
                                        const Settings& s = {});
const char* cpu_isa(const Settings& s = {});  // instruction-set variant the CPU engine runs: base, avx2, avx512
bool cpu_isa_supported(const char* isa);

// What the CUDA backend can do here. Without nvcc at build time, compiled is false and
// make_cuda_engine throws GOAL_NO_CUDA (cuda_stub.cpp).
struct CudaInfo {
  bool compiled = false, available = false;
  std::string reason;  // why it is not available
  std::string name;    // device 0
  int count = 0, major = 0, minor = 0, sms = 0;
  double memory = 0;   // bytes
  int runtime = 0, driver = 0;  // versions, e.g. 13000
};
CudaInfo cuda_info(const Settings& s = {});

// How a result names the device it ran on (an engine's device()), also before any engine exists.
inline std::string cpu_device(const char* isa) { return std::string("cpu:") + isa; }
inline std::string cuda_device(const std::string& name) { return "cuda:0 " + name; }

// An amount of memory for a message: "1.5 GiB", or "12 MiB" below a GiB.
inline std::string memory_text(double bytes) {
  char buf[32];
  const double mib = bytes / (1024.0 * 1024);
  if (mib < 1024) snprintf(buf, sizeof buf, "%.0f MiB", mib);
  else snprintf(buf, sizeof buf, "%.1f GiB", mib / 1024);
  return buf;
}
std::unique_ptr<Engine> make_cuda_engine(const Config& c, const Inputs& in);

}  // namespace goal
