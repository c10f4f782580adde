// Unit tests of the simplifier (passes/simplify.h): one behaviour per test, expected text.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <random>

#include "ir/stmt.h"
#include "passes/simplify.h"

namespace kcc {
namespace {

struct Vars {
  Var i0 = make_var("i0"), i1 = make_var("i1"), i2 = make_var("i2"), j0 = make_var("j0"), j1 = make_var("j1");
  Var x = make_var("x"), y = make_var("y"), z = make_var("z");
  Var fx = make_var("fx", Type::f32());
};

Expr v(const Var &x) { return var(x); }
Expr c(int64_t x) { return make_int(x); }
Expr f(double x) { return make_float(x); }

std::string simp(const Expr &e, const RangeMap &r = {}) { return to_string(simplify(e, r)); }

class Simplify : public ::testing::Test {
 protected:
  Vars V;
};

// ---- constant folding

TEST_F(Simplify, FoldsIntegerConstants) { EXPECT_EQ(simp((c(3) + c(4)) * c(2) - c(1)), "13"); }

TEST_F(Simplify, FoldsFloorDivisionAndModuloOfNegativeConstants) {
  EXPECT_EQ(simp(c(-7) / c(2)), "-4");
  EXPECT_EQ(simp(c(-7) % c(2)), "1");
}

TEST_F(Simplify, LeavesDivisionByZeroAlone) { EXPECT_EQ(simp(v(V.x) / c(0)), "x / 0"); }

TEST_F(Simplify, FoldsIntegerMinMaxAndComparisons) {
  EXPECT_EQ(simp(min(c(3), c(-2))), "-2");
  EXPECT_EQ(simp(max(c(3), c(-2))), "3");
  EXPECT_EQ(simp(c(3) < c(-2)), "false");
  EXPECT_EQ(simp(make_binary(BinOp::NE, c(3), c(-2))), "true");
}

TEST_F(Simplify, FoldsF32ConstantsWithF32Rounding) {
  double r;
  ASSERT_TRUE(is_const_float(simplify(f(0.1) + f(0.2)), &r));
  EXPECT_EQ(r, static_cast<double>(static_cast<float>(0.1f + 0.2f)));
}

TEST_F(Simplify, FoldsFloatComparisonsAndMinMax) {
  EXPECT_EQ(simp(f(1.5) < f(2.0)), "true");
  EXPECT_EQ(simp(max(f(-1.0), f(2.5))), "2.5");
}

TEST_F(Simplify, FoldsMathCallsOnConstants) {
  EXPECT_EQ(simp(make_call(MathFn::sqrt, {f(4.0)})), "2.0");
  EXPECT_EQ(simp(make_call(MathFn::pow, {f(2.0), f(3.0)})), "8.0");
}

TEST_F(Simplify, FoldsCasts) {
  EXPECT_EQ(simp(make_cast(Type::i64(), f(-3.7))), "-3");  // toward zero
  EXPECT_EQ(simp(make_cast(Type::f32(), c(3))), "3.0");
  EXPECT_EQ(simp(make_cast(Type::i32(), c(4294967297))), "1");  // wraps to i32
}

// ---- floats are never reassociated

TEST_F(Simplify, DoesNotReassociateFloatAddition) {
  EXPECT_EQ(simp((v(V.fx) + f(1.0)) + f(2.0)), "fx + 1.0 + 2.0");
}

TEST_F(Simplify, DoesNotDropFloatAdditionOfZero) {
  // -0.0 + 0.0 is +0.0: x + 0.0 is not x.
  EXPECT_EQ(simp(v(V.fx) + f(0.0)), "fx + 0.0");
}

TEST_F(Simplify, DoesNotCancelFloatSubtraction) { EXPECT_EQ(simp(v(V.fx) - v(V.fx)), "fx - fx"); }

TEST_F(Simplify, DropsFloatMultiplicationByOne) { EXPECT_EQ(simp(v(V.fx) * f(1.0)), "fx"); }

// ---- affine canonical form

TEST_F(Simplify, DistributesConstantsOverNestedIndexArithmetic) {
  Expr e = ((v(V.i0) * c(8) + v(V.i1)) * c(6) + v(V.i2)) * c(1024) + v(V.j0) * c(32) + v(V.j1);
  EXPECT_EQ(simp(e), "i0 * 49152 + i1 * 6144 + i2 * 1024 + j0 * 32 + j1");
}

TEST_F(Simplify, DistributesConstantMultiplicationOverSums) {
  EXPECT_EQ(simp((v(V.x) + c(3)) * c(4)), "x * 4 + 12");
}

TEST_F(Simplify, OrdersTermsDeterministically) {
  EXPECT_EQ(simp(v(V.i1) + v(V.i0) * c(8)), simp(v(V.i0) * c(8) + v(V.i1)));
  EXPECT_EQ(simp(v(V.i1) + v(V.i0) * c(8)), "i0 * 8 + i1");
}

TEST_F(Simplify, OrdersNumberedNamesNumerically) {
  Var i10 = make_var("i10");
  EXPECT_EQ(simp(v(i10) + v(V.i2)), "i2 + i10");
}

TEST_F(Simplify, CollectsLikeTerms) { EXPECT_EQ(simp(v(V.x) * c(3) + v(V.y) - v(V.x) + c(2) - c(5)), "x * 2 + y - 3"); }

TEST_F(Simplify, ExpressionMinusItselfIsZero) {
  Expr e = (v(V.i0) * c(48) + v(V.i2)) / c(48) + v(V.x) * v(V.y) + min(v(V.x), c(7));
  EXPECT_EQ(simp(e - e), "0");
}

TEST_F(Simplify, ProductsOfSymbolsAreOrdered) { EXPECT_EQ(simp(v(V.y) * v(V.x) - v(V.x) * v(V.y)), "0"); }

TEST_F(Simplify, NegativeLeadingTermUsesNegation) { EXPECT_EQ(simp(c(0) - v(V.x) - v(V.y) * c(2)), "-x - y * 2"); }

TEST_F(Simplify, ConstantMinusTerm) { EXPECT_EQ(simp(c(100) - v(V.x) * c(32)), "100 - x * 32"); }

// ---- division and modulus

TEST_F(Simplify, DivisionByOneIsIdentity) { EXPECT_EQ(simp(v(V.x) / c(1)), "x"); }

TEST_F(Simplify, ModuloByOneIsZero) { EXPECT_EQ(simp(v(V.x) % c(1)), "0"); }

TEST_F(Simplify, DividesOutMultipleWhenRemainderRangeFits) {
  RangeMap r{{V.i2.get(), {0, 47}}};
  EXPECT_EQ(simp((v(V.i0) * c(48) + v(V.i2)) / c(48), r), "i0");
}

TEST_F(Simplify, SplitsFloorDivisionOfAMultipleWithoutRanges) {
  // Exact for floor division whatever the sign of i2.
  EXPECT_EQ(simp((v(V.i0) * c(48) + v(V.i2)) / c(48)), "i0 + i2 / 48");
}

TEST_F(Simplify, ModuloDropsMultipleWhenRemainderRangeFits) {
  RangeMap r{{V.i2.get(), {0, 47}}};
  EXPECT_EQ(simp((v(V.i0) * c(48) + v(V.i2)) % c(48), r), "i2");
}

TEST_F(Simplify, ModuloOfMultipleIsZero) { EXPECT_EQ(simp((v(V.x) * c(12) + c(24)) % c(6)), "0"); }

TEST_F(Simplify, DivisionFoldsToConstantFromRange) {
  RangeMap r{{V.x.get(), {8, 11}}};
  EXPECT_EQ(simp(v(V.x) / c(4), r), "2");
  EXPECT_EQ(simp(v(V.x) % c(4), r), "x - 8");
}

TEST_F(Simplify, DoesNotFoldDivisionOfPossiblyNegativeOperand) {
  RangeMap r{{V.x.get(), {-3, 3}}};
  EXPECT_EQ(simp(v(V.x) / c(4), r), "x / 4");
  EXPECT_EQ(simp(v(V.x) % c(4), r), "x % 4");
}

TEST_F(Simplify, DoesNotDistributeDivisionOverSums) { EXPECT_EQ(simp((v(V.x) + v(V.y)) / c(4)), "(x + y) / 4"); }

TEST_F(Simplify, DoesNotCancelDivisionAndMultiplication) { EXPECT_EQ(simp(v(V.x) / c(4) * c(4)), "x / 4 * 4"); }

TEST_F(Simplify, NestedDivisionsCombine) { EXPECT_EQ(simp(v(V.x) / c(4) / c(8)), "x / 32"); }

TEST_F(Simplify, ModuloOfModuloByADivisor) { EXPECT_EQ(simp(v(V.x) % c(8) % c(4)), "x % 4"); }

TEST_F(Simplify, DivisionReducesCommonFactor) { EXPECT_EQ(simp((v(V.x) * c(6) + c(2)) / c(4)), "(x * 3 + 1) / 2"); }

// ---- min / max / comparisons / select with ranges

TEST_F(Simplify, MinDecidedByLoopRange) {
  RangeMap r{{V.i0.get(), {0, 2}}};
  EXPECT_EQ(simp(min(v(V.i0) * c(32) + c(32), c(100)), r), "i0 * 32 + 32");
}

TEST_F(Simplify, TailExtentFoldsToConstantWhenNoTail) {
  RangeMap r{{V.i0.get(), {0, 2}}};
  EXPECT_EQ(simp(min(v(V.i0) * c(32) + c(32), c(100)) - v(V.i0) * c(32), r), "32");
}

TEST_F(Simplify, TailExtentAbsorbsSubtractionIntoMin) {
  RangeMap r{{V.i0.get(), {0, 3}}};
  EXPECT_EQ(simp(min(v(V.i0) * c(32) + c(32), c(100)) - v(V.i0) * c(32), r), "min(100 - i0 * 32, 32)");
}

TEST_F(Simplify, MaxOfEqualOperands) { EXPECT_EQ(simp(max(v(V.x) + c(1), c(1) + v(V.x))), "x + 1"); }

TEST_F(Simplify, MinPutsConstantsRightAndMergesThem) {
  EXPECT_EQ(simp(min(c(5), min(v(V.x), c(3)))), "min(x, 3)");
}

TEST_F(Simplify, ComparisonDecidedByRanges) {
  RangeMap r{{V.i0.get(), {0, 11}}, {V.i1.get(), {0, 7}}};
  EXPECT_EQ(simp(v(V.i0) * c(8) + v(V.i1) < c(100), r), "true");
  EXPECT_EQ(simp(v(V.i0) * c(8) + v(V.i1) >= c(96), r), "false");
}

TEST_F(Simplify, ComparisonKeptWhenRangesDoNotDecide) {
  RangeMap r{{V.i0.get(), {0, 12}}, {V.i1.get(), {0, 7}}};
  EXPECT_EQ(simp(v(V.i0) * c(8) + v(V.i1) < c(100), r), "i0 * 8 + i1 < 100");
}

TEST_F(Simplify, ComparisonCancelsCommonTerms) {
  EXPECT_EQ(simp(v(V.x) * c(4) + v(V.y) < v(V.x) * c(4) + c(5)), "y < 5");
  EXPECT_EQ(simp(v(V.x) + c(1) <= v(V.y) + c(3)), "x <= y + 2");
  EXPECT_EQ(simp(make_binary(BinOp::EQ, v(V.x) + c(1), v(V.x) + c(1))), "true");
}

TEST_F(Simplify, SelectDecidedByRanges) {
  RangeMap r{{V.x.get(), {0, 9}}};
  EXPECT_EQ(simp(make_select(v(V.x) < c(10), v(V.y), v(V.z)), r), "y");
}

TEST_F(Simplify, SelectWithEqualArms) { EXPECT_EQ(simp(make_select(v(V.x) < c(10), v(V.y), v(V.y))), "y"); }

TEST_F(Simplify, VariableWithPointRangeBecomesConstant) {
  RangeMap r{{V.x.get(), {4, 4}}};
  EXPECT_EQ(simp(v(V.x) * c(2) + v(V.y), r), "y + 8");
}

// ---- logic

TEST_F(Simplify, AndOrWithConstants) {
  Expr p = v(V.x) < c(3);
  EXPECT_EQ(simp(make_bool(true) && p), "x < 3");
  EXPECT_EQ(simp(make_bool(false) && p), "false");
  EXPECT_EQ(simp(p || make_bool(true)), "true");
  EXPECT_EQ(simp(make_bool(false) || p), "x < 3");
}

TEST_F(Simplify, NotOfConstantAndOfIntegerComparison) {
  EXPECT_EQ(simp(make_unary(UnOp::Not, make_bool(true))), "false");
  EXPECT_EQ(simp(make_unary(UnOp::Not, v(V.x) < c(5))), "x >= 5");
}

TEST_F(Simplify, DoesNotNegateFloatComparisons) {
  // not (a < b) differs from a >= b when either is NaN.
  EXPECT_EQ(simp(make_unary(UnOp::Not, v(V.fx) < f(5))), "not (fx < 5.0)");
}

// ---- vectors

TEST_F(Simplify, RampPlusRamp) {
  EXPECT_EQ(simp(make_ramp(v(V.x), c(1), 8) + make_ramp(v(V.y), c(2), 8)), "ramp(x + y, 3, 8)");
}

TEST_F(Simplify, RampPlusBroadcast) {
  EXPECT_EQ(simp(make_ramp(v(V.x) * c(8), c(1), 8) + make_broadcast(c(4), 8)), "ramp(x * 8 + 4, 1, 8)");
}

TEST_F(Simplify, RampTimesBroadcast) {
  EXPECT_EQ(simp(make_ramp(v(V.x), c(1), 4) * make_broadcast(c(3), 4)), "ramp(x * 3, 3, 4)");
}

TEST_F(Simplify, BroadcastOpBroadcastIsBroadcastOfOp) {
  EXPECT_EQ(simp(make_broadcast(v(V.x), 8) + make_broadcast(c(1), 8)), "x8(x + 1)");
  EXPECT_EQ(simp(make_broadcast(v(V.fx), 4) * make_broadcast(f(2.0), 4)), "x4(fx * 2.0)");
}

TEST_F(Simplify, RampWithZeroStrideIsBroadcast) { EXPECT_EQ(simp(make_ramp(v(V.x), c(3) - c(3), 4)), "x4(x)"); }

TEST_F(Simplify, RampDivisionWithinOneBlock) {
  Expr r = make_ramp(v(V.j0) * c(32) + c(8), c(1), 8);
  EXPECT_EQ(simp(r / make_broadcast(c(32), 8)), "x8(j0)");
  EXPECT_EQ(simp(r % make_broadcast(c(32), 8)), "ramp(8, 1, 8)");
}

TEST_F(Simplify, RampDivisionAcrossBlocksIsKept) {
  Expr r = make_ramp(v(V.j0) * c(32) + c(28), c(1), 8);
  EXPECT_EQ(simp(r / make_broadcast(c(32), 8)), "ramp(j0 * 32 + 28, 1, 8) / x8(32)");
}

TEST_F(Simplify, VectorComparisonDecidedByRanges) {
  RangeMap r{{V.i0.get(), {0, 11}}};
  EXPECT_EQ(simp(make_ramp(v(V.i0) * c(8), c(1), 8) < make_broadcast(c(100), 8), r), "x8(true)");
}

// ---- idempotence

TEST_F(Simplify, SimplifyingTwiceChangesNothing) {
  RangeMap r{{V.i0.get(), {0, 3}}, {V.i2.get(), {0, 47}}};
  std::vector<Expr> es = {
      ((v(V.i0) * c(8) + v(V.i1)) * c(6) + v(V.i2)) * c(1024) + v(V.j0) * c(32) + v(V.j1),
      min(v(V.i0) * c(32) + c(32), c(100)) - v(V.i0) * c(32),
      (v(V.x) * c(6) + c(5)) / c(4),
      c(0) - v(V.x) - v(V.y) * c(2),
      v(V.x) + c(1) <= v(V.y) + c(3),
  };
  for (auto &e : es) {
    Expr once = simplify(e, r);
    EXPECT_EQ(to_string(simplify(once, r)), to_string(once)) << to_string(e);
  }
}

TEST_F(Simplify, UnchangedExpressionKeepsItsNode) {
  Expr e = v(V.i0) * c(8) + v(V.i1);
  EXPECT_TRUE(simplify(e).same_as(e));
}

// ---- can_prove

TEST_F(Simplify, CanProveUsesRanges) {
  RangeMap r{{V.i0.get(), {0, 11}}, {V.i1.get(), {0, 7}}};
  EXPECT_TRUE(can_prove(v(V.i0) * c(8) + v(V.i1) < c(96), r));
  EXPECT_FALSE(can_prove(v(V.i0) * c(8) + v(V.i1) < c(95), r));
  EXPECT_FALSE(can_prove(v(V.x) >= c(0)));  // unknown is not proven
}

// ---- statements

Buffer buf(const std::string &n) { return make_buffer(n, Type::f32(), {1024}, MemScope::Global, 0); }

TEST_F(Simplify, LoopOfExtentOneIsInlined) {
  Stmt s = make_for(V.x, c(3), c(1), ForKind::Serial, make_store(buf("B"), v(V.x) * c(2), f(1.0)));
  EXPECT_EQ(to_string(simplify(s)), "B[6] = 1.0\n");
}

TEST_F(Simplify, GpuLoopOfExtentOneIsKept) {
  Stmt s = make_for(V.x, c(0), c(1), ForKind::GpuThread, make_store(buf("B"), v(V.x) + v(V.y), f(1.0)));
  EXPECT_EQ(to_string(simplify(s)), "gpu_thread.x (x, 0, 1) {\n  B[y] = 1.0\n}\n");
}

TEST_F(Simplify, LoopOfExtentZeroIsRemoved) {
  Stmt keep = make_store(buf("A"), c(0), f(2.0));
  Stmt s = make_seq({keep, make_for(V.x, c(0), c(5) - c(5), ForKind::Serial, make_store(buf("B"), v(V.x), f(1.0)))});
  EXPECT_EQ(to_string(simplify(s)), "A[0] = 2.0\n");
}

TEST_F(Simplify, LoopRangeDecidesInnerCondition) {
  // for (i1, 0, 8) if (i0*8 + i1 < 100) ... with i0 in [0, 11]: always true.
  Stmt body = make_if(v(V.i0) * c(8) + v(V.i1) < c(100), make_store(buf("B"), v(V.i0) * c(8) + v(V.i1), f(1.0)));
  Stmt s = make_for(V.i0, c(0), c(12), ForKind::Serial, make_for(V.i1, c(0), c(8), ForKind::Serial, body));
  EXPECT_EQ(to_string(simplify(s)), "for (i0, 0, 12) {\n  for (i1, 0, 8) {\n    B[i0 * 8 + i1] = 1.0\n  }\n}\n");
}

TEST_F(Simplify, UndecidedConditionIsKept) {
  Stmt body = make_if(v(V.i0) * c(8) + v(V.i1) < c(100), make_store(buf("B"), c(0), f(1.0)));
  Stmt s = make_for(V.i0, c(0), c(13), ForKind::Serial, make_for(V.i1, c(0), c(8), ForKind::Serial, body));
  EXPECT_EQ(to_string(simplify(s)),
            "for (i0, 0, 13) {\n  for (i1, 0, 8) {\n    if (i0 * 8 + i1 < 100) {\n      B[0] = 1.0\n    }\n  }\n}\n");
}

TEST_F(Simplify, FalseConditionWithoutElseRemovesTheIf) {
  Stmt s = make_seq({make_store(buf("A"), c(0), f(2.0)), make_if(c(1) > c(2), make_store(buf("B"), c(0), f(1.0)))});
  EXPECT_EQ(to_string(simplify(s)), "A[0] = 2.0\n");
}

TEST_F(Simplify, ConditionOnLoopVariableNarrowsItsRange) {
  // Inside `if (x < 4)` with x in [0, 9]: x / 4 is 0.
  Stmt inner = make_if(v(V.x) < c(4), make_store(buf("B"), v(V.x) / c(4), f(1.0)));
  Stmt s = make_for(V.x, c(0), c(10), ForKind::Serial, inner);
  EXPECT_EQ(to_string(simplify(s)), "for (x, 0, 10) {\n  if (x < 4) {\n    B[0] = 1.0\n  }\n}\n");
}

TEST_F(Simplify, EverythingRemovedGivesAnEmptySeq) {
  Stmt s = make_for(V.x, c(0), c(0), ForKind::Serial, make_store(buf("B"), v(V.x), f(1.0)));
  Stmt r = simplify(s);
  ASSERT_TRUE(r.defined());
  ASSERT_NE(r.as<Seq>(), nullptr);
  EXPECT_TRUE(r.as<Seq>()->stmts.empty());
}

TEST_F(Simplify, StoreWithTruePredicateDropsIt) {
  Stmt s = make_store(buf("B"), make_ramp(c(0), c(1), 4), make_broadcast(f(1.0), 4),
                      make_broadcast(c(1) < c(2), 4));
  EXPECT_EQ(to_string(simplify(s)), "B[ramp(0, 1, 4)] = x4(1.0)\n");
}

// ---- value preservation on random index expressions

int64_t fdiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

/// Evaluates an integer/bool scalar expression (the test's own small reference).
int64_t eval(const Expr &e, const std::map<const Variable *, int64_t> &env) {
  if (auto *i = e.as<IntImm>()) return i->value;
  if (auto *x = e.as<Variable>()) return env.at(x);
  if (auto *u = e.as<Unary>()) return u->op == UnOp::Neg ? -eval(u->a, env) : !eval(u->a, env);
  if (auto *s = e.as<Select>()) return eval(s->cond, env) ? eval(s->t, env) : eval(s->f, env);
  auto *b = e.as<Binary>();
  if (!b) ADD_FAILURE() << "cannot evaluate " << to_string(e);
  int64_t p = eval(b->a, env), q = eval(b->b, env);
  switch (b->op) {
    case BinOp::Add: return p + q;
    case BinOp::Sub: return p - q;
    case BinOp::Mul: return p * q;
    case BinOp::Div: return fdiv(p, q);
    case BinOp::Mod: return p - fdiv(p, q) * q;
    case BinOp::Min: return std::min(p, q);
    case BinOp::Max: return std::max(p, q);
    case BinOp::EQ: return p == q;
    case BinOp::NE: return p != q;
    case BinOp::LT: return p < q;
    case BinOp::LE: return p <= q;
    case BinOp::GT: return p > q;
    case BinOp::GE: return p >= q;
    case BinOp::And: return p && q;
    case BinOp::Or: return p || q;
  }
  return 0;
}

Expr random_int(std::mt19937 &rng, const std::vector<Var> &vars, int depth);

Expr random_bool(std::mt19937 &rng, const std::vector<Var> &vars, int depth) {
  static const BinOp cmps[] = {BinOp::EQ, BinOp::NE, BinOp::LT, BinOp::LE, BinOp::GT, BinOp::GE};
  int k = std::uniform_int_distribution<int>(0, 9)(rng);
  if (k < 7 || depth <= 0)
    return make_binary(cmps[rng() % 6], random_int(rng, vars, depth - 1), random_int(rng, vars, depth - 1));
  if (k < 9)
    return make_binary(k == 7 ? BinOp::And : BinOp::Or, random_bool(rng, vars, depth - 1), random_bool(rng, vars, depth - 1));
  return make_unary(UnOp::Not, random_bool(rng, vars, depth - 1));
}

Expr random_int(std::mt19937 &rng, const std::vector<Var> &vars, int depth) {
  int k = std::uniform_int_distribution<int>(0, depth <= 0 ? 1 : 11)(rng);
  auto sub = [&] { return random_int(rng, vars, depth - 1); };
  auto small = [&](int lo, int hi) { return make_int(std::uniform_int_distribution<int>(lo, hi)(rng)); };
  switch (k) {
    case 0: return small(-10, 10);
    case 1: return var(vars[rng() % vars.size()]);
    case 2: return sub() + sub();
    case 3: return sub() - sub();
    case 4: return sub() * small(-4, 8);
    case 5: return sub() * sub();
    case 6: return sub() / small(1, 9);
    case 7: return sub() % small(1, 9);
    case 8: return min(sub(), sub());
    case 9: return max(sub(), sub());
    case 10: return make_select(random_bool(rng, vars, depth - 1), sub(), sub());
    default: return make_unary(UnOp::Neg, sub());
  }
}

TEST_F(Simplify, PreservesValuesOfRandomExpressions) {
  std::mt19937 rng(12345);
  std::vector<Var> vars = {V.x, V.y, V.z};
  RangeMap r{{V.x.get(), {0, 15}}, {V.y.get(), {-5, 5}}, {V.z.get(), {2, 3}}};
  int changed = 0;
  for (int n = 0; n < 2000; ++n) {
    Expr e = n % 4 == 3 ? random_bool(rng, vars, 3) : random_int(rng, vars, 5);
    Expr s = simplify(e, r);
    changed += !s.same_as(e);
    for (int64_t x = 0; x <= 15; ++x)
      for (int64_t y = -5; y <= 5; ++y)
        for (int64_t z = 2; z <= 3; ++z) {
          std::map<const Variable *, int64_t> env{{V.x.get(), x}, {V.y.get(), y}, {V.z.get(), z}};
          ASSERT_EQ(eval(e, env), eval(s, env)) << to_string(e) << "\n  simplified to " << to_string(s) << "\n  at x="
                                                << x << " y=" << y << " z=" << z;
        }
  }
  EXPECT_GT(changed, 1000);
}

TEST_F(Simplify, PreservesValuesOfRandomExpressionsWithoutRanges) {
  std::mt19937 rng(777);
  std::vector<Var> vars = {V.x, V.y};
  for (int n = 0; n < 2000; ++n) {
    Expr e = random_int(rng, vars, 5);
    Expr s = simplify(e);
    for (int64_t x = -20; x <= 20; x += 3)
      for (int64_t y = -20; y <= 20; y += 7) {
        std::map<const Variable *, int64_t> env{{V.x.get(), x}, {V.y.get(), y}};
        ASSERT_EQ(eval(e, env), eval(s, env)) << to_string(e) << "\n  simplified to " << to_string(s);
      }
  }
}

/// Lane-wise evaluation of integer vector expressions (Ramp, Broadcast, Binary, scalars).
std::vector<int64_t> eval_lanes(const Expr &e, const std::map<const Variable *, int64_t> &env) {
  int n = e.type().lanes;
  if (n == 1) return {eval(e, env)};
  if (auto *r = e.as<Ramp>()) {
    int64_t b = eval(r->base, env), st = eval(r->stride, env);
    std::vector<int64_t> out;
    for (int i = 0; i < n; ++i) out.push_back(b + i * st);
    return out;
  }
  if (auto *bc = e.as<Broadcast>()) return std::vector<int64_t>(n, eval(bc->value, env));
  auto *b = e.as<Binary>();
  if (!b) {
    ADD_FAILURE() << "cannot evaluate " << to_string(e);
    return {};
  }
  auto p = eval_lanes(b->a, env), q = eval_lanes(b->b, env);
  std::vector<int64_t> out;
  for (int i = 0; i < n; ++i)
    out.push_back(eval(make_binary(b->op, make_int(p[i]), make_int(q[i])), env));
  return out;
}

TEST_F(Simplify, PreservesValuesOfRandomVectorExpressions) {
  std::mt19937 rng(99);
  RangeMap r{{V.x.get(), {0, 7}}};
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  static const BinOp ops[] = {BinOp::Add, BinOp::Sub, BinOp::Mul, BinOp::Div, BinOp::Mod,
                              BinOp::Min, BinOp::Max, BinOp::LT,  BinOp::EQ};
  for (int n = 0; n < 3000; ++n) {
    int lanes = 4 << pick(0, 1);
    auto operand = [&]() -> Expr {
      Expr base = var(V.x) * make_int(pick(0, 4) * 4) + make_int(pick(-3, 9));
      if (pick(0, 2) == 0) return make_broadcast(pick(0, 1) ? base : make_int(pick(1, 9)), lanes);
      return make_ramp(base, make_int(pick(-1, 3)), lanes);
    };
    BinOp op = ops[pick(0, 8)];
    Expr b = operand();
    if (op == BinOp::Div || op == BinOp::Mod) b = make_broadcast(make_int(pick(1, 8) * (pick(0, 1) ? 4 : 1)), lanes);
    Expr e = make_binary(op, operand(), b);
    Expr s = simplify(e, r);
    for (int64_t x = 0; x <= 7; ++x) {
      std::map<const Variable *, int64_t> env{{V.x.get(), x}};
      ASSERT_EQ(eval_lanes(e, env), eval_lanes(s, env)) << to_string(e) << "\n  simplified to " << to_string(s);
    }
  }
}

}  // namespace
}  // namespace kcc
