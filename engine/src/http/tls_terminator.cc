// TlsTerminator on OpenSSL 3: non-blocking sockets, one poll() loop per
// connection on the client socket, the backend socket and the stop eventfd.
// Workers block SIGPIPE (OpenSSL writes with write(2), which raises it on a
// socket the client closed): the write then fails with EPIPE instead.
#include "http/tls_terminator.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace vigil {

namespace {

using Clock = std::chrono::steady_clock;

// One TLS record's worth of plaintext in each direction.
constexpr size_t kBufferBytes = 16 * 1024;

// Mozilla's "intermediate" TLS 1.2 suites (forward secrecy, AEAD only);
// TLS 1.3 keeps OpenSSL's defaults.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// The answer to a plain-HTTP request on the TLS port.
std::string PlainHttpAnswer() {
  const std::string body = "{\"error\":\"this port speaks HTTPS: use an https:// URL to reach it\"}";
  return "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

// OpenSSL's reason for the last failure ("PEM routines: no start line"),
// and an empty error queue for the thread.
std::string OpenSslReason() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  const char* lib = ERR_lib_error_string(e);
  const char* reason = ERR_reason_error_string(e);
  std::string out = lib != nullptr ? std::string(lib) + ": " : std::string();
  out += reason != nullptr ? reason : "error " + std::to_string(ERR_GET_REASON(e));
  return out;
}

bool KeyMismatch(unsigned long e) {
  return ERR_GET_LIB(e) == ERR_LIB_X509 && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH;
}

Status MismatchError(const TlsTerminatorOptions& o) {
  return Status::InvalidArgument("http tls_key '" + o.key_file + "' does not match the certificate in tls_cert '" +
                                 o.cert_file + "': " + OpenSslReason());
}

// Refuses to prompt for a passphrase (OpenSSL's default reads the terminal).
int NoPassphrase(char*, int, int, void*) { return 0; }

void SetNoDelay(int fd) {
  const int one = 1;
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

std::string AddressText(const sockaddr_in& a) {
  char text[INET_ADDRSTRLEN] = "";
  ::inet_ntop(AF_INET, &a.sin_addr, text, sizeof text);
  return text;
}

int RemainingMs(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, 1 << 30));
}

// Plaintext waiting to be written: [begin, end) of data.
struct Buffer {
  char data[kBufferBytes];
  size_t begin = 0;
  size_t end = 0;
  size_t size() const { return end - begin; }
  size_t space() const { return kBufferBytes - end; }
  char* tail() { return data + end; }
  const char* head() const { return data + begin; }
  void Consume(size_t n) {
    begin += n;
    if (begin == end) begin = end = 0;
  }
};

}  // namespace

struct TlsTerminator::Ctx {
  SSL_CTX* ctx = nullptr;
  ~Ctx() { SSL_CTX_free(ctx); }
};

TlsTerminator::TlsTerminator(Logger* logger) : logger_(logger) {}

TlsTerminator::~TlsTerminator() { Stop(); }

void TlsTerminator::Log(LogLevel level, const std::string& message) const {
  if (logger_ != nullptr) logger_->Log(level, "http tls: " + message);
}

Status TlsTerminator::Open(const TlsTerminatorOptions& options) {
  if (listen_fd_ >= 0) return Status::InvalidArgument("http TLS terminator already open");
  options_ = options;
  ERR_clear_error();
  auto ctx = std::make_unique<Ctx>();
  ctx->ctx = SSL_CTX_new(TLS_server_method());
  if (ctx->ctx == nullptr) return Status::IoError("http TLS: cannot create an OpenSSL context: " + OpenSslReason());
  SSL_CTX* c = ctx->ctx;
  (void)SSL_CTX_set_min_proto_version(c, options.tls13_only ? TLS1_3_VERSION : TLS1_2_VERSION);
  SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  (void)SSL_CTX_set_cipher_list(c, kTls12Ciphers);
  SSL_CTX_set_default_passwd_cb(c, &NoPassphrase);

  for (const auto* file : {&options.cert_file, &options.key_file}) {
    const char* what = file == &options.cert_file ? "tls_cert" : "tls_key";
    std::FILE* f = std::fopen(file->c_str(), "rb");
    if (f == nullptr) {
      return Status::InvalidArgument(std::string("http ") + what + " '" + *file + "' cannot be read: " +
                                     std::strerror(errno));
    }
    std::fclose(f);
  }
  if (SSL_CTX_use_certificate_chain_file(c, options.cert_file.c_str()) != 1) {
    return Status::InvalidArgument("http tls_cert '" + options.cert_file +
                                   "' is not a usable PEM certificate (chain): " + OpenSslReason());
  }
  if (SSL_CTX_use_PrivateKey_file(c, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (KeyMismatch(ERR_peek_error())) return MismatchError(options);
    return Status::InvalidArgument("http tls_key '" + options.key_file +
                                   "' is not a usable PEM private key (encrypted keys are not supported): " +
                                   OpenSslReason());
  }
  if (SSL_CTX_check_private_key(c) != 1) return MismatchError(options);
  if (X509* cert = SSL_CTX_get0_certificate(c); cert != nullptr && X509_cmp_current_time(X509_get0_notAfter(cert)) < 0) {
    Log(LogLevel::kWarn, "the certificate in '" + options.cert_file + "' has expired: clients will refuse it");
  }

  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::IoError(std::string("http TLS: socket: ") + std::strerror(errno));
  const int one = 1;
  (void)::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // a restart (reload) rebinds at once
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(options.port);
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  if (!options.host.empty() && ::inet_pton(AF_INET, options.host.c_str(), &addr.sin_addr) != 1) {
    ::close(fd);
    return Status::InvalidArgument("http listen host '" + options.host + "' is not an IPv4 address");
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, SOMAXCONN) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::IoError(std::strerror(err));
  }
  socklen_t len = sizeof addr;
  (void)::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  drain_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (drain_fd_ < 0 || stop_fd_ < 0) {
    const int err = errno;
    ::close(fd);
    if (drain_fd_ >= 0) ::close(drain_fd_);
    if (stop_fd_ >= 0) ::close(stop_fd_);
    drain_fd_ = stop_fd_ = -1;
    return Status::IoError(std::string("http TLS: eventfd: ") + std::strerror(err));
  }
  listen_fd_ = fd;
  port_.store(ntohs(addr.sin_port));
  ctx_ = std::move(ctx);
  return Status::Ok();
}

void TlsTerminator::Start(uint16_t backend_port) {
  if (listen_fd_ < 0 || !workers_.empty()) return;
  backend_port_ = backend_port;
  const uint32_t n = std::max<uint32_t>(1, options_.max_connections);
  workers_.reserve(n);
  for (uint32_t i = 0; i < n; ++i) workers_.emplace_back([this] { Worker(); });
}

void TlsTerminator::Drain() {
  if (listen_fd_ < 0) return;
  const uint64_t one = 1;
  (void)!::write(drain_fd_, &one, sizeof one);
}

void TlsTerminator::Stop() {
  if (listen_fd_ < 0) return;
  const uint64_t one = 1;
  (void)!::write(drain_fd_, &one, sizeof one);
  (void)!::write(stop_fd_, &one, sizeof one);
  for (auto& t : workers_) t.join();
  workers_.clear();
  ::close(listen_fd_);
  ::close(drain_fd_);
  ::close(stop_fd_);
  listen_fd_ = drain_fd_ = stop_fd_ = -1;
  port_.store(0);
  ctx_.reset();
}

std::string TlsTerminator::PeerOf(uint16_t backend_local_port) const {
  std::lock_guard<std::mutex> lock(peers_mu_);
  auto it = peers_.find(backend_local_port);
  return it == peers_.end() ? std::string() : it->second;
}

bool TlsTerminator::WaitFd(int fd, short events, Clock::time_point deadline) const {
  while (true) {
    pollfd p[3] = {{fd, events, 0}, {drain_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    const int r = ::poll(p, 3, RemainingMs(deadline));
    if (r < 0 && errno == EINTR) continue;
    return r > 0 && p[1].revents == 0 && p[2].revents == 0;
  }
}

void TlsTerminator::Worker() {
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
  while (true) {
    pollfd p[3] = {{listen_fd_, POLLIN, 0}, {drain_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (::poll(p, 3, -1) < 0 && errno != EINTR) return;
    if (p[1].revents != 0 || p[2].revents != 0) return;
    if (p[0].revents == 0) continue;
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        Log(LogLevel::kWarn, std::string("accept: ") + std::strerror(errno) + "; retrying in 100 ms");
        pollfd w{stop_fd_, POLLIN, 0};
        (void)::poll(&w, 1, 100);
      }
      continue;  // another worker took it (EAGAIN), or the client left
    }
    Serve(fd, AddressText(peer));
    ::close(fd);
  }
}

void TlsTerminator::Serve(int fd, const std::string& peer) {
  SetNoDelay(fd);
  SSL* ssl = SSL_new(ctx_->ctx);
  if (ssl == nullptr || SSL_set_fd(ssl, fd) != 1) {
    Log(LogLevel::kWarn, "cannot set up a TLS connection: " + OpenSslReason());
    SSL_free(ssl);
    return;
  }
  SSL_set_accept_state(ssl);
  if (Handshake(ssl, fd, peer)) {
    const int backend = ConnectBackend(Clock::now() + options_.handshake_timeout);
    if (backend >= 0) {
      sockaddr_in local{};
      socklen_t len = sizeof local;
      (void)::getsockname(backend, reinterpret_cast<sockaddr*>(&local), &len);
      const uint16_t local_port = ntohs(local.sin_port);
      {
        std::lock_guard<std::mutex> lock(peers_mu_);
        peers_[local_port] = peer;
      }
      Pump(ssl, fd, backend);
      {
        std::lock_guard<std::mutex> lock(peers_mu_);
        peers_.erase(local_port);
      }
      ::close(backend);
    }
  }
  SSL_free(ssl);
  ERR_clear_error();
}

bool TlsTerminator::Handshake(void* handle, int fd, const std::string& peer) {
  SSL* ssl = static_cast<SSL*>(handle);
  const Clock::time_point deadline = Clock::now() + options_.handshake_timeout;
  while (true) {
    ERR_clear_error();
    const int r = SSL_do_handshake(ssl);
    if (r == 1) return true;
    const int err = SSL_get_error(ssl, r);
    short events = 0;
    if (err == SSL_ERROR_WANT_READ) {
      events = POLLIN;
    } else if (err == SSL_ERROR_WANT_WRITE) {
      events = POLLOUT;
    } else {
      const unsigned long e = ERR_peek_error();
      if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_HTTP_REQUEST) {
        // Plain HTTP to the TLS port: say so in plain HTTP, then close
        // without resetting the answer away (read what the client sent).
        const std::string answer = PlainHttpAnswer();
        (void)::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL);
        ::shutdown(fd, SHUT_WR);
        const Clock::time_point linger = Clock::now() + std::chrono::milliseconds(500);
        char sink[4096];
        while (WaitFd(fd, POLLIN, linger) && ::recv(fd, sink, sizeof sink, 0) > 0) {
        }
        Log(LogLevel::kDebug, "plain HTTP request from " + peer + " on the TLS port: answered 400");
      } else {
        Log(LogLevel::kDebug, "TLS handshake with " + peer + " failed: " +
                                  (e != 0 ? OpenSslReason() : std::string("connection closed")));
      }
      return false;
    }
    if (!WaitFd(fd, events, deadline)) {
      if (Clock::now() >= deadline) Log(LogLevel::kDebug, "TLS handshake with " + peer + " timed out");
      return false;
    }
  }
}

int TlsTerminator::ConnectBackend(Clock::time_point deadline) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    Log(LogLevel::kWarn, std::string("socket: ") + std::strerror(errno));
    return -1;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(backend_port_);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    if (err == EINPROGRESS && WaitFd(fd, POLLOUT, deadline)) {
      socklen_t len = sizeof err;
      if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    } else if (err == EINPROGRESS) {
      err = ETIMEDOUT;
    }
    if (err != 0 && err != EINPROGRESS) {
      Log(LogLevel::kWarn, std::string("cannot reach the HTTP server on 127.0.0.1:") + std::to_string(backend_port_) +
                               ": " + std::strerror(err));
      ::close(fd);
      return -1;
    }
  }
  SetNoDelay(fd);
  return fd;
}

// Copies plaintext both ways until the backend (civetweb) closes, the
// client goes away, the connection idles out or Stop() begins. Client EOF
// half-closes the backend so a response in flight still goes out; Drain()
// does the same as if every client had finished sending.
void TlsTerminator::Pump(void* handle, int fd, int backend) {
  SSL* ssl = static_cast<SSL*>(handle);
  auto up = std::make_unique<Buffer>();    // client -> backend
  auto down = std::make_unique<Buffer>();  // backend -> client
  bool client_open = true;
  bool backend_open = true;
  bool backend_write_shut = false;
  bool draining = false;
  Clock::time_point last_activity = Clock::now();
  while (true) {
    bool progress = false;
    short client_events = 0;
    short backend_events = 0;

    if (client_open && up->space() > 0) {
      ERR_clear_error();
      const int n = SSL_read(ssl, up->tail(), static_cast<int>(up->space()));
      if (n > 0) {
        up->end += static_cast<size_t>(n);
        progress = true;
      } else {
        const int err = SSL_get_error(ssl, n);
        if (err == SSL_ERROR_WANT_READ) client_events |= POLLIN;
        else if (err == SSL_ERROR_WANT_WRITE) client_events |= POLLOUT;
        else client_open = false;  // close_notify, EOF or a TLS error
      }
    }
    if (up->size() > 0) {
      const ssize_t n = ::send(backend, up->head(), up->size(), MSG_NOSIGNAL);
      if (n > 0) {
        up->Consume(static_cast<size_t>(n));
        progress = true;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        backend_events |= POLLOUT;
      } else {
        return;  // the backend is gone
      }
    }
    if (!client_open && up->size() == 0 && !backend_write_shut) {
      ::shutdown(backend, SHUT_WR);
      backend_write_shut = true;
    }

    if (backend_open && down->space() > 0) {
      const ssize_t n = ::recv(backend, down->tail(), down->space(), 0);
      if (n > 0) {
        down->end += static_cast<size_t>(n);
        progress = true;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        backend_events |= POLLIN;
      } else {
        backend_open = false;  // what was read still goes out
      }
    }
    if (down->size() > 0) {
      ERR_clear_error();
      const int n = SSL_write(ssl, down->head(), static_cast<int>(down->size()));
      if (n > 0) {
        down->Consume(static_cast<size_t>(n));
        progress = true;
      } else {
        const int err = SSL_get_error(ssl, n);
        if (err == SSL_ERROR_WANT_WRITE) client_events |= POLLOUT;
        else if (err == SSL_ERROR_WANT_READ) client_events |= POLLIN;
        else return;  // the client is gone
      }
    }
    if (!backend_open && down->size() == 0) {
      ERR_clear_error();
      (void)SSL_shutdown(ssl);  // close_notify, best effort
      return;
    }

    if (progress) {
      last_activity = Clock::now();
      continue;
    }
    const Clock::time_point idle_deadline = last_activity + options_.idle_timeout;
    if (Clock::now() >= idle_deadline) return;
    pollfd p[4] = {{client_events != 0 ? fd : -1, client_events, 0},
                   {backend_events != 0 ? backend : -1, backend_events, 0},
                   {stop_fd_, POLLIN, 0},
                   {draining ? -1 : drain_fd_, POLLIN, 0}};
    const int r = ::poll(p, 4, RemainingMs(idle_deadline));
    if (r < 0 && errno != EINTR) return;
    if (p[2].revents != 0) return;  // Stop()
    if (p[3].revents != 0) {
      draining = true;
      client_open = false;
    }
  }
}

}  // namespace vigil
