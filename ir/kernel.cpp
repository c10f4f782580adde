#include "ir/kernel.h"

#include <cmath>
#include <limits>

#include "ir/visitor.h"

namespace kcc {

const char *to_string(TensorRole r) {
  switch (r) {
    case TensorRole::Input: return "input";
    case TensorRole::Output: return "output";
    case TensorRole::Intermediate: return "intermediate";
  }
  return "?";
}

const char *to_string(ReduceOp op) {
  switch (op) {
    case ReduceOp::None: return "";
    case ReduceOp::Sum: return "sum";
    case ReduceOp::Max: return "max";
    case ReduceOp::Min: return "min";
    case ReduceOp::Prod: return "prod";
  }
  return "?";
}

Expr reduce_identity(ReduceOp op, Type t) {
  t = t.element();
  const double inf = std::numeric_limits<double>::infinity();
  switch (op) {
    case ReduceOp::None:
    case ReduceOp::Sum: return make_const(t, 0);
    case ReduceOp::Prod: return make_const(t, 1);
    case ReduceOp::Max: return t.is_float() ? make_float(-inf, t) : make_int(int_min(t.kind), t);
    case ReduceOp::Min: return t.is_float() ? make_float(inf, t) : make_int(int_max(t.kind), t);
  }
  return make_const(t, 0);
}

double reduce_identity_value(ReduceOp op, ScalarKind k) {
  Expr e = reduce_identity(op, Type{k, 1});
  int64_t i = 0;
  double f = 0;
  if (is_const_int(e, &i)) return static_cast<double>(i);
  KCC_INTERNAL(is_const_float(e, &f), "reduce_identity is not a constant");
  return f;
}

int64_t TensorDecl::num_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

const std::string &Stage::name() const { return output->name; }

const Axis *Stage::find_axis(const std::string &n) const {
  for (auto &a : axes)
    if (a.var->name == n) return &a;
  for (auto &a : raxes)
    if (a.var->name == n) return &a;
  return nullptr;
}

const Stage *Kernel::find_stage(const std::string &n) const {
  for (auto &s : stages)
    if (s.name() == n) return &s;
  return nullptr;
}

Tensor Kernel::find_tensor(const std::string &n) const {
  for (auto &t : inputs)
    if (t->name == n) return t;
  for (auto &s : stages)
    if (s.name() == n) return s.output;
  for (auto &t : outputs)
    if (t->name == n) return t;
  return nullptr;
}

bool Kernel::is_output(const Stage &st) const {
  for (auto &o : outputs)
    if (o.get() == st.output.get()) return true;
  return false;
}

double Kernel::flops() const {
  double total = 0;
  for (auto &s : stages) {
    double points = 1;
    for (auto &a : s.axes) points *= static_cast<double>(a.extent);
    for (auto &a : s.raxes) points *= static_cast<double>(a.extent);
    double ops = 0;
    for_each_expr(s.body, [&](const Expr &e) {
      if (!e.type().is_float()) return;
      if (e.as<Binary>() || e.as<Call>() || e.as<Unary>()) ops += 1;
    });
    if (s.reduce != ReduceOp::None) ops += 1;  // the combine
    total += points * ops;
  }
  return total;
}

const Kernel *Module::find_kernel(const std::string &n) const {
  for (auto &k : kernels)
    if (k.name == n) return &k;
  return nullptr;
}

const ModelDecl *Module::find_model(const std::string &n) const {
  for (auto &m : models)
    if (m.name == n) return &m;
  return nullptr;
}

int64_t ModelTensor::num_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

int64_t ModelWeight::bytes() const { return tensor.num_elements() * Type{tensor.elem, 1}.bytes(); }

const ModelTensor *ModelDecl::find_tensor(const std::string &n) const {
  for (auto *ts : {&inputs, &outputs, &values})
    for (auto &t : *ts)
      if (t.name == n) return &t;
  for (auto &w : weights)
    if (w.tensor.name == n) return &w.tensor;
  return nullptr;
}

const Schedule *Module::find_schedule(const std::string &kernel) const {
  for (auto &s : schedules)
    if (s.kernel == kernel) return &s;
  return nullptr;
}

}  // namespace kcc
