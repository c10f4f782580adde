// bench/tuning/bench_codegen_ab.cpp - one code-generation switch, A/B, side by side.
//
//   bench_codegen_ab FILE.ir [--registry R.kreg] [--llvm-unroll A,B] [--rounds N] [--threads T]
//
// For every kernel of FILE.ir and each schedule it has (the registry's, the .ir's hand schedule,
// the default), builds it twice, with the code-generation option set to A and to B (default
// --llvm-unroll on,off: LLVM's own loop unrolling on and off, the target option of
// `kcc compile --llvm-unroll`), and times both in the same worker,
// interleaved over N rounds (default 5). Prints the medians in GFLOP/s, B/A, and the build
// seconds of each (what the switch costs or saves in tuning time).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <optional>

#include "ir/parser.h"
#include "passes/pipeline.h"
#include "passes/registry.h"
#include "tuner/measure.h"
#include "tuner/stats.h"

using namespace kcc;
using namespace kcc::tuner;

int main(int argc, char **argv) {
  std::string ir_path, registry_path, ab = "on,off";
  int rounds = 5, threads = 1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--registry") registry_path = value();
    else if (a == "--llvm-unroll") ab = value();
    else if (a == "--rounds") rounds = std::stoi(value());
    else if (a == "--threads") threads = std::stoi(value());
    else if (ir_path.empty() && a[0] != '-') ir_path = a;
    else {
      std::cerr << "usage: bench_codegen_ab FILE.ir [--registry R.kreg] [--llvm-unroll A,B] [--rounds N] [--threads T]\n";
      return 2;
    }
  }
  const auto comma = ab.find(',');
  const std::string va = ab.substr(0, comma), vb = comma == std::string::npos ? "" : ab.substr(comma + 1);
  auto on_off = [](const std::string &v) { return v == "on" || v == "off"; };
  if (ir_path.empty() || !on_off(va) || !on_off(vb)) {
    std::cerr << "bench_codegen_ab: need FILE.ir and --llvm-unroll A,B with A and B on or off\n";
    return 2;
  }
  const std::string name = "llvm-unroll";
  Module m = parse_module_file(ir_path);
  Target t = make_target("host");
  Target sides[2] = {t, t};
  sides[0].options.llvm_unroll = va == "on";
  sides[1].options.llvm_unroll = vb == "on";
  std::optional<RegistryProvider> reg;
  if (!registry_path.empty()) reg.emplace(read_registry_file(registry_path));
  std::cout << fmt::format("# {} A: {}={}  B: {}={}, {} rounds, {} thread(s)\n", ir_path, name, va, name, vb, rounds,
                           threads);
  std::cout << fmt::format("{:<24} {:<9} {:>9} {:>9} {:>6} {:>9} {:>9}\n", "kernel", "schedule", "A GFLOP/s",
                           "B GFLOP/s", "B/A", "A build-s", "B build-s");
  double log_ratio = 0;
  int n_ratio = 0;
  for (const Kernel &k : m.kernels) {
    std::vector<std::pair<std::string, Schedule>> schedules;
    ChosenSchedule chosen;
    if (reg && reg->provide(k, t, chosen)) schedules.emplace_back("registry", chosen.schedule);
    if (const Schedule *s = m.find_schedule(k.name)) schedules.emplace_back("hand", *s);
    schedules.emplace_back("default", default_schedule(k, t));
    for (const auto &[label, sched] : schedules) {
      LoweredFunc f = lower_kernel(k, sched, t);
      MeasureOptions mo;
      mo.run_threads = threads;
      Measurer meas[2] = {Measurer(k, sides[0], mo), Measurer(k, sides[1], mo)};
      std::vector<double> secs[2], build[2];
      for (int r = 0; r < rounds; ++r)
        for (int side : {r % 2, 1 - r % 2}) {  // alternate which side runs first
          const double b0 = meas[side].stats().build_seconds;
          std::vector<Measurement> res = meas[side].measure({&f});
          build[side].push_back(meas[side].stats().build_seconds - b0);
          if (res[0].valid) secs[side].push_back(res[0].median);
        }
      const double a = secs[0].empty() ? 0 : k.flops() / median(secs[0]) * 1e-9;
      const double b = secs[1].empty() ? 0 : k.flops() / median(secs[1]) * 1e-9;
      std::cout << fmt::format("{:<24} {:<9} {:>9.2f} {:>9.2f} {:>6.3f} {:>9.2f} {:>9.2f}\n", k.name, label, a, b,
                               a > 0 ? b / a : 0, median(build[0]), median(build[1]))
                << std::flush;
      if (a > 0 && b > 0) log_ratio += std::log(b / a), ++n_ratio;
    }
  }
  if (n_ratio) std::cout << fmt::format("# geometric mean B/A over {} schedules: {:.3f}\n", n_ratio, std::exp(log_ratio / n_ratio));
  return 0;
}
