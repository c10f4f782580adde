#include "ir/stmt.h"

#include <fmt/format.h>

#include <sstream>

#include "ir/diag.h"

namespace kcc {

const char *to_string(MemScope s) {
  switch (s) {
    case MemScope::Global: return "global";
    case MemScope::Local: return "local";
    case MemScope::Shared: return "shared";
  }
  return "?";
}

const char *to_string(StmtKind k) {
  switch (k) {
#define KCC_CASE(N) \
  case StmtKind::N: return #N;
    KCC_STMT_NODES(KCC_CASE)
#undef KCC_CASE
  }
  return "?";
}

const char *to_string(ForKind k) {
  switch (k) {
    case ForKind::Serial: return "for";
    case ForKind::Parallel: return "parallel";
    case ForKind::Vectorized: return "vectorized";
    case ForKind::Unrolled: return "unrolled";
    case ForKind::GpuBlock: return "gpu_block";
    case ForKind::GpuThread: return "gpu_thread";
  }
  return "?";
}

Buffer make_buffer(std::string name, Type elem, std::vector<int64_t> shape, MemScope scope, int arg_index) {
  auto b = std::make_shared<BufferNode>();
  b->name = std::move(name);
  b->elem = elem;
  b->size = 1;
  for (int64_t d : shape) b->size *= d;
  b->shape = std::move(shape);
  b->scope = scope;
  b->arg_index = arg_index;
  return b;
}

Stmt make_for(Var v, Expr min, Expr extent, ForKind kind, Stmt body, int thread_axis) {
  auto n = std::make_shared<For>();
  n->var = std::move(v);
  n->min = std::move(min);
  n->extent = std::move(extent);
  n->kind = kind;
  n->thread_axis = thread_axis;
  n->body = std::move(body);
  return Stmt(n);
}

Stmt make_store(Buffer b, Expr index, Expr value, Expr predicate) {
  KCC_INTERNAL(index.type().lanes == value.type().lanes,
               fmt::format("store to {}: index lanes {} != value lanes {}", b->name, index.type().lanes,
                           value.type().lanes));
  auto n = std::make_shared<Store>();
  n->buffer = std::move(b);
  n->index = std::move(index);
  n->value = std::move(value);
  n->predicate = std::move(predicate);
  return Stmt(n);
}

Stmt make_allocate(Buffer b, Stmt body) {
  auto n = std::make_shared<Allocate>();
  n->buffer = std::move(b);
  n->body = std::move(body);
  return Stmt(n);
}

Stmt make_seq(std::vector<Stmt> stmts) {
  std::vector<Stmt> flat;
  for (auto &s : stmts) {
    if (!s.defined()) continue;
    if (auto *q = s.as<Seq>()) {
      for (auto &t : q->stmts) flat.push_back(t);
    } else {
      flat.push_back(s);
    }
  }
  if (flat.size() == 1) return flat[0];
  auto n = std::make_shared<Seq>();
  n->stmts = std::move(flat);
  return Stmt(n);
}

Stmt make_if(Expr cond, Stmt then_case, Stmt else_case) {
  auto n = std::make_shared<IfThenElse>();
  n->cond = std::move(cond);
  n->then_case = std::move(then_case);
  n->else_case = std::move(else_case);
  return Stmt(n);
}

Stmt make_barrier() { return Stmt(std::make_shared<Barrier>()); }

Stmt make_prefetch(Expr read) {
  auto n = std::make_shared<Prefetch>();
  n->read = std::move(read);
  return Stmt(n);
}

namespace {

void print(std::ostream &os, const Stmt &s, int indent) {
  std::string pad(indent * 2, ' ');
  if (!s.defined()) return;
  switch (s.kind()) {
    case StmtKind::For: {
      auto *f = s.as<For>();
      os << pad << to_string(f->kind);
      if (f->kind == ForKind::GpuBlock || f->kind == ForKind::GpuThread) os << "." << "xyz"[f->thread_axis];
      os << " (" << f->var->name << ", " << f->min << ", " << f->extent << ") {\n";
      print(os, f->body, indent + 1);
      os << pad << "}\n";
      return;
    }
    case StmtKind::Store: {
      auto *st = s.as<Store>();
      os << pad << st->buffer->name << "[" << st->index << "] = " << st->value;
      if (st->predicate.defined()) os << " if " << st->predicate;
      os << "\n";
      return;
    }
    case StmtKind::Allocate: {
      auto *a = s.as<Allocate>();
      os << pad << "allocate " << a->buffer->name << ": " << to_string(a->buffer->elem) << "["
         << a->buffer->size << "] " << to_string(a->buffer->scope) << "\n";
      print(os, a->body, indent);
      return;
    }
    case StmtKind::Seq:
      for (auto &t : s.as<Seq>()->stmts) print(os, t, indent);
      return;
    case StmtKind::IfThenElse: {
      auto *i = s.as<IfThenElse>();
      os << pad << "if (" << i->cond << ") {\n";
      print(os, i->then_case, indent + 1);
      if (i->else_case.defined()) {
        os << pad << "} else {\n";
        print(os, i->else_case, indent + 1);
      }
      os << pad << "}\n";
      return;
    }
    case StmtKind::Barrier: os << pad << "barrier\n"; return;
    case StmtKind::Prefetch: os << pad << "prefetch " << s.as<Prefetch>()->read << "\n"; return;
  }
}

}  // namespace

std::string to_string(const Stmt &s) {
  std::ostringstream os;
  print(os, s, 0);
  return os.str();
}

std::string to_string(const LoweredFunc &f) {
  std::ostringstream os;
  os << "func " << f.name << "(";
  for (size_t i = 0; i < f.args.size(); ++i) {
    if (i) os << ", ";
    os << f.args[i]->name << ": " << to_string(f.args[i]->elem) << "[" << f.args[i]->size << "]";
  }
  os << ") {\n";
  print(os, f.body, 1);
  os << "}\n";
  return os.str();
}

std::ostream &operator<<(std::ostream &os, const Stmt &s) {
  print(os, s, 0);
  return os;
}

}  // namespace kcc
