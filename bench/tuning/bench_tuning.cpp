// bench/tuning/bench_tuning.cpp - tuning efficiency: strategies side by side on the same kernels.
//
//   bench_tuning [--kernels FILE.ir] [--only NAME[,NAME]] [--scale F] [--out DIR] [--target T]
//                [--configs NAME=STRATEGY:BUDGET[:SWITCH][:share=F][:starts=K],...] [--threads N]
//                [--seed S] [--retime R]
//
// --configs replaces the three default configurations (budgets are still multiplied by --scale;
// for hybrid BUDGET caps evolutionary + Droplet together and SWITCH is N; share= sets the
// evolutionary batch's sketch share, starts= hybrid's droplet starts; both to compare variants
// of the search side by side); --threads sets the
// kernel threads in the timing worker (0 = all cores, the default). The run ends with a
// geometric-mean table per configuration over the kernels it tuned.
//
// For each kernel and each configuration (default: hybrid with N = 300 evolutionary then Droplet
// until converged, evolutionary 3,000, random 300; budgets multiplied by --scale for quick runs),
// tunes from scratch into its own database under DIR (the best points verified as `kcc tune`
// does) and prints the best GFLOP/s, measurements, invalid ones and wall time. When every
// configuration of a kernel is done, their best schedules are timed again side by side in one
// worker, interleaved over --retime rounds (default 5): the "retimed" column is the median of
// those rounds, the number to compare (a tuning run's own best is its luckiest measurement,
// taken at its own time on a shared machine). Kernels run in --only order. Writes
// DIR/report.html (curves per strategy, roofline).
#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "ir/parser.h"
#include "ir/workload.h"
#include "passes/pipeline.h"
#include "tuner/measure.h"
#include "tuner/stats.h"
#include "tuner/report.h"
#include "tuner/tuner.h"

using namespace kcc;
using namespace kcc::tuner;

namespace {

struct Config {
  std::string name;
  Strategy strategy;
  int64_t budget;
  int64_t hybrid_switch;
  SearchOptions search;  ///< sketch_share, hybrid_sketches from share=F / starts=K
};

std::vector<std::string> split(const std::string &s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string x;
  while (std::getline(ss, x, ','))
    if (!x.empty()) out.push_back(x);
  return out;
}

/// Times `schedules` of `k` again in one worker, `rounds` times each, interleaved (round r starts
/// at schedule r mod n, so no schedule always runs first); returns each one's median seconds
/// over the rounds (0: invalid every time).
std::vector<double> retime(const Kernel &k, const Target &t, const std::vector<Schedule> &schedules, int threads,
                           int rounds) {
  std::vector<LoweredFunc> funcs;
  for (const Schedule &s : schedules) funcs.push_back(lower_kernel(k, s, t));
  MeasureOptions mo;
  mo.run_threads = threads;
  Measurer m(k, t, mo);
  const size_t n = funcs.size();
  std::vector<std::vector<double>> times(n);
  for (int r = 0; r < rounds; ++r) {
    std::vector<const LoweredFunc *> batch;
    for (size_t i = 0; i < n; ++i) batch.push_back(&funcs[(i + r) % n]);
    std::vector<Measurement> res = m.measure(batch);
    for (size_t i = 0; i < n; ++i)
      if (res[i].valid) times[(i + r) % n].push_back(res[i].median);
  }
  std::vector<double> out;
  for (auto &v : times) out.push_back(median(v));
  return out;
}

}  // namespace

int main(int argc, char **argv) {
  std::string kernels_path = std::string(KCC_SOURCE_DIR) + "/bench/tuning/kernels.ir";
  std::string out_dir = "tuning-results", target_name = "host";
  std::vector<std::string> only;
  double scale = 1;
  std::string configs_arg;
  int threads = 0;
  uint64_t seed = 1;
  int retime_rounds = 5;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--kernels") kernels_path = value();
    else if (a == "--only") only = split(value());
    else if (a == "--scale") scale = std::stod(value());
    else if (a == "--out") out_dir = value();
    else if (a == "--target") target_name = value();
    else if (a == "--configs") configs_arg = value();
    else if (a == "--threads") threads = std::stoi(value());
    else if (a == "--seed") seed = std::stoull(value());
    else if (a == "--retime") retime_rounds = std::stoi(value());
    else {
      std::cerr << "usage: bench_tuning [--kernels FILE.ir] [--only K1,K2] [--scale F] [--out DIR] [--target T]\n"
                   "                    [--configs NAME=STRATEGY:BUDGET[:SWITCH][:share=F][:starts=K],...] [--threads N]\n"
                   "                    [--seed S] [--retime R]\n";
      return 2;
    }
  }
  Module m = parse_module_file(kernels_path);
  Target t = make_target(target_name);
  std::filesystem::create_directories(out_dir);
  auto scaled = [&](int64_t n) { return std::max<int64_t>(8, static_cast<int64_t>(static_cast<double>(n) * scale)); };
  // Hybrid: N evolutionary measurements, then Droplet until no neighbour improves (the budget
  // only caps it).
  std::vector<Config> configs{{"hybrid-300", Strategy::Hybrid, scaled(300) + scaled(2000), scaled(300), {}},
                              {"evolutionary-3000", Strategy::Evolutionary, scaled(3000), 0, {}},
                              {"random-300", Strategy::Random, scaled(300), 0, {}}};
  if (!configs_arg.empty()) {
    configs.clear();
    for (const std::string &c : split(configs_arg)) {
      auto eq = c.find('=');
      std::vector<std::string> f;
      std::stringstream ss(eq == std::string::npos ? "" : c.substr(eq + 1));
      for (std::string x; std::getline(ss, x, ':');) f.push_back(x);
      Strategy st;
      Config cfg{c.substr(0, eq), Strategy::Random, 0, 0, {}};
      bool ok = eq != std::string::npos && f.size() >= 2 && parse_strategy(f[0], st);
      try {
        if (ok) cfg.strategy = st, cfg.budget = scaled(std::stoll(f[1]));
        for (size_t i = 2; ok && i < f.size(); ++i) {
          if (f[i].rfind("share=", 0) == 0) cfg.search.sketch_share = std::stod(f[i].substr(6));
          else if (f[i].rfind("starts=", 0) == 0) cfg.search.hybrid_sketches = std::stoi(f[i].substr(7));
          else if (i == 2) cfg.hybrid_switch = scaled(std::stoll(f[i]));
          else ok = false;
        }
      } catch (const std::exception &) {
        ok = false;
      }
      if (!ok) {
        std::cerr << "bench_tuning: bad --configs entry '" << c
                  << "' (NAME=STRATEGY:BUDGET[:SWITCH][:share=F][:starts=K])\n";
        return 2;
      }
      configs.push_back(cfg);
    }
  }
  const bool tty = isatty(2);
  std::cout << fmt::format("# target {} ({}), {} configurations, budget scale {}, worker threads {}\n", t.name,
                           t.key(), configs.size(), scale, threads == 0 ? std::string("all") : std::to_string(threads));
  for (const Config &c : configs)
    std::cout << fmt::format("#   {} = {} budget {}{}, sketch share {}, descents from up to {} sketches\n", c.name,
                             to_string(c.strategy), c.budget,
                             c.hybrid_switch ? fmt::format(" (evolutionary first {})", c.hybrid_switch) : "",
                             c.search.sketch_share, c.search.hybrid_sketches);
  std::cout << fmt::format("{:<22} {:<18} {:>9} {:>9} {:>9} {:>8} {:>9} {:>9}\n", "kernel", "strategy", "GFLOP/s",
                           "retimed", "measured", "invalid", "to-95%", "wall-s");
  struct Geo {
    double log_gflops = 0, log_retimed = 0, log_wall = 0;
    int n = 0;
    int64_t measured = 0;
  };
  std::map<std::string, Geo> per_config;
  std::vector<Kernel> used;
  if (only.empty())
    used = m.kernels;
  else
    for (const std::string &name : only) {
      auto it = std::find_if(m.kernels.begin(), m.kernels.end(), [&](const Kernel &k) { return k.name == name; });
      if (it == m.kernels.end()) {
        std::cerr << "bench_tuning: no kernel '" << name << "' in " << kernels_path << "\n";
        return 2;
      }
      used.push_back(*it);
    }
  Database report_db(out_dir + "/all.db");
  for (const Kernel &k : used) {
    struct Row {
      TuneSummary s;
      double wall = 0, retimed_gflops = 0;
      int64_t to95 = 0;
    };
    std::vector<Row> rows;
    for (const Config &c : configs) {
      const std::string db_path = fmt::format("{}/{}-{}.db", out_dir, k.name, c.name);
      for (const char *suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db_path + suffix);
      Database db(db_path);
      TuneOptions o;
      o.strategy = c.strategy;
      o.budget = c.budget;
      o.search.hybrid_switch = c.hybrid_switch;
      o.search.sketch_share = c.search.sketch_share;
      o.search.hybrid_sketches = c.search.hybrid_sketches;
      o.reuse_database = false;
      o.verify_top = 3;  // as kcc tune / kcc compile
      o.measure.run_threads = threads;
      o.search.seed = seed;
      o.progress = &std::cerr;
      o.progress_is_terminal = tty;
      Row row;
      auto t0 = std::chrono::steady_clock::now();
      row.s = tune_kernel(k, t, &db, o);
      row.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      // Measurements needed to reach 95% of this run's best.
      for (size_t i = 0; i < row.s.best_gflops_curve.size(); ++i)
        if (row.s.best_gflops_curve[i] >= 0.95 * row.s.gflops) {
          row.to95 = static_cast<int64_t>(i) + 1;
          break;
        }
      rows.push_back(std::move(row));
      std::vector<MeasureRecord> all = db.records(workload_key(k), t.key());
      RunInfo run = report_db.begin_run(workload_key(k), t.key(), k.name, c.name, c.budget);
      for (auto &r : all) r.run_id = run.id, r.strategy = c.name;
      report_db.add(all);
      report_db.finish_run(run.id);
    }
    // Every configuration's best, timed again side by side.
    std::vector<Schedule> best;
    std::vector<size_t> which;
    for (size_t i = 0; i < rows.size(); ++i)
      if (rows[i].s.found) best.push_back(rows[i].s.schedule), which.push_back(i);
    if (retime_rounds > 0 && !best.empty()) {
      std::vector<double> secs = retime(k, t, best, threads, retime_rounds);
      for (size_t j = 0; j < which.size(); ++j) {
        const TuneSummary &s = rows[which[j]].s;
        const double flops = s.gflops * 1e9 * s.median_seconds;
        rows[which[j]].retimed_gflops = secs[j] > 0 ? flops / secs[j] * 1e-9 : 0;
      }
    }
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row &r = rows[i];
      std::cout << fmt::format("{:<22} {:<18} {:>9.2f} {:>9.2f} {:>9} {:>8} {:>9} {:>9.1f}\n", k.name, configs[i].name,
                               r.s.gflops, r.retimed_gflops, r.s.measured, r.s.invalid, r.to95, r.wall)
                << std::flush;
      if (r.s.found) {
        auto &g = per_config[configs[i].name];
        g.log_gflops += std::log(r.s.gflops), g.log_wall += std::log(r.wall), g.n += 1, g.measured += r.s.measured;
        g.log_retimed += std::log(r.retimed_gflops > 0 ? r.retimed_gflops : r.s.gflops);
      }
    }
  }
  std::cout << "# geometric means over the kernels each configuration found a valid schedule for\n";
  for (const Config &c : configs) {
    const Geo &g = per_config[c.name];
    if (g.n == 0) continue;
    std::cout << fmt::format("# {:<18} kernels {:>2}  GFLOP/s {:>8.2f}  retimed {:>8.2f}  wall-s {:>8.1f}  measurements {}\n",
                             c.name, g.n, std::exp(g.log_gflops / g.n), std::exp(g.log_retimed / g.n),
                             std::exp(g.log_wall / g.n), g.measured);
  }
  std::ofstream(out_dir + "/report.html") << report_html(report_db, used, t);
  std::cout << "# report: " << out_dir << "/report.html\n";
  return 0;
}
