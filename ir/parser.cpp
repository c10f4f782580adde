// ir/parser.cpp - model.ir tokens -> syntax trees (kernels) and typed schedule steps.
//
// Kernels are parsed into ast::Kernel and handed to check_kernel (check.cpp) right away, so
// the first problem in source order is the one reported. The grammar is in docs/language.md.
#include <fmt/format.h>


#include "ir/check.h"
#include "ir/layers.h"
#include "ir/lexer.h"
#include "ir/parser.h"

namespace kcc {

namespace {

using ast::Node;
using ast::NodeP;

constexpr int kMaxDepth = 256;

ReduceOp reduce_op(const std::string &s) {
  if (s == "sum") return ReduceOp::Sum;
  if (s == "max") return ReduceOp::Max;
  if (s == "min") return ReduceOp::Min;
  if (s == "prod") return ReduceOp::Prod;
  return ReduceOp::None;
}

bool is_function_name(const std::string &s) {
  MathFn f;
  ScalarKind k;
  return s == "select" || s == "min" || s == "max" || parse_math_fn(s, f) || parse_scalar_kind(s, k);
}

/// Tokens that can begin an operand (what may follow ')' in `max(j) X[i, j]`).
bool starts_operand(Tok k) {
  switch (k) {
    case Tok::Ident:
    case Tok::Int:
    case Tok::Float:
    case Tok::LParen:
    case Tok::KwNot:
    case Tok::KwTrue:
    case Tok::KwFalse:
    case Tok::KwInf:
    case Tok::KwNan: return true;
    default: return false;
  }
}

class Parser {
 public:
  Parser(SourceFileRef file) : file_(file), toks_(lex(file)) {}

  Module module() {
    Module m;
    m.file = file_;
    std::vector<ast::Model> models;
    for (skip_newlines(); !is(Tok::End); skip_newlines()) {
      if (is(Tok::KwKernel)) {
        ast::Kernel k = kernel();
        for (auto &other : m.kernels)
          if (other.name == k.name)
            fail(k.loc, fmt::format("kernel '{}' is defined twice; first definition at {}", k.name,
                                    where(other.loc)));
        m.kernels.push_back(check_kernel(k));
      } else if (is(Tok::KwSchedule)) {
        Schedule s = schedule();
        for (auto &other : m.schedules)
          if (other.kernel == s.kernel)
            fail(s.loc, fmt::format("kernel '{}' has two schedules; first at {}", s.kernel, where(other.loc)));
        m.schedules.push_back(std::move(s));
      } else if (is(Tok::Ident) && cur().text == "model" && at(1).kind == Tok::Ident) {
        models.push_back(model());  // `model` is not reserved: it names a model only here
      } else {
        fail(cur().loc, fmt::format("expected 'kernel', 'model' or 'schedule', found {}", describe(cur())));
      }
    }
    for (auto &s : m.schedules) {
      if (m.find_kernel(s.kernel)) continue;
      std::string names;
      for (auto &k : m.kernels) names += (names.empty() ? "" : ", ") + k.name;
      fail(s.loc, fmt::format("schedule for unknown kernel '{}'; kernels: {}", s.kernel,
                              names.empty() ? "none" : names));
    }
    // Models call kernels defined anywhere in the file, so they are checked last.
    for (auto &am : models) m.models.push_back(check_model(am, m));
    mark_weight_inputs(m);
    return m;
  }

  std::vector<Schedule> schedules() {
    std::vector<Schedule> out;
    for (skip_newlines(); !is(Tok::End); skip_newlines()) {
      if (!is(Tok::KwSchedule)) fail(cur().loc, fmt::format("expected 'schedule', found {}", describe(cur())));
      out.push_back(schedule());
    }
    return out;
  }

 private:
  // ---------------------------------------------------------------- token helpers

  const Token &cur() const { return toks_[p_]; }
  const Token &at(size_t off) const { return toks_[std::min(p_ + off, toks_.size() - 1)]; }
  bool is(Tok k) const { return cur().kind == k; }
  const Token &next() {
    const Token &t = toks_[p_];
    if (p_ + 1 < toks_.size()) ++p_;
    return t;
  }
  bool accept(Tok k) {
    if (!is(k)) return false;
    next();
    return true;
  }
  [[noreturn]] void fail(const SourceLoc &loc, const std::string &msg) const { throw UserError(loc, msg); }
  const Token &expect(Tok k, const std::string &what) {
    if (!is(k)) fail(cur().loc, fmt::format("expected {}, found {}", what, describe(cur())));
    return next();
  }
  std::string ident(const std::string &what, SourceLoc *loc = nullptr) {
    if (!is(Tok::Ident)) fail(cur().loc, fmt::format("expected {}, found {}", what, describe(cur())));
    if (loc) *loc = cur().loc;
    return next().text;
  }
  void skip_newlines() {
    while (is(Tok::Newline)) next();
  }
  /// A kernel header may continue on the next line with '->' or '{'.
  void skip_newlines_before(Tok k) {
    if (is(Tok::Newline) && at(1).kind == k) next();
  }
  /// The end of a statement: a newline, or (not consumed) the '}' closing the block.
  void end_of_statement(const std::string &after) {
    if (is(Tok::RBrace) || is(Tok::End)) return;
    if (!is(Tok::Newline)) fail(cur().loc, fmt::format("expected end of line after {}, found {}", after, describe(cur())));
    next();
  }
  std::string where(const SourceLoc &l) const { return fmt::format("{}:{}", l.line, l.col); }
  /// The index of the ')' matching the '(' at toks_[i], or 0 when unmatched on this line.
  size_t matching_paren(size_t i) const {
    int depth = 0;
    for (; i < toks_.size(); ++i) {
      Tok k = toks_[i].kind;
      if (k == Tok::LParen) ++depth;
      if (k == Tok::RParen && --depth == 0) return i;
      if (k == Tok::Newline || k == Tok::End || k == Tok::LBrace || k == Tok::RBrace) return 0;
    }
    return 0;
  }
  /// At `name ( ... )`: does an operand follow the ')'?
  bool operand_after_parens() const {
    size_t close = matching_paren(p_ + 1);
    return close != 0 && close + 1 < toks_.size() && starts_operand(toks_[close + 1].kind);
  }
  int64_t integer(const std::string &what, SourceLoc *loc = nullptr) {
    if (loc) *loc = cur().loc;
    bool neg = accept(Tok::Minus);
    if (!is(Tok::Int)) fail(cur().loc, fmt::format("expected {}, found {}", what, describe(cur())));
    int64_t v = next().int_value;
    return neg ? -v : v;
  }

  // ---------------------------------------------------------------- kernels

  ast::TypeAnn type_ann(const std::string &tensor) {
    ast::TypeAnn t;
    t.elem = ident(fmt::format("an element type for '{}' (f32, f16, bf16, f64, i8, i32, i64)", tensor), &t.loc);
    expect(Tok::LBracket, fmt::format("'[' and the shape of '{}' after '{}'", tensor, t.elem));
    // `f32[]`: a scalar (rank 0).
    if (!is(Tok::RBracket)) {
      do {
        SourceLoc l;
        t.dims.push_back(integer("a dimension (an integer)", &l));
        t.dim_locs.push_back(l);
      } while (accept(Tok::Comma));
    }
    expect(Tok::RBracket, "',' or ']' in the shape");
    return t;
  }

  ast::Param param(const char *what) {
    ast::Param p;
    p.name = ident(what, &p.loc);
    expect(Tok::Colon, fmt::format("':' and the type of '{}'", p.name));
    p.type = type_ann(p.name);
    return p;
  }

  ast::Kernel kernel() {
    next();  // kernel
    ast::Kernel k;
    k.name = ident("a kernel name after 'kernel'", &k.loc);
    expect(Tok::LParen, fmt::format("'(' and the arguments of kernel '{}'", k.name));
    if (!is(Tok::RParen)) {
      do k.inputs.push_back(param("an argument name"));
      while (accept(Tok::Comma));
    }
    expect(Tok::RParen, "',' or ')' after an argument");
    skip_newlines_before(Tok::Arrow);
    k.arrow_loc = cur().loc;
    expect(Tok::Arrow, fmt::format("'->' and the outputs of kernel '{}'", k.name));
    if (accept(Tok::LParen)) {
      if (is(Tok::RParen)) fail(k.arrow_loc, fmt::format("kernel '{}' has no outputs", k.name));
      do k.outputs.push_back(param("an output name"));
      while (accept(Tok::Comma));
      expect(Tok::RParen, "',' or ')' after an output");
    } else {
      k.outputs.push_back(param("an output name or '(' after '->'"));
    }
    skip_newlines_before(Tok::LBrace);
    expect(Tok::LBrace, fmt::format("'{{' to open the body of kernel '{}'", k.name));
    ast::LayerScope scope = layer_scope(k);
    for (skip_newlines(); !is(Tok::RBrace); skip_newlines()) {
      if (is(Tok::End)) fail(cur().loc, fmt::format("expected '}}' to close kernel '{}', found end of file", k.name));
      if (is(Tok::Ident) && at(1).kind == Tok::Assign && at(2).kind == Tok::Ident && at(3).kind == Tok::LParen) {
        for (auto &s : layer(k, scope)) add_stage(k, scope, std::move(s));
      } else {
        add_stage(k, scope, stage());
      }
    }
    k.end_loc = cur().loc;
    next();  // }
    end_of_statement("'}'");
    return k;
  }

  ast::Stage stage() {
    ast::Stage s;
    if (!is(Tok::Ident))
      fail(cur().loc, fmt::format("expected a stage 'NAME[i, ...] = ...' or '}}', found {}", describe(cur())));
    s.loc = cur().loc;
    s.name = next().text;
    if (!is(Tok::LBracket))
      fail(cur().loc, fmt::format("expected '[' after '{0}', found {1}; a stage is written '{0}[i, ...] = ...', "
                                  "a layer '{0} = conv2d(X, W, ...)'",
                                  s.name, describe(cur())));
    next();
    // `S[] = ...` defines a scalar (rank 0).
    while (!is(Tok::RBracket)) {
      bool plain = is(Tok::Ident) && (at(1).kind == Tok::Comma || at(1).kind == Tok::RBracket);
      if (!plain)
        fail(cur().loc, fmt::format("expected an index variable name on the left of '=', found {}; "
                                    "left-hand side subscripts are distinct variable names",
                                    describe(cur())));
      s.lhs_locs.push_back(cur().loc);
      s.lhs.push_back(next().text);
      if (!accept(Tok::Comma)) break;
    }
    expect(Tok::RBracket, "']'");
    expect(Tok::Assign, fmt::format("'=' after '{}[...]'", s.name));
    rhs(s);
    if (accept(Tok::Colon)) s.ann = type_ann(s.name);
    end_of_statement("the stage");
    return s;
  }

  // ---------------------------------------------------------------- models

  /// Is the current token the word `w` (a contextual keyword such as `weights`)?
  bool is_word(const char *w) const { return is(Tok::Ident) && cur().text == w; }

  ast::Model model() {
    next();  // model
    ast::Model m;
    m.name = ident("a model name after 'model'", &m.loc);
    expect(Tok::LParen, fmt::format("'(' and the inputs of model '{}'", m.name));
    if (!is(Tok::RParen)) {
      do m.inputs.push_back(param("an input name"));
      while (accept(Tok::Comma));
    }
    expect(Tok::RParen, "',' or ')' after an input");
    skip_newlines_before(Tok::Arrow);
    m.arrow_loc = cur().loc;
    expect(Tok::Arrow, fmt::format("'->' and the outputs of model '{}'", m.name));
    if (accept(Tok::LParen)) {
      if (is(Tok::RParen)) fail(m.arrow_loc, fmt::format("model '{}' has no outputs", m.name));
      do m.outputs.push_back(param("an output name"));
      while (accept(Tok::Comma));
      expect(Tok::RParen, "',' or ')' after an output");
    } else {
      m.outputs.push_back(param("an output name or '(' after '->'"));
    }
    skip_newlines_before(Tok::LBrace);
    expect(Tok::LBrace, fmt::format("'{{' to open the body of model '{}'", m.name));
    for (skip_newlines(); !is(Tok::RBrace); skip_newlines()) {
      if (is(Tok::End)) fail(cur().loc, fmt::format("expected '}}' to close model '{}', found end of file", m.name));
      if (is_word("weights") && at(1).kind == Tok::String) {
        if (m.has_weights_file)
          fail(cur().loc, fmt::format("model '{}' names its weights file twice; first at {}", m.name, where(m.weights_loc)));
        m.has_weights_file = true;
        m.weights_loc = next().loc;
        m.weights_file = next().text;
        if (m.weights_file.empty()) fail(m.weights_loc, "the weights file name is empty");
        end_of_statement("the weights file");
      } else if (is(Tok::Ident) && at(1).kind == Tok::Colon) {
        m.body.push_back(model_weight());
      } else {
        m.body.push_back(model_call());
      }
    }
    next();  // }
    end_of_statement("'}'");
    return m;
  }

  /// `NAME: type = weight at OFFSET`
  ast::ModelStmt model_weight() {
    ast::ModelStmt st;
    st.is_weight = true;
    st.weight.param = param("a weight name");
    const std::string &n = st.weight.param.name;
    expect(Tok::Assign, fmt::format("'= weight at OFFSET' after the type of '{}'", n));
    if (!is_word("weight")) fail(cur().loc, fmt::format("expected 'weight' after '{} : ... =', found {}", n, describe(cur())));
    next();
    if (!is_word("at")) fail(cur().loc, fmt::format("expected 'at' and the byte offset of weight '{}', found {}", n, describe(cur())));
    next();
    st.weight.offset = integer(fmt::format("the byte offset of weight '{}' (an integer)", n), &st.weight.offset_loc);
    end_of_statement(fmt::format("weight '{}'", n));
    return st;
  }

  /// `r0, r1 = KERNEL(a0, a1, ...)`
  ast::ModelStmt model_call() {
    ast::ModelStmt st;
    ast::ModelCall &c = st.call;
    do {
      SourceLoc l;
      c.results.push_back(ident("a weight 'NAME: type = weight at OFFSET' or a call 'NAME = KERNEL(...)'", &l));
      c.result_locs.push_back(l);
    } while (accept(Tok::Comma));
    expect(Tok::Assign, "'=' and a kernel call after the result names");
    c.kernel = ident("a kernel name", &c.kernel_loc);
    expect(Tok::LParen, fmt::format("'(' and the arguments of '{}'", c.kernel));
    if (!is(Tok::RParen)) {
      do {
        if (is(Tok::Ident) && (at(1).kind == Tok::LBracket || at(1).kind == Tok::LParen))
          fail(at(1).loc, fmt::format("the arguments of a call are tensor names: write '{}', not '{}{}...'", cur().text,
                                      cur().text, at(1).text));
        SourceLoc l;
        c.args.push_back(ident(fmt::format("a tensor name in the arguments of '{}'", c.kernel), &l));
        c.arg_locs.push_back(l);
      } while (accept(Tok::Comma));
    }
    expect(Tok::RParen, fmt::format("',' or ')' in the arguments of '{}'", c.kernel));
    end_of_statement(fmt::format("the call of '{}'", c.kernel));
    return st;
  }

  // ---------------------------------------------------------------- layer shorthands

  /// The tensors of kernel `k` as far as its signature and a scan of its body tell: the shapes
  /// a layer may read, and every tensor name (generated index variables avoid them).
  ast::LayerScope layer_scope(const ast::Kernel &k) const {
    ast::LayerScope scope;
    for (auto *ps : {&k.inputs, &k.outputs})
      for (auto &p : *ps) {
        scope.known[p.name] = ast::TensorShape{p.type.elem, p.type.dims};
        scope.tensor_names.insert(p.name);
      }
    // Stage names: `NAME[` or `NAME =` at the start of a statement of this body.
    for (size_t i = p_; i + 1 < toks_.size() && toks_[i].kind != Tok::RBrace && toks_[i].kind != Tok::End; ++i) {
      bool starts = i == p_ || toks_[i - 1].kind == Tok::Newline;
      Tok after = toks_[i + 1].kind;
      if (starts && toks_[i].kind == Tok::Ident && (after == Tok::LBracket || after == Tok::Assign))
        scope.tensor_names.insert(toks_[i].text);
    }
    return scope;
  }

  /// Appends a stage and notes its shape when known before checking (annotated, or an output).
  void add_stage(ast::Kernel &k, ast::LayerScope &scope, ast::Stage s) {
    bool is_output = false;
    for (auto &o : k.outputs) is_output = is_output || o.name == s.name;
    if (s.ann && !is_output) scope.known[s.name] = ast::TensorShape{s.ann->elem, s.ann->dims};
    else if (!is_output) scope.unknown.insert(s.name);
    scope.tensor_names.insert(s.name);
    k.stages.push_back(std::move(s));
  }

  /// `key=NUMBER` or `key=[INT, ...]` in a layer call.
  ast::LayerKey layer_key() {
    ast::LayerKey key;
    key.loc = cur().loc;
    key.key = next().text;
    next();  // =
    key.value_loc = cur().loc;
    if (accept(Tok::LBracket)) {
      key.is_list = true;
      std::string what = fmt::format("an integer in the list of '{}'", key.key);
      do {
        SourceLoc l;
        key.list.push_back(integer(what, &l));
        key.list_locs.push_back(l);
        key.text += (key.text.empty() ? "[" : ", ") + std::to_string(key.list.back());
      } while (accept(Tok::Comma));
      expect(Tok::RBracket, fmt::format("',' or ']' in the list of '{}'", key.key));
      key.text += "]";
      return key;
    }
    bool neg = accept(Tok::Minus);
    if (is(Tok::Int)) {
      key.int_value = neg ? -cur().int_value : cur().int_value;
      key.float_value = static_cast<double>(key.int_value);
    } else if (is(Tok::Float) || is(Tok::KwInf) || is(Tok::KwNan)) {
      key.is_int = false;
      key.float_value = neg ? -cur().float_value : cur().float_value;
    } else {
      fail(cur().loc, fmt::format("expected a number or '[' after '{}=', found {}", key.key, describe(cur())));
    }
    key.text = (neg ? "-" : "") + next().text;
    return key;
  }

  /// `NAME = LAYER(TENSOR, ..., key=value, ...)`: the stages it stands for (ir/layers.h).
  std::vector<ast::Stage> layer(const ast::Kernel &k, const ast::LayerScope &scope) {
    ast::LayerCall c;
    c.result = ident("a name", &c.result_loc);
    next();  // =
    c.layer = ident("a layer name", &c.layer_loc);
    if (!ast::is_layer(c.layer))
      fail(c.layer_loc, fmt::format("unknown layer '{}'; layers: {}", c.layer, ast::layer_names()));
    next();  // (
    std::string in = fmt::format("the arguments of '{}'", c.layer);
    if (!is(Tok::RParen)) {
      do {
        // `kernel` is reserved, but also the pooling window's keyword.
        if ((is(Tok::Ident) || is(Tok::KwKernel)) && at(1).kind == Tok::Assign) {
          c.keys.push_back(layer_key());
        } else if (is(Tok::Ident)) {
          if (!c.keys.empty())
            fail(cur().loc, fmt::format("tensor '{}' follows keywords in {}; write the tensors first", cur().text, in));
          if (at(1).kind == Tok::LBracket || at(1).kind == Tok::LParen)
            fail(at(1).loc, fmt::format("layer arguments are whole tensors: write '{}', not '{}{}...'", cur().text,
                                        cur().text, at(1).text));
          ast::LayerArg a;
          a.name = ident("a tensor name", &a.loc);
          c.args.push_back(std::move(a));
        } else {
          fail(cur().loc, fmt::format("expected a tensor name or 'key=value' in {}, found {}", in, describe(cur())));
        }
      } while (accept(Tok::Comma));
    }
    expect(Tok::RParen, fmt::format("',' or ')' in {}", in));
    end_of_statement(fmt::format("the '{}' layer", c.layer));
    ast::LayerScope here = scope;
    for (auto &o : k.outputs)
      if (o.name == c.result) here.output = &o;
    return ast::expand_layer(c, here);
  }

  void rhs(ast::Stage &s) {
    if (is(Tok::Ident) && at(1).kind == Tok::LParen) {
      ReduceOp r = reduce_op(cur().text);
      bool operand = operand_after_parens();
      bool is_reduction = r == ReduceOp::Sum || r == ReduceOp::Prod || ((r == ReduceOp::Max || r == ReduceOp::Min) && operand);
      if (r == ReduceOp::None && operand && !is_function_name(cur().text))
        fail(cur().loc, fmt::format("unknown reduction '{}'; reductions: sum, max, min, prod", cur().text));
      if (is_reduction) {
        s.reduce = r;
        s.reduce_loc = cur().loc;
        std::string op = next().text;
        next();  // (
        do {
          ast::RVar v;
          v.name = ident(fmt::format("a reduction variable name in '{}(...)'", op), &v.loc);
          if (accept(Tok::Colon)) v.extent = integer(fmt::format("the range of '{}' (an integer)", v.name), &v.extent_loc);
          s.rvars.push_back(std::move(v));
        } while (accept(Tok::Comma));
        expect(Tok::RParen, "',' or ')' after a reduction variable");
        if (!starts_operand(cur().kind) && !is(Tok::Minus))
          fail(cur().loc, fmt::format("expected the body of reduction '{}' after ')', found {}", op, describe(cur())));
      }
    }
    s.body = expr();
  }

  // ---------------------------------------------------------------- expressions

  NodeP make(Node::Kind k, const SourceLoc &loc, const SourceLoc &op_loc) {
    auto n = std::make_unique<Node>();
    n->kind = k;
    n->loc = loc;
    n->op_loc = op_loc;
    return n;
  }

  /// Guards against inputs that would exhaust the stack here or in the checker.
  struct DepthGuard {
    Parser &p;
    explicit DepthGuard(Parser &pp) : p(pp) {
      if (++p.depth_ > kMaxDepth) p.fail(p.cur().loc, fmt::format("expression is nested too deeply (more than {} levels)", kMaxDepth));
    }
    ~DepthGuard() { --p.depth_; }
  };

  NodeP binary(BinOp op, NodeP a, NodeP b, const SourceLoc &op_loc) {
    if (++chain_ > kMaxDepth * 4)
      fail(op_loc, fmt::format("expression is too long (more than {} operators)", kMaxDepth * 4));
    auto n = make(Node::Kind::Binary, a->loc, op_loc);
    n->binop = op;
    n->args.push_back(std::move(a));
    n->args.push_back(std::move(b));
    return n;
  }

  NodeP expr() {
    DepthGuard g(*this);
    if (depth_ == 1) chain_ = 0;
    NodeP a = and_expr();
    while (is(Tok::KwOr)) {
      SourceLoc l = next().loc;
      a = binary(BinOp::Or, std::move(a), and_expr(), l);
    }
    return a;
  }

  NodeP and_expr() {
    NodeP a = not_expr();
    while (is(Tok::KwAnd)) {
      SourceLoc l = next().loc;
      a = binary(BinOp::And, std::move(a), not_expr(), l);
    }
    return a;
  }

  NodeP not_expr() {
    if (!is(Tok::KwNot)) return cmp_expr();
    DepthGuard g(*this);
    SourceLoc l = next().loc;
    auto n = make(Node::Kind::Unary, l, l);
    n->unop = UnOp::Not;
    n->args.push_back(not_expr());
    return n;
  }

  static bool cmp_op(Tok k, BinOp &op) {
    switch (k) {
      case Tok::EQ: op = BinOp::EQ; return true;
      case Tok::NE: op = BinOp::NE; return true;
      case Tok::LT: op = BinOp::LT; return true;
      case Tok::LE: op = BinOp::LE; return true;
      case Tok::GT: op = BinOp::GT; return true;
      case Tok::GE: op = BinOp::GE; return true;
      default: return false;
    }
  }

  NodeP cmp_expr() {
    NodeP a = add_expr();
    BinOp op;
    if (!cmp_op(cur().kind, op)) return a;
    SourceLoc l = next().loc;
    a = binary(op, std::move(a), add_expr(), l);
    if (cmp_op(cur().kind, op)) fail(cur().loc, "comparisons do not chain; combine them with 'and'");
    return a;
  }

  NodeP add_expr() {
    NodeP a = mul_expr();
    while (is(Tok::Plus) || is(Tok::Minus)) {
      BinOp op = is(Tok::Plus) ? BinOp::Add : BinOp::Sub;
      SourceLoc l = next().loc;
      a = binary(op, std::move(a), mul_expr(), l);
    }
    return a;
  }

  NodeP mul_expr() {
    NodeP a = unary_expr();
    while (is(Tok::Star) || is(Tok::Slash) || is(Tok::Percent)) {
      BinOp op = is(Tok::Star) ? BinOp::Mul : is(Tok::Slash) ? BinOp::Div : BinOp::Mod;
      SourceLoc l = next().loc;
      a = binary(op, std::move(a), unary_expr(), l);
    }
    return a;
  }

  NodeP unary_expr() {
    if (!is(Tok::Minus)) return primary();
    DepthGuard g(*this);
    SourceLoc l = next().loc;
    // '-' directly before a number is part of the literal: -3 is the constant -3.
    if (is(Tok::Int)) {
      auto n = make(Node::Kind::Int, l, l);
      n->int_value = -next().int_value;
      n->text = "-" + toks_[p_ - 1].text;
      return n;
    }
    if (is(Tok::Float) || is(Tok::KwInf) || is(Tok::KwNan)) {
      auto n = make(Node::Kind::Float, l, l);
      n->float_value = -cur().float_value;
      n->text = "-" + next().text;
      return n;
    }
    auto n = make(Node::Kind::Unary, l, l);
    n->unop = UnOp::Neg;
    n->args.push_back(unary_expr());
    return n;
  }

  std::vector<NodeP> list(Tok close, const char *what) {
    std::vector<NodeP> out;
    next();  // ( or [
    if (is(close)) {
      next();
      return out;
    }
    do out.push_back(expr());
    while (accept(Tok::Comma));
    expect(close, what);
    return out;
  }

  NodeP primary() {
    const Token &t = cur();
    SourceLoc l = t.loc;
    switch (t.kind) {
      case Tok::Int: {
        auto n = make(Node::Kind::Int, l, l);
        n->int_value = t.int_value;
        n->text = next().text;
        return n;
      }
      case Tok::Float:
      case Tok::KwInf:
      case Tok::KwNan: {
        auto n = make(Node::Kind::Float, l, l);
        n->float_value = t.float_value;
        n->text = next().text;
        return n;
      }
      case Tok::KwTrue:
      case Tok::KwFalse: {
        auto n = make(Node::Kind::Bool, l, l);
        n->int_value = t.kind == Tok::KwTrue;
        next();
        return n;
      }
      case Tok::LParen: {
        DepthGuard g(*this);
        next();
        NodeP n = expr();
        expect(Tok::RParen, fmt::format("')' to close the '(' at {}", where(l)));
        n->loc = l;  // a parenthesized expression starts at its '('
        return n;
      }
      case Tok::Ident: {
        std::string name = t.text;
        if (at(1).kind == Tok::LBracket) {
          DepthGuard g(*this);
          auto n = make(Node::Kind::Access, l, l);
          n->name = name;
          next();
          n->args = list(Tok::RBracket, "',' or ']' after a subscript");
          return n;
        }
        if (at(1).kind == Tok::LParen) {
          ReduceOp r = reduce_op(name);
          if (r == ReduceOp::Sum || r == ReduceOp::Prod || (r != ReduceOp::None && operand_after_parens()))
            fail(l, fmt::format("reduction '{}' must be the outermost expression of a stage; compute it "
                                "in a stage of its own and read that stage here",
                                name));
          DepthGuard g(*this);
          auto n = make(Node::Kind::Call, l, l);
          n->name = name;
          next();
          n->args = list(Tok::RParen, fmt::format("',' or ')' in the arguments of '{}'", name).c_str());
          return n;
        }
        auto n = make(Node::Kind::Name, l, l);
        n->name = next().text;
        return n;
      }
      default: fail(l, fmt::format("expected an expression, found {}", describe(t)));
    }
  }

  // ---------------------------------------------------------------- schedules

  LoopName loop_name(bool need_stage, const std::string &prim) {
    LoopName n;
    n.loc = cur().loc;
    std::string first = ident(need_stage ? fmt::format("'stage.loop' after '{}'", prim) : "a loop name");
    if (accept(Tok::Dot)) {
      n.stage = first;
      n.loop = ident(fmt::format("a loop name after '{}.'", first));
    } else if (need_stage) {
      fail(n.loc, fmt::format("expected 'stage.loop' in '{}', found '{}' without a stage", prim, first));
    } else {
      n.loop = first;
    }
    return n;
  }

  std::string name_after(const std::string &prim, const char *what, SourceLoc *loc = nullptr) {
    return ident(fmt::format("{} after '{}'", what, prim), loc);
  }

  CacheScope cache_scope() {
    SourceLoc l = cur().loc;
    std::string s = ident("a cache scope (local or shared)");
    if (s == "local") return CacheScope::Local;
    if (s == "shared") return CacheScope::Shared;
    fail(l, fmt::format("unknown cache scope '{}'; expected local or shared", s));
  }

  void expect_word(const char *word, const std::string &prim) {
    if (!is(Tok::Ident) || cur().text != word)
      fail(cur().loc, fmt::format("expected '{}' in '{}', found {}", word, prim, describe(cur())));
    next();
  }

  /// `[f1, ..., fn]`: integers; what they must be is checked when the step is applied.
  std::vector<int64_t> factors(const std::string &prim) {
    std::vector<int64_t> f;
    expect(Tok::LBracket, fmt::format("'[' and the factors of '{}'", prim));
    if (is(Tok::RBracket)) {
      next();
      return f;
    }
    do {
      f.push_back(integer("a factor (an integer)"));
    } while (accept(Tok::Comma));
    expect(Tok::RBracket, "',' or ']' after a factor");
    return f;
  }

  /// `-> name ...`: how many a step needs is checked when it is applied.
  std::vector<std::string> results(const std::string &prim) {
    expect(Tok::Arrow, fmt::format("'->' and the result names of '{}'", prim));
    std::vector<std::string> r;
    while (is(Tok::Ident)) r.push_back(next().text);
    return r;
  }

  /// `-> name`, for steps that make one thing.
  std::string result(const std::string &prim) {
    SourceLoc arrow = cur().loc;
    std::vector<std::string> r = results(prim);
    if (r.size() != 1) fail(arrow, fmt::format("'{}' here needs 1 result names, found {}", prim, r.size()));
    return r[0];
  }

  /// Loop names up to the end of the step (reorder, fuse, reorder_storage).
  std::vector<LoopName> loop_names(const std::string &prim) {
    std::vector<LoopName> v;
    while (is(Tok::Ident)) v.push_back(loop_name(false, prim));
    return v;
  }

  Schedule schedule() {
    next();  // schedule
    Schedule s;
    s.kernel = ident("a kernel name after 'schedule'", &s.loc);
    expect(Tok::LBrace, fmt::format("'{{' to open the schedule of '{}'", s.kernel));
    for (skip_newlines(); !is(Tok::RBrace); skip_newlines()) {
      if (is(Tok::End)) fail(cur().loc, fmt::format("expected '}}' to close the schedule of '{}', found end of file", s.kernel));
      s.steps.push_back(step());
      end_of_statement(fmt::format("the '{}' step", primitive_name(s.steps.back())));
    }
    next();  // }
    end_of_statement("'}'");
    return s;
  }

  // ---- one function per primitive: syntax only. Every semantic check of a step (factors,
  // result counts, stages of loops, limits) is made where the step is applied
  // (passes/schedule_apply*.cpp), so that it is made once, with one wording.

  StepKind split_step(const std::string &p) {
    SplitStep s;
    s.loop = loop_name(true, p);
    s.factors = factors(p);
    s.results = results(p);
    return s;
  }
  StepKind tile_step(const std::string &p) {
    TileStep s;
    s.x = loop_name(true, p);
    s.y = loop_name(true, p);
    std::vector<int64_t> f = factors(p);
    if (f.size() != 2) fail(step_loc_, fmt::format("'tile' takes 2 factors, found {}", f.size()));
    s.fx = f[0];
    s.fy = f[1];
    s.results = results(p);
    return s;
  }
  StepKind reorder_step(const std::string &p) {
    ReorderStep s;
    s.stage = name_after(p, "a stage name");
    s.order = loop_names(p);
    if (s.order.empty()) fail(cur().loc, fmt::format("expected loop names after 'reorder {}', found {}", s.stage, describe(cur())));
    return s;
  }
  StepKind fuse_step(const std::string &p) {
    FuseStep s;
    s.stage = name_after(p, "a stage name");
    s.loops = loop_names(p);
    s.result = result(p);
    return s;
  }
  StepKind annotate_step(const std::string &p) {
    AnnotateStep s;
    s.what = p == "parallel" ? LoopAnnotation::Parallel : p == "vectorize" ? LoopAnnotation::Vectorize : LoopAnnotation::Unroll;
    s.loop = loop_name(true, p);
    return s;
  }
  StepKind unroll_limit_step(const std::string &p) {
    UnrollLimitStep s;
    s.stage = name_after(p, "a stage name");
    s.limit = integer("an unroll limit (an integer)");
    return s;
  }
  StepKind bind_step(const std::string &p) {
    BindStep s;
    s.loop = loop_name(true, p);
    SourceLoc l = cur().loc;
    std::string a = ident("a GPU axis (block.x, block.y, block.z, thread.x, thread.y, thread.z)");
    if (accept(Tok::Dot)) a += "." + ident("'x', 'y' or 'z' after '.'");
    static const GpuAxis all[] = {GpuAxis::BlockX,  GpuAxis::BlockY,  GpuAxis::BlockZ,
                                  GpuAxis::ThreadX, GpuAxis::ThreadY, GpuAxis::ThreadZ};
    for (GpuAxis g : all)
      if (a == to_string(g)) {
        s.axis = g;
        return s;
      }
    fail(l, fmt::format("unknown GPU axis '{}'; expected block.x, block.y, block.z, thread.x, thread.y or thread.z", a));
  }
  StepKind compute_at_step(const std::string &p) {
    ComputeStep s;
    s.where = ComputeLoc::At;
    s.stage = name_after(p, "a stage name");
    s.at = loop_name(true, p);
    return s;
  }
  StepKind compute_inline_or_root_step(const std::string &p) {
    ComputeStep s;
    s.where = p == "compute_inline" ? ComputeLoc::Inline : ComputeLoc::Root;
    s.stage = name_after(p, "a stage name");
    return s;
  }
  StepKind cache_read_step(const std::string &p) {
    CacheReadStep s;
    s.tensor = name_after(p, "a tensor name");
    s.scope = cache_scope();
    expect_word("at", p);
    s.at = loop_name(true, p);
    s.result = result(p);
    return s;
  }
  StepKind cache_write_step(const std::string &p) {
    CacheWriteStep s;
    s.stage = name_after(p, "a stage name");
    s.scope = cache_scope();
    expect_word("at", p);
    s.at = loop_name(false, p);
    return s;
  }
  StepKind rfactor_step(const std::string &p) {
    RfactorStep s;
    s.loop = loop_name(true, p);
    s.result = result(p);
    return s;
  }
  StepKind reorder_storage_step(const std::string &p) {
    ReorderStorageStep s;
    s.stage = name_after(p, "a stage name");
    s.axes = loop_names(p);
    if (s.axes.empty())
      fail(cur().loc, fmt::format("expected axis names after 'reorder_storage {}', found {}", s.stage, describe(cur())));
    return s;
  }
  StepKind prefetch_step(const std::string &p) {
    PrefetchStep s;
    s.tensor = name_after(p, "a tensor name");
    expect_word("at", p);
    s.at = loop_name(true, p);
    SourceLoc l = cur().loc;
    s.distance = integer("a prefetch distance (iterations ahead, an integer)");
    if (s.distance < 1) fail(l, fmt::format("'prefetch' distance must be at least 1, found {}", s.distance));
    return s;
  }
  StepKind storage_align_step(const std::string &p) {
    StorageAlignStep s;
    s.axis = loop_name(true, p);
    s.factor = integer("an alignment factor (an integer)");
    s.offset = integer("an alignment offset (an integer)");
    return s;
  }

  /// The primitives: the name a step starts with and the function parsing the rest. Printing is
  /// by step type (ir/schedule.cpp), applying too (passes/schedule_apply.h).
  struct Primitive {
    const char *name;
    StepKind (Parser::*parse)(const std::string &);
  };
  static constexpr Primitive kPrimitives[] = {
      {"split", &Parser::split_step},
      {"tile", &Parser::tile_step},
      {"reorder", &Parser::reorder_step},
      {"fuse", &Parser::fuse_step},
      {"parallel", &Parser::annotate_step},
      {"vectorize", &Parser::annotate_step},
      {"unroll", &Parser::annotate_step},
      {"unroll_limit", &Parser::unroll_limit_step},
      {"bind", &Parser::bind_step},
      {"compute_at", &Parser::compute_at_step},
      {"compute_inline", &Parser::compute_inline_or_root_step},
      {"compute_root", &Parser::compute_inline_or_root_step},
      {"cache_read", &Parser::cache_read_step},
      {"cache_write", &Parser::cache_write_step},
      {"rfactor", &Parser::rfactor_step},
      {"storage_align", &Parser::storage_align_step},
      {"reorder_storage", &Parser::reorder_storage_step},
      {"prefetch", &Parser::prefetch_step},
  };

  static std::string primitive_list() {
    std::string s;
    for (const Primitive &p : kPrimitives) s += (s.empty() ? "" : ", ") + std::string(p.name);
    return s;
  }

  Step step() {
    Step st;
    st.loc = cur().loc;
    if (!is(Tok::Ident))
      fail(cur().loc, fmt::format("expected a schedule primitive ({}), found {}", primitive_list(), describe(cur())));
    std::string p = next().text;
    step_loc_ = st.loc;
    for (const Primitive &prim : kPrimitives)
      if (p == prim.name) {
        st.kind = (this->*prim.parse)(p);
        return st;
      }
    fail(st.loc, fmt::format("unknown schedule primitive '{}'; primitives: {}", p, primitive_list()));
  }

  SourceFileRef file_;
  std::vector<Token> toks_;
  SourceLoc step_loc_;  ///< the first token of the schedule step being parsed
  size_t p_ = 0;
  int depth_ = 0;
  int chain_ = 0;
};

SourceFileRef make_file(const std::string &path, const std::string &text) {
  auto f = std::make_shared<SourceFile>();
  f->path = path;
  f->text = text;
  return f;
}

}  // namespace

Module parse_module(const std::string &path, const std::string &text) {
  return Parser(make_file(path, text)).module();
}

Module parse_module_file(const std::string &path) {
  return parse_module(path, read_source_file(path));
}

std::vector<Schedule> parse_schedules(const std::string &path, const std::string &text) {
  return Parser(make_file(path, text)).schedules();
}

}  // namespace kcc
