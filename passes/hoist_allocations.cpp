// passes/hoist_allocations.cpp - allocate scratch once, not once per iteration.
//
// Buffers of constant size allocated inside serial loops are moved out to the enclosing parallel
// loop body (one copy per iteration of the parallel loop, i.e. per thread at a time) or to the
// top of the function. Every buffer the lowering creates is written before it is read within one
// iteration of the loop that held it, so sharing it across iterations changes nothing.
#include <algorithm>
#include <vector>

#include "ir/visitor.h"
#include "passes/lower_passes.h"

namespace kcc {

namespace {

class Hoister : public IRMutator {
 public:
  using IRMutator::mutate;
  std::vector<Buffer> lifted;

 protected:
  Stmt mutate_node(const Allocate *op, const Stmt &self) override {
    // Loop partitioning copies bodies, so one buffer may be allocated in several places.
    if (std::find(lifted.begin(), lifted.end(), op->buffer) == lifted.end()) lifted.push_back(op->buffer);
    return mutate(op->body);
  }
  Stmt mutate_node(const For *op, const Stmt &self) override {
    if (op->kind != ForKind::Parallel && op->kind != ForKind::GpuBlock && op->kind != ForKind::GpuThread)
      return IRMutator::mutate_node(op, self);
    // A new scope: allocations inside stay inside, at the top of the body.
    Hoister inner;
    Stmt body = inner.mutate(op->body);
    for (auto it = inner.lifted.rbegin(); it != inner.lifted.rend(); ++it) body = make_allocate(*it, body);
    return make_for(op->var, op->min, op->extent, op->kind, body, op->thread_axis);
  }
};

}  // namespace

Stmt hoist_allocations(const Stmt &s) {
  Hoister h;
  Stmt body = h.mutate(s);
  for (auto it = h.lifted.rbegin(); it != h.lifted.rend(); ++it) body = make_allocate(*it, body);
  return body;
}

}  // namespace kcc
