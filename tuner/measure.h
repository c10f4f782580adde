// tuner/measure.h - building and timing candidates (DESIGN §6 "Measurement").
//
// A batch is measured in two phases that never overlap, so that compiling does not disturb
// timing on the same cores:
//   1. build: every candidate's loop IR -> LLVM -> O3 -> JIT, on `build_threads` threads;
//   2. run: a forked worker process (it inherits the JIT'd code) runs the candidates one at a
//      time. Each is first run once on random inputs and compared with the reference
//      interpreter within each element's rounding-error bound (error_bound.h; a mismatch is a
//      compiler bug: recorded invalid, and the tuner reports it, bug_report.h), then
//      warmed up and timed: each sample repeats the kernel until it lasts `min_sample_seconds`,
//      `samples` samples (>= 3) are kept, the median reported. A kernel's weight inputs
//      (Kernel::weight_inputs: a model passes it weights) are evicted from the cache before each
//      timed run (kcc_evict_from_cache, untimed): a model reads each weight once per inference,
//      so a schedule is ranked as the model will run it, not with weights hot in L2. The check
//      above catches wrong code; this only changes what is timed.
// A candidate that crashes the worker or runs past `timeout_seconds` is recorded invalid with
// the reason; the worker is killed and a new one forked for the rest of the batch.
//
// NVPTX targets: the worker (never this process: a CUDA context does not survive fork) loads the
// driver, copies the inputs into device buffers (kcc_cuda_alloc/copy), checks one run's outputs
// against the interpreter, then times `repeats` launches followed by one kcc_cuda_synchronize by
// the wall clock. Without a driver measure() throws a UserError ("cannot measure kernel 'K' on
// nvptx-sm_90: no CUDA driver ...", checked in a forked probe before anything is built, and again
// should a worker find none) instead of recording every candidate as invalid: kcc says "error:"
// and exits with 1. A CUDA error gives the next candidate a fresh worker (a faulted context stays
// unusable).
//
// The process calling measure() must not have run generated parallel code itself (the runtime's
// thread pool would be inherited without its threads); the tuner never does.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "codegen/target.h"
#include "ir/kernel.h"
#include "ir/stmt.h"
#include "tuner/search.h"

namespace kcc::tuner {

struct MeasureOptions {
  int samples = 5;                   ///< kept per candidate (at least 3 are kept whatever this says)
  double min_sample_seconds = 0.01;  ///< each sample repeats the kernel until it lasts this long
  int warmup_runs = 1;
  bool cold_weights = true;          ///< evict Kernel::weight_inputs before each timed run (CPU)
  double timeout_seconds = 10;       ///< per candidate (check + warm-up + samples)
  int build_threads = 2;
  /// CPU seconds per stage of the kernel: a candidate whose O3 pipeline takes more than this
  /// times the kernel's stage count is given up ("build: optimization ran past ...", invalid;
  /// 0 = no limit; see compile_time_limit_for). Such code is huge (register tiles with tails
  /// unrolled again by LLVM: 10-17 s for one candidate of a one-stage kernel, 8-20x slower than
  /// the kernel's best) and would stall the batch; a kernel of many stages is that much more code.
  double compile_time_limit = 2;
  unsigned seed = 1;                 ///< random inputs
  int run_threads = 0;               ///< kcc_set_num_threads in the worker (0 = runtime default)
};

/// The CPU-time limit of one candidate's O3 pipeline for `k`: o.compile_time_limit per stage
/// (0 = none). LLVM's time grows with the code it is given, and each stage is a loop nest of
/// its own (fused or not); a 27-stage kernel's candidates took longer than 2 s every one.
double compile_time_limit_for(const Kernel &k, const MeasureOptions &o);

/// Counts of one measure() call, for reports.
struct MeasureStats {
  int64_t built = 0, build_failed = 0, crashed = 0, timed_out = 0, wrong = 0, ok = 0;
  int64_t worker_restarts = 0;
  double build_seconds = 0, run_seconds = 0;
};

class Measurer {
 public:
  /// `k` must outlive the measurer. The reference outputs are computed on first use.
  Measurer(const Kernel &k, const Target &t, MeasureOptions opts = {});
  ~Measurer();

  /// Builds and runs lowered functions of `k` (each with `k`'s arguments); one result per func.
  /// An invalid result's outcome (outcome.h) is Build or CompileTimeLimit ("build: ..."),
  /// Crashed ("crashed: worker ended with signal N (...)"), Timeout, WrongResult ("wrong result:
  /// output 'C' element I: got G, expected E, tolerance T"), Status (the kernel returned an error
  /// code), Exception or Cuda (NVPTX); a null func gives Build ("build: no loop IR").
  /// Throws UserError when the target is NVPTX and no CUDA driver loads.
  std::vector<Measurement> measure(const std::vector<const LoweredFunc *> &funcs);

  const MeasureStats &stats() const { return stats_; }
  const MeasureOptions &options() const { return opts_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  const Kernel &k_;
  Target t_;
  MeasureOptions opts_;
  MeasureStats stats_;
};

}  // namespace kcc::tuner
