// passes/schedule_apply_annotations.cpp - parallel, vectorize, unroll, unroll_limit, bind: how a
// loop runs.
#include <fmt/format.h>

#include "passes/schedule_apply.h"

namespace kcc {

void ScheduleApplier::apply(const AnnotateStep &s) {
  auto &st = stage(s.loop.stage);
  int l = loop(st, s.loop.loop);
  LoopInfo &li = st.loops[l];
  li.kind_step = step_ref();
  switch (s.what) {
    case LoopAnnotation::Parallel:
      if (li.reduce)
        fail(ScheduleErrorKind::IllegalAnnotation, li.name,
             fmt::format("cannot parallelize reduction loop '{}' of stage '{}' (iterations update the same "
                         "outputs); use rfactor first",
                         li.name, st.name()));
      li.kind = ForKind::Parallel;
      return;
    case LoopAnnotation::Vectorize:
      if (li.reduce)
        fail(ScheduleErrorKind::IllegalAnnotation, li.name,
             fmt::format("cannot vectorize reduction loop '{}' of stage '{}'; use rfactor first", li.name,
                         st.name()));
      li.kind = ForKind::Vectorized;
      return;
    case LoopAnnotation::Unroll:
      // How many copies this makes is known once lowering has the extents (compute_at).
      li.kind = ForKind::Unrolled;
      st.unroll_steps[l] = {index_, "unroll", step_->loc};
      return;
  }
}

void ScheduleApplier::apply(const UnrollLimitStep &s) {
  auto &st = stage(s.stage);
  if (s.limit < 0)
    fail(ScheduleErrorKind::BadFactor, "", fmt::format("unroll limit {} must not be negative", s.limit));
  if (s.limit > kMaxUnrolledCopies)
    fail(ScheduleErrorKind::LimitExceeded, "",
         fmt::format("unroll limit {} is more than {}, the most copies of a loop body kcc makes", s.limit,
                     kMaxUnrolledCopies));
  st.unroll_limit = s.limit;
  st.unroll_limit_step = {index_, "unroll_limit", step_->loc};
}

void ScheduleApplier::apply(const BindStep &s) {
  auto &st = stage(s.loop.stage);
  int l = loop(st, s.loop.loop);
  if (!sk_.target.is_gpu())
    fail(ScheduleErrorKind::TargetMismatch, st.loops[l].name,
         fmt::format("bind of loop '{}' to {} needs a GPU target (nvptx-*), but the target is '{}'",
                     st.loops[l].name, to_string(s.axis), sk_.target.name));
  bool block = s.axis == GpuAxis::BlockX || s.axis == GpuAxis::BlockY || s.axis == GpuAxis::BlockZ;
  st.loops[l].kind = block ? ForKind::GpuBlock : ForKind::GpuThread;
  st.loops[l].thread_axis = static_cast<int>(s.axis) % 3;
  st.loops[l].kind_step = step_ref();
}

}  // namespace kcc
