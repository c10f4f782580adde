// ir/stmt.h - the loop IR that lowering produces and code generators consume.
#pragma once
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "ir/expr.h"

namespace kcc {

/// Where a buffer lives.
///  Global: a function argument (kernel input/output) or a heap allocation from the runtime.
///  Local:  private to one thread: stack, or registers once promoted (cache_write local).
///  Shared: GPU shared memory (address space 3).
enum class MemScope : uint8_t { Global, Local, Shared };
const char *to_string(MemScope s);

/// A flat, dense array of `size` elements of type `elem`. Identity is the node.
struct BufferNode {
  std::string name;
  Type elem = Type::f32();
  int64_t size = 0;   ///< in elements
  MemScope scope = MemScope::Global;
  int arg_index = -1;  ///< position in the kernel's argument list, or -1 for allocations
  std::vector<int64_t> shape;  ///< logical shape (row-major) for printing and checks; product == size
};
Buffer make_buffer(std::string name, Type elem, std::vector<int64_t> shape, MemScope scope,
                   int arg_index = -1);

#define KCC_STMT_NODES(X) \
  X(For)                  \
  X(Store)                \
  X(Allocate)             \
  X(Seq)                  \
  X(IfThenElse)           \
  X(Barrier)              \
  X(Prefetch)

enum class StmtKind : uint8_t {
#define KCC_ENUM(N) N,
  KCC_STMT_NODES(KCC_ENUM)
#undef KCC_ENUM
};
const char *to_string(StmtKind k);

/// How a loop runs.
///  Serial:     in order.
///  Parallel:   iterations may run concurrently on the runtime's thread pool; the body
///              must not carry dependences between iterations (checked by the verifier).
///  Vectorized: extent is a constant; the body is evaluated once with vectors of `extent` lanes.
///  Unrolled:   extent is a constant; the body is replicated.
///  GpuBlock / GpuThread: bound to blockIdx/threadIdx.`thread_axis` (0=x, 1=y, 2=z).
enum class ForKind : uint8_t { Serial, Parallel, Vectorized, Unrolled, GpuBlock, GpuThread };
const char *to_string(ForKind k);

struct StmtNode {
  StmtKind kind;
  explicit StmtNode(StmtKind k) : kind(k) {}
  virtual ~StmtNode() = default;
};

class Stmt {
 public:
  Stmt() = default;
  Stmt(std::shared_ptr<const StmtNode> n) : node_(std::move(n)) {}
  bool defined() const { return node_ != nullptr; }
  StmtKind kind() const { return node_->kind; }
  const StmtNode *get() const { return node_.get(); }
  bool same_as(const Stmt &o) const { return node_ == o.node_; }
  template <class T>
  const T *as() const {
    return node_ && node_->kind == T::kKind ? static_cast<const T *>(node_.get()) : nullptr;
  }

 private:
  std::shared_ptr<const StmtNode> node_;
};

template <class Derived, StmtKind K>
struct StmtNodeBase : StmtNode {
  static constexpr StmtKind kKind = K;
  StmtNodeBase() : StmtNode(K) {}
};

/// for (var = min; var < min + extent; ++var) body. `min` and `extent` are evaluated once,
/// before the first iteration; `extent <= 0` runs nothing.
struct For : StmtNodeBase<For, StmtKind::For> {
  Var var;
  Expr min, extent;
  ForKind kind = ForKind::Serial;
  int thread_axis = 0;
  Stmt body;
};
/// buffer[index] = value; vector stores have a vector index and value.
/// `predicate`, when defined, masks lanes (bool with the lanes of value).
struct Store : StmtNodeBase<Store, StmtKind::Store> {
  Buffer buffer;
  Expr index, value, predicate;
};
/// Allocates `buffer` (Local/Shared/Global scratch) for the duration of body.
struct Allocate : StmtNodeBase<Allocate, StmtKind::Allocate> {
  Buffer buffer;
  Stmt body;
};
struct Seq : StmtNodeBase<Seq, StmtKind::Seq> {
  std::vector<Stmt> stmts;
};
struct IfThenElse : StmtNodeBase<IfThenElse, StmtKind::IfThenElse> {
  Expr cond;
  Stmt then_case, else_case;  ///< else_case may be undefined
};
/// GPU: all threads of a block wait here (bar.sync 0). No-op on CPU.
struct Barrier : StmtNodeBase<Barrier, StmtKind::Barrier> {};
/// A hint: the cache line that `read` (a scalar Access, or after lowering a Load) would read is
/// fetched into the caches ahead of use (x86-64 prefetcht1, AArch64 prfm pldl2keep). It reads
/// nothing the program sees and never faults, wherever it points. No-op on GPUs.
struct Prefetch : StmtNodeBase<Prefetch, StmtKind::Prefetch> {
  Expr read;
};

Stmt make_for(Var v, Expr min, Expr extent, ForKind kind, Stmt body, int thread_axis = 0);
Stmt make_store(Buffer b, Expr index, Expr value, Expr predicate = Expr());
Stmt make_allocate(Buffer b, Stmt body);
/// Flattens nested Seqs and drops undefined stmts; a single stmt is returned as is.
Stmt make_seq(std::vector<Stmt> stmts);
Stmt make_if(Expr cond, Stmt then_case, Stmt else_case = Stmt());
Stmt make_barrier();
Stmt make_prefetch(Expr read);

struct GpuLaunchPlan;  // ir/gpu_launch.h

/// A lowered kernel: what a code generator turns into one function.
struct LoweredFunc {
  std::string name;
  std::vector<Buffer> args;  ///< inputs then outputs, in declaration order (arg_index = position)
  Stmt body;
  /// GPU targets: how `body` splits into launches, made once by the pipeline's verify step for
  /// the NVPTX generator (which refuses a function whose plan is missing or made for another
  /// body); null on CPU targets.
  std::shared_ptr<const GpuLaunchPlan> gpu;
};

/// C-like indented text, one statement per line.
std::string to_string(const Stmt &s);
std::string to_string(const LoweredFunc &f);
std::ostream &operator<<(std::ostream &os, const Stmt &s);

}  // namespace kcc
