// passes/loop_partition.cpp - peel the tails of split loops out of the main body.
//
// A guard `a < b` inside a loop over x, with b - a = c*x + rest (c < 0, rest independent of x),
// holds for every value of the inner loops when c*x + min(rest) >= 1. The loop is split at the
// first x where that fails: [min, m) runs the body with the guard simplified away, [m, end) keeps it.
#include <functional>
#include <optional>

#include "ir/visitor.h"
#include "passes/bounds.h"
#include "passes/lower_passes.h"
#include "passes/simplify.h"

namespace kcc {

namespace {

/// coefficient of v in e and the rest, when e is affine in v.
std::optional<std::pair<int64_t, Expr>> linear_in(const Expr &e, const Var &v) {
  if (!uses_var(e, v)) return std::make_pair(int64_t{0}, e);
  if (e.get() == v.get()) return std::make_pair(int64_t{1}, make_int(0));
  if (auto *b = e.as<Binary>()) {
    if (b->op == BinOp::Add || b->op == BinOp::Sub) {
      auto x = linear_in(b->a, v), y = linear_in(b->b, v);
      if (!x || !y) return std::nullopt;
      if (b->op == BinOp::Add) return std::make_pair(x->first + y->first, x->second + y->second);
      return std::make_pair(x->first - y->first, x->second - y->second);
    }
    if (b->op == BinOp::Mul) {
      int64_t c;
      if (is_const_int(b->b, &c)) {
        auto x = linear_in(b->a, v);
        if (x) return std::make_pair(x->first * c, x->second * c);
      }
      if (is_const_int(b->a, &c)) {
        auto x = linear_in(b->b, v);
        if (x) return std::make_pair(x->first * c, x->second * c);
      }
    }
  }
  return std::nullopt;
}

void conjuncts(const Expr &c, std::vector<Expr> &out) {
  if (auto *b = c.as<Binary>(); b && b->op == BinOp::And) {
    conjuncts(b->a, out);
    conjuncts(b->b, out);
    return;
  }
  out.push_back(c);
}


class Partitioner : public IRMutator {
 public:
  using IRMutator::mutate;

 protected:
  Stmt mutate_node(const For *op, const Stmt &self) override {
    int64_t mn, ext;
    bool eligible = (op->kind == ForKind::Serial || op->kind == ForKind::Parallel ||
                     op->kind == ForKind::Vectorized || op->kind == ForKind::Unrolled) &&
                    is_const_int(op->min, &mn) && is_const_int(op->extent, &ext) && ext > 1;
    if (eligible) {
      scope_[op->var.get()] = Interval{op->min, make_int(mn + ext - 1)};
      std::optional<int64_t> split = find_split(op, mn, ext);
      scope_.erase(op->var.get());
      if (split && *split > mn && *split < mn + ext) {
        Var tail_var = make_var(op->var->name + "_tail");
        Stmt main_loop = make_for(op->var, op->min, make_int(*split - mn), op->kind, op->body, op->thread_axis);
        Stmt tail_body = substitute(op->body, {{op->var, var(tail_var)}});
        Stmt tail_loop = make_for(tail_var, make_int(*split), make_int(mn + ext - *split), op->kind, tail_body,
                                  op->thread_axis);
        // Simplify so the main part loses its guard, then partition inner loops of both parts.
        RangeMap ranges = const_ranges();
        return make_seq({mutate(simplify(main_loop, ranges)), mutate(simplify(tail_loop, ranges))});
      }
    }
    if (is_const_int(op->min, &mn) && is_const_int(op->extent, &ext))
      scope_[op->var.get()] = Interval{op->min, make_int(mn + ext - 1)};
    Stmt r = IRMutator::mutate_node(op, self);
    scope_.erase(op->var.get());
    return r;
  }

 private:
  Scope scope_;  // enclosing loop ranges

  RangeMap const_ranges() const {
    RangeMap m;
    for (auto &[v, in] : scope_) {
      int64_t a, b;
      if (is_const_int(in.min, &a) && is_const_int(in.max, &b)) m[v] = ConstRange{a, b};
    }
    return m;
  }

  /// The first value of the loop variable at which some guard in the body may fail.
  std::optional<int64_t> find_split(const For *op, int64_t mn, int64_t ext) {
    std::optional<int64_t> best;
    Scope inner = scope_;
    inner.erase(op->var.get());
    std::function<void(const Stmt &)> walk = [&](const Stmt &s) {
      if (!s.defined()) return;
      if (auto *f = s.as<For>()) {
        int64_t a, b;
        if (is_const_int(f->min, &a) && is_const_int(f->extent, &b)) inner[f->var.get()] = Interval{f->min, make_int(a + b - 1)};
        walk(f->body);
        return;
      }
      if (auto *q = s.as<Seq>()) {
        for (auto &t : q->stmts) walk(t);
        return;
      }
      if (auto *al = s.as<Allocate>()) {
        walk(al->body);
        return;
      }
      auto *i = s.as<IfThenElse>();
      if (!i) return;
      std::vector<Expr> cs;
      conjuncts(i->cond, cs);
      for (auto &c : cs) {
        auto *b = c.as<Binary>();
        if (!b || (b->op != BinOp::LT && b->op != BinOp::LE) || !b->a.type().is_int()) continue;
        // holds iff diff >= 1 where diff = b - a (LT) or b - a + 1 (LE)
        Expr diff = b->op == BinOp::LT ? b->b - b->a : b->b - b->a + 1;
        auto lin = linear_in(diff, op->var);
        if (!lin || lin->first >= 0) continue;
        Interval rb = bounds_of(lin->second, inner);
        int64_t rmin;
        if (!rb.min.defined() || !is_const_int(simplify(rb.min), &rmin)) continue;
        // c*x + rmin >= 1  <=>  x <= (rmin - 1) / -c
        int64_t last = floor_div(rmin - 1, -lin->first);
        int64_t m = std::max(mn, std::min(mn + ext, last + 1));
        if (!best || m < *best) best = m;
      }
      walk(i->then_case);
      walk(i->else_case);
    };
    walk(op->body);
    return best;
  }
};

}  // namespace

Stmt partition_loops(const Stmt &s) {
  Partitioner p;
  return p.mutate(s);
}

}  // namespace kcc
