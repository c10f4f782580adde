// test/support/int_reductions.h - the integer-reduction cases (issue 16): min, max, sum and an
// argmax (max + min-of-select) of every integer type, the schedules they run under (the target's
// default, hand schedules that reach every place an identity is written, random legal ones) and
// their data sets with the interpreter's exact answers. Header-only; one definition for the host
// JIT test (test/correctness/test_int_reductions.cpp) and the AArch64 suite under qemu
// (test/aarch64/gen_int_suite.cpp).
#pragma once
#include <fmt/format.h>

#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "codegen/target.h"
#include "ir/interp.h"
#include "ir/parser.h"
#include "passes/pipeline.h"
#include "passes/schedule_error.h"
#include "random_schedule.h"

namespace kcc::test {

inline const std::vector<std::string> &int_types() {
  static const std::vector<std::string> types = {"i8", "i32", "i64"};
  return types;
}

/// The kernels for one integer type T; no extent is divided by the tiles of the schedules.
inline std::string int_reduction_kernels(const std::string &t) {
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
inline std::vector<std::string> int_reduction_hand_schedules(const std::string &kernel) {
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

/// The schedules `k` is checked under on `t`: ("default", the target's default), ("hand", each
/// hand schedule), ("random", up to `random` random schedules that lower on `t`).
inline std::vector<std::pair<std::string, Schedule>> int_reduction_schedules(const Kernel &k, const Target &t,
                                                                             int random = 4) {
  std::vector<std::pair<std::string, Schedule>> out = {{"default", default_schedule(k, t)}};
  for (const std::string &text : int_reduction_hand_schedules(k.name))
    out.push_back({"hand", parse_schedules("hand.ir", text).at(0)});
  std::mt19937 rng(static_cast<unsigned>(std::hash<std::string>{}(k.name)));
  for (int tried = 0, legal = 0; tried < 30 && legal < random; ++tried) {
    Schedule s = parse_schedules("random.ir", random_schedule(k, rng)).at(0);
    try {
      lower_kernel(k, s, t);
    } catch (const ScheduleError &) {
      continue;  // an illegal combination
    }
    out.push_back({"random", s});
    ++legal;
  }
  return out;
}

/// Values for `t`: the whole range of the type, or one sign only (`sign` -1 / +1). i64 values
/// stay within 2^47 so that a row's sum is exact in the interpreter's float64.
inline std::vector<double> int_random_values(const TensorDecl &t, int sign, std::mt19937_64 &rng) {
  int64_t lo = int_min(t.elem), hi = int_max(t.elem);
  if (t.elem == ScalarKind::I64) lo = -(int64_t{1} << 47), hi = int64_t{1} << 47;
  if (sign < 0) hi = -1;
  if (sign > 0) lo = 1;
  std::uniform_int_distribution<int64_t> d(lo, hi);
  std::vector<double> v(static_cast<size_t>(t.num_elements()));
  for (auto &x : v) x = static_cast<double>(d(rng));
  return v;
}

/// One data set of a kernel: its inputs and the interpreter's outputs (exact integers).
struct IntDataSet {
  std::string label;  ///< "full-range" or "one-signed"
  std::vector<std::vector<double>> inputs, expected;
};

/// The two data sets of `k`: the whole range of the type, and values of one sign (a max over
/// negative values, a min over positive ones) that an identity of 0 or of the wrong extreme gets
/// wrong.
inline std::vector<IntDataSet> int_data_sets(const Kernel &k) {
  std::vector<IntDataSet> out;
  for (int sign : {0, k.name.find("min") != std::string::npos ? 1 : -1}) {
    std::mt19937_64 rng(std::hash<std::string>{}(k.name) + static_cast<unsigned>(sign + 1));
    IntDataSet d;
    d.label = sign ? "one-signed" : "full-range";
    for (auto &x : k.inputs) d.inputs.push_back(int_random_values(*x, sign, rng));
    d.expected = interpret_doubles(k, d.inputs);
    out.push_back(std::move(d));
  }
  return out;
}

inline int int_bytes(ScalarKind k) { return Type{k, 1}.bytes(); }

/// A buffer of the tensor's element type holding `v`.
inline std::vector<unsigned char> int_pack(const TensorDecl &t, const std::vector<double> &v) {
  const size_t n = static_cast<size_t>(int_bytes(t.elem));
  std::vector<unsigned char> b(v.size() * n);
  for (size_t i = 0; i < v.size(); ++i) {
    int64_t x = static_cast<int64_t>(v[i]);
    int8_t x8 = static_cast<int8_t>(x);
    int32_t x32 = static_cast<int32_t>(x);
    std::memcpy(&b[i * n], n == 1 ? static_cast<void *>(&x8) : n == 4 ? static_cast<void *>(&x32) : &x, n);
  }
  return b;
}

/// Element `i` of a buffer of the tensor's element type.
inline int64_t int_element(const TensorDecl &t, const std::vector<unsigned char> &b, size_t i) {
  switch (int_bytes(t.elem)) {
    case 1: return static_cast<int8_t>(b[i]);
    case 4: {
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

}  // namespace kcc::test
