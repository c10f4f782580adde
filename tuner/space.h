// tuner/space.h - the search space of one kernel: sketches generated from its stages, each
// with free decisions; a candidate (sketch + decision indices) is a typed Schedule, printed as
// ordinary schedule text only to be stored (the database keeps the point beside the text).
//
// Sketch rules (CPU, in the spirit of Ansor):
//   inline        elementwise intermediate stages are computed inline (a variant keeps them)
//   tile          a reduction with >= 2 spatial axes gets SSRSRS multi-level tiling: each
//                 spatial axis split into 4 levels, each reduction axis into 2, ordered
//                 S0 S1 R0 S2 R1 S3, the innermost spatial loop of the last axis vectorized
//   cache_write   (variant) the tiled stage accumulates its S2 S3 tile locally at the last S1 loop,
//                 or (a decision) its S3 register tile at the last S2 loop
//   cache_read    (variant) an input whose reads do not depend on the first tiled axis (the B
//                 panel of a GEMM) is packed into contiguous memory at the last R0 loop
//   fuse          (variant) an intermediate tiled reduction whose only consumer is elementwise is
//                 computed at the consumer's tile loop (compute_at), tiled R S R S inside it
//   rfactor       (variant) a reduction with a small spatial extent and a long last reduction axis
//                 (softmax's max/sum, a dot product): that axis split by whole vectors, the inner
//                 part rfactored into a new stage NAME_rf whose innermost loop is vectorized
//   default       the default schedule (passes/default_schedule.cpp), its choices the decisions:
//                 each tiled stage's register tile (one of its best eight), packing or not, its
//                 epilogue at the tile or not, outer loop order, innermost reduction unrolled,
//                 K-blocking (decision 31)
//   simple        other stages: innermost spatial axis split by the vector length and vectorized,
//                 outer loop parallel; an intermediate stage read by one simple stage may be
//                 computed at that stage's outer loop (a compute-location decision)
// Decisions: tile factors (divisors and non-divisors of the extent), parallel depth (how many
// outer tile loops are fused into the parallel loop), vector length, unroll limit, compute
// location. Inner vector tiles come from the Target (whole vectors of f32_lanes(); 4x on scalable
// SVE targets, whose f32_lanes() is a minimum); a tiling whose register tile needs more vector
// registers than the target has, or whose inner tile / panel overflows L1 / L2, is statically
// invalid (rejected before lowering).
//
// GPU sketch rules (NVPTX targets):
//   inline        elementwise intermediates computed inline (always)
//   gpu_tile      a reduction with >= 2 axes: block / thread / register tiles of two spatial groups
//                 (all axes but the last fused, and the last), reduction split in 2, bound to
//                 block.y/x and thread.y/x, accumulating in registers; unroll_limit decided
//   shared        (variant) every input of the tiled stage fetched into shared memory at the last
//                 reduction-outer loop by all threads (cooperative fetch)
//   gpu_simple    other stages: axes fused, split by a thread count, bound to block.x/thread.x
// GPU limits (threads, shared memory, registers) come from lowering's ScheduleErrors.
#pragma once
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "codegen/target.h"
#include "ir/kernel.h"
#include "ir/schedule.h"
#include "ir/stmt.h"
#include "tuner/search.h"

namespace kcc::tuner {

/// One free decision: its name (e.g. "C.i.tile1") and its candidate values.
struct Decision {
  std::string name;
  std::vector<int64_t> candidates;
  int group = -1;     ///< tile factors of one loop share a group: their product must be <= limit
  int64_t limit = 0;
};

/// Which rules a sketch applies (each sketch is one combination).
struct SketchRules {
  bool inline_elementwise = true;
  bool cache_write = true;
  bool cache_read = false;
  bool fuse_consumer = false;
  bool gpu = false;  ///< NVPTX sketch rules (cache_read then means shared-memory inputs)
  bool rfactor = false;  ///< CPU reductions with a small spatial extent: rfactor + vectorize
  /// The default schedule (passes/default_schedule.cpp) with its choices as the decisions: the
  /// other rules do not apply. Its point of all zeros is the default schedule itself.
  bool default_choices = false;
};

struct Sketch {
  std::string name;  ///< e.g. "inline+tile+cache_write"
  SketchRules rules;
  std::vector<Decision> decisions;
};

class KernelSpace : public SearchSpace {
 public:
  /// `k` must outlive the space.
  KernelSpace(const Kernel &k, const Target &t);

  const Kernel &kernel() const { return k_; }
  const Target &target() const { return t_; }
  const std::vector<Sketch> &sketches() const { return sketches_; }
  /// A hash of the sketches and their decisions: points of two spaces with one signature mean
  /// the same schedules.
  const std::string &signature() const { return signature_; }

  int num_sketches() const override { return static_cast<int>(sketches_.size()); }
  std::vector<int> dims(int sketch) const override;
  /// Decision constraints (tile products within extents), then the schedule is applied and
  /// lowered; schedule errors (ScheduleError, UserError) make the point invalid. Cached. An
  /// InternalError (a kcc bug) is not an invalid point: it propagates.
  bool statically_valid(const Point &p) override;
  /// Lowers the points not checked yet and extracts their features on threads() threads
  /// (the search's static checks are most of its time: every candidate of a generation is
  /// lowered); then they are cached as statically_valid would have cached them. An InternalError
  /// of any point propagates, as from statically_valid.
  void prepare(const std::vector<Point> &points) override;
  /// Threads prepare() uses (default 1). The tuner gives it its build threads: searching never
  /// overlaps measuring, so the cores are free.
  void set_threads(int n) { threads_ = std::max(1, n); }
  int threads() const { return threads_; }
  std::vector<std::vector<float>> features(const Point &p) override;
  int feature_count() const override;
  /// Uniform decisions, tile groups shrunk until their products fit their extents, drawn again
  /// (up to 256 times) until the sketch's decision-level rules hold.
  Point random_point_of(int sketch, std::mt19937_64 &rng) const override;
  /// Pairs of tile factors of one loop moved in opposite directions by `r` (a finer inner tile
  /// with a coarser outer one, or the reverse), keeping their product within the extent.
  std::vector<Point> coupled_neighbours(const Point &p, int r) const override;

  /// The point whose schedule is default_schedule(kernel, target) (CPU targets; nullopt on
  /// GPU ones): the tuner records its baseline there, so that the search starts from it.
  std::optional<Point> default_point() const;
  /// Whether `p` is a point of this space (a sketch, one index in range per decision).
  bool contains(const Point &p) const;
  /// The schedule of a point of this space, built by its sketch (typed steps, never parsed).
  Schedule schedule(const Point &p) const;
  /// to_string(schedule(p)): what the database and the registry store.
  std::string schedule_text(const Point &p) const;
  /// The lowered function of a statically valid point (null otherwise). The space keeps the
  /// last kKeepLowered of them and lowers an older point again when asked: the evolutionary
  /// search checks hundreds of thousands of points, and keeping every lowered function (up to
  /// megabytes each, unrolled) ran a 3,000-measurement tuning out of 24 GiB. Validity, errors
  /// and features stay for every point.
  std::shared_ptr<const LoweredFunc> lowered(const Point &p);
  static constexpr size_t kKeepLowered = 512;
  /// How many lowered functions the space holds now (at most kKeepLowered).
  size_t lowered_held() const { return held_.size(); }
  /// Why a point is statically invalid ("" when valid or not checked yet).
  std::string static_error(const Point &p) const;
  /// The measurement of a statically invalid point, answered without building: Outcome::Static,
  /// "static: " + static_error(p), and the kind of the ScheduleError behind it, if one was.
  Measurement static_measurement(const Point &p);

 private:
  struct Entry {
    bool valid = false;
    std::string error;
    std::optional<ScheduleErrorKind> kind;  ///< of the ScheduleError that made it invalid
    std::shared_ptr<const LoweredFunc> func;  ///< null when not held (see lowered())
    bool held = false;                        ///< func is set and in held_ at held_at
    std::list<Point>::iterator held_at;
    std::vector<std::vector<float>> features;
  };
  Entry &check(const Point &p);
  /// The answer of check() for a point not in the cache, computed without touching it (prepare
  /// runs it on several threads); with `features`, those of a valid point too.
  Entry evaluate(const Point &p, bool features) const;
  /// Stores a new entry (and holds its function).
  Entry &store(const Point &p, Entry e);
  /// Marks `e`'s function as the most recently used one; drops the least recent beyond the limit.
  void hold(const Point &p, Entry &e);

  const Kernel &k_;
  Target t_;
  std::vector<Sketch> sketches_;
  int default_sketch_ = -1;
  std::string signature_;
  std::map<Point, Entry> cache_;
  std::list<Point> held_;  ///< points whose lowered function is kept, least recently used first
  int threads_ = 1;
};

}  // namespace kcc::tuner
