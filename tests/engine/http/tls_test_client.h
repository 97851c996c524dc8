// TLS helpers for the HTTP tests: a self-signed P-256 certificate for
// 127.0.0.1 made with the OpenSSL API (what `openssl req -x509 -newkey ec
// -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1
// -addext subjectAltName=IP:127.0.0.1` makes), and a blocking TLS client
// socket that verifies the server against it (chain and IP address). Every
// read has a deadline, so a broken server fails a test instead of hanging it.
// One thread per TlsSocket.
#pragma once

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/time.h>

#include <cstdio>
#include <memory>

#include "engine/http/http_test_client.h"

namespace vigil::testing {

// Writes `cert_path` (PEM certificate) and `key_path` (PEM key). False on
// any OpenSSL failure.
inline bool MakeSelfSignedCert(const std::string& cert_path, const std::string& key_path) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  bool ok = key != nullptr && x != nullptr;
  if (ok) {
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1,
                               0);
    X509_set_issuer_name(x, name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
    for (auto [nid, value] : {std::pair{NID_subject_alt_name, "IP:127.0.0.1"}, {NID_basic_constraints, "CA:TRUE"}}) {
      X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
      ok = ok && ext != nullptr && X509_add_ext(x, ext, -1) == 1;
      X509_EXTENSION_free(ext);
    }
    ok = ok && X509_sign(x, key, EVP_sha256()) > 0;
  }
  if (ok) {
    std::FILE* c = std::fopen(cert_path.c_str(), "w");
    std::FILE* k = std::fopen(key_path.c_str(), "w");
    ok = c != nullptr && k != nullptr && PEM_write_X509(c, x) == 1 &&
         PEM_write_PrivateKey(k, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
    if (c != nullptr) std::fclose(c);
    if (k != nullptr) std::fclose(k);
  }
  X509_free(x);
  EVP_PKEY_free(key);
  return ok;
}

struct TlsClientOptions {
  std::string ca_file;           // trusted certificate (the self-signed one)
  int max_version = 0;           // e.g. TLS1_2_VERSION; 0 = newest
  std::chrono::milliseconds timeout{5000};  // connect + handshake, and each blocking read
};

// One TLS connection to 127.0.0.1:port, verified against ca_file.
class TlsSocket {
 public:
  TlsSocket(uint16_t port, const TlsClientOptions& o) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (ctx_ == nullptr) return;
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    if (SSL_CTX_load_verify_locations(ctx_, o.ca_file.c_str(), nullptr) != 1) return;
    if (o.max_version != 0) SSL_CTX_set_max_proto_version(ctx_, o.max_version);
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{static_cast<time_t>(o.timeout.count() / 1000), static_cast<suseconds_t>((o.timeout.count() % 1000) * 1000)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return;
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), "127.0.0.1");
    handshake_ok_ = SSL_connect(ssl_) == 1 && SSL_get_verify_result(ssl_) == X509_V_OK;
    ERR_clear_error();
  }
  ~TlsSocket() { Close(); }
  TlsSocket(const TlsSocket&) = delete;
  TlsSocket& operator=(const TlsSocket&) = delete;

  // Handshake done and the server's certificate verified.
  bool ok() const { return handshake_ok_; }
  std::string version() const { return ssl_ != nullptr ? SSL_get_version(ssl_) : ""; }

  void Close() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
    ssl_ = nullptr;
    ctx_ = nullptr;
    fd_ = -1;
    handshake_ok_ = false;
  }

  bool Send(std::string_view data) {
    if (!handshake_ok_) return false;
    while (!data.empty()) {
      const int n = SSL_write(ssl_, data.data(), static_cast<int>(std::min<size_t>(data.size(), 1 << 20)));
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  using Read = Socket::Read;
  Read Receive(std::string* out, std::chrono::milliseconds timeout) {
    if (!handshake_ok_) return Read::kEof;
    if (SSL_pending(ssl_) == 0) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return Read::kTimeout;
    }
    char buf[16384];
    const int n = SSL_read(ssl_, buf, sizeof buf);
    if (n <= 0) {
      ERR_clear_error();
      return Read::kEof;
    }
    out->append(buf, static_cast<size_t>(n));
    return Read::kData;
  }

  // Sends `raw` and reads one response (kept data beyond it is dropped).
  ClientResponse Exchange(std::string_view raw, std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) {
    ClientResponse r;
    if (!Send(raw)) return r;
    const bool head = raw.rfind("HEAD ", 0) == 0;
    std::string data;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      const Read got = Receive(&data, std::chrono::milliseconds(50));
      if (ParseResponse(data, got == Read::kEof, &r, head) != 0) return r;
      if (got == Read::kEof) break;
    }
    return ClientResponse{};
  }

 private:
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  bool handshake_ok_ = false;
};

}  // namespace vigil::testing
