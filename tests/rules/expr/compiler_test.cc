// Tests of CompileCondition and Program::Eval: type checking and its error
// positions, evaluation (precedence, null propagation, SQL three-valued
// logic, division by zero, sqrt of a negative, min/max/clamp), tag
// comparisons, aggregate slots and their sharing, the fields a rule names,
// and the `lhs` program that gives an alert its value. Single-threaded.
#include "expr/compiler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace vigil::rules {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// One rule's compile environment; expressions compiled through the same Env
// share its schema, tags and aggregate list (as `when` and `clear_when` do).
class Env {
 public:
  explicit Env(ExprMode mode = ExprMode::kEvent) : mode_(mode) {}

  CompiledExpr Ok(const std::string& text) {
    auto r = CompileCondition(text, env());
    if (auto* err = std::get_if<ExprError>(&r)) {
      ADD_FAILURE() << "'" << text << "' failed at " << err->pos << ": " << err->message;
      return {};
    }
    return std::move(std::get<CompiledExpr>(r));
  }

  ExprError Err(const std::string& text) {
    auto r = CompileCondition(text, env());
    if (auto* err = std::get_if<ExprError>(&r)) return *err;
    ADD_FAILURE() << "'" << text << "' compiled";
    return {};
  }

  // Evaluates `p` with the given fields (by name), tags (by name) and
  // aggregate slot values; anything not given is null / absent.
  double Eval(const Program& p, const std::map<std::string, double>& fields,
              const std::map<std::string, std::string>& tags = {}, const std::vector<double>& aggs = {}) {
    fields_.assign(schema_.field_count() + 1, kNaN);
    tag_ids_.assign(schema_.tag_count() + 1, 0);
    for (const auto& [name, v] : fields) {
      int slot = schema_.FindField(name);
      EXPECT_GE(slot, 0) << name << " is not a field of the schema";
      if (slot >= 0) fields_[static_cast<size_t>(slot)] = v;
    }
    for (const auto& [name, v] : tags) {
      int slot = schema_.FindTag(name);
      EXPECT_GE(slot, 0) << name << " is not a tag of the schema";
      if (slot >= 0) tag_ids_[static_cast<size_t>(slot)] = tags_.Intern(v);
    }
    aggs_ = aggs;
    aggs_.resize(aggregates_.size() + 1, kNaN);
    return p.Eval(EvalInput{fields_.data(), tag_ids_.data(), aggs_.data()});
  }

  // Compiles `text` and evaluates its condition.
  double Cond(const std::string& text, const std::map<std::string, double>& fields,
              const std::map<std::string, std::string>& tags = {}) {
    CompiledExpr c = Ok(text);
    return Eval(c.program, fields, tags);
  }
  // Compiles `text` (one comparison) and evaluates its left-hand side.
  double Lhs(const std::string& text, const std::map<std::string, double>& fields) {
    CompiledExpr c = Ok(text);
    EXPECT_FALSE(c.lhs.empty()) << text;
    return Eval(c.lhs, fields);
  }

  Schema& schema() { return schema_; }
  TagInterner& tags() { return tags_; }
  const std::vector<AggregateRef>& aggregates() const { return aggregates_; }
  const std::vector<uint32_t>& fields_named() const { return fields_named_; }

 private:
  CompileEnv env() { return CompileEnv{mode_, &schema_, &tags_, &aggregates_, &fields_named_}; }

  ExprMode mode_;
  Schema schema_;
  TagInterner tags_;
  std::vector<AggregateRef> aggregates_;
  std::vector<uint32_t> fields_named_;
  std::vector<double> fields_;
  std::vector<uint32_t> tag_ids_;
  std::vector<double> aggs_;
};

// 'T' true, 'F' false, 'U' unknown (null), '?' anything else.
char Truth(double v) {
  if (std::isnan(v)) return 'U';
  if (v == 1.0) return 'T';
  if (v == 0.0) return 'F';
  return '?';
}
// The value of field p or q that makes `p > 0` true, false or unknown.
double Operand(char t) { return t == 'T' ? 1.0 : (t == 'F' ? -1.0 : kNaN); }

// ---- evaluation --------------------------------------------------------

TEST(CompilerTest, ArithmeticFollowsPrecedence) {
  Env env;
  EXPECT_EQ(env.Lhs("a + b * c > 0", {{"a", 1}, {"b", 2}, {"c", 3}}), 7);
  EXPECT_EQ(env.Lhs("(a + b) * c > 0", {{"a", 1}, {"b", 2}, {"c", 3}}), 9);
  EXPECT_EQ(env.Lhs("a - b - c > 0", {{"a", 10}, {"b", 2}, {"c", 3}}), 5);
  EXPECT_EQ(env.Lhs("-a * 2 > 0", {{"a", 3}}), -6);
  EXPECT_EQ(env.Lhs("a - -b > 0", {{"a", 3}, {"b", 4}}), 7);
  EXPECT_EQ(env.Lhs("a / b > 0", {{"a", 7}, {"b", 2}}), 3.5);
  EXPECT_EQ(env.Lhs("a % b > 0", {{"a", 7}, {"b", 3}}), 1);
}

TEST(CompilerTest, NotAppliesToTheComparisonBeforeAnd) {
  Env env;
  // not (a > 1) and (b < 2): a=0 -> not false = true; b=1 -> true.
  EXPECT_EQ(Truth(env.Cond("not a > 1 and b < 2", {{"a", 0}, {"b", 1}})), 'T');
  // If `not` covered the whole `and`, a=5, b=1 would give true; it gives false.
  EXPECT_EQ(Truth(env.Cond("not a > 1 and b < 2", {{"a", 5}, {"b", 1}})), 'F');
}

TEST(CompilerTest, OrFollowsThreeValuedLogic) {
  const char* cases[][3] = {{"T", "T", "T"}, {"T", "F", "T"}, {"T", "U", "T"}, {"F", "T", "T"}, {"F", "F", "F"},
                            {"F", "U", "U"}, {"U", "T", "T"}, {"U", "F", "U"}, {"U", "U", "U"}};
  Env env;
  CompiledExpr c = env.Ok("p > 0 or q > 0");
  for (auto& row : cases) {
    double v = env.Eval(c.program, {{"p", Operand(row[0][0])}, {"q", Operand(row[1][0])}});
    EXPECT_EQ(Truth(v), row[2][0]) << row[0] << " or " << row[1];
  }
}

TEST(CompilerTest, AndFollowsThreeValuedLogic) {
  const char* cases[][3] = {{"T", "T", "T"}, {"T", "F", "F"}, {"T", "U", "U"}, {"F", "T", "F"}, {"F", "F", "F"},
                            {"F", "U", "F"}, {"U", "T", "U"}, {"U", "F", "F"}, {"U", "U", "U"}};
  Env env;
  CompiledExpr c = env.Ok("p > 0 and q > 0");
  for (auto& row : cases) {
    double v = env.Eval(c.program, {{"p", Operand(row[0][0])}, {"q", Operand(row[1][0])}});
    EXPECT_EQ(Truth(v), row[2][0]) << row[0] << " and " << row[1];
  }
}

TEST(CompilerTest, NotOfUnknownIsUnknown) {
  Env env;
  CompiledExpr c = env.Ok("not p > 0");
  EXPECT_EQ(Truth(env.Eval(c.program, {{"p", 1}})), 'F');
  EXPECT_EQ(Truth(env.Eval(c.program, {{"p", -1}})), 'T');
  EXPECT_EQ(Truth(env.Eval(c.program, {{"p", kNaN}})), 'U');
  EXPECT_EQ(Truth(env.Cond("not not p > 0", {{"p", kNaN}})), 'U');
}

TEST(CompilerTest, ComparisonWithNullIsUnknown) {
  Env env;
  for (const char* op : {"==", "!=", "<", "<=", ">", ">="}) {
    std::string text = std::string("x ") + op + " 1";
    EXPECT_EQ(Truth(env.Cond(text, {})), 'U') << text;
    EXPECT_EQ(Truth(env.Cond(std::string("1 ") + op + " x", {})), 'U') << op;
  }
  EXPECT_EQ(Truth(env.Cond("x != 1", {{"x", 2}})), 'T');
  EXPECT_EQ(Truth(env.Cond("x == 1", {{"x", 2}})), 'F');
}

TEST(CompilerTest, BooleanLiteralsCombineWithUnknown) {
  Env env;
  EXPECT_EQ(Truth(env.Cond("x > 0 or true", {})), 'T');
  EXPECT_EQ(Truth(env.Cond("x > 0 and false", {})), 'F');
  EXPECT_EQ(Truth(env.Cond("x > 0 and true", {})), 'U');
  EXPECT_EQ(Truth(env.Cond("x > 0 or false", {})), 'U');
}

TEST(CompilerTest, ArithmeticOnNullIsNull) {
  Env env;
  EXPECT_TRUE(std::isnan(env.Lhs("x + 1 > 0", {})));
  EXPECT_TRUE(std::isnan(env.Lhs("1 - x > 0", {})));
  EXPECT_TRUE(std::isnan(env.Lhs("x * 0 > 0", {})));
  EXPECT_TRUE(std::isnan(env.Lhs("-x > 0", {})));
  EXPECT_TRUE(std::isnan(env.Lhs("abs(x) > 0", {})));
  EXPECT_TRUE(std::isnan(env.Lhs("0 / x > 0", {})));
  EXPECT_TRUE(std::isnan(env.Lhs("x % 2 > 0", {})));
}

TEST(CompilerTest, DivisionAndModuloByZeroAreNull) {
  Env env;
  EXPECT_TRUE(std::isnan(env.Lhs("a / b > 0", {{"a", 1}, {"b", 0}})));
  EXPECT_TRUE(std::isnan(env.Lhs("a / b > 0", {{"a", 0}, {"b", 0}})));
  EXPECT_TRUE(std::isnan(env.Lhs("a / b > 0", {{"a", -1}, {"b", -0.0}})));
  EXPECT_TRUE(std::isnan(env.Lhs("a % b > 0", {{"a", 5}, {"b", 0}})));
  EXPECT_TRUE(std::isnan(env.Lhs("a / 0 > 0", {{"a", 5}})));
  // So a condition over it is unknown, and `or true` rescues it.
  EXPECT_EQ(Truth(env.Cond("a / b > 0", {{"a", 1}, {"b", 0}})), 'U');
  EXPECT_EQ(Truth(env.Cond("a / b > 0 or b == 0", {{"a", 1}, {"b", 0}})), 'T');
}

TEST(CompilerTest, SqrtOfNegativeIsNull) {
  Env env;
  EXPECT_TRUE(std::isnan(env.Lhs("sqrt(x) > 0", {{"x", -4}})));
  EXPECT_EQ(env.Lhs("sqrt(x) > 0", {{"x", 16}}), 4);
  EXPECT_EQ(env.Lhs("sqrt(x) > 0", {{"x", 0}}), 0);
  EXPECT_EQ(env.Lhs("abs(x) > 0", {{"x", -2.5}}), 2.5);
}

TEST(CompilerTest, MinAndMaxOfTwoNumbers) {
  Env env;
  EXPECT_EQ(env.Lhs("min(a, b) > 0", {{"a", 3}, {"b", -2}}), -2);
  EXPECT_EQ(env.Lhs("max(a, b) > 0", {{"a", 3}, {"b", -2}}), 3);
  EXPECT_EQ(env.Lhs("max(a, 10) > 0", {{"a", 3}}), 10);
  EXPECT_TRUE(std::isnan(env.Lhs("min(a, b) > 0", {{"a", 3}})));
  EXPECT_TRUE(std::isnan(env.Lhs("max(a, b) > 0", {{"b", 3}})));
  EXPECT_TRUE(env.aggregates().empty()) << "two-number min/max are not aggregates";
}

TEST(CompilerTest, MinAndMaxWithADurationAreAggregates) {
  Env env;
  CompiledExpr c = env.Ok("max(t, 5m) - min(t, 5m) > 3 and min(a, b) < 1");
  ASSERT_EQ(env.aggregates().size(), 2u);
  EXPECT_EQ(env.aggregates()[0].kind, AggKind::kMax);
  EXPECT_EQ(env.aggregates()[0].window_ms, 300000);
  EXPECT_EQ(env.aggregates()[1].kind, AggKind::kMin);
  EXPECT_EQ(env.aggregates()[1].window_ms, 300000);
  EXPECT_EQ(env.aggregates()[0].field, static_cast<uint32_t>(env.schema().FindField("t")));
  // Aggregate values come from the slots: max 10, min 6 -> 4 > 3; min(a, b) = 0 < 1.
  EXPECT_EQ(Truth(env.Eval(c.program, {{"a", 0}, {"b", 5}}, {}, {10, 6})), 'T');
  EXPECT_EQ(Truth(env.Eval(c.program, {{"a", 0}, {"b", 5}}, {}, {10, 8})), 'F');
  // Null aggregates (no samples): unknown.
  EXPECT_EQ(Truth(env.Eval(c.program, {{"a", 0}, {"b", 5}}, {}, {kNaN, kNaN})), 'U');
}

TEST(CompilerTest, MinAndMaxWithOneArgumentAreWindowAggregates) {
  Env env(ExprMode::kWindow);
  CompiledExpr c = env.Ok("max(t) - min(t) > 3");
  ASSERT_EQ(env.aggregates().size(), 2u);
  EXPECT_EQ(env.aggregates()[0].kind, AggKind::kMax);
  EXPECT_EQ(env.aggregates()[0].window_ms, 0);
  EXPECT_EQ(env.aggregates()[1].kind, AggKind::kMin);
  EXPECT_EQ(env.Eval(c.lhs, {}, {}, {10, 4}), 6);
  // And max of two window aggregates is the two-number max.
  Env env2(ExprMode::kWindow);
  CompiledExpr c2 = env2.Ok("max(avg(t), avg(u)) > 3");
  EXPECT_EQ(env2.aggregates().size(), 2u);
  EXPECT_EQ(env2.Eval(c2.lhs, {}, {}, {2, 7}), 7);
}

TEST(CompilerTest, ClampBoundsTheValue) {
  Env env;
  EXPECT_EQ(env.Lhs("clamp(x, 0, 10) > 0", {{"x", 15}}), 10);
  EXPECT_EQ(env.Lhs("clamp(x, 0, 10) > 0", {{"x", -5}}), 0);
  EXPECT_EQ(env.Lhs("clamp(x, 0, 10) > 0", {{"x", 5}}), 5);
  EXPECT_EQ(env.Lhs("clamp(x, 0, 10) > 0", {{"x", 10}}), 10);
  EXPECT_TRUE(std::isnan(env.Lhs("clamp(x, 0, 10) > 0", {})));
  EXPECT_TRUE(std::isnan(env.Lhs("clamp(x, lo, 10) > 0", {{"x", 5}})));
  EXPECT_EQ(env.Lhs("clamp(x, lo, hi) + 1 > 0", {{"x", 5}, {"lo", 6}, {"hi", 9}}), 7);
}

TEST(CompilerTest, TagComparesWithAString) {
  Env env;
  CompiledExpr eq = env.Ok("zone == 'nord'");
  CompiledExpr rev = env.Ok("'nord' == zone");
  CompiledExpr ne = env.Ok("zone != 'nord'");
  EXPECT_GE(env.schema().FindTag("zone"), 0);
  EXPECT_EQ(env.schema().FindField("zone"), -1) << "a name compared to a string is a tag, not a field";
  EXPECT_EQ(Truth(env.Eval(eq.program, {}, {{"zone", "nord"}})), 'T');
  EXPECT_EQ(Truth(env.Eval(eq.program, {}, {{"zone", "sud"}})), 'F');
  EXPECT_EQ(Truth(env.Eval(eq.program, {}, {})), 'U');
  EXPECT_EQ(Truth(env.Eval(rev.program, {}, {{"zone", "nord"}})), 'T');
  EXPECT_EQ(Truth(env.Eval(ne.program, {}, {{"zone", "nord"}})), 'F');
  EXPECT_EQ(Truth(env.Eval(ne.program, {}, {{"zone", "sud"}})), 'T');
  EXPECT_TRUE(env.fields_named().empty()) << "a tag does not make a rule see a message";
  EXPECT_TRUE(eq.lhs.empty()) << "a tag comparison has no numeric value";
}

TEST(CompilerTest, TagValueWithEscapedQuoteIsInternedUnescaped) {
  Env env;
  CompiledExpr c = env.Ok("site == 'l''usine'");
  EXPECT_NE(env.tags().Find("l'usine"), 0u);
  EXPECT_EQ(Truth(env.Eval(c.program, {}, {{"site", "l'usine"}})), 'T');
}

TEST(CompilerTest, AStringComparedToANumberIsUnknownAtRunTime) {
  // DESIGN.md: a name bound to a string where a number is needed gives null.
  // The message's string `zone` is a tag, so the numeric field `zone` is null.
  Env env;
  EXPECT_EQ(Truth(env.Cond("zone > 3", {})), 'U');
}

// ---- aggregates, fields named, lhs ----------------------------------------

TEST(CompilerTest, SameAggregateTwiceSharesOneSlot) {
  Env env;
  CompiledExpr c = env.Ok("avg(t, 5m) > 1 and avg(t, 5m) < 10");
  ASSERT_EQ(env.aggregates().size(), 1u);
  EXPECT_EQ(Truth(env.Eval(c.program, {}, {}, {5})), 'T');
  EXPECT_EQ(Truth(env.Eval(c.program, {}, {}, {50})), 'F');
  // Across expressions of one rule (when and clear_when) too.
  env.Ok("avg(t, 5m) < 0.5");
  EXPECT_EQ(env.aggregates().size(), 1u);
  // A different window, kind or field is another slot.
  env.Ok("avg(t, 1m) > 1 or sum(t, 5m) > 1 or avg(u, 5m) > 1");
  EXPECT_EQ(env.aggregates().size(), 4u);
}

TEST(CompilerTest, EwmaIsAnAggregateSlot) {
  Env env;
  CompiledExpr c = env.Ok("abs(avg(t, 10m) - ewma(t, 6h)) > 1.5");
  ASSERT_EQ(env.aggregates().size(), 2u);
  EXPECT_FALSE(env.aggregates()[0].is_ewma);
  EXPECT_TRUE(env.aggregates()[1].is_ewma);
  EXPECT_EQ(env.aggregates()[1].tau_ms, 6 * 3600000);
  EXPECT_EQ(env.Eval(c.lhs, {}, {}, {20, 22.5}), 2.5);
  env.Ok("ewma(t, 6h) > 3");
  EXPECT_EQ(env.aggregates().size(), 2u);
}

TEST(CompilerTest, FieldsNamedIncludeFieldsInsideAggregates) {
  Env env;
  env.Ok("avg(t, 5m) > 1 and h > 2 and zone == 'nord' and ewma(e, 1h) > 0");
  std::vector<uint32_t> want = {static_cast<uint32_t>(env.schema().FindField("t")),
                                static_cast<uint32_t>(env.schema().FindField("h")),
                                static_cast<uint32_t>(env.schema().FindField("e"))};
  std::vector<uint32_t> got = env.fields_named();
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
}

TEST(CompilerTest, LhsOnlyForASingleComparison) {
  Env env;
  EXPECT_FALSE(env.Ok("temp > 30").lhs.empty());
  EXPECT_FALSE(env.Ok("(temp > 30)").lhs.empty());
  EXPECT_FALSE(env.Ok("abs(temp - 20) * 2 >= 3").lhs.empty());
  EXPECT_TRUE(env.Ok("temp > 30 and hum > 1").lhs.empty());
  EXPECT_TRUE(env.Ok("temp > 30 or hum > 1").lhs.empty());
  EXPECT_TRUE(env.Ok("not temp > 30").lhs.empty());
  EXPECT_TRUE(env.Ok("true").lhs.empty());
  EXPECT_TRUE(env.Ok("zone == 'nord'").lhs.empty());
  EXPECT_EQ(env.Lhs("abs(temp - 20) * 2 >= 3", {{"temp", 17}}), 6);
  EXPECT_EQ(env.Lhs("temp > 30", {{"temp", 31.5}}), 31.5);
}

// ---- errors --------------------------------------------------------------

TEST(CompilerTest, UnknownFunctionIsAnError) {
  Env env;
  ExprError e = env.Err("temp > 1 and foo(temp) > 2");
  EXPECT_EQ(e.pos, 13u);
  EXPECT_NE(e.message.find("unknown function 'foo'"), std::string::npos) << e.message;
  // Names are case-sensitive.
  EXPECT_EQ(env.Err("AVG(t, 5m) > 1").pos, 0u);
}

TEST(CompilerTest, WrongArityIsAnError) {
  Env env;
  ExprError abs = env.Err("abs(a, b) > 1");
  EXPECT_EQ(abs.pos, 0u);
  EXPECT_NE(abs.message.find("abs() takes 1 argument, got 2"), std::string::npos) << abs.message;
  ExprError clamp = env.Err("x > 0 and clamp(x, 1) > 0");
  EXPECT_EQ(clamp.pos, 10u);
  EXPECT_NE(clamp.message.find("clamp() takes 3 arguments, got 2"), std::string::npos) << clamp.message;
  EXPECT_NE(env.Err("sqrt() > 1").message.find("sqrt() takes 1 argument, got 0"), std::string::npos);
  ExprError ewma = env.Err("ewma(t) > 1");
  EXPECT_EQ(ewma.pos, 0u);
  EXPECT_NE(ewma.message.find("ewma() takes a field and a time constant"), std::string::npos) << ewma.message;
}

TEST(CompilerTest, WhenMustBeBoolean) {
  Env env;
  ExprError e = env.Err("temp");
  EXPECT_EQ(e.pos, 0u);
  EXPECT_NE(e.message.find("a condition is needed"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("a number"), std::string::npos) << e.message;
  EXPECT_NE(env.Err("avg(t, 5m) * 2").message.find("a condition is needed"), std::string::npos);
  EXPECT_NE(env.Err("3").message.find("a condition is needed"), std::string::npos);
}

TEST(CompilerTest, OperandTypesAreChecked) {
  Env env;
  ExprError and_num = env.Err("temp and hum > 1");
  EXPECT_EQ(and_num.pos, 0u);
  EXPECT_NE(and_num.message.find("expected a condition but this is a number"), std::string::npos)
      << and_num.message;
  ExprError add_bool = env.Err("(a > 1) + 2 > 0");
  EXPECT_EQ(add_bool.pos, 3u);
  EXPECT_NE(add_bool.message.find("expected a number but this is a condition"), std::string::npos)
      << add_bool.message;
  ExprError not_num = env.Err("not temp");
  EXPECT_EQ(not_num.pos, 4u);
  EXPECT_EQ(env.Err("-(a > 1) > 0").pos, 4u);
}

TEST(CompilerTest, DurationOutsideAnAggregateIsAnError) {
  Env env;
  ExprError e = env.Err("temp > 5m");
  EXPECT_EQ(e.pos, 7u);
  EXPECT_NE(e.message.find("a duration is only allowed as the window of an aggregate"), std::string::npos)
      << e.message;
  EXPECT_EQ(env.Err("min(temp, -5m) > 1").pos, 11u);
}

// Found by tests/fuzz/expr_fuzzer (UBSan): a window or time constant beyond
// int64 milliseconds was converted from double regardless (undefined).
TEST(CompilerTest, DurationBeyondInt64MillisecondsIsAnError) {
  Env env;
  ExprError e = env.Err("avg(temp, 1e30d) > 1");
  EXPECT_EQ(e.pos, 10u);
  EXPECT_NE(e.message.find("the window of avg() is too long"), std::string::npos) << e.message;
  e = env.Err("ewma(temp, 200000000000000000000ms) > 1");
  EXPECT_EQ(e.pos, 11u);
  EXPECT_NE(e.message.find("the time constant of ewma() is too long"), std::string::npos) << e.message;
  env.Ok("avg(temp, 100000000000d) > 1");  // 8.64e18 ms still fits
}

TEST(CompilerTest, OneArgumentAggregateInAnEventRuleIsAnError) {
  Env env;
  ExprError e = env.Err("temp > 1 and avg(temp) > 30");
  EXPECT_EQ(e.pos, 13u);
  EXPECT_NE(e.message.find("avg() in an event rule needs a field and a duration"), std::string::npos) << e.message;
  EXPECT_EQ(env.Err("p95(temp, 5) > 1").pos, 0u) << "the window must be a duration, not a number";
  EXPECT_NE(env.Err("min(temp) > 1").message.find("needs a field and a duration"), std::string::npos);
}

TEST(CompilerTest, TwoArgumentAggregateInAWindowRuleIsAnError) {
  Env env(ExprMode::kWindow);
  ExprError e = env.Err("count(temp) > 1 and avg(temp, 5m) > 30");
  EXPECT_EQ(e.pos, 20u);
  EXPECT_NE(e.message.find("in a window rule avg() takes one field"), std::string::npos) << e.message;
  EXPECT_EQ(env.Err("max(temp, 5m) > 30").pos, 0u);
}

TEST(CompilerTest, FieldOutsideAnAggregateInAWindowRuleIsAnError) {
  Env env(ExprMode::kWindow);
  ExprError e = env.Err("avg(temp) > limit");
  EXPECT_EQ(e.pos, 12u);
  EXPECT_NE(e.message.find("in a window rule a field is read through an aggregate"), std::string::npos)
      << e.message;
  EXPECT_NE(e.message.find("avg(limit)"), std::string::npos) << e.message;
  EXPECT_EQ(env.Err("min(a, b) > 1").pos, 4u) << "two-number min of raw fields in a window rule";
}

TEST(CompilerTest, WindowRuleRejectsTagComparisonsAndEwma) {
  Env env(ExprMode::kWindow);
  ExprError tag = env.Err("avg(t) > 1 and zone == 'nord'");
  EXPECT_EQ(tag.pos, 20u);
  EXPECT_NE(tag.message.find("match:"), std::string::npos) << tag.message;
  ExprError ewma = env.Err("ewma(t, 1h) > 1");
  EXPECT_EQ(ewma.pos, 0u);
  EXPECT_NE(ewma.message.find("ewma() is not available in a window rule"), std::string::npos) << ewma.message;
}

TEST(CompilerTest, AggregateArgumentsAreChecked) {
  Env env;
  ExprError not_field = env.Err("avg(t + 1, 5m) > 1");
  EXPECT_EQ(not_field.pos, 6u);
  EXPECT_NE(not_field.message.find("first argument of avg() must be a field name"), std::string::npos)
      << not_field.message;
  ExprError zero = env.Err("avg(t, 0s) > 1");
  EXPECT_EQ(zero.pos, 7u);
  EXPECT_NE(zero.message.find("must be positive"), std::string::npos) << zero.message;
  EXPECT_EQ(env.Err("ewma(t, 0ms) > 1").pos, 8u);
}

TEST(CompilerTest, StringsOnlyCompareToTagsWithEquality) {
  Env env;
  ExprError lt = env.Err("zone < 'nord'");
  EXPECT_EQ(lt.pos, 5u);
  EXPECT_NE(lt.message.find("strings compare only with == and !="), std::string::npos) << lt.message;
  ExprError alone = env.Err("'nord'");
  EXPECT_EQ(alone.pos, 0u);
  ExprError two = env.Err("'a' == 'b'");
  EXPECT_EQ(two.pos, 7u);
  EXPECT_NE(two.message.find("compared to a tag name"), std::string::npos) << two.message;
}

TEST(CompilerTest, ParseErrorsComeThroughWithTheirPosition) {
  Env env;
  ExprError chained = env.Err("1 < temp < 3");
  EXPECT_EQ(chained.pos, 9u);
  EXPECT_NE(chained.message.find("cannot be chained"), std::string::npos) << chained.message;
  ExprError unterminated = env.Err("temp > 1 and zone == 'nord");
  EXPECT_EQ(unterminated.pos, 21u);
  EXPECT_NE(unterminated.message.find("unterminated string"), std::string::npos) << unterminated.message;
}

TEST(CompilerTest, TooDeepExpressionIsAnError) {
  Env env;
  // Right-nested sums keep one operand pending per level.
  std::string deep = "x";
  for (int i = 0; i < 40; ++i) deep = "1 + (" + deep + ")";
  ExprError e = env.Err(deep + " > 0");
  EXPECT_NE(e.message.find("too deeply nested"), std::string::npos) << e.message;
  std::string shallow = "x";
  for (int i = 0; i < 20; ++i) shallow = "1 + (" + shallow + ")";
  EXPECT_EQ(env.Lhs(shallow + " > 0", {{"x", 1}}), 21);
  // Long left-nested chains need only two slots.
  std::string chain = "x";
  for (int i = 0; i < 200; ++i) chain += " + 1";
  EXPECT_EQ(env.Lhs(chain + " > 0", {{"x", 1}}), 201);
}

}  // namespace
}  // namespace vigil::rules
