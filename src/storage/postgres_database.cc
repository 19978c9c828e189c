#include "storage/postgres_database.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/log.h"

namespace vidmill::storage {

// Quoting rules follow PostgreSQL's lexer (scan.l): '' doubles a quote inside
// '…' and "…", E'…' also takes backslash escapes, $tag$…$tag$ ends only at the
// same tag, and /* */ comments nest.
std::string RewritePlaceholders(std::string_view sql, int* placeholder_count) {
  auto is_ident = [](char c) {
    unsigned char u = static_cast<unsigned char>(c);
    return std::isalnum(u) || c == '_' || c == '$' || u >= 0x80;
  };
  std::string out;
  out.reserve(sql.size() + 16);
  int count = 0;
  size_t pos = 0;
  const size_t size = sql.size();
  while (pos < size) {
    char c = sql[pos];
    size_t end = pos + 1;  // one past the token copied verbatim
    if (c == '\'' || c == '"') {
      bool backslash_escapes = c == '\'' && pos > 0 && (sql[pos - 1] == 'E' || sql[pos - 1] == 'e') &&
                               (pos < 2 || !is_ident(sql[pos - 2]));
      while (end < size) {
        if (backslash_escapes && sql[end] == '\\') {
          end += 2;
        } else if (sql[end] == c) {
          if (end + 1 < size && sql[end + 1] == c) {
            end += 2;
          } else {
            ++end;
            break;
          }
        } else {
          ++end;
        }
      }
    } else if (c == '-' && pos + 1 < size && sql[pos + 1] == '-') {
      end = sql.find('\n', pos);
      end = end == std::string_view::npos ? size : end + 1;
    } else if (c == '/' && pos + 1 < size && sql[pos + 1] == '*') {
      int depth = 1;
      end = pos + 2;
      while (end < size && depth > 0) {
        if (sql.compare(end, 2, "/*") == 0) {
          ++depth;
          end += 2;
        } else if (sql.compare(end, 2, "*/") == 0) {
          --depth;
          end += 2;
        } else {
          ++end;
        }
      }
    } else if (c == '$' && (pos == 0 || !is_ident(sql[pos - 1]))) {
      // $tag$ or $$ opens a dollar-quoted string; $1 is a parameter, left alone.
      size_t tag_end = pos + 1;
      while (tag_end < size && is_ident(sql[tag_end]) && sql[tag_end] != '$') ++tag_end;
      bool opens = tag_end < size && sql[tag_end] == '$' &&
                   (tag_end == pos + 1 || !std::isdigit(static_cast<unsigned char>(sql[pos + 1])));
      if (opens) {
        std::string_view tag = sql.substr(pos, tag_end - pos + 1);
        size_t close = sql.find(tag, tag_end + 1);
        end = close == std::string_view::npos ? size : close + tag.size();
      }
    } else if (c == '?') {
      out += '$';
      out += std::to_string(++count);
      pos = end;
      continue;
    }
    end = std::min(end, size);
    out.append(sql.substr(pos, end - pos));
    pos = end;
  }
  *placeholder_count = count;
  return out;
}

std::string TakeUrlParameter(std::string_view url, std::string_view key, std::string* value) {
  value->clear();
  size_t query = url.find('?');
  if (query == std::string_view::npos) return std::string(url);
  std::string out(url.substr(0, query));
  std::string_view rest = url.substr(query + 1);
  char separator = '?';
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view item = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (item.substr(0, eq) == key) {
      *value = eq == std::string_view::npos ? "" : std::string(item.substr(eq + 1));
      continue;
    }
    out += separator;
    out += item;
    separator = '&';
  }
  return out;
}

namespace {

struct PgConnDeleter {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
using PgConnPtr = std::unique_ptr<PGconn, PgConnDeleter>;

struct PgResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using PgResultPtr = std::unique_ptr<PGresult, PgResultDeleter>;

struct ConninfoDeleter {
  void operator()(PQconninfoOption* options) const { PQconninfoFree(options); }
};
struct PqFreeDeleter {
  void operator()(char* text) const { PQfreemem(text); }
};

// Type OIDs from pg_type.dat (stable across releases).
constexpr Oid kBoolOid = 16;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kTextOid = 25;
constexpr Oid kOidOid = 26;
constexpr Oid kFloat4Oid = 700;
constexpr Oid kFloat8Oid = 701;
constexpr Oid kNumericOid = 1700;

constexpr int kDefaultPoolSize = 8;
// How long a statement may wait for the server's answer by default (the
// URL's answer_timeout, in seconds, overrides it). A server that stops
// answering without closing the connection (frozen, its host stalled) would
// otherwise hold the caller — an API thread, a worker's heartbeat — until it
// wakes up (144 s in a test), and a node could not even stop. Past this the
// connection is dropped as lost: 503 for requests, a retry for jobs.
constexpr std::chrono::seconds kDefaultAnswerTimeout{30};
constexpr int kMaxPreparedPerConnection = 512;
constexpr int kMaxContentionAttempts = 10;
constexpr int kMaxReconnectRetries = 2;
constexpr auto kAcquireTimeout = std::chrono::seconds(30);
constexpr auto kConnectLogInterval = std::chrono::seconds(5);

// libpq messages end with a newline and may span lines; one line reads better
// in a log and in an API error.
std::string OneLine(std::string_view text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (c == '\n' || c == '\t' || c == '\r' || c == ' ') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

// Why a connection libpq could not make will not be made by waiting:
// InvalidArgument for a connection parameter libpq cannot read (a port that
// is not a number: the URL is wrong), PermissionDenied for the server refusing
// the credentials, the role or the database name; OK when it may be an
// outage. libpq gives no SQLSTATE for a failed connection, so its message is
// read (the server's, in English unless its lc_messages says otherwise; in
// another language the node just keeps retrying, as for an outage).
Status WhyWaitingWillNotHelp(PGconn* conn) {
  const std::string message = OneLine(PQerrorMessage(conn));
  for (std::string_view sign : {"invalid integer value", "invalid port number",
                                "invalid sslmode value", "invalid connection option"}) {
    if (message.find(sign) != std::string::npos) {
      return Status::InvalidArgument("invalid database URL: " + message);
    }
  }
  if (PQconnectionNeedsPassword(conn)) {  // none was given
    return Status::PermissionDenied("the database refused the connection: " + message);
  }
  for (std::string_view sign :
       {"authentication failed", "no pg_hba.conf entry", "does not exist"}) {
    if (message.find(sign) != std::string::npos) {
      return Status::PermissionDenied("the database refused the connection: " + message);
    }
  }
  return Status::Ok();
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// Statements worth preparing once per connection: DML, not DDL (a prepared
// plan would go stale if the schema changed under it).
bool IsCacheable(std::string_view sql) {
  size_t start = 0;
  while (start < sql.size() && std::isspace(static_cast<unsigned char>(sql[start]))) ++start;
  std::string word;
  while (start < sql.size() && std::isalpha(static_cast<unsigned char>(sql[start])) && word.size() < 8) {
    word += static_cast<char>(std::toupper(static_cast<unsigned char>(sql[start++])));
  }
  return word == "SELECT" || word == "INSERT" || word == "UPDATE" || word == "DELETE" ||
         word == "WITH";
}

// One connection with its prepared statements. Between Acquire and Release it
// belongs to one thread; it also records what went wrong during that checkout
// so the database can decide whether a retry is safe.
class PgConnection final : public Session {
 public:
  PgConnection(PgConnPtr conn, std::chrono::seconds answer_timeout)
      : conn_(std::move(conn)), answer_timeout_(answer_timeout) {}

  Dialect dialect() const override { return Dialect::kPostgres; }

  Result<Rows> Query(std::string_view sql, const std::vector<Value>& params) override {
    ASSIGN_OR_RETURN(PgResultPtr result, Exec(sql, params));
    return ReadRows(result.get());
  }

  Result<int64_t> Execute(std::string_view sql, const std::vector<Value>& params) override {
    ASSIGN_OR_RETURN(PgResultPtr result, Exec(sql, params));
    const char* tuples = PQcmdTuples(result.get());
    return static_cast<int64_t>(tuples[0] == '\0' ? 0 : std::strtoll(tuples, nullptr, 10));
  }

  // A parameterless command (BEGIN, COMMIT, ROLLBACK) by the simple protocol.
  Status Command(const char* sql) {
    if (lost_) return Status::Unavailable("database unavailable: connection lost");
    ++statements_sent_;
    PgResultPtr result = Await(PQsendQuery(conn_.get(), sql) == 1);
    if (result && PQresultStatus(result.get()) == PGRES_COMMAND_OK) {
      return Status::Ok();
    }
    return Fail(result.get(), sql);
  }

  void BeginCheckout() {
    statements_sent_ = 0;
    statements_ok_ = 0;
    lost_at_ = 0;
    retryable_at_ = 0;
    first_failure_ = Status::Ok();
  }

  // The connection is gone (or unusable) and must be discarded.
  bool lost() const { return lost_ || PQstatus(conn_.get()) != CONNECTION_OK; }
  // The 1-based statement of this checkout that lost the connection / failed
  // with a serialization failure or deadlock; 0 when none did.
  int lost_at() const { return lost_at_; }
  int retryable_at() const { return retryable_at_; }
  int statements_ok() const { return statements_ok_; }
  const Status& first_failure() const { return first_failure_; }
  PGTransactionStatusType transaction_status() const {
    return PQtransactionStatus(conn_.get());
  }

 private:
  // The answer to the command just sent (`sent`: libpq took it), as PQexec
  // gives it (the last result), waiting at most answer_timeout_; null when
  // there is none (Fail reads why). Past the deadline the connection is lost.
  PgResultPtr Await(bool sent) {
    if (!sent) return nullptr;
    const auto deadline = std::chrono::steady_clock::now() + answer_timeout_;
    auto wait_for = [&](short events) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd fd{PQsocket(conn_.get()), events, 0};
      int ready;
      do {
        ready = ::poll(&fd, 1, static_cast<int>(left.count()));
      } while (ready < 0 && errno == EINTR);
      return ready != 0;  // an error is left to libpq to report
    };
    int flushed;
    while ((flushed = PQflush(conn_.get())) == 1) {
      if (!wait_for(POLLOUT | POLLIN)) return TimedOut();
      if (PQconsumeInput(conn_.get()) == 0) return nullptr;
    }
    if (flushed < 0) return nullptr;
    PgResultPtr last;
    while (true) {
      while (PQisBusy(conn_.get())) {
        if (!wait_for(POLLIN)) return TimedOut();
        if (PQconsumeInput(conn_.get()) == 0) return nullptr;
      }
      PGresult* next = PQgetResult(conn_.get());
      if (next == nullptr) return last;
      last.reset(next);
    }
  }

  PgResultPtr TimedOut() {
    timed_out_ = true;
    return nullptr;
  }

  Result<PgResultPtr> Exec(std::string_view sql, const std::vector<Value>& params) {
    if (lost_) return Status::Unavailable("database unavailable: connection lost");
    int count = 0;
    std::string statement = RewritePlaceholders(sql, &count);
    if (static_cast<size_t>(count) != params.size()) {
      return Status::Internal("statement has " + std::to_string(count) + " placeholders but " +
                              std::to_string(params.size()) + " parameters were given: " +
                              OneLine(sql));
    }
    std::vector<Oid> types(params.size(), 0);
    std::vector<std::string> numbers(params.size());
    std::vector<const char*> values(params.size(), nullptr);
    std::string key = statement;
    key += '\x1f';
    for (size_t idx = 0; idx < params.size(); ++idx) {
      const Value& value = params[idx];
      if (auto* integer = std::get_if<int64_t>(&value)) {
        types[idx] = kInt8Oid;
        numbers[idx] = std::to_string(*integer);
        values[idx] = numbers[idx].c_str();
        key += 'i';
      } else if (auto* real = std::get_if<double>(&value)) {
        types[idx] = kFloat8Oid;
        char buffer[64];
        auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), *real);
        numbers[idx].assign(buffer, ec == std::errc() ? end : buffer);
        values[idx] = numbers[idx].c_str();
        key += 'd';
      } else if (auto* text = std::get_if<std::string>(&value)) {
        if (text->find('\0') != std::string::npos) {
          return Status::InvalidArgument("text contains a NUL byte, which PostgreSQL cannot store");
        }
        types[idx] = kTextOid;
        values[idx] = text->c_str();
        key += 't';
      } else {
        key += 'n';
      }
    }
    const int nparams = static_cast<int>(params.size());
    ++statements_sent_;
    PgResultPtr result;
    auto cached = prepared_.find(key);
    if (cached == prepared_.end() && IsCacheable(statement) &&
        prepared_.size() < kMaxPreparedPerConnection) {
      std::string name = "vidmill_" + std::to_string(prepared_.size() + 1);
      PgResultPtr prepared = Await(
          PQsendPrepare(conn_.get(), name.c_str(), statement.c_str(), nparams, types.data()) == 1);
      if (!prepared || PQresultStatus(prepared.get()) != PGRES_COMMAND_OK) {
        return Fail(prepared.get(), "preparing statement");
      }
      cached = prepared_.emplace(key, std::move(name)).first;
    }
    if (cached != prepared_.end()) {
      result = Await(PQsendQueryPrepared(conn_.get(), cached->second.c_str(), nparams,
                                         values.data(), nullptr, nullptr, 0) == 1);
    } else {
      result = Await(PQsendQueryParams(conn_.get(), statement.c_str(), nparams, types.data(),
                                       values.data(), nullptr, nullptr, 0) == 1);
    }
    ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
      ++statements_ok_;
      return result;
    }
    if (cached != prepared_.end()) {
      // A prepared plan can go stale ("cached plan must not change result
      // type") if the schema changed; prepare afresh next time.
      const char* state = result ? PQresultErrorField(result.get(), PG_DIAG_SQLSTATE) : nullptr;
      if (state != nullptr && (std::string_view(state) == "0A000" ||
                               std::string_view(state) == "26000")) {
        prepared_.erase(cached);
      }
    }
    return Fail(result.get(), "running statement");
  }

  static Rows ReadRows(const PGresult* result) {
    const int row_count = PQntuples(result);
    const int column_count = PQnfields(result);
    std::vector<Oid> types(column_count);
    for (int column = 0; column < column_count; ++column) {
      types[column] = PQftype(result, column);
    }
    Rows rows;
    rows.reserve(row_count);
    for (int row = 0; row < row_count; ++row) {
      std::vector<Value> values;
      values.reserve(column_count);
      for (int column = 0; column < column_count; ++column) {
        if (PQgetisnull(result, row, column)) {
          values.emplace_back(std::monostate{});
          continue;
        }
        const char* text = PQgetvalue(result, row, column);
        const int length = PQgetlength(result, row, column);
        switch (types[column]) {
          case kInt2Oid:
          case kInt4Oid:
          case kInt8Oid:
          case kOidOid: {
            int64_t number = 0;
            std::from_chars(text, text + length, number);
            values.emplace_back(number);
            break;
          }
          case kFloat4Oid:
          case kFloat8Oid:
          case kNumericOid: {
            double number = 0;
            auto [end, ec] = std::from_chars(text, text + length, number);
            if (ec != std::errc()) number = std::strtod(text, nullptr);
            values.emplace_back(number);
            break;
          }
          case kBoolOid:
            values.emplace_back(int64_t{text[0] == 't' ? 1 : 0});
            break;
          default:
            values.emplace_back(std::string(text, length));
        }
      }
      rows.emplace_back(std::move(values));
    }
    return rows;
  }

  // Maps a failed result (or a missing one: libpq could not send or read) to a
  // Status and records it for the retry decisions.
  Status Fail(const PGresult* result, std::string_view what) {
    const char* state_field = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
    std::string_view state = state_field ? state_field : "";
    const char* primary = result ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
    std::string message = OneLine(primary ? primary : PQerrorMessage(conn_.get()));
    if (timed_out_) {
      message = "no answer from the server in " + std::to_string(answer_timeout_.count()) + " s";
    }
    if (message.empty()) message = "no answer from the server";

    bool connection_lost = timed_out_ || PQstatus(conn_.get()) != CONNECTION_OK ||
                           (StartsWith(state, "08") && state != "08P01") || state == "57P01" ||
                           state == "57P02" || state == "57P03";
    Status status;
    if (connection_lost) {
      lost_ = true;
      if (lost_at_ == 0) lost_at_ = statements_sent_;
      status = Status::Unavailable("database unavailable: " + message);
    } else if (state == "40001" || state == "40P01") {
      if (retryable_at_ == 0) retryable_at_ = statements_sent_;
      status = Status::Unavailable("database busy: " + message);
    } else if (state == "55P03") {
      status = Status::Unavailable("database busy: " + message);  // lock_timeout
    } else if (StartsWith(state, "23")) {
      status = Status::Conflict(message);
    } else if (state == "53100") {
      status = Status::Unavailable(std::string(kDiskFullPrefix) + message);
    } else if (StartsWith(state, "53")) {
      status = Status::Unavailable("database unavailable: " + message);
    } else if (StartsWith(state, "22")) {
      status = Status::InvalidArgument(message);
    } else {
      status = Status::Internal(std::string(what) + ": " + message +
                                (state.empty() ? "" : " (SQLSTATE " + std::string(state) + ")"));
    }
    if (first_failure_.ok()) first_failure_ = status;
    return status;
  }

  PgConnPtr conn_;
  std::unordered_map<std::string, std::string> prepared_;  // key → statement name
  bool lost_ = false;
  bool timed_out_ = false;  // an answer did not come in time (Await)
  std::chrono::seconds answer_timeout_;
  int statements_sent_ = 0;
  int statements_ok_ = 0;
  int lost_at_ = 0;
  int retryable_at_ = 0;
  Status first_failure_;
};

// Why a transaction attempt may be run again.
enum class Retry { kNo, kContention, kReconnect };

// Every session's server options. A session left idle inside a transaction
// for a minute is ended by the server: its process stalled there (stopped,
// or waiting on a hung share while it publishes a file) holds its rows'
// locks, and the reapers, which skip locked rows, never took its job over,
// however long its lease had expired (audit 33 F2). Vidmill's transactions
// send their statements back to back; the slow work (copying, fsync of
// files) is done before they begin. Then the `options` the URL gives, if
// any (a setting of its own wins): given before the URL, this one had been
// replaced by them (audit 35 F4).
std::string SessionOptions(const std::string& conninfo) {
  std::string options = "-c idle_in_transaction_session_timeout=60s";
  char* error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(conninfo.c_str(), &error);
  if (error != nullptr) PQfreemem(error);
  if (parsed == nullptr) return options;  // Connect reports what is wrong
  for (const PQconninfoOption* option = parsed; option->keyword != nullptr; ++option) {
    if (std::string_view(option->keyword) == "options" && option->val != nullptr &&
        option->val[0] != '\0') {
      options += std::string(" ") + option->val;
    }
  }
  PQconninfoFree(parsed);
  return options;
}

class PostgresDatabase final : public Database {
 public:
  PostgresDatabase(std::string conninfo, int max_connections, std::chrono::seconds answer_timeout)
      : conninfo_(std::move(conninfo)),
        options_(SessionOptions(conninfo_)),
        max_connections_(max_connections),
        answer_timeout_(answer_timeout) {}

  Dialect dialect() const override { return Dialect::kPostgres; }

  Status Transaction(const std::function<Status(Session&)>& fn) override {
    Status status;
    int reconnects = 0;
    for (int attempt = 0; attempt < kMaxContentionAttempts; ++attempt) {
      bool reused = false;
      ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> conn, Acquire(&reused));
      Retry retry = Retry::kNo;
      status = TransactionOnce(*conn, fn, &retry);
      Release(std::move(conn));
      if (retry == Retry::kNo) return status;
      if (retry == Retry::kReconnect) {
        if (++reconnects > kMaxReconnectRetries) return status;
        continue;
      }
      Backoff(attempt);
    }
    return status;
  }

  Status Run(const std::function<Status(Session&)>& fn) override {
    Status status;
    int reconnects = 0;
    for (int attempt = 0; attempt < kMaxContentionAttempts; ++attempt) {
      bool reused = false;
      ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> conn, Acquire(&reused));
      conn->BeginCheckout();
      status = fn(*conn);
      // Autocommit: only a failure of the very first statement, with nothing
      // else succeeding, guarantees that nothing was applied.
      bool nothing_applied = conn->statements_ok() == 0;
      bool stale = reused && conn->lost_at() == 1 && nothing_applied;
      bool contention = conn->retryable_at() == 1 && nothing_applied;
      Release(std::move(conn));
      if (stale && reconnects++ < 1) continue;
      if (!contention) return status;
      Backoff(attempt);
    }
    return status;
  }

  Status Ping() override {
    return Run([](Session& session) { return session.Query("SELECT 1", {}).status(); });
  }

  // Why the last connection that failed will not succeed by waiting
  // (WhyWaitingWillNotHelp), else OK.
  Status ConfigurationRefusal() {
    std::lock_guard<std::mutex> lock(mu_);
    return refusal_;
  }

  Result<std::unique_ptr<PgConnection>> Connect() {
    // Defaults first: the URL's own parameters override them (expand_dbname).
    // `options` comes after the URL and holds its own (SessionOptions).
    const char* keys[] = {"connect_timeout",  "client_encoding",
                          "application_name", "keepalives",
                          "keepalives_idle",  "keepalives_interval",
                          "keepalives_count", "dbname",
                          "options",          nullptr};
    const char* values[] = {
        "5", "UTF8", "vidmill", "1", "30", "10", "3", conninfo_.c_str(), options_.c_str(), nullptr};
    PgConnPtr conn(PQconnectdbParams(keys, values, /*expand_dbname=*/1));
    if (!conn) {
      return Status::Unavailable("database unavailable: out of memory connecting");
    }
    if (PQstatus(conn.get()) != CONNECTION_OK) {
      // libpq's reason names the host, port and user: for the operator's log,
      // not for API clients (the Status message becomes the 503's body).
      // Logged at most every few seconds, however many requests fail meanwhile.
      auto now = std::chrono::steady_clock::now().time_since_epoch().count();
      auto last = last_connect_log_.load();
      auto interval = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                          kConnectLogInterval)
                          .count();
      if (now - last >= interval && last_connect_log_.compare_exchange_strong(last, now)) {
        LogWarning("cannot connect to PostgreSQL: " + OneLine(PQerrorMessage(conn.get())));
      }
      if (Status refusal = WhyWaitingWillNotHelp(conn.get()); !refusal.ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        refusal_ = std::move(refusal);
      }
      return Status::Unavailable("database unavailable: cannot connect to the database server");
    }
    // Notices ("relation already exists, skipping") are not errors; libpq
    // would print them on stderr.
    PQsetNoticeProcessor(conn.get(), [](void*, const char*) {}, nullptr);
    // Statements wait for their answers with a deadline (PgConnection::Await).
    if (PQsetnonblocking(conn.get(), 1) != 0) {
      return Status::Unavailable("database unavailable: " + OneLine(PQerrorMessage(conn.get())));
    }
    return std::make_unique<PgConnection>(std::move(conn), answer_timeout_);
  }

 private:
  Status TransactionOnce(PgConnection& conn, const std::function<Status(Session&)>& fn,
                         Retry* retry) {
    conn.BeginCheckout();
    Status status = conn.Command("BEGIN ISOLATION LEVEL READ COMMITTED");
    if (!status.ok()) {
      if (conn.lost()) *retry = Retry::kReconnect;
      return status;
    }
    status = fn(conn);
    const bool aborted = conn.lost() || conn.transaction_status() == PQTRANS_INERROR;
    // When fn ignored the failed statement that aborted the transaction, report
    // that statement's error: the caller must not believe it committed.
    if (status.ok() && aborted) status = conn.first_failure();
    if (conn.lost()) {
      // The server rolls back a transaction whose connection dropped, so
      // running it again cannot apply it twice.
      *retry = Retry::kReconnect;
      return status.ok() ? Status::Unavailable("database unavailable: connection lost") : status;
    }
    if (conn.transaction_status() == PQTRANS_INERROR) {
      // A statement failed, so the server refuses the rest of the transaction
      // (COMMIT would silently roll back).
      (void)conn.Command("ROLLBACK");
      if (conn.retryable_at() != 0) *retry = Retry::kContention;
      return status;
    }
    if (!status.ok()) {
      (void)conn.Command("ROLLBACK");
      return status;
    }
    status = conn.Command("COMMIT");
    if (!status.ok()) {
      if (conn.lost()) {
        return Status::Unavailable(
            "database unavailable: connection lost during COMMIT; the transaction may or may not "
            "have been applied");
      }
      if (conn.retryable_at() != 0) *retry = Retry::kContention;
    }
    return status;
  }

  Result<std::unique_ptr<PgConnection>> Acquire(bool* reused) {
    std::unique_lock lock(mu_);
    const auto deadline = std::chrono::steady_clock::now() + kAcquireTimeout;
    while (true) {
      if (!idle_.empty()) {
        std::unique_ptr<PgConnection> conn = std::move(idle_.back());
        idle_.pop_back();
        if (!conn->lost()) {
          *reused = true;
          return conn;
        }
        --open_;
        lock.unlock();
        conn.reset();
        lock.lock();
        continue;
      }
      if (open_ < max_connections_) {
        ++open_;
        lock.unlock();
        Result<std::unique_ptr<PgConnection>> conn = Connect();
        if (!conn.ok()) {
          lock.lock();
          --open_;
          available_.notify_one();
        }
        *reused = false;
        return conn;
      }
      if (available_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
          open_ >= max_connections_) {
        return Status::Unavailable("database unavailable: all " +
                                   std::to_string(max_connections_) +
                                   " pooled connections stayed busy for " +
                                   std::to_string(kAcquireTimeout.count()) + " s");
      }
    }
  }

  void Release(std::unique_ptr<PgConnection> conn) {
    bool keep = !conn->lost();
    if (keep && conn->transaction_status() != PQTRANS_IDLE) {
      // fn left a transaction open (it ran BEGIN itself): end it.
      (void)conn->Command("ROLLBACK");
      keep = !conn->lost() && conn->transaction_status() == PQTRANS_IDLE;
    }
    std::vector<std::unique_ptr<PgConnection>> discarded;
    {
      std::lock_guard lock(mu_);
      if (keep) {
        idle_.push_back(std::move(conn));
      } else {
        --open_;
        // A lost connection usually means the server restarted: its idle
        // siblings are dead too, so reconnect them lazily instead of failing
        // on each in turn.
        open_ -= static_cast<int>(idle_.size());
        discarded = std::move(idle_);
        idle_.clear();
      }
      available_.notify_all();
    }
    // PQfinish outside the lock.
  }

  static void Backoff(int attempt) {
    thread_local std::minstd_rand random(std::random_device{}());
    int ceiling_ms = std::min(500, 5 << std::min(attempt, 7));
    std::uniform_int_distribution<int> jitter(1, ceiling_ms);
    std::this_thread::sleep_for(std::chrono::milliseconds(jitter(random)));
  }

  const std::string conninfo_;
  const std::string options_;  // the sessions' `options` (SessionOptions)
  const int max_connections_;
  std::mutex mu_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<PgConnection>> idle_;
  int open_ = 0;  // idle plus checked out
  std::chrono::seconds answer_timeout_;
  std::atomic<std::chrono::steady_clock::rep> last_connect_log_{0};  // steady ticks
  Status refusal_;  // guarded by mu_; see ConfigurationRefusal
};

}  // namespace

namespace {

// Removes Vidmill's own integer parameter `key` from `*url` (libpq does not
// know it): `fallback` when absent, InvalidArgument naming `range` when it is
// not an integer from `low` to `high`.
Result<int> TakeIntUrlParameter(std::string* url, std::string_view key, int fallback, int low,
                                int high, std::string_view range) {
  std::string text;
  *url = TakeUrlParameter(*url, key, &text);
  if (text.empty()) return fallback;
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < low || value > high) {
    return Status::InvalidArgument("invalid database URL: " + std::string(key) + " must be " +
                                   std::string(range));
  }
  return value;
}

}  // namespace

Result<std::unique_ptr<Database>> OpenPostgresDatabase(const std::string& url) {
  std::string conninfo = url;
  ASSIGN_OR_RETURN(int pool_size, TakeIntUrlParameter(&conninfo, "pool_max_conns", kDefaultPoolSize,
                                                      1, 1000, "1 to 1000"));
  ASSIGN_OR_RETURN(int answer_timeout,
                   TakeIntUrlParameter(&conninfo, "answer_timeout",
                                       static_cast<int>(kDefaultAnswerTimeout.count()), 1, 3600,
                                       "1 to 3600 (seconds)"));
  char* raw_error = nullptr;
  std::unique_ptr<PQconninfoOption, ConninfoDeleter> parsed(
      PQconninfoParse(conninfo.c_str(), &raw_error));
  std::unique_ptr<char, PqFreeDeleter> error(raw_error);
  if (!parsed) {
    return Status::InvalidArgument("invalid database URL: " +
                                   OneLine(error ? error.get() : "out of memory"));
  }
  auto db = std::make_unique<PostgresDatabase>(std::move(conninfo), pool_size,
                                               std::chrono::seconds(answer_timeout));
  if (Status ping = db->Ping(); !ping.ok()) {
    // A node waits for a database that is down (OpenDatabaseWhenUp retries
    // Unavailable), but not for one that refuses its settings: a mistyped
    // password, role or database name exits at once, saying so.
    if (Status refusal = db->ConfigurationRefusal(); !refusal.ok()) return refusal;
    return ping;
  }
  return std::unique_ptr<Database>(std::move(db));
}

}  // namespace vidmill::storage
