// HttpClient over libcurl's easy interface.
#include "http/http_client.h"

#include <curl/curl.h>

#include <algorithm>

namespace vigil::bridges {

namespace {

// curl_global_init once per process (see the header); its result is kept.
CURLcode CurlGlobalInit() {
  static const CURLcode code = curl_global_init(CURL_GLOBAL_DEFAULT);
  return code;
}

struct ReplySink {
  std::string* body;
  size_t limit;
};

// Keeps the first `limit` bytes and swallows the rest (returning less than
// given would abort the transfer).
size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* r = static_cast<ReplySink*>(user);
  const size_t bytes = size * n;
  if (r->body->size() < r->limit) r->body->append(data, std::min(bytes, r->limit - r->body->size()));
  return bytes;
}

}  // namespace

ReplyClass ClassifyStatus(long status) {
  if (status >= 200 && status < 300) return ReplyClass::kDelivered;
  if (status >= 400 && status < 500 && status != 408 && status != 429) return ReplyClass::kRejected;
  return ReplyClass::kRetry;
}

struct HttpClient::Impl {
  CURL* curl = nullptr;
  curl_slist* headers = nullptr;
  HttpClientOptions options;
  char error[CURL_ERROR_SIZE] = {};
  std::string reply_body;
  ReplySink reply{&reply_body, 0};

  ~Impl() {
    if (curl != nullptr) curl_easy_cleanup(curl);
    curl_slist_free_all(headers);
  }
};

Result<std::unique_ptr<HttpClient>> HttpClient::Create(HttpClientOptions options) {
  if (CURLcode c = CurlGlobalInit(); c != CURLE_OK) {
    return Status::Internal(std::string("libcurl cannot be initialised: ") + curl_easy_strerror(c));
  }
  auto impl = std::make_unique<Impl>();
  impl->curl = curl_easy_init();
  if (impl->curl == nullptr) return Status::Internal("libcurl: curl_easy_init failed");
  impl->options = std::move(options);
  // "Expect:" stops libcurl from waiting for a 100-continue on larger bodies.
  impl->headers = curl_slist_append(impl->headers, "Expect:");
  for (const auto& h : impl->options.headers) {
    curl_slist* next = curl_slist_append(impl->headers, h.c_str());
    if (next == nullptr) return Status::Internal("libcurl: out of memory building the request headers");
    impl->headers = next;
  }
  impl->reply.limit = impl->options.max_reply_body;
  CURL* c = impl->curl;
  const long timeout_ms = static_cast<long>(std::max<int64_t>(1, impl->options.timeout.count()));
  bool ok = curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
            curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
            curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
            curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms) == CURLE_OK &&
            curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms) == CURLE_OK &&
            curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L) == CURLE_OK &&
            curl_easy_setopt(c, CURLOPT_USERAGENT, "vigil") == CURLE_OK &&
            curl_easy_setopt(c, CURLOPT_HTTPHEADER, impl->headers) == CURLE_OK &&
            curl_easy_setopt(c, CURLOPT_ERRORBUFFER, impl->error) == CURLE_OK &&
            curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &OnBody) == CURLE_OK &&
            curl_easy_setopt(c, CURLOPT_WRITEDATA, &impl->reply) == CURLE_OK &&
            curl_easy_setopt(c, CURLOPT_POST, 1L) == CURLE_OK;
  if (ok && !impl->options.username.empty()) {
    ok = curl_easy_setopt(c, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC)) == CURLE_OK &&
         curl_easy_setopt(c, CURLOPT_USERNAME, impl->options.username.c_str()) == CURLE_OK &&
         curl_easy_setopt(c, CURLOPT_PASSWORD, impl->options.password.c_str()) == CURLE_OK;
  }
  if (!ok) return Status::Internal("libcurl refused an option (is it older than 7.85?)");
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() = default;

Result<HttpReply> HttpClient::Post(const std::string& url, std::string_view body) {
  CURL* c = impl_->curl;
  impl_->reply_body.clear();
  impl_->error[0] = '\0';
  if (curl_easy_setopt(c, CURLOPT_URL, url.c_str()) != CURLE_OK ||
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data()) != CURLE_OK ||
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size())) != CURLE_OK) {
    return Status::Internal("libcurl refused the request's URL or body");
  }
  const CURLcode code = curl_easy_perform(c);
  if (code != CURLE_OK) {
    return Status::IoError(impl_->error[0] != '\0' ? std::string(impl_->error) : curl_easy_strerror(code));
  }
  HttpReply reply;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply.status);
  reply.body = std::move(impl_->reply_body);
  return reply;
}

}  // namespace vigil::bridges
