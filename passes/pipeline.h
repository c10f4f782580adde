// passes/pipeline.h - the whole compile of a module, as one list of named steps.
#pragma once
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "codegen/codegen.h"
#include "codegen/target.h"
#include "ir/kernel.h"
#include "ir/stmt.h"
#include "passes/memory_plan.h"

namespace kcc {

/// Where a kernel's schedule came from.
enum class ScheduleSource : uint8_t { Registry, Database, Tuned, Given, Default };
const char *to_string(ScheduleSource s);  ///< "registry", "database", "tuned", "given", "default"

/// A schedule chosen for a kernel, with what is known of its speed.
struct ChosenSchedule {
  Schedule schedule;
  ScheduleSource source = ScheduleSource::Default;
  double median_seconds = 0;  ///< 0 when never measured
  int threads = 0;            ///< threads median_seconds was measured on (0 = not known)
};

/// A source of schedules that answers kernel by kernel: the registry (passes/registry.h) and
/// the tuning database (tuner/tuner.h, DatabaseProvider).
class ScheduleProvider {
 public:
  virtual ~ScheduleProvider() = default;
  /// Returns true and fills `out` when it has a schedule for `k` on `t`.
  virtual bool provide(const Kernel &k, const Target &t, ChosenSchedule &out) = 0;
  /// Why provide() has nothing for `k` on `t`, for the error when this source is required.
  virtual std::string missing_message(const Kernel &k, const Target &t) const;
};

/// Tuning now (tuner/tuner.h, ModuleTuner): measures candidates for the kernels it is handed.
class ScheduleTuner {
 public:
  virtual ~ScheduleTuner() = default;
  /// Tunes the kernels of `todo` together on `t` (todo.schedules: their hand schedules, measured
  /// as baselines). Returns, by kernel name, the schedules of the kernels it found a valid one
  /// for (source Tuned).
  virtual std::map<std::string, ChosenSchedule> tune(const Module &todo, const Target &t) = 0;
};

/// Where kernels' schedules come from. The pipeline's steps "choose-schedule" and "tune" are the
/// one place that asks them, and always in this order:
///   1. registry   (`kcc compile --registry FILE.kreg`): when set, the only source, a lockfile;
///                 a kernel it lacks is an error (missing_message)
///   2. database   the best record of the kernel's workload on the target
///   3. tuner      (`--budget N`): the kernels 2 has nothing for, tuned together in step "tune"
///   4. given      the kernel's schedule in the .ir
///   5. default    default_schedule()
/// Each may be null (skipped). A kernel tuned in this compile takes the tuned schedule even
/// though the tuning has since recorded it in the database: it is tuned only because the
/// database had nothing for it.
struct ScheduleSources {
  ScheduleProvider *registry = nullptr;
  ScheduleProvider *database = nullptr;
  ScheduleTuner *tuner = nullptr;
};

/// The pipeline's steps, in the order compile_module runs them: the one table of their names,
/// read by the pipeline, `kcc compile --print-after`, `--emit=scheduled` and `--time-passes`.
#define KCC_PIPELINE_STEPS(X)                                                                     \
  X(ChooseSchedule, "choose-schedule")                                                             \
  X(Tune, "tune")                                                                                  \
  X(ApplySchedule, "apply-schedule")                                                               \
  X(Lower, "lower")                                                                                \
  X(Simplify, "simplify")                                                                          \
  X(PartitionLoops, "partition-loops")                                                             \
  X(Vectorize, "vectorize")                                                                        \
  X(Unroll, "unroll")                                                                              \
  X(SimplifyFinal, "simplify-final")                                                               \
  X(HoistAllocations, "hoist-allocations")                                                         \
  X(Verify, "verify")                                                                              \
  X(PlanMemory, "plan-memory")                                                                     \
  X(Codegen, "codegen")                                                                            \
  X(ModelEntry, "model-entry")                                                                     \
  X(Optimize, "optimize")

enum class PipelineStep : uint8_t {
#define KCC_STEP_ENUM(id, name) id,
  KCC_PIPELINE_STEPS(KCC_STEP_ENUM)
#undef KCC_STEP_ENUM
};

const char *to_string(PipelineStep s);  ///< the step's name in the table, e.g. "apply-schedule"
/// The step named `name`, if there is one.
std::optional<PipelineStep> step_named(const std::string &name);
/// The pipeline's steps, in order.
const std::vector<PipelineStep> &pipeline_steps();
/// The step after which the IR is each kernel's scheduled loop tree, as lowering made it and
/// before any simplification: what `kcc compile --emit=scheduled` prints after the schedules.
constexpr PipelineStep kScheduledLoopsStep = PipelineStep::Lower;

struct CompileOptions {
  Target target;
  /// Dump the IR after these steps to `dump`.
  std::vector<PipelineStep> print_after;
  /// Time each step into CompileResult::timings (left empty otherwise).
  bool time_passes = false;
  ScheduleSources schedules;
  /// Models take their weights as an argument (`kcc compile --weights external`) instead of
  /// embedding them in the object.
  bool external_weights = false;
};

struct CompiledKernel {
  const Kernel *kernel = nullptr;
  ChosenSchedule chosen;
  LoweredFunc func;
};

/// A model compiled into entry points (codegen.h, add_model_entry) beside its kernels.
struct CompiledModel {
  const ModelDecl *model = nullptr;
  MemoryPlan plan;
  PackedWeights weights;  ///< the blob: in the object, or NAME.weights with external weights
  bool external_weights = false;
};

struct PassTiming {
  std::string step;  ///< to_string(PipelineStep) for the pipeline's steps
  double seconds = 0;
};

struct CompileResult {
  std::vector<CompiledKernel> kernels;
  std::vector<CompiledModel> models;  ///< in m.models order
  CompiledModule code;  ///< LLVM module for all kernels and models' entry points
  std::vector<PassTiming> timings;  ///< one per step that ran, in pipeline order; with time_passes only
};

/// Schedules, lowers and generates code for every kernel of `m`, then gives each model of `m` a
/// memory plan, its packed weights (read from the file its `weights` statement names) and its
/// entry points. IR after the steps named in opts.print_after goes to `dump`. Throws UserError
/// for bad schedules, unreadable weights, a model on a GPU target or a model whose entry point
/// would have the name of a kernel or of another model's entry point.
CompileResult compile_module(const Module &m, const CompileOptions &opts, std::ostream &dump);

/// Lowers one kernel with one schedule to loop IR (apply schedule, lower, simplify, verify).
/// Used by compile_module, tests and the tuner.
LoweredFunc lower_kernel(const Kernel &k, const Schedule &s, const Target &t);

/// The default schedule's free choices: it calls choose(name, n) once for each choice it makes
/// ("conv.tile": which of the stage's n best register tiles; "conv.pack", "conv.epilogue",
/// "conv.order", "conv.unroll", "conv.kblock"), always the same names in the same order for one
/// kernel and target, and takes the alternative returned; 0 is the heuristic's own. The tuner
/// searches them (its "default" sketch, tuner/space.cpp).
using DefaultChoices = std::function<int(const std::string &name, int alternatives)>;

/// The default heuristic schedule for `k` on `t` (parallel outer, vectorized inner, tiling),
/// with `choose`'s alternatives where given.
Schedule default_schedule(const Kernel &k, const Target &t, const DefaultChoices &choose = {});

/// The steps that copy a transposed pack (`pack`, a cache_read of a `rank`-dimensional tensor
/// whose storage order moves dimension `moved` innermost) a vector at a time on CPU target `t`:
/// dimension `moved` and the source's innermost dimension split by the vector width, the
/// vector loop along `moved` (contiguous in the copy; a strided gather from the source)
/// innermost, the source's innermost one unrolled outside it, so that the gathers of one block
/// share their cache lines. Empty on targets without vectors.
std::vector<Step> transposed_pack_steps(const std::string &pack, size_t rank, size_t moved, const Target &t);

/// The default schedule on GPU targets (passes/gpu_default_schedule.cpp): elementwise
/// intermediates inlined, every other stage its own launch with its spatial axes fused, split by
/// the block size and bound to block.x / thread.x. default_schedule() returns it for GPU targets.
Schedule default_gpu_schedule(const Kernel &k, const Target &t);

}  // namespace kcc
