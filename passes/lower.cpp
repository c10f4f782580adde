// passes/lower.cpp - a scheduled kernel -> loop IR.
//
// Stages are lowered from the last to the first, so that when a stage is lowered every consumer
// of it is already in the loop IR. Then
//   1. its region is fixed: the whole tensor (root) or, for compute_at, the box its consumers read
//      inside the chosen loop (bounds inference), shifted inwards to stay inside the tensor;
//   2. its buffer is chosen (argument, heap scratch, or a local allocation at the loop);
//   3. its loop nest is built from the leaf loops (splits resolved to index expressions; tails
//      guarded, or shifted inwards for pure stages), with the reduction init placed just before the
//      first reduction loop and a cache_write accumulator around its loop;
//   4. the nest is a new root nest, or is injected at the top of the consumer's loop (only the
//      consumer's root nest is searched).
// Finally every tensor read is flattened to a Load of its buffer, in one pass over all nests.
// Nothing here walks all stages or the whole loop IR once per stage: kernels have thousands of
// stages (bench/compile_time).
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "ir/visitor.h"
#include "passes/bounds.h"
#include "passes/lower_passes.h"
#include "passes/schedule_error.h"
#include "passes/schedule_state.h"
#include "passes/simplify.h"

namespace kcc {

namespace {

constexpr int64_t kMaxLocalBytes = 64 << 10;

struct Realization {
  Buffer buffer;
  std::vector<Expr> min;        ///< region origin per dimension
  std::vector<int64_t> width;   ///< region extent per dimension
  std::vector<int64_t> stride;  ///< element stride per dimension
};

Expr flat_index(const Realization &r, const std::vector<Expr> &idx, bool clamp) {
  Expr flat = make_int(0);
  for (size_t d = 0; d < idx.size(); ++d) {
    Expr i = idx[d];
    if (clamp) i = max(min(i, r.min[d] + (r.width[d] - 1)), r.min[d]);
    flat = flat + (i - r.min[d]) * r.stride[d];
  }
  return flat;
}

/// Reads of one tensor -> loads from its buffer. Indices inside select arms are clamped to the
/// region, because select evaluates both arms (the unselected one may index out of range).
/// Tensor reads -> Loads of the realized buffers (clamped inside select arms).
class FlattenReads : public IRMutator {
 public:
  explicit FlattenReads(const std::map<const TensorDecl *, Realization> &real) : real_(real) {}
  using IRMutator::mutate;

 protected:
  Expr mutate_node(const Select *op, const Expr &self) override {
    Expr c = mutate(op->cond);
    ++arm_depth_;
    Expr a = mutate(op->t), b = mutate(op->f);
    --arm_depth_;
    if (c.same_as(op->cond) && a.same_as(op->t) && b.same_as(op->f)) return self;
    return make_select(c, a, b);
  }
  Expr mutate_node(const Access *op, const Expr &self) override {
    Expr e = IRMutator::mutate_node(op, self);
    auto *a = e.as<Access>();
    auto r = real_.find(a->tensor.get());
    if (r == real_.end()) return e;
    return make_load(Type{a->tensor->elem, 1}, r->second.buffer, flat_index(r->second, a->indices, arm_depth_ > 0));
  }

 private:
  const std::map<const TensorDecl *, Realization> &real_;
  int arm_depth_ = 0;
};

/// Prepends `pre` to the body of the loop over `v` (wrapped by `alloc` when given).
class InjectAtLoop : public IRMutator {
 public:
  InjectAtLoop(const Variable *v, Stmt pre, Buffer alloc) : v_(v), pre_(std::move(pre)), alloc_(std::move(alloc)) {}
  using IRMutator::mutate;
  bool found = false;

 protected:
  Stmt mutate_node(const For *op, const Stmt &self) override {
    if (op->var.get() != v_) return IRMutator::mutate_node(op, self);
    found = true;
    Stmt body = make_seq({pre_, op->body});
    if (alloc_) body = make_allocate(alloc_, body);
    return make_for(op->var, op->min, op->extent, op->kind, body, op->thread_axis);
  }

 private:
  const Variable *v_;
  Stmt pre_;
  Buffer alloc_;
};

Expr combine(ReduceOp op, Expr acc, Expr v) {
  switch (op) {
    case ReduceOp::None: return v;
    case ReduceOp::Sum: return acc + v;
    case ReduceOp::Max: return max(acc, v);
    case ReduceOp::Min: return min(acc, v);
    case ReduceOp::Prod: return acc * v;
  }
  return v;
}

std::vector<int64_t> dense_strides(const std::vector<int64_t> &width,
                                   const std::vector<std::pair<int64_t, int64_t>> &align,
                                   const std::vector<int> &order) {
  std::vector<int64_t> stride(width.size());
  int64_t s = 1;
  for (size_t i = width.size(); i-- > 0;) {
    const size_t d = order.empty() ? i : static_cast<size_t>(order[i]);
    if (d < align.size() && align[d].first > 0) {
      int64_t f = align[d].first, o = align[d].second;
      while (s % f != o) ++s;
    }
    stride[d] = s;
    s *= width[d];
  }
  return stride;
}

/// Elements a buffer of these widths and strides spans: its outermost storage dimension's stride
/// times width (the largest such product; with reorder_storage that need not be dimension 0).
int64_t alloc_size(const std::vector<int64_t> &width, const std::vector<int64_t> &stride) {
  int64_t size = 1;
  for (size_t d = 0; d < width.size(); ++d) size = std::max(size, stride[d] * width[d]);
  return size;
}

/// What the lowering of one stage leaves for the lowering of its producers.
struct StageInfo {
  std::vector<int64_t> ext;     ///< per loop handle (leaves and interior loops)
  std::vector<Expr> value;      ///< per loop handle, in terms of leaf loop variables
  std::vector<Expr> axis_value; ///< per spatial axis: region min + value of the root loop
  std::vector<Expr> raxis_value;
  std::vector<Expr> guards;     ///< conditions for a point of the nest to be inside the domain
  std::vector<ForKind> kind;    ///< per loop handle: the schedule's kind, plus unroll_limit
  int64_t outer_copies = 1;     ///< copies of the whole nest made by unrolled consumer loops around it
};

class Lowerer {
 public:
  explicit Lowerer(const ScheduledKernel &sk) : sk_(sk), info_(sk.stages.size()), root_of_(sk.stages.size(), -1) {}

  LoweredFunc run() {
    LoweredFunc f;
    f.name = sk_.kernel->name;
    for (auto &t : sk_.inputs) f.args.push_back(realize_arg(t, static_cast<int>(f.args.size())));
    for (auto &t : sk_.outputs) f.args.push_back(realize_arg(t, static_cast<int>(f.args.size())));
    for (size_t xi = 0; xi < sk_.stages.size(); ++xi)
      for_each_expr(sk_.stages[xi].def.body, [&](const Expr &e) {
        if (auto *a = e.as<Access>()) {
          std::vector<size_t> &r = readers_[a->tensor.get()];
          if (r.empty() || r.back() != xi) r.push_back(xi);
        }
      });
    for (int si = static_cast<int>(sk_.stages.size()) - 1; si >= 0; --si) lower_stage(si);
    // Root nests were made last stage first.
    std::reverse(roots_.begin(), roots_.end());
    f.body = FlattenReads(real_).mutate(make_seq(roots_));
    for (auto it = root_allocs_.rbegin(); it != root_allocs_.rend(); ++it) f.body = make_allocate(*it, f.body);
    return f;
  }

 private:
  const ScheduledKernel &sk_;
  std::vector<StageInfo> info_;
  std::map<const TensorDecl *, Realization> real_;
  std::vector<Buffer> root_allocs_;
  std::map<const TensorDecl *, std::vector<size_t>> readers_;  ///< stages reading a tensor, ascending
  std::vector<Stmt> roots_;   ///< root loop nests, last stage's first
  std::vector<int> root_of_;  ///< per stage: its root nest in roots_ (-1 until lowered)

  [[noreturn]] void fail(const StepRef &step, ScheduleErrorKind k, const std::string &loop, const std::string &msg) {
    throw ScheduleError(k, step.index, step.primitive, step.loc, loop, msg);
  }

  /// The Global buffer of argument `index` (inputs, then outputs).
  Buffer realize_arg(const Tensor &t, int index) {
    Realization r;
    r.buffer = make_buffer(t->name, Type{t->elem, 1}, t->shape, MemScope::Global, index);
    r.width = t->shape;
    for (size_t d = 0; d < t->shape.size(); ++d) r.min.push_back(make_int(0));
    r.stride = dense_strides(r.width, {}, {});
    real_[t.get()] = r;
    return r.buffer;
  }

  bool is_arg(const TensorDecl *t) const {
    for (auto &x : sk_.inputs)
      if (x.get() == t) return true;
    for (auto &x : sk_.outputs)
      if (x.get() == t) return true;
    return false;
  }

  static int leaf_pos(const StageState &st, int loop) {
    auto it = std::find(st.leaves.begin(), st.leaves.end(), loop);
    return it == st.leaves.end() ? -1 : static_cast<int>(it - st.leaves.begin());
  }

  /// Ranges of the leaves of stage `ci` strictly inside leaf position `pos`.
  Scope inner_scope(int ci, int pos) const {
    const StageState &c = sk_.stages[ci];
    Scope s;
    for (size_t p = static_cast<size_t>(pos) + 1; p < c.leaves.size(); ++p) {
      int l = c.leaves[p];
      s[c.loops[l].var.get()] = Interval{make_int(0), make_int(info_[ci].ext[l] - 1)};
    }
    return s;
  }

  static void unite(Interval &acc, const Interval &x) {
    if (!acc.min.defined()) {
      acc = x;
      return;
    }
    acc.min = min(acc.min, x.min);
    acc.max = max(acc.max, x.max);
  }

  /// The box of stage `si` that its consumers read inside its compute_at loop.
  void compute_region(int si, std::vector<Expr> &rmin, std::vector<int64_t> &width) {
    const StageState &p = sk_.stages[si];
    const int ci = p.at_stage;
    const StageState &c = sk_.stages[ci];
    const int pos = leaf_pos(c, p.at_loop);
    const std::string where = fmt::format("'{}.{}'", c.name(), c.loops[p.at_loop].name);
    // Steps that replace a loop refuse one that a stage is computed at (check_not_held).
    KCC_INTERNAL(pos >= 0, "compute_at loop " + where + " of '" + p.name() + "' is not a leaf");
    Scope lift = inner_scope(ci, pos);
    if (p.shared_cache) {
      // Shared memory serves the whole thread block: the region covers every thread of the
      // consumer's thread-bound loops outside the compute_at loop too.
      for (int q = 0; q <= pos; ++q) {
        int l = c.leaves[q];
        if (info_[ci].kind[l] == ForKind::GpuThread)
          lift[c.loops[l].var.get()] = Interval{make_int(0), make_int(info_[ci].ext[l] - 1)};
      }
    }
    const size_t rank = p.def.axes.size();
    std::vector<Interval> box(rank);
    static const std::vector<size_t> kNone;
    auto readers = readers_.find(p.def.output.get());
    for (size_t xi : readers == readers_.end() ? kNone : readers->second) {
      const StageState &x = sk_.stages[xi];
      std::vector<const Access *> reads;
      for_each_expr(x.def.body, [&](const Expr &e) {
        if (auto *a = e.as<Access>())
          if (a->tensor == p.def.output) reads.push_back(a);
      });
      if (reads.empty()) continue;
      Scope scope;
      std::vector<std::pair<Var, Expr>> subst;
      if (static_cast<int>(xi) == ci) {
        for (size_t d = 0; d < x.def.axes.size(); ++d) subst.push_back({x.def.axes[d].var, info_[xi].axis_value[d]});
        for (size_t r = 0; r < x.def.raxes.size(); ++r)
          subst.push_back({x.def.raxes[r].var, info_[xi].raxis_value[r]});
      } else if (x.where == ComputeLoc::At && x.at_stage == ci && leaf_pos(c, x.at_loop) >= pos) {
        const Realization &xr = real_.at(x.def.output.get());
        for (size_t d = 0; d < x.def.axes.size(); ++d)
          scope[x.def.axes[d].var.get()] = Interval{xr.min[d], xr.min[d] + (xr.width[d] - 1)};
        for (auto &ra : x.def.raxes) scope[ra.var.get()] = Interval{make_int(0), make_int(ra.extent - 1)};
      } else {
        fail(p.where_step, ScheduleErrorKind::IllegalComputeLocation, c.loops[p.at_loop].name,
             fmt::format("cannot compute '{}' at {}: stage '{}' also reads it and is not computed inside that loop",
                         p.name(), where, x.name()));
      }
      for (auto *a : reads) {
        for (size_t d = 0; d < rank; ++d) {
          Expr idx = substitute(a->indices[d], subst);
          Interval in = bounds_of(idx, scope);
          if (!in.bounded()) fail(p.where_step, ScheduleErrorKind::IllegalComputeLocation, "", "unbounded access");
          Interval lo = bounds_of(in.min, lift), hi = bounds_of(in.max, lift);
          if (!lo.min.defined() || !hi.max.defined())
            fail(p.where_step, ScheduleErrorKind::IllegalComputeLocation, "", "unbounded access");
          unite(box[d], Interval{lo.min, hi.max});
        }
      }
    }
    rmin.clear();
    width.clear();
    for (size_t d = 0; d < rank; ++d) {
      int64_t dom = p.def.axes[d].extent;
      int64_t w = dom;
      Expr lo = make_int(0);
      if (box[d].bounded()) {
        Expr wexpr = simplify(box[d].max - box[d].min + 1);
        int64_t wc;
        if (is_const_int(wexpr, &wc) && wc > 0) {
          w = std::min(wc, dom);
          // Shift inwards: the box stays inside the tensor, its size stays constant.
          lo = simplify(max(min(box[d].min, make_int(dom - w)), make_int(0)));
        }
      }
      rmin.push_back(lo);
      width.push_back(w);
    }
  }

  Realization realize_stage(int si, const std::vector<Expr> &rmin, const std::vector<int64_t> &width) {
    const StageState &st = sk_.stages[si];
    const TensorDecl *t = st.def.output.get();
    if (is_arg(t)) return real_.at(t);
    Realization r;
    r.min = rmin;
    r.width = width;
    r.stride = dense_strides(width, st.storage_align, st.storage_order);
    int64_t size = alloc_size(width, r.stride);
    Type elem{t->elem, 1};
    bool local = st.where == ComputeLoc::At && size * elem.bytes() <= kMaxLocalBytes;
    MemScope scope = local ? MemScope::Local : MemScope::Global;
    if (st.where == ComputeLoc::At && st.shared_cache) scope = MemScope::Shared;
    r.buffer = make_buffer(t->name, elem, {size}, scope);
    real_[t] = r;
    return r;
  }

  /// Extents and index values of every loop of a stage, and its tail guards.
  void resolve_loops(int si, const std::vector<Expr> &rmin, const std::vector<int64_t> &width) {
    const StageState &st = sk_.stages[si];
    StageInfo &in = info_[si];
    const size_t n = st.loops.size();
    in.ext.assign(n, 0);
    in.value.assign(n, Expr());
    const size_t rank = st.def.axes.size();
    for (size_t d = 0; d < rank; ++d) in.ext[st.root_loops[d]] = width[d];
    for (size_t r = 0; r < st.def.raxes.size(); ++r) in.ext[st.root_loops[rank + r]] = st.def.raxes[r].extent;
    for (auto &rel : st.relations) {
      if (rel.kind == LoopRelation::Split) {
        in.ext[rel.outer] = (in.ext[rel.parent] + rel.factor - 1) / rel.factor;
        in.ext[rel.inner] = rel.factor;
      } else {
        in.ext[rel.fused] = in.ext[rel.outer] * in.ext[rel.inner];
      }
    }
    for (int l : st.leaves) in.value[l] = var(st.loops[l].var);
    in.guards.clear();
    const bool pure = !st.is_reduction();
    for (auto it = st.relations.rbegin(); it != st.relations.rend(); ++it) {
      const LoopRelation &rel = *it;
      if (rel.kind == LoopRelation::Split) {
        int64_t pe = in.ext[rel.parent], f = rel.factor;
        Expr outer = in.value[rel.outer], inner = in.value[rel.inner];
        if (pe % f == 0) {
          in.value[rel.parent] = outer * f + inner;
        } else if (pure && pe >= f) {
          in.value[rel.parent] = min(outer * f, make_int(pe - f)) + inner;
        } else {
          in.value[rel.parent] = outer * f + inner;
          in.guards.push_back(in.value[rel.parent] < make_int(pe));
        }
      } else {
        int64_t ie = in.ext[rel.inner];
        in.value[rel.outer] = in.value[rel.fused] / ie;
        in.value[rel.inner] = in.value[rel.fused] % ie;
      }
    }
    in.axis_value.clear();
    in.raxis_value.clear();
    for (size_t d = 0; d < rank; ++d) in.axis_value.push_back(simplify(rmin[d] + in.value[st.root_loops[d]]));
    for (size_t r = 0; r < st.def.raxes.size(); ++r) in.raxis_value.push_back(in.value[st.root_loops[rank + r]]);
    for (auto &g : in.guards) g = simplify(g);
  }

  /// Index of a point of the stage's nest into `r` (relative to the region origin).
  Expr store_index(int si, const Realization &r, const std::vector<std::pair<Var, Expr>> &rename) const {
    const StageState &st = sk_.stages[si];
    std::vector<Expr> idx;
    for (size_t d = 0; d < st.def.axes.size(); ++d) idx.push_back(substitute(info_[si].axis_value[d], rename));
    return flat_index(r, idx, false);
  }

  Expr guard_of(int si, const std::vector<std::pair<Var, Expr>> &rename, bool spatial_only) const {
    const StageState &st = sk_.stages[si];
    Expr g;
    for (auto &c : info_[si].guards) {
      if (spatial_only) {
        bool uses_reduce = false;
        for (auto &l : st.loops)
          if (l.reduce && uses_var(c, l.var)) uses_reduce = true;
        if (uses_reduce) continue;
      }
      Expr cc = substitute(c, rename);
      g = g.defined() ? (g && cc) : cc;
    }
    return g;
  }

  static Stmt guarded(Expr g, Stmt s) { return g.defined() ? make_if(g, s) : s; }

  /// A copy of the spatial leaves at positions [from, end) with fresh variables around `make(rename)`.
  Stmt spatial_copy(int si, size_t from, const std::function<Stmt(const std::vector<std::pair<Var, Expr>> &)> &make) {
    const StageState &st = sk_.stages[si];
    std::vector<std::pair<Var, Expr>> rename;
    std::vector<std::pair<int, Var>> loops;
    for (size_t p = from; p < st.leaves.size(); ++p) {
      int l = st.leaves[p];
      if (st.loops[l].reduce) continue;
      Var nv = make_var(st.loops[l].name);
      rename.push_back({st.loops[l].var, var(nv)});
      loops.push_back({l, nv});
    }
    Stmt s = make(rename);
    for (auto it = loops.rbegin(); it != loops.rend(); ++it) {
      ForKind k = info_[si].kind[it->first];
      if (k == ForKind::Parallel) k = ForKind::Serial;
      s = make_for(it->second, make_int(0), make_int(info_[si].ext[it->first]), k, s);
    }
    return s;
  }

  /// The Prefetch statements of stage `si`'s `prefetch` steps, by the leaf position whose loop
  /// body they open. For each distinct read of the tensor in `value` (the body in leaf loop
  /// variables): the read with the step's loop l advanced by its distance (clamped to l's last
  /// iteration), placed in the innermost serial loop inside l that the read's index depends on
  /// (so it is not repeated by unrolled copies that read the same line); unrolled loops inside
  /// that it depends on get loops of their own around it, a vectorized one is taken at lane 0
  /// (its lanes share lines).
  std::map<int, std::vector<Stmt>> prefetch_stmts(int si, const Expr &value) {
    const StageState &st = sk_.stages[si];
    const StageInfo &in = info_[si];
    std::map<int, std::vector<Stmt>> out;
    for (const StageState::PrefetchRequest &req : st.prefetches) {
      const int pl = leaf_pos(st, req.loop);
      KCC_INTERNAL(pl >= 0, "prefetch loop of '" + st.name() + "' is not a leaf");
      std::vector<std::vector<Expr>> reads;
      std::set<std::string> seen;
      Tensor t;
      for_each_expr(value, [&](const Expr &e) {
        auto *a = e.as<Access>();
        if (!a || a->tensor->name != req.tensor) return;
        t = a->tensor;
        std::string key;
        for (auto &i : a->indices) key += to_string(i) + ",";
        if (seen.insert(key).second) reads.push_back(a->indices);
      });
      if (reads.empty())
        fail(req.step, ScheduleErrorKind::IllegalCache, st.loops[req.loop].name,
             fmt::format("prefetch of '{}' at '{}': stage '{}' no longer reads it (a later cache_read or inline "
                         "replaced the read)",
                         req.tensor, st.loops[req.loop].name, st.name()));
      const Var lv = st.loops[req.loop].var;
      const Expr ahead = min(var(lv) + make_int(req.distance), make_int(in.ext[req.loop] - 1));
      for (const std::vector<Expr> &idx : reads) {
        auto uses = [&](int l) {
          for (auto &i : idx)
            if (uses_var(i, st.loops[l].var)) return true;
          return false;
        };
        int anchor = pl;
        for (size_t p = static_cast<size_t>(pl) + 1; p < st.leaves.size(); ++p) {
          const int l = st.leaves[p];
          if (uses(l) && (in.kind[l] == ForKind::Serial || in.kind[l] == ForKind::Parallel)) anchor = static_cast<int>(p);
        }
        std::vector<std::pair<Var, Expr>> subst = {{lv, ahead}};
        // Spread: the loops between l and the anchor that the read does not depend on (a row
        // loop around a reduction) would repeat every prefetch, all in their first iteration.
        // Instead the position in all of them, pos of n iterations, walks the j positions of
        // the ones it depends on once: q = pos * j / n, decomposed into those loops' indices,
        // issued only at the first position of each q (pos * j % n < j).
        Expr first_of_q;
        {
          Expr pos = make_int(0);
          int64_t n = 1, j = 1;
          for (int p = pl + 1; p <= anchor; ++p) {
            const int l = st.leaves[static_cast<size_t>(p)];
            pos = pos * make_int(in.ext[l]) + var(st.loops[l].var);
            n *= in.ext[l];
            if (uses(l)) j *= in.ext[l];
          }
          if (j < n) {
            Expr q = (pos * make_int(j)) / make_int(n);
            first_of_q = simplify((pos * make_int(j)) % make_int(n) < make_int(j));
            int64_t inner = 1;
            for (int p = anchor; p > pl; --p) {
              const int l = st.leaves[static_cast<size_t>(p)];
              if (!uses(l)) continue;
              subst.push_back({st.loops[l].var, (q / make_int(inner)) % make_int(in.ext[l])});
              inner *= in.ext[l];
            }
          }
        }
        std::vector<std::pair<Var, int64_t>> own_loops;  // unrolled loops inside the anchor, outer first
        for (size_t p = static_cast<size_t>(anchor) + 1; p < st.leaves.size(); ++p) {
          const int l = st.leaves[p];
          if (!uses(l)) continue;
          if (in.kind[l] == ForKind::Vectorized) {
            subst.push_back({st.loops[l].var, make_int(0)});
          } else {
            Var nv = make_var(st.loops[l].name);
            subst.push_back({st.loops[l].var, var(nv)});
            own_loops.push_back({nv, in.ext[l]});
          }
        }
        std::vector<Expr> at;
        for (auto &i : idx) at.push_back(simplify(substitute(i, subst)));
        Stmt s = make_prefetch(make_access(t, at));
        for (auto it = own_loops.rbegin(); it != own_loops.rend(); ++it)
          s = make_for(it->first, make_int(0), make_int(it->second), ForKind::Unrolled, s);
        out[anchor].push_back(first_of_q.defined() ? make_if(first_of_q, s) : s);
      }
    }
    return out;
  }

  Stmt build_nest(int si, const Realization &r) {
    const StageState &st = sk_.stages[si];
    const StageInfo &in = info_[si];
    Type elem{st.def.output->elem, 1};
    std::vector<std::pair<Var, Expr>> axis_subst;
    for (size_t d = 0; d < st.def.axes.size(); ++d) axis_subst.push_back({st.def.axes[d].var, in.axis_value[d]});
    for (size_t q = 0; q < st.def.raxes.size(); ++q) axis_subst.push_back({st.def.raxes[q].var, in.raxis_value[q]});
    Expr value = substitute(st.def.body, axis_subst);
    const Expr ident = reduce_identity(st.def.reduce, elem);

    // Positions: first reduction leaf, cache_write loop.
    int first_reduce = -1;
    for (size_t p = 0; p < st.leaves.size(); ++p)
      if (st.loops[st.leaves[p]].reduce && first_reduce < 0) first_reduce = static_cast<int>(p);
    int cw = st.cache_write ? leaf_pos(st, st.cache_write_loop) : -1;
    // Steps that replace a loop refuse the one holding the cache_write (check_not_held).
    KCC_INTERNAL(!st.cache_write || cw >= 0, "cache_write loop of '" + st.name() + "' is not a leaf");
    const bool reduce_outside_cache = cw >= 0 && first_reduce >= 0 && first_reduce <= cw;

    // The local accumulator of cache_write: the spatial box of the stage inside its loop.
    Realization local;
    if (cw >= 0) {
      Scope sc;
      for (size_t p = static_cast<size_t>(cw) + 1; p < st.leaves.size(); ++p) {
        int l = st.leaves[p];
        sc[st.loops[l].var.get()] = Interval{make_int(0), make_int(in.ext[l] - 1)};
      }
      for (size_t d = 0; d < st.def.axes.size(); ++d) {
        Expr v = in.axis_value[d];
        Interval b = bounds_of(v, sc);
        int64_t w;
        Expr we = b.bounded() ? simplify(b.max - b.min + 1) : Expr();
        if (!we.defined() || !is_const_int(we, &w) || w <= 0)
          fail(st.cache_write_step, ScheduleErrorKind::IllegalCache, st.loops[st.cache_write_loop].name,
               fmt::format("cache_write of '{}' at '{}': the tile of axis '{}' does not have a constant size",
                           st.name(), st.loops[st.cache_write_loop].name, st.def.axes[d].var->name));
        local.min.push_back(b.min);
        local.width.push_back(w);
      }
      local.stride = dense_strides(local.width, {}, {});
      int64_t size = alloc_size(local.width, local.stride);
      MemScope scope = st.cache_write_scope == CacheScope::Shared ? MemScope::Shared : MemScope::Local;
      if (scope == MemScope::Local && size * elem.bytes() > kMaxLocalBytes) scope = MemScope::Global;
      local.buffer = make_buffer(st.name() + "_local", elem, {size}, scope);
    }

    // The innermost statement: update or definition, into the accumulator or the buffer.
    const Realization &target = cw >= 0 ? local : r;
    Expr idx = store_index(si, target, {});
    Expr v = value;
    if (st.is_reduction()) v = combine(st.def.reduce, make_load(elem, target.buffer, idx), value);
    Stmt s = guarded(guard_of(si, {}, false), make_store(target.buffer, idx, v));
    std::map<int, std::vector<Stmt>> prefetches = prefetch_stmts(si, value);

    for (int p = static_cast<int>(st.leaves.size()) - 1; p >= 0; --p) {
      int l = st.leaves[p];
      const LoopInfo &li = st.loops[l];
      if (auto pf = prefetches.find(p); pf != prefetches.end()) {
        std::vector<Stmt> body = pf->second;
        body.push_back(s);
        s = make_seq(std::move(body));
      }
      if (p == cw) {
        // s is the nest inside the cache_write loop: fill the accumulator, run, write back.
        Stmt fill;
        if (st.is_reduction()) {
          fill = spatial_copy(si, static_cast<size_t>(cw) + 1, [&](const auto &rename) {
            Expr li_idx = store_index(si, local, rename);
            if (!reduce_outside_cache) return make_store(local.buffer, li_idx, ident);
            return guarded(guard_of(si, rename, true),
                           make_store(local.buffer, li_idx, make_load(elem, r.buffer, store_index(si, r, rename))));
          });
        }
        Stmt back = spatial_copy(si, static_cast<size_t>(cw) + 1, [&](const auto &rename) {
          return guarded(guard_of(si, rename, true),
                         make_store(r.buffer, store_index(si, r, rename),
                                    make_load(elem, local.buffer, store_index(si, local, rename))));
        });
        s = make_allocate(local.buffer, make_seq({fill, s, back}));
      }
      Stmt loop = make_for(li.var, make_int(0), make_int(in.ext[l]), in.kind[l], s, li.thread_axis);
      if (p == first_reduce && (cw < 0 || reduce_outside_cache)) {
        // Reduction init: the spatial loops inside the first reduction loop, before it.
        Stmt init = spatial_copy(si, static_cast<size_t>(p) + 1, [&](const auto &rename) {
          return guarded(guard_of(si, rename, true),
                         make_store(r.buffer, store_index(si, r, rename), ident));
        });
        s = make_seq({init, loop});
      } else {
        s = loop;
      }
    }
    if (st.leaves.empty()) KCC_INTERNAL(false, "stage without loops");
    if (first_reduce < 0 && st.is_reduction()) KCC_INTERNAL(false, "reduction without reduction loops");
    return s;
  }

  void auto_unroll(int si) {
    // unroll_limit: mark innermost serial loops for unrolling while the product of extents fits.
    const StageState &st = sk_.stages[si];
    std::vector<ForKind> &kind = info_[si].kind;
    kind.clear();
    for (auto &l : st.loops) kind.push_back(l.kind);
    if (st.unroll_limit <= 0) return;
    int64_t prod = 1;
    for (int p = static_cast<int>(st.leaves.size()) - 1; p >= 0; --p) {
      int l = st.leaves[p];
      if (kind[l] == ForKind::Vectorized) continue;
      if (kind[l] != ForKind::Serial && kind[l] != ForKind::Unrolled) break;
      prod *= info_[si].ext[l];
      if (prod > st.unroll_limit) break;
      kind[l] = ForKind::Unrolled;
    }
  }

  /// Refuses unrolling into more than kMaxUnrolledCopies copies of a body, counting the unrolled
  /// loops of the consumers around a computed-at stage. Blames the step that unrolled the loop
  /// crossing the limit (`unroll`, else the stage's `unroll_limit`).
  void check_unroll_copies(int si) {
    const StageState &st = sk_.stages[si];
    StageInfo &in = info_[si];
    in.outer_copies = 1;
    if (st.where == ComputeLoc::At) {
      const StageState &c = sk_.stages[st.at_stage];
      const StageInfo &ci = info_[st.at_stage];
      in.outer_copies = ci.outer_copies;
      for (int l : c.leaves) {
        if (ci.kind[l] == ForKind::Unrolled) in.outer_copies *= ci.ext[l];
        if (l == st.at_loop) break;
      }
    }
    int64_t copies = in.outer_copies;
    for (int l : st.leaves) {
      if (in.kind[l] != ForKind::Unrolled) continue;
      bool overflow = __builtin_mul_overflow(copies, in.ext[l], &copies);
      if (!overflow && copies <= kMaxUnrolledCopies) continue;
      const LoopInfo &li = st.loops[l];
      auto step = st.unroll_steps.find(l);
      fail(step != st.unroll_steps.end() ? step->second : st.unroll_limit_step, ScheduleErrorKind::LimitExceeded, li.name,
           fmt::format("unrolling loop '{}' of stage '{}' would make {} copies of its body{}; kcc unrolls at most {}",
                       li.name, st.name(), overflow ? std::string("too many") : std::to_string(copies),
                       in.outer_copies > 1 ? " (with the unrolled loops around it)" : "", kMaxUnrolledCopies));
    }
  }

  void lower_stage(int si) {
    const StageState &st = sk_.stages[si];
    std::vector<Expr> rmin;
    std::vector<int64_t> width;
    if (st.where == ComputeLoc::At) {
      compute_region(si, rmin, width);
    } else {
      for (auto &a : st.def.axes) {
        rmin.push_back(make_int(0));
        width.push_back(a.extent);
      }
    }
    Realization r = realize_stage(si, rmin, width);
    resolve_loops(si, r.min, r.width);
    auto_unroll(si);
    check_unroll_copies(si);
    Stmt nest = build_nest(si, r);
    // A block-wide fetch into shared memory: every thread waits until the block has finished
    // reading the previous tile, and until the whole new tile is written.
    if (r.buffer->scope == MemScope::Shared) nest = make_seq({make_barrier(), nest, make_barrier()});
    if (st.where == ComputeLoc::At) {
      const StageState &c = sk_.stages[st.at_stage];
      InjectAtLoop inj(c.loops[st.at_loop].var.get(), nest,
                       is_arg(st.def.output.get()) ? Buffer() : r.buffer);
      root_of_[si] = root_of_[st.at_stage];
      KCC_INTERNAL(root_of_[si] >= 0, "compute_at consumer '" + c.name() + "' lowered after its producer");
      Stmt &root = roots_[static_cast<size_t>(root_of_[si])];
      root = inj.mutate(root);
      KCC_INTERNAL(inj.found, "compute_at loop not found in the consumer's nest");
    } else {
      root_of_[si] = static_cast<int>(roots_.size());
      roots_.push_back(nest);
      if (!is_arg(st.def.output.get())) root_allocs_.push_back(r.buffer);
    }
  }
};

}  // namespace

LoweredFunc lower_scheduled(const ScheduledKernel &sk) {
  if (sk.target.is_gpu()) check_gpu_schedule(sk);
  Lowerer l(sk);
  return l.run();
}

}  // namespace kcc
