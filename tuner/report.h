// tuner/report.h - `kcc report`: a self-contained HTML page (inline SVG) from the database.
//
// Per kernel (workload and target): the best-so-far GFLOP/s against measurements for each tuning
// run (one curve per run, labelled with its strategy), and a roofline: the kernel's best point
// (arithmetic intensity = flops / compulsory bytes of its arguments) under this machine's
// measured peak FLOP/s and memory bandwidth.
#pragma once
#include <string>
#include <vector>

#include "ir/kernel.h"
#include "tuner/database.h"

namespace kcc::tuner {

/// This machine's single-core peaks, measured in a few hundred milliseconds.
struct MachinePeak {
  double gflops = 0;  ///< fp32 FMA throughput
  double gbps = 0;    ///< streaming read bandwidth
};
MachinePeak measure_machine_peak();

/// The HTML text. `kernels` (may be empty) supply names and argument bytes for the roofline;
/// runs of other workloads are drawn without a roofline point.
std::string report_html(Database &db, const std::vector<Kernel> &kernels, const MachinePeak &peak);

/// The SVG of one kernel's tuning curves (for embedding elsewhere).
std::string curves_svg(const std::vector<std::pair<std::string, std::vector<double>>> &curves, const std::string &title);

}  // namespace kcc::tuner
