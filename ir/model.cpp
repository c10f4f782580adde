// ir/model.cpp - checking a `model` block against the kernels of its file, and its weights file.
//
// A model is checked in source order, statement by statement, against a table of the tensors
// defined so far (inputs first, then weights and call results as they come); outputs are
// declared in the signature but defined only by a call. Every message points at the offending
// name.
#include <fmt/format.h>

#include <cstring>
#include <fstream>
#include <map>

#include "ir/check.h"
#include "ir/model.h"

namespace kcc {

namespace {

constexpr int64_t kWeightAlign = 64;

[[noreturn]] void fail(const SourceLoc &loc, const std::string &msg) { throw UserError(loc, msg); }

std::string where(const SourceLoc &l) { return fmt::format("{}:{}", l.line, l.col); }

std::string type_str(ScalarKind k, const std::vector<int64_t> &dims) {
  std::string s = to_string(k) + "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

std::string type_str(const ModelTensor &t) { return type_str(t.elem, t.shape); }

template <class T, class F>
std::string names(const std::vector<T> &v, F name) {
  std::string s;
  for (auto &x : v) s += (s.empty() ? "" : ", ") + name(x);
  return s.empty() ? "none" : s;
}

ModelTensor tensor_of(const ast::Param &p) {
  ModelTensor t;
  t.name = p.name;
  t.elem = checked_type(p.type, p.name);
  t.shape = p.type.dims;
  t.loc = p.loc;
  return t;
}

class ModelChecker {
 public:
  ModelChecker(const ast::Model &a, const Module &m) : a_(a), m_(m) {}

  ModelDecl run() {
    d_.name = a_.name;
    d_.loc = a_.loc;
    check_name();
    for (auto &p : a_.inputs) d_.inputs.push_back(define(tensor_of(p), "input"));
    for (auto &p : a_.outputs) {
      ModelTensor t = tensor_of(p);
      for (auto &o : d_.outputs)
        if (o.name == t.name) fail(t.loc, fmt::format("output '{}' is declared twice; first at {}", t.name, where(o.loc)));
      if (defined_.count(t.name))
        fail(t.loc, fmt::format("output '{}' has the name of input '{}' at {}", t.name, t.name,
                                where(defined_.at(t.name).loc)));
      d_.outputs.push_back(t);
    }
    if (a_.has_weights_file) d_.weights_file = a_.weights_file;
    for (auto &st : a_.body) {
      if (st.is_weight) weight(st.weight);
      else call(st.call);
    }
    for (auto &o : d_.outputs)
      if (!defined_.count(o.name))
        fail(o.loc, fmt::format("output '{}' of model '{}' is never defined; assign it the result of a call", o.name,
                                d_.name));
    return std::move(d_);
  }

 private:
  void check_name() {
    if (const Kernel *k = m_.find_kernel(a_.name))
      fail(a_.loc, fmt::format("model '{}' has the name of a kernel at {}", a_.name, where(k->loc)));
    if (const ModelDecl *o = m_.find_model(a_.name))
      fail(a_.loc, fmt::format("model '{}' is defined twice; first definition at {}", a_.name, where(o->loc)));
  }

  /// Enters `t` into the table; `what` names its kind in messages.
  const ModelTensor &define(ModelTensor t, const char *what) {
    auto it = defined_.find(t.name);
    if (it != defined_.end())
      fail(t.loc, fmt::format("{} '{}' is already defined at {}; a tensor of a model is assigned once", what, t.name,
                              where(it->second.loc)));
    return defined_.emplace(t.name, t).first->second;
  }

  void weight(const ast::ModelWeight &w) {
    if (!a_.has_weights_file)
      fail(w.param.loc, fmt::format("weight '{}' needs a weights file: add 'weights \"{}.weights\"' to model '{}'",
                                    w.param.name, d_.name, d_.name));
    ModelWeight mw;
    mw.tensor = tensor_of(w.param);
    mw.offset = w.offset;
    if (w.offset < 0 || w.offset % kWeightAlign != 0)
      fail(w.offset_loc, fmt::format("weight '{}' starts at byte {}; offsets are non-negative multiples of {}",
                                     w.param.name, w.offset, kWeightAlign));
    for (auto &o : d_.weights)
      if (mw.offset < o.offset + o.bytes() && o.offset < mw.offset + mw.bytes())
        fail(w.offset_loc, fmt::format("weight '{}' (bytes [{}, {})) overlaps weight '{}' (bytes [{}, {})) at {}",
                                       w.param.name, mw.offset, mw.offset + mw.bytes(), o.tensor.name, o.offset,
                                       o.offset + o.bytes(), where(o.tensor.loc)));
    define(mw.tensor, "weight");
    d_.weights.push_back(std::move(mw));
  }

  void call(const ast::ModelCall &c) {
    const Kernel *k = m_.find_kernel(c.kernel);
    if (!k)
      fail(c.kernel_loc, fmt::format("unknown kernel '{}'; kernels: {}", c.kernel,
                                     names(m_.kernels, [](const Kernel &x) { return x.name; })));
    auto param_names = [](const std::vector<Tensor> &ts) { return names(ts, [](const Tensor &t) { return t->name; }); };
    if (c.args.size() != k->inputs.size())
      fail(c.args.size() > k->inputs.size() ? c.arg_locs[k->inputs.size()] : c.kernel_loc,
           fmt::format("kernel '{}' takes {} argument{} ({}) but {} {} given", k->name, k->inputs.size(),
                       k->inputs.size() == 1 ? "" : "s", param_names(k->inputs), c.args.size(),
                       c.args.size() == 1 ? "was" : "were"));
    for (size_t i = 0; i < c.args.size(); ++i) {
      auto it = defined_.find(c.args[i]);
      if (it == defined_.end()) unknown(c.args[i], c.arg_locs[i]);
      const TensorDecl &p = *k->inputs[i];
      const ModelTensor &t = it->second;
      if (t.elem != p.elem || t.shape != p.shape)
        fail(c.arg_locs[i], fmt::format("'{}' is {} but argument '{}' of kernel '{}' is {}", t.name, type_str(t), p.name,
                                        k->name, type_str(p.elem, p.shape)));
    }
    if (c.results.size() != k->outputs.size())
      fail(c.result_locs[0], fmt::format("kernel '{}' returns {} tensor{} ({}) but {} name{} given", k->name,
                                         k->outputs.size(), k->outputs.size() == 1 ? "" : "s",
                                         param_names(k->outputs), c.results.size(),
                                         c.results.size() == 1 ? " is" : "s are"));
    ModelCall mc;
    mc.kernel = c.kernel;
    mc.args = c.args;
    mc.results = c.results;
    mc.loc = c.kernel_loc;
    for (size_t i = 0; i < c.results.size(); ++i) {
      const TensorDecl &p = *k->outputs[i];
      ModelTensor t;
      t.name = c.results[i];
      t.elem = p.elem;
      t.shape = p.shape;
      t.loc = c.result_locs[i];
      for (size_t j = 0; j < i; ++j)
        if (c.results[j] == t.name) fail(t.loc, fmt::format("'{}' is named twice among the results", t.name));
      const ModelTensor *out = nullptr;
      for (auto &o : d_.outputs)
        if (o.name == t.name) out = &o;
      if (out && (out->elem != t.elem || out->shape != t.shape))
        fail(t.loc, fmt::format("result '{}' of kernel '{}' is {} but output '{}' is declared {} at {}", p.name, k->name,
                                type_str(t), t.name, type_str(*out), where(out->loc)));
      define(t, "tensor");
      if (!out) d_.values.push_back(t);
    }
    d_.calls.push_back(std::move(mc));
  }

  [[noreturn]] void unknown(const std::string &n, const SourceLoc &loc) const {
    for (auto &st : a_.body) {
      if (st.is_weight && st.weight.param.name == n)
        fail(loc, fmt::format("weight '{}' is used before its declaration at {}", n, where(st.weight.param.loc)));
      for (size_t i = 0; !st.is_weight && i < st.call.results.size(); ++i)
        if (st.call.results[i] == n)
          fail(loc, fmt::format("'{}' is used before the call that defines it at {}", n, where(st.call.result_locs[i])));
    }
    for (auto &o : d_.outputs)
      if (o.name == n) fail(loc, fmt::format("output '{}' is read before a call defines it", n));
    std::string here;
    for (auto &[name, t] : defined_) here += (here.empty() ? "" : ", ") + name;
    fail(loc, fmt::format("unknown tensor '{}'; tensors defined here: {}", n, here.empty() ? "none" : here));
  }

  const ast::Model &a_;
  const Module &m_;
  ModelDecl d_;
  std::map<std::string, ModelTensor> defined_;  ///< inputs, weights and results so far
};

}  // namespace

ModelDecl check_model(const ast::Model &model, const Module &m) { return ModelChecker(model, m).run(); }

void mark_weight_inputs(Module &m) {
  for (Kernel &k : m.kernels) {
    std::vector<int> weight(k.inputs.size(), 1);
    bool called = false;
    for (const ModelDecl &model : m.models)
      for (const ModelCall &c : model.calls) {
        if (c.kernel != k.name) continue;
        called = true;
        for (size_t i = 0; i < k.inputs.size() && i < c.args.size(); ++i) {
          bool is_weight = false;
          for (const ModelWeight &w : model.weights) is_weight |= w.tensor.name == c.args[i];
          weight[i] &= is_weight;
        }
      }
    k.weight_inputs.clear();
    if (called)
      for (size_t i = 0; i < weight.size(); ++i)
        if (weight[i]) k.weight_inputs.push_back(static_cast<int>(i));
  }
}

std::string weights_path(const Module &m, const ModelDecl &model) {
  std::string dir = m.file ? m.file->path : "";
  size_t slash = dir.find_last_of('/');
  dir = slash == std::string::npos ? "" : dir.substr(0, slash + 1);
  return !model.weights_file.empty() && model.weights_file[0] == '/' ? model.weights_file : dir + model.weights_file;
}

std::vector<std::vector<double>> read_model_weights(const ModelDecl &model, const std::string &path) {
  std::vector<std::vector<double>> out;
  if (model.weights.empty()) return out;
  std::ifstream f(path, std::ios::binary);
  if (!f) throw UserError(SourceLoc{}, fmt::format("cannot read the weights of model '{}' from '{}'", model.name, path));
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  for (const ModelWeight &w : model.weights) {
    if (w.offset + w.bytes() > static_cast<int64_t>(bytes.size()))
      throw UserError(w.tensor.loc, fmt::format("weight '{}' needs bytes [{}, {}) of '{}', which has {}", w.tensor.name,
                                                w.offset, w.offset + w.bytes(), path, bytes.size()));
    const char *p = bytes.data() + w.offset;
    std::vector<double> v(static_cast<size_t>(w.tensor.num_elements()));
    for (size_t i = 0; i < v.size(); ++i) {
      switch (w.tensor.elem) {
        case ScalarKind::F32: { float x; std::memcpy(&x, p + 4 * i, 4); v[i] = x; break; }
        case ScalarKind::F64: { double x; std::memcpy(&x, p + 8 * i, 8); v[i] = x; break; }
        case ScalarKind::I8: { int8_t x; std::memcpy(&x, p + i, 1); v[i] = x; break; }
        case ScalarKind::I32: { int32_t x; std::memcpy(&x, p + 4 * i, 4); v[i] = x; break; }
        case ScalarKind::I64: { int64_t x; std::memcpy(&x, p + 8 * i, 8); v[i] = static_cast<double>(x); break; }
        case ScalarKind::F16:
        case ScalarKind::BF16:
        case ScalarKind::Bool:
          throw UserError(w.tensor.loc, fmt::format("reading {} weights ('{}') is not supported yet",
                                                    to_string(w.tensor.elem), w.tensor.name));
      }
    }
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace kcc
