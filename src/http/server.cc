// The HTTP session. Each connection is one C++20 coroutine on a strand of the
// I/O context; its life is a loop of
//
//   idle wait ─► read header ─► route ─► [read body | stream body into a sink]
//     ─► run handler on the handler pool ─► write response ─► (keep-alive?) ─┐
//   ▲────────────────────────────────────────────────────────────────────────┘
//
// Every wait has a deadline (idle, header, per body chunk, per write), so a
// slow or silent client costs one coroutine frame until its timer fires, never
// a thread. Handlers may block (database, password hashing); they run on a
// separate thread pool and the coroutine resumes on its strand when they
// return. A graceful stop closes the acceptor and cancels only connections
// that sit idle between requests; requests in flight run to completion.

#include "http/server.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <charconv>
#include <chrono>
#include <limits>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include "common/ids.h"
#include "common/log.h"
#include "common/thread_name.h"

namespace vidmill::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr size_t kBodyChunkBytes = 64 * 1024;
constexpr size_t kFileChunkBytes = 256 * 1024;
// Buffered bodies larger than this (or chunked) are read only after
// ServerOptions::check_before_body agrees.
constexpr uint64_t kCheckedBodyBytes = 8 * 1024;

// Whether a Host field is uri-host [":" port] (RFC 9110 §7.2): a name of
// letters, digits, '.', '-' and '_', or a bracketed IPv6 address, and a port
// of at most 65535. The Host header is echoed into absolute URLs, so nothing
// else may pass: a port of 99999 (or "a:b:c") had been accepted and copied
// into them (audit 32 F7).
bool IsSafeHost(std::string_view host) {
  if (host.empty() || host.size() > 255) return false;
  auto all_of = [](std::string_view text, auto accepted) {
    return std::all_of(text.begin(), text.end(), accepted);
  };
  std::string_view name = host;
  std::string_view port;
  bool has_port = false;
  if (host.front() == '[') {
    const size_t close = host.find(']');
    if (close == std::string_view::npos) return false;
    name = host.substr(1, close - 1);
    const std::string_view rest = host.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return false;
    has_port = !rest.empty();
    if (has_port) port = rest.substr(1);
    // Hex digits, ':' and '.' only (no zone: "[::1%@evil.example?]" parses
    // as an address with a zone, and a client reads evil.example as the
    // host; audit 35 F1), and an address ("[:]", "[1.2.3.4]" are not;
    // audit 34 F8).
    if (name.empty() || !all_of(name, [](char c) {
          return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
        })) {
      return false;
    }
    boost::system::error_code ec;
    asio::ip::make_address_v6(std::string(name), ec);
    if (ec) return false;
  } else {
    const size_t colon = host.find(':');
    has_port = colon != std::string_view::npos;
    if (has_port) {
      name = host.substr(0, colon);
      port = host.substr(colon + 1);
    }
    if (name.empty() || !all_of(name, [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
        })) {
      return false;
    }
  }
  if (!has_port) return true;
  // Digits, leading zeros allowed (RFC 3986: port = *DIGIT).
  if (port.empty() || port.size() > 16 ||
      !all_of(port, [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  return std::stoll(std::string(port)) <= 65535;
}

std::string NewRequestId() { return HexEncode(RandomBytes(8)); }

std::string PeerAddress(beast::tcp_stream& stream) {
  boost::system::error_code ec;
  return CanonicalPeer(stream.socket().remote_endpoint(ec).address().to_string());
}

// What the per-client limits count by: an IPv4 address, or an IPv6 address's
// /64 (one host's, as providers hand them out: its addresses are plenty).
std::string ClientKey(const std::string& address) {
  boost::system::error_code ec;
  asio::ip::address parsed = asio::ip::make_address(address, ec);
  if (ec || !parsed.is_v6() || parsed.to_v6().is_v4_mapped()) return address;
  asio::ip::address_v6::bytes_type bytes = parsed.to_v6().to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  return asio::ip::address_v6(bytes).to_string() + "/64";
}

// What clients hold of something limited (connections, bytes of bodies being
// received), counted by ClientKey, each client within its limit and all of
// them within the total's; a client holding nothing has no entry.
class ClientTally {
 public:
  // Adds `amount` to `client`'s; false, nothing added, when that would pass
  // `per_client` or `total`.
  bool Add(const std::string& client, uint64_t amount, uint64_t per_client,
           uint64_t total = std::numeric_limits<uint64_t>::max()) {
    std::lock_guard lock(mu_);
    auto [held, fresh] = by_client_.try_emplace(ClientKey(client), 0);
    if (held->second + amount > per_client || total_ + amount > total) {
      if (held->second == 0) by_client_.erase(held);
      return false;
    }
    held->second += amount;
    total_ += amount;
    return true;
  }
  void Remove(const std::string& client, uint64_t amount) {
    std::lock_guard lock(mu_);
    total_ -= amount;
    auto held = by_client_.find(ClientKey(client));
    if (held != by_client_.end() && (held->second -= amount) == 0) by_client_.erase(held);
  }

 private:
  std::mutex mu_;
  uint64_t total_ = 0;
  std::unordered_map<std::string, uint64_t> by_client_;
};

// The decoded path goes into the one-line access log: control characters
// (a %0d%0a in the URL) would forge log lines, so they are written as \xNN.
std::string EscapeForLog(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f || c == '\\') {
      char escaped[5];
      std::snprintf(escaped, sizeof(escaped), "\\x%02x", byte);
      out += escaped;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

Result<std::string> PercentDecode(std::string_view text, bool is_query) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) {
        return Status::InvalidArgument("malformed percent-encoding in URL");
      }
      int hi = HexValue(text[i + 1]);
      int lo = HexValue(text[i + 2]);
      if (hi < 0 || lo < 0) {
        return Status::InvalidArgument("malformed percent-encoding in URL");
      }
      char decoded = static_cast<char>(hi * 16 + lo);
      if (decoded == '\0') {
        return Status::InvalidArgument("NUL byte in URL");
      }
      out.push_back(decoded);
      i += 2;
    } else if (c == '+' && is_query) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Result<std::map<std::string, std::string>> ParseQuery(std::string_view query) {
  std::map<std::string, std::string> params;
  size_t start = 0;
  while (start <= query.size()) {
    size_t amp = query.find('&', start);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view pair = query.substr(start, amp - start);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      std::string_view raw_name = pair.substr(0, eq);
      std::string_view raw_value = eq == std::string_view::npos ? "" : pair.substr(eq + 1);
      ASSIGN_OR_RETURN(std::string name, PercentDecode(raw_name, true));
      ASSIGN_OR_RETURN(std::string value, PercentDecode(raw_value, true));
      // A parameter given twice is refused, as a JSON key given twice is:
      // which of two `project-id` or `team-id` values was meant is the
      // client's to say (the first had been taken silently, even where the
      // other was malformed).
      if (params.contains(name)) {
        return Status::InvalidArgument("query parameter '" + name + "' is given more than once");
      }
      params.emplace(std::move(name), std::move(value));
    }
    start = amp + 1;
  }
  return params;
}

// Cancels the pending operations on `stream` when `after` elapses, leaving the
// socket open (unlike tcp_stream's own timeout, which closes it), so that a
// 408 can still be written. Lives on the session's strand.
class Deadline {
 public:
  Deadline(beast::tcp_stream& stream, std::chrono::steady_clock::duration after)
      : state_(std::make_shared<State>(stream.get_executor())) {
    stream.expires_never();
    state_->timer.expires_after(after);
    state_->timer.async_wait([state = state_, &stream](boost::system::error_code ec) {
      if (!ec && !state->done) {
        state->fired = true;
        stream.socket().cancel();
      }
    });
  }
  ~Deadline() {
    state_->done = true;
    state_->timer.cancel();
  }
  bool Fired() const { return state_->fired; }

 private:
  struct State {
    explicit State(const asio::any_io_executor& executor) : timer(executor) {}
    asio::steady_timer timer;
    bool fired = false;
    bool done = false;
  };
  std::shared_ptr<State> state_;
};

// The idle timeout of a streamed body: cancels the pending read on `stream`
// once fewer than kMinProgressBytes have arrived for `timeout` (silence, or a
// drip of a byte every few seconds that would hold an upload slot for ever: at
// the default 30 s that asks for about 0.5 KiB/s). One timer serves the whole body —
// it wakes every quarter of the timeout and compares with the time of the last
// read — because arming and cancelling a timer around every 64 KiB read (as
// Deadline does) costs a posted completion and a thread wake-up per read,
// which is a tenth of an upload's CPU. So a stalled body is refused between
// 1 and 1.25 timeouts after its last byte. Lives on the session's strand.
class IdleWatchdog {
 public:
  IdleWatchdog(beast::tcp_stream& stream, std::chrono::steady_clock::duration timeout)
      : state_(std::make_shared<State>(stream.get_executor(), timeout)) {
    stream.expires_never();
    Arm(state_, stream);
  }
  ~IdleWatchdog() {
    state_->done = true;
    state_->timer.cancel();
  }
  static constexpr size_t kMinProgressBytes = 16 * 1024;
  // `bytes` arrived: once they add up to kMinProgressBytes the idle time
  // starts again.
  void Progress(size_t bytes) {
    pending_ += bytes;
    if (pending_ < kMinProgressBytes) return;
    pending_ = 0;
    state_->last = std::chrono::steady_clock::now();
  }
  bool Fired() const { return state_->fired; }

 private:
  struct State {
    State(const asio::any_io_executor& executor, std::chrono::steady_clock::duration timeout)
        : timer(executor), timeout(timeout), last(std::chrono::steady_clock::now()) {}
    asio::steady_timer timer;
    std::chrono::steady_clock::duration timeout;
    std::chrono::steady_clock::time_point last;
    bool fired = false;
    bool done = false;
  };

  static void Arm(const std::shared_ptr<State>& state, beast::tcp_stream& stream) {
    state->timer.expires_after(state->timeout / 4);
    state->timer.async_wait([state, &stream](boost::system::error_code ec) {
      if (ec || state->done) return;
      if (std::chrono::steady_clock::now() - state->last >= state->timeout) {
        state->fired = true;
        stream.socket().cancel();
        return;
      }
      Arm(state, stream);
    });
  }

  std::shared_ptr<State> state_;
  size_t pending_ = 0;  // bytes since the idle time last started again
};

// --listen as an endpoint: its port, and its host as an IP address or the
// first address of the name (IPv4 first); InvalidArgument saying why not.
Result<asio::ip::tcp::endpoint> ResolveListen(std::string_view listen);

class Server::Impl {
 public:
  Impl(ServerOptions options, const Router* router)
      : options_(std::move(options)),
        router_(router),
        ioc_(options_.io_threads),
        pool_(options_.handler_threads),
        acceptor_(ioc_),
        shutdown_timer_(ioc_) {}

  Result<int> Start() {
    ASSIGN_OR_RETURN(const tcp::endpoint endpoint, ResolveListen(options_.listen));
    const asio::ip::address address = endpoint.address();
    boost::system::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Status::Unavailable("cannot listen on " + options_.listen + ": " + ec.message());
    }
    bound_port_ = acceptor_.local_endpoint().port();
    fallback_base_url_ = "http://" +
                         (address.is_v6() ? "[" + address.to_string() + "]" : address.to_string()) +
                         ":" + std::to_string(bound_port_);
    asio::co_spawn(ioc_, Accept(), asio::detached);
    return bound_port_;
  }

  void Run() {
    std::vector<std::thread> threads;
    for (int i = 1; i < options_.io_threads; ++i) {
      threads.emplace_back([this] {
        NameThisThread("vm-http-io");
        ioc_.run();
      });
    }
    ioc_.run();
    for (auto& thread : threads) thread.join();
    pool_.join();
  }

  void SetRouter(const Router* router) { router_.store(router); }

  void Stop() {
    asio::post(ioc_, [this] {
      if (stopping_.exchange(true)) return;
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      std::lock_guard lock(idle_mu_);
      for (const auto& weak : idle_) {
        if (auto conn = weak.lock()) {
          asio::post(conn->stream.get_executor(), [conn] { conn->stream.socket().cancel(); });
        }
      }
      shutdown_timer_.expires_after(std::chrono::seconds(options_.shutdown_grace_seconds));
      shutdown_timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec) {
          LogWarning("shutdown grace period over; closing remaining connections");
          ioc_.stop();
        }
      });
      CheckDrained();
    });
  }

  const std::string& listening_url() const { return fallback_base_url_; }

 private:
  struct Connection {
    explicit Connection(tcp::socket socket) : stream(std::move(socket)) {}
    beast::tcp_stream stream;
  };

  // When stopping and no session is alive, nothing is left but the grace
  // timer: cancel it so Run() returns.
  void CheckDrained() {
    if (stopping_ && live_sessions_.load() == 0) {
      shutdown_timer_.cancel();
    }
  }

  asio::awaitable<void> Accept() {
    while (!stopping_) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::make_strand(ioc_),
                                                          asio::as_tuple(asio::use_awaitable));
      if (ec) {
        if (stopping_ || ec == asio::error::operation_aborted) break;
        // Out of file descriptors (or another fault that a retry at once
        // meets again): retrying at once, the loop would spin at full CPU and
        // log ~1 GB in 16 s. So it waits 100 ms before the next accept, and
        // logs once a second; open connections keep being served meanwhile.
        const auto now = std::chrono::steady_clock::now();
        if (now - last_accept_warning_ >= std::chrono::seconds(1)) {
          LogWarning("accept failed: " + ec.message() + " (retrying every 100 ms)");
          last_accept_warning_ = now;
        }
        asio::steady_timer pause(acceptor_.get_executor(), std::chrono::milliseconds(100));
        co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
      std::string client = CanonicalPeer(socket.remote_endpoint(ec).address().to_string());
      if (!AdmitClient(client)) {
        RefuseConnection(socket, client);
        continue;
      }
      auto executor = socket.get_executor();
      auto conn = std::make_shared<Connection>(std::move(socket));
      live_sessions_++;
      asio::co_spawn(executor, Session(conn), [this, client](std::exception_ptr error) {
        ReleaseClient(client);
        if (error) {
          try {
            std::rethrow_exception(error);
          } catch (const std::exception& e) {
            LogError(std::string("session ended by exception: ") + e.what());
          }
        }
        live_sessions_--;
        asio::post(ioc_, [this] { CheckDrained(); });
      });
    }
  }

  // Counts `client`'s connection; false (nothing counted) when it holds its
  // limit already. Trusted proxies carry many clients and are not limited.
  bool AdmitClient(const std::string& client) {
    if (options_.max_connections_per_client <= 0 || options_.trusted_proxies.Contains(client)) {
      return true;
    }
    return connections_.Add(client, 1, options_.max_connections_per_client);
  }
  void ReleaseClient(const std::string& client) {
    if (options_.max_connections_per_client <= 0 || options_.trusted_proxies.Contains(client)) {
      return;
    }
    connections_.Remove(client, 1);
  }
  // A short 503 written without waiting (it fits the socket's buffer), then
  // the connection is closed; logged at most once a second, naming the
  // client and how many were refused since the last line.
  template <typename Socket>
  void RefuseConnection(Socket& socket, const std::string& client) {
    static const std::string kBody =
        ErrorResponse(
            Status::Unavailable("too many connections from this address; close some and retry"))
            .body;
    // With the headers every answer carries, the request id among them: a
    // client reporting this refusal to support needs one to quote.
    const std::string answer =
        "HTTP/1.1 503 Service Unavailable\r\nServer: vidmill\r\nX-Request-Id: " + NewRequestId() +
        "\r\nRetry-After: 1\r\nConnection: close\r\nContent-Type: application/json\r\n"
        "Content-Length: " +
        std::to_string(kBody.size()) + "\r\n\r\n" + kBody;
    boost::system::error_code ec;
    socket.non_blocking(true, ec);
    socket.write_some(asio::buffer(answer.data(), answer.size()), ec);
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
    ++refused_since_warning_;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_refusal_warning_ >= std::chrono::seconds(1)) {
      LogWarning("refused " + std::to_string(refused_since_warning_) +
                 " connection(s) with 503: client=" + client + " holds " +
                 std::to_string(options_.max_connections_per_client) +
                 " already (--max-connections-per-client)");
      last_refusal_warning_ = now;
      refused_since_warning_ = 0;
    }
  }

  // Runs `fn` on the handler pool; resumes the calling coroutine on its own
  // executor with the result. Exceptions become a 500.
  template <typename T>
  auto OnPool(std::function<Result<T>()> fn, std::string request_id) {
    // Not a coroutine itself: it returns the awaitable of the initiation, so
    // no extra frame holds the arguments across the thread hop.
    return asio::async_initiate<decltype(asio::use_awaitable), void(Result<T>)>(
        [this, fn = std::move(fn), request_id = std::move(request_id)](auto handler) mutable {
          auto executor = asio::get_associated_executor(handler);
          asio::post(pool_, [handler = std::move(handler), executor, fn = std::move(fn),
                             request_id = std::move(request_id)]() mutable {
            static thread_local const bool named = (NameThisThread("vm-http-handler"), true);
            (void)named;
            std::optional<Result<T>> result;
            try {
              result.emplace(fn());
            } catch (const std::exception& e) {
              LogError("request " + request_id + ": unhandled exception: " + e.what());
              result.emplace(Status::Internal("internal error (request id " + request_id + ")"));
            } catch (...) {
              LogError("request " + request_id + ": unhandled non-standard exception");
              result.emplace(Status::Internal("internal error (request id " + request_id + ")"));
            }
            asio::post(executor,
                       [handler = std::move(handler), result = std::move(*result)]() mutable {
                         std::move(handler)(std::move(result));
                       });
          });
        },
        asio::use_awaitable);
  }

  void RegisterIdle(const std::shared_ptr<Connection>& conn, bool idle) {
    std::lock_guard lock(idle_mu_);
    if (idle) {
      idle_.insert(conn);
    } else {
      idle_.erase(conn);
    }
  }

  std::string BaseUrl(const Headers& headers) const {
    if (!options_.public_url.empty()) return options_.public_url;
    std::optional<std::string> host = headers.Get("Host");
    if (host && IsSafeHost(*host)) return "http://" + *host;
    return fallback_base_url_;
  }

  // Bytes of buffered bodies being received, against the node's budget and
  // the client's share of it; given back when the request is answered.
  // Without the share, a client alone could take the whole budget (64 idle
  // bodies of 1 MiB) and every other caller's JSON request would get 503.
  class BodyReservation {
   public:
    explicit BodyReservation(ClientTally& tally) : tally_(tally) {}
    ~BodyReservation() {
      if (taken_ > 0) tally_.Remove(client_, taken_);
    }
    BodyReservation(const BodyReservation&) = delete;
    BodyReservation& operator=(const BodyReservation&) = delete;
    bool Take(const std::string& client, uint64_t bytes, uint64_t per_client, uint64_t total) {
      if (!tally_.Add(client, bytes, per_client, total)) return false;
      client_ = client;
      taken_ = bytes;
      return true;
    }

   private:
    ClientTally& tally_;
    std::string client_;
    uint64_t taken_ = 0;
  };

  // What a session keeps from one request to the next.
  struct SessionState {
    SessionState(beast::tcp_stream& stream, size_t buffer_limit)
        : stream(stream), buffer(buffer_limit), peer(PeerAddress(stream)) {}
    beast::tcp_stream& stream;
    // Bounded: the body limits count body bytes only, so without a cap a
    // chunk header (its extensions) that never ends would be buffered whole.
    beast::flat_buffer buffer;
    std::string peer;
    // Allocated by the first streamed body only: every open connection would
    // otherwise hold 64 KiB, idle ones included.
    std::vector<char> body_chunk;
    bool drain_before_close = false;  // an answer went out before its body was read
  };

  // One request on its way through the session's steps, and its answer.
  struct Exchange {
    explicit Exchange(const std::string& peer) {
      request.request_id = NewRequestId();
      request.peer_address = peer;
      request.remote_address = peer;
    }
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    Request request;
    Response response;
    unsigned version = 11;
    bool keep_alive = false;
    bool has_body = false;
  };

  using HeadParser = bhttp::request_parser<bhttp::empty_body>;

  // Serves the connection's requests one after another, as the design
  // comment at the top of this file draws it, until one of them ends it.
  asio::awaitable<void> Session(std::shared_ptr<Connection> conn) {
    SessionState session(conn->stream, options_.header_limit_bytes + 2 * kBodyChunkBytes);
    while (!stopping_) {
      // A request already in the buffer (pipelined) is read without waiting.
      if (session.buffer.size() == 0) {
        const bool arrived = co_await WaitForRequest(conn);
        if (!arrived) break;
      }
      Exchange exchange(session.peer);
      HeadParser head;
      const boost::system::error_code ec = co_await ReadHead(session, head);
      if (ClientLeft(ec)) break;
      if (ec) {
        // Where the next request would start is unknown: answer, then close.
        co_await AnswerUnreadableHead(session, exchange, head, ec);
        break;
      }
      TakeHead(head, exchange);
      Router::Match match;
      Status refusal = CheckHead(head.get(), exchange);
      if (refusal.ok()) refusal = FindRoute(exchange.request, match);
      if (!refusal.ok()) {
        RefuseUnread(session, exchange, refusal);
        if (!match.allow.empty()) exchange.response.headers.Set("Allow", match.allow);
      } else if (match.handler) {
        co_await AnswerBuffered(session, exchange, head, match.handler, match.blocks);
      } else {
        co_await AnswerStreamed(session, exchange, head, match.stream);
      }
      const bool stays_open = co_await Respond(session, exchange);
      if (!stays_open) break;
    }
    co_await Close(session);
  }

  // Waits, idle, for the next request's first bytes; false when the
  // connection ends instead (the client closed it or stayed silent past the
  // idle timeout, or the server is stopping).
  asio::awaitable<bool> WaitForRequest(const std::shared_ptr<Connection>& conn) {
    // Idle between requests: the only state in which a stop may cancel us.
    RegisterIdle(conn, true);
    if (stopping_) {
      RegisterIdle(conn, false);
      co_return false;
    }
    boost::system::error_code ec;
    {
      // socket().async_wait bypasses the tcp_stream's own expiry, so the
      // idle timeout needs a timer of its own.
      Deadline deadline(conn->stream, std::chrono::seconds(options_.idle_timeout_seconds));
      co_await conn->stream.socket().async_wait(tcp::socket::wait_read,
                                                asio::redirect_error(asio::use_awaitable, ec));
    }
    RegisterIdle(conn, false);
    co_return !ec && !stopping_;
  }

  // Reads the request's head into `head`. The deadline cancels the read but
  // keeps the socket open, so the client still gets its 408.
  asio::awaitable<boost::system::error_code> ReadHead(SessionState& session, HeadParser& head) {
    head.header_limit(static_cast<uint32_t>(options_.header_limit_bytes));
    head.body_limit(std::numeric_limits<uint64_t>::max());
    boost::system::error_code ec;
    Deadline deadline(session.stream, std::chrono::seconds(options_.header_timeout_seconds));
    co_await bhttp::async_read_header(session.stream, session.buffer, head,
                                      asio::redirect_error(asio::use_awaitable, ec));
    if (deadline.Fired()) ec = beast::error::timeout;
    co_return ec;
  }

  // The client closed or reset the connection: nobody is left to answer.
  static bool ClientLeft(const boost::system::error_code& ec) {
    return ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
           ec == asio::error::connection_reset;
  }

  asio::awaitable<void> AnswerUnreadableHead(SessionState& session, Exchange& exchange,
                                             const HeadParser& head,
                                             const boost::system::error_code& ec) {
    exchange.response = ErrorResponse(HeadReadError(ec, head, session.buffer));
    co_await WriteResponse(session.stream, exchange.request, exchange.response, 11, false,
                           exchange.started);
  }

  // Why the head could not be read: 408, 414, 431 or 400.
  Status HeadReadError(const boost::system::error_code& ec, const HeadParser& head,
                       const beast::flat_buffer& buffer) const {
    if (ec == beast::error::timeout) return Status::Timeout("request header not received in time");
    if (ec != bhttp::error::header_limit) {
      return Status::InvalidArgument("malformed HTTP request: " + ec.message());
    }
    // The request line alone past the limit is a URI too long (RFC 9110
    // §15.5.15), not a header: the parser has not taken it (no method yet)
    // and no line end is among the bytes it left. Either alone misleads:
    // the parser may have consumed the request line and the fields it
    // finished (a long field past the limit then leaves no line end; audit
    // 32 F1), or not have taken even a short request line yet, when the
    // head came in several pieces (audit 34 F5). A request pipelined behind
    // another may have arrived whole, its line end past the limit (audit 35
    // F2).
    const std::string_view left(static_cast<const char*>(buffer.data().data()), buffer.size());
    const size_t line_end = left.find("\r\n");
    if (head.get().method_string().empty() &&
        (line_end == std::string_view::npos || line_end >= options_.header_limit_bytes)) {
      return Status::UriTooLong("request line (method, target, version) longer than the " +
                                std::to_string(options_.header_limit_bytes) +
                                " bytes a request's line and header fields may take together");
    }
    return Status::HeaderFieldsTooLarge("request line and header fields longer than " +
                                        std::to_string(options_.header_limit_bytes) +
                                        " bytes together");
  }

  // Fills the exchange from the head: the request as routes see it (target,
  // fields, the base of absolute URLs, the client's address), the HTTP
  // version, whether the connection may stay open, and whether a body follows.
  void TakeHead(const HeadParser& head, Exchange& exchange) const {
    const auto& header = head.get();
    Request& request = exchange.request;
    request.method = std::string(header.method_string());
    request.target = std::string(header.target());
    for (const auto& field : header) {
      request.headers.Add(std::string(field.name_string()), std::string(field.value()));
    }
    // The absolute form ("GET http://host/path"), which a server must take
    // (RFC 9112 §3.2.2), not refuse with a 400: its authority stands for the
    // Host field, its path for the target.
    if (std::optional<std::string> authority = TakeAbsoluteForm(request.target)) {
      request.headers.Set("Host", *authority);
    }
    request.base_url = BaseUrl(request.headers);
    if (!options_.trusted_proxies.empty()) {
      request.remote_address = ClientAddress(
          request.peer_address,
          options_.rfc7239_forwarded ? ForwardedForNodes(request.headers.GetAll("Forwarded"))
                                     : request.headers.GetAll("X-Forwarded-For"),
          options_.trusted_proxies);
    }
    exchange.keep_alive = header.keep_alive() && !stopping_;
    exchange.version = header.version();
    exchange.has_body = head.content_length().value_or(0) > 0 || head.chunked();
  }

  // Refuses what no route may see: a target that does not parse, fields that
  // are missing, repeated or unsafe, or a body that cannot be framed.
  static Status CheckHead(const bhttp::request<bhttp::empty_body>& header, Exchange& exchange) {
    RETURN_IF_ERROR(ParseTarget(exchange.request));
    RETURN_IF_ERROR(CheckFields(exchange.request, header.version()));
    if (header.find(bhttp::field::transfer_encoding) != header.end() &&
        !beast::iequals(header[bhttp::field::transfer_encoding], "chunked")) {
      // Beast reads a body it cannot frame (say "gzip" alone) as empty, so
      // its bytes would be taken for the next request (request smuggling
      // behind a proxy); a coding other than chunked is not decoded either.
      exchange.has_body = true;  // refuse and close: the body's end is unknown
      return Status::InvalidArgument("unsupported Transfer-Encoding '" +
                                     std::string(header[bhttp::field::transfer_encoding]) +
                                     "'; only chunked is accepted");
    }
    return Status::Ok();
  }

  // The route for the request in `match`; when there is none, the error that
  // answers it (404, or 405 with match.allow).
  Status FindRoute(Request& request, Router::Match& match) const {
    match = router_.load()->Find(request);
    if (!match.handler && !match.stream) return match.error;
    return Status::Ok();
  }

  // Answers `status` without reading the body. A body that follows ends the
  // connection, drained first so that the client reads the answer.
  static void RefuseUnread(SessionState& session, Exchange& exchange, const Status& status) {
    exchange.response = ErrorResponse(status);
    if (exchange.has_body) {
      exchange.keep_alive = false;
      session.drain_before_close = true;
    }
  }

  // A route that takes its body whole: the body is admitted, read into the
  // request, and the handler answers on the pool.
  asio::awaitable<void> AnswerBuffered(SessionState& session, Exchange& exchange, HeadParser& head,
                                       const Handler* handler, bool blocks) {
    // Holds the body's bytes against the budgets until the handler returns.
    BodyReservation reservation(bodies_);
    const Status admitted =
        co_await AdmitBody(exchange, head.content_length().value_or(0), reservation);
    if (!admitted.ok()) {
      RefuseUnread(session, exchange, admitted);
      co_return;
    }
    Result<std::string> body = co_await ReadBody(session, exchange, head);
    if (!body.ok()) {
      exchange.keep_alive = false;
      exchange.response = ErrorResponse(body.status());
      co_return;
    }
    Request& request = exchange.request;
    request.body = std::move(body).value();
    if (!blocks) {  // Router::AddNonBlocking: here, not behind the pool's queue
      exchange.response = AnswerOf((*handler)(request));
      co_return;
    }
    exchange.response =
        co_await Handle([handler, &request]() { return (*handler)(request); }, request.request_id);
  }

  // Whether a buffered body of `declared` bytes (0: chunked, or none) may be
  // read: within the size limit, agreed by check_before_body, and with room
  // in the node's and the client's budgets, taken into `reservation`.
  asio::awaitable<Status> AdmitBody(const Exchange& exchange, uint64_t declared,
                                    BodyReservation& reservation) {
    if (declared > options_.buffered_body_limit_bytes) {
      co_return Status::PayloadTooLarge("request body larger than " +
                                        std::to_string(options_.buffered_body_limit_bytes) +
                                        " bytes");
    }
    if (exchange.has_body && options_.check_before_body &&
        (declared == 0 || declared > kCheckedBodyBytes)) {
      const Status checked = co_await CheckBeforeBody(exchange.request);
      if (!checked.ok()) co_return checked;
    }
    if (exchange.has_body &&
        !reservation.Take(exchange.request.remote_address,
                          declared > 0 ? declared : options_.buffered_body_limit_bytes,
                          options_.buffered_bodies_per_client_bytes,
                          options_.buffered_bodies_budget_bytes)) {
      co_return Status::Unavailable(
          "too many request bodies are being received at once; retry shortly")
          .WithRetryAfter(1);
    }
    co_return Status::Ok();
  }

  // ServerOptions::check_before_body, asked on the handler pool.
  asio::awaitable<Status> CheckBeforeBody(const Request& request) {
    const auto& check = options_.check_before_body;
    Result<bool> checked = co_await OnPool<bool>(
        [&check, &request]() -> Result<bool> {
          RETURN_IF_ERROR(check(request));
          return true;
        },
        request.request_id);
    co_return checked.status();
  }

  // Reads a buffered body whole, within its limit, each chunk in time.
  asio::awaitable<Result<std::string>> ReadBody(SessionState& session, const Exchange& exchange,
                                                HeadParser& head) {
    bhttp::request_parser<bhttp::string_body> parser(std::move(head));
    parser.body_limit(options_.buffered_body_limit_bytes);
    if (exchange.has_body) {
      co_await MaybeContinue(session.stream, exchange.request, exchange.version);
    }
    boost::system::error_code ec;
    Deadline deadline(session.stream, std::chrono::seconds(options_.body_chunk_timeout_seconds));
    co_await bhttp::async_read(session.stream, session.buffer, parser,
                               asio::redirect_error(asio::use_awaitable, ec));
    if (deadline.Fired()) ec = beast::error::timeout;
    if (ec) co_return BodyReadError(ec);
    co_return std::move(parser.get().body());
  }

  // A route that takes its body as a stream: its sink is opened on the pool
  // before any body byte is read, the body is written into it as it arrives,
  // and the sink's Finish answers.
  asio::awaitable<void> AnswerStreamed(SessionState& session, Exchange& exchange, HeadParser& head,
                                       const StreamHandler* opener) {
    Request& request = exchange.request;
    Result<std::unique_ptr<BodySink>> opened = co_await OnPool<std::unique_ptr<BodySink>>(
        [opener, &request]() { return (*opener)(request); }, request.request_id);
    if (!opened.ok()) {
      RefuseUnread(session, exchange, opened.status());
      co_return;
    }
    const std::unique_ptr<BodySink> sink = std::move(opened).value();
    const Status streamed = co_await StreamBody(session, exchange, head, *sink);
    if (!streamed.ok()) {
      sink->Abort();
      exchange.keep_alive = false;
      exchange.response = ErrorResponse(streamed);
      co_return;
    }
    BodySink* raw = sink.get();
    exchange.response =
        co_await Handle([raw, &request]() { return raw->Finish(request); }, request.request_id);
  }

  // Writes the body into `sink` as it arrives; what ends it early: a read that
  // fails or stalls, the sink's refusal, or a stop whose grace period the
  // body outlasts.
  asio::awaitable<Status> StreamBody(SessionState& session, const Exchange& exchange,
                                     HeadParser& head, BodySink& sink) {
    bhttp::request_parser<bhttp::buffer_body> parser(std::move(head));
    // Beast reads only into the buffer's spare capacity, which after a
    // header is a few hundred bytes: without room, a large body would
    // arrive in ~1 KiB reads (one syscall, timer and handoff each).
    session.buffer.reserve(kBodyChunkBytes);
    parser.body_limit(std::numeric_limits<uint64_t>::max());
    if (exchange.has_body) {
      co_await MaybeContinue(session.stream, exchange.request, exchange.version);
    }
    std::vector<char>& chunk = session.body_chunk;
    if (chunk.empty()) chunk.resize(kBodyChunkBytes);
    IdleWatchdog watchdog(session.stream,
                          std::chrono::seconds(options_.body_chunk_timeout_seconds));
    boost::system::error_code ec;
    while (!parser.is_done()) {
      parser.get().body().data = chunk.data();
      parser.get().body().size = chunk.size();
      co_await bhttp::async_read_some(session.stream, session.buffer, parser,
                                      asio::redirect_error(asio::use_awaitable, ec));
      if (watchdog.Fired()) ec = beast::error::timeout;
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) co_return BodyReadError(ec);
      const size_t got = chunk.size() - parser.get().body().size;
      watchdog.Progress(got);
      if (got > 0) {
        Status written = sink.Write(std::string_view(chunk.data(), got));
        if (!written.ok()) co_return written;
      }
      if (stopping_ && !parser.is_done() &&
          std::chrono::steady_clock::now() - exchange.started >
              std::chrono::seconds(options_.shutdown_grace_seconds)) {
        co_return Status::Unavailable("server is shutting down");
      }
    }
    co_return Status::Ok();
  }

  // The answer `handler` gives on the handler pool, or its error's answer.
  asio::awaitable<Response> Handle(std::function<Result<Response>()> handler,
                                   std::string request_id) {
    Result<Response> result = co_await OnPool<Response>(std::move(handler), std::move(request_id));
    co_return AnswerOf(std::move(result));
  }

  // A handler's answer, or its error's.
  static Response AnswerOf(Result<Response> result) {
    return result.ok() ? std::move(result).value() : ErrorResponse(result.status());
  }

  // Writes the answer; true when the connection stays open for the next request.
  asio::awaitable<bool> Respond(SessionState& session, Exchange& exchange) {
    if (exchange.request.method == "HEAD") exchange.response.omit_body = true;
    if (stopping_) exchange.keep_alive = false;
    const bool written =
        co_await WriteResponse(session.stream, exchange.request, exchange.response,
                               exchange.version, exchange.keep_alive, exchange.started);
    co_return written ? exchange.keep_alive : false;
  }

  // Ends the connection, draining a body left unread first.
  asio::awaitable<void> Close(SessionState& session) {
    if (session.drain_before_close) co_await DrainBeforeClose(session.stream);
    boost::system::error_code ec;
    session.stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    session.stream.socket().close(ec);
  }

  // A body left unread when the answer went out: the client may still be
  // sending it, and closing at once resets the connection, and with it the
  // answer waiting in the client's buffer (it saw "broken pipe", never the
  // 401). So the sending side closes first, and what still arrives is read
  // and dropped, for at most 2 s or 2 MiB.
  asio::awaitable<void> DrainBeforeClose(beast::tcp_stream& stream) {
    boost::system::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    std::array<char, 16 * 1024> scratch;
    size_t drained = 0;
    stream.expires_after(std::chrono::seconds(2));
    while (drained < (size_t{2} << 20)) {
      size_t got = co_await stream.async_read_some(asio::buffer(scratch),
                                                   asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      drained += got;
    }
  }

  static Status BodyReadError(const boost::system::error_code& ec) {
    if (ec == beast::error::timeout) {
      return Status::Timeout("request body not received in time");
    }
    if (ec == bhttp::error::body_limit) {
      return Status::PayloadTooLarge("request body too large");
    }
    if (ec == bhttp::error::buffer_overflow) {
      return Status::PayloadTooLarge("request body has a chunk header or trailer that is too long");
    }
    if (ec == bhttp::error::partial_message || ec == asio::error::eof ||
        ec == bhttp::error::end_of_stream) {
      return Status::InvalidArgument("request body ended before its declared length");
    }
    return Status::InvalidArgument("error reading request body: " + ec.message());
  }

  // An HTTP/1.1 request without Host, or with two, or with one that is not a
  // host name, is a 400 (RFC 9112 §3.2); absolute URLs are built from it. So
  // are two Authorization or Content-Type fields: whichever one a reader took
  // would decide who the caller is or how the body reads, and a proxy may
  // have taken the other. The health probes are answered without a Host: a
  // load balancer's check written as a bare HTTP/1.1 request would otherwise
  // take every node out.
  static Status CheckFields(const Request& request, unsigned version) {
    const Headers& headers = request.headers;
    std::optional<std::string> host = headers.Get("Host");
    const bool probe = request.path == "/healthz" || request.path == "/readyz";
    if (!host && version >= 11 && !probe) {
      return Status::InvalidArgument("an HTTP/1.1 request needs a Host field");
    }
    // (Not for the probes, whose answers hold no URL, as they take no Host.)
    if (host && !host->empty() && !probe && !IsSafeHost(*host)) {
      return Status::InvalidArgument("the Host field is not a host name (and port)");
    }
    for (std::string_view name : {"Host", "Authorization", "Content-Type"}) {
      size_t count = headers.GetAll(name).size();
      if (count > 1) {
        return Status::InvalidArgument("the request has " + std::to_string(count) + " " +
                                       std::string(name) + " fields; send one");
      }
    }
    return Status::Ok();
  }

  // For an absolute-form target ("http://host:port/p?q"): leaves the origin
  // form ("/p?q") in `target` and returns the authority ("host:port").
  static std::optional<std::string> TakeAbsoluteForm(std::string& target) {
    size_t scheme_end = 0;
    for (std::string_view scheme : {"http://", "https://"}) {
      if (target.size() >= scheme.size() &&
          beast::iequals(std::string_view(target).substr(0, scheme.size()), scheme)) {
        scheme_end = scheme.size();
      }
    }
    if (scheme_end == 0) return std::nullopt;
    const size_t path_start = target.find_first_of("/?", scheme_end);
    std::string authority = target.substr(scheme_end, path_start - scheme_end);
    std::string origin = path_start == std::string::npos ? "/" : target.substr(path_start);
    if (origin.front() == '?') origin.insert(origin.begin(), '/');
    target = std::move(origin);
    return authority;
  }

  static Status ParseTarget(Request& request) {
    std::string_view target = request.target;
    if (target.empty() || target.front() != '/') {
      return Status::InvalidArgument("request target must be an absolute path");
    }
    size_t question = target.find('?');
    ASSIGN_OR_RETURN(request.path, PercentDecode(target.substr(0, question), false));
    if (question != std::string_view::npos) {
      ASSIGN_OR_RETURN(request.query, ParseQuery(target.substr(question + 1)));
    }
    return Status::Ok();
  }

  asio::awaitable<void> MaybeContinue(beast::tcp_stream& stream, const Request& request,
                                      unsigned version) {
    std::optional<std::string> expect = request.headers.Get("Expect");
    if (!expect || version < 11) co_return;
    if (!beast::iequals(*expect, "100-continue")) co_return;
    bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, version};
    boost::system::error_code ec;
    stream.expires_after(std::chrono::seconds(options_.write_timeout_seconds));
    co_await bhttp::async_write(stream, cont, asio::redirect_error(asio::use_awaitable, ec));
  }

  template <typename Message>
  static void CopyHeaders(Message& message, const Response& response, const Request& request,
                          bool keep_alive) {
    for (const auto& [name, value] : response.headers.fields()) {
      message.insert(name, value);
    }
    message.set(bhttp::field::server, "vidmill");
    message.set("X-Request-Id", request.request_id.empty() ? NewRequestId() : request.request_id);
    message.keep_alive(keep_alive);
  }

  // Writes the response; returns false when the connection failed.
  asio::awaitable<bool> WriteResponse(beast::tcp_stream& stream, const Request& request,
                                      Response& response, unsigned version, bool keep_alive,
                                      std::chrono::steady_clock::time_point started) {
    boost::system::error_code ec;
    uint64_t length = response.BodyLength();
    auto status = static_cast<bhttp::status>(response.status);
    bool bodiless_status = response.status == 204 || response.status == 304;
    if (response.omit_body || bodiless_status || response.pieces.empty()) {
      if (response.omit_body || bodiless_status) {
        bhttp::response<bhttp::empty_body> message{status, version};
        CopyHeaders(message, response, request, keep_alive);
        if (!bodiless_status) message.content_length(length);
        stream.expires_after(std::chrono::seconds(options_.write_timeout_seconds));
        co_await bhttp::async_write(stream, message, asio::redirect_error(asio::use_awaitable, ec));
      } else {
        bhttp::response<bhttp::string_body> message{status, version};
        CopyHeaders(message, response, request, keep_alive);
        message.body() = std::move(response.body);
        message.prepare_payload();
        stream.expires_after(std::chrono::seconds(options_.write_timeout_seconds));
        co_await bhttp::async_write(stream, message, asio::redirect_error(asio::use_awaitable, ec));
      }
    } else {
      bhttp::response<bhttp::buffer_body> message{status, version};
      CopyHeaders(message, response, request, keep_alive);
      message.content_length(length);
      message.body().data = nullptr;
      message.body().more = true;
      bhttp::response_serializer<bhttp::buffer_body> serializer{message};
      stream.expires_after(std::chrono::seconds(options_.write_timeout_seconds));
      co_await bhttp::async_write_header(stream, serializer,
                                         asio::redirect_error(asio::use_awaitable, ec));
      std::vector<char> file_chunk;
      for (BodyPiece& piece : response.pieces) {
        if (ec) break;
        if (!piece.file) {
          ec = co_await WriteChunk(stream, serializer, message, piece.literal.data(),
                                   piece.literal.size());
          continue;
        }
        if (file_chunk.empty()) file_chunk.resize(kFileChunkBytes);
        uint64_t offset = piece.offset;
        uint64_t remaining = piece.length;
        while (remaining > 0 && !ec) {
          size_t want = static_cast<size_t>(std::min<uint64_t>(remaining, file_chunk.size()));
          Result<size_t> got = piece.file->ReadAt(offset, file_chunk.data(), want);
          if (!got.ok() || *got == 0) {
            // The length was promised in the header: all we can do is cut the
            // connection so the client sees a short body, never wrong bytes.
            LogError("request " + request.request_id + ": file read failed mid-response: " +
                     (got.ok() ? std::string("unexpected end of file") : got.status().ToString()));
            ec = asio::error::broken_pipe;
            break;
          }
          ec = co_await WriteChunk(stream, serializer, message, file_chunk.data(), *got);
          offset += *got;
          remaining -= *got;
        }
      }
      if (!ec) {
        message.body().data = nullptr;
        message.body().size = 0;
        message.body().more = false;
        stream.expires_after(std::chrono::seconds(options_.write_timeout_seconds));
        co_await bhttp::async_write(stream, serializer,
                                    asio::redirect_error(asio::use_awaitable, ec));
      }
    }
    if (options_.access_log) {
      auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::steady_clock::now() - started)
                        .count();
      char duration[32];
      std::snprintf(duration, sizeof(duration), "%.3fms", static_cast<double>(micros) / 1000.0);
      LogInfo("http " + (request.method.empty() ? std::string("-") : request.method) + " " +
              (request.path.empty() ? std::string("-") : EscapeForLog(request.path)) + " " +
              std::to_string(response.status) + " " +
              std::to_string(response.omit_body ? 0 : length) + "B " + duration +
              " id=" + request.request_id + " client=" + request.remote_address +
              (request.remote_address != request.peer_address ? " peer=" + request.peer_address
                                                              : std::string()) +
              (ec ? " write-error=" + ec.message() : std::string()));
    }
    co_return !ec;
  }

  asio::awaitable<boost::system::error_code> WriteChunk(
      beast::tcp_stream& stream, bhttp::response_serializer<bhttp::buffer_body>& serializer,
      bhttp::response<bhttp::buffer_body>& message, const char* data, size_t size) {
    boost::system::error_code ec;
    message.body().data = const_cast<char*>(data);
    message.body().size = size;
    message.body().more = true;
    stream.expires_after(std::chrono::seconds(options_.write_timeout_seconds));
    co_await bhttp::async_write(stream, serializer, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == bhttp::error::need_buffer) ec = {};
    co_return ec;
  }

  ServerOptions options_;
  std::atomic<const Router*> router_;
  asio::io_context ioc_;
  asio::thread_pool pool_;
  tcp::acceptor acceptor_;
  asio::steady_timer shutdown_timer_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> live_sessions_{0};
  ClientTally bodies_;       // bytes of buffered bodies being received
  ClientTally connections_;  // open connections (AdmitClient)
  std::chrono::steady_clock::time_point last_refusal_warning_{};
  int64_t refused_since_warning_ = 0;
  std::chrono::steady_clock::time_point last_accept_warning_{};
  int bound_port_ = 0;
  std::string fallback_base_url_;
  std::mutex idle_mu_;
  std::set<std::weak_ptr<Connection>, std::owner_less<std::weak_ptr<Connection>>> idle_;
};

Server::Server(ServerOptions options, const Router* router)
    : impl_(std::make_unique<Impl>(std::move(options), router)) {}
Server::~Server() = default;
namespace {

// A host whose every dot-separated part is a number as inet_aton reads one
// (decimal, 0x hexadecimal, 0 octal), so no name: "1.2.3", "0x7f.1".
bool LooksNumeric(std::string_view host) {
  size_t start = 0;
  while (start <= host.size()) {
    size_t end = host.find('.', start);
    if (end == std::string_view::npos) end = host.size();
    std::string_view part = host.substr(start, end - start);
    if (part.size() > 1 && part[0] == '0' && (part[1] == 'x' || part[1] == 'X')) {
      if (part.substr(2).find_first_not_of("0123456789abcdefABCDEF") != std::string_view::npos) {
        return false;
      }
    } else if (part.empty() || part.find_first_not_of("0123456789") != std::string_view::npos) {
      return false;
    }
    start = end + 1;
  }
  return true;
}

}  // namespace

Result<asio::ip::tcp::endpoint> ResolveListen(std::string_view listen) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos) {
    return Status::InvalidArgument("--listen must be HOST:PORT, got '" + std::string(listen) + "'");
  }
  // The port in full: "8o80" must be refused, not listen on a port of the system's choice.
  const std::string port_text(listen.substr(colon + 1));
  int port = -1;
  auto [end, parsed] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (parsed != std::errc() || end != port_text.data() + port_text.size() || port < 0 ||
      port > 65535) {
    return Status::InvalidArgument("--listen: the port must be 0 to 65535, got '" + port_text +
                                   "'");
  }
  // The host: an IP address ("[v6]" bracketed), empty (every interface), or a
  // name this machine resolves (its first address, IPv4 first).
  std::string host(listen.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find_first_of(":[]") != std::string::npos) {
    return Status::InvalidArgument("--listen: '" + host +
                                   "' is not a host; write an IPv6 address in brackets, "
                                   "[::1]:8080");
  }
  boost::system::error_code ec;
  asio::ip::address address = asio::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  if (ec && !host.empty() && LooksNumeric(host)) {
    // "1.2.3" or "0x7f.1" is no address; the resolver would read them by
    // inet_aton's rules, as 1.2.0.3 and 127.0.0.1.
    return Status::InvalidArgument("--listen: '" + host +
                                   "' is not an IPv4 address (four decimal numbers 0 to 255 "
                                   "without leading zeros, 127.0.0.1)");
  }
  if (ec) {
    asio::io_context io;
    tcp::resolver resolver(io);
    auto found = resolver.resolve(host, port_text, tcp::resolver::numeric_service, ec);
    if (ec || found.empty()) {
      return Status::InvalidArgument("--listen: '" + host +
                                     "' is neither an IP address nor a host name this machine "
                                     "resolves" +
                                     (ec ? ": " + ec.message() : std::string()));
    }
    address = found.begin()->endpoint().address();
    for (const auto& entry : found) {
      if (entry.endpoint().address().is_v4()) {
        address = entry.endpoint().address();
        break;
      }
    }
  }
  return tcp::endpoint(address, static_cast<uint16_t>(port));
}

Status CheckListenSyntax(std::string_view listen) { return ResolveListen(listen).status(); }

Result<int> Server::Start() { return impl_->Start(); }
std::string Server::ListeningUrl() const { return impl_->listening_url(); }
void Server::Run() { impl_->Run(); }
void Server::Stop() { impl_->Stop(); }
void Server::SetRouter(const Router* router) { impl_->SetRouter(router); }

}  // namespace vidmill::http
