// Unit tests of the kcc runtime: thread pool, scratch memory, error strings. No timings here.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "kcc_runtime.h"

namespace {

struct SumClosure {
  const int64_t *data;
  std::atomic<int64_t> *total;
  std::atomic<int> *calls;
};

int sum_task(void *c, int64_t begin, int64_t end) {
  auto *s = static_cast<SumClosure *>(c);
  int64_t local = 0;
  for (int64_t i = begin; i < end; ++i) local += s->data[i];
  s->total->fetch_add(local);
  s->calls->fetch_add(1);
  return 0;
}

int64_t parallel_sum(const std::vector<int64_t> &v, int *calls_out = nullptr) {
  std::atomic<int64_t> total{0};
  std::atomic<int> calls{0};
  SumClosure c{v.data(), &total, &calls};
  EXPECT_EQ(kcc_parallel_for(static_cast<int64_t>(v.size()), sum_task, &c), 0);
  if (calls_out) *calls_out = calls.load();
  return total.load();
}

std::vector<int64_t> random_data(size_t n, unsigned seed) {
  std::vector<int64_t> v(n);
  uint64_t x = seed * 2654435761u + 1;
  for (auto &e : v) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    e = static_cast<int64_t>(x >> 40) - (1 << 23) + 1;  // nonzero mix of signs
  }
  return v;
}

int64_t serial_sum(const std::vector<int64_t> &v) {
  int64_t s = 0;
  for (auto e : v) s += e;
  return s;
}

class RuntimeTest : public ::testing::Test {
 protected:
  void TearDown() override { kcc_set_num_threads(0); }
};

TEST_F(RuntimeTest, ParallelSumMatchesSerial) {
  kcc_set_num_threads(4);
  for (size_t n : {1u, 2u, 3u, 7u, 64u, 1000u, 100003u}) {
    auto v = random_data(n, static_cast<unsigned>(n));
    EXPECT_EQ(parallel_sum(v), serial_sum(v)) << "n=" << n;
  }
}

TEST_F(RuntimeTest, EveryIterationRunsExactlyOnce) {
  kcc_set_num_threads(3);
  const int64_t n = 10007;
  std::vector<std::atomic<int>> hits(n);
  for (auto &h : hits) h = 0;
  auto task = [](void *c, int64_t b, int64_t e) -> int {
    auto *h = static_cast<std::vector<std::atomic<int>> *>(c);
    for (int64_t i = b; i < e; ++i) (*h)[i].fetch_add(1);
    return 0;
  };
  for (int rep = 0; rep < 50; ++rep) ASSERT_EQ(kcc_parallel_for(n, task, &hits), 0);
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 50) << i;
}

// Chunks are guided: each is half (2 threads) of what is left, never below 1/128 of the loop,
// so the first chunks are large and the last ones small (the threads end close together). The
// boundaries depend only on n and the thread count, not on which thread takes which chunk.
TEST_F(RuntimeTest, ChunksShrinkToASmallLastChunk) {
  kcc_set_num_threads(2);
  struct Chunks {
    std::mutex m;
    std::vector<std::pair<int64_t, int64_t>> v;
  } chunks;
  auto task = [](void *c, int64_t b, int64_t e) -> int {
    auto *ch = static_cast<Chunks *>(c);
    std::lock_guard<std::mutex> g(ch->m);
    ch->v.emplace_back(b, e);
    return 0;
  };
  const int64_t n = 1000, min_chunk = n / 128;
  ASSERT_EQ(kcc_parallel_for(n, task, &chunks), 0);
  std::sort(chunks.v.begin(), chunks.v.end());
  ASSERT_FALSE(chunks.v.empty());
  EXPECT_EQ(chunks.v.front(), std::make_pair(int64_t{0}, n / 2));
  int64_t at = 0, last = n;
  for (auto [b, e] : chunks.v) {
    EXPECT_EQ(b, at);
    EXPECT_EQ(e - b, std::min(std::max((n - b) / 2, min_chunk), n - b)) << "chunk at " << b;
    EXPECT_LE(e - b, last);  // never growing
    last = e - b;
    at = e;
  }
  EXPECT_EQ(at, n);
  EXPECT_LE(chunks.v.back().second - chunks.v.back().first, min_chunk);
  EXPECT_EQ(chunks.v.size(), 9u);  // 500 250 125 62 31 16 8 7 1
}

TEST_F(RuntimeTest, EmptyAndNegativeRangesDoNothing) {
  auto task = [](void *, int64_t, int64_t) -> int { return 99; };
  EXPECT_EQ(kcc_parallel_for(0, task, nullptr), 0);
  EXPECT_EQ(kcc_parallel_for(-5, task, nullptr), 0);
}

TEST_F(RuntimeTest, NullTaskIsAnError) {
  EXPECT_EQ(kcc_parallel_for(10, nullptr, nullptr), KCC_ERR_NULL_ARGUMENT);
}

TEST_F(RuntimeTest, ErrorStatusPropagates) {
  kcc_set_num_threads(4);
  // Iteration 37 fails with a distinctive code; the call returns it.
  auto task = [](void *, int64_t b, int64_t e) -> int {
    for (int64_t i = b; i < e; ++i)
      if (i == 37) return 42;
    return 0;
  };
  for (int rep = 0; rep < 20; ++rep) EXPECT_EQ(kcc_parallel_for(100, task, nullptr), 42);
  // The pool is still usable and reports success afterwards.
  auto v = random_data(500, 3);
  EXPECT_EQ(parallel_sum(v), serial_sum(v));
}

TEST_F(RuntimeTest, FirstNonZeroStatusIsOneOfTheFailures) {
  kcc_set_num_threads(4);
  auto task = [](void *, int64_t b, int64_t e) -> int { return b % 2 == 0 ? 5 : 6; };
  int rc = kcc_parallel_for(64, task, nullptr);
  EXPECT_TRUE(rc == 5 || rc == 6) << rc;
}

TEST_F(RuntimeTest, NestedCallsComputeTheRightSum) {
  kcc_set_num_threads(4);
  struct Outer {
    std::vector<int64_t> data;
    std::atomic<int64_t> total{0};
  } o;
  o.data = random_data(64 * 100, 9);
  struct Row {
    Outer *o;
    int64_t row;
  };
  auto outer = [](void *c, int64_t b, int64_t e) -> int {
    auto *o = static_cast<Outer *>(c);
    for (int64_t row = b; row < e; ++row) {
      Row r{o, row};
      int rc = kcc_parallel_for(100, +[](void *c2, int64_t b2, int64_t e2) -> int {
        auto *r = static_cast<Row *>(c2);
        int64_t s = 0;
        for (int64_t i = b2; i < e2; ++i) s += r->o->data[r->row * 100 + i];
        r->o->total.fetch_add(s);
        return 0;
      }, &r);
      if (rc != 0) return rc;
    }
    return 0;
  };
  ASSERT_EQ(kcc_parallel_for(64, outer, &o), 0);
  EXPECT_EQ(o.total.load(), serial_sum(o.data));
}

TEST_F(RuntimeTest, NestedCallRunsOnCallingThread) {
  kcc_set_num_threads(4);
  struct State {
    std::mutex m;
    bool all_same = true;
  } st;
  auto outer = [](void *c, int64_t b, int64_t e) -> int {
    auto *s = static_cast<State *>(c);
    struct Inner {
      State *s;
      std::thread::id self;
    } in{s, std::this_thread::get_id()};
    return kcc_parallel_for(32, +[](void *c2, int64_t, int64_t) -> int {
      auto *in = static_cast<Inner *>(c2);
      if (std::this_thread::get_id() != in->self) {
        std::lock_guard<std::mutex> g(in->s->m);
        in->s->all_same = false;
      }
      return 0;
    }, &in);
  };
  ASSERT_EQ(kcc_parallel_for(16, outer, &st), 0);
  EXPECT_TRUE(st.all_same);
}

TEST_F(RuntimeTest, NestedErrorPropagatesOutward) {
  kcc_set_num_threads(2);
  auto outer = [](void *, int64_t b, int64_t e) -> int {
    return kcc_parallel_for(8, +[](void *, int64_t b2, int64_t e2) -> int { return b2 <= 3 && 3 < e2 ? 7 : 0; },
                            nullptr);
  };
  EXPECT_EQ(kcc_parallel_for(4, outer, nullptr), 7);
}

TEST_F(RuntimeTest, ThreadCountSetAndRestore) {
  kcc_set_num_threads(3);
  EXPECT_EQ(kcc_get_num_threads(), 3);
  kcc_set_num_threads(1);
  EXPECT_EQ(kcc_get_num_threads(), 1);
  auto v = random_data(1000, 4);
  EXPECT_EQ(parallel_sum(v), serial_sum(v));
  kcc_set_num_threads(0);
  EXPECT_GE(kcc_get_num_threads(), 1);
}

namespace {

// How many distinct threads ran the chunks of one 64-iteration job (each chunk sleeps, so the
// workers join in even on a loaded machine).
size_t threads_taking_part() {
  struct Seen {
    std::mutex m;
    std::set<std::thread::id> ids;
  } seen;
  auto task = [](void *c, int64_t b, int64_t e) -> int {
    auto *s = static_cast<Seen *>(c);
    {
      std::lock_guard<std::mutex> g(s->m);
      s->ids.insert(std::this_thread::get_id());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2 * (e - b)));
    return 0;
  };
  if (kcc_parallel_for(64, task, &seen) != 0) return 0;
  return seen.ids.size();
}

}  // namespace

TEST_F(RuntimeTest, UsesSeveralThreadsWhenAsked) {
  kcc_set_num_threads(4);
  size_t n = threads_taking_part();
  EXPECT_GE(n, 2u);
  EXPECT_LE(n, 4u);
}

// The tuner's runner forks a worker process; a process that ran parallel kernels before must
// still run them on several threads in the child (and not block on the pool's locks).
TEST_F(RuntimeTest, ForkedChildGetsItsOwnWorkers) {
  kcc_set_num_threads(2);
  ASSERT_EQ(threads_taking_part(), 2u);  // the parent's worker exists now
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::vector<int64_t> v = random_data(10000, 7);
    bool sum_ok = parallel_sum(v) == serial_sum(v);
    _exit(sum_ok && threads_taking_part() == 2 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the child ran its jobs on fewer than 2 threads";
  EXPECT_EQ(threads_taking_part(), 2u);  // and the parent's pool still works
}

TEST_F(RuntimeTest, OneThreadRunsOnCaller) {
  kcc_set_num_threads(1);
  std::thread::id self = std::this_thread::get_id();
  auto task = [](void *c, int64_t, int64_t) -> int {
    return *static_cast<std::thread::id *>(c) == std::this_thread::get_id() ? 0 : 1;
  };
  EXPECT_EQ(kcc_parallel_for(100, task, &self), 0);
}

TEST_F(RuntimeTest, EnvironmentVariableSetsDefault) {
  ASSERT_EQ(setenv("KCC_NUM_THREADS", "3", 1), 0);
  kcc_set_num_threads(0);
  EXPECT_EQ(kcc_get_num_threads(), 3);
  ASSERT_EQ(setenv("KCC_NUM_THREADS", "garbage", 1), 0);
  kcc_set_num_threads(0);
  EXPECT_EQ(kcc_get_num_threads(), static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  ASSERT_EQ(unsetenv("KCC_NUM_THREADS"), 0);
  kcc_set_num_threads(0);
  EXPECT_EQ(kcc_get_num_threads(), static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}

TEST_F(RuntimeTest, SeveralAppThreadsAtOnce) {
  kcc_set_num_threads(3);
  auto v = random_data(20000, 11);
  int64_t want = serial_sum(v);
  std::atomic<int> bad{0};
  std::vector<std::thread> apps;
  for (int t = 0; t < 4; ++t) {
    apps.emplace_back([&] {
      for (int rep = 0; rep < 100; ++rep)
        if (parallel_sum(v) != want) bad.fetch_add(1);
    });
  }
  for (auto &t : apps) t.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST_F(RuntimeTest, GrowingAndShrinkingThreadCount) {
  auto v = random_data(5000, 12);
  int64_t want = serial_sum(v);
  for (int n : {2, 5, 1, 3, 8, 2}) {
    kcc_set_num_threads(n);
    EXPECT_EQ(parallel_sum(v), want) << n;
  }
}

TEST(RuntimeAlloc, AlignedAndUsable) {
  for (size_t bytes : {size_t(0), size_t(1), size_t(63), size_t(64), size_t(1000), size_t(1) << 20}) {
    void *p = kcc_alloc(bytes);
    ASSERT_NE(p, nullptr) << bytes;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u) << bytes;
    std::memset(p, 0xab, bytes);
    kcc_free(p);
  }
  kcc_free(nullptr);
}

TEST(RuntimeAlloc, HugeRequestFailsCleanly) { EXPECT_EQ(kcc_alloc(~size_t(0) - 10), nullptr); }

// Measurement operands: 64-byte aligned, each slot at its own offset within its page (what a
// malloc'd buffer is not: 16 bytes past a page, every operand at the same offset), usable to
// the last byte and freed.
TEST(RuntimeAlloc, SlotsAreAlignedAndStaggeredWithinTheirPages) {
  std::set<uintptr_t> page_offsets;
  std::vector<void *> blocks;
  for (unsigned slot = 0; slot < 63; ++slot) {
    const size_t bytes = (size_t(1) << 20) + 4 * slot;  // large: the size malloc maps a page for
    void *p = kcc_alloc_slot(bytes, slot);
    ASSERT_NE(p, nullptr) << slot;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u) << slot;
    page_offsets.insert(reinterpret_cast<uintptr_t>(p) % 4096);
    std::memset(p, 0xab, bytes);
    blocks.push_back(p);
  }
  EXPECT_EQ(page_offsets.size(), 63u);
  for (void *p : blocks) kcc_free_slot(p);
  void *small = kcc_alloc_slot(0, 5);
  ASSERT_NE(small, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(small) % 64, 0u);
  kcc_free_slot(small);
  kcc_free_slot(nullptr);
  EXPECT_EQ(kcc_alloc_slot(~size_t(0) - 10, 0), nullptr);
}

// Eviction writes dirty lines back: the data is intact after it, and the calls are safe on an
// unaligned start, a zero length and null.
TEST(RuntimeEvict, KeepsTheDataAndSupportsThisArchitecture) {
  std::vector<float> v(100003);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) * 0.5f;
  const int supported = kcc_evict_from_cache(reinterpret_cast<const char *>(v.data()) + 3, v.size() * 4 - 3);
#if defined(__x86_64__) || defined(__aarch64__)
  EXPECT_EQ(supported, 1);
#endif
  for (size_t i = 0; i < v.size(); ++i) ASSERT_EQ(v[i], static_cast<float>(i) * 0.5f) << i;
  EXPECT_EQ(kcc_evict_from_cache(v.data(), 0), 1);
  EXPECT_EQ(kcc_evict_from_cache(nullptr, 64), 1);
}

TEST(RuntimeErrors, EveryStatusHasAMessage) {
  for (int s = KCC_OK; s <= KCC_ERR_TASK_FAILED; ++s) {
    const char *m = kcc_error_string(s);
    ASSERT_NE(m, nullptr);
    EXPECT_GT(std::strlen(m), 0u);
  }
  EXPECT_STREQ(kcc_error_string(KCC_ERR_OUT_OF_MEMORY), "out of memory");
  EXPECT_NE(kcc_error_string(12345), nullptr);
}

}  // namespace
