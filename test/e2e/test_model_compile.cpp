// test/e2e/test_model_compile.cpp - a `model` block compiled into an object (issue 17, item 4):
// the memory plan, the entry points run in this process (JIT) against interpret_model, their
// argument checks and concurrency, external weights, and the kcc tool's outputs linked into a C
// program compiled as C99 (the header also as C++).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "codegen/codegen.h"
#include "ir/interp.h"
#include "ir/model.h"
#include "ir/parser.h"
#include "kcc_runtime.h"
#include "passes/memory_plan.h"
#include "passes/pipeline.h"

namespace fs = std::filesystem;

namespace kcc {
namespace {

// conv -> relu -> conv with a residual add -> relu -> pool -> dense. t3 is defined after t1's
// last use, so it can take t1's bytes; p is an output that a later call reads.
const char *kNet = R"(kernel conv_relu(X: f32[1, 3, 10, 10], W: f32[8, 3, 3, 3], b: f32[8]) -> Y: f32[1, 8, 10, 10] {
  C = conv2d(X, W, pad=1)
  B = bias_add(C, b)
  Y = relu(B)
}
kernel conv_add(X: f32[1, 8, 10, 10], W: f32[8, 8, 3, 3], b: f32[8], R: f32[1, 8, 10, 10]) -> Y: f32[1, 8, 10, 10] {
  C = conv2d(X, W, pad=1)
  Y[n, c, h, w] = C[n, c, h, w] + b[c] + R[n, c, h, w]
}
kernel relu8(X: f32[1, 8, 10, 10]) -> Y: f32[1, 8, 10, 10] {
  Y = relu(X)
}
kernel pool(X: f32[1, 8, 10, 10]) -> Y: f32[1, 8, 5, 5] {
  Y = maxpool2d(X, kernel=2)
}
kernel head(X: f32[1, 8, 5, 5], W: f32[10, 8, 5, 5], b: f32[10]) -> Y: f32[1, 10] {
  S[i, j] = sum(c, h, w) X[i, c, h, w] * W[j, c, h, w] : f32[1, 10]
  Y[i, j] = S[i, j] + b[j]
}
model net(x: f32[1, 3, 10, 10]) -> (y: f32[1, 10], p: f32[1, 8, 5, 5]) {
  weights "net.weights"
  w1: f32[8, 3, 3, 3] = weight at 0
  b1: f32[8] = weight at 896
  w2: f32[8, 8, 3, 3] = weight at 960
  b2: f32[8] = weight at 3264
  w3: f32[10, 8, 5, 5] = weight at 3328
  b3: f32[10] = weight at 11392
  t1 = conv_relu(x, w1, b1)
  t2 = conv_add(t1, w2, b2, t1)
  t3 = relu8(t2)
  p = pool(t3)
  y = head(p, w3, b3)
}
)";

constexpr int kNetModelLine = 20;  // `model net(...)` in kNet

/// A fresh directory for one test.
fs::path fresh_dir(const std::string &name) {
  fs::path d = fs::temp_directory_path() / ("kcc_model_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

void write_file(const fs::path &p, const std::string &bytes) {
  std::ofstream f(p, std::ios::binary);
  f << bytes;
}

std::string read_file(const fs::path &p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

/// Random values in +-[0.1, 1): never zero, so a weight read from the wrong place shows.
std::vector<float> random_nonzero(size_t n, std::mt19937 &rng) {
  std::uniform_real_distribution<float> mag(0.1f, 1.0f);
  std::vector<float> v(n);
  for (float &x : v) x = (rng() & 1 ? 1.0f : -1.0f) * mag(rng);
  return v;
}

/// The weights file of `model`: random weights at their offsets, 0x7f garbage in the gaps
/// (which must be ignored).
void write_weights(const ModelDecl &model, const fs::path &path, unsigned seed) {
  std::mt19937 rng(seed);
  std::string bytes;
  for (const ModelWeight &w : model.weights) {
    if (static_cast<int64_t>(bytes.size()) < w.offset + w.bytes()) bytes.resize(w.offset + w.bytes(), '\x7f');
    std::vector<float> v = random_nonzero(w.tensor.num_elements(), rng);
    std::memcpy(bytes.data() + w.offset, v.data(), w.bytes());
  }
  write_file(path, bytes + std::string(40, '\x7f'));
}

/// net.ir and net.weights in a fresh directory, parsed, with random inputs and the
/// interpreter's outputs.
struct Net {
  fs::path dir;
  Module m;
  std::vector<float> x;
  std::vector<std::vector<double>> reference;  // y, p

  explicit Net(const std::string &name, const std::string &text = kNet) : dir(fresh_dir(name)) {
    write_file(dir / "net.ir", text);
    m = parse_module_file((dir / "net.ir").string());
    write_weights(model(), dir / "net.weights", 7);
    std::mt19937 rng(11);
    x = random_nonzero(300, rng);
    std::vector<double> xd(x.begin(), x.end());
    reference = interpret_model(m, model(), {xd}, read_model_weights(model(), (dir / "net.weights").string()));
  }
  ~Net() {
    if (!::testing::Test::HasFailure()) fs::remove_all(dir);  // kept for a look when a test fails
  }
  const ModelDecl &model() const { return m.models.at(0); }
};

/// max |got - want| / max |want| over one output.
double relative_error(const std::vector<float> &got, const std::vector<double> &want) {
  double err = 0, scale = 0;
  EXPECT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size() && i < want.size(); ++i) {
    err = std::max(err, std::abs(got[i] - want[i]));
    scale = std::max(scale, std::abs(want[i]));
  }
  return err / scale;
}

CompileResult compile(const Module &m, bool external_weights = false, const std::string &target = "host") {
  CompileOptions opts;
  opts.target = make_target(target);
  opts.external_weights = external_weights;
  std::ostringstream dump;
  return compile_module(m, opts, dump);
}

using NetFn = int (*)(const float *, float *, float *);
using NetRunFn = int (*)(void *, const float *, float *, float *);
using SizeFn = size_t (*)();
using NetExtFn = int (*)(const void *, const float *, float *, float *);
using NetRunExtFn = int (*)(const void *, void *, const float *, float *, float *);
using LoadFn = int (*)(const char *, void **);

/// The net's entry points, JIT-compiled in this process.
struct JitNet {
  std::unique_ptr<JitModule> jit;
  template <class F>
  F fn(const std::string &name) {
    return reinterpret_cast<F>(jit->lookup(name));
  }
};

JitNet jit(CompileResult r) {
  r.code.optimize();
  return JitNet{JitModule::create(std::move(r.code))};
}

/// A 64-byte aligned block that frees itself.
struct Aligned {
  void *p;
  explicit Aligned(size_t n) : p(kcc_alloc(n)) {}
  ~Aligned() { kcc_free(p); }
  char *bytes() { return static_cast<char *>(p); }
};

// ------------------------------------------------------------------ the memory plan

/// No two values live at the same call share a byte.
void expect_disjoint_when_live_together(const MemoryPlan &plan) {
  for (size_t i = 0; i < plan.values.size(); ++i)
    for (size_t j = i + 1; j < plan.values.size(); ++j) {
      const PlannedValue &a = plan.values[i], &b = plan.values[j];
      bool live_together = a.first_call <= b.last_call && b.first_call <= a.last_call;
      bool share = a.offset < b.offset + b.bytes && b.offset < a.offset + a.bytes;
      EXPECT_FALSE(live_together && share) << a.name << " and " << b.name;
    }
  for (const PlannedValue &v : plan.values) {
    EXPECT_EQ(v.offset % kModelAlign, 0) << v.name;
    EXPECT_LE(v.offset + v.bytes, plan.peak) << v.name;
  }
}

TEST(MemoryPlan, DeadValueBytesAreReused) {
  Net net("plan_reuse");
  MemoryPlan plan = plan_memory(net.model());
  ASSERT_EQ(plan.values.size(), 3u);  // t1, t2, t3: x is the caller's, p and y outputs
  EXPECT_EQ(plan.find("t3")->offset, plan.find("t1")->offset);  // t1 is dead when t3 is made
  EXPECT_EQ(plan.peak, 6400);
  EXPECT_LT(plan.peak, plan.sum_of_values());
  EXPECT_EQ(plan.sum_of_values(), 9600);
  EXPECT_EQ(plan.find("p"), nullptr);
  expect_disjoint_when_live_together(plan);
}

TEST(MemoryPlan, ValuesLiveTogetherNeverShareBytes) {
  // Values of many sizes, some read long after their definition, one never read.
  const char *text = R"(kernel grow(X: f32[4]) -> Y: f32[40] {
  Y[i] = X[i / 10] * 2.0
}
kernel shrink(X: f32[40]) -> Y: f32[4] {
  Y[i] = sum(k: 10) X[i * 10 + k]
}
kernel add4(A: f32[4], B: f32[4]) -> Y: f32[4] {
  Y[i] = A[i] + B[i]
}
model chain(x: f32[4]) -> y: f32[4] {
  a = grow(x)
  b = shrink(a)
  c = grow(b)
  unused = grow(b)
  d = shrink(c)
  e = add4(d, b)
  f = grow(e)
  g = shrink(f)
  y = add4(g, e)
}
)";
  Module m = parse_module("chain.ir", text);
  MemoryPlan plan = plan_memory(m.models.at(0));
  EXPECT_EQ(plan.values.size(), 8u);
  EXPECT_EQ(plan.find("unused")->first_call, 3);
  EXPECT_EQ(plan.find("unused")->last_call, 3);
  EXPECT_EQ(plan.find("b")->first_call, 1);
  EXPECT_EQ(plan.find("b")->last_call, 5);
  expect_disjoint_when_live_together(plan);
  // The 160-byte values a, c, unused, f never live together beyond a call: two slots suffice.
  EXPECT_LT(plan.peak, plan.sum_of_values());
}

TEST(MemoryPlan, TextListsEveryValueWithBytesOffsetAndLiveRange) {
  Net net("plan_text");
  EXPECT_EQ(to_string(plan_memory(net.model()), net.model()),
            "model net: workspace peak 6400 bytes, sum of values 9600 bytes, 3 values\n"
            "  value                       bytes       offset  live (calls)\n"
            "  t1                           3200            0  0..1 (conv_relu .. conv_add)\n"
            "  t2                           3200         3200  1..2 (conv_add .. relu8)\n"
            "  t3                           3200            0  2..3 (relu8 .. pool)\n");
}

TEST(MemoryPlan, WeightsArePackedAlignedWithoutTheGaps) {
  Net net("pack");
  PackedWeights w = pack_weights(net.model(), (net.dir / "net.weights").string());
  ASSERT_EQ(w.offsets.size(), 6u);
  std::string file = read_file(net.dir / "net.weights");
  for (size_t i = 0; i < w.offsets.size(); ++i) {
    const ModelWeight &mw = net.model().weights[i];
    EXPECT_EQ(w.offsets[i] % kModelAlign, 0);
    EXPECT_EQ(w.bytes.substr(w.offsets[i], mw.bytes()), file.substr(mw.offset, mw.bytes())) << mw.tensor.name;
  }
  // b3 was at 11392 in the file; packed, the 64-byte gap after w3 is gone.
  EXPECT_EQ(w.offsets.back(), 11328);
  EXPECT_EQ(w.bytes.size(), 11392u);
  EXPECT_EQ(w.fnv1a, fnv1a64(w.bytes));
}

// ------------------------------------------------------------------ entry points (JIT)

TEST(ModelEntry, OwnWorkspaceAndCallersWorkspaceMatchTheInterpreter) {
  Net net("jit_match");
  JitNet j = jit(compile(net.m));
  EXPECT_EQ(j.fn<SizeFn>("net_workspace_size")(), 6400u);
  std::vector<float> y(10), p(200);
  ASSERT_EQ(j.fn<NetFn>("net")(net.x.data(), y.data(), p.data()), KCC_OK);
  EXPECT_LE(relative_error(y, net.reference[0]), 1e-4);
  EXPECT_LE(relative_error(p, net.reference[1]), 1e-4);
  Aligned ws(6400);
  std::memset(ws.p, 0x5a, 6400);  // garbage: nothing may read the workspace before writing it
  std::vector<float> y2(10), p2(200);
  ASSERT_EQ(j.fn<NetRunFn>("net_run")(ws.p, net.x.data(), y2.data(), p2.data()), KCC_OK);
  EXPECT_EQ(y2, y);
  EXPECT_EQ(p2, p);
}

TEST(ModelEntry, ConcurrentCallsWithSeparateWorkspacesGiveIdenticalResults) {
  Net net("jit_threads");
  JitNet j = jit(compile(net.m));
  auto run = j.fn<NetRunFn>("net_run");
  std::vector<float> want_y(10), want_p(200);
  Aligned ws0(6400);
  ASSERT_EQ(run(ws0.p, net.x.data(), want_y.data(), want_p.data()), KCC_OK);
  std::vector<std::vector<float>> ys(2, std::vector<float>(10)), ps(2, std::vector<float>(200));
  std::vector<int> bad(2, 0);
  auto worker = [&](int t) {
    Aligned ws(6400);
    for (int it = 0; it < 200; ++it) {
      std::fill(ys[t].begin(), ys[t].end(), 0.0f);
      if (run(ws.p, net.x.data(), ys[t].data(), ps[t].data()) != KCC_OK || ys[t] != want_y || ps[t] != want_p)
        ++bad[t];
    }
  };
  std::thread a(worker, 0), b(worker, 1);
  a.join();
  b.join();
  EXPECT_EQ(bad[0], 0);
  EXPECT_EQ(bad[1], 0);
}

TEST(ModelEntry, NullArgumentsReturnTheErrorBeforeAnyWork) {
  Net net("jit_null");
  JitNet j = jit(compile(net.m));
  auto own = j.fn<NetFn>("net");
  auto run = j.fn<NetRunFn>("net_run");
  std::vector<float> y(10, 42.0f), p(200, 42.0f);
  Aligned ws(6400);
  EXPECT_EQ(own(nullptr, y.data(), p.data()), KCC_ERR_NULL_ARGUMENT);
  EXPECT_EQ(own(net.x.data(), nullptr, p.data()), KCC_ERR_NULL_ARGUMENT);
  EXPECT_EQ(own(net.x.data(), y.data(), nullptr), KCC_ERR_NULL_ARGUMENT);
  EXPECT_EQ(run(nullptr, net.x.data(), y.data(), p.data()), KCC_ERR_NULL_ARGUMENT);
  EXPECT_EQ(run(ws.p, net.x.data(), y.data(), nullptr), KCC_ERR_NULL_ARGUMENT);
  EXPECT_EQ(y, std::vector<float>(10, 42.0f));  // nothing written
  EXPECT_EQ(p, std::vector<float>(200, 42.0f));
}

TEST(ModelEntry, MisalignedWorkspaceOrTensorIsAnError) {
  Net net("jit_misaligned");
  JitNet j = jit(compile(net.m));
  auto own = j.fn<NetFn>("net");
  auto run = j.fn<NetRunFn>("net_run");
  std::vector<float> y(10, 42.0f), p(200, 42.0f);
  Aligned ws(6400 + 64);
  EXPECT_EQ(run(ws.bytes() + 16, net.x.data(), y.data(), p.data()), KCC_ERR_MISALIGNED);  // 16, not 64
  std::vector<char> xb(300 * 4 + 4);
  const float *x_odd = reinterpret_cast<const float *>(xb.data() + (reinterpret_cast<uintptr_t>(xb.data()) % 4 == 0 ? 1 : 0));
  EXPECT_EQ(own(x_odd, y.data(), p.data()), KCC_ERR_MISALIGNED);
  EXPECT_EQ(run(ws.p, x_odd, y.data(), p.data()), KCC_ERR_MISALIGNED);
  EXPECT_EQ(y, std::vector<float>(10, 42.0f));
  EXPECT_STRNE(kcc_error_string(KCC_ERR_MISALIGNED), "unknown kcc error");
  EXPECT_STRNE(kcc_error_string(KCC_ERR_WEIGHTS_FILE), "unknown kcc error");
}

TEST(ModelEntry, ExternalWeightsLoadedByTheGeneratedLoaderMatchTheInterpreter) {
  Net net("jit_external");
  CompileResult r = compile(net.m, /*external_weights=*/true);
  std::string blob = r.models.at(0).weights.bytes;
  write_file(net.dir / "out.weights", blob);
  JitNet j = jit(std::move(r));
  EXPECT_EQ(j.fn<SizeFn>("net_weights_size")(), blob.size());
  void *weights = nullptr;
  ASSERT_EQ(j.fn<LoadFn>("net_load_weights")((net.dir / "out.weights").c_str(), &weights), KCC_OK);
  ASSERT_NE(weights, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(weights) % 64, 0u);
  std::vector<float> y(10), p(200);
  ASSERT_EQ(j.fn<NetExtFn>("net")(weights, net.x.data(), y.data(), p.data()), KCC_OK);
  EXPECT_LE(relative_error(y, net.reference[0]), 1e-4);
  EXPECT_LE(relative_error(p, net.reference[1]), 1e-4);
  Aligned ws(6400);
  std::vector<float> y2(10), p2(200);
  ASSERT_EQ(j.fn<NetRunExtFn>("net_run")(weights, ws.p, net.x.data(), y2.data(), p2.data()), KCC_OK);
  EXPECT_EQ(y2, y);
  kcc_free(weights);
}

TEST(ModelEntry, ExternalWeightsOfAnotherModelOrMisplacedAreRejected) {
  Net net("jit_external_bad");
  CompileResult r = compile(net.m, /*external_weights=*/true);
  std::string blob = r.models.at(0).weights.bytes;
  JitNet j = jit(std::move(r));
  auto load = j.fn<LoadFn>("net_load_weights");
  void *weights = reinterpret_cast<void *>(1);
  std::string changed = blob;
  changed[100] ^= 1;  // same size, one bit off: another model's weights
  write_file(net.dir / "changed.weights", changed);
  EXPECT_EQ(load((net.dir / "changed.weights").c_str(), &weights), KCC_ERR_WEIGHTS_FILE);
  EXPECT_EQ(weights, nullptr);
  write_file(net.dir / "short.weights", blob.substr(0, blob.size() - 4));
  EXPECT_EQ(load((net.dir / "short.weights").c_str(), &weights), KCC_ERR_WEIGHTS_FILE);
  write_file(net.dir / "long.weights", blob + "x");
  EXPECT_EQ(load((net.dir / "long.weights").c_str(), &weights), KCC_ERR_WEIGHTS_FILE);
  EXPECT_EQ(load((net.dir / "missing.weights").c_str(), &weights), KCC_ERR_WEIGHTS_FILE);
  EXPECT_EQ(load(nullptr, &weights), KCC_ERR_NULL_ARGUMENT);
  EXPECT_EQ(load((net.dir / "missing.weights").c_str(), nullptr), KCC_ERR_NULL_ARGUMENT);
  // The run functions check the weights pointer like the workspace.
  Aligned w(blob.size() + 64);
  std::memcpy(w.p, blob.data(), blob.size());
  std::vector<float> y(10), p(200);
  auto own = j.fn<NetExtFn>("net");
  EXPECT_EQ(own(nullptr, net.x.data(), y.data(), p.data()), KCC_ERR_NULL_ARGUMENT);
  EXPECT_EQ(own(w.bytes() + 4, net.x.data(), y.data(), p.data()), KCC_ERR_MISALIGNED);
  EXPECT_EQ(own(w.p, net.x.data(), y.data(), p.data()), KCC_OK);  // weights from anywhere, 64-byte aligned
  EXPECT_LE(relative_error(y, net.reference[0]), 1e-4);
}

TEST(ModelEntry, ModelWithoutValuesOrWeightsNeedsNoWorkspace) {
  // One call: its result is the output, so nothing lives in a workspace; no weights file.
  Module m = parse_module("one.ir", R"(kernel twice(X: f32[3]) -> Y: f32[3] {
  Y[i] = X[i] * 2.0
}
model one(x: f32[3]) -> y: f32[3] {
  y = twice(x)
}
)");
  CompileResult r = compile(m);
  EXPECT_EQ(r.models.at(0).plan.peak, 0);
  JitNet j = jit(std::move(r));
  EXPECT_EQ(j.fn<SizeFn>("one_workspace_size")(), 0u);
  std::vector<float> x = {1, -2, 0.5f}, y(3);
  using RunFn = int (*)(void *, const float *, float *);
  ASSERT_EQ(j.fn<RunFn>("one_run")(nullptr, x.data(), y.data()), KCC_OK);  // NULL: 0 bytes needed
  EXPECT_EQ(y, (std::vector<float>{2, -4, 1}));
}

// ------------------------------------------------------------------ what a user can get wrong

/// compile_module's UserError, or "" when it compiles.
UserError compile_error(const Module &m, const std::string &target = "host") {
  try {
    compile(m, false, target);
  } catch (const UserError &e) {
    return e;
  }
  ADD_FAILURE() << "compiled without an error";
  return UserError(SourceLoc{}, "");
}

TEST(ModelErrors, MissingWeightsFileNamesTheModelAndThePath) {
  Net net("err_missing");
  fs::remove(net.dir / "net.weights");
  UserError e = compile_error(net.m);
  EXPECT_EQ(e.message(),
            "cannot read the weights of model 'net' from '" + (net.dir / "net.weights").string() + "'");
}

TEST(ModelErrors, ShortWeightsFilePointsAtTheWeightThatDoesNotFit) {
  Net net("err_short");
  write_file(net.dir / "net.weights", std::string(4000, '\1'));
  UserError e = compile_error(net.m);
  EXPECT_EQ(e.loc().line, kNetModelLine + 6);  // w3
  EXPECT_EQ(e.loc().col, 3);
  EXPECT_NE(e.message().find("weight 'w3' needs bytes [3328, 11328)"), std::string::npos) << e.message();
}

TEST(ModelErrors, EntryPointNamedLikeAKernelIsAnErrorAtTheModel) {
  std::string text = std::string(kNet) + "kernel net_run(X: f32[4]) -> Y: f32[4] {\n  Y[i] = X[i]\n}\n";
  Net net("err_clash_kernel", text);
  UserError e = compile_error(net.m);
  EXPECT_EQ(e.loc().line, kNetModelLine);
  EXPECT_EQ(e.loc().col, 7);
  EXPECT_EQ(e.message(),
            "model 'net' needs the C name 'net_run' for an entry point, but kernel 'net_run' at 34:8 has it; rename "
            "one of them");
}

TEST(ModelErrors, EntryPointsOfTwoModelsClash) {
  std::string text = std::string(kNet) + "model net_run(x: f32[1, 3, 10, 10]) -> y: f32[1, 8, 10, 10] {\n"
                                         "  weights \"net.weights\"\n  w1: f32[8, 3, 3, 3] = weight at 0\n"
                                         "  b1: f32[8] = weight at 896\n  y = conv_relu(x, w1, b1)\n}\n";
  Net net("err_clash_model", text);
  UserError e = compile_error(net.m);
  EXPECT_EQ(e.loc().line, 34);
  EXPECT_EQ(e.message(),
            "model 'net_run' needs the C name 'net_run' for an entry point, but model 'net' at 20:7 has it; rename "
            "one of them");
}

TEST(ModelErrors, GpuTargetIsAnErrorAtTheModel) {
  Net net("err_gpu");
  try {
    make_target("nvptx-sm_80");
  } catch (const UserError &) {
    GTEST_SKIP() << "no NVPTX target in this build";
  }
  UserError e = compile_error(net.m, "nvptx-sm_80");
  EXPECT_EQ(e.loc().line, kNetModelLine);
  EXPECT_NE(e.message().find("model 'net' cannot be compiled for GPU target 'nvptx-sm_80'"), std::string::npos)
      << e.message();
}

// ------------------------------------------------------------------ the kcc tool, a C program

/// Runs `cmd` through the shell with stdout and stderr into `log`; its exit status.
int sh(const std::string &cmd, const fs::path &log) {
  int s = std::system((cmd + " >" + log.string() + " 2>&1").c_str());
  return WIFEXITED(s) ? WEXITSTATUS(s) : -1;
}

// Runs net on x.bin with its own workspace and with a caller's, checks they agree and that NULL
// and misaligned arguments give the codes; writes y then p to out.bin. With EXTERNAL, loads
// the weights from argv[1] first.
const char *kApp = R"(#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kcc_runtime.h"
#include "net.h"

static float x[KCC_NET_X_SIZE], y[KCC_NET_Y_SIZE], p[KCC_NET_P_SIZE], y2[KCC_NET_Y_SIZE], p2[KCC_NET_P_SIZE];

int main(int argc, char **argv) {
  FILE *f = fopen("x.bin", "rb");
  if (!f || fread(x, sizeof x, 1, f) != 1) return 10;
  fclose(f);
  if (net_workspace_size() != KCC_NET_WORKSPACE_BYTES) return 11;
  char *ws = (char *)kcc_alloc(net_workspace_size() + 64);
#ifdef EXTERNAL
  void *w = NULL;
  if (argc < 2 || net_load_weights(argv[1], &w) != KCC_OK) return 12;
  if (net_weights_size() != KCC_NET_WEIGHTS_BYTES) return 13;
#define W w,
#else
  (void)argc;
  (void)argv;
#define W
#endif
  int s = net(W x, y, p);
  if (s != KCC_OK) { fprintf(stderr, "net: %s\n", kcc_error_string(s)); return 14; }
  if (net_run(W ws, x, y2, p2) != KCC_OK) return 15;
  if (memcmp(y, y2, sizeof y) || memcmp(p, p2, sizeof p)) return 16;
  if (net(W NULL, y2, p2) != KCC_ERR_NULL_ARGUMENT) return 17;
  if (net_run(W ws + 32, x, y2, p2) != KCC_ERR_MISALIGNED) return 18;
  f = fopen("out.bin", "wb");
  if (!f || fwrite(y, sizeof y, 1, f) != 1 || fwrite(p, sizeof p, 1, f) != 1) return 19;
  fclose(f);
  kcc_free(ws);
  printf("ok\n");
  return 0;
}
)";

/// kcc compile net.ir [flags] -o out/net, then the app built with EXTRA and run with ARGS;
/// checks out.bin against the interpreter.
void compile_link_and_run(Net &net, const std::string &flags, const std::string &extra, const std::string &args) {
  fs::path d = net.dir;
  ASSERT_EQ(sh(std::string(KCC_TOOL) + " compile " + (d / "net.ir").string() + " " + flags + " -o " +
                   (d / "out" / "net").string(),
               d / "kcc.log"),
            0)
      << read_file(d / "kcc.log");
  write_file(d / "app.c", kApp);
  write_file(d / "x.bin", std::string(reinterpret_cast<const char *>(net.x.data()), net.x.size() * 4));
  std::string inc = " -I" + (d / "out").string() + " -I" + KCC_RUNTIME_INC;
  // The header alone, as C++.
  write_file(d / "hdr.cpp", "#include \"net.h\"\nint main() { return net_workspace_size() == 0; }\n");
  ASSERT_EQ(sh(std::string(KCC_CXX) + " -std=c++17 -Wall -Wextra -Werror -fsyntax-only" + inc + " " +
                   (d / "hdr.cpp").string(),
               d / "cxx.log"),
            0)
      << read_file(d / "cxx.log");
  ASSERT_EQ(sh(std::string(KCC_CC) + " -std=c99 -Wall -Wextra -Werror -pedantic" + extra + inc + " " +
                   (d / "app.c").string() + " " + (d / "out" / "net.o").string() + " " + KCC_RUNTIME_LIB +
                   " -lpthread -lm -o " + (d / "app").string(),
               d / "cc.log"),
            0)
      << read_file(d / "cc.log");
  ASSERT_EQ(sh("cd " + d.string() + " && ./app " + args, d / "app.log"), 0) << read_file(d / "app.log");
  std::string out = read_file(d / "out.bin");
  ASSERT_EQ(out.size(), 210u * 4);
  std::vector<float> y(10), p(200);
  std::memcpy(y.data(), out.data(), 40);
  std::memcpy(p.data(), out.data() + 40, 800);
  EXPECT_LE(relative_error(y, net.reference[0]), 1e-4);
  EXPECT_LE(relative_error(p, net.reference[1]), 1e-4);
}

TEST(KccModel, ObjectWithEmbeddedWeightsLinksIntoACProgram) {
  Net net("cli_embedded");
  compile_link_and_run(net, "", "", "");
  EXPECT_FALSE(fs::exists(net.dir / "out" / "net.weights"));
  std::string h = read_file(net.dir / "out" / "net.h");
  EXPECT_NE(h.find("#define KCC_NET_WORKSPACE_BYTES 6400\n"), std::string::npos);
  EXPECT_NE(h.find("int net(const float *x, float *y, float *p);\n"), std::string::npos);
  EXPECT_NE(h.find("int net_run(void *workspace, const float *x, float *y, float *p);\n"), std::string::npos);
  EXPECT_NE(h.find("size_t net_workspace_size(void);\n"), std::string::npos);
}

TEST(KccModel, ExternalWeightsFileAndLoaderRoundTrip) {
  Net net("cli_external");
  compile_link_and_run(net, "--weights external", " -DEXTERNAL", "out/net.weights");
  std::string h = read_file(net.dir / "out" / "net.h");
  EXPECT_NE(h.find("int net(const void *weights, const float *x, float *y, float *p);\n"), std::string::npos);
  EXPECT_NE(h.find("int net_load_weights(const char *path, void **weights);\n"), std::string::npos);
  EXPECT_EQ(fs::file_size(net.dir / "out" / "net.weights"), 11392u);
  // The object holds the code only: the embedded build is larger by about the weights (less
  // the loader it lacks).
  fs::path embedded = net.dir / "embedded";
  ASSERT_EQ(sh(std::string(KCC_TOOL) + " compile " + (net.dir / "net.ir").string() + " -o " + (embedded / "net").string(),
               net.dir / "kcc2.log"),
            0);
  EXPECT_GE(fs::file_size(embedded / "net.o"), fs::file_size(net.dir / "out" / "net.o") + 11392 - 1024);
}

TEST(KccModel, EmitMemoryPrintsThePlan) {
  Net net("cli_memory");
  ASSERT_EQ(sh(std::string(KCC_TOOL) + " compile " + (net.dir / "net.ir").string() + " --emit=memory", net.dir / "m.log"),
            0);
  EXPECT_EQ(read_file(net.dir / "m.log"), to_string(plan_memory(net.model()), net.model()));
}

TEST(KccModel, BadWeightsFlagIsAUsageError) {
  Net net("cli_bad_flag");
  EXPECT_EQ(sh(std::string(KCC_TOOL) + " compile " + (net.dir / "net.ir").string() + " --weights inline",
               net.dir / "e.log"),
            2);
  EXPECT_NE(read_file(net.dir / "e.log").find("--weights takes embed or external, not 'inline'"), std::string::npos);
}

}  // namespace
}  // namespace kcc
