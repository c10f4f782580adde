// passes/schedule_error.h - errors from applying a schedule to a kernel.
#pragma once
#include <map>
#include <string>

#include "ir/diag.h"
#include "ir/expr.h"
#include "ir/schedule.h"
#include "passes/schedule_error_kind.h"

namespace kcc {

/// The step that asked for something checked after it was applied (for error messages).
struct StepRef {
  int index = 0;  ///< 1-based; 0: no step
  std::string primitive;
  SourceLoc loc;
};

/// The steps behind a lowered GPU kernel, so that limits checked on its launches
/// (verify_gpu_limits) blame the step that caused them. Loops are the variables lowering emits.
struct GpuBlame {
  std::map<const Variable *, StepRef> bind;  ///< per bound loop: its bind step
  /// Per bound loop of a root stage: the last `cache_read ... shared` computed inside that stage.
  std::map<const Variable *, StepRef> shared_cache;
  SourceLoc schedule;  ///< the schedule, for what no one step caused
};

/// A user error in a schedule. The rendered form (what()) names the step, the primitive and the
/// loop: `model.ir:14:3: error: schedule step 4 'vectorize': cannot vectorize reduction loop 'k' of stage 'C'`.
class ScheduleError : public UserError {
 public:
  ScheduleError(ScheduleErrorKind kind, int step_index, const Step *step, const std::string &loop,
                const std::string &msg);
  /// For problems found while lowering, pointing at the step that asked for what failed.
  ScheduleError(ScheduleErrorKind kind, int step_index, const std::string &primitive, const SourceLoc &loc,
                const std::string &loop, const std::string &msg);
  ScheduleError(ScheduleErrorKind kind, const StepRef &step, const std::string &loop, const std::string &msg)
      : ScheduleError(kind, step.index, step.primitive, step.loc, loop, msg) {}
  ScheduleErrorKind kind() const { return kind_; }
  int step_index() const { return step_index_; }  ///< 1-based; 0 when not tied to one step
  const std::string &primitive() const { return primitive_; }
  const std::string &loop() const { return loop_; }

 private:
  ScheduleErrorKind kind_;
  int step_index_;
  std::string primitive_;
  std::string loop_;
};

}  // namespace kcc
