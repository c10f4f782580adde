// ir/gpu_launch.h - how a lowered GPU kernel maps onto CUDA launches.
//
// The plan is made once, by the pipeline's `verify` step (plan_gpu_launches in
// passes/lower_passes.h, which also checks the target's limits), and travels with the function
// (LoweredFunc::gpu) to the NVPTX generator, which emits one kernel per launch and a host stub
// that runs them.
//
// The loop IR of a GPU kernel has a sequential meaning (every loop runs in order, as on a CPU) and
// a SIMT meaning, which the NVPTX generator implements and which gives the same results:
//  * the function body is a sequence of root nests (after the allocations of root stages); each
//    nest is one kernel launch, so a root stage sees everything the nests before it wrote; a
//    nest without any bound loop (a scalar, rank-0 stage) is a launch of one thread;
//  * a GpuBlock loop over axis a is `v = min + blockIdx.a` (skipped by blocks beyond its extent);
//  * the outermost GpuThread loop over axis a is `v = min + threadIdx.a`, skipped by threads
//    beyond its extent; blockDim.a is the largest such extent;
//  * a GpuThread loop nested inside another one over the same axis (the cooperative fetch of a
//    shared-memory stage, placed inside the consumer's thread loops) is `for (v = threadIdx.a;
//    v < extent; v += blockDim.a)`: the block's threads share the iterations that the sequential
//    meaning would run once per outer iteration;
//  * Shared allocations are slices of the block's dynamic shared memory, Local ones are per
//    thread; root Global allocations are device scratch allocated by the host stub;
//  * a Barrier must be reached by every thread of the block: it may not sit under a condition or
//    a thread loop that not every thread runs.
#pragma once
#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include "ir/stmt.h"

namespace kcc {

/// One kernel launch: a root nest of the function.
struct GpuLaunch {
  Stmt body;                       ///< the nest, wrapped in the Local/Shared allocations it uses
  std::array<int64_t, 3> grid{1, 1, 1};   ///< blocks per axis (x, y, z)
  std::array<int64_t, 3> block{1, 1, 1};  ///< threads per axis
  int64_t shared_bytes = 0;        ///< dynamic shared memory per block
  std::vector<std::pair<const BufferNode *, int64_t>> shared_offsets;  ///< byte offset per Shared buffer
  int64_t threads() const { return block[0] * block[1] * block[2]; }
};

/// The launches of one lowered function.
struct GpuLaunchPlan {
  Stmt body;                       ///< the function body it was made from (LoweredFunc::body)
  std::vector<Buffer> scratch;     ///< root Global buffers, allocated on the device by the host stub
  std::vector<GpuLaunch> launches;
};

}  // namespace kcc
