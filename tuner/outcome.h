// tuner/outcome.h - why a measurement is invalid, as a value: the tuner counts outcomes per
// kernel and reports them grouped (`kcc tune`'s failure summary).
//
// A Measurement (and a database record) carries the reason as text with a fixed first word
// ("build: ...", "crashed: ...", see Measurer::measure and docs/runner.md); outcome_of() is the
// one place that reads those words.
#pragma once
#include <array>
#include <cstdint>
#include <string>

#include "tuner/search.h"

namespace kcc::tuner {

enum class Outcome {
  Ok,
  Static,            ///< "static: ..." the schedule does not apply (never built)
  Schedule,          ///< "schedule error: ..." the .ir's hand schedule does not apply
  CompileTimeLimit,  ///< "build: optimization ran past ..." (MeasureOptions::compile_time_limit)
  Build,             ///< "build: ..." any other build failure
  Crashed,           ///< "crashed: ..." the worker died (signal, exit)
  Timeout,           ///< "timeout: ..."
  WrongResult,       ///< "wrong result: ..." a compiler bug
  Status,            ///< "status N: ..." the kernel returned an error code
  Exception,         ///< "exception: ..." the worker caught an exception calling the kernel
  Cuda,              ///< "cuda error: ..."
  Runner,            ///< "runner: ...", "load: ...", "data: ...", "bounds: ..." (kcc-runner)
  Other,             ///< anything else (an older record, "no samples", ...)
};
inline constexpr int kNumOutcomes = static_cast<int>(Outcome::Other) + 1;

/// "ok", "static", "schedule error", "compile-time limit", "build", "crashed", "timeout",
/// "wrong result", "status", "exception", "cuda error", "runner", "other".
const char *to_string(Outcome o);

/// The outcome a measurement's validity and error text say.
Outcome outcome_of(const Measurement &m);

/// Invalid measurements of one kernel counted by outcome, with the first message of each.
struct FailureCounts {
  std::array<int64_t, kNumOutcomes> count{};
  std::array<std::string, kNumOutcomes> first;

  void add(const Measurement &m);
  int64_t total() const;
  /// "12 static, 3 compile-time limit" (most frequent first); "" when none.
  std::string brief() const;
  /// One line per outcome: "  COUNT OUTCOME, first: MESSAGE" (messages cut at 300 characters).
  std::string details() const;
};

}  // namespace kcc::tuner
