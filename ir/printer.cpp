// ir/printer.cpp - kernels, models and modules back to model.ir text.
//
// The text parses back to the same kernel: intermediates always carry their `: type[shape]`
// annotation and reductions their explicit ranges, so nothing depends on inference.
#include <fmt/format.h>

#include <sstream>

#include "ir/parser.h"

namespace kcc {

namespace {

std::string decl(const TensorDecl &t) {
  std::string s = t.name + ": " + to_string(t.elem) + "[";
  for (size_t i = 0; i < t.shape.size(); ++i) s += (i ? ", " : "") + std::to_string(t.shape[i]);
  return s + "]";
}

std::string stage_text(const Stage &s) {
  std::string out = s.name() + "[";
  for (size_t i = 0; i < s.axes.size(); ++i) out += (i ? ", " : "") + s.axes[i].var->name;
  out += "] = ";
  std::string body = to_string(s.body);
  if (s.reduce != ReduceOp::None) {
    out += std::string(to_string(s.reduce)) + "(";
    for (size_t i = 0; i < s.raxes.size(); ++i)
      out += fmt::format("{}{}: {}", i ? ", " : "", s.raxes[i].var->name, s.raxes[i].extent);
    out += ") ";
    // `max(j) -x` would read as the binary max minus x: a leading '-' needs parentheses.
    if (!body.empty() && body[0] == '-') body = "(" + body + ")";
  }
  out += body;
  if (s.output->role == TensorRole::Intermediate) {
    std::string d = decl(*s.output);
    out += " :" + d.substr(d.find(':') + 1);
  }
  return out;
}

}  // namespace

std::string to_string(const Kernel &k) {
  std::ostringstream os;
  os << "kernel " << k.name << "(";
  for (size_t i = 0; i < k.inputs.size(); ++i) os << (i ? ", " : "") << decl(*k.inputs[i]);
  os << ") -> ";
  if (k.outputs.size() == 1) {
    os << decl(*k.outputs[0]);
  } else {
    os << "(";
    for (size_t i = 0; i < k.outputs.size(); ++i) os << (i ? ", " : "") << decl(*k.outputs[i]);
    os << ")";
  }
  os << " {\n";
  for (auto &s : k.stages) os << "  " << stage_text(s) << "\n";
  os << "}\n";
  return os.str();
}

std::string to_string(const ModelDecl &m) {
  auto decl = [](const ModelTensor &t) {
    std::string s = t.name + ": " + to_string(t.elem) + "[";
    for (size_t i = 0; i < t.shape.size(); ++i) s += (i ? ", " : "") + std::to_string(t.shape[i]);
    return s + "]";
  };
  std::ostringstream os;
  os << "model " << m.name << "(";
  for (size_t i = 0; i < m.inputs.size(); ++i) os << (i ? ", " : "") << decl(m.inputs[i]);
  os << ") -> ";
  if (m.outputs.size() == 1) {
    os << decl(m.outputs[0]);
  } else {
    os << "(";
    for (size_t i = 0; i < m.outputs.size(); ++i) os << (i ? ", " : "") << decl(m.outputs[i]);
    os << ")";
  }
  os << " {\n";
  if (!m.weights_file.empty()) os << "  weights \"" << m.weights_file << "\"\n";
  for (auto &w : m.weights) os << "  " << decl(w.tensor) << " = weight at " << w.offset << "\n";
  for (auto &c : m.calls) {
    os << "  ";
    for (size_t i = 0; i < c.results.size(); ++i) os << (i ? ", " : "") << c.results[i];
    os << " = " << c.kernel << "(";
    for (size_t i = 0; i < c.args.size(); ++i) os << (i ? ", " : "") << c.args[i];
    os << ")\n";
  }
  os << "}\n";
  return os.str();
}

std::string to_string(const Module &m) {
  std::string out;
  for (auto &k : m.kernels) out += (out.empty() ? "" : "\n") + to_string(k);
  for (auto &x : m.models) out += (out.empty() ? "" : "\n") + to_string(x);
  for (auto &s : m.schedules) out += (out.empty() ? "" : "\n") + to_string(s);
  return out;
}

}  // namespace kcc
