/* runtime/kcc_runtime.h - the runtime that kcc-generated code calls, plain C ABI.
 *
 * Linked into user apps (libkcc_runtime.a). Depends on nothing of kcc and nothing beyond libc
 * and pthreads. All functions are thread-safe. */
#ifndef KCC_RUNTIME_H
#define KCC_RUNTIME_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Calling a generated kernel `int NAME(const float *X, ..., float *Y)` (CPU targets):
 *  - every argument is a dense row-major array of the tensor's shape, inputs then outputs;
 *  - a NULL argument returns KCC_ERR_NULL_ARGUMENT before any work (GPU host stubs too; their
 *    trailing stream argument may be NULL, the default stream);
 *  - alignment: each pointer must be aligned to its element type (4 bytes for f32, 8 for f64
 *    and i64, 2 for f16/bf16, 1 for i8 and bool), the alignment C already requires of a
 *    `float *`; the generated code assumes no more (vector loads and stores are unaligned
 *    ones). 64-byte alignment (kcc_alloc) is faster for wide vectors but not required. A
 *    misaligned pointer is undefined behaviour, as in C, and is not checked. GPU device
 *    pointers must be 16-byte aligned (below);
 *  - arrays must not overlap (outputs are not written in place of inputs);
 *  - the return value is 0 or one of the codes below; on an error, outputs may be partly
 *    written, except for KCC_ERR_NULL_ARGUMENT (nothing is written). */

/* Error codes returned by generated kernels and runtime calls. 0 is success. */
enum kcc_status {
  KCC_OK = 0,
  KCC_ERR_OUT_OF_MEMORY = 1,
  KCC_ERR_NULL_ARGUMENT = 2,
  KCC_ERR_THREAD_POOL = 3,
  KCC_ERR_NO_CUDA_DRIVER = 4,
  KCC_ERR_CUDA = 5,
  KCC_ERR_TASK_FAILED = 6,
  KCC_ERR_MISALIGNED = 7,   /* a model's workspace or weights not 64-byte aligned, or a tensor
                               not aligned to its element type (model entry points only) */
  KCC_ERR_WEIGHTS_FILE = 8  /* kcc_load_weights: the file cannot be read or is not the model's */
};

/* A human-readable message for a status code (never NULL). */
const char *kcc_error_string(int status);

/* Threads used by parallel loops. Default: KCC_NUM_THREADS if set, else the number of cores.
 * n <= 0 restores the default. */
void kcc_set_num_threads(int n);
int kcc_get_num_threads(void);

/* A parallel loop body: runs iterations [begin, end) of the loop; returns 0 or an error code. */
typedef int (*kcc_task_fn)(void *closure, int64_t begin, int64_t end);

/* Runs fn over [0, n) split into contiguous chunks on the thread pool; the calling thread
 * takes part. Returns 0, or the first non-zero status a chunk returned. Nested calls from
 * inside a task run serially on the calling thread. */
int kcc_parallel_for(int64_t n, kcc_task_fn fn, void *closure);

/* 64-byte aligned scratch memory; kcc_free(NULL) is a no-op. */
void *kcc_alloc(size_t bytes);
void kcc_free(void *p);

/* Operand buffers of a measurement (kcc tune, kcc-runner): 64-byte aligned, as a model's
 * workspace values and weights are, and operand `slot` at its own offset within its 4 KiB
 * page (64 x (1 + 17 x slot mod 63) bytes: distinct for 63 slots). Buffers from malloc start 16
 * bytes past a page, so every 64-byte vector access splits a cache line and every operand aliases
 * every other one modulo 4 KiB; a schedule tuned on such buffers is tuned for costs a model's
 * inference never sees. Free with kcc_free_slot (NULL is a no-op). */
void *kcc_alloc_slot(size_t bytes, unsigned slot);
void kcc_free_slot(void *p);

/* Writes back and evicts [p, p + bytes) from every level of the data cache (x86-64: clflushopt,
 * or clflush where the CPU lacks it; AArch64: dc civac), so that the next access comes from
 * memory: a kernel's weights as a model's inference finds them (each read once per inference,
 * long after the last). The tuner's measurer and bench/models/profile.c time with it. Returns 1,
 * or 0 where this architecture has no such instruction (nothing is done). */
int kcc_evict_from_cache(const void *p, size_t bytes);

/* Reads a compiled model's external weights (`kcc compile --weights external` writes NAME.weights;
 * the generated NAME_load_weights calls this with the model's numbers): `bytes` bytes whose
 * FNV-1a 64 hash must be `fnv1a`, into new 64-byte aligned memory stored in *weights (free it
 * with kcc_free). Returns KCC_ERR_NULL_ARGUMENT (path or weights NULL), KCC_ERR_WEIGHTS_FILE
 * (cannot open or read it, another size, another hash), KCC_ERR_OUT_OF_MEMORY; *weights is
 * NULL on any error. A 0-byte model needs no file: *weights = NULL and 0. Keeps no state: the
 * weights are the caller's to share between threads and free. */
int kcc_load_weights(const char *path, size_t bytes, uint64_t fnv1a, void **weights);

/* ---- NVPTX targets (runtime/cuda_launch.c): what kcc's GPU launch stubs call. The CUDA driver
 * (libcuda.so.1) is loaded with dlopen at first use; without it every call returns
 * KCC_ERR_NO_CUDA_DRIVER. Device pointers must be 16-byte aligned (cudaMalloc gives 256). */

/* 1 when a driver and a device are usable from this thread (makes a context current). */
int kcc_cuda_available(void);

/* Launches `kernel` of the PTX module `ptx`. `*module` and `*function` are caches owned by the
 * caller (static, initially NULL): the module is loaded and the function looked up once, thread-
 * safely. dims: grid x, y, z, block x, y, z, dynamic shared bytes (opted into above 48 KiB).
 * args: cuLaunchKernel's kernelParams. stream: a CUstream / cudaStream_t, or NULL. */
int kcc_cuda_launch(const char *ptx, void **module, const char *kernel, void **function, const uint32_t *dims,
                    void **args, void *stream);

/* Device scratch, stream-ordered where the driver supports it. */
int kcc_cuda_alloc(void **ptr, size_t bytes, void *stream);
int kcc_cuda_free(void *ptr, void *stream);

/* Synchronous copies between host and device memory (to_device: 1 host->device, 0 device->host)
 * and a wait for all work of the current context: for tests, runners and benchmarks. */
int kcc_cuda_copy(void *dst, const void *src, size_t bytes, int to_device);
int kcc_cuda_synchronize(void);

/* The last CUDA failure on this thread, in words ("" when none): kcc_error_string() says which
 * kind of error a status is, this says what the driver reported. */
const char *kcc_cuda_last_error(void);

#ifdef __cplusplus
}
#endif
#endif /* KCC_RUNTIME_H */
