// The output check's tolerance: float64 values with rounding-error bounds (tuner/error_bound.h).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "ir/interp.h"
#include "ir/parser.h"
#include "tuner/error_bound.h"

namespace kcc::tuner {
namespace {

const Module &suite() {
  static Module m = parse_module_file(std::string(KCC_SOURCE_DIR) + "/test/correctness/kernels.ir");
  return m;
}

TEST(ErrorBound, ValuesAreTheInterpretersOnEveryKernelOfTheSuite) {
  for (const Kernel &k : suite().kernels) {
    auto in = random_inputs(k, 3);
    BoundedReference r = bounded_reference(k, in);
    auto want = interpret(k, in);
    ASSERT_EQ(r.values.size(), want.size()) << k.name;
    for (size_t o = 0; o < want.size(); ++o) {
      ASSERT_EQ(r.values[o].size(), want[o].size()) << k.name;
      ASSERT_EQ(r.bounds[o].size(), want[o].size()) << k.name;
      for (size_t i = 0; i < want[o].size(); ++i) {
        ASSERT_TRUE(r.values[o][i] == want[o][i] || (std::isnan(r.values[o][i]) && std::isnan(want[o][i])))
            << k.name << " output " << o << " element " << i;
        ASSERT_GE(r.bounds[o][i], 0) << k.name;
      }
    }
  }
}

TEST(ErrorBound, AnF32EvaluationOfEveryKernelOfTheSuiteIsWithinItsBound) {
  // The interpreter in declared precision rounds every operation to f32 in definition order:
  // one correct f32 evaluation, which the bound (without its safety factor) must admit.
  for (const Kernel &k : suite().kernels) {
    auto in = random_inputs(k, 5);
    BoundedReference r = bounded_reference(k, in);
    auto f32 = interpret(k, in, InterpPrecision::Declared);
    for (size_t o = 0; o < f32.size(); ++o)
      for (size_t i = 0; i < f32[o].size(); ++i) {
        const double got = f32[o][i], want = r.values[o][i], bound = r.bounds[o][i];
        if (!std::isfinite(bound)) continue;
        ASSERT_LE(std::fabs(got - want), bound)
            << k.name << " output " << o << " element " << i << ": f32 " << got << ", f64 " << want;
      }
  }
}

TEST(ErrorBound, ASumOfNTermsIsBoundedByGammaTimesTheSumOfMagnitudes) {
  Module m = parse_module("<test>", "kernel s(X: f32[1000]) -> Y: f32[1] {\n  Y[z] = sum(i) X[i]\n}\n");
  const Kernel &k = m.kernels[0];
  auto in = random_inputs(k, 7);
  double mag = 0;
  for (float x : in[0]) mag += std::fabs(x);
  const double u = std::ldexp(1.0, -24), gamma = 999 * u / (1 - 999 * u);
  BoundedReference r = bounded_reference(k, in);
  EXPECT_DOUBLE_EQ(r.bounds[0][0], gamma * mag);
}

TEST(ErrorBound, ADivisionByAnUncertainZeroHasNoBound) {
  // X*3 - X*3 is 0 in float64 but may be a rounding error away from it in f32 (an FMA keeps one
  // product exact): its interval holds zero, so 1 / it has no bound and any result is accepted.
  Module m = parse_module("<test>",
                          "kernel d(X: f32[4]) -> Y: f32[4] {\n  Y[i] = 1.0 / (X[i] * 3.0 - X[i] * 3.0)\n}\n");
  BoundedReference r = bounded_reference(m.kernels[0], random_inputs(m.kernels[0], 1));
  for (double b : r.bounds[0]) EXPECT_EQ(b, std::numeric_limits<double>::infinity());
}

TEST(ErrorBound, WithinBoundAllowsTheSafetyFactorAndNoMore) {
  EXPECT_TRUE(within_bound(1.0, 1.0, 0));
  EXPECT_FALSE(within_bound(1.0 + 1e-12, 1.0, 0));
  EXPECT_TRUE(within_bound(1.0 + 1.9e-6, 1.0, 1e-6));
  EXPECT_FALSE(within_bound(1.0 + 2.1e-6, 1.0, 1e-6));
  EXPECT_FALSE(within_bound(std::nan(""), 1.0, 1e-6));
  EXPECT_TRUE(within_bound(std::nan(""), 1.0, std::numeric_limits<double>::infinity()));
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_TRUE(within_bound(inf, inf, 0));
}

}  // namespace
}  // namespace kcc::tuner
