#include "ir/diag.h"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

namespace kcc {

std::string read_source_file(const std::string &path, const std::string &what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(SourceLoc{}, fmt::format("cannot read {}'{}'", what.empty() ? "" : what + " ", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string SourceFile::line_text(int line) const {
  if (line <= 0) return "";
  size_t pos = 0;
  for (int l = 1; l < line; ++l) {
    pos = text.find('\n', pos);
    if (pos == std::string::npos) return "";
    ++pos;
  }
  size_t end = text.find('\n', pos);
  return text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
}

std::string render_diagnostic(const SourceLoc &loc, const std::string &severity, const std::string &msg) {
  if (!loc.valid()) return fmt::format("kcc: {}: {}", severity, msg);
  std::string out = fmt::format("{}:{}:{}: {}: {}", loc.file->path, loc.line, loc.col, severity, msg);
  std::string line = loc.file->line_text(loc.line);
  if (!line.empty()) {
    out += "\n" + line + "\n";
    // Keep tabs so the caret lines up under the offending text.
    std::string pad;
    for (int i = 1; i < loc.col && i - 1 < static_cast<int>(line.size()); ++i) pad += line[i - 1] == '\t' ? '\t' : ' ';
    out += pad + "^";
  }
  return out;
}

UserError::UserError(SourceLoc loc, std::string msg)
    : std::runtime_error(render_diagnostic(loc, "error", msg)), loc_(std::move(loc)), msg_(std::move(msg)) {}

void internal_error(const char *file, int line, const std::string &msg) {
  throw InternalError(fmt::format("kcc internal error at {}:{}: {}", file, line, msg));
}

}  // namespace kcc
