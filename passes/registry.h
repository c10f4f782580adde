// passes/registry.h - the .kreg registry (DESIGN §5); workload keys are ir/workload.h's.
//
// A registry (`model.kreg`) is a small JSON file that records, per kernel, the schedule a build
// used on one target and what is known of its speed:
//   { "format": "kcc-registry-1", "kcc_version": "0.1.0",
//     "target": "<Target::key()>", "target_name": "host",
//     "kernels": [ { "name": "dense_relu", "workload_key": "...", "target_key": "...",
//                    "schedule": "schedule dense_relu {\n  split Y.i [8] -> i0 i1\n ...}\n",
//                    "source": "default", "median_seconds": 0.0, "gflops": 0.0,
//                    "names": "X W b acc Y i j k i j" } ] }
// Checked into an app's repository it works as a lockfile: `kcc compile --registry model.kreg`
// gets exactly the recorded schedules (through RegistryProvider) and fails when one is missing.
#pragma once
#include <string>
#include <vector>

#include "ir/diag.h"
#include "ir/kernel.h"
#include "ir/workload.h"
#include "passes/pipeline.h"

namespace kcc {

/// One kernel of a registry.
struct RegistryEntry {
  std::string name;          ///< the kernel's name where the entry was recorded
  std::string workload_key;  ///< workload_key() of that kernel
  std::string target_key;    ///< Target::key() it was scheduled for
  std::string schedule;      ///< schedule text (kcc::to_string(Schedule))
  ScheduleSource source = ScheduleSource::Default;
  double median_seconds = 0;  ///< 0 when never measured
  double gflops = 0;          ///< 0 when never measured
  int threads = 0;            ///< threads median_seconds was measured on; 0 (field absent) = not known
  /// workload_names() of that kernel (may be empty); one space-separated string in the file
  std::vector<std::string> names;
  SourceLoc loc;  ///< where the entry starts in the file it was read from (invalid if built)
};

struct Registry {
  std::string kcc_version;
  std::string target_key;   ///< Target::key() of the build that wrote it
  std::string target_name;  ///< Target::name of that build
  std::vector<RegistryEntry> kernels;
  SourceFileRef file;  ///< the file it was read from (null if built in memory)
};

/// The registry describing a finished compile (CompileResult::kernels): one entry per kernel.
Registry make_registry(const std::vector<CompiledKernel> &kernels, const Target &t,
                       const std::string &kcc_version);

/// The JSON text of `reg` (deterministic: same registry, same bytes; ends with a newline).
std::string registry_to_json(const Registry &reg);

/// Parses and validates registry text. Throws UserError pointing into `path` (line:col where
/// it can) for malformed JSON, a wrong format tag, missing or mistyped fields, unknown sources
/// and schedule text that does not parse.
Registry parse_registry(const std::string &path, const std::string &text);
/// Reads `path` (UserError if unreadable) and parses it.
Registry read_registry_file(const std::string &path);

/// Serves schedules from a registry. A kernel gets an entry with its workload key recorded for
/// the target (Target::key()) or, unless `strict`, for a compatible target (another cpu of the
/// same instruction set, match_target_key): a schedule is correct on every such cpu, only its
/// speed differs. An exact entry beats a compatible one; among equals the kernel's own name wins.
/// An entry that needs features the target lacks is never used. The kernel name alone never
/// matches: a kernel whose computation changed since the registry was written must not silently
/// get a schedule recorded for another computation (the compile fails
/// instead, see missing_message). When the entry was recorded under other tensor or index names,
/// the schedule is renamed through the entry's `names`.
class RegistryProvider : public ScheduleProvider {
 public:
  explicit RegistryProvider(Registry reg, bool strict = false);
  bool provide(const Kernel &k, const Target &t, ChosenSchedule &out) override;
  /// Why the registry has no schedule for `k` on `t`, naming the kernel and what the registry
  /// holds instead (an entry for an incompatible target, or — strict — another cpu, or an entry
  /// of that name with another workload key), for a "registry lacks kernel" error.
  std::string missing_message(const Kernel &k, const Target &t) const override;
  /// One line for the user when provide() served entries recorded for another cpu or other
  /// options ("kcc: note: registry 'x.kreg': tuned on znver4, used on sapphirerapids (3
  /// kernels): retune for best speed ..."); "" when every entry was exact.
  std::string borrowed_note(const Target &t) const;
  const Registry &registry() const { return reg_; }

 private:
  const RegistryEntry *find(const Kernel &k, const Target &t, KeyMatch *match) const;
  Registry reg_;
  bool strict_ = false;
  std::vector<std::pair<std::string, std::string>> borrowed_;  ///< (kernel, why) served from another cpu
};

}  // namespace kcc
