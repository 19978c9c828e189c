#pragma once
// The HTTP vocabulary the route code sees: a Request, a Response, and the
// BodySink through which streaming routes receive large bodies. No sockets
// here; the server (server.h) owns all I/O, limits and timeouts.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "common/status.h"

namespace vidmill::http {

// Header fields, looked up case-insensitively; order and repeats are kept.
class Headers {
 public:
  void Add(std::string name, std::string value) {
    fields_.emplace_back(std::move(name), std::move(value));
  }
  // Replaces every field of that name by one.
  void Set(std::string name, std::string value);
  // The first value of `name`, or nullopt.
  std::optional<std::string> Get(std::string_view name) const;
  // All values of `name`, in order.
  std::vector<std::string> GetAll(std::string_view name) const;
  bool Has(std::string_view name) const { return Get(name).has_value(); }
  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

struct Request {
  std::string method;  // "GET", "POST", …; HEAD is passed to GET routes as "HEAD"
  std::string target;  // as received: "/videos/v1/videos?page=2"
  std::string path;    // the percent-decoded path: "/videos/v1/videos"
  // Decoded query parameters; for repeated names, the first value.
  std::map<std::string, std::string> query;
  Headers headers;
  std::string body;  // buffered routes only; empty for streaming routes
  // Path parameters captured by the route pattern ("/v1/video/{id}" → "id").
  std::map<std::string, std::string> params;

  std::string request_id;  // also sent back as X-Request-Id
  // The client's IP address, for rate limiting and the access log: the TCP
  // peer's, or, when the peer is one of --trusted-proxies, the one its
  // X-Forwarded-For names (client_address.h). Canonical: one form per host.
  std::string remote_address;
  std::string peer_address;  // the TCP peer's IP address (canonical), a proxy or the client
  // The absolute base for URLs handed out in responses, without a trailing
  // slash: --public-url when set, else "http://" + the Host header.
  std::string base_url;

  std::string Param(const std::string& name) const {
    auto it = params.find(name);
    return it == params.end() ? std::string() : it->second;
  }
  std::optional<std::string> Query(const std::string& name) const {
    auto it = query.find(name);
    if (it == query.end()) return std::nullopt;
    return it->second;
  }
};

// An open file whose bytes a response streams. Owned by the response; the
// descriptor stays valid even if the file is unlinked meanwhile.
class OpenFile {
 public:
  virtual ~OpenFile() = default;
  // Reads up to `size` bytes at `offset` into `out`; returns bytes read (0 at end).
  virtual Result<size_t> ReadAt(uint64_t offset, char* out, size_t size) = 0;
};

// One stretch of a streamed body: literal bytes, or a range of a file.
struct BodyPiece {
  std::string literal;
  std::shared_ptr<OpenFile> file;
  uint64_t offset = 0;
  uint64_t length = 0;
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  // When non-empty, the body is these pieces in order (instead of `body`),
  // streamed in bounded chunks; Content-Length is their total length.
  std::vector<BodyPiece> pieces;
  // Send headers only (HEAD): Content-Length still describes the full body.
  bool omit_body = false;

  uint64_t BodyLength() const;

  static Response Json(int status, const boost::json::value& value);
  static Response Json(const boost::json::value& value) { return Json(200, value); }
};

// A streaming route's receiver for the request body. The server calls Write
// with consecutive chunks (bounded size, in order) as they arrive, then Finish
// once the complete body has arrived, or Abort if it never does (client gone,
// timeout, body shorter than Content-Length, shutdown). Exactly one of Finish
// or Abort is called. Write returning an error stops the upload and that error
// is answered. Called from one thread at a time.
class BodySink {
 public:
  virtual ~BodySink() = default;
  virtual Status Write(std::string_view chunk) = 0;
  virtual Result<Response> Finish(Request& request) = 0;
  virtual void Abort() = 0;
};

// JSON text with numbers as people write them: doubles in their shortest
// round-trip decimal form (29.97, 100, 0.001), not Boost.JSON's exponent form.
std::string SerializeJson(const boost::json::value& value);

// `text` without the optional whitespace (spaces and tabs, RFC 9110's OWS)
// around it, as header values and their list items are read.
std::string_view TrimOws(std::string_view text);

// The value of a hexadecimal digit (0–15), or -1 for any other character: for
// the %XX escapes of targets and of RFC 8187 parameters.
int HexValue(char c);

// The error document of the API: {"exception": …, "errorMessage": …} with the
// status that fits the Status code (the one place that mapping lives).
Response ErrorResponse(const Status& status);
int HttpStatusFor(Code code);
std::string DefaultExceptionFor(Code code);

// Parses a JSON object body. A Content-Type other than application/json is
// 415; malformed JSON or a non-object is 400.
Result<boost::json::object> ParseJsonObject(const Request& request);

}  // namespace vidmill::http
