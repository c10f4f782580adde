// tuner/runner_client.h - measuring candidates through kcc-runner (docs/runner.md), on
// this machine or another one (an emulator, a board reached by ssh): the compiling side.
//
// A batch of lowered functions becomes one object (functions renamed NAME__bB_K), linked into a
// shared object with `link_command`; the kernel's inputs and the interpreter's outputs go to a
// KCCD file; one runner session (`command`, requests on stdin) checks and times every
// candidate and answers one JSON line each. This is the hook the tuner calls instead of its
// in-process JIT measurer when given `--runner CMD` (see docs/runner.md, "Tuner").
#pragma once
#include <string>
#include <vector>

#include "codegen/target.h"
#include "ir/kernel.h"
#include "ir/stmt.h"
#include "tuner/outcome.h"

namespace kcc::runner {

struct RunnerOptions {
  /// Starts kcc-runner reading requests on stdin, e.g.
  /// "qemu-aarch64 -L /usr/aarch64-linux-gnu -cpu max,sve512=on build/aarch64/kcc-runner".
  std::string command;
  /// Links an object into a shared object: "aarch64-linux-gnu-gcc -shared" or "cc -shared";
  /// the client appends "-o OUT.so IN.o".
  std::string link_command = "cc -shared";
  /// Scratch folder on a file system the runner also sees (created when missing).
  std::string work_dir;
  int samples = 5;
  double min_seconds = 0.01;
  int warmup = 1;
  double tolerance = 1e-3;       ///< |out - ref| <= tolerance * (1 + |ref|), unless `bounds` is given
  /// Per output, per element: the allowed |out - ref| (the tuner's rounding-error bounds,
  /// tuner/error_bound.h); written to a KCCD file the runner reads (`bounds=`). Empty: tolerance.
  std::vector<std::vector<double>> bounds;
  double timeout_seconds = 10;  ///< per candidate
  int threads = 0;              ///< kcc_set_num_threads in the runner (0 = its default)
  /// Inputs evicted from the cache before each timed call (`cold=`; the kernel's weight inputs,
  /// tuner/measure.h).
  std::vector<int> cold_inputs;
  unsigned seed = 1;            ///< random inputs
};

/// One candidate's outcome, as the runner reported it.
struct RunnerResult {
  bool ok = false;
  tuner::Outcome outcome = tuner::Outcome::Other;  ///< why not ok
  std::string error;            ///< "wrong result: ...", "crashed: signal 11 (...)", "timeout: ...", "build: ..."
  std::vector<double> samples;  ///< seconds per call
  double median = 0;
  double max_err = 0;           ///< largest |out - ref| / (1 + |ref|)
};

/// The outcome a runner's error text says: its first word is fixed by the protocol
/// (docs/runner.md: "load", "data", "bounds", "runner", "status", "wrong result", "crashed",
/// "timeout"); Other for any other.
tuner::Outcome runner_outcome(const std::string &error);

/// Writes `k`'s KCCD file: random inputs in [-1, 1] from `seed` and the interpreter's outputs.
void write_kccd(const Kernel &k, unsigned seed, const std::string &path);

/// Parses one response line of kcc-runner; a line that is not a result gives ok=false.
RunnerResult parse_runner_line(const std::string &line);

class RemoteRunner {
 public:
  /// `k` must outlive the runner; the KCCD file is written on first use.
  RemoteRunner(const Kernel &k, const Target &t, RunnerOptions opts);
  /// One result per function (each must have `k`'s arguments; any number of them: each is called
  /// through a generated `int NAME__argv(void **)` entry, add_argv_entry). Build failures are results
  /// ("build: ..."), not exceptions; a runner that cannot be started throws std::runtime_error.
  std::vector<RunnerResult> measure(const std::vector<const LoweredFunc *> &funcs);

 private:
  const Kernel &k_;
  Target t_;
  RunnerOptions o_;
  std::string data_path_, bounds_path_;
  int batch_ = 0;
};

}  // namespace kcc::runner
