// test/support/gpu_serial.h - the sequential meaning of GPU loop IR, to check GPU lowering on the
// CPU without a GPU: block/thread loops become serial loops and shared buffers local ones (the
// meaning ir/gpu_launch.h documents). Header-only; used by test/gpu and test/tuner.
#pragma once
#include <map>

#include "ir/stmt.h"
#include "ir/visitor.h"

namespace kcc::test {

class SerialMeaning : public IRMutator {
 public:
  using IRMutator::mutate;

 protected:
  Buffer remap(const Buffer &b) {
    if (b->scope != MemScope::Shared) return b;
    auto it = map_.find(b.get());
    if (it != map_.end()) return it->second;
    return map_[b.get()] = make_buffer(b->name, b->elem, {b->size}, MemScope::Local);
  }
  Expr mutate_node(const Load *op, const Expr &self) override {
    return make_load(op->type, remap(op->buffer), mutate(op->index));
  }
  Stmt mutate_node(const Store *op, const Stmt &self) override {
    return make_store(remap(op->buffer), mutate(op->index), mutate(op->value),
                      op->predicate.defined() ? mutate(op->predicate) : Expr());
  }
  Stmt mutate_node(const Allocate *op, const Stmt &self) override {
    return make_allocate(remap(op->buffer), mutate(op->body));
  }
  Stmt mutate_node(const For *op, const Stmt &self) override {
    ForKind k = op->kind == ForKind::GpuBlock || op->kind == ForKind::GpuThread ? ForKind::Serial : op->kind;
    return make_for(op->var, op->min, op->extent, k, mutate(op->body));
  }

 private:
  std::map<const BufferNode *, Buffer> map_;
};

/// `gpu` with its GPU loops made serial and its shared buffers local.
inline LoweredFunc serial_meaning(LoweredFunc gpu) {
  gpu.body = SerialMeaning().mutate(gpu.body);
  return gpu;
}

}  // namespace kcc::test
