// tuner/tuner.h - tuning kernels and serving tuned schedules to the pipeline (DESIGN §6, §1).
//
//   KernelTuner     one kernel: its search space, measurer, models and database run; tunes in
//                   steps (the task scheduler gives it measurements a round at a time)
//   tune_kernel     a whole budget on one kernel
//   tune_module     a total budget over every kernel of a module (task_scheduler.h)
//   DatabaseProvider  the pipeline's database source: the best record of a kernel's workload on
//                   the target
//   ModuleTuner     the pipeline's tuner: tune_module over the kernels the database has nothing
//                   for (the order of sources is the pipeline's: passes/pipeline.h)
//
// Every measurement goes to the database as soon as its batch is measured, under a run that
// records workload, target, strategy and budget; a run interrupted by SIGINT or SIGKILL resumes
// on the next invocation: its measurements count toward the budget and are not repeated.
#pragma once
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "codegen/target.h"
#include "ir/kernel.h"
#include "passes/pipeline.h"
#include "tuner/database.h"
#include "tuner/measure.h"
#include "tuner/outcome.h"
#include "tuner/search.h"

namespace kcc::tuner {

struct TuneOptions {
  Strategy strategy = Strategy::Hybrid;
  int64_t budget = 0;        ///< measurements (per kernel in tune_kernel, total in tune_module)
  SearchOptions search;      ///< its budget is set by the tuner
  MeasureOptions measure;
  /// Measure through kcc-runner (docs/runner.md) instead of the in-process Measurer when
  /// runner_command is set: e.g. "qemu-aarch64 -L /usr/aarch64-linux-gnu -cpu max,sve512=on
  /// build/aarch64/kcc-runner". runner_link links a batch's object into a shared object
  /// ("aarch64-linux-gnu-gcc -shared"); runner_dir is a scratch folder the runner also sees
  /// ("" = a folder under the system's temporary directory).
  std::string runner_command, runner_link = "cc -shared", runner_dir;
  bool cost_model = true;    ///< XGBoost ranking (evolutionary)
  bool validity_model = true;
  bool reuse_database = true;  ///< earlier records of this workload seed the search (transfer)
  /// At the end, the best `verify_top` points are measured once more (recorded with strategy
  /// "verify", outside the budget) and every point is ranked by its worst measurement: on a
  /// shared machine the best of hundreds of single measurements is biased toward luck.
  int verify_top = 0;
  std::string kcc_version = "0.1.0";
  /// Progress output: a live line on a terminal, plain lines otherwise; null = silent. Compiler
  /// bug lines go here too (to stderr when null).
  std::ostream *progress = nullptr;
  bool progress_is_terminal = false;
  /// Where compiler-bug reports go (bug_report.h); "" = beside the default database.
  std::string bug_dir;
  /// How often each kernel runs per model invocation (by name; default 1): the task scheduler's
  /// weights, and the model's estimated latency (sum of weight x best time).
  std::vector<std::pair<std::string, double>> weights;
};

/// What a tuning produced for one kernel.
struct TuneSummary {
  std::string kernel;
  bool found = false;
  Schedule schedule;
  std::string schedule_text;
  double median_seconds = 0;
  double gflops = 0;
  int64_t measured = 0;          ///< new measurements this time
  int64_t invalid = 0;           ///< of those, invalid (build, crash, timeout, wrong result)
  int64_t static_rejected = 0;   ///< candidates rejected before building
  int64_t model_rejected = 0;    ///< candidates the validity model filtered out
  int64_t resumed = 0;           ///< measurements of an interrupted run taken over
  int64_t history = 0;           ///< earlier records reused
  int64_t prior = 0;             ///< records of other cpus (this triple) or thread counts seeding the cost model
  int64_t wrong_results = 0;     ///< compiler bugs caught by the output check
  FailureCounts failures;        ///< invalid measurements of this session by outcome
  int64_t verified = 0;          ///< re-measurements of the best points (not in `measured`)
  std::vector<double> best_gflops_curve;  ///< best GFLOP/s after each new measurement
  double given_gflops = 0;       ///< the baseline, measured first (0: invalid or not measured)
  bool given_is_default = false; ///< the baseline is the default schedule (no hand schedule)
  bool from_given = false;       ///< the baseline beat every candidate: `schedule` is it
  bool skipped = false;          ///< not tuned: earlier runs measured its workload enough (history)
  /// Where this session's tuning time went: wall seconds in step() and finish() (search, cost
  /// model, database and measuring), and of those, building candidates (loop IR -> LLVM -> JIT)
  /// and running them (check, warm-up, samples, evictions) in the in-process measurer (0 through
  /// kcc-runner, whose split kcc cannot see).
  double wall_seconds = 0, build_seconds = 0, run_seconds = 0;
};

/// A file's budget shared by its kernels (tune_module), for their progress lines.
struct FileProgress {
  int64_t budget = 0;
  int64_t spent = 0;  ///< measurements of all its kernels' finished steps
  int kernels = 1;
  double t0 = 0;      ///< when the file's tuning started (steady clock, seconds)
  int with_schedule = 0;  ///< kernels with a valid measurement so far
  double estimate = 0;    ///< sum of weight x best time over those kernels (seconds)
};

/// Tunes one kernel in steps. `k` and `db` must outlive it; `db` may be null (nothing recorded).
/// `given` (may be null): the kernel's hand schedule from the .ir, measured first as a baseline
/// (one measurement of the budget; in-process measurer only); the tuning returns it when no
/// candidate beats it.
class KernelTuner {
 public:
  KernelTuner(const Kernel &k, const Target &t, Database *db, TuneOptions opts, int64_t budget,
              const Schedule *given = nullptr);
  ~KernelTuner();
  /// Measures up to `n` more candidates; returns how many were measured (0: converged or exhausted).
  int64_t step(int64_t n);
  bool done() const;
  /// The kernel is one of several sharing `file`'s budget (must outlive the tuner): its progress
  /// line shows that.
  void share_file_budget(const FileProgress *file);
  /// Measurements of its workload from earlier runs in the database, points of this space
  /// (another model with the same workload, an earlier tuning): TuneSummary::history.
  int64_t earlier_measurements() const;
  /// Ends the tuning before anything is measured (tune_module: earlier runs measured the
  /// workload as often as this one would; their best is the answer).
  void skip();
  /// Best median so far in seconds (0 if none).
  double best_seconds() const;
  int64_t measured() const;
  const Kernel &kernel() const;
  /// Ends the database run and returns the summary.
  TuneSummary finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Tunes `k` with opts.budget measurements (`given`: see KernelTuner).
TuneSummary tune_kernel(const Kernel &k, const Target &t, Database *db, const TuneOptions &opts,
                        const Schedule *given = nullptr);

/// Tunes every kernel of `m` with a total of opts.budget measurements, spread by the task
/// scheduler; opts.weights (by kernel name, default 1) say how often a kernel runs. Hand schedules
/// in m.schedules are measured first as baselines. With opts.reuse_database, a kernel whose
/// workload earlier runs measured at least its share of the budget (budget / kernels) times is
/// skipped (a layer two models share is tuned once): raise the budget to tune it further.
std::vector<TuneSummary> tune_module(const Module &m, const Target &t, Database *db, const TuneOptions &opts);

/// A valid schedule for `k` from a database record: the record's text (its kernel renamed `k`'s),
/// if it applies to `k` (a record of the same workload under other stage or axis names does not).
std::optional<Schedule> schedule_from_record(const Kernel &k, const Target &t, const MeasureRecord &r);

/// The database as a schedule source (pipeline.h, ScheduleSources::database): the best record
/// of the kernel's workload on the target whose schedule applies to the kernel (source Database).
class DatabaseProvider : public ScheduleProvider {
 public:
  /// `db` must outlive it. `threads`: the count the code will run on; the best record measured
  /// on it is taken first (Database::best), 0 = the best of any.
  explicit DatabaseProvider(Database *db, int threads = 0) : db_(db), threads_(threads) {}
  bool provide(const Kernel &k, const Target &t, ChosenSchedule &out) override;
  /// One line for the user when provide() served records measured on another thread count
  /// ("kcc: note: ...: 3 kernels use records measured on 1 thread; ..."); "" otherwise.
  std::string other_threads_note() const;

 private:
  Database *db_;
  int threads_;
  std::map<int, std::vector<std::string>> other_;  ///< thread count -> kernels served from it
};

/// Tuning as a schedule source (pipeline.h, ScheduleSources::tuner): the kernels handed to it
/// tuned by tune_module with opts.budget measurements in all, recorded in `db` (may be null).
class ModuleTuner : public ScheduleTuner {
 public:
  ModuleTuner(Database *db, TuneOptions opts) : db_(db), opts_(std::move(opts)) {}
  std::map<std::string, ChosenSchedule> tune(const Module &todo, const Target &t) override;
  /// Summaries of the kernels tuned so far (named as in the modules handed to tune()).
  const std::vector<TuneSummary> &tuned() const { return tuned_; }

 private:
  Database *db_;
  TuneOptions opts_;
  std::vector<TuneSummary> tuned_;
};

}  // namespace kcc::tuner
