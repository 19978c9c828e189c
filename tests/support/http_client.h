#pragma once
// A small blocking HTTP/1.1 client for the integration tests: one keep-alive
// connection to 127.0.0.1:port, reopened when the server closed it.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/json.hpp>

namespace vidmill::test {

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The first value of a header (case-insensitive), or "".
  std::string Header(const std::string& name) const;
  bool HasHeader(const std::string& name) const;
  // The body parsed as JSON (null when it is not JSON).
  boost::json::value Json() const;
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

class HttpClient {
 public:
  explicit HttpClient(int port);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends one request; a Host header is added when absent. On a transport
  // error the status is 0 and the body holds the error message.
  HttpResponse Send(const std::string& method, const std::string& target,
                    const HeaderList& headers = {}, const std::string& body = "");

  // Shorthands that add "Authorization: Bearer <token>" (when token is non-empty)
  // and, with a body, "Content-Type: application/json".
  HttpResponse Get(const std::string& target, const std::string& token = "");
  HttpResponse Delete(const std::string& target, const std::string& token = "");
  HttpResponse SendJson(const std::string& method, const std::string& target,
                        const boost::json::value& body, const std::string& token = "");

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// "Basic " + base64(user:password)
std::string BasicAuth(const std::string& user, const std::string& password);

// The path and query of an absolute URL ("http://h:1/a?b" → "/a?b").
std::string TargetOf(const std::string& url);

}  // namespace vidmill::test
