#pragma once
// Routes: (method, path pattern) → handler. Patterns are literal segments and
// `{name}` captures: "/videos/v1/video/{id}". A path that matches no pattern is
// 404; one that matches with another method is 405 with an Allow header. GET
// routes also answer HEAD (the handler sees method "HEAD" and the server
// drops the body).
//
// Two kinds of handler:
//  * Handler: gets the whole body (bounded by the server's body limit).
//  * StreamHandler: called as soon as the header has arrived, before any body
//    byte is read; it authorises the request and returns the BodySink that
//    will receive the body, or an error that is answered at once.
//
// Handlers run on the server's handler thread pool and may block (database,
// password hashing). Thread safety: routes are added before the server starts;
// Match is then read-only.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "http/message.h"

namespace vidmill::http {

using Handler = std::function<Result<Response>(Request&)>;
using StreamHandler = std::function<Result<std::unique_ptr<BodySink>>(Request&)>;

class Router {
 public:
  // A GET route also answers HEAD (the body dropped), unless added with
  // AddGetWithoutHead: for a GET that changes something and whose body is the
  // point (the reference's secret rotations), HEAD is a 405 with Allow: GET.
  void Add(std::string method, std::string pattern, Handler handler);
  void AddGetWithoutHead(std::string pattern, Handler handler);
  // A route whose handler never blocks (no database, no disk): the server
  // runs it on the connection's own thread, not queued behind handlers that
  // wait on a stalled database (a liveness probe had taken 5–10 s while
  // PostgreSQL was frozen; audit 33 F5).
  void AddNonBlocking(std::string method, std::string pattern, Handler handler);
  void AddStream(std::string method, std::string pattern, StreamHandler handler);

  struct Match {
    const Handler* handler = nullptr;
    const StreamHandler* stream = nullptr;
    bool blocks = true;  // false: AddNonBlocking's
    Status error;  // NotFound / MethodNotAllowed when neither is set
    std::string allow;  // for 405
  };
  // Fills request.params on success.
  Match Find(Request& request) const;

  // What a path no route takes answers instead of 404 (a server still
  // starting answers 503 for the routes it does not have yet).
  void SetUnmatched(Status status) { unmatched_ = std::move(status); }

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    Handler handler;
    StreamHandler stream;
    bool answers_head = true;  // a GET route's
    bool blocks = true;
  };
  static std::vector<std::string> Split(std::string_view path);
  std::vector<Route> routes_;
  std::optional<Status> unmatched_;
};

}  // namespace vidmill::http
