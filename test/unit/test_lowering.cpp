// Schedule application and lowering: the shape of the loop IR each primitive produces, the
// errors each illegal use gives, and small kernels run through the JIT against the interpreter.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>

#include "../support/kernel_check.h"
#include "ir/visitor.h"
#include "passes/schedule_error.h"
#include "passes/schedule_state.h"

namespace kcc::test {
namespace {

const char *kModel = R"(
kernel mm(A: f32[10, 7], B: f32[7, 19]) -> C: f32[10, 19] {
  C[i, j] = sum(k) A[i, k] * B[k, j]
}
kernel add(A: f32[10, 19]) -> Y: f32[10, 19] {
  Y[i, j] = A[i, j] + 1.0
}
kernel two(A: f32[10, 19]) -> Y: f32[10, 19] {
  T[i, j] = A[i, j] * 2.0
  Y[i, j] = T[i, j] + 1.0
}
)";

const Module &model() {
  static Module m = parse_module("lowering.ir", kModel);
  return m;
}

Schedule sched(const std::string &text) { return parse_schedules("s.ir", text).at(0); }

std::string lowered(const std::string &kernel, const std::string &schedule_text) {
  Schedule s = sched(schedule_text);
  return to_string(lower_kernel(kernel_of(model(), kernel), s, make_target("host")));
}

ScheduleError schedule_error(const std::string &kernel, const std::string &text, const std::string &target = "host") {
  try {
    lower_kernel(kernel_of(model(), kernel), sched(text), make_target(target));
  } catch (const ScheduleError &e) {
    return e;
  }
  ADD_FAILURE() << "no ScheduleError for:\n" << text;
  return ScheduleError(ScheduleErrorKind::UnknownLoop, 0, nullptr, "", "none");
}

// ---------------------------------------------------------------- the pipeline's table of steps

TEST(Pipeline, StepsAreNamedByTheTableInOrder) {
  std::vector<std::string> names;
  for (PipelineStep s : pipeline_steps()) names.push_back(to_string(s));
  EXPECT_EQ(names, (std::vector<std::string>{"choose-schedule", "tune", "apply-schedule", "lower", "simplify",
                                             "partition-loops", "vectorize", "unroll", "simplify-final",
                                             "hoist-allocations", "verify", "plan-memory", "codegen", "model-entry",
                                             "optimize"}));
  for (PipelineStep s : pipeline_steps()) EXPECT_EQ(step_named(to_string(s)), s);
  EXPECT_FALSE(step_named("no-such-step").has_value());
}

TEST(Pipeline, TimesNoStepUnlessAsked) {
  CompileOptions opts;
  opts.target = make_target("host");
  std::ostringstream dump;
  EXPECT_TRUE(compile_module(model(), opts, dump).timings.empty());
}

TEST(Pipeline, TimesEveryStepThatRanInTableOrderWhenAsked) {
  CompileOptions opts;
  opts.target = make_target("host");
  opts.time_passes = true;
  std::ostringstream dump;
  std::vector<std::string> got;
  for (const PassTiming &t : compile_module(model(), opts, dump).timings) got.push_back(t.step);
  // No model in the module: plan-memory and model-entry never ran.
  EXPECT_EQ(got, (std::vector<std::string>{"choose-schedule", "apply-schedule", "lower", "simplify", "partition-loops",
                                           "vectorize", "unroll", "simplify-final", "hoist-allocations", "verify",
                                           "codegen", "optimize"}));
}

/// A schedule source that serves the kernels named in `names`, each with `s` renamed, and
/// counts what it was asked.
struct FakeSource : ScheduleProvider {
  FakeSource(std::vector<std::string> names, ScheduleSource source) : names(std::move(names)), source(source) {}
  bool provide(const Kernel &k, const Target &t, ChosenSchedule &out) override {
    asked.push_back(k.name);
    for (auto &n : names)
      if (n == k.name) {
        out.schedule = default_schedule(k, t);
        out.source = source;
        return true;
      }
    return false;
  }
  std::string missing_message(const Kernel &k, const Target &) const override { return "lacks " + k.name; }
  std::vector<std::string> names, asked;
  ScheduleSource source;
};

struct FakeTuner : ScheduleTuner {
  explicit FakeTuner(std::vector<std::string> names) : names(std::move(names)) {}
  std::map<std::string, ChosenSchedule> tune(const Module &todo, const Target &t) override {
    std::map<std::string, ChosenSchedule> out;
    for (const Kernel &k : todo.kernels) {
      handed.push_back(k.name);
      for (auto &n : names)
        if (n == k.name) out[k.name] = ChosenSchedule{default_schedule(k, t), ScheduleSource::Tuned, 1e-6};
    }
    return out;
  }
  std::vector<std::string> names, handed;
};

std::vector<std::string> sources_of(const CompileResult &r) {
  std::vector<std::string> out;
  for (const CompiledKernel &ck : r.kernels) out.push_back(ck.kernel->name + ":" + to_string(ck.chosen.source));
  return out;
}

TEST(Pipeline, SchedulesComeFromDatabaseThenTunerThenTheIrThenTheDefault) {
  Module m = model();
  m.schedules = parse_schedules("s.ir", "schedule two {\n  compute_inline T\n}\nschedule add {\n  parallel Y.i\n}\n");
  FakeSource database({"mm"}, ScheduleSource::Database);
  FakeTuner tuner({"mm", "add"});  // mm too: never handed it, the database has it
  CompileOptions opts;
  opts.target = make_target("host");
  opts.schedules.database = &database;
  opts.schedules.tuner = &tuner;
  std::ostringstream dump;
  CompileResult r = compile_module(m, opts, dump);
  EXPECT_EQ(sources_of(r), (std::vector<std::string>{"mm:database", "add:tuned", "two:given"}));
  EXPECT_EQ(tuner.handed, (std::vector<std::string>{"add", "two"}));
  opts.schedules = {};
  EXPECT_EQ(sources_of(compile_module(model(), opts, dump)),
            (std::vector<std::string>{"mm:default", "add:default", "two:default"}));
}

TEST(Pipeline, ARegistryIsTheOnlySourceAndAKernelItLacksIsAnError) {
  FakeSource registry({"mm", "add", "two"}, ScheduleSource::Registry);
  FakeSource database({"mm"}, ScheduleSource::Database);
  FakeTuner tuner({"add"});
  CompileOptions opts;
  opts.target = make_target("host");
  opts.schedules = {&registry, &database, &tuner};
  std::ostringstream dump;
  EXPECT_EQ(sources_of(compile_module(model(), opts, dump)),
            (std::vector<std::string>{"mm:registry", "add:registry", "two:registry"}));
  EXPECT_TRUE(database.asked.empty());
  EXPECT_TRUE(tuner.handed.empty());
  registry.names = {"mm"};
  try {
    compile_module(model(), opts, dump);
    ADD_FAILURE() << "no error for a kernel the registry lacks";
  } catch (const UserError &e) {
    EXPECT_EQ(e.message(), "lacks add");
    EXPECT_EQ(e.loc().line, 5);
  }
}

TEST(Pipeline, TuningIsATimedStep) {
  FakeTuner tuner({"add"});
  CompileOptions opts;
  opts.target = make_target("host");
  opts.time_passes = true;
  opts.schedules.tuner = &tuner;
  std::ostringstream dump;
  std::vector<std::string> got;
  for (const PassTiming &t : compile_module(model(), opts, dump).timings) got.push_back(t.step);
  ASSERT_GE(got.size(), 3u);
  EXPECT_EQ(got[0], "choose-schedule");
  EXPECT_EQ(got[1], "tune");
  EXPECT_EQ(got[2], "apply-schedule");
}

TEST(Pipeline, ScheduledLoopsAreTheIrAfterLowering) {
  // --emit=scheduled prints the loop tree as lowering made it, before simplification.
  EXPECT_EQ(kScheduledLoopsStep, PipelineStep::Lower);
  CompileOptions opts;
  opts.target = make_target("host");
  opts.print_after = {kScheduledLoopsStep};
  std::ostringstream dump;
  compile_module(model(), opts, dump);
  EXPECT_NE(dump.str().find("// ---- after lower: mm\n"), std::string::npos) << dump.str();
  EXPECT_EQ(dump.str().find("after simplify"), std::string::npos) << dump.str();
}

TEST(Lowering, ReturnsTheArgumentBuffersItMadeAnUnusedInputIncluded) {
  // lower_scheduled hands its argument buffers on with the body (no pass scans the body for
  // them): one per argument in order, the very nodes the body loads and stores, and one for an
  // input that no stage reads.
  Module m = parse_module("args.ir", "kernel k(A: f32[8], U: f32[3]) -> Y: f32[8] {\n  Y[i] = A[i] * 2.0\n}\n");
  const Kernel &k = kernel_of(m, "k");
  LoweredFunc f = lower_scheduled(apply_schedule(k, Schedule{"k", {}, {}}, make_target("host")));
  EXPECT_EQ(f.name, "k");
  ASSERT_EQ(f.args.size(), 3u);
  const std::vector<std::string> names = {"A", "U", "Y"};
  for (size_t i = 0; i < f.args.size(); ++i) {
    EXPECT_EQ(f.args[i]->name, names[i]);
    EXPECT_EQ(f.args[i]->arg_index, static_cast<int>(i));
    EXPECT_EQ(f.args[i]->scope, MemScope::Global);
  }
  EXPECT_EQ(f.args[1]->shape, std::vector<int64_t>{3});
  EXPECT_EQ(buffers_accessed(f.body), (std::set<const BufferNode *>{f.args[0].get(), f.args[2].get()}));
}

TEST(Lowering, SplitOfPureStageShiftsTheTailInwards) {
  // No guard: the last tile of j (19 = 8 + 8 + 3) starts at 11 instead of 16 and recomputes
  // five elements, which a pure stage may.
  EXPECT_EQ(lowered("add", "schedule add {\n split Y.j [8] -> j0 j1\n}\n"),
            "func add(A: f32[190], Y: f32[190]) {\n"
            "  for (i, 0, 10) {\n"
            "    for (j0, 0, 3) {\n"
            "      for (j1, 0, 8) {\n"
            "        Y[i * 19 + min(j0 * 8, 11) + j1] = A[i * 19 + min(j0 * 8, 11) + j1] + 1.0\n"
            "      }\n"
            "    }\n"
            "  }\n"
            "}\n");
}

TEST(Lowering, SplitOfReductionIsGuardedAndPeeled) {
  std::string ir = lowered("mm", "schedule mm {\n split C.j [8] -> j0 j1\n}\n");
  // j0 in [0, 2) runs full tiles without a guard; the last tile is peeled off and its j1 loop
  // shrinks to the 3 columns that remain, so no guard is left at all.
  EXPECT_EQ(ir.find("if ("), std::string::npos) << ir;
  EXPECT_NE(ir.find("(j0, 0, 2)"), std::string::npos) << ir;
  EXPECT_NE(ir.find("(j1, 0, 3)"), std::string::npos) << ir;
}

// prefetch B at k0: B's read one k0 ahead (clamped to the last block), placed in the innermost
// serial loop its index depends on (j) and spread over the loops between (i does not index B):
// each position of (k1, j) is prefetched once, at the first (i, k1, j) position that maps to it.
TEST(Lowering, PrefetchReadsTheNextIterationOnceSpreadOverTheLoopsBetween) {
  std::string ir = lowered("mm",
                           "schedule mm {\n split C.k [2] -> k0 k1\n reorder C k0 i k1 j\n"
                           " prefetch B at C.k0 1\n}\n");
  EXPECT_NE(ir.find("prefetch B["), std::string::npos) << ir;
  EXPECT_NE(ir.find("% 380 < 38)"), std::string::npos) << ir;
  EXPECT_NE(ir.find("k0 * 38 + 38]"), std::string::npos) << ir;  // the next block of k
  EXPECT_NE(ir.find("+ 114]"), std::string::npos) << ir;         // the last block, clamped
  // A read with no loop between: the prefetch opens the loop's body, no guard.
  std::string direct = lowered("add", "schedule add {\n prefetch A at Y.i 2\n}\n");
  EXPECT_NE(direct.find("prefetch A["), std::string::npos) << direct;
  EXPECT_EQ(direct.find("if ("), std::string::npos) << direct;
}

TEST(Lowering, PrefetchIsForCpuTargets) {
  auto e = schedule_error("mm", "schedule mm {\n prefetch B at C.k 1\n}\n", "nvptx-sm_80");
  EXPECT_EQ(e.kind(), ScheduleErrorKind::TargetMismatch) << e.what();
  EXPECT_NE(std::string(e.what()).find("prefetch is for CPU targets"), std::string::npos) << e.what();
}

TEST(Lowering, VectorizeMakesRampLoads) {
  std::string ir = lowered("add", "schedule add {\n split Y.j [8] -> j0 j1\n vectorize Y.j1\n}\n");
  EXPECT_NE(ir.find("ramp("), std::string::npos) << ir;
  EXPECT_EQ(ir.find("vectorized"), std::string::npos) << ir;
}

// A vectorized loop of a multiple of the target's lanes that is not a power of two becomes that
// many vectors of the target's width (LLVM widens a 48-lane vector to 64 and shuffles); a
// power of two stays one wide vector, which LLVM splits well.
TEST(Lowering, AVectorLoopOfNonPowerOfTwoLanesIsMadeOfTargetVectors) {
  const Module m = parse_module("wide.ir", "kernel wide(A: f32[4, 96]) -> Y: f32[4, 96] {\n  Y[i, j] = A[i, j] * 3.0\n}\n");
  auto ir = [&](const std::string &target, int lanes) {
    Schedule s = sched(fmt::format("schedule wide {{\n split Y.j [{}] -> j0 j1\n vectorize Y.j1\n}}\n", lanes));
    return to_string(lower_kernel(m.kernels[0], s, make_target(target)));
  };
  auto count = [](const std::string &text, const std::string &what) {
    size_t n = 0;
    for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
    return n;
  };
  const std::string avx512 = ir("x86_64-avx512", 48), avx2 = ir("x86_64-avx2", 48), pow2 = ir("x86_64-avx512", 32);
  EXPECT_EQ(count(avx512, "Y[ramp("), 3u) << avx512;
  EXPECT_EQ(count(avx512, ", 1, 16)] = "), 3u) << avx512;
  EXPECT_EQ(count(avx2, ", 1, 8)] = "), 6u) << avx2;
  EXPECT_EQ(count(pow2, ", 1, 32)] = "), 1u) << pow2;
}

TEST(Lowering, UnrollReplicatesTheBody) {
  // The j1 loop is gone and its body is there four times, once per value of j1.
  EXPECT_EQ(lowered("add", "schedule add {\n split Y.j [4] -> j0 j1\n unroll Y.j1\n}\n"),
            "func add(A: f32[190], Y: f32[190]) {\n"
            "  for (i, 0, 10) {\n"
            "    for (j0, 0, 5) {\n"
            "      Y[i * 19 + min(j0 * 4, 15)] = A[i * 19 + min(j0 * 4, 15)] + 1.0\n"
            "      Y[i * 19 + min(j0 * 4, 15) + 1] = A[i * 19 + min(j0 * 4, 15) + 1] + 1.0\n"
            "      Y[i * 19 + min(j0 * 4, 15) + 2] = A[i * 19 + min(j0 * 4, 15) + 2] + 1.0\n"
            "      Y[i * 19 + min(j0 * 4, 15) + 3] = A[i * 19 + min(j0 * 4, 15) + 3] + 1.0\n"
            "    }\n"
            "  }\n"
            "}\n");
}

TEST(Lowering, ReorderStorageTransposesAPackAndSizesItsBuffer) {
  // B's tile packed transposed: k (dimension 0) made the innermost storage dimension.
  std::string ir = lowered("mm",
                           "schedule mm {\n split C.j [8] -> j0 j1\n reorder C j0 i k j1\n"
                           " cache_read B local at C.j0 -> Bt\n reorder_storage Bt ax1 ax0\n}\n");
  // The tile is 7 (k) x 8 (j) with j outermost in storage: 56 elements (not 8 x 1 or 7 x 1),
  // element (k, j) at k + 7 j.
  EXPECT_NE(ir.find("allocate Bt: f32[56] local"), std::string::npos) << ir;
  EXPECT_NE(ir.find("Bt[ax0 + ax1 * 7]"), std::string::npos) << ir;
}

TEST(Lowering, ComputeAtComputesOneTileInsideTheLoop) {
  // One row of T, computed inside the loop over i just before Y reads it; the buffer itself is
  // hoisted out of the serial loop (allocated once).
  EXPECT_EQ(lowered("two", "schedule two {\n compute_at T Y.i\n}\n"),
            "func two(A: f32[190], Y: f32[190]) {\n"
            "  allocate T: f32[19] local\n"
            "  for (i, 0, 10) {\n"
            "    for (j, 0, 19) {\n"
            "      T[j] = A[i * 19 + j] * 2.0\n"
            "    }\n"
            "    for (j, 0, 19) {\n"
            "      Y[i * 19 + j] = T[j] + 1.0\n"
            "    }\n"
            "  }\n"
            "}\n");
}

TEST(ScheduleErrors, UnknownLoopListsTheLoops) {
  auto e = schedule_error("mm", "schedule mm {\n vectorize C.q\n}\n");
  EXPECT_EQ(e.kind(), ScheduleErrorKind::UnknownLoop);
  EXPECT_EQ(e.step_index(), 1);
  EXPECT_EQ(e.primitive(), "vectorize");
  EXPECT_NE(std::string(e.what()).find("stage 'C' has no loop 'q'; its loops are 'i', 'j', 'k'"), std::string::npos)
      << e.what();
  EXPECT_NE(std::string(e.what()).find("s.ir:2:2"), std::string::npos) << e.what();
}

TEST(ScheduleErrors, VectorizeReductionLoop) {
  auto e = schedule_error("mm", "schedule mm {\n vectorize C.k\n}\n");
  EXPECT_EQ(e.kind(), ScheduleErrorKind::IllegalAnnotation);
  EXPECT_EQ(e.loop(), "k");
}

TEST(ScheduleErrors, ParallelReductionLoop) {
  auto e = schedule_error("mm", "schedule mm {\n parallel C.k\n}\n");
  EXPECT_EQ(e.kind(), ScheduleErrorKind::IllegalAnnotation);
}

TEST(ScheduleErrors, FuseNotAdjacent) {
  auto e = schedule_error("mm", "schedule mm {\n fuse C i k -> ik\n}\n");
  EXPECT_EQ(e.kind(), ScheduleErrorKind::NotAdjacent);
}

TEST(ScheduleErrors, FuseSpatialWithReduction) {
  auto e = schedule_error("mm", "schedule mm {\n fuse C j k -> jk\n}\n");
  EXPECT_EQ(e.kind(), ScheduleErrorKind::NotAdjacent);
}

TEST(ScheduleErrors, SplitResultNameTaken) {
  auto e = schedule_error("mm", "schedule mm {\n split C.i [2] -> j i1\n}\n");
  EXPECT_EQ(e.kind(), ScheduleErrorKind::DuplicateName);
}

TEST(ScheduleErrors, LoopUsedAfterItWasSplit) {
  auto e = schedule_error("mm", "schedule mm {\n split C.i [2] -> i0 i1\n parallel C.i\n}\n");
  EXPECT_EQ(e.kind(), ScheduleErrorKind::UnknownLoop);
  EXPECT_EQ(e.step_index(), 2);
}

TEST(ScheduleErrors, ComputeAtOfOutput) {
  auto e = schedule_error("two", "schedule two {\n compute_at Y T.i\n}\n");
  EXPECT_EQ(e.kind(), ScheduleErrorKind::IllegalComputeLocation);
}

TEST(ScheduleErrors, InlineOfOutput) {
  auto e = schedule_error("two", "schedule two {\n compute_inline Y\n}\n");
  EXPECT_EQ(e.kind(), ScheduleErrorKind::IllegalComputeLocation);
}

TEST(ScheduleErrors, InlinedStageCannotBeScheduled) {
  auto e = schedule_error("two", "schedule two {\n compute_inline T\n split T.i [2] -> a b\n}\n");
  EXPECT_EQ(e.kind(), ScheduleErrorKind::UnknownStage);
  EXPECT_NE(std::string(e.what()).find("inlined"), std::string::npos);
}

TEST(ScheduleErrors, BindNeedsGpu) {
  auto e = schedule_error("mm", "schedule mm {\n bind C.i block.x\n}\n");
  EXPECT_EQ(e.kind(), ScheduleErrorKind::TargetMismatch);
}

TEST(ScheduleErrors, UnknownStageListsStages) {
  auto e = schedule_error("two", "schedule two {\n parallel Z.i\n}\n");
  EXPECT_EQ(e.kind(), ScheduleErrorKind::UnknownStage);
  EXPECT_NE(std::string(e.what()).find("'T', 'Y'"), std::string::npos) << e.what();
}

TEST(Run, MatmulWithRegisterTileAndPacking) {
  Schedule s = sched(R"(schedule mm {
  split C.i [3] -> i0 i1
  split C.j [8] -> j0 j1
  split C.k [4] -> k0 k1
  reorder C i0 j0 k0 k1 i1 j1
  cache_read B local at C.k0 -> Bp
  cache_write C local at C.j0
  unroll C.i1
  vectorize C.j1
  parallel C.i0
})");
  auto r = check_kernel(kernel_of(model(), "mm"), s);
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(Run, Rfactor) {
  Schedule s = sched("schedule mm {\n split C.k [3] -> k0 k1\n rfactor C.k1 -> Crf\n parallel C.i\n}\n");
  auto r = check_kernel(kernel_of(model(), "mm"), s);
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(Run, DefaultSchedule) {
  for (auto &k : model().kernels) {
    auto r = check_kernel(k, default_schedule(k, make_target("host")));
    EXPECT_TRUE(r.ok) << k.name << ": " << r.message;
  }
}

/// True when some store of `f` writes a vector whose value multiplies: the multiply-adds of a
/// convolution or dense layer are vector instructions.
bool has_vector_multiply_add(const LoweredFunc &f) {
  struct Finder : IRVisitor {
    bool in_vector_store = false, found = false;
    void visit_node(const Store *op) override {
      in_vector_store = op->value.type().lanes > 1;
      IRVisitor::visit_node(op);
      in_vector_store = false;
    }
    void visit_node(const Binary *op) override {
      if (in_vector_store && op->op == BinOp::Mul && op->type.lanes > 1) found = true;
      IRVisitor::visit_node(op);
    }
  } finder;
  finder.visit(f.body);
  return finder.found;
}

// Convolutions whose output is narrower than a vector (7x7 and 14x14 ResNet rows; 1x1 outputs
// of squeeze-excitation and classifier convolutions) and a batch-1 dense layer: the default
// schedule vectorizes every one, on AVX2 and AVX-512 widths, and computes the right values.
TEST(DefaultSchedule, VectorizesEveryConvolutionAndDenseLayer) {
  const char *text = R"(
kernel conv_w7(X: f32[1, 6, 9, 9], W: f32[10, 6, 3, 3]) -> Y: f32[1, 10, 7, 7] {
  Y[n, f, y, x] = sum(c, r, s) X[n, c, y + r, x + s] * W[f, c, r, s]
}
kernel conv_w14_s2(X: f32[1, 5, 29, 29], W: f32[9, 5, 3, 3]) -> Y: f32[1, 9, 14, 14] {
  Y[n, f, y, x] = sum(c, r, s) X[n, c, y * 2 + r, x * 2 + s] * W[f, c, r, s]
}
kernel conv_w2(X: f32[1, 7, 2, 2], W: f32[11, 7, 1, 1]) -> Y: f32[1, 11, 2, 2] {
  Y[n, f, y, x] = sum(c) X[n, c, y, x] * W[f, c, 0, 0]
}
kernel conv_1x1_out(X: f32[1, 40, 1, 1], W: f32[19, 40, 1, 1]) -> Y: f32[1, 19, 1, 1] {
  Y[n, f, y, x] = sum(c) X[n, c, y, x] * W[f, c, 0, 0]
}
kernel dense_b1(X: f32[1, 37], W: f32[23, 37]) -> Y: f32[1, 23] {
  Y[i, j] = sum(k) X[i, k] * W[j, k]
}
)";
  Module m = parse_module("narrow.ir", text);
  for (const char *target : {"x86_64-avx2", "x86_64-avx512"}) {
    Target t = make_target(target);
    for (const Kernel &k : m.kernels) {
      Schedule s = default_schedule(k, t);
      EXPECT_TRUE(has_vector_multiply_add(lower_kernel(k, s, t))) << k.name << " on " << target << ":\n"
                                                                   << to_string(s);
      CheckResult r = check_kernel(k, s);
      EXPECT_TRUE(r.ok) << k.name << " on " << target << ": " << r.message;
    }
  }
}

// The register tile comes from the target: a channel-blocked 3x3 convolution keeps 14 output
// pixels x 2 channel blocks (28 accumulators) on AVX-512's 32 registers and fewer on AVX2's 16;
// its bias and activation are computed at the tile (compute_at), never a pass of their own.
TEST(DefaultSchedule, RegisterTileSizedByTheTargetAndEpilogueFused) {
  const char *text = R"(
kernel conv16c(X: f32[1, 4, 16, 16, 16], W: f32[8, 4, 3, 3, 16, 16], B: f32[128]) -> Y: f32[1, 8, 14, 14, 16] {
  T1[n, f, y, x, fi] = sum(c, r, s, ci) X[n, c, y + r, x + s, ci] * W[f, c, r, s, ci, fi] : f32[1, 8, 14, 14, 16]
  T[n, c, h, w, ci] = T1[n, c, h, w, ci] + B[c * 16 + ci] : f32[1, 8, 14, 14, 16]
  Y[n, c, h, w, ci] = max(T[n, c, h, w, ci], 0.0)
}
)";
  Module m = parse_module("tile.ir", text);
  const Kernel &k = m.kernels[0];
  const std::string avx512 = to_string(default_schedule(k, make_target("x86_64-avx512")));
  EXPECT_NE(avx512.find("compute_inline T\n"), std::string::npos) << avx512;
  EXPECT_NE(avx512.find("split Y.c [2] -> c_o c_i"), std::string::npos) << avx512;
  EXPECT_NE(avx512.find("compute_at T1 Y.par"), std::string::npos) << avx512;
  EXPECT_NE(avx512.find("unroll T1.x\n"), std::string::npos) << avx512;  // all 14 pixels
  EXPECT_NE(avx512.find("unroll T1.f\n"), std::string::npos) << avx512;
  // AVX2: 16 registers, a 16-wide axis is 2 vectors; the tile must fit beside them.
  const Schedule s2 = default_schedule(k, make_target("x86_64-avx2"));
  const std::string avx2 = to_string(s2);
  int64_t accumulators = 1;
  for (const Step &st : s2.steps)
    if (auto *sp = std::get_if<SplitStep>(&st.kind); sp && sp->loop.stage == "Y")
      for (size_t i = 0; i < sp->factors.size(); ++i)
        if (sp->results[i + 1] != "ci_v") accumulators *= sp->factors[i];
  EXPECT_GE(accumulators, 8) << avx2;
  EXPECT_LE(accumulators, 14) << avx2;
  for (const char *target : {"x86_64-avx2", "x86_64-avx512", "aarch64-neon"}) {
    CheckResult r = check_kernel(k, default_schedule(k, make_target(target)));
    EXPECT_TRUE(r.ok) << target << ": " << r.message;
  }
}

// Shapes no tile divides (rows of 13 and 9, 3 channel blocks, 45 and 200 columns, a residual
// input, a packed matmul panel, an input packed transposed, an inlined padding),
// pooling, a depthwise convolution and a matmul whose vector axis is tiled in whole vectors:
// the default schedule computes what the kernel says on every target width (integer
// reductions under the default schedule: test_int_reductions).
TEST(DefaultSchedule, TiledReductionsMatchTheInterpreter) {
  const char *text = R"(
kernel conv_odd(X: f32[1, 2, 15, 15, 16], W: f32[3, 2, 3, 3, 16, 16], B: f32[48], R: f32[1, 3, 13, 13, 16]) -> Y: f32[1, 3, 13, 13, 16] {
  T1[n, f, y, x, fi] = sum(c, r, s, ci) X[n, c, y + r, x + s, ci] * W[f, c, r, s, ci, fi] : f32[1, 3, 13, 13, 16]
  T[n, c, h, w, ci] = T1[n, c, h, w, ci] + B[c * 16 + ci] : f32[1, 3, 13, 13, 16]
  T2[n, c, h, w, ci] = T[n, c, h, w, ci] + R[n, c, h, w, ci] : f32[1, 3, 13, 13, 16]
  Y[n, c, h, w, ci] = max(T2[n, c, h, w, ci], 0.0)
}
kernel conv_nchw_odd(X: f32[1, 3, 11, 13], W: f32[10, 3, 3, 3]) -> Y: f32[1, 10, 9, 11] {
  Y[n, f, y, x] = sum(c, r, s) X[n, c, y + r, x + s] * W[f, c, r, s]
}
kernel mm_odd(A: f32[29, 31], B: f32[31, 45], b: f32[45]) -> Y: f32[29, 45] {
  T[i, j] = sum(k) A[i, k] * B[k, j] : f32[29, 45]
  Y[i, j] = T[i, j] + b[j]
}
kernel conv_to_nchw(X: f32[1, 3, 9, 21, 16], W: f32[24, 3, 16], B: f32[24], R: f32[1, 24, 9, 21]) -> Y: f32[1, 24, 9, 21] {
  T1[n, f, y, x] = sum(c, ci) X[n, c, y, x, ci] * W[f, c, ci] : f32[1, 24, 9, 21]
  Y[n, f, y, x] = T1[n, f, y, x] + B[f] + R[n, f, y, x]
}
kernel dw_pad(X: f32[1, 2, 13, 11, 16], W: f32[2, 3, 3, 16]) -> Y: f32[1, 2, 13, 11, 16] {
  P[n, c, h, w, ci] = select(h >= 1 and h <= 13 and w >= 1 and w <= 11, X[n, c, h - 1, w - 1, ci], 0.0) : f32[1, 2, 15, 13, 16]
  Y[n, c, y, x, ci] = sum(r, s) P[n, c, y + r, x + s, ci] * W[c, r, s, ci]
}
kernel mm_pack(A: f32[90, 33], B: f32[33, 200], b: f32[200]) -> Y: f32[90, 200] {
  T[i, j] = sum(k) A[i, k] * B[k, j] : f32[90, 200]
  Y[i, j] = max(T[i, j] + b[j], 0.0)
}
kernel mm_wide(A: f32[9, 17], B: f32[17, 64]) -> Y: f32[9, 64] {
  Y[i, j] = sum(k) A[i, k] * B[k, j]
}
kernel dw_odd(X: f32[1, 3, 11, 11, 8], W: f32[3, 3, 3, 8]) -> Y: f32[1, 3, 9, 9, 8] {
  Y[n, c, y, x, ci] = sum(r, s) X[n, c, y + r, x + s, ci] * W[c, r, s, ci]
}
kernel pool_odd(X: f32[1, 2, 13, 13, 16]) -> Y: f32[1, 2, 6, 6, 16] {
  Y[n, c, h, w, ci] = max(r: 3, s: 3) X[n, c, h * 2 + r, w * 2 + s, ci]
}
)";
  Module m = parse_module("odd.ir", text);
  // An NCHW-output convolution of channel-blocked input reads X across its rows along the
  // vector axis: the default packs X with that axis innermost instead of gathering.
  const std::string nchw = to_string(default_schedule(kernel_of(m, "conv_to_nchw"), make_target("x86_64-avx512")));
  EXPECT_NE(nchw.find("reorder_storage X_pack ax0 ax1 ax2 ax4 ax3"), std::string::npos) << nchw;
  // A depthwise convolution's padded input is inlined into its 9-point window.
  const std::string dw = to_string(default_schedule(kernel_of(m, "dw_pad"), make_target("x86_64-avx512")));
  EXPECT_NE(dw.find("compute_inline P"), std::string::npos) << dw;
  // B's rows (200) are longer than a tile reads (16 or 8): the default packs its panels.
  const std::string pack = to_string(default_schedule(kernel_of(m, "mm_pack"), make_target("x86_64-avx512")));
  EXPECT_NE(pack.find("cache_read B local at T.j_o -> B_pack"), std::string::npos) << pack;
  for (const char *target : {"x86_64-avx2", "x86_64-avx512", "aarch64-neon"})
    for (const Kernel &k : m.kernels) {
      const Schedule s = default_schedule(k, make_target(target));
      CheckResult r = check_kernel(k, s);
      EXPECT_TRUE(r.ok) << k.name << " on " << target << ": " << r.message << "\n" << to_string(s);
    }
}

}  // namespace
}  // namespace kcc::test
