// tuner/report.h - `kcc report`: one self-contained HTML page (inline SVG, a few lines of inline
// script, nothing fetched) about the tuning of a model's kernels on one target.
//
// The page: the target by name, this machine's peak (measured once per target and stored in the
// database), a table of the kernels sortable by each column (best time, GFLOP/s, share of the
// model's time, fraction of the roofline, measurements, invalid ones), and per kernel its
// best-so-far curve for each tuning run, a roofline and the reasons its invalid candidates
// failed. A kernel's best is the tuner's (tuner/best.h), so the report and `kcc tune` agree.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "codegen/target.h"
#include "ir/kernel.h"
#include "tuner/database.h"

namespace kcc::tuner {

/// A machine's single-core peaks.
struct MachinePeak {
  double gflops = 0;       ///< fp32 FMA throughput
  double gbps = 0;         ///< streaming read bandwidth
  double measured = 0;     ///< when, in seconds since the Unix epoch (0: unknown)
  bool measured_now = false;  ///< measured by this call rather than read from the database
};

/// Measures this machine's peaks for code with `vector_bits`-wide vectors, in about a second.
/// AVX-512 or AVX2 FMA chains where the CPU has them, generic 128-bit vectors elsewhere.
MachinePeak measure_machine_peak(int vector_bits);

/// Whether code for `t` runs on this machine (so its peak can be measured here).
bool runs_here(const Target &t);

/// How the report names a target: its name, CPU and vector ISA, e.g. "host (sapphirerapids, AVX-512)".
std::string target_label(const Target &t);

/// `t`'s peak from the database; measured with `measure` (and stored) when none is stored or
/// `remeasure` is set, if `t` runs here. nullopt: none stored and `t` does not run here.
std::optional<MachinePeak> machine_peak(Database &db, const Target &t, bool remeasure,
                                        const std::function<MachinePeak(const Target &)> &measure);

/// What the database says about one kernel on one target.
struct KernelFigures {
  int64_t measurements = 0;
  int64_t invalid = 0;
  std::optional<MeasureRecord> best;  ///< best_record() of its records; nullopt: none valid
  double best_seconds() const { return best ? best->median_seconds : 0; }
  double gflops() const { return best ? best->gflops() : 0; }
  /// Invalid measurements by outcome, most frequent first, with one message each.
  struct Failure {
    Outcome reason = Outcome::Other;
    int64_t count = 0;
    std::string example;
  };
  std::vector<Failure> failures;
};
KernelFigures kernel_figures(Database &db, const Kernel &k, const Target &t);


struct ReportOptions {
  std::string title;  ///< what the report is about (the input files)
  /// How often each kernel runs per model invocation (`--weight K=W`; default 1), for time shares.
  std::vector<std::pair<std::string, double>> weights;
  bool remeasure_peak = false;  ///< measure the peak again even if one is stored
  std::function<MachinePeak(const Target &)> measure_peak = [](const Target &t) {
    return measure_machine_peak(t.vector_bits);
  };
};

/// The HTML text of the report on `kernels` tuned for `t`.
std::string report_html(Database &db, const std::vector<Kernel> &kernels, const Target &t,
                        const ReportOptions &options = {});

/// Round tick values for an axis over [lo, hi]: multiples of 1, 2 or 5 times a power of ten,
/// about `count` of them, the first <= lo and the last >= hi.
std::vector<double> nice_ticks(double lo, double hi, int count);

}  // namespace kcc::tuner
