// A batch of CPU engines: each call runs the same phase on every network, spread over a
// few threads (networks are independent; each one's arithmetic is exactly that of a lone
// CPU engine, so a batch row equals the same network trained alone, bit for bit).
#include <atomic>
#include <exception>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>

#include "engine.h"

namespace goal {

void check_batch(const std::vector<Config>& c) {
  if (c.empty()) throw Error("GOAL_INVALID", "a batch needs at least one network");
  for (const Config& x : c) {
    check_config(x);
    if (x.N != c[0].N || x.I != c[0].I || x.O != c[0].O || x.T != c[0].T || x.dtype != c[0].dtype)
      throw Error("GOAL_INVALID", "the networks of a batch must share N, I, O, T and dtype");
  }
}

namespace {

class CpuBatch final : public Batch {
 public:
  CpuBatch(const std::vector<Config>& c, const std::vector<Inputs>& in, int threads, const Settings& s) : threads_(threads) {
    check_batch(c);
    if (in.size() != c.size()) throw Error("GOAL_INVALID", "one set of inputs per network");
    if (threads < 1) throw Error("GOAL_INVALID", "threads must be >= 1");
    // Each network checks its own size; together they may still not fit (their pages are
    // touched later, on worker threads, where running out would kill the process).
    double need = 0;
    for (const Config& x : c) need += bytes_needed(x);
    if (c.size() > 1) check_host_memory(need, "a batch of " + std::to_string(c.size()) + " networks of N=" + std::to_string(c[0].N));
    nets_.reserve(c.size());
    for (size_t k = 0; k < c.size(); ++k) nets_.push_back(make_cpu_engine(c[k], in[k], &stop_, s));
    device_ = nets_[0]->device();
  }

  int64_t size() const override { return int64_t(nets_.size()); }

  void target_run() override {
    each([](Engine& e, int64_t) { e.target_run(); });
  }
  void readout_epochs(int64_t n, double* mse) override {
    each([=](Engine& e, int64_t k) { e.readout_epochs(n, mse + k * n); });
  }
  void build_feedback(const double* const* noise) override {
    each([=](Engine& e, int64_t k) { e.build_feedback(noise[k]); });
  }
  void recurrent_epochs(int64_t n, double* mse_rec, double* dz) override {
    each([=](Engine& e, int64_t k) { e.recurrent_epochs(n, mse_rec + k * n, dz + k * n); });
  }
  double readout_mse(int64_t k) override { return net(k).readout_mse(); }
  void read(int64_t k, Field f, double* out) override { net(k).read(f, out); }
  void read(int64_t k, Raster f, uint8_t* out) override { net(k).read(f, out); }
  double min_margin(int64_t k) const override { return net(k).min_margin(); }
  const Config& config(int64_t k) const override { return net(k).config(); }
  const char* device() const override { return device_.c_str(); }

 private:
  Engine& net(int64_t k) const {
    if (k < 0 || k >= size()) throw Error("GOAL_INVALID", "network index out of range");
    return *nets_[size_t(k)];
  }

  // Runs fn on every network, the networks handed out one at a time to the threads (ranks
  // differ in cost, so a static split would leave threads idle). The first failure wins.
  template <typename Fn>
  void each(Fn fn) {
    std::atomic<int64_t> next{0};
    std::exception_ptr failure;
    std::mutex lock;
    auto worker = [&] {
      for (int64_t k; (k = next++) < size();) {
        try {
          fn(*nets_[size_t(k)], k);
        } catch (...) {
          std::lock_guard<std::mutex> g(lock);
          if (!failure) failure = std::current_exception();
          next = size();
        }
      }
    };
    const int64_t n = std::min<int64_t>(threads_, size());
    std::vector<std::thread> pool;
    try {
      for (int64_t t = 1; t < n; ++t) pool.emplace_back(worker);
    } catch (const std::system_error&) {
      // No more threads to be had (a process limit): the ones started, and this one, do it all.
    }
    worker();
    for (auto& th : pool) th.join();
    if (failure) std::rethrow_exception(failure);
  }

  int threads_;
  std::vector<std::unique_ptr<Engine>> nets_;
  std::string device_;
};

}  // namespace

std::unique_ptr<Batch> make_cpu_batch(const std::vector<Config>& c, const std::vector<Inputs>& in, int threads,
                                      const Settings& s) {
  return std::make_unique<CpuBatch>(c, in, threads, s);
}

}  // namespace goal
