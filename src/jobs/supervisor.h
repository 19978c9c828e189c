#pragma once
// Supervisor: keeps N local `vidmill worker` processes running for
// `vidmill serve --workers N`, so media work (and any crash inside a codec)
// happens outside the API process.
//
// Each worker is started by fork + exec of /proc/self/exe (the running
// binary, even if the file was replaced since) as
//     vidmill worker <worker_args…>
// with the parent-death signal set to SIGTERM, so the workers stop if the
// supervising process dies without calling Stop(), and with SIGTERM and SIGINT
// blocked (the worker waits for them with sigtimedwait), so a stop request
// during its start-up is held rather than lost or fatal. Descriptors other
// than stdin/stdout/stderr are closed. A worker that exits while
// the supervisor is running — a crash, a kill -9, an exit when stuck — is
// restarted after a backoff that doubles while restarts come quickly (a worker
// that lived at least a minute restarts at the initial delay). Each process
// gets `--owner-tag <random>`; its replacement gets `--lost-worker <pid>
// --lost-worker-tag <tag> --lost-worker-exit "<how it ended>"` and ends the dead one's attempts at
// start (Queue::EndAttemptsOfOwner), so its jobs are retried without waiting
// out their leases (which remain the fallback).
//
// Stop() sends SIGTERM to every worker (each finishes or releases its job and
// exits 0), waits up to stop_grace, then sends SIGKILL to the rest and reaps
// them.
//
// Thread safety: Start and Stop from one thread; the accessors from any.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"

namespace vidmill::jobs {

struct SupervisorOptions {
  int workers = 1;
  // Flags for each worker, after the "worker" subcommand; typically
  // {"--database", url, "--media-dir", dir} plus any worker tuning flags.
  std::vector<std::string> worker_args;
  // The program to run; the running binary by default.
  std::string executable = "/proc/self/exe";
  std::chrono::milliseconds restart_backoff_initial{500};
  std::chrono::milliseconds restart_backoff_max{30'000};
  std::chrono::milliseconds stop_grace{10'000};
};

class Supervisor {
 public:
  explicit Supervisor(SupervisorOptions options);
  // Stops the workers if still running.
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Starts the workers and the thread that watches them. Returns once the
  // first processes are spawned; errors: kUnavailable when fork fails,
  // kInvalidArgument when the executable cannot be run. Calling Start twice
  // is an error (kConflict). With workers == 0 it does nothing.
  Status Start();

  // Stops every worker (SIGTERM, then SIGKILL after stop_grace) and waits for
  // them. Idempotent.
  void Stop();

  // Process ids of the workers running now (0 for a slot awaiting restart).
  std::vector<pid_t> pids() const;
  // How many times a worker was restarted after exiting.
  int64_t restarts() const { return restarts_.load(); }

 private:
  struct Slot {
    pid_t pid = 0;
    std::chrono::steady_clock::time_point started;
    std::chrono::steady_clock::time_point restart_at;
    std::chrono::milliseconds backoff{0};
    std::string tag;  // the running process's --owner-tag
    // The process that died in this slot (pid, tag, how it ended), handed to
    // its replacement (--lost-worker …), which takes its jobs back; pid 0:
    // none.
    pid_t lost_pid = 0;
    std::string lost_tag;
    std::string lost_exit;
  };

  // Starts the slot's next process (a fresh tag; the lost one, if any).
  Result<pid_t> Spawn(Slot& slot);
  void Watch();

  SupervisorOptions options_;
  std::vector<std::string> argv_storage_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Slot> slots_;  // guarded by mu_
  bool stopping_ = false;    // guarded by mu_
  bool started_ = false;
  std::thread watcher_;
  std::atomic<int64_t> restarts_{0};
};

}  // namespace vidmill::jobs
