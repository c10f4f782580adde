// Unit tests of the CPU code generator: loop IR built by hand, JIT-compiled and run.
// Inputs are random (never all zeros); outputs are poisoned with NaN / a sentinel first.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "codegen/codegen.h"
#include "codegen/target.h"
#include "ir/diag.h"
#include "ir/expr.h"
#include "ir/kernel.h"
#include "ir/stmt.h"
#include "kcc_runtime.h"

namespace kcc {
namespace {

constexpr float kPoison = std::numeric_limits<float>::quiet_NaN();
constexpr int64_t kPoisonInt = 0x5a5a5a5a5a5a5a5a;

std::vector<float> random_floats(size_t n, float lo, float hi, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto &x : v) x = d(rng);
  return v;
}

std::vector<int64_t> random_ints(size_t n, int64_t lo, int64_t hi, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> d(lo, hi);
  std::vector<int64_t> v(n);
  for (auto &x : v) x = d(rng);
  return v;
}

Buffer f32_arg(const std::string &name, int64_t n, int index) {
  return make_buffer(name, Type::f32(), {n}, MemScope::Global, index);
}
Buffer i64_arg(const std::string &name, int64_t n, int index) {
  return make_buffer(name, Type::i64(), {n}, MemScope::Global, index);
}

Expr ld(const Buffer &b, const Expr &idx) {
  Type t = b->elem.with_lanes(idx.type().lanes);
  return make_load(t, b, idx);
}
Expr ramp(Expr base, int64_t stride, int lanes) { return make_ramp(std::move(base), make_int(stride), lanes); }
Expr bcast(Expr v, int lanes) { return make_broadcast(std::move(v), lanes); }
Expr f(double v) { return make_float(v); }
Expr i(int64_t v) { return make_int(v); }

Stmt loop(const Var &v, int64_t extent, ForKind kind, Stmt body) {
  return make_for(v, i(0), i(extent), kind, std::move(body));
}

/// A JIT-compiled kernel, kept alive with its JIT.
struct Compiled {
  std::unique_ptr<JitModule> jit;
  void *fn = nullptr;
  int operator()(std::vector<void *> args) const { return call_kernel(fn, args); }
};

Compiled compile(const LoweredFunc &func, const std::string &target = "host") {
  CompiledModule m = generate_code({func}, make_target(target), func.name);
  Compiled c;
  c.jit = JitModule::create(std::move(m));
  c.fn = c.jit->lookup(func.name);
  return c;
}

LoweredFunc func(const std::string &name, std::vector<Buffer> args, Stmt body) {
  LoweredFunc f;
  f.name = name;
  f.args = std::move(args);
  f.body = std::move(body);
  return f;
}

// ------------------------------------------------------------------ targets

TEST(Target, KnownTargets) {
  Target avx2 = make_target("x86_64-avx2");
  EXPECT_EQ(avx2.vector_bits, 256);
  EXPECT_EQ(avx2.cpu, "x86-64-v3");
  EXPECT_EQ(avx2.arch, Arch::X86_64);
  Target avx512 = make_target("x86_64-avx512");
  EXPECT_EQ(avx512.vector_bits, 512);
  EXPECT_EQ(avx512.f32_lanes(), 16);
  EXPECT_NE(avx2.key(), avx512.key());
  EXPECT_EQ(avx512.key(), make_target("x86_64-avx512").key());  // stable
  EXPECT_GE(avx512.cores, 1);
}

TEST(Target, HostIsDetected) {
  Target h = make_target("host");
  EXPECT_FALSE(h.cpu.empty());
  EXPECT_NE(h.features.find("+sse2"), std::string::npos);
  bool avx512 = h.features.find("+avx512f") != std::string::npos;
  EXPECT_EQ(h.vector_bits, avx512 ? 512 : h.features.find("+avx2") != std::string::npos ? 256 : 128);
  EXPECT_GT(h.l1_bytes, 0);
  EXPECT_GE(h.l2_bytes, h.l1_bytes);
  EXPECT_EQ(h.key(), make_target("host").key());
}

TEST(Target, CpuAndFeatureOverrides) {
  Target t = make_target("x86_64-avx512", "skylake-avx512");
  EXPECT_EQ(t.cpu, "skylake-avx512");
  EXPECT_EQ(t.vector_bits, 512);
  Target n = make_target("x86_64-avx512", "", "-avx512f");
  EXPECT_EQ(n.vector_bits, 256);  // capped by what the features allow
  EXPECT_NE(n.features.find("-avx512f"), std::string::npos);
}

TEST(Target, UnknownTargetNamesTheKnownOnes) {
  try {
    make_target("x86_64-avx1024");
    FAIL() << "no error";
  } catch (const UserError &e) {
    EXPECT_NE(e.message().find("unknown target 'x86_64-avx1024'"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("x86_64-avx2"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("host"), std::string::npos) << e.message();
  }
}

TEST(Target, UnknownCpuIsAUserError) { EXPECT_THROW(make_target("host", "pentium9000"), UserError); }

// ------------------------------------------------------------------ loops and memory

TEST(Codegen, ScalarElementwise) {
  const int64_t n = 1003;
  Buffer A = f32_arg("A", n, 0), B = f32_arg("B", n, 1), C = f32_arg("C", n, 2);
  Var x = make_var("x");
  Stmt body = loop(x, n, ForKind::Serial, make_store(C, var(x), ld(A, var(x)) * ld(B, var(x)) + ld(A, var(x))));
  auto k = compile(func("ew", {A, B, C}, body));
  auto a = random_floats(n, -2, 2, 1), b = random_floats(n, -2, 2, 2);
  std::vector<float> c(n, kPoison);
  ASSERT_EQ(k({a.data(), b.data(), c.data()}), 0);
  for (int64_t j = 0; j < n; ++j) ASSERT_NEAR(c[j], a[j] * b[j] + a[j], 1e-5f) << j;
}

void check_vector_contiguous(int lanes) {
  const int64_t n = 64 * lanes;
  Buffer A = f32_arg("A", n, 0), B = f32_arg("B", n, 1), C = f32_arg("C", n, 2);
  Var x = make_var("xo");
  Expr idx = ramp(var(x) * lanes, 1, lanes);
  Stmt body = loop(x, n / lanes, ForKind::Serial,
                   make_store(C, idx, ld(A, idx) * ld(B, idx) + bcast(f(1.5), lanes)));
  auto k = compile(func("vec" + std::to_string(lanes), {A, B, C}, body));
  auto a = random_floats(n, -2, 2, 3), b = random_floats(n, -2, 2, 4);
  std::vector<float> c(n, kPoison);
  ASSERT_EQ(k({a.data(), b.data(), c.data()}), 0);
  for (int64_t j = 0; j < n; ++j) ASSERT_NEAR(c[j], a[j] * b[j] + 1.5f, 1e-5f) << j;
}

TEST(Codegen, VectorContiguous16) { check_vector_contiguous(16); }
TEST(Codegen, VectorContiguous8) { check_vector_contiguous(8); }

TEST(Codegen, VectorIndexWrittenAsSumOfRampAndBroadcast) {
  // C[ramp(x*8) + broadcast(8)] = A[ramp(x*8)]: a shifted copy whose index is not a bare Ramp.
  const int64_t n = 128;
  Buffer A = f32_arg("A", n, 0), C = f32_arg("C", n + 8, 1);
  Var x = make_var("x");
  Stmt body = loop(x, n / 8, ForKind::Serial,
                   make_store(C, ramp(var(x) * 8, 1, 8) + bcast(i(8), 8), ld(A, ramp(var(x) * 8, 1, 8))));
  auto k = compile(func("shift", {A, C}, body));
  auto a = random_floats(n, -2, 2, 5);
  std::vector<float> c(n + 8, kPoison);
  ASSERT_EQ(k({a.data(), c.data()}), 0);
  for (int64_t j = 0; j < n; ++j) ASSERT_EQ(c[j + 8], a[j]) << j;
  for (int64_t j = 0; j < 8; ++j) ASSERT_TRUE(std::isnan(c[j]));
}

TEST(Codegen, StridedGatherLoadAndScatterStore) {
  // B[r*8 .. +8] = A[ramp(r, 16, 8)] (a transpose of a 8x16 matrix), then
  // C[ramp(r, 16, 8)] = B[r*8 .. +8] (scatter back): C == A.
  const int64_t rows = 8, cols = 16;
  Buffer A = f32_arg("A", rows * cols, 0), B = f32_arg("B", rows * cols, 1), C = f32_arg("C", rows * cols, 2);
  Var r = make_var("r"), s = make_var("s");
  Stmt gather = loop(r, cols, ForKind::Serial, make_store(B, ramp(var(r) * rows, 1, 8), ld(A, ramp(var(r), cols, 8))));
  Stmt scatter = loop(s, cols, ForKind::Serial, make_store(C, ramp(var(s), cols, 8), ld(B, ramp(var(s) * rows, 1, 8))));
  auto k = compile(func("transpose", {A, B, C}, make_seq({gather, scatter})));
  auto a = random_floats(rows * cols, -2, 2, 6);
  std::vector<float> b(rows * cols, kPoison), c(rows * cols, kPoison);
  ASSERT_EQ(k({a.data(), b.data(), c.data()}), 0);
  for (int64_t y = 0; y < rows; ++y)
    for (int64_t x = 0; x < cols; ++x) {
      ASSERT_EQ(b[x * rows + y], a[y * cols + x]);
      ASSERT_EQ(c[y * cols + x], a[y * cols + x]);
    }
}

TEST(Codegen, GeneralVectorIndexGather) {
  // C[x*8 .. +8] = A[I[x*8 .. +8]]: indices loaded from memory.
  const int64_t n = 64, m = 100;
  Buffer A = f32_arg("A", m, 0), I = i64_arg("I", n, 1), C = f32_arg("C", n, 2);
  Var x = make_var("x");
  Expr idx = ramp(var(x) * 8, 1, 8);
  Stmt body = loop(x, n / 8, ForKind::Serial, make_store(C, idx, ld(A, ld(I, idx))));
  auto k = compile(func("indirect", {A, I, C}, body));
  auto a = random_floats(m, -2, 2, 7);
  auto ind = random_ints(n, 0, m - 1, 8);
  std::vector<float> c(n, kPoison);
  ASSERT_EQ(k({a.data(), ind.data(), c.data()}), 0);
  for (int64_t j = 0; j < n; ++j) ASSERT_EQ(c[j], a[ind[j]]) << j;
}

TEST(Codegen, PredicatedStoreLeavesMaskedLanesAlone) {
  // A tail: n = 37 elements stored with 16-lane vectors, lanes past n masked off.
  const int64_t n = 37, padded = 48;
  Buffer A = f32_arg("A", padded, 0), C = f32_arg("C", padded, 1);
  Var x = make_var("x");
  Expr idx = ramp(var(x) * 16, 1, 16);
  Stmt body = loop(x, 3, ForKind::Serial,
                   make_store(C, idx, ld(A, idx) * bcast(f(2.0), 16), idx < bcast(i(n), 16)));
  auto k = compile(func("tail", {A, C}, body));
  auto a = random_floats(padded, -2, 2, 9);
  std::vector<float> c(padded, kPoison);
  ASSERT_EQ(k({a.data(), c.data()}), 0);
  for (int64_t j = 0; j < n; ++j) ASSERT_EQ(c[j], a[j] * 2.0f) << j;
  for (int64_t j = n; j < padded; ++j) ASSERT_TRUE(std::isnan(c[j])) << j;
}

TEST(Codegen, PredicatedScatterAndScalarPredicate) {
  const int64_t n = 32;
  Buffer A = f32_arg("A", n, 0), C = f32_arg("C", n, 1), D = f32_arg("D", n, 2);
  Var x = make_var("x"), y = make_var("y");
  // even lanes of a stride-2 scatter only
  Expr idx = ramp(var(x) * 16, 2, 8);
  Expr lane_ok = make_binary(BinOp::EQ, ramp(i(0), 1, 8) % bcast(i(2), 8), bcast(i(0), 8));
  Stmt s1 = loop(x, 2, ForKind::Serial, make_store(C, idx, ld(A, idx), lane_ok));
  // scalar predicated store: D[y] = A[y] only where A[y] > 0
  Stmt s2 = loop(y, n, ForKind::Serial, make_store(D, var(y), ld(A, var(y)), ld(A, var(y)) > f(0.0)));
  auto k = compile(func("pscatter", {A, C, D}, make_seq({s1, s2})));
  auto a = random_floats(n, -2, 2, 10);
  std::vector<float> c(n, kPoison), d(n, kPoison);
  ASSERT_EQ(k({a.data(), c.data(), d.data()}), 0);
  for (int64_t j = 0; j < n; ++j) {
    bool written = (j % 16) % 4 == 0;  // x*16 + 2*lane with lane even
    if (written) EXPECT_EQ(c[j], a[j]) << j;
    else EXPECT_TRUE(std::isnan(c[j])) << j;
    if (a[j] > 0) EXPECT_EQ(d[j], a[j]) << j;
    else EXPECT_TRUE(std::isnan(d[j])) << j;
  }
}

LoweredFunc rows_kernel(const std::string &name, ForKind outer, ForKind inner, int64_t rows, int64_t cols) {
  Buffer A = f32_arg("A", rows * cols, 0), B = f32_arg("B", cols, 1), C = f32_arg("C", rows * cols, 2);
  Var r = make_var("r"), c = make_var("c");
  Expr at = var(r) * cols + var(c);
  Stmt body = make_for(r, i(0), i(rows), outer,
                       make_for(c, i(0), i(cols), inner,
                                make_store(C, at, ld(A, at) * f(2.0) + ld(B, var(c)))));
  return func(name, {A, B, C}, body);
}

void check_rows(ForKind outer, ForKind inner) {
  const int64_t rows = 37, cols = 45;
  auto k = compile(rows_kernel("rows", outer, inner, rows, cols));
  auto serial = compile(rows_kernel("rows_serial", ForKind::Serial, ForKind::Serial, rows, cols));
  auto a = random_floats(rows * cols, -2, 2, 11), b = random_floats(cols, -2, 2, 12);
  std::vector<float> c(rows * cols, kPoison), ref(rows * cols, kPoison);
  ASSERT_EQ(k({a.data(), b.data(), c.data()}), 0);
  ASSERT_EQ(serial({a.data(), b.data(), ref.data()}), 0);
  for (int64_t j = 0; j < rows * cols; ++j) {
    ASSERT_EQ(c[j], ref[j]) << j;
    ASSERT_NEAR(c[j], a[j] * 2 + b[j % cols], 1e-5f);
  }
}

TEST(Codegen, ParallelLoopMatchesSerial) {
  kcc_set_num_threads(2);
  check_rows(ForKind::Parallel, ForKind::Serial);
  kcc_set_num_threads(0);
}

TEST(Codegen, NestedParallelLoops) {
  kcc_set_num_threads(3);
  check_rows(ForKind::Parallel, ForKind::Parallel);
  kcc_set_num_threads(0);
}

TEST(Codegen, ParallelLoopWithNonZeroMinAndCapturedVariables) {
  // for o in 0..3: parallel p in o*10 .. +10: C[p] = A[p] + o
  Buffer A = f32_arg("A", 30, 0), C = f32_arg("C", 30, 1);
  Var o = make_var("o"), p = make_var("p");
  Stmt inner = make_for(p, var(o) * 10, i(10), ForKind::Parallel,
                        make_store(C, var(p), ld(A, var(p)) + make_cast(Type::f32(), var(o))));
  auto k = compile(func("capture", {A, C}, loop(o, 3, ForKind::Serial, inner)));
  auto a = random_floats(30, -2, 2, 13);
  std::vector<float> c(30, kPoison);
  ASSERT_EQ(k({a.data(), c.data()}), 0);
  for (int j = 0; j < 30; ++j) ASSERT_EQ(c[j], a[j] + float(j / 10)) << j;
}

TEST(Codegen, UnrolledAndVectorizedLoops) {
  const int64_t n = 64;
  Buffer A = f32_arg("A", n, 0), C = f32_arg("C", n, 1);
  Var xo = make_var("xo"), xi = make_var("xi"), xv = make_var("xv");
  Expr at = var(xo) * 16 + var(xi) * 4 + var(xv);
  Stmt body = loop(xo, n / 16, ForKind::Serial,
                   loop(xi, 4, ForKind::Unrolled, loop(xv, 4, ForKind::Vectorized, make_store(C, at, ld(A, at) - f(1.0)))));
  auto k = compile(func("unroll", {A, C}, body));
  auto a = random_floats(n, -2, 2, 14);
  std::vector<float> c(n, kPoison);
  ASSERT_EQ(k({a.data(), c.data()}), 0);
  for (int64_t j = 0; j < n; ++j) ASSERT_EQ(c[j], a[j] - 1.0f) << j;
}

TEST(Codegen, UnrolledLoopNeedsConstantExtent) {
  Buffer A = f32_arg("A", 8, 0), N = i64_arg("N", 1, 1);
  Var x = make_var("x");
  Stmt body = make_for(x, i(0), ld(N, i(0)), ForKind::Unrolled, make_store(A, var(x), f(1.0)));
  EXPECT_THROW(generate_code({func("bad_unroll", {A, N}, body)}, make_target("host")), InternalError);
}

LoweredFunc scratch_kernel(const std::string &name, MemScope scope, int64_t tile) {
  // for t: tmp[k] = A[t*tile+k] * 3; C[t*tile+k] = tmp[k] + tmp[tile-1-k]
  const int64_t tiles = 4;
  Buffer A = f32_arg("A", tiles * tile, 0), C = f32_arg("C", tiles * tile, 1);
  Buffer tmp = make_buffer("tmp", Type::f32(), {tile}, scope);
  Var t = make_var("t"), k1 = make_var("k1"), k2 = make_var("k2");
  Stmt fill = loop(k1, tile, ForKind::Serial, make_store(tmp, var(k1), ld(A, var(t) * tile + var(k1)) * f(3.0)));
  Stmt use = loop(k2, tile, ForKind::Serial,
                  make_store(C, var(t) * tile + var(k2), ld(tmp, var(k2)) + ld(tmp, i(tile - 1) - var(k2))));
  return func(name, {A, C}, loop(t, tiles, ForKind::Serial, make_allocate(tmp, make_seq({fill, use}))));
}

void check_scratch(MemScope scope, int64_t tile) {
  auto k = compile(scratch_kernel("scratch", scope, tile));
  const int64_t n = 4 * tile;
  auto a = random_floats(n, -2, 2, 15);
  std::vector<float> c(n, kPoison);
  ASSERT_EQ(k({a.data(), c.data()}), 0);
  for (int64_t t = 0; t < 4; ++t)
    for (int64_t j = 0; j < tile; ++j)
      ASSERT_NEAR(c[t * tile + j], a[t * tile + j] * 3 + a[t * tile + tile - 1 - j] * 3, 1e-5f);
}

TEST(Codegen, AllocateLocalOnStack) { check_scratch(MemScope::Local, 16); }
TEST(Codegen, AllocateLargeLocalOnHeap) { check_scratch(MemScope::Local, 20000); }  // 80 KB > 64 KiB
TEST(Codegen, AllocateGlobalScratch) { check_scratch(MemScope::Global, 1000); }

TEST(Codegen, AllocateInsideParallelLoop) {
  kcc_set_num_threads(2);
  const int64_t tile = 64, tiles = 16;
  Buffer A = f32_arg("A", tiles * tile, 0), C = f32_arg("C", tiles * tile, 1);
  Buffer loc = make_buffer("loc", Type::f32(), {tile}, MemScope::Local);
  Buffer glob = make_buffer("glob", Type::f32(), {tile}, MemScope::Global);
  Var t = make_var("t"), k1 = make_var("k1"), k2 = make_var("k2");
  Expr at1 = var(t) * tile + var(k1), at2 = var(t) * tile + var(k2);
  Stmt body = make_allocate(
      loc, make_allocate(glob, make_seq({loop(k1, tile, ForKind::Serial,
                                              make_seq({make_store(loc, var(k1), ld(A, at1) + f(1.0)),
                                                        make_store(glob, var(k1), ld(A, at1) * f(2.0))})),
                                         loop(k2, tile, ForKind::Serial,
                                              make_store(C, at2, ld(loc, var(k2)) + ld(glob, var(k2))))})));
  auto k = compile(func("par_alloc", {A, C}, loop(t, tiles, ForKind::Parallel, body)));
  auto a = random_floats(tiles * tile, -2, 2, 16);
  std::vector<float> c(tiles * tile, kPoison);
  ASSERT_EQ(k({a.data(), c.data()}), 0);
  for (int64_t j = 0; j < tiles * tile; ++j) ASSERT_NEAR(c[j], a[j] * 3 + 1, 1e-5f) << j;
  kcc_set_num_threads(0);
}

TEST(Codegen, OutOfMemoryIsReturnedNotCrashed) {
  // 2^58 floats cannot be allocated: the kernel returns KCC_ERR_OUT_OF_MEMORY, also from inside
  // a parallel loop, and stores nothing after the failure.
  Buffer C = f32_arg("C", 4, 0);
  Buffer huge = make_buffer("huge", Type::f32(), {int64_t(1) << 58}, MemScope::Global);
  Var t = make_var("t");
  Stmt use = make_allocate(huge, make_store(huge, i(0), f(1.0)));
  Stmt serial = make_seq({make_store(C, i(0), f(5.0)), use, make_store(C, i(1), f(6.0))});
  auto k1 = compile(func("oom", {C}, serial));
  std::vector<float> c(4, kPoison);
  EXPECT_EQ(k1({c.data()}), KCC_ERR_OUT_OF_MEMORY);
  EXPECT_EQ(c[0], 5.0f);
  EXPECT_TRUE(std::isnan(c[1]));

  kcc_set_num_threads(2);
  Buffer small = make_buffer("small", Type::f32(), {100}, MemScope::Global);
  Stmt par = loop(t, 8, ForKind::Parallel, make_allocate(small, make_allocate(huge, make_store(huge, i(0), f(1.0)))));
  auto k2 = compile(func("oom_par", {C}, make_seq({par, make_store(C, i(2), f(7.0))})));
  std::vector<float> d(4, kPoison);
  EXPECT_EQ(k2({d.data()}), KCC_ERR_OUT_OF_MEMORY);
  EXPECT_TRUE(std::isnan(d[2]));
  kcc_set_num_threads(0);
}

// ------------------------------------------------------------------ code size linear in stages
// Deterministic guards for compile time (bench/compile_time): what the generator emits for a
// chain of N stages must grow like N, so these count constructs in the unoptimized IR.

size_t count(const std::string &text, const std::string &what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

/// T1 = A + 1; T2 = T1 + 1; ...; C = T{stages-1} + 1, each stage a root loop over n elements
/// into a Global intermediate allocated at the top, as hoist-allocations leaves it.
LoweredFunc chain_kernel(int stages, int64_t n, ForKind kind) {
  Buffer A = f32_arg("A", n, 0), C = f32_arg("C", n, 1);
  std::vector<Buffer> tmp;
  for (int s = 1; s < stages; ++s)
    tmp.push_back(make_buffer("T" + std::to_string(s), Type::f32(), {n}, MemScope::Global));
  std::vector<Stmt> roots;
  for (int s = 0; s < stages; ++s) {
    Var x = make_var("x");
    const Buffer &src = s == 0 ? A : tmp[s - 1];
    const Buffer &dst = s == stages - 1 ? C : tmp[s];
    roots.push_back(loop(x, n, kind, make_store(dst, var(x), ld(src, var(x)) + f(1.0))));
  }
  Stmt body = make_seq(roots);
  for (auto it = tmp.rbegin(); it != tmp.rend(); ++it) body = make_allocate(*it, body);
  return func("chain", {A, C}, body);
}

TEST(CodegenScaling, ChainIntermediatesShareOneArenaOfTheLiveBuffers) {
  // 63 intermediates of 1 KiB, at most two live at once: one kcc_alloc of 2 KiB, one free.
  const int64_t n = 256;
  std::string ir = generate_code({chain_kernel(64, n, ForKind::Serial)}, make_target("host")).llvm_ir();
  EXPECT_EQ(count(ir, "@kcc_alloc(i64 "), 1u) << ir;
  EXPECT_NE(ir.find("@kcc_alloc(i64 2048)"), std::string::npos) << ir;
  EXPECT_EQ(count(ir, "call void @kcc_free("), 1u) << ir;
}

TEST(CodegenScaling, ChainWithSharedMemoryComputesTheSameValues) {
  kcc_set_num_threads(2);
  const int64_t n = 100;
  for (int stages : {40, 150})  // 150: in three parts, buffers live across their boundaries
    for (ForKind kind : {ForKind::Serial, ForKind::Parallel}) {
      auto k = compile(chain_kernel(stages, n, kind));
      auto a = random_floats(n, -2, 2, 30);
      std::vector<float> c(n, kPoison);
      ASSERT_EQ(k({a.data(), c.data()}), 0);
      for (int64_t j = 0; j < n; ++j) ASSERT_NEAR(c[j], a[j] + stages, 1e-3f) << stages << " " << j;
    }
  kcc_set_num_threads(0);
}

TEST(CodegenScaling, LongChainIsSplitIntoFunctionsOfBoundedSize) {
  // 64 root statements per function: 200 stages are four noinline parts called from the kernel.
  std::string ir = generate_code({chain_kernel(200, 16, ForKind::Serial)}, make_target("host")).llvm_ir();
  EXPECT_EQ(count(ir, "define internal i32 @chain.part."), 4u) << ir;
  EXPECT_EQ(count(ir, "call i32 @chain.part."), 4u) << ir;
  std::string small = generate_code({chain_kernel(64, 16, ForKind::Serial)}, make_target("host")).llvm_ir();
  EXPECT_EQ(small.find("@chain.part."), std::string::npos) << small;
}

TEST(CodegenScaling, NoaliasListsHoldTheBuffersOfOneLoopNest) {
  // Each stage touches two buffers, so every noalias list has one scope, however long the chain.
  for (ForKind kind : {ForKind::Serial, ForKind::Parallel}) {
    std::string ir = generate_code({chain_kernel(64, 16, kind)}, make_target("host")).llvm_ir();
    EXPECT_NE(ir.find("!noalias"), std::string::npos) << ir;
    size_t longest = 0;
    for (size_t at = ir.find("\n!"); at != std::string::npos; at = ir.find("\n!", at + 1)) {
      size_t end = ir.find('\n', at + 1);
      longest = std::max(longest, count(ir.substr(at, end - at), ", !"));
    }
    EXPECT_LE(longest, 2u) << ir;  // a scope node is {self, domain, name}: two ", !" at most
  }
}

TEST(CodegenScaling, FailurePathsShareOneChainOfFrees) {
  // Inside one loop body, 32 nested heap buffers, each followed by a parallel loop that can fail:
  // one free per buffer on the normal path and one in the cleanup chain, not 32 * 33 / 2.
  const int depth = 32;
  Buffer A = f32_arg("A", 4, 0), C = f32_arg("C", 4, 1);
  std::vector<Buffer> bufs;
  for (int d = 0; d < depth; ++d) bufs.push_back(make_buffer("H" + std::to_string(d), Type::f32(), {4}, MemScope::Global));
  Var p = make_var("p");
  Stmt inner = make_store(C, var(p), ld(A, var(p)));
  for (int d = depth - 1; d >= 0; --d) {
    Var q = make_var("q" + std::to_string(d));
    Stmt use = loop(q, 4, ForKind::Parallel, make_store(bufs[d], var(q), ld(A, var(q))));
    inner = make_allocate(bufs[d], make_seq({use, inner}));
  }
  Var t = make_var("t");
  LoweredFunc fn = func("nested_heap", {A, C}, loop(t, 1, ForKind::Serial, loop(p, 4, ForKind::Serial, inner)));
  std::string ir = generate_code({fn}, make_target("host")).llvm_ir();
  EXPECT_EQ(count(ir, "call void @kcc_free("), 2u * depth) << ir;
  auto k = compile(fn);
  auto a = random_floats(4, -2, 2, 31);
  std::vector<float> c(4, kPoison);
  kcc_set_num_threads(2);
  ASSERT_EQ(k({a.data(), c.data()}), 0);
  kcc_set_num_threads(0);
  for (int j = 0; j < 4; ++j) EXPECT_EQ(c[j], a[j]);
}

// ------------------------------------------------------------------ argument checks

TEST(Codegen, NullArgumentIsReturnedBeforeAnyWork) {
  // C = A * B; NULL for each argument in turn: KCC_ERR_NULL_ARGUMENT, and C is not written.
  const int64_t n = 16;
  Buffer A = f32_arg("A", n, 0), B = f32_arg("B", n, 1), C = f32_arg("C", n, 2);
  Var x = make_var("x");
  kcc_set_num_threads(2);
  for (ForKind kind : {ForKind::Serial, ForKind::Parallel}) {
    auto k = compile(func("mul", {A, B, C}, loop(x, n, kind, make_store(C, var(x), ld(A, var(x)) * ld(B, var(x))))));
    auto a = random_floats(n, -2, 2, 40), b = random_floats(n, -2, 2, 41);
    for (int null_at = 0; null_at < 3; ++null_at) {
      std::vector<float> c(n, kPoison);
      std::vector<void *> args{a.data(), b.data(), c.data()};
      args[null_at] = nullptr;
      EXPECT_EQ(k(args), KCC_ERR_NULL_ARGUMENT) << null_at;
      for (float v : c) ASSERT_TRUE(std::isnan(v)) << null_at;
    }
    std::vector<float> c(n, kPoison);
    ASSERT_EQ(k({a.data(), b.data(), c.data()}), 0);
    for (int64_t j = 0; j < n; ++j) ASSERT_EQ(c[j], a[j] * b[j]);
  }
  kcc_set_num_threads(0);
  EXPECT_STREQ(kcc_error_string(KCC_ERR_NULL_ARGUMENT), "null argument");
}

TEST(Codegen, NullCheckSurvivesOptimization) {
  // The arguments are dereferenceable_or_null, not dereferenceable (which implies nonnull and
  // would let O3 delete the check).
  const int64_t n = 16;
  Buffer A = f32_arg("A", n, 0), C = f32_arg("C", n, 1);
  Var x = make_var("x");
  CompiledModule m =
      generate_code({func("copy", {A, C}, loop(x, n, ForKind::Serial, make_store(C, var(x), ld(A, var(x)))))},
                    make_target("host"));
  m.optimize();
  std::string ir = m.llvm_ir();
  EXPECT_NE(ir.find("dereferenceable_or_null(64) %A"), std::string::npos) << ir;
  EXPECT_NE(ir.find("icmp eq ptr %A, null"), std::string::npos) << ir;
  EXPECT_NE(ir.find("icmp eq ptr %C, null"), std::string::npos) << ir;
}

TEST(Codegen, IfThenElse) {
  const int64_t n = 50;
  Buffer A = f32_arg("A", n, 0), C = f32_arg("C", n, 1);
  Var x = make_var("x");
  Stmt body = loop(x, n, ForKind::Serial,
                   make_if(var(x) < i(20), make_store(C, var(x), ld(A, var(x))),
                           make_store(C, var(x), ld(A, var(x)) * f(-1.0))));
  auto k = compile(func("ite", {A, C}, make_seq({body, make_barrier()})));
  auto a = random_floats(n, -2, 2, 17);
  std::vector<float> c(n, kPoison);
  ASSERT_EQ(k({a.data(), c.data()}), 0);
  for (int64_t j = 0; j < n; ++j) ASSERT_EQ(c[j], j < 20 ? a[j] : -a[j]) << j;
}

TEST(Codegen, SelectScalarAndVector) {
  const int64_t n = 64;
  Buffer A = f32_arg("A", n, 0), B = f32_arg("B", n, 1), C = f32_arg("C", n, 2), D = f32_arg("D", n, 3);
  Var x = make_var("x"), y = make_var("y");
  Expr v = ramp(var(y) * 16, 1, 16);
  Stmt s1 = loop(x, n, ForKind::Serial,
                 make_store(C, var(x), make_select(ld(A, var(x)) > f(0.0), ld(A, var(x)), ld(B, var(x)) * f(0.5))));
  Stmt s2 = loop(y, n / 16, ForKind::Serial,
                 make_store(D, v, make_select(ld(A, v) > ld(B, v), ld(A, v), ld(B, v))));
  auto k = compile(func("sel", {A, B, C, D}, make_seq({s1, s2})));
  auto a = random_floats(n, -2, 2, 18), b = random_floats(n, -2, 2, 19);
  std::vector<float> c(n, kPoison), d(n, kPoison);
  ASSERT_EQ(k({a.data(), b.data(), c.data(), d.data()}), 0);
  for (int64_t j = 0; j < n; ++j) {
    ASSERT_EQ(c[j], a[j] > 0 ? a[j] : b[j] * 0.5f) << j;
    ASSERT_EQ(d[j], std::max(a[j], b[j])) << j;
  }
}

TEST(Codegen, MinMaxAndCasts) {
  const int64_t n = 32;
  Buffer A = f32_arg("A", n, 0), C = f32_arg("C", n, 1), I = i64_arg("I", n, 2);
  Var x = make_var("x");
  Expr a = ld(A, var(x));
  Stmt body = loop(x, n, ForKind::Serial,
                   make_seq({make_store(C, var(x), max(min(a, f(1.0)), f(-0.5))),
                             make_store(I, var(x), make_cast(Type::i64(), a * f(10.0)))}));
  auto k = compile(func("minmax", {A, C, I}, body));
  auto av = random_floats(n, -2, 2, 20);
  std::vector<float> c(n, kPoison);
  std::vector<int64_t> iv(n, kPoisonInt);
  ASSERT_EQ(k({av.data(), c.data(), iv.data()}), 0);
  for (int64_t j = 0; j < n; ++j) {
    ASSERT_EQ(c[j], std::max(std::min(av[j], 1.0f), -0.5f));
    ASSERT_EQ(iv[j], static_cast<int64_t>(av[j] * 10.0f));  // truncation toward zero
  }
}

TEST(Codegen, BoolBuffersAndLogic) {
  // M[x] = A[x] > 0 and not (B[x] > 0) (stored as bytes); C[x] = float(M[x] or A[x] < -1)
  const int64_t n = 48;
  Buffer A = f32_arg("A", n, 0), B = f32_arg("B", n, 1), C = f32_arg("C", n, 3);
  Buffer M = make_buffer("M", Type::boolean(), {n}, MemScope::Global, 2);
  Var x = make_var("x"), y = make_var("y");
  Expr v = ramp(var(y) * 16, 1, 16);
  Stmt s1 = loop(x, n, ForKind::Serial,
                 make_store(M, var(x), ld(A, var(x)) > f(0.0) && make_unary(UnOp::Not, ld(B, var(x)) > f(0.0))));
  Stmt s2 = loop(y, n / 16, ForKind::Serial,
                 make_store(C, v, make_cast(Type::f32(16), ld(M, v) || ld(A, v) < bcast(f(-1.0), 16))));
  auto k = compile(func("logic", {A, B, M, C}, make_seq({s1, s2})));
  auto a = random_floats(n, -2, 2, 30), b = random_floats(n, -2, 2, 31);
  std::vector<uint8_t> m(n, 0x5a);
  std::vector<float> c(n, kPoison);
  ASSERT_EQ(k({a.data(), b.data(), m.data(), c.data()}), 0);
  for (int64_t j = 0; j < n; ++j) {
    bool want = a[j] > 0 && !(b[j] > 0);
    ASSERT_EQ(m[j], want ? 1 : 0) << j;
    ASSERT_EQ(c[j], (want || a[j] < -1) ? 1.0f : 0.0f) << j;
  }
}

// ------------------------------------------------------------------ integer floor division

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
int64_t floor_mod(int64_t a, int64_t b) { return a - floor_div(a, b) * b; }

TEST(Codegen, FloorDivModScalar) {
  const int64_t n = 200;
  Buffer X = i64_arg("X", n, 0), Y = i64_arg("Y", n, 1);
  std::vector<Buffer> outs;
  for (int j = 0; j < 6; ++j) outs.push_back(i64_arg("O" + std::to_string(j), n, 2 + j));
  Var x = make_var("x");
  Expr a = ld(X, var(x)), d = ld(Y, var(x));
  Stmt body = loop(x, n, ForKind::Serial,
                   make_seq({make_store(outs[0], var(x), a / i(3)), make_store(outs[1], var(x), a % i(3)),
                             make_store(outs[2], var(x), a / i(4)), make_store(outs[3], var(x), a % i(4)),
                             make_store(outs[4], var(x), a / d), make_store(outs[5], var(x), a % d)}));
  std::vector<Buffer> args{X, Y};
  args.insert(args.end(), outs.begin(), outs.end());
  auto k = compile(func("floordiv", args, body));
  auto xv = random_ints(n, -50, 50, 21);
  auto yv = random_ints(n, -7, 7, 22);
  for (auto &v : yv)
    if (v == 0) v = 5;
  std::vector<std::vector<int64_t>> o(6, std::vector<int64_t>(n, kPoisonInt));
  std::vector<void *> ptrs{xv.data(), yv.data()};
  for (auto &v : o) ptrs.push_back(v.data());
  ASSERT_EQ(k(ptrs), 0);
  for (int64_t j = 0; j < n; ++j) {
    ASSERT_EQ(o[0][j], floor_div(xv[j], 3)) << xv[j];
    ASSERT_EQ(o[1][j], floor_mod(xv[j], 3)) << xv[j];
    ASSERT_EQ(o[2][j], floor_div(xv[j], 4)) << xv[j];
    ASSERT_EQ(o[3][j], floor_mod(xv[j], 4)) << xv[j];
    ASSERT_EQ(o[4][j], floor_div(xv[j], yv[j])) << xv[j] << " / " << yv[j];
    ASSERT_EQ(o[5][j], floor_mod(xv[j], yv[j])) << xv[j] << " % " << yv[j];
  }
  EXPECT_EQ(floor_div(-7, 2), -4);  // the reference itself follows ir/expr.h
  EXPECT_EQ(floor_mod(-7, 2), 1);
}

TEST(Codegen, FloorDivModVector) {
  const int64_t n = 64;
  Buffer X = i64_arg("X", n, 0), Q = i64_arg("Q", n, 1), R = i64_arg("R", n, 2);
  Var x = make_var("x");
  Expr v = ramp(var(x) * 8, 1, 8);
  Stmt body = loop(x, n / 8, ForKind::Serial,
                   make_seq({make_store(Q, v, ld(X, v) / bcast(i(5), 8)), make_store(R, v, ld(X, v) % bcast(i(8), 8))}));
  auto k = compile(func("floordiv_vec", {X, Q, R}, body));
  auto xv = random_ints(n, -100, 100, 23);
  std::vector<int64_t> q(n, kPoisonInt), r(n, kPoisonInt);
  ASSERT_EQ(k({xv.data(), q.data(), r.data()}), 0);
  for (int64_t j = 0; j < n; ++j) {
    ASSERT_EQ(q[j], floor_div(xv[j], 5)) << xv[j];
    ASSERT_EQ(r[j], floor_mod(xv[j], 8)) << xv[j];
  }
}

// ------------------------------------------------------------------ math functions

struct MathCase {
  MathFn fn;
  float lo, hi;
  double rel_tol;
  std::function<float(float, float)> ref;
};

void check_math(const MathCase &mc, int lanes) {
  const int64_t n = 256;
  Buffer A = f32_arg("A", n, 0), B = f32_arg("B", n, 1), C = f32_arg("C", n, 2);
  Var x = make_var("x");
  Expr idx = lanes == 1 ? var(x) : ramp(var(x) * lanes, 1, lanes);
  std::vector<Expr> args{ld(A, idx)};
  if (arity(mc.fn) == 2) args.push_back(ld(B, idx));
  Stmt body = loop(x, n / lanes, ForKind::Serial, make_store(C, idx, make_call(mc.fn, args)));
  std::string name = std::string("m_") + to_string(mc.fn) + "_" + std::to_string(lanes);
  auto k = compile(func(name, {A, B, C}, body));
  auto a = random_floats(n, mc.lo, mc.hi, 24 + static_cast<unsigned>(mc.fn));
  auto b = random_floats(n, -3, 3, 99);
  std::vector<float> c(n, kPoison);
  ASSERT_EQ(k({a.data(), b.data(), c.data()}), 0);
  for (int64_t j = 0; j < n; ++j) {
    double want = mc.ref(a[j], b[j]);
    double tol = mc.rel_tol * std::max(1.0, std::fabs(want));
    ASSERT_NEAR(c[j], want, tol) << to_string(mc.fn) << "(" << a[j] << ", " << b[j] << ") lanes " << lanes;
  }
}

std::vector<MathCase> math_cases() {
  return {
      {MathFn::exp, -20, 20, 3e-7, [](float x, float) { return std::exp(x); }},
      {MathFn::log, 0.01f, 100, 1e-6, [](float x, float) { return std::log(x); }},
      {MathFn::sqrt, 0, 100, 1e-6, [](float x, float) { return std::sqrt(x); }},
      {MathFn::rsqrt, 0.01f, 100, 1e-6, [](float x, float) { return 1.0f / std::sqrt(x); }},
      {MathFn::tanh, -10, 10, 1e-6, [](float x, float) { return std::tanh(x); }},
      {MathFn::sigmoid, -20, 20, 1e-6, [](float x, float) { return 1.0f / (1.0f + std::exp(-x)); }},
      {MathFn::erf, -4, 4, 1e-6, [](float x, float) { return std::erf(x); }},
      {MathFn::abs, -5, 5, 0, [](float x, float) { return std::fabs(x); }},
      {MathFn::floor, -5, 5, 0, [](float x, float) { return std::floor(x); }},
      {MathFn::ceil, -5, 5, 0, [](float x, float) { return std::ceil(x); }},
      {MathFn::pow, 0.1f, 10, 1e-6, [](float x, float y) { return std::pow(x, y); }},
  };
}

TEST(CodegenMath, ScalarAgainstLibm) {
  for (const auto &mc : math_cases()) check_math(mc, 1);
}
TEST(CodegenMath, Vector16AgainstLibm) {
  for (const auto &mc : math_cases()) check_math(mc, 16);
}
TEST(CodegenMath, Vector8AgainstLibm) {
  for (const auto &mc : math_cases()) check_math(mc, 8);
}

TEST(CodegenMath, ExpAndTanhEdgeCases) {
  const float in[16] = {0.0f, -0.0f, 88.0f, 88.7f, 89.0f, 200.0f, -87.0f, -100.0f, -104.0f, -200.0f,
                        std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                        kPoison, 1e-6f, -1e-6f, 0.6f};
  Buffer A = f32_arg("A", 16, 0), E = f32_arg("E", 16, 1), T = f32_arg("T", 16, 2);
  Expr v = ramp(i(0), 1, 16);
  Stmt body = make_seq({make_store(E, v, make_call(MathFn::exp, {ld(A, v)})),
                        make_store(T, v, make_call(MathFn::tanh, {ld(A, v)}))});
  auto k = compile(func("edges", {A, E, T}, body));
  std::vector<float> e(16, kPoison), t(16, kPoison);
  ASSERT_EQ(k({const_cast<float *>(in), e.data(), t.data()}), 0);
  for (int j = 0; j < 16; ++j) {
    float we = std::exp(in[j]), wt = std::tanh(in[j]);
    if (std::isnan(we)) {
      EXPECT_TRUE(std::isnan(e[j])) << in[j];
      EXPECT_TRUE(std::isnan(t[j])) << in[j];
      continue;
    }
    if (std::isinf(we) || we == 0.0f) EXPECT_EQ(e[j], we) << in[j];
    else EXPECT_NEAR(e[j], we, std::max(3e-7 * we, 2e-45)) << in[j];
    EXPECT_NEAR(t[j], wt, 1e-6 * std::max(1e-6f, std::fabs(wt))) << in[j];
  }
}

/// Dense sweeps of the inline f32 functions against libm in double precision.
TEST(CodegenMath, InlineFunctionsAccuracySweep) {
  const int64_t n = 16 * 1024;
  Buffer A = f32_arg("A", n, 0);
  std::vector<Buffer> outs{f32_arg("E", n, 1), f32_arg("T", n, 2), f32_arg("S", n, 3), f32_arg("R", n, 4)};
  Var x = make_var("x");
  Expr idx = ramp(var(x) * 16, 1, 16);
  MathFn fns[] = {MathFn::exp, MathFn::tanh, MathFn::sigmoid, MathFn::erf};
  std::vector<Stmt> stores;
  for (int j = 0; j < 4; ++j) stores.push_back(make_store(outs[j], idx, make_call(fns[j], {ld(A, idx)})));
  auto k = compile(func("sweep", {A, outs[0], outs[1], outs[2], outs[3]},
                        loop(x, n / 16, ForKind::Serial, make_seq(stores))));
  std::vector<float> a(n);
  for (int64_t j = 0; j < n; ++j) a[j] = -87.0f + 175.0f * float(j) / float(n - 1);  // [-87, 88]
  // a second, finer pass near zero where relative accuracy is hardest
  for (int64_t j = 0; j < n / 4; ++j) a[j] = -2.0f + 4.0f * float(j) / float(n / 4 - 1);
  std::vector<std::vector<float>> o(4, std::vector<float>(n, kPoison));
  ASSERT_EQ(k({a.data(), o[0].data(), o[1].data(), o[2].data(), o[3].data()}), 0);
  double worst[4] = {0, 0, 0, 0};
  for (int64_t j = 0; j < n; ++j) {
    double v = a[j];
    double want[4] = {std::exp(v), std::tanh(v), 1.0 / (1.0 + std::exp(-v)), std::erf(v)};
    for (int f = 0; f < 4; ++f) {
      double err = std::fabs(o[f][j] - want[f]);
      // relative for exp/tanh/sigmoid (normal results), absolute for erf (documented so)
      double scale = f == 3 ? 1.0 : std::max(std::fabs(want[f]), 1e-30);
      if (f == 2 && want[f] < 1e-37) continue;  // denormal sigmoid tails
      worst[f] = std::max(worst[f], err / scale);
    }
  }
  EXPECT_LT(worst[0], 3e-7) << "exp";
  EXPECT_LT(worst[1], 1e-6) << "tanh";
  EXPECT_LT(worst[2], 1e-6) << "sigmoid";
  EXPECT_LT(worst[3], 5e-7) << "erf";
  std::printf("max error: exp %.2e (rel), tanh %.2e (rel), sigmoid %.2e (rel), erf %.2e (abs)\n", worst[0],
              worst[1], worst[2], worst[3]);
}

TEST(CodegenMath, LogSweepAndSpecialValues) {
  const int64_t n = 16 * 1024;
  Buffer A = f32_arg("A", n, 0), L = f32_arg("L", n, 1);
  Var x = make_var("x");
  Expr idx = ramp(var(x) * 16, 1, 16);
  auto k = compile(func("logsweep", {A, L}, loop(x, n / 16, ForKind::Serial,
                                                  make_store(L, idx, make_call(MathFn::log, {ld(A, idx)})))));
  std::vector<float> a(n);
  const float inf = std::numeric_limits<float>::infinity();
  const float specials[] = {0.0f, -0.0f, -1.0f, inf, -inf, kPoison, 1e-40f, 1.4e-45f, 1.0f, 1.17549435e-38f};
  const int ns = sizeof(specials) / sizeof(specials[0]);
  for (int j = 0; j < ns; ++j) a[j] = specials[j];
  for (int64_t j = ns; j < n / 2; ++j) a[j] = std::pow(10.0f, -37.0f + 74.0f * float(j) / float(n / 2));  // wide range
  for (int64_t j = n / 2; j < n; ++j) a[j] = 0.5f + 1.5f * float(j - n / 2) / float(n / 2);              // near 1
  std::vector<float> l(n, kPoison);
  ASSERT_EQ(k({a.data(), l.data()}), 0);
  for (int j = 0; j < ns; ++j) {
    float want = std::log(a[j]);
    if (std::isnan(want)) EXPECT_TRUE(std::isnan(l[j])) << a[j];
    else if (std::isinf(want)) EXPECT_EQ(l[j], want) << a[j];
    else EXPECT_NEAR(l[j], want, 2e-7 * std::fabs(want) + 1e-7) << a[j];
  }
  double worst = 0;
  for (int64_t j = ns; j < n; ++j) {
    double want = std::log(double(a[j]));
    worst = std::max(worst, std::fabs(l[j] - want) / std::max(std::fabs(want), 0.5));
  }
  EXPECT_LT(worst, 2e-7);
  std::printf("log max error %.2e\n", worst);
}

// ------------------------------------------------------------------ errors and output files

TEST(Codegen, VerifierFailureIsAnInternalError) {
  // A Binary node built by hand with operands of different types (make_binary would refuse):
  // the generator emits it as is and the LLVM verifier must catch it.
  Buffer A = f32_arg("A", 4, 0);
  Var x = make_var("x");
  Expr bad(std::make_shared<Binary>(Type::f32(), BinOp::Add, ld(A, var(x)), var(x)));
  Stmt body = loop(x, 4, ForKind::Serial, make_store(A, var(x), bad));
  try {
    generate_code({func("broken", {A}, body)}, make_target("host"));
    FAIL() << "no error";
  } catch (const InternalError &e) {
    std::string m = e.what();
    EXPECT_NE(m.find("verifier"), std::string::npos) << m;
    EXPECT_NE(m.find("broken"), std::string::npos) << m;
    EXPECT_NE(m.find("for (x"), std::string::npos) << m;  // the loop IR is printed
  }
}

TEST(Codegen, AccessAndSharedMemoryAreInternalErrors) {
  Buffer A = f32_arg("A", 4, 0);
  Buffer sh = make_buffer("sh", Type::f32(), {4}, MemScope::Shared);
  Stmt s = make_allocate(sh, make_store(sh, i(0), f(1.0)));
  EXPECT_THROW(generate_code({func("shared", {A}, s)}, make_target("host")), InternalError);
  auto decl = std::make_shared<TensorDecl>();
  decl->name = "X";
  decl->shape = {4};
  Stmt acc = make_store(A, i(0), make_access(decl, {i(1)}));
  EXPECT_THROW(generate_code({func("access", {A}, acc)}, make_target("host")), InternalError);
  Var g = make_var("g");
  Stmt gpu = make_for(g, i(0), i(4), ForKind::GpuThread, make_store(A, var(g), f(1.0)));
  EXPECT_THROW(generate_code({func("gpu", {A}, gpu)}, make_target("host")), InternalError);
}

/// `int wide_N(float *a0, ..., float *a{N-1})`: a_{N-1}[0] = sum of a_j[0] * (j + 1), j < N - 1.
LoweredFunc weighted_sum_kernel(int n) {
  std::vector<Buffer> args;
  for (int a = 0; a < n; ++a) args.push_back(f32_arg("a" + std::to_string(a), 1, a));
  Expr sum = f(0.0);
  for (int a = 0; a + 1 < n; ++a) sum = sum + ld(args[static_cast<size_t>(a)], i(0)) * f(a + 1.0);
  return func("wide_" + std::to_string(n), args, make_store(args.back(), i(0), sum));
}

TEST(Codegen, CallKernelTakesAnyNumberOfArguments) {
  for (int n : {3, 9, 18, 40}) {  // direct calls up to kDirectCallArgs, a trampoline beyond
    Compiled c = compile(weighted_sum_kernel(n));
    std::vector<float> data(static_cast<size_t>(n), 1.0f);
    std::vector<void *> args;
    for (float &x : data) args.push_back(&x);
    data.back() = -1;
    ASSERT_EQ(c(args), 0) << n << " arguments";
    EXPECT_FLOAT_EQ(data.back(), static_cast<float>((n - 1) * n / 2)) << n << " arguments";
  }
}

TEST(Codegen, TheArgvEntryCallsTheKernelWithItsArgumentsFromAnArray) {
  const LoweredFunc k = weighted_sum_kernel(18);
  CompiledModule m = generate_code({k}, make_target("host"), k.name);
  add_argv_entry(m, k.name, k.name + "__argv");
  auto jit = JitModule::create(std::move(m));
  auto entry = reinterpret_cast<int (*)(void **)>(jit->lookup(k.name + "__argv"));
  std::vector<float> data(18, 2.0f);
  std::vector<void *> args;
  for (float &x : data) args.push_back(&x);
  ASSERT_EQ(entry(args.data()), 0);
  EXPECT_FLOAT_EQ(data.back(), 2.0f * 17 * 18 / 2);
}

TEST(Codegen, SeveralFunctionsInOneModule) {
  auto f1 = rows_kernel("k_one", ForKind::Serial, ForKind::Serial, 4, 8);
  auto f2 = rows_kernel("k_two", ForKind::Parallel, ForKind::Serial, 4, 8);
  auto jit = JitModule::create(generate_code({f1, f2}, make_target("host")));
  EXPECT_NE(jit->lookup("k_one"), nullptr);
  EXPECT_NE(jit->lookup("k_two"), nullptr);
  EXPECT_THROW(jit->lookup("k_three"), InternalError);
}

TEST(Codegen, ObjectIsElfAndAvx512AssemblyUsesZmm) {
  const int64_t n = 1024;
  Buffer A = f32_arg("A", n, 0), B = f32_arg("B", n, 1), C = f32_arg("C", n, 2);
  Var x = make_var("x");
  Expr idx = ramp(var(x) * 16, 1, 16);
  Stmt body = loop(x, n / 16, ForKind::Serial, make_store(C, idx, ld(A, idx) * ld(B, idx) + ld(C, idx)));
  CompiledModule m = generate_code({func("fma16", {A, B, C}, body)}, make_target("x86_64-avx512"));
  std::string ir = m.llvm_ir();
  EXPECT_NE(ir.find("define i32 @fma16(ptr noalias"), std::string::npos) << ir;
  EXPECT_NE(ir.find("<16 x float>"), std::string::npos);
  EXPECT_NE(ir.find("\"prefer-vector-width\"=\"512\""), std::string::npos);
  m.optimize();
  m.optimize();  // idempotent
  std::string obj = m.object();
  ASSERT_GE(obj.size(), 4u);
  EXPECT_EQ(obj.substr(0, 4), std::string("\x7f" "ELF"));
  std::string asm_text = m.assembly();
  EXPECT_NE(asm_text.find("zmm"), std::string::npos);
  EXPECT_NE(asm_text.find("vfmadd"), std::string::npos);  // contraction happened
  // ... and 256-bit code for AVX2.
  CompiledModule m2 = generate_code({func("fma16", {A, B, C}, body)}, make_target("x86_64-avx2"));
  m2.optimize();
  std::string asm2 = m2.assembly();
  EXPECT_EQ(asm2.find("zmm"), std::string::npos);
  EXPECT_NE(asm2.find("ymm"), std::string::npos);
}

TEST(Codegen, ReadonlyInputsAndAliasScopes) {
  auto f = rows_kernel("attrs", ForKind::Parallel, ForKind::Serial, 4, 8);
  CompiledModule m = generate_code({f}, make_target("host"));
  std::string ir = m.llvm_ir();
  size_t at = ir.find("define i32 @attrs(");
  ASSERT_NE(at, std::string::npos) << ir;
  std::string decl = ir.substr(at, ir.find('\n', at) - at);
  auto param = [&](const std::string &name) {
    size_t end = decl.find("%" + name);
    size_t begin = decl.rfind("ptr ", end);
    return decl.substr(begin, end - begin);
  };
  EXPECT_NE(param("A").find("readonly"), std::string::npos) << decl;
  EXPECT_NE(param("A").find("noalias"), std::string::npos) << decl;
  EXPECT_EQ(param("C").find("readonly"), std::string::npos) << decl;
  EXPECT_NE(ir.find("!alias.scope"), std::string::npos);
  EXPECT_NE(ir.find("call i32 @kcc_parallel_for"), std::string::npos);
  EXPECT_NE(ir.find("define internal i32 @attrs.par.0"), std::string::npos);
}

}  // namespace
}  // namespace kcc
