// ir/workload.h - workload keys (DESIGN §6 "Workload key") and schedule renaming.
//
// A workload key names a computation independently of how it is spelled: two kernels that
// compute the same thing on the same shapes and types get the same key, whatever their kernel,
// tensor and index names, and whichever file or model they come from. The registry
// (passes/registry.h) and the tuning database (tuner/database.h) file schedules under it.
#pragma once
#include <string>
#include <vector>

#include "ir/kernel.h"

namespace kcc {

/// The text a workload key hashes: the kernel's stages, shapes and element types with tensors
/// and index variables renamed by order of appearance (t0, t1, ...; v0, v1, ... per stage) and
/// the kernel name dropped. Exposed for tests and `kcc compile -v`.
std::string workload_text(const Kernel &k);
/// A stable 128-bit hash (FNV-1a) of workload_text(k), as 32 hex digits.
std::string workload_key(const Kernel &k);
/// The kernel's own names in the canonical order workload_text renames them (tensors in order
/// of appearance, then for each stage its axes and reduction axes). Two kernels with one
/// workload key have name lists of one length; pairing them renames a schedule for the other.
std::vector<std::string> workload_names(const Kernel &k);
/// A schedule recorded for another spelling of `k`'s workload, renamed to `k`'s names:
/// `old_names` is workload_names() of the kernel it was recorded for (same workload key, so
/// same length). Stage, tensor and axis names are mapped; names the steps create (split
/// results, cache_read stages, ...) stay. The schedule's kernel becomes k.name. For registry
/// entries and tuner records alike.
Schedule rename_schedule(Schedule s, const std::vector<std::string> &old_names, const Kernel &k);

}  // namespace kcc
