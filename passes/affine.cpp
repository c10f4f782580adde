// passes/affine.cpp - integer affine forms and constant intervals (passes/affine.h).
#include "passes/affine.h"

#include <algorithm>
#include <cctype>
#include <string>

#include "ir/kernel.h"

namespace kcc::arith {
namespace {

/// Two's complement wrap of an integer constant to the width of `t`.
int64_t wrap(Type t, int64_t v) { return wrap_int(t.kind, v); }

}  // namespace

/// An integer constant of type `t` (broadcast when `t` is a vector).
Expr int_const(Type t, int64_t v) {
  if (t.is_bool()) return t.lanes > 1 ? make_broadcast(make_bool(v != 0), t.lanes) : make_bool(v != 0);
  return make_int(wrap(t, v), t);
}

/// The constant value of a scalar IntImm or of a Broadcast of one.
bool const_int(const Expr &e, int64_t *v) {
  if (is_const_int(e, v)) return true;
  if (auto *b = e.as<Broadcast>()) return is_const_int(b->value, v);
  return false;
}

// ---------------------------------------------------------------- constant intervals

CI ci_add(const CI &a, const CI &b) {
  CI r;
  __int128 lo = static_cast<__int128>(a.lo) + b.lo, hi = static_cast<__int128>(a.hi) + b.hi;
  r.has_lo = a.has_lo && b.has_lo && fits64(lo);
  r.has_hi = a.has_hi && b.has_hi && fits64(hi);
  r.lo = r.has_lo ? static_cast<int64_t>(lo) : 0;
  r.hi = r.has_hi ? static_cast<int64_t>(hi) : 0;
  return r;
}

CI ci_scale(const CI &a, int64_t c) {
  if (c == 0) return CI::point(0);
  CI r;
  __int128 lo = static_cast<__int128>(a.lo) * c, hi = static_cast<__int128>(a.hi) * c;
  if (c > 0) {
    r.has_lo = a.has_lo && fits64(lo);
    r.has_hi = a.has_hi && fits64(hi);
    r.lo = r.has_lo ? static_cast<int64_t>(lo) : 0;
    r.hi = r.has_hi ? static_cast<int64_t>(hi) : 0;
  } else {
    r.has_lo = a.has_hi && fits64(hi);
    r.has_hi = a.has_lo && fits64(lo);
    r.lo = r.has_lo ? static_cast<int64_t>(hi) : 0;
    r.hi = r.has_hi ? static_cast<int64_t>(lo) : 0;
  }
  return r;
}

CI ci_mul(const CI &a, const CI &b) {
  if (a.bounded() && a.lo == a.hi) return ci_scale(b, a.lo);
  if (b.bounded() && b.lo == b.hi) return ci_scale(a, b.lo);
  if (a.bounded() && b.bounded()) {
    __int128 p[4] = {static_cast<__int128>(a.lo) * b.lo, static_cast<__int128>(a.lo) * b.hi,
                     static_cast<__int128>(a.hi) * b.lo, static_cast<__int128>(a.hi) * b.hi};
    __int128 lo = *std::min_element(p, p + 4), hi = *std::max_element(p, p + 4);
    if (fits64(lo) && fits64(hi)) return CI::range(static_cast<int64_t>(lo), static_cast<int64_t>(hi));
    return CI::all();
  }
  if (a.has_lo && b.has_lo && a.lo >= 0 && b.lo >= 0) {
    CI r;
    __int128 lo = static_cast<__int128>(a.lo) * b.lo;
    r.has_lo = fits64(lo);
    r.lo = r.has_lo ? static_cast<int64_t>(lo) : 0;
    return r;
  }
  return CI::all();
}

CI ci_div(const CI &a, int64_t d) {
  CI r;
  if (d > 0) {
    r.has_lo = a.has_lo;
    r.has_hi = a.has_hi;
    r.lo = a.has_lo ? floor_div(a.lo, d) : 0;
    r.hi = a.has_hi ? floor_div(a.hi, d) : 0;
  } else if (d < 0 && d != -1) {
    r.has_lo = a.has_hi;
    r.has_hi = a.has_lo;
    r.lo = a.has_hi ? floor_div(a.hi, d) : 0;
    r.hi = a.has_lo ? floor_div(a.lo, d) : 0;
  } else if (d == -1) {
    return ci_scale(a, -1);
  }
  return r;
}

CI ci_mod(const CI &a, int64_t d) {
  if (d > 0) {
    if (a.bounded() && floor_div(a.lo, d) == floor_div(a.hi, d)) return CI::range(floor_mod(a.lo, d), floor_mod(a.hi, d));
    return CI::range(0, d - 1);
  }
  if (d < 0) return CI::range(d + 1, 0);
  return CI::all();
}

CI ci_min(const CI &a, const CI &b) {
  CI r;
  r.has_lo = a.has_lo && b.has_lo;
  r.lo = r.has_lo ? std::min(a.lo, b.lo) : 0;
  r.has_hi = a.has_hi || b.has_hi;
  r.hi = a.has_hi && b.has_hi ? std::min(a.hi, b.hi) : a.has_hi ? a.hi : b.hi;
  return r;
}

CI ci_max(const CI &a, const CI &b) {
  CI r;
  r.has_hi = a.has_hi && b.has_hi;
  r.hi = r.has_hi ? std::max(a.hi, b.hi) : 0;
  r.has_lo = a.has_lo || b.has_lo;
  r.lo = a.has_lo && b.has_lo ? std::max(a.lo, b.lo) : a.has_lo ? a.lo : b.lo;
  return r;
}

CI ci_union(const CI &a, const CI &b) {
  CI r;
  r.has_lo = a.has_lo && b.has_lo;
  r.has_hi = a.has_hi && b.has_hi;
  r.lo = r.has_lo ? std::min(a.lo, b.lo) : 0;
  r.hi = r.has_hi ? std::max(a.hi, b.hi) : 0;
  return r;
}

CI ci_of_type(Type t) {
  switch (t.kind) {
    case ScalarKind::Bool: return CI::range(0, 1);
    case ScalarKind::I8: return CI::range(-128, 127);
    case ScalarKind::I32: return CI::range(std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max());
    case ScalarKind::I64:
    case ScalarKind::F32:
    case ScalarKind::F16:
    case ScalarKind::BF16:
    case ScalarKind::F64: return CI::all();
  }
  return CI::all();
}

// ---------------------------------------------------------------- deterministic term order

namespace {

/// Compares names with runs of digits compared as numbers ("i2" < "i10").
int compare_names(const std::string &a, const std::string &b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) && std::isdigit(static_cast<unsigned char>(b[j]))) {
      size_t i2 = i, j2 = j;
      while (i2 < a.size() && std::isdigit(static_cast<unsigned char>(a[i2]))) ++i2;
      while (j2 < b.size() && std::isdigit(static_cast<unsigned char>(b[j2]))) ++j2;
      std::string na = a.substr(i, i2 - i), nb = b.substr(j, j2 - j);
      na.erase(0, std::min(na.find_first_not_of('0'), na.size()));
      nb.erase(0, std::min(nb.find_first_not_of('0'), nb.size()));
      if (na.size() != nb.size()) return na.size() < nb.size() ? -1 : 1;
      if (int c = na.compare(nb)) return c < 0 ? -1 : 1;
      i = i2;
      j = j2;
      continue;
    }
    if (a[i] != b[j]) return a[i] < b[j] ? -1 : 1;
    ++i;
    ++j;
  }
  if (i < a.size()) return 1;
  if (j < b.size()) return -1;
  return 0;
}

template <class T>
int cmp3(const T &a, const T &b) {
  return a < b ? -1 : b < a ? 1 : 0;
}

int compare_expr(const Expr &a, const Expr &b);

int compare_list(const std::vector<Expr> &a, const std::vector<Expr> &b) {
  if (int c = cmp3(a.size(), b.size())) return c;
  for (size_t i = 0; i < a.size(); ++i)
    if (int c = compare_expr(a[i], b[i])) return c;
  return 0;
}

/// A structural total order (up to variables with one name, which compare equal).
int compare_expr(const Expr &a, const Expr &b) {
  if (a.same_as(b)) return 0;
  if (int c = cmp3(static_cast<int>(a.kind()), static_cast<int>(b.kind()))) return c;
  if (int c = cmp3(static_cast<int>(a.type().kind), static_cast<int>(b.type().kind))) return c;
  if (int c = cmp3(a.type().lanes, b.type().lanes)) return c;
  switch (a.kind()) {
    case ExprKind::IntImm: return cmp3(a.as<IntImm>()->value, b.as<IntImm>()->value);
    case ExprKind::FloatImm: return cmp3(a.as<FloatImm>()->value, b.as<FloatImm>()->value);
    case ExprKind::Variable: return compare_names(a.as<Variable>()->name, b.as<Variable>()->name);
    case ExprKind::Cast: return compare_expr(a.as<Cast>()->value, b.as<Cast>()->value);
    case ExprKind::Unary: {
      auto *x = a.as<Unary>(), *y = b.as<Unary>();
      if (int c = cmp3(static_cast<int>(x->op), static_cast<int>(y->op))) return c;
      return compare_expr(x->a, y->a);
    }
    case ExprKind::Binary: {
      auto *x = a.as<Binary>(), *y = b.as<Binary>();
      if (int c = cmp3(static_cast<int>(x->op), static_cast<int>(y->op))) return c;
      if (int c = compare_expr(x->a, y->a)) return c;
      return compare_expr(x->b, y->b);
    }
    case ExprKind::Select: {
      auto *x = a.as<Select>(), *y = b.as<Select>();
      return compare_list({x->cond, x->t, x->f}, {y->cond, y->t, y->f});
    }
    case ExprKind::Call: {
      auto *x = a.as<Call>(), *y = b.as<Call>();
      if (int c = cmp3(static_cast<int>(x->fn), static_cast<int>(y->fn))) return c;
      return compare_list(x->args, y->args);
    }
    case ExprKind::Access: {
      auto *x = a.as<Access>(), *y = b.as<Access>();
      if (int c = compare_names(x->tensor->name, y->tensor->name)) return c;
      return compare_list(x->indices, y->indices);
    }
    case ExprKind::Load: {
      auto *x = a.as<Load>(), *y = b.as<Load>();
      if (int c = compare_names(x->buffer->name, y->buffer->name)) return c;
      return compare_expr(x->index, y->index);
    }
    case ExprKind::Ramp: {
      auto *x = a.as<Ramp>(), *y = b.as<Ramp>();
      return compare_list({x->base, x->stride}, {y->base, y->stride});
    }
    case ExprKind::Broadcast: return compare_expr(a.as<Broadcast>()->value, b.as<Broadcast>()->value);
  }
  return 0;
}

/// The name of the first variable of `e` in pre-order ("" if none).
const std::string &lead_name(const Expr &e) {
  static const std::string none;
  if (auto *v = e.as<Variable>()) return v->name;
  switch (e.kind()) {
    case ExprKind::IntImm:
    case ExprKind::FloatImm:
    case ExprKind::Variable: return none;
    case ExprKind::Cast: return lead_name(e.as<Cast>()->value);
    case ExprKind::Unary: return lead_name(e.as<Unary>()->a);
    case ExprKind::Binary: {
      auto *b = e.as<Binary>();
      const std::string &n = lead_name(b->a);
      return n.empty() ? lead_name(b->b) : n;
    }
    case ExprKind::Select: {
      auto *s = e.as<Select>();
      for (const Expr *x : {&s->cond, &s->t, &s->f})
        if (!lead_name(*x).empty()) return lead_name(*x);
      return none;
    }
    case ExprKind::Call:
      for (auto &x : e.as<Call>()->args)
        if (!lead_name(x).empty()) return lead_name(x);
      return none;
    case ExprKind::Access:
      for (auto &x : e.as<Access>()->indices)
        if (!lead_name(x).empty()) return lead_name(x);
      return none;
    case ExprKind::Load: return lead_name(e.as<Load>()->index);
    case ExprKind::Ramp: return lead_name(e.as<Ramp>()->base);
    case ExprKind::Broadcast: return lead_name(e.as<Broadcast>()->value);
  }
  return none;
}

}  // namespace

bool term_less(const Expr &a, const Expr &b) {
  if (int c = compare_names(lead_name(a), lead_name(b))) return c < 0;
  return compare_expr(a, b) < 0;
}

// ---------------------------------------------------------------- affine forms

namespace {

/// Adds scale * e to `out`, looking through + - * by constants and negation.
void linearize(const Expr &e, int64_t scale, Linear &out) {
  if (!out.ok) return;
  int64_t k;
  if (is_const_int(e, &k)) {
    int64_t v;
    out.ok = out.ok && !__builtin_mul_overflow(k, scale, &v);
    out.add_const(v);
    return;
  }
  if (auto *u = e.as<Unary>(); u && u->op == UnOp::Neg) {
    if (scale == std::numeric_limits<int64_t>::min()) out.ok = false;
    else linearize(u->a, -scale, out);
    return;
  }
  if (auto *b = e.as<Binary>()) {
    int64_t s;
    switch (b->op) {
      case BinOp::Add:
        linearize(b->a, scale, out);
        linearize(b->b, scale, out);
        return;
      case BinOp::Sub:
        linearize(b->a, scale, out);
        if (scale == std::numeric_limits<int64_t>::min()) out.ok = false;
        else linearize(b->b, -scale, out);
        return;
      case BinOp::Mul:
        if (is_const_int(b->b, &k) || is_const_int(b->a, &k)) {
          if (__builtin_mul_overflow(scale, k, &s)) {
            out.ok = false;
            return;
          }
          linearize(is_const_int(b->b) ? b->a : b->b, s, out);
          return;
        }
        break;
      default: break;
    }
  }
  out.add_term(e, scale);
}

}  // namespace

Linear linear_of(const Expr &e, int64_t scale) {
  Linear l;
  linearize(e, scale, l);
  l.drop_zero_terms();
  return l;
}

/// a + scale * b.
Linear combine(Linear a, const Linear &b, int64_t scale) {
  for (auto &t : b.terms) {
    int64_t c;
    if (__builtin_mul_overflow(t.coef, scale, &c)) a.ok = false;
    else a.add_term(t.e, c);
  }
  int64_t c;
  if (__builtin_mul_overflow(b.c, scale, &c)) a.ok = false;
  else a.add_const(c);
  a.ok = a.ok && b.ok;
  a.drop_zero_terms();
  return a;
}

void divide_by(const Linear &l, int64_t d, Linear &q, Linear &r) {
  for (auto &tm : l.terms) {
    if (tm.coef % d == 0) q.add_term(tm.e, tm.coef / d);
    else r.add_term(tm.e, tm.coef);
  }
  q.c = floor_div(l.c, d);
  r.c = floor_mod(l.c, d);
}

namespace {

Expr scaled(const Expr &term, int64_t k, Type t) {
  return k == 1 ? term : make_binary(BinOp::Mul, term, int_const(t, k));
}

}  // namespace

/// The expression of an affine form: positive terms first (in term order), then the
/// negative ones subtracted, then the constant.
Expr build(Linear l, Type t) {
  std::stable_sort(l.terms.begin(), l.terms.end(), [](const Term &a, const Term &b) { return term_less(a.e, b.e); });
  Expr r;
  for (auto &tm : l.terms)
    if (tm.coef > 0) r = r.defined() ? make_binary(BinOp::Add, r, scaled(tm.e, tm.coef, t)) : scaled(tm.e, tm.coef, t);
  if (!r.defined() && l.c != 0 && !l.terms.empty()) {
    r = int_const(t, l.c);
    l.c = 0;
  }
  for (auto &tm : l.terms) {
    if (tm.coef > 0) continue;
    if (!r.defined()) {
      r = tm.coef == -1 ? make_unary(UnOp::Neg, tm.e) : scaled(tm.e, tm.coef, t);
      continue;
    }
    if (tm.coef == std::numeric_limits<int64_t>::min()) r = make_binary(BinOp::Add, r, scaled(tm.e, tm.coef, t));
    else r = make_binary(BinOp::Sub, r, scaled(tm.e, -tm.coef, t));
  }
  if (!r.defined()) return int_const(t, l.c);
  if (l.c > 0 || l.c == std::numeric_limits<int64_t>::min()) r = make_binary(BinOp::Add, r, int_const(t, l.c));
  else if (l.c < 0) r = make_binary(BinOp::Sub, r, int_const(t, -l.c));
  return r;
}

// ---------------------------------------------------------------- comparisons and ranges

BinOp flip(BinOp op) {  // a op b  <=>  b flip(op) a
  switch (op) {
    case BinOp::LT: return BinOp::GT;
    case BinOp::LE: return BinOp::GE;
    case BinOp::GT: return BinOp::LT;
    case BinOp::GE: return BinOp::LE;
    default: return op;
  }
}

BinOp negate_cmp(BinOp op) {  // not (a op b)  <=>  a negate(op) b, for integers
  switch (op) {
    case BinOp::LT: return BinOp::GE;
    case BinOp::LE: return BinOp::GT;
    case BinOp::GT: return BinOp::LE;
    case BinOp::GE: return BinOp::LT;
    case BinOp::EQ: return BinOp::NE;
    case BinOp::NE: return BinOp::EQ;
    default: return op;
  }
}

/// Decides `d op 0` from the range of d; returns -1 when undecided.
int decide_cmp(BinOp op, const CI &r) {
  switch (op) {
    case BinOp::LT:
      if (r.has_hi && r.hi < 0) return 1;
      if (r.has_lo && r.lo >= 0) return 0;
      return -1;
    case BinOp::LE:
      if (r.has_hi && r.hi <= 0) return 1;
      if (r.has_lo && r.lo > 0) return 0;
      return -1;
    case BinOp::GT:
      if (r.has_lo && r.lo > 0) return 1;
      if (r.has_hi && r.hi <= 0) return 0;
      return -1;
    case BinOp::GE:
      if (r.has_lo && r.lo >= 0) return 1;
      if (r.has_hi && r.hi < 0) return 0;
      return -1;
    case BinOp::EQ:
    case BinOp::NE: {
      int eq = -1;
      if (r.bounded() && r.lo == 0 && r.hi == 0) eq = 1;
      else if ((r.has_lo && r.lo > 0) || (r.has_hi && r.hi < 0)) eq = 0;
      if (eq < 0) return -1;
      return op == BinOp::EQ ? eq : 1 - eq;
    }
    default: return -1;
  }
}

namespace {

CI binary_range(const Binary *b, const RangeMap &ranges) {
  if (is_comparison(b->op) || is_logical(b->op)) return CI::range(0, 1);
  CI x = range_of(b->a, ranges), y = range_of(b->b, ranges);
  int64_t d;
  switch (b->op) {
    case BinOp::Add: return ci_add(x, y);
    case BinOp::Sub: return ci_add(x, ci_scale(y, -1));
    case BinOp::Mul: return ci_mul(x, y);
    case BinOp::Div:
      if (const_int(b->b, &d) && d != 0) return ci_div(x, d);
      return ci_of_type(b->type);
    case BinOp::Mod:
      if (const_int(b->b, &d) && d != 0) return ci_mod(x, d);
      if (y.bounded() && y.lo > 0) return CI::range(0, y.hi - 1);
      return ci_of_type(b->type);
    case BinOp::Min: return ci_min(x, y);
    case BinOp::Max: return ci_max(x, y);
    case BinOp::EQ:
    case BinOp::NE:
    case BinOp::LT:
    case BinOp::LE:
    case BinOp::GT:
    case BinOp::GE:
    case BinOp::And:
    case BinOp::Or: return CI::range(0, 1);
  }
  return CI::all();
}

}  // namespace

/// The constant range of a simplified integer expression (scalar, or all lanes of a vector).
CI range_of(const Expr &e, const RangeMap &ranges) {
  Type t = e.type();
  if (!t.is_int() && !t.is_bool()) return CI::all();
  switch (e.kind()) {
    case ExprKind::IntImm: return CI::point(e.as<IntImm>()->value);
    case ExprKind::Variable: {
      auto it = ranges.find(e.as<Variable>());
      if (it == ranges.end()) return ci_of_type(t);
      CI r;
      r.has_lo = it->second.min != std::numeric_limits<int64_t>::min();
      r.has_hi = it->second.max != std::numeric_limits<int64_t>::max();
      r.lo = it->second.min;
      r.hi = it->second.max;
      return r;
    }
    case ExprKind::Cast: {
      const Expr &v = e.as<Cast>()->value;
      if (!v.type().is_int() && !v.type().is_bool()) return ci_of_type(t);
      CI r = range_of(v, ranges), lim = ci_of_type(t);
      if (!lim.bounded()) return r;
      if (r.bounded() && r.lo >= lim.lo && r.hi <= lim.hi) return r;
      return lim;
    }
    case ExprKind::Unary: {
      auto *u = e.as<Unary>();
      if (u->op == UnOp::Not) return CI::range(0, 1);
      return ci_scale(range_of(u->a, ranges), -1);
    }
    case ExprKind::Binary: return binary_range(e.as<Binary>(), ranges);
    case ExprKind::Select: {
      auto *s = e.as<Select>();
      return ci_union(range_of(s->t, ranges), range_of(s->f, ranges));
    }
    case ExprKind::Ramp: {
      auto *r = e.as<Ramp>();
      CI b = range_of(r->base, ranges), s = range_of(r->stride, ranges);
      CI last = ci_add(b, ci_scale(s, r->lanes - 1));
      return ci_union(b, last);
    }
    case ExprKind::Broadcast: return range_of(e.as<Broadcast>()->value, ranges);
    case ExprKind::FloatImm:
    case ExprKind::Call:
    case ExprKind::Access:
    case ExprKind::Load: return ci_of_type(t);
  }
  return CI::all();
}

CI linear_range(const Linear &l, const RangeMap &ranges) {
  CI r = CI::point(l.c);
  for (auto &t : l.terms) r = ci_add(r, ci_scale(range_of(t.e, ranges), t.coef));
  return r;
}

}  // namespace kcc::arith
