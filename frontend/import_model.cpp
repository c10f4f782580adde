// frontend/import_model.cpp - see import_model.h.
#include "frontend/import_model.h"

#include <fmt/format.h>

#include <cctype>

#include "frontend/passes/assign_layouts.h"
#include "frontend/passes/eliminate_dead_code.h"
#include "frontend/passes/fold_batchnorm.h"
#include "frontend/passes/fold_pad.h"
#include "frontend/passes/fuse_epilogues.h"
#include "frontend/passes/transpose_dense_weights.h"
#include "ir/parser.h"

namespace kcc::frontend {

std::string model_identifier(const std::string &name) {
  std::string s;
  for (char ch : name) s += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) s = "m_" + s;
  return s;
}

LoweredModel lower_model(const Graph &graph, const std::string &path, const ModelImportOptions &o) {
  Graph g = graph;
  if (o.fold_batchnorm) g = fold_batchnorm(std::move(g));
  g = fold_pad(std::move(g));
  g = transpose_dense_weights(std::move(g));
  g = eliminate_dead_code(std::move(g));
  g = assign_layouts(std::move(g), o.channel_block);
  Partition p = o.fuse_epilogues ? fuse_epilogues(g) : one_kernel_per_node(g);

  LowerOptions lo;
  lo.path = path;
  std::string stem = path.substr(path.find_last_of('/') + 1);
  stem = stem.substr(0, stem.find('.'));
  lo.model_name = model_identifier(o.model_name.empty() ? stem : o.model_name);
  lo.weights_file = o.weights_file.empty() ? lo.model_name + ".weights" : o.weights_file;
  LoweredModel m = lower_graph(g, p, lo);

  // The text must read back; a failure here is a bug of the lowering, not of the model.
  try {
    parse_module(path + ".ir", m.ir);
  } catch (const UserError &e) {
    KCC_INTERNAL(false, fmt::format("the imported .ir does not parse: {}\n{}", e.what(), m.ir));
  }
  return m;
}

LoweredModel import_model(const std::string &path, const ModelImportOptions &o) {
  return lower_model(import_onnx(path, o.onnx), path, o);
}

}  // namespace kcc::frontend
