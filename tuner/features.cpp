// tuner/features.cpp - per-store features from the loop IR.
#include "tuner/features.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "ir/visitor.h"
#include "passes/simplify.h"

namespace kcc::tuner {

namespace {

float lg(double x) { return static_cast<float>(std::log2(1.0 + std::max(0.0, x))); }

struct LoopCtx {
  Var var;
  double extent;
  ForKind kind;
};

struct Counts {
  double fadd = 0, fmul = 0, fdiv = 0, math = 0, iarith = 0, cmp = 0, loads = 0;
};

struct Access {
  Buffer buffer;
  Expr index;
  int lanes = 1;
};

void count_expr(const Expr &e, Counts &c, std::vector<Access> &acc) {
  for_each_expr(e, [&](const Expr &x) {
    const int lanes = x.type().lanes;
    switch (x.kind()) {
      case ExprKind::Binary: {
        auto *b = x.as<Binary>();
        bool fl = b->a.type().is_float();
        switch (b->op) {
          case BinOp::Add:
          case BinOp::Sub:
          case BinOp::Min:
          case BinOp::Max: (fl ? c.fadd : c.iarith) += lanes; break;
          case BinOp::Mul: (fl ? c.fmul : c.iarith) += lanes; break;
          case BinOp::Div:
          case BinOp::Mod: (fl ? c.fdiv : c.iarith) += lanes; break;
          case BinOp::EQ:
          case BinOp::NE:
          case BinOp::LT:
          case BinOp::LE:
          case BinOp::GT:
          case BinOp::GE:
          case BinOp::And:
          case BinOp::Or: c.cmp += lanes; break;
        }
        break;
      }
      case ExprKind::Select: c.cmp += lanes; break;
      case ExprKind::Call: c.math += lanes; break;
      case ExprKind::Load: {
        auto *l = x.as<Load>();
        c.loads += 1;
        acc.push_back({l->buffer, l->index, lanes});
        break;
      }
      case ExprKind::IntImm:
      case ExprKind::FloatImm:
      case ExprKind::Variable:
      case ExprKind::Cast:
      case ExprKind::Unary:
      case ExprKind::Access:
      case ExprKind::Ramp:
      case ExprKind::Broadcast: break;
    }
  });
}

/// How `e` changes when `v` grows by one, when `e` is affine in `v` through + - and * by a
/// constant, as lowered indices are: sets *d, true. False when `v` sits anywhere else (under /
/// %, min, max, a load, a cast): stride_of asks the simplifier then. The walk gives what
/// simplify(e[v+1] - e) gives on these, at a fraction of its cost (features are extracted for
/// every candidate the search ranks).
bool affine_stride(const Expr &e, const Var &v, int64_t *d) {
  if (auto *x = e.as<Variable>()) {
    *d = x == v.get();
    return true;
  }
  if (e.as<IntImm>()) {
    *d = 0;
    return true;
  }
  if (auto *b = e.as<Binary>()) {
    int64_t da = 0, db = 0, c = 0;
    if (b->op == BinOp::Add || b->op == BinOp::Sub) {
      if (!affine_stride(b->a, v, &da) || !affine_stride(b->b, v, &db)) return false;
      *d = b->op == BinOp::Add ? da + db : da - db;
      return true;
    }
    if (b->op == BinOp::Mul) {
      if (is_const_int(b->b, &c) && affine_stride(b->a, v, &da)) {
        *d = da * c;
        return true;
      }
      if (is_const_int(b->a, &c) && affine_stride(b->b, v, &db)) {
        *d = db * c;
        return true;
      }
    }
  }
  if (uses_var(e, v)) return false;
  *d = 0;
  return true;
}

/// The change of `index` when `v` grows by one, if constant; else a large stride.
double stride_of(const Expr &index, const Var &v) {
  if (!v) return 0;
  Expr base = index;
  if (auto *r = index.as<Ramp>()) base = r->base;
  if (!uses_var(base, v)) return 0;
  if (int64_t a = 0; affine_stride(base, v, &a)) return static_cast<double>(std::llabs(a));
  Expr next = substitute(base, {{v, var(v) + 1}});
  int64_t d = 0;
  if (is_const_int(simplify(next - base), &d)) return static_cast<double>(std::llabs(d));
  return 1 << 20;
}

class Extractor : public IRVisitor {
 public:
  std::vector<std::vector<float>> rows;
  double local_bytes = 0;
  int loops = 0, stores = 0;

 protected:
  void visit_node(const For *op) override {
    int64_t e = 0;
    double ext = is_const_int(op->extent, &e) ? static_cast<double>(e) : 8.0;
    ++loops;
    stack_.push_back({op->var, ext, op->kind});
    IRVisitor::visit_node(op);
    stack_.pop_back();
  }
  void visit_node(const Allocate *op) override {
    if (op->buffer->scope != MemScope::Global) local_bytes += static_cast<double>(op->buffer->size * op->buffer->elem.bytes());
    IRVisitor::visit_node(op);
  }
  void visit_node(const IfThenElse *op) override {
    ++guards_;
    IRVisitor::visit_node(op);
    --guards_;
  }
  void visit_node(const Store *op) override {
    ++stores;
    Counts c;
    std::vector<Access> acc;
    count_expr(op->value, c, acc);
    double iters = 1, par = 1, inner = 1;
    int npar = 0;
    Var innermost;
    for (auto &l : stack_) {
      iters *= l.extent;
      if (l.kind == ForKind::Parallel || l.kind == ForKind::GpuBlock) par *= l.extent, ++npar;
    }
    if (!stack_.empty()) inner = stack_.back().extent, innermost = stack_.back().var;
    const int lanes = op->value.type().lanes;
    std::vector<float> f(kFeatureCount, 0.f);
    f[0] = lg(c.fadd);
    f[1] = lg(c.fmul);
    f[2] = lg(c.fdiv);
    f[3] = lg(c.math);
    f[4] = lg(c.iarith);
    f[5] = lg(c.cmp);
    f[6] = lg(c.loads);
    f[7] = lg((c.fadd + c.fmul + c.fdiv + c.math) * iters);
    f[8] = lg(iters);
    f[9] = static_cast<float>(stack_.size());
    f[10] = lg(inner);
    f[11] = static_cast<float>(lanes);
    f[12] = lg(par);
    f[13] = static_cast<float>(npar);
    f[14] = op->buffer->scope != MemScope::Global;
    f[15] = op->buffer->scope == MemScope::Global;
    f[16] = 0;  // filled at the end (function-wide)
    // Buffers read: bytes touched over the nest, unique bytes, innermost stride, reuse.
    std::map<const BufferNode *, std::array<double, 5>> per;
    for (auto &a : acc) {
      auto &p = per[a.buffer.get()];
      double bytes = iters * a.lanes * a.buffer->elem.bytes();
      p[0] += bytes;
      p[1] = static_cast<double>(a.buffer->size * a.buffer->elem.bytes());
      p[2] = std::max(p[2], stride_of(a.index, innermost));
      p[4] = std::max(p[4], a.lanes > 1 ? 1.0 : 0.0);
    }
    std::vector<std::array<double, 5>> bufs;
    for (auto &[b, p] : per) {
      auto q = p;
      q[3] = q[1] > 0 ? q[0] / q[1] : 0;
      bufs.push_back(q);
    }
    // Most bytes first; ties by the other columns, never by the map's order (buffer addresses:
    // the same candidate lowered twice, or on another thread, gave other rows).
    std::sort(bufs.begin(), bufs.end(), [](auto &a, auto &b) { return a > b; });
    for (size_t i = 0; i < bufs.size() && i < 3; ++i)
      for (int j = 0; j < 5; ++j) f[17 + i * 5 + j] = j == 4 ? static_cast<float>(bufs[i][j]) : lg(bufs[i][j]);
    f[34] = static_cast<float>(guards_);
    f[35] = lg(stride_of(op->index, innermost));
    rows.push_back(std::move(f));
    IRVisitor::visit_node(op);
  }

 private:
  std::vector<LoopCtx> stack_;
  int guards_ = 0;
};

}  // namespace

std::vector<std::vector<float>> extract_features(const LoweredFunc &f, const Target &t) {
  Extractor x;
  x.visit(f.body);
  if (x.rows.empty()) x.rows.push_back(std::vector<float>(kFeatureCount, 0.f));
  for (auto &r : x.rows) {
    r[16] = lg(x.local_bytes);
    r[32] = static_cast<float>(x.stores);
    r[33] = static_cast<float>(x.loops);
  }
  return x.rows;
}

}  // namespace kcc::tuner
