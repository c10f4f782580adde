// tuner/cli.cpp - tuner flags, the compile-time provider, `kcc tune`.
#include "tuner/cli.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <ostream>
#include <stdexcept>

#include "kcc_runtime.h"
#include "tuner/bug_report.h"

namespace kcc::tuner {

const char *tune_flags_help() {
  return "  --budget N            tuning measurements, total over the file's kernels (0 = no tuning)\n"
         "  --db PATH             tuning database (default $XDG_CACHE_HOME/kcc/tuning.db)\n"
         "  --strategy S          hybrid (default), evolutionary, droplet or random\n"
         "  --hybrid-switch N     hybrid: evolutionary measurements before Droplet Search (default 300;\n"
         "                        at most half of a kernel's share of the budget)\n"
         "  --weight KERNEL=W     KERNEL runs W times per model invocation (budget spread)\n"
         "  --timeout S           seconds one candidate may run before it is killed (default 10)\n"
         "  --threads N           threads candidates are timed on; tune with the count the app uses\n"
         "                        (default: all cores). A compile takes the records measured on N\n"
         "                        threads first, then those that do not say, then any (with a note)\n"
         "  --runner CMD          measure through kcc-runner started by CMD (docs/runner.md), e.g.\n"
         "                        'qemu-aarch64 -L /usr/aarch64-linux-gnu -cpu max,sve512=on build/aarch64/kcc-runner'\n"
         "  --runner-link CMD     links candidates into a shared object for the runner\n"
         "                        (default: cc -shared; aarch64-linux-gnu-gcc -shared for AArch64 targets)\n"
         "  --runner-dir DIR      scratch folder the runner also sees (default: under the temp directory)\n";
}

namespace {

int64_t parse_count(const std::string &flag, const std::string &v) {
  try {
    size_t used = 0;
    long long n = std::stoll(v, &used);
    if (used == v.size() && n >= 0) return n;
  } catch (const std::exception &) {
  }
  throw std::invalid_argument(fmt::format("{} needs a non-negative number, not '{}'", flag, v));
}

}  // namespace

std::string default_runner_link(const Target &t) {
#if defined(__aarch64__)
  const bool native_arm = true;
#else
  const bool native_arm = false;
#endif
  if (t.arch == Arch::AArch64 && !native_arm) return "aarch64-linux-gnu-gcc -shared";
  return "cc -shared";
}

bool parse_tune_flag(const std::vector<std::string> &args, size_t &i, TuneFlags &f) {
  const std::string &a = args[i];
  std::string flag = a, value;
  bool inline_value = false;
  if (auto eq = a.find('='); eq != std::string::npos && a.rfind("--", 0) == 0) {
    flag = a.substr(0, eq);
    value = a.substr(eq + 1);
    inline_value = true;
  }
  static const char *known[] = {"--budget", "--db",          "--strategy",   "--hybrid-switch", "--weight",
                                "--runner", "--runner-link", "--runner-dir", "--timeout",       "--threads"};
  bool ours = false;
  for (const char *k : known) ours = ours || flag == k;
  if (!ours) return false;
  if (!inline_value) {
    if (i + 1 >= args.size()) throw std::invalid_argument(flag + " needs a value");
    value = args[++i];
  }
  ++i;
  if (flag == "--budget") {
    f.budget = parse_count(flag, value);
  } else if (flag == "--db") {
    if (value.empty()) throw std::invalid_argument("--db needs a path");
    f.db = value;
  } else if (flag == "--strategy") {
    if (!parse_strategy(value, f.strategy))
      throw std::invalid_argument(
          fmt::format("unknown --strategy '{}' (expected hybrid, evolutionary, droplet or random)", value));
  } else if (flag == "--runner" || flag == "--runner-link" || flag == "--runner-dir") {
    if (value.find_first_not_of(" \t") == std::string::npos) throw std::invalid_argument(flag + " needs a command or path");
    (flag == "--runner" ? f.runner : flag == "--runner-link" ? f.runner_link : f.runner_dir) = value;
  } else if (flag == "--hybrid-switch") {
    f.hybrid_switch = parse_count(flag, value);
  } else if (flag == "--threads") {
    f.threads = static_cast<int>(std::min<int64_t>(parse_count(flag, value), 256));
  } else if (flag == "--timeout") {
    double t = 0;
    try {
      size_t used = 0;
      t = std::stod(value, &used);
      if (used != value.size()) t = 0;
    } catch (const std::exception &) {
      t = 0;
    }
    if (!(t > 0)) throw std::invalid_argument(fmt::format("--timeout needs a positive number of seconds, not '{}'", value));
    f.timeout_seconds = t;
  } else {
    auto eq = value.find('=');
    double w = 0;
    try {
      if (eq != std::string::npos) w = std::stod(value.substr(eq + 1));
    } catch (const std::exception &) {
      w = 0;
    }
    if (eq == std::string::npos || eq == 0 || !(w > 0))
      throw std::invalid_argument(fmt::format("--weight needs KERNEL=W with W > 0, not '{}'", value));
    f.weights.push_back({value.substr(0, eq), w});
  }
  return true;
}

namespace {

/// "tuning kernel 'K' found no valid schedule (N measured, M invalid)".
std::string no_valid_measurement(const TuneSummary &s) {
  return fmt::format("tuning kernel '{}' found no valid schedule ({} measured, {} invalid{})", s.kernel, s.measured,
                     s.failures.total(), s.measured == 0 ? "; nothing could be measured" : "");
}

/// A kernel of several that got no measurement because the others spent the file's budget
/// first: not a failure of the kernel (the budget is too small for the file).
bool starved(const TuneSummary &s, const std::vector<TuneSummary> &all, int64_t budget) {
  int64_t spent = 0;
  for (auto &x : all) spent += x.measured + x.resumed;
  return s.measured == 0 && s.resumed == 0 && spent >= budget;
}

/// "kernel 'K' got none of the 2 measurements (the file's other kernels spent them)".
std::string starved_message(const TuneSummary &s, int64_t budget) {
  return fmt::format("kernel '{}' got none of the {} measurements (the file's other kernels spent them)", s.kernel,
                     budget);
}

TuneOptions options_of(const TuneFlags &f, const Target &t, const std::string &version, std::ostream *progress,
                       bool terminal, const std::string &db_path) {
  TuneOptions o;
  o.bug_dir = bug_dir_beside(db_path);
  o.runner_command = f.runner;
  o.runner_link = f.runner_link.empty() ? default_runner_link(t) : f.runner_link;
  o.runner_dir = f.runner_dir;
  o.strategy = f.strategy;
  o.budget = f.budget;
  o.search.hybrid_switch = f.hybrid_switch;
  o.measure.timeout_seconds = f.timeout_seconds;
  o.measure.run_threads = f.threads;
  o.verify_top = 3;
  o.kcc_version = version;
  o.progress = progress;
  o.progress_is_terminal = terminal;
  o.weights = f.weights;
  return o;
}

}  // namespace

namespace {

/// The tuner of a compile: a kernel it found nothing for compiles anyway (the pipeline falls
/// back to the .ir's schedule or the default one), but not silently.
class WarningTuner : public ModuleTuner {
 public:
  WarningTuner(Database *db, TuneOptions opts, int64_t budget)
      : ModuleTuner(db, opts), progress_(opts.progress), budget_(budget) {}
  std::map<std::string, ChosenSchedule> tune(const Module &todo, const Target &t) override {
    std::map<std::string, ChosenSchedule> out = ModuleTuner::tune(todo, t);
    const std::vector<TuneSummary> &all = tuned();
    for (const TuneSummary &ts : all)
      if (!ts.found && progress_)
        *progress_ << fmt::format("kcc: warning: {}; compiling it with the .ir's schedule or the default one\n{}",
                                  starved(ts, all, budget_) ? starved_message(ts, budget_) : no_valid_measurement(ts),
                                  ts.failures.details());
    return out;
  }

 private:
  std::ostream *progress_;
  int64_t budget_;
};

}  // namespace

TuningSetup make_tuning_setup(const TuneFlags &f, const Target &t, const std::string &kcc_version,
                              std::ostream *progress, bool progress_is_terminal) {
  TuningSetup s;
  const std::string path = f.db.empty() ? Database::default_path() : f.db;
  // Without a budget the database is only read: a missing one is no error and says nothing (a
  // build in a sandbox without a cache directory still compiles, with default schedules); one
  // that cannot be reached or opened is a warning, and the compile goes on without records.
  // With a budget, measurements are to be recorded: an unusable database is an error.
  if (f.budget > 0) {
    s.db = std::make_unique<Database>(path);
  } else {
    struct stat st;
    bool missing = ::stat(path.c_str(), &st) != 0 && errno == ENOENT;
    try {
      if (!missing) s.db = std::make_unique<Database>(path);
    } catch (const DatabaseError &e) {
      if (progress) *progress << "kcc: warning: " << e.what() << "; compiling without tuning records\n";
    }
  }
  // The records measured on the thread count the code will run on come first: --threads, else
  // what kcc tune records by default (the runtime's default here); none on a GPU.
  const int threads = t.is_gpu() ? 0 : f.threads > 0 ? f.threads : kcc_get_num_threads();
  if (s.db) s.database = std::make_unique<DatabaseProvider>(s.db.get(), threads);
  if (f.budget > 0)
    s.tuner = std::make_unique<WarningTuner>(
        s.db.get(), options_of(f, t, kcc_version, progress, progress_is_terminal, path), f.budget);
  return s;
}

int run_tune(const TuneFlags &f, const Module &m, const Target &t, const std::string &kcc_version, std::ostream &out,
             std::ostream *progress, bool progress_is_terminal) {
  Database db(f.db.empty() ? Database::default_path() : f.db);
  auto summaries = tune_module(m, t, &db, options_of(f, t, kcc_version, progress, progress_is_terminal, db.path()));
  out << fmt::format("{:<24} {:>12} {:>10} {:>8} {:>8} {:>8}\n", "kernel", "median", "GFLOP/s", "measured", "invalid",
                     "resumed");
  int64_t measured = 0, invalid = 0, verified = 0;
  for (auto &s : summaries) {
    measured += s.measured;
    verified += s.verified;
    invalid += s.invalid;
    out << fmt::format("{:<24} {:>10.3f}us {:>10.2f} {:>8} {:>8} {:>8}\n", s.kernel, s.median_seconds * 1e6, s.gflops,
                       s.measured, s.invalid, s.resumed);
    if (s.skipped)
      out << fmt::format("  {}: not tuned: earlier runs measured its workload {} times, its share of the budget "
                         "or more; the best of them is kept\n",
                         s.kernel, s.history);
    if (s.given_gflops > 0)
      out << fmt::format("  {}: {} {:.2f} GFLOP/s; {}\n", s.kernel,
                         s.given_is_default ? "default schedule" : "hand schedule from the .ir", s.given_gflops,
                         s.from_given ? "no candidate beat it, kept" : "tuned schedule is faster");
    if (s.failures.total() > 0) out << fmt::format("  {}: invalid: {}\n", s.kernel, s.failures.brief());
    if (s.wrong_results > 0)
      out << fmt::format("kcc: COMPILER BUG: {} candidate(s) of kernel '{}' computed wrong results (reports in {})\n",
                         s.wrong_results, s.kernel, bug_dir_beside(db.path()));
  }
  // The whole: each kernel's best time as often as it runs (a model's calls; --weight).
  double estimate = 0;
  int scheduled = 0;
  for (auto &s : summaries) {
    if (!s.found) continue;
    double w = 1;
    for (auto &[name, weight] : f.weights)
      if (name == s.kernel) w = weight;
    estimate += w * s.median_seconds;
    ++scheduled;
  }
  out << fmt::format("estimated time of one run of the file (each kernel x its weight): {:.3f} ms over {} of {} "
                     "kernels\n",
                     estimate * 1e3, scheduled, summaries.size());
  out << fmt::format("{} measurements, {} on invalid candidates ({:.1f}%), {} re-measurements of the best; database {}\n",
                     measured, invalid,
                     measured ? 100.0 * static_cast<double>(invalid) / static_cast<double>(measured) : 0.0, verified,
                     db.path());
  double wall = 0, build = 0, run = 0;
  for (auto &s : summaries) {
    wall += s.wall_seconds;
    build += s.build_seconds;
    run += s.run_seconds;
  }
  if (wall > 0 && build + run > 0)
    out << fmt::format("tuning time {:.0f} s: building candidates {:.0f} s ({:.0f}%), running them {:.0f} s ({:.0f}%), "
                       "search, cost model and database {:.0f} s\n",
                       wall, build, 100 * build / wall, run, 100 * run / wall, std::max(0.0, wall - build - run));
  // A kernel without any valid measurement is a failed tuning, said where errors go.
  int rc = 0;
  std::ostream &err = progress ? *progress : out;
  for (auto &s : summaries) {
    if (s.found) continue;
    if (starved(s, summaries, f.budget)) {
      err << "kcc: warning: " << starved_message(s, f.budget) << "\n";
      continue;
    }
    err << "kcc: error: " << no_valid_measurement(s) << "\n" << s.failures.details();
    rc = 1;
  }
  return rc;
}

}  // namespace kcc::tuner
