// ir/schedule.h - schedules as typed data: a list of steps applied in order to a kernel.
//
// Text form (one step per line, inside `schedule KERNEL { ... }`; `#` starts a comment):
//   split          S.l [f1, ..., fn] -> l0 l1 ... ln   l = ((l0*f1 + l1)*f2 + l2)...; l0 gets the rest,
//                                                      non-dividing factors allowed (tails)
//   tile           S.x S.y [fx, fy] -> x0 y0 x1 y1     split both, order x0 y0 x1 y1
//   reorder        S l_a l_b ...                       the named loops take, in this order, the
//                                                      positions they occupy now
//   fuse           S l_a l_b ... -> l                  adjacent loops, outer to inner
//   parallel       S.l
//   vectorize      S.l
//   unroll         S.l
//   unroll_limit   S N                                 unroll constant inner loops up to N bodies
//   bind           S.l block.x|block.y|block.z|thread.x|thread.y|thread.z
//   compute_at     P S.l                               compute stage P inside loop l of stage S
//   compute_inline P
//   compute_root   P
//   cache_read     T local|shared at S.l -> name       copy (pack) the region of tensor T that S reads
//                                                      under l into a new contiguous stage `name`
//   cache_write    S local|shared at [S.]l             accumulate the tile of S's output written
//                                                      under l in a local buffer, write it back once
//   rfactor        S.l -> name                         reduction loop l becomes a spatial axis of a
//                                                      new stage `name`; S reduces over it
//   storage_align  S.axis factor offset                pad the stride of S's buffer at axis
//   reorder_storage S a1 a2 ...                        lay S's buffer out with axes in this order
//                                                      (outermost first; S must be an intermediate,
//                                                      e.g. a cache_read pack transposed so that the
//                                                      vectorized axis is contiguous)
//   prefetch       T at S.l D                          while iteration i of l runs, fetch into the
//                                                      caches what S reads of T in iteration i + D
//                                                      (CPU; a hint: never changes results)
// Loops are named by the step that created them (an axis name from the kernel, or a result of
// split/tile/fuse). Application resolves each name to a loop handle once; lowering never
// searches loops by name.
// The parser (ir/parser.cpp, one function per primitive in a table) checks syntax only; what
// factors, result names, stages and limits must be is checked once, where the step is applied
// (passes/schedule_apply.h).
#pragma once
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "ir/diag.h"

namespace kcc {

/// `stage.loop` as written; `stage` is empty where the step's syntax implies it.
struct LoopName {
  std::string stage;
  std::string loop;
  SourceLoc loc;
};

struct SplitStep {
  LoopName loop;
  std::vector<int64_t> factors;      ///< extents of the inner loops, outer to inner; each >= 1
  std::vector<std::string> results;  ///< factors.size() + 1 names, outer to inner
};
struct TileStep {
  LoopName x, y;
  int64_t fx = 0, fy = 0;
  std::vector<std::string> results;  ///< x0 y0 x1 y1
};
struct ReorderStep {
  std::string stage;
  std::vector<LoopName> order;
};
struct FuseStep {
  std::string stage;
  std::vector<LoopName> loops;  ///< outer to inner, adjacent
  std::string result;
};
enum class LoopAnnotation : uint8_t { Parallel, Vectorize, Unroll };
struct AnnotateStep {
  LoopAnnotation what;
  LoopName loop;
};
struct UnrollLimitStep {
  std::string stage;
  int64_t limit = 0;
};
enum class GpuAxis : uint8_t { BlockX, BlockY, BlockZ, ThreadX, ThreadY, ThreadZ };
const char *to_string(GpuAxis a);  ///< "block.x", ...
struct BindStep {
  LoopName loop;
  GpuAxis axis;
};
enum class ComputeLoc : uint8_t { At, Inline, Root };
struct ComputeStep {
  ComputeLoc where;
  std::string stage;
  LoopName at;  ///< only for ComputeLoc::At
};
enum class CacheScope : uint8_t { Local, Shared };
struct CacheReadStep {
  std::string tensor;
  CacheScope scope = CacheScope::Local;
  LoopName at;
  std::string result;
};
struct CacheWriteStep {
  std::string stage;
  CacheScope scope = CacheScope::Local;
  LoopName at;
};
struct RfactorStep {
  LoopName loop;
  std::string result;
};
struct StorageAlignStep {
  LoopName axis;  ///< stage.axis (an axis of the stage's output tensor)
  int64_t factor = 0, offset = 0;
};
struct ReorderStorageStep {
  std::string stage;
  std::vector<LoopName> axes;  ///< every axis of the stage's tensor, outermost first
};
struct PrefetchStep {
  std::string tensor;
  LoopName at;
  int64_t distance = 1;  ///< iterations of `at` ahead, >= 1
};

using StepKind = std::variant<SplitStep, TileStep, ReorderStep, FuseStep, AnnotateStep,
                              UnrollLimitStep, BindStep, ComputeStep, CacheReadStep,
                              CacheWriteStep, RfactorStep, StorageAlignStep, ReorderStorageStep,
                              PrefetchStep>;

struct Step {
  StepKind kind;
  SourceLoc loc;  ///< the step's first token
};

/// Name of the primitive as written ("split", "vectorize", "compute_at", ...).
std::string primitive_name(const Step &s);

struct Schedule {
  std::string kernel;
  std::vector<Step> steps;
  SourceLoc loc;
};

/// The text form above; `parse_schedule_text(to_string(s))` gives back `s`.
std::string to_string(const Step &s);
std::string to_string(const Schedule &s);

}  // namespace kcc
