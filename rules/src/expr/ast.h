// Expression syntax tree, as produced by the parser and consumed by the
// compiler. Load-time only; nothing here runs on the hot path.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vigil::rules {

enum class NodeKind { kNumber, kDuration, kString, kBool, kName, kUnary, kBinary, kCall };

struct Node {
  NodeKind kind = NodeKind::kNumber;
  size_t pos = 0;          // byte offset of the node in the expression text
  double number = 0;       // kNumber, kBool (0/1), kDuration (ms)
  std::string text;        // kString value, kName name, kCall function name, kUnary/kBinary operator
  std::vector<std::unique_ptr<Node>> args;  // operands / call arguments
};

using NodePtr = std::unique_ptr<Node>;

}  // namespace vigil::rules
