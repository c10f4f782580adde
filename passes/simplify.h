// passes/simplify.h - arithmetic and control-flow simplification of the loop IR.
#pragma once
#include <map>

#include "ir/expr.h"
#include "ir/stmt.h"

namespace kcc {

/// Known constant ranges of variables: v in [min, max] (inclusive).
struct ConstRange {
  int64_t min, max;
};
using RangeMap = std::map<const Variable *, ConstRange>;

/// Folds constants, canonicalizes integer affine expressions (collects terms, orders them,
/// folds (x*c1 + y)/c2 and % when provable with the ranges), removes min/max/select/comparisons
/// decided by the ranges. Never changes the value of the expression.
Expr simplify(const Expr &e, const RangeMap &ranges = {});
/// Simplifies every expression using the ranges of enclosing loops; removes loops of extent 0,
/// replaces loops of extent 1 by their body, removes ifs with decided conditions, flattens Seqs.
Stmt simplify(const Stmt &s, const RangeMap &ranges = {});

/// True if `cond` holds for all values of the variables in their ranges (false = unknown).
bool can_prove(const Expr &cond, const RangeMap &ranges = {});

}  // namespace kcc
