// IngestJournal: segments of length-prefixed records, appended with writev.
#include "journal/ingest_journal.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

namespace vigil::bridges {

namespace {

constexpr size_t kNameDigits = 20;

std::string Errno(const std::string& what, const std::string& path) {
  return what + " '" + path + "': " + std::strerror(errno);
}

uint32_t LoadLength(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[3]) << 24;
}

// Length of the complete records at the start of the file at `path`.
Result<uint64_t> CompleteLength(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return Status::IoError(Errno("cannot read the journal segment", path));
  uint64_t valid = 0;
  std::vector<char> skip(1 << 16);
  while (true) {
    unsigned char len[4];
    if (std::fread(len, 1, 4, f) != 4) break;
    uint64_t left = LoadLength(len);
    bool whole = true;
    while (left > 0) {
      const size_t n = std::fread(skip.data(), 1, std::min<uint64_t>(left, skip.size()), f);
      if (n == 0) {
        whole = false;
        break;
      }
      left -= n;
    }
    if (!whole) break;
    valid += 4 + LoadLength(len);
  }
  std::fclose(f);
  return valid;
}

}  // namespace

Result<std::unique_ptr<IngestJournal>> IngestJournal::Open(const std::string& dir, uint64_t segment_bytes) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IoError("cannot create the journal directory '" + dir + "': " + ec.message());
  std::unique_ptr<IngestJournal> j(new IngestJournal(dir, segment_bytes == 0 ? 1 : segment_bytes));
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() != kNameDigits + 4 || name.compare(kNameDigits, 4, ".log") != 0) continue;
    if (name.find_first_not_of("0123456789") != kNameDigits) continue;
    j->segments_[std::stoull(name.substr(0, kNameDigits))] = entry.path().string();
  }
  if (ec) return Status::IoError("cannot list the journal directory '" + dir + "': " + ec.message());
  if (j->segments_.empty()) {
    Status st = j->OpenSegment(0);
    if (!st.ok()) return st;
    return j;
  }
  // The last segment may end with a record cut short: keep what is whole.
  const auto& [start, path] = *j->segments_.rbegin();
  Result<uint64_t> valid = CompleteLength(path);
  if (!valid.ok()) return valid.status();
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) return Status::IoError("cannot stat the journal segment '" + path + "': " + ec.message());
  if (size > *valid) {
    if (::truncate(path.c_str(), static_cast<off_t>(*valid)) != 0) {
      return Status::IoError(Errno("cannot truncate the journal segment", path));
    }
    j->truncated_at_open_ = size - *valid;
  }
  j->fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (j->fd_ < 0) return Status::IoError(Errno("cannot open the journal segment", path));
  j->fd_start_ = start;
  j->end_ = start + *valid;
  return j;
}

IngestJournal::~IngestJournal() {
  if (fd_ >= 0) ::close(fd_);
}

std::string IngestJournal::SegmentPath(uint64_t start) const {
  std::string digits = std::to_string(start);
  return dir_ + "/" + std::string(kNameDigits - digits.size(), '0') + digits + ".log";
}

Status IngestJournal::OpenSegment(uint64_t start) {
  const std::string path = SegmentPath(start);
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IoError(Errno("cannot create the journal segment", path));
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  fd_start_ = start;
  end_ = start;
  segments_[start] = path;
  return Status::Ok();
}

Result<uint64_t> IngestJournal::Append(std::string_view head, std::string_view body) {
  const uint64_t n = head.size() + body.size();
  if (n > UINT32_MAX) return Status::InvalidArgument("journal record of " + std::to_string(n) + " bytes (max 4 GiB)");
  unsigned char len[4] = {static_cast<unsigned char>(n), static_cast<unsigned char>(n >> 8),
                          static_cast<unsigned char>(n >> 16), static_cast<unsigned char>(n >> 24)};
  std::lock_guard<std::mutex> lock(mu_);
  if (fd_ < 0) return Status::IoError("the journal in '" + dir_ + "' is not open");
  iovec iov[3] = {{len, 4},
                  {const_cast<char*>(head.data()), head.size()},
                  {const_cast<char*>(body.data()), body.size()}};
  int first = 0;
  uint64_t left = 4 + n;
  while (left > 0) {
    const ssize_t w = ::writev(fd_, iov + first, 3 - first);
    if (w < 0) {
      if (errno == EINTR) continue;
      const std::string why = Errno("cannot write to the journal segment", SegmentPath(fd_start_));
      // Cut off what was written of this record: the journal ends with whole records.
      (void)::ftruncate(fd_, static_cast<off_t>(end_ - fd_start_));
      return Status::IoError(why);
    }
    left -= static_cast<uint64_t>(w);
    size_t done = static_cast<size_t>(w);
    while (first < 3 && done >= iov[first].iov_len) {
      done -= iov[first].iov_len;
      ++first;
    }
    if (first < 3) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + done;
      iov[first].iov_len -= done;
    }
  }
  const uint64_t offset = end_;
  end_ = RecordEnd(offset, n);
  // A new segment once this one is full; if it cannot be created, the full
  // one takes more (OpenSegment changes nothing when it fails).
  if (end_ - fd_start_ >= segment_bytes_) (void)OpenSegment(end_);
  return offset;
}

uint64_t IngestJournal::end() const {
  std::lock_guard<std::mutex> lock(mu_);
  return end_;
}

uint64_t IngestJournal::begin() const {
  std::lock_guard<std::mutex> lock(mu_);
  return segments_.empty() ? end_ : segments_.begin()->first;
}

void IngestJournal::Release(uint64_t offset) {
  std::lock_guard<std::mutex> lock(mu_);
  while (segments_.size() > 1) {
    auto first = segments_.begin();
    const uint64_t next_start = std::next(first)->first;
    if (next_start > offset || first->first == fd_start_) break;
    std::error_code ec;
    std::filesystem::remove(first->second, ec);
    segments_.erase(first);
  }
}

std::unique_ptr<IngestJournal::Reader> IngestJournal::Read(uint64_t from, uint64_t to) const {
  std::lock_guard<std::mutex> lock(mu_);
  return std::unique_ptr<Reader>(new Reader(segments_, from, to));
}

IngestJournal::Reader::Reader(std::map<uint64_t, std::string> segments, uint64_t from, uint64_t to)
    : segments_(std::move(segments)), pos_(from), to_(to) {
  if (!segments_.empty() && pos_ < segments_.begin()->first) pos_ = segments_.begin()->first;
}

IngestJournal::Reader::~Reader() {
  if (file_ != nullptr) std::fclose(file_);
}

Result<bool> IngestJournal::Reader::Next(std::string* record, uint64_t* offset) {
  while (pos_ < to_) {
    if (file_ == nullptr) {
      auto it = segments_.upper_bound(pos_);
      if (it == segments_.begin()) return false;
      --it;
      file_ = std::fopen(it->second.c_str(), "rb");
      if (file_ == nullptr) return Status::IoError(Errno("cannot read the journal segment", it->second));
      file_start_ = it->first;
      if (std::fseek(file_, static_cast<long>(pos_ - file_start_), SEEK_SET) != 0) {
        return Status::IoError(Errno("cannot seek in the journal segment", it->second));
      }
    }
    unsigned char len[4];
    if (std::fread(len, 1, 4, file_) != 4) {
      // The end of this segment: the next one starts here.
      std::fclose(file_);
      file_ = nullptr;
      auto next = segments_.upper_bound(file_start_);
      if (next == segments_.end()) return false;
      pos_ = next->first;
      continue;
    }
    const uint32_t n = LoadLength(len);
    record->resize(n);
    if (n > 0 && std::fread(record->data(), 1, n, file_) != n) return false;  // cut short: the end
    *offset = pos_;
    pos_ += 4 + static_cast<uint64_t>(n);
    return true;
  }
  return false;
}

}  // namespace vigil::bridges
