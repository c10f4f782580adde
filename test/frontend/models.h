// test/frontend/models.h - the ONNX models the frontend tests read, made on first use by
// make_models.py (one run shared by every test process; see models.cpp).
#pragma once
#include <gtest/gtest.h>

#include <string>

#include "frontend/graph.h"
#include "frontend/onnx_import.h"

namespace kcc::frontend::test {

/// The model file GROUP/NAME.onnx (GROUP: ops, errors, torch), after making the models if needed.
std::string model_path(const std::string &group, const std::string &name);
/// "ok", or "skip: <why>" when the group's Python packages are missing.
std::string group_status(const std::string &group);

/// Skips the test when GROUP's models could not be made for want of Python packages.
#define KCC_REQUIRE_MODELS(group)                          \
  do {                                                     \
    std::string status_ = ::kcc::frontend::test::group_status(group); \
    if (status_ != "ok") GTEST_SKIP() << group << " models: " << status_; \
  } while (0)

/// The node named `name`; fails the test (and throws) when there is none.
const Node &node_named(const Graph &g, const std::string &name);
/// The shape of graph output i.
Shape output_shape(const Graph &g, size_t i);

}  // namespace kcc::frontend::test
