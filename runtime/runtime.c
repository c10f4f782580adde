/* runtime/runtime.c - the kcc runtime: thread pool, scratch memory, error strings.
 *
 * Plain C11 + pthreads; linked into user apps, so nothing of kcc and no C++ runtime.
 *
 * Thread pool design
 *  - One process-wide pool of persistent worker threads, created lazily on the first parallel
 *    loop that needs them and grown when kcc_set_num_threads asks for more. Workers are never
 *    destroyed; when fewer threads are wanted the extra workers simply sit out jobs.
 *  - One job at a time: `job_mutex` serializes kcc_parallel_for calls from several app threads.
 *  - A job is published under `lock` with a new generation number and a number of worker
 *    slots. Workers spin briefly on the generation (cheap pickup for back-to-back loops) and
 *    then sleep on `wake`. A worker joins under `lock` by taking a slot (so it reads a
 *    consistent job and is counted in `active`), runs chunks taken from an atomic counter, and
 *    leaves by decrementing `active`. Chunks are guided (as OpenMP's schedule(guided)): each
 *    takes 1 / threads of what is left, down to a smallest chunk of 1 / (64 x threads) of the
 *    loop, so a thread starts on one large contiguous block and the threads end within one small
 *    chunk of each other. Four equal chunks per thread ran MobileNet-v2 on 2 threads 5-9% slower
 *    (bench/RESULTS.md, 2026-12-06); ResNet-50 did not move. The caller runs chunks too; when
 *    none are left it closes the job (slots = 0, under `lock`) and waits (spin, then `done`) for
 *    the workers that did join. A worker that was not scheduled in time never delays the caller:
 *    on a loaded machine the caller simply runs more chunks itself.
 *  - A thread-local flag marks code running inside a task; kcc_parallel_for called from there
 *    runs the whole range serially on the calling thread.
 *  - The first non-zero status of a chunk is kept (compare-exchange from 0); later chunks are
 *    skipped once a status is set. */
#define _GNU_SOURCE
#include "kcc_runtime.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KCC_MAX_THREADS 256
#define KCC_SPIN_ITERS 4000      /* ~100 us of pause before a worker sleeps */
#define KCC_GUIDED_SHARE 1       /* a chunk is 1 / (KCC_GUIDED_SHARE x threads) of what is left */
#define KCC_MIN_CHUNK_SHARE 64   /* ... and at least 1 / (KCC_MIN_CHUNK_SHARE x threads) of the loop */

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* ------------------------------------------------------------------ error strings */

const char *kcc_error_string(int status) {
  switch (status) {
    case KCC_OK: return "success";
    case KCC_ERR_OUT_OF_MEMORY: return "out of memory";
    case KCC_ERR_NULL_ARGUMENT: return "null argument";
    case KCC_ERR_THREAD_POOL: return "thread pool failure";
    case KCC_ERR_NO_CUDA_DRIVER: return "no CUDA driver (libcuda.so.1 could not be loaded)";
    case KCC_ERR_CUDA: return "CUDA driver error";
    case KCC_ERR_TASK_FAILED: return "a parallel task failed";
    case KCC_ERR_MISALIGNED: return "misaligned argument (workspace and weights need 64 bytes, a tensor its element size)";
    case KCC_ERR_WEIGHTS_FILE: return "weights file cannot be read or does not belong to this model";
    default: return "unknown kcc error";
  }
}

/* ------------------------------------------------------------------ memory */

void *kcc_alloc(size_t bytes) {
  void *p = NULL;
  size_t n = bytes == 0 ? 64 : (bytes + 63) & ~(size_t)63;
  if (n < bytes) return NULL; /* overflow */
  if (posix_memalign(&p, 64, n) != 0) return NULL;
  return p;
}

void kcc_free(void *p) { free(p); }

void *kcc_alloc_slot(size_t bytes, unsigned slot) {
  /* The page-aligned block's address sits just below the returned pointer (offset >= 64). */
  size_t offset = 64 * (1 + (17u * (size_t)slot) % 63), n = (bytes + 63) & ~(size_t)63;
  if (n < bytes || n > SIZE_MAX - 4096) return NULL; /* overflow */
  void *base = NULL;
  if (posix_memalign(&base, 4096, n + 4096) != 0) return NULL;
  char *p = (char *)base + offset;
  memcpy(p - sizeof base, &base, sizeof base);
  return p;
}

void kcc_free_slot(void *p) {
  if (!p) return;
  void *base;
  memcpy(&base, (char *)p - sizeof base, sizeof base);
  free(base);
}

/* ------------------------------------------------------------------ cache eviction */

/* 64 bytes: the smallest data-cache line of the x86-64 and AArch64 cores kcc targets; on a core
 * with longer lines some lines are flushed twice, which is harmless. */
#define KCC_EVICT_STEP 64

#if defined(__x86_64__)
#include <cpuid.h>

/* CPUID.(EAX=7,ECX=0):EBX bit 23 (read directly: older compilers' __builtin_cpu_supports lacks
 * the name). */
static int has_clflushopt(void) {
  static atomic_int known = -1;
  int v = atomic_load_explicit(&known, memory_order_relaxed);
  if (v < 0) {
    unsigned a, b = 0, c, d;
    v = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b >> 23 & 1);
    atomic_store_explicit(&known, v, memory_order_relaxed);
  }
  return v;
}

__attribute__((target("clflushopt"))) static void evict_clflushopt(const char *b, const char *e) {
  for (const char *q = b; q < e; q += KCC_EVICT_STEP) __builtin_ia32_clflushopt(q);
}
#endif

int kcc_evict_from_cache(const void *p, size_t bytes) {
  if (!p || bytes == 0) return 1;
  const char *b = (const char *)((uintptr_t)p & ~(uintptr_t)(KCC_EVICT_STEP - 1)), *e = (const char *)p + bytes;
#if defined(__x86_64__)
  if (has_clflushopt())
    evict_clflushopt(b, e);
  else
    for (const char *q = b; q < e; q += KCC_EVICT_STEP) __builtin_ia32_clflush(q);
  __builtin_ia32_mfence(); /* clflushopt is weakly ordered: done before the caller's next access */
  return 1;
#elif defined(__aarch64__)
  for (const char *q = b; q < e; q += KCC_EVICT_STEP) __asm__ __volatile__("dc civac, %0" : : "r"(q) : "memory");
  __asm__ __volatile__("dsb ish" : : : "memory");
  return 1;
#else
  (void)b;
  (void)e;
  return 0;
#endif
}

/* ------------------------------------------------------------------ thread count */

static int clamp_threads(long n) {
  if (n < 1) return 1;
  if (n > KCC_MAX_THREADS) return KCC_MAX_THREADS;
  return (int)n;
}

/* KCC_NUM_THREADS if set to a positive integer, else the number of online cores. */
static int default_num_threads(void) {
  const char *env = getenv("KCC_NUM_THREADS");
  if (env && *env) {
    char *end = NULL;
    long v = strtol(env, &end, 10);
    if (end && *end == '\0' && v > 0) return clamp_threads(v);
  }
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  return clamp_threads(cores > 0 ? cores : 1);
}

static atomic_int g_num_threads; /* 0 = not resolved yet */

void kcc_set_num_threads(int n) {
  atomic_store(&g_num_threads, n > 0 ? clamp_threads(n) : default_num_threads());
}

int kcc_get_num_threads(void) {
  int n = atomic_load(&g_num_threads);
  if (n == 0) {
    int d = default_num_threads();
    int expected = 0;
    if (atomic_compare_exchange_strong(&g_num_threads, &expected, d)) return d;
    return expected;
  }
  return n;
}

/* ------------------------------------------------------------------ thread pool */

struct pool {
  pthread_mutex_t job_mutex; /* one job at a time */
  pthread_mutex_t lock;      /* guards the job fields and the sleeping protocol */
  pthread_cond_t wake;       /* workers wait here for a new generation */
  pthread_cond_t done;       /* the caller waits here for active == 0 */
  int nworkers;              /* workers created so far (ids 1..nworkers) */
  unsigned long start_gen[KCC_MAX_THREADS + 1]; /* generation when worker `id` was created */

  atomic_ulong generation;
  /* the current job; written under `lock` before `generation` is bumped */
  kcc_task_fn fn;
  void *closure;
  int64_t n, min_chunk, divisor;
  int slots;        /* workers that may still join this job (under lock) */

  atomic_llong next; /* the first iteration not yet handed out */
  atomic_int status;
  atomic_int active; /* workers that joined and have not left */
  int caller_sleeping; /* under lock */
};

static struct pool g_pool = {
    .job_mutex = PTHREAD_MUTEX_INITIALIZER,
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .done = PTHREAD_COND_INITIALIZER,
};

static _Thread_local int t_in_task;

static void run_chunks(kcc_task_fn fn, void *closure, int64_t n, int64_t min_chunk, int64_t divisor) {
  struct pool *p = &g_pool;
  for (;;) {
    if (atomic_load_explicit(&p->status, memory_order_relaxed) != 0) return;
    int64_t begin = atomic_load_explicit(&p->next, memory_order_relaxed), end;
    do {
      if (begin >= n) return;
      int64_t size = (n - begin) / divisor;
      if (size < min_chunk) size = min_chunk;
      end = size < n - begin ? begin + size : n;
    } while (!atomic_compare_exchange_weak_explicit(&p->next, &begin, end, memory_order_relaxed,
                                                    memory_order_relaxed));
    int rc = fn(closure, begin, end);
    if (rc != 0) {
      int expected = 0;
      atomic_compare_exchange_strong(&p->status, &expected, rc);
    }
  }
}

static void *worker_main(void *arg) {
  struct pool *p = &g_pool;
  int id = (int)(intptr_t)arg;
  /* not the generation now: a job may have been published before this thread got to run */
  unsigned long seen = p->start_gen[id];
  t_in_task = 1;
  for (;;) {
    /* spin briefly, then sleep until a new generation is published */
    for (int i = 0; i < KCC_SPIN_ITERS; ++i) {
      if (atomic_load_explicit(&p->generation, memory_order_acquire) != seen) break;
      cpu_relax();
    }
    pthread_mutex_lock(&p->lock);
    while (atomic_load(&p->generation) == seen) pthread_cond_wait(&p->wake, &p->lock);
    seen = atomic_load(&p->generation);
    int take_part = p->slots > 0;
    if (take_part) {
      p->slots--;
      atomic_fetch_add_explicit(&p->active, 1, memory_order_relaxed);
    }
    kcc_task_fn fn = p->fn;
    void *closure = p->closure;
    int64_t n = p->n, min_chunk = p->min_chunk, divisor = p->divisor;
    pthread_mutex_unlock(&p->lock);
    if (!take_part) continue;

    run_chunks(fn, closure, n, min_chunk, divisor);
    if (atomic_fetch_sub_explicit(&p->active, 1, memory_order_acq_rel) == 1) {
      pthread_mutex_lock(&p->lock);
      if (p->caller_sleeping) pthread_cond_signal(&p->done);
      pthread_mutex_unlock(&p->lock);
    }
  }
  return NULL;
}

/* fork() copies the pool's state but only the calling thread: the child would count workers that
 * do not exist and run every job on the caller alone (silently single-threaded), or block forever
 * on a lock some other thread held at the fork. The handlers hold both locks across the fork, so
 * no job is in flight, and the child starts with no workers and fresh condition variables (the
 * parent's have waiters that do not exist in the child); it creates workers on its first job. */
static void pool_before_fork(void) {
  pthread_mutex_lock(&g_pool.job_mutex);
  pthread_mutex_lock(&g_pool.lock);
}

static void pool_after_fork_parent(void) {
  pthread_mutex_unlock(&g_pool.lock);
  pthread_mutex_unlock(&g_pool.job_mutex);
}

static void pool_after_fork_child(void) {
  struct pool *p = &g_pool;
  p->nworkers = 0;
  p->slots = 0;
  p->caller_sleeping = 0;
  atomic_store(&p->active, 0);
  pthread_cond_init(&p->wake, NULL);
  pthread_cond_init(&p->done, NULL);
  pthread_mutex_unlock(&p->lock);
  pthread_mutex_unlock(&p->job_mutex);
}

static pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;

static void register_fork_handlers(void) {
  pthread_atfork(pool_before_fork, pool_after_fork_parent, pool_after_fork_child);
}

/* Creates workers up to `want` (ids 1..want). Called with job_mutex held. Returns how many exist. */
static int ensure_workers(int want) {
  struct pool *p = &g_pool;
  if (p->nworkers < want) pthread_once(&g_atfork_once, register_fork_handlers);
  while (p->nworkers < want) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, (size_t)8 << 20); /* generated code keeps tiles on the stack */
    pthread_t th;
    p->start_gen[p->nworkers + 1] = atomic_load(&p->generation);
    int rc = pthread_create(&th, &attr, worker_main, (void *)(intptr_t)(p->nworkers + 1));
    pthread_attr_destroy(&attr);
    if (rc != 0) break;
    p->nworkers++;
  }
  return p->nworkers;
}

int kcc_parallel_for(int64_t n, kcc_task_fn fn, void *closure) {
  if (n <= 0) return 0;
  if (!fn) return KCC_ERR_NULL_ARGUMENT;
  int threads = kcc_get_num_threads();
  if (t_in_task || threads <= 1 || n == 1) return fn(closure, 0, n);

  struct pool *p = &g_pool;
  pthread_mutex_lock(&p->job_mutex);
  int workers = ensure_workers(threads - 1);
  if (workers > threads - 1) workers = threads - 1;
  int64_t total = (int64_t)workers + 1;
  int64_t min_chunk = n / (KCC_MIN_CHUNK_SHARE * total);
  if (min_chunk < 1) min_chunk = 1;
  int64_t divisor = KCC_GUIDED_SHARE * total;
  /* no point waking more workers than there are iterations besides the caller's first chunk */
  int64_t first = n / divisor > min_chunk ? n / divisor : min_chunk;
  if (workers > n - first) workers = (int)(n - first);
  if (workers <= 0) {
    pthread_mutex_unlock(&p->job_mutex);
    return fn(closure, 0, n);
  }

  pthread_mutex_lock(&p->lock);
  p->fn = fn;
  p->closure = closure;
  p->n = n;
  p->min_chunk = min_chunk;
  p->divisor = divisor;
  p->slots = workers;
  atomic_store(&p->next, 0);
  atomic_store(&p->status, 0);
  atomic_store(&p->active, 0);
  p->caller_sleeping = 0;
  atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->lock);

  t_in_task = 1;
  run_chunks(fn, closure, n, min_chunk, divisor);
  t_in_task = 0;

  /* No chunk is left to hand out: close the job to late workers, then wait for those inside. */
  pthread_mutex_lock(&p->lock);
  p->slots = 0;
  pthread_mutex_unlock(&p->lock);
  for (int i = 0; i < KCC_SPIN_ITERS && atomic_load_explicit(&p->active, memory_order_acquire) != 0; ++i)
    cpu_relax();
  if (atomic_load_explicit(&p->active, memory_order_acquire) != 0) {
    pthread_mutex_lock(&p->lock);
    p->caller_sleeping = 1;
    while (atomic_load(&p->active) != 0) pthread_cond_wait(&p->done, &p->lock);
    p->caller_sleeping = 0;
    pthread_mutex_unlock(&p->lock);
  }
  int status = atomic_load(&p->status);
  pthread_mutex_unlock(&p->job_mutex);
  return status;
}
