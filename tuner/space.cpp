// tuner/space.cpp - sketch generation and candidate -> schedule.
//
// A sketch is written once as a small program over the kernel's stages that asks a context for
// each free decision (`decide`). Run with no choices it records the decisions and their
// candidate lists; run with a point it builds the schedule's typed steps (never text: the
// tuner prints a schedule only to store it). One code path for both, so a
// point's meaning cannot drift from the decision list (the idea of MetaSchedule's traces).
#include "tuner/space.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <functional>
#include <set>
#include <thread>

#include "ir/visitor.h"
#include "passes/pipeline.h"
#include "passes/schedule_error.h"
#include "tuner/features.h"

namespace kcc::tuner {

namespace {

constexpr const char *kSpaceVersion = "space-11";
constexpr int64_t kMaxTile = 64;

std::vector<int64_t> tile_candidates(int64_t extent, int64_t cap = kMaxTile) {
  std::set<int64_t> c{1};
  for (int64_t d = 2; d <= std::min(extent, cap); ++d)
    if (extent % d == 0) c.insert(d);  // perfect tiles
  for (int64_t p : {2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64})
    if (p <= std::min(extent, cap)) c.insert(p);  // and non-perfect ones (tails)
  return {c.begin(), c.end()};
}

/// Vector registers of a CPU target: the register tile's bound.
int64_t vector_registers(const Target &t) { return t.arch == Arch::X86_64 && t.vector_bits < 512 ? 16 : 32; }

/// f32 lanes the widest vector tile may use: on scalable (SVE) targets f32_lanes() is the
/// minimum (128 bits) and the hardware may have 4 times as many.
int64_t max_lanes(const Target &t) { return std::max(1, t.f32_lanes()) * (t.scalable_vectors ? 4 : 1); }

/// The innermost (vectorized) tile: whole vectors of the target (1 and 2 times f32_lanes(), on
/// scalable targets also 4 times); an axis shorter than one vector: its extent, half a vector when
/// that fits, and 1 (scalar); half a vector also where it divides the extent and a whole vector
/// does not. A scalar inner tile on an axis of a whole vector or more is left out:
/// in the conv study it took a third of the samples and never won.
std::vector<int64_t> vector_candidates(int64_t extent, const Target &t) {
  const int64_t lanes = std::max(1, t.f32_lanes());
  std::set<int64_t> c;
  if (extent < lanes) {
    c.insert(1);
    c.insert(extent);
    if (lanes / 2 > 1 && lanes / 2 < extent) c.insert(lanes / 2);
  }
  for (int64_t m : {1, 2, 4})
    if ((m < 4 || t.scalable_vectors) && m * lanes <= extent) c.insert(m * lanes);
  // Half vectors where whole ones leave a tail and half ones do not (56 with 16 lanes).
  if (extent >= lanes && extent % lanes != 0 && lanes % 2 == 0 && extent % (lanes / 2) == 0) c.insert(lanes / 2);
  return {c.begin(), c.end()};
}

/// Bytes of the tensors stage `s` touches while each of its axis/reduction variables runs over
/// `range[var]` consecutive values: an index spans 1 + sum of (range - 1) over the variables in
/// it (coefficients taken as 1: an estimate, exact for matmul-like accesses); each tensor counted
/// once, at its largest access, the output included.
int64_t footprint_bytes(const Stage &s, const std::map<const Variable *, int64_t> &range) {
  auto span = [&](const Expr &ix) {
    int64_t n = 1;
    for (auto &[v, r] : range) {
      for (auto *axes : {&s.axes, &s.raxes})
        for (auto &a : *axes)
          if (a.var.get() == v && uses_var(ix, a.var)) n += r - 1;
    }
    return n;
  };
  std::map<const void *, int64_t> per_tensor;
  for_each_expr(s.body, [&](const Expr &e) {
    auto *a = e.as<Access>();
    if (!a) return;
    int64_t n = 1;
    for (auto &ix : a->indices) n *= span(ix);
    int64_t &slot = per_tensor[a->tensor.get()];
    slot = std::max(slot, n);
  });
  int64_t out = 1;
  for (auto &a : s.axes) out *= range.count(a.var.get()) ? range.at(a.var.get()) : 1;
  int64_t total = out;
  for (auto &[t, n] : per_tensor) total += n;
  return total * 4;
}

// 512 (Ansor's largest auto_unroll_max_step) is left out: on 2 cores LLVM's O3 takes 10-40 s on
// such nests, more than the measurement is worth.
std::vector<int64_t> unroll_candidates() { return {0, 16, 64}; }

/// Lowered code larger than this (expression nodes) is not built: O3 time grows too fast.
constexpr int64_t kMaxExprNodes = 60000;

/// Runs a sketch program: records decisions (choice == null) or builds the steps of a point's
/// schedule, typed (as passes/default_schedule.cpp does): text is made only where it is stored.
class Ctx {
 public:
  Ctx(std::vector<Decision> *record, const std::vector<int> *choice) : record_(record), choice_(choice) {}
  int new_group() { return groups_++; }
  int64_t decide(const std::string &name, std::vector<int64_t> candidates, int group = -1, int64_t limit = 0) {
    if (record_) {
      record_->push_back({name, candidates, group, limit});
      return candidates.front();
    }
    size_t i = next_++;
    int idx = i < choice_->size() ? (*choice_)[i] : 0;
    if (idx < 0 || idx >= static_cast<int>(candidates.size())) {
      require(false, fmt::format("decision {} index {} out of range", name, idx));
      return candidates.front();
    }
    return candidates[static_cast<size_t>(idx)];
  }
  void require(bool cond, const std::string &why) {
    if (!cond && ok) {
      ok = false;
      error = why;
    }
  }
  void add(StepKind step) { steps.push_back(Step{std::move(step), {}}); }
  std::vector<Step> steps;
  bool ok = true;
  std::string error;

 private:
  std::vector<Decision> *record_;
  const std::vector<int> *choice_;
  size_t next_ = 0;
  int groups_ = 0;
};

/// `stage.loop`.
LoopName loop(const std::string &stage, const std::string &name) { return LoopName{stage, name, {}}; }

/// Loops named without their stage (the stage is the step's own: reorder, fuse, reorder_storage).
std::vector<LoopName> loops(const std::vector<std::string> &names) {
  std::vector<LoopName> out;
  for (auto &n : names) out.push_back(LoopName{"", n, {}});
  return out;
}

AnnotateStep parallel(const std::string &stage, const std::string &name) {
  return AnnotateStep{LoopAnnotation::Parallel, loop(stage, name)};
}
AnnotateStep vectorize(const std::string &stage, const std::string &name) {
  return AnnotateStep{LoopAnnotation::Vectorize, loop(stage, name)};
}

bool reads(const Stage &st, const Tensor &t) {
  bool r = false;
  for_each_expr(st.body, [&](const Expr &e) {
    if (auto *a = e.as<Access>())
      if (a->tensor == t) r = true;
  });
  return r;
}

/// What the sketch rules need to know of the kernel.
struct Analysis {
  const Kernel &k;
  std::vector<std::vector<int>> consumers;  // per stage, the stages reading it
  explicit Analysis(const Kernel &kernel) : k(kernel), consumers(kernel.stages.size()) {
    for (size_t p = 0; p < k.stages.size(); ++p)
      for (size_t c = p + 1; c < k.stages.size(); ++c)
        if (reads(k.stages[c], k.stages[p].output)) consumers[p].push_back(static_cast<int>(c));
  }
  const Stage &st(int i) const { return k.stages[static_cast<size_t>(i)]; }
  bool intermediate(int i) const { return st(i).output->role == TensorRole::Intermediate; }
  bool inlinable(int i) const { return intermediate(i) && st(i).reduce == ReduceOp::None; }
  bool tileable(int i) const {
    if (st(i).reduce == ReduceOp::None) return false;
    int n = 0;
    for (auto &a : st(i).axes) n += a.extent > 1;
    return n >= 2;
  }
  /// The elementwise output stage a tileable intermediate stage can be fused into, or -1.
  int fusable_into(int i) const {
    if (!tileable(i) || !intermediate(i) || consumers[i].size() != 1) return -1;
    int c = consumers[i][0];
    const Stage &cs = st(c);
    if (cs.reduce != ReduceOp::None || cs.output->role != TensorRole::Output) return -1;
    if (cs.axes.size() != st(i).axes.size()) return -1;
    return c;
  }
  /// The storage order (pack axes ax0 ax1 ..., outermost first) that makes `t`'s reads in stage i
  /// contiguous along the stage's vectorized axis (its last axis longer than 1): the dimension
  /// indexed by that axis moved last. Empty when the reads are contiguous already (or `t` is not
  /// indexed by the axis at all).
  std::vector<std::string> transposed_order(int i, const Tensor &t) const {
    const Stage &s = st(i);
    Var v;
    for (auto &a : s.axes)
      if (a.extent > 1) v = a.var;
    if (!v) return {};
    int dim = -1;
    bool last_uses = false;
    for_each_expr(s.body, [&](const Expr &e) {
      auto *a = e.as<Access>();
      if (!a || a->tensor != t || a->indices.empty()) return;
      for (size_t d = 0; d + 1 < a->indices.size(); ++d)
        if (uses_var(a->indices[d], v)) dim = static_cast<int>(d);
      last_uses = last_uses || uses_var(a->indices.back(), v);
    });
    if (dim < 0 || last_uses) return {};
    std::vector<std::string> order;
    for (size_t d = 0; d < t->shape.size(); ++d)
      if (static_cast<int>(d) != dim) order.push_back(fmt::format("ax{}", d));
    order.push_back(fmt::format("ax{}", dim));
    return order;
  }
  /// An input of tileable stage i read across its vectorized axis (K in S = Q K^T, W[j, k] of a
  /// dense layer): packing it transposed makes the vector loads contiguous.
  Tensor transpose_candidate(int i) const {
    Tensor found;
    for_each_expr(st(i).body, [&](const Expr &e) {
      auto *a = e.as<Access>();
      if (!a || found || a->tensor->role != TensorRole::Input) return;
      if (!transposed_order(i, a->tensor).empty()) found = a->tensor;
    });
    return found;
  }
  /// A tensor read by a tileable stage whose reads do not depend on its first tiled axis
  /// (the B panel of C = A B): packing it pays.
  Tensor pack_candidate(int i) const {
    const Stage &s = st(i);
    Var first;
    for (auto &a : s.axes)
      if (a.extent > 1) {
        first = a.var;
        break;
      }
    Tensor found;
    for_each_expr(s.body, [&](const Expr &e) {
      auto *a = e.as<Access>();
      if (!a || found || a->tensor->role != TensorRole::Input) return;
      bool uses = false;
      for (auto &ix : a->indices) uses = uses || uses_var(ix, first);
      if (!uses) found = a->tensor;
    });
    return found;
  }
};

/// Splits every spatial axis with extent > 1 into `levels` loops (level names a_0 .. a_{levels-1});
/// axes of extent 1 stay whole at level 0. The innermost level of the last split axis draws its
/// factor from the vector candidates.
/// `factors` (optional) receives each split axis's inner factors (levels 1 .. levels-1).
std::vector<std::vector<std::string>> split_spatial(Ctx &c, const Stage &s, int levels, const Target &t,
                                                    std::string *vector_loop, int64_t *vector_factor,
                                                    std::map<const Variable *, std::vector<int64_t>> *factors = nullptr) {
  std::vector<std::vector<std::string>> lv(static_cast<size_t>(levels));
  int last = -1;
  for (size_t a = 0; a < s.axes.size(); ++a)
    if (s.axes[a].extent > 1) last = static_cast<int>(a);
  for (size_t a = 0; a < s.axes.size(); ++a) {
    const std::string &an = s.axes[a].var->name;
    const int64_t E = s.axes[a].extent;
    if (E <= 1) {
      lv[0].push_back(an);
      continue;
    }
    std::vector<int64_t> f;
    int64_t prod = 1;
    const int group = c.new_group();
    for (int l = 1; l < levels; ++l) {
      bool vec = static_cast<int>(a) == last && l == levels - 1;
      f.push_back(c.decide(fmt::format("{}.{}.tile{}", s.name(), an, l),
                           vec ? vector_candidates(E, t) : tile_candidates(E), group, E));
      prod *= f.back();
    }
    c.require(prod <= E, fmt::format("tiles of {}.{} exceed its extent {}", s.name(), an, E));
    if (factors) (*factors)[s.axes[a].var.get()] = f;
    std::vector<std::string> names;
    for (int l = 0; l < levels; ++l) names.push_back(fmt::format("{}_{}", an, l));
    c.add(SplitStep{loop(s.name(), an), f, names});
    for (int l = 0; l < levels; ++l) lv[static_cast<size_t>(l)].push_back(names[static_cast<size_t>(l)]);
    if (static_cast<int>(a) == last) {
      *vector_loop = names.back();
      *vector_factor = f.back();
    }
  }
  return lv;
}

std::vector<std::vector<std::string>> split_reduction(Ctx &c, const Stage &s,
                                                      std::map<const Variable *, int64_t> *inner = nullptr) {
  std::vector<std::vector<std::string>> rl(2);
  for (auto &a : s.raxes) {
    const std::string &an = a.var->name;
    if (a.extent <= 1) {
      rl[0].push_back(an);
      continue;
    }
    int64_t f = c.decide(fmt::format("{}.{}.tile", s.name(), an), tile_candidates(a.extent));
    if (inner) (*inner)[a.var.get()] = f;
    c.add(SplitStep{loop(s.name(), an), {f}, {an + "_0", an + "_1"}});
    rl[0].push_back(an + "_0");
    rl[1].push_back(an + "_1");
  }
  return rl;
}

/// Fuses the first d of `outer` (d decided) into one parallel loop. Leading loops of axes with
/// extent 1 (the batch axis of a batch-1 conv) are skipped: parallel on them alone runs on one
/// core (the 2026-11-22 tuned conv schedules did exactly that).
///
/// The parallel loop must run at least 2 x cores iterations (fewer on small stages, see `want`): without that rule the best point of a one-thread tuning often had
/// a parallel loop of 1 iteration (its tiles covering whole axes), so it ran on one core at any
/// thread count. `sf` holds the inner tile factors of each split axis (levels 1 ..).
/// Returns the innermost of the level-0 loops as it is named afterwards ("par" when it was fused;
/// empty when there are none).
std::string parallel_outer(Ctx &c, const Stage &s, std::vector<std::string> outer, const Target &t,
                           const std::map<const Variable *, std::vector<int64_t>> &sf) {
  const std::string &stage = s.name();
  const std::string innermost = outer.empty() ? "" : outer.back();
  for (auto &a : s.axes) {
    if (outer.empty() || a.extent > 1 || outer.front() != a.var->name) break;
    outer.erase(outer.begin());
  }
  if (outer.empty()) return innermost;
  std::map<std::string, int64_t> trips;  // level-0 loop name -> iterations
  int64_t cap = 1;
  const Axis *vector_axis = nullptr;
  for (auto &a : s.axes)
    if (a.extent > 1) vector_axis = &a;
  for (auto &a : s.axes) {
    auto it = sf.find(a.var.get());
    if (it == sf.end()) {
      trips[a.var->name] = a.extent;
    } else {
      int64_t inner = 1;
      for (int64_t f : it->second) inner *= f;
      trips[a.var->name + "_0"] = (a.extent + inner - 1) / inner;
    }
    if (&a != vector_axis) cap *= a.extent;
  }
  std::vector<int64_t> depths;
  for (size_t d = 1; d <= outer.size(); ++d) depths.push_back(static_cast<int64_t>(d));
  int64_t d = c.decide(stage + ".parallel_depth", depths);
  int64_t trip = 1;
  for (int64_t i = 0; i < d; ++i) trip *= trips.count(outer[static_cast<size_t>(i)]) ? trips[outer[static_cast<size_t>(i)]] : 1;
  // Small stages (cap / 16 < 2 x cores) keep room for register tiles: a 64-row matmul on 48 cores
  // is not forced down to one row per task.
  const int64_t want = std::min<int64_t>({2 * std::max(1, t.cores), std::max<int64_t>(2, cap / 16), cap});
  c.require(trip >= want, fmt::format("parallel loop of {} runs {} iterations (< {} for {} cores)", stage, trip, want,
                                      std::max(1, t.cores)));
  if (d == 1) {
    c.add(parallel(stage, outer[0]));
    return innermost;
  }
  std::vector<std::string> fused(outer.begin(), outer.begin() + d);
  c.add(FuseStep{stage, loops(fused), "par"});
  c.add(parallel(stage, "par"));
  return static_cast<size_t>(d) == outer.size() ? "par" : innermost;
}

void unroll_limit(Ctx &c, const std::string &stage) {
  int64_t u = c.decide(stage + ".unroll_limit", unroll_candidates());
  if (u > 0) c.add(UnrollLimitStep{stage, u});
}

std::vector<std::string> concat(std::initializer_list<std::vector<std::string>> parts) {
  std::vector<std::string> out;
  for (auto &p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

/// Target-aware pruning of an SSRSRS tiling (factors per axis: S1 S2 S3; reduction: R1):
///   register tile   the S3 tile's accumulators fit the vector registers
///   L1              the S2 S3 x R1 tile (output tile, input slices, the packed panel's slice) fits L1
///   L2              the S2 S3 x whole-reduction panel (the rows and columns one S1 step reads)
///                   fits L2
void require_cache_fit(Ctx &c, const Stage &s, const std::map<const Variable *, std::vector<int64_t>> &sf,
                       const std::map<const Variable *, int64_t> &rf, const Target &t) {
  if (t.is_gpu()) return;
  const int64_t lanes = max_lanes(t);
  int64_t vregs = 1;
  std::map<const Variable *, int64_t> l1, l2;
  const Variable *last = nullptr;
  for (auto &a : s.axes)
    if (sf.count(a.var.get())) last = a.var.get();
  for (auto &[v, f] : sf) {
    const int64_t s3 = f.back(), s23 = f[f.size() - 2] * f.back();
    vregs *= v == last ? (s3 + lanes - 1) / lanes : s3;
    l1[v] = l2[v] = s23;
  }
  for (auto &a : s.raxes) {
    l2[a.var.get()] = a.extent;
    l1[a.var.get()] = rf.count(a.var.get()) ? rf.at(a.var.get()) : 1;
  }
  c.require(vregs <= vector_registers(t),
            fmt::format("register tile of {} needs {} vector registers (> {})", s.name(), vregs, vector_registers(t)));
  const int64_t b1 = footprint_bytes(s, l1), b2 = footprint_bytes(s, l2);
  c.require(b1 <= t.l1_bytes, fmt::format("inner tile of {} touches {} bytes (> L1 {})", s.name(), b1, t.l1_bytes));
  c.require(b2 <= t.l2_bytes, fmt::format("panel of {} touches {} bytes (> L2 {})", s.name(), b2, t.l2_bytes));
}

/// rfactor (CPU): a reduction with a small spatial extent and a long reduction (softmax's max
/// and sum, a dot product): its innermost reduction axis split by a whole number of vectors, the
/// inner part made the innermost spatial axis of a new stage NAME_rf (rfactor) and vectorized;
/// the stage itself then reduces the partial results.
bool rfactorable(const Analysis &an, int i, const Target &t) {
  const Stage &s = an.st(i);
  if (t.is_gpu() || s.reduce == ReduceOp::None || s.raxes.empty() || an.tileable(i)) return false;
  int64_t spatial = 1, reduction = 1;
  for (auto &a : s.axes) spatial *= a.extent;
  for (auto &a : s.raxes) reduction *= a.extent;
  return s.raxes.back().extent >= 2 * std::max(1, t.f32_lanes()) && spatial < reduction;
}

void rfactor_stage(Ctx &c, const Analysis &an, int si, const Target &t) {
  const Stage &s = an.st(si);
  const std::string n = s.name(), rf = n + "_rf";
  const Axis &r = s.raxes.back();
  std::vector<int64_t> vc;
  for (int64_t v : vector_candidates(r.extent, t))
    if (v > 1) vc.push_back(v);
  const int64_t v = c.decide(n + ".rfactor_vector", vc);
  const std::string rn = r.var->name;
  c.add(SplitStep{loop(n, rn), {v}, {rn + "_0", rn + "_1"}});
  c.add(RfactorStep{loop(n, rn + "_1"), rf});
  std::vector<std::string> order;
  for (auto &a : s.axes) order.push_back(a.var->name);
  for (size_t i = 0; i + 1 < s.raxes.size(); ++i) order.push_back(s.raxes[i].var->name);
  order.push_back(rn + "_0");
  order.push_back(rn + "_1");
  c.add(ReorderStep{rf, loops(order)});
  c.add(vectorize(rf, rn + "_1"));
  for (auto &a : s.axes)
    if (a.extent > 1) {
      if (c.decide(n + ".parallel", {0, 1}) == 1) {
        c.add(parallel(rf, a.var->name));
        c.add(parallel(n, a.var->name));
      }
      break;
    }
}

/// A pack stored in `order` (axes ax0 ax1 ..., outermost first; the moved one last) copied a
/// vector at a time (passes/pipeline.h).
void transposed_pack(Ctx &c, const std::string &pack, const std::vector<std::string> &order, const Target &t) {
  const size_t moved = std::stoul(order.back().substr(2));
  for (Step &s : transposed_pack_steps(pack, order.size(), moved, t)) c.add(std::move(s.kind));
}

/// SSRSRS multi-level tiling of a reduction.
void tile_stage(Ctx &c, const Analysis &an, int si, const SketchRules &r, const Target &t) {
  const Stage &s = an.st(si);
  const std::string n = s.name();
  std::string vloop;
  int64_t vf = 1;
  std::map<const Variable *, std::vector<int64_t>> sf;
  std::map<const Variable *, int64_t> rf;
  auto lv = split_spatial(c, s, 4, t, &vloop, &vf, &sf);
  auto rl = split_reduction(c, s, &rf);
  require_cache_fit(c, s, sf, rf, t);
  c.add(ReorderStep{n, loops(concat({lv[0], lv[1], rl[0], lv[2], rl[1], lv[3]}))});
  // Packs (cache_read): the panel that does not depend on the first axis (GEMM's B) at the last R0
  // loop; an input read across the vectorized axis once per level-0 tile (below), transposed.
  Tensor panel = r.cache_read && !rl[0].empty() ? an.pack_candidate(si) : Tensor();
  if (panel) {
    c.add(CacheReadStep{panel->name, CacheScope::Local, loop(n, rl[0].back()), panel->name + "_pack"});
    std::vector<std::string> order = an.transposed_order(si, panel);
    if (!order.empty()) {
      c.add(ReorderStorageStep{panel->name + "_pack", loops(order)});
      transposed_pack(c, panel->name + "_pack", order, t);
    }
  }
  if (r.cache_write) {
    // Where the local tile lives: at the last S1 loop (the S2 x S3 tile, Ansor's choice) or at the
    // last S2 loop (the S3 register tile alone, accumulating over R1 in registers; with a packed
    // panel from cache_read at R0 this is BLIS's order: the panel swept by every S2 register tile).
    const int64_t level = lv[2].empty() ? 1 : c.decide(n + ".cache_write_level", {1, 2});
    const auto &at = level == 2 ? lv[2] : lv[1].empty() ? lv[0] : lv[1];
    c.add(CacheWriteStep{n, CacheScope::Local, loop(n, at.back())});
  }
  if (vf > 1) c.add(vectorize(n, vloop));
  const std::string tile_loop = parallel_outer(c, s, lv[0], t, sf);
  Tensor tp = r.cache_read && !panel && !tile_loop.empty() ? an.transpose_candidate(si) : Tensor();
  if (tp) {
    c.add(CacheReadStep{tp->name, CacheScope::Local, loop(n, tile_loop), tp->name + "_t"});
    const std::vector<std::string> order = an.transposed_order(si, tp);
    c.add(ReorderStorageStep{tp->name + "_t", loops(order)});
    transposed_pack(c, tp->name + "_t", order, t);
  }
  unroll_limit(c, n);
}

/// An elementwise output tiled in 3 levels with its producer reduction computed in each tile.
void fused_stage(Ctx &c, const Analysis &an, int ci, int pi, const Target &t) {
  const Stage &cs = an.st(ci), &ps = an.st(pi);
  const std::string cn = cs.name(), pn = ps.name();
  std::string vloop;
  int64_t vf = 1;
  std::map<const Variable *, std::vector<int64_t>> sf;
  auto lv = split_spatial(c, cs, 3, t, &vloop, &vf, &sf);
  c.add(ReorderStep{cn, loops(concat({lv[0], lv[1], lv[2]}))});
  if (vf > 1) c.add(vectorize(cn, vloop));
  const auto &at = lv[1].empty() ? lv[0] : lv[1];
  c.add(ComputeStep{ComputeLoc::At, pn, loop(cn, at.back())});
  parallel_outer(c, cs, lv[0], t, sf);
  // Inside the tile: R S R S.
  std::string pv;
  int64_t pvf = 1;
  auto plv = split_spatial(c, ps, 2, t, &pv, &pvf);
  auto prl = split_reduction(c, ps);
  c.add(ReorderStep{pn, loops(concat({prl[0], plv[0], prl[1], plv[1]}))});
  if (pvf > 1) c.add(vectorize(pn, pv));
  unroll_limit(c, cn);
}

/// Vectorize the innermost spatial axis, parallel outer loop; optionally computed at its consumer.
void simple_stage(Ctx &c, const Analysis &an, int si, const Target &t, const std::vector<bool> &is_simple) {
  const Stage &s = an.st(si);
  const std::string n = s.name();
  if (s.axes.empty()) return;
  const int64_t lanes = std::max(1, t.f32_lanes());
  const Axis &last = s.axes.back();
  std::vector<std::string> order;
  for (auto &a : s.axes) order.push_back(a.var->name);
  int64_t v = 1;
  if (last.extent > 1) {
    std::vector<int64_t> vc{1};
    for (int64_t x : {lanes / 2, lanes, 2 * lanes, t.scalable_vectors ? 4 * lanes : 0})
      if (x > 1 && x <= last.extent && x != vc.back()) vc.push_back(x);
    v = c.decide(n + ".vector", vc);
  }
  std::string vname;
  if (v > 1) {
    std::string o = last.var->name + "_o";
    vname = last.var->name + "_v";
    c.add(SplitStep{loop(n, last.var->name), {v}, {o, vname}});
    order.back() = o;
    if (s.reduce != ReduceOp::None) {
      std::vector<std::string> ro = order;
      for (auto &ra : s.raxes) ro.push_back(ra.var->name);
      ro.push_back(vname);
      c.add(ReorderStep{n, loops(ro)});
    }
    c.add(vectorize(n, vname));
  }
  // Where to compute an intermediate stage read by exactly one simple stage of rank >= 2.
  bool at_consumer = false;
  if (an.intermediate(si) && an.consumers[si].size() == 1) {
    int ci = an.consumers[si][0];
    if (is_simple[static_cast<size_t>(ci)] && an.st(ci).axes.size() >= 2) {
      at_consumer = c.decide(n + ".compute_at", {0, 1}) == 1;
      if (at_consumer) c.add(ComputeStep{ComputeLoc::At, n, loop(an.st(ci).name(), an.st(ci).axes[0].var->name)});
    }
  }
  if (!at_consumer)
    for (size_t d = 0; d < s.axes.size(); ++d)
      if (s.axes[d].extent > 1 && order[d] != vname) {
        c.add(parallel(n, order[d]));
        break;
      }
}

// ---------------------------------------------------------------- GPU sketches (NVPTX)

/// Threads along one tiled axis of a block.
std::vector<int64_t> gpu_thread_candidates(int64_t extent) {
  std::vector<int64_t> c;
  for (int64_t x : {1, 2, 4, 8, 16, 32})
    if (x == 1 || x <= extent) c.push_back(x);
  return c;
}

/// Outputs per thread along one tiled axis (the register tile).
std::vector<int64_t> gpu_register_candidates(int64_t extent) {
  std::vector<int64_t> c;
  for (int64_t x : {1, 2, 4, 8})
    if (x == 1 || x <= extent) c.push_back(x);
  return c;
}

/// Multi-level tiling of a reduction on a GPU, the structure of the tiled matmul in
/// test/gpu/gpu_schedules.ir. Ansor's SSSRRSRS without its virtual-thread level (kcc has none)
/// and with the innermost R S pair merged: the last two axes (Y, X) split into block / thread /
/// register levels, each reduction axis into 2, the axes before Y fused into block.z:
///   Z (block.z)  Y0 X0 (block.y block.x)  Y1 X1 (thread.y thread.x)  R0...  R1...  Y2 X2 (registers)
/// The output accumulates in registers (cache_write local at X1); with `shared`, every input the
/// stage reads is fetched into shared memory at the last R0 loop by all the block's threads: the
/// cache stage's loops fused and split by the thread counts, bound to thread.y/thread.x.
void gpu_tile_stage(Ctx &c, const Analysis &an, int si, bool shared, const Target &t) {
  const Stage &s = an.st(si);
  const std::string n = s.name();
  // Axes before the last two: one block.z loop (fused when several). Fusing them into the tiled
  // groups instead would give tiles of non-constant size (no register cache).
  std::vector<std::string> outer;
  for (size_t a = 0; a + 2 < s.axes.size(); ++a) outer.push_back(s.axes[a].var->name);
  std::string z;
  if (outer.size() == 1) z = outer[0];
  if (outer.size() > 1) {
    z = "zf";
    c.add(FuseStep{n, loops(outer), z});
  }
  const std::string y = s.axes[s.axes.size() - 2].var->name;
  const int64_t ey = s.axes[s.axes.size() - 2].extent;
  const std::string x = s.axes.back().var->name;
  const int64_t ex = s.axes.back().extent;
  int64_t tf[2], rf[2];
  const std::string names[2] = {y, x};
  const int64_t ext[2] = {ey, ex};
  for (int g = 0; g < 2; ++g) {
    const int group = c.new_group();
    tf[g] = c.decide(fmt::format("{}.{}.threads", n, names[g]), gpu_thread_candidates(ext[g]), group, ext[g]);
    rf[g] = c.decide(fmt::format("{}.{}.regs", n, names[g]), gpu_register_candidates(ext[g]), group, ext[g]);
    c.require(tf[g] * rf[g] <= ext[g], fmt::format("tiles of {}.{} exceed its extent {}", n, names[g], ext[g]));
    c.add(SplitStep{loop(n, names[g]), {tf[g], rf[g]}, {names[g] + "_0", names[g] + "_1", names[g] + "_2"}});
  }
  c.require(tf[0] * tf[1] <= t.max_threads_per_block,
            fmt::format("{} threads per block (> {})", tf[0] * tf[1], t.max_threads_per_block));
  auto rl = split_reduction(c, s);
  c.add(ReorderStep{n, loops(concat({z.empty() ? std::vector<std::string>{} : std::vector<std::string>{z},
                                      {y + "_0", x + "_0", y + "_1", x + "_1"}, rl[0], rl[1], {y + "_2", x + "_2"}}))});
  if (!z.empty()) c.add(BindStep{loop(n, z), GpuAxis::BlockZ});
  c.add(BindStep{loop(n, y + "_0"), GpuAxis::BlockY});
  c.add(BindStep{loop(n, x + "_0"), GpuAxis::BlockX});
  c.add(BindStep{loop(n, y + "_1"), GpuAxis::ThreadY});
  c.add(BindStep{loop(n, x + "_1"), GpuAxis::ThreadX});
  c.add(CacheWriteStep{n, CacheScope::Local, loop(n, x + "_1")});
  for (int g = 0; g < 2; ++g)
    if (rf[g] > 1) c.add(AnnotateStep{LoopAnnotation::Unroll, loop(n, names[g] + "_2")});
  unroll_limit(c, n);
  if (!shared || rl[0].empty()) return;
  std::set<std::string> cached;
  std::function<void(const Expr &)> visit = [&](const Expr &e) {
    auto *a = e.as<Access>();
    if (!a) return;
    for (int p = 0; p < si; ++p)  // an inlined producer: its inputs are read here
      if (an.inlinable(p) && an.st(p).output == a->tensor) for_each_expr(an.st(p).body, visit);
    if (a->tensor->role != TensorRole::Input || !cached.insert(a->tensor->name).second) return;
    const std::string cs = a->tensor->name + "_shared";
    c.add(CacheReadStep{a->tensor->name, CacheScope::Shared, loop(n, rl[0].back()), cs});
    std::vector<std::string> ax;
    for (size_t d = 0; d < a->indices.size(); ++d) ax.push_back(fmt::format("ax{}", d));
    std::string f = ax[0];
    if (ax.size() > 1) {
      f = "f";
      c.add(FuseStep{cs, loops(ax), "f"});
    }
    c.add(SplitStep{loop(cs, f), {tf[0], tf[1]}, {"f_0", "f_y", "f_x"}});
    c.add(BindStep{loop(cs, "f_y"), GpuAxis::ThreadY});
    c.add(BindStep{loop(cs, "f_x"), GpuAxis::ThreadX});
  };
  for_each_expr(s.body, visit);
}

/// Any other root stage on a GPU: its axes fused, split by a thread count, bound to
/// block.x/thread.x (consecutive threads on consecutive elements); reductions stay per thread.
void gpu_simple_stage(Ctx &c, const Analysis &an, int si, const Target &t) {
  const Stage &s = an.st(si);
  const std::string n = s.name();
  if (s.axes.empty()) return;
  int64_t total = 1;
  std::vector<std::string> ax;
  for (auto &a : s.axes) {
    total *= a.extent;
    ax.push_back(a.var->name);
  }
  std::string f = ax[0];
  if (ax.size() > 1) {
    f = "fused";
    c.add(FuseStep{n, loops(ax), "fused"});
  }
  std::vector<int64_t> tc;
  for (int64_t x : {32, 64, 128, 256, 512})
    if (x <= t.max_threads_per_block && (tc.empty() || x < total)) tc.push_back(x);
  int64_t threads = c.decide(n + ".threads", tc);
  c.add(SplitStep{loop(n, f), {threads}, {"bx", "tx"}});
  c.add(BindStep{loop(n, "bx"), GpuAxis::BlockX});
  c.add(BindStep{loop(n, "tx"), GpuAxis::ThreadX});
}

/// A reduction the GPU tiling applies to: >= 2 axes, the last one longer than 1.
bool gpu_tileable(const Analysis &an, int i) {
  return an.tileable(i) && an.st(i).axes.size() >= 2 && an.st(i).axes.back().extent > 1;
}

/// The GPU sketch program: elementwise intermediates inlined, reductions tiled, the rest simple.
void run_gpu_sketch(Ctx &c, const Analysis &an, const SketchRules &r, const Target &t) {
  const int ns = static_cast<int>(an.k.stages.size());
  for (int i = 0; i < ns; ++i)
    if (an.inlinable(i)) c.add(ComputeStep{ComputeLoc::Inline, an.st(i).name(), {}});
  for (int i = ns - 1; i >= 0; --i) {
    if (an.inlinable(i)) continue;
    if (gpu_tileable(an, i))
      gpu_tile_stage(c, an, i, r.cache_read, t);
    else
      gpu_simple_stage(c, an, i, t);
  }
}

/// The sketch program: the whole schedule of the kernel under `r`.
void run_sketch(Ctx &c, const Analysis &an, const SketchRules &r, const Target &t) {
  if (t.is_gpu()) return run_gpu_sketch(c, an, r, t);
  if (r.default_choices) {  // the default schedule, its choices decided here
    Schedule s = default_schedule(an.k, t, [&](const std::string &name, int alternatives) {
      std::vector<int64_t> idx(static_cast<size_t>(alternatives));
      for (int i = 0; i < alternatives; ++i) idx[static_cast<size_t>(i)] = i;
      return static_cast<int>(c.decide(name, idx));
    });
    for (auto &step : s.steps) c.add(std::move(step.kind));
    return;
  }
  const int ns = static_cast<int>(an.k.stages.size());
  std::vector<bool> inlined(static_cast<size_t>(ns)), fused_producer(static_cast<size_t>(ns)),
      is_simple(static_cast<size_t>(ns));
  std::vector<int> fused_of(static_cast<size_t>(ns), -1);  // consumer -> its fused producer
  for (int i = 0; i < ns; ++i) {
    inlined[static_cast<size_t>(i)] = r.inline_elementwise && an.inlinable(i);
    if (r.fuse_consumer) {
      int cidx = an.fusable_into(i);
      if (cidx >= 0 && fused_of[static_cast<size_t>(cidx)] < 0) {
        fused_of[static_cast<size_t>(cidx)] = i;
        fused_producer[static_cast<size_t>(i)] = true;
      }
    }
  }
  for (int i = 0; i < ns; ++i)
    is_simple[static_cast<size_t>(i)] = !inlined[static_cast<size_t>(i)] && !fused_producer[static_cast<size_t>(i)] &&
                                        fused_of[static_cast<size_t>(i)] < 0 && !an.tileable(i);
  for (int i = 0; i < ns; ++i)
    if (inlined[static_cast<size_t>(i)]) c.add(ComputeStep{ComputeLoc::Inline, an.st(i).name(), {}});
  for (int i = ns - 1; i >= 0; --i) {  // consumers first: compute_at needs their loops
    if (inlined[static_cast<size_t>(i)] || fused_producer[static_cast<size_t>(i)]) continue;
    if (fused_of[static_cast<size_t>(i)] >= 0)
      fused_stage(c, an, i, fused_of[static_cast<size_t>(i)], t);
    else if (an.tileable(i))
      tile_stage(c, an, i, r, t);
    else if (r.rfactor && rfactorable(an, i, t))
      rfactor_stage(c, an, i, t);
    else
      simple_stage(c, an, i, t, is_simple);
  }
}

std::string sketch_name(const SketchRules &r) {
  if (r.default_choices) return "default";
  std::string s = r.inline_elementwise ? "inline" : "no-inline";
  if (r.gpu) return s + "+gpu_tile" + (r.cache_read ? "+shared" : "");
  if (r.fuse_consumer) s += "+fuse";
  if (r.cache_write) s += "+cache_write";
  if (r.cache_read) s += "+cache_read";
  if (r.rfactor) s += "+rfactor";
  return s;
}

/// The decisions of each tile group (the factors of one loop), by group.
std::map<int, std::vector<size_t>> tile_groups(const std::vector<Decision> &dec) {
  std::map<int, std::vector<size_t>> groups;
  for (size_t i = 0; i < dec.size(); ++i)
    if (dec[i].group >= 0) groups[dec[i].group].push_back(i);
  return groups;
}

/// The product of a tile group's factors at point `p`.
int64_t group_product(const std::vector<Decision> &dec, const std::vector<size_t> &members, const Point &p) {
  int64_t prod = 1;
  for (size_t i : members) prod *= dec[i].candidates[static_cast<size_t>(p.x[i])];
  return prod;
}

std::string fnv_hex(const std::string &s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ull;
  return fmt::format("{:016x}", h);
}

}  // namespace

KernelSpace::KernelSpace(const Kernel &k, const Target &t) : k_(k), t_(t) {
  Analysis an(k);
  bool any_inline = false, any_tile = false, any_fuse = false, any_pack = false, any_rfactor = false;
  for (int i = 0; i < static_cast<int>(k.stages.size()); ++i) {
    if (t.is_gpu()) {  // GPU: inlined, accumulating in registers; shared-memory inputs or not
      any_tile |= gpu_tileable(an, i);
      continue;
    }
    any_inline |= an.inlinable(i);
    any_rfactor |= rfactorable(an, i, t);
    any_tile |= an.tileable(i);
    any_fuse |= an.fusable_into(i) >= 0;
    any_pack |= an.tileable(i) && (an.pack_candidate(i) != nullptr || an.transpose_candidate(i) != nullptr);
  }
  std::set<std::string> seen;
  std::string sig = kSpaceVersion;
  if (t.is_gpu()) any_pack = any_tile;
  for (bool inl : any_inline ? std::vector<bool>{true, false} : std::vector<bool>{true})
    for (bool fuse : any_fuse ? std::vector<bool>{false, true} : std::vector<bool>{false})
      for (bool cw : any_tile && !t.is_gpu() ? std::vector<bool>{true, false} : std::vector<bool>{!t.is_gpu()})
        for (bool cr : any_pack ? std::vector<bool>{false, true} : std::vector<bool>{false})
          for (bool rfa : any_rfactor ? std::vector<bool>{false, true} : std::vector<bool>{false}) {
          SketchRules r{inl, cw, cr, fuse, t.is_gpu(), rfa};
          Sketch sk;
          sk.rules = r;
          sk.name = sketch_name(r);
          Ctx c(&sk.decisions, nullptr);
          run_sketch(c, an, r, t);
          if (!seen.insert(to_string(Schedule{k.name, c.steps, {}})).second) continue;  // a rule that changed nothing here
          sig += "|" + sk.name;
          for (auto &d : sk.decisions) {
            sig += ":";
            for (auto v : d.candidates) sig += std::to_string(v) + ",";
          }
          sketches_.push_back(std::move(sk));
        }
  if (!t.is_gpu()) {  // the default schedule and its neighbours (passes/default_schedule.cpp)
    Sketch sk;
    sk.rules.default_choices = true;
    sk.name = sketch_name(sk.rules);
    Ctx c(&sk.decisions, nullptr);
    run_sketch(c, an, sk.rules, t);
    sig += "|" + sk.name;
    for (auto &d : sk.decisions) sig += ":" + d.name + "=" + std::to_string(d.candidates.size());
    default_sketch_ = static_cast<int>(sketches_.size());
    sketches_.push_back(std::move(sk));
  }
  signature_ = fnv_hex(sig + "|" + t.name);
}

Point KernelSpace::random_point_of(int sketch, std::mt19937_64 &rng) const {
  const Sketch &sk = sketches_[static_cast<size_t>(sketch)];
  const auto &dec = sk.decisions;
  const auto groups = tile_groups(dec);
  Analysis an(k_);
  Point p;
  // Draws until the decision-level rules (tile products, register tile, L1/L2 fit, parallel
  // iterations) hold: they are checked by running the sketch program, microseconds, whereas the
  // full static check lowers the kernel. Uniform draws alone met them 1 time in 100 on a
  // four-axis conv.
  for (int attempt = 0; attempt < 256; ++attempt) {
    p = Point{sketch, {}};
    for (auto &d : dec) p.x.push_back(std::uniform_int_distribution<int>(0, static_cast<int>(d.candidates.size()) - 1)(rng));
    for (auto &[g, members] : groups) {
      while (group_product(dec, members, p) > dec[members[0]].limit) {
        std::vector<size_t> shrinkable;
        for (size_t i : members)
          if (p.x[i] > 0) shrinkable.push_back(i);
        if (shrinkable.empty()) break;
        --p.x[shrinkable[std::uniform_int_distribution<size_t>(0, shrinkable.size() - 1)(rng)]];
      }
    }
    Ctx c(nullptr, &p.x);
    run_sketch(c, an, sk.rules, t_);
    if (c.ok) break;
  }
  return p;
}

std::vector<Point> KernelSpace::coupled_neighbours(const Point &p, int r) const {
  std::vector<Point> out;
  if (p.sketch < 0 || p.sketch >= num_sketches()) return out;
  const auto &dec = sketches_[static_cast<size_t>(p.sketch)].decisions;
  if (p.x.size() != dec.size()) return out;
  for (auto &[g, members] : tile_groups(dec))
    for (size_t a : members)
      for (size_t b : members) {
        if (a == b) continue;
        Point q = p;
        q.x[a] += r;
        q.x[b] -= r;
        if (q.x[a] >= static_cast<int>(dec[a].candidates.size()) || q.x[b] < 0) continue;
        if (group_product(dec, members, q) <= dec[members[0]].limit) out.push_back(std::move(q));
      }
  return out;
}

std::vector<int> KernelSpace::dims(int sketch) const {
  std::vector<int> d;
  for (auto &dec : sketches_.at(static_cast<size_t>(sketch)).decisions) d.push_back(static_cast<int>(dec.candidates.size()));
  return d;
}

std::optional<Point> KernelSpace::default_point() const {
  if (default_sketch_ < 0) return std::nullopt;
  return Point{default_sketch_, std::vector<int>(sketches_[static_cast<size_t>(default_sketch_)].decisions.size(), 0)};
}

bool KernelSpace::contains(const Point &p) const {
  if (p.sketch < 0 || p.sketch >= num_sketches()) return false;
  const auto &dec = sketches_[static_cast<size_t>(p.sketch)].decisions;
  if (p.x.size() != dec.size()) return false;
  for (size_t i = 0; i < dec.size(); ++i)
    if (p.x[i] < 0 || p.x[i] >= static_cast<int>(dec[i].candidates.size())) return false;
  return true;
}

Schedule KernelSpace::schedule(const Point &p) const {
  Analysis an(k_);
  Ctx c(nullptr, &p.x);
  run_sketch(c, an, sketches_.at(static_cast<size_t>(p.sketch)).rules, t_);
  return Schedule{k_.name, std::move(c.steps), {}};
}

std::string KernelSpace::schedule_text(const Point &p) const { return to_string(schedule(p)); }

KernelSpace::Entry KernelSpace::evaluate(const Point &p, bool features) const {
  Entry e;
  Analysis an(k_);
  Ctx c(nullptr, &p.x);
  if (p.sketch < 0 || p.sketch >= num_sketches() || p.x.size() != dims(p.sketch).size()) {
    e.error = "point does not fit the space";
    return e;
  }
  run_sketch(c, an, sketches_[static_cast<size_t>(p.sketch)].rules, t_);
  if (!c.ok) {
    e.error = c.error;
    return e;
  }
  try {
    auto f = std::make_shared<const LoweredFunc>(lower_kernel(k_, Schedule{k_.name, std::move(c.steps), {}}, t_));
    int64_t nodes = 0;
    for_each_expr(f->body, [&](const Expr &) { ++nodes; });
    if (nodes > kMaxExprNodes) {
      e.error = "code too large: " + std::to_string(nodes) + " expression nodes after unrolling";
    } else {
      e.valid = true;
      if (features) e.features = extract_features(*f, t_);
      e.func = std::move(f);
    }
  } catch (const ScheduleError &err) {
    e.error = std::string("schedule error (") + to_string(err.kind()) + "): " + err.message();
    e.kind = err.kind();
  } catch (const UserError &err) {
    e.error = "schedule error: " + err.message();
  }  // an InternalError is a kcc bug, not an invalid candidate: it propagates
  return e;
}

KernelSpace::Entry &KernelSpace::store(const Point &p, Entry e) {
  Entry &stored = cache_.emplace(p, std::move(e)).first->second;
  if (stored.func) hold(p, stored);
  return stored;
}

KernelSpace::Entry &KernelSpace::check(const Point &p) {
  auto it = cache_.find(p);
  if (it != cache_.end()) return it->second;
  return store(p, evaluate(p, false));
}

void KernelSpace::prepare(const std::vector<Point> &points) {
  std::vector<Point> todo;
  std::set<Point> seen;
  for (const Point &p : points)
    if (!cache_.count(p) && seen.insert(p).second) todo.push_back(p);
  const size_t n = todo.size();
  const size_t workers = std::min(static_cast<size_t>(threads_), n);
  if (workers <= 1) return;  // check() and features() answer them when asked, as without prepare
  // In blocks, so that no more than a block's lowered functions (megabytes each, unrolled) exist
  // beyond the kKeepLowered the space holds.
  const size_t block = 32 * workers;
  for (size_t b0 = 0; b0 < n; b0 += block) {
    const size_t b1 = std::min(n, b0 + block);
    std::vector<Entry> out(b1 - b0);
    std::vector<std::exception_ptr> failed(b1 - b0);
    std::atomic<size_t> next{b0};
    auto work = [&] {
      for (size_t i; (i = next.fetch_add(1)) < b1;) {
        try {
          out[i - b0] = evaluate(todo[i], true);
        } catch (...) {
          failed[i - b0] = std::current_exception();
        }
      }
    };
    std::vector<std::thread> pool;
    for (size_t w = 1; w < workers; ++w) pool.emplace_back(work);
    work();
    for (auto &th : pool) th.join();
    for (size_t i = b0; i < b1; ++i) {  // in order: the first failure is the one a plain loop meets
      if (failed[i - b0]) std::rethrow_exception(failed[i - b0]);
      store(todo[i], std::move(out[i - b0]));
    }
  }
}

void KernelSpace::hold(const Point &p, Entry &e) {
  if (e.held) {
    held_.splice(held_.end(), held_, e.held_at);
  } else {
    e.held_at = held_.insert(held_.end(), p);
    e.held = true;
  }
  while (held_.size() > kKeepLowered) {
    Entry &old = cache_.at(held_.front());
    old.func.reset();
    old.held = false;
    held_.pop_front();
  }
}

bool KernelSpace::statically_valid(const Point &p) { return check(p).valid; }

std::shared_ptr<const LoweredFunc> KernelSpace::lowered(const Point &p) {
  Entry &e = check(p);
  if (!e.valid) return nullptr;
  if (!e.func) e.func = std::make_shared<const LoweredFunc>(lower_kernel(k_, schedule(p), t_));  // dropped: again
  hold(p, e);
  return e.func;
}

std::string KernelSpace::static_error(const Point &p) const {
  auto it = cache_.find(p);
  return it == cache_.end() ? "" : it->second.error;
}

Measurement KernelSpace::static_measurement(const Point &p) {
  const Entry &e = check(p);
  return Measurement::invalid(Outcome::Static, "static: " + e.error, e.kind);
}

std::vector<std::vector<float>> KernelSpace::features(const Point &p) {
  Entry &e = check(p);
  if (!e.features.empty()) return e.features;
  if (e.valid) e.features = extract_features(*lowered(p), t_);
  if (e.features.empty()) e.features.push_back(std::vector<float>(static_cast<size_t>(kFeatureCount), 0.f));
  return e.features;
}

int KernelSpace::feature_count() const { return kFeatureCount; }

}  // namespace kcc::tuner
