// TlsTerminator: the TLS end of HttpServer. Debian 12's civetweb 1.15 cannot
// do TLS with OpenSSL 3 (it dlopens "libssl.so" with the OpenSSL 1.1 symbol
// table and calls the missing SSL_get_peer_certificate after the first
// handshake: see docs/semantics-decisions.md), so with http.tls_cert/tls_key
// civetweb listens on an internal ephemeral 127.0.0.1 port and this class
// listens on the configured address: it does the TLS handshake (OpenSSL 3,
// TLS 1.2 or 1.3 only) and copies the plaintext both ways as bytes arrive,
// so server-sent events are not delayed.
//
// Connections: `max_connections` worker threads, each accepting and serving
// one connection at a time, so at most that many TLS connections are open
// (each maps to one connection to civetweb, whose workers have the same
// bound); further clients wait in the kernel's accept queue. A connection
// ends when either side closes, after `handshake_timeout` without a complete
// handshake, after `idle_timeout` without a byte moving either way, or at
// Stop(). A plain-HTTP request to the TLS port gets a plain 400 JSON answer
// and the connection closes.
//
// Shutting down is two steps: Drain() stops accepting and handshakes and
// half-closes every connection to the backend (as if each client had
// finished sending), so the backend sees end-of-input at once (civetweb's
// workers would otherwise notice a stop only every 2 s) while what it still
// writes goes out; Stop() then closes what is left.
//
// Thread-safety: Open/Start/Drain/Stop from one controlling thread; port()
// and PeerOf() from any thread (civetweb's workers call PeerOf). Stop()
// wakes every worker, closes every connection, joins every thread and closes
// every descriptor; it is idempotent and the destructor calls it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "vigil/engine/logger.h"
#include "vigil/engine/status.h"

namespace vigil {

struct TlsTerminatorOptions {
  std::string cert_file;   // PEM certificate, then its chain
  std::string key_file;    // PEM private key, unencrypted
  bool tls13_only = false; // false: TLS 1.2 and 1.3
  std::string host;        // IPv4 address to bind; empty = every interface
  uint16_t port = 0;       // 0 = a free port (see port())
  uint32_t max_connections = 16;
  std::chrono::milliseconds handshake_timeout{10000};
  std::chrono::milliseconds idle_timeout{60000};
};

class TlsTerminator {
 public:
  // `logger` (may be null) must outlive the terminator; handshake failures
  // are logged at debug level, resource trouble (no descriptors) at warn.
  explicit TlsTerminator(Logger* logger);
  ~TlsTerminator();
  TlsTerminator(const TlsTerminator&) = delete;
  TlsTerminator& operator=(const TlsTerminator&) = delete;

  // Loads and checks the certificate and key, then binds and listens (no
  // thread yet). Errors: InvalidArgument naming the file and OpenSSL's
  // reason (unreadable, not PEM, encrypted or mismatched key); IoError when
  // the address cannot be bound.
  Status Open(const TlsTerminatorOptions& options);
  // Starts the workers, which forward to 127.0.0.1:`backend_port`. After a
  // successful Open() only.
  void Start(uint16_t backend_port);
  // See the top of the file. Drain() returns at once; Stop() after the
  // workers are joined.
  void Drain();
  void Stop();

  // The bound port; 0 before Open() and after Stop().
  uint16_t port() const { return port_.load(); }
  // The client address ("203.0.113.7") of the open connection whose
  // connection to the backend has local port `backend_local_port`; empty
  // when no such connection is open (a client that reached the backend
  // port directly, not through the terminator).
  std::string PeerOf(uint16_t backend_local_port) const;

 private:
  struct Ctx;
  void Worker();
  void Serve(int fd, const std::string& peer);
  bool Handshake(void* ssl, int fd, const std::string& peer);
  int ConnectBackend(std::chrono::steady_clock::time_point deadline);
  void Pump(void* ssl, int fd, int backend);
  // Waits until `fd` is ready for `events`: false on timeout, Drain() or Stop().
  bool WaitFd(int fd, short events, std::chrono::steady_clock::time_point deadline) const;
  void Log(LogLevel level, const std::string& message) const;

  Logger* logger_;
  TlsTerminatorOptions options_;
  std::unique_ptr<Ctx> ctx_;
  int listen_fd_ = -1;
  int drain_fd_ = -1;  // eventfd: readable once Drain() or Stop() begins
  int stop_fd_ = -1;   // eventfd: readable once Stop() begins
  uint16_t backend_port_ = 0;
  std::atomic<uint16_t> port_{0};
  std::vector<std::thread> workers_;
  mutable std::mutex peers_mu_;
  std::unordered_map<uint16_t, std::string> peers_;  // backend local port -> client address
};

}  // namespace vigil
