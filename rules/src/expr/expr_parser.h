// ExprParser: text -> syntax tree, by precedence climbing.
//
// Grammar, lowest precedence first: `or`, `and`, `not`, comparisons
// (== != < <= > >=, also `=` and `<>`), + -, * / %, unary -, primary.
// Primaries: numbers, durations (250ms 30s 5m 1h 1d), 'strings' ('' escapes a
// quote), true/false, names (letters, digits, _ and dots: payload.temp),
// calls f(a, b), parentheses. `&&`, `||` and `!` are accepted as synonyms.
// Nesting (parentheses, call arguments, `not` and sign chains) is limited to
// 100 levels; deeper is a syntax error, so parsing cannot exhaust the stack.
// Thread-safety: stateless free function.
#pragma once

#include <string_view>
#include <variant>

#include "expr/ast.h"
#include "expr/expr_error.h"

namespace vigil::rules {

// Parses a whole expression; trailing text is an error.
std::variant<NodePtr, ExprError> ParseExpression(std::string_view text);

}  // namespace vigil::rules
