// passes/bounds.cpp - symbolic interval arithmetic.
//
// Each node's interval is computed from its operands' intervals and simplified on the way
// up, so constant operands are recognized (e.g. the 8 of `i0*8` after folding). An interval
// whose min and max are the same node is a point: an expression that does not depend on the
// scope's variables; any operation on points is a point, which keeps symbols exact (x / y
// with both symbols is [x / y, x / y], not unbounded). Every rule is conservative: when a
// side cannot be bounded it is left undefined.
#include "passes/bounds.h"

#include "ir/visitor.h"

namespace kcc {
namespace {

bool is_point(const Interval &i) { return i.min.defined() && i.min.same_as(i.max); }

Interval point(const Expr &e) { return {e, e}; }

/// a op b with simplification; undefined if either side is undefined.
Expr op2(BinOp op, const Expr &a, const Expr &b) {
  if (!a.defined() || !b.defined()) return Expr();
  return simplify(make_binary(op, a, b));
}

bool provably_nonneg(const Expr &e) {
  return e.defined() && can_prove(make_binary(BinOp::GE, e, make_const(e.type(), 0)));
}

class Bounds {
 public:
  explicit Bounds(const Scope &s) : scope_(s) {}

  Interval of(const Expr &e) {
    switch (e.kind()) {
      case ExprKind::IntImm:
      case ExprKind::FloatImm: return point(e);
      case ExprKind::Variable: {
        auto it = scope_.find(e.as<Variable>());
        return it == scope_.end() ? point(e) : it->second;
      }
      case ExprKind::Cast: return cast(e.as<Cast>());
      case ExprKind::Unary: return unary(e.as<Unary>());
      case ExprKind::Binary: return binary(e.as<Binary>());
      case ExprKind::Select: return select(e.as<Select>());
      case ExprKind::Ramp: {
        auto *r = e.as<Ramp>();
        // base + stride * [0, lanes - 1]
        Interval lanes{make_int(0, r->stride.type()), make_int(r->lanes - 1, r->stride.type())};
        return add(of(r->base), mul(of(r->stride), lanes));
      }
      case ExprKind::Broadcast: return of(e.as<Broadcast>()->value);
      case ExprKind::Call:
      case ExprKind::Access:
      case ExprKind::Load: return opaque(e);
    }
    return {};
  }

 private:
  /// A node whose value we cannot bound: exact when it does not depend on the scope.
  Interval opaque(const Expr &e) {
    bool depends = false;
    for_each_expr(e, [&](const Expr &x) {
      if (auto *v = x.as<Variable>()) depends |= scope_.count(v) > 0;
    });
    return depends ? Interval{} : point(simplify(e));
  }

  Interval cast(const Cast *c) {
    Interval v = of(c->value);
    if (is_point(v)) return point(simplify(make_cast(c->type, v.min)));
    bool int_to_int = (c->type.is_int() || c->type.is_bool()) && (c->value.type().is_int() || c->value.type().is_bool());
    if (!int_to_int) return {};
    // Integer casts are monotone as long as nothing overflows (undefined in kcc's IR).
    Interval r;
    if (v.min.defined()) r.min = simplify(make_cast(c->type, v.min));
    if (v.max.defined()) r.max = simplify(make_cast(c->type, v.max));
    return r;
  }

  Interval unary(const Unary *u) {
    Interval a = of(u->a);
    if (is_point(a)) return point(simplify(make_unary(u->op, a.min)));
    if (u->op == UnOp::Not) return {make_bool(false), make_bool(true)};
    Interval r;
    if (a.max.defined()) r.min = simplify(make_unary(UnOp::Neg, a.max));
    if (a.min.defined()) r.max = simplify(make_unary(UnOp::Neg, a.min));
    return r;
  }

  static Interval add(const Interval &a, const Interval &b) {
    if (is_point(a) && is_point(b)) return point(op2(BinOp::Add, a.min, b.min));
    return {op2(BinOp::Add, a.min, b.min), op2(BinOp::Add, a.max, b.max)};
  }

  static Interval sub(const Interval &a, const Interval &b) {
    if (is_point(a) && is_point(b)) return point(op2(BinOp::Sub, a.min, b.min));
    return {op2(BinOp::Sub, a.min, b.max), op2(BinOp::Sub, a.max, b.min)};
  }

  /// a * k for a constant k: the sides swap when k is negative.
  static Interval scale(const Interval &a, const Expr &k, int64_t kv) {
    if (kv >= 0) return {op2(BinOp::Mul, a.min, k), op2(BinOp::Mul, a.max, k)};
    return {op2(BinOp::Mul, a.max, k), op2(BinOp::Mul, a.min, k)};
  }

  static Interval mul(const Interval &a, const Interval &b) {
    if (is_point(a) && is_point(b)) return point(op2(BinOp::Mul, a.min, b.min));
    int64_t k;
    if (is_point(b) && is_const_int(b.min, &k)) return scale(a, b.min, k);
    if (is_point(a) && is_const_int(a.min, &k)) return scale(b, a.min, k);
    if (provably_nonneg(b.min)) return mul_nonneg(a, b);
    if (provably_nonneg(a.min)) return mul_nonneg(b, a);
    if (!a.bounded() || !b.bounded()) return {};
    Expr p[4] = {op2(BinOp::Mul, a.min, b.min), op2(BinOp::Mul, a.min, b.max), op2(BinOp::Mul, a.max, b.min),
                 op2(BinOp::Mul, a.max, b.max)};
    return {op2(BinOp::Min, op2(BinOp::Min, p[0], p[1]), op2(BinOp::Min, p[2], p[3])),
            op2(BinOp::Max, op2(BinOp::Max, p[0], p[1]), op2(BinOp::Max, p[2], p[3]))};
  }

  /// a * b with b >= 0: for fixed a the product is monotone in b, and increasing in a.
  static Interval mul_nonneg(const Interval &a, const Interval &b) {
    if (provably_nonneg(a.min)) return {op2(BinOp::Mul, a.min, b.min), op2(BinOp::Mul, a.max, b.max)};
    return {op2(BinOp::Min, op2(BinOp::Mul, a.min, b.min), op2(BinOp::Mul, a.min, b.max)),
            op2(BinOp::Max, op2(BinOp::Mul, a.max, b.min), op2(BinOp::Mul, a.max, b.max))};
  }

  /// Floor division by a constant is monotone (decreasing for a negative divisor).
  static Interval div(const Interval &a, const Interval &b) {
    if (is_point(a) && is_point(b)) return point(op2(BinOp::Div, a.min, b.min));
    int64_t k;
    if (!is_point(b) || !is_const_int(b.min, &k) || k == 0) return {};
    if (k > 0) return {op2(BinOp::Div, a.min, b.min), op2(BinOp::Div, a.max, b.min)};
    return {op2(BinOp::Div, a.max, b.min), op2(BinOp::Div, a.min, b.min)};
  }

  static Interval mod(const Interval &a, const Interval &b) {
    if (is_point(a) && is_point(b)) return point(op2(BinOp::Mod, a.min, b.min));
    int64_t k;
    if (is_point(b) && is_const_int(b.min, &k) && k > 0) {
      // Within one block [q*k, q*k + k) the modulus is monotone.
      if (a.bounded()) {
        Expr qlo = op2(BinOp::Div, a.min, b.min), qhi = op2(BinOp::Div, a.max, b.min);
        if (equal(qlo, qhi)) return {op2(BinOp::Mod, a.min, b.min), op2(BinOp::Mod, a.max, b.min)};
      }
      return {make_int(0, b.min.type()), make_int(k - 1, b.min.type())};
    }
    // A positive divisor bounded above by m: the result lies in [0, m - 1].
    if (b.max.defined() && b.min.defined() && can_prove(make_binary(BinOp::GT, b.min, make_const(b.min.type(), 0))))
      return {make_const(b.min.type(), 0), op2(BinOp::Sub, b.max, make_const(b.max.type(), 1))};
    return {};
  }

  static Interval min_max(BinOp op, const Interval &a, const Interval &b) {
    if (is_point(a) && is_point(b)) return point(op2(op, a.min, b.min));
    // min: the lower side needs both, the upper side needs either (min(a, b) <= a.max); max mirrors it.
    auto either = [&](const Expr &x, const Expr &y) {
      if (x.defined() && y.defined()) return op2(op, x, y);
      return x.defined() ? x : y;
    };
    if (op == BinOp::Min) return {op2(op, a.min, b.min), either(a.max, b.max)};
    return {either(a.min, b.min), op2(op, a.max, b.max)};
  }

  Interval binary(const Binary *op) {
    Interval a = of(op->a), b = of(op->b);
    switch (op->op) {
      case BinOp::Add: return add(a, b);
      case BinOp::Sub: return sub(a, b);
      case BinOp::Mul: return mul(a, b);
      case BinOp::Div: return div(a, b);
      case BinOp::Mod: return mod(a, b);
      case BinOp::Min:
      case BinOp::Max: return min_max(op->op, a, b);
      case BinOp::EQ:
      case BinOp::NE:
      case BinOp::LT:
      case BinOp::LE:
      case BinOp::GT:
      case BinOp::GE:
      case BinOp::And:
      case BinOp::Or:
        if (is_point(a) && is_point(b)) return point(op2(op->op, a.min, b.min));
        return {make_const(op->type, 0), make_const(op->type, 1)};
    }
    return {};
  }

  Interval select(const Select *s) {
    Interval c = of(s->cond);
    if (is_point(c)) {
      if (is_const_int(c.min, int64_t{1})) return of(s->t);
      if (is_const_int(c.min, int64_t{0})) return of(s->f);
    }
    Interval t = of(s->t), f = of(s->f);
    if (is_point(c) && is_point(t) && is_point(f)) return point(simplify(make_select(c.min, t.min, f.min)));
    return {op2(BinOp::Min, t.min, f.min), op2(BinOp::Max, t.max, f.max)};
  }

  const Scope &scope_;
};

}  // namespace

Interval bounds_of(const Expr &e, const Scope &scope) {
  if (!e.defined()) return {};
  Bounds b(scope);
  Interval r = b.of(e);
  bool pt = is_point(r);
  if (r.min.defined()) r.min = simplify(r.min);
  if (r.max.defined()) r.max = pt ? r.min : simplify(r.max);
  return r;
}

}  // namespace kcc
