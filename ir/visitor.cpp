#include "ir/visitor.h"

#include <algorithm>

namespace kcc {

// ---------------------------------------------------------------- IRVisitor

void IRVisitor::visit(const Expr &e) {
  if (!e.defined()) return;
  switch (e.kind()) {
#define KCC_CASE(N)                                  \
  case ExprKind::N: visit_node(e.as<N>()); return;
    KCC_EXPR_NODES(KCC_CASE)
#undef KCC_CASE
  }
}

void IRVisitor::visit(const Stmt &s) {
  if (!s.defined()) return;
  switch (s.kind()) {
#define KCC_CASE(N)                                  \
  case StmtKind::N: visit_node(s.as<N>()); return;
    KCC_STMT_NODES(KCC_CASE)
#undef KCC_CASE
  }
}

void IRVisitor::visit_node(const IntImm *) {}
void IRVisitor::visit_node(const FloatImm *) {}
void IRVisitor::visit_node(const Variable *) {}
void IRVisitor::visit_node(const Cast *op) { visit(op->value); }
void IRVisitor::visit_node(const Unary *op) { visit(op->a); }
void IRVisitor::visit_node(const Binary *op) {
  visit(op->a);
  visit(op->b);
}
void IRVisitor::visit_node(const Select *op) {
  visit(op->cond);
  visit(op->t);
  visit(op->f);
}
void IRVisitor::visit_node(const Call *op) {
  for (auto &a : op->args) visit(a);
}
void IRVisitor::visit_node(const Access *op) {
  for (auto &a : op->indices) visit(a);
}
void IRVisitor::visit_node(const Load *op) { visit(op->index); }
void IRVisitor::visit_node(const Ramp *op) {
  visit(op->base);
  visit(op->stride);
}
void IRVisitor::visit_node(const Broadcast *op) { visit(op->value); }

void IRVisitor::visit_node(const For *op) {
  visit(op->min);
  visit(op->extent);
  visit(op->body);
}
void IRVisitor::visit_node(const Store *op) {
  visit(op->index);
  visit(op->value);
  visit(op->predicate);
}
void IRVisitor::visit_node(const Allocate *op) { visit(op->body); }
void IRVisitor::visit_node(const Seq *op) {
  for (auto &s : op->stmts) visit(s);
}
void IRVisitor::visit_node(const IfThenElse *op) {
  visit(op->cond);
  visit(op->then_case);
  visit(op->else_case);
}
void IRVisitor::visit_node(const Barrier *) {}
void IRVisitor::visit_node(const Prefetch *op) { visit(op->read); }

// ---------------------------------------------------------------- IRMutator

Expr IRMutator::mutate(const Expr &e) {
  if (!e.defined()) return e;
  switch (e.kind()) {
#define KCC_CASE(N)                                            \
  case ExprKind::N: return mutate_node(e.as<N>(), e);
    KCC_EXPR_NODES(KCC_CASE)
#undef KCC_CASE
  }
  return e;
}

Stmt IRMutator::mutate(const Stmt &s) {
  if (!s.defined()) return s;
  switch (s.kind()) {
#define KCC_CASE(N)                                            \
  case StmtKind::N: return mutate_node(s.as<N>(), s);
    KCC_STMT_NODES(KCC_CASE)
#undef KCC_CASE
  }
  return s;
}

namespace {
bool mutate_list(IRMutator &m, const std::vector<Expr> &in, std::vector<Expr> &out) {
  bool changed = false;
  out.reserve(in.size());
  for (auto &e : in) {
    out.push_back(m.mutate(e));
    changed |= !out.back().same_as(e);
  }
  return changed;
}
}  // namespace

Expr IRMutator::mutate_node(const IntImm *, const Expr &self) { return self; }
Expr IRMutator::mutate_node(const FloatImm *, const Expr &self) { return self; }
Expr IRMutator::mutate_node(const Variable *, const Expr &self) { return self; }
Expr IRMutator::mutate_node(const Cast *op, const Expr &self) {
  Expr v = mutate(op->value);
  return v.same_as(op->value) ? self : make_cast(op->type.with_lanes(v.type().lanes), v);
}
Expr IRMutator::mutate_node(const Unary *op, const Expr &self) {
  Expr a = mutate(op->a);
  return a.same_as(op->a) ? self : make_unary(op->op, a);
}
Expr IRMutator::mutate_node(const Binary *op, const Expr &self) {
  Expr a = mutate(op->a), b = mutate(op->b);
  return a.same_as(op->a) && b.same_as(op->b) ? self : make_binary(op->op, a, b);
}
Expr IRMutator::mutate_node(const Select *op, const Expr &self) {
  Expr c = mutate(op->cond), t = mutate(op->t), f = mutate(op->f);
  return c.same_as(op->cond) && t.same_as(op->t) && f.same_as(op->f) ? self : make_select(c, t, f);
}
Expr IRMutator::mutate_node(const Call *op, const Expr &self) {
  std::vector<Expr> args;
  return mutate_list(*this, op->args, args) ? make_call(op->fn, std::move(args)) : self;
}
Expr IRMutator::mutate_node(const Access *op, const Expr &self) {
  std::vector<Expr> idx;
  return mutate_list(*this, op->indices, idx) ? make_access(op->tensor, std::move(idx)) : self;
}
Expr IRMutator::mutate_node(const Load *op, const Expr &self) {
  Expr i = mutate(op->index);
  return i.same_as(op->index) ? self : make_load(op->type.with_lanes(i.type().lanes), op->buffer, i);
}
Expr IRMutator::mutate_node(const Ramp *op, const Expr &self) {
  Expr b = mutate(op->base), s = mutate(op->stride);
  return b.same_as(op->base) && s.same_as(op->stride) ? self : make_ramp(b, s, op->lanes);
}
Expr IRMutator::mutate_node(const Broadcast *op, const Expr &self) {
  Expr v = mutate(op->value);
  if (v.same_as(op->value)) return self;
  if (v.type().lanes > 1) return v;  // the value became a vector already
  return make_broadcast(v, op->lanes);
}

Stmt IRMutator::mutate_node(const For *op, const Stmt &self) {
  Expr mn = mutate(op->min), ex = mutate(op->extent);
  Stmt body = mutate(op->body);
  if (mn.same_as(op->min) && ex.same_as(op->extent) && body.same_as(op->body)) return self;
  return make_for(op->var, mn, ex, op->kind, body, op->thread_axis);
}
Stmt IRMutator::mutate_node(const Store *op, const Stmt &self) {
  Expr i = mutate(op->index), v = mutate(op->value), p = mutate(op->predicate);
  if (i.same_as(op->index) && v.same_as(op->value) && p.same_as(op->predicate)) return self;
  return make_store(op->buffer, i, v, p);
}
Stmt IRMutator::mutate_node(const Allocate *op, const Stmt &self) {
  Stmt body = mutate(op->body);
  return body.same_as(op->body) ? self : make_allocate(op->buffer, body);
}
Stmt IRMutator::mutate_node(const Seq *op, const Stmt &self) {
  std::vector<Stmt> out;
  bool changed = false;
  for (auto &s : op->stmts) {
    out.push_back(mutate(s));
    changed |= !out.back().same_as(s);
  }
  return changed ? make_seq(std::move(out)) : self;
}
Stmt IRMutator::mutate_node(const IfThenElse *op, const Stmt &self) {
  Expr c = mutate(op->cond);
  Stmt t = mutate(op->then_case), e = mutate(op->else_case);
  if (c.same_as(op->cond) && t.same_as(op->then_case) && e.same_as(op->else_case)) return self;
  return make_if(c, t, e);
}
Stmt IRMutator::mutate_node(const Barrier *, const Stmt &self) { return self; }
Stmt IRMutator::mutate_node(const Prefetch *op, const Stmt &self) {
  Expr r = mutate(op->read);
  return r.same_as(op->read) ? self : make_prefetch(r);
}

// ---------------------------------------------------------------- helpers

namespace {
class ExprWalker : public IRVisitor {
 public:
  explicit ExprWalker(const std::function<void(const Expr &)> &f) : f_(f) {}
  void visit(const Expr &e) override {
    if (!e.defined()) return;
    f_(e);
    IRVisitor::visit(e);
  }
  using IRVisitor::visit;

 private:
  const std::function<void(const Expr &)> &f_;
};

class Substituter : public IRMutator {
 public:
  explicit Substituter(const std::vector<std::pair<Var, Expr>> &m) : map_(m) {}
  using IRMutator::mutate;

 protected:
  Expr mutate_node(const Variable *op, const Expr &self) override {
    for (auto &[v, e] : map_)
      if (v.get() == op) return e;
    return self;
  }

 private:
  const std::vector<std::pair<Var, Expr>> &map_;
};
}  // namespace

void for_each_expr(const Expr &e, const std::function<void(const Expr &)> &f) {
  ExprWalker w(f);
  w.visit(e);
}
void for_each_expr(const Stmt &s, const std::function<void(const Expr &)> &f) {
  ExprWalker w(f);
  w.visit(s);
}

Expr substitute(const Expr &e, const std::vector<std::pair<Var, Expr>> &map) {
  if (map.empty()) return e;
  Substituter s(map);
  return s.mutate(e);
}
Stmt substitute(const Stmt &st, const std::vector<std::pair<Var, Expr>> &map) {
  if (map.empty()) return st;
  Substituter s(map);
  return s.mutate(st);
}

std::set<const BufferNode *> buffers_accessed(const Stmt &s) {
  struct Accesses : IRVisitor {
    std::set<const BufferNode *> buffers;
    void visit_node(const Load *op) override {
      buffers.insert(op->buffer.get());
      IRVisitor::visit_node(op);
    }
    void visit_node(const Store *op) override {
      buffers.insert(op->buffer.get());
      IRVisitor::visit_node(op);
    }
  } a;
  a.visit(s);
  return a.buffers;
}

bool uses_var(const Expr &e, const Var &v) {
  bool found = false;
  for_each_expr(e, [&](const Expr &x) { found |= x.get() == v.get(); });
  return found;
}
bool uses_var(const Stmt &s, const Var &v) {
  bool found = false;
  for_each_expr(s, [&](const Expr &x) { found |= x.get() == v.get(); });
  return found;
}

}  // namespace kcc
