// passes/schedule_error_kind.h - the kinds of schedule errors (ScheduleError, schedule_error.h),
// alone, for code that carries a kind without the error (the tuner's measurements and database).
#pragma once
#include <cstdint>
#include <optional>
#include <string>

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
/// "unknown-stage", "unknown-loop", ..., "limit-exceeded".
const char *to_string(ScheduleErrorKind k);
/// The kind named `name` (to_string's words); nullopt if none is.
std::optional<ScheduleErrorKind> parse_schedule_error_kind(const std::string &name);

}  // namespace kcc
