// ir/lexer.cpp - model.ir text -> tokens (see lexer.h for the token set).
#include "ir/lexer.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <limits>

namespace kcc {

namespace {

bool is_ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ident_char(char c) { return is_ident_start(c) || is_digit(c); }

/// A character as it should appear in a message: printable ASCII as is, others as \xNN.
std::string show_char(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7f) return std::string(1, c);
  return fmt::format("\\x{:02x}", u);
}

Tok keyword(const std::string &s) {
  if (s == "kernel") return Tok::KwKernel;
  if (s == "schedule") return Tok::KwSchedule;
  if (s == "and") return Tok::KwAnd;
  if (s == "or") return Tok::KwOr;
  if (s == "not") return Tok::KwNot;
  if (s == "true") return Tok::KwTrue;
  if (s == "false") return Tok::KwFalse;
  if (s == "inf") return Tok::KwInf;
  if (s == "nan") return Tok::KwNan;
  return Tok::Ident;
}

class Lexer {
 public:
  explicit Lexer(const SourceFileRef &f) : file_(f), s_(f->text) {}

  std::vector<Token> run() {
    while (pos_ < s_.size()) step();
    Token end;
    end.kind = Tok::End;
    end.loc = here();
    out_.push_back(end);
    return std::move(out_);
  }

 private:
  SourceLoc here() const { return SourceLoc{file_, line_, col_}; }

  [[noreturn]] void fail(const SourceLoc &loc, const std::string &msg) { throw UserError(loc, msg); }

  void advance(size_t n = 1) {
    for (size_t i = 0; i < n && pos_ < s_.size(); ++i) {
      if (s_[pos_] == '\n') {
        ++line_;
        col_ = 1;
      } else {
        ++col_;
      }
      ++pos_;
    }
  }

  char peek(size_t off = 0) const { return pos_ + off < s_.size() ? s_[pos_ + off] : '\0'; }

  void push(Tok k, std::string text, SourceLoc loc) {
    Token t;
    t.kind = k;
    t.text = std::move(text);
    t.loc = std::move(loc);
    out_.push_back(std::move(t));
  }

  void step() {
    char c = peek();
    SourceLoc loc = here();
    if (c == ' ' || c == '\t' || c == '\r') return advance();
    if (c == '#') {
      while (pos_ < s_.size() && peek() != '\n') advance();
      return;
    }
    if (c == '\n' || c == ';') {
      if (depth_ == 0 && (out_.empty() || out_.back().kind != Tok::Newline)) push(Tok::Newline, c == ';' ? ";" : "\n", loc);
      return advance();
    }
    if (is_ident_start(c)) return ident(loc);
    if (is_digit(c)) return number(loc);
    if (c == '"') return quoted(loc);
    auto two = [&](char a, char b) { return c == a && peek(1) == b; };
    struct P {
      char a, b;
      Tok k;
    };
    static const P pairs[] = {{'-', '>', Tok::Arrow}, {'=', '=', Tok::EQ}, {'!', '=', Tok::NE},
                              {'<', '=', Tok::LE},    {'>', '=', Tok::GE}};
    for (auto &p : pairs) {
      if (two(p.a, p.b)) {
        push(p.k, std::string{p.a, p.b}, loc);
        return advance(2);
      }
    }
    if (two('&', '&')) fail(loc, "unexpected '&&'; write 'and'");
    if (two('|', '|')) fail(loc, "unexpected '||'; write 'or'");
    Tok k;
    switch (c) {
      case '(': k = Tok::LParen; ++depth_; break;
      case ')': k = Tok::RParen; depth_ = depth_ > 0 ? depth_ - 1 : 0; break;
      case '[': k = Tok::LBracket; ++depth_; break;
      case ']': k = Tok::RBracket; depth_ = depth_ > 0 ? depth_ - 1 : 0; break;
      // A brace always ends any bracket nesting, so an unclosed '(' cannot swallow a whole block.
      case '{': k = Tok::LBrace; depth_ = 0; break;
      case '}': k = Tok::RBrace; depth_ = 0; break;
      case ',': k = Tok::Comma; break;
      case ':': k = Tok::Colon; break;
      case '.': k = Tok::Dot; break;
      case '=': k = Tok::Assign; break;
      case '+': k = Tok::Plus; break;
      case '-': k = Tok::Minus; break;
      case '*': k = Tok::Star; break;
      case '/': k = Tok::Slash; break;
      case '%': k = Tok::Percent; break;
      case '<': k = Tok::LT; break;
      case '>': k = Tok::GT; break;
      case '!': fail(loc, "unexpected character '!'; write 'not' or '!='");
      default: fail(loc, fmt::format("unexpected character '{}'", show_char(c)));
    }
    push(k, std::string(1, c), loc);
    advance();
  }

  void ident(const SourceLoc &loc) {
    size_t b = pos_;
    while (is_ident_char(peek())) advance();
    std::string text = s_.substr(b, pos_ - b);
    Tok k = keyword(text);
    push(k, text, loc);
    if (k == Tok::KwInf) out_.back().float_value = std::numeric_limits<double>::infinity();
    if (k == Tok::KwNan) out_.back().float_value = std::numeric_limits<double>::quiet_NaN();
  }

  void quoted(const SourceLoc &loc) {
    advance();  // "
    size_t b = pos_;
    while (pos_ < s_.size() && peek() != '"' && peek() != '\n') advance();
    if (peek() != '"') fail(loc, "unterminated string; a string ends with '\"' on the same line");
    push(Tok::String, s_.substr(b, pos_ - b), loc);
    advance();
  }

  void number(const SourceLoc &loc) {
    size_t b = pos_;
    bool is_float = false;
    while (is_digit(peek())) advance();
    if (peek() == '.' && is_digit(peek(1))) {
      is_float = true;
      advance();
      while (is_digit(peek())) advance();
    }
    if ((peek() == 'e' || peek() == 'E') &&
        (is_digit(peek(1)) || ((peek(1) == '+' || peek(1) == '-') && is_digit(peek(2))))) {
      is_float = true;
      advance(2);
      while (is_digit(peek())) advance();
    }
    if (is_ident_char(peek()) || peek() == '.') {
      while (is_ident_char(peek()) || peek() == '.') advance();
      fail(loc, fmt::format("invalid number '{}'", s_.substr(b, pos_ - b)));
    }
    std::string text = s_.substr(b, pos_ - b);
    Token t;
    t.text = text;
    t.loc = loc;
    errno = 0;
    if (is_float) {
      t.kind = Tok::Float;
      t.float_value = std::strtod(text.c_str(), nullptr);
      if (errno == ERANGE && (t.float_value > 1 || t.float_value < -1))
        fail(loc, fmt::format("float literal '{}' is out of range", text));
    } else {
      t.kind = Tok::Int;
      unsigned long long v = std::strtoull(text.c_str(), nullptr, 10);
      if (errno == ERANGE || v > static_cast<unsigned long long>(std::numeric_limits<int64_t>::max()))
        fail(loc, fmt::format("integer literal '{}' does not fit in 64 bits", text));
      t.int_value = static_cast<int64_t>(v);
    }
    out_.push_back(std::move(t));
  }

  SourceFileRef file_;
  const std::string &s_;
  size_t pos_ = 0;
  int line_ = 1, col_ = 1;
  int depth_ = 0;
  std::vector<Token> out_;
};

}  // namespace

std::vector<Token> lex(const SourceFileRef &file) { return Lexer(file).run(); }

std::string describe(const Token &t) {
  switch (t.kind) {
    case Tok::Newline: return t.text == ";" ? "';'" : "end of line";
    case Tok::End: return "end of file";
    case Tok::Ident: return fmt::format("identifier '{}'", t.text);
    case Tok::Int:
    case Tok::Float: return fmt::format("number '{}'", t.text);
    case Tok::String: return fmt::format("string \"{}\"", t.text);
    default: return fmt::format("'{}'", t.text);
  }
}

}  // namespace kcc
