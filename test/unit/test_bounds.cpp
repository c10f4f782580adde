// Unit tests of symbolic bounds (passes/bounds.h): one behaviour per test, expected text.
#include <gtest/gtest.h>

#include "passes/bounds.h"

namespace kcc {
namespace {

Expr v(const Var &x) { return var(x); }
Expr c(int64_t x) { return make_int(x); }

std::string text(const Expr &e) { return e.defined() ? to_string(e) : "unbounded"; }
std::string text(const Interval &i) { return "[" + text(i.min) + ", " + text(i.max) + "]"; }
Interval range(int64_t lo, int64_t hi) { return {c(lo), c(hi)}; }

class Bounds : public ::testing::Test {
 protected:
  Var i = make_var("i"), i0 = make_var("i0"), i1 = make_var("i1"), x = make_var("x"), y = make_var("y"),
      r = make_var("r"), n = make_var("n"), m = make_var("m");
};

TEST_F(Bounds, ConstantIsAPoint) { EXPECT_EQ(text(bounds_of(c(7), {})), "[7, 7]"); }

TEST_F(Bounds, SymbolOutsideTheScopeIsAPoint) { EXPECT_EQ(text(bounds_of(v(x) * c(3), {})), "[x * 3, x * 3]"); }

TEST_F(Bounds, SplitIndexOverInnerLoop) {
  Scope s{{i1.get(), range(0, 7)}};
  EXPECT_EQ(text(bounds_of(v(i0) * c(8) + v(i1), s)), "[i0 * 8, i0 * 8 + 7]");
}

TEST_F(Bounds, ConvolutionWindow) {
  Scope s{{y.get(), range(0, 55)}, {r.get(), range(0, 2)}};
  EXPECT_EQ(text(bounds_of(v(y) + v(r), s)), "[0, 57]");
}

TEST_F(Bounds, SubtractionSwapsTheSubtrahend) {
  Scope s{{y.get(), range(0, 55)}, {r.get(), range(0, 2)}};
  EXPECT_EQ(text(bounds_of(v(y) - v(r) + c(1), s)), "[-1, 56]");
}

TEST_F(Bounds, MultiplicationByNegativeConstantSwapsSides) {
  Scope s{{x.get(), range(2, 5)}};
  EXPECT_EQ(text(bounds_of(v(x) * c(-3), s)), "[-15, -6]");
}

TEST_F(Bounds, MultiplicationByNonNegativeSymbolRange) {
  Scope s{{i.get(), range(0, 7)}, {n.get(), {c(1), v(m)}}};
  EXPECT_EQ(text(bounds_of(v(i) * v(n), s)), "[0, m * 7]");
}

TEST_F(Bounds, MultiplicationOfConstantRangesTakesCorners) {
  Scope s{{x.get(), range(-2, 3)}, {y.get(), range(-5, 4)}};
  EXPECT_EQ(text(bounds_of(v(x) * v(y), s)), "[-15, 12]");
}

TEST_F(Bounds, ModuloByConstantOfAWideRange) {
  Scope s{{x.get(), range(0, 100)}};
  EXPECT_EQ(text(bounds_of(v(x) % c(16), s)), "[0, 15]");
}

TEST_F(Bounds, ModuloOfUnboundedVariable) {
  Scope s{{x.get(), Interval{}}};
  EXPECT_EQ(text(bounds_of(v(x) % c(16), s)), "[0, 15]");
}

TEST_F(Bounds, ModuloWithinOneBlockKeepsTheRange) {
  Scope s{{x.get(), {v(i) * c(16) + c(4), v(i) * c(16) + c(9)}}};
  EXPECT_EQ(text(bounds_of(v(x) % c(16), s)), "[4, 9]");
}

TEST_F(Bounds, DivisionOfSymbolicRange) {
  Scope s{{x.get(), {v(i) * c(16), v(i) * c(16) + c(15)}}};
  EXPECT_EQ(text(bounds_of(v(x) / c(4), s)), "[i * 4, i * 4 + 3]");
}

TEST_F(Bounds, DivisionOfNegativeRangeFloors) {
  Scope s{{x.get(), range(-7, 7)}};
  EXPECT_EQ(text(bounds_of(v(x) / c(2), s)), "[-4, 3]");
}

TEST_F(Bounds, DivisionByNonConstantIsUnbounded) {
  Scope s{{x.get(), range(0, 7)}};
  EXPECT_EQ(text(bounds_of(v(x) / v(n), s)), "[unbounded, unbounded]");
}

TEST_F(Bounds, DivisionOfSymbolsIsAPoint) { EXPECT_EQ(text(bounds_of(v(x) / v(n), {})), "[x / n, x / n]"); }

TEST_F(Bounds, MinAndMax) {
  Scope s{{x.get(), range(0, 55)}};
  EXPECT_EQ(text(bounds_of(min(v(x), c(10)), s)), "[0, 10]");
  EXPECT_EQ(text(bounds_of(max(v(x) - c(3), c(0)), s)), "[0, 52]");
}

TEST_F(Bounds, MinOfUnboundedSideUsesTheOtherOperand) {
  Scope s{{x.get(), {c(0), Expr()}}};
  EXPECT_EQ(text(bounds_of(min(v(x), c(10)), s)), "[0, 10]");
}

TEST_F(Bounds, TailClampedIndex) {
  // A split loop with a tail: min(i0*32 + i1, 99) over i1 in [0, 31].
  Scope s{{i1.get(), range(0, 31)}};
  EXPECT_EQ(text(bounds_of(min(v(i0) * c(32) + v(i1), c(99)), s)), "[min(i0 * 32, 99), min(i0 * 32 + 31, 99)]");
}

TEST_F(Bounds, SelectIsTheUnionOfItsArms) {
  Scope s{{x.get(), range(0, 9)}};
  EXPECT_EQ(text(bounds_of(make_select(v(x) < c(5), v(x) + c(10), c(3)), s)), "[3, 19]");
}

TEST_F(Bounds, SelectWithConstantConditionTakesOneArm) {
  Scope s{{x.get(), range(0, 9)}};
  EXPECT_EQ(text(bounds_of(make_select(c(1) < c(2), v(x), c(100)), s)), "[0, 9]");
}

TEST_F(Bounds, IntegerCastKeepsTheRange) {
  Scope s{{x.get(), range(0, 9)}};
  EXPECT_EQ(text(bounds_of(make_cast(Type::i32(), v(x) + c(1)), s)), "[1, 10]");
}

TEST_F(Bounds, RampCoversAllLanes) {
  Scope s{{x.get(), range(0, 3)}};
  EXPECT_EQ(text(bounds_of(make_ramp(v(x) * c(8), c(1), 8), s)), "[0, 31]");
}

TEST_F(Bounds, LoadDependingOnScopeIsUnbounded) {
  Buffer b = make_buffer("B", Type::i64(), {16}, MemScope::Global);
  Scope s{{x.get(), range(0, 3)}};
  EXPECT_EQ(text(bounds_of(make_load(Type::i64(), b, v(x)), s)), "[unbounded, unbounded]");
}

}  // namespace
}  // namespace kcc
