// The CPU kernels' view of one network and their entry points.
//
// cpu_kernels.cpp is compiled once per instruction-set variant (base, avx2, avx512);
// each variant exports its table from its own namespace and the engine picks one at
// run time, so a binary built on one x86-64 machine runs on any other. All variants
// compile with -ffp-contract=off and sum in a fixed order, so they give bit-identical
// results: the vector width changes the speed, never the numbers. (Not a NaN's sign and
// payload: of two NaN operands x86 keeps the first, and a compiler may order a sum's operands
// either way. Nothing reports them: the stats pickle writes one NaN.)
#pragma once

#include <atomic>
#include <cstdint>

namespace goal {

// What the recurrent epochs know of W_hh between them. nonfinite: it may hold a non-finite
// entry (once true, it stays true: such an entry never returns to finite, and then no zero
// term is skipped). bound: while finite, at least max |W_hh_ji| (it grows by each step's
// largest update), so that while it is far below the type's largest value no update can
// overflow, and the one-pass update below is exact.
struct WhhState {
  bool nonfinite;
  double bound;
};

// Pointers into a network's single allocation plus its sizes and constants (cast to F).
// Shapes: W_ih I×N, W_hh N×N, W_ho N×O, W_trg O×N, targ T×O, clock (T−1)×I,
// r_targ T×N, Bt R×N (feedback factor, transposed), P T×R (out: Y*), D N×N (spk with
// 2R > N: B_R B_Rᵀ, cheaper than the factors), Z_targ/Z T×N bytes.
template <typename F>
struct NetView {
  int64_t N, I, O, T, R;
  bool out_feedback;  // SPEC "out": a = Y*_{t+1} − q@B; else spk: a = (r*_{t+1} − q)@B
  F a_m, b_m, a_s, b_s, a_o, b_o;
  F v_init, bias, reset, thr, rec_lr, out_lr;
  F m;  // LTTS: D = m·Identity (used when R == 0)
  // SPEC's arithmetic is dense: a zero times NaN or ∞ is NaN, so a diverged run (a readout
  // gone to NaN, say) spreads NaN where a skipped zero term would not. The kernels skip zero
  // terms for speed only while the other factor is finite:
  //   fb_finite: the feedback (m, Bt, P, D) is finite; set by build_feedback;
  //   wih_finite: W_ih is finite (set by the engine; it never changes);
  //   whh: W_hh's state across epochs (see WhhState).
  bool fb_finite, wih_finite;
  // Set by build_feedback for spk with a rank applied as factors: (u@B_R)@B_Rᵀ is u@D only
  // while D = B_R B_Rᵀ is finite; past that (B not finite, or D near the type's largest
  // value) the engine gives D memory and builds the feedback again, as SPEC has it.
  bool wants_D;
  WhhState* whh;
  // Null, or set from another thread to end the target run or the D product early: the engine
  // then fails the call (GOAL_ABORTED), and the partial result is never used.
  const std::atomic<bool>* stop;
  F *W_ih, *W_hh, *W_ho, *W_trg, *targ, *clock;
  F *r_targ, *Bt, *P, *D;  // D null unless the dense feedback is cheaper
  uint8_t *Z_targ, *Z;
  // Scratch. N each: v z h e q c g u xin; R: a; readout (transposed, so that its
  // loops run unit-stride): O×N grad, O×T err, N×readout_tile(T) rT = rᵀ by tiles of steps.
  F *v, *z, *h, *e, *q, *c, *g, *u, *xin, *a, *grad, *err, *rT;
};

template <typename F>
bool stopping(const NetView<F>& n) {
  return n.stop && n.stop->load(std::memory_order_relaxed);
}

// Steps of r*ᵀ the readout holds at once: all of them up to 512 (transposed once per call),
// tiles of 512 beyond, so that a long T costs no second T×N array.
inline int64_t readout_tile(int64_t T) { return T < 512 ? T : 512; }

template <typename F>
struct Kernels {
  // Returns the smallest |v' − thr| met.
  double (*target_run)(const NetView<F>&);
  void (*readout_epochs)(const NetView<F>&, int64_t n, double* mse);
  double (*readout_mse)(const NetView<F>&);
  // Fills Bt (and P for out, m for LTTS) from the standard normals g.
  void (*build_feedback)(NetView<F>&, const double* noise);
  // One recurrent epoch; returns the smallest |v' − thr| met.
  double (*recurrent_epoch)(const NetView<F>&, double* mse_rec, double* dz);
  void (*feedback_matrix)(const NetView<F>&, double* D);  // D = B_R B_Rᵀ or m·I (N×N)
};

#define GOAL_DECLARE_ISA(ns)                  \
  namespace ns {                              \
  const Kernels<float>* kernels_f32();        \
  const Kernels<double>* kernels_f64();       \
  }
GOAL_DECLARE_ISA(isa_base)
GOAL_DECLARE_ISA(isa_avx2)
GOAL_DECLARE_ISA(isa_avx512)
#undef GOAL_DECLARE_ISA

}  // namespace goal
