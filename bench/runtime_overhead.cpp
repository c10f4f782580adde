// bench/runtime_overhead.cpp - the cost of one kcc_parallel_for call (empty-ish body), for
// 1..N threads, back to back (workers spinning) and after an idle gap (workers asleep).
// Prints medians in microseconds. Not a test: timings vary with machine load.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "kcc_runtime.h"

namespace {

std::atomic<int64_t> sink{0};

int tiny_task(void *, int64_t begin, int64_t end) {
  sink.fetch_add(end - begin, std::memory_order_relaxed);
  return 0;
}

/// Busy work of about `us` microseconds per iteration.
int work_task(void *c, int64_t begin, int64_t end) {
  double us = *static_cast<double *>(c);
  for (int64_t i = begin; i < end; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    while (std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() < us) {
    }
  }
  return 0;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double time_call(int64_t n) {
  auto t0 = std::chrono::steady_clock::now();
  kcc_parallel_for(n, tiny_task, nullptr);
  auto t1 = std::chrono::steady_clock::now();
  return std::chrono::duration<double, std::micro>(t1 - t0).count();
}

}  // namespace

int main(int argc, char **argv) {
  int max_threads = argc > 1 ? std::atoi(argv[1]) : static_cast<int>(std::thread::hardware_concurrency());
  std::printf("%8s %12s %14s %14s\n", "threads", "iterations", "hot (us)", "after 5ms idle (us)");
  for (int t = 1; t <= std::max(1, max_threads); ++t) {
    kcc_set_num_threads(t);
    for (int64_t n : {int64_t(2), int64_t(64)}) {
      for (int w = 0; w < 100; ++w) time_call(n);  // start the workers, warm up
      std::vector<double> hot, cold;
      for (int r = 0; r < 2000; ++r) hot.push_back(time_call(n));
      for (int r = 0; r < 30; ++r) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        cold.push_back(time_call(n));
      }
      std::printf("%8d %12lld %14.2f %14.2f\n", t, static_cast<long long>(n), median(hot), median(cold));
    }
  }
  // Two iterations of 50 us each: ~100 us on one thread, ~50 us plus overhead on two.
  std::printf("\n%8s %26s\n", "threads", "2 x 50us iterations (us)");
  double us = 50;
  for (int t = 1; t <= std::max(1, max_threads); ++t) {
    kcc_set_num_threads(t);
    std::vector<double> v;
    for (int r = 0; r < 200; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      kcc_parallel_for(2, work_task, &us);
      v.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    }
    std::printf("%8d %26.2f\n", t, median(v));
  }
  return 0;
}
