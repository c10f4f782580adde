// passes/schedule_error.h - errors from applying a schedule to a kernel.
#pragma once
#include <string>

#include "ir/diag.h"
#include "ir/schedule.h"

namespace kcc {

/// What went wrong, in a form the tuner can count and prune on without reading text.
enum class ScheduleErrorKind : uint8_t {
  UnknownStage,
  UnknownLoop,
  DuplicateName,
  BadFactor,
  NotAdjacent,
  IllegalReorder,
  IllegalAnnotation,
  IllegalComputeLocation,
  IllegalCache,
  IllegalRfactor,
  TargetMismatch,
  LimitExceeded,
};
const char *to_string(ScheduleErrorKind k);

/// A user error in a schedule. The rendered form (what()) names the step, the primitive and the
/// loop: `model.ir:14:3: error: schedule step 4 'vectorize': cannot vectorize reduction loop 'k' of stage 'C'`.
class ScheduleError : public UserError {
 public:
  ScheduleError(ScheduleErrorKind kind, int step_index, const Step *step, const std::string &loop,
                const std::string &msg);
  /// For problems found while lowering, pointing at the step that asked for what failed.
  ScheduleError(ScheduleErrorKind kind, int step_index, const std::string &primitive, const SourceLoc &loc,
                const std::string &loop, const std::string &msg);
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
