// passes/unroll.cpp - replicate the bodies of Unrolled loops.
#include "ir/visitor.h"
#include "passes/lower_passes.h"

namespace kcc {

namespace {

class Unroller : public IRMutator {
 public:
  using IRMutator::mutate;

 protected:
  Stmt mutate_node(const For *op, const Stmt &self) override {
    Stmt body = mutate(op->body);
    int64_t ext;
    if (op->kind != ForKind::Unrolled || !is_const_int(op->extent, &ext)) {
      // A non-constant extent cannot be unrolled: leave a serial loop (LLVM may still unroll it).
      ForKind k = op->kind == ForKind::Unrolled ? ForKind::Serial : op->kind;
      if (body.same_as(op->body) && k == op->kind) return self;
      return make_for(op->var, op->min, op->extent, k, body, op->thread_axis);
    }
    std::vector<Stmt> copies;
    for (int64_t i = 0; i < ext; ++i) copies.push_back(substitute(body, {{op->var, op->min + make_int(i)}}));
    return make_seq(std::move(copies));
  }
};

}  // namespace

Stmt unroll_loops(const Stmt &s) {
  Unroller u;
  return u.mutate(s);
}

}  // namespace kcc
