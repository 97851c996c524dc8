// ConfigErrors and YAML reading helpers shared by every part of the rules
// file loader (engine settings, sources, sinks, rules).
//
// Every problem is recorded with its position and loading goes on, so the
// user sees all errors at once: "rules.yaml:12:7: unknown key 'wehn' in rule
// 'hot' (did you mean 'when'?)". Load-time only; single-threaded.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

namespace vigil {

class ConfigErrors {
 public:
  explicit ConfigErrors(std::string file) : file_(std::move(file)) {}

  // 1-based line and column.
  void Add(int line, int column, std::string message);
  void Add(const YAML::Node& at, std::string message);
  // At `offset` characters into the value of scalar `at` (for expression
  // errors). With the file's text (SetSource), escapes inside quoted scalars
  // ('' and backslash sequences) are mapped back to their source columns.
  void AddInScalar(const YAML::Node& at, size_t offset, std::string message);
  // The text of the file, for AddInScalar.
  void SetSource(const std::string& text);

  bool empty() const { return errors_.empty(); }
  size_t size() const { return errors_.size(); }
  // "file:line:column: message" lines, in file order.
  std::vector<std::string> Formatted() const;
  const std::string& file() const { return file_; }

 private:
  struct Entry { int line, column; std::string message; };
  std::string file_;
  std::vector<Entry> errors_;
  std::vector<std::string> lines_;
};

// Reports every key of map `node` that is not in `allowed`, suggesting the
// closest allowed key. `what` names the section ("rule 'hot'").
void CheckKeys(const YAML::Node& node, std::initializer_list<const char*> allowed, const std::string& what,
               ConfigErrors& errors);
void CheckKeys(const YAML::Node& node, const std::vector<std::string>& allowed, const std::string& what,
               ConfigErrors& errors);

// The closest of `candidates` to `word` within edit distance 2, or "".
std::string DidYouMean(const std::string& word, const std::vector<std::string>& candidates);

// Scalar readers: record an error (and return nullopt) when the value has the wrong shape.
std::optional<std::string> ReadString(const YAML::Node& node, const std::string& what, ConfigErrors& errors);
std::optional<int64_t> ReadInt(const YAML::Node& node, const std::string& what, int64_t min, int64_t max,
                               ConfigErrors& errors);
std::optional<bool> ReadBool(const YAML::Node& node, const std::string& what, ConfigErrors& errors);
// Durations: 250ms 30s 5m 1h 1d (a unit is required; "0" alone is accepted).
std::optional<int64_t> ReadDurationMs(const YAML::Node& node, const std::string& what, ConfigErrors& errors);
// A string, or a list of strings.
std::optional<std::vector<std::string>> ReadStringList(const YAML::Node& node, const std::string& what,
                                                       ConfigErrors& errors);

}  // namespace vigil
