// Measurement: candidates that crash, hang or compute wrong results are recorded invalid and do
// not stop the batch; good candidates get >= 3 samples and a median.
// Nothing in this binary runs generated code in-process (the runner forks).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <map>

#include "ir/interp.h"
#include "ir/parser.h"
#include "ir/visitor.h"
#include "passes/pipeline.h"
#include "kcc_runtime.h"
#include "tuner/measure.h"
#include "tuner/outcome.h"

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

/// Loop IR crafted by hand from a good lowering of `k`.
struct Crafted {
  LoweredFunc good, segfault, hang, wrong;
};

Crafted craft(const Kernel &k) {
  Crafted c;
  c.good = lower_kernel(k, default_schedule(k, host()), host());
  const Buffer &out = c.good.args.back();
  c.segfault = c.good;
  c.segfault.body = make_seq({c.good.body, make_store(out, make_int(int64_t(1) << 40), make_float(1.0))});
  c.hang = c.good;
  Var v = make_var("forever");
  c.hang.body = make_seq({c.good.body, make_for(v, make_int(0), make_int(int64_t(1) << 62), ForKind::Serial,
                                                make_store(out, make_int(0),
                                                           make_load(Type::f32(), out, make_int(0)) + make_float(1.0)))});
  c.wrong = c.good;
  c.wrong.body = make_seq({c.good.body, make_store(out, make_int(3), make_float(42.0))});
  return c;
}

TEST(Measurer, GoodCandidateGetsSamplesAndAMedian) {
  const Kernel &k = *suite().find_kernel("matmul");
  Crafted c = craft(k);
  MeasureOptions o;
  o.min_sample_seconds = 0.001;
  o.samples = 3;
  Measurer m(k, host(), o);
  auto r = m.measure({&c.good});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(r[0].valid) << r[0].error;
  EXPECT_GE(r[0].samples.size(), 3u);
  EXPECT_GT(r[0].median, 0);
}

// A model kernel's weight inputs are evicted before each timed run: it is still checked (a wrong
// candidate stays invalid) and timed with every sample.
TEST(Measurer, WeightInputsTimedColdAreStillCheckedAndTimed) {
  Kernel k = *suite().find_kernel("matmul");
  k.weight_inputs = {1};
  Crafted c = craft(k);
  MeasureOptions o;
  o.min_sample_seconds = 0.001;
  o.samples = 3;
  Measurer m(k, host(), o);
  auto r = m.measure({&c.good, &c.wrong});
  ASSERT_EQ(r.size(), 2u);
  EXPECT_TRUE(r[0].valid) << r[0].error;
  EXPECT_GE(r[0].samples.size(), 3u);
  EXPECT_GT(r[0].median, 0);
  EXPECT_FALSE(r[1].valid);
  EXPECT_EQ(r[1].outcome, Outcome::WrongResult) << r[1].error;
}

TEST(Measurer, ABuildPastTheCompileTimeLimitIsGivenUpAndRecordedInvalid) {
  const Kernel &k = *suite().find_kernel("matmul");
  Crafted c = craft(k);
  MeasureOptions o;
  o.min_sample_seconds = 0.001;
  o.samples = 3;
  o.compile_time_limit = 1e-9;  // no O3 pipeline finishes in a nanosecond
  Measurer limited(k, host(), o);
  auto r = limited.measure({&c.good, &c.good});
  ASSERT_EQ(r.size(), 2u);
  for (const Measurement &x : r) {
    EXPECT_FALSE(x.valid);
    EXPECT_EQ(x.outcome, Outcome::CompileTimeLimit) << x.error;
    EXPECT_NE(x.error.find("build: optimization ran past its 1e-09 s CPU-time limit"), std::string::npos) << x.error;
  }
  EXPECT_EQ(limited.stats().build_failed, 2);
  o.compile_time_limit = 0;  // no limit: the same candidate builds and runs
  Measurer unlimited(k, host(), o);
  auto ok = unlimited.measure({&c.good});
  EXPECT_TRUE(ok[0].valid) << ok[0].error;
}

// A kcc bug while building a candidate is not an invalid candidate: it reaches the caller (kcc
// says "internal error", exit 3) instead of being counted as a build failure and tuned around.
TEST(Measurer, AnInternalErrorWhileBuildingPropagates) {
  const Kernel &k = *suite().find_kernel("matmul");
  Crafted c = craft(k);
  LoweredFunc bug = c.good;  // a GPU loop on a CPU target: codegen's KCC_INTERNAL
  const Buffer &out = bug.args.back();
  bug.body = make_seq({c.good.body, make_for(make_var("b"), make_int(0), make_int(1), ForKind::GpuBlock,
                                             make_store(out, make_int(0), make_float(0.0)))});
  Measurer m(k, host(), MeasureOptions{});
  EXPECT_THROW(m.measure({&c.good, &bug}), InternalError);
}

TEST(Measurer, CrashHangAndWrongResultAreRecordedAndTheBatchGoesOn) {
  const Kernel &k = *suite().find_kernel("matmul");
  Crafted c = craft(k);
  MeasureOptions o;
  o.min_sample_seconds = 0.001;
  o.samples = 3;
  o.timeout_seconds = 2;
  Measurer m(k, host(), o);
  auto r = m.measure({&c.segfault, &c.good, &c.hang, &c.wrong, &c.good});
  ASSERT_EQ(r.size(), 5u);
  EXPECT_FALSE(r[0].valid);
  EXPECT_EQ(r[0].outcome, Outcome::Crashed) << r[0].error;
  EXPECT_EQ(r[0].error.rfind("crashed: worker ended with signal", 0), 0u) << r[0].error;
  EXPECT_TRUE(r[1].valid) << r[1].error;
  EXPECT_FALSE(r[2].valid);
  EXPECT_EQ(r[2].outcome, Outcome::Timeout) << r[2].error;
  EXPECT_FALSE(r[3].valid);
  EXPECT_EQ(r[3].outcome, Outcome::WrongResult) << r[3].error;
  EXPECT_EQ(r[3].error.rfind("wrong result: output 'C' element", 0), 0u) << r[3].error;
  EXPECT_TRUE(r[4].valid) << r[4].error;
  EXPECT_EQ(m.stats().crashed, 1);
  EXPECT_EQ(m.stats().timed_out, 1);
  EXPECT_EQ(m.stats().wrong, 1);
  EXPECT_EQ(m.stats().worker_restarts, 2);
}

// ------------------------------------------------------------------ the output check

/// A kernel of `text` (one kernel), parsed once per text and kept.
const Kernel &kernel_of(const std::string &text) {
  static std::map<std::string, Module> parsed;
  auto it = parsed.find(text);
  if (it == parsed.end()) it = parsed.emplace(text, parse_module("<test>", text)).first;
  return it->second.kernels.at(0);
}

MeasureOptions quick() {
  MeasureOptions o;
  o.min_sample_seconds = 0.0005;
  o.samples = 3;
  return o;
}

/// Shortens the loops over `var` (a reduction axis the schedule left whole) by one iteration:
/// a lowering that drops the last term of every sum.
class DropLastTerm : public IRMutator {
 public:
  explicit DropLastTerm(std::string var) : var_(std::move(var)) {}
  int dropped = 0;

 protected:
  using IRMutator::mutate_node;
  Stmt mutate_node(const For *op, const Stmt &self) override {
    Stmt body = mutate(op->body);
    int64_t n = 0;
    if (op->var->name == var_ && is_const_int(op->extent, &n) && n > 1) {
      ++dropped;
      return make_for(op->var, op->min, make_int(n - 1), op->kind, body, op->thread_axis);
    }
    return body.same_as(op->body) ? self : make_for(op->var, op->min, op->extent, op->kind, body, op->thread_axis);
  }

 private:
  std::string var_;
};

TEST(Measurer, ALoweringThatDropsOneReductionTermIsAWrongResult) {
  const Kernel &k = kernel_of("kernel longdot(A: f32[6, 512], B: f32[512, 5]) -> C: f32[6, 5] {\n"
                              "  C[i, j] = sum(k) A[i, k] * B[k, j]\n}\n");
  LoweredFunc good = lower_kernel(k, parse_schedules("<test>", "schedule longdot {\n}\n").at(0), host());
  LoweredFunc broken = good;
  DropLastTerm drop("k");
  broken.body = drop.mutate(good.body);
  ASSERT_EQ(drop.dropped, 1) << to_string(good);
  Measurer m(k, host(), quick());
  auto r = m.measure({&good, &broken});
  ASSERT_EQ(r.size(), 2u);
  EXPECT_TRUE(r[0].valid) << r[0].error;
  EXPECT_FALSE(r[1].valid);
  EXPECT_EQ(outcome_of(r[1]), Outcome::WrongResult) << r[1].error;
  EXPECT_NE(r[1].error.find("output 'C' element "), std::string::npos) << r[1].error;
  EXPECT_NE(r[1].error.find(", tolerance "), std::string::npos) << r[1].error;
}

TEST(Measurer, RoundingInALongIllConditionedChainIsNotAWrongResult) {
  // The mean of 16384 values near 10^4, less 10^4, through a chain of stages: f32 rounding of the
  // partial sums moves the result by ~10^-3, which a fixed tolerance of 1e-3 (1 + |ref|) called a
  // compiler bug; the bound follows the computation (10^4 terms of magnitude 10^4) and allows it.
  const Kernel &k = kernel_of(
      "kernel chain(X: f32[16384]) -> Y: f32[1] {\n"
      "  T[i] = X[i] + 10000.0 : f32[16384]\n"
      "  U[i] = T[i] * 1.0 : f32[16384]\n"
      "  S[z] = sum(i) U[i] : f32[1]\n"
      "  M[z] = S[z] / 16384.0 : f32[1]\n"
      "  D[z] = M[z] - 10000.0 : f32[1]\n"
      "  E[z] = D[z] * 2.0 : f32[1]\n"
      "  Y[z] = E[z] * 0.5\n}\n");
  // A correct f32 evaluation (the interpreter's, in declared precision) is farther from the
  // float64 result than the old fixed tolerance allowed:
  auto in = random_inputs(k, 1);
  const double exact = interpret(k, in)[0][0], f32 = interpret(k, in, InterpPrecision::Declared)[0][0];
  EXPECT_GT(std::fabs(f32 - exact), 1e-3 * (1 + std::fabs(exact))) << f32 << " vs " << exact;
  LoweredFunc f = lower_kernel(k, default_schedule(k, host()), host());
  Measurer m(k, host(), quick());
  auto r = m.measure({&f});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(r[0].valid) << r[0].error;
}

TEST(Measurer, ACandidateOfAKernelWithEighteenArgumentsIsMeasured) {
  std::string params, sum;
  for (int a = 0; a < 17; ++a) {
    params += (a ? ", " : "") + fmt::format("X{}: f32[7]", a);
    sum += (a ? " + " : "") + fmt::format("X{}[i]", a);
  }
  const Kernel &k = kernel_of("kernel wide(" + params + ") -> Y: f32[7] {\n  Y[i] = " + sum + "\n}\n");
  ASSERT_EQ(k.inputs.size() + k.outputs.size(), 18u);
  LoweredFunc f = lower_kernel(k, default_schedule(k, host()), host());
  Measurer m(k, host(), quick());
  auto r = m.measure({&f});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(r[0].valid) << r[0].error;
}

TEST(Measurer, TheCompileTimeLimitIsPerStageOfTheKernel) {
  MeasureOptions o;
  o.compile_time_limit = 2;
  EXPECT_DOUBLE_EQ(compile_time_limit_for(*suite().find_kernel("matmul"), o), 2);
  EXPECT_DOUBLE_EQ(compile_time_limit_for(*suite().find_kernel("dense_relu"), o), 4);
  o.compile_time_limit = 0;  // no limit stays no limit
  EXPECT_DOUBLE_EQ(compile_time_limit_for(*suite().find_kernel("dense_relu"), o), 0);
}

// ------------------------------------------------------------------ NVPTX targets

/// Whether a CUDA driver loads, asked in a child process: this process must not hold a CUDA
/// context when the Measurer forks its worker.
bool cuda_driver_present() {
  pid_t pid = fork();
  if (pid == 0) _exit(kcc_cuda_available() ? 0 : 1);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

TEST(Measurer, GpuTargetWithoutADriverStopsWithNoCudaDriver) {
  const Kernel &k = *suite().find_kernel("matmul");
  const Target t = make_target("nvptx-sm_90");
  LoweredFunc f = lower_kernel(k, default_schedule(k, t), t);
  setenv("KCC_CUDA_DRIVER", "/nonexistent/libcuda.so.1", 1);  // read by the worker's runtime
  MeasureOptions o;
  o.samples = 3;
  o.min_sample_seconds = 0.0001;
  Measurer m(k, t, o);
  try {
    m.measure({&f});
    ADD_FAILURE() << "measured without a driver";
  } catch (const UserError &e) {  // the machine, not a kcc bug: `kcc` says "error:" and exits with 1
    EXPECT_NE(e.message().find("cannot measure kernel 'matmul' on nvptx-sm_90: no CUDA driver"), std::string::npos)
        << e.what();
  }
  unsetenv("KCC_CUDA_DRIVER");
}

TEST(Measurer, GpuCandidatesAreCheckedAndTimedOnTheDevice) {
  if (!cuda_driver_present()) GTEST_SKIP() << "no CUDA driver (libcuda.so.1 not found or no device)";
  const char *arch = std::getenv("KCC_TEST_GPU_ARCH");  // default sm_90 (H100)
  const Target t = make_target(std::string("nvptx-") + (arch ? arch : "sm_90"));
  const Kernel &k = *suite().find_kernel("matmul");
  LoweredFunc f = lower_kernel(k, default_schedule(k, t), t);
  MeasureOptions o;
  o.samples = 3;
  o.min_sample_seconds = 0.001;
  Measurer m(k, t, o);
  auto r = m.measure({&f, &f});  // twice: a second candidate in the same worker and context
  ASSERT_EQ(r.size(), 2u);
  for (auto &x : r) {
    EXPECT_TRUE(x.valid) << x.error;
    EXPECT_GE(x.samples.size(), 3u);
    EXPECT_GT(x.median, 0);
  }
}

}  // namespace
}  // namespace kcc::tuner
