// Tuning with `--runner`: every measurement through kcc-runner (docs/runner.md) instead of the
// in-process Measurer; on the host, and for aarch64-a64fx under qemu-aarch64 with SVE-512 (skipped
// with a message when the cross compiler or qemu is missing). The chosen kernel is checked once
// more on other random inputs.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "ir/interp.h"
#include "ir/parser.h"
#include "ir/workload.h"
#include "tuner/runner_client.h"
#include "tuner/cli.h"
#include "tuner/error_bound.h"
#include "tuner/runner_evaluator.h"
#include "tuner/space.h"
#include "tuner/tuner.h"

namespace kcc::tuner {
namespace {

const char *kModel = R"(
kernel mm(A: f32[13, 21], B: f32[21, 33]) -> C: f32[13, 33] {
  C[i, j] = sum(k) A[i, k] * B[k, j]
}
)";

std::string scratch(const std::string &name) {
  std::string d = std::string(KCC_BINARY_DIR) + "/test/tuner/runner_work/" + name;
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

/// Tunes `mm` for `target` through `kcc tune`'s code path with --runner, then checks the best
/// recorded schedule through a fresh runner session on other inputs.
void tune_through_runner(const std::string &target, const std::string &runner, const std::string &link,
                         const std::string &name) {
  Module m = parse_module("mm.ir", kModel);
  const Kernel &k = m.kernels[0];
  Target t = make_target(target);
  const std::string dir = scratch(name);
  TuneFlags f;
  f.budget = 6;
  f.strategy = Strategy::Random;
  f.db = dir + "/tuning.db";
  f.runner = runner;
  f.runner_link = link;
  f.runner_dir = dir;
  std::ostringstream out;
  ASSERT_EQ(run_tune(f, m, t, "test", out, nullptr, false), 0);
  EXPECT_NE(out.str().find("6 measurements"), std::string::npos) << out.str();

  Database db(f.db);
  int measured = 0;  // besides the re-measurements of the best points (strategy "verify")
  for (auto &r : db.records(workload_key(k), t.key())) measured += r.strategy != "verify";
  EXPECT_EQ(measured, 6);
  auto best = db.best(workload_key(k), t.key());
  ASSERT_TRUE(best) << "no valid candidate:\n" << out.str();
  auto s = schedule_from_record(k, t, *best);
  ASSERT_TRUE(s) << best->schedule;
  LoweredFunc fn = lower_kernel(k, *s, t);
  runner::RunnerOptions o;
  o.command = runner;
  o.link_command = link.empty() ? default_runner_link(t) : link;
  o.work_dir = dir + "/check";
  o.seed = 99;
  o.samples = 3;
  o.min_seconds = 0.0001;
  o.timeout_seconds = 60;
  runner::RemoteRunner check(k, t, o);
  auto again = check.measure({&fn});
  ASSERT_EQ(again.size(), 1u);
  EXPECT_TRUE(again[0].ok) << again[0].error << "\n" << best->schedule;
}

TEST(RunnerTuning, HostRunnerMeasuresEveryCandidate) {
  tune_through_runner("host", KCC_HOST_RUNNER, std::string(KCC_HOST_CC) + " -shared", "host");
}

TEST(RunnerTuning, A64fxUnderQemuPicksACorrectKernel) {
#ifndef KCC_AARCH64_RUNNER
  GTEST_SKIP() << "needs aarch64-linux-gnu-gcc and qemu-aarch64 (AArch64 cross tools not found at configure time)";
#else
  if (!std::filesystem::exists(KCC_AARCH64_RUNNER)) GTEST_SKIP() << KCC_AARCH64_RUNNER << " not built";
  const std::string runner =
      std::string(KCC_QEMU) + " -L " + KCC_AARCH64_SYSROOT + " -cpu max,sve512=on " + KCC_AARCH64_RUNNER;
  tune_through_runner("aarch64-a64fx", runner, std::string(KCC_AARCH64_CC) + " -shared", "a64fx");
#endif
}

TEST(RunnerTuning, TheRunnerCallsAKernelOfEighteenArgumentsAndChecksItWithinItsBounds) {
  std::string params, sum;
  for (int a = 0; a < 17; ++a) {
    params += (a ? ", " : "") + ("X" + std::to_string(a) + ": f32[9]");
    sum += (a ? " + " : "") + ("X" + std::to_string(a) + "[i]");
  }
  Module m = parse_module("wide.ir", "kernel wide(" + params + ") -> Y: f32[9] {\n  Y[i] = " + sum + "\n}\n");
  const Kernel &k = m.kernels[0];
  Target t = make_target("host");
  LoweredFunc good = lower_kernel(k, default_schedule(k, t), t);
  LoweredFunc wrong = good;  // one element off by far more than its rounding bound
  const Buffer &out = good.args.back();
  wrong.body = make_seq({good.body, make_store(out, make_int(4), make_load(Type::f32(), out, make_int(4)) +
                                                                     make_float(1e-3))});
  runner::RunnerOptions o;
  o.command = KCC_HOST_RUNNER;
  o.link_command = std::string(KCC_HOST_CC) + " -shared";
  o.work_dir = scratch("wide");
  o.samples = 3;
  o.min_seconds = 0.0001;
  o.bounds = bounded_reference(k, random_inputs(k, o.seed)).bounds;
  runner::RemoteRunner r(k, t, o);
  auto res = r.measure({&good, &wrong});
  ASSERT_EQ(res.size(), 2u);
  EXPECT_TRUE(res[0].ok) << res[0].error;
  EXPECT_FALSE(res[1].ok);
  EXPECT_EQ(res[1].error.rfind("wrong result: output 0 element 4: got ", 0), 0u) << res[1].error;
  EXPECT_NE(res[1].error.find(", tolerance "), std::string::npos) << res[1].error;
}

TEST(RunnerTuning, StaticallyInvalidPointsAreNotSentToTheRunner) {
  Module m = parse_module("mm.ir", kModel);
  Target t = make_target("host");
  KernelSpace space(m.kernels[0], t);
  runner::RunnerOptions o;
  o.command = "false";  // never started: nothing reaches it
  o.work_dir = scratch("static");
  RunnerEvaluator eval(space, o);
  Point bad;
  bad.sketch = 0;
  bad.x.assign(space.dims(0).size(), 0);
  bad.x[0] = space.dims(0)[0] + 5;  // out of range
  auto ms = eval.measure({bad});
  ASSERT_EQ(ms.size(), 1u);
  EXPECT_FALSE(ms[0].valid);
  EXPECT_EQ(ms[0].outcome, Outcome::Static) << ms[0].error;
  EXPECT_EQ(ms[0].error.rfind("static:", 0), 0u) << ms[0].error;
  EXPECT_EQ(eval.measured(), 0);
}

}  // namespace
}  // namespace kcc::tuner
