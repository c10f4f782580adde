// passes/schedule_state.h - a kernel with a schedule applied: per stage, its loops (handles),
// the relations between them, the order of the leaf loops and where the stage is computed.
// Produced by apply_schedule(), consumed by lower_scheduled(). Internal to passes/.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "codegen/target.h"
#include "ir/kernel.h"
#include "ir/schedule.h"
#include "ir/stmt.h"
#include "passes/schedule_error.h"

namespace kcc {

/// The most copies of a loop body that unrolling may make: the product of the extents of the
/// unrolled loops around a statement, counting those of the consumers a stage is computed in.
/// Every copy is simplified and optimized by LLVM, superlinearly: 16K copies of one store take
/// seconds, 10^5 minutes, 10^8 run out of memory. Checked by lowering, and against
/// `unroll_limit` when the schedule is applied; documented in docs/language.md.
constexpr int64_t kMaxUnrolledCopies = 4096;

/// One loop of a stage. Loops are referred to by their index in StageState::loops (a handle);
/// `var` is the loop variable the lowering emits for it.
struct LoopInfo {
  std::string name;
  Var var;
  bool reduce = false;
  ForKind kind = ForKind::Serial;
  int thread_axis = 0;
  StepRef kind_step = {};  ///< the step that set `kind` (parallel, vectorize, unroll, bind)
};

/// parent = outer * factor + inner (Split), or outer = fused / |inner|, inner = fused % |inner| (Fuse).
struct LoopRelation {
  enum Kind { Split, Fuse } kind;
  int parent = -1, outer = -1, inner = -1, fused = -1;
  int64_t factor = 0;
};

struct StageState {
  Stage def;                      ///< the definition (bodies rewritten by inline and cache_read)
  std::vector<LoopInfo> loops;    ///< every loop ever created for this stage
  std::vector<int> root_loops;    ///< one per axis, then one per reduction axis
  std::vector<LoopRelation> relations;
  std::vector<int> leaves;        ///< current loop nest, outer to inner
  ComputeLoc where = ComputeLoc::Root;
  int at_stage = -1, at_loop = -1;  ///< for ComputeLoc::At: consumer stage index and its loop handle
  StepRef where_step;
  int64_t unroll_limit = 0;
  StepRef unroll_limit_step;
  std::map<int, StepRef> unroll_steps;  ///< per loop handle marked by an `unroll` step
  bool cache_write = false;
  CacheScope cache_write_scope = CacheScope::Local;
  int cache_write_loop = -1;
  StepRef cache_write_step;
  std::vector<std::pair<int64_t, int64_t>> storage_align;  ///< per dimension (factor, offset); 0 = none
  std::vector<int> storage_order;  ///< dimensions outermost first (reorder_storage); empty = row-major
  bool shared_cache = false;      ///< made by `cache_read ... shared`: its buffer is GPU shared memory
  /// `prefetch T at S.l D` steps of this stage, in order.
  struct PrefetchRequest {
    std::string tensor;
    int loop = -1;  ///< handle
    int64_t distance = 1;
    StepRef step;
  };
  std::vector<PrefetchRequest> prefetches;

  const std::string &name() const { return def.name(); }
  bool is_reduction() const { return def.reduce != ReduceOp::None; }
  /// Handle of the live loop named `n` (a leaf), or -1.
  int find_leaf(const std::string &n) const;
};

struct ScheduledKernel {
  const Kernel *kernel = nullptr;
  std::vector<Tensor> inputs, outputs;  ///< the kernel's arguments
  std::vector<StageState> stages;       ///< in an order where producers come first
  Target target;
  SourceLoc schedule_loc;  ///< the schedule, for errors that no one step caused

  int find_stage(const std::string &n) const;
};

/// Replays the steps of `s` on `k`. Throws ScheduleError naming the step on illegal use.
ScheduledKernel apply_schedule(const Kernel &k, const Schedule &s, const Target &t);

/// Lowers a scheduled kernel to loop IR (before simplification and vectorization): the body,
/// and the Global buffer lowering made for each argument (inputs, then outputs; arg_index =
/// position), which the later passes keep. An argument the body never touches still has one.
LoweredFunc lower_scheduled(const ScheduledKernel &sk);

/// GPU targets: checks that the schedule maps onto blocks and threads (passes/gpu_check.cpp):
/// every root stage's outer loops are bound, block loops outside thread loops, bound loops
/// spatial, no `parallel`, thread-bound loops in computed-at stages only for shared caches.
/// Throws ScheduleError naming the bind (or parallel) step of the loop, or the schedule when a
/// stage lacks a binding. Called by lower_scheduled() for GPU targets.
void check_gpu_schedule(const ScheduledKernel &sk);

/// The steps to blame for the GPU limits of the lowered `sk` (verify_gpu_limits).
GpuBlame gpu_blame(const ScheduledKernel &sk);

}  // namespace kcc
