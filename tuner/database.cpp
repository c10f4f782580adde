// tuner/database.cpp - SQLite tuning database.
//
// Why these settings: WAL lets readers run while one writer commits; synchronous=NORMAL in
// WAL mode is durable against process death (SIGKILL), only a power loss may drop the last
// commits. Every write takes the write lock up front (BEGIN IMMEDIATE) so two writers never
// deadlock upgrading a read lock; the busy timeout makes the loser wait.
#include "tuner/database.h"

#include "tuner/best.h"

#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <thread>

namespace kcc::tuner {

namespace {

constexpr int kBusyTimeoutMs = 60000;

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void make_dirs(const std::string &dir) {
  for (size_t i = 1; i <= dir.size(); ++i)
    if (i == dir.size() || dir[i] == '/') mkdir(dir.substr(0, i).c_str(), 0755);
}

std::string join_samples(const std::vector<double> &s) {
  std::string out;
  char buf[40];
  for (size_t i = 0; i < s.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%s%.9g", i ? " " : "", s[i]);
    out += buf;
  }
  return out;
}

std::vector<double> split_samples(const std::string &s) {
  std::vector<double> out;
  std::istringstream in(s);
  double v;
  while (in >> v) out.push_back(v);
  return out;
}

/// A prepared statement, finalized on scope exit.
class Stmt {
 public:
  Stmt(sqlite3 *db, const std::string &sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st_, nullptr) != SQLITE_OK)
      throw DatabaseError(std::string("sqlite: ") + sqlite3_errmsg(db) + " in: " + sql);
  }
  ~Stmt() { sqlite3_finalize(st_); }
  void bind(int i, const std::string &v) { sqlite3_bind_text(st_, i, v.c_str(), -1, SQLITE_TRANSIENT); }
  void bind(int i, double v) { sqlite3_bind_double(st_, i, v); }
  void bind(int i, int64_t v) { sqlite3_bind_int64(st_, i, v); }
  /// true while there is a row.
  bool step() {
    int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw DatabaseError(std::string("sqlite: ") + sqlite3_errmsg(db_));
  }
  void reset() {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
  }
  std::string text(int c) {
    auto *p = sqlite3_column_text(st_, c);
    return p ? reinterpret_cast<const char *>(p) : "";
  }
  double real(int c) { return sqlite3_column_double(st_, c); }
  int64_t integer(int c) { return sqlite3_column_int64(st_, c); }

 private:
  sqlite3 *db_;
  sqlite3_stmt *st_ = nullptr;
};

/// BEGIN IMMEDIATE ... COMMIT, rolled back if not committed.
class Transaction {
 public:
  explicit Transaction(sqlite3 *db) : db_(db) { run("BEGIN IMMEDIATE"); }
  ~Transaction() {
    if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  void commit() {
    run("COMMIT");
    done_ = true;
  }

 private:
  void run(const char *sql) {
    // The busy handler covers lock waits; retry a few times on the rare SQLITE_BUSY that a WAL
    // checkpoint or recovery can still return.
    for (int attempt = 0;; ++attempt) {
      char *err = nullptr;
      int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
      if (rc == SQLITE_OK) return;
      std::string msg = err ? err : "";
      sqlite3_free(err);
      if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && attempt < 100) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10 + attempt * 5));
        continue;
      }
      throw DatabaseError("sqlite: " + msg + " in: " + sql);
    }
  }
  sqlite3 *db_;
  bool done_ = false;
};

const char *kRecordColumns =
    "workload_key, target_key, kernel, schedule, samples, median, error, strategy, kcc_version, timestamp, "
    "run_id, flops, outcome, space, point, schedule_error, threads";

/// A point as the `point` column holds it: "S:X,Y,..." ("" = none).
std::string point_text(const std::optional<Point> &p) {
  if (!p) return "";
  std::string s = std::to_string(p->sketch) + ":";
  for (size_t i = 0; i < p->x.size(); ++i) s += (i ? "," : "") + std::to_string(p->x[i]);
  return s;
}

std::optional<Point> point_from_text(const std::string &s) {
  const size_t colon = s.find(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  Point p;
  try {
    p.sketch = std::stoi(s.substr(0, colon));
    std::stringstream in(s.substr(colon + 1));
    for (std::string item; std::getline(in, item, ',');) p.x.push_back(std::stoi(item));
  } catch (const std::exception &) {
    return std::nullopt;
  }
  return p;
}

// ---------------------------------------------------------------- migration from version 1

/// The outcome a version-1 record's error text says by its first words (what kcc wrote then).
Outcome outcome_of_version_1(const std::string &error) {
  if (error.empty()) return Outcome::Ok;
  static const std::pair<const char *, Outcome> lead[] = {
      {"static:", Outcome::Static},
      {"schedule error", Outcome::Schedule},
      {"build: optimization ran past", Outcome::CompileTimeLimit},
      {"build:", Outcome::Build},
      {"crashed:", Outcome::Crashed},
      {"timeout:", Outcome::Timeout},
      {"wrong result", Outcome::WrongResult},
      {"status ", Outcome::Status},
      {"exception:", Outcome::Exception},
      {"cuda error", Outcome::Cuda},
      {"runner:", Outcome::Runner},
      {"load:", Outcome::Runner},
      {"data:", Outcome::Runner},
      {"bounds:", Outcome::Runner},
  };
  for (auto &[words, o] : lead)
    if (error.compare(0, std::strlen(words), words) == 0) return o;
  return Outcome::Other;
}

/// A version-1 schedule text's leading `# kcc-point SPACE S:[X,...]` line, split off: the space,
/// the point and the text without the line. Nothing when the text has no such line.
struct Version1Point {
  std::string space;
  Point point;
  std::string schedule;
};
std::optional<Version1Point> point_of_version_1(const std::string &text) {
  const size_t eol = text.find('\n');
  if (eol == std::string::npos) return std::nullopt;
  std::istringstream in(text.substr(0, eol));
  std::string hash, tag, space, coords, rest;
  if (!(in >> hash >> tag >> space >> coords) || (in >> rest) || hash != "#" || tag != "kcc-point") return std::nullopt;
  const size_t colon = coords.find(':');
  if (colon == std::string::npos || coords.size() < colon + 3 || coords[colon + 1] != '[' || coords.back() != ']')
    return std::nullopt;
  auto p = point_from_text(coords.substr(0, colon + 1) + coords.substr(colon + 2, coords.size() - colon - 3));
  if (!p) return std::nullopt;
  return Version1Point{space, *p, text.substr(eol + 1)};
}

bool process_alive(int64_t pid) {
  if (pid <= 0) return false;
  return kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

std::string host_name() {
  char buf[256] = {0};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

}  // namespace

std::string Database::default_path() {
  std::string dir;
  if (const char *x = std::getenv("XDG_CACHE_HOME"); x && *x)
    dir = x;
  else if (const char *h = std::getenv("HOME"); h && *h)
    dir = std::string(h) + "/.cache";
  else
    dir = "/tmp";
  dir += "/kcc";
  make_dirs(dir);
  return dir + "/tuning.db";
}

Database::Database(const std::string &path) : path_(path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    // SQLite's "unable to open database file" does not say why; the system error does.
    if (int err = db_ ? sqlite3_system_errno(db_) : 0; err != 0) msg += std::string(" (") + std::strerror(err) + ")";
    sqlite3_close(db_);
    db_ = nullptr;
    throw DatabaseError("cannot open tuning database '" + path + "': " + msg);
  }
  sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  try {
    // journal_mode=WAL itself needs a lock; retry while another process is creating the file.
    for (int attempt = 0;; ++attempt) {
      char *err = nullptr;
      int rc = sqlite3_exec(db_, "PRAGMA journal_mode=WAL", nullptr, nullptr, &err);
      sqlite3_free(err);
      if (rc == SQLITE_OK) break;
      if (attempt > 200) throw DatabaseError("cannot set WAL mode on '" + path + "'");
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    exec("PRAGMA synchronous=NORMAL");
    Transaction tx(db_);
    exec("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    exec("CREATE TABLE IF NOT EXISTS runs(id INTEGER PRIMARY KEY AUTOINCREMENT, workload_key TEXT NOT NULL, "
         "target_key TEXT NOT NULL, kernel TEXT, strategy TEXT, budget INTEGER, pid INTEGER, host TEXT, "
         "started REAL, finished REAL)");
    exec("CREATE TABLE IF NOT EXISTS measurements(id INTEGER PRIMARY KEY AUTOINCREMENT, run_id INTEGER, "
         "workload_key TEXT NOT NULL, target_key TEXT NOT NULL, kernel TEXT, schedule TEXT NOT NULL, "
         "samples TEXT, median REAL, error TEXT, strategy TEXT, kcc_version TEXT, timestamp REAL, flops REAL, "
         "outcome TEXT NOT NULL DEFAULT 'ok', space TEXT NOT NULL DEFAULT '', point TEXT NOT NULL DEFAULT '', "
         "schedule_error TEXT NOT NULL DEFAULT '', threads INTEGER NOT NULL DEFAULT 0)");
    exec("CREATE INDEX IF NOT EXISTS measurements_by_workload ON measurements(workload_key, target_key, median)");
    exec("CREATE INDEX IF NOT EXISTS measurements_by_run ON measurements(run_id)");
    int version = 0;  // 0: a new file
    {
      Stmt get(db_, "SELECT value FROM meta WHERE key = 'schema_version'");
      if (get.step()) version = std::atoi(get.text(0).c_str());
    }
    if (version > kDatabaseSchemaVersion)
      throw DatabaseError("tuning database '" + path + "' has schema version " + std::to_string(version) +
                          ", newer than this kcc's " + std::to_string(kDatabaseSchemaVersion));
    if (version == 1) migrate_from_1();
    if (version >= 1 && version <= 2) migrate_from_2();
    if (version >= 1 && version <= 3) migrate_from_3();
    if (version == 0) {
      Stmt put(db_, "INSERT INTO meta(key, value) VALUES('schema_version', ?)");
      put.bind(1, std::to_string(kDatabaseSchemaVersion));
      put.step();
    }
    tx.commit();
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

Database::~Database() { sqlite3_close(db_); }

// Runs inside the constructor's transaction: a version-1 file is migrated by exactly one process,
// all or nothing; another process opening it meanwhile waits for the lock and finds the current
// version.
void Database::migrate_from_1() {
  exec("ALTER TABLE measurements ADD COLUMN outcome TEXT NOT NULL DEFAULT 'ok'");
  exec("ALTER TABLE measurements ADD COLUMN space TEXT NOT NULL DEFAULT ''");
  exec("ALTER TABLE measurements ADD COLUMN point TEXT NOT NULL DEFAULT ''");
  Stmt rows(db_, "SELECT id, schedule, error FROM measurements");
  Stmt upd(db_, "UPDATE measurements SET outcome = ?, space = ?, point = ?, schedule = ? WHERE id = ?");
  while (rows.step()) {
    const int64_t id = rows.integer(0);
    std::string schedule = rows.text(1), space, point;
    if (auto v1 = point_of_version_1(schedule)) {
      space = v1->space;
      point = point_text(v1->point);
      schedule = v1->schedule;
    }
    upd.bind(1, std::string(to_string(outcome_of_version_1(rows.text(2)))));
    upd.bind(2, space);
    upd.bind(3, point);
    upd.bind(4, schedule);
    upd.bind(5, id);
    upd.step();
    upd.reset();
  }
}

// As migrate_from_1, inside the constructor's transaction; also a step of older migrations.
void Database::migrate_from_2() {
  exec("ALTER TABLE measurements ADD COLUMN schedule_error TEXT NOT NULL DEFAULT ''");
}

// The last step of every migration: records before schema 4 keep threads = 0 (not recorded).
void Database::migrate_from_3() {
  exec("ALTER TABLE measurements ADD COLUMN threads INTEGER NOT NULL DEFAULT 0");
  exec("UPDATE meta SET value = '" + std::to_string(kDatabaseSchemaVersion) + "' WHERE key = 'schema_version'");
}

void Database::exec(const std::string &sql) {
  char *err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "";
    sqlite3_free(err);
    throw DatabaseError("sqlite: " + msg + " in: " + sql);
  }
}

void Database::add(const std::vector<MeasureRecord> &batch) {
  if (batch.empty()) return;
  Transaction tx(db_);
  Stmt ins(db_, std::string("INSERT INTO measurements(") + kRecordColumns +
                    ") VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  const double now = now_seconds();
  for (const MeasureRecord &r : batch) {
    ins.bind(1, r.workload_key);
    ins.bind(2, r.target_key);
    ins.bind(3, r.kernel);
    ins.bind(4, r.schedule);
    ins.bind(5, join_samples(r.samples));
    ins.bind(6, r.median_seconds);
    ins.bind(7, r.error);
    ins.bind(8, r.strategy);
    ins.bind(9, r.kcc_version);
    ins.bind(10, r.timestamp > 0 ? r.timestamp : now);
    ins.bind(11, r.run_id);
    ins.bind(12, r.flops);
    ins.bind(13, std::string(to_string(r.outcome)));
    ins.bind(14, r.space);
    ins.bind(15, point_text(r.point));
    ins.bind(16, std::string(r.schedule_error ? to_string(*r.schedule_error) : ""));
    ins.bind(17, static_cast<int64_t>(r.threads));
    ins.step();
    ins.reset();
  }
  tx.commit();
}

std::vector<MeasureRecord> Database::query(const std::string &sql, const std::vector<std::string> &text_args,
                                           int64_t int_arg) {
  Stmt q(db_, sql);
  int i = 1;
  for (auto &a : text_args) q.bind(i++, a);
  if (int_arg >= 0) q.bind(i++, int_arg);
  std::vector<MeasureRecord> out;
  while (q.step()) {
    MeasureRecord r;
    r.workload_key = q.text(0);
    r.target_key = q.text(1);
    r.kernel = q.text(2);
    r.schedule = q.text(3);
    r.samples = split_samples(q.text(4));
    r.median_seconds = q.real(5);
    r.error = q.text(6);
    r.strategy = q.text(7);
    r.kcc_version = q.text(8);
    r.timestamp = q.real(9);
    r.run_id = q.integer(10);
    r.flops = q.real(11);
    r.outcome = parse_outcome(q.text(12)).value_or(Outcome::Other);
    r.space = q.text(13);
    r.point = point_from_text(q.text(14));
    r.schedule_error = parse_schedule_error_kind(q.text(15));
    r.threads = static_cast<int>(q.integer(16));
    out.push_back(std::move(r));
  }
  return out;
}

std::optional<MeasureRecord> best_record(const std::vector<MeasureRecord> &records) {
  WorstMeasurementRanking<std::string> ranking;
  for (const MeasureRecord &r : records) ranking.add(r.schedule, r.valid(), r.median_seconds);
  auto best = ranking.best();
  if (!best) return std::nullopt;
  for (const MeasureRecord &r : records)
    if (r.schedule == best->first && r.valid() && r.median_seconds == best->second) return r;
  return std::nullopt;  // unreachable: the worst median is one of the schedule's records
}

std::optional<MeasureRecord> Database::best(const std::string &workload_key, const std::string &target_key,
                                            int threads) {
  // The rule is tuner/best.h's, shared with the tuner and the report, so every place that names
  // a kernel's best names the same one; a workload has at most a few thousand records.
  std::vector<MeasureRecord> all = records(workload_key, target_key);
  if (threads <= 0) return best_record(all);
  for (int want : {threads, 0}) {  // this count, then records that do not say
    std::vector<MeasureRecord> some;
    for (const MeasureRecord &r : all)
      if (r.threads == want) some.push_back(r);
    if (auto b = best_record(some)) return b;
  }
  return best_record(all);
}

std::vector<MeasureRecord> Database::records(const std::string &workload_key, const std::string &target_key,
                                             int64_t limit) {
  return query(std::string("SELECT ") + kRecordColumns +
                   " FROM measurements WHERE workload_key = ? AND target_key = ? ORDER BY id ASC LIMIT ?",
               {workload_key, target_key}, limit > 0 ? limit : INT64_MAX);
}

std::vector<MeasureRecord> Database::records_elsewhere(const std::string &workload_key,
                                                       const std::string &target_key, int64_t limit) {
  return query(std::string("SELECT ") + kRecordColumns +
                   " FROM measurements WHERE workload_key = ? AND target_key != ? AND error = '' AND median > 0"
                   " ORDER BY id DESC LIMIT ?",
               {workload_key, target_key}, limit > 0 ? limit : INT64_MAX);
}

std::vector<MeasureRecord> Database::records_for_target(const std::string &target_key, int64_t limit) {
  return query(std::string("SELECT ") + kRecordColumns +
                   " FROM measurements WHERE target_key = ? ORDER BY id DESC LIMIT ?",
               {target_key}, limit > 0 ? limit : INT64_MAX);
}

std::vector<MeasureRecord> Database::run_records(int64_t run_id) {
  return query(std::string("SELECT ") + kRecordColumns + " FROM measurements WHERE run_id = ? ORDER BY id ASC", {},
               run_id);
}

int64_t Database::count(const std::string &workload_key, const std::string &target_key) {
  Stmt q(db_, "SELECT COUNT(*) FROM measurements WHERE workload_key = ? AND target_key = ?");
  q.bind(1, workload_key);
  q.bind(2, target_key);
  q.step();
  return q.integer(0);
}

int64_t Database::count_all() {
  Stmt q(db_, "SELECT COUNT(*) FROM measurements");
  q.step();
  return q.integer(0);
}

RunInfo Database::begin_run(const std::string &workload_key, const std::string &target_key, const std::string &kernel,
                            const std::string &strategy, int64_t budget) {
  Transaction tx(db_);
  RunInfo info;
  const std::string host = host_name();
  {
    Stmt q(db_,
           "SELECT id, pid, host FROM runs WHERE workload_key = ? AND target_key = ? AND strategy = ? AND "
           "finished IS NULL ORDER BY id DESC");
    q.bind(1, workload_key);
    q.bind(2, target_key);
    q.bind(3, strategy);
    while (q.step()) {
      int64_t pid = q.integer(1);
      // A run of a live process (on this host) is someone else's; one on another host may be
      // alive too: never take it over.
      if (q.text(2) != host || process_alive(pid)) continue;
      info.id = q.integer(0);
      info.resumed = true;
      break;
    }
  }
  if (info.resumed) {
    Stmt upd(db_, "UPDATE runs SET pid = ?, budget = ? WHERE id = ?");
    upd.bind(1, static_cast<int64_t>(getpid()));
    upd.bind(2, budget);
    upd.bind(3, info.id);
    upd.step();
    Stmt c(db_, "SELECT COUNT(*) FROM measurements WHERE run_id = ?");
    c.bind(1, info.id);
    c.step();
    info.measured = c.integer(0);
  } else {
    Stmt ins(db_,
             "INSERT INTO runs(workload_key, target_key, kernel, strategy, budget, pid, host, started) "
             "VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
    ins.bind(1, workload_key);
    ins.bind(2, target_key);
    ins.bind(3, kernel);
    ins.bind(4, strategy);
    ins.bind(5, budget);
    ins.bind(6, static_cast<int64_t>(getpid()));
    ins.bind(7, host);
    ins.bind(8, now_seconds());
    ins.step();
    info.id = sqlite3_last_insert_rowid(db_);
  }
  tx.commit();
  return info;
}

void Database::finish_run(int64_t run_id) {
  Transaction tx(db_);
  Stmt upd(db_, "UPDATE runs SET finished = ? WHERE id = ?");
  upd.bind(1, now_seconds());
  upd.bind(2, run_id);
  upd.step();
  tx.commit();
}

std::vector<RunRow> Database::runs() {
  Stmt q(db_, "SELECT id, workload_key, target_key, kernel, strategy, budget, finished IS NOT NULL FROM runs ORDER BY id");
  std::vector<RunRow> out;
  while (q.step())
    out.push_back({q.integer(0), q.text(1), q.text(2), q.text(3), q.text(4), q.integer(5), q.integer(6) != 0});
  return out;
}

void Database::create_peak_table() {
  // Created on first use rather than when the file is opened: the table is an addition to schema
  // version 1 that older kcc versions never read.
  exec("CREATE TABLE IF NOT EXISTS machine_peaks(target_key TEXT PRIMARY KEY, target_name TEXT, gflops REAL, "
       "gbps REAL, measured REAL, host TEXT)");
}

std::optional<PeakRecord> Database::machine_peak(const std::string &target_key) {
  create_peak_table();
  Stmt q(db_, "SELECT target_key, target_name, gflops, gbps, measured, host FROM machine_peaks WHERE target_key = ?");
  q.bind(1, target_key);
  if (!q.step()) return std::nullopt;
  return PeakRecord{q.text(0), q.text(1), q.real(2), q.real(3), q.real(4), q.text(5)};
}

void Database::store_machine_peak(const PeakRecord &p) {
  Transaction tx(db_);
  create_peak_table();
  Stmt put(db_, "INSERT OR REPLACE INTO machine_peaks(target_key, target_name, gflops, gbps, measured, host) "
                "VALUES(?, ?, ?, ?, ?, ?)");
  put.bind(1, p.target_key);
  put.bind(2, p.target_name);
  put.bind(3, p.gflops);
  put.bind(4, p.gbps);
  put.bind(5, p.measured > 0 ? p.measured : now_seconds());
  put.bind(6, host_name());
  put.step();
  tx.commit();
}

bool Database::integrity_ok() {
  Stmt q(db_, "PRAGMA integrity_check");
  return q.step() && q.text(0) == "ok";
}

}  // namespace kcc::tuner
