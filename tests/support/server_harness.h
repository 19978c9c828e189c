#pragma once
// Starts the real `vidmill serve` binary for one test: an ephemeral loopback
// port, a temporary data directory, and a store of its own — a SQLite file, or,
// when VIDMILL_TEST_POSTGRES holds an admin URL of a running PostgreSQL
// cluster, a fresh database created for this harness and dropped after it.
// The server's stderr goes to <data-dir>/server.log (printed when a test
// fails, to help the reader).

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "tests/support/http_client.h"
#include "tests/support/temp_dir.h"

namespace vidmill::test {

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs a program to completion, capturing stdout and stderr.
CommandResult RunProgram(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& extra_env = {});

// Runs `sh -c command` (for ffmpeg/ffprobe media generation in tests);
// returns its exit code and output.
CommandResult RunShell(const std::string& command);

// The commands that open a store (serve on a free port with no workers, a
// worker, `user add`), to check how each treats a database URL.
const std::vector<std::vector<std::string>>& StoreOpeningCommands();

// Runs `vidmill <command> --database <url> --data-dir <data_dir>` (at most
// 20 s).
CommandResult RunWithDatabase(const std::vector<std::string>& command, const std::string& url,
                              const std::string& data_dir);

class ServerHarness {
 public:
  struct Options {
    int workers = 0;
    std::vector<std::string> extra_flags;
    std::map<std::string, std::string> env;
    int max_open_files = 0;  // RLIMIT_NOFILE of the server process; 0: inherited
  };

  ServerHarness();
  explicit ServerHarness(Options options);
  ~ServerHarness();
  ServerHarness(const ServerHarness&) = delete;
  ServerHarness& operator=(const ServerHarness&) = delete;

  int port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  const std::string& data_dir() const { return dir_.path(); }
  const std::string& database_url() const { return database_url_; }
  bool uses_postgres() const { return !postgres_admin_url_.empty(); }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }

  // Runs `vidmill <args> --database <same store> --data-dir <same dir>`.
  CommandResult RunCli(std::vector<std::string> args) const;
  // Creates a user via the CLI (team created when missing) and returns a JWT
  // from GET /accounts/v1/token; fails the test when either step fails.
  std::string CreateUserAndLogin(const std::string& email, const std::string& password,
                                 const std::string& team);

  // Starts the server again (after Stop/Kill) on a new port, same store.
  void Restart();
  // SIGTERM and wait (SIGKILL after 30 s). Returns the exit status.
  int Stop();
  // SIGKILL and wait.
  void Kill();
  std::string ServerLog() const;

 private:
  void Launch();

  Options options_;
  TempDir dir_;
  std::string database_url_;
  std::string postgres_admin_url_;
  std::string postgres_db_name_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace vidmill::test
