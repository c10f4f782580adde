// passes/simplify.cpp - arithmetic and control-flow simplification.
//
// The simplifier is one IRMutator that rebuilds the tree bottom-up. Every node is rebuilt
// through "smart constructors" (binop, unop, ...) that assume their operands are already
// simplified, so each rule sees canonical operands and never re-walks them.
//
// Integer scalar arithmetic (+, -, * by constants, negation) is kept in a canonical affine
// form: sum(coef * term) + constant, where terms are non-affine atoms (variables, divisions,
// min/max, products of non-constants, loads, ...) merged by structural equality and ordered
// deterministically (by the first variable name they mention, with digit runs compared as
// numbers, then structurally). Equal expressions therefore print equally and `e - e` is 0.
// The forms and the constant intervals live in passes/affine.{h,cpp}.
//
// Facts about variables come from a RangeMap of constant ranges. Interval reasoning on the
// affine form decides comparisons, min/max and divisions; anything not provable is left alone.
// Float arithmetic is only folded when all operands are constants (never reassociated), and
// only for f32/f64 where the folding can round exactly like the target.
#include "passes/simplify.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "ir/diag.h"
#include "ir/visitor.h"
#include "passes/affine.h"

namespace kcc {
namespace {

using namespace arith;

// ---------------------------------------------------------------- helpers

bool is_true(const Expr &e) {
  int64_t v;
  return e.type().is_bool() && const_int(e, &v) && v != 0;
}
bool is_false(const Expr &e) {
  int64_t v;
  return e.type().is_bool() && const_int(e, &v) && v == 0;
}

/// Folding floats is exact only where we can round like the target: f32 and f64.
bool foldable_float(Type t) { return t.kind == ScalarKind::F32 || t.kind == ScalarKind::F64; }
double round_float(Type t, double v) {
  return t.kind == ScalarKind::F32 ? static_cast<double>(static_cast<float>(v)) : v;
}

bool is_gpu(ForKind k) { return k == ForKind::GpuBlock || k == ForKind::GpuThread; }

bool is_empty(const Stmt &s) {
  if (!s.defined()) return true;
  auto *q = s.as<Seq>();
  return q && q->stmts.empty();
}

// ---------------------------------------------------------------- the simplifier

class Simplifier : public IRMutator {
 public:
  explicit Simplifier(const RangeMap &r) : ranges_(r) {}
  using IRMutator::mutate;

  /// The constant range of a simplified integer expression (scalar, or all lanes of a vector).
  CI range_of(const Expr &e) { return arith::range_of(e, ranges_); }
  CI linear_range(const Linear &l) { return arith::linear_range(l, ranges_); }

  // ---- smart constructors: operands are already simplified

  /// The canonical expression of an affine form (with min/max absorption, see below).
  Expr canonical(const Linear &l, Type t) {
    if (Expr m = absorb_min_max(l, t); m.defined()) return m;
    return build(l, t);
  }

  /// min(a, b) + rest  ->  min(a + rest, b + rest) when that cancels terms, e.g.
  /// min(i0*32 + 32, 100) - i0*32  ->  min(32, 100 - i0*32). Strictly fewer atoms, so it terminates.
  Expr absorb_min_max(const Linear &l, Type t) {
    if (l.terms.size() < 2) return Expr();
    for (size_t i = 0; i < l.terms.size(); ++i) {
      const Term &tm = l.terms[i];
      auto *b = tm.e.as<Binary>();
      if (!b || (b->op != BinOp::Min && b->op != BinOp::Max) || (tm.coef != 1 && tm.coef != -1)) continue;
      Linear rest = l;
      rest.terms.erase(rest.terms.begin() + static_cast<long>(i));
      Linear la = linear_of(b->a), lb = linear_of(b->b);
      Linear na = combine(rest, la, tm.coef), nb = combine(rest, lb, tm.coef);
      if (!na.ok || !nb.ok) continue;
      if (na.terms.size() + nb.terms.size() >= la.terms.size() + lb.terms.size() + rest.terms.size()) continue;
      // rest + min(a, b) = min(rest + a, rest + b); rest - min(a, b) = max(rest - a, rest - b).
      BinOp op = (tm.coef == 1) == (b->op == BinOp::Min) ? BinOp::Min : BinOp::Max;
      return binop(op, build(na, t), build(nb, t));
    }
    return Expr();
  }

  Expr binop(BinOp op, const Expr &a, const Expr &b) {
    Type t = a.type();
    if (t.lanes != b.type().lanes) return make_binary(op, a, b);  // make_binary broadcasts; keep it simple
    if (t.is_vector()) return vector_binop(op, a, b);
    if (t.is_float()) return float_binop(op, a, b);
    if (t.is_bool()) return bool_binop(op, a, b);
    return int_binop(op, a, b);
  }

  Expr unop(UnOp op, const Expr &a) {
    Type t = a.type();
    if (auto *bc = a.as<Broadcast>()) return make_broadcast(unop(op, bc->value), bc->lanes);
    if (op == UnOp::Not) {
      int64_t v;
      if (is_const_int(a, &v)) return make_bool(v == 0);
      if (auto *u = a.as<Unary>(); u && u->op == UnOp::Not) return u->a;
      if (auto *b = a.as<Binary>(); b && is_comparison(b->op) && !b->a.type().is_float())
        return binop(negate_cmp(b->op), b->a, b->b);
      return make_unary(op, a);
    }
    double f;
    if (t.is_float()) {
      if (is_const_float(a, &f) && foldable_float(t)) return make_float(-f, t);
      return make_unary(op, a);
    }
    if (t.is_int() && !t.is_vector()) {
      Linear l = linear_of(a, -1);
      if (l.ok) return canonical(l, t);
    }
    if (auto *r = a.as<Ramp>(); r && t.is_int()) return ramp(unop(op, r->base), unop(op, r->stride), r->lanes);
    return make_unary(op, a);
  }

  Expr ramp(const Expr &base, const Expr &stride, int lanes) {
    if (is_const_int(stride, int64_t{0})) return make_broadcast(base, lanes);
    return make_ramp(base, stride, lanes);
  }

  Expr select(const Expr &c, const Expr &t, const Expr &f) {
    if (is_true(c)) return t;
    if (is_false(c)) return f;
    if (equal(t, f)) return t;
    return make_select(c, t, f);
  }

 protected:
  // ---- expressions

  Expr mutate_node(const Variable *op, const Expr &self) override {
    if (!op->type.is_int()) return self;
    CI r = range_of(self);
    if (r.bounded() && r.lo == r.hi) return int_const(op->type, r.lo);
    return self;
  }

  Expr mutate_node(const Cast *op, const Expr &self) override {
    Expr v = mutate(op->value);
    Type t = op->type.with_lanes(v.type().lanes);
    if (auto *bc = v.as<Broadcast>()) return make_broadcast(cast(t.element(), bc->value), bc->lanes);
    Expr r = cast(t, v);
    return equal(r, self) ? self : r;
  }

  Expr cast(Type t, const Expr &v) {
    if (v.type() == t) return v;
    int64_t i;
    double f;
    if (is_const_int(v, &i)) {
      if (t.is_int() || t.is_bool()) return int_const(t, i);
      if (foldable_float(t)) return make_float(round_float(t, static_cast<double>(i)), t);
    }
    if (is_const_float(v, &f)) {
      if (t.is_bool()) return make_bool(f != 0);
      if (foldable_float(t) && foldable_float(v.type())) return make_float(round_float(t, f), t);
      if (t.is_int() && std::isfinite(f) && std::fabs(f) < 9.2e18) return int_const(t, static_cast<int64_t>(f));
    }
    return make_cast(t, v);
  }

  Expr mutate_node(const Unary *op, const Expr &self) override {
    Expr a = mutate(op->a);
    Expr r = unop(op->op, a);
    return equal(r, self) ? self : r;
  }

  Expr mutate_node(const Binary *op, const Expr &self) override {
    Expr a = mutate(op->a), b = mutate(op->b);
    Expr r = binop(op->op, a, b);
    return equal(r, self) ? self : r;
  }

  Expr mutate_node(const Select *op, const Expr &self) override {
    Expr c = mutate(op->cond), t = mutate(op->t), f = mutate(op->f);
    Expr r = select(c, t, f);
    return equal(r, self) ? self : r;
  }

  Expr mutate_node(const Call *op, const Expr &self) override {
    std::vector<Expr> args;
    bool changed = false, all_const = true;
    std::vector<double> vals;
    for (auto &a : op->args) {
      args.push_back(mutate(a));
      changed |= !args.back().same_as(a);
      double f;
      all_const = all_const && is_const_float(args.back(), &f);
      vals.push_back(all_const ? f : 0);
    }
    if (all_const && foldable_float(op->type)) return make_float(round_float(op->type, eval_call(op->fn, vals)), op->type);
    return changed ? make_call(op->fn, std::move(args)) : self;
  }

  static double eval_call(MathFn fn, const std::vector<double> &x) {
    switch (fn) {
      case MathFn::exp: return std::exp(x[0]);
      case MathFn::log: return std::log(x[0]);
      case MathFn::sqrt: return std::sqrt(x[0]);
      case MathFn::rsqrt: return 1.0 / std::sqrt(x[0]);
      case MathFn::tanh: return std::tanh(x[0]);
      case MathFn::sigmoid: return 1.0 / (1.0 + std::exp(-x[0]));
      case MathFn::erf: return std::erf(x[0]);
      case MathFn::abs: return std::fabs(x[0]);
      case MathFn::floor: return std::floor(x[0]);
      case MathFn::ceil: return std::ceil(x[0]);
      case MathFn::pow: return std::pow(x[0], x[1]);
    }
    return 0;
  }

  Expr mutate_node(const Ramp *op, const Expr &self) override {
    Expr b = mutate(op->base), s = mutate(op->stride);
    if (b.same_as(op->base) && s.same_as(op->stride)) return self;
    return ramp(b, s, op->lanes);
  }

  // ---- statements

  Stmt mutate_node(const For *op, const Stmt &self) override {
    Expr mn = mutate(op->min), ex = mutate(op->extent);
    CI er = range_of(ex);
    if (er.has_hi && er.hi <= 0) return Stmt();  // never runs
    if (is_const_int(ex, 1) && !is_gpu(op->kind)) return mutate(substitute(op->body, {{op->var, mn}}));
    CI mr = range_of(mn);
    ConstRange vr{std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()};
    if (mr.has_lo) vr.min = mr.lo;
    if (mr.has_hi && er.has_hi) {
      __int128 hi = static_cast<__int128>(mr.hi) + er.hi - 1;
      if (fits64(hi)) vr.max = static_cast<int64_t>(hi);
    }
    Stmt body = with_range(op->var.get(), vr, [&] { return mutate(op->body); });
    if (is_empty(body)) return Stmt();
    if (mn.same_as(op->min) && ex.same_as(op->extent) && body.same_as(op->body)) return self;
    return make_for(op->var, mn, ex, op->kind, body, op->thread_axis);
  }

  Stmt mutate_node(const Store *op, const Stmt &self) override {
    Expr p = mutate(op->predicate);
    if (p.defined() && is_false(p)) return Stmt();
    if (p.defined() && is_true(p)) p = Expr();
    Expr i = mutate(op->index), v = mutate(op->value);
    if (i.same_as(op->index) && v.same_as(op->value) && p.same_as(op->predicate)) return self;
    return make_store(op->buffer, i, v, p);
  }

  Stmt mutate_node(const Allocate *op, const Stmt &self) override {
    Stmt body = mutate(op->body);
    if (is_empty(body)) return Stmt();
    return body.same_as(op->body) ? self : make_allocate(op->buffer, body);
  }

  Stmt mutate_node(const Seq *op, const Stmt &self) override {
    std::vector<Stmt> out;
    bool changed = false;
    for (auto &s : op->stmts) {
      Stmt m = mutate(s);
      changed |= !m.same_as(s);
      if (!is_empty(m)) out.push_back(m);
      else changed = true;
    }
    if (!changed) return self;
    if (out.empty()) return Stmt();
    return make_seq(std::move(out));
  }

  Stmt mutate_node(const IfThenElse *op, const Stmt &self) override {
    Expr c = mutate(op->cond);
    if (is_true(c)) return mutate(op->then_case);
    if (is_false(c)) return mutate(op->else_case);
    Stmt t = with_facts(c, true, [&] { return mutate(op->then_case); });
    Stmt e = with_facts(c, false, [&] { return mutate(op->else_case); });
    if (is_empty(t) && is_empty(e)) return Stmt();
    if (is_empty(t)) return make_if(unop(UnOp::Not, c), e);
    if (is_empty(e)) e = Stmt();
    if (c.same_as(op->cond) && t.same_as(op->then_case) && e.same_as(op->else_case)) return self;
    return make_if(c, t, e);
  }

 private:
  template <class F>
  Stmt with_range(const Variable *v, ConstRange r, F body) {
    auto it = ranges_.find(v);
    bool had = it != ranges_.end();
    ConstRange old = had ? it->second : ConstRange{};
    ranges_[v] = r;
    Stmt s = body();
    if (had) ranges_[v] = old;
    else ranges_.erase(v);
    return s;
  }

  /// Runs `body` knowing `cond == holds` for conditions `var op const` (and conjunctions
  /// of them when `holds`), which tighten the variable's range.
  template <class F>
  Stmt with_facts(const Expr &cond, bool holds, F body) {
    std::vector<std::pair<const Variable *, ConstRange>> facts;
    collect_facts(cond, holds, facts);
    RangeMap saved = ranges_;
    for (auto &[v, r] : facts) {
      auto it = ranges_.find(v);
      ConstRange cur = it != ranges_.end()
                           ? it->second
                           : ConstRange{std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()};
      cur.min = std::max(cur.min, r.min);
      cur.max = std::min(cur.max, r.max);
      ranges_[v] = cur;
    }
    Stmt s = body();
    ranges_ = std::move(saved);
    return s;
  }

  void collect_facts(const Expr &cond, bool holds, std::vector<std::pair<const Variable *, ConstRange>> &facts) {
    auto *b = cond.as<Binary>();
    if (!b) return;
    if (b->op == BinOp::And && holds) {
      collect_facts(b->a, true, facts);
      collect_facts(b->b, true, facts);
      return;
    }
    if (!is_comparison(b->op) || b->a.type() != Type::i64()) return;
    BinOp op = holds ? b->op : negate_cmp(b->op);
    const Variable *v = b->a.as<Variable>();
    int64_t c;
    if (v && is_const_int(b->b, &c)) {
    } else if ((v = b->b.as<Variable>()) && is_const_int(b->a, &c)) {
      op = flip(op);
    } else {
      return;
    }
    constexpr int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
    switch (op) {
      case BinOp::LT: if (c != lo) facts.push_back({v, {lo, c - 1}}); return;
      case BinOp::LE: facts.push_back({v, {lo, c}}); return;
      case BinOp::GT: if (c != hi) facts.push_back({v, {c + 1, hi}}); return;
      case BinOp::GE: facts.push_back({v, {c, hi}}); return;
      case BinOp::EQ: facts.push_back({v, {c, c}}); return;
      default: return;
    }
  }

  // ---- binary rules by type

  Expr float_binop(BinOp op, const Expr &a, const Expr &b) {
    Type t = a.type();
    double x, y;
    if (is_const_float(a, &x) && is_const_float(b, &y) && foldable_float(t)) {
      x = round_float(t, x);
      y = round_float(t, y);
      switch (op) {
        case BinOp::Add: return make_float(round_float(t, x + y), t);
        case BinOp::Sub: return make_float(round_float(t, x - y), t);
        case BinOp::Mul: return make_float(round_float(t, x * y), t);
        case BinOp::Div: return make_float(round_float(t, x / y), t);
        case BinOp::Mod: return make_float(round_float(t, x - std::floor(x / y) * y), t);
        case BinOp::Min: return make_float(std::fmin(x, y), t);
        case BinOp::Max: return make_float(std::fmax(x, y), t);
        case BinOp::EQ: return make_bool(x == y);
        case BinOp::NE: return make_bool(x != y);
        case BinOp::LT: return make_bool(x < y);
        case BinOp::LE: return make_bool(x <= y);
        case BinOp::GT: return make_bool(x > y);
        case BinOp::GE: return make_bool(x >= y);
        case BinOp::And:
        case BinOp::Or: break;
      }
    }
    // Exact identities only: x*1 and x/1 (x + 0.0 is not x for x = -0.0).
    if (op == BinOp::Mul && is_const_float(b, &y) && y == 1.0) return a;
    if (op == BinOp::Mul && is_const_float(a, &x) && x == 1.0) return b;
    if (op == BinOp::Div && is_const_float(b, &y) && y == 1.0) return a;
    if ((op == BinOp::Min || op == BinOp::Max) && equal(a, b)) return a;
    return make_binary(op, a, b);
  }

  Expr bool_binop(BinOp op, const Expr &a, const Expr &b) {
    int64_t x, y;
    bool ca = const_int(a, &x), cb = const_int(b, &y);
    if (ca && cb) {
      bool p = x != 0, q = y != 0;
      switch (op) {
        case BinOp::And: return int_const(a.type(), p && q);
        case BinOp::Or: return int_const(a.type(), p || q);
        case BinOp::EQ: return int_const(a.type(), p == q);
        case BinOp::NE: return int_const(a.type(), p != q);
        default: break;
      }
    }
    if (op == BinOp::And) {
      if (ca) return x ? b : a;
      if (cb) return y ? a : b;
      if (equal(a, b)) return a;
    }
    if (op == BinOp::Or) {
      if (ca) return x ? a : b;
      if (cb) return y ? b : a;
      if (equal(a, b)) return a;
    }
    return make_binary(op, a, b);
  }

  Expr int_binop(BinOp op, const Expr &a, const Expr &b) {
    Type t = a.type();
    int64_t x, y;
    bool ca = is_const_int(a, &x), cb = is_const_int(b, &y);
    if (ca && cb) {
      if (Expr r = fold_int(op, t, x, y); r.defined()) return r;
    }
    switch (op) {
      case BinOp::Add:
      case BinOp::Sub: {
        Linear l = combine(linear_of(a), linear_of(b), op == BinOp::Add ? 1 : -1);
        if (l.ok) return canonical(l, t);
        return make_binary(op, a, b);
      }
      case BinOp::Mul: {
        if (ca || cb) {
          Linear l = linear_of(ca ? b : a, ca ? x : y);
          if (l.ok) return canonical(l, t);
          return make_binary(op, a, b);
        }
        return term_less(b, a) ? make_binary(op, b, a) : make_binary(op, a, b);
      }
      case BinOp::Div: return int_div(a, b);
      case BinOp::Mod: return int_mod(a, b);
      case BinOp::Min:
      case BinOp::Max: return int_min_max(op, a, b);
      case BinOp::EQ:
      case BinOp::NE:
      case BinOp::LT:
      case BinOp::LE:
      case BinOp::GT:
      case BinOp::GE: return int_compare(op, a, b);
      case BinOp::And:
      case BinOp::Or: break;
    }
    return make_binary(op, a, b);
  }

  Expr fold_int(BinOp op, Type t, int64_t x, int64_t y) {
    switch (op) {
      case BinOp::Add: return int_const(t, static_cast<int64_t>(static_cast<uint64_t>(x) + static_cast<uint64_t>(y)));
      case BinOp::Sub: return int_const(t, static_cast<int64_t>(static_cast<uint64_t>(x) - static_cast<uint64_t>(y)));
      case BinOp::Mul: return int_const(t, static_cast<int64_t>(static_cast<uint64_t>(x) * static_cast<uint64_t>(y)));
      case BinOp::Div:
        if (y == 0 || (y == -1 && x == std::numeric_limits<int64_t>::min())) return Expr();
        return int_const(t, floor_div(x, y));
      case BinOp::Mod:
        if (y == 0 || y == -1) return y == -1 ? int_const(t, 0) : Expr();
        return int_const(t, floor_mod(x, y));
      case BinOp::Min: return int_const(t, std::min(x, y));
      case BinOp::Max: return int_const(t, std::max(x, y));
      case BinOp::EQ: return make_bool(x == y);
      case BinOp::NE: return make_bool(x != y);
      case BinOp::LT: return make_bool(x < y);
      case BinOp::LE: return make_bool(x <= y);
      case BinOp::GT: return make_bool(x > y);
      case BinOp::GE: return make_bool(x >= y);
      case BinOp::And:
      case BinOp::Or: return Expr();
    }
    return Expr();
  }

  /// Floor division by a positive constant: (d*q + r) / d == q + r / d holds for every r,
  /// so terms whose coefficients d divides move out; r / d folds when r's range lies in one
  /// block [k*d, k*d + d).
  Expr int_div(const Expr &a, const Expr &b) {
    Type t = a.type();
    int64_t d;
    if (!is_const_int(b, &d) || d == 0) return make_binary(BinOp::Div, a, b);
    if (d == 1) return a;
    if (d == -1) return unop(UnOp::Neg, a);
    if (d < 0) return make_binary(BinOp::Div, a, b);
    if (auto *inner = a.as<Binary>(); inner && inner->op == BinOp::Div) {
      int64_t d1, dd;
      if (is_const_int(inner->b, &d1) && d1 > 0 && !__builtin_mul_overflow(d1, d, &dd))
        return int_div(inner->a, int_const(t, dd));  // (x / d1) / d == x / (d1*d)
    }
    Linear l = linear_of(a);
    if (!l.ok) return make_binary(BinOp::Div, a, b);
    Linear q, r;
    divide_by(l, d, q, r);
    if (r.terms.empty()) return canonical(q, t);
    CI rr = linear_range(r);
    if (rr.bounded() && floor_div(rr.lo, d) == floor_div(rr.hi, d)) {
      q.add_const(floor_div(rr.lo, d));
      return canonical(q, t);
    }
    // Common factor: (g*m) / (g*n) == m / n.
    int64_t g = d;
    for (auto &tm : r.terms) g = std::gcd(g, tm.coef);
    g = std::gcd(g, r.c);
    if (g > 1) {
      for (auto &tm : r.terms) tm.coef /= g;
      r.c /= g;
    }
    Expr rest = make_binary(BinOp::Div, build(r, t), int_const(t, d / g));
    if (q.terms.empty() && q.c == 0) return rest;
    q.add_term(rest, 1);
    return build(q, t);
  }

  /// Floor modulus by a positive constant: (d*q + r) % d == r % d; r % d == r - k*d when
  /// r's range lies in [k*d, k*d + d).
  Expr int_mod(const Expr &a, const Expr &b) {
    Type t = a.type();
    int64_t d;
    if (!is_const_int(b, &d) || d == 0) return make_binary(BinOp::Mod, a, b);
    if (d == 1 || d == -1) return int_const(t, 0);
    if (d < 0) return make_binary(BinOp::Mod, a, b);
    Linear l = linear_of(a);
    if (!l.ok) return make_binary(BinOp::Mod, a, b);
    Linear multiples, r;
    divide_by(l, d, multiples, r);
    if (r.terms.empty()) return int_const(t, r.c);
    CI rr = linear_range(r);
    if (rr.bounded() && floor_div(rr.lo, d) == floor_div(rr.hi, d)) {
      r.add_const(-floor_div(rr.lo, d) * d);
      return build(r, t);
    }
    if (r.terms.size() == 1 && r.terms[0].coef == 1 && r.c == 0) {
      auto *m = r.terms[0].e.as<Binary>();
      int64_t d1;
      if (m && m->op == BinOp::Mod && is_const_int(m->b, &d1) && d1 > 0 && d1 % d == 0)
        return int_mod(m->a, b);  // (x % (k*d)) % d == x % d
    }
    return make_binary(BinOp::Mod, build(r, t), b);
  }

  Expr int_min_max(BinOp op, const Expr &a, const Expr &b) {
    Type t = a.type();
    if (equal(a, b)) return a;
    Linear d = combine(linear_of(a), linear_of(b), -1);
    if (d.ok) {
      CI r = linear_range(d);
      bool a_le_b = r.has_hi && r.hi <= 0, a_ge_b = r.has_lo && r.lo >= 0;
      if (a_le_b) return op == BinOp::Min ? a : b;
      if (a_ge_b) return op == BinOp::Min ? b : a;
    }
    int64_t x, y;
    if (is_const_int(a, &x)) return int_min_max(op, b, a);  // constants go right
    if (is_const_int(b, &y)) {
      auto *inner = a.as<Binary>();
      if (inner && inner->op == op && is_const_int(inner->b, &x))  // min(min(e, c1), c2) = min(e, min(c1, c2))
        return int_min_max(op, inner->a, int_const(t, op == BinOp::Min ? std::min(x, y) : std::max(x, y)));
      return make_binary(op, a, b);
    }
    return term_less(b, a) ? make_binary(op, b, a) : make_binary(op, a, b);
  }

  Expr int_compare(BinOp op, const Expr &a, const Expr &b) {
    Type t = a.type();
    Linear la = linear_of(a), lb = linear_of(b);
    Linear d = combine(la, lb, -1);
    if (!d.ok) return make_binary(op, a, b);
    int decided = decide_cmp(op, linear_range(d));
    if (decided >= 0) return make_bool(decided == 1);
    // Rewrite as (positive terms) op (negative terms and constant) only when that cancels
    // something: common terms, or constants on both sides.
    bool cancels = d.terms.size() < la.terms.size() + lb.terms.size() || (la.c != 0 && lb.c != 0);
    if (!cancels) return make_binary(op, a, b);
    Linear pos, neg;
    for (auto &tm : d.terms) {
      if (tm.coef > 0) pos.add_term(tm.e, tm.coef);
      else neg.add_term(tm.e, -tm.coef);
    }
    if (d.c == std::numeric_limits<int64_t>::min()) return make_binary(op, a, b);
    if (!pos.terms.empty()) {
      neg.c = -d.c;
      return make_binary(op, build(pos, t), build(neg, t));
    }
    // 0 op (d.c - neg)  <=>  neg flip(op) d.c
    return make_binary(flip(op), build(neg, t), int_const(t, d.c));
  }

  Expr vector_binop(BinOp op, const Expr &a, const Expr &b) {
    Type t = a.type();
    int lanes = t.lanes;
    auto *ba = a.as<Broadcast>(), *bb = b.as<Broadcast>();
    if (ba && bb) return make_broadcast(binop(op, ba->value, bb->value), lanes);
    if (!t.is_int()) {
      if (t.is_bool()) return bool_binop(op, a, b);
      return make_binary(op, a, b);
    }
    auto *ra = a.as<Ramp>(), *rb = b.as<Ramp>();
    switch (op) {
      case BinOp::Add:
        if (ra && rb) return ramp(binop(op, ra->base, rb->base), binop(op, ra->stride, rb->stride), lanes);
        if (ra && bb) return ramp(binop(op, ra->base, bb->value), ra->stride, lanes);
        if (ba && rb) return ramp(binop(op, ba->value, rb->base), rb->stride, lanes);
        break;
      case BinOp::Sub:
        if (ra && rb) return ramp(binop(op, ra->base, rb->base), binop(op, ra->stride, rb->stride), lanes);
        if (ra && bb) return ramp(binop(op, ra->base, bb->value), ra->stride, lanes);
        if (ba && rb) return ramp(binop(op, ba->value, rb->base), unop(UnOp::Neg, rb->stride), lanes);
        break;
      case BinOp::Mul:
        if (ra && bb) return ramp(binop(op, ra->base, bb->value), binop(op, ra->stride, bb->value), lanes);
        if (ba && rb) return ramp(binop(op, rb->base, ba->value), binop(op, rb->stride, ba->value), lanes);
        break;
      case BinOp::Div:
      case BinOp::Mod:
        if (ra && bb) {
          if (Expr r = ramp_div_mod(op, ra, bb->value); r.defined()) return r;
        }
        break;
      case BinOp::Min:
      case BinOp::Max:
      case BinOp::EQ:
      case BinOp::NE:
      case BinOp::LT:
      case BinOp::LE:
      case BinOp::GT:
      case BinOp::GE: {
        Expr diff = binop(BinOp::Sub, a, b);
        CI r = range_of(diff);
        if (op == BinOp::Min || op == BinOp::Max) {
          if (r.has_hi && r.hi <= 0) return op == BinOp::Min ? a : b;
          if (r.has_lo && r.lo >= 0) return op == BinOp::Min ? b : a;
          break;
        }
        int decided = decide_cmp(op, r);
        if (decided >= 0) return make_broadcast(make_bool(decided == 1), lanes);
        break;
      }
      case BinOp::And:
      case BinOp::Or: break;
    }
    return make_binary(op, a, b);
  }

  /// ramp(base, s, n) / d and % d for a constant d > 0 and constant s >= 0, when all lanes
  /// fall in one block [k*d, k*d + d): the quotient is a broadcast, the remainder a ramp.
  Expr ramp_div_mod(BinOp op, const Ramp *r, const Expr &divisor) {
    Type t = r->base.type();
    int64_t d, s;
    if (!is_const_int(divisor, &d) || d <= 0 || !is_const_int(r->stride, &s) || s < 0) return Expr();
    Linear l = linear_of(r->base);
    if (!l.ok) return Expr();
    Linear q, rest;
    divide_by(l, d, q, rest);
    CI rr = ci_add(linear_range(rest), CI::range(0, s * (r->lanes - 1)));
    if (!rr.bounded() || floor_div(rr.lo, d) != floor_div(rr.hi, d)) return Expr();
    int64_t k = floor_div(rr.lo, d);
    if (op == BinOp::Div) {
      q.add_const(k);
      return make_broadcast(canonical(q, t), r->lanes);
    }
    rest.add_const(-k * d);
    return ramp(build(rest, t), r->stride, r->lanes);
  }

  RangeMap ranges_;
};

}  // namespace

Expr simplify(const Expr &e, const RangeMap &ranges) {
  if (!e.defined()) return e;
  Simplifier s(ranges);
  return s.mutate(e);
}

Stmt simplify(const Stmt &st, const RangeMap &ranges) {
  if (!st.defined()) return st;
  Simplifier s(ranges);
  Stmt r = s.mutate(st);
  return r.defined() ? r : make_seq({});
}

bool can_prove(const Expr &cond, const RangeMap &ranges) {
  if (!cond.defined() || !cond.type().is_bool()) return false;
  return is_true(simplify(cond, ranges));
}

}  // namespace kcc
