#include "test/frontend/models.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace kcc::frontend::test {
namespace {

std::string read_file(const std::string &path) {
  std::ifstream in(path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool newer_than_script(const std::string &path) {
  struct stat s, m;
  return stat(path.c_str(), &s) == 0 && stat(KCC_MAKE_MODELS, &m) == 0 && s.st_mtime >= m.st_mtime;
}

/// KCC_TEST_PYTHON and KCC_TEST_MODELS_DIR in the environment override the configured ones (to
/// check the skips with a Python that lacks the packages).
std::string python() {
  const char *env = std::getenv("KCC_TEST_PYTHON");
  return env ? env : KCC_TEST_PYTHON;
}
std::string models_dir() {
  const char *env = std::getenv("KCC_TEST_MODELS_DIR");
  return env ? env : KCC_MODELS_DIR;
}

/// Runs make_models.py once for all test processes: under a file lock, unless every group's
/// status is newer than the script.
void ensure_models() {
  static bool done = false;
  if (done) return;
  std::string dir = models_dir();
  ::mkdir(dir.c_str(), 0755);
  int fd = ::open((dir + ".lock").c_str(), O_CREAT | O_RDWR, 0644);
  if (fd < 0 || ::flock(fd, LOCK_EX) != 0) throw std::runtime_error("cannot lock " + dir + ".lock");
  bool fresh = true;
  for (const char *g : {"ops", "errors", "torch", "lower"}) fresh = fresh && newer_than_script(dir + "/" + g + ".status");
  int rc = 0;
  if (!fresh) {
    std::string cmd = python() + " " + KCC_MAKE_MODELS + " " + dir + " > " + dir + ".log 2>&1";
    rc = std::system(cmd.c_str());
  }
  ::flock(fd, LOCK_UN);
  ::close(fd);
  if (rc != 0) throw std::runtime_error("make_models.py failed; see " + dir + ".log:\n" + read_file(dir + ".log"));
  done = true;
}

}  // namespace

std::string model_path(const std::string &group, const std::string &name) {
  ensure_models();
  return models_dir() + "/" + group + "/" + name + ".onnx";
}

std::string group_status(const std::string &group) {
  ensure_models();
  std::string s = read_file(models_dir() + "/" + group + ".status");
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s.empty() ? "skip: make_models.py wrote no status for " + group : s;
}

const Node &node_named(const Graph &g, const std::string &name) {
  for (const Node &n : g.nodes)
    if (n.name == name) return n;
  ADD_FAILURE() << "no node '" << name << "' in\n" << to_string(g);
  throw std::runtime_error("no node " + name);
}

Shape output_shape(const Graph &g, size_t i) { return g.tensor(g.outputs.at(i)).shape; }

}  // namespace kcc::frontend::test
