#pragma once
// For tests: a database that exists for one test only, on either back end.
//
// SQLite: a file in a fresh temp dir. PostgreSQL: a fresh database
// `vidmill_test_<random>` created through the admin URL in the environment
// variable VIDMILL_TEST_POSTGRES (set by `make test`, which starts a throw-away
// cluster with scripts/pg-cluster.sh) and dropped, with any connections still
// open to it, on destruction. Nothing is migrated: pass url() to OpenDatabase
// or to `vidmill --database`.

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace vidmill::storage {

enum class Backend { kSqlite, kPostgres };

// "Sqlite" / "Postgres", for test names.
std::string_view BackendName(Backend backend);

inline constexpr const char* kTestPostgresEnv = "VIDMILL_TEST_POSTGRES";

// The admin URL from VIDMILL_TEST_POSTGRES, or "" when unset.
std::string TestPostgresAdminUrl();

// `url` with its database name replaced by `database`.
std::string WithDatabaseName(std::string_view url, std::string_view database);

class ScratchDatabase {
 public:
  // Fails with NotFound when kPostgres is asked for and VIDMILL_TEST_POSTGRES
  // is unset (callers GTEST_SKIP on that).
  static Result<std::unique_ptr<ScratchDatabase>> Create(Backend backend);
  ~ScratchDatabase();
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;

  Backend backend() const { return backend_; }
  // What OpenDatabase and `--database` take.
  const std::string& url() const { return url_; }
  // PostgreSQL: the database name; SQLite: the directory holding the file.
  const std::string& name() const { return name_; }

 private:
  ScratchDatabase(Backend backend, std::string url, std::string name)
      : backend_(backend), url_(std::move(url)), name_(std::move(name)) {}

  Backend backend_;
  std::string url_;
  std::string name_;
};

}  // namespace vidmill::storage
