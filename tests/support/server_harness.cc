#include "tests/support/server_harness.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/ids.h"

namespace vidmill::test {
namespace {

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

std::vector<char*> ToArgv(std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  return argv;
}

int WaitWithTimeout(pid_t pid, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return status;
}

}  // namespace

CommandResult RunProgram(const std::vector<std::string>& argv_in,
                         const std::map<std::string, std::string>& extra_env) {
  std::vector<std::string> args = argv_in;
  int out_pipe[2];
  int err_pipe[2];
  if (pipe(out_pipe) != 0 || pipe(err_pipe) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(err_pipe[1], STDERR_FILENO);
    close(out_pipe[0]);
    close(err_pipe[0]);
    close(out_pipe[1]);
    close(err_pipe[1]);
    for (const auto& [name, value] : extra_env) setenv(name.c_str(), value.c_str(), 1);
    std::vector<char*> argv = ToArgv(args);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  CommandResult result;
  // Read both pipes without deadlock: stderr on a thread.
  std::thread err_reader([&] { result.err = ReadAll(err_pipe[0]); });
  result.out = ReadAll(out_pipe[0]);
  err_reader.join();
  close(out_pipe[0]);
  close(err_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

const std::vector<std::vector<std::string>>& StoreOpeningCommands() {
  static const std::vector<std::vector<std::string>> commands = {
      {"serve", "--listen", "127.0.0.1:0", "--workers", "0"},
      {"worker"},
      {"user", "add", "--email", "x@example.com", "--password", "long enough"}};
  return commands;
}

CommandResult RunWithDatabase(const std::vector<std::string>& command, const std::string& url,
                              const std::string& data_dir) {
  std::vector<std::string> argv = {"timeout", "20", VIDMILL_BINARY};
  argv.insert(argv.end(), command.begin(), command.end());
  argv.insert(argv.end(), {"--database", url, "--data-dir", data_dir});
  return RunProgram(argv);
}

CommandResult RunShell(const std::string& command) {
  return RunProgram({"/bin/sh", "-c", command});
}

ServerHarness::ServerHarness() : ServerHarness(Options{}) {}

ServerHarness::ServerHarness(Options options) : options_(std::move(options)) {
  if (const char* admin = std::getenv("VIDMILL_TEST_POSTGRES"); admin && *admin) {
    postgres_admin_url_ = admin;
    postgres_db_name_ = "vidmill_t_" + HexEncode(RandomBytes(6));
    CommandResult made = RunProgram(
        {"psql", postgres_admin_url_, "-qAtc", "CREATE DATABASE " + postgres_db_name_});
    if (made.exit_code != 0) {
      ADD_FAILURE() << "cannot create test database: " << made.err;
    }
    std::string base = postgres_admin_url_;
    size_t slash = base.rfind('/');
    size_t query = base.find('?', slash);
    database_url_ = base.substr(0, slash + 1) + postgres_db_name_ +
                    (query == std::string::npos ? "" : base.substr(query));
  } else {
    database_url_ = dir_.path() + "/vidmill.db";
  }
  Launch();
}

ServerHarness::~ServerHarness() {
  if (pid_ > 0) Stop();
  if (::testing::Test::HasFailure()) {
    std::string log = ServerLog();
    if (log.size() > 20000) log = "…" + log.substr(log.size() - 20000);
    std::fprintf(stderr, "---- server log (%s) ----\n%s\n----\n", dir_.path().c_str(),
                 log.c_str());
  }
  if (!postgres_db_name_.empty()) {
    RunProgram({"psql", postgres_admin_url_, "-qAtc",
                "DROP DATABASE IF EXISTS " + postgres_db_name_ + " WITH (FORCE)"});
  }
}

void ServerHarness::Launch() {
  std::vector<std::string> args = {VIDMILL_BINARY,
                                   "serve",
                                   "--listen",
                                   "127.0.0.1:0",
                                   "--data-dir",
                                   dir_.path(),
                                   "--database",
                                   database_url_,
                                   "--workers",
                                   std::to_string(options_.workers)};
  args.insert(args.end(), options_.extra_flags.begin(), options_.extra_flags.end());
  int out_pipe[2];
  if (pipe(out_pipe) != 0) {
    ADD_FAILURE() << "pipe failed";
    return;
  }
  std::string log_path = dir_.path() + "/server.log";
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out_pipe[1], STDOUT_FILENO);
    int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (log_fd >= 0) dup2(log_fd, STDERR_FILENO);
    close(out_pipe[0]);
    close(out_pipe[1]);
    for (const auto& [name, value] : options_.env) setenv(name.c_str(), value.c_str(), 1);
    if (options_.max_open_files > 0) {
      const rlimit limit{static_cast<rlim_t>(options_.max_open_files),
                         static_cast<rlim_t>(options_.max_open_files)};
      setrlimit(RLIMIT_NOFILE, &limit);
    }
    std::vector<char*> argv = ToArgv(args);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out_pipe[1]);
  pid_ = pid;
  // Wait for "vidmill: listening on http://127.0.0.1:PORT".
  std::string seen;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd pfd{out_pipe[0], POLLIN, 0};
    if (poll(&pfd, 1, 100) > 0) {
      char buf[512];
      ssize_t n = read(out_pipe[0], buf, sizeof(buf));
      if (n <= 0) break;
      seen.append(buf, static_cast<size_t>(n));
      size_t at = seen.find("listening on http://");
      size_t eol = seen.find('\n', at);
      if (at != std::string::npos && eol != std::string::npos) {
        std::string url = seen.substr(at + 20, eol - at - 20);
        port_ = std::atoi(url.substr(url.rfind(':') + 1).c_str());
        break;
      }
    }
  }
  // Keep draining stdout in the background so the server never blocks on it.
  int fd = out_pipe[0];
  std::thread([fd] {
    char buf[512];
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
    close(fd);
  }).detach();
  if (port_ == 0) {
    ADD_FAILURE() << "server did not start; log:\n" << ServerLog();
  }
}

CommandResult ServerHarness::RunCli(std::vector<std::string> args) const {
  std::vector<std::string> argv = {VIDMILL_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"--database", database_url_, "--data-dir", dir_.path()});
  return RunProgram(argv);
}

std::string ServerHarness::CreateUserAndLogin(const std::string& email,
                                              const std::string& password,
                                              const std::string& team) {
  CommandResult added =
      RunCli({"user", "add", "--email", email, "--password", password, "--team", team});
  EXPECT_EQ(added.exit_code, 0) << added.err;
  HttpClient client(port_);
  HttpResponse response =
      client.Send("GET", "/accounts/v1/token", {{"Authorization", BasicAuth(email, password)}});
  EXPECT_EQ(response.status, 200) << response.body;
  boost::json::value doc = response.Json();
  if (!doc.is_object() || !doc.as_object().contains("jwtToken")) return "";
  return std::string(doc.as_object()["jwtToken"].as_string());
}

void ServerHarness::Restart() {
  if (pid_ > 0) Stop();
  port_ = 0;
  Launch();
}

int ServerHarness::Stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = WaitWithTimeout(pid_, std::chrono::seconds(30));
  pid_ = -1;
  return status;
}

void ServerHarness::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string ServerHarness::ServerLog() const {
  std::ifstream in(dir_.path() + "/server.log");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace vidmill::test
