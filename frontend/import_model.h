// frontend/import_model.h - `kcc import`: an ONNX file -> `.ir` text and a weights file.
//
// The pipeline, one step per line in import_model(): import_onnx (a typed, shape-inferred
// Graph), fold_batchnorm, fold_pad, eliminate_dead_code, assign_layouts (NCHW[b]c for conv chains),
// fuse_epilogues (which nodes share a kernel),
// lower_graph (kernels and the model that calls them), then parse_module as a self-check.
#pragma once
#include <string>

#include "frontend/lower_graph.h"
#include "frontend/onnx_import.h"

namespace kcc::frontend {

struct ModelImportOptions {
  ImportOptions onnx;
  std::string model_name;    ///< the model block's name; "" = from the file name
  std::string weights_file;  ///< as the .ir names it; "" = MODEL_NAME.weights
  bool fold_batchnorm = true;
  bool fuse_epilogues = true;
  /// Channel block of conv chains' activations (assign_layouts): the target's f32 vector
  /// lanes (Target::f32_lanes(): 16 on AVX-512, 8 on AVX2, 4 on NEON); 1 = plain NCHW.
  int64_t channel_block = 1;
};

/// Imports the ONNX model at `path` (ModelError / UserError as import_onnx and lower_graph).
LoweredModel import_model(const std::string &path, const ModelImportOptions &o);
/// The same from a Graph already imported.
LoweredModel lower_model(const Graph &g, const std::string &path, const ModelImportOptions &o);

/// `name` made an identifier the .ir reader accepts ("resnet-18" -> resnet_18).
std::string model_identifier(const std::string &name);

}  // namespace kcc::frontend
