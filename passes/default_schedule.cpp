// passes/default_schedule.cpp - the schedule used when no registry, record or hand schedule exists.
//
// Elementwise intermediates read only pointwise by elementwise stages (a fused epilogue's bias
// add before its activation), or only by small-window reductions (the padded input of a
// depthwise convolution or a pooling), are inlined into their consumer: one pass over the data
// instead of one per operation, and one parallel region fewer.
//
// Every other stage: vectorize the innermost spatial axis that is not of extent 1 (the axes
// after it have one point, so it is contiguous in the output: a convolution's width, or its
// channels in a channel-blocked layout or when the spatial size is 1x1) by the target's f32
// lanes (vector_tile), or whole when it is narrower than that (a 7-wide ResNet row is one
// partial vector: still every multiply-add of the stage is a vector one).
//
// A reduction keeps a register tile of accumulators over its whole reduction: the row axis
// before the vector axis times, where it pays, one more spatial axis (RegisterTile). Its size
// comes from the target: as many accumulators as the vector registers allow beside the operands
// of one step, and of the shapes that fit, the one that loads the fewest values per
// multiply-add. In a channel-blocked convolution that is 14 output pixels x 2 output-channel
// blocks on AVX-512 (28 accumulators; each step broadcasts 14 inputs and loads 2 weight
// vectors), 6 x 2 on AVX2. The spatial loops outside the tile are fused into one parallel loop.
#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "ir/visitor.h"
#include "passes/pipeline.h"

namespace kcc {

namespace {

LoopName loop(const std::string &stage, const std::string &l) { return LoopName{stage, l, {}}; }

void add(Schedule &s, StepKind k) { s.steps.push_back(Step{std::move(k), {}}); }

/// f32 elements per vectorized inner loop: one register's worth (4 on NEON, 16 on A64FX's
/// 512-bit SVE, 8/16 with AVX2/AVX-512). On a vector-length-agnostic target the loop becomes a
/// scalable loop stepping by vscale x 4: 16 elements fill one register at 512 bits and take
/// 2 or 4 predicated steps at 256 or 128 bits.
int vector_tile(const Target &t) {
  const int lanes = std::max(1, t.f32_lanes());
  return t.scalable_vectors ? 4 * lanes : lanes;
}

/// True when `a`, read in stage `reader`, reads at the reader's own point: index d is the
/// reader's axis d.
bool pointwise_read(const Access &a, const Stage &reader) {
  if (a.indices.size() != reader.axes.size()) return false;
  for (size_t d = 0; d < a.indices.size(); ++d)
    if (a.indices[d].get() != reader.axes[d].var.get()) return false;
  return true;
}

/// True when stage `si` is elementwise, not an output, read by some later stage, and every read
/// is pointwise (index d is the reader's axis d) from an elementwise stage: inlining it then
/// computes each value once, where it is used.
///
/// Also inlined: a stage read only by reductions over a small window (at most
/// kSmallWindow points per output: a depthwise convolution's or a pooling's padded input).
/// Those consumers do a few operations per value loaded, so a pass of their own over the
/// padded copy costs more than recomputing its select at each of the window's reads
/// (MobileNet-v2's 112x112 depthwise 3x3: 0.30 -> 0.15 ms on one Xeon core).
constexpr int64_t kSmallWindow = 64;

bool inline_by_default(const Kernel &k, size_t si) {
  const Stage &st = k.stages[si];
  if (st.reduce != ReduceOp::None || k.is_output(st)) return false;
  bool read = false, pointwise = true, small_windows = true;
  for (size_t ci = si + 1; ci < k.stages.size(); ++ci) {
    const Stage &c = k.stages[ci];
    int64_t window = 1;
    for (auto &a : c.raxes) window *= a.extent;
    for_each_expr(c.body, [&](const Expr &e) {
      const Access *a = e.as<Access>();
      if (!a || a->tensor.get() != st.output.get()) return;
      read = true;
      if (c.reduce == ReduceOp::None || window > kSmallWindow) small_windows = false;
      if (c.reduce != ReduceOp::None || !pointwise_read(*a, c)) pointwise = false;
    });
  }
  return read && (pointwise || small_windows);
}

/// The tensor reads of the stage's body.
std::vector<const Access *> accesses(const Stage &st) {
  std::vector<const Access *> out;
  for_each_expr(st.body, [&](const Expr &e) {
    if (const Access *a = e.as<Access>()) out.push_back(a);
  });
  return out;
}

/// The read of the stage's largest operand (by elements: a matmul's or convolution's weights,
/// mostly; the first of equals), or null.
const Access *largest_access(const Stage &st) {
  const Access *largest = nullptr;
  for (const Access *a : accesses(st))
    if (!largest || a->tensor->num_elements() > largest->tensor->num_elements()) largest = a;
  return largest;
}

/// Which spatial axes of `st` an access's indices use.
std::vector<bool> access_axes(const Access &a, const Stage &st) {
  std::vector<bool> uses(st.axes.size(), false);
  for (size_t d = 0; d < st.axes.size(); ++d)
    for (auto &i : a.indices) uses[d] = uses[d] || uses_var(i, st.axes[d].var);
  return uses;
}

/// For each tensor read in the stage's body, which of the stage's spatial axes its index uses.
std::vector<std::vector<bool>> operand_axes(const Stage &st) {
  std::vector<std::vector<bool>> out;
  for (const Access *a : accesses(st)) out.push_back(access_axes(*a, st));
  return out;
}

/// Which spatial axes the stage's largest operand depends on.
std::vector<bool> largest_operand_axes(const Stage &st) {
  const Access *a = largest_access(st);
  return a ? access_axes(*a, st) : std::vector<bool>(st.axes.size(), false);
}

/// An argument the tile reads better from a packed copy (cache_read at the loop outside the
/// tiles that reuse it):
/// - one read across its rows along the vector axis (`transpose_dim`: the dimension indexed by
///   the vector axis, not the innermost: every vector load would be a gather; an NCHW-output
///   convolution of channel-blocked input, X[n, c, y, x, ci] with x vectorized), copied with
///   that dimension innermost;
/// - the stage's largest operand, when its innermost index is the vector axis and its rows are
///   8 or more times longer than the tile reads of them while the tile walks down them (a
///   matmul's B[k, n] read 48 columns at a time from rows of 768 or 3072: each step of the
///   reduction jumps 3 or 12 KiB, and the panel spans 8-64x its size in pages); only worth it
///   when several tiles reuse the panel (`needs_reuse`).
struct Pack {
  const Access *access = nullptr;
  int transpose_dim = -1;
  bool needs_reuse = false;
};

Pack choose_pack(const Stage &st, size_t vd, int64_t row_points) {
  const Var &v = st.axes[vd].var;
  for (const Access *a : accesses(st)) {
    if (a->tensor->role != TensorRole::Input || a->indices.size() < 2) continue;
    int dims = 0, dim = -1;
    for (size_t d = 0; d < a->indices.size(); ++d)
      if (uses_var(a->indices[d], v)) ++dims, dim = int(d);
    if (dims == 1 && dim + 1 < int(a->indices.size())) return Pack{a, dim, false};
  }
  // Of equally large operands (a square matmul's A and B), the one read along the vector axis.
  const Access *largest = largest_access(st);
  for (const Access *a : accesses(st))
    if (largest && a->tensor->num_elements() == largest->tensor->num_elements() && !a->indices.empty() &&
        a->indices.back().get() == v.get()) {
      largest = a;
      break;
    }
  if (!largest || largest->tensor->role != TensorRole::Input) return {};
  if (largest->indices.back().get() != v.get() || largest->tensor->shape.back() < 8 * row_points) return {};
  bool walks_rows = false;
  for (auto &a : st.raxes)
    for (auto &i : largest->indices) walks_rows = walks_rows || uses_var(i, a.var);
  return walks_rows ? Pack{largest, -1, true} : Pack{};
}

/// The register tile of a reduction: `rows` points of axis `row` (unrolled) times `cols` of
/// axis `col` (unrolled; `col` may be the vector axis itself, then `cols` vectors of it) times
/// one vector, `rows * cols` accumulators kept in registers over the reduction loops.
struct RegisterTile {
  int row = -1, col = -1;  ///< spatial axis indices; -1 = none
  int64_t rows = 1, cols = 1;
};

/// The register tiles of a stage, best first: the row axis (the one before the vector axis)
/// and, as the second axis, any other spatial axis, or whole vectors of the vector axis itself,
/// where some operand does not depend on it (its load is reused across the tile).
///
/// Each candidate is costed in cycles per multiply-add relative to the pipes' peak: at least 1;
/// more when the step's loads outnumber its multiply-adds (one load port per pipe); more when
/// fewer than fma_units x fma_latency accumulators leave the pipes waiting on the latency. A
/// row tile that does not divide the row costs its remainder tile too. The accumulators plus
/// one register per column's vector (and one for a broadcast, except with AVX-512) must fit
/// the vector registers. Of the cheapest tiles: one without a remainder, then the most
/// accumulators, then the fewest columns (one long row of outputs). The first is the
/// default's; the next ones are what the tuner may choose instead (`STAGE.tile`).
/// (Measured on a ResNet-50 3x3 convolution in NCHW16c, one Xeon core: 14 x 2 runs at 158
/// GFLOP/s, 7 x 4 at 150, 14 x 1 at 135, 4 x 1 - the previous default - at 86.)
std::vector<RegisterTile> rank_tiles(const Stage &st, size_t vd, int lanes, const Target &t) {
  const auto ops = operand_axes(st);
  const size_t rank = st.axes.size();
  const int registers = std::max(8, t.vector_registers());
  const double in_flight = std::max(1, t.fma_units * t.fma_latency);
  // AVX-512 multiply-adds broadcast a scalar operand straight from memory ({1to16}); elsewhere
  // a broadcast takes a register.
  const int broadcast_registers = t.isa.count("avx512f") ? 0 : 1;
  auto reused = [&](size_t d) {
    for (auto &u : ops)
      if (!u[d]) return true;
    return false;
  };
  // Cycles per multiply-add (relative) of a rows x cols tile of axes r, c.
  auto step_cost = [&](int r, int64_t rows, int c, int64_t cols) {
    double loads = 0;
    for (auto &u : ops) {
      double m = 1;
      if (r >= 0 && u[r]) m *= double(rows);
      if (c >= 0 && u[c]) m *= double(cols);
      loads += m;
    }
    const double acc = double(rows * cols);
    return std::max({1.0, loads / acc, in_flight / acc});
  };
  const int64_t vector_points = st.axes[vd].extent;
  std::vector<int> row_axes{-1}, col_axes{-1};
  // The row axis is a candidate even when every operand depends on it (a pooling window, a
  // depthwise convolution): its accumulators still hide the multiply-add latency.
  if (vd >= 1 && st.axes[vd - 1].extent >= 2) row_axes.push_back(int(vd - 1));
  for (size_t d = 0; d < rank; ++d) {
    if (d + 1 == vd || st.axes[d].extent < 2 || !reused(d)) continue;
    if (d == vd && vector_points < 2 * lanes) continue;
    col_axes.push_back(int(d));
  }
  struct Ranked {
    RegisterTile tile;
    double cost;
    bool divides;
    int64_t acc;
  };
  std::vector<Ranked> all;
  for (int r : row_axes)
    for (int c : col_axes) {
      // Columns: whole vectors of the vector axis, or points of another axis; a divisor of the
      // extent (a remainder column would drop most of the tile's reuse).
      const int64_t col_extent = c < 0 ? 1 : (c == int(vd) ? vector_points / lanes : st.axes[c].extent);
      for (int64_t cols = 1; cols <= std::min<int64_t>(8, col_extent); ++cols) {
        if (col_extent % cols != 0) continue;
        if (c == int(vd) && cols > 1 && vector_points % (cols * lanes) != 0) continue;
        if (c >= 0 && cols == 1) continue;  // the same tile as no column axis
        const int64_t room = registers - cols - broadcast_registers;
        if (room < cols) break;
        const int64_t row_extent = r < 0 ? 1 : st.axes[r].extent;
        for (int64_t rows = 1; rows <= std::min(row_extent, room / cols); ++rows) {
          if (r >= 0 && rows == 1) continue;  // the same tile as no row axis
          const int64_t q = row_extent / rows, rem = row_extent % rows;
          double cost = double(q * rows) * step_cost(r, rows, c, cols);
          if (rem > 0) cost += double(rem) * step_cost(r, rem, c, cols);
          cost /= double(row_extent);
          all.push_back({RegisterTile{r, c, rows, cols}, cost, rem == 0, rows * cols});
        }
      }
    }
  // Cheapest first; of equal cost: no remainder, then the most accumulators, then the fewest
  // columns (one long row of outputs).
  std::stable_sort(all.begin(), all.end(), [](const Ranked &x, const Ranked &y) {
    if (x.cost < y.cost * (1 - 1e-6)) return true;
    if (y.cost < x.cost * (1 - 1e-6)) return false;
    if (x.divides != y.divides) return x.divides;
    if (x.acc != y.acc) return x.acc > y.acc;
    return x.tile.cols < y.tile.cols;
  });
  std::vector<RegisterTile> out;
  for (auto &r : all) out.push_back(r.tile);
  if (out.empty()) out.push_back(RegisterTile{});
  return out;
}

/// The innermost spatial axis with more than one point (the vectorized one), or rank when none.
size_t vector_axis(const Stage &st) {
  size_t vd = st.axes.size();
  while (vd > 0 && st.axes[vd - 1].extent == 1) --vd;
  return vd == 0 ? st.axes.size() : vd - 1;
}

/// True when outer loop `o` (an axis or its "_o" part after the tile's split) iterates a
/// spatial axis of `st` that `axes` marks (the axes an operand depends on).
bool loop_of(const std::string &o, const Stage &st, const std::vector<bool> &axes) {
  for (size_t d = 0; d < st.axes.size(); ++d)
    if (axes[d] && (o == st.axes[d].var->name || o == st.axes[d].var->name + "_o")) return true;
  return false;
}

/// A stage's loops after the tile's splits: the spatial loops outside the tile (outer to
/// inner), the tile's loops (outer to inner; unrolled), and the vector loop.
struct TiledLoops {
  std::vector<std::string> outer, tile;
  std::string vec;
  std::map<std::string, int64_t> extent;  ///< iterations of each outer loop
};

/// Splits stage `st` (named `n`) for `tile` around vector axis `vd` and returns its loops.
/// With `whole_tile`, the tile axes are not split: the stage is computed inside a consumer's
/// tile loop, where they already have the tile's extent (then `outer` holds the axes that have
/// one point there). `big_uses` (per axis: the largest operand depends on it) orders the outer
/// loops; empty = axis order.
TiledLoops split_for_tile(Schedule &s, const Stage &st, const std::string &n, size_t vd,
                          const RegisterTile &tile, int lanes, bool whole_tile,
                          const std::vector<bool> &big_uses = {}) {
  TiledLoops l;
  std::vector<std::string> order;  // spatial loops in axis order ("" = moved into the tile)
  for (auto &a : st.axes) {
    order.push_back(a.var->name);
    l.extent[a.var->name] = a.extent;
  }
  const Axis &va = st.axes[vd];
  const std::string &v = va.var->name;
  const int64_t vec_cols = tile.col == int(vd) ? tile.cols : 1;
  const int64_t vec_points = whole_tile ? std::min(va.extent, vec_cols * lanes) : va.extent;
  std::vector<std::string> vec_tile;
  if (vec_points > lanes) {
    if (vec_cols > 1 && !whole_tile) {
      add(s, SplitStep{loop(n, v), {vec_cols, lanes}, {v + "_o", v + "_t", v + "_v"}});
      vec_tile.push_back(v + "_t");
    } else if (vec_cols > 1) {
      add(s, SplitStep{loop(n, v), {lanes}, {v + "_t", v + "_v"}});
      vec_tile.push_back(v + "_t");
    } else {
      add(s, SplitStep{loop(n, v), {lanes}, {v + "_o", v + "_v"}});
    }
    l.extent[v + "_o"] = (va.extent + vec_cols * lanes - 1) / (vec_cols * lanes);
    order[vd] = vec_cols > 1 && whole_tile ? "" : v + "_o";
    l.vec = v + "_v";
  } else {
    order[vd].clear();  // the whole axis is the vector; it moves innermost
    l.vec = v;
  }
  // The other tile axes, the larger factor outside, so that the operand reused across the
  // inner one is loaded once per outer point.
  std::vector<std::pair<int64_t, std::string>> inner;  // (factor, loop)
  for (auto [d, f] : {std::pair{tile.row, tile.rows}, std::pair{tile.col, tile.cols}}) {
    if (d < 0 || d == int(vd)) continue;
    const std::string &a = st.axes[d].var->name;
    if (f < st.axes[d].extent && !whole_tile) {
      add(s, SplitStep{loop(n, a), {f}, {a + "_o", a + "_i"}});
      l.extent[a + "_o"] = (st.axes[d].extent + f - 1) / f;
      order[d] = a + "_o";
      inner.push_back({f, a + "_i"});
    } else {
      order[d].clear();
      inner.push_back({f, a});
    }
  }
  std::stable_sort(inner.begin(), inner.end(), [](auto &x, auto &y) { return x.first > y.first; });
  for (auto &[f, name] : inner) l.tile.push_back(name);
  for (auto &name : vec_tile) l.tile.push_back(name);
  // The outer loops: those the largest operand depends on outside, the others inside, so
  // that consecutive tiles (and iterations of the parallel loop) reuse its panel from cache:
  // a matmul's column panel of B across its row tiles, a convolution's weights across rows.
  std::vector<size_t> axes;
  for (size_t d = 0; d < order.size(); ++d)
    if (!order[d].empty()) axes.push_back(d);
  if (!big_uses.empty()) std::stable_partition(axes.begin(), axes.end(), [&](size_t d) { return big_uses[d]; });
  for (size_t d : axes) l.outer.push_back(order[d]);
  return l;
}

/// The spatial loops outside the tile fused into one, "par" (batch x channel blocks x rows x
/// row tiles: enough iterations for every core even when each extent is small): the loop the
/// tile is computed at, and the parallel one. Returns its name, or "" when there is none.
std::string fuse_outer(Schedule &s, const std::string &n, TiledLoops &l) {
  if (l.outer.empty()) return "";
  if (l.outer.size() == 1) return l.outer[0];
  FuseStep f;
  f.stage = n;
  int64_t iterations = 1;
  for (auto &o : l.outer) {
    f.loops.push_back(loop(n, o));
    iterations *= l.extent.at(o);
  }
  f.result = "par";
  add(s, f);
  l.extent["par"] = iterations;
  return "par";
}

void parallel_if_more_than_one(Schedule &s, const std::string &n, const TiledLoops &l, const std::string &at) {
  if (!at.empty() && l.extent.at(at) > 1) add(s, AnnotateStep{LoopAnnotation::Parallel, loop(n, at)});
}

void add_reorder(Schedule &s, const std::string &n, const std::vector<std::string> &outer,
                 const std::vector<Axis> &raxes, const TiledLoops &l) {
  ReorderStep r;
  r.stage = n;
  for (auto &o : outer) r.order.push_back(loop(n, o));
  for (auto &a : raxes) r.order.push_back(loop(n, a.var->name));
  for (auto &t : l.tile) r.order.push_back(loop(n, t));
  r.order.push_back(loop(n, l.vec));
  add(s, r);
}

/// A stage without a register tile: vectorize, parallelize the outermost loop with more than
/// one iteration.
void schedule_plain(Schedule &s, const Stage &st, const Target &t) {
  const std::string n = st.name();
  const size_t vd = vector_axis(st);
  const int lanes = vector_tile(t);
  if (vd == st.axes.size() || lanes <= 1) {
    if (!st.axes.empty() && st.axes[0].extent > 1) add(s, AnnotateStep{LoopAnnotation::Parallel, loop(n, st.axes[0].var->name)});
    return;
  }
  TiledLoops l = split_for_tile(s, st, n, vd, RegisterTile{}, lanes, false);
  if (st.reduce != ReduceOp::None || vd + 1 < st.axes.size()) add_reorder(s, n, l.outer, st.raxes, l);
  add(s, AnnotateStep{LoopAnnotation::Vectorize, loop(n, l.vec)});
  for (auto &o : l.outer)
    if (l.extent.at(o) > 1) {
      add(s, AnnotateStep{LoopAnnotation::Parallel, loop(n, o)});
      break;
    }
}

/// True when the tile divides every tiled axis (no remainder tiles: a stage computed at the
/// consumer's tile then covers exactly the tile).
bool tile_divides(const Stage &st, size_t vd, const RegisterTile &tile, int lanes) {
  const int64_t vec_cols = tile.col == int(vd) ? tile.cols : 1;
  if (st.axes[vd].extent > lanes && st.axes[vd].extent % (vec_cols * lanes) != 0) return false;
  if (tile.row >= 0 && st.axes[tile.row].extent % tile.rows != 0) return false;
  if (tile.col >= 0 && tile.col != int(vd) && st.axes[tile.col].extent % tile.cols != 0) return false;
  return true;
}

/// True when `c`'s body reads a tensor of `from`; `*pointwise` is cleared when a read is not
/// at `c`'s own point.
bool reads_from(const Stage &c, const std::vector<const Stage *> &from, bool *pointwise) {
  bool reads = false;
  for (const Access *a : accesses(c)) {
    bool hit = false;
    for (const Stage *f : from) hit = hit || a->tensor.get() == f->output.get();
    if (!hit) continue;
    reads = true;
    if (!pointwise_read(*a, c)) *pointwise = false;
  }
  return reads;
}

/// The one stage that reads `st`, directly or through inlined stages, when it is elementwise
/// over the same iteration space and every read on the way is pointwise (a fused epilogue:
/// bias, residual, activation), else null.
const Stage *pointwise_consumer(const Kernel &k, const Stage &st, const std::vector<bool> &inlined) {
  std::vector<const Stage *> from{&st};  // st and the inlined stages that read it
  const Stage *found = nullptr;
  for (size_t ci = 0; ci < k.stages.size(); ++ci) {
    const Stage &c = k.stages[ci];
    if (&c == &st) continue;
    bool pointwise = true;
    if (!reads_from(c, from, &pointwise)) continue;
    if (!pointwise || c.reduce != ReduceOp::None || c.axes.size() != st.axes.size()) return nullptr;
    for (size_t d = 0; d < c.axes.size(); ++d)
      if (c.axes[d].extent != st.axes[d].extent) return nullptr;
    if (inlined[ci]) {
      from.push_back(&c);
      continue;
    }
    if (found) return nullptr;
    found = &c;
  }
  return found;
}

/// What the tuner may change in a reduction's schedule (DefaultChoices; the heuristic's own
/// choice is alternative 0 of each). Asked in one fixed order, whatever the answers, so that a
/// point of the tuner's space always means the same choices.
struct ReductionChoices {
  RegisterTile tile;                ///< STAGE.tile: one of the best kMaxTiles register tiles
  bool pack = true;                 ///< STAGE.pack: 1 = never a packed copy
  bool epilogue_at_tile = true;     ///< STAGE.epilogue: 1 = the reduction stored, then the epilogue
  bool largest_outside = true;      ///< STAGE.order: 1 = outer loops in axis order
  /// STAGE.unroll: whether the innermost reduction loop is unrolled too. One of at most 16
  /// points: whole, alternative 1 (the heuristic does not). A longer one that 4 divides: by 4
  /// (split, the inner 4 unrolled), the heuristic's choice, alternative 1 = rolled. LLVM leaves
  /// a long loop around a large register tile rolled: SGEMM 1024^3 with the 8 x 2-vector tile,
  /// 126 -> 156-168 GFLOP/s on one Xeon core; BERT's layer untuned, against ONNX Runtime at one
  /// thread: 1.04x before, 0.98x after (one run each).
  bool unroll_reduction = false;
  /// STAGE.kblock: 0, or the block of the outermost reduction axis (1, 2, 4, 8 points) iterated
  /// outside the tiles of a row of tiles computed together (see schedule_reduction).
  int64_t kblock = 0;
  bool kblock_by_default = false;  ///< the heuristic's block (applied only where enough tiles reuse it)
  /// STAGE.prefetch (asked only when the stage reads a model weight larger than half of L2): 1 =
  /// each such weight prefetched one iteration ahead of its outermost reduction loop (the
  /// K-block loop when blocked). Not the heuristic's choice: on ResNet-50 it took 4 ms off the
  /// kernels replayed with weights from memory but added 1-2.5 ms to them hot, and the model,
  /// whose weights this machine's L3 holds, did not move; the tuner, timing weights cold,
  /// decides per kernel.
  bool prefetch = false;
};

/// The model weights (Kernel::weight_inputs) `st` reads that are larger than half of L2: what
/// STAGE.prefetch prefetches. A smaller one mostly stays in the caches between inferences
/// (ResNet-50's 56x56 layers lost 0-13% to the prefetches' instructions and won nothing).
std::vector<Tensor> prefetched_weights(const Kernel &k, const Stage &st, const Target &t) {
  std::vector<Tensor> out;
  for (int i : k.weight_inputs) {
    const Tensor &w = k.inputs[size_t(i)];
    const std::vector<const Access *> reads = accesses(st);
    const bool read = std::any_of(reads.begin(), reads.end(), [&](const Access *a) { return a->tensor->name == w->name; });
    if (read && double(w->num_elements()) * 4 > double(t.l2_bytes) / 2) out.push_back(w);
  }
  return out;
}
/// How many of the ranked register tiles the tuner may choose from (STAGE.tile). 10: SGEMM
/// 1024^3's best measured tile, 6 x 4 vectors (24 accumulators; 1024 leaves 4 remainder rows),
/// ranks 9th behind the dividing 16-accumulator tiles and the larger 2-vector ones, and runs at
/// 174-190 GFLOP/s on one Xeon core against 156-168 for the default 8 x 2 (oneDNN: 175-177).
constexpr int kMaxTiles = 10;

ReductionChoices choose_for(const Stage &st, size_t vd, int lanes, const Target &t, const DefaultChoices &choose,
                            bool reads_weights) {
  const std::vector<RegisterTile> tiles = rank_tiles(st, vd, lanes, t);
  auto ask = [&](const char *what, int alternatives) {
    if (!choose || alternatives <= 1) return 0;
    const int i = choose(st.name() + "." + what, alternatives);
    return i >= 0 && i < alternatives ? i : 0;
  };
  ReductionChoices c;
  c.tile = tiles[size_t(ask("tile", std::min<int>(kMaxTiles, int(tiles.size()))))];
  c.pack = ask("pack", 2) == 0;
  c.epilogue_at_tile = ask("epilogue", 2) == 0;
  c.largest_outside = ask("order", 2) == 0;
  const int64_t inner = st.raxes.empty() ? 1 : st.raxes.back().extent;
  const bool by4 = inner > 16 && inner % 4 == 0;  // the heuristic's: unrolled by 4
  c.unroll_reduction = (ask("unroll", inner > 1 && (inner <= 16 || by4) ? 2 : 1) == 1) != by4;
  std::vector<int64_t> blocks{0};
  for (int64_t b = 1; b <= 8 && !st.raxes.empty() && b < st.raxes.front().extent; b *= 2)
    if (st.raxes.front().extent % b == 0) blocks.push_back(b);
  // The heuristic blocks when the largest operand cannot stay in L2 from one call to the next
  // (a deep layer's weights: in a model they come from memory, once per inference): each block
  // of it is then read from memory once and used by a whole row of tiles from L1, instead of
  // streamed by the first tile while the others wait for it. The block: as many points of the
  // outermost reduction axis as keep the part of the operand one tile reads within half of L1.
  if (const Access *big = largest_access(st); big && blocks.size() > 1) {
    const double bytes = double(big->tensor->num_elements()) * 4;
    double per_point = bytes / double(st.raxes.front().extent);
    const std::vector<bool> uses = access_axes(*big, st);
    if (c.tile.col >= 0 && c.tile.col != int(vd) && uses[size_t(c.tile.col)])
      per_point *= double(c.tile.cols) / double(st.axes[size_t(c.tile.col)].extent);
    // (weights-like: the rows of tiles do not change which part of it they read; a large
    // input's block would serve one tile of each row, VGG's 56x56 layers: 287 -> 434 ms)
    const bool reused_across_rows = c.tile.row < 0 || !uses[size_t(c.tile.row)];
    if (bytes > double(t.l2_bytes) && reused_across_rows) {
      size_t pick = 1;
      for (size_t i = 2; i < blocks.size(); ++i)
        if (double(blocks[i]) * per_point <= double(t.l1_bytes) / 2) pick = i;
      std::rotate(blocks.begin(), blocks.begin() + long(pick), blocks.begin() + long(pick) + 1);
    }
  }
  const int kb = ask("kblock", int(blocks.size()));
  c.kblock = blocks[size_t(kb)];
  c.kblock_by_default = kb == 0 && c.kblock > 0;
  c.prefetch = reads_weights && ask("prefetch", 2) == 1;
  return c;
}

/// K-blocking (STAGE.kblock): how many of the innermost loops outside the tile (`l.outer`)
/// stay inside the block loop: those along which the largest operand is reused (a
/// convolution's rows: its weights do not depend on them), as long as the region they cover
/// keeps its partial sums within L1. The reduction then walks a block of its outermost axis
/// over the whole region before the next block, and the block of the largest operand the
/// region needs (kblock input-channel blocks of the weights) is read from L1 by every tile of
/// it instead of streamed from L2 once per tile. 0: no blocking.
size_t kblock_inside(const Stage &st, const TiledLoops &l, const ReductionChoices &ch, int lanes, const Target &t) {
  if (ch.kblock <= 0) return 0;
  const std::vector<bool> big = largest_operand_axes(st);
  const RegisterTile &tile = ch.tile;
  size_t inside = 0;
  int64_t region = tile.rows * tile.cols * lanes;
  for (size_t i = l.outer.size(); i-- > 1;) {
    region *= l.extent.at(l.outer[i]);
    if (loop_of(l.outer[i], st, big) || region * 4 > t.l1_bytes) break;
    ++inside;
  }
  // The heuristic's block only where a block of the operand serves 7 or more tiles (a 7x7
  // layer's rows, a 14x14 one's): with 2-4 (a row of a 56-wide VGG layer) reloading the
  // partial sums costs more than the block saves (VGG-16 287 -> 434 ms).
  int64_t tiles = 1;
  for (size_t i = l.outer.size() - inside; i < l.outer.size(); ++i) tiles *= l.extent.at(l.outer[i]);
  return ch.kblock_by_default && tiles < 7 ? 0 : inside;
}

/// The reduction's own loop order when K-blocked: `outer` (the loops outside the block loop),
/// the block loop r0_o, `inside`, the rest of the block r0_i, the other reduction loops, the tile.
void add_kblock_reorder(Schedule &s, const std::string &n, const Stage &st, const std::vector<std::string> &outer,
                        const std::vector<std::string> &inside, const TiledLoops &l) {
  const std::string r0 = st.raxes.front().var->name;
  ReorderStep r;
  r.stage = n;
  for (auto &o : outer) r.order.push_back(loop(n, o));
  r.order.push_back(loop(n, r0 + "_o"));
  for (auto &o : inside) r.order.push_back(loop(n, o));
  r.order.push_back(loop(n, r0 + "_i"));
  for (size_t a = 1; a < st.raxes.size(); ++a) r.order.push_back(loop(n, st.raxes[a].var->name));
  for (auto &tl : l.tile) r.order.push_back(loop(n, tl));
  r.order.push_back(loop(n, l.vec));
  add(s, r);
}

/// A reduction with a vector axis: its register tile, and where it has an elementwise
/// epilogue, the epilogue's loops tiled the same way with the reduction computed inside its
/// tile loop (the accumulators are finished, biased and activated while still in registers,
/// and the reduction's result is never written to memory); otherwise the accumulators are a
/// cache_write tile. Returns the consumer it scheduled too, or null.
const Stage *schedule_reduction(Schedule &s, const Kernel &k, const Stage &st, const Target &t,
                                const std::vector<bool> &inlined, const DefaultChoices &choose) {
  const std::string n = st.name();
  const size_t vd = vector_axis(st);
  const int lanes = vector_tile(t);
  const std::vector<Tensor> weights = prefetched_weights(k, st, t);
  const ReductionChoices ch = choose_for(st, vd, lanes, t, choose, !weights.empty());
  // Each weight one iteration of `at` (the outermost reduction loop) ahead, except `skip` (packed:
  // the tiles read the copy).
  auto prefetch_weights = [&](const std::string &at, const std::string &skip) {
    if (!ch.prefetch || at.empty()) return;
    for (const Tensor &w : weights)
      if (w->name != skip) add(s, PrefetchStep{w->name, loop(n, at), 1});
  };
  const std::string outermost_reduction = st.raxes.empty() ? "" : st.raxes.front().var->name;
  const RegisterTile &tile = ch.tile;
  if (tile.row < 0 && tile.col < 0) {
    schedule_plain(s, st, t);
    return nullptr;
  }
  const std::vector<bool> order_by = ch.largest_outside ? largest_operand_axes(st) : std::vector<bool>{};
  std::string innermost_reduction = st.raxes.empty() ? "" : st.raxes.back().var->name;
  int64_t innermost_extent = st.raxes.empty() ? 1 : st.raxes.back().extent;
  auto unroll_reduction = [&]() {
    if (!ch.unroll_reduction) return;
    std::string r = innermost_reduction;
    if (innermost_extent > 16 && innermost_extent % 4 == 0) {
      add(s, SplitStep{loop(n, r), {4}, {r + "_k", r + "_u"}});
      r += "_u";
    }
    add(s, AnnotateStep{LoopAnnotation::Unroll, loop(n, r)});
  };
  const int64_t vec_cols = tile.col == int(vd) ? tile.cols : 1;
  if (const Pack pack = choose_pack(st, vd, vec_cols * lanes); pack.access && ch.pack) {
    // Packed: the loops the packed operand depends on outermost (fused: the parallel loop),
    // the copy made there, once for all the tiles that reuse it inside.
    const std::vector<bool> uses = access_axes(*pack.access, st);
    const size_t before = s.steps.size();
    TiledLoops l = split_for_tile(s, st, n, vd, tile, lanes, false, uses);
    size_t leading = 0;
    for (auto &o : l.outer) {
      if (!loop_of(o, st, uses)) break;
      ++leading;
    }
    // How many tiles read each packed copy: the iterations of the loops inside the copy's
    // loop, times the tile's points along axes the operand does not depend on.
    int64_t reuse = 1;
    for (size_t i = leading; i < l.outer.size(); ++i) reuse *= l.extent.at(l.outer[i]);
    if (tile.row >= 0 && !uses[tile.row]) reuse *= tile.rows;
    if (tile.col >= 0 && !uses[tile.col]) reuse *= tile.cols;
    // A copy read once costs as much as what it saves (a batch-1 dense layer's weights).
    if (leading >= 1 && reuse > 1 && (leading < l.outer.size() || !pack.needs_reuse)) {
      add_reorder(s, n, l.outer, st.raxes, l);
      std::string at = l.outer[leading - 1];
      int64_t iterations = 1;
      for (size_t i = 0; i < leading; ++i) iterations *= l.extent.at(l.outer[i]);
      if (leading > 1) {
        FuseStep f;
        f.stage = n;
        for (size_t i = 0; i < leading; ++i) f.loops.push_back(loop(n, l.outer[i]));
        f.result = at = "par";
        add(s, f);
      }
      add(s, CacheWriteStep{n, CacheScope::Local, loop(n, leading == l.outer.size() ? at : l.outer.back())});
      const std::string packed = pack.access->tensor->name + "_pack";
      add(s, CacheReadStep{pack.access->tensor->name, CacheScope::Local, loop(n, at), packed});
      if (pack.transpose_dim >= 0) {
        ReorderStorageStep r;
        r.stage = packed;
        for (size_t d = 0; d < pack.access->indices.size(); ++d)
          if (int(d) != pack.transpose_dim) r.axes.push_back(LoopName{"", fmt::format("ax{}", d), {}});
        r.axes.push_back(LoopName{"", fmt::format("ax{}", pack.transpose_dim), {}});
        add(s, r);
        for (Step &step : transposed_pack_steps(packed, pack.access->indices.size(), size_t(pack.transpose_dim), t))
          s.steps.push_back(std::move(step));
      }
      for (auto &u : l.tile) add(s, AnnotateStep{LoopAnnotation::Unroll, loop(n, u)});
      unroll_reduction();
      add(s, AnnotateStep{LoopAnnotation::Vectorize, loop(n, l.vec)});
      if (iterations > 1) add(s, AnnotateStep{LoopAnnotation::Parallel, loop(n, at)});
      prefetch_weights(outermost_reduction, pack.access->tensor->name);
      return nullptr;
    }
    s.steps.resize(before);  // nothing reuses the panel: no pack
  }
  const Stage *c = k.is_output(st) || !ch.epilogue_at_tile ? nullptr : pointwise_consumer(k, st, inlined);
  if (c && tile_divides(st, vd, tile, lanes)) {
    const size_t before = s.steps.size();
    const std::string cn = c->name();
    TiledLoops cl = split_for_tile(s, *c, cn, vd, tile, lanes, false, order_by);
    if (!cl.outer.empty()) {
      add_reorder(s, cn, cl.outer, {}, cl);
      add(s, AnnotateStep{LoopAnnotation::Vectorize, loop(cn, cl.vec)});
      // K-blocking (kblock_inside): the loops inside the block loop stay inside the loop the
      // reduction is computed at, their partial sums in its local tile between blocks.
      const size_t inside = kblock_inside(st, cl, ch, lanes, t);
      TiledLoops at_loops = cl;
      at_loops.outer.resize(cl.outer.size() - inside);
      const std::string at = fuse_outer(s, cn, at_loops);
      add(s, ComputeStep{ComputeLoc::At, n, loop(cn, at)});
      TiledLoops rl = split_for_tile(s, st, n, vd, tile, lanes, inside == 0);
      if (inside == 0) {
        add_reorder(s, n, rl.outer, st.raxes, rl);
      } else {
        const std::string r0 = st.raxes.front().var->name;
        add(s, SplitStep{loop(n, r0), {ch.kblock}, {r0 + "_o", r0 + "_i"}});
        if (st.raxes.size() == 1) innermost_reduction = r0 + "_i", innermost_extent = ch.kblock;
        add_kblock_reorder(s, n, st, {}, rl.outer, rl);
      }
      for (auto &l : rl.tile) add(s, AnnotateStep{LoopAnnotation::Unroll, loop(n, l)});
      unroll_reduction();
      add(s, AnnotateStep{LoopAnnotation::Vectorize, loop(n, rl.vec)});
      parallel_if_more_than_one(s, cn, at_loops, at);
      prefetch_weights(inside == 0 ? outermost_reduction : outermost_reduction + "_o", "");
      return c;
    }
    s.steps.resize(before);  // the tile is the whole output: no loop to compute it at
  }
  TiledLoops l = split_for_tile(s, st, n, vd, tile, lanes, false, order_by);
  // K-blocked (as with an epilogue, above): the tiles of the loops inside the block loop
  // accumulate in the output between blocks, each tile's accumulators written back per block
  // (VGG-16's 512-channel 3x3 layer, one Xeon core: 87-96% of oneDNN unblocked, 93-100% with
  // one or two 16-channel blocks).
  const size_t inside = kblock_inside(st, l, ch, lanes, t);
  if (inside > 0) {
    const std::string r0 = st.raxes.front().var->name;
    add(s, SplitStep{loop(n, r0), {ch.kblock}, {r0 + "_o", r0 + "_i"}});
    if (st.raxes.size() == 1) innermost_reduction = r0 + "_i", innermost_extent = ch.kblock;
    TiledLoops at_loops = l;
    at_loops.outer.resize(l.outer.size() - inside);
    const std::vector<std::string> in(l.outer.end() - long(inside), l.outer.end());
    add_kblock_reorder(s, n, st, at_loops.outer, in, l);
    const std::string at = fuse_outer(s, n, at_loops);
    add(s, CacheWriteStep{n, CacheScope::Local, loop(n, in.back())});
    for (auto &u : l.tile) add(s, AnnotateStep{LoopAnnotation::Unroll, loop(n, u)});
    unroll_reduction();
    add(s, AnnotateStep{LoopAnnotation::Vectorize, loop(n, l.vec)});
    parallel_if_more_than_one(s, n, at_loops, at);
    prefetch_weights(r0 + "_o", "");
    return nullptr;
  }
  add_reorder(s, n, l.outer, st.raxes, l);
  const std::string at = fuse_outer(s, n, l);
  if (!at.empty()) {
    add(s, CacheWriteStep{n, CacheScope::Local, loop(n, at)});
    for (auto &u : l.tile) add(s, AnnotateStep{LoopAnnotation::Unroll, loop(n, u)});
    unroll_reduction();
  }
  add(s, AnnotateStep{LoopAnnotation::Vectorize, loop(n, l.vec)});
  parallel_if_more_than_one(s, n, l, at);
  prefetch_weights(outermost_reduction, "");
  return nullptr;
}

}  // namespace

// A transposed copy made an element at a time is a strided store per element: BERT's
// 768 x 768 dense layer with W[out, in] packed per 48-column strip ran at 100 GFLOP/s on one
// Xeon core, 137-149 with the copy vectorized this way (150 with W given transposed, no copy).
std::vector<Step> transposed_pack_steps(const std::string &pack, size_t rank, size_t moved, const Target &t) {
  const int lanes = vector_tile(t);
  if (lanes <= 1 || rank < 2 || moved + 1 >= rank || t.is_gpu()) return {};
  Schedule s;
  const std::string m = fmt::format("ax{}", moved), last = fmt::format("ax{}", rank - 1);
  add(s, SplitStep{loop(pack, m), {lanes}, {m + "_o", m + "_v"}});
  add(s, SplitStep{loop(pack, last), {lanes}, {last + "_o", last + "_u"}});
  ReorderStep r;
  r.stage = pack;
  for (size_t d = 0; d < rank; ++d)
    if (d != moved && d != rank - 1) r.order.push_back(loop(pack, fmt::format("ax{}", d)));
  for (const std::string &l : {m + "_o", last + "_o", last + "_u", m + "_v"}) r.order.push_back(loop(pack, l));
  add(s, r);
  add(s, AnnotateStep{LoopAnnotation::Unroll, loop(pack, last + "_u")});
  add(s, AnnotateStep{LoopAnnotation::Vectorize, loop(pack, m + "_v")});
  return s.steps;
}

Schedule default_schedule(const Kernel &k, const Target &t, const DefaultChoices &choose) {
  if (t.is_gpu()) return default_gpu_schedule(k, t);
  Schedule s;
  s.kernel = k.name;
  std::vector<bool> inlined(k.stages.size(), false), done(k.stages.size(), false);
  for (size_t i = 0; i < k.stages.size(); ++i)
    if (inline_by_default(k, i)) {
      inlined[i] = done[i] = true;
      add(s, ComputeStep{ComputeLoc::Inline, k.stages[i].name(), {}});
    }
  for (size_t i = 0; i < k.stages.size(); ++i) {
    if (done[i]) continue;
    const Stage &st = k.stages[i];
    const bool tiled = st.reduce != ReduceOp::None && vector_axis(st) < st.axes.size() && vector_tile(t) > 1;
    const Stage *consumer = tiled ? schedule_reduction(s, k, st, t, inlined, choose) : nullptr;
    if (!tiled) schedule_plain(s, st, t);
    for (size_t j = 0; j < k.stages.size(); ++j)
      if (&k.stages[j] == consumer) done[j] = true;
  }
  return s;
}

}  // namespace kcc
