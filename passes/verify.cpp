// passes/verify.cpp - structural checks of lowered loop IR (kcc bugs, not user errors).
#include <fmt/format.h>

#include <set>

#include "ir/diag.h"
#include "ir/kernel.h"
#include "ir/visitor.h"
#include "passes/lower_passes.h"

namespace kcc {

namespace {

bool is_innermost(const For *op) {
  struct V : IRVisitor {
    bool found = false;
    void visit_node(const For *) override { found = true; }
  } v;
  v.visit(op->body);
  return !v.found;
}

class Verifier : public IRVisitor {
 public:
  Verifier(const LoweredFunc &f, const Target &t) : f_(f), t_(t) {
    for (auto &b : f.args) buffers_.insert(b.get());
  }
  using IRVisitor::visit;

 protected:
  void fail(const std::string &msg) {
    throw InternalError(fmt::format("verifier: {} in function '{}':\n{}", msg, f_.name, to_string(f_)));
  }
  void visit_node(const Variable *op) override {
    if (!vars_.count(op)) fail(fmt::format("variable '{}' used outside its loop", op->name));
  }
  void visit_node(const Load *op) override {
    if (!buffers_.count(op->buffer.get())) fail(fmt::format("load from '{}' outside its allocation", op->buffer->name));
    if (op->type.lanes != op->index.type().lanes) fail("load lanes differ from its index");
    IRVisitor::visit_node(op);
  }
  void visit_node(const Access *op) override { fail(fmt::format("unlowered access to tensor '{}'", op->tensor->name)); }
  void visit_node(const Store *op) override {
    if (!buffers_.count(op->buffer.get())) fail(fmt::format("store to '{}' outside its allocation", op->buffer->name));
    if (op->value.type().lanes != op->index.type().lanes) fail("store lanes differ from its index");
    IRVisitor::visit_node(op);
  }
  void visit_node(const For *op) override {
    const bool scalable_loop = op->kind == ForKind::Vectorized && t_.scalable_vectors && is_innermost(op);
    if ((op->kind == ForKind::Vectorized && !scalable_loop) || op->kind == ForKind::Unrolled)
      fail(fmt::format("loop '{}' is still {}", op->var->name, to_string(op->kind)));
    if ((op->kind == ForKind::GpuBlock || op->kind == ForKind::GpuThread) && !t_.is_gpu())
      fail(fmt::format("GPU loop '{}' on a CPU target", op->var->name));
    visit(op->min);
    visit(op->extent);
    if (vars_.count(op->var.get())) fail(fmt::format("loop variable '{}' bound twice", op->var->name));
    vars_.insert(op->var.get());
    visit(op->body);
    vars_.erase(op->var.get());
  }
  void visit_node(const Allocate *op) override {
    if (op->buffer->scope == MemScope::Shared && !t_.is_gpu())
      fail(fmt::format("shared buffer '{}' on a CPU target", op->buffer->name));
    auto it = buffers_.insert(op->buffer.get());
    visit(op->body);
    buffers_.erase(it);
  }

 private:
  const LoweredFunc &f_;
  const Target &t_;
  std::set<const Variable *> vars_;
  std::multiset<const BufferNode *> buffers_;
};

}  // namespace

void verify_lowered(const LoweredFunc &f, const Target &t) {
  Verifier v(f, t);
  v.visit(f.body);
}

}  // namespace kcc
