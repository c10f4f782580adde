// passes/vectorize.cpp - Vectorized loops -> vector code.
//
// The loop variable becomes ramp(min, 1, lanes); every expression that depends on it becomes a
// vector, built so that affine indices stay ramps (contiguous or strided loads) rather than
// general vectors (gathers). Loops nested inside keep running serially with vector bodies.
#include <fmt/format.h>

#include "ir/visitor.h"
#include "passes/lower_passes.h"

namespace kcc {

namespace {

Expr widen(const Expr &e, int lanes) { return e.type().lanes == lanes ? e : make_broadcast(e, lanes); }

/// a op b for vector or scalar operands, keeping ramps where the algebra allows.
Expr vector_binary(BinOp op, const Expr &a, const Expr &b) {
  int la = a.type().lanes, lb = b.type().lanes;
  if (la == 1 && lb == 1) return make_binary(op, a, b);
  int lanes = std::max(la, lb);
  auto *ra = a.as<Ramp>(), *rb = b.as<Ramp>();
  if (a.type().element().is_int()) {
    const Expr sa = la == 1 ? a : (a.as<Broadcast>() ? a.as<Broadcast>()->value : Expr());
    const Expr sb = lb == 1 ? b : (b.as<Broadcast>() ? b.as<Broadcast>()->value : Expr());
    switch (op) {
      case BinOp::Add:
        if (ra && sb.defined()) return make_ramp(ra->base + sb, ra->stride, lanes);
        if (rb && sa.defined()) return make_ramp(sa + rb->base, rb->stride, lanes);
        if (ra && rb) return make_ramp(ra->base + rb->base, ra->stride + rb->stride, lanes);
        break;
      case BinOp::Sub:
        if (ra && sb.defined()) return make_ramp(ra->base - sb, ra->stride, lanes);
        if (rb && sa.defined()) return make_ramp(sa - rb->base, make_int(0) - rb->stride, lanes);
        if (ra && rb) return make_ramp(ra->base - rb->base, ra->stride - rb->stride, lanes);
        break;
      case BinOp::Mul:
        if (ra && sb.defined()) return make_ramp(ra->base * sb, ra->stride * sb, lanes);
        if (rb && sa.defined()) return make_ramp(sa * rb->base, sa * rb->stride, lanes);
        break;
      default: break;
    }
  }
  return make_binary(op, widen(a, lanes), widen(b, lanes));
}

class Vectorizer : public IRMutator {
 public:
  Vectorizer(const Var &v, Expr replacement, int lanes) : v_(v), rep_(std::move(replacement)), lanes_(lanes) {}
  using IRMutator::mutate;
  std::string failure;  // why the loop cannot be vectorized; empty if it can

 protected:
  Expr mutate_node(const Variable *op, const Expr &self) override { return op == v_.get() ? rep_ : self; }
  Expr mutate_node(const Binary *op, const Expr &self) override {
    Expr a = mutate(op->a), b = mutate(op->b);
    if (a.same_as(op->a) && b.same_as(op->b)) return self;
    return vector_binary(op->op, a, b);
  }
  Expr mutate_node(const Select *op, const Expr &self) override {
    Expr c = mutate(op->cond), t = mutate(op->t), f = mutate(op->f);
    if (c.same_as(op->cond) && t.same_as(op->t) && f.same_as(op->f)) return self;
    int lanes = std::max({c.type().lanes, t.type().lanes, f.type().lanes});
    return make_select(widen(c, lanes), widen(t, lanes), widen(f, lanes));
  }
  Expr mutate_node(const Call *op, const Expr &self) override {
    std::vector<Expr> args;
    bool changed = false;
    int lanes = 1;
    for (auto &a : op->args) {
      args.push_back(mutate(a));
      changed |= !args.back().same_as(a);
      lanes = std::max(lanes, args.back().type().lanes);
    }
    if (!changed) return self;
    for (auto &a : args) a = widen(a, lanes);
    return make_call(op->fn, args);
  }
  Expr mutate_node(const Load *op, const Expr &self) override {
    Expr i = mutate(op->index);
    if (i.same_as(op->index)) return self;
    return make_load(op->type.with_lanes(i.type().lanes), op->buffer, i);
  }
  Expr mutate_node(const Ramp *op, const Expr &self) override {
    if (uses_var(self, v_)) failure = "nested vectors";
    return self;
  }
  Stmt mutate_node(const Store *op, const Stmt &self) override {
    Expr i = mutate(op->index), v = mutate(op->value), p = mutate(op->predicate);
    if (i.same_as(op->index) && v.same_as(op->value) && p.same_as(op->predicate)) return self;
    if (i.type().lanes == 1) {
      failure = fmt::format("the store to '{}' does not depend on the loop but its value does", op->buffer->name);
      return self;
    }
    return make_store(op->buffer, i, widen(v, lanes_), p.defined() ? widen(p, lanes_) : p);
  }
  Stmt mutate_node(const For *op, const Stmt &self) override {
    if (uses_var(op->min, v_) || uses_var(op->extent, v_))
      failure = fmt::format("the bounds of inner loop '{}' depend on it", op->var->name);
    if (op->kind == ForKind::Parallel) failure = fmt::format("inner loop '{}' is parallel", op->var->name);
    return IRMutator::mutate_node(op, self);
  }
  Stmt mutate_node(const IfThenElse *op, const Stmt &self) override {
    if (uses_var(op->cond, v_))
      failure = fmt::format("a condition depends on it ({})", to_string(op->cond));
    return IRMutator::mutate_node(op, self);
  }
  Stmt mutate_node(const Allocate *op, const Stmt &self) override {
    failure = fmt::format("buffer '{}' is allocated inside it", op->buffer->name);
    return self;
  }

 private:
  Var v_;
  Expr rep_;
  int lanes_;
};

bool contains_vectorized(const Stmt &s) {
  bool found = false;
  struct V : IRVisitor {
    bool *f;
    void visit_node(const For *op) override {
      if (op->kind == ForKind::Vectorized) *f = true;
      IRVisitor::visit_node(op);
    }
  } v;
  v.f = &found;
  v.visit(s);
  return found;
}

bool contains_loop(const Stmt &s) {
  struct V : IRVisitor {
    bool found = false;
    void visit_node(const For *) override { found = true; }
  } v;
  v.visit(s);
  return v.found;
}

class VectorizeLoops : public IRMutator {
 public:
  /// `native`: the target's f32 lanes (0: unknown). A loop of a multiple of them that is not a
  /// power of two (48 on AVX-512) is made that many native vectors side by side: LLVM legalizes a
  /// <48 x float> by widening it to 64 lanes and shuffling, and a 6 x 48 SGEMM tile ran at 14
  /// GFLOP/s where 6 x 64 ran at 170 (one Xeon core).
  VectorizeLoops(std::vector<std::string> *remarks, bool scalable, int native = 0)
      : remarks_(remarks), scalable_(scalable), native_(native) {}
  using IRMutator::mutate;

 protected:
  Stmt mutate_node(const For *op, const Stmt &self) override {
    Stmt body = mutate(op->body);
    if (op->kind != ForKind::Vectorized)
      return body.same_as(op->body) ? self : make_for(op->var, op->min, op->extent, op->kind, body, op->thread_axis);
    int64_t lanes;
    std::string why;
    if (!is_const_int(op->extent, &lanes)) why = "its extent is not constant";
    else if (lanes > 64) why = fmt::format("{} lanes is more than 64 (split it first)", lanes);
    else if (contains_vectorized(body)) why = "it contains another vectorized loop";
    Stmt out;
    const bool pow2 = (lanes & (lanes - 1)) == 0;
    const int64_t chunk = native_ > 1 && !scalable_ && !pow2 && lanes > native_ && lanes % native_ == 0 ? native_ : lanes;
    if (why.empty()) {
      std::vector<Stmt> parts;
      for (int64_t k = 0; k < lanes && why.empty(); k += chunk) {
        Vectorizer vec(op->var, make_ramp(op->min + make_int(k), make_int(1), static_cast<int>(chunk)),
                       static_cast<int>(chunk));
        parts.push_back(vec.mutate(body));
        why = vec.failure;
      }
      out = parts.size() == 1 ? parts[0] : make_seq(parts);
    }
    if (!why.empty()) {
      if (remarks_) remarks_->push_back(fmt::format("loop '{}' not vectorized: {}", op->var->name, why));
      return make_for(op->var, op->min, op->extent, ForKind::Serial, body, op->thread_axis);
    }
    if (lanes == 1) return substitute(body, {{op->var, op->min}});
    if (scalable_ && !contains_loop(body)) {
      // Vector-length agnostic: the code generator makes it a scalable, predicated loop.
      if (remarks_) remarks_->push_back(fmt::format("loop '{}' kept as a scalable vector loop", op->var->name));
      return make_for(op->var, op->min, op->extent, ForKind::Vectorized, body, op->thread_axis);
    }
    return out;
  }

 private:
  std::vector<std::string> *remarks_;
  bool scalable_;
  int native_;
};

}  // namespace

Stmt vectorize_loops(const Stmt &s, std::vector<std::string> *remarks) {
  VectorizeLoops v(remarks, false);
  return v.mutate(s);
}

Stmt vectorize_loops(const Stmt &s, const Target &t, std::vector<std::string> *remarks) {
  VectorizeLoops v(remarks, t.scalable_vectors, t.is_gpu() ? 0 : t.f32_lanes());
  return v.mutate(s);
}

}  // namespace kcc
