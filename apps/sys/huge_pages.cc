// ReexecWithHugePages: see huge_pages.h.
#include "sys/huge_pages.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace vigil::cli {

void ReexecWithHugePages(int argc, char** argv) {
  if (argc < 2) return;
  const std::string command = argv[1];
  if (command != "run" && command != "replay" && command != "state") return;
  const char* off = std::getenv("VIGIL_NO_HUGE_PAGES");
  if (off != nullptr && *off != '\0' && std::strcmp(off, "0") != 0) return;
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables != nullptr && std::strstr(tunables, "glibc.malloc.hugetlb") != nullptr) return;
  const std::string value =
      tunables != nullptr && *tunables != '\0' ? std::string(tunables) + ":glibc.malloc.hugetlb=1" : "glibc.malloc.hugetlb=1";
  if (setenv("GLIBC_TUNABLES", value.c_str(), 1) != 0) return;
  // The resolved path, not /proc/self/exe, so the process keeps its name
  // ("vigil" in ps and top).
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = '\0';
    execv(self, argv);
  }
  // execv failed (no /proc?): carry on without huge pages; keep the
  // tunable out of any child's environment.
  if (tunables != nullptr) {
    setenv("GLIBC_TUNABLES", tunables, 1);
  } else {
    unsetenv("GLIBC_TUNABLES");
  }
}

}  // namespace vigil::cli
