// tools/atomic_write.cpp - temporary files moved into place together, or not at all.
//
// Why: a failed or interrupted compile must never leave a half-written model.o, nor a new
// model.o beside an old model.kreg; a build system would link them. Each file is written to a
// temporary in its own directory, then swapped with the existing file (renameat2 with
// RENAME_EXCHANGE), so that until the last output is in place every old file still exists under
// the temporary's name and a failure can rename it back. A new file is moved in with
// RENAME_NOREPLACE (an undo removes it). Where the filesystem cannot exchange, the old file is
// first renamed aside (a short moment without the file, but the same undo).
//
// Only regular files are replaced: `-o /dev/null` must stay a device, and a symlink (a file
// kept in another tree) is followed so that its target is written and the link survives.
#include "tools/atomic_write.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "ir/diag.h"

namespace kcc {

namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail(const std::string &path, const std::string &why) {
  throw UserError(SourceLoc{}, "cannot write '" + path + "': " + why);
}

mode_t default_mode() {
  mode_t mask = umask(0);
  umask(mask);
  return 0666 & ~mask;
}

/// One output and how far it got.
struct Output {
  enum Kind { Replace, Create, Stream };
  std::string path;    ///< as the user gave it (for messages)
  std::string target;  ///< the file written: `path` with symbolic links followed
  const std::string *data = nullptr;
  Kind kind = Create;
  std::string temp;    ///< Replace/Create: the temporary holding the new contents
  std::string old;     ///< once placed: where the old file now is ("" for Create)
  bool placed = false;
};

/// A missing `path` with symbolic links in its last component followed: a dangling link names
/// the file to create, as for open(2).
std::string follow_links(const std::string &path) {
  std::string p = path;
  for (int hops = 0; hops < 40; ++hops) {
    struct stat st;
    if (lstat(p.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return p;
    std::string link(static_cast<size_t>(st.st_size > 0 ? st.st_size : 4096) + 1, '\0');
    ssize_t n = readlink(p.c_str(), link.data(), link.size());
    if (n < 0) fail(path, std::strerror(errno));
    link.resize(static_cast<size_t>(n));
    p = link[0] == '/' ? link : (fs::path(p).parent_path() / link).string();
  }
  fail(path, std::strerror(ELOOP));
}

/// Fills in target and kind; throws for what must not be written. What the path names is
/// asked of stat(2), which follows links the way open(2) does (including /proc/self/fd/N, whose
/// link text may be no path at all, e.g. "pipe:[1234]").
void classify(Output &o) {
  struct stat st;
  if (::stat(o.path.c_str(), &st) != 0) {
    if (errno != ENOENT) fail(o.path, std::strerror(errno));
    o.target = follow_links(o.path);
    o.kind = Output::Create;
    return;
  }
  if (S_ISREG(st.st_mode)) {
    // Through a link, the file itself is renamed over; realpath names it.
    struct stat lst;
    o.target = o.path;
    if (lstat(o.path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode)) {
      char *real = realpath(o.path.c_str(), nullptr);
      if (!real) fail(o.path, std::strerror(errno));
      o.target = real;
      std::free(real);
    }
    o.kind = Output::Replace;
  } else if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) {
    o.target = o.path;
    o.kind = Output::Stream;
  } else if (S_ISDIR(st.st_mode)) {
    fail(o.path, "it is a directory");
  } else {
    fail(o.path, "it is not a regular file, a character device or a FIFO");
  }
}

/// Creates an empty temporary beside `target` (its directory created if missing); returns its
/// name and, in fd, the open descriptor.
std::string make_temp(const Output &o, int &fd) {
  fs::path p(o.target);
  fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail(o.path, ec.message());
  std::string name = (dir / ("." + p.filename().string() + ".tmpXXXXXX")).string();
  fd = mkstemp(name.data());
  if (fd < 0) fail(o.path, std::strerror(errno));
  return name;
}

/// Writes all of `data` to fd; false (errno set) on failure.
bool write_all(int fd, const std::string &data) {
  const char *at = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd, at, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      return false;
    }
    at += n;
    left -= static_cast<size_t>(n);
  }
  return true;
}

void write_temp(Output &o) {
  int fd = -1;
  o.temp = make_temp(o, fd);
  bool ok = write_all(fd, *o.data) && fchmod(fd, default_mode()) == 0;
  int err = errno;
  if (::close(fd) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (!ok) fail(o.path, std::strerror(err));
}

bool rename_flags(const std::string &from, const std::string &to, unsigned flags) {
#ifdef RENAME_EXCHANGE
  return renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), flags) == 0;
#else
  (void)from, (void)to, (void)flags;
  errno = EINVAL;
  return false;
#endif
}

/// Moves o.temp to o.target, keeping the old file (if any) under a temporary name in o.old.
void place(Output &o) {
#ifdef RENAME_EXCHANGE
  const unsigned kExchange = RENAME_EXCHANGE, kNoReplace = RENAME_NOREPLACE;
#else
  const unsigned kExchange = 0, kNoReplace = 0;
#endif
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (rename_flags(o.temp, o.target, kExchange)) {
      o.old = o.temp;  // the exchange left the old file there
      o.temp.clear();
      o.placed = true;
      return;
    }
    if (errno == ENOENT) {  // nothing to exchange with: a new file
      if (rename_flags(o.temp, o.target, kNoReplace)) {
        o.temp.clear();
        o.placed = true;
        return;
      }
      if (errno == EEXIST) continue;  // created meanwhile: exchange after all
    }
    if (errno != EINVAL && errno != ENOSYS) fail(o.path, std::strerror(errno));
    break;  // this filesystem cannot exchange
  }
  // Fallback: rename the old file aside, then the new one into place.
  int fd = -1;
  std::string aside = make_temp(o, fd);
  ::close(fd);
  if (std::rename(o.target.c_str(), aside.c_str()) != 0) {
    int err = errno;
    ::unlink(aside.c_str());
    if (err != ENOENT) fail(o.path, std::strerror(err));
    aside.clear();
  }
  if (std::rename(o.temp.c_str(), o.target.c_str()) != 0) {
    int err = errno;
    if (!aside.empty()) std::rename(aside.c_str(), o.target.c_str());
    fail(o.path, std::strerror(err));
  }
  o.old = aside;
  o.temp.clear();
  o.placed = true;
}

void write_stream(const Output &o) {
  int fd = ::open(o.target.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) fail(o.path, std::strerror(errno));
  bool ok = write_all(fd, *o.data);
  int err = errno;
  if (::close(fd) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (!ok) fail(o.path, std::strerror(err));
}

/// Puts back every placed output (last first) and removes the temporaries.
void undo(std::vector<Output> &outs) {
  for (auto it = outs.rbegin(); it != outs.rend(); ++it) {
    if (it->placed) {
      if (!it->old.empty()) std::rename(it->old.c_str(), it->target.c_str());
      else ::unlink(it->target.c_str());
    }
    if (!it->temp.empty()) ::unlink(it->temp.c_str());
  }
}

}  // namespace

void write_files_atomically(const std::vector<std::pair<std::string, std::string>> &files) {
  std::vector<Output> outs(files.size());
  for (size_t i = 0; i < files.size(); ++i) {
    outs[i].path = files[i].first;
    outs[i].data = &files[i].second;
    classify(outs[i]);
    for (size_t j = 0; j < i; ++j)
      if (outs[i].kind != Output::Stream && outs[j].target == outs[i].target)
        fail(outs[i].path, "it is the same file as the output '" + outs[j].path + "'");
  }
  try {
    for (auto &o : outs)
      if (o.kind != Output::Stream) write_temp(o);
    for (auto &o : outs)
      if (o.kind != Output::Stream) place(o);
    for (auto &o : outs)
      if (o.kind == Output::Stream) write_stream(o);
  } catch (...) {
    undo(outs);
    throw;
  }
  for (auto &o : outs)
    if (!o.old.empty()) ::unlink(o.old.c_str());
}

}  // namespace kcc
