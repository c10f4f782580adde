// tuner/bug_report.cpp - writing compiler-bug reports.
#include "tuner/bug_report.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <functional>

namespace kcc::tuner {

std::string bug_dir_beside(const std::string &db_path) {
  std::filesystem::path p(db_path);
  return (p.has_parent_path() ? p.parent_path() / "kcc-bugs" : std::filesystem::path("kcc-bugs")).string();
}

std::string write_bug_report(const std::string &dir, const BugReport &r) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  const std::string path =
      (fs::path(dir) / fmt::format("{}-{:016x}.txt", r.kernel, std::hash<std::string>()(r.schedule + r.loop_ir))).string();
  std::ofstream out(path, std::ios::trunc);
  if (!out) return "";
  out << "kcc compiler bug: a tuning candidate computes a wrong result\n\n"
      << "kernel: " << r.kernel << "\ntarget: " << r.target << "\n"
      << "mismatch: " << r.error << "\n"
      << "(the reference is the float64 interpreter; the tolerance is the rounding-error bound of\n"
      << " tuner/error_bound.h times its safety factor)\n\n"
      << "---- schedule\n" << r.schedule << "\n\n"
      << "---- kernel\n" << r.kernel_ir << "\n\n"
      << "---- loop IR\n" << r.loop_ir << "\n";
  out.close();
  return out ? path : "";
}

std::string bug_line(const BugReport &r, const std::string &path) {
  std::string what = r.error;
  if (what.rfind("wrong result: ", 0) == 0) what = what.substr(14);
  return fmt::format("kcc: COMPILER BUG: a candidate schedule of kernel '{}' computes a wrong result ({}); {}\n",
                     r.kernel, what, path.empty() ? "the report could not be written" : "details in " + path);
}

}  // namespace kcc::tuner
