// Schema: slot assignment for fields, tags and key lists (load time only).
#include "vigil/engine/schema.h"

namespace vigil {

uint32_t Schema::AddField(std::string_view path) {
  auto it = field_index_.find(std::string(path));
  if (it != field_index_.end()) return it->second;
  uint32_t slot = static_cast<uint32_t>(fields_.size());
  fields_.emplace_back(path);
  field_index_.emplace(std::string(path), slot);
  return slot;
}

uint32_t Schema::AddTag(std::string_view name) {
  auto it = tag_index_.find(std::string(name));
  if (it != tag_index_.end()) return it->second;
  uint32_t slot = static_cast<uint32_t>(tags_.size());
  tags_.emplace_back(name);
  tag_index_.emplace(std::string(name), slot);
  return slot;
}

uint32_t Schema::AddKeyList(const std::vector<std::string>& tag_names) {
  std::vector<uint32_t> slots;
  slots.reserve(tag_names.size());
  for (const auto& name : tag_names) slots.push_back(AddTag(name));
  for (uint32_t i = 0; i < keylists_.size(); ++i) {
    if (keylists_[i] == slots) return i;
  }
  keylists_.push_back(std::move(slots));
  return static_cast<uint32_t>(keylists_.size() - 1);
}

int Schema::FindField(std::string_view path) const {
  auto it = field_index_.find(std::string(path));
  return it == field_index_.end() ? -1 : static_cast<int>(it->second);
}

int Schema::FindTag(std::string_view name) const {
  auto it = tag_index_.find(std::string(name));
  return it == tag_index_.end() ? -1 : static_cast<int>(it->second);
}

}  // namespace vigil
