// CompileRules: the `rules:` list of a rules file -> loaded Rule objects.
//
// Checks every rule (unknown keys with a "did you mean", required keys,
// durations, severities, duplicate names, expression syntax and types) and
// records every problem in `errors` with its line and column; the returned
// rules are only meaningful when errors.empty(). Registers the fields, tags
// and key lists the rules need in `schema`, and interns string constants in
// `tags`. Load-time only; single-threaded.
#pragma once

#include <yaml-cpp/yaml.h>

#include <memory>
#include <string>
#include <vector>

#include "vigil/engine/config_errors.h"
#include "vigil/engine/rule.h"
#include "vigil/engine/schema.h"
#include "vigil/engine/tag_interner.h"

namespace vigil::rules {

struct RuleLoadOptions {
  // Directory relative plugin paths are resolved against (the rules file's). Default: ".".
  std::string directory = ".";
};

std::vector<std::shared_ptr<const Rule>> CompileRules(const YAML::Node& rules, Schema* schema, TagInterner* tags,
                                                      ConfigErrors& errors, const RuleLoadOptions& options = {});

}  // namespace vigil::rules
