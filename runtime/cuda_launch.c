/* runtime/cuda_launch.c - launching kcc's NVPTX kernels through the CUDA driver API.
 *
 * The driver (libcuda.so.1) is opened with dlopen on first use: nothing links against CUDA, and
 * a machine without a driver gets KCC_ERR_NO_CUDA_DRIVER with a readable message instead of a
 * failure at load time. KCC_CUDA_DRIVER=path overrides the library (tests use it to check the
 * no-driver path on machines that have one).
 *
 * Contexts: a launch runs in the calling thread's current context; when there is none, the
 * primary context of device 0 is made current (the one the CUDA runtime and PyTorch use, so
 * their device pointers and streams work as they are). Each embedded PTX module is loaded once
 * (cuModuleLoadData JIT-compiles it for the device), each kernel looked up once; both under a
 * mutex, then read without locking. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kcc_runtime.h"

typedef int CUresult;
typedef int CUdevice;
typedef void *CUcontext;
typedef void *CUmodule;
typedef void *CUfunction;
typedef void *CUstream;
typedef unsigned long long CUdeviceptr;

#define CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES 8

static struct {
  int state; /* 0 = not tried, 1 = ready, -1 = no driver */
  void *lib;
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDeviceGet)(CUdevice *, int);
  CUresult (*cuCtxGetCurrent)(CUcontext *);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*cuModuleLoadData)(CUmodule *, const void *);
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*cuFuncSetAttribute)(CUfunction, int, int);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                             CUstream, void **, void **);
  CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);
  CUresult (*cuMemFree)(CUdeviceptr);
  CUresult (*cuMemAllocAsync)(CUdeviceptr *, size_t, CUstream); /* CUDA >= 11.2; may be NULL */
  CUresult (*cuMemFreeAsync)(CUdeviceptr, CUstream);
  CUresult (*cuGetErrorString)(CUresult, const char **);
  CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void *, size_t);
  CUresult (*cuMemcpyDtoH)(void *, CUdeviceptr, size_t);
  CUresult (*cuCtxSynchronize)(void);
} cu;

static pthread_mutex_t cu_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread char last_error[512];

static void set_error(const char *what, CUresult r, const char *detail) {
  const char *s = NULL;
  if (cu.cuGetErrorString) cu.cuGetErrorString(r, &s);
  snprintf(last_error, sizeof last_error, "%s%s%s: %s (CUDA error %d)", what, detail ? " " : "", detail ? detail : "",
           s ? s : "unknown error", r);
}

const char *kcc_cuda_last_error(void) { return last_error; }

/* Opens the driver once; 0 or KCC_ERR_NO_CUDA_DRIVER. Called with cu_lock held. */
static int open_driver_locked(void) {
  if (cu.state != 0) return cu.state > 0 ? 0 : KCC_ERR_NO_CUDA_DRIVER;
  const char *name = getenv("KCC_CUDA_DRIVER");
  if (!name || !*name) name = "libcuda.so.1";
  cu.lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
  if (!cu.lib) {
    snprintf(last_error, sizeof last_error, "no CUDA driver (%s not found: %s)", name, dlerror());
    cu.state = -1;
    return KCC_ERR_NO_CUDA_DRIVER;
  }
#define KCC_SYM(field, sym)                                      \
  do {                                                           \
    *(void **)(&cu.field) = dlsym(cu.lib, sym);                  \
  } while (0)
  KCC_SYM(cuInit, "cuInit");
  KCC_SYM(cuDeviceGet, "cuDeviceGet");
  KCC_SYM(cuCtxGetCurrent, "cuCtxGetCurrent");
  KCC_SYM(cuCtxSetCurrent, "cuCtxSetCurrent");
  KCC_SYM(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
  KCC_SYM(cuModuleLoadData, "cuModuleLoadData");
  KCC_SYM(cuModuleGetFunction, "cuModuleGetFunction");
  KCC_SYM(cuFuncSetAttribute, "cuFuncSetAttribute");
  KCC_SYM(cuLaunchKernel, "cuLaunchKernel");
  KCC_SYM(cuMemAlloc, "cuMemAlloc_v2");
  KCC_SYM(cuMemFree, "cuMemFree_v2");
  KCC_SYM(cuMemAllocAsync, "cuMemAllocAsync");
  KCC_SYM(cuMemFreeAsync, "cuMemFreeAsync");
  KCC_SYM(cuGetErrorString, "cuGetErrorString");
  KCC_SYM(cuMemcpyHtoD, "cuMemcpyHtoD_v2");
  KCC_SYM(cuMemcpyDtoH, "cuMemcpyDtoH_v2");
  KCC_SYM(cuCtxSynchronize, "cuCtxSynchronize");
#undef KCC_SYM
  if (!cu.cuInit || !cu.cuDeviceGet || !cu.cuCtxGetCurrent || !cu.cuCtxSetCurrent || !cu.cuDevicePrimaryCtxRetain ||
      !cu.cuModuleLoadData || !cu.cuModuleGetFunction || !cu.cuLaunchKernel || !cu.cuMemAlloc || !cu.cuMemFree) {
    snprintf(last_error, sizeof last_error, "no CUDA driver (%s lacks the driver API entry points kcc needs)", name);
    cu.state = -1;
    return KCC_ERR_NO_CUDA_DRIVER;
  }
  CUresult r = cu.cuInit(0);
  if (r != 0) {
    set_error("no CUDA driver: cuInit failed", r, NULL);
    cu.state = -1;
    return KCC_ERR_NO_CUDA_DRIVER;
  }
  cu.state = 1;
  return 0;
}

/* Driver open and a context current on this thread. */
static int ensure_context(void) {
  if (__atomic_load_n(&cu.state, __ATOMIC_ACQUIRE) <= 0) {
    pthread_mutex_lock(&cu_lock);
    int st = open_driver_locked();
    pthread_mutex_unlock(&cu_lock);
    if (st) return st;
  }
  CUcontext ctx = NULL;
  CUresult r = cu.cuCtxGetCurrent(&ctx);
  if (r == 0 && ctx) return 0;
  CUdevice dev;
  if ((r = cu.cuDeviceGet(&dev, 0)) != 0 || (r = cu.cuDevicePrimaryCtxRetain(&ctx, dev)) != 0 ||
      (r = cu.cuCtxSetCurrent(ctx)) != 0) {
    set_error("cannot make the primary context of device 0 current", r, NULL);
    return KCC_ERR_CUDA;
  }
  return 0;
}

int kcc_cuda_available(void) { return ensure_context() == 0; }

int kcc_cuda_launch(const char *ptx, void **module, const char *kernel, void **function, const uint32_t *dims,
                    void **args, void *stream) {
  int st = ensure_context();
  if (st) return st;
  CUfunction fn = __atomic_load_n(function, __ATOMIC_ACQUIRE);
  if (!fn) {
    pthread_mutex_lock(&cu_lock);
    CUresult r = 0;
    CUmodule mod = *module;
    if (!mod) {
      r = cu.cuModuleLoadData(&mod, ptx);
      if (r == 0) __atomic_store_n(module, mod, __ATOMIC_RELEASE);
      else set_error("cuModuleLoadData failed for the module of kernel", r, kernel);
    }
    if (r == 0 && !(fn = *function)) {
      r = cu.cuModuleGetFunction(&fn, mod, kernel);
      if (r != 0) set_error("cuModuleGetFunction failed for kernel", r, kernel);
      /* Above 48 KiB, dynamic shared memory must be opted into, per function. */
      if (r == 0 && dims[6] > 48 * 1024 && cu.cuFuncSetAttribute) {
        r = cu.cuFuncSetAttribute(fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, (int)dims[6]);
        if (r != 0) set_error("cannot allow the shared memory that kernel needs:", r, kernel);
      }
      if (r == 0) __atomic_store_n(function, fn, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&cu_lock);
    if (r != 0) return KCC_ERR_CUDA;
  }
  CUresult r = cu.cuLaunchKernel(fn, dims[0], dims[1], dims[2], dims[3], dims[4], dims[5], dims[6], stream, args, NULL);
  if (r != 0) {
    set_error("cuLaunchKernel failed for kernel", r, kernel);
    return KCC_ERR_CUDA;
  }
  return 0;
}

int kcc_cuda_alloc(void **ptr, size_t bytes, void *stream) {
  *ptr = NULL;
  int st = ensure_context();
  if (st) return st;
  CUdeviceptr p = 0;
  CUresult r = cu.cuMemAllocAsync ? cu.cuMemAllocAsync(&p, bytes, stream) : cu.cuMemAlloc(&p, bytes);
  if (r != 0 && cu.cuMemAllocAsync) r = cu.cuMemAlloc(&p, bytes); /* no memory pools on this device */
  if (r != 0) {
    set_error("cannot allocate device scratch", r, NULL);
    return KCC_ERR_CUDA;
  }
  *ptr = (void *)(uintptr_t)p;
  return 0;
}

int kcc_cuda_free(void *ptr, void *stream) {
  if (!ptr) return 0;
  int st = ensure_context();
  if (st) return st;
  CUdeviceptr p = (CUdeviceptr)(uintptr_t)ptr;
  CUresult r = cu.cuMemFreeAsync ? cu.cuMemFreeAsync(p, stream) : cu.cuMemFree(p);
  if (r != 0 && cu.cuMemFreeAsync) r = cu.cuMemFree(p);
  if (r != 0) {
    set_error("cannot free device scratch", r, NULL);
    return KCC_ERR_CUDA;
  }
  return 0;
}

int kcc_cuda_copy(void *dst, const void *src, size_t bytes, int to_device) {
  int st = ensure_context();
  if (st) return st;
  CUresult r = to_device ? cu.cuMemcpyHtoD((CUdeviceptr)(uintptr_t)dst, src, bytes)
                         : cu.cuMemcpyDtoH(dst, (CUdeviceptr)(uintptr_t)src, bytes);
  if (r != 0) {
    set_error(to_device ? "cuMemcpyHtoD failed" : "cuMemcpyDtoH failed", r, NULL);
    return KCC_ERR_CUDA;
  }
  return 0;
}

int kcc_cuda_synchronize(void) {
  int st = ensure_context();
  if (st) return st;
  CUresult r = cu.cuCtxSynchronize();
  if (r != 0) {
    set_error("cuCtxSynchronize failed (a kernel failed)", r, NULL);
    return KCC_ERR_CUDA;
  }
  return 0;
}
