// passes/gpu_launch.cpp - splitting a lowered GPU kernel into launches (the execution model of
// ir/gpu_launch.h); the target's limits on them are checked in gpu_verify.cpp.
#include "ir/gpu_launch.h"

#include <algorithm>
#include <set>

#include "ir/visitor.h"
#include "passes/lower_passes.h"

namespace kcc {

namespace {

int64_t const_extent(const For *op, std::string &error) {
  int64_t e = 0;
  if (!is_const_int(op->extent, &e)) {
    error = "GPU loop '" + op->var->name + "' has a non-constant extent " + to_string(op->extent);
    return -1;
  }
  return e;
}

/// Grid and block dimensions, shared-memory layout and barrier placement of one launch.
class LaunchAnalysis : public IRVisitor {
 public:
  explicit LaunchAnalysis(GpuLaunch &l) : l_(l) {}
  std::string error;
  using IRVisitor::visit;

  /// Second walk, once block dims are known: barriers must be uniform.
  void check_barriers(const Stmt &s) {
    checking_ = true;
    visit(s);
  }

 protected:
  void visit_node(const For *op) override {
    const bool gpu = op->kind == ForKind::GpuBlock || op->kind == ForKind::GpuThread;
    if (!gpu) {
      IRVisitor::visit_node(op);
      return;
    }
    int64_t e = const_extent(op, error);
    if (e < 0) return;
    const int a = op->thread_axis;
    bool divergent = false;
    bool nested = op->kind == ForKind::GpuThread && thread_depth_[a] > 0;
    if (op->kind == ForKind::GpuBlock) {
      // Blocks beyond the extent skip the whole body: still uniform within a block.
      if (!checking_) l_.grid[a] = std::max(l_.grid[a], e);
    } else if (!nested) {
      if (!checking_) l_.block[a] = std::max(l_.block[a], e);
      divergent = e < l_.block[a];
    } else {
      divergent = e != l_.block[a];
    }
    if (op->kind == ForKind::GpuThread) ++thread_depth_[a];
    if (divergent) ++divergent_;
    IRVisitor::visit_node(op);
    if (divergent) --divergent_;
    if (op->kind == ForKind::GpuThread) --thread_depth_[a];
  }
  void visit_node(const IfThenElse *op) override {
    ++divergent_;
    IRVisitor::visit_node(op);
    --divergent_;
  }
  void visit_node(const Barrier *) override {
    if (checking_ && divergent_ > 0 && error.empty())
      error = "a barrier (around a shared-memory fetch) is inside a condition or a thread loop that not every "
              "thread of the block runs; give the consumer's thread loops the full block size";
  }
  void visit_node(const Allocate *op) override {
    if (!checking_ && op->buffer->scope == MemScope::Shared && !seen_.count(op->buffer.get())) {
      seen_.insert(op->buffer.get());
      int64_t off = (l_.shared_bytes + 15) / 16 * 16;
      l_.shared_offsets.push_back({op->buffer.get(), off});
      l_.shared_bytes = off + std::max<int64_t>(1, op->buffer->size) * std::max(1, op->buffer->elem.bytes());
    }
    if (!checking_ && op->buffer->scope == MemScope::Global && error.empty())
      error = "buffer '" + op->buffer->name + "' needs device scratch inside a kernel; compute it at the root";
    IRVisitor::visit_node(op);
  }

 private:
  GpuLaunch &l_;
  bool checking_ = false;
  int thread_depth_[3] = {0, 0, 0};
  int divergent_ = 0;
  std::set<const BufferNode *> seen_;
};

/// The first loop under a chain of allocations, or null.
const For *first_loop(const Stmt &s) {
  Stmt t = s;
  while (t.defined() && t.kind() == StmtKind::Allocate) t = t.as<Allocate>()->body;
  return t.defined() ? t.as<For>() : nullptr;
}

}  // namespace

namespace {

bool has_bound_loop(const Stmt &s) {
  struct Finder : IRVisitor {
    bool found = false;
    void visit_node(const For *op) override {
      found = found || op->kind == ForKind::GpuBlock || op->kind == ForKind::GpuThread;
      IRVisitor::visit_node(op);
    }
  } f;
  f.visit(s);
  return f.found;
}

}  // namespace

bool split_gpu_launches(const LoweredFunc &f, GpuLaunchPlan &plan, std::string &error) {
  plan = GpuLaunchPlan{};
  plan.body = f.body;
  // Allocations around everything: root stages (device scratch) and hoisted per-thread or
  // per-block buffers, which are re-wrapped around each launch.
  Stmt body = f.body;
  std::vector<Buffer> wrap;
  while (body.defined() && body.kind() == StmtKind::Allocate) {
    const Allocate *a = body.as<Allocate>();
    if (a->buffer->scope == MemScope::Global)
      plan.scratch.push_back(a->buffer);
    else
      wrap.push_back(a->buffer);
    body = a->body;
  }
  std::vector<Stmt> parts;
  if (body.defined() && body.kind() == StmtKind::Seq)
    parts = body.as<Seq>()->stmts;
  else if (body.defined())
    parts = {body};
  for (const Stmt &p : parts) {
    // A nest without any bound loop is a scalar (rank-0) stage, which the schedule checks
    // (passes/gpu_check.cpp) let through unbound alone: one launch of one thread runs it.
    const For *loop = first_loop(p);
    if (loop && loop->kind != ForKind::GpuBlock && loop->kind != ForKind::GpuThread && has_bound_loop(p)) {
      error = "on a GPU target every root loop nest must start with a bound loop (block.x, ...), but loop '" +
              loop->var->name + "' is not bound";
      return false;
    }
    GpuLaunch l;
    l.body = p;
    // Hoisted allocations this part uses.
    const std::set<const BufferNode *> used = buffers_accessed(p);
    for (auto it = wrap.rbegin(); it != wrap.rend(); ++it)
      if (used.count(it->get())) l.body = make_allocate(*it, l.body);
    LaunchAnalysis an(l);
    an.visit(l.body);
    if (an.error.empty()) an.check_barriers(l.body);
    if (!an.error.empty()) {
      error = an.error;
      return false;
    }
    plan.launches.push_back(std::move(l));
  }
  return true;
}

}  // namespace kcc
