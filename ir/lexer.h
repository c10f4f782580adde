// ir/lexer.h - model.ir text -> tokens.
//
// Tokens: identifiers, integer and float literals (`3`, `0.5`, `1e-5`, `inf`, `nan`), strings
// (`"tiny.weights"`, one line, no escapes),
// punctuation, `->`, comparison operators and the keywords `kernel schedule and or not true
// false inf nan`. `#` starts a comment that runs to the end of the line. A newline or `;` ends a
// statement (token Tok::Newline); newlines inside `(...)` and `[...]` are ignored so that long
// argument lists may span lines. Every token carries its line:col. Bad characters and
// malformed numbers are UserErrors.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ir/diag.h"

namespace kcc {

enum class Tok : uint8_t {
  Ident,
  Int,
  Float,
  String,   ///< "text" on one line, no escapes; `text` holds what is between the quotes
  Newline,  ///< a newline or ';' at bracket depth 0
  End,      ///< end of file
  LParen,
  RParen,
  LBracket,
  RBracket,
  LBrace,
  RBrace,
  Comma,
  Colon,
  Dot,
  Arrow,  ///< ->
  Assign,
  Plus,
  Minus,
  Star,
  Slash,
  Percent,
  EQ,
  NE,
  LT,
  LE,
  GT,
  GE,
  KwKernel,
  KwSchedule,
  KwAnd,
  KwOr,
  KwNot,
  KwTrue,
  KwFalse,
  KwInf,  ///< float literal infinity
  KwNan,  ///< float literal not-a-number
};

struct Token {
  Tok kind = Tok::End;
  std::string text;  ///< as written ("\n" for a newline, "" at the end)
  SourceLoc loc;
  int64_t int_value = 0;  ///< Tok::Int
  double float_value = 0;  ///< Tok::Float, KwInf, KwNan
};

/// Splits `file` into tokens; the last token is Tok::End. Throws UserError on bad input.
std::vector<Token> lex(const SourceFileRef &file);

/// How a token is named in messages: "identifier 'x'", "'->'", "end of line", "end of file".
std::string describe(const Token &t);

}  // namespace kcc
