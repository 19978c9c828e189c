#include "jobs/supervisor.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "tests/support/temp_dir.h"

namespace vidmill::jobs {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

bool Alive(pid_t pid) {
  if (pid <= 0) return false;
  // A zombie is not alive: look at the state in /proc.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  size_t close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

std::string CommandLine(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (char& c : text) {
    if (c == '\0') c = ' ';
  }
  return text;
}

template <typename Predicate>
bool WaitFor(Predicate predicate, milliseconds limit) {
  auto deadline = steady_clock::now() + limit;
  while (!predicate()) {
    if (steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return true;
}

SupervisorOptions WorkerOptions(const test::TempDir& dir, int workers) {
  SupervisorOptions options;
  options.workers = workers;
  options.executable = VIDMILL_BINARY;
  options.worker_args = {"--data-dir", dir.path(), "--poll-ms", "50"};
  options.restart_backoff_initial = milliseconds(100);
  options.stop_grace = seconds(10);
  return options;
}

TEST(SupervisorTest, StartsWorkerProcessesAndRestartsOneThatIsKilled) {
  test::TempDir dir;
  Supervisor supervisor(WorkerOptions(dir, 2));
  ASSERT_TRUE(supervisor.Start().ok());
  std::vector<pid_t> pids = supervisor.pids();
  ASSERT_EQ(pids.size(), 2u);
  for (pid_t pid : pids) {
    EXPECT_TRUE(Alive(pid));
    // Once exec has happened:
    std::string expected = "vidmill worker --data-dir " + dir.path();
    EXPECT_TRUE(
        WaitFor([&] { return CommandLine(pid).find(expected) != std::string::npos; }, seconds(5)))
        << CommandLine(pid);
  }
  ASSERT_EQ(kill(pids[0], SIGKILL), 0);
  ASSERT_TRUE(WaitFor(
      [&] {
        std::vector<pid_t> now = supervisor.pids();
        return now[0] > 0 && now[0] != pids[0] && Alive(now[0]);
      },
      seconds(5)));
  EXPECT_EQ(supervisor.restarts(), 1);
  EXPECT_EQ(supervisor.pids()[1], pids[1]);  // the other one was left alone

  std::vector<pid_t> running = supervisor.pids();
  // Stopped right after a (re)start: the SIGTERM is held until the worker can
  // take it, and it still exits cleanly.
  auto stop_started = steady_clock::now();
  supervisor.Stop();
  // Workers stop promptly on SIGTERM (nothing to release here).
  EXPECT_LT(steady_clock::now() - stop_started, seconds(5));
  for (pid_t pid : running) {
    EXPECT_FALSE(Alive(pid));
    EXPECT_EQ(kill(pid, 0), -1);  // reaped, not a zombie
  }
}

TEST(SupervisorTest, KillsAWorkerThatIgnoresSigtermAfterTheGracePeriod) {
  test::TempDir dir;
  std::string script = dir.path() + "/stubborn";
  {
    std::ofstream out(script);
    out << "#!/bin/sh\ntrap '' TERM\nwhile true; do sleep 0.05; done\n";
  }
  ASSERT_EQ(chmod(script.c_str(), 0755), 0);
  SupervisorOptions options;
  options.workers = 1;
  options.executable = script;
  options.stop_grace = milliseconds(500);
  Supervisor supervisor(options);
  ASSERT_TRUE(supervisor.Start().ok());
  pid_t pid = supervisor.pids()[0];
  ASSERT_TRUE(
      WaitFor([&] { return CommandLine(pid).find("stubborn") != std::string::npos; }, seconds(5)));
  auto stop_started = steady_clock::now();
  supervisor.Stop();
  auto took = steady_clock::now() - stop_started;
  EXPECT_GE(took, milliseconds(450));
  EXPECT_LT(took, seconds(5));
  EXPECT_FALSE(Alive(pid));
}

TEST(SupervisorTest, BacksOffWhenAWorkerKeepsCrashing) {
  test::TempDir dir;
  std::string script = dir.path() + "/crasher";
  {
    std::ofstream out(script);
    out << "#!/bin/sh\nexit 3\n";
  }
  ASSERT_EQ(chmod(script.c_str(), 0755), 0);
  SupervisorOptions options;
  options.workers = 1;
  options.executable = script;
  options.restart_backoff_initial = milliseconds(100);
  options.restart_backoff_max = milliseconds(400);
  Supervisor supervisor(options);
  ASSERT_TRUE(supervisor.Start().ok());
  std::this_thread::sleep_for(milliseconds(1500));
  // 100, 200, 400, 400 … ms between restarts: a handful, not hundreds.
  EXPECT_GE(supervisor.restarts(), 2);
  EXPECT_LE(supervisor.restarts(), 6);
  supervisor.Stop();
}

TEST(SupervisorTest, RefusesAProgramThatCannotRun) {
  SupervisorOptions options;
  options.executable = "/nonexistent/vidmill";
  Supervisor supervisor(options);
  Status status = supervisor.Start();
  EXPECT_EQ(status.code(), Code::kInvalidArgument);
  EXPECT_NE(status.message().find("/nonexistent/vidmill"), std::string::npos);
}

TEST(SupervisorTest, ZeroWorkersIsAnApiOnlyNode) {
  SupervisorOptions options;
  options.workers = 0;
  Supervisor supervisor(options);
  EXPECT_TRUE(supervisor.Start().ok());
  EXPECT_TRUE(supervisor.pids().empty());
  supervisor.Stop();
}

}  // namespace
}  // namespace vidmill::jobs
