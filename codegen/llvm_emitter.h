// codegen/llvm_emitter.h - private to codegen/: the loop IR -> LLVM IR emitter shared by the CPU
// and NVPTX generators.
//
// Not a public header: nothing outside codegen/ includes it (it pulls in LLVM).
//
// LLVMEmitter turns kcc's Expr into LLVM values (constants, casts, floor division and modulus,
// selects, ramps and broadcasts, math calls, loads) and the target-neutral statements into
// LLVM IR (stores, ifs, sequences, counted loops). A generator derives from it and supplies
// what differs per target through the hooks below: loops (serial, parallel, GPU-bound),
// allocations, barriers, math functions, gathers and scatters, the alignment of contiguous
// vector accesses and the metadata of memory accesses.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "codegen/math_cpu.h"
#include "codegen/target.h"
#include "ir/stmt.h"
#include "llvm/IR/IRBuilder.h"

namespace kcc {

/// The constant integer value of `e` (an IntImm, or a Broadcast of one).
bool const_int_value(const Expr &e, int64_t *v);

/// Writes a vector index as `ramp(base, stride)` with a scalar base and constant stride when
/// it has that form (Ramp, Broadcast, and sums, differences and constant multiples of them).
bool as_linear_ramp(const Expr &idx, Expr *base, int64_t *stride);

class LLVMEmitter {
 public:
  virtual ~LLVMEmitter() = default;
  LLVMEmitter(const LLVMEmitter &) = delete;
  LLVMEmitter &operator=(const LLVMEmitter &) = delete;

 protected:
  /// Float arithmetic gets the `contract` fast-math flag (FMA formation).
  LLVMEmitter(const Target &t, llvm::Module &m);

  /// The LLVM function being filled.
  struct FnState {
    llvm::Function *fn = nullptr;
    llvm::BasicBlock *entry = nullptr;  ///< allocas only; branches to the body at the end
    std::unordered_map<const Variable *, llvm::Value *> vars;
    std::unordered_map<const BufferNode *, llvm::Value *> buffers;
  };

  // ---- hooks: what differs per target

  /// A For of any kind.
  virtual void emit_for(const For *op) = 0;
  /// An Allocate: binds the buffer in st_.buffers, emits the body, releases the buffer.
  virtual void emit_allocate(const Allocate *op) = 0;
  virtual void emit_barrier() = 0;
  /// Whether Prefetch statements become prefetch instructions (else they are dropped).
  virtual bool prefetches() const { return false; }
  /// A floating-point math call on already emitted arguments (integer abs is handled here).
  virtual llvm::Value *emit_math(const Call *op, std::vector<llvm::Value *> &args) = 0;
  /// A vector load of `t` (in-memory type) from element indices `idx` (a vector of i64).
  virtual llvm::Value *emit_gather(const BufferNode *buf, Type t, llvm::Value *base_ptr, llvm::Value *idx,
                                   llvm::Align elem_align) = 0;
  /// A vector store of `val` (in-memory type) to element indices `idx`; `mask` is null, or
  /// the predicate as emitted (splat to a vector when masked_vector_stores()).
  virtual void emit_scatter(const BufferNode *buf, llvm::Value *base_ptr, llvm::Value *idx, llvm::Value *val,
                            llvm::Value *mask, llvm::Align elem_align) = 0;
  /// Whether predicated contiguous vector stores become masked vector stores (else they go
  /// through emit_scatter, like non-contiguous ones).
  virtual bool masked_vector_stores() const = 0;
  /// Alignment of a contiguous vector access of `t` at element `base` of `b` (default: the
  /// element's alignment).
  virtual llvm::Align vector_align(const BufferNode *b, const Expr &base, Type t);
  /// Metadata of a load or store of `b` (default: none).
  virtual void annotate(llvm::Instruction *inst, const BufferNode *b);

  // ---- types
  llvm::Type *llvm_type(Type t);
  llvm::Type *mem_type(Type t);  ///< in-memory element type (bool is a byte)
  llvm::Value *splat(llvm::Value *v, int lanes);
  llvm::Value *load_to_reg(llvm::Value *v, Type t);  ///< i8 -> i1 for bool
  llvm::Value *reg_to_mem(llvm::Value *v, Type t);   ///< i1 -> i8 for bool
  llvm::Value *to_i64(llvm::Value *v, Type t);

  // ---- statements
  void emit(const Stmt &s);
  void emit_store(const Store *op);
  void emit_if(const IfThenElse *op);
  /// for (v = mn; v < end; v += step) body, with `v` an integer phi of mn's type; returns the
  /// loop's back-edge branch (for loop metadata).
  llvm::BranchInst *emit_loop(const Variable *v, llvm::Value *mn, llvm::Value *end, llvm::Value *step,
                              const Stmt &body);
  /// Runs `body` (which emits code) under `if (cond)`; directly when `cond` is null.
  template <class F>
  void guarded(llvm::Value *cond, F body) {
    if (!cond) {
      body();
      return;
    }
    auto *then_bb = llvm::BasicBlock::Create(ctx_, "store.then", st_.fn);
    auto *merge = llvm::BasicBlock::Create(ctx_, "store.end", st_.fn);
    b_.CreateCondBr(cond, then_bb, merge);
    b_.SetInsertPoint(then_bb);
    body();
    b_.CreateBr(merge);
    b_.SetInsertPoint(merge);
  }

  // ---- expressions
  llvm::Value *emit(const Expr &e);
  llvm::Value *emit_cast(const Cast *op);
  llvm::Value *emit_unary(const Unary *op);
  llvm::Value *emit_binary(const Binary *op);
  llvm::Value *emit_int_div_mod(const Binary *op, llvm::Value *a, llvm::Value *b);
  llvm::Value *emit_load(const Load *op);
  void emit_prefetch(const Prefetch *op);
  llvm::Value *emit_ramp(const Ramp *op);
  llvm::Value *emit_call(const Call *op);

  // ---- memory, variables, checks
  llvm::Value *buffer_ptr(const BufferNode *b);
  void bind_var(const Variable *v, llvm::Value *val) { st_.vars[v] = val; }
  void unbind_var(const Variable *v) { st_.vars.erase(v); }
  /// The name of the kernel being emitted, for messages.
  std::string func_name() const;
  /// Runs the LLVM verifier on `fn`; InternalError("LLVM verifier failed on WHAT: ...") with
  /// the loop IR of the kernel being emitted otherwise.
  void verify_or_throw(llvm::Function &fn, const std::string &what);

  const Target &target_;
  llvm::Module &mod_;
  llvm::LLVMContext &ctx_;
  llvm::IRBuilder<> b_;
  MathEmitter math_;
  llvm::Type *i32_, *i64_;
  llvm::PointerType *ptr_;

  const LoweredFunc *func_ = nullptr;  ///< the kernel being emitted
  FnState st_;
};

}  // namespace kcc
