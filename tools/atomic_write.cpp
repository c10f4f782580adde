// tools/atomic_write.cpp - temporary files renamed into place.
//
// Why: a failed or interrupted compile must never leave a half-written model.o beside a
// model.h from another build; a build system would link them. rename(2) within one directory
// replaces a file atomically.
#include "tools/atomic_write.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "ir/diag.h"

namespace kcc {

namespace {

[[noreturn]] void fail(const std::string &path, const std::string &why) {
  throw UserError(SourceLoc{}, "cannot write '" + path + "': " + why);
}

mode_t default_mode() {
  mode_t mask = umask(0);
  umask(mask);
  return 0666 & ~mask;
}

/// Writes `data` to a new temporary file beside `path`; returns its name.
std::string write_temp(const std::string &path, const std::string &data) {
  namespace fs = std::filesystem;
  fs::path p(path);
  fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail(path, ec.message());
  std::string tmpl = (dir / ("." + p.filename().string() + ".tmpXXXXXX")).string();
  int fd = mkstemp(tmpl.data());
  if (fd < 0) fail(path, std::strerror(errno));
  const char *at = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd, at, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string why = std::strerror(errno);
      ::close(fd);
      ::unlink(tmpl.c_str());
      fail(path, why);
    }
    at += n;
    left -= static_cast<size_t>(n);
  }
  fchmod(fd, default_mode());
  if (::close(fd) != 0) {
    std::string why = std::strerror(errno);
    ::unlink(tmpl.c_str());
    fail(path, why);
  }
  return tmpl;
}

}  // namespace

void write_files_atomically(const std::vector<std::pair<std::string, std::string>> &files) {
  std::vector<std::string> temps;
  try {
    for (auto &[path, data] : files) temps.push_back(write_temp(path, data));
  } catch (...) {
    for (auto &t : temps) ::unlink(t.c_str());
    throw;
  }
  for (size_t i = 0; i < files.size(); ++i) {
    if (std::rename(temps[i].c_str(), files[i].first.c_str()) != 0) {
      std::string why = std::strerror(errno);
      for (size_t j = i; j < temps.size(); ++j) ::unlink(temps[j].c_str());
      fail(files[i].first, why);
    }
  }
}

}  // namespace kcc
