#include "tests/support/http_client.h"

#include <strings.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/http.hpp>

namespace vidmill::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

std::string HttpResponse::Header(const std::string& name) const {
  for (const auto& [key, value] : headers) {
    if (strcasecmp(key.c_str(), name.c_str()) == 0) return value;
  }
  return "";
}

bool HttpResponse::HasHeader(const std::string& name) const {
  for (const auto& [key, value] : headers) {
    if (strcasecmp(key.c_str(), name.c_str()) == 0) return true;
  }
  return false;
}

boost::json::value HttpResponse::Json() const {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(body, ec);
  if (ec) return nullptr;
  return value;
}

class HttpClient::Impl {
 public:
  explicit Impl(int port) : port_(port), stream_(ioc_) {}

  HttpResponse Send(const std::string& method, const std::string& target,
                    const HeaderList& headers, const std::string& body) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      boost::system::error_code ec;
      if (!connected_) {
        stream_.close();
        stream_.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                                static_cast<uint16_t>(port_)),
                        ec);
        if (ec) return {0, {}, "connect: " + ec.message()};
        connected_ = true;
        buffer_.clear();
      }
      bhttp::request<bhttp::string_body> request{bhttp::string_to_verb(method), target, 11};
      request.method_string(method);
      bool has_host = false;
      for (const auto& [name, value] : headers) {
        if (strcasecmp(name.c_str(), "Host") == 0) has_host = true;
        request.insert(name, value);
      }
      if (!has_host) request.set(bhttp::field::host, "127.0.0.1:" + std::to_string(port_));
      request.body() = body;
      if (!body.empty() || method == "POST" || method == "PUT") request.prepare_payload();
      stream_.expires_after(std::chrono::seconds(120));
      bhttp::write(stream_, request, ec);
      if (ec) {
        connected_ = false;
        if (attempt == 0) continue;
        return {0, {}, "write: " + ec.message()};
      }
      bhttp::response_parser<bhttp::string_body> parser;
      parser.body_limit(1ull << 33);
      parser.skip(method == "HEAD");
      bhttp::read(stream_, buffer_, parser, ec);
      if (ec) {
        connected_ = false;
        // A keep-alive connection the server closed meanwhile: retry once on a new one.
        if (attempt == 0 && (ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
                             ec == asio::error::connection_reset)) {
          continue;
        }
        return {0, {}, "read: " + ec.message()};
      }
      auto& message = parser.get();
      HttpResponse response;
      response.status = static_cast<int>(message.result_int());
      for (const auto& field : message) {
        response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
      }
      response.body = std::move(message.body());
      if (!message.keep_alive()) connected_ = false;
      return response;
    }
    return {0, {}, "unreachable"};
  }

 private:
  int port_;
  asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  bool connected_ = false;
};

HttpClient::HttpClient(int port) : impl_(std::make_unique<Impl>(port)) {}
HttpClient::~HttpClient() = default;

HttpResponse HttpClient::Send(const std::string& method, const std::string& target,
                              const HeaderList& headers, const std::string& body) {
  return impl_->Send(method, target, headers, body);
}

HttpResponse HttpClient::Get(const std::string& target, const std::string& token) {
  HeaderList headers;
  if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
  return Send("GET", target, headers);
}

HttpResponse HttpClient::Delete(const std::string& target, const std::string& token) {
  HeaderList headers;
  if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
  return Send("DELETE", target, headers);
}

HttpResponse HttpClient::SendJson(const std::string& method, const std::string& target,
                                  const boost::json::value& body, const std::string& token) {
  HeaderList headers = {{"Content-Type", "application/json"}};
  if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
  return Send(method, target, headers, boost::json::serialize(body));
}

std::string BasicAuth(const std::string& user, const std::string& password) {
  std::string plain = user + ":" + password;
  std::string encoded(beast::detail::base64::encoded_size(plain.size()), '\0');
  encoded.resize(beast::detail::base64::encode(encoded.data(), plain.data(), plain.size()));
  return "Basic " + encoded;
}

std::string TargetOf(const std::string& url) {
  size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  size_t slash = url.find('/', scheme + 3);
  return slash == std::string::npos ? "/" : url.substr(slash);
}

}  // namespace vidmill::test
