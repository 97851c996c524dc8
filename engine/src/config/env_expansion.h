// Environment variables in rules files: `${NAME}` and `${NAME:-default}`
// are replaced by the variable's value before the YAML is parsed, so one
// file serves several environments (broker URLs, ports, paths). `$${`
// writes a literal `${`. An unset variable without a default is an error
// at its line and column. Expansion never spans lines, and only the
// expanded line's later columns shift (error positions stay on the right
// line). Load-time only.
#pragma once

#include <string>

#include "vigil/engine/config_errors.h"

namespace vigil {

// Returns `text` with every reference expanded; errors go to `errors`.
// `lookup(name)` returns the variable's value or nullptr (default: getenv).
std::string ExpandEnvReferences(const std::string& text, ConfigErrors& errors,
                                const char* (*lookup)(const char* name) = nullptr);

}  // namespace vigil
