// Tests of ParseExpression: precedence and associativity (checked through an
// S-expression rendering of the tree), literals (numbers, durations, strings
// with '' escapes, booleans, dotted names), synonyms, and the byte offsets and
// messages of syntax errors. Single-threaded.
#include "expr/expr_parser.h"

#include <gtest/gtest.h>

#include <iomanip>
#include <sstream>
#include <string>
#include <variant>

namespace vigil::rules {
namespace {

// (op a b), (- x), (f a b), numbers as %g, durations as <N>ms, strings quoted.
std::string Sexpr(const Node& n) {
  std::ostringstream s;
  s << std::setprecision(15);
  switch (n.kind) {
    case NodeKind::kNumber: s << n.number; break;
    case NodeKind::kDuration: s << n.number << "ms"; break;
    case NodeKind::kString: s << "'" << n.text << "'"; break;
    case NodeKind::kBool: s << (n.number != 0 ? "true" : "false"); break;
    case NodeKind::kName: s << n.text; break;
    case NodeKind::kUnary:
    case NodeKind::kBinary:
    case NodeKind::kCall:
      s << "(" << n.text;
      for (const auto& a : n.args) s << " " << Sexpr(*a);
      s << ")";
      break;
  }
  return s.str();
}

std::string Parse(const std::string& text) {
  auto r = ParseExpression(text);
  if (auto* err = std::get_if<ExprError>(&r)) return "error@" + std::to_string(err->pos) + ": " + err->message;
  return Sexpr(*std::get<NodePtr>(r));
}

ExprError ParseError(const std::string& text) {
  auto r = ParseExpression(text);
  if (auto* err = std::get_if<ExprError>(&r)) return *err;
  ADD_FAILURE() << "'" << text << "' parsed as " << Sexpr(*std::get<NodePtr>(r));
  return {};
}

TEST(ExprParserTest, MultiplicationBindsTighterThanAddition) {
  EXPECT_EQ(Parse("a + b * c"), "(+ a (* b c))");
  EXPECT_EQ(Parse("a * b + c"), "(+ (* a b) c)");
  EXPECT_EQ(Parse("a - b / c % d"), "(- a (% (/ b c) d))");
}

TEST(ExprParserTest, BinaryOperatorsAreLeftAssociative) {
  EXPECT_EQ(Parse("a - b - c"), "(- (- a b) c)");
  EXPECT_EQ(Parse("a / b / c"), "(/ (/ a b) c)");
  EXPECT_EQ(Parse("a or b or c"), "(or (or a b) c)");
}

TEST(ExprParserTest, NotBindsLooserThanComparisonAndTighterThanAnd) {
  EXPECT_EQ(Parse("not a > 1 and b < 2"), "(and (not (> a 1)) (< b 2))");
  EXPECT_EQ(Parse("a > 1 or not b < 2 and c == 3"), "(or (> a 1) (and (not (< b 2)) (== c 3)))");
}

TEST(ExprParserTest, AndBindsTighterThanOr) {
  EXPECT_EQ(Parse("a or b and c"), "(or a (and b c))");
  EXPECT_EQ(Parse("a and b or c"), "(or (and a b) c)");
}

TEST(ExprParserTest, UnaryMinusBindsTighterThanMultiplication) {
  EXPECT_EQ(Parse("-x"), "(- x)");
  EXPECT_EQ(Parse("-x * y"), "(* (- x) y)");
  EXPECT_EQ(Parse("a - -b"), "(- a (- b))");
  EXPECT_EQ(Parse("--x"), "(- (- x))");
}

TEST(ExprParserTest, ParenthesesOverridePrecedence) {
  EXPECT_EQ(Parse("(a + b) * c"), "(* (+ a b) c)");
  EXPECT_EQ(Parse("not (a > 1 and b < 2)"), "(not (and (> a 1) (< b 2)))");
  EXPECT_EQ(Parse("((x))"), "x");
}

TEST(ExprParserTest, ComparisonOperatorsAndSynonyms) {
  EXPECT_EQ(Parse("a == 1"), "(== a 1)");
  EXPECT_EQ(Parse("a = 1"), "(== a 1)");
  EXPECT_EQ(Parse("a != 1"), "(!= a 1)");
  EXPECT_EQ(Parse("a <> 1"), "(!= a 1)");
  EXPECT_EQ(Parse("a <= 1"), "(<= a 1)");
  EXPECT_EQ(Parse("a >= 1"), "(>= a 1)");
  EXPECT_EQ(Parse("a > 1 && b < 2 || !c > 3"), "(or (and (> a 1) (< b 2)) (not (> c 3)))");
}

TEST(ExprParserTest, DurationsAreMilliseconds) {
  EXPECT_EQ(Parse("avg(t, 250ms)"), "(avg t 250ms)");
  EXPECT_EQ(Parse("avg(t, 30s)"), "(avg t 30000ms)");
  EXPECT_EQ(Parse("avg(t, 5m)"), "(avg t 300000ms)");
  EXPECT_EQ(Parse("avg(t, 1h)"), "(avg t 3600000ms)");
  EXPECT_EQ(Parse("avg(t, 1d)"), "(avg t 86400000ms)");
  EXPECT_EQ(Parse("avg(t, 1.5s)"), "(avg t 1500ms)");
}

TEST(ExprParserTest, NumbersAcceptFractionsAndExponents) {
  EXPECT_EQ(Parse("x > 1.25"), "(> x 1.25)");
  EXPECT_EQ(Parse("x > .5"), "(> x 0.5)");
  EXPECT_EQ(Parse("x > 2e3"), "(> x 2000)");
  EXPECT_EQ(Parse("x > 2.5E-1"), "(> x 0.25)");
}

TEST(ExprParserTest, StringsUseSingleQuotesAndDoubledQuoteEscape) {
  EXPECT_EQ(Parse("zone == 'nord'"), "(== zone 'nord')");
  EXPECT_EQ(Parse("site == 'l''usine'"), "(== site 'l'usine')");
  EXPECT_EQ(Parse("site == ''''"), "(== site ''')");
  EXPECT_EQ(Parse("site == ''"), "(== site '')");
  EXPECT_EQ(Parse("site == 'a b, (c)'"), "(== site 'a b, (c)')");
}

TEST(ExprParserTest, NamesMayHoldDotsDigitsAndUnderscores) {
  EXPECT_EQ(Parse("payload.temp_2 > 1"), "(> payload.temp_2 1)");
  EXPECT_EQ(Parse("_x > 1"), "(> _x 1)");
}

TEST(ExprParserTest, BooleansAndCalls) {
  EXPECT_EQ(Parse("true or false"), "(or true false)");
  EXPECT_EQ(Parse("clamp(x, 0, 10) > 1"), "(> (clamp x 0 10) 1)");
  EXPECT_EQ(Parse("f() > 1"), "(> (f) 1)");
  EXPECT_EQ(Parse("abs(avg(t, 10m) - ewma(t, 6h)) > 1.5"), "(> (abs (- (avg t 600000ms) (ewma t 21600000ms))) 1.5)");
}

TEST(ExprParserTest, NodePositionsAreByteOffsets) {
  auto r = ParseExpression("  temp >  30");
  ASSERT_TRUE(std::holds_alternative<NodePtr>(r));
  const Node& root = *std::get<NodePtr>(r);
  EXPECT_EQ(root.pos, 7u);           // the operator
  EXPECT_EQ(root.args[0]->pos, 2u);  // temp
  EXPECT_EQ(root.args[1]->pos, 10u); // 30
}

TEST(ExprParserTest, ChainedComparisonIsAnErrorAtTheSecondOperator) {
  ExprError e = ParseError("1 < temp < 3");
  EXPECT_EQ(e.pos, 9u);
  EXPECT_NE(e.message.find("cannot be chained"), std::string::npos) << e.message;
  EXPECT_EQ(ParseError("a == b != c").pos, 7u);
}

TEST(ExprParserTest, UnterminatedStringPointsAtItsOpeningQuote) {
  ExprError e = ParseError("zone == 'nord");
  EXPECT_EQ(e.pos, 8u);
  EXPECT_NE(e.message.find("unterminated string"), std::string::npos) << e.message;
  // A doubled quote at the very end is an escape, not a terminator.
  EXPECT_EQ(ParseError("zone == 'nord''").pos, 8u);
}

TEST(ExprParserTest, UnknownDurationUnitIsAnError) {
  ExprError e = ParseError("avg(t, 5min) > 1");
  EXPECT_EQ(e.pos, 7u);
  EXPECT_NE(e.message.find("unknown duration unit 'min'"), std::string::npos) << e.message;
}

TEST(ExprParserTest, UnexpectedCharacterIsAnError) {
  ExprError e = ParseError("a # b");
  EXPECT_EQ(e.pos, 2u);
  EXPECT_NE(e.message.find("unexpected character '#'"), std::string::npos) << e.message;
  EXPECT_EQ(ParseError("a & b").pos, 2u);
}

TEST(ExprParserTest, TrailingTextIsAnError) {
  ExprError e = ParseError("temp > 30 40");
  EXPECT_EQ(e.pos, 10u);
  EXPECT_NE(e.message.find("after the end of the expression"), std::string::npos) << e.message;
  EXPECT_EQ(ParseError("(a > 1))").pos, 7u);
}

TEST(ExprParserTest, MissingOperandOrParenthesisIsAnError) {
  ExprError e = ParseError("temp > ");
  EXPECT_EQ(e.pos, 7u);
  EXPECT_NE(e.message.find("expected a value"), std::string::npos) << e.message;
  ExprError paren = ParseError("(a > 1");
  EXPECT_EQ(paren.pos, 6u);
  EXPECT_NE(paren.message.find("expected ')'"), std::string::npos) << paren.message;
  EXPECT_EQ(ParseError("a > 1 and or b").pos, 10u);
  EXPECT_EQ(ParseError("f(a b) > 1").pos, 4u);
  EXPECT_EQ(ParseError("").pos, 0u);
}

TEST(ExprParserTest, MalformedNumberIsAnError) {
  ExprError e = ParseError("x > 1.2.3");
  EXPECT_EQ(e.pos, 4u);
  EXPECT_NE(e.message.find("malformed number"), std::string::npos) << e.message;
}

// Found with a deep input given to tests/fuzz/expr_fuzzer: nesting was unbounded, and parsing,
// compiling and freeing the tree recurse once per level, so 16,000 '(' in
// a rules file overflowed the stack. 100 levels are allowed, more is an
// error at the token that goes one level too deep.
TEST(ExprParserTest, DeepNestingIsAnErrorNotACrash) {
  EXPECT_EQ(Parse(std::string(100, '(') + "1" + std::string(100, ')')), "1");
  EXPECT_EQ(Parse(std::string(101, '(') + "1" + std::string(101, ')')),
            "error@100: expression nested too deeply (more than 100 levels of parentheses, 'not' or signs)");
  for (const std::string& deep : {std::string(100000, '(') + "a > 1", std::string(100000, '-') + "a > 1",
                                  [] {
                                    std::string s;
                                    for (int i = 0; i < 50000; ++i) s += "not ";
                                    return s + "a > 1";
                                  }(),
                                  [] {
                                    std::string s;
                                    for (int i = 0; i < 50000; ++i) s += "abs(";
                                    return s + "a";
                                  }()}) {
    EXPECT_NE(Parse(deep).find("nested too deeply"), std::string::npos) << deep.substr(0, 20);
  }
}

}  // namespace
}  // namespace vigil::rules
