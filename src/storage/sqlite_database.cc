#include "storage/sqlite_database.h"

#include <sqlite3.h>

#include <chrono>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace vidmill::storage {
namespace {

struct StmtDeleter {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

struct DbDeleter {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbPtr = std::unique_ptr<sqlite3, DbDeleter>;

bool IsBusy(int rc) {
  int primary = rc & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

// A full disk or an I/O fault: the store is down for now, not a bug (503).
bool IsStorageFault(int rc) {
  int primary = rc & 0xff;
  return primary == SQLITE_FULL || primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN;
}

// A failed call's result code as a Status; `message` says what failed.
Status StatusFor(int rc, const std::string& message) {
  if (IsBusy(rc)) {
    return Status::Unavailable("database busy: " + message);
  }
  int primary = rc & 0xff;
  if (primary == SQLITE_CONSTRAINT) {
    return Status::Conflict(message);
  }
  if (primary == SQLITE_FULL) {  // often at COMMIT, where a WAL append meets it
    return Status::Unavailable(std::string(kDiskFullPrefix) + message);
  }
  if (IsStorageFault(rc)) {
    return Status::Unavailable(message);
  }
  return Status::Internal(message);
}

Status SqliteError(sqlite3* db, int rc, std::string_view what) {
  return StatusFor(rc, std::string(what) + ": " + sqlite3_errmsg(db));
}

// One open connection with its prepared-statement cache.
class Connection final : public Session {
 public:
  explicit Connection(DbPtr db) : db_(std::move(db)) {}

  Dialect dialect() const override { return Dialect::kSqlite; }

  Result<Rows> Query(std::string_view sql, const std::vector<Value>& params) override {
    Rows rows;
    RETURN_IF_ERROR(Step(sql, params, &rows));
    return rows;
  }

  Result<int64_t> Execute(std::string_view sql, const std::vector<Value>& params) override {
    RETURN_IF_ERROR(Step(sql, params, nullptr));
    return static_cast<int64_t>(sqlite3_changes(db_.get()));
  }

  Status ExecRaw(const char* sql) {
    char* error = nullptr;
    int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, &error);
    if (rc != SQLITE_OK) {
      std::string message = error ? error : "unknown error";
      sqlite3_free(error);
      return StatusFor(rc, std::string(sql) + ": " + message);
    }
    return Status::Ok();
  }

 private:
  Status Step(std::string_view sql, const std::vector<Value>& params, Rows* rows) {
    std::string key(sql);
    auto it = cache_.find(key);
    if (it == cache_.end()) {
      sqlite3_stmt* raw = nullptr;
      int rc = sqlite3_prepare_v2(db_.get(), key.c_str(), static_cast<int>(key.size()), &raw,
                                  nullptr);
      if (rc != SQLITE_OK) {
        return SqliteError(db_.get(), rc, "preparing statement");
      }
      it = cache_.emplace(key, StmtPtr(raw)).first;
    }
    sqlite3_stmt* stmt = it->second.get();
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    for (size_t i = 0; i < params.size(); ++i) {
      int index = static_cast<int>(i + 1);
      const Value& v = params[i];
      int rc = SQLITE_OK;
      if (std::holds_alternative<std::monostate>(v)) {
        rc = sqlite3_bind_null(stmt, index);
      } else if (auto* n = std::get_if<int64_t>(&v)) {
        rc = sqlite3_bind_int64(stmt, index, *n);
      } else if (auto* d = std::get_if<double>(&v)) {
        rc = sqlite3_bind_double(stmt, index, *d);
      } else {
        const std::string& s = std::get<std::string>(v);
        rc = sqlite3_bind_text64(stmt, index, s.data(), s.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
      }
      if (rc != SQLITE_OK) {
        return SqliteError(db_.get(), rc, "binding parameter");
      }
    }
    while (true) {
      int rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) {
        Status status = SqliteError(db_.get(), rc, "running statement");
        sqlite3_reset(stmt);
        return status;
      }
      if (rows == nullptr) continue;
      int columns = sqlite3_column_count(stmt);
      std::vector<Value> values;
      values.reserve(columns);
      for (int c = 0; c < columns; ++c) {
        switch (sqlite3_column_type(stmt, c)) {
          case SQLITE_NULL: values.emplace_back(std::monostate{}); break;
          case SQLITE_INTEGER: values.emplace_back(int64_t{sqlite3_column_int64(stmt, c)}); break;
          case SQLITE_FLOAT: values.emplace_back(sqlite3_column_double(stmt, c)); break;
          default: {
            const void* data = sqlite3_column_blob(stmt, c);
            int size = sqlite3_column_bytes(stmt, c);
            values.emplace_back(std::string(static_cast<const char*>(data), size));
          }
        }
      }
      rows->emplace_back(std::move(values));
    }
    sqlite3_reset(stmt);
    return Status::Ok();
  }

  DbPtr db_;
  std::unordered_map<std::string, StmtPtr> cache_;
};

class SqliteDatabase final : public Database {
 public:
  explicit SqliteDatabase(std::string path) : path_(std::move(path)) {}

  Dialect dialect() const override { return Dialect::kSqlite; }
  std::optional<std::string> LocalFile() const override { return path_; }

  Status Transaction(const std::function<Status(Session&)>& fn) override {
    return WithRetries([&]() -> Status {
      ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Acquire());
      Status status = conn->ExecRaw("BEGIN IMMEDIATE");
      if (status.ok()) {
        status = fn(*conn);
        if (status.ok()) {
          status = conn->ExecRaw("COMMIT");
        }
        if (!status.ok()) {
          (void)conn->ExecRaw("ROLLBACK");
        }
      }
      Release(std::move(conn));
      return status;
    });
  }

  Status Run(const std::function<Status(Session&)>& fn) override {
    return WithRetries([&]() -> Status {
      ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Acquire());
      Status status = fn(*conn);
      Release(std::move(conn));
      return status;
    });
  }

  Status Ping() override {
    return Run([](Session& s) { return s.Query("SELECT 1", {}).status(); });
  }

  Result<std::unique_ptr<Connection>> Acquire() {
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        auto conn = std::move(idle_.back());
        idle_.pop_back();
        return conn;
      }
    }
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(path_.c_str(), &raw,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             nullptr);
    DbPtr db(raw);
    if (rc != SQLITE_OK) {
      return Status::Unavailable("cannot open database " + path_ + ": " +
                                 (raw ? sqlite3_errmsg(raw) : "out of memory"));
    }
    sqlite3_busy_timeout(db.get(), 5000);
    auto conn = std::make_unique<Connection>(std::move(db));
    RETURN_IF_ERROR(conn->ExecRaw("PRAGMA journal_mode=WAL"));
    RETURN_IF_ERROR(conn->ExecRaw("PRAGMA synchronous=NORMAL"));
    RETURN_IF_ERROR(conn->ExecRaw("PRAGMA foreign_keys=ON"));
    return conn;
  }

  void Release(std::unique_ptr<Connection> conn) {
    std::lock_guard lock(mu_);
    if (idle_.size() < 16) {
      idle_.push_back(std::move(conn));
    }
  }

 private:
  static Status WithRetries(const std::function<Status()>& attempt) {
    Status status;
    for (int attempt_idx = 0; attempt_idx < 8; ++attempt_idx) {
      status = attempt();
      if (status.code() != Code::kUnavailable || status.message().rfind("database busy", 0) != 0) {
        return status;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10 << attempt_idx));
    }
    return status;
  }

  std::string path_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

}  // namespace

Result<std::unique_ptr<Database>> OpenSqliteDatabase(const std::string& path) {
  auto db = std::make_unique<SqliteDatabase>(path);
  RETURN_IF_ERROR(db->Ping());
  return std::unique_ptr<Database>(std::move(db));
}

}  // namespace vidmill::storage
