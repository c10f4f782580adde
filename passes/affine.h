// passes/affine.h - private to passes/: integer affine forms and constant intervals, the
// arithmetic the simplifier reasons with.
//
// Not a public header: only passes/simplify.cpp includes it.
//
// An affine form is sum(coef * term) + constant over one integer scalar type, where terms are
// non-affine atoms (variables, divisions, min/max, products of non-constants, loads, ...)
// merged by structural equality. build() prints it in a deterministic term order (by the first
// variable name a term mentions, digit runs compared as numbers, then structurally), so equal
// forms give equal expressions. A constant interval (CI) bounds an integer expression given
// the constant ranges of its variables; arithmetic on intervals that would overflow int64
// drops the bound instead.
#pragma once
#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "ir/expr.h"
#include "passes/simplify.h"

namespace kcc::arith {

// ---------------------------------------------------------------- integer helpers

inline bool fits64(__int128 x) {
  return x >= std::numeric_limits<int64_t>::min() && x <= std::numeric_limits<int64_t>::max();
}

/// An integer constant of type `t`, wrapped to its width (broadcast when `t` is a vector).
Expr int_const(Type t, int64_t v);

/// The constant value of a scalar IntImm or of a Broadcast of one.
bool const_int(const Expr &e, int64_t *v);

// ---------------------------------------------------------------- constant intervals

/// [lo, hi] with either side possibly unbounded.
struct CI {
  bool has_lo = false, has_hi = false;
  int64_t lo = 0, hi = 0;

  static CI point(int64_t c) { return {true, true, c, c}; }
  static CI all() { return {}; }
  static CI range(int64_t a, int64_t b) { return {true, true, a, b}; }
  bool bounded() const { return has_lo && has_hi; }
};

CI ci_add(const CI &a, const CI &b);
CI ci_scale(const CI &a, int64_t c);
CI ci_mul(const CI &a, const CI &b);
CI ci_div(const CI &a, int64_t d);  ///< floor division by a non-zero constant
CI ci_mod(const CI &a, int64_t d);  ///< floor modulus by a non-zero constant
CI ci_min(const CI &a, const CI &b);
CI ci_max(const CI &a, const CI &b);
CI ci_union(const CI &a, const CI &b);
/// The values of the type (unbounded for i64 and floats).
CI ci_of_type(Type t);

// ---------------------------------------------------------------- affine forms

/// The deterministic term order of build() (strict weak order).
bool term_less(const Expr &a, const Expr &b);

struct Term {
  Expr e;
  int64_t coef;
};
/// sum(coef * term) + c over one integer scalar type. `ok` turns false on overflow.
struct Linear {
  std::vector<Term> terms;
  int64_t c = 0;
  bool ok = true;

  void add_const(int64_t v) { ok = ok && !__builtin_add_overflow(c, v, &c); }
  void add_term(const Expr &e, int64_t coef) {
    for (auto &t : terms)
      if (equal(t.e, e)) {
        ok = ok && !__builtin_add_overflow(t.coef, coef, &t.coef);
        return;
      }
    terms.push_back({e, coef});
  }
  void drop_zero_terms() {
    terms.erase(std::remove_if(terms.begin(), terms.end(), [](const Term &t) { return t.coef == 0; }), terms.end());
  }
};

/// The affine form of scale * e, looking through + - * by constants and negation (`ok` is
/// false on overflow).
Linear linear_of(const Expr &e, int64_t scale = 1);
/// a + scale * b.
Linear combine(Linear a, const Linear &b, int64_t scale);
/// l == d*q + r for d > 0: q holds the terms whose coefficient d divides (divided by d) and
/// floor(l.c / d); r the other terms and floor_mod(l.c, d), which is in [0, d).
void divide_by(const Linear &l, int64_t d, Linear &q, Linear &r);
/// The expression of an affine form: positive terms first (in term order), then the
/// negative ones subtracted, then the constant.
Expr build(Linear l, Type t);

// ---------------------------------------------------------------- comparisons and ranges

BinOp flip(BinOp op);        ///< a op b  <=>  b flip(op) a
BinOp negate_cmp(BinOp op);  ///< not (a op b)  <=>  a negate_cmp(op) b, for integers
/// Decides `d op 0` from the range of d: 1 true, 0 false, -1 undecided.
int decide_cmp(BinOp op, const CI &r);

/// The constant range of a simplified integer expression (scalar, or all lanes of a vector),
/// given the ranges of its variables.
CI range_of(const Expr &e, const RangeMap &ranges);
/// The constant range of an affine form.
CI linear_range(const Linear &l, const RangeMap &ranges);

}  // namespace kcc::arith
