// ingest_load: a load client for POST /api/v1/ingest (bench/http/ingest_bench.sh).
//
// Reads an NDJSON file (e.g. from `vigil sim`) into request bodies of
// --lines lines each, then for --seconds keeps --connections keep-alive
// connections busy, each posting one body after another (plain blocking
// sockets, one thread per connection, the next request sent as soon as the
// answer arrived). Counts the messages the server accepted from the
// `"accepted": n` of each 202 answer, and the 503s (queue full: the client
// retries the same body, like a well-behaved producer).
//
// By default it strips the leading `"ts":...,` of each line, so that the
// server stamps messages with ingest time, as for a live producer (a file
// replayed in a loop would otherwise go back in time every round).
//
//   ingest_load --port 9464 --file data.ndjson [--connections 2] [--lines 5000]
//               [--seconds 20] [--token T] [--keep-ts]
// Prints one line: accepted=N seconds=S rate=R requests=Q busy=B errors=E
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Options {
  int port = 0;
  std::string file;
  int connections = 2;
  size_t lines = 5000;
  double seconds = 20;
  std::string token;
  bool keep_ts = false;
};

struct Totals {
  std::atomic<uint64_t> accepted{0}, requests{0}, busy{0}, errors{0};
};

// `{"ts":123,"device":...}` -> `{"device":...}`.
std::string StripTs(const std::string& line) {
  if (line.rfind("{\"ts\":", 0) != 0) return line;
  const size_t comma = line.find(',');
  if (comma == std::string::npos) return line;
  std::string out(1, '{');
  out.append(line, comma + 1, std::string::npos);
  return out;
}

std::vector<std::string> LoadBodies(const Options& o) {
  std::ifstream in(o.file);
  if (!in) {
    std::fprintf(stderr, "ingest_load: cannot read %s\n", o.file.c_str());
    std::exit(2);
  }
  std::vector<std::string> bodies;
  std::string body, line;
  size_t n = 0;
  while (std::getline(in, line)) {
    body += o.keep_ts ? line : StripTs(line);
    body += '\n';
    if (++n == o.lines) {
      bodies.push_back(std::move(body));
      body.clear();
      n = 0;
    }
  }
  if (bodies.empty()) {
    std::fprintf(stderr, "ingest_load: %s has fewer than %zu lines\n", o.file.c_str(), o.lines);
    std::exit(2);
  }
  return bodies;
}

int Connect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

bool SendAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Reads one HTTP response; returns its status (0 on a broken connection)
// and body.
int ReadResponse(int fd, std::string* buf, std::string* body) {
  size_t header_end;
  while ((header_end = buf->find("\r\n\r\n")) == std::string::npos) {
    char tmp[4096];
    const ssize_t r = recv(fd, tmp, sizeof tmp, 0);
    if (r <= 0) return 0;
    buf->append(tmp, static_cast<size_t>(r));
  }
  const int status = std::atoi(buf->c_str() + buf->find(' ') + 1);
  size_t length = 0;
  for (const char* name : {"Content-Length:", "content-length:"}) {
    const size_t at = buf->find(name);
    if (at != std::string::npos && at < header_end) length = std::strtoul(buf->c_str() + at + 15, nullptr, 10);
  }
  const size_t total = header_end + 4 + length;
  while (buf->size() < total) {
    char tmp[4096];
    const ssize_t r = recv(fd, tmp, sizeof tmp, 0);
    if (r <= 0) return 0;
    buf->append(tmp, static_cast<size_t>(r));
  }
  body->assign(*buf, header_end + 4, length);
  buf->erase(0, total);
  return status;
}

void Worker(const Options& o, const std::vector<std::string>& bodies, size_t first,
            std::chrono::steady_clock::time_point end, Totals* t) {
  int fd = Connect(o.port);
  std::string buf, body, request;
  size_t next = first;
  while (std::chrono::steady_clock::now() < end) {
    if (fd < 0) {
      t->errors.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      fd = Connect(o.port);
      continue;
    }
    const std::string& b = bodies[next % bodies.size()];
    request = "POST /api/v1/ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-ndjson\r\n";
    if (!o.token.empty()) request += "Authorization: Bearer " + o.token + "\r\n";
    request += "Content-Length: " + std::to_string(b.size()) + "\r\n\r\n";
    if (!SendAll(fd, request.data(), request.size()) || !SendAll(fd, b.data(), b.size())) {
      close(fd);
      fd = -1;
      continue;
    }
    const int status = ReadResponse(fd, &buf, &body);
    t->requests.fetch_add(1);
    if (status == 202) {
      const size_t at = body.find("\"accepted\":");
      if (at != std::string::npos) t->accepted.fetch_add(std::strtoull(body.c_str() + at + 11, nullptr, 10));
      next += o.connections;
    } else if (status == 503) {
      t->busy.fetch_add(1);  // queue full: the same body again
    } else {
      t->errors.fetch_add(1);
      if (status == 0) {
        close(fd);
        fd = -1;
        buf.clear();
      }
    }
  }
  if (fd >= 0) close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "ingest_load: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--port") o.port = std::atoi(value().c_str());
    else if (a == "--file") o.file = value();
    else if (a == "--connections") o.connections = std::atoi(value().c_str());
    else if (a == "--lines") o.lines = std::strtoul(value().c_str(), nullptr, 10);
    else if (a == "--seconds") o.seconds = std::atof(value().c_str());
    else if (a == "--token") o.token = value();
    else if (a == "--keep-ts") o.keep_ts = true;
    else {
      std::fprintf(stderr, "ingest_load: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (o.port <= 0 || o.file.empty() || o.connections < 1 || o.lines < 1) {
    std::fprintf(stderr, "usage: ingest_load --port P --file F [--connections 2] [--lines 5000] [--seconds 20]\n");
    return 2;
  }
  const std::vector<std::string> bodies = LoadBodies(o);
  Totals t;
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                               std::chrono::duration<double>(o.seconds));
  std::vector<std::thread> threads;
  for (int c = 0; c < o.connections; ++c) threads.emplace_back(Worker, std::cref(o), std::cref(bodies), c, end, &t);
  for (auto& th : threads) th.join();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("accepted=%llu seconds=%.3f rate=%.0f requests=%llu busy=%llu errors=%llu\n",
              static_cast<unsigned long long>(t.accepted.load()), secs, t.accepted.load() / secs,
              static_cast<unsigned long long>(t.requests.load()), static_cast<unsigned long long>(t.busy.load()),
              static_cast<unsigned long long>(t.errors.load()));
  return t.accepted.load() > 0 ? 0 : 1;
}
