// Tuning sessions end to end (small budgets): database records, resume after SIGKILL, the
// provider's order, the task scheduler, tuned schedules checked against the interpreter.
// Nothing here runs generated code in-process (the measurer forks).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <thread>

#include "ir/parser.h"
#include "ir/workload.h"
#include "tuner/task_scheduler.h"
#include "tuner/space.h"
#include "tuner/tuner.h"

namespace kcc::tuner {
namespace {

const Module &suite() {
  static Module m = parse_module_file(std::string(KCC_SOURCE_DIR) + "/test/correctness/kernels.ir");
  return m;
}

Target host() {
  static Target t = make_target("host");
  return t;
}

std::string temp_db(const std::string &name) {
  std::string dir = std::filesystem::temp_directory_path() / ("kcc_tuner_test_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::string p = dir + "/" + name + ".db";
  for (const char *suffix : {"", "-wal", "-shm"}) std::filesystem::remove(p + suffix);
  return p;
}

TuneOptions quick(Strategy s, int64_t budget) {
  TuneOptions o;
  o.strategy = s;
  o.budget = budget;
  o.search.batch = 4;
  o.search.population = 32;
  o.search.generations = 2;
  o.search.hybrid_switch = 4;
  o.measure.min_sample_seconds = 0.0005;
  o.measure.samples = 3;
  o.measure.timeout_seconds = 20;
  return o;
}

TEST(Tuner, TuneKernelRecordsEveryMeasurementAndReturnsTheBest) {
  Database db(temp_db("tune"));
  const Kernel &k = *suite().find_kernel("matmul");
  TuneSummary s = tune_kernel(k, host(), &db, quick(Strategy::Random, 6));
  ASSERT_TRUE(s.found);
  EXPECT_EQ(s.measured, 6);
  EXPECT_EQ(s.wrong_results, 0);
  EXPECT_GT(s.gflops, 0);
  EXPECT_EQ(s.best_gflops_curve.size(), 6u);
  EXPECT_EQ(db.count(workload_key(k), host().key()), 6);
  auto best = db.best(workload_key(k), host().key());
  ASSERT_TRUE(best.has_value());
  EXPECT_DOUBLE_EQ(best->median_seconds, s.median_seconds);
  // The default schedule is measured first, as the baseline: the best is it or a candidate.
  EXPECT_TRUE(best->strategy == "random" || best->strategy == "default") << best->strategy;
  EXPECT_GE(best->samples.size(), 3u);
  auto sched = schedule_from_record(k, host(), *best);
  ASSERT_TRUE(sched.has_value());
  EXPECT_EQ(to_string(*sched), s.schedule_text);
  // Each record names its point in the space (columns space and point), and its text is that
  // point's schedule, with no comment.
  KernelSpace space(k, host());
  int baseline = 0;
  for (const MeasureRecord &r : db.records(workload_key(k), host().key())) {
    if (r.strategy == "default") {  // the default schedule, recorded as its point of the space
      ++baseline;
      EXPECT_EQ(r.schedule, to_string(default_schedule(k, host())));
      ASSERT_TRUE(r.point.has_value());
      EXPECT_EQ(*r.point, *space.default_point());
    }
    EXPECT_EQ(r.space, space.signature());
    ASSERT_TRUE(r.point.has_value());
    EXPECT_EQ(r.schedule, space.schedule_text(*r.point));
    EXPECT_EQ(r.schedule.rfind("schedule matmul {", 0), 0u) << r.schedule;
    if (r.valid()) {
      EXPECT_EQ(r.outcome, Outcome::Ok);
    }
  }
  EXPECT_EQ(baseline, 1);
}

// Run only as the child of the resume test (a fresh process: libgomp, used by XGBoost, does not
// survive fork, so the child is exec'd rather than forked from this test process).
TEST(Tuner, TheBestPointsAreMeasuredAgainAndRankedByTheirWorstMeasurement) {
  Database db(temp_db("verify"));
  const Kernel &k = *suite().find_kernel("matmul");
  TuneOptions o = quick(Strategy::Random, 6);
  o.verify_top = 3;
  TuneSummary s = tune_kernel(k, host(), &db, o);
  ASSERT_TRUE(s.found);
  EXPECT_EQ(s.measured, 6);  // re-measurements are outside the budget
  EXPECT_GE(s.verified, 3);  // 3 per round, until the best has been measured twice
  std::map<std::string, double> worst;
  std::map<std::string, int> times;
  int verify = 0;
  for (auto &r : db.records(workload_key(k), host().key())) {
    verify += r.strategy == "verify";
    if (r.valid()) worst[r.schedule] = std::max(worst[r.schedule], r.median_seconds), ++times[r.schedule];
  }
  EXPECT_EQ(verify, s.verified);
  double best = 0;
  std::string best_schedule;
  for (auto &[sched, w] : worst)
    if (best == 0 || w < best) best = w, best_schedule = sched;
  EXPECT_EQ(times[best_schedule], 2);  // the winner is a verified schedule
  EXPECT_DOUBLE_EQ(s.median_seconds, best);  // the summary and the database agree
  EXPECT_DOUBLE_EQ(db.best(workload_key(k), host().key())->median_seconds, best);
}

// With a budget of one, only the baseline (the default schedule) is measured; it wins, so it
// is measured once more like a winning point, and counts with the worse of the two.
TEST(Tuner, AWinningBaselineIsVerifiedLikeAWinningPoint) {
  Database db(temp_db("baseline"));
  const Kernel &k = *suite().find_kernel("matmul");
  TuneOptions o = quick(Strategy::Random, 1);
  o.verify_top = 3;
  TuneSummary s = tune_kernel(k, host(), &db, o);
  ASSERT_TRUE(s.found);
  EXPECT_TRUE(s.from_given);
  EXPECT_TRUE(s.given_is_default);
  EXPECT_EQ(s.measured, 1);
  EXPECT_EQ(s.verified, 1);
  double worst = 0;
  int records = 0;
  for (auto &r : db.records(workload_key(k), host().key())) {
    EXPECT_EQ(r.schedule, to_string(default_schedule(k, host())));
    EXPECT_TRUE(r.strategy == "default" || r.strategy == "verify") << r.strategy;
    ASSERT_TRUE(r.valid());
    worst = std::max(worst, r.median_seconds);
    ++records;
  }
  EXPECT_EQ(records, 2);
  EXPECT_DOUBLE_EQ(s.median_seconds, worst);
  EXPECT_DOUBLE_EQ(db.best(workload_key(k), host().key())->median_seconds, worst);
}

// A workload another file (here: another name for the same kernel) already tuned to this
// run's share is not tuned again: a layer two models share costs its measurements once. With a
// larger budget it is tuned further.
TEST(Tuner, AWorkloadTunedEnoughByAnEarlierRunIsSkipped) {
  Database db(temp_db("shared"));
  const std::string text = "kernel mm(A: f32[24, 40], B: f32[40, 32]) -> C: f32[24, 32] {\n"
                           "  C[i, j] = sum(k) A[i, k] * B[k, j]\n}\n";
  Module first = parse_module("first.ir", text);
  std::string renamed = text;
  renamed.replace(renamed.find("mm("), 3, "other(");
  Module second = parse_module("second.ir", renamed);
  auto a = tune_module(first, host(), &db, quick(Strategy::Random, 4));
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].measured, 4);
  EXPECT_FALSE(a[0].skipped);
  auto b = tune_module(second, host(), &db, quick(Strategy::Random, 4));
  ASSERT_EQ(b.size(), 1u);
  EXPECT_TRUE(b[0].skipped);
  EXPECT_EQ(b[0].measured, 0);
  EXPECT_GE(b[0].history, 3);  // the earlier run's points (its baseline's too)
  ASSERT_TRUE(b[0].found);     // the best of the earlier records, under the new name
  EXPECT_NE(b[0].schedule_text.find("schedule other"), std::string::npos) << b[0].schedule_text;
  auto c = tune_module(second, host(), &db, quick(Strategy::Random, 12));
  EXPECT_FALSE(c[0].skipped);
  EXPECT_GT(c[0].measured, 0);
}

// Every record says how many threads the candidate ran on. Records of another count rank
// schedules for another machine, in effect: they do not make a tuning skip the workload, are
// not its history, and a compile for one count takes that count's records first, with a note
// when it has to take another's.
TEST(Tuner, RecordsOfAnotherThreadCountAreNotThisCountsAnswer) {
  Database db(temp_db("threads"));
  const std::string text = "kernel mm(A: f32[24, 40], B: f32[40, 32]) -> C: f32[24, 32] {\n"
                           "  C[i, j] = sum(k) A[i, k] * B[k, j]\n}\n";
  Module m = parse_module("mm.ir", text);
  const Kernel &k = m.kernels[0];
  TuneOptions two = quick(Strategy::Random, 4);
  two.measure.run_threads = 2;
  auto a = tune_module(m, host(), &db, two);
  ASSERT_EQ(a.size(), 1u);
  for (const MeasureRecord &r : db.records(workload_key(k), host().key())) EXPECT_EQ(r.threads, 2);

  DatabaseProvider for_one(&db, 1);
  ChosenSchedule out;
  ASSERT_TRUE(for_one.provide(k, host(), out));  // only 2-thread records: served, with a note
  EXPECT_NE(for_one.other_threads_note().find("1 kernel uses records measured on 2 threads"), std::string::npos)
      << for_one.other_threads_note();
  DatabaseProvider for_two(&db, 2);
  ASSERT_TRUE(for_two.provide(k, host(), out));
  EXPECT_EQ(for_two.other_threads_note(), "");

  TuneOptions one = quick(Strategy::Random, 4);
  one.measure.run_threads = 1;
  auto b = tune_module(m, host(), &db, one);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_FALSE(b[0].skipped);  // 4 records on 2 threads are not this share
  EXPECT_EQ(b[0].history, 0);
  EXPECT_GT(b[0].prior, 0);  // they seed the cost model, as another cpu's would
  EXPECT_EQ(b[0].measured, 4);
  auto again = tune_module(m, host(), &db, one);
  EXPECT_TRUE(again[0].skipped);  // now it has its own
  DatabaseProvider for_one_now(&db, 1);
  ASSERT_TRUE(for_one_now.provide(k, host(), out));
  EXPECT_EQ(for_one_now.other_threads_note(), "");
  EXPECT_EQ(db.best(workload_key(k), host().key(), 1)->threads, 1);
}

TEST(Tuner, TheHandScheduleIsMeasuredFirstAndNeverBeatenBySlowerCandidates) {
  Database db(temp_db("given"));
  const Kernel &k = *suite().find_kernel("matmul");
  Schedule hand = parse_schedules("hand.ir",
                                  "schedule matmul {\n  split C.j [16] -> j0 j1\n  reorder C i j0 k j1\n"
                                  "  vectorize C.j1\n}\n")[0];
  TuneSummary s = tune_kernel(k, host(), &db, quick(Strategy::Random, 4), &hand);
  ASSERT_TRUE(s.found);
  EXPECT_EQ(s.measured, 4);  // the baseline is one of the budget's measurements
  EXPECT_GT(s.given_gflops, 0);
  EXPECT_GE(s.gflops, s.given_gflops);
  if (s.from_given) {
    EXPECT_EQ(s.schedule_text, to_string(hand));
  }
  int given = 0;
  for (auto &r : db.records(workload_key(k), host().key()))
    if (r.strategy == "given") {
      ++given;
      EXPECT_TRUE(r.valid());
      EXPECT_NE(r.schedule.find("split C.j [16] -> j0 j1"), std::string::npos) << r.schedule;
    }
  EXPECT_EQ(given, 1);
  // A hand schedule naming a loop the kernel lacks is recorded invalid; tuning goes on.
  Schedule bad = parse_schedules("bad.ir", "schedule matmul {\n  vectorize C.q\n}\n")[0];
  TuneSummary b = tune_kernel(k, host(), &db, quick(Strategy::Random, 3), &bad);
  EXPECT_TRUE(b.found);
  EXPECT_FALSE(b.from_given);
  EXPECT_EQ(b.invalid, 1);
  EXPECT_EQ(b.given_gflops, 0);
}

TEST(Tuner, AHandScheduleThatDoesNotApplyIsRecordedWithItsErrorKind) {
  Database db(temp_db("given_kind"));
  const Kernel &k = *suite().find_kernel("matmul");
  Schedule bad = parse_schedules("bad.ir", "schedule matmul {\n  vectorize C.q\n}\n")[0];
  tune_kernel(k, host(), &db, quick(Strategy::Random, 1), &bad);  // the baseline only
  auto all = db.records(workload_key(k), host().key());
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].strategy, "given");
  EXPECT_EQ(all[0].outcome, Outcome::Schedule);
  EXPECT_EQ(all[0].schedule_error, ScheduleErrorKind::UnknownLoop) << all[0].error;
}

TEST(Tuner, DISABLED_LongHybridRunForTheKillTest) {
  const char *path = std::getenv("KCC_TUNER_KILL_TEST_DB");
  ASSERT_NE(path, nullptr);
  Database db(path);
  tune_kernel(*suite().find_kernel("matmul"), host(), &db, quick(Strategy::Hybrid, 1000));
}

TEST(Tuner, HybridRunKilledWithSigkillResumesWhereItStopped) {
  const std::string path = temp_db("resume");
  const Kernel &k = *suite().find_kernel("matmul");
  { Database init(path); }
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    setenv("KCC_TUNER_KILL_TEST_DB", path.c_str(), 1);
    execl("/proc/self/exe", "test_tuner_tuner", "--gtest_also_run_disabled_tests",
          "--gtest_filter=Tuner.DISABLED_LongHybridRunForTheKillTest", static_cast<char *>(nullptr));
    _exit(127);
  }
  Database db(path);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (db.count(workload_key(k), host().key()) < 8 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  const int64_t recorded = db.count(workload_key(k), host().key());
  ASSERT_GE(recorded, 8);
  EXPECT_TRUE(db.integrity_ok());
  TuneSummary s = tune_kernel(k, host(), &db, quick(Strategy::Hybrid, recorded + 4));
  EXPECT_EQ(s.resumed, recorded);
  EXPECT_LE(s.measured, 4);
  EXPECT_TRUE(s.found);
}

TEST(ScheduleSources, TheDatabaseServesWhatTheTunerRecorded) {
  Database db(temp_db("provider"));
  const Kernel &k = *suite().find_kernel("chain");
  ChosenSchedule out;
  DatabaseProvider records(&db);
  EXPECT_FALSE(records.provide(k, host(), out));  // no record: the pipeline tunes or falls back
  ModuleTuner none(&db, quick(Strategy::Random, 0));
  Module todo;
  todo.kernels.push_back(k);
  EXPECT_TRUE(none.tune(todo, host()).empty());  // no budget, no tuning
  ModuleTuner tuner(&db, quick(Strategy::Random, 3));
  std::map<std::string, ChosenSchedule> tuned = tuner.tune(todo, host());
  ASSERT_EQ(tuned.count(k.name), 1u);
  EXPECT_EQ(tuned[k.name].source, ScheduleSource::Tuned);
  EXPECT_GT(tuned[k.name].median_seconds, 0);
  ChosenSchedule again;
  ASSERT_TRUE(records.provide(k, host(), again));
  EXPECT_EQ(again.source, ScheduleSource::Database);
  EXPECT_EQ(to_string(again.schedule), to_string(tuned[k.name].schedule));
}

TEST(ModuleTuner, SpreadsTheBudgetOverTheModuleAndEveryTunedScheduleIsCorrect) {
  // Every kernel of the correctness suite; each measurement checks the output against the
  // interpreter before its time counts, so a tuned schedule is a checked one.
  const Module &m = suite();
  Database db(temp_db("module"));
  const int64_t budget = 2 * static_cast<int64_t>(m.kernels.size());
  ModuleTuner p(&db, quick(Strategy::Random, budget));
  std::map<std::string, ChosenSchedule> tuned = p.tune(m, host());
  int64_t total = 0;
  for (auto &s : p.tuned()) {
    total += s.measured;
    EXPECT_EQ(s.wrong_results, 0) << s.kernel;
  }
  EXPECT_LE(total, budget);
  EXPECT_EQ(p.tuned().size(), m.kernels.size());
  for (const Kernel &k : m.kernels) {
    ASSERT_EQ(tuned.count(k.name), 1u) << k.name;
    EXPECT_EQ(tuned[k.name].source, ScheduleSource::Tuned) << k.name;
    EXPECT_NO_THROW(lower_kernel(k, tuned[k.name].schedule, host())) << k.name;
  }
}

struct SimTask {
  double best;
  double gain;  // best *= gain per round
};

SchedulerTask sim(SimTask &s, double weight) {
  SchedulerTask t;
  t.weight = weight;
  t.step = [&s](int64_t n) {
    s.best *= s.gain;
    return n;
  };
  t.best = [&s] { return s.best; };
  return t;
}

TEST(TaskScheduler, GivesMoreRoundsToTheSlowKernelThatKeepsImproving) {
  SimTask slow_improving{1.0, 0.9}, fast_flat{0.1, 1.0};
  std::vector<SchedulerTask> tasks{sim(slow_improving, 1), sim(fast_flat, 1)};
  SchedulerOptions o;
  o.total_budget = 64 * 20;
  o.round = 64;
  o.epsilon = 0;
  auto spent = schedule_tasks(tasks, o);
  EXPECT_EQ(spent[0] + spent[1], 64 * 20);
  EXPECT_GT(spent[0], 2 * spent[1]);
  EXPECT_GE(spent[1], 64);  // a warm-up round for everyone
}

TEST(TaskScheduler, WeightsShiftTheBudgetTowardKernelsThatRunMoreOften) {
  SimTask a{1.0, 0.97}, b{1.0, 0.97};
  std::vector<SchedulerTask> tasks{sim(a, 1), sim(b, 5)};
  SchedulerOptions o;
  o.total_budget = 64 * 20;
  o.round = 64;
  o.epsilon = 0;
  auto spent = schedule_tasks(tasks, o);
  EXPECT_GT(spent[1], spent[0]);
}

TEST(TaskScheduler, StopsWhenEveryTaskIsDone) {
  int calls = 0;
  SchedulerTask t;
  t.step = [&](int64_t n) { return ++calls <= 2 ? n : 0; };
  t.best = [] { return 1.0; };
  std::vector<SchedulerTask> tasks{t};
  SchedulerOptions o;
  o.total_budget = 10000;
  o.round = 10;
  auto spent = schedule_tasks(tasks, o);
  EXPECT_EQ(spent[0], 20);
}

}  // namespace
}  // namespace kcc::tuner
