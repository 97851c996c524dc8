// Tests for HTTPS in vigil/engine/http_server.h (tls_cert/tls_key, served
// through engine/src/http/tls_terminator.h) with a self-signed certificate
// made at test time: verified handshake, curl with keep-alive, plain HTTP on
// the TLS port (400), the bearer token, multi-megabyte bodies, concurrent
// clients, the connection bound, handshake timeout, TLS versions, prompt
// server-sent events, Stop() with open connections (quick, no thread or
// descriptor left, a handler running at Stop() ends cleanly), the internal port refusing direct clients, the client's
// address, and clear startup errors for bad certificates and keys.
#include <dirent.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "engine/http/tls_test_client.h"
#include "vigil/engine/http_server.h"

namespace vigil {
namespace {

using namespace std::chrono_literals;
using testing::ClientResponse;
using testing::TestClient;
using testing::TlsClientOptions;
using testing::TlsSocket;
using Clock = std::chrono::steady_clock;

template <typename F>
bool WaitFor(F cond, std::chrono::milliseconds timeout = 3000ms) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return cond();
}

size_t CountEntries(const char* dir) {
  size_t n = 0;
  if (DIR* d = ::opendir(dir)) {
    while (::readdir(d) != nullptr) ++n;
    ::closedir(d);
  }
  return n;
}
size_t Threads() { return CountEntries("/proc/self/task"); }
// The open descriptors and what they are, "3:socket:[123] 4:/dev/null ...".
std::string Descriptors() {
  std::string out;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    out += e.path().filename().string() + ":" + std::filesystem::read_symlink(e.path(), ec).string() + " ";
  }
  return out;
}

std::string Request(const std::string& method, const std::string& path, const std::string& body = "",
                    const testing::Headers& headers = {}, bool close = false) {
  return TestClient::Build(method, path, headers, body, true, close);
}

class TlsServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/vigil-tls-test-XXXXXX";
    dir_ = new std::string(::mkdtemp(tmpl));
    ASSERT_TRUE(testing::MakeSelfSignedCert(*dir_ + "/cert.pem", *dir_ + "/key.pem"));
    ASSERT_TRUE(testing::MakeSelfSignedCert(*dir_ + "/other-cert.pem", *dir_ + "/other-key.pem"));
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }
  static std::string Path(const std::string& name) { return *dir_ + "/" + name; }

  static HttpServerOptions TlsOptions() {
    HttpServerOptions o;
    o.listen = "127.0.0.1:0";
    o.max_connections = 8;
    o.tls_cert = Path("cert.pem");
    o.tls_key = Path("key.pem");
    return o;
  }
  TlsClientOptions Client() const {
    TlsClientOptions c;
    c.ca_file = Path("cert.pem");
    return c;
  }

  void Start(HttpServerOptions o = TlsOptions()) {
    server_.Route("GET", "/healthz", [](HttpRequest&) { return HttpResponse::Json(200, "{\"ok\":true}"); });
    server_.Route("GET", "/slow", [](HttpRequest&) {
      std::this_thread::sleep_for(300ms);
      return HttpResponse::Text(200, "late");
    });
    server_.Route("GET", "/remote", [](HttpRequest& r) { return HttpResponse::Text(200, r.remote_addr); });
    server_.Route("POST", "/api/v1/echo", [](HttpRequest& r) { return HttpResponse::Text(200, std::move(r.body)); });
    server_.RouteStream("GET", "/api/v1/stream", [this](const HttpRequest&, SseStream& out) {
      if (!out.Send("hello", "first", "1")) return;
      int sent = 0;
      while (out.KeepAlive()) {
        if (to_send_.load() > sent) {
          ++sent;
          if (!out.Send("", "tick " + std::to_string(sent))) break;
        }
        std::this_thread::sleep_for(2ms);
      }
    });
    Status st = server_.Start(o);
    ASSERT_TRUE(st.ok()) << st.message();
    ASSERT_NE(server_.port(), 0);
    ASSERT_NE(server_.port(), server_.TEST_backend_port());
  }

  static std::string* dir_;
  HttpServer server_;
  std::atomic<int> to_send_{0};
};

std::string* TlsServerTest::dir_ = nullptr;

TEST_F(TlsServerTest, ServesHttpsWithAVerifiedCertificate) {
  Start();
  TlsSocket s(server_.port(), Client());
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.version(), "TLSv1.3");
  ClientResponse r = s.Exchange(Request("GET", "/healthz"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"ok\":true}");
  // The handler sees the client's address, not the terminator's connection.
  r = s.Exchange(Request("GET", "/remote"));
  EXPECT_EQ(r.body, "127.0.0.1");
}

TEST_F(TlsServerTest, CurlVerifiesTheCertificateAndKeepsTheConnectionAlive) {
  if (std::system("command -v curl >/dev/null 2>&1") != 0) GTEST_SKIP() << "curl is not installed";
  Start();
  const std::string url = "https://127.0.0.1:" + std::to_string(server_.port()) + "/healthz";
  const std::string cmd = "curl -sS --max-time 10 --cacert " + Path("cert.pem") + " -w '%{http_code} %{num_connects}\\n' " +
                          url + " " + url + " 2>&1";
  std::FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  EXPECT_EQ(::pclose(p), 0) << out;
  // Two answers, the second on the first connection (0 new connects).
  EXPECT_EQ(out, "{\"ok\":true}200 1\n{\"ok\":true}200 0\n");
}

TEST_F(TlsServerTest, PlainHttpOnTheTlsPortGetsA400AndTheServerGoesOn) {
  Start();
  ClientResponse r = TestClient(server_.port()).Get("/healthz");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("this port speaks HTTPS"), std::string::npos) << r.body;
  TlsSocket s(server_.port(), Client());
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.Exchange(Request("GET", "/healthz")).status, 200);
}

TEST_F(TlsServerTest, TheInternalPortRefusesDirectClients) {
  Start();
  ClientResponse r = TestClient(server_.TEST_backend_port()).Get("/healthz");
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("use https://"), std::string::npos) << r.body;
}

TEST_F(TlsServerTest, BearerTokenIsStillRequired) {
  HttpServerOptions o = TlsOptions();
  o.token = "s3cret";
  Start(o);
  TlsSocket s(server_.port(), Client());
  ASSERT_TRUE(s.ok());
  ClientResponse r = s.Exchange(Request("POST", "/api/v1/echo", "x"));
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("missing bearer token"), std::string::npos);
  TlsSocket t(server_.port(), Client());  // a 401 closes the connection
  ASSERT_TRUE(t.ok());
  r = t.Exchange(Request("POST", "/api/v1/echo", "x", {{"Authorization", "Bearer s3cret"}}));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "x");
}

TEST_F(TlsServerTest, MultiMegabyteBodiesRoundTripAndTheLimitHolds) {
  Start();
  std::string body(6u << 20, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>((i * 2654435761u) >> 13);
  TlsSocket s(server_.port(), Client());
  ASSERT_TRUE(s.ok());
  ClientResponse r = s.Exchange(Request("POST", "/api/v1/echo", body), 30000ms);
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body == body) << r.body.size();
  // Beyond max_body_bytes (8 MiB): 413 by Content-Length, before the body.
  r = s.Exchange("POST /api/v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 9000000\r\n\r\n");
  EXPECT_EQ(r.status, 413);
}

TEST_F(TlsServerTest, ConcurrentClientsOnKeptAliveConnections) {
  Start();
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      TlsSocket s(server_.port(), Client());
      for (int i = 0; i < 20 && s.ok(); ++i) {
        const std::string body = std::to_string(t) + ":" + std::to_string(i) + std::string(static_cast<size_t>(i) * 997, 'p');
        if (s.Exchange(Request("POST", "/api/v1/echo", body)).body == body) ok.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 160);
}

TEST_F(TlsServerTest, ServerSentEventsArrivePromptly) {
  Start();
  TlsSocket s(server_.port(), Client());
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(s.Send(Request("GET", "/api/v1/stream")));
  std::string data;
  auto wait_for_text = [&](const std::string& text, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (data.find(text) == std::string::npos && Clock::now() < deadline) {
      if (s.Receive(&data, 20ms) == TlsSocket::Read::kEof) return false;
    }
    return data.find(text) != std::string::npos;
  };
  ASSERT_TRUE(wait_for_text("data: first\n\n", 3000ms)) << data;
  EXPECT_NE(data.find("text/event-stream"), std::string::npos);
  const auto t0 = Clock::now();
  to_send_ = 1;
  ASSERT_TRUE(wait_for_text("data: tick 1\n\n", 3000ms)) << data;
  EXPECT_LT(Clock::now() - t0, 500ms);
  EXPECT_EQ(server_.active_streams(), 1u);
}

TEST_F(TlsServerTest, StopWithOpenConnectionsIsQuickAndLeavesNothingBehind) {
  const size_t threads_before = Threads();
  const std::string fds_before = Descriptors();
  Start();
  {
    TlsSocket stream(server_.port(), Client());
    ASSERT_TRUE(stream.ok());
    ASSERT_TRUE(stream.Send(Request("GET", "/api/v1/stream")));
    std::string data;
    while (data.find("data: first") == std::string::npos) {
      ASSERT_EQ(stream.Receive(&data, 3000ms), TlsSocket::Read::kData);
    }
    TlsSocket idle(server_.port(), Client());  // kept alive after one request
    ASSERT_TRUE(idle.ok());
    ASSERT_EQ(idle.Exchange(Request("GET", "/healthz")).status, 200);
    testing::Socket silent(server_.port());  // never starts its handshake
    ASSERT_TRUE(silent.ok());
    std::this_thread::sleep_for(50ms);

    const auto t0 = Clock::now();
    server_.Stop();
    // Well under civetweb's 2 s stop-flag quantum for kept-alive connections:
    // the terminator half-closes them first.
    EXPECT_LT(Clock::now() - t0, 1500ms);
    EXPECT_FALSE(server_.running());
    EXPECT_EQ(server_.port(), 0);
    std::string rest;
    while (stream.Receive(&rest, 2000ms) == TlsSocket::Read::kData) {
    }
    EXPECT_EQ(idle.Receive(&rest, 2000ms), TlsSocket::Read::kEof);
    EXPECT_EQ(silent.Receive(&rest, 2000ms), testing::Socket::Read::kEof);
  }
  EXPECT_TRUE(WaitFor([&] { return Threads() == threads_before; })) << Threads() << " vs " << threads_before;
  EXPECT_EQ(Descriptors(), fds_before);
}

// civetweb writes nothing once it is stopping (plain HTTP alike): a
// handler running at Stop() loses its answer, but nothing hangs and the
// client sees the connection close.
TEST_F(TlsServerTest, StopDuringAHandlerClosesTheClientConnection) {
  Start();
  TlsSocket s(server_.port(), Client());
  ASSERT_TRUE(s.ok());
  ClientResponse r;
  std::atomic<bool> answered{false};
  std::thread client([&] {
    r = s.Exchange(Request("GET", "/slow"), 5000ms);
    answered = true;
  });
  std::this_thread::sleep_for(100ms);
  const auto t0 = Clock::now();
  server_.Stop();
  EXPECT_LT(Clock::now() - t0, 1500ms);
  EXPECT_TRUE(WaitFor([&] { return answered.load(); }, 2000ms));
  client.join();
  EXPECT_TRUE(r.status == 0 || r.status == 200) << r.status;
}

TEST_F(TlsServerTest, HandshakeTimeoutClosesSilentClients) {
  HttpServerOptions o = TlsOptions();
  o.tls_handshake_timeout = 200ms;
  Start(o);
  testing::Socket silent(server_.port());
  ASSERT_TRUE(silent.ok());
  const auto t0 = Clock::now();
  std::string data;
  EXPECT_EQ(silent.Receive(&data, 3000ms), testing::Socket::Read::kEof);
  EXPECT_LT(Clock::now() - t0, 2s);
  EXPECT_GE(Clock::now() - t0, 150ms);
}

TEST_F(TlsServerTest, ConnectionsBeyondMaxConnectionsWaitTheirTurn) {
  HttpServerOptions o = TlsOptions();
  o.max_connections = 2;
  Start(o);
  auto a = std::make_unique<TlsSocket>(server_.port(), Client());
  TlsSocket b(server_.port(), Client());
  ASSERT_TRUE(a->ok());
  ASSERT_TRUE(b.ok());
  std::atomic<bool> third_ok{false};
  std::thread third([&] {
    TlsSocket c(server_.port(), Client());
    third_ok = c.ok() && c.Exchange(Request("GET", "/healthz")).status == 200;
  });
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(third_ok.load());  // queued: its handshake has not started
  a.reset();
  third.join();
  EXPECT_TRUE(third_ok.load());
}

TEST_F(TlsServerTest, TlsVersions) {
  HttpServerOptions o = TlsOptions();
  Start(o);
  TlsClientOptions c = Client();
  c.max_version = TLS1_2_VERSION;
  TlsSocket tls12(server_.port(), c);
  ASSERT_TRUE(tls12.ok());
  EXPECT_EQ(tls12.version(), "TLSv1.2");
  EXPECT_EQ(tls12.Exchange(Request("GET", "/healthz")).status, 200);
  server_.Stop();

  o.tls_min_version = TlsVersion::k1_3;
  ASSERT_TRUE(server_.Start(o).ok());
  TlsSocket refused(server_.port(), c);
  EXPECT_FALSE(refused.ok());
  TlsSocket tls13(server_.port(), Client());
  EXPECT_TRUE(tls13.ok());
}

TEST_F(TlsServerTest, BadCertificatesAndKeysAreClearStartupErrors) {
  std::ofstream(Path("garbage.pem")) << "not a certificate\n";
  struct Case {
    std::string cert, key, expect;
  };
  const std::vector<Case> cases = {
      {Path("missing.pem"), Path("key.pem"), "tls_cert '" + Path("missing.pem") + "' cannot be read: No such file"},
      {Path("cert.pem"), Path("missing.pem"), "tls_key '" + Path("missing.pem") + "' cannot be read: No such file"},
      {Path("garbage.pem"), Path("key.pem"), "tls_cert '" + Path("garbage.pem") + "' is not a usable PEM certificate"},
      {Path("cert.pem"), Path("garbage.pem"), "tls_key '" + Path("garbage.pem") + "' is not a usable PEM private key"},
      {Path("cert.pem"), Path("other-key.pem"), "tls_key '" + Path("other-key.pem") + "' does not match the certificate"},
      {Path("cert.pem"), "", "needs both a certificate (tls_cert) and a private key (tls_key)"},
  };
  HttpServer s;
  for (const Case& c : cases) {
    HttpServerOptions o = TlsOptions();
    o.tls_cert = c.cert;
    o.tls_key = c.key;
    Status st = s.Start(o);
    EXPECT_EQ(st.code(), Status::Code::kInvalidArgument) << st.message();
    EXPECT_NE(st.message().find(c.expect), std::string::npos) << st.message();
    EXPECT_FALSE(s.running());
  }
  // OpenSSL's reason is part of the message.
  HttpServerOptions o = TlsOptions();
  o.tls_cert = Path("garbage.pem");
  EXPECT_NE(s.Start(o).message().find("no start line"), std::string::npos);
}

TEST_F(TlsServerTest, AddressInUseIsAnIoError) {
  Start();
  HttpServer other;
  HttpServerOptions o = TlsOptions();
  o.listen = "127.0.0.1:" + std::to_string(server_.port());
  Status st = other.Start(o);
  EXPECT_EQ(st.code(), Status::Code::kIoError);
  EXPECT_NE(st.message().find("in use"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace vigil
