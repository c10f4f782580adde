// tuner/tuner.cpp - kernel tuning sessions, module tuning and the pipeline's provider.
#include "tuner/tuner.h"

#include <fmt/format.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <iostream>
#include <ostream>

#include "ir/interp.h"
#include "ir/parser.h"
#include "ir/workload.h"
#include "passes/schedule_error.h"
#include "tuner/best.h"
#include "tuner/bug_report.h"
#include "tuner/error_bound.h"
#include "tuner/cost_model.h"
#include "tuner/outcome.h"
#include "tuner/runner_evaluator.h"
#include "tuner/space.h"
#include "tuner/task_scheduler.h"
#include "kcc_runtime.h"

namespace kcc::tuner {

namespace {

double wall_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string format_eta(double s) {
  if (s < 0 || s > 1e7) return "?";
  int v = static_cast<int>(s + 0.5);
  if (v >= 3600) return fmt::format("{}h{:02}m", v / 3600, (v / 60) % 60);
  if (v >= 60) return fmt::format("{}m{:02}s", v / 60, v % 60);
  return fmt::format("{}s", v);
}

/// Measures points of a kernel's space with the in-process forked Measurer.
class LocalEvaluator : public Evaluator {
 public:
  LocalEvaluator(KernelSpace &space, const MeasureOptions &o) : space_(space), measurer_(space.kernel(), space.target(), o) {}

  std::vector<Measurement> measure(const std::vector<Point> &points) override {
    std::vector<std::shared_ptr<const LoweredFunc>> held;  // alive while the batch is measured
    std::vector<const LoweredFunc *> funcs;
    for (auto &p : points) {
      held.push_back(space_.lowered(p));
      funcs.push_back(held.back().get());
    }
    std::vector<Measurement> ms = measurer_.measure(funcs);
    for (size_t i = 0; i < points.size(); ++i)  // no loop IR: statically invalid
      if (!funcs[i]) ms[i] = space_.static_measurement(points[i]);
    return ms;
  }

  /// Measures a schedule from outside the space (the kernel's hand schedule).
  Measurement measure_func(const LoweredFunc &f) { return measurer_.measure({&f})[0]; }

  const MeasureStats &stats() const { return measurer_.stats(); }

 private:
  KernelSpace &space_;
  Measurer measurer_;
};

/// The evaluator of a tuning: kcc-runner when a runner command is given, else the Measurer.
std::unique_ptr<Evaluator> make_measuring_evaluator(KernelSpace &space, const TuneOptions &o) {
  if (o.runner_command.empty()) return std::make_unique<LocalEvaluator>(space, o.measure);
  runner::RunnerOptions r;
  r.command = o.runner_command;
  r.link_command = o.runner_link;
  const std::string dir = o.runner_dir.empty()
                              ? (std::filesystem::temp_directory_path() / ("kcc-runner-" + std::to_string(getpid()))).string()
                              : o.runner_dir;
  r.work_dir = dir + "/" + space.kernel().name + "_" + space.signature().substr(0, 8);
  r.samples = o.measure.samples;
  r.min_seconds = o.measure.min_sample_seconds;
  r.warmup = o.measure.warmup_runs;
  r.bounds = bounded_reference(space.kernel(), random_inputs(space.kernel(), o.measure.seed)).bounds;
  r.timeout_seconds = o.measure.timeout_seconds;
  r.threads = o.measure.run_threads;
  if (o.measure.cold_weights) r.cold_inputs = space.kernel().weight_inputs;
  r.seed = o.measure.seed;
  return std::make_unique<RunnerEvaluator>(space, r);
}

/// The threads a candidate runs on: --threads, else the runtime's default (all cores, or
/// KCC_NUM_THREADS), which is also what an app gets; 0 (not recorded) on a GPU, and through a
/// runner without --threads (the default of a machine kcc cannot see).
int measured_threads(const Target &t, const TuneOptions &o) {
  if (t.is_gpu()) return 0;
  if (o.measure.run_threads > 0) return o.measure.run_threads;
  return o.runner_command.empty() ? kcc_get_num_threads() : 0;
}

/// The database record of one measurement of `schedule` for kernel `k`: a point of `space`, or
/// (space null) a schedule from elsewhere (the hand schedule).
MeasureRecord record_of(const Kernel &k, const Target &t, const Schedule &schedule, const KernelSpace *space,
                        const Point *point, const Measurement &m, std::string strategy, const TuneOptions &o,
                        int64_t run_id) {
  MeasureRecord r;
  r.workload_key = workload_key(k);
  r.target_key = t.key();
  r.kernel = k.name;
  r.schedule = to_string(schedule);  // the one time a candidate becomes text
  if (space && point) {
    r.space = space->signature();
    r.point = *point;
  }
  r.samples = m.samples;
  r.median_seconds = m.valid ? m.median : 0;
  r.outcome = outcome_of(m);
  r.error = m.valid ? "" : (m.error.empty() ? "invalid" : m.error);
  if (!m.valid) r.schedule_error = m.schedule_error;
  r.strategy = std::move(strategy);
  r.kcc_version = o.kcc_version;
  r.run_id = run_id;
  r.flops = k.flops();
  r.threads = measured_threads(t, o);
  return r;
}

/// A wrong result: one line on the progress stream (stderr without one), the details in a file
/// (bug_report.h).
void report_bug(const TuneOptions &o, const Kernel &k, const Target &t, const std::string &schedule,
                const LoweredFunc *f, const Measurement &m) {
  BugReport r;
  r.kernel = k.name;
  r.target = t.name + " (" + t.key() + ")";
  r.kernel_ir = to_string(k);
  r.schedule = schedule;
  r.loop_ir = f ? to_string(*f) : "(not available)";
  r.error = m.error;
  const std::string dir = o.bug_dir.empty() ? bug_dir_beside(Database::default_path()) : o.bug_dir;
  const std::string line = bug_line(r, write_bug_report(dir, r));
  std::ostream &out = o.progress ? *o.progress : std::cerr;
  if (o.progress && o.progress_is_terminal) out << "\r\033[K";  // over the live progress line
  out << line << std::flush;
}

/// Passes batches to the measuring evaluator and records every batch in the database.
class KernelEvaluator : public Evaluator {
 public:
  KernelEvaluator(KernelSpace &space, Evaluator &inner, Database *db, const TuneOptions &o, int64_t run_id)
      : space_(space), inner_(inner), db_(db), opts_(o), run_id_(run_id) {}

  int64_t wrong_results = 0;
  FailureCounts failures;  ///< every invalid measurement, by outcome
  std::string strategy;  ///< recorded with each measurement ("" = the tuning's strategy)

  std::vector<Measurement> measure(const std::vector<Point> &points) override {
    std::vector<Measurement> ms = inner_.measure(points);
    for (size_t i = 0; i < ms.size(); ++i) {
      failures.add(outcome_of(ms[i]), ms[i].error);
      if (outcome_of(ms[i]) != Outcome::WrongResult) continue;
      ++wrong_results;
      report_bug(opts_, space_.kernel(), space_.target(), space_.schedule_text(points[i]),
                 space_.lowered(points[i]).get(), ms[i]);
    }
    if (db_) {
      std::vector<MeasureRecord> batch;
      const Kernel &k = space_.kernel();
      for (size_t i = 0; i < points.size(); ++i) {
        batch.push_back(record_of(k, space_.target(), space_.schedule(points[i]), &space_, &points[i], ms[i],
                                  strategy.empty() ? to_string(opts_.strategy) : strategy, opts_, run_id_));
      }
      db_->add(batch);  // one transaction: a kill loses at most this batch
    }
    return ms;
  }

 private:
  KernelSpace &space_;
  Evaluator &inner_;
  Database *db_;
  const TuneOptions &opts_;
  int64_t run_id_;
};

/// The live progress line (terminal) or one plain line per batch. Alone, a kernel shows its
/// measurements of its budget; one of several kernels sharing a file's budget (tune_module)
/// shows its own measurements of what it can still get (its measurements plus what is left of
/// the file's budget), then the file's count, and the ETA of the file.
class Progress : public SearchObserver {
 public:
  /// `unreported`: measurements of this step before the search (the baseline) that the file's
  /// count does not have yet.
  Progress(const TuneOptions &o, const Kernel &k, int64_t budget, int64_t offset, double t0, const FileProgress *file,
           const FailureCounts &failures, int64_t unreported)
      : o_(o), k_(k), budget_(budget), offset_(offset), t0_(t0), file_(file), failures_(failures),
        unreported_(unreported) {}
  void on_batch(const std::vector<Trial> &, const Trial *best, int64_t measured, int64_t) override {
    if (!o_.progress) return;
    const int64_t done = offset_ + measured;
    const double gf = best ? k_.flops() / best->m.median * 1e-9 : 0;
    std::string line;
    if (file_ && file_->kernels > 1) {
      const int64_t file_done = file_->spent + unreported_ + measured;
      const int64_t own = std::min(budget_, done + std::max<int64_t>(0, file_->budget - file_done));
      const double elapsed = wall_now() - file_->t0;
      const double eta =
          file_done > 0 ? elapsed / static_cast<double>(file_done) * static_cast<double>(file_->budget - file_done) : -1;
      line = fmt::format("kcc tune: {}  {}/{}  (file {}/{}, {}/{} kernels scheduled, all ~{:.3g} ms)  best {:.1f} "
                         "GFLOP/s  ETA {}",
                         k_.name, done, own, file_done, file_->budget, file_->with_schedule, file_->kernels,
                         file_->estimate * 1e3, gf, format_eta(eta));
    } else {
      const double elapsed = wall_now() - t0_;
      const double eta = done > 0 ? elapsed / static_cast<double>(done) * static_cast<double>(budget_ - done) : -1;
      line = fmt::format("kcc tune: {}  {}/{}  best {:.1f} GFLOP/s  ETA {}", k_.name, done, budget_, gf,
                         format_eta(eta));
    }
    // Failures show as they happen: a tuning where nothing is valid does not look like progress.
    if (const int64_t bad = failures_.total(); bad > 0) line += fmt::format("  ({} invalid: {})", bad, failures_.brief());
    if (o_.progress_is_terminal)
      *o_.progress << "\r\033[K" << line << std::flush;
    else
      *o_.progress << line << "\n";
  }
  void end() {
    if (o_.progress && o_.progress_is_terminal) *o_.progress << "\n";
  }

 private:
  const TuneOptions &o_;
  const Kernel &k_;
  int64_t budget_, offset_;
  double t0_;
  const FileProgress *file_;
  const FailureCounts &failures_;
  int64_t unreported_ = 0;
};

/// The strategy name of a hand schedule's baseline measurement in the database.
constexpr const char *kGivenStrategy = "given";
constexpr const char *kDefaultStrategy = "default";
/// ... and of the re-measurements of the best points at the end of a run.
constexpr const char *kVerifyStrategy = "verify";

/// The point of `space` a record measured: nullopt when it came from another space (another kcc
/// version's sketches, another kernel of the same workload) or from no space.
std::optional<Point> point_in(const KernelSpace &space, const MeasureRecord &r) {
  if (!r.point || r.space != space.signature() || !space.contains(*r.point)) return std::nullopt;
  return r.point;
}

Measurement measurement_of(const MeasureRecord &r) {
  Measurement m;
  m.valid = r.valid();
  m.samples = r.samples;
  m.median = r.median_seconds;
  m.outcome = r.outcome;
  m.error = r.error;
  m.schedule_error = r.schedule_error;
  return m;
}

}  // namespace

// ---------------------------------------------------------------- KernelTuner

struct KernelTuner::Impl {
  const Kernel &k;
  Target t;
  Database *db;
  TuneOptions opts;
  int64_t budget;
  KernelSpace space;
  std::unique_ptr<Evaluator> measuring;  // the Measurer or kcc-runner
  // The baseline, measured first: the kernel's hand schedule, or without one the default
  // schedule (what the kernel gets untuned), so a tuning never ends slower than either.
  std::optional<Schedule> given;
  bool given_is_default = false;
  std::optional<Measurement> given_m;
  RunInfo run;
  std::unique_ptr<KernelEvaluator> eval;
  std::vector<Trial> history;  // everything known: earlier records, resumed run, this session
  // Valid records of this workload from other cpus of the same triple (the database): they seed
  // the cost model only, never the best or the answer; grouped by the target they came from.
  std::map<std::string, std::vector<std::pair<Point, double>>> prior;
  /// Valid records of this workload and cpu measured on another thread count (by count).
  std::map<int, std::vector<std::pair<Point, double>>> other_threads;
  int64_t spent = 0;           // toward the budget (resumed measurements included)
  int64_t evolutionary = 0;    // hybrid: evolutionary measurements so far
  std::vector<Point> droplet_starts;  // hybrid: where each descent starts (best of each sketch)
  size_t next_start = 0;              // hybrid: the descent in progress
  int64_t steps = 0;
  bool done = false;
  bool droplet_converged = false;
  TuneSummary summary;
  double t0 = wall_now();
  const FileProgress *file = nullptr;  // tune_module's shared budget (progress line)

  Impl(const Kernel &kernel, const Target &target, Database *d, TuneOptions o, int64_t b, const Schedule *g)
      : k(kernel), t(target), db(d), opts(std::move(o)), budget(b), space(kernel, target),
        measuring(make_measuring_evaluator(space, opts)) {
    space.set_threads(opts.measure.build_threads);  // the search's checks: measuring waits for them
    if (g) {
      given = *g;
    } else {
      given = default_schedule(k, t);
      given_is_default = true;
    }
    if (db) {
      const std::string wk = workload_key(k), tk = t.key();
      run = db->begin_run(wk, tk, k.name, to_string(opts.strategy), budget);
      const int threads = measured_threads(t, opts);
      for (const MeasureRecord &r : db->records(wk, tk)) {
        // Times on another thread count rank schedules for another machine, in effect: like
        // another cpu's records they only seed the cost model (load_prior), never the answer.
        if (threads > 0 && r.threads > 0 && r.threads != threads) {
          if (auto p = point_in(space, r); p && opts.reuse_database && r.valid())
            other_threads[r.threads].push_back({*p, r.median_seconds});
          continue;
        }
        const bool ours = run.resumed && r.run_id == run.id;
        if (ours && r.strategy == baseline_strategy() && given) {  // the baseline of the interrupted run
          given_m = measurement_of(r);
          ++spent;
          if (auto p = baseline_point(); p && point_in(space, r)) history.push_back({*p, *given_m, r.strategy});
          continue;
        }
        if (!ours && !opts.reuse_database) continue;
        auto p = point_in(space, r);
        if (!p) continue;
        history.push_back({*p, measurement_of(r), r.strategy});
        if (r.strategy == kVerifyStrategy) continue;  // a re-measurement: not a budget item
        if (ours) {
          ++spent;
          if (r.strategy != "droplet" && opts.strategy == Strategy::Hybrid) ++evolutionary;
        } else {
          ++summary.history;
        }
      }
      summary.resumed = spent;
      if (opts.reuse_database) load_prior(wk, tk);
    }
    eval = std::make_unique<KernelEvaluator>(space, *measuring, db, opts, run.id);
    summary.kernel = k.name;
  }

  /// Records of this workload measured on other cpus of this triple, for the cost model.
  void load_prior(const std::string &wk, const std::string &tk) {
    for (const MeasureRecord &r : db->records_elsewhere(wk, tk, 2000)) {
      std::optional<TargetKey> key = TargetKey::parse(r.target_key);
      if (!key || key->triple != t.triple) continue;
      if (auto p = point_in(space, r)) prior[r.target_key].push_back({*p, r.median_seconds});
    }
    for (auto &[n, rows] : other_threads) {  // this cpu on another thread count: a group each
      auto &group = prior[tk + " on " + std::to_string(n) + " threads"];
      group.insert(group.end(), rows.begin(), rows.end());
    }
    for (auto &[key, rows] : prior) summary.prior += static_cast<int64_t>(rows.size());
  }

  /// Seeds a fresh cost model with the prior records. Another cpu's times are scaled so that its
  /// best equals the best known here: the model learns the ranking, which carries over between
  /// cpus of one instruction set, and not the other machine's absolute speed.
  void seed_cost_model(CostModel &cost) {
    if (prior.empty()) return;
    const double here = best();
    std::vector<Point> pts;
    std::vector<Measurement> ms;
    for (auto &[key, rows] : prior) {
      double theirs = 0;
      for (auto &[p, median] : rows) theirs = theirs == 0 ? median : std::min(theirs, median);
      for (auto &[p, median] : rows) {
        Measurement m;
        m.valid = true;
        m.median = here > 0 ? median * here / theirs : median;
        m.samples = {m.median};
        pts.push_back(p);
        ms.push_back(m);
      }
    }
    cost.update(space, pts, ms);
  }

  /// Every measured point ranked by its worst measurement (tuner/best.h, decision 8).
  WorstMeasurementRanking<Point> ranking() const {
    WorstMeasurementRanking<Point> r;
    for (auto &h : history) r.add(h.point, h.m.valid, h.m.median);
    return r;
  }

  /// The best point by its worst measurement (nullopt if none is valid).
  std::optional<std::pair<Point, double>> best_point() const { return ranking().best(); }

  double best() const {
    double b = given_m && given_m->valid ? given_m->median : 0;
    if (auto p = best_point(); p && (b == 0 || p->second < b)) b = p->second;
    return b;
  }

  /// Measures the best points once more (outside the budget), opts.verify_top at a time, until
  /// the best point by worst median has been measured twice (at most 5 rounds): re-measuring
  /// only the first few would hand the win to the next lucky single measurement.
  void verify() {
    if (opts.verify_top <= 0) return;
    for (int round = 0; round < 5; ++round) {
      std::map<Point, int> count;
      for (auto &h : history) ++count[h.point];
      std::vector<std::pair<double, Point>> ranked;
      const WorstMeasurementRanking<Point> ranks = ranking();
      for (auto &[p, m] : ranks.worst()) ranked.push_back({m, p});
      std::sort(ranked.begin(), ranked.end());
      if (ranked.size() < 2 || count[ranked.front().second] >= 2) return;
      std::vector<Point> top;  // measured once, ranked above the best point measured twice
      for (size_t i = 0; i < ranked.size() && static_cast<int>(top.size()) < opts.verify_top; ++i) {
        if (count[ranked[i].second] >= 2) break;
        top.push_back(ranked[i].second);
      }
      eval->strategy = kVerifyStrategy;
      std::vector<Measurement> ms = eval->measure(top);
      eval->strategy.clear();
      for (size_t i = 0; i < top.size(); ++i) history.push_back({top[i], ms[i], kVerifyStrategy});
      summary.verified += static_cast<int64_t>(top.size());
    }
  }

  /// Hybrid: evolutionary measurements before the Droplet descents: opts' switch, but at most
  /// half the kernel's budget, so that a small budget still descends (tune_module lowers the
  /// switch to half of each kernel's share of the file's budget).
  int64_t hybrid_switch() const { return std::min(opts.search.hybrid_switch, std::max<int64_t>(1, budget / 2)); }

  const char *baseline_strategy() const { return given_is_default ? kDefaultStrategy : kGivenStrategy; }

  /// The default schedule as a point of the space (the "default" sketch's zeros), when it is
  /// the baseline: measured as the baseline, it is also a measured point, which the
  /// evolutionary search keeps in its population and a Droplet descent can start from.
  std::optional<Point> baseline_point() const { return given_is_default ? space.default_point() : std::nullopt; }

  /// Measures the baseline once, before any search, and records it (strategy "given" for the
  /// hand schedule, "default" for the default one): the tuning then never returns something
  /// slower than what the .ir says or what the kernel gets untuned. Not with kcc-runner (it
  /// measures points of the space only).
  /// One measurement of the baseline (lowered here: it is no point of the space); a wrong
  /// result is a compiler bug, reported as the search's are.
  Measurement measure_baseline(LocalEvaluator &local) {
    try {
      LoweredFunc f = lower_kernel(k, *given, t);
      Measurement m = local.measure_func(f);
      if (outcome_of(m) == Outcome::WrongResult) {
        ++eval->wrong_results;
        ++summary.wrong_results;
        report_bug(opts, k, t, to_string(*given), &f, m);
      }
      return m;
    } catch (const ScheduleError &e) {  // the hand schedule does not apply (the pipeline reports it)
      return Measurement::invalid(Outcome::Schedule, std::string("schedule error: ") + e.what(), e.kind());
    } catch (const UserError &e) {  // ... for a reason that is not a ScheduleError
      return Measurement::invalid(Outcome::Schedule, std::string("schedule error: ") + e.what());
    }
  }

  void measure_given() {
    if (!given || given_m || spent >= budget) return;
    auto *local = dynamic_cast<LocalEvaluator *>(measuring.get());
    if (!local) return;
    Measurement m = measure_baseline(*local);
    eval->failures.add(outcome_of(m), m.error);
    given_m = m;
    ++spent;
    ++summary.measured;
    summary.invalid += !m.valid;
    const std::optional<Point> p = baseline_point();
    if (p) history.push_back({*p, m, baseline_strategy()});
    if (db) {
      db->add({record_of(k, t, *given, p ? &space : nullptr, p ? &*p : nullptr, m, baseline_strategy(),
                         opts, run.id)});
    }
    const double b = best();
    summary.best_gflops_curve.push_back(b > 0 ? k.flops() / b * 1e-9 : 0);
  }

  /// After verify(): a baseline measured once that beats the best point is measured once more
  /// (strategy "verify", outside the budget) and counts with the worse of its two, as every
  /// point does; one lucky measurement of it would otherwise win against verified points.
  void verify_baseline() {
    if (opts.verify_top <= 0 || !given_m || !given_m->valid || baseline_verified) return;
    auto *local = dynamic_cast<LocalEvaluator *>(measuring.get());
    if (!local) return;
    const std::optional<Point> p = baseline_point();
    int times = 0;  // measurements of the baseline as a point (verify() may have taken one)
    if (p)
      for (auto &h : history) times += h.point == *p;
    if (times < 2) {
      if (auto b = best_point(); b && (!p || b->first != *p) && b->second <= given_m->median) return;
      Measurement m = measure_baseline(*local);
      baseline_verified = true;
      ++summary.verified;
      if (p) history.push_back({*p, m, kVerifyStrategy});
      if (db) {
        db->add({record_of(k, t, *given, p ? &space : nullptr, p ? &*p : nullptr, m, kVerifyStrategy,
                           opts, run.id)});
      }
      if (!m.valid || m.median > given_m->median) given_m = m;
    }
    if (p)  // the baseline counts with its worst measurement, as a point
      for (auto &h : history)
        if (h.point == *p && (!h.m.valid || h.m.median > given_m->median)) given_m = h.m;
  }
  bool baseline_verified = false;
};

KernelTuner::KernelTuner(const Kernel &k, const Target &t, Database *db, TuneOptions opts, int64_t budget,
                         const Schedule *given)
    : impl_(std::make_unique<Impl>(k, t, db, std::move(opts), budget, given)) {}

KernelTuner::~KernelTuner() = default;

int64_t KernelTuner::step(int64_t n) {
  Impl &s = *impl_;
  struct AddWall {  // the step's time, on every return
    double &to, from;
    ~AddWall() { to += wall_now() - from; }
  } add_wall{s.summary.wall_seconds, wall_now()};
  int64_t baseline = 0;
  if (s.given && !s.given_m && n > 0) {
    s.measure_given();
    baseline = s.given_m ? 1 : 0;
    n -= baseline;
  }
  n = std::min(n, s.budget - s.spent);
  if (s.done || n <= 0) {
    s.done = s.spent >= s.budget || s.done;
    return baseline;
  }
  SearchOptions so = s.opts.search;
  so.budget = n;
  so.seed = s.opts.search.seed + static_cast<uint64_t>(s.steps++) * 7919;
  Strategy strategy = s.opts.strategy;
  if (strategy == Strategy::Hybrid) {
    if (s.evolutionary >= s.hybrid_switch()) {
      strategy = Strategy::Droplet;
      if (s.droplet_starts.empty()) {
        std::map<Point, Measurement> measured;
        for (auto &tr : s.history) measured[tr.point] = tr.m;
        s.droplet_starts = best_per_sketch(measured, s.opts.search.hybrid_sketches, s.opts.search.hybrid_margin);
      }
      if (s.next_start < s.droplet_starts.size()) so.start = s.droplet_starts[s.next_start];
    }
    so.hybrid_switch = s.hybrid_switch() - s.evolutionary;
  }
  std::unique_ptr<XgbCostModel> cost;
  std::unique_ptr<XgbValidityModel> validity;
  if (s.opts.cost_model) {
    cost = std::make_unique<XgbCostModel>();
    s.seed_cost_model(*cost);
  }
  if (s.opts.validity_model) validity = std::make_unique<XgbValidityModel>();
  Progress progress(s.opts, s.k, s.budget, s.spent, s.t0, s.file, s.eval->failures, baseline);
  const int64_t wrong_before = s.eval->wrong_results;
  SearchResult r = run_search(strategy, s.space, *s.eval, so, cost.get(), validity.get(), s.history, &progress);
  const double before = s.best();
  for (auto &tr : r.trials) {
    s.history.push_back(tr);
    if (tr.phase == "evolutionary") ++s.evolutionary;
    const double b = s.best();
    s.summary.best_gflops_curve.push_back(b > 0 ? s.k.flops() / b * 1e-9 : 0);
  }
  (void)before;
  s.spent += r.measured;
  s.summary.measured += r.measured;
  s.summary.invalid += r.invalid;
  s.summary.static_rejected += r.static_rejected;
  s.summary.model_rejected += r.model_rejected;
  s.summary.wrong_results += s.eval->wrong_results - wrong_before;
  if (s.opts.strategy == Strategy::Hybrid && strategy == Strategy::Droplet) {
    // One descent per start; the next step takes the next start.
    if (r.droplet_converged || r.measured == 0)
      if (++s.next_start >= s.droplet_starts.size()) s.done = true;
  } else if (r.measured == 0 || (strategy == Strategy::Droplet && r.droplet_converged) ||
             (s.opts.strategy == Strategy::Hybrid && r.droplet_converged)) {
    s.done = true;
  }
  if (s.spent >= s.budget) s.done = true;
  return r.measured + baseline;
}

bool KernelTuner::done() const { return impl_->done; }
int64_t KernelTuner::earlier_measurements() const { return impl_->summary.history; }
void KernelTuner::skip() {
  impl_->done = true;
  impl_->summary.skipped = true;
}
void KernelTuner::share_file_budget(const FileProgress *file) { impl_->file = file; }
double KernelTuner::best_seconds() const { return impl_->best(); }
int64_t KernelTuner::measured() const { return impl_->summary.measured; }
const Kernel &KernelTuner::kernel() const { return impl_->k; }

TuneSummary KernelTuner::finish() {
  Impl &s = *impl_;
  const double w0 = wall_now();
  if (s.summary.measured > 0) {
    s.verify();
    s.verify_baseline();
  }
  s.summary.wall_seconds += wall_now() - w0;
  if (auto *local = dynamic_cast<const LocalEvaluator *>(s.measuring.get())) {
    s.summary.build_seconds = local->stats().build_seconds;
    s.summary.run_seconds = local->stats().run_seconds;
  }
  if (s.db && s.run.id) s.db->finish_run(s.run.id);
  if (s.opts.progress && s.opts.progress_is_terminal && s.summary.measured > 0) *s.opts.progress << "\n";
  TuneSummary out = s.summary;
  out.failures = s.eval->failures;
  const auto best = s.best_point();
  if (best) {
    out.found = true;
    out.schedule = s.space.schedule(best->first);
    out.schedule_text = to_string(out.schedule);
    out.median_seconds = best->second;
    out.gflops = s.k.flops() / best->second * 1e-9;
  }
  if (s.given_m && s.given_m->valid) {
    out.given_gflops = s.k.flops() / s.given_m->median * 1e-9;
    out.given_is_default = s.given_is_default;
    const std::optional<Point> bp = s.baseline_point();
    if (!best || s.given_m->median < best->second || (bp && best->first == *bp)) {
      out.found = true;
      out.from_given = true;
      out.schedule = *s.given;
      out.schedule_text = to_string(out.schedule);
      out.median_seconds = s.given_m->median;
      out.gflops = out.given_gflops;
    }
  }
  return out;
}

TuneSummary tune_kernel(const Kernel &k, const Target &t, Database *db, const TuneOptions &opts,
                        const Schedule *given) {
  KernelTuner kt(k, t, db, opts, opts.budget, given);
  while (!kt.done())
    if (kt.step(opts.budget) == 0) break;
  return kt.finish();
}

std::vector<TuneSummary> tune_module(const Module &m, const Target &t, Database *db, const TuneOptions &opts) {
  std::vector<std::unique_ptr<KernelTuner>> tuners;
  std::vector<SchedulerTask> tasks;
  FileProgress file;
  file.budget = opts.budget;
  file.kernels = static_cast<int>(m.kernels.size());
  file.t0 = wall_now();
  // Each kernel may take the whole budget, but gets about its share of it: hybrid's
  // evolutionary phase is at most half that share, so that its Droplet descents run.
  TuneOptions kernel_opts = opts;
  const int64_t share = opts.budget / std::max<int64_t>(1, static_cast<int64_t>(m.kernels.size()));
  kernel_opts.search.hybrid_switch = std::min(opts.search.hybrid_switch, std::max<int64_t>(1, share / 2));
  for (const Kernel &k : m.kernels) {
    tuners.push_back(std::make_unique<KernelTuner>(k, t, db, kernel_opts, opts.budget, m.find_schedule(k.name)));
    KernelTuner *kt = tuners.back().get();
    if (opts.reuse_database && kt->earlier_measurements() >= std::max<int64_t>(1, share)) kt->skip();
    kt->share_file_budget(&file);
    SchedulerTask task;
    for (auto &[name, w] : opts.weights)
      if (name == k.name) task.weight = w;
    task.step = [kt, &file, &tuners, &tasks](int64_t n) {
      const int64_t got = kt->done() ? 0 : kt->step(n);
      file.spent += got;
      // The model as tuned so far, for the progress line: kernels with a schedule and the sum
      // of weight x best time over them.
      file.with_schedule = 0;
      file.estimate = 0;
      for (size_t i = 0; i < tuners.size(); ++i)
        if (const double b = tuners[i]->best_seconds(); b > 0) {
          ++file.with_schedule;
          file.estimate += tasks[i].weight * b;
        }
      return got;
    };
    task.best = [kt] { return kt->best_seconds(); };
    tasks.push_back(std::move(task));
  }
  SchedulerOptions so;
  so.total_budget = opts.budget;
  so.round = std::max(1, opts.search.batch);
  so.seed = opts.search.seed;
  schedule_tasks(tasks, so);
  std::vector<TuneSummary> out;
  for (auto &kt : tuners) out.push_back(kt->finish());
  return out;
}

std::optional<Schedule> schedule_from_record(const Kernel &k, const Target &t, const MeasureRecord &r) {
  try {  // the stored text is the schedule (its point, if any, only locates it in a search space)
    auto v = parse_schedules("<database>", r.schedule);
    if (v.size() != 1) return std::nullopt;
    Schedule s = v[0];
    s.kernel = k.name;
    (void)lower_kernel(k, s, t);  // the record's names must fit this kernel
    return s;
  } catch (const UserError &) {
    return std::nullopt;
  }
}

// ---------------------------------------------------------------- schedule sources

bool DatabaseProvider::provide(const Kernel &k, const Target &t, ChosenSchedule &out) {
  if (!db_) return false;
  std::optional<MeasureRecord> r = db_->best(workload_key(k), t.key(), threads_);
  if (!r) return false;
  std::optional<Schedule> s = schedule_from_record(k, t, *r);
  if (!s) return false;
  if (threads_ > 0 && r->threads > 0 && r->threads != threads_) other_[r->threads].push_back(k.name);
  out.schedule = *s;
  out.source = ScheduleSource::Database;
  out.median_seconds = r->median_seconds;
  out.threads = r->threads;
  return true;
}

std::string DatabaseProvider::other_threads_note() const {
  if (other_.empty()) return "";
  std::string what;
  for (auto &[n, kernels] : other_) {
    if (!what.empty()) what += ", ";
    what += fmt::format("{} kernel{} use{} records measured on {} thread{}", kernels.size(),
                        kernels.size() == 1 ? "" : "s", kernels.size() == 1 ? "s" : "", n, n == 1 ? "" : "s");
  }
  return fmt::format("kcc: note: no tuning record measured on {} thread{}, the count this code is compiled for: {}; "
                     "tune with --threads {} for best speed",
                     threads_, threads_ == 1 ? "" : "s", what, threads_);
}

std::map<std::string, ChosenSchedule> ModuleTuner::tune(const Module &todo, const Target &t) {
  std::map<std::string, ChosenSchedule> out;
  if (opts_.budget <= 0 || todo.kernels.empty()) return out;
  std::vector<TuneSummary> summaries = tune_module(todo, t, db_, opts_);  // opts_.weights: by calls
  for (size_t i = 0; i < summaries.size() && i < todo.kernels.size(); ++i) {
    TuneSummary &s = summaries[i];
    s.kernel = todo.kernels[i].name;
    if (s.found)
      out[s.kernel] = ChosenSchedule{s.schedule, ScheduleSource::Tuned, s.median_seconds, measured_threads(t, opts_)};
    tuned_.push_back(s);
  }
  return out;
}

}  // namespace kcc::tuner
