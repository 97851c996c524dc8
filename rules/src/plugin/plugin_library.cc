// PluginLibrary: dlopen and descriptor checks.
#include "plugin/plugin_library.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <cstddef>

namespace vigil::rules {

namespace {

// The descriptor of ABI 1.0 ends with `decode`: every 1.x plugin has at least that.
constexpr size_t kMinDescriptorSize = offsetof(vigil_plugin_descriptor, decode) + sizeof(void*);

bool ValidName(const char* name) {
  if (name == nullptr || *name == '\0') return false;
  size_t n = 0;
  for (const char* p = name; *p != '\0'; ++p, ++n) {
    const char c = *p;
    if (n >= 64 || !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  }
  return true;
}

const char* KindText(vigil_plugin_kind kind) { return kind == VIGIL_PLUGIN_RULE ? "rule" : "decoder"; }

// The reason `d` cannot be used as a plugin of `kind`; empty when it can.
std::string CheckDescriptor(const vigil_plugin_descriptor& d, vigil_plugin_kind kind) {
  const uint32_t major = d.abi_version >> 16, minor = d.abi_version & 0xffff;
  if (major != VIGIL_PLUGIN_ABI_MAJOR || minor > VIGIL_PLUGIN_ABI_MINOR) {
    return "plugin ABI version " + AbiVersionText(d.abi_version) + " is not supported by this vigil (ABI " +
           AbiVersionText(VIGIL_PLUGIN_ABI_VERSION) + "): rebuild the plugin against this vigil's <vigil/plugin.h>";
  }
  if (d.struct_size < kMinDescriptorSize) {
    return "descriptor struct_size " + std::to_string(d.struct_size) + " is smaller than ABI " +
           AbiVersionText(d.abi_version) + " requires (" + std::to_string(kMinDescriptorSize) + ")";
  }
  if (!ValidName(d.name)) return "descriptor name must be 1 to 64 characters of [a-z0-9_-]";
  if (d.kind != VIGIL_PLUGIN_RULE && d.kind != VIGIL_PLUGIN_DECODER) {
    return "descriptor kind " + std::to_string(static_cast<int>(d.kind)) + " is neither rule nor decoder";
  }
  if (d.kind != kind) {
    return std::string("is a ") + KindText(d.kind) + " plugin, expected a " + KindText(kind) + " plugin";
  }
  if (d.create == nullptr || d.destroy == nullptr) return "descriptor lacks create or destroy";
  if (kind == VIGIL_PLUGIN_RULE && d.on_event == nullptr) return "rule plugin lacks on_event";
  if (kind == VIGIL_PLUGIN_DECODER && d.decode == nullptr) return "decoder plugin lacks decode";
  if (d.config_key_count > 0 && d.config_keys == nullptr) return "descriptor has config_key_count but no config_keys";
  for (uint32_t i = 0; i < d.config_key_count; ++i) {
    if (d.config_keys[i].name == nullptr) return "config key " + std::to_string(i) + " has no name";
  }
  return {};
}

}  // namespace

std::string AbiVersionText(uint32_t abi_version) {
  return std::to_string(abi_version >> 16) + "." + std::to_string(abi_version & 0xffff);
}

PluginLibrary::PluginLibrary(void* handle, const vigil_plugin_descriptor* d, std::string path)
    : handle_(handle), descriptor_(d), path_(std::move(path)), name_(d->name) {
  struct stat st;
  file_id_ = stat(path_.c_str(), &st) == 0 ? std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) : path_;
}

PluginLibrary::~PluginLibrary() {
  if (handle_ != nullptr) dlclose(handle_);
}

Result<std::shared_ptr<const PluginLibrary>> PluginLibrary::Open(const std::string& path, vigil_plugin_kind kind) {
  // dlerror() state is per thread; clear what an earlier call left.
  dlerror();
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    // dlerror() names the file already.
    return Status::InvalidArgument("cannot load plugin: " + (why != nullptr ? std::string(why) : path + ": dlopen failed"));
  }
  auto entry = reinterpret_cast<vigil_plugin_entry_fn>(dlsym(handle, VIGIL_PLUGIN_ENTRY_SYMBOL));
  if (entry == nullptr) {
    dlclose(handle);
    return Status::InvalidArgument("plugin '" + path + "' does not export " VIGIL_PLUGIN_ENTRY_SYMBOL
                                   "() (missing VIGIL_PLUGIN(...) or extern \"C\"?)");
  }
  const vigil_plugin_descriptor* d = entry();
  if (d == nullptr) {
    dlclose(handle);
    return Status::InvalidArgument("plugin '" + path + "': " VIGIL_PLUGIN_ENTRY_SYMBOL "() returned no descriptor");
  }
  // Only abi_version and struct_size are read before the version check.
  const std::string why = CheckDescriptor(*d, kind);
  if (!why.empty()) {
    dlclose(handle);
    return Status::InvalidArgument("plugin '" + path + "': " + why);
  }
  return std::shared_ptr<const PluginLibrary>(new PluginLibrary(handle, d, path));
}

}  // namespace vigil::rules
