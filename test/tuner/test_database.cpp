// Tuning database: records, best query, schema version, several writer processes, resume after SIGKILL.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <tuple>

#include "tuner/database.h"

namespace kcc::tuner {
namespace {

std::string temp_db(const std::string &name) {
  std::string dir = std::filesystem::temp_directory_path() / ("kcc_db_test_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::string p = dir + "/" + name + ".db";
  for (const char *suffix : {"", "-wal", "-shm"}) std::filesystem::remove(p + suffix);
  return p;
}

MeasureRecord record(const std::string &wk, double median, const std::string &error = "", int64_t run = 0,
                     Outcome outcome = Outcome::Build) {
  MeasureRecord r;
  r.workload_key = wk;
  r.target_key = "x86_64|znver4|+avx2";
  r.kernel = "matmul";
  r.schedule = "schedule matmul {\n  parallel C.i\n}\n";
  if (error.empty()) r.samples = {median * 1.01, median, median * 0.99};
  r.median_seconds = error.empty() ? median : 0;
  r.outcome = error.empty() ? Outcome::Ok : outcome;
  r.error = error;
  r.strategy = "random";
  r.kcc_version = "0.1.0";
  r.run_id = run;
  r.flops = 2e6;
  return r;
}

TEST(Database, RecordsRoundTripAndBestIsSmallestValidMedian) {
  Database db(temp_db("roundtrip"));
  MeasureRecord slow = record("w1", 3e-3);
  slow.schedule = "schedule matmul {\n  vectorize C.j\n}\n";  // another schedule
  MeasureRecord bad = record("w1", 0, "build: bad factor");
  bad.schedule = "schedule matmul {\n  split C.j [0] -> j0 j1\n}\n";  // a third one
  db.add({slow, record("w1", 1e-3), bad, record("w2", 1e-4)});
  auto best = db.best("w1", "x86_64|znver4|+avx2");
  ASSERT_TRUE(best.has_value());
  EXPECT_DOUBLE_EQ(best->median_seconds, 1e-3);
  EXPECT_EQ(best->samples.size(), 3u);
  EXPECT_EQ(best->schedule, "schedule matmul {\n  parallel C.i\n}\n");
  EXPECT_GT(best->timestamp, 0);
  EXPECT_NEAR(best->gflops(), 2.0, 1e-9);
  EXPECT_EQ(db.count("w1", "x86_64|znver4|+avx2"), 3);
  auto all = db.records("w1", "x86_64|znver4|+avx2");
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[2].error, "build: bad factor");
  EXPECT_EQ(all[2].outcome, Outcome::Build);
  EXPECT_EQ(all[1].outcome, Outcome::Ok);
  EXPECT_FALSE(all[2].valid());
  EXPECT_FALSE(db.best("w1", "other-target").has_value());
}

TEST(Database, AScheduleMeasuredSeveralTimesCountsWithItsWorstMedian) {
  // A (1 ms, then 3 ms when measured again) against B (2 ms once): B is the best, and A's
  // lucky first measurement no longer wins.
  Database db(temp_db("worst"));
  MeasureRecord b = record("w1", 2e-3);
  b.schedule = "schedule matmul {\n  vectorize C.j\n}\n";
  db.add({record("w1", 1e-3), b, record("w1", 3e-3)});
  auto best = db.best("w1", "x86_64|znver4|+avx2");
  ASSERT_TRUE(best.has_value());
  EXPECT_EQ(best->schedule, b.schedule);
  EXPECT_DOUBLE_EQ(best->median_seconds, 2e-3);
  // Without B, A is returned with its worst median.
  Database db2(temp_db("worst2"));
  db2.add({record("w1", 1e-3), record("w1", 3e-3)});
  EXPECT_DOUBLE_EQ(db2.best("w1", "x86_64|znver4|+avx2")->median_seconds, 3e-3);
}

TEST(Database, AScheduleMeasuredInvalidOnceDoesNotCount) {
  // A is fastest when it runs but crashed once: B is the best, as the tuner ranks it.
  Database db(temp_db("invalid_once"));
  MeasureRecord b = record("w1", 2e-3);
  b.schedule = "schedule matmul {\n  vectorize C.j\n}\n";
  db.add({record("w1", 1e-3), b, record("w1", 0, "crashed: worker ended with signal 11", 0, Outcome::Crashed)});
  auto best = db.best("w1", "x86_64|znver4|+avx2");
  ASSERT_TRUE(best.has_value());
  EXPECT_EQ(best->schedule, b.schedule);
  EXPECT_DOUBLE_EQ(best->median_seconds, 2e-3);
}

TEST(Database, AStoredMachinePeakIsReadBackAndReplaced) {
  std::string p = temp_db("peak");
  {
    Database db(p);
    EXPECT_FALSE(db.machine_peak("t1").has_value());
    db.store_machine_peak({"t1", "host (znver4, AVX-512)", 100, 20, 1.7e9, ""});
  }
  Database db(p);  // another process later
  auto peak = db.machine_peak("t1");
  ASSERT_TRUE(peak.has_value());
  EXPECT_EQ(peak->target_name, "host (znver4, AVX-512)");
  EXPECT_DOUBLE_EQ(peak->gflops, 100);
  EXPECT_DOUBLE_EQ(peak->gbps, 20);
  EXPECT_DOUBLE_EQ(peak->measured, 1.7e9);
  EXPECT_FALSE(peak->host.empty());
  EXPECT_FALSE(db.machine_peak("t2").has_value());
  db.store_machine_peak({"t1", "host (znver4, AVX-512)", 110, 21, 1.8e9, ""});
  EXPECT_DOUBLE_EQ(db.machine_peak("t1")->gflops, 110);
}

TEST(Database, NewerSchemaIsRefused) {
  std::string p = temp_db("schema");
  { Database db(p); }
  sqlite3 *raw = nullptr;
  ASSERT_EQ(sqlite3_open(p.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "UPDATE meta SET value = '99' WHERE key = 'schema_version'", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(raw);
  EXPECT_THROW(Database db(p), DatabaseError);
}

TEST(Database, APointAndItsSpaceRoundTrip) {
  Database db(temp_db("point"));
  MeasureRecord r = record("w1", 1e-3);
  r.space = "0123456789abcdef";
  r.point = Point{2, {0, 3, 1}};
  MeasureRecord none = record("w1", 2e-3);  // a hand schedule: no point
  none.schedule = "schedule matmul {\n}\n";
  db.add({r, none});
  auto all = db.records("w1", "x86_64|znver4|+avx2");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].space, "0123456789abcdef");
  ASSERT_TRUE(all[0].point.has_value());
  EXPECT_EQ(*all[0].point, (Point{2, {0, 3, 1}}));
  EXPECT_EQ(all[1].space, "");
  EXPECT_FALSE(all[1].point.has_value());
}

TEST(Database, AScheduleErrorKindRoundTrips) {
  Database db(temp_db("kind"));
  MeasureRecord limit = record("w1", 0, "static: schedule error (limit-exceeded): 2048 threads", 0, Outcome::Static);
  limit.schedule_error = ScheduleErrorKind::LimitExceeded;
  MeasureRecord none = record("w1", 0, "static: code too large", 0, Outcome::Static);  // no ScheduleError
  db.add({limit, none, record("w1", 1e-3)});
  auto all = db.records("w1", "x86_64|znver4|+avx2");
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].schedule_error, ScheduleErrorKind::LimitExceeded);
  EXPECT_FALSE(all[1].schedule_error.has_value());
  EXPECT_FALSE(all[2].schedule_error.has_value());
}

TEST(Database, AVersion3DatabaseGetsTheThreadsColumnWithNoCounts) {
  const std::string p = temp_db("v3");
  {
    Database db(p);
    db.add({record("w1", 2e-3)});
  }
  sqlite3 *raw = nullptr;  // back to version 3: without the column
  ASSERT_EQ(sqlite3_open(p.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw,
                         "ALTER TABLE measurements DROP COLUMN threads;"
                         "UPDATE meta SET value = '3' WHERE key = 'schema_version'",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(raw);
  Database db(p);
  MeasureRecord two = record("w1", 1e-3);
  two.schedule = "schedule matmul {\n  vectorize C.j\n}\n";
  two.threads = 2;
  db.add({two});
  auto all = db.records("w1", "x86_64|znver4|+avx2");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].threads, 0);  // not recorded before version 4
  EXPECT_EQ(all[1].threads, 2);
}

// A schedule's time on 2 threads does not rank it for 1: best(threads) takes the records of
// that count, then those that do not say (older databases), then any.
TEST(Database, BestPrefersRecordsOfTheThreadCount) {
  Database db(temp_db("threads"));
  auto with = [](double median, int threads, const char *schedule) {
    MeasureRecord r = record("w1", median);
    r.threads = threads;
    r.schedule = schedule;
    return r;
  };
  const char *a = "schedule matmul {\n  parallel C.i\n}\n", *b = "schedule matmul {\n  vectorize C.j\n}\n",
             *c = "schedule matmul {\n  unroll C.j\n}\n";
  db.add({with(1e-3, 2, a), with(3e-3, 1, b), with(2e-3, 0, c)});
  const std::string tk = "x86_64|znver4|+avx2";
  EXPECT_EQ(db.best("w1", tk, 2)->schedule, a);
  EXPECT_EQ(db.best("w1", tk, 1)->schedule, b);  // slower than a and c, but measured on 1 thread
  EXPECT_EQ(db.best("w1", tk, 1)->threads, 1);
  EXPECT_EQ(db.best("w1", tk, 4)->schedule, c);  // none on 4: the one that does not say
  EXPECT_EQ(db.best("w1", tk, 0)->schedule, a);  // any count: the fastest
  // Without records of the count or unrecorded ones, any count (the caller says so).
  Database db2(temp_db("threads2"));
  db2.add({with(1e-3, 2, a)});
  EXPECT_EQ(db2.best("w1", tk, 1)->threads, 2);
}

TEST(Database, AVersion2DatabaseGetsTheScheduleErrorColumnWithNoKinds) {
  const std::string p = temp_db("v2");
  {
    Database db(p);
    db.add({record("w1", 0, "static: schedule error (bad-factor): split factor 0", 0, Outcome::Static)});
  }
  sqlite3 *raw = nullptr;  // back to version 2: without the column
  ASSERT_EQ(sqlite3_open(p.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw,
                         "ALTER TABLE measurements DROP COLUMN schedule_error;"
                         "ALTER TABLE measurements DROP COLUMN threads;"
                         "UPDATE meta SET value = '2' WHERE key = 'schema_version'",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(raw);
  Database db(p);
  auto all = db.records("w1", "x86_64|znver4|+avx2");
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].outcome, Outcome::Static);
  EXPECT_FALSE(all[0].schedule_error.has_value());  // not read back from the message
  MeasureRecord r = record("w1", 0, "static: x", 0, Outcome::Static);
  r.schedule_error = ScheduleErrorKind::BadFactor;
  db.add({r});
  EXPECT_EQ(db.records("w1", "x86_64|znver4|+avx2")[1].schedule_error, ScheduleErrorKind::BadFactor);
}

/// A version-1 database (kcc before the outcome and point columns) with these rows: schedule
/// text, median, error.
void write_version_1(const std::string &p, const std::vector<std::tuple<std::string, double, std::string>> &rows) {
  sqlite3 *raw = nullptr;
  ASSERT_EQ(sqlite3_open(p.c_str(), &raw), SQLITE_OK);
  std::string sql =
      "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
      "INSERT INTO meta VALUES('schema_version', '1');"
      "CREATE TABLE runs(id INTEGER PRIMARY KEY AUTOINCREMENT, workload_key TEXT NOT NULL, target_key TEXT NOT NULL, "
      "kernel TEXT, strategy TEXT, budget INTEGER, pid INTEGER, host TEXT, started REAL, finished REAL);"
      "CREATE TABLE measurements(id INTEGER PRIMARY KEY AUTOINCREMENT, run_id INTEGER, workload_key TEXT NOT NULL, "
      "target_key TEXT NOT NULL, kernel TEXT, schedule TEXT NOT NULL, samples TEXT, median REAL, error TEXT, "
      "strategy TEXT, kcc_version TEXT, timestamp REAL, flops REAL);";
  ASSERT_EQ(sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  for (auto &[schedule, median, error] : rows) {
    sqlite3_stmt *st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(raw,
                                 "INSERT INTO measurements(run_id, workload_key, target_key, kernel, schedule, samples, "
                                 "median, error, strategy, kcc_version, timestamp, flops) "
                                 "VALUES(0, 'w1', 't1', 'matmul', ?, ?, ?, ?, 'random', '0.1.0', 1.7e9, 2e6)",
                                 -1, &st, nullptr),
              SQLITE_OK);
    const std::string samples = median > 0 ? std::to_string(median) : "";
    sqlite3_bind_text(st, 1, schedule.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, samples.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 3, median);
    sqlite3_bind_text(st, 4, error.c_str(), -1, SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
  }
  sqlite3_close(raw);
}

TEST(Database, AVersion1DatabaseIsMigratedPointCommentsBecomeColumns) {
  const std::string p = temp_db("v1");
  const std::string body = "schedule matmul {\n  parallel C.i\n}\n";
  write_version_1(p, {{"# kcc-point 37f101c8aa5bbec4 1:[5,0,12]\n" + body, 1e-3, ""},
                      {"schedule matmul {\n}\n", 2e-3, ""},  // a hand schedule: no comment
                      {"# kcc-point 37f101c8aa5bbec4 0:[0]\n" + body, 0, "static: tiles of C.i exceed its extent 37"}});
  Database db(p);
  auto all = db.records("w1", "t1");
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].schedule, body);
  EXPECT_EQ(all[0].space, "37f101c8aa5bbec4");
  ASSERT_TRUE(all[0].point.has_value());
  EXPECT_EQ(*all[0].point, (Point{1, {5, 0, 12}}));
  EXPECT_EQ(all[0].outcome, Outcome::Ok);
  EXPECT_EQ(all[1].schedule, "schedule matmul {\n}\n");
  EXPECT_FALSE(all[1].point.has_value());
  EXPECT_EQ(all[2].outcome, Outcome::Static);
  EXPECT_EQ(all[2].error, "static: tiles of C.i exceed its extent 37");
  // Migrated once: the file now says the current version, and opening it again changes nothing.
  Database again(p);
  EXPECT_EQ(again.records("w1", "t1")[0].schedule, body);
}

TEST(Database, AVersion1ErrorTextGivesItsOutcome) {
  const std::string p = temp_db("v1outcomes");
  const std::vector<std::pair<std::string, Outcome>> cases = {
      {"static: x", Outcome::Static},
      {"schedule error: x", Outcome::Schedule},
      {"build: optimization ran past its 2 s CPU-time limit", Outcome::CompileTimeLimit},
      {"build: LLVM ERROR", Outcome::Build},
      {"crashed: worker ended with signal 11", Outcome::Crashed},
      {"timeout: no result within 10 s", Outcome::Timeout},
      {"wrong result: output 'C' element 3", Outcome::WrongResult},
      {"status 3: bad argument", Outcome::Status},
      {"exception: x", Outcome::Exception},
      {"cuda error: kcc_cuda_alloc failed", Outcome::Cuda},
      {"load: no kernel", Outcome::Runner},
      {"no samples", Outcome::Other},
  };
  std::vector<std::tuple<std::string, double, std::string>> rows;
  for (auto &[error, o] : cases) rows.push_back({"schedule matmul {\n}\n", 0, error});
  write_version_1(p, rows);
  Database db(p);
  auto all = db.records("w1", "t1");
  ASSERT_EQ(all.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) EXPECT_EQ(all[i].outcome, cases[i].second) << cases[i].first;
}

TEST(Database, DefaultPathIsInXdgCacheHome) {
  std::string dir = std::filesystem::temp_directory_path() / ("kcc_xdg_" + std::to_string(getpid()));
  setenv("XDG_CACHE_HOME", dir.c_str(), 1);
  EXPECT_EQ(Database::default_path(), dir + "/kcc/tuning.db");
  EXPECT_TRUE(std::filesystem::is_directory(dir + "/kcc"));
  unsetenv("XDG_CACHE_HOME");
}

TEST(Database, SeveralWriterProcessesLoseNothing) {
  const std::string p = temp_db("concurrent");
  { Database db(p); }  // created before the writers race
  constexpr int kWriters = 4, kBatches = 25, kBatch = 8;
  std::vector<pid_t> kids;
  for (int w = 0; w < kWriters; ++w) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int rc = 0;
      try {
        Database db(p);
        for (int b = 0; b < kBatches; ++b) {
          std::vector<MeasureRecord> batch;
          for (int i = 0; i < kBatch; ++i) batch.push_back(record("w" + std::to_string(w), 1e-3 * (1 + i)));
          db.add(batch);
          (void)db.best("w0", "x86_64|znver4|+avx2");  // readers interleave with writers
        }
      } catch (const std::exception &e) {
        fprintf(stderr, "writer %d: %s\n", w, e.what());
        rc = 1;
      }
      _exit(rc);
    }
    kids.push_back(pid);
  }
  for (pid_t k : kids) {
    int status = 0;
    waitpid(k, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  Database db(p);
  EXPECT_TRUE(db.integrity_ok());
  EXPECT_EQ(db.count_all(), kWriters * kBatches * kBatch);
  for (int w = 0; w < kWriters; ++w)
    EXPECT_EQ(db.count("w" + std::to_string(w), "x86_64|znver4|+avx2"), kBatches * kBatch);
}

TEST(Database, RunKilledWithSigkillResumesLosingAtMostTheBatchInFlight) {
  const std::string p = temp_db("resume");
  constexpr int kBatch = 16;
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(pipefd[0]);
    Database db(p);
    RunInfo run = db.begin_run("wk", "x86_64|znver4|+avx2", "matmul", "hybrid", 100000);
    for (int b = 0;; ++b) {
      std::vector<MeasureRecord> batch;
      for (int i = 0; i < kBatch; ++i) batch.push_back(record("wk", 1e-3, "", run.id));
      db.add(batch);
      if (b == 3) (void)!write(pipefd[1], "x", 1);  // at least 4 batches are in
    }
  }
  close(pipefd[1]);
  char c;
  ASSERT_EQ(read(pipefd[0], &c, 1), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));

  Database db(p);
  EXPECT_TRUE(db.integrity_ok());
  RunInfo resumed = db.begin_run("wk", "x86_64|znver4|+avx2", "matmul", "hybrid", 100000);
  EXPECT_TRUE(resumed.resumed);
  EXPECT_GE(resumed.measured, 4 * kBatch);
  EXPECT_EQ(resumed.measured % kBatch, 0) << "a batch was half written";
  EXPECT_EQ(static_cast<int64_t>(db.run_records(resumed.id).size()), resumed.measured);
  db.finish_run(resumed.id);
  RunInfo fresh = db.begin_run("wk", "x86_64|znver4|+avx2", "matmul", "hybrid", 100);
  EXPECT_FALSE(fresh.resumed);
  EXPECT_EQ(fresh.measured, 0);
}

TEST(Database, RunOfALiveProcessIsNotTakenOver) {
  Database db(temp_db("live"));
  RunInfo a = db.begin_run("wk", "t", "k", "random", 10);
  RunInfo b = db.begin_run("wk", "t", "k", "random", 10);  // this process is alive: a new run
  EXPECT_FALSE(b.resumed);
  EXPECT_NE(a.id, b.id);
}

}  // namespace
}  // namespace kcc::tuner
