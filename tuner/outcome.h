// tuner/outcome.h - why a measurement is invalid, as a value: set where the failure happens
// (the static check, the builder, the worker, kcc-runner's answer), carried by the Measurement
// and the database record (column `outcome`), counted per kernel (`kcc tune`'s failure summary),
// grouped by the report and read by the validity model (evidence_of). The message beside it
// (Measurement::error) is for people. When a ScheduleError made a candidate invalid (outcomes
// Static and Schedule), its kind travels beside the outcome (Measurement::schedule_error,
// column `schedule_error`).
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "passes/schedule_error_kind.h"

namespace kcc::tuner {

enum class Outcome {
  Ok,
  Static,            ///< the schedule does not apply, or the code is too large (never built)
  Schedule,          ///< the .ir's hand schedule does not apply
  CompileTimeLimit,  ///< the O3 pipeline ran past its limit (MeasureOptions::compile_time_limit)
  Build,             ///< any other build failure
  Crashed,           ///< the worker died (signal, exit)
  Timeout,           ///< no result within MeasureOptions::timeout_seconds
  WrongResult,       ///< outputs differ from the interpreter's beyond the error bound: a compiler bug
  Status,            ///< the kernel returned an error code
  Exception,         ///< the worker caught an exception calling the kernel
  Cuda,              ///< a CUDA driver call failed (NVPTX)
  Runner,            ///< kcc-runner could not load the candidate or its data, or answered nonsense
  Other,             ///< anything else ("no samples", a record whose reason is unknown)
};
inline constexpr int kNumOutcomes = static_cast<int>(Outcome::Other) + 1;

/// "ok", "static", "schedule error", "compile-time limit", "build", "crashed", "timeout",
/// "wrong result", "status", "exception", "cuda error", "runner", "other": how reports name it,
/// and how the database stores it.
const char *to_string(Outcome o);
/// The outcome named `name` (to_string's words); nullopt if none is.
std::optional<Outcome> parse_outcome(const std::string &name);

/// What a measurement's outcome says about its point, for the validity model (XgbValidityModel).
enum class Evidence : uint8_t {
  /// Ok: the point builds, runs and gives the right result.
  Valid,
  /// Static, Schedule, CompileTimeLimit, Build: the point cannot be built, on any machine (the
  /// schedule does not apply, the code is too large, LLVM fails or runs past its CPU-time
  /// limit). A feature of the point, and of points like it: full weight.
  Invalid,
  /// Crashed, Timeout, WrongResult: the point was built and its run failed. Usually the point's
  /// own doing (an out-of-bounds access, a miscompiled tail, code far too slow), but a run also
  /// depends on the machine (a busy machine times out, memory pressure kills a worker): half the
  /// weight of an Invalid one, so that valid measurements of like points can outvote it.
  RunFailure,
  /// Status, Exception, Cuda, Runner, Other: the measuring machinery failed (the runtime
  /// returned an error status, a CUDA driver call failed, kcc-runner could not load the
  /// candidate, no reason known). Says nothing about the point: the model does not learn from it.
  None,
};
Evidence evidence_of(Outcome o);
/// The weight of a measurement with this evidence in the validity model's training (0 for None).
float evidence_weight(Evidence e);

/// Invalid measurements of one kernel counted by outcome, with the first message of each.
struct FailureCounts {
  std::array<int64_t, kNumOutcomes> count{};
  std::array<std::string, kNumOutcomes> first;

  /// Counts one measurement (nothing when `o` is Ok).
  void add(Outcome o, const std::string &message);
  int64_t total() const;
  /// "12 static, 3 compile-time limit" (most frequent first); "" when none.
  std::string brief() const;
  /// One line per outcome: "  COUNT OUTCOME, first: MESSAGE" (messages cut at 300 characters).
  std::string details() const;
};

}  // namespace kcc::tuner
