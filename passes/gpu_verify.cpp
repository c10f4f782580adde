// passes/gpu_verify.cpp - the launch plan of a lowered GPU kernel and the target's limits on it,
// checked before anything is built.
//
// Each error blames the step that caused it, found through the bound loops of the launch (loop
// variables are handles): the bind of the widest thread loop for threads per block, the bind of
// the block loop for the grid, the last `cache_read ... shared` for shared memory.
#include <fmt/format.h>

#include "ir/gpu_launch.h"
#include "ir/visitor.h"
#include "passes/lower_passes.h"

namespace kcc {

namespace {

/// A bound loop of a launch.
struct BoundLoop {
  const Variable *var;
  ForKind kind;
  int axis;
  int64_t extent;  ///< 0 when not constant
};

std::vector<BoundLoop> bound_loops(const Stmt &s) {
  struct Collect : IRVisitor {
    std::vector<BoundLoop> out;
    using IRVisitor::visit;
    void visit_node(const For *op) override {
      if (op->kind == ForKind::GpuBlock || op->kind == ForKind::GpuThread) {
        int64_t e = 0;
        is_const_int(op->extent, &e);
        out.push_back({op->var.get(), op->kind, op->thread_axis, e});
      }
      IRVisitor::visit_node(op);
    }
  } c;
  c.visit(s);
  return c.out;
}

class LimitChecker {
 public:
  LimitChecker(const GpuBlame &blame) : blame_(blame) {}

  /// Blames the bind step of the widest loop of `kind` (on `axis`, or any axis when -1).
  [[noreturn]] void fail_bind(const GpuLaunch &l, ForKind kind, int axis, ScheduleErrorKind k, const std::string &msg) {
    const BoundLoop *widest = nullptr;
    for (const BoundLoop &b : bound_loops(l.body))
      if (b.kind == kind && (axis < 0 || b.axis == axis) && (!widest || b.extent > widest->extent)) widest = &b;
    auto it = widest ? blame_.bind.find(widest->var) : blame_.bind.end();
    if (it == blame_.bind.end()) fail_schedule(k, msg);
    throw ScheduleError(k, it->second, widest->var->name, msg);
  }

  [[noreturn]] void fail_shared(const GpuLaunch &l, const std::string &msg) {
    for (const BoundLoop &b : bound_loops(l.body)) {
      auto it = blame_.shared_cache.find(b.var);
      if (it != blame_.shared_cache.end()) throw ScheduleError(ScheduleErrorKind::LimitExceeded, it->second, "", msg);
    }
    fail_schedule(ScheduleErrorKind::LimitExceeded, msg);
  }

  [[noreturn]] void fail_schedule(ScheduleErrorKind k, const std::string &msg) {
    throw ScheduleError(k, StepRef{0, "", blame_.schedule}, "", msg);
  }

 private:
  const GpuBlame &blame_;
};

}  // namespace

GpuLaunchPlan plan_gpu_launches(const LoweredFunc &f, const Target &t, const GpuBlame &blame) {
  LimitChecker c(blame);
  GpuLaunchPlan plan;
  std::string err;
  if (!split_gpu_launches(f, plan, err))
    c.fail_schedule(ScheduleErrorKind::IllegalAnnotation, fmt::format("kernel '{}': {}", f.name, err));
  for (size_t i = 0; i < plan.launches.size(); ++i) {
    const GpuLaunch &l = plan.launches[i];
    if (l.threads() > t.max_threads_per_block)
      c.fail_bind(l, ForKind::GpuThread, -1, ScheduleErrorKind::LimitExceeded,
                  fmt::format("kernel '{}' launch {}: {} threads per block ({}x{}x{}) exceed the limit of {} on {}",
                              f.name, i, l.threads(), l.block[0], l.block[1], l.block[2], t.max_threads_per_block,
                              t.name));
    if (l.block[2] > 64)
      c.fail_bind(l, ForKind::GpuThread, 2, ScheduleErrorKind::LimitExceeded,
                  fmt::format("kernel '{}' launch {}: thread.z extent {} exceeds 64", f.name, i, l.block[2]));
    const int64_t max_grid[3] = {2147483647, 65535, 65535};
    for (int a = 0; a < 3; ++a)
      if (l.grid[a] > max_grid[a])
        c.fail_bind(l, ForKind::GpuBlock, a, ScheduleErrorKind::LimitExceeded,
                    fmt::format("kernel '{}' launch {}: grid {}x{}x{} exceeds the limits (2^31-1 x 65535 x 65535)",
                                f.name, i, l.grid[0], l.grid[1], l.grid[2]));
    if (l.shared_bytes > t.max_shared_bytes)
      c.fail_shared(l, fmt::format("kernel '{}' launch {}: {} bytes of shared memory per block exceed the limit of {} on {}",
                                   f.name, i, l.shared_bytes, t.max_shared_bytes, t.name));
  }
  return plan;
}

}  // namespace kcc
