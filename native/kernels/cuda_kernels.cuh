// CUDA kernels of SPEC.md "Training" for many networks per launch: the target run, readout
// epochs, feedback construction and recurrent epochs (the T-step loop inside the kernel, and
// any number of epochs per launch). cuda_engine.cu plans and launches them.
//
// cpu_kernels.cpp is the reference: every equation here is the same sequence of float
// operations (built with --fmad=false, like the CPU's -ffp-contract=off). On the block path
// every sum also runs in the CPU's order and exp is goal_math.h's own (no libm), so a network
// is expected to match the CPU engine bit for bit.
//
// Shapes (row-major, SPEC orientation): W_ih I×N, W_hh N×N, W_ho N×O, W_trg O×N, targ T×O,
// clock (T−1)×I, r_targ T×N, Bt R×N (B_R transposed), P T×R (out: Y*), D N×pitch (spk with
// 2R > N: B_R B_Rᵀ, symmetric, so row i is also column i), Q T×N (the online readout filter q
// after every step), err T×O, Z_targ/Z T×N bytes; WT N×pitch is W_hh transposed (row i holds
// column i of W_hh); xs/xh/xu are 2×NP (NP = N rounded up to 32).
//
// Two paths, chosen by N and dtype only, so a network's arithmetic never depends on the batch
// it runs in or on the size of the GPU:
//  - block path (N ≤ block_max_n): one block per network; thread i owns unit i and column i of
//    W_hh, kept transposed in shared memory so a thread streams its column with 16-byte loads
//    (and row i of D, the same numbers as column i). c_i = Σ_j h_j W[j,i] is summed in the
//    CPU's order j = 0..N−1, fused with the update. One barrier per step (two with a factored
//    rank-R feedback: a = u@B_R, then g = a@B_Rᵀ).
//  - grid path (larger N): one cooperative grid for all networks of the launch. A network is cut
//    into tiles of 32 columns (one warp wide); a block owns one or more tiles, in shared memory
//    when they fit. Sums over rows run in 8 fixed ranges (one per warp) added in order, so the
//    result does not depend on how tiles map to blocks. One grid-wide barrier per step (two
//    with a factored rank-R feedback, whose a = u@B_R needs a reduction across tiles).
#pragma once

#include <cstdint>

#if defined(GOAL_CUDA_EMU)
#include "cuda_emu.cuh"
#else
#include <cooperative_groups.h>
#include <cuda_runtime.h>
#endif

#include "goal_math.h"

namespace goal {
namespace gpu {

constexpr int kWarp = 32;
constexpr unsigned kAll = 0xffffffffu;   // every lane of a warp
constexpr int kBlockMaxThreads = 256;    // block path: ceil32(N) threads, at most this many
constexpr int kGridThreads = 256;        // grid path: 8 warps per block
constexpr int kGridWarps = kGridThreads / kWarp;
constexpr int kTile = 32;                // grid path: columns per tile, one per lane
constexpr int kAuxThreads = 256;         // readout, feedback and D kernels

// The block path holds a network in one block: W_hh transposed fits an H100/H200 block's
// 227 KB of shared memory up to these sizes (with room for the vectors).
template <typename F>
constexpr int block_max_n() { return sizeof(F) == 4 ? 224 : 160; }

__host__ __device__ inline int imin(int a, int b) { return a < b ? a : b; }
__host__ __device__ inline int ceil_to(int x, int m) { return (x + m - 1) / m * m; }
__host__ __device__ inline size_t align16(size_t x) { return (x + 15) & ~size_t(15); }

// Non-negative floats order like their bit patterns: the running min |v' − thr| of a network
// is kept as bits so blocks can merge theirs with an integer atomicMin.
template <typename F>
struct Ordered;
template <>
struct Ordered<float> {
  using type = unsigned int;  // atomicMin's
  static GOAL_HD type bits(float x) { return bits_of(x); }
  static GOAL_HD float value(type b) { return from_bits(uint32_t(b)); }
};
template <>
struct Ordered<double> {
  using type = unsigned long long;  // atomicMin's (uint64_t is unsigned long)
  static GOAL_HD type bits(double x) { return type(bits_of(x)); }
  static GOAL_HD double value(type b) { return from_bits(uint64_t(b)); }
};

// One network in device memory: sizes, constants (cast to F on the host, as the CPU engine
// does) and named views into the batch's single allocation.
template <typename F>
struct DevNet {
  int N, I, O, T, R;
  int out_feedback;  // SPEC "out": a = Y*_{t+1} − q@B; else spk: a = (r*_{t+1} − q)@B
  int dense;         // spk with 2R > N: g = (u@D) ⊙ σ'(v') (cpu learning_signal)
  int pitch;         // row pitch of WT and D
  F a_m, b_m, a_s, b_s, a_o, b_o;
  F v_init, bias, reset, thr, rec_lr, out_lr;
  F *W_ih, *W_hh, *W_ho, *W_trg, *targ, *clock;
  F *r_targ, *Bt, *P, *D, *Q, *err;
  F* xin;  // (T−1)×N: x_t@W_ih, the clock's input, the same in every epoch (block path)
  F* m;  // LTTS: D = m·Identity
  F* s;  // the feedback's scale 2·std(W_ho), between the feedback kernels
  typename Ordered<F>::type* margin;
  uint8_t *Z_targ, *Z;
  F* WT;  // block path, when W_hh does not fit on chip: the transposed copy, N×pitch
  // Grid path: unit state between phases (N each), what blocks exchange every step, sums.
  F *v, *z, *h, *e, *q, *c, *g;
  F *xs, *xh, *xu;         // 2×NP: s_j = rec_lr·e_j, h_j and u_j of the step, by step parity
  unsigned *mask, *umask;  // 2×ntiles: which of a tile's 32 rows have s ≠ 0 and h ≠ 0; u ≠ 0
  F *part, *a;           // ntiles×R partial dots u@B_R per tile, and a (R)
  unsigned long long* dz;  // 2 spike-mismatch counters, by epoch parity
  double* rows;          // N: LTTS feedback scratch (Σ_j B_ij² per row)
};

// ---------------------------------------------------------------------------------------
// Shared-memory layouts, computed identically on the host (to size the launch) and device.

// Elements per 16-byte vector.
template <typename F>
__host__ __device__ inline int vec_n() { return 16 / int(sizeof(F)); }

// Row pitch of WT: a whole number of 16-byte vectors, and an odd one, so the 8 threads of a
// quarter-warp that load a 16-byte vector each from consecutive rows hit 8 distinct bank
// quadruples (no bank conflicts).
template <typename F>
__host__ __device__ inline int wt_pitch(int N) {
  const int V = vec_n<F>();
  int p = ceil_to(N, V);
  if ((p / V) % 2 == 0) p += V;
  return p;
}

// Scratch of block_reduce(): per warp an int count and an F minimum.
__host__ __device__ inline size_t red_bytes(int NW) { return align16(size_t(NW) * 16); }

// Elements of the feedback kept per network: Bt R×N, or D N×pitch.
__host__ __device__ inline size_t feedback_elems(int N, int R, bool out, int pitch) {
  if (R == 0) return 0;
  return dense_feedback(N, R, out) ? size_t(N) * size_t(pitch) : size_t(R) * size_t(N);
}

struct BlockLayout {
  size_t WT, fb, xs, xh, u, a, mask, umask, red, bytes;
};

// Block path (recurrent epochs): WT N×pitch and the feedback (Bt or D, fb_elems) when on chip,
// xs, xh and u 2×NP, a Rmax, mask and umask 2×NW, red.
__host__ __device__ inline BlockLayout block_layout(int N, int pitch, size_t fb_elems, int Rmax, bool w_on_chip,
                                                    bool fb_on_chip, size_t f) {
  const int NP = ceil_to(N, kWarp), NW = NP / kWarp;
  BlockLayout L{};
  size_t o = 0;
  L.WT = o;
  if (w_on_chip) o = align16(o + size_t(N) * size_t(pitch) * f);
  L.fb = o;
  if (fb_on_chip) o = align16(o + fb_elems * f);
  L.xs = o;
  o = align16(o + 2 * size_t(NP) * f);
  L.xh = o;
  o = align16(o + 2 * size_t(NP) * f);
  L.u = o;
  o = align16(o + 2 * size_t(NP) * f);
  L.a = o;
  o = align16(o + size_t(Rmax > 0 ? Rmax : 1) * f);
  L.mask = o;
  o = align16(o + 2 * size_t(NW) * sizeof(unsigned));
  L.umask = o;
  o = align16(o + 2 * size_t(NW) * sizeof(unsigned));
  L.red = o;
  o += red_bytes(NW);
  L.bytes = o;
  return L;
}

struct TargetLayout {
  size_t xh, mask, red, bytes;
};

// Block path (target run): xh 2×NP, mask 2×NW, red.
__host__ __device__ inline TargetLayout target_layout(int N, size_t f) {
  const int NP = ceil_to(N, kWarp), NW = NP / kWarp;
  TargetLayout L{};
  L.xh = 0;
  L.mask = align16(2 * size_t(NP) * f);
  L.red = L.mask + align16(2 * size_t(NW) * sizeof(unsigned));
  L.bytes = L.red + red_bytes(NW);
  return L;
}

struct GridLayout {
  size_t W, cpart, gpart, gt, ut, bytes;
};

// Grid path: ipb tiles of N×32 (when on chip), then per-warp partial sums of c and g (8×32),
// g and u of the current tile (32 each).
__host__ __device__ inline GridLayout grid_layout(int N, int ipb, bool w_on_chip, size_t f) {
  GridLayout L{};
  size_t o = 0;
  L.W = o;
  if (w_on_chip) o = align16(o + size_t(ipb) * size_t(N) * kTile * f);
  L.cpart = o;
  o = align16(o + size_t(kGridWarps) * kTile * f);
  L.gpart = o;
  o = align16(o + size_t(kGridWarps) * kTile * f);
  L.gt = o;
  o = align16(o + size_t(kTile) * f);
  L.ut = o;
  o = align16(o + size_t(kTile) * f);
  L.bytes = o;
  return L;
}

// Readout kernel: err T×O, W_ho N×O and r* T×N each in shared memory when `place` says so.
struct ReadoutLayout {
  size_t err, W_ho, r, bytes;
};
enum ReadoutPlace : int { kErrOnChip = 1, kWhoOnChip = 2, kROnChip = 4 };

__host__ __device__ inline ReadoutLayout readout_layout(int N, int O, int T, int place, size_t f) {
  ReadoutLayout L{};
  size_t o = 0;
  L.err = o;
  if (place & kErrOnChip) o = align16(o + size_t(T) * size_t(O) * f);
  L.W_ho = o;
  if (place & kWhoOnChip) o = align16(o + size_t(N) * size_t(O) * f);
  L.r = o;
  if (place & kROnChip) o = align16(o + size_t(T) * size_t(N) * f);
  L.bytes = o;
  return L;
}

// ---------------------------------------------------------------------------------------
// Device helpers.

#if !defined(GOAL_CUDA_EMU)
extern __shared__ __align__(16) unsigned char goal_smem[];
__device__ __forceinline__ unsigned char* smem_base() { return goal_smem; }
// Needs a cooperative launch; grid.sync() orders global memory across the whole grid.
__device__ __forceinline__ void grid_sync() { cooperative_groups::this_grid().sync(); }
#define GOAL_CHECK_ALIGNED(p) ((void)0)
#endif

// 16-byte loads and stores of consecutive elements (p 16-byte aligned), into x[0..V).
__device__ __forceinline__ void ldv(const float* p, float* x) {
  GOAL_CHECK_ALIGNED(p);
  const float4 t = *reinterpret_cast<const float4*>(p);
  x[0] = t.x;
  x[1] = t.y;
  x[2] = t.z;
  x[3] = t.w;
}
__device__ __forceinline__ void ldv(const double* p, double* x) {
  GOAL_CHECK_ALIGNED(p);
  const double2 t = *reinterpret_cast<const double2*>(p);
  x[0] = t.x;
  x[1] = t.y;
}
__device__ __forceinline__ void stv(float* p, const float* x) {
  GOAL_CHECK_ALIGNED(p);
  *reinterpret_cast<float4*>(p) = make_float4(x[0], x[1], x[2], x[3]);
}
__device__ __forceinline__ void stv(double* p, const double* x) {
  GOAL_CHECK_ALIGNED(p);
  *reinterpret_cast<double2*>(p) = make_double2(x[0], x[1]);
}

template <typename F>
__device__ __forceinline__ F min_ignoring_nan(F a, F b) { return b < a ? b : a; }

// Rows j0..j0+31 ∩ [0, N): how many, and whether `ballot` (bit l for row j0 + l) holds for all.
__device__ __forceinline__ int group_rows(int j0, int N) { return imin(kWarp, N - j0); }
__device__ __forceinline__ bool all_rows(unsigned ballot, int rows) {
  const unsigned valid = rows == kWarp ? kAll : (1u << rows) - 1u;
  return (ballot & valid) == valid;
}

// Sums over rows j of a column of W_hh or D weighted by a vector of the step (h', u or s), in the
// CPU's order j = 0, 1, …, with the CPU's skip of rows whose weight is 0 (silent units). A ballot
// per 32-row group (bit l for row j0 + l) lets a group with no zero run without branches.
//
// The helpers over a group [j0, j1) take the column from row j0 on, w[(j − j0)·stride] being
// row j: the kernels address a group from its first row, and these are inlined into them.

// acc + Σ x_j·w[(j − j0)·stride] over j in [j0, j1) with x_j ≠ 0.
template <typename F>
__device__ __forceinline__ F sum_nonzero(F acc, const F* x, const F* w, int64_t stride, int j0, int j1) {
  for (int j = j0; j < j1; ++j) {
    const F xj = x[j];
    if (xj != F(0)) acc = acc + xj * w[int64_t(j - j0) * stride];
  }
  return acc;
}

// Σ x_j·col[j·stride] over j in [j_lo, j_hi) with x_j ≠ 0; j_lo is a multiple of 32 and x 16-byte
// aligned. Only a whole group can be kAll (rows past the end have their bit 0), so the unrolled
// path needs no bound.
template <typename F>
__device__ __forceinline__ F masked_col_sum(const F* x, const unsigned* mask, const F* col, int64_t stride, int j_lo,
                                            int j_hi) {
  constexpr int V = 16 / int(sizeof(F));
  F acc = F(0);
  for (int j0 = j_lo; j0 < j_hi; j0 += kWarp) {
    const F* cp = col + int64_t(j0) * stride;
    if (mask[j0 / kWarp] == kAll) {
#pragma unroll
      for (int jj = 0; jj < kWarp; jj += V) {
        F xv[V];
        ldv(x + j0 + jj, xv);
#pragma unroll
        for (int k = 0; k < V; ++k) acc = acc + xv[k] * cp[int64_t(jj + k) * stride];
      }
    } else {
      acc = sum_nonzero(acc, x, cp, stride, j0, imin(j0 + kWarp, j_hi));
    }
  }
  return acc;
}

// W[j,i] += s_j·g_i, then acc + Σ h_j·W[j,i] with the updated weight (cpu update_and_project),
// over j in [j0, j1), W[j,i] = w[(j − j0)·stride]: a row with s_j = 0 keeps its weight, one with
// h_j = 0 adds nothing.
template <typename F>
__device__ __forceinline__ F update_sum_nonzero(F acc, const F* s, const F* h, F* w, int64_t stride, F g, int j0,
                                                int j1) {
  for (int j = j0; j < j1; ++j) {
    const F sj = s[j], hj = h[j];
    if (sj != F(0)) {
      const F x = w[int64_t(j - j0) * stride] + sj * g;
      w[int64_t(j - j0) * stride] = x;
      if (hj != F(0)) acc = acc + hj * x;
    } else if (hj != F(0)) {
      acc = acc + hj * w[int64_t(j - j0) * stride];
    }
  }
  return acc;
}

// The block path's group helpers: rows [j0, j0 + rows) of one 32-row group, read with 16-byte
// vectors (every array 16-byte aligned at j0). With kSkip a zero term is skipped as the CPU skips it,
// by a select rather than a branch: bit for bit the same (no 0·∞, no −0 + 0), and the group
// keeps its vector loads when a few of its units are silent, as most groups have some.

// acc + Σ u_j·d[j] (cpu: rows with u_j = 0 skipped).
template <typename F, bool kSkip>
__device__ __forceinline__ F dot_group(F acc, const F* u, const F* d, int j0, int rows) {
  constexpr int V = 16 / int(sizeof(F));
  const int vrows = rows / V * V;
#pragma unroll
  for (int jj = 0; jj < kWarp; jj += V) {
    if (jj < vrows) {
      F uv[V], dv[V];
      ldv(u + j0 + jj, uv);
      ldv(d + j0 + jj, dv);
#pragma unroll
      for (int k = 0; k < V; ++k) acc = (!kSkip || uv[k] != F(0)) ? acc + uv[k] * dv[k] : acc;
    }
  }
  for (int j = j0 + vrows; j < j0 + rows; ++j) {
    const F uj = u[j];
    acc = (!kSkip || uj != F(0)) ? acc + uj * d[j] : acc;
  }
  return acc;
}

// W[j,i] += s_j·g_i, then acc + Σ h_j·W[j,i] with the updated weight (cpu update_and_project),
// w[j] being W[j,i]: a row with s_j = 0 keeps its weight, one with h_j = 0 adds nothing. Loads
// of 8 rows come before their stores (the compiler cannot tell w from s and h apart).
template <typename F, bool kSkip>
__device__ __forceinline__ F update_group(F acc, const F* s, const F* h, F* w, F g, int j0, int rows) {
  constexpr int V = 16 / int(sizeof(F));
  const int rows8 = rows / 8 * 8;
#pragma unroll
  for (int jb = 0; jb < kWarp; jb += 8) {
    if (jb < rows8) {
      const int j = j0 + jb;
      F sv[8], hv[8], wv[8];
#pragma unroll
      for (int x = 0; x < 8; x += V) {
        ldv(s + j + x, sv + x);
        ldv(h + j + x, hv + x);
        ldv(w + j + x, wv + x);
      }
#pragma unroll
      for (int k = 0; k < 8; ++k) {
        const F x = (!kSkip || sv[k] != F(0)) ? wv[k] + sv[k] * g : wv[k];
        wv[k] = x;
        acc = (!kSkip || hv[k] != F(0)) ? acc + hv[k] * x : acc;
      }
#pragma unroll
      for (int x = 0; x < 8; x += V) stv(w + j + x, wv + x);
    }
  }
  for (int j = j0 + rows8; j < j0 + rows; ++j) {
    const F sj = s[j], hj = h[j];
    const F x = (!kSkip || sj != F(0)) ? w[j] + sj * g : w[j];
    w[j] = x;
    acc = (!kSkip || hj != F(0)) ? acc + hj * x : acc;
  }
  return acc;
}

// Σ over the 32 lanes in a fixed tree; the total lands in lane 0.
template <typename T>
__device__ __forceinline__ T warp_sum(T x) {
  for (int w = kWarp / 2; w > 0; w /= 2) x = x + __shfl_down_sync(kAll, x, w);
  return x;
}

template <typename F>
__device__ __forceinline__ F warp_min(F x) {
  for (int w = kWarp / 2; w > 0; w /= 2) x = min_ignoring_nan(x, __shfl_down_sync(kAll, x, w));
  return x;
}

// x_t@W_ih for unit i (cpu integrate(): inputs at 0 skipped).
template <typename F>
__device__ __forceinline__ F clock_input(const DevNet<F>& n, int t, int i) {
  const F* x = n.clock + int64_t(t) * n.I;
  F xin = F(0);
  for (int k = 0; k < n.I; ++k) {
    const F xk = x[k];
    if (xk != F(0)) xin = xin + xk * n.W_ih[int64_t(k) * n.N + i];
  }
  return xin;
}

// x@W_ih + c + bias (+ d with the drive) for unit i at step t, as cpu integrate() sums it.
template <typename F, bool kDrive>
__device__ __forceinline__ F input_current(const DevNet<F>& n, int t, int i, F c, F d) {
  F in = clock_input(n, t, i) + c + n.bias;
  if (kDrive) in = in + d;
  return in;
}

// v', z' of one unit (SPEC "One step") and the running minimum of |v' − thr|.
template <typename F>
__device__ __forceinline__ void step_unit(const DevNet<F>& n, F input, F& v, F& z, F& margin) {
  v = membrane(n.a_m, n.b_m, v, input, n.reset, z);
  z = spike(v, n.thr);
  const F mg = margin_to(v, n.thr);
  margin = mg < margin ? mg : margin;
}

// mse numerator as the CPU's readout_error() groups it: Σ_t (Σ_o err²).
template <typename F>
__device__ double rows_se(const F* err, int T, int O) {
  double se = 0;
  for (int t = 0; t < T; ++t) {
    double row = 0;
    for (int o = 0; o < O; ++o) {
      const double d = double(err[int64_t(t) * O + o]);
      row += d * d;
    }
    se += row;
  }
  return se;
}

// y_t = r_t@W_ho without silent units, err = y*_t − y_t for (t, o) = task (the CPU's
// readout_forward, then readout_error).
template <typename F>
__device__ __forceinline__ F readout_err(const F* r_row, const F* W_ho, F targ, int N, int O, int o) {
  F y = F(0);
  for (int j = 0; j < N; ++j) {
    const F rj = r_row[j];
    if (rj != F(0)) y = y + rj * W_ho[int64_t(j) * O + o];
  }
  return targ - y;
}

template <typename F>
__device__ __forceinline__ void merge_margin(const DevNet<F>& n, F margin) {
  atomicMin(n.margin, Ordered<F>::bits(margin));
}

// Sums `count` (an int per thread) and takes the minimum of `margin` over the block; thread 0
// gets both. `red` is red_bytes(NW) of shared memory. Begins and ends with a barrier.
template <typename F>
__device__ void block_reduce(unsigned char* red, int count, F margin, int64_t& total, F& min_margin) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp, NW = blockDim.x / kWarp;
  int* counts = reinterpret_cast<int*>(red);
  F* minima = reinterpret_cast<F*>(red + 8 * size_t(NW));
  const int c = warp_sum(count);
  const F m = warp_min(margin);
  __syncthreads();
  if (lane == 0) {
    counts[warp] = c;
    minima[warp] = m;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    total = 0;
    min_margin = F(INFINITY);
    for (int w = 0; w < NW; ++w) {
      total += counts[w];
      min_margin = min_ignoring_nan(min_margin, minima[w]);
    }
  }
  __syncthreads();
}

// ---------------------------------------------------------------------------------------
// Block path: one block of ceil32(N) threads per network; ids[blockIdx.x] picks the network.

// SPEC "Training" 1: Z* = run(x, d), r* = filter(Z*) (cpu target_run). W_hh is read from
// global memory (row-major, one pass per step): this runs once per training.
template <typename F>
__global__ void __launch_bounds__(kBlockMaxThreads, 1)
    block_target(const DevNet<F>* __restrict__ nets, const int* __restrict__ ids) {
  const DevNet<F>& n = nets[ids[blockIdx.x]];
  const int N = n.N, T = n.T, O = n.O;
  const int i = threadIdx.x, NT = blockDim.x, NW = NT / kWarp, lane = i % kWarp, warp = i / kWarp;
  const bool own = i < N;
  const TargetLayout L = target_layout(N, sizeof(F));
  unsigned char* sm = smem_base();
  F* xh = reinterpret_cast<F*>(sm + L.xh);
  unsigned* mask = reinterpret_cast<unsigned*>(sm + L.mask);
  unsigned char* red = sm + L.red;

  F v = n.v_init, z = F(0), h = F(0), r = F(0), margin = F(INFINITY);
  if (own) {
    n.Z_targ[i] = 0;
    r = trace(n.a_o, n.b_o, F(0), z);  // r*_0 = (1 − a_o) Z*_0
    n.r_targ[i] = r;
  }
  for (int t = 0; t + 1 < T; ++t) {
    F* xh_b = xh + (t & 1) * NT;
    unsigned* mask_b = mask + (t & 1) * NW;
    bool nz = false;
    if (own) {
      h = trace(n.a_s, n.b_s, h, z);
      xh_b[i] = h;
      nz = h != F(0);
    }
    const unsigned ball = __ballot_sync(kAll, nz);
    if (lane == 0) mask_b[warp] = ball;
    __syncthreads();
    if (own) {
      // c = h'@W_hh, skipping silent presynaptic units (cpu project()).
      const F c = masked_col_sum(xh_b, mask_b, n.W_hh + i, N, 0, N);
      F d = F(0);
      for (int o = 0; o < O; ++o) d = d + n.targ[int64_t(t) * O + o] * n.W_trg[int64_t(o) * N + i];
      step_unit(n, input_current<F, true>(n, t, i, c, d), v, z, margin);
      n.Z_targ[int64_t(t + 1) * N + i] = z != F(0);
      r = trace(n.a_o, n.b_o, r, z);
      n.r_targ[int64_t(t + 1) * N + i] = r;
    }
  }
  int64_t unused;
  F mn;
  block_reduce(red, 0, margin, unused, mn);
  if (i == 0) merge_margin(n, mn);
}

// SPEC "Training" 4: `epochs` recurrent epochs (cpu recurrent_epoch). mse_out and dz_out are
// K×epochs, network-major. kW / kFb: W_hh (transposed) / the feedback (Bt, or D) in shared
// memory; fb_elems and Rmax size the launch's shared memory (the largest of its networks).
template <typename F, bool kW, bool kFb>
__global__ void __launch_bounds__(kBlockMaxThreads, 1)
    block_recurrent(const DevNet<F>* __restrict__ nets, const int* __restrict__ ids, int epochs, int64_t fb_elems,
                    int Rmax, double* __restrict__ mse_out, double* __restrict__ dz_out) {
  const int k = ids[blockIdx.x];
  const DevNet<F>& n = nets[k];
  const int N = n.N, T = n.T, O = n.O, R = n.R, pitch = n.pitch;
  const bool dense = n.dense != 0;
  const int i = threadIdx.x, NT = blockDim.x, NW = NT / kWarp, lane = i % kWarp, warp = i / kWarp;
  const bool own = i < N;
  const BlockLayout L = block_layout(N, pitch, size_t(fb_elems), Rmax, kW, kFb, sizeof(F));
  unsigned char* sm = smem_base();
  F* WT = kW ? reinterpret_cast<F*>(sm + L.WT) : n.WT;
  F* fb = kFb ? reinterpret_cast<F*>(sm + L.fb) : (dense ? n.D : n.Bt);  // Bt R×N, or D N×pitch
  F* xs = reinterpret_cast<F*>(sm + L.xs);
  F* xh = reinterpret_cast<F*>(sm + L.xh);
  F* u = reinterpret_cast<F*>(sm + L.u);
  F* a = reinterpret_cast<F*>(sm + L.a);
  unsigned* mask = reinterpret_cast<unsigned*>(sm + L.mask);
  unsigned* umask = reinterpret_cast<unsigned*>(sm + L.umask);
  unsigned char* red = sm + L.red;

  for (int idx = i; idx < N * N; idx += NT) {
    const int j = idx / N, col = idx - j * N;
    WT[int64_t(col) * pitch + j] = n.W_hh[idx];
  }
  if (kFb && R > 0) {
    const F* src = dense ? n.D : n.Bt;
    const int count = dense ? N * pitch : R * N;
    for (int idx = i; idx < count; idx += NT) fb[idx] = src[idx];
  }
  for (int idx = i; idx < 2 * NT; idx += NT) xs[idx] = xh[idx] = u[idx] = F(0);
  // The clock's input once per launch, each thread its own unit's (it alone reads them): in the
  // step loop it is then one load, issued a step ahead, instead of a chain of dependent ones.
  if (own)
    for (int t = 0; t + 1 < T; ++t) n.xin[int64_t(t) * N + i] = clock_input(n, t, i);
  __syncthreads();

  const F m = R == 0 ? *n.m : F(0);
  F margin = F(INFINITY);
  F* w = WT + int64_t(i) * pitch;  // this thread's column of W_hh
  for (int ep = 0; ep < epochs; ++ep) {
    F v = n.v_init, z = F(0), h = F(0), e = F(0), q = F(0), c = F(0);
    int diff = 0;
    F rt_next = F(0), xt_next = F(0);
    uint8_t zt_next = 0;
    if (own) {
      // The reference zeroes the diagonal after step 0's update, which adds nothing to weights
      // step 0 does not read; zeroing it first is the same (cpu recurrent_epoch).
      w[i] = F(0);
      n.Z[i] = 0;
      diff += n.Z_targ[i] != 0;
      n.Q[i] = q;  // r_0 = (1 − a_o) Z_0 = q at the start
      rt_next = n.r_targ[N + i];
      zt_next = n.Z_targ[N + i];
      xt_next = n.xin[i];
    }
    h = trace(n.a_s, n.b_s, h, z);
    e = trace(n.a_m, n.b_m, e, h);
    for (int t = 0; t + 1 < T; ++t) {
      const bool last = t + 2 == T;
      // Double-buffered by step parity: one barrier per step suffices (two with factors).
      F* xs_b = xs + (t & 1) * NT;
      F* xh_b = xh + (t & 1) * NT;
      F* u_b = u + (t & 1) * NT;
      unsigned* mask_b = mask + (t & 1) * NW;
      unsigned* umask_b = umask + (t & 1) * NW;
      const F rt = rt_next, xt = xt_next;
      const uint8_t zt = zt_next;
      F g = F(0);
      bool full = false, unz = false;
      if (own) {
        if (!last) {  // next step's r*, Z* and clock input, fetched a step ahead
          rt_next = n.r_targ[int64_t(t + 2) * N + i];
          zt_next = n.Z_targ[int64_t(t + 2) * N + i];
          xt_next = n.xin[int64_t(t + 1) * N + i];
        }
        step_unit(n, xt + c + n.bias, v, z, margin);  // input_current()'s sum
        const uint8_t zb = z != F(0);
        n.Z[int64_t(t + 1) * N + i] = zb;
        diff += zb != zt;
        q = trace(n.a_o, n.b_o, q, z);
        n.Q[int64_t(t + 1) * N + i] = q;
        if (R == 0) {
          g = ltts_signal(m, rt, q, v);
        } else {
          const F ui = n.out_feedback ? q : rt - q;
          u_b[i] = ui;
          unz = ui != F(0);
        }
        if (!last) h = trace(n.a_s, n.b_s, h, z);  // h' of step t+1
        const F s = n.rec_lr * e, hx = last ? F(0) : h;
        xs_b[i] = s;
        xh_b[i] = hx;
        full = s != F(0) && hx != F(0);
      }
      const unsigned ball = __ballot_sync(kAll, full), uball = __ballot_sync(kAll, unz);
      if (lane == 0) {
        mask_b[warp] = ball;
        umask_b[warp] = uball;
      }
      __syncthreads();
      if (R > 0 && dense) {
        // g_i = Σ_j u_j D[j,i] over units with u_j ≠ 0, in order (D symmetric: row i).
        if (own) {
          const F* d = fb + int64_t(i) * pitch;
          F gg = F(0);
          for (int j0 = 0; j0 < N; j0 += kWarp) {
            const int rows = group_rows(j0, N);
            gg = all_rows(umask_b[j0 / kWarp], rows) ? dot_group<F, false>(gg, u_b, d, j0, rows)
                                                     : dot_group<F, true>(gg, u_b, d, j0, rows);
          }
          g = gg * sigmoid_prime(v);
        }
      } else if (R > 0) {
        // a_r = u·B_r as dot(): kDotLanes threads per r, thread l summing j ≡ l (mod
        // kDotLanes) in order, folded by the same tree; then g = (a@Bt) ⊙ σ'(v').
        const int lane = i % kDotLanes, per_pass = NT / kDotLanes;
        for (int r0 = 0; r0 < R; r0 += per_pass) {
          const int r = r0 + i / kDotLanes;
          F acc = F(0);
          if (r < R) {
            const F* b = fb + int64_t(r) * N;
            for (int j = lane; j < N; j += kDotLanes) acc = acc + u_b[j] * b[j];
          }
#pragma unroll
          for (int wd = kDotLanes / 2; wd > 0; wd /= 2) acc = acc + __shfl_down_sync(kAll, acc, wd, kDotLanes);
          if (lane == 0 && r < R) a[r] = n.out_feedback ? n.P[int64_t(t + 1) * R + r] - acc : acc;
        }
        __syncthreads();
        if (own) {
          F gg = F(0);
          for (int r = 0; r < R; ++r) gg = gg + a[r] * fb[int64_t(r) * N + i];
          g = gg * sigmoid_prime(v);
        }
      }
      if (own) {
        // W[j,i] += rec_lr·e_j·g_i and c_i = Σ_j h_j W[j,i] (cpu update_and_project), rows in
        // order. The diagonal is preset to −(s·g) so the row's update leaves it at exactly +0.
        const F si = xs_b[i];
        if (si != F(0)) w[i] = -(si * g);
        F cc = F(0);
        for (int j0 = 0; j0 < N; j0 += kWarp) {
          const int rows = group_rows(j0, N);
          cc = all_rows(mask_b[j0 / kWarp], rows) ? update_group<F, false>(cc, xs_b, xh_b, w, g, j0, rows)
                                                  : update_group<F, true>(cc, xs_b, xh_b, w, g, j0, rows);
        }
        if (!last) {
          c = cc;
          e = trace(n.a_m, n.b_m, e, h);  // e' of step t+1
        }
      }
    }
    // mse_rec = mean((y* − filter(Z)@W_ho)²) from the stored q rows; dz = Σ|Z* − Z|.
    __syncthreads();
    for (int64_t task = i; task < int64_t(T) * O; task += NT) {
      const int t = int(task / O), o = int(task - int64_t(t) * O);
      n.err[task] = readout_err(n.Q + int64_t(t) * N, n.W_ho, n.targ[task], N, O, o);
    }
    int64_t total;
    F unused;
    block_reduce(red, diff, F(INFINITY), total, unused);
    if (i == 0) {
      mse_out[int64_t(k) * epochs + ep] = mean_square<F>(rows_se(n.err, T, O), int64_t(T) * O);
      dz_out[int64_t(k) * epochs + ep] = double(total);
    }
  }
  int64_t unused;
  F mn;
  block_reduce(red, 0, margin, unused, mn);
  if (i == 0) merge_margin(n, mn);
  for (int idx = i; idx < N * N; idx += NT) {
    const int j = idx / N, col = idx - j * N;
    n.W_hh[idx] = WT[int64_t(col) * pitch + j];
  }
}

// ---------------------------------------------------------------------------------------
// Grid path: cooperative launch of G blocks of 256 threads over nnets·ntiles items (network,
// tile); block b owns items b, b+G, … (ipb at most), its tiles in shared memory when kW.

struct Item {
  int net, tile;
};

__device__ __forceinline__ Item item_at(const int* ids, int it, int ntiles) {
  return Item{ids[it / ntiles], it % ntiles};
}

// Rows [lo, hi) of warp `warp` when N rows are split into 8 ranges of whole 32-row groups.
__device__ __forceinline__ void warp_rows(int N, int warp, int& lo, int& hi) {
  const int per = ceil_to((N + kGridWarps - 1) / kGridWarps, kWarp);
  lo = imin(N, warp * per);
  hi = imin(N, lo + per);
}

template <typename F, bool kW>
__device__ __forceinline__ F* tile_ptr(const GridLayout& L, int slot, const DevNet<F>& n, int tile) {
  return kW ? reinterpret_cast<F*>(smem_base() + L.W) + int64_t(slot) * n.N * kTile
            : n.W_hh + int64_t(tile) * kTile;
}

// Copies the block's tiles of W_hh into shared memory (kW) and back.
template <typename F, bool kW, bool kOut>
__device__ void grid_tiles_copy(const DevNet<F>* nets, const int* ids, int nitems, int ntiles, int ipb,
                                const GridLayout& L) {
  if constexpr (kW) {
    __syncthreads();
    for (int s = 0; s < ipb; ++s) {
      const int it = blockIdx.x + s * gridDim.x;
      if (it >= nitems) break;
      const Item im = item_at(ids, it, ntiles);
      const DevNet<F>& n = nets[im.net];
      F* Wt = tile_ptr<F, kW>(L, s, n, im.tile);
      for (int64_t idx = threadIdx.x; idx < int64_t(n.N) * kTile; idx += blockDim.x) {
        const int64_t j = idx / kTile;
        const int col = im.tile * kTile + int(idx % kTile);
        if (kOut) {
          if (col < n.N) n.W_hh[j * n.N + col] = Wt[idx];
        } else {
          Wt[idx] = col < n.N ? n.W_hh[j * n.N + col] : F(0);
        }
      }
    }
    __syncthreads();
  }
}

// SPEC "Training" 1 on the grid path: per step, publish h' (one barrier), then c = h'@W_hh per
// tile and the step of the tile's units.
template <typename F, bool kW>
__global__ void __launch_bounds__(kGridThreads, 2)
    grid_target(const DevNet<F>* __restrict__ nets, const int* __restrict__ ids, int nnets, int ntiles, int ipb) {
  const int tid = threadIdx.x, lane = tid % kWarp, warp = tid / kWarp;
  const int nitems = nnets * ntiles;
  const int N = nets[ids[0]].N, T = nets[ids[0]].T, NP = ceil_to(N, kWarp);
  const GridLayout L = grid_layout(N, ipb, kW, sizeof(F));
  F* cpart = reinterpret_cast<F*>(smem_base() + L.cpart);
  int j_lo, j_hi;
  warp_rows(N, warp, j_lo, j_hi);
  grid_tiles_copy<F, kW, false>(nets, ids, nitems, ntiles, ipb, L);

  for (int s = 0; s < ipb; ++s) {
    const int it = blockIdx.x + s * gridDim.x;
    if (it >= nitems) break;
    const Item im = item_at(ids, it, ntiles);
    const DevNet<F>& n = nets[im.net];
    const int col = im.tile * kTile + lane;
    if (warp == 0 && col < N) {
      n.v[col] = n.v_init;
      n.z[col] = F(0);
      n.h[col] = F(0);
      n.Z_targ[col] = 0;
      n.r_targ[col] = trace(n.a_o, n.b_o, F(0), F(0));
    }
  }
  for (int t = 0; t + 1 < T; ++t) {
    const int buf = t & 1;
    for (int s = 0; s < ipb; ++s) {
      const int it = blockIdx.x + s * gridDim.x;
      if (it >= nitems) break;
      const Item im = item_at(ids, it, ntiles);
      const DevNet<F>& n = nets[im.net];
      const int col = im.tile * kTile + lane;
      if (warp == 0) {
        bool nz = false;
        if (col < N) {
          const F h = trace(n.a_s, n.b_s, n.h[col], n.z[col]);
          n.h[col] = h;
          n.xh[int64_t(buf) * NP + col] = h;
          nz = h != F(0);
        }
        const unsigned ball = __ballot_sync(kAll, nz);
        if (lane == 0) n.mask[buf * ntiles + im.tile] = ball;
      }
    }
    grid_sync();
    for (int s = 0; s < ipb; ++s) {
      const int it = blockIdx.x + s * gridDim.x;
      if (it >= nitems) break;
      const Item im = item_at(ids, it, ntiles);
      const DevNet<F>& n = nets[im.net];
      const int col = im.tile * kTile + lane;
      const bool own = col < N;
      const F* Wt = tile_ptr<F, kW>(L, s, n, im.tile);
      const int64_t pitch = kW ? kTile : N;
      const F* xh_b = n.xh + int64_t(buf) * NP;
      const unsigned* mask_b = n.mask + buf * ntiles;
      F cc = F(0);
      if (own) cc = masked_col_sum(xh_b, mask_b, Wt + lane, pitch, j_lo, j_hi);
      cpart[warp * kTile + lane] = cc;
      __syncthreads();
      if (warp == 0) {
        F mg = F(INFINITY);
        if (own) {
          F c = F(0);
          for (int w = 0; w < kGridWarps; ++w) c = c + cpart[w * kTile + lane];
          F d = F(0);
          for (int o = 0; o < n.O; ++o) d = d + n.targ[int64_t(t) * n.O + o] * n.W_trg[int64_t(o) * N + col];
          F v = n.v[col], z = n.z[col];
          step_unit(n, input_current<F, true>(n, t, col, c, d), v, z, mg);
          n.v[col] = v;
          n.z[col] = z;
          n.Z_targ[int64_t(t + 1) * N + col] = z != F(0);
          n.r_targ[int64_t(t + 1) * N + col] = trace(n.a_o, n.b_o, n.r_targ[int64_t(t) * N + col], z);
        }
        mg = warp_min(mg);
        if (lane == 0) merge_margin(n, mg);
      }
      __syncthreads();
    }
  }
}

// SPEC "Training" 4 on the grid path. Per step: (A) each tile's units step and publish
// s = rec_lr·e and h' (and u, or with factors the tile's share of u@B_R); grid barrier;
// (B, factors only) a = Σ over tiles, grid barrier; (C) g and the fused update + projection of
// each tile's columns. Rfac: the largest R among networks with a factored feedback (0: none).
template <typename F, bool kW>
__global__ void __launch_bounds__(kGridThreads, 2)
    grid_recurrent(const DevNet<F>* __restrict__ nets, const int* __restrict__ ids, int nnets, int ntiles, int ipb,
                   int epochs, int Rfac, double* __restrict__ mse_out, double* __restrict__ dz_out) {
  const int tid = threadIdx.x, lane = tid % kWarp, warp = tid / kWarp;
  const int nitems = nnets * ntiles;
  const int N = nets[ids[0]].N, T = nets[ids[0]].T, O = nets[ids[0]].O, NP = ceil_to(N, kWarp);
  constexpr int V = 16 / int(sizeof(F));
  const GridLayout L = grid_layout(N, ipb, kW, sizeof(F));
  F* cpart = reinterpret_cast<F*>(smem_base() + L.cpart);
  F* gpart = reinterpret_cast<F*>(smem_base() + L.gpart);
  F* gt = reinterpret_cast<F*>(smem_base() + L.gt);
  F* ut = reinterpret_cast<F*>(smem_base() + L.ut);
  const int64_t gtid = int64_t(blockIdx.x) * kGridThreads + tid, gstride = int64_t(gridDim.x) * kGridThreads;
  const int64_t pitch = kW ? kTile : N;
  int j_lo, j_hi;
  warp_rows(N, warp, j_lo, j_hi);
  grid_tiles_copy<F, kW, false>(nets, ids, nitems, ntiles, ipb, L);

  for (int ep = 0; ep < epochs; ++ep) {
    const int par = ep & 1;
    for (int s = 0; s < ipb; ++s) {
      const int it = blockIdx.x + s * gridDim.x;
      if (it >= nitems) break;
      const Item im = item_at(ids, it, ntiles);
      const DevNet<F>& n = nets[im.net];
      const int col = im.tile * kTile + lane;
      if (warp == 0) {
        bool mis = false;
        if (col < N) {
          tile_ptr<F, kW>(L, s, n, im.tile)[int64_t(col) * pitch + lane] = F(0);  // diagonal
          const F z = F(0), h = trace(n.a_s, n.b_s, F(0), z);
          n.v[col] = n.v_init;
          n.z[col] = z;
          n.h[col] = h;
          n.e[col] = trace(n.a_m, n.b_m, F(0), h);
          n.q[col] = F(0);
          n.c[col] = F(0);
          n.Z[col] = 0;
          mis = n.Z_targ[col] != 0;
          n.Q[col] = F(0);
        }
        const unsigned b = __ballot_sync(kAll, mis);
        if (lane == 0 && b) atomicAdd(&n.dz[par], static_cast<unsigned long long>(__popc(b)));
      }
    }
    for (int t = 0; t + 1 < T; ++t) {
      const int buf = t & 1;
      const bool last = t + 2 == T;
      // (A)
      for (int s = 0; s < ipb; ++s) {
        const int it = blockIdx.x + s * gridDim.x;
        if (it >= nitems) break;
        const Item im = item_at(ids, it, ntiles);
        const DevNet<F>& n = nets[im.net];
        const int col = im.tile * kTile + lane;
        const bool own = col < N;
        if (warp == 0) {
          bool mis = false, full = false, unz = false;
          F mg = F(INFINITY);
          if (own) {
            F v = n.v[col], z = n.z[col], h = n.h[col], q = n.q[col];
            const F e = n.e[col];
            step_unit(n, input_current<F, false>(n, t, col, n.c[col], F(0)), v, z, mg);
            const uint8_t zb = z != F(0);
            n.Z[int64_t(t + 1) * N + col] = zb;
            mis = zb != n.Z_targ[int64_t(t + 1) * N + col];
            q = trace(n.a_o, n.b_o, q, z);
            n.Q[int64_t(t + 1) * N + col] = q;
            const F rt = n.r_targ[int64_t(t + 1) * N + col];
            if (n.R == 0) {
              n.g[col] = ltts_signal(*n.m, rt, q, v);
            } else {
              const F ui = n.out_feedback ? q : rt - q;
              if (n.dense) n.xu[int64_t(buf) * NP + col] = ui;
              else ut[lane] = ui;
              unz = ui != F(0);
            }
            if (!last) h = trace(n.a_s, n.b_s, h, z);
            const F sx = n.rec_lr * e, hx = last ? F(0) : h;
            n.xs[int64_t(buf) * NP + col] = sx;
            n.xh[int64_t(buf) * NP + col] = hx;
            full = sx != F(0) && hx != F(0);
            n.v[col] = v;
            n.z[col] = z;
            n.h[col] = h;
            n.q[col] = q;
          } else if (n.R > 0) {
            ut[lane] = F(0);
          }
          const unsigned bm = __ballot_sync(kAll, mis), bf = __ballot_sync(kAll, full);
          const unsigned bu = __ballot_sync(kAll, unz);
          mg = warp_min(mg);
          if (lane == 0) {
            n.mask[buf * ntiles + im.tile] = bf;
            if (n.dense) n.umask[buf * ntiles + im.tile] = bu;
            if (bm) atomicAdd(&n.dz[par], static_cast<unsigned long long>(__popc(bm)));
            merge_margin(n, mg);
          }
        }
        if (n.R > 0 && !n.dense) {
          __syncthreads();
          for (int r = warp; r < n.R; r += kGridWarps) {
            F p = own ? ut[lane] * n.Bt[int64_t(r) * N + col] : F(0);
            p = warp_sum(p);
            if (lane == 0) n.part[int64_t(im.tile) * n.R + r] = p;
          }
          __syncthreads();
        }
      }
      grid_sync();
      // (B)
      if (Rfac > 0) {
        for (int64_t task = gtid; task < int64_t(nnets) * Rfac; task += gstride) {
          const DevNet<F>& n = nets[ids[task / Rfac]];
          const int r = int(task % Rfac);
          if (r >= n.R || n.dense) continue;
          F acc = F(0);
          for (int tl = 0; tl < ntiles; ++tl) acc = acc + n.part[int64_t(tl) * n.R + r];
          n.a[r] = n.out_feedback ? n.P[int64_t(t + 1) * n.R + r] - acc : acc;
        }
        grid_sync();
      }
      // (C)
      for (int s = 0; s < ipb; ++s) {
        const int it = blockIdx.x + s * gridDim.x;
        if (it >= nitems) break;
        const Item im = item_at(ids, it, ntiles);
        const DevNet<F>& n = nets[im.net];
        const int col = im.tile * kTile + lane;
        const bool own = col < N;
        F* Wt = tile_ptr<F, kW>(L, s, n, im.tile);
        if (n.R > 0) {
          // g = (u@D)_col or (a@Bt)_col, then ⊙ σ'(v'); the terms in 8 ranges added in order.
          F gp = F(0);
          if (own && n.dense) {
            const F* dcol = n.D + col;  // D[j, col] = D[col, j]
            gp = masked_col_sum(n.xu + int64_t(buf) * NP, n.umask + buf * ntiles, dcol, n.pitch, j_lo, j_hi);
          } else if (own) {
            const int per = (n.R + kGridWarps - 1) / kGridWarps;
            const int r_lo = imin(n.R, warp * per), r_hi = imin(n.R, r_lo + per);
            for (int r = r_lo; r < r_hi; ++r) gp = gp + n.a[r] * n.Bt[int64_t(r) * N + col];
          }
          gpart[warp * kTile + lane] = gp;
          __syncthreads();
          if (warp == 0) {
            F gg = F(0);
            for (int w = 0; w < kGridWarps; ++w) gg = gg + gpart[w * kTile + lane];
            gt[lane] = own ? gg * sigmoid_prime(n.v[col]) : F(0);
          }
        } else if (warp == 0) {
          gt[lane] = own ? n.g[col] : F(0);
        }
        if (warp == 0 && own) {
          const F si = n.xs[int64_t(buf) * NP + col];
          if (si != F(0)) Wt[int64_t(col) * pitch + lane] = -(si * gt[lane]);
        }
        __syncthreads();
        F cc = F(0);
        if (own) {
          const F gl = gt[lane];
          const F* xs_b = n.xs + int64_t(buf) * NP;
          const F* xh_b = n.xh + int64_t(buf) * NP;
          const unsigned* mask_b = n.mask + buf * ntiles;
          for (int j0 = j_lo; j0 < j_hi; j0 += kWarp) {
            F* wp = Wt + int64_t(j0) * pitch + lane;
            if (mask_b[j0 / kWarp] == kAll) {
              // 16 rows loaded before any is stored, so their loads from L2 or HBM overlap.
              constexpr int kBatch = 16;
#pragma unroll
              for (int jb = 0; jb < kWarp; jb += kBatch) {
                F wv[kBatch];
                const F* lp = wp + int64_t(jb) * pitch;
#pragma unroll
                for (int jj = 0; jj < kBatch; ++jj, lp += pitch) wv[jj] = *lp;
#pragma unroll
                for (int jj = 0; jj < kBatch; jj += V) {
                  F sv[V], hv[V];
                  ldv(xs_b + j0 + jb + jj, sv);
                  ldv(xh_b + j0 + jb + jj, hv);
#pragma unroll
                  for (int kk = 0; kk < V; ++kk) {
                    const F x = wv[jj + kk] + sv[kk] * gl;
                    wv[jj + kk] = x;
                    cc = cc + hv[kk] * x;
                  }
                }
                F* sp = wp + int64_t(jb) * pitch;
#pragma unroll
                for (int jj = 0; jj < kBatch; ++jj, sp += pitch) *sp = wv[jj];
              }
            } else {
              cc = update_sum_nonzero(cc, xs_b, xh_b, wp, pitch, gl, j0, imin(j0 + kWarp, j_hi));
            }
          }
        }
        cpart[warp * kTile + lane] = cc;
        __syncthreads();
        if (warp == 0 && own && !last) {
          F c = F(0);
          for (int w = 0; w < kGridWarps; ++w) c = c + cpart[w * kTile + lane];
          n.c[col] = c;
          n.e[col] = trace(n.a_m, n.b_m, n.e[col], n.h[col]);
        }
        __syncthreads();
      }
    }
    // mse_rec and dz of the epoch, once every tile's q and Z rows are in.
    grid_sync();
    for (int64_t task = gtid; task < int64_t(nnets) * T * O; task += gstride) {
      const int64_t TO = int64_t(T) * O;
      const DevNet<F>& n = nets[ids[task / TO]];
      const int64_t to = task % TO;
      const int t = int(to / O), o = int(to % O);
      n.err[to] = readout_err(n.Q + int64_t(t) * N, n.W_ho, n.targ[to], N, O, o);
    }
    grid_sync();
    for (int64_t ni = gtid; ni < nnets; ni += gstride) {
      const int k = ids[ni];
      const DevNet<F>& n = nets[k];
      mse_out[int64_t(k) * epochs + ep] = mean_square<F>(rows_se(n.err, T, O), int64_t(T) * O);
      dz_out[int64_t(k) * epochs + ep] = double(n.dz[par]);
      n.dz[par] = 0;
    }
  }
  grid_tiles_copy<F, kW, true>(nets, ids, nitems, ntiles, ipb, L);
}

// ---------------------------------------------------------------------------------------
// Block-per-network kernels for the other phases (all paths).

// SPEC "Training" 2: `epochs` readout epochs (cpu readout_epochs), or with mse_only the readout
// MSE without an update (cpu readout_mse) into mse_out[k].
template <typename F>
__global__ void __launch_bounds__(kAuxThreads)
    readout_kernel(const DevNet<F>* __restrict__ nets, const int* __restrict__ ids, int epochs, int place,
                   int mse_only, double* __restrict__ mse_out) {
  const int k = ids[blockIdx.x];
  const DevNet<F>& n = nets[k];
  const int N = n.N, O = n.O, T = n.T, tid = threadIdx.x;
  const int64_t TO = int64_t(T) * O, NO = int64_t(N) * O, TN = int64_t(T) * N;
  const ReadoutLayout L = readout_layout(N, O, T, place, sizeof(F));
  unsigned char* sm = smem_base();
  F* err = (place & kErrOnChip) ? reinterpret_cast<F*>(sm + L.err) : n.err;
  F* W_ho = (place & kWhoOnChip) ? reinterpret_cast<F*>(sm + L.W_ho) : n.W_ho;
  F* r = (place & kROnChip) ? reinterpret_cast<F*>(sm + L.r) : n.r_targ;
  if (place & kWhoOnChip)
    for (int64_t x = tid; x < NO; x += blockDim.x) W_ho[x] = n.W_ho[x];
  if (place & kROnChip)
    for (int64_t x = tid; x < TN; x += blockDim.x) r[x] = n.r_targ[x];
  __syncthreads();
  for (int ep = 0; ep < epochs; ++ep) {
    for (int64_t task = tid; task < TO; task += blockDim.x) {
      const int64_t t = task / O;
      err[task] = readout_err(r + t * N, W_ho, n.targ[task], N, O, int(task % O));
    }
    __syncthreads();
    if (mse_only) {
      if (tid == 0) mse_out[k] = mean_square<F>(rows_se(err, T, O), TO);
      return;
    }
    // mse before the update, grouped as every mse is (the CPU's readout_epochs too)
    if (tid == 0) mse_out[int64_t(k) * epochs + ep] = mean_square<F>(rows_se(err, T, O), TO);
    // W_ho += out_lr · r*ᵀ@(y* − y), each gradient entry summed over t in order.
    for (int64_t task = tid; task < NO; task += blockDim.x) {
      const int64_t i = task / O;
      const int o = int(task % O);
      F gr = F(0);
      for (int t = 0; t < T; ++t) {
        const F ri = r[int64_t(t) * N + i];
        if (ri != F(0)) gr = gr + ri * err[int64_t(t) * O + o];
      }
      W_ho[task] = W_ho[task] + n.out_lr * gr;
    }
    __syncthreads();
  }
  if (place & kWhoOnChip)
    for (int64_t x = tid; x < NO; x += blockDim.x) n.W_ho[x] = W_ho[x];
}

// SPEC "Training" 3 (cpu build_feedback): s = 2·std(W_ho); B = s·g with its first O columns
// replaced by W_ho; LTTS keeps m, a rank Bt = B[:, :R]ᵀ, and out P = Y*. noise[k] points at
// network k's standard normals (N×N spk, N×R out) in device memory. Three launches, so that the
// N² noise of a large network is read by many blocks at once (one block per network, walking
// N rows of 8192 entries each, would take seconds): the scale, one thread per network in the
// CPU's order; then `slices` blocks per network for the entries; then what sums over them.

template <typename F>
__global__ void feedback_scale_kernel(const DevNet<F>* __restrict__ nets, int K) {
  const int k = int(blockIdx.x * blockDim.x + threadIdx.x);
  if (k >= K) return;
  const DevNet<F>& n = nets[k];
  *n.s = feedback_scale(n.W_ho, int64_t(n.N) * n.O);
}

// Network blockIdx.x / slices; its work items are strided over that network's slices × threads.
struct Slice {
  int k;
  int64_t first, stride;
};

__device__ inline Slice slice_of(int slices) {
  const int s = int(blockIdx.x) % slices;
  return {int(blockIdx.x) / slices, int64_t(s) * blockDim.x + threadIdx.x, int64_t(slices) * blockDim.x};
}

// LTTS: rows_i = Σ_j B_ij² (j in order, as the CPU sums); a rank: Bt.
template <typename F>
__global__ void __launch_bounds__(kAuxThreads)
    feedback_entries_kernel(const DevNet<F>* __restrict__ nets, const double* const* __restrict__ noise, int slices) {
  const Slice sl = slice_of(slices);
  const DevNet<F>& n = nets[sl.k];
  const double* g = noise[sl.k];
  const int64_t N = n.N, O = n.O, R = n.R, cols = n.out_feedback ? R : N;
  const F s = *n.s;
  if (R == 0) {
    for (int64_t i = sl.first; i < N; i += sl.stride) {
      double row = 0;
      for (int64_t j = 0; j < N; ++j) {
        const F b = feedback_entry(n.W_ho, O, s, g, cols, i, j);
        row += double(b * b);
      }
      n.rows[i] = row;
    }
    return;
  }
  for (int64_t x = sl.first; x < R * N; x += sl.stride) n.Bt[x] = feedback_entry(n.W_ho, O, s, g, cols, x % N, x / N);
}

// LTTS: m = Σ_i rows_i / N (i in order); out: P = Y*, its first O columns the target.
template <typename F>
__global__ void __launch_bounds__(kAuxThreads) feedback_finish_kernel(const DevNet<F>* __restrict__ nets, int slices) {
  const Slice sl = slice_of(slices);
  const DevNet<F>& n = nets[sl.k];
  const int64_t N = n.N, O = n.O, R = n.R;
  if (R == 0) {
    if (sl.first == 0) {
      double total = 0;
      for (int64_t i = 0; i < N; ++i) total += n.rows[i];
      *n.m = F(total / double(N));
    }
    return;
  }
  if (!n.out_feedback) return;
  for (int64_t x = sl.first; x < int64_t(n.T) * R; x += sl.stride) {
    const int64_t t = x / R, r = x % R;
    n.P[x] = r < O ? n.targ[t * O + r] : dot(n.r_targ + t * N, n.Bt + r * N, N);
  }
}

// D = B_R B_Rᵀ in F for the networks with a dense feedback (cpu build_feedback): each entry
// summed over r in order. A grid-stride loop over every entry of the `count` networks in ids.
template <typename F>
__global__ void __launch_bounds__(kAuxThreads)
    dense_feedback_kernel(const DevNet<F>* __restrict__ nets, const int* __restrict__ ids, int count) {
  const int64_t N = nets[ids[0]].N, NN = N * N;
  for (int64_t x = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; x < count * NN;
       x += int64_t(gridDim.x) * blockDim.x) {
    const DevNet<F>& n = nets[ids[x / NN]];
    const int64_t entry = x % NN, i = entry / N, j = entry % N;
    F d = F(0);
    for (int r = 0; r < n.R; ++r) d = d + n.Bt[r * N + i] * n.Bt[r * N + j];
    n.D[i * n.pitch + j] = d;
  }
}

// D = B_R B_Rᵀ (N×N, double) from the factors, or m·Identity for LTTS (cpu feedback_matrix;
// a dense feedback's D is read as it is kept).
template <typename F>
__global__ void __launch_bounds__(kAuxThreads) feedback_matrix_kernel(const DevNet<F>* __restrict__ net,
                                                                       double* __restrict__ D) {
  const DevNet<F>& n = *net;
  const int64_t N = n.N;
  for (int64_t x = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; x < N * N; x += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = x / N, j = x % N;
    if (n.R == 0) {
      D[x] = ltts_entry(*n.m, i, j);
      continue;
    }
    double d = 0;
    for (int r = 0; r < n.R; ++r) d += double(n.Bt[r * N + i]) * double(n.Bt[r * N + j]);
    D[x] = d;
  }
}

}  // namespace gpu
}  // namespace goal
