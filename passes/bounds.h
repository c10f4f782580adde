// passes/bounds.h - symbolic interval arithmetic for bounds inference.
#pragma once
#include <map>

#include "ir/expr.h"
#include "passes/simplify.h"

namespace kcc {

/// [min, max] inclusive, as expressions; an undefined side means unbounded.
struct Interval {
  Expr min, max;
  bool bounded() const { return min.defined() && max.defined(); }
};
/// Ranges of variables as symbolic intervals (variables not in the map are treated as symbols,
/// i.e. the point interval [v, v]).
using Scope = std::map<const Variable *, Interval>;

/// The range of an integer expression when its variables range over `scope`. Handles + - *
/// by constants or by symbols, floor / and % by positive constants, min, max, select, casts.
/// The result is simplified; it may be conservative (wider), never too narrow.
Interval bounds_of(const Expr &e, const Scope &scope);

}  // namespace kcc
