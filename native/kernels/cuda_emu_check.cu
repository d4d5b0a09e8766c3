// Runs the CUDA engine (cuda_engine.cu + cuda_kernels.cuh) under the host emulation of
// cuda_emu.cuh and compares it with the CPU engine, phase by phase, on random networks:
//   - block path (N ≤ 224 float32, ≤ 160 float64): every field equal to the CPU's bit for bit
//     (exp is goal_math.h's on both sides, so any difference is a bug in the kernels);
//   - grid path: spikes equal while margins allow, statistics within a stated tolerance;
//   - a batch equal, bit for bit, to its networks run one at a time; phases out of order refused.
// Not part of the addon. Build and run from the repository root (C++20, pthreads), with the
// CPU engine compiled from its portable source under every instruction-set name:
//   F="-std=c++20 -O1 -g -pthread -ffp-contract=off -fno-strict-aliasing -Inative/kernels"
//   for isa in base avx2 avx512; do g++ $F -DGOAL_ISA_NS=isa_$isa -c native/kernels/cpu_kernels.cpp \
//     -o /tmp/emu_$isa.o; done
//   g++ $F -DGOAL_CUDA_EMU -x c++ native/kernels/cuda_emu_check.cu -x none native/kernels/cpu_engine.cpp \
//     native/kernels/cpu_batch.cpp /tmp/emu_*.o -o /tmp/goal_emu_check && /tmp/goal_emu_check
// Add -fsanitize=address or -fsanitize=thread (to every command) to check bounds or barriers.
// GOAL_EMU_SMS sets the emulated multiprocessors (default 4), GOAL_EMU_REGS the registers per
// thread (occupancy), GOAL_EMU_SMEM_KB a block's shared memory (12: W_hh in global memory on
// the block path, which must then have run); GOAL_EMU_QUICK=1 skips grid cases, GOAL_EMU_GRID=1
// runs only them; GOAL_EMU_REFUSED=1 runs only the grid cases that rehearse a refused
// cooperative launch.
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "cuda_engine.cu"

namespace {

using goal::Config;
using goal::Engine;
using goal::Field;
using goal::Inputs;
using goal::Raster;

int failures = 0;

struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 1) {}
  double uniform() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return double(s >> 11) / double(uint64_t(1) << 53);
  }
  double normal() {
    const double u = uniform() + 1e-300, v = uniform();
    return std::sqrt(-2 * std::log(u)) * std::cos(2 * M_PI * v);
  }
};

struct Net {
  Config c;
  std::vector<double> W_ih, W_hh, W_ho, W_trg, targ, clock, noise;
  Inputs in() const { return Inputs{W_ih.data(), W_hh.data(), W_ho.data(), W_trg.data(), targ.data(), clock.data()}; }
};

Net make_net(uint64_t seed, int N, int T, int R, bool out, goal::DType dtype, double tau_o = 5) {
  Rng g(seed);
  Net n;
  Config& c = n.c;
  c.N = N;
  c.I = 5;
  c.O = 3;
  c.T = T;
  c.R = R;
  c.feedback = out ? goal::Feedback::out : goal::Feedback::spk;
  c.dtype = dtype;
  // SPEC.md's defaults (src/params.ts holds them for the addon; this check builds Configs itself).
  c.tau_m = 8;
  c.tau_s = 2;
  c.tau_o = tau_o;
  c.v_init = -4;
  c.bias = -4;
  c.reset = -20;
  c.thr = 0;
  c.rec_lr = 5 / std::sqrt(double(N));
  c.out_lr = 0.0025 * 150 / N;
  auto normals = [&](size_t k, double scale) {
    std::vector<double> v(k);
    for (double& x : v) x = scale * g.normal();
    return v;
  };
  n.targ.assign(size_t(T) * 3, 0);
  for (int o = 0; o < 3; ++o) {
    double A[4], P[4];
    for (int q = 0; q < 4; ++q) {
      A[q] = g.uniform();
      P[q] = 2 * M_PI * g.uniform();
    }
    for (int t = 8; t < T; ++t) {
      const double tn = 2 * M_PI * t / (T - 1);
      const int Fq[4] = {1, 2, 3, 5};
      double y = 0;
      for (int q = 0; q < 4; ++q) y += A[q] * std::sin(Fq[q] * tn + P[q]);
      n.targ[size_t(t) * 3 + o] = y;
    }
  }
  double mx = 0;
  for (double y : n.targ) mx = std::max(mx, y);
  for (double& y : n.targ) y /= mx;
  n.clock.assign(size_t(T - 1) * 5, 0);
  const int span = (T - 1) / 5;
  for (int k = 0; k < 5; ++k)
    for (int t = k * span; t < (k + 1) * span; ++t) n.clock[size_t(t) * 5 + k] = 1;
  n.W_ih = normals(size_t(5) * N, 22);
  n.W_hh = normals(size_t(N) * N, 1);
  n.W_ho = normals(size_t(N) * 3, 1 / std::sqrt(double(N)));
  n.W_trg = normals(size_t(3) * N, 8);
  n.noise = normals(size_t(N) * (out ? R : N), 1);
  return n;
}

// Everything a run produces, in the order SPEC.md's phases produce it.
struct Run {
  std::vector<uint8_t> Z_targ, Z_last;
  std::vector<double> r_targ, mse_out, W_ho, fb, mse_rec, dz, W_hh;
  double readout_mse = 0, margin = 0;
};

Run run(Engine& e, const Net& n, int readout, int recurrent) {
  const Config& c = n.c;
  Run r;
  e.target_run();
  r.Z_targ.resize(size_t(c.T * c.N));
  e.read(Raster::Z_targ, r.Z_targ.data());
  r.r_targ.resize(size_t(c.T * c.N));
  e.read(Field::r_targ, r.r_targ.data());
  r.mse_out.resize(size_t(readout));
  e.readout_epochs(readout, r.mse_out.data());
  r.readout_mse = e.readout_mse();
  r.W_ho.resize(size_t(c.N * c.O));
  e.read(Field::W_ho, r.W_ho.data());
  e.build_feedback(n.noise.data());
  const Field fb = c.feedback == goal::Feedback::out ? Field::B : Field::D;
  r.fb.resize(size_t(goal::field_size(c, fb)));
  e.read(fb, r.fb.data());
  r.mse_rec.resize(size_t(recurrent));
  r.dz.resize(size_t(recurrent));
  // Two calls, so state carried between launches is exercised too.
  const int first = recurrent / 2;
  e.recurrent_epochs(first, r.mse_rec.data(), r.dz.data());
  std::vector<double> m2(size_t(recurrent - first)), d2(size_t(recurrent - first));
  e.recurrent_epochs(recurrent - first, m2.data(), d2.data());
  std::copy(m2.begin(), m2.end(), r.mse_rec.begin() + first);
  std::copy(d2.begin(), d2.end(), r.dz.begin() + first);
  r.W_hh.resize(size_t(c.N * c.N));
  e.read(Field::W_hh, r.W_hh.data());
  r.Z_last.resize(size_t(c.T * c.N));
  e.read(Raster::Z_last, r.Z_last.data());
  r.margin = e.min_margin();
  return r;
}

void expect(bool ok, const std::string& what) {
  if (!ok) {
    ++failures;
    std::printf("  FAIL %s\n", what.c_str());
  }
}

template <typename T>
size_t differing(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return size_t(-1);
  size_t n = 0;
  for (size_t k = 0; k < a.size(); ++k)
    if (std::memcmp(&a[k], &b[k], sizeof(T))) ++n;
  return n;
}

double rel(const std::vector<double>& a, const std::vector<double>& b) {
  double d = 0, s = 0;
  for (size_t k = 0; k < a.size(); ++k) {
    d = std::max(d, std::fabs(a[k] - b[k]));
    s = std::max(s, std::fabs(b[k]));
  }
  return d == 0 ? 0 : d / s;
}

void compare_exact(const Run& g, const Run& c, const std::string& name) {
  auto field = [&](const char* f, size_t diff) {
    expect(diff == 0, name + ": " + f + " differs in " + std::to_string(diff) + " entries");
  };
  field("Z_targ", differing(g.Z_targ, c.Z_targ));
  field("r_targ", differing(g.r_targ, c.r_targ));
  field("mse_out", differing(g.mse_out, c.mse_out));
  field("readout_mse", differing(std::vector<double>{g.readout_mse}, std::vector<double>{c.readout_mse}));
  field("W_ho", differing(g.W_ho, c.W_ho));
  field("D/B", differing(g.fb, c.fb));
  field("mse_rec", differing(g.mse_rec, c.mse_rec));
  field("dz", differing(g.dz, c.dz));
  field("W_hh", differing(g.W_hh, c.W_hh));
  field("Z_last", differing(g.Z_last, c.Z_last));
  field("min_margin", differing(std::vector<double>{g.margin}, std::vector<double>{c.margin}));
}

void compare_close(const Run& g, const Run& c, const std::string& name, double tol, int exact_epochs) {
  expect(differing(g.Z_targ, c.Z_targ) == 0, name + ": Z_targ");
  expect(rel(g.r_targ, c.r_targ) == 0, name + ": r_targ");
  expect(rel(g.mse_out, c.mse_out) <= tol, name + ": mse_out rel " + std::to_string(rel(g.mse_out, c.mse_out)));
  expect(rel(g.W_ho, c.W_ho) <= tol, name + ": W_ho");
  expect(rel(g.fb, c.fb) <= tol, name + ": D/B");
  for (int k = 0; k < exact_epochs && k < int(g.dz.size()); ++k)
    expect(g.dz[size_t(k)] == c.dz[size_t(k)], name + ": dz of epoch " + std::to_string(k));
  std::vector<double> gm(g.mse_rec.begin(), g.mse_rec.begin() + exact_epochs),
      cm(c.mse_rec.begin(), c.mse_rec.begin() + exact_epochs);
  expect(rel(gm, cm) <= tol, name + ": mse_rec rel " + std::to_string(rel(gm, cm)));
  std::printf("  %s: mse_rec rel %.2e, W_hh rel %.2e, dz gpu/cpu %.0f/%.0f, margin %.3g/%.3g\n", name.c_str(),
              rel(g.mse_rec, c.mse_rec), rel(g.W_hh, c.W_hh), g.dz.back(), c.dz.back(), g.margin, c.margin);
}

void check_single(const Net& n, int readout, int recurrent, const std::string& name, bool exact, double tol = 0) {
  std::printf("%s (N=%" PRId64 ", R=%" PRId64 ", %s, %s)\n", name.c_str(), n.c.N, n.c.R,
              n.c.feedback == goal::Feedback::out ? "out" : "spk", n.c.dtype == goal::DType::f32 ? "f32" : "f64");
  auto cpu = goal::make_cpu_engine(n.c, n.in());
  auto gpu = goal::make_cuda_engine(n.c, n.in());
  const Run c = run(*cpu, n, readout, recurrent);
  const Run g = run(*gpu, n, readout, recurrent);
  if (exact) compare_exact(g, c, name);
  else compare_close(g, c, name, tol, std::min(recurrent, 2));
  std::printf("  dz per epoch: gpu");
  for (double d : g.dz) std::printf(" %.0f", d);
  std::printf(" | cpu");
  for (double d : c.dz) std::printf(" %.0f", d);
  std::printf("\n");
}

// A readout that diverged leaves LTTS's m infinite or NaN: D = m·I must then hold NaN off the
// diagonal too (∞·0), as the CPU gives it. (The recurrent phase past that point is NaN on both
// backends, though not in the same entries: README, "CUDA".)
void check_diverged_feedback(Net n, int readout, const std::string& name) {
  std::printf("%s (N=%" PRId64 ", out_lr=%g)\n", name.c_str(), n.c.N, n.c.out_lr);
  auto feedback = [&](Engine& e) {
    e.target_run();
    std::vector<double> mse(static_cast<size_t>(readout));
    e.readout_epochs(readout, mse.data());
    e.build_feedback(n.noise.data());
    std::vector<double> D(size_t(n.c.N * n.c.N));
    e.read(Field::D, D.data());
    return D;
  };
  auto cpu = goal::make_cpu_engine(n.c, n.in());
  auto gpu = goal::make_cuda_engine(n.c, n.in());
  const std::vector<double> c = feedback(*cpu), g = feedback(*gpu);
  expect(std::isnan(c[1]), name + ": the readout diverged (D off the diagonal is NaN on the CPU)");
  expect(differing(g, c) == 0, name + ": D differs in " + std::to_string(differing(g, c)) + " entries");
}

void check_batch(const std::vector<Net>& nets, int readout, int recurrent, const std::string& name) {
  std::printf("%s: batch of %zu vs one at a time\n", name.c_str(), nets.size());
  std::vector<Config> cs;
  std::vector<Inputs> ins;
  for (const Net& n : nets) {
    cs.push_back(n.c);
    ins.push_back(n.in());
  }
  auto b = goal::make_cuda_batch(cs, ins);
  const size_t K = nets.size();
  b->target_run();
  std::vector<double> mse(K * size_t(readout));
  b->readout_epochs(readout, mse.data());
  std::vector<const double*> noise;
  for (const Net& n : nets) noise.push_back(n.noise.data());
  b->build_feedback(noise.data());
  std::vector<double> rec(K * size_t(recurrent)), dz(K * size_t(recurrent));
  b->recurrent_epochs(recurrent, rec.data(), dz.data());
  for (size_t k = 0; k < K; ++k) {
    auto one = goal::make_cuda_engine(nets[k].c, nets[k].in());
    const Run r = run(*one, nets[k], readout, recurrent);
    const std::string tag = name + "[" + std::to_string(k) + "]";
    expect(differing(std::vector<double>(mse.begin() + k * readout, mse.begin() + (k + 1) * readout), r.mse_out) == 0,
           tag + ": mse_out");
    expect(differing(std::vector<double>(rec.begin() + k * recurrent, rec.begin() + (k + 1) * recurrent), r.mse_rec) == 0,
           tag + ": mse_rec");
    expect(differing(std::vector<double>(dz.begin() + k * recurrent, dz.begin() + (k + 1) * recurrent), r.dz) == 0,
           tag + ": dz");
    std::vector<double> W(size_t(nets[k].c.N * nets[k].c.N));
    b->read(int64_t(k), Field::W_hh, W.data());
    expect(differing(W, r.W_hh) == 0, tag + ": W_hh");
    expect(b->min_margin(int64_t(k)) == r.margin, tag + ": min_margin");
    expect(b->readout_mse(int64_t(k)) == r.readout_mse, tag + ": readout_mse");
  }
}

void check_errors() {
  std::printf("phases out of order\n");
  const Net n = make_net(99, 20, 10, 0, false, goal::DType::f32);
  auto e = goal::make_cuda_engine(n.c, n.in());
  auto state = [&](const char* what, const std::function<void()>& fn) {
    try {
      fn();
      expect(false, std::string(what) + ": no error");
    } catch (const goal::Error& err) {
      expect(std::string(err.code()) == "GOAL_STATE", std::string(what) + ": code " + err.code());
    }
  };
  double x[4];
  uint8_t z[200];
  state("readout before target", [&] { e->readout_epochs(1, x); });
  state("readout_mse before target", [&] { e->readout_mse(); });
  state("feedback before target", [&] { e->build_feedback(n.noise.data()); });
  state("r_targ before target", [&] { std::vector<double> r(200); e->read(Field::r_targ, r.data()); });
  state("Z_targ before target", [&] { e->read(Raster::Z_targ, z); });
  e->target_run();
  state("recurrent before feedback", [&] { e->recurrent_epochs(1, x, x + 1); });
  state("D before feedback", [&] { std::vector<double> d(400); e->read(Field::D, d.data()); });
  state("Z_last before recurrent", [&] { e->read(Raster::Z_last, z); });
  e->build_feedback(n.noise.data());
  state("B of LTTS", [&] { e->read(Field::B, x); });
  try {
    std::vector<Config> cs{n.c};
    std::vector<Inputs> ins{n.in()};
    auto b = goal::make_cuda_batch(cs, ins);
    b->read(1, Field::W_hh, x);
    expect(false, "index out of range: no error");
  } catch (const goal::Error& err) {
    expect(std::string(err.code()) == "GOAL_INVALID", "index out of range");
  }
}

// The feedback noise (float64, N×N a network for spk) is counted when the networks are placed:
// a batch with room for its networks but not for their noise is refused at once, naming both,
// rather than after its target run and readout.
void check_memory() {
  std::printf("GPU memory for the feedback noise\n");
  const std::vector<Net> nets{make_net(51, 40, 10, 0, false, goal::DType::f32), make_net(52, 40, 10, 5, false, goal::DType::f32)};
  std::vector<Config> cs;
  std::vector<Inputs> ins;
  std::vector<const double*> noise;
  for (const Net& n : nets) {
    cs.push_back(n.c);
    ins.push_back(n.in());
    noise.push_back(n.noise.data());
  }
  size_t& memory = goal_emu::state().memory;
  const size_t saved = memory, before = goal_emu::state().in_use, noise_bytes = 2 * 40 * 40 * sizeof(double);
  size_t placed = 0;
  {
    auto b = goal::make_cuda_batch(cs, ins);
    placed = goal_emu::state().in_use - before;
  }
  memory = before + size_t(double(placed + noise_bytes / 2) / 0.95);
  try {
    goal::make_cuda_batch(cs, ins);
    expect(false, "room for the networks, not for their noise: no error");
  } catch (const goal::Error& err) {
    const std::string m = err.what();
    expect(std::string(err.code()) == "GOAL_ENOMEM" && m.find("feedback") != std::string::npos,
           "room for the networks, not for their noise: " + std::string(err.code()) + " " + m);
  }
  memory = before + size_t(double(placed + noise_bytes) / 0.95) + 65536;  // and the epochs' statistics
  try {
    auto b = goal::make_cuda_batch(cs, ins);
    b->target_run();
    double x[8];
    b->readout_epochs(2, x);
    b->build_feedback(noise.data());
    b->recurrent_epochs(1, x, x + 2);
  } catch (const goal::Error& err) {
    expect(false, std::string("room for the networks and their noise: ") + err.code() + " " + err.what());
  }
  memory = saved;
}

// A kernel fault is sticky on a GPU (the context is lost): the failing call says so, and
// from then on the backend is unavailable with that cause, so 'auto' runs on the CPU. Last in
// a run: the emulated context stays lost.
void check_context_lost() {
  std::printf("a kernel fault\n");
  const Net n = make_net(98, 20, 10, 0, false, goal::DType::f32);
  auto e = goal::make_cuda_engine(n.c, n.in());
  e->target_run();
  e->build_feedback(n.noise.data());
  double x[2];
  goal_emu::inject_fault();
  try {
    e->recurrent_epochs(1, x, x + 1);
    expect(false, "a kernel fault: no error");
  } catch (const goal::Error& err) {
    const std::string m = err.what();
    expect(std::string(err.code()) == "GOAL_CUDA" && m.find("illegal memory access") != std::string::npos &&
               m.find("restart") != std::string::npos,
           "a kernel fault: " + std::string(err.code()) + " " + m);
  }
  const goal::CudaInfo info = goal::cuda_info();
  expect(!info.available && info.reason.find("illegal memory access") != std::string::npos,
         "after a kernel fault, cuda_info: " + info.reason);
  try {
    goal::make_cuda_engine(n.c, n.in());
    expect(false, "a network after a kernel fault: no error");
  } catch (const goal::Error& err) {
    expect(std::string(err.code()) == "GOAL_NO_CUDA", "a network after a kernel fault: " + std::string(err.code()));
  }
}

// A grid-path call waiting for the gate goes before shared calls that come after it: else
// overlapping block-path batches could hold it off for as long as they run.
void check_gate() {
  goal::Gate gate;
  gate.lock_shared();  // a block-path call runs
  std::atomic<int> next{0};
  int exclusive_at = -1, shared_at = -1;
  std::thread exclusive([&] {
    gate.lock();
    exclusive_at = next++;
    gate.unlock();
  });
  while (gate.waiting() == 0) std::this_thread::yield();
  std::thread shared([&] {
    gate.lock_shared();
    shared_at = next++;
    gate.unlock_shared();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  expect(next == 0, "gate: both wait while the first shared call runs");
  gate.unlock_shared();
  exclusive.join();
  shared.join();
  expect(exclusive_at == 0 && shared_at == 1, "gate: the waiting exclusive call goes before a later shared one");
}

}  // namespace

int main() {
  using goal::DType;
  const auto flag = [](const char* name) { return std::getenv(name) && *std::getenv(name) == '1'; };
  const bool quick = flag("GOAL_EMU_QUICK");
  if (flag("GOAL_EMU_REFUSED")) {
    // With GOAL_EMU_COOP_SMS below GOAL_EMU_SMS, a cooperative launch planned from the
    // occupancy API is refused: the engine must plan again and still compute the same numbers.
    check_single(make_net(21, 232, 12, 0, false, DType::f32), 5, 3, "grid ltts f32 (launch refused, replanned)", false, 1e-4);
    check_batch({make_net(31, 232, 10, 0, false, DType::f32), make_net(32, 232, 10, 7, false, DType::f32, 2)}, 5, 2,
                "grid batch (launch refused, replanned)");
    if (goal_emu::state().coop_refused == 0) {
      std::printf("FAIL: no cooperative launch was refused (set GOAL_EMU_COOP_SMS below GOAL_EMU_SMS)\n");
      ++failures;
    }
    std::printf(failures ? "%d FAILURES\n" : "all checks passed\n", failures);
    return failures ? 1 : 0;
  }
  const bool grid_only = flag("GOAL_EMU_GRID");
  if (!grid_only) {
    check_errors();
    check_gate();
    check_memory();
    // Block path: bit for bit.
    check_single(make_net(1, 40, 30, 0, false, DType::f32), 20, 4, "ltts f32", true);
    check_single(make_net(2, 40, 30, 5, false, DType::f32), 20, 4, "rank5 f32", true);
    check_single(make_net(3, 40, 30, 40, false, DType::f64), 20, 4, "rank40 f64", true);
    check_single(make_net(4, 40, 30, 8, true, DType::f32), 20, 4, "out rank8 f32", true);
    check_single(make_net(5, 70, 24, 12, false, DType::f32), 20, 3, "rank12 N70 f32", true);
    check_single(make_net(6, 33, 20, 0, false, DType::f64), 10, 3, "ltts N33 f64", true);
    check_single(make_net(7, 150, 20, 150, true, DType::f32), 10, 2, "out rank150 N150 f32", true);
    check_single(make_net(8, 224, 12, 30, false, DType::f32), 5, 2, "rank30 N224 f32", true);
    check_single(make_net(9, 160, 12, 0, false, DType::f64), 5, 2, "ltts N160 f64 (the largest f64 block)", true);
    // Spike feedback with 2R > N applies D = B_R B_Rᵀ itself (cpu learning_signal).
    check_single(make_net(41, 40, 30, 21, false, DType::f32), 20, 4, "dense rank21 f32", true);
    check_single(make_net(42, 40, 30, 20, false, DType::f32), 20, 4, "factored rank20 f32", true);
    check_single(make_net(43, 150, 16, 150, false, DType::f32), 10, 2, "dense rank150 N150 f32 (D on chip)", true);
    check_single(make_net(44, 224, 12, 200, false, DType::f32), 5, 2, "dense rank200 N224 f32 (D in global)", true);
    check_single(make_net(45, 160, 12, 100, false, DType::f64), 5, 2, "dense rank100 N160 f64 (D in global)", true);
    check_single(make_net(46, 150, 16, 40, false, DType::f64), 10, 2, "factored rank40 N150 f64", true);
    {
      Net diverging = make_net(10, 40, 30, 0, false, DType::f64);
      diverging.c.out_lr = 20;
      check_diverged_feedback(diverging, 300, "ltts f64, readout diverged");
    }
    check_batch({make_net(11, 40, 24, 0, false, DType::f32), make_net(12, 40, 24, 5, false, DType::f32, 3),
                 make_net(13, 40, 24, 40, false, DType::f32, 9), make_net(14, 40, 24, 6, true, DType::f32),
                 make_net(15, 40, 24, 12, false, DType::f32, 1)},
                10, 3, "block batch");
  }
  if (!quick) {
    // Grid path: sums in another order, so close rather than equal.
    check_single(make_net(21, 232, 12, 0, false, DType::f32), 5, 3, "grid ltts f32", false, 1e-4);
    check_single(make_net(22, 170, 12, 8, true, DType::f64), 5, 2, "grid out rank8 f64", false, 1e-9);
    // More rows than a block has threads: LTTS's row sums split over two blocks.
    check_single(make_net(25, 260, 10, 0, false, DType::f64), 3, 2, "grid ltts N260 f64 (feedback in 2 slices)", false, 1e-9);
    check_single(make_net(23, 232, 12, 20, false, DType::f32), 5, 2, "grid rank20 f32", false, 1e-4);
    check_single(make_net(24, 232, 12, 200, false, DType::f32), 5, 2, "grid dense rank200 f32", false, 1e-4);
    check_batch({make_net(31, 232, 10, 0, false, DType::f32), make_net(32, 232, 10, 7, false, DType::f32, 2),
                 make_net(33, 232, 10, 150, false, DType::f32, 4)},
                5, 2, "grid batch");
  }
  const size_t two = goal::gpu::grid_layout(232, 2, true, sizeof(float)).bytes;
  if (goal_emu::regs() > 0 && !quick && two <= goal_emu::optin()) {
    // GOAL_EMU_REGS=128 with 2 multiprocessors: a network of 232 units (8 tiles) has only 4
    // resident blocks, so its tiles go on chip two to a block, the plan an H200 makes for a batch.
    expect(goal_emu::state().coop_smem_max >= two, "a grid plan with several tiles per block on chip ran");
  }
  using goal::gpu::block_recurrent, goal::gpu::grid_recurrent, goal::gpu::grid_target;
  if (goal_emu::optin() <= 12 * 1024 && !grid_only) {
    // 12 KB a block (GOAL_EMU_SMEM_KB=12): the block path keeps W_hh in global memory, as a GPU
    // with less shared memory than an H200 does near N = 224 (and r* leaves the chip in the
    // larger readouts).
    expect(goal_emu::has_run(block_recurrent<float, false, false>) && goal_emu::has_run(block_recurrent<double, false, false>),
           "the block path ran with W_hh in global memory");
  }
  if (goal_emu::sms() <= 2 && !quick) {
    // With 2 multiprocessors the grid batch's 3 × 8 tiles (and N = 260's in float64) outnumber
    // the resident blocks, so W_hh goes to global memory: on an H200, one network's past
    // N ≈ 1800 in float32, a batch's much sooner (K = 16 from N ≈ 600).
    expect(goal_emu::has_run(grid_target<float, false>) && goal_emu::has_run(grid_target<double, false>) &&
               goal_emu::has_run(grid_recurrent<float, false>) && goal_emu::has_run(grid_recurrent<double, false>),
           "the grid path ran with W_hh in global memory");
  }
  check_context_lost();
  std::printf(failures ? "%d FAILURES\n" : "all checks passed\n", failures);
  return failures ? 1 : 0;
}
