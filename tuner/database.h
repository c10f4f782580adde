// tuner/database.h - the tuning database: every measurement, in one SQLite file (DESIGN §6).
//
// Safe for several kcc processes at once: the file is in WAL mode, every write is one
// IMMEDIATE transaction, and a busy timeout makes writers wait for each other instead of
// failing. A measurement batch is written in one transaction, so a run killed at any moment
// (SIGINT, SIGKILL) loses at most the batch it was measuring; `begin_run` finds the unfinished
// run of a dead process and resumes it (its measurements count toward the budget).
//
// Schema (version 3):
//   meta(key PRIMARY KEY, value)                       schema_version
//   runs(id, workload_key, target_key, kernel, strategy, budget, pid, host, started, finished)
//   measurements(id, run_id, workload_key, target_key, kernel, schedule, samples, median,
//                error, strategy, kcc_version, timestamp, flops,
//                outcome, space, point,                 (version 2)
//                schedule_error)                        (version 3)
// Version 1 had no outcome, space and point: the point was a `# kcc-point SPACE S:[X,...]`
// comment on the schedule text, the outcome only the first words of the error. Opening a
// version-1 file migrates it once (one transaction): the comment becomes the two columns and
// leaves the text, the outcome is read from the error's first words. Version 2 had no
// schedule_error (the kind of the ScheduleError behind a static or schedule outcome): its
// records migrate with none ('', unknown; the kind is not read back from message text).
//   machine_peaks(target_key PRIMARY KEY, target_name, gflops, gbps, measured, host)
//                (created when first used; a kcc without it ignores the table)
#pragma once
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tuner/outcome.h"
#include "tuner/search.h"

struct sqlite3;

namespace kcc::tuner {

/// The schema version this kcc writes; a database with a newer one is refused.
constexpr int kDatabaseSchemaVersion = 4;

/// A failure of the database file (cannot open, corrupt, newer schema). Not a kcc bug.
class DatabaseError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One measurement of one candidate schedule.
struct MeasureRecord {
  std::string workload_key;   ///< workload_key(kernel)
  std::string target_key;     ///< Target::key()
  std::string kernel;         ///< the kernel's name when measured (informative)
  std::string schedule;       ///< schedule text (kcc::to_string(Schedule))
  std::string space;          ///< KernelSpace::signature() of the space `point` is in ("" = none)
  std::optional<Point> point; ///< the candidate measured, when it came from a search space
  std::vector<double> samples;  ///< seconds per run; empty when invalid
  double median_seconds = 0;  ///< 0 when invalid
  Outcome outcome = Outcome::Ok;  ///< why it is invalid (Ok when valid)
  /// Static, Schedule: the kind of the ScheduleError behind it (none: not one, or not known)
  std::optional<ScheduleErrorKind> schedule_error;
  std::string error;          ///< empty when valid; else why, for people
  std::string strategy;       ///< random, evolutionary, droplet, hybrid, ...
  std::string kcc_version;
  double timestamp = 0;       ///< seconds since the Unix epoch; filled by add() when 0
  int64_t run_id = 0;         ///< the tuning run that measured it (0 = none)
  double flops = 0;           ///< floating-point operations of one evaluation
  /// Threads the candidate ran on (`--threads`, else the runtime's default then): a schedule's
  /// time on 1 thread says little about its time on 2. 0 = not recorded (a record from before
  /// schema 4, or a GPU).
  int threads = 0;

  bool valid() const { return error.empty() && median_seconds > 0; }
  double gflops() const { return valid() ? flops / median_seconds * 1e-9 : 0; }
};

/// A machine's peak as `kcc report` measured it once, stored per target (table machine_peaks).
struct PeakRecord {
  std::string target_key;   ///< Target::key()
  std::string target_name;  ///< how the report names the target (informative)
  double gflops = 0;        ///< fp32 FMA throughput, one core
  double gbps = 0;          ///< streaming read bandwidth, one core
  double measured = 0;      ///< seconds since the Unix epoch
  std::string host;         ///< the machine that measured it; filled by store_machine_peak()
};

/// A tuning run: one kernel, one target, one strategy, one budget.
struct RunInfo {
  int64_t id = 0;
  bool resumed = false;   ///< an unfinished run of a dead process was taken over
  int64_t measured = 0;   ///< measurements already recorded for it
};

/// A row of the runs table.
struct RunRow {
  int64_t id = 0;
  std::string workload_key, target_key, kernel, strategy;
  int64_t budget = 0;
  bool finished = false;
};

class Database {
 public:
  /// $XDG_CACHE_HOME/kcc/tuning.db, else $HOME/.cache/kcc/tuning.db (folder created).
  static std::string default_path();

  /// Opens (creating if needed) the database at `path`. Throws DatabaseError.
  explicit Database(const std::string &path);
  ~Database();
  Database(const Database &) = delete;
  Database &operator=(const Database &) = delete;

  const std::string &path() const { return path_; }

  /// Records a batch in one transaction (all or nothing).
  void add(const std::vector<MeasureRecord> &batch);
  /// The best record for this workload and target, by best_record() (tuner/best.h): schedules
  /// ranked by their worst median, a schedule measured invalid once left out; the winner's
  /// slowest record is returned. With `threads` > 0, the best of the records measured on that
  /// many threads; without one, of the records whose count was not recorded; without one, of
  /// all (the record's `threads` says which it is).
  std::optional<MeasureRecord> best(const std::string &workload_key, const std::string &target_key,
                                    int threads = 0);
  /// All records for this workload and target (valid and invalid), oldest first; `limit` 0 = all.
  std::vector<MeasureRecord> records(const std::string &workload_key, const std::string &target_key,
                                     int64_t limit = 0);
  /// Valid records of this workload measured on any *other* target, newest first, at most
  /// `limit`: they may seed a cost model (transfer) but are never an answer for this target.
  std::vector<MeasureRecord> records_elsewhere(const std::string &workload_key, const std::string &target_key,
                                               int64_t limit);
  /// All records of one target (any workload), newest first, at most `limit` (for transfer).
  std::vector<MeasureRecord> records_for_target(const std::string &target_key, int64_t limit);
  /// Records of one run, oldest first.
  std::vector<MeasureRecord> run_records(int64_t run_id);
  int64_t count(const std::string &workload_key, const std::string &target_key);
  int64_t count_all();

  /// Starts a run, or resumes the unfinished run with the same workload, target and strategy
  /// whose process is gone.
  RunInfo begin_run(const std::string &workload_key, const std::string &target_key, const std::string &kernel,
                    const std::string &strategy, int64_t budget);
  void finish_run(int64_t run_id);

  /// Every run, oldest first (for reports).
  std::vector<RunRow> runs();

  /// The stored peak of this target, if one was measured.
  std::optional<PeakRecord> machine_peak(const std::string &target_key);
  /// Stores (replaces) the peak of p.target_key.
  void store_machine_peak(const PeakRecord &p);

  /// PRAGMA integrity_check says "ok".
  bool integrity_ok();

 private:
  void exec(const std::string &sql);
  void migrate_from_1();
  void migrate_from_2();
  void migrate_from_3();
  void create_peak_table();
  std::vector<MeasureRecord> query(const std::string &sql, const std::vector<std::string> &text_args,
                                   int64_t int_arg = -1);

  std::string path_;
  sqlite3 *db_ = nullptr;
};

}  // namespace kcc::tuner
