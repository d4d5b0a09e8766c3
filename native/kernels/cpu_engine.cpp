// The CPU engine: one allocation per network, named views into it, the phases of
// SPEC.md "Training" in order, and the choice of instruction-set variant.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "cpu_kernels.h"
#include "engine.h"
#include "net_constants.h"
#include "goal_math.h"

namespace goal {

namespace {

constexpr size_t kAlign = 64;

int64_t feedback_cols(const Config& c) { return c.feedback == Feedback::out ? c.R : c.N; }

// Element counts of every array of one network, in allocation order.
struct Layout {
  int64_t W_ih, W_hh, W_ho, W_trg, targ, clock, r_targ, Bt, P, D;
  int64_t vecN, a, grad, err, rT;  // scratch
  int64_t Z;                      // bytes, twice (Z_targ and Z)

  explicit Layout(const Config& c) {
    const int64_t N = c.N, I = c.I, O = c.O, T = c.T, R = c.R;
    W_ih = I * N;
    W_hh = N * N;
    W_ho = N * O;
    W_trg = O * N;
    targ = T * O;
    clock = (T - 1) * I;
    r_targ = T * N;
    Bt = R * N;
    P = c.feedback == Feedback::out ? T * R : 0;
    D = dense_feedback(c.N, c.R, c.feedback == Feedback::out) ? N * N : 0;
    vecN = N;
    a = R;
    grad = N * O;
    err = T * O;
    rT = N * readout_tile(T);
    Z = T * N;
  }
};

size_t padded(double bytes) { return size_t((bytes + kAlign - 1) / kAlign) * kAlign; }

double layout_bytes(const Config& c) {
  const Layout L(c);
  const double f = c.dtype == DType::f32 ? 4.0 : 8.0;
  double total = 0;
  for (int64_t n : {L.W_ih, L.W_hh, L.W_ho, L.W_trg, L.targ, L.clock, L.r_targ, L.Bt, L.P, L.D, L.a,
                    L.grad, L.err, L.rT})
    total += double(padded(double(n) * f));
  total += 9 * double(padded(double(L.vecN) * f));
  total += 2 * double(padded(double(L.Z)));
  return total;
}

double physical_memory() {
  const long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && size > 0 ? double(pages) * double(size) : INFINITY;
}

template <typename F>
const Kernels<F>* kernels_for(const char* isa);

template <>
const Kernels<float>* kernels_for<float>(const char* isa) {
  if (!strcmp(isa, "avx512")) return isa_avx512::kernels_f32();
  if (!strcmp(isa, "avx2")) return isa_avx2::kernels_f32();
  return isa_base::kernels_f32();
}

template <>
const Kernels<double>* kernels_for<double>(const char* isa) {
  if (!strcmp(isa, "avx512")) return isa_avx512::kernels_f64();
  if (!strcmp(isa, "avx2")) return isa_avx2::kernels_f64();
  return isa_base::kernels_f64();
}

bool isa_supported(const char* isa) {
  if (!strcmp(isa, "base")) return true;
#if defined(GOAL_X86_VARIANTS)
  if (!strcmp(isa, "avx2")) return __builtin_cpu_supports("x86-64-v3");
  if (!strcmp(isa, "avx512")) return __builtin_cpu_supports("x86-64-v4");
#endif
  return false;
}

// The widest variant this processor runs; GOAL_CPU_ISA=base|avx2|avx512 forces one
// (tests use it to check that every variant gives the same bits).
const char* choose_isa(const std::string& forced) {
  if (!forced.empty()) {
    for (const char* isa : {"base", "avx2", "avx512"})
      if (forced == isa) {
        if (!isa_supported(isa))
          throw Error("GOAL_INVALID", "GOAL_CPU_ISA=" + forced + ": this processor does not support it");
        return isa;
      }
    throw Error("GOAL_INVALID", "GOAL_CPU_ISA must be base, avx2 or avx512 (got " + forced + ")");
  }
  for (const char* isa : {"avx512", "avx2"})
    if (isa_supported(isa)) return isa;
  return "base";
}

template <typename F>
class CpuNet final : public Engine {
 public:
  CpuNet(const Config& c, const Inputs& in, const std::atomic<bool>* stop, const char* isa)
      : cfg_(c), isa_(isa), k_(kernels_for<F>(isa_)), stop_(stop) {
    device_ = cpu_device(isa_);
    const double need = layout_bytes(c);
    check_host_memory(need, "a network of N=" + std::to_string(c.N));
    const size_t bytes = size_t(need);
    // calloc, not aligned_alloc + memset: a large block comes zeroed from the kernel, each page
    // as it is first touched (by the target run, on a worker thread), so that this constructor,
    // which runs on the JavaScript thread, does not stall it for seconds at large T·N.
    raw_ = std::calloc(1, bytes + kAlign);
    if (!raw_)
      throw Error("GOAL_ENOMEM", "cannot allocate " + memory_text(need) + " for a network of N=" +
                                     std::to_string(c.N));
    mem_ = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(raw_) + kAlign - 1) / kAlign * kAlign);
    carve();
    copy_in(n_.W_ih, in.W_ih, L_.W_ih);
    copy_in(n_.W_hh, in.W_hh, L_.W_hh);
    // A float32 network drawn past float32's range starts with ±∞.
    whh_ = WhhState{false, 0.0};
    for (int64_t k = 0; k < L_.W_hh; ++k) {
      if (!std::isfinite(n_.W_hh[k])) whh_.nonfinite = true;
      whh_.bound = std::max(whh_.bound, std::fabs(double(n_.W_hh[k])));
    }
    for (int64_t k = 0; k < L_.W_ih; ++k)
      if (!std::isfinite(n_.W_ih[k])) n_.wih_finite = false;
    copy_in(n_.W_ho, in.W_ho, L_.W_ho);
    copy_in(n_.W_trg, in.W_trg, L_.W_trg);
    copy_in(n_.targ, in.targ, L_.targ);
    copy_in(n_.clock, in.clock, L_.clock);
  }
  ~CpuNet() override {
    std::free(lazy_D_);
    std::free(raw_);
  }

  void target_run() override {
    margin_ = std::min(margin_, k_->target_run(n_));
    stopped("the target run");
    targeted_ = true;
  }

  void readout_epochs(int64_t n, double* mse) override {
    require(targeted_, "readout epochs need the target run first");
    k_->readout_epochs(n_, n, mse);
    stopped("the readout epochs", "were");
  }

  double readout_mse() override {
    require(targeted_, "the readout MSE needs the target run first");
    return k_->readout_mse(n_);
  }

  void build_feedback(const double* noise) override {
    require(targeted_, "the feedback needs the target run first");
    has_feedback_ = false;  // until this one is built whole: a stopped build leaves none to use
    if (n_.D == lazy_D_) n_.D = nullptr;  // a new draw (resample) decides afresh
    k_->build_feedback(n_, noise);
    if (n_.wants_D) {
      // A rank-R feedback too large (or not finite) to apply as factors: D = B_R B_Rᵀ, N×N.
      if (!lazy_D_) {
        const double bytes = double(cfg_.N) * double(cfg_.N) * sizeof(F);
        lazy_D_ = static_cast<F*>(std::aligned_alloc(kAlign, padded(bytes)));
        if (!lazy_D_) throw Error("GOAL_ENOMEM", "cannot allocate " + memory_text(bytes) + " for the feedback matrix D");
      }
      n_.D = lazy_D_;
      k_->build_feedback(n_, noise);
    }
    stopped("the feedback construction");
    has_feedback_ = true;
  }

  void recurrent_epochs(int64_t n, double* mse_rec, double* dz) override {
    require(has_feedback_, "recurrent epochs need the feedback first");
    for (int64_t k = 0; k < n && !stopping(n_); ++k)
      margin_ = std::min(margin_, k_->recurrent_epoch(n_, mse_rec + k, dz + k));
    stopped("the recurrent epochs", "were");
    epochs_run_ += n;
  }

  void read(Field f, double* out) override {
    switch (f) {
      case Field::W_ih: return copy_out(out, n_.W_ih, L_.W_ih);
      case Field::W_hh: return copy_out(out, n_.W_hh, L_.W_hh);
      case Field::W_ho: return copy_out(out, n_.W_ho, L_.W_ho);
      case Field::W_trg: return copy_out(out, n_.W_trg, L_.W_trg);
      case Field::r_targ:
        require(targeted_, "r* needs the target run first");
        return copy_out(out, n_.r_targ, L_.r_targ);
      case Field::D:
        require(has_feedback_, "D needs the feedback first");
        return k_->feedback_matrix(n_, out);
      case Field::B:
        require(has_feedback_ && cfg_.R > 0, "B is kept only for a rank-R feedback, once built");
        for (int64_t i = 0; i < cfg_.N; ++i)
          for (int64_t r = 0; r < cfg_.R; ++r) out[i * cfg_.R + r] = double(n_.Bt[r * cfg_.N + i]);
        return;
    }
  }

  void read(Raster f, uint8_t* out) override {
    if (f == Raster::Z_targ) {
      require(targeted_, "Z* needs the target run first");
      std::memcpy(out, n_.Z_targ, size_t(L_.Z));
    } else {
      require(epochs_run_ > 0, "Z_last needs a recurrent epoch first");
      std::memcpy(out, n_.Z, size_t(L_.Z));
    }
  }

  double min_margin() const override { return margin_; }
  const Config& config() const override { return cfg_; }
  const char* device() const override { return device_.c_str(); }

 private:
  // After a call the stop flag may have cut short: its partial result is never used.
  void stopped(const char* what, const char* was = "was") const {
    if (stopping(n_)) throw Error("GOAL_ABORTED", std::string(what) + " " + was + " stopped");
  }

  static void require(bool ok, const char* what) {
    if (!ok) throw Error("GOAL_STATE", what);
  }

  static void copy_in(F* dst, const double* src, int64_t n) {
    for (int64_t k = 0; k < n; ++k) dst[k] = F(src[k]);
  }
  static void copy_out(double* dst, const F* src, int64_t n) {
    for (int64_t k = 0; k < n; ++k) dst[k] = double(src[k]);
  }

  // Points every view at its slice of the single allocation.
  void carve() {
    uint8_t* p = mem_;
    auto take = [&p](int64_t count, size_t elem) {
      uint8_t* here = p;
      p += padded(double(count) * double(elem));
      return here;
    };
    auto arr = [&](int64_t count) { return reinterpret_cast<F*>(take(count, sizeof(F))); };
    const Config& c = cfg_;
    n_.N = c.N;
    n_.I = c.I;
    n_.O = c.O;
    n_.T = c.T;
    n_.R = c.R;
    n_.out_feedback = c.feedback == Feedback::out;
    set_constants<F>(n_, c);
    n_.m = F(0);
    n_.fb_finite = true;
    n_.wih_finite = true;
    n_.wants_D = false;
    n_.whh = &whh_;
    n_.stop = stop_;
    n_.W_ih = arr(L_.W_ih);
    n_.W_hh = arr(L_.W_hh);
    n_.W_ho = arr(L_.W_ho);
    n_.W_trg = arr(L_.W_trg);
    n_.targ = arr(L_.targ);
    n_.clock = arr(L_.clock);
    n_.r_targ = arr(L_.r_targ);
    n_.Bt = arr(L_.Bt);
    n_.P = arr(L_.P);
    n_.D = L_.D ? arr(L_.D) : nullptr;
    n_.a = arr(L_.a);
    n_.grad = arr(L_.grad);
    n_.err = arr(L_.err);
    n_.rT = arr(L_.rT);
    for (F** v : {&n_.v, &n_.z, &n_.h, &n_.e, &n_.q, &n_.c, &n_.g, &n_.u, &n_.xin}) *v = arr(L_.vecN);
    n_.Z_targ = take(L_.Z, 1);
    n_.Z = take(L_.Z, 1);
  }

  Config cfg_;
  Layout L_{cfg_};
  const char* isa_;
  const Kernels<F>* k_;
  const std::atomic<bool>* stop_;
  std::string device_;
  void* raw_ = nullptr;
  uint8_t* mem_ = nullptr;  // raw_, aligned to kAlign
  NetView<F> n_{};
  double margin_ = INFINITY;
  bool targeted_ = false, has_feedback_ = false;
  WhhState whh_{};
  F* lazy_D_ = nullptr;  // D for a factored feedback that overflows (see NetView::wants_D)
  int64_t epochs_run_ = 0;
};

}  // namespace

int64_t field_size(const Config& c, Field f) {
  switch (f) {
    case Field::W_ih: return c.I * c.N;
    case Field::W_hh: return c.N * c.N;
    case Field::W_ho: return c.N * c.O;
    case Field::W_trg: return c.O * c.N;
    case Field::D: return c.N * c.N;
    case Field::B: return c.N * c.R;
    case Field::r_targ: return c.T * c.N;
  }
  return 0;
}

int64_t noise_size(const Config& c) { return c.N * feedback_cols(c); }

void check_config(const Config& c) {
  auto fail = [](const std::string& what) { throw Error("GOAL_INVALID", what); };
  auto size = [&](const char* name, int64_t v, int64_t lo) {
    if (v < lo || v > kMaxSize)
      fail(std::string(name) + " must be an integer in [" + std::to_string(lo) + ", " +
           std::to_string(kMaxSize) + "] (got " + std::to_string(v) + ")");
  };
  size("N", c.N, 1);
  size("I", c.I, 1);
  size("O", c.O, 1);
  size("T", c.T, 2);
  if (c.O > c.N) fail("O must be <= N");
  if (c.feedback == Feedback::out && c.R == 0) fail("feedback 'out' needs a rank R");
  if (c.R != 0 && (c.R < c.O || c.R > c.N)) fail("the rank R must be in [O, N]");
  for (double tau : {c.tau_m, c.tau_s, c.tau_o})
    if (!(tau > 0) || !std::isfinite(tau)) fail("time constants must be finite and > 0");
  for (double x : {c.v_init, c.bias, c.reset, c.thr, c.rec_lr, c.out_lr})
    if (!std::isfinite(x)) fail("parameters must be finite numbers");
}

double bytes_needed(const Config& c) { return layout_bytes(c); }

void check_host_memory(double need, const std::string& what) {
  const double have = physical_memory();
  if (need > 0.9 * have)
    throw Error("GOAL_ENOMEM", what + " needs " + memory_text(need) + ", more than this machine's " + memory_text(have) + " of memory");
}

std::unique_ptr<Engine> make_cpu_engine(const Config& c, const Inputs& in, const std::atomic<bool>* stop,
                                        const Settings& s) {
  check_config(c);
  const char* isa = choose_isa(s.cpu_isa);
  if (c.dtype == DType::f32) return std::make_unique<CpuNet<float>>(c, in, stop, isa);
  return std::make_unique<CpuNet<double>>(c, in, stop, isa);
}

const char* cpu_isa(const Settings& s) { return choose_isa(s.cpu_isa); }
bool cpu_isa_supported(const char* isa) { return isa_supported(isa); }

}  // namespace goal
