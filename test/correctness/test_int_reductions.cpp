// Integer reductions (min, max, sum, an argmax written as max + min-of-select) of every integer
// type, compiled for every x86-64 target this machine can run (host, x86_64-avx2, x86_64-avx512)
// under default, hand (rfactor with a tail, cache_write, vectorized column reductions) and random
// schedules, compared exactly with the reference interpreter. Each kernel runs on two data sets:
// the whole range of the type, and values of one sign (a max over negative values, a min over
// positive ones) that an identity of 0 or of the wrong extreme gets wrong.
// (The AArch64 targets run the same kernels under qemu: test/aarch64/int_reductions.)
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../support/random_schedule.h"
#include "codegen/codegen.h"
#include "codegen/target.h"
#include "ir/interp.h"
#include "ir/parser.h"
#include "passes/pipeline.h"
#include "passes/schedule_error.h"

namespace kcc::test {
namespace {

const std::vector<std::string> kTypes = {"i8", "i32", "i64"};

/// The kernels for one integer type T; no extent is divided by the tiles of the schedules.
std::string kernels_for(const std::string &t) {
  return fmt::format(R"(
kernel rowmax_{0}(X: {0}[7, 37]) -> Y: {0}[7] {{
  Y[i] = max(k) X[i, k]
}}
kernel rowmin_{0}(X: {0}[7, 37]) -> Y: {0}[7] {{
  Y[i] = min(k) X[i, k]
}}
kernel rowsum_{0}(X: {0}[7, 37]) -> Y: {0}[7] {{
  Y[i] = sum(k) X[i, k]
}}
kernel colmax_{0}(X: {0}[37, 29]) -> Y: {0}[29] {{
  Y[j] = max(i) X[i, j]
}}
kernel colmin_{0}(X: {0}[37, 29]) -> Y: {0}[29] {{
  Y[j] = min(i) X[i, j]
}}
kernel argmax_{0}(X: {0}[7, 37]) -> (M: {0}[7], I: i32[7]) {{
  M[i] = max(k) X[i, k]
  I[i] = min(k) select(X[i, k] == M[i], i32(k), 37)
}}
)",
                     t);
}

/// Hand schedules that reach every place an identity is written: a split reduction with a tail
/// folded by rfactor (the tail reads the identity), a cache_write accumulator, a vectorized
/// column reduction with a tail.
std::vector<std::string> hand_schedules(const std::string &kernel) {
  if (kernel.rfind("col", 0) == 0)
    return {fmt::format("schedule {} {{\n  split Y.j [8] -> j0 j1\n  vectorize Y.j1\n}}\n", kernel),
            fmt::format("schedule {} {{\n  split Y.i [8] -> i0 i1\n  rfactor Y.i1 -> Yr\n}}\n", kernel)};
  if (kernel.rfind("argmax", 0) == 0)
    return {fmt::format("schedule {} {{\n  split M.k [8] -> k0 k1\n  rfactor M.k1 -> Mr\n"
                        "  split I.k [5] -> k0 k1\n  rfactor I.k0 -> Ir\n}}\n",
                        kernel)};
  return {fmt::format("schedule {} {{\n  split Y.k [8] -> k0 k1\n  rfactor Y.k1 -> Yr\n  parallel Y.i\n}}\n", kernel),
          fmt::format("schedule {} {{\n  split Y.i [4] -> i0 i1\n  cache_write Y local at i0\n}}\n", kernel)};
}

int bytes_of(ScalarKind k) { return Type{k, 1}.bytes(); }

/// Values for `t`: the whole range of the type, or one sign only (`sign` -1 / +1). i64 values
/// stay within 2^47 so that a row's sum is exact in the interpreter's float64.
std::vector<double> random_values(const TensorDecl &t, int sign, std::mt19937_64 &rng) {
  int64_t lo = int_min(t.elem), hi = int_max(t.elem);
  if (t.elem == ScalarKind::I64) lo = -(int64_t{1} << 47), hi = int64_t{1} << 47;
  if (sign < 0) hi = -1;
  if (sign > 0) lo = 1;
  std::uniform_int_distribution<int64_t> d(lo, hi);
  std::vector<double> v(static_cast<size_t>(t.num_elements()));
  for (auto &x : v) x = static_cast<double>(d(rng));
  return v;
}

/// A buffer of the tensor's element type holding `v`.
std::vector<unsigned char> pack(const TensorDecl &t, const std::vector<double> &v) {
  std::vector<unsigned char> b(v.size() * static_cast<size_t>(bytes_of(t.elem)));
  for (size_t i = 0; i < v.size(); ++i) {
    int64_t x = static_cast<int64_t>(v[i]);
    switch (t.elem) {
      case ScalarKind::I8: b[i] = static_cast<unsigned char>(static_cast<int8_t>(x)); break;
      case ScalarKind::I32: {
        int32_t y = static_cast<int32_t>(x);
        std::memcpy(&b[i * 4], &y, 4);
        break;
      }
      default: std::memcpy(&b[i * 8], &x, 8); break;
    }
  }
  return b;
}

int64_t element(const TensorDecl &t, const std::vector<unsigned char> &b, size_t i) {
  switch (t.elem) {
    case ScalarKind::I8: return static_cast<int8_t>(b[i]);
    case ScalarKind::I32: {
      int32_t y;
      std::memcpy(&y, &b[i * 4], 4);
      return y;
    }
    default: {
      int64_t y;
      std::memcpy(&y, &b[i * 8], 8);
      return y;
    }
  }
}

/// The x86-64 targets this machine runs: every one whose base ISA the host has.
std::vector<Target> runnable_targets() {
  Target host = make_target("host");
  std::vector<Target> out = {host};
  for (const char *name : {"x86_64-avx2", "x86_64-avx512"}) {
    if (host.arch != Arch::X86_64) break;
    Target t = make_target(name);
    if (match_target_key(t.key(), host) != KeyMatch::Foreign) out.push_back(t);
  }
  return out;
}

/// Runs `s` on `t` against the interpreter on both data sets; "" when all outputs match.
std::string check(const Kernel &k, const Schedule &s, const Target &t) {
  LoweredFunc f = lower_kernel(k, s, t);
  CompiledModule cm = generate_code({f}, t, k.name);
  cm.optimize();
  auto jit = JitModule::create(std::move(cm));
  void *fn = jit->lookup(f.name);
  for (int sign : {0, k.name.find("min") != std::string::npos ? 1 : -1}) {
    std::mt19937_64 rng(std::hash<std::string>{}(k.name) + static_cast<unsigned>(sign + 1));
    std::vector<std::vector<double>> in;
    std::vector<std::vector<unsigned char>> bufs;
    for (auto &x : k.inputs) {
      in.push_back(random_values(*x, sign, rng));
      bufs.push_back(pack(*x, in.back()));
    }
    std::vector<std::vector<double>> ref = interpret_doubles(k, in);
    for (auto &o : k.outputs)  // poisoned: 0x5a in every byte
      bufs.emplace_back(static_cast<size_t>(o->num_elements() * bytes_of(o->elem)), 0x5a);
    std::vector<void *> args;
    for (auto &b : bufs) args.push_back(b.data());
    if (int rc = call_kernel(fn, args); rc != 0) return fmt::format("status {}", rc);
    for (size_t o = 0; o < k.outputs.size(); ++o) {
      const auto &out = bufs[k.inputs.size() + o];
      for (size_t i = 0; i < ref[o].size(); ++i) {
        int64_t want = static_cast<int64_t>(ref[o][i]), got = element(*k.outputs[o], out, i);
        if (got != want)
          return fmt::format("{} data, output '{}' element {}: got {}, expected {}", sign ? "one-signed" : "full-range",
                             k.outputs[o]->name, i, got, want);
      }
    }
  }
  return "";
}

class IntReductions : public ::testing::TestWithParam<std::string> {};

TEST_P(IntReductions, MatchTheInterpreterOnEveryRunnableTarget) {
  Module m = parse_module("int_reductions.ir", kernels_for(GetParam()));
  ASSERT_EQ(m.kernels.size(), 6u);
  for (const Target &t : runnable_targets())
    for (const Kernel &k : m.kernels) {
      std::vector<std::pair<std::string, Schedule>> schedules = {{"default", default_schedule(k, t)}};
      for (const std::string &text : hand_schedules(k.name))
        schedules.push_back({"hand", parse_schedules("hand.ir", text).at(0)});
      std::mt19937 rng(static_cast<unsigned>(std::hash<std::string>{}(k.name)));
      for (int tried = 0, legal = 0; tried < 30 && legal < 4; ++tried) {
        Schedule s = parse_schedules("random.ir", random_schedule(k, rng)).at(0);
        try {
          lower_kernel(k, s, t);
        } catch (const ScheduleError &) {
          continue;  // an illegal combination
        }
        schedules.push_back({"random", s});
        ++legal;
      }
      for (auto &[what, s] : schedules)
        EXPECT_EQ(check(k, s, t), "") << k.name << " on " << t.description() << ", " << what << " schedule:\n"
                                      << to_string(s);
    }
}

INSTANTIATE_TEST_SUITE_P(Types, IntReductions, ::testing::ValuesIn(kTypes),
                         [](const auto &info) { return info.param; });

}  // namespace
}  // namespace kcc::test
