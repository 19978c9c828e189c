#pragma once
// The HTTP/1.1 server: accepts connections, parses requests with Boost.Beast,
// routes them, and writes responses. It owns every socket concern so that
// route code stays a pure function from Request to Response:
//
//  * keep-alive, with an idle timeout between requests and a header timeout
//    (a client that drips bytes cannot hold a connection forever);
//  * limits on header size and on buffered bodies (413), and a per-chunk read
//    timeout for streamed bodies (408);
//  * handlers run on a separate thread pool, so a slow database call or a
//    password hash never stalls the I/O threads;
//  * every response carries X-Request-Id; one access-log line per request;
//  * the client address is the TCP peer's, or X-Forwarded-For's when the peer
//    is a trusted proxy (ServerOptions::trusted_proxies);
//  * exceptions escaping a handler become a 500 with the request id;
//  * Stop(): stop accepting, let in-flight requests finish, close idle
//    connections, then return from Run().
//
// Thread safety: Start/Stop may be called from any thread (Stop from a signal
// watcher); the Router must not change after Start.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "http/client_address.h"
#include "http/router.h"

namespace vidmill::http {

struct ServerOptions {
  std::string listen = "127.0.0.1:8080";  // HOST:PORT; port 0 picks a free one
  std::string public_url;                 // base of absolute URLs; empty = from Host
  int io_threads = 2;
  int handler_threads = 16;
  size_t header_limit_bytes = 16 * 1024;
  size_t buffered_body_limit_bytes = 1 << 20;
  // What all buffered bodies being received at once may hold (each counts its
  // Content-Length, a chunked one the limit above), and what one client's
  // may (an IPv4 address, an IPv6 /64). A request that would pass either is
  // a 503 with Retry-After, its body unread: otherwise thousands of
  // connections each sending 1 MiB would hold gigabytes.
  size_t buffered_bodies_budget_bytes = 256 << 20;
  size_t buffered_bodies_per_client_bytes = 8 << 20;
  // Asked (on the handler pool) before a buffered route reads a body over
  // 8 KiB (or a chunked one); an error is the answer, the body unread. The
  // API sets it to refuse a request with no credentials or a bad Bearer token
  // before its body takes memory. Smaller bodies are read and the route
  // answers, with its own challenges, as before.
  std::function<Status(const Request&)> check_before_body;
  int header_timeout_seconds = 10;
  int idle_timeout_seconds = 60;
  // A body that brings less than 16 KiB in this long times out: silence, or a
  // drip of a byte every few seconds that would hold an upload slot for ever.
  int body_chunk_timeout_seconds = 30;
  int write_timeout_seconds = 60;        // max time for one write to drain
  int shutdown_grace_seconds = 30;       // in-flight requests get this long on Stop
  bool access_log = true;
  // Open connections one client address may hold (0: no limit); more are
  // answered 503 and closed at once. Trusted proxies are not limited. Without
  // the limit one client could take every file descriptor, and nobody else
  // would get an answer.
  int max_connections_per_client = 256;
  // Peers whose forwarding header names the client (Request::remote_address);
  // empty: the header is ignored.
  TrustedProxies trusted_proxies;
  // Which header the trusted proxies write: X-Forwarded-For, or RFC 7239
  // Forwarded. Only that one is read — a proxy passes the other on as the
  // client sent it, so reading both would let clients choose their address.
  bool rfc7239_forwarded = false;
};

class Server {
 public:
  Server(ServerOptions options, const Router* router);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts listening; returns the bound port (useful with port 0).
  Result<int> Start();
  // After Start: "http://ADDRESS:PORT" as bound (":8080" gives 0.0.0.0, a host
  // name its address, port 0 the port chosen).
  std::string ListeningUrl() const;
  // Serves until Stop() has been called and in-flight requests finished.
  void Run();
  // Begins a graceful stop. Idempotent; safe from any thread.
  void Stop();
  // Routes the requests read from now on with `router` (which must outlive
  // the server): a server listening before it is ready (serve waiting for its
  // database) swaps its health-only router for the full one. Any thread.
  void SetRouter(const Router* router);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Whether `listen` reads as --listen HOST:PORT (a port 0 to 65535; an IP
// address, "[v6]", nothing, or a host name that resolves): InvalidArgument
// saying why not.
Status CheckListenSyntax(std::string_view listen);

// Percent-decodes a URL path or query component ('+' is a space only in
// queries). Returns InvalidArgument for malformed escapes or NUL bytes.
Result<std::string> PercentDecode(std::string_view text, bool is_query);

// Splits "a=1&b=x%20y" into decoded pairs; a name given twice is InvalidArgument.
Result<std::map<std::string, std::string>> ParseQuery(std::string_view query);

}  // namespace vidmill::http
