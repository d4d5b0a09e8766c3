// Node-API binding: converts JS values, checks what protects memory (typed-array kinds
// and lengths, integer sizes), and runs long calls on the libuv pool behind Promises.
// Every failure becomes a JS Error with a `code`; nothing here exits or aborts.
#include <array>
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "../kernels/engine.h"


namespace {

using goal::Config;

// A property of a new object, defined rather than assigned: an assignment would run a setter
// that other code put on Error.prototype or Object.prototype.
constexpr auto kOwn = static_cast<napi_property_attributes>(napi_writable | napi_enumerable | napi_configurable);

void own(Napi::Object o, const char* name, Napi::Value v) {
  o.DefineProperty(Napi::PropertyDescriptor::Value(name, v, kOwn));
}

Napi::Error coded(Napi::Env env, const char* code, const std::string& message, bool type = false) {
  Napi::Error err = type ? Napi::TypeError::New(env, message) : Napi::Error::New(env, message);
  own(err.Value(), "code", Napi::String::New(env, code));
  return err;
}

[[noreturn]] void invalid(Napi::Env env, const std::string& message) {
  throw coded(env, "GOAL_INVALID", message, true);
}

// The code and message of the C++ failure being handled (call it in a catch block): the
// engines' own errors keep their code; anything else is a bug of ours or the memory's.
struct Failure {
  const char* code;  // a literal, as goal::Error's are
  std::string message;
};
Failure current_failure() {
  try {
    throw;
  } catch (const goal::Error& e) {
    return {e.code(), e.what()};
  } catch (const std::bad_alloc&) {
    return {"GOAL_ENOMEM", "out of memory"};
  } catch (const std::exception& e) {
    return {"GOAL_INTERNAL", e.what()};
  } catch (...) {
    return {"GOAL_INTERNAL", "an unknown C++ failure"};
  }
}

// Runs `fn`, turning C++ failures into coded JS errors.
template <typename Fn>
auto guarded(Napi::Env env, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    const Failure f = current_failure();
    throw coded(env, f.code, f.message);
  }
}

Napi::Value prop(const Napi::Object& o, const char* name) {
  Napi::Value v = o.Get(name);
  if (v.IsUndefined()) invalid(o.Env(), std::string("config.") + name + " is missing");
  return v;
}

double number(const Napi::Object& o, const char* name) {
  Napi::Value v = prop(o, name);
  if (!v.IsNumber()) invalid(o.Env(), std::string("config.") + name + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

// A whole number within [lo, hi]; the binding's own guard against bad sizes.
int64_t integer(Napi::Env env, Napi::Value v, const std::string& name, int64_t lo, int64_t hi) {
  if (!v.IsNumber()) invalid(env, name + " must be an integer");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= double(lo) && d <= double(hi)) || std::floor(d) != d)
    invalid(env, name + " must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return int64_t(d);
}

std::string text(const Napi::Object& o, const char* name) {
  Napi::Value v = prop(o, name);
  if (!v.IsString()) invalid(o.Env(), std::string("config.") + name + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

// A Float64Array of exactly `count` elements.
Napi::Float64Array doubles(Napi::Env env, Napi::Value v, const std::string& name, int64_t count) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    invalid(env, name + " must be a Float64Array");
  Napi::Float64Array a = v.As<Napi::Float64Array>();
  if (int64_t(a.ElementLength()) != count)
    invalid(env, name + " must have " + std::to_string(count) + " elements (got " +
                     std::to_string(a.ElementLength()) + ")");
  return a;
}

Config parse_config(const Napi::Object& o) {
  Napi::Env env = o.Env();
  // The range makes the conversion to int64 safe; check_config checks the rest.
  constexpr int64_t kMax = goal::kMaxSize;
  Config c;
  c.N = integer(env, prop(o, "N"), "config.N", 1, kMax);
  c.I = integer(env, prop(o, "I"), "config.I", 1, kMax);
  c.O = integer(env, prop(o, "O"), "config.O", 1, kMax);
  c.T = integer(env, prop(o, "T"), "config.T", 2, kMax);
  c.R = integer(env, prop(o, "R"), "config.R", 0, kMax);
  const std::string fb = text(o, "feedback");
  if (fb == "spk") c.feedback = goal::Feedback::spk;
  else if (fb == "out") c.feedback = goal::Feedback::out;
  else invalid(env, "config.feedback must be 'spk' or 'out'");
  const std::string dt = text(o, "dtype");
  if (dt == "float32") c.dtype = goal::DType::f32;
  else if (dt == "float64") c.dtype = goal::DType::f64;
  else invalid(env, "config.dtype must be 'float32' or 'float64'");
  c.tau_m = number(o, "tau_m");
  c.tau_s = number(o, "tau_s");
  c.tau_o = number(o, "tau_o");
  c.v_init = number(o, "v_init");
  c.bias = number(o, "bias");
  c.reset = number(o, "reset");
  c.thr = number(o, "thr");
  c.rec_lr = number(o, "rec_lr");
  c.out_lr = number(o, "out_lr");
  guarded(env, [&] { goal::check_config(c); });
  return c;
}

// The environment's settings, as the caller read them (goal::Settings: never getenv here):
// absent, the defaults; else an object of strings, each optional.
goal::Settings settings_of(Napi::Env env, Napi::Value v) {
  goal::Settings s;
  if (v.IsUndefined()) return s;
  if (!v.IsObject()) invalid(env, "settings must be an object of environment variables");
  const Napi::Object o = v.As<Napi::Object>();
  const auto read = [&](const char* name) -> std::string {
    const Napi::Value x = o.Get(name);
    if (x.IsUndefined()) return "";
    if (!x.IsString()) invalid(env, std::string("settings.") + name + " must be a string");
    return x.As<Napi::String>().Utf8Value();
  };
  s.cpu_isa = read("GOAL_CPU_ISA");
  s.cuda_spin = read("GOAL_CUDA_SPIN") == "1";
  return s;
}

// A network's input arrays, fetched but not yet checked: fetching can run user JavaScript (a
// getter), which could detach an array fetched before, so pointers are taken only once every
// property has been read (inputs_of), when no more JavaScript runs until the engine copies them.
using Fetched = std::array<Napi::Value, 6>;
constexpr const char* kInputNames[6] = {"W_ih", "W_hh", "W_ho", "W_trg", "targ", "clock"};

Fetched fetch_inputs(const Napi::Object& o) {
  Fetched f;
  for (size_t k = 0; k < f.size(); ++k) f[k] = prop(o, kInputNames[k]);
  return f;
}

goal::Inputs inputs_of(Napi::Env env, const Fetched& f, const Config& c, const std::string& where) {
  const int64_t counts[6] = {c.I * c.N, c.N * c.N, c.N * c.O, c.O * c.N, c.T * c.O, (c.T - 1) * c.I};
  const double* p[6];
  for (size_t k = 0; k < f.size(); ++k) p[k] = doubles(env, f[k], where + kInputNames[k], counts[k]).Data();
  goal::Inputs in;
  in.W_ih = p[0];
  in.W_hh = p[1];
  in.W_ho = p[2];
  in.W_trg = p[3];
  in.targ = p[4];
  in.clock = p[5];
  return in;
}

// Matrix fields by name, for Batch.read.
const std::pair<const char*, goal::Field> kFields[] = {
    {"W_ih", goal::Field::W_ih}, {"W_hh", goal::Field::W_hh}, {"W_ho", goal::Field::W_ho},
    {"W_trg", goal::Field::W_trg}, {"D", goal::Field::D},     {"B", goal::Field::B},
    {"r_targ", goal::Field::r_targ}};

// The typed-array constructors, taken from the global object when the addon loads. A result
// array is made with them, as JavaScript's `new Float64Array(n)` is: where memory is short, V8
// collects garbage and tries again, and then throws a RangeError, which becomes GOAL_ENOMEM.
// (Node-API's own napi_create_arraybuffer ends the process instead, with a fatal "process out
// of memory"; an external buffer of ours would be freed only after the task that dropped it,
// could not be transferred, and past Node's Buffer limit is freed twice.)
struct Constructors {
  Napi::FunctionReference f64, u8;
};

template <typename T>
Napi::TypedArrayOf<T> fresh(Napi::Env env, int64_t count, const std::string& what) {
  Constructors* c = env.GetInstanceData<Constructors>();
  Napi::FunctionReference& ctor = std::is_same_v<T, double> ? c->f64 : c->u8;
  try {
    return ctor.New({Napi::Number::New(env, double(count))}).template As<Napi::TypedArrayOf<T>>();
  } catch (const Napi::Error& e) {
    throw coded(env, "GOAL_ENOMEM", "out of memory for " + what + " (" + goal::memory_text(double(count) * sizeof(T)) +
                                        ": " + e.Message() + ")");
  }
}

// read(name) of a network with config c: a Float64Array for a matrix, a Uint8Array for a
// raster, filled by the given readers.
template <typename ReadField, typename ReadRaster>
Napi::Value read_named(Napi::Env env, Napi::Value nameArg, const Config& c, ReadField readField,
                       ReadRaster readRaster) {
  if (!nameArg.IsString()) invalid(env, "read(name): name must be a string");
  const std::string name = nameArg.As<Napi::String>().Utf8Value();
  if (name == "Z_targ" || name == "Z_last") {
    Napi::Uint8Array out = fresh<uint8_t>(env, c.T * c.N, "read('" + name + "')");
    guarded(env, [&] { readRaster(name == "Z_targ" ? goal::Raster::Z_targ : goal::Raster::Z_last, out.Data()); });
    return out;
  }
  for (const auto& [key, field] : kFields) {
    if (name != key) continue;
    Napi::Float64Array out = fresh<double>(env, goal::field_size(c, field), "read('" + name + "')");
    guarded(env, [&] { readField(field, out.Data()); });
    return out;
  }
  invalid(env, "read(name): unknown field '" + name + "'");
}

// A call's per-epoch outputs, as a Float64Array.
Napi::Float64Array to_array(Napi::Env env, const std::vector<double>& v, const char* what) {
  Napi::Float64Array a = fresh<double>(env, int64_t(v.size()), what);
  std::copy(v.begin(), v.end(), a.Data());
  return a;
}

int64_t epochs_arg(const Napi::CallbackInfo& info) {
  return integer(info.Env(), info.Length() > 0 ? info[0] : info.Env().Undefined(), "epochs", 0, int64_t(1) << 30);
}

// Values of one per-epoch output of a call (epochs × networks): 512 MiB, zeroed on the main
// thread before the call starts, where far more would stall it for seconds (or meet the OOM
// killer, not a JS error). The library sizes its calls to ~50 ms, far below it.
constexpr int64_t kMaxCallValues = int64_t(1) << 26;

// Per-epoch outputs of one call (`count` values), allocated where a failure is a JS error.
std::shared_ptr<std::vector<double>> outputs(Napi::Env env, int64_t count) {
  if (count > kMaxCallValues) {
    invalid(env, "too many epochs × networks in one call (at most 2^26; see Batch.maxEpochs)");
  }
  return guarded(env, [&] { return std::make_shared<std::vector<double>>(size_t(count)); });
}

// One asynchronous call on a batch of networks: `work` runs on the libuv pool and must not touch
// JS (its inputs are the engine's own or copies); `done` builds the resolution value on the
// main thread. The network stays referenced (not collected) until the call settles.
class Job : public Napi::AsyncWorker {
 public:
  Job(Napi::Env env, bool* busy, Napi::Object self, std::function<void()> work,
      std::function<Napi::Value(Napi::Env)> done)
      : Napi::AsyncWorker(env, "goal-snn"),
        deferred_(Napi::Promise::Deferred::New(env)),
        busy_(busy),
        self_(Napi::Persistent(self)),
        work_(std::move(work)),
        done_(std::move(done)) {}

  Napi::Promise promise() const { return deferred_.Promise(); }

  void Execute() override {
    try {
      work_();
    } catch (...) {
      const Failure f = current_failure();
      fail(f.code, f.message);
    }
  }

  void OnOK() override;
  void OnError(const Napi::Error& e) override;

 private:
  void fail(const char* code, const std::string& msg) {
    code_ = code;
    SetError(msg);
  }

  Napi::Promise::Deferred deferred_;
  bool* busy_;
  Napi::ObjectReference self_;
  std::function<void()> work_;
  std::function<Napi::Value(Napi::Env)> done_;
  const char* code_ = "GOAL_INTERNAL";
};

// K ≥ 1 networks trained in lockstep (engine.h Batch): one call per phase for all of them, and
// a flag that refuses overlapping calls. A lone network is a batch of one.
class BatchWrap : public Napi::ObjectWrap<BatchWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    Napi::Function cls = DefineClass(env, "Batch",
                                     {InstanceMethod<&BatchWrap::TargetRun>("targetRun"),
                                      InstanceMethod<&BatchWrap::Readout>("readout"),
                                      InstanceMethod<&BatchWrap::Feedback>("feedback"),
                                      InstanceMethod<&BatchWrap::Recurrent>("recurrent"),
                                      InstanceMethod<&BatchWrap::ReadoutMse>("readoutMse"),
                                      InstanceMethod<&BatchWrap::Read>("read"),
                                      InstanceMethod<&BatchWrap::MinMargin>("minMargin"),
                                      InstanceMethod<&BatchWrap::Stop>("stop"),
                                      InstanceMethod<&BatchWrap::Dispose>("dispose")});
    // The getters are plain functions that check their receiver first: V8 checks a method's
    // (another object is an "Illegal invocation") but not an accessor's, and Node-API's
    // unwrap hands back whatever any addon wrapped in an object, read as ours.
    cls.Get("prototype").As<Napi::Object>().DefineProperties(
        {Napi::PropertyDescriptor::Accessor<&BatchWrap::Size>("size", napi_configurable),
         Napi::PropertyDescriptor::Accessor<&BatchWrap::MaxEpochs>("maxEpochs", napi_configurable),
         Napi::PropertyDescriptor::Accessor<&BatchWrap::Device>("device", napi_configurable)});
    return cls;
  }

  explicit BatchWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BatchWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) invalid(env, "new Batch(config): config must be an object");
    const Napi::Object o = info[0].As<Napi::Object>();
    const std::string backend = text(o, "backend");
    const Napi::Value netsValue = prop(o, "nets");
    if (!netsValue.IsArray()) invalid(env, "config.nets must be an array of network configs");
    const Napi::Array nets = netsValue.As<Napi::Array>();
    const uint32_t K = nets.Length();
    if (K == 0) invalid(env, "config.nets must hold at least one network");
    std::vector<Config> cfgs;
    std::vector<Fetched> fetched;
    for (uint32_t k = 0; k < K; ++k) {
      const Napi::Value v = nets.Get(k);
      if (!v.IsObject()) invalid(env, "config.nets[" + std::to_string(k) + "] must be an object");
      const Napi::Object net = v.As<Napi::Object>();
      cfgs.push_back(parse_config(net));
      fetched.push_back(fetch_inputs(net));
    }
    int threads = 1;
    const Napi::Value threadsValue = o.Get("threads");
    if (!threadsValue.IsUndefined()) threads = int(integer(env, threadsValue, "config.threads", 1, 4096));
    const goal::Settings settings = settings_of(env, info.Length() > 1 ? info[1] : env.Undefined());
    // From here on no JavaScript runs until the engine has copied the arrays.
    std::vector<goal::Inputs> ins;
    for (uint32_t k = 0; k < K; ++k)
      ins.push_back(inputs_of(env, fetched[k], cfgs[k], "config.nets[" + std::to_string(k) + "]."));
    Value().TypeTag(&kTag);
    batch_ = guarded(env, [&]() -> std::unique_ptr<goal::Batch> {
      if (backend == "cpu") return goal::make_cpu_batch(cfgs, ins, threads, settings);
      if (backend == "cuda") return goal::make_cuda_batch(cfgs, ins, settings);
      throw goal::Error("GOAL_INVALID", "config.backend must be 'cpu' or 'cuda'");
    });
  }

 private:
  goal::Batch& batch(Napi::Env env) {
    if (!batch_) throw coded(env, "GOAL_STATE", "this batch has been disposed");
    if (busy_) throw coded(env, "GOAL_BUSY", "this batch is already running a call; await it first");
    return *batch_;
  }

  int64_t index(const Napi::CallbackInfo& info, goal::Batch& b) {
    return integer(info.Env(), info.Length() > 0 ? info[0] : info.Env().Undefined(), "network index", 0,
                   b.size() - 1);
  }

  Napi::Value start(Napi::Env env, std::function<void()> work, std::function<Napi::Value(Napi::Env)> done) {
    auto* job = new Job(env, &busy_, Value(), std::move(work), std::move(done));
    busy_ = true;
    job->Queue();
    return job->promise();
  }

  Napi::Value TargetRun(const Napi::CallbackInfo& info) {
    goal::Batch& b = batch(info.Env());
    return start(info.Env(), [&b] { b.target_run(); }, [](Napi::Env env) { return env.Undefined(); });
  }

  Napi::Value Readout(const Napi::CallbackInfo& info) {
    goal::Batch& b = batch(info.Env());
    const int64_t n = epochs_arg(info);
    auto mse = outputs(info.Env(), n * b.size());
    return start(info.Env(), [&b, n, mse] { b.readout_epochs(n, mse->data()); },
                 [mse](Napi::Env env) { return to_array(env, *mse, "the readout MSEs"); });
  }

  Napi::Value Feedback(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    // The sizes are taken before the noise is read: reading it can run the caller's code (a
    // getter, a Proxy), which may dispose this batch or start another call on it.
    std::vector<int64_t> sizes;
    {
      goal::Batch& b = batch(env);
      for (int64_t k = 0; k < b.size(); ++k) sizes.push_back(goal::noise_size(b.config(k)));
    }
    const int64_t K = int64_t(sizes.size());  // not given.Length() in the loop: a getter could grow the array
    if (info.Length() < 1 || !info[0].IsArray()) invalid(env, "feedback(noise): noise must be an array of Float64Arrays");
    const Napi::Array given = info[0].As<Napi::Array>();
    if (int64_t(given.Length()) != K)
      invalid(env, "feedback(noise): one noise array per network (" + std::to_string(K) + ")");
    // Copied here, on the main thread: the worker must not read a JavaScript array, which the
    // caller could transfer (detach, and so free) while the call runs.
    auto copies = std::make_shared<std::vector<std::vector<double>>>();
    auto ptrs = std::make_shared<std::vector<const double*>>();
    for (uint32_t k = 0; int64_t(k) < K; ++k) {
      const Napi::Float64Array a = doubles(env, given.Get(k), "noise[" + std::to_string(k) + "]", sizes[k]);
      copies->push_back(guarded(env, [&] { return std::vector<double>(a.Data(), a.Data() + a.ElementLength()); }));
    }
    for (const auto& c : *copies) ptrs->push_back(c.data());
    goal::Batch& b = batch(env);  // again, after the caller's code: still there, and idle
    return start(env, [&b, copies, ptrs] { b.build_feedback(ptrs->data()); },
                 [](Napi::Env env) { return env.Undefined(); });
  }

  Napi::Value Recurrent(const Napi::CallbackInfo& info) {
    goal::Batch& b = batch(info.Env());
    const int64_t n = epochs_arg(info);
    auto mse = outputs(info.Env(), n * b.size());
    auto dz = outputs(info.Env(), n * b.size());
    return start(info.Env(), [&b, n, mse, dz] { b.recurrent_epochs(n, mse->data(), dz->data()); },
                 [mse, dz](Napi::Env env) {
                   Napi::Object r = Napi::Object::New(env);
                   own(r, "mseRec", to_array(env, *mse, "the recurrent MSEs"));
                   own(r, "dz", to_array(env, *dz, "the spike errors"));
                   return r;
                 });
  }

  Napi::Value ReadoutMse(const Napi::CallbackInfo& info) {
    goal::Batch& b = batch(info.Env());
    const int64_t k = index(info, b);
    return Napi::Number::New(info.Env(), guarded(info.Env(), [&] { return b.readout_mse(k); }));
  }

  Napi::Value Read(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    goal::Batch& b = batch(env);
    const int64_t k = index(info, b);
    return read_named(
        env, info.Length() > 1 ? info[1] : env.Undefined(), b.config(k),
        [&](goal::Field f, double* out) { b.read(k, f, out); },
        [&](goal::Raster f, uint8_t* out) { b.read(k, f, out); });
  }

  Napi::Value MinMargin(const Napi::CallbackInfo& info) {
    goal::Batch& b = batch(info.Env());
    return Napi::Number::New(info.Env(), b.min_margin(index(info, b)));
  }

  // Not refused while a call runs: that is its use (the flag is atomic). After dispose, nothing to stop.
  void Stop(const Napi::CallbackInfo&) {
    if (batch_) batch_->stop();
  }

  void Dispose(const Napi::CallbackInfo& info) {
    if (busy_) throw coded(info.Env(), "GOAL_BUSY", "cannot dispose a batch while a call runs");
    batch_.reset();
  }

  // The batch of a getter's receiver, which must be one of ours; constant for the batch's life:
  // readable while a call runs.
  static goal::Batch& alive(const Napi::CallbackInfo& info) {
    const Napi::Value self = info.This();
    if (!self.IsObject() || !self.As<Napi::Object>().CheckTypeTag(&kTag))
      throw coded(info.Env(), "GOAL_INVALID", "a Batch getter called on an object that is no Batch", true);
    BatchWrap* wrap = Unwrap(self.As<Napi::Object>());
    if (!wrap || !wrap->batch_) throw coded(info.Env(), "GOAL_STATE", "this batch has been disposed");
    return *wrap->batch_;
  }

  static Napi::Value Size(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), double(alive(info).size()));
  }

  static Napi::Value MaxEpochs(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), double(std::max<int64_t>(1, kMaxCallValues / alive(info).size())));
  }

  static Napi::Value Device(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), alive(info).device());
  }

  // Marks the objects this class wraps (napi_type_tag_object): a random 128-bit value.
  static constexpr napi_type_tag kTag = {0x6f1c2a9d4e7b3f05ULL, 0xb84d19e2c07a5e63ULL};

  std::unique_ptr<goal::Batch> batch_;
  bool busy_ = false;
};

// Both run on the main thread when the work ends, or while a worker thread is being torn down
// (Worker.terminate(), process.exit() in a worker): JavaScript can no longer run then, every
// call into it throws, and an exception out of here would abort the whole process. So nothing
// escapes: with no JavaScript left to tell, there is nobody to resolve the promise for.
void Job::OnOK() {
  *busy_ = false;
  try {
    Napi::Env env = Env();
    try {
      deferred_.Resolve(done_(env));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (...) {
      const Failure f = current_failure();
      deferred_.Reject(coded(env, f.code, f.message).Value());
    }
  } catch (...) {
  }
}

void Job::OnError(const Napi::Error& e) {
  *busy_ = false;
  try {
    Napi::Env env = Env();
    try {
      deferred_.Reject(coded(env, code_, e.Message()).Value());
    } catch (const Napi::Error& thrown) {
      deferred_.Reject(thrown.Value());  // what building the error threw: the promise settles still
    }
  } catch (...) {
  }
}

Napi::Value BytesNeeded(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) invalid(env, "bytesNeeded(config): config must be an object");
  return Napi::Number::New(env, goal::bytes_needed(parse_config(info[0].As<Napi::Object>())));
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const goal::Settings settings = settings_of(env, info.Length() > 0 ? info[0] : env.Undefined());
  Napi::Object o = Napi::Object::New(env);
  Napi::Object cpu = Napi::Object::New(env);
  Napi::Array isas = Napi::Array::New(env);
  uint32_t k = 0;
  for (const char* isa : {"base", "avx2", "avx512"})
    if (goal::cpu_isa_supported(isa)) own(isas, std::to_string(k++).c_str(), Napi::String::New(env, isa));
  const char* isa = guarded(env, [&] { return goal::cpu_isa(settings); });
  own(cpu, "isa", Napi::String::New(env, isa));
  own(cpu, "device", Napi::String::New(env, goal::cpu_device(isa)));
  own(cpu, "isas", isas);
  own(cpu, "threads", Napi::Number::New(env, std::thread::hardware_concurrency()));
  own(o, "cpu", cpu);
  const goal::CudaInfo ci = goal::cuda_info(settings);
  Napi::Object cuda = Napi::Object::New(env);
  own(cuda, "compiled", Napi::Boolean::New(env, ci.compiled));
  own(cuda, "available", Napi::Boolean::New(env, ci.available));
  if (!ci.available) own(cuda, "reason", Napi::String::New(env, ci.reason));
  if (ci.available) {
    own(cuda, "devices", Napi::Number::New(env, ci.count));
    own(cuda, "name", Napi::String::New(env, ci.name));
    own(cuda, "device", Napi::String::New(env, goal::cuda_device(ci.name)));
    own(cuda, "computeCapability", Napi::String::New(env, std::to_string(ci.major) + "." + std::to_string(ci.minor)));
    own(cuda, "multiprocessors", Napi::Number::New(env, ci.sms));
    own(cuda, "memoryBytes", Napi::Number::New(env, ci.memory));
  }
  if (ci.runtime) own(cuda, "runtimeVersion", Napi::Number::New(env, ci.runtime));
  if (ci.driver) own(cuda, "driverVersion", Napi::Number::New(env, ci.driver));
  own(o, "cuda", cuda);
  return o;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  const Napi::Object global = env.Global();
  env.SetInstanceData(new Constructors{Napi::Persistent(global.Get("Float64Array").As<Napi::Function>()),
                                       Napi::Persistent(global.Get("Uint8Array").As<Napi::Function>())});
  exports.Set("Batch", BatchWrap::Define(env));
  exports.Set("info", Napi::Function::New<Info>(env, "info"));
  exports.Set("bytesNeeded", Napi::Function::New<BytesNeeded>(env, "bytesNeeded"));
  return exports;
}

}  // namespace

NODE_API_MODULE(goal_snn, Init)
