// passes/gpu_check.cpp - does a schedule map onto GPU blocks and threads? (schedule_state.h)
//
// The execution model is in ir/gpu_launch.h. Each root stage becomes one kernel launch, so
// its outer loops must be bound (block loops, then thread loops); a stage computed inside another
// one runs inside that stage's threads, so it may only use thread loops, and only when its buffer
// is block-wide shared memory (a per-thread buffer filled by several threads would be read by
// threads that never wrote it).
#include <fmt/format.h>

#include "passes/schedule_error.h"
#include "passes/schedule_state.h"

namespace kcc {

namespace {

/// Blames the step that bound (or parallelized) loop `li`.
[[noreturn]] void fail(ScheduleErrorKind k, const LoopInfo &li, const std::string &msg) {
  throw ScheduleError(k, li.kind_step, li.name, msg);
}

bool bound(ForKind k) { return k == ForKind::GpuBlock || k == ForKind::GpuThread; }

void check_stage(const ScheduledKernel &sk, const StageState &st) {
  const std::string &n = st.name();
  bool seen_block[3] = {false, false, false}, seen_thread[3] = {false, false, false};
  bool seen_other = false, seen_thread_any = false;
  for (int l : st.leaves) {
    const LoopInfo &li = st.loops[l];
    if (li.kind == ForKind::Parallel)
      fail(ScheduleErrorKind::TargetMismatch, li,
           fmt::format("loop '{}' of stage '{}' is parallel; on a GPU target bind it to block.x/y/z or thread.x/y/z",
                       li.name, n));
    if (!bound(li.kind)) {
      seen_other = true;
      continue;
    }
    if (li.reduce)
      fail(ScheduleErrorKind::IllegalAnnotation, li,
           fmt::format("reduction loop '{}' of stage '{}' cannot be bound to GPU threads or blocks (they would race "
                       "on the same output); use rfactor first",
                       li.name, n));
    const int a = li.thread_axis;
    if (li.kind == ForKind::GpuBlock) {
      if (st.where != ComputeLoc::Root)
        fail(ScheduleErrorKind::IllegalAnnotation, li,
             fmt::format("loop '{}' of stage '{}' is bound to a block axis, but the stage is computed inside another "
                         "stage; only root stages own blocks",
                         li.name, n));
      if (seen_other || seen_thread_any)
        fail(ScheduleErrorKind::IllegalAnnotation, li,
             fmt::format("block loop '{}' of stage '{}' must be outside every thread and unbound loop", li.name, n));
      if (seen_block[a])
        fail(ScheduleErrorKind::IllegalAnnotation, li,
             fmt::format("stage '{}' binds two loops to block.{}", n, "xyz"[a]));
      seen_block[a] = true;
    } else {
      if (seen_thread[a])
        fail(ScheduleErrorKind::IllegalAnnotation, li,
             fmt::format("stage '{}' binds two loops to thread.{}", n, "xyz"[a]));
      seen_thread[a] = true;
      seen_thread_any = true;
      if (st.where != ComputeLoc::Root && !st.shared_cache)
        fail(ScheduleErrorKind::IllegalAnnotation, li,
             fmt::format("loop '{}' of stage '{}' is bound to thread.{}, but the stage is computed inside another stage "
                         "into per-thread memory; bind only shared-memory stages (cache_read ... shared)",
                         li.name, n, "xyz"[a]));
    }
  }
  // A scalar (rank-0) stage has no spatial loop to spread: it runs in a launch of one thread.
  const bool scalar = st.def.axes.empty();
  // No step is missing a binding: the error points at the schedule.
  if (st.where == ComputeLoc::Root && !scalar && !st.leaves.empty() && !bound(st.loops[st.leaves[0]].kind))
    throw ScheduleError(
        ScheduleErrorKind::IllegalAnnotation, StepRef{0, "", sk.schedule_loc}, st.loops[st.leaves[0]].name,
        fmt::format("on a GPU target every stage's outer loops must be bound; stage '{}' has unbound loop '{}'", n,
                    st.loops[st.leaves[0]].name));
}

}  // namespace

void check_gpu_schedule(const ScheduledKernel &sk) {
  for (const StageState &st : sk.stages) check_stage(sk, st);
}

GpuBlame gpu_blame(const ScheduledKernel &sk) {
  GpuBlame b;
  b.schedule = sk.schedule_loc;
  for (const StageState &st : sk.stages)
    for (int l : st.leaves)
      if (bound(st.loops[l].kind)) b.bind[st.loops[l].var.get()] = st.loops[l].kind_step;
  // The latest cache_read ... shared step of each root stage (at_stage chains lead from a
  // computed-at stage to its root stage).
  for (const StageState &st : sk.stages) {
    if (!st.shared_cache) continue;
    const StageState *root = &st;
    while (root->where == ComputeLoc::At) root = &sk.stages[static_cast<size_t>(root->at_stage)];
    for (int l : root->leaves) {
      if (!bound(root->loops[l].kind)) continue;
      StepRef &r = b.shared_cache[root->loops[l].var.get()];
      if (st.where_step.index > r.index) r = st.where_step;
    }
  }
  return b;
}

}  // namespace kcc
