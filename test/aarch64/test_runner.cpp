// test/aarch64/test_runner.cpp - kcc-runner through its protocol (docs/runner.md): on the host,
// and cross-built for AArch64 under qemu-aarch64 (when the cross tools are there): results
// checked against the interpreter, wrong results, missing kernels and crashes reported as such,
// and a short tuning run whose every measurement goes through the runner.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "ir/parser.h"
#include "passes/pipeline.h"
#include "tuner/runner_client.h"
#include "tuner/runner_evaluator.h"
#include "tuner/space.h"

namespace kcc::test {
namespace {

const char *kModel = R"(
kernel matmul(A: f32[19, 23], B: f32[23, 37]) -> C: f32[19, 37] {
  C[i, j] = sum(k) A[i, k] * B[k, j]
}
kernel negmatmul(A: f32[19, 23], B: f32[23, 37]) -> C: f32[19, 37] {
  C[i, j] = sum(k) 0.0 - A[i, k] * B[k, j]
}
)";

const Module &model() {
  static Module m = parse_module("runner.ir", kModel);
  return m;
}

struct Setup {
  std::string name;
  std::string target;
  runner::RunnerOptions opts;
};

std::vector<Setup> setups() {
  std::vector<Setup> s;
  runner::RunnerOptions host;
  host.command = KCC_HOST_RUNNER;
  host.link_command = std::string(KCC_HOST_CC) + " -shared";
  host.samples = 3;
  host.min_seconds = 0.001;
  s.push_back({"host", "host", host});
#ifdef KCC_AARCH64_RUNNER
  for (const char *t : {"aarch64-a64fx", "aarch64-sve"}) {
    runner::RunnerOptions a = host;
    a.command = std::string(KCC_QEMU) + " -L " + KCC_AARCH64_SYSROOT + " -cpu max,sve512=on " + KCC_AARCH64_RUNNER;
    a.link_command = std::string(KCC_AARCH64_CC) + " -shared";
    a.timeout_seconds = 60;
    s.push_back({std::string("qemu_") + (t[8] == 'a' ? "a64fx" : "sve"), t, a});
  }
#endif
  return s;
}

class Runner : public ::testing::TestWithParam<Setup> {
 protected:
  runner::RunnerOptions opts(const std::string &sub) {
    runner::RunnerOptions o = GetParam().opts;
    o.work_dir = std::string(KCC_BINARY_DIR) + "/test/aarch64/runner_work/" + GetParam().name + "/" + sub;
    std::filesystem::remove_all(o.work_dir);
    return o;
  }
  Target target() { return make_target(GetParam().target); }
};

TEST_P(Runner, ChecksAndTimesCorrectKernels) {
  const Kernel &k = *model().find_kernel("matmul");
  Target t = target();
  LoweredFunc a = lower_kernel(k, default_schedule(k, t), t);
  LoweredFunc b = lower_kernel(k, Schedule{k.name, {}, {}}, t);  // the naive loop nest
  runner::RemoteRunner r(k, t, opts("ok"));
  auto res = r.measure({&a, &b});
  ASSERT_EQ(res.size(), 2u);
  for (auto &x : res) {
    EXPECT_TRUE(x.ok) << x.error;
    EXPECT_GE(x.samples.size(), 3u);
    EXPECT_GT(x.median, 0);
    EXPECT_LE(x.max_err, 1e-3);
  }
}

// cold=: the inputs named are evicted before every timed call (a model kernel's weights); the
// results are still checked and timed (on AArch64 under qemu, `dc civac` must not fault).
TEST_P(Runner, EvictsColdInputsAndStillChecksAndTimes) {
  const Kernel &k = *model().find_kernel("matmul");
  Target t = target();
  LoweredFunc a = lower_kernel(k, default_schedule(k, t), t);
  runner::RunnerOptions o = opts("cold");
  o.cold_inputs = {0, 1};
  runner::RemoteRunner r(k, t, o);
  auto res = r.measure({&a});
  ASSERT_EQ(res.size(), 1u);
  EXPECT_TRUE(res[0].ok) << res[0].error;
  EXPECT_GE(res[0].samples.size(), 3u);
  EXPECT_GT(res[0].median, 0);
}

TEST_P(Runner, ReportsWrongResults) {
  const Kernel &k = *model().find_kernel("matmul");
  const Kernel &neg = *model().find_kernel("negmatmul");  // same signature, other values
  Target t = target();
  LoweredFunc good = lower_kernel(k, default_schedule(k, t), t);
  LoweredFunc bad = lower_kernel(neg, default_schedule(neg, t), t);
  runner::RemoteRunner r(k, t, opts("wrong"));
  auto res = r.measure({&bad, &good});
  ASSERT_EQ(res.size(), 2u);
  EXPECT_FALSE(res[0].ok);
  EXPECT_EQ(res[0].outcome, tuner::Outcome::WrongResult) << res[0].error;
  EXPECT_EQ(res[0].error.rfind("wrong result", 0), 0u) << res[0].error;
  EXPECT_TRUE(res[1].ok) << res[1].error;  // the runner goes on after a failure
}

TEST(RunnerProtocol, ParsesResponses) {
  auto ok = runner::parse_runner_line(
      R"({"kernel":"k","ok":true,"error":"","max_err":1e-07,"reps":4,"samples":[3e-06,2e-06,4e-06],"median":3e-06})");
  EXPECT_TRUE(ok.ok);
  EXPECT_EQ(ok.samples.size(), 3u);
  EXPECT_DOUBLE_EQ(ok.median, 3e-06);
  auto crash = runner::parse_runner_line(R"J({"kernel":"k","ok":false,"error":"crashed: signal 11 (Segmentation fault)"})J");
  EXPECT_FALSE(crash.ok);
  EXPECT_EQ(crash.error, "crashed: signal 11 (Segmentation fault)");
  EXPECT_EQ(crash.outcome, tuner::Outcome::Crashed);
  EXPECT_FALSE(runner::parse_runner_line("garbage").ok);
  EXPECT_EQ(runner::parse_runner_line("garbage").outcome, tuner::Outcome::Runner);
}

// Each fixed first word of the protocol (docs/runner.md) gives its outcome.
TEST(RunnerProtocol, AnErrorsFirstWordGivesItsOutcome) {
  using tuner::Outcome;
  const std::vector<std::pair<std::string, Outcome>> cases = {
      {"load: no kernel 'k' in x.so", Outcome::Runner},
      {"data: cannot open d.kccd: No such file", Outcome::Runner},
      {"bounds: b.kccd is empty", Outcome::Runner},
      {"runner: fork failed", Outcome::Runner},
      {"status 3", Outcome::Status},
      {"wrong result: output 0 element 3: got 0.5, expected -0.5, tolerance 1e-06", Outcome::WrongResult},
      {"crashed: exit status 1 without a result", Outcome::Crashed},
      {"timeout: more than 10 s", Outcome::Timeout},
      {"something new", Outcome::Other},
  };
  for (auto &[error, o] : cases) {
    auto r = runner::parse_runner_line(R"({"kernel":"k","ok":false,"error":")" + error + R"("})");
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.outcome, o) << error;
  }
}

TEST(RunnerProtocol, MissingLibraryAndKernelAreErrorsNotCrashes) {
  std::string dir = std::string(KCC_BINARY_DIR) + "/test/aarch64/runner_work/protocol";
  std::filesystem::create_directories(dir);
  std::string cmd = std::string(KCC_HOST_RUNNER) + " lib=" + dir + "/none.so kernel=x data=" + dir + "/none.kccd > " +
                    dir + "/out.txt";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream in(dir + "/out.txt");
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  auto r = runner::parse_runner_line(line);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error.rfind("load:", 0), 0u) << r.error;
}

TEST(RunnerProtocol, ABadColdListIsAnErrorNamingIt) {
  std::string dir = std::string(KCC_BINARY_DIR) + "/test/aarch64/runner_work/protocol";
  std::filesystem::create_directories(dir);
  for (const char *bad : {"x", "1,,2", "64", "-1", "1,"}) {
    std::string cmd = std::string(KCC_HOST_RUNNER) + " lib=" + dir + "/none.so kernel=x data=" + dir +
                      "/none.kccd cold=" + bad + " > " + dir + "/out.txt";
    std::system(cmd.c_str());
    std::ifstream in(dir + "/out.txt");
    std::string line;
    ASSERT_TRUE(std::getline(in, line)) << bad;
    auto r = runner::parse_runner_line(line);
    EXPECT_FALSE(r.ok) << bad;
    EXPECT_NE(r.error.find("cold="), std::string::npos) << bad << ": " << r.error;
  }
}

TEST_P(Runner, TuningRunThroughTheRunner) {
  const Kernel &k = *model().find_kernel("matmul");
  Target t = target();
  tuner::KernelSpace space(k, t);
  tuner::RunnerEvaluator eval(space, opts("tune"));  // what `kcc tune --runner` uses
  tuner::SearchOptions so;
  so.budget = 8;
  so.batch = 4;
  so.seed = 3;
  tuner::SearchResult res = tuner::run_search(tuner::Strategy::Random, space, eval, so);
  ASSERT_TRUE(res.found) << "no valid candidate in " << res.measured << " measurements";
  EXPECT_GT(eval.measured(), 0);
  EXPECT_LE(res.measured, so.budget);
  EXPECT_TRUE(res.best_m.valid);
  // The chosen kernel, checked once more on other random data.
  runner::RunnerOptions o = opts("tune_check");
  o.seed = 99;
  runner::RemoteRunner check(k, t, o);
  auto again = check.measure({space.lowered(res.best).get()});
  ASSERT_EQ(again.size(), 1u);
  EXPECT_TRUE(again[0].ok) << again[0].error << "\n" << space.schedule_text(res.best);
}

INSTANTIATE_TEST_SUITE_P(Runners, Runner, ::testing::ValuesIn(setups()),
                         [](const auto &info) { return info.param.name; });

}  // namespace
}  // namespace kcc::test
