// ExprError: a load-time error in an expression, with the byte offset it
// points at, so the rules loader can turn it into file:line:column.
#pragma once

#include <cstddef>
#include <string>

namespace vigil::rules {

struct ExprError {
  size_t pos = 0;
  std::string message;
};

}  // namespace vigil::rules
