// ir/workload.cpp - workload keys and the renaming of schedules between spellings of one workload.
//
// Why the workload text is written here rather than taken from the .ir printer: the key must
// stay stable while the printer's layout evolves (a key change orphans every database record
// and registry entry), so it depends only on the kernel's structure, spelled in a private,
// versioned form ("kcc-workload-1").
#include "ir/workload.h"

#include <fmt/format.h>

#include <cstdint>
#include <map>
#include <sstream>
#include <unordered_map>
#include <variant>

#include "ir/diag.h"
#include "ir/schedule.h"
#include "ir/stmt.h"

namespace kcc {

namespace {

// ---------------------------------------------------------------- workload text

/// Canonical names: tensors t0.. in order of appearance, index variables v0.. per stage.
class WorkloadPrinter {
 public:
  explicit WorkloadPrinter(const Kernel &k) : k_(k) {}

  std::string print() {
    std::ostringstream os;
    os << "kcc-workload-1\n";
    for (auto &t : k_.inputs) os << "in " << tensor_name(t) << " " << tensor_type(*t) << "\n";
    for (auto &s : k_.stages) {
      vars_.clear();
      int nv = 0;
      os << "stage " << tensor_name(s.output) << " " << tensor_type(*s.output) << " "
         << to_string(s.output->role) << " [";
      for (size_t i = 0; i < s.axes.size(); ++i) {
        vars_[s.axes[i].var.get()] = fmt::format("v{}", nv++);
        os << (i ? ", " : "") << vars_[s.axes[i].var.get()] << ":" << s.axes[i].extent;
      }
      os << "] " << (s.reduce == ReduceOp::None ? "none" : to_string(s.reduce)) << " [";
      for (size_t i = 0; i < s.raxes.size(); ++i) {
        vars_[s.raxes[i].var.get()] = fmt::format("v{}", nv++);
        os << (i ? ", " : "") << vars_[s.raxes[i].var.get()] << ":" << s.raxes[i].extent;
      }
      os << "] = ";
      expr(os, s.body);
      os << "\n";
    }
    os << "outputs";
    for (auto &t : k_.outputs) os << " " << tensor_name(t);
    os << "\n";
    // Inputs that are a model's weights are timed cold (tuner/measure.h): records of one
    // workload measured hot and cold must not mix. Nothing is added for other kernels, so
    // their keys are what they were.
    if (!k_.weight_inputs.empty()) {
      os << "weights";
      for (int i : k_.weight_inputs) os << " " << tensor_name(k_.inputs[static_cast<size_t>(i)]);
      os << "\n";
    }
    return os.str();
  }

 private:
  static std::string tensor_type(const TensorDecl &t) {
    std::string s = to_string(t.elem) + "[";
    for (size_t i = 0; i < t.shape.size(); ++i) s += (i ? "," : "") + std::to_string(t.shape[i]);
    return s + "]";
  }

  std::string tensor_name(const Tensor &t) {
    auto it = tensors_.find(t.get());
    if (it != tensors_.end()) return it->second;
    // Outputs are declared once in the signature and again by their stage; match by name so
    // that both spellings of one tensor get one canonical name.
    auto by_name = tensor_names_.find(t->name);
    if (by_name != tensor_names_.end()) return tensors_[t.get()] = by_name->second;
    std::string n = fmt::format("t{}", tensors_.size());
    tensor_names_[t->name] = n;
    return tensors_[t.get()] = n;
  }

  void list(std::ostream &os, const std::vector<Expr> &v) {
    for (size_t i = 0; i < v.size(); ++i) {
      if (i) os << ", ";
      expr(os, v[i]);
    }
  }

  void expr(std::ostream &os, const Expr &e) {
    if (!e.defined()) {
      os << "undef";
      return;
    }
    switch (e.kind()) {
      case ExprKind::IntImm: os << to_string(e.type()) << ":" << e.as<IntImm>()->value; return;
      case ExprKind::FloatImm:
        os << to_string(e.type()) << ":" << format_float(e.as<FloatImm>()->value);
        return;
      case ExprKind::Variable: {
        auto it = vars_.find(e.get());
        // A variable that is no axis of the stage cannot come from the checker; keep its name
        // so that such kernels still get distinct keys.
        os << (it != vars_.end() ? it->second : "free:" + e.as<Variable>()->name);
        return;
      }
      case ExprKind::Cast:
        os << "cast<" << to_string(e.type()) << ">(";
        expr(os, e.as<Cast>()->value);
        os << ")";
        return;
      case ExprKind::Unary:
        os << (e.as<Unary>()->op == UnOp::Neg ? "neg(" : "not(");
        expr(os, e.as<Unary>()->a);
        os << ")";
        return;
      case ExprKind::Binary: {
        auto *b = e.as<Binary>();
        os << "(";
        expr(os, b->a);
        os << " " << spelling(b->op) << " ";
        expr(os, b->b);
        os << ")";
        return;
      }
      case ExprKind::Select: {
        auto *s = e.as<Select>();
        os << "select(";
        list(os, {s->cond, s->t, s->f});
        os << ")";
        return;
      }
      case ExprKind::Call:
        os << to_string(e.as<Call>()->fn) << "(";
        list(os, e.as<Call>()->args);
        os << ")";
        return;
      case ExprKind::Access:
        os << tensor_name(e.as<Access>()->tensor) << "[";
        list(os, e.as<Access>()->indices);
        os << "]";
        return;
      // Loop-IR nodes never occur in kernel definitions; spelled out for completeness.
      case ExprKind::Load:
        os << "load:" << e.as<Load>()->buffer->name << "[";
        expr(os, e.as<Load>()->index);
        os << "]";
        return;
      case ExprKind::Ramp: {
        auto *r = e.as<Ramp>();
        os << "ramp(";
        list(os, {r->base, r->stride});
        os << ", " << r->lanes << ")";
        return;
      }
      case ExprKind::Broadcast:
        os << "x" << e.as<Broadcast>()->lanes << "(";
        expr(os, e.as<Broadcast>()->value);
        os << ")";
        return;
    }
  }

  const Kernel &k_;
  std::unordered_map<const TensorDecl *, std::string> tensors_;
  std::unordered_map<std::string, std::string> tensor_names_;
  std::unordered_map<const ExprNode *, std::string> vars_;
};

std::string fnv1a_128_hex(const std::string &s) {
  using u128 = unsigned __int128;
  const u128 prime = (static_cast<u128>(1) << 88) + 0x13b;
  u128 h = (static_cast<u128>(0x6c62272e07bb0142ULL) << 64) | 0x62b821756295c58dULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= prime;
  }
  return fmt::format("{:016x}{:016x}", static_cast<uint64_t>(h >> 64), static_cast<uint64_t>(h));
}


// ---------------------------------------------------------------- schedule renaming

/// Renames the tensor, stage and axis names of a schedule recorded for another spelling of the
/// same workload. Names the map does not know (results of split, fuse, cache_read, ...) stay.
class ScheduleRenamer {
 public:
  ScheduleRenamer(const Kernel &k, const std::vector<std::string> &old_names) {
    std::vector<std::string> now = workload_names(k);
    size_t ntensors = k.inputs.size() + k.stages.size();
    for (size_t i = 0; i < ntensors && i < old_names.size(); ++i) tensors_[old_names[i]] = now[i];
    size_t at = ntensors;
    for (size_t si = 0; si < k.stages.size(); ++si) {
      const Stage &s = k.stages[si];
      auto &axes = axes_[old_names[k.inputs.size() + si]];
      for (size_t i = 0; i < s.axes.size() + s.raxes.size() && at < old_names.size(); ++i, ++at)
        axes[old_names[at]] = now[at];
    }
  }

  void rename(Schedule &s) {
    for (Step &step : s.steps) std::visit([&](auto &x) { apply(x); }, step.kind);
  }

 private:
  std::string tensor(const std::string &n) const {
    auto it = tensors_.find(n);
    return it == tensors_.end() ? n : it->second;
  }
  void loop(LoopName &l, const std::string &stage) const {
    const std::string &st = l.stage.empty() ? stage : l.stage;
    auto s = axes_.find(st);
    if (s != axes_.end()) {
      auto a = s->second.find(l.loop);
      if (a != s->second.end()) l.loop = a->second;
    }
    if (!l.stage.empty()) l.stage = tensor(l.stage);
  }
  void apply(SplitStep &x) { loop(x.loop, ""); }
  void apply(TileStep &x) {
    std::string stage = x.x.stage;  // the old name: y may leave its stage implied
    loop(x.x, "");
    loop(x.y, stage);
  }
  void apply(ReorderStep &x) {
    for (auto &l : x.order) loop(l, x.stage);
    x.stage = tensor(x.stage);
  }
  void apply(FuseStep &x) {
    for (auto &l : x.loops) loop(l, x.stage);
    x.stage = tensor(x.stage);
  }
  void apply(AnnotateStep &x) { loop(x.loop, ""); }
  void apply(UnrollLimitStep &x) { x.stage = tensor(x.stage); }
  void apply(BindStep &x) { loop(x.loop, ""); }
  void apply(ComputeStep &x) {
    x.stage = tensor(x.stage);
    loop(x.at, "");
  }
  void apply(CacheReadStep &x) {
    x.tensor = tensor(x.tensor);
    loop(x.at, "");
  }
  void apply(CacheWriteStep &x) {
    loop(x.at, x.stage);
    x.stage = tensor(x.stage);
  }
  void apply(RfactorStep &x) { loop(x.loop, ""); }
  void apply(StorageAlignStep &x) { loop(x.axis, ""); }
  void apply(ReorderStorageStep &x) {
    for (auto &l : x.axes) loop(l, x.stage);
    x.stage = tensor(x.stage);
  }
  void apply(PrefetchStep &x) {
    x.tensor = tensor(x.tensor);
    loop(x.at, "");
  }

  std::map<std::string, std::string> tensors_;
  std::map<std::string, std::map<std::string, std::string>> axes_;  // old stage -> old axis -> new
};

}  // namespace

// ---------------------------------------------------------------- workload key

std::string workload_text(const Kernel &k) { return WorkloadPrinter(k).print(); }

std::string workload_key(const Kernel &k) { return fnv1a_128_hex(workload_text(k)); }

std::vector<std::string> workload_names(const Kernel &k) {
  std::vector<std::string> names;
  for (auto &t : k.inputs) names.push_back(t->name);
  for (auto &s : k.stages) names.push_back(s.name());
  for (auto &s : k.stages) {
    for (auto &a : s.axes) names.push_back(a.var->name);
    for (auto &a : s.raxes) names.push_back(a.var->name);
  }
  return names;
}

Schedule rename_schedule(Schedule s, const std::vector<std::string> &old_names, const Kernel &k) {
  KCC_INTERNAL(old_names.size() == workload_names(k).size(), "rename_schedule: name lists of different workloads");
  if (old_names != workload_names(k)) ScheduleRenamer(k, old_names).rename(s);
  s.kernel = k.name;
  return s;
}

}  // namespace kcc
