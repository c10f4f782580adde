// test/support/suite_files.h - the files the test suites read: any file's text, the kernels of
// test/correctness/kernels.ir and schedule files of the source tree. Header-only.
#pragma once
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "ir/parser.h"

namespace kcc::test {

/// The contents of `path` ("" when it cannot be read).
inline std::string read_file(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Tests added with kcc_add_test (test/CMakeLists.txt) know the source tree.
#ifdef KCC_SOURCE_DIR
/// The kernels of test/correctness/kernels.ir, parsed once per process.
inline const Module &correctness_suite() {
  static Module m = parse_module_file(std::string(KCC_SOURCE_DIR) + "/test/correctness/kernels.ir");
  return m;
}

/// The schedules of the file `relative_path` of the source tree (e.g. "test/gpu/gpu_schedules.ir").
inline std::vector<Schedule> source_schedules(const std::string &relative_path) {
  std::string path = std::string(KCC_SOURCE_DIR) + "/" + relative_path;
  return parse_schedules(path, read_file(path));
}
#endif

}  // namespace kcc::test
