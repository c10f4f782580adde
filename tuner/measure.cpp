// tuner/measure.cpp - builder threads and a forked runner process.
//
// Why fork after building: the worker inherits the JIT'd code of the whole batch, so nothing
// needs to be serialized, and a crash or hang in generated code only takes the worker down.
#include "tuner/measure.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <iostream>
#include <limits>
#include <mutex>
#include <new>
#include <random>
#include <thread>

#include "codegen/codegen.h"
#include "ir/diag.h"
#include "ir/interp.h"
#include "kcc_runtime.h"
#include "tuner/error_bound.h"
#include "tuner/stats.h"

namespace kcc::tuner {

namespace {

double now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

bool write_all(int fd, const void *p, size_t n) {
  const char *c = static_cast<const char *>(p);
  while (n > 0) {
    ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
    if (w <= 0) {
      if (w < 0 && errno == EINTR) continue;
      return false;
    }
    c += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

/// Reads exactly n bytes, waiting at most until `deadline` (monotonic seconds; 0 = forever).
/// Returns 1 on success, 0 on EOF/error, -1 on timeout.
int read_all(int fd, void *p, size_t n, double deadline) {
  char *c = static_cast<char *>(p);
  while (n > 0) {
    if (deadline > 0) {
      double left = deadline - now();
      if (left <= 0) return -1;
      pollfd pfd{fd, POLLIN, 0};
      int r = poll(&pfd, 1, static_cast<int>(std::ceil(left * 1000)));
      if (r == 0) return -1;
      if (r < 0) {
        if (errno == EINTR) continue;
        return 0;
      }
    }
    ssize_t got = read(fd, c, n);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return 0;
    c += got;
    n -= static_cast<size_t>(got);
  }
  return 1;
}

struct Built {
  std::unique_ptr<JitModule> jit;
  void *fn = nullptr;
  Outcome outcome = Outcome::Ok;  ///< Build or CompileTimeLimit when it failed
  std::string error;
};

/// The result a worker sends back for one candidate.
struct WorkerReply {
  int32_t ok = 0;
  Outcome outcome = Outcome::Other;  ///< why not ok
  int32_t no_driver = 0;             ///< no CUDA driver loads: the measurer stops (a user error)
  std::vector<double> samples;
  std::string error;

  WorkerReply &fail(Outcome o, std::string why) {
    outcome = o;
    error = std::move(why);
    return *this;
  }
};

}  // namespace

struct Measurer::Impl {
  bool have_reference = false;
  bool gpu_checked = false;  // a CUDA driver was found (NVPTX targets)
  std::vector<std::vector<float>> inputs;
  BoundedReference reference;  // float64 outputs and their rounding-error bounds
};

double compile_time_limit_for(const Kernel &k, const MeasureOptions &o) {
  return o.compile_time_limit * static_cast<double>(std::max<size_t>(1, k.stages.size()));
}

Measurer::Measurer(const Kernel &k, const Target &t, MeasureOptions opts)
    : impl_(std::make_unique<Impl>()), k_(k), t_(t), opts_(opts) {}

Measurer::~Measurer() = default;

namespace {

/// "" when every output is within its rounding-error bound of the reference (error_bound.h),
/// else a "wrong result: ..." line naming the first element that is not. outs[i] holds as many
/// elements as the reference's output i.
std::string compare_outputs(const Kernel &k, const std::vector<const float *> &outs, const BoundedReference &ref) {
  for (size_t out = 0; out < outs.size(); ++out)
    for (size_t i = 0; i < ref.values[out].size(); ++i) {
      const double want = ref.values[out][i], got = outs[out][i], bound = ref.bounds[out][i];
      if (!within_bound(got, want, bound))
        return fmt::format("wrong result: output '{}' element {}: got {:.9g}, expected {:.9g}, tolerance {:.3g}",
                           k.outputs[out]->name, i, got, want, tolerance_of(bound));
    }
  return "";
}

/// A CPU candidate's operands, in the order the kernel takes them, each in a kcc_alloc_slot
/// buffer: aligned and staggered as a model's inference passes them, not as malloc places
/// them (kcc_runtime.h, decision 37).
class OperandBuffers {
 public:
  OperandBuffers() = default;
  OperandBuffers(const OperandBuffers &) = delete;
  OperandBuffers &operator=(const OperandBuffers &) = delete;
  ~OperandBuffers() {
    for (float *p : data_) kcc_free_slot(p);
  }
  /// A new operand of n elements, each `fill`.
  float *add(size_t n, float fill) {
    float *p = allocate(n);
    std::fill_n(p, n, fill);
    return p;
  }
  /// A new operand holding a copy of v.
  float *add(const std::vector<float> &v) {
    float *p = allocate(v.size());
    std::copy(v.begin(), v.end(), p);
    return p;
  }
  const std::vector<float *> &pointers() const { return data_; }

 private:
  float *allocate(size_t n) {
    auto *p = static_cast<float *>(kcc_alloc_slot(std::max<size_t>(n, 1) * sizeof(float), data_.size()));
    if (!p) throw std::bad_alloc();
    data_.push_back(p);
    return p;
  }

  std::vector<float *> data_;
};

/// Warm-up, then `samples` samples of `repeats` runs each; `run` runs the kernel once and
/// returns once it has finished (a GPU run synchronizes). `prepare` (may be empty) runs before
/// each run, untimed: each run is then timed alone and a sample is their mean.
template <class Run>
void time_samples(WorkerReply &r, const MeasureOptions &o, Run run, const std::function<void()> &prepare = {}) {
  auto once = [&] {
    if (prepare) prepare();
    double a = now();
    run();
    return now() - a;
  };
  for (int w = 0; w < o.warmup_runs; ++w) once();
  // Repeats per sample: enough for min_sample_seconds, from one timed run.
  double one = std::max(once(), 1e-9);
  int64_t repeats = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(o.min_sample_seconds / one)));
  const int n = std::max(3, o.samples);
  for (int s = 0; s < n; ++s) {
    double total = 0;
    if (prepare) {
      for (int64_t i = 0; i < repeats; ++i) total += once();
    } else {  // one clock reading around the block: nothing between runs to leave out
      double a = now();
      for (int64_t i = 0; i < repeats; ++i) run();
      total = now() - a;
    }
    r.samples.push_back(total / static_cast<double>(repeats));
  }
  r.ok = 1;
}

/// Runs in the worker: check against the reference, then time.
WorkerReply run_candidate(void *fn, const Kernel &k, const std::vector<std::vector<float>> &inputs,
                          const BoundedReference &ref, const MeasureOptions &o) {
  WorkerReply r;
  OperandBuffers buffers;
  for (const std::vector<float> &v : inputs) buffers.add(v);
  std::vector<const float *> outs;
  for (auto &t : k.outputs)
    outs.push_back(buffers.add(static_cast<size_t>(t->num_elements()), std::numeric_limits<float>::quiet_NaN()));
  std::vector<void *> args(buffers.pointers().begin(), buffers.pointers().end());
  int rc = call_kernel(fn, args);
  if (rc != 0) return r.fail(Outcome::Status, "status " + std::to_string(rc) + ": " + kcc_error_string(rc));
  if (std::string e = compare_outputs(k, outs, ref); !e.empty()) return r.fail(Outcome::WrongResult, e);
  // A model's weights are timed as its inference finds them: evicted (kcc_runtime.h).
  std::function<void()> evict_weights;
  if (o.cold_weights && !k.weight_inputs.empty())
    evict_weights = [&] {
      for (int i : k.weight_inputs)
        kcc_evict_from_cache(args[static_cast<size_t>(i)], inputs[static_cast<size_t>(i)].size() * sizeof(float));
    };
  time_samples(r, o, [&] { call_kernel(fn, args); }, evict_weights);
  return r;
}

/// Device buffers of one GPU candidate, freed when it ends.
struct DeviceBuffers {
  std::vector<void *> ptrs;
  ~DeviceBuffers() {
    for (void *p : ptrs) kcc_cuda_free(p, nullptr);
    kcc_cuda_synchronize();
  }
};

/// Runs in the worker on an NVPTX target: inputs copied to device buffers, one run checked
/// against the reference after copying the outputs back, then timed by the wall clock around
/// `repeats` launches and one kcc_cuda_synchronize (launches queue on the default stream).
/// Fails with no_driver (the caller stops measuring), Cuda (the context may be unusable: the
/// caller starts a new worker), Status or WrongResult.
WorkerReply run_gpu_candidate(void *fn, const Kernel &k, const std::vector<std::vector<float>> &inputs,
                              const BoundedReference &ref, const MeasureOptions &o) {
  WorkerReply r;
  if (!kcc_cuda_available()) {
    r.no_driver = 1;
    r.error = kcc_cuda_last_error();
    return r;
  }
  auto cuda_error = [&](const char *what, int rc) {
    return r.fail(Outcome::Cuda, fmt::format("cuda error: {} failed (status {}: {})", what, rc, kcc_cuda_last_error()));
  };
  DeviceBuffers dev;
  std::vector<size_t> bytes;
  for (auto &v : inputs) bytes.push_back(v.size() * sizeof(float));
  for (auto &t : k.outputs) bytes.push_back(static_cast<size_t>(t->num_elements()) * sizeof(float));
  for (size_t i = 0; i < bytes.size(); ++i) {
    void *p = nullptr;
    if (int rc = kcc_cuda_alloc(&p, bytes[i], nullptr)) return cuda_error("kcc_cuda_alloc", rc);
    dev.ptrs.push_back(p);
    if (i < inputs.size())
      if (int rc = kcc_cuda_copy(p, inputs[i].data(), bytes[i], 1)) return cuda_error("copy to the device", rc);
  }
  std::vector<void *> args = dev.ptrs;
  args.push_back(nullptr);  // the default stream
  if (int rc = call_kernel(fn, args))
    return r.fail(Outcome::Status, fmt::format("status {}: {} ({})", rc, kcc_error_string(rc), kcc_cuda_last_error()));
  if (int rc = kcc_cuda_synchronize()) return cuda_error("the first run", rc);
  std::vector<std::vector<float>> outs;
  for (size_t o2 = 0; o2 < k.outputs.size(); ++o2) {
    const size_t b = bytes[inputs.size() + o2];
    outs.emplace_back(b / sizeof(float));
    if (int rc = kcc_cuda_copy(outs.back().data(), dev.ptrs[inputs.size() + o2], b, 0))
      return cuda_error("copy from the device", rc);
  }
  std::vector<const float *> out_data;
  for (const std::vector<float> &v : outs) out_data.push_back(v.data());
  if (std::string e = compare_outputs(k, out_data, ref); !e.empty()) return r.fail(Outcome::WrongResult, e);
  int failed = 0;
  time_samples(r, o, [&] {
    failed = failed ? failed : call_kernel(fn, args);
    failed = failed ? failed : kcc_cuda_synchronize();
  });
  if (failed) {
    r.ok = 0;
    r.samples.clear();
    return cuda_error("a timed run", failed);
  }
  return r;
}

}  // namespace


namespace {

/// The worker's loop: read a candidate index, run it, reply; exit when the parent closes.
[[noreturn]] void worker_main(int fd, const std::vector<Built> &built, const Kernel &k, bool gpu,
                              const std::vector<std::vector<float>> &inputs,
                              const BoundedReference &ref, const MeasureOptions &o) {
  if (o.run_threads > 0) kcc_set_num_threads(o.run_threads);
  for (;;) {
    int32_t idx = -1;
    if (read_all(fd, &idx, sizeof idx, 0) != 1) _exit(0);
    WorkerReply r;
    try {
      void *fn = built[static_cast<size_t>(idx)].fn;
      r = gpu ? run_gpu_candidate(fn, k, inputs, ref, o) : run_candidate(fn, k, inputs, ref, o);
    } catch (const std::exception &e) {
      r.fail(Outcome::Exception, std::string("exception: ") + e.what());
    }
    int32_t n = static_cast<int32_t>(r.samples.size()), len = static_cast<int32_t>(r.error.size());
    const int32_t outcome = static_cast<int32_t>(r.outcome);
    if (!write_all(fd, &r.ok, sizeof r.ok) || !write_all(fd, &outcome, sizeof outcome) ||
        !write_all(fd, &r.no_driver, sizeof r.no_driver) || !write_all(fd, &n, sizeof n) ||
        !write_all(fd, r.samples.data(), sizeof(double) * r.samples.size()) || !write_all(fd, &len, sizeof len) ||
        !write_all(fd, r.error.data(), r.error.size()))
      _exit(0);
  }
}

/// A forked worker and its end of the socket.
struct Worker {
  pid_t pid = -1;
  int fd = -1;
};

Worker start_worker(const std::vector<Built> &built, const Kernel &k, bool gpu,
                    const std::vector<std::vector<float>> &inputs,
                    const BoundedReference &ref, const MeasureOptions &o) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw std::runtime_error("socketpair failed");
  std::cout.flush();
  std::cerr.flush();
  pid_t pid = fork();
  if (pid < 0) {
    close(sv[0]);
    close(sv[1]);
    throw std::runtime_error("fork failed");
  }
  if (pid == 0) {
    close(sv[0]);
    worker_main(sv[1], built, k, gpu, inputs, ref, o);
  }
  close(sv[1]);
  return {pid, sv[0]};
}

/// How a child process ended, in words.
std::string stop_status(int status) {
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    return "signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  return "exit status " + std::to_string(WEXITSTATUS(status));
}

/// Kills the worker (if alive) and reaps it; returns a description of how it ended.
std::string stop_worker(Worker &w, bool kill_it) {
  if (w.pid < 0) return "";
  close(w.fd);
  if (kill_it) kill(w.pid, SIGKILL);
  int status = 0;
  waitpid(w.pid, &status, 0);
  w = Worker{};
  return stop_status(status);
}

/// What kcc says when no CUDA driver loads: the runtime's reason, `no CUDA driver: ...`.
std::string no_driver_message(const Kernel &k, const Target &t, std::string why) {
  const std::string lead = "no CUDA driver";
  if (why.compare(0, lead.size(), lead) != 0) why = lead + ": " + why;
  return "cannot measure kernel '" + k.name + "' on " + t.name + ": " + why;
}

/// "" when a CUDA driver and device are usable, else the runtime's reason.
/// Asked in a child process: this process must not hold a CUDA context when it forks workers.
std::string probe_cuda_driver() {
  int fd[2];
  if (pipe(fd) != 0) return "no CUDA driver: pipe failed";
  std::cout.flush();
  std::cerr.flush();
  pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    const std::string e = kcc_cuda_available() ? "" : kcc_cuda_last_error();
    (void)!write(fd[1], e.data(), e.size());
    _exit(0);
  }
  close(fd[1]);
  std::string e;
  char buf[512];
  for (ssize_t n; (n = read(fd[0], buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    e.append(buf, static_cast<size_t>(n));
  }
  close(fd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return "the probe process " + stop_status(status);
  return e;
}

}  // namespace

std::vector<Measurement> Measurer::measure(const std::vector<const LoweredFunc *> &funcs) {
  std::vector<Measurement> out(funcs.size());
  if (funcs.empty()) return out;
  if (t_.is_gpu() && !impl_->gpu_checked) {  // before building anything
    const std::string e = probe_cuda_driver();
    if (!e.empty())  // a user error (wrong machine), not a bug: kcc says "error:" and exits with 1
      throw UserError(SourceLoc{}, no_driver_message(k_, t_, e));
    impl_->gpu_checked = true;
  }
  if (!impl_->have_reference) {
    std::mt19937 rng(opts_.seed);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (auto &t : k_.inputs) {
      std::vector<float> v(static_cast<size_t>(t->num_elements()));
      for (auto &x : v) x = dist(rng);
      impl_->inputs.push_back(std::move(v));
    }
    impl_->reference = bounded_reference(k_, impl_->inputs);
    impl_->have_reference = true;
  }

  // Phase 1: build on several threads. JIT materialization (lookup) is serialized.
  double b0 = now();
  std::vector<Built> built(funcs.size());
  const double compile_time_limit = compile_time_limit_for(k_, opts_);
  std::atomic<size_t> next{0};
  std::mutex jit_mutex;
  std::exception_ptr bug;  // the first InternalError of a builder: a kcc bug, rethrown below
  auto builder = [&] {
    for (;;) {
      size_t i = next++;
      if (i >= funcs.size()) return;
      try {
        if (!funcs[i]) throw std::runtime_error("no loop IR");  // the caller says why (a static error)
        CompiledModule cm = generate_code({*funcs[i]}, t_, k_.name);
        cm.optimize(compile_time_limit);
        const std::string object = cm.object();  // the back end runs in parallel, outside the lock
        std::lock_guard<std::mutex> lock(jit_mutex);
        built[i].jit = JitModule::create_from_object(object, k_.name);
        built[i].fn = built[i].jit->lookup(funcs[i]->name);
      } catch (const InternalError &) {
        std::lock_guard<std::mutex> lock(jit_mutex);
        if (!bug) bug = std::current_exception();
      } catch (const CompileTimeLimit &e) {
        built[i].outcome = Outcome::CompileTimeLimit;
        built[i].error = std::string("build: ") + e.what();
      } catch (const std::exception &e) {
        built[i].outcome = Outcome::Build;
        built[i].error = std::string("build: ") + e.what();
      }
    }
  };
  std::vector<std::thread> threads;
  const int nb = std::max(1, std::min<int>(opts_.build_threads, static_cast<int>(funcs.size())));
  for (int i = 1; i < nb; ++i) threads.emplace_back(builder);
  builder();
  for (auto &t : threads) t.join();
  stats_.build_seconds += now() - b0;
  if (bug) std::rethrow_exception(bug);

  // Phase 2: run one at a time in a worker process (which inherits call_kernel's trampoline for
  // this argument count, made here once rather than in every worker).
  prepare_call_kernel(k_.inputs.size() + k_.outputs.size() + (t_.is_gpu() ? 1 : 0));
  double r0 = now();
  Worker w;
  for (size_t i = 0; i < funcs.size(); ++i) {
    Measurement &m = out[i];
    if (built[i].outcome != Outcome::Ok) {
      m = Measurement::invalid(built[i].outcome, built[i].error);
      ++stats_.build_failed;
      continue;
    }
    ++stats_.built;
    if (w.pid < 0) w = start_worker(built, k_, t_.is_gpu(), impl_->inputs, impl_->reference, opts_);
    int32_t idx = static_cast<int32_t>(i);
    const double deadline = now() + opts_.timeout_seconds;
    WorkerReply r;
    int32_t outcome = 0, n = 0, len = 0;
    int rc = write_all(w.fd, &idx, sizeof idx) ? read_all(w.fd, &r.ok, sizeof r.ok, deadline) : 0;
    if (rc == 1) rc = read_all(w.fd, &outcome, sizeof outcome, deadline);
    if (rc == 1) rc = read_all(w.fd, &r.no_driver, sizeof r.no_driver, deadline);
    if (rc == 1) rc = read_all(w.fd, &n, sizeof n, deadline);
    if (rc == 1 && n >= 0 && n < 1000000) {
      r.samples.resize(static_cast<size_t>(n));
      rc = read_all(w.fd, r.samples.data(), sizeof(double) * static_cast<size_t>(n), deadline);
    }
    if (rc == 1) rc = read_all(w.fd, &len, sizeof len, deadline);
    if (rc == 1 && len >= 0 && len < (1 << 20)) {
      r.error.resize(static_cast<size_t>(len));
      rc = read_all(w.fd, r.error.data(), static_cast<size_t>(len), deadline);
    }
    if (rc != 1) {
      std::string how = stop_worker(w, true);
      ++stats_.worker_restarts;
      if (rc < 0) {
        m = Measurement::invalid(Outcome::Timeout,
                                 "timeout: no result within " + std::to_string(opts_.timeout_seconds) + " s");
        ++stats_.timed_out;
      } else {
        m = Measurement::invalid(Outcome::Crashed, "crashed: worker ended with " + how);
        ++stats_.crashed;
      }
      continue;
    }
    if (r.no_driver) {  // the driver went away after the probe: still the machine, not a bug
      stop_worker(w, true);
      throw UserError(SourceLoc{}, no_driver_message(k_, t_, r.error));
    }
    r.outcome = static_cast<Outcome>(std::clamp<int32_t>(outcome, 0, kNumOutcomes - 1));
    if (!r.ok && r.outcome == Outcome::Cuda) {  // the context may be broken: a fresh worker
      stop_worker(w, true);
      ++stats_.worker_restarts;
    }
    if (!r.ok) {
      m = Measurement::invalid(r.outcome, r.error);
      if (r.outcome == Outcome::WrongResult) ++stats_.wrong;
      continue;
    }
    m.valid = true;
    m.samples = std::move(r.samples);
    m.median = median(m.samples);
    ++stats_.ok;
  }
  stop_worker(w, false);
  stats_.run_seconds += now() - r0;
  return out;
}

}  // namespace kcc::tuner
