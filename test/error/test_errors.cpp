// test/error/test_errors.cpp - every *.ir file in this directory is one bad input.
//
// Each file says what it must give, MLIR-style, in a comment:
//   # expected-error@LINE:COL {{substring of the message}}
// The file is parsed with parse_module; a UserError with exactly that line and column and a
// message containing the text must come out (not an InternalError, not success).
//
// Files that also say
//   # compile: yes
// test errors found when a schedule is applied: they must parse, and the UserError must come
// from kcc::lower_kernel(kernel, schedule, make_target("host")) for some kernel of the file
// (its schedule from the file, or an empty one).
//
// The directory is globbed when the test runs (one gtest case per file, named after it), so a
// new file needs no edit here; re-run CMake's test discovery (rebuild) for ctest to list it.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <regex>

#include "../support/suite_files.h"
#include "ir/parser.h"
#include "passes/pipeline.h"

namespace kcc {
namespace {

namespace fs = std::filesystem;
using test::read_file;

struct ErrorCase {
  std::string path;
  std::string name;  ///< gtest-safe file stem
};

struct Expectation {
  bool found = false;
  int line = 0, col = 0;
  std::string message;
  bool compile = false;
};

Expectation parse_expectation(const std::string &text) {
  static const std::regex expected(R"(#\s*expected-error@(\d+):(\d+)\s*\{\{(.*)\}\})");
  static const std::regex compile(R"(#\s*compile:\s*yes\b)");
  Expectation e;
  std::smatch m;
  if (std::regex_search(text, m, expected)) {
    e.found = true;
    e.line = std::stoi(m[1].str());
    e.col = std::stoi(m[2].str());
    e.message = m[3].str();
  }
  e.compile = std::regex_search(text, compile);
  return e;
}

std::vector<ErrorCase> load_cases() {
  std::vector<ErrorCase> cases;
  fs::path dir = fs::path(KCC_SOURCE_DIR) / "test" / "error";
  std::error_code ec;
  for (auto &entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".ir") continue;
    ErrorCase c;
    c.path = entry.path().string();
    c.name = entry.path().stem().string();
    for (char &ch : c.name)
      if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
    cases.push_back(c);
  }
  std::sort(cases.begin(), cases.end(), [](const ErrorCase &a, const ErrorCase &b) { return a.name < b.name; });
  return cases;
}

/// The hook for `# compile: yes` files: lowers every kernel with its schedule.
void compile_all(const Module &m) {
  Target host = make_target("host", "", "");
  for (const Kernel &k : m.kernels) {
    Schedule empty;
    empty.kernel = k.name;
    const Schedule *s = m.find_schedule(k.name);
    lower_kernel(k, s ? *s : empty, host);
  }
}

void PrintTo(const ErrorCase &c, std::ostream *os) { *os << c.path; }

class ErrorFile : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ErrorFile, GivesTheExpectedError) {
  const ErrorCase &c = GetParam();
  std::string text = read_file(c.path);
  Expectation want = parse_expectation(text);
  ASSERT_TRUE(want.found) << c.path << ": no '# expected-error@LINE:COL {{text}}' line";

  auto check = [&](const UserError &e) {
    EXPECT_EQ(e.loc().line, want.line) << e.what();
    EXPECT_EQ(e.loc().col, want.col) << e.what();
    EXPECT_NE(e.message().find(want.message), std::string::npos)
        << "message does not contain '" << want.message << "':\n"
        << e.what();
  };

  Module m;
  try {
    m = parse_module(c.path, text);
  } catch (const UserError &e) {
    if (want.compile) GTEST_FAIL() << "marked 'compile: yes' but parsing failed:\n" << e.what();
    return check(e);
  } catch (const InternalError &e) {
    GTEST_FAIL() << "internal error instead of a user error: " << e.what();
  } catch (const std::exception &e) {
    GTEST_FAIL() << "unexpected exception: " << e.what();
  }
  if (!want.compile) GTEST_FAIL() << c.path << " parsed without error; expected: " << want.message;

  try {
    compile_all(m);
  } catch (const UserError &e) {
    return check(e);
  } catch (const InternalError &e) {
    GTEST_FAIL() << "internal error instead of a user error: " << e.what();
  } catch (const std::exception &e) {
    GTEST_FAIL() << "unexpected exception: " << e.what();
  }
  if (!HasFailure()) GTEST_FAIL() << c.path << " compiled without error; expected: " << want.message;
}

INSTANTIATE_TEST_SUITE_P(Files, ErrorFile, ::testing::ValuesIn(load_cases()),
                         [](const ::testing::TestParamInfo<ErrorCase> &i) { return i.param.name; });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ErrorFile);

TEST(ErrorFiles, DirectoryHoldsTheErrorTests) { EXPECT_GE(load_cases().size(), 45u); }

}  // namespace
}  // namespace kcc
