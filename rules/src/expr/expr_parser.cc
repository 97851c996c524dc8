// Expression parser: a hand-written lexer and precedence-climbing parser.
#include "expr/expr_parser.h"

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <string>

namespace vigil::rules {

namespace {

enum class Tok { kEnd, kNumber, kDuration, kString, kName, kOp, kLParen, kRParen, kComma, kError };

struct Token {
  Tok kind = Tok::kEnd;
  size_t pos = 0;
  std::string text;
  double number = 0;
};

bool IsNameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.'; }

class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}

  Token Next() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
    Token t;
    t.pos = i_;
    if (i_ >= s_.size()) return t;
    char c = s_[i_];
    if (std::isdigit(static_cast<unsigned char>(c)) || (c == '.' && i_ + 1 < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_ + 1])))) {
      return Number(t);
    }
    if (IsNameStart(c)) {
      size_t start = i_;
      while (i_ < s_.size() && IsNameChar(s_[i_])) ++i_;
      t.kind = Tok::kName;
      t.text = std::string(s_.substr(start, i_ - start));
      return t;
    }
    if (c == '\'') return String(t);
    ++i_;
    switch (c) {
      case '(': t.kind = Tok::kLParen; return t;
      case ')': t.kind = Tok::kRParen; return t;
      case ',': t.kind = Tok::kComma; return t;
      case '+': case '-': case '*': case '/': case '%':
        t.kind = Tok::kOp; t.text = std::string(1, c); return t;
      case '=': t.kind = Tok::kOp; t.text = "=="; if (Peek('=')) ++i_; return t;
      case '!':
        t.kind = Tok::kOp;
        if (Peek('=')) { ++i_; t.text = "!="; } else { t.text = "not"; }
        return t;
      case '<':
        t.kind = Tok::kOp;
        if (Peek('=')) { ++i_; t.text = "<="; } else if (Peek('>')) { ++i_; t.text = "!="; } else { t.text = "<"; }
        return t;
      case '>':
        t.kind = Tok::kOp;
        if (Peek('=')) { ++i_; t.text = ">="; } else { t.text = ">"; }
        return t;
      case '&':
        if (Peek('&')) { ++i_; t.kind = Tok::kName; t.text = "and"; return t; }
        break;
      case '|':
        if (Peek('|')) { ++i_; t.kind = Tok::kName; t.text = "or"; return t; }
        break;
      default: break;
    }
    t.kind = Tok::kError;
    t.text = std::string("unexpected character '") + c + "'";
    return t;
  }

 private:
  bool Peek(char c) const { return i_ < s_.size() && s_[i_] == c; }

  Token Number(Token t) {
    size_t start = i_;
    while (i_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[i_])) || s_[i_] == '.')) ++i_;
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      size_t save = i_++;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) {
        while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
      } else {
        i_ = save;
      }
    }
    std::string num(s_.substr(start, i_ - start));
    char* end = nullptr;
    t.number = std::strtod(num.c_str(), &end);
    if (end != num.c_str() + num.size()) {
      t.kind = Tok::kError;
      t.text = "malformed number '" + num + "'";
      return t;
    }
    size_t unit_start = i_;
    while (i_ < s_.size() && std::isalpha(static_cast<unsigned char>(s_[i_]))) ++i_;
    std::string_view unit = s_.substr(unit_start, i_ - unit_start);
    if (unit.empty()) {
      t.kind = Tok::kNumber;
      return t;
    }
    double scale = 0;
    if (unit == "ms") scale = 1;
    else if (unit == "s") scale = 1000;
    else if (unit == "m") scale = 60000;
    else if (unit == "h") scale = 3600000;
    else if (unit == "d") scale = 86400000;
    if (scale == 0) {
      t.kind = Tok::kError;
      t.text = "unknown duration unit '" + std::string(unit) + "' (use ms, s, m, h or d)";
      return t;
    }
    t.kind = Tok::kDuration;
    t.number = t.number * scale;
    return t;
  }

  Token String(Token t) {
    ++i_;
    std::string value;
    while (i_ < s_.size()) {
      if (s_[i_] == '\'') {
        if (i_ + 1 < s_.size() && s_[i_ + 1] == '\'') { value += '\''; i_ += 2; continue; }
        ++i_;
        t.kind = Tok::kString;
        t.text = std::move(value);
        return t;
      }
      value += s_[i_++];
    }
    t.kind = Tok::kError;
    t.text = "unterminated string (strings use single quotes: 'nord')";
    return t;
  }

  std::string_view s_;
  size_t i_ = 0;
};

class Parser {
 public:
  explicit Parser(std::string_view s) : lex_(s) { Advance(); }

  std::variant<NodePtr, ExprError> Run() {
    NodePtr n = Or();
    if (!error_.message.empty()) return error_;
    if (tok_.kind != Tok::kEnd) {
      Fail(tok_.pos, "unexpected '" + Describe(tok_) + "' after the end of the expression");
      return error_;
    }
    return n;
  }

 private:
  void Advance() {
    tok_ = lex_.Next();
    if (tok_.kind == Tok::kError) Fail(tok_.pos, tok_.text);
  }
  void Fail(size_t pos, std::string msg) {
    if (error_.message.empty()) error_ = ExprError{pos, std::move(msg)};
  }
  bool IsWord(const char* w) const { return tok_.kind == Tok::kName && tok_.text == w; }
  bool IsOp(const char* op) const { return tok_.kind == Tok::kOp && tok_.text == op; }
  static std::string Describe(const Token& t) {
    switch (t.kind) {
      case Tok::kEnd: return "end of expression";
      case Tok::kLParen: return "(";
      case Tok::kRParen: return ")";
      case Tok::kComma: return ",";
      default: return t.text.empty() ? std::string("number") : t.text;
    }
  }

  static NodePtr MakeBinary(std::string op, size_t pos, NodePtr a, NodePtr b) {
    auto n = std::make_unique<Node>();
    n->kind = NodeKind::kBinary;
    n->text = std::move(op);
    n->pos = pos;
    n->args.push_back(std::move(a));
    n->args.push_back(std::move(b));
    return n;
  }

  // Parses one more level of nesting (parentheses, call arguments, 'not' or
  // a sign; the level opens at `pos`). Parsing, compiling and freeing the
  // tree recurse once per level, so an unbounded depth would overflow the
  // stack (a rules file with 16,000 '(' crashed `vigil check`; found with a
  // deep input given to tests/fuzz/expr_fuzzer).
  static constexpr int kMaxNesting = 100;
  template <typename Parse>
  NodePtr Nested(size_t pos, Parse parse) {
    if (depth_ >= kMaxNesting) {
      Fail(pos, "expression nested too deeply (more than " + std::to_string(kMaxNesting) +
                         " levels of parentheses, 'not' or signs)");
      auto n = std::make_unique<Node>();
      n->pos = pos;
      return n;
    }
    ++depth_;
    NodePtr n = parse();
    --depth_;
    return n;
  }

  NodePtr Or() {
    NodePtr left = And();
    while (error_.message.empty() && IsWord("or")) {
      size_t pos = tok_.pos;
      Advance();
      left = MakeBinary("or", pos, std::move(left), And());
    }
    return left;
  }
  NodePtr And() {
    NodePtr left = Not();
    while (error_.message.empty() && IsWord("and")) {
      size_t pos = tok_.pos;
      Advance();
      left = MakeBinary("and", pos, std::move(left), Not());
    }
    return left;
  }
  NodePtr Not() {
    if (IsWord("not") || IsOp("not")) {
      auto n = std::make_unique<Node>();
      n->kind = NodeKind::kUnary;
      n->text = "not";
      n->pos = tok_.pos;
      Advance();
      n->args.push_back(Nested(n->pos, [&] { return Not(); }));
      return n;
    }
    return Comparison();
  }
  NodePtr Comparison() {
    NodePtr left = Additive();
    if (error_.message.empty() && tok_.kind == Tok::kOp &&
        (tok_.text == "==" || tok_.text == "!=" || tok_.text == "<" || tok_.text == "<=" ||
         tok_.text == ">" || tok_.text == ">=")) {
      std::string op = tok_.text;
      size_t pos = tok_.pos;
      Advance();
      left = MakeBinary(op, pos, std::move(left), Additive());
      if (error_.message.empty() && tok_.kind == Tok::kOp &&
          (tok_.text == "==" || tok_.text == "!=" || tok_.text == "<" || tok_.text == "<=" ||
           tok_.text == ">" || tok_.text == ">=")) {
        Fail(tok_.pos, "comparisons cannot be chained: write 'a < b and b < c'");
      }
    }
    return left;
  }
  NodePtr Additive() {
    NodePtr left = Multiplicative();
    while (error_.message.empty() && (IsOp("+") || IsOp("-"))) {
      std::string op = tok_.text;
      size_t pos = tok_.pos;
      Advance();
      left = MakeBinary(op, pos, std::move(left), Multiplicative());
    }
    return left;
  }
  NodePtr Multiplicative() {
    NodePtr left = Unary();
    while (error_.message.empty() && (IsOp("*") || IsOp("/") || IsOp("%"))) {
      std::string op = tok_.text;
      size_t pos = tok_.pos;
      Advance();
      left = MakeBinary(op, pos, std::move(left), Unary());
    }
    return left;
  }
  NodePtr Unary() {
    if (IsOp("-") || IsOp("+")) {
      auto n = std::make_unique<Node>();
      n->kind = NodeKind::kUnary;
      n->text = tok_.text;
      n->pos = tok_.pos;
      Advance();
      n->args.push_back(Nested(n->pos, [&] { return Unary(); }));
      return n;
    }
    return Primary();
  }
  NodePtr Primary() {
    auto n = std::make_unique<Node>();
    n->pos = tok_.pos;
    if (!error_.message.empty()) return n;
    switch (tok_.kind) {
      case Tok::kNumber:
        n->kind = NodeKind::kNumber;
        n->number = tok_.number;
        Advance();
        return n;
      case Tok::kDuration:
        n->kind = NodeKind::kDuration;
        n->number = tok_.number;
        Advance();
        return n;
      case Tok::kString:
        n->kind = NodeKind::kString;
        n->text = tok_.text;
        Advance();
        return n;
      case Tok::kLParen: {
        Advance();
        NodePtr inner = Nested(n->pos, [&] { return Or(); });
        if (tok_.kind != Tok::kRParen) {
          Fail(tok_.pos, "expected ')' but found '" + Describe(tok_) + "'");
          return n;
        }
        Advance();
        return inner;
      }
      case Tok::kName: {
        if (tok_.text == "and" || tok_.text == "or" || tok_.text == "not") {
          Fail(tok_.pos, "expected a value but found '" + tok_.text + "'");
          return n;
        }
        if (tok_.text == "true" || tok_.text == "false") {
          n->kind = NodeKind::kBool;
          n->number = tok_.text == "true" ? 1 : 0;
          Advance();
          return n;
        }
        n->text = tok_.text;
        Advance();
        if (tok_.kind != Tok::kLParen) {
          n->kind = NodeKind::kName;
          return n;
        }
        n->kind = NodeKind::kCall;
        Advance();
        if (tok_.kind != Tok::kRParen) {
          while (error_.message.empty()) {
            n->args.push_back(Nested(tok_.pos, [&] { return Or(); }));
            if (tok_.kind == Tok::kComma) { Advance(); continue; }
            if (tok_.kind == Tok::kRParen) break;
            Fail(tok_.pos, "expected ',' or ')' in the arguments of " + n->text + "() but found '" + Describe(tok_) + "'");
            return n;
          }
        }
        Advance();
        return n;
      }
      default:
        Fail(tok_.pos, "expected a value but found '" + Describe(tok_) + "'");
        return n;
    }
  }

  Lexer lex_;
  Token tok_;
  ExprError error_;
  int depth_ = 0;  // levels of Nested() being parsed
};

}  // namespace

std::variant<NodePtr, ExprError> ParseExpression(std::string_view text) {
  return Parser(text).Run();
}

}  // namespace vigil::rules
