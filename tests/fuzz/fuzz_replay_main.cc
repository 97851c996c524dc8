// The main of a fuzz target outside libFuzzer: replays every file of the
// corpus directories (and single files) named on the command line through
// LLVMFuzzerTestOneInput, so the committed corpus runs as an ordinary unit
// test under g++ and under the ASan+UBSan build. A finding aborts (the
// target's own checks) or is reported by the sanitizer; this driver only
// fails on its own when a path is missing or a directory holds no input.
// Single-threaded.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <system_error>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

// Reads the file into a buffer of exactly its size, so that ASan sees any
// read past the end of the input.
bool ReadFile(const std::filesystem::path& path, std::unique_ptr<uint8_t[]>* out, size_t* size) {
  std::error_code error;
  *size = std::filesystem::file_size(path, error);
  if (error) return false;
  std::ifstream in(path, std::ios::binary);
  out->reset(new uint8_t[*size == 0 ? 1 : *size]);
  return in && in.read(reinterpret_cast<char*>(out->get()), static_cast<std::streamsize>(*size));
}

// The files to replay for one argument, in name order (stable output).
std::vector<std::filesystem::path> Inputs(const std::filesystem::path& arg) {
  std::vector<std::filesystem::path> files;
  if (!std::filesystem::is_directory(arg)) {
    files.push_back(arg);
    return files;
  }
  for (const auto& entry : std::filesystem::directory_iterator(arg)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
    return 2;
  }
  size_t replayed = 0;
  for (int i = 1; i < argc; ++i) {
    const std::vector<std::filesystem::path> files = Inputs(argv[i]);
    if (files.empty()) {
      std::fprintf(stderr, "%s: no input in %s\n", argv[0], argv[i]);
      return 1;
    }
    for (const auto& file : files) {
      std::unique_ptr<uint8_t[]> data;
      size_t size = 0;
      if (!ReadFile(file, &data, &size)) {
        std::fprintf(stderr, "%s: cannot read %s\n", argv[0], file.c_str());
        return 1;
      }
      LLVMFuzzerTestOneInput(data.get(), size);
      ++replayed;
    }
  }
  std::printf("replayed %zu inputs\n", replayed);
  return 0;
}
