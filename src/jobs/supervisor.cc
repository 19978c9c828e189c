#include "jobs/supervisor.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <future>

#include "common/ids.h"
#include "common/log.h"
#include "common/thread_name.h"

namespace vidmill::jobs {
namespace {

constexpr auto kWatchInterval = std::chrono::milliseconds(100);
constexpr auto kStableLifetime = std::chrono::seconds(60);

std::string DescribeExit(int wait_status) {
  if (WIFEXITED(wait_status)) {
    return "exited with code " + std::to_string(WEXITSTATUS(wait_status));
  }
  if (WIFSIGNALED(wait_status)) {
    return std::string("was killed by signal ") + std::to_string(WTERMSIG(wait_status)) + " (" +
           strsignal(WTERMSIG(wait_status)) + ")";
  }
  return "stopped";
}

// Between fork and exec only async-signal-safe calls are allowed: the parent
// is multi-threaded.
[[noreturn]] void ExecChild(const char* path, char* const* argv, pid_t parent) {
  // Stop with the supervising thread's process; if it died already, do not start.
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != parent) {
    _exit(0);
  }
  // Do not leak the server's sockets and files into the worker.
  if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0) {
    long max_fd = sysconf(_SC_OPEN_MAX);
    if (max_fd < 0 || max_fd > 65536) max_fd = 65536;
    for (int fd = 3; fd < max_fd; ++fd) {
      close(fd);
    }
  }
  // The worker starts with SIGTERM and SIGINT blocked — it takes them with
  // sigtimedwait — so a stop request that arrives while it is still starting
  // is held for it instead of killing it; everything else is unblocked.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigprocmask(SIG_SETMASK, &mask, nullptr);
  struct sigaction default_action;
  std::memset(&default_action, 0, sizeof(default_action));
  default_action.sa_handler = SIG_DFL;
  for (int signal_number : {SIGTERM, SIGINT, SIGPIPE, SIGHUP, SIGCHLD}) {
    sigaction(signal_number, &default_action, nullptr);
  }
  execv(path, argv);
  _exit(127);
}

}  // namespace

Supervisor::Supervisor(SupervisorOptions options) : options_(std::move(options)) {
  argv_storage_.push_back("vidmill");
  argv_storage_.push_back("worker");
  for (const std::string& arg : options_.worker_args) {
    argv_storage_.push_back(arg);
  }
}

Supervisor::~Supervisor() { Stop(); }

Result<pid_t> Supervisor::Spawn(Slot& slot) {
  std::vector<std::string> args = argv_storage_;
  const std::string tag = HexEncode(RandomBytes(4));
  args.insert(args.end(), {"--owner-tag", tag});
  if (slot.lost_pid > 0) {
    args.insert(args.end(), {"--lost-worker", std::to_string(slot.lost_pid), "--lost-worker-tag",
                             slot.lost_tag, "--lost-worker-exit", slot.lost_exit});
  }
  std::vector<char*> argv;
  for (std::string& arg : args) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    return Status::Unavailable(std::string("cannot start a worker process: fork: ") +
                               std::strerror(errno));
  }
  if (pid == 0) {
    ExecChild(options_.executable.c_str(), argv.data(), parent);
  }
  LogInfo("supervisor: started worker pid " + std::to_string(pid));
  slot.tag = tag;
  slot.lost_pid = 0;
  return pid;
}

Status Supervisor::Start() {
  if (started_) {
    return Status::Conflict("the supervisor was started already");
  }
  if (options_.workers <= 0) {
    return Status::Ok();
  }
  if (access(options_.executable.c_str(), X_OK) != 0) {
    return Status::InvalidArgument("cannot run the worker program " + options_.executable + ": " +
                                   std::strerror(errno));
  }
  started_ = true;
  {
    std::lock_guard lock(mu_);
    slots_.assign(options_.workers, Slot{});
  }
  // The watcher thread forks every worker: the parent-death signal follows the
  // thread that forked, and this one lives until Stop() has reaped them all.
  std::promise<Status> first_round;
  std::future<Status> first_round_done = first_round.get_future();
  watcher_ = std::thread([this, &first_round] {
    NameThisThread("vm-supervisor");
    Status status;
    {
      std::lock_guard lock(mu_);
      auto now = std::chrono::steady_clock::now();
      for (Slot& slot : slots_) {
        Result<pid_t> pid = Spawn(slot);
        if (!pid.ok()) {
          status = pid.status();
          slot.restart_at = now + options_.restart_backoff_initial;
          continue;
        }
        slot.pid = *pid;
        slot.started = now;
      }
    }
    first_round.set_value(status);
    Watch();
  });
  return first_round_done.get();
}

void Supervisor::Watch() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    auto now = std::chrono::steady_clock::now();
    for (Slot& slot : slots_) {
      if (slot.pid > 0) {
        int wait_status = 0;
        pid_t reaped = waitpid(slot.pid, &wait_status, WNOHANG);
        if (reaped == 0) continue;
        std::string how = reaped == slot.pid ? DescribeExit(wait_status) : "disappeared";
        bool stable = now - slot.started >= kStableLifetime;
        slot.backoff = stable ? options_.restart_backoff_initial
                              : std::clamp(slot.backoff * 2, options_.restart_backoff_initial,
                                           options_.restart_backoff_max);
        slot.restart_at = now + slot.backoff;
        LogWarning("supervisor: worker pid " + std::to_string(slot.pid) + " " + how +
                   "; restarting it in " + std::to_string(slot.backoff.count()) + " ms");
        if (reaped == slot.pid) {  // gone for certain: its jobs can be taken back
          slot.lost_pid = slot.pid;
          slot.lost_tag = slot.tag;
          slot.lost_exit = how;
        }
        slot.pid = 0;
        continue;
      }
      if (now >= slot.restart_at) {
        Result<pid_t> pid = Spawn(slot);
        if (pid.ok()) {
          slot.pid = *pid;
          slot.started = now;
          restarts_.fetch_add(1);
        } else {
          slot.backoff = std::clamp(slot.backoff * 2, options_.restart_backoff_initial,
                                    options_.restart_backoff_max);
          slot.restart_at = now + slot.backoff;
          LogError("supervisor: " + pid.status().message());
        }
      }
    }
    cv_.wait_for(lock, kWatchInterval, [this] { return stopping_; });
  }

  // Shutting down: SIGTERM, grace, SIGKILL.
  for (Slot& slot : slots_) {
    if (slot.pid > 0) kill(slot.pid, SIGTERM);
  }
  auto deadline = std::chrono::steady_clock::now() + options_.stop_grace;
  while (true) {
    bool any = false;
    for (Slot& slot : slots_) {
      if (slot.pid <= 0) continue;
      int wait_status = 0;
      pid_t reaped = waitpid(slot.pid, &wait_status, WNOHANG);
      if (reaped == 0) {
        any = true;
        continue;
      }
      if (reaped == slot.pid && !(WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0)) {
        LogWarning("supervisor: worker pid " + std::to_string(slot.pid) + " " +
                   DescribeExit(wait_status) + " while stopping");
      }
      slot.pid = 0;
    }
    if (!any) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      for (Slot& slot : slots_) {
        if (slot.pid <= 0) continue;
        LogWarning("supervisor: worker pid " + std::to_string(slot.pid) +
                   " did not stop in time; killing it");
        kill(slot.pid, SIGKILL);
        int wait_status = 0;
        waitpid(slot.pid, &wait_status, 0);
        slot.pid = 0;
      }
      break;
    }
    lock.unlock();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    lock.lock();
  }
}

void Supervisor::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (watcher_.joinable()) {
    watcher_.join();
  }
}

std::vector<pid_t> Supervisor::pids() const {
  std::lock_guard lock(mu_);
  std::vector<pid_t> pids;
  for (const Slot& slot : slots_) {
    pids.push_back(slot.pid);
  }
  return pids;
}

}  // namespace vidmill::jobs
