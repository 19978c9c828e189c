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

// A PostgreSQL cluster of the test's own, for tests that stop and start the
// server (stopping the shared one would disturb every other test): a
// throw-away cluster from scripts/pg-cluster.sh with a private state file,
// removed on destruction. About a second to start. Needs what `make test`
// needs for PostgreSQL; callers skip unless VIDMILL_TEST_POSTGRES is set.
class PrivatePostgresCluster {
 public:
  static Result<std::unique_ptr<PrivatePostgresCluster>> Start();
  ~PrivatePostgresCluster();
  PrivatePostgresCluster(const PrivatePostgresCluster&) = delete;
  PrivatePostgresCluster& operator=(const PrivatePostgresCluster&) = delete;

  // postgresql://postgres@127.0.0.1:PORT/postgres
  const std::string& admin_url() const { return admin_url_; }
  // Stops the server (fast shutdown: connections are cut), keeping its data.
  Status Pause();
  // Starts it again on the same port.
  Status Resume();
  // Stops its processes (SIGSTOP) so that nothing answers while connections
  // stay open, as when its host stalls; Thaw lets them run again.
  Status Freeze();
  Status Thaw();

 private:
  explicit PrivatePostgresCluster(std::string state_dir) : state_dir_(std::move(state_dir)) {}
  // Runs scripts/pg-cluster.sh `command`; its output (stdout and stderr).
  Result<std::string> Script(const std::string& command);

  std::string state_dir_;
  std::string admin_url_;
};

}  // namespace vidmill::storage
