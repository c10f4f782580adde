// test/e2e/test_atomic_write.cpp - write_files_atomically when a rename fails midway.
//
// As root no permission makes a rename fail, so this test interposes renameat2 and rename (the
// executable's definitions take precedence over libc's for atomic_write.cpp, linked in here) and
// fails the N-th call; the real call is the raw system call.
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "ir/diag.h"
#include "tools/atomic_write.h"

namespace {

int g_calls = 0;       // renameat2 and rename calls so far
int g_fail_at = 0;     // fail this call (1-based) with EIO; 0: never
bool g_no_exchange = false;  // answer RENAME_EXCHANGE with EINVAL, as a filesystem without it

int real_rename(const char *from, const char *to, unsigned flags) {
  return static_cast<int>(syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, flags));
}

int fake_rename(const char *from, const char *to, unsigned flags) {
  if (g_no_exchange && (flags & RENAME_EXCHANGE)) {
    errno = EINVAL;
    return -1;
  }
  if (++g_calls == g_fail_at) {
    errno = EIO;
    return -1;
  }
  return real_rename(from, to, flags);
}

}  // namespace

extern "C" int renameat2(int, const char *from, int, const char *to, unsigned flags) {
  return fake_rename(from, to, flags);
}
extern "C" int rename(const char *from, const char *to) { return fake_rename(from, to, 0); }

namespace kcc {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path &p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void put(const fs::path &p, const std::string &text) { std::ofstream(p, std::ios::binary) << text; }

class AtomicWrite : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("kcc_atomic_write_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    put(dir_ / "m.o", "old object");
    put(dir_ / "m.h", "old header");
    g_calls = 0;
    g_fail_at = 0;
    g_no_exchange = false;
  }
  void TearDown() override {
    g_fail_at = 0;
    g_no_exchange = false;
    fs::remove_all(dir_);
  }
  std::vector<std::pair<std::string, std::string>> outputs() const {
    // Two files that exist (exchanged) and a new one (moved in).
    return {{(dir_ / "m.o").string(), "new object"},
            {(dir_ / "m.h").string(), "new header"},
            {(dir_ / "m.kreg").string(), "new registry"}};
  }
  std::vector<std::string> names() const {
    std::vector<std::string> v;
    for (auto &e : fs::directory_iterator(dir_)) v.push_back(e.path().filename().string());
    std::sort(v.begin(), v.end());
    return v;
  }
  void expect_untouched() {
    EXPECT_EQ(slurp(dir_ / "m.o"), "old object");
    EXPECT_EQ(slurp(dir_ / "m.h"), "old header");
    EXPECT_EQ(names(), (std::vector<std::string>{"m.h", "m.o"}));  // no new file, no temporaries
  }
  fs::path dir_;
};

TEST_F(AtomicWrite, ReplacesAllOutputs) {
  write_files_atomically(outputs());
  EXPECT_EQ(slurp(dir_ / "m.o"), "new object");
  EXPECT_EQ(slurp(dir_ / "m.kreg"), "new registry");
  EXPECT_EQ(names(), (std::vector<std::string>{"m.h", "m.kreg", "m.o"}));
}

TEST_F(AtomicWrite, ThirdRenameFailingPutsTheFirstTwoBack) {
  // Calls: exchange m.o, exchange m.h, exchange m.kreg (ENOENT: new), no-replace m.kreg.
  g_fail_at = 4;
  EXPECT_THROW(write_files_atomically(outputs()), UserError);
  expect_untouched();
}

TEST_F(AtomicWrite, SecondRenameFailingPutsTheFirstBack) {
  g_fail_at = 2;
  EXPECT_THROW(write_files_atomically(outputs()), UserError);
  expect_untouched();
}

TEST_F(AtomicWrite, WithoutExchangeStillReplacesAllOutputs) {
  g_no_exchange = true;
  write_files_atomically(outputs());
  EXPECT_EQ(slurp(dir_ / "m.h"), "new header");
  EXPECT_EQ(slurp(dir_ / "m.kreg"), "new registry");
  EXPECT_EQ(names(), (std::vector<std::string>{"m.h", "m.kreg", "m.o"}));
}

TEST_F(AtomicWrite, WithoutExchangeALateFailurePutsTheFirstBack) {
  // Calls: m.o aside, m.o in, m.h aside, m.h in (fails).
  g_no_exchange = true;
  g_fail_at = 4;
  EXPECT_THROW(write_files_atomically(outputs()), UserError);
  expect_untouched();
}

}  // namespace
}  // namespace kcc
