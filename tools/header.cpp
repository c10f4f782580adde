// tools/header.cpp - writes NAME.h.
//
// Layout of the generated header:
//   include guard, <stdint.h>
//   the table types kcc_arg_info / kcc_kernel_info, under their own guard so that headers
//     generated from several models can be included together
//   per kernel: a comment with its definition and schedule source, its prototype (extern "C"),
//     shape macros KCC_<KERNEL>_<TENSOR>_{RANK,DIMS,SIZE}
//   per model: a comment with its tensors, workspace and weights, its entry points (extern "C"),
//     KCC_<MODEL>_WORKSPACE_BYTES, KCC_<MODEL>_WEIGHTS_BYTES, shape macros KCC_<MODEL>_<TENSOR>_...
//   per kernel: static const shape arrays and argument tables
//   kcc_NAME_registry[] and kcc_NAME_registry_count
// Everything is `static const` data, so the header can be included in many translation units.
#include "tools/header.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <sstream>

#include "codegen/codegen.h"
#include "ir/kernel.h"
#include "ir/parser.h"
#include "ir/schedule.h"

namespace kcc {

namespace {

const char *c_type(ScalarKind k) {
  switch (k) {
    case ScalarKind::F32: return "float";
    case ScalarKind::F64: return "double";
    case ScalarKind::F16: return "uint16_t";   // IEEE half, stored as its bits
    case ScalarKind::BF16: return "uint16_t";  // bfloat16, stored as its bits
    case ScalarKind::I8: return "int8_t";
    case ScalarKind::I32: return "int32_t";
    case ScalarKind::I64: return "int64_t";
    case ScalarKind::Bool: return "uint8_t";
  }
  return "void";
}

const char *elem_enum(ScalarKind k) {
  switch (k) {
    case ScalarKind::F32: return "KCC_ELEM_F32";
    case ScalarKind::F16: return "KCC_ELEM_F16";
    case ScalarKind::BF16: return "KCC_ELEM_BF16";
    case ScalarKind::F64: return "KCC_ELEM_F64";
    case ScalarKind::I8: return "KCC_ELEM_I8";
    case ScalarKind::I32: return "KCC_ELEM_I32";
    case ScalarKind::I64: return "KCC_ELEM_I64";
    case ScalarKind::Bool: return "KCC_ELEM_BOOL";
  }
  return "KCC_ELEM_F32";
}

std::string upper(const std::string &s) {
  std::string u = c_identifier(s);
  for (char &c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return u;
}

/// `text` as lines of a block comment, each prefixed with `prefix`; "*/" cannot end it early.
std::string comment_lines(const std::string &text, const std::string &prefix) {
  std::string out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    for (size_t p; (p = line.find("*/")) != std::string::npos;) line.replace(p, 2, "* /");
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += prefix + line;
    while (!out.empty() && out.back() == ' ') out.pop_back();
    out += "\n";
  }
  return out;
}

/// A C string literal, one source line per line of `text`, valid in C99 and C++.
std::string c_string(const std::string &text, const std::string &indent) {
  if (text.empty()) return "\"\"";
  std::string out = "\"";
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '?': out += "\\?"; break;  // no trigraphs in -std=c99
      case '\t': out += "\\t"; break;
      case '\n':
        out += "\\n\"";
        if (i + 1 < text.size()) out += "\n" + indent + "\"";
        else return out;
        break;
      default:
        if (c < 0x20 || c >= 0x7f) out += fmt::format("\\{:03o}", c);
        else out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string dims(const std::vector<int64_t> &shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s;
}

/// The kernel's arguments in ABI order: inputs, then outputs.
std::vector<std::pair<Tensor, bool>> arguments(const Kernel &k) {
  std::vector<std::pair<Tensor, bool>> args;
  for (auto &t : k.inputs) args.emplace_back(t, false);
  for (auto &t : k.outputs) args.emplace_back(t, true);
  return args;
}

/// GPU targets (DESIGN.md section 5): device pointers, then the CUDA stream (NULL: the default stream).
std::string prototype(const Kernel &k, const std::string &symbol, bool gpu) {
  std::string s = "int " + symbol + "(";
  auto args = arguments(k);
  for (size_t i = 0; i < args.size(); ++i) {
    s += i ? ", " : "";
    s += fmt::format("{}{} *{}", args[i].second ? "" : "const ", c_type(args[i].first->elem), args[i].first->name);
  }
  if (gpu) return s + (args.empty() ? "void *stream);" : ", void *stream);");
  return s + (args.empty() ? "void);" : ");");
}

const char *kTableTypes = R"(#ifndef KCC_KERNEL_INFO_DEFINED
#define KCC_KERNEL_INFO_DEFINED
/* Element types of kernel arguments. */
enum kcc_elem_type {
  KCC_ELEM_F32 = 0,
  KCC_ELEM_F16 = 1,
  KCC_ELEM_BF16 = 2,
  KCC_ELEM_F64 = 3,
  KCC_ELEM_I8 = 4,
  KCC_ELEM_I32 = 5,
  KCC_ELEM_I64 = 6,
  KCC_ELEM_BOOL = 7
};

/* One argument of a kernel: a dense row-major array. */
typedef struct kcc_arg_info {
  const char *name;
  int elem_type;         /* enum kcc_elem_type */
  int rank;
  const int64_t *shape;  /* rank extents, outermost first (NULL when rank is 0) */
  int64_t num_elements;
  int is_output;         /* 0: input (read only), 1: output */
} kcc_arg_info;

/* One kernel. `fn` is the kernel's function; cast it back to its prototype's type to call it:
 * arguments are the inputs in order, then the outputs; it returns 0 or a kcc_status. */
typedef struct kcc_kernel_info {
  const char *name;
  int num_args;
  const kcc_arg_info *args;     /* inputs, then outputs */
  void (*fn)(void);
  const char *schedule;         /* the schedule text it was compiled with */
  const char *schedule_source;  /* registry, database, tuned, given or default */
  double median_seconds;        /* measured median time, 0 when never measured */
  double flops;                 /* floating-point operations per call */
} kcc_kernel_info;
#endif /* KCC_KERNEL_INFO_DEFINED */
)";

std::string type_text(const ModelTensor &t) { return to_string(t.elem) + "[" + dims(t.shape) + "]"; }

/// The tensor parameters of a model's entry points: inputs, then outputs, each after ", ".
std::string model_params(const ModelDecl &model) {
  std::string s;
  for (auto &t : model.inputs) s += fmt::format(", const {} *{}", c_type(t.elem), t.name);
  for (auto &t : model.outputs) s += fmt::format(", {} *{}", c_type(t.elem), t.name);
  return s;
}

void write_model(std::ostream &os, const std::string &object, const CompiledModel &cm) {
  const ModelDecl &model = *cm.model;
  const std::string &n = model.name;
  std::string ins, outs;
  for (auto &t : model.inputs) ins += (ins.empty() ? "" : ", ") + t.name + " " + type_text(t);
  for (auto &t : model.outputs) outs += (outs.empty() ? "" : ", ") + t.name + " " + type_text(t);
  os << fmt::format("/* ==== model {}: {} kernel calls\n", n, model.calls.size());
  os << comment_lines(fmt::format("  inputs:  {}\n  outputs: {}", ins.empty() ? "none" : ins, outs), " * ");
  os << fmt::format(" *   workspace: {} bytes at peak ({} without reuse), 64-byte aligned\n", cm.plan.peak,
                    cm.plan.sum_of_values());
  if (cm.external_weights)
    os << fmt::format(" *   weights: {} bytes, in {}.weights: load them with {}_load_weights(path, &weights),\n"
                      " *   pass them to every call (read only: threads may share them), kcc_free them\n",
                      cm.weights.bytes.size(), object, n);
  else
    os << fmt::format(" *   weights: {} bytes, embedded in {}.o (read-only data, 64-byte aligned)\n",
                      cm.weights.bytes.size(), object);
  os << " * " << n << "(): allocates its workspace per call (kcc_alloc; KCC_ERR_OUT_OF_MEMORY if that fails).\n";
  os << " * " << n << "_run(): the caller's workspace of " << n << "_workspace_size() bytes, 64-byte aligned\n";
  os << " *   (kcc_alloc gives that); NULL only when the size is 0. One workspace per concurrent call.\n";
  os << " * Tensors are dense row-major, aligned to their element type; outputs overlap nothing.\n";
  os << " * Return 0 or a kcc_status: KCC_ERR_NULL_ARGUMENT or KCC_ERR_MISALIGNED before any work,\n";
  os << " * else the first failing kernel's. No global mutable state: reentrant, thread-safe. */\n";
  std::string params = model_params(model);
  std::string w = cm.external_weights ? "const void *weights" : "";
  std::string own = w + (w.empty() && !params.empty() ? params.substr(2) : params);
  os << fmt::format("int {}({});\n", n, own.empty() ? "void" : own);
  os << fmt::format("int {}_run({}void *workspace{});\n", n, w.empty() ? "" : w + ", ", params);
  os << fmt::format("size_t {}_workspace_size(void);\n", n);
  if (cm.external_weights) {
    os << fmt::format("size_t {}_weights_size(void);\n", n);
    os << fmt::format("int {}_load_weights(const char *path, void **weights);\n", n);
  }
  std::string m = "KCC_" + upper(n);
  os << "#define " << m << "_WORKSPACE_BYTES " << cm.plan.peak << "\n";
  os << "#define " << m << "_WEIGHTS_BYTES " << cm.weights.bytes.size() << "\n";
  for (auto *ts : {&model.inputs, &model.outputs})
    for (const ModelTensor &t : *ts) {
      std::string tm = m + "_" + upper(t.name);
      os << "#define " << tm << "_RANK " << t.shape.size() << "\n";
      os << "#define " << tm << "_DIMS " << dims(t.shape) << "\n";
      os << "#define " << tm << "_SIZE " << t.num_elements() << "\n";
    }
  os << "\n";
}

}  // namespace

std::string c_identifier(const std::string &name) {
  std::string s;
  for (char c : name) s += std::isalnum(static_cast<unsigned char>(c)) || c == '_' ? c : '_';
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) s = "_" + s;
  return s;
}

std::string kernel_symbol_prefix(const std::string &name, const Module &m) {
  if (m.models.empty()) return "";
  std::string prefix = c_identifier(name) + "_";
  for (const Kernel &k : m.kernels)
    for (const ModelDecl &model : m.models)
      for (const std::string &symbol : model_entry_symbols(model.name))
        if (prefix + k.name == symbol)
          throw UserError(k.loc, fmt::format("kernel '{}' would have the C symbol '{}' in {}.o, an entry point of model "
                                             "'{}'; rename the kernel",
                                             k.name, prefix + k.name, name, model.name));
  return prefix;
}

std::string generate_header(const std::string &name, const std::string &source_path,
                            const std::vector<CompiledKernel> &kernels,
                            const Target &t, const std::string &kcc_version,
                            const std::vector<CompiledModel> &models, const std::string &symbol_prefix) {
  const std::string id = c_identifier(name);
  const std::string guard = "KCC_GENERATED_" + upper(name) + "_H";
  std::ostringstream os;
  os << fmt::format("/* {}.h - generated by kcc {} from {} for target {}.\n", name, kcc_version, source_path, t.name);
  os << comment_lines(fmt::format("target key: {}", t.key()), " * ");
  os << " * Do not edit: rerun `kcc compile`. Link " << name << ".o and libkcc_runtime.a (-lpthread -lm). */\n";
  os << "#ifndef " << guard << "\n#define " << guard << "\n\n#include <stddef.h>\n#include <stdint.h>\n\n";
  os << kTableTypes << "\n";

  os << "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n";
  for (const CompiledKernel &ck : kernels) {
    const Kernel &k = *ck.kernel;
    os << "/* ---- " << k.name << (symbol_prefix.empty() ? "" : " (C symbol " + symbol_prefix + k.name + ")") << "\n";
    os << comment_lines(to_string(k), " *   ");
    os << " * schedule (" << to_string(ck.chosen.source) << "):\n";
    os << comment_lines(to_string(ck.chosen.schedule), " *   ");
    if (t.is_gpu()) os << " * GPU kernel: device pointers (16-byte aligned), launched on `stream` (a CUstream).\n";
    os << " */\n" << prototype(k, symbol_prefix + k.name, t.is_gpu()) << "\n";
    for (auto &[tensor, is_output] : arguments(k)) {
      std::string m = "KCC_" + upper(symbol_prefix + k.name) + "_" + upper(tensor->name);
      os << "#define " << m << "_RANK " << tensor->shape.size() << "\n";
      os << "#define " << m << "_DIMS " << dims(tensor->shape) << "\n";
      os << "#define " << m << "_SIZE " << tensor->num_elements() << "\n";
    }
    os << "\n";
  }
  for (const CompiledModel &cm : models) write_model(os, name, cm);
  os << "#ifdef __cplusplus\n}  /* extern \"C\" */\n#endif\n\n";

  for (const CompiledKernel &ck : kernels) {
    const Kernel &k = *ck.kernel;
    std::string prefix = "kcc_" + id + "_" + c_identifier(k.name);
    auto args = arguments(k);
    for (auto &[tensor, is_output] : args) {
      if (tensor->shape.empty()) continue;
      os << fmt::format("static const int64_t {}_{}_shape[{}] = {{{}}};\n", prefix, c_identifier(tensor->name),
                        tensor->shape.size(), dims(tensor->shape));
    }
    os << fmt::format("static const kcc_arg_info {}_args[{}] = {{\n", prefix, std::max<size_t>(args.size(), 1));
    for (auto &[tensor, is_output] : args) {
      std::string shape = tensor->shape.empty() ? "0" : prefix + "_" + c_identifier(tensor->name) + "_shape";
      os << fmt::format("  {{\"{}\", {}, {}, {}, {}, {}}},\n", tensor->name, elem_enum(tensor->elem),
                        tensor->shape.size(), shape, tensor->num_elements(), is_output ? 1 : 0);
    }
    if (args.empty()) os << "  {0, 0, 0, 0, 0, 0}\n";
    os << "};\n";
  }

  os << "\n/* The kernels of " << name << ", in definition order. */\n";
  os << "static const kcc_kernel_info kcc_" << id << "_registry[] = {\n";
  for (const CompiledKernel &ck : kernels) {
    const Kernel &k = *ck.kernel;
    std::string prefix = "kcc_" + id + "_" + c_identifier(k.name);
    os << "  {\"" << k.name << "\", " << arguments(k).size() << ", " << prefix << "_args, (void (*)(void))&"
       << symbol_prefix << k.name << ",\n";
    os << "   " << c_string(to_string(ck.chosen.schedule), "   ") << ",\n";
    os << fmt::format("   \"{}\", {:.9g}, {:.17g}}},\n", to_string(ck.chosen.source), ck.chosen.median_seconds,
                      k.flops());
  }
  if (kernels.empty()) os << "  {0, 0, 0, 0, 0, 0, 0, 0}\n";
  os << "};\n";
  os << "static const int kcc_" << id << "_registry_count = " << kernels.size() << ";\n\n";
  os << "#endif /* " << guard << " */\n";
  return os.str();
}

}  // namespace kcc
