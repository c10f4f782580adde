// bench/tuning/bench_candidates.cpp - candidate throughput of the search space: how many
// candidates per second are turned into schedules and statically checked (schedule applied and
// lowered, KernelSpace::statically_valid) on one kernel. Not a test; timings vary with load.
//
//   bench_candidates [--kernels FILE.ir] [--kernel NAME] [--target T] [--points N] [--reps R]
//                    [--dump]
//
// Draws N points (fixed seed, KernelSpace::random_point_of over the sketches in turn) and times,
// R times each on a fresh space: building the schedule of every point (KernelSpace::schedule),
// and the full static check (statically_valid). Prints the median of each. --dump prints every
// point's schedule text instead (to compare two builds: the text must not change).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "ir/parser.h"
#include "tuner/space.h"

using namespace kcc;
using namespace kcc::tuner;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char **argv) {
  std::string kernels = std::string(KCC_SOURCE_DIR) + "/bench/tuning/kernels.ir", name = "resnet_conv3x3",
              target = "host";
  int points = 300, reps = 5;
  bool dump = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--kernels") kernels = value();
    else if (a == "--kernel") name = value();
    else if (a == "--target") target = value();
    else if (a == "--points") points = std::stoi(value());
    else if (a == "--reps") reps = std::stoi(value());
    else if (a == "--dump") dump = true;
    else {
      std::cerr << "usage: bench_candidates [--kernels FILE.ir] [--kernel NAME] [--target T] [--points N] "
                   "[--reps R] [--dump]\n";
      return 2;
    }
  }
  Module m = parse_module_file(kernels);
  Target t = make_target(target);
  for (const Kernel &k : m.kernels) {
    if (!dump && k.name != name) continue;
    if (dump && name != "all" && k.name != name) continue;
    std::vector<Point> pts;
    {
      KernelSpace space(k, t);
      std::mt19937_64 rng(1);
      for (int i = 0; i < points; ++i) pts.push_back(space.random_point_of(i % space.num_sketches(), rng));
      if (dump) {
        for (auto &p : pts) std::cout << "== " << k.name << " " << to_string(p) << "\n" << space.schedule_text(p);
        continue;
      }
      std::cout << fmt::format("{} on {}: {} sketches, {} points, {} repetitions (median)\n", k.name, t.name,
                               space.num_sketches(), points, reps);
    }
    std::vector<double> build, check;
    int valid = 0;
    for (int r = 0; r < reps; ++r) {
      KernelSpace space(k, t);
      double t0 = now();
      size_t steps = 0;
      for (auto &p : pts) steps += space.schedule(p).steps.size();
      build.push_back(now() - t0);
      t0 = now();
      valid = 0;
      for (auto &p : pts) valid += space.statically_valid(p);
      check.push_back(now() - t0);
      if (steps == 0) std::cout << "(no steps)\n";
    }
    std::cout << fmt::format("  schedule():          {:9.0f} candidates/s\n", points / median(build));
    std::cout << fmt::format("  statically_valid():  {:9.0f} candidates/s ({} of {} valid)\n", points / median(check),
                             valid, points);
  }
  return 0;
}
