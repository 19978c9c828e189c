#pragma once
// The worker loop: claims jobs the registered handlers can run, runs each with
// a heartbeat, and ends every attempt in the queue (complete, fail, retry or
// release).
//
// Each of `concurrency` slots is a thread that polls the queue (every
// poll_interval while idle) and runs one job at a time. While a handler runs,
// a heartbeat thread renews the lease every heartbeat_interval, writes the
// progress and ETA (and the handler's OnProgress), and asks the handler to stop
// when the lease is lost or the job cancelled (the video was deleted), when
// the job passes its wall-time limit, or when Stop() is called. After the
// handler returns the attempt's temp directory is removed, and:
//   * OK            → Complete (unless the handler did);
//   * lease lost    → nothing: another worker owns the job, or it is cancelled;
//   * shutdown      → Release: the job is runnable again at once, this
//                     attempt not counted (unless it finished anyway);
//   * time limit    → Fail with kTimeout (permanent);
//   * other errors  → Fail: retried with backoff, or failed when permanent.
// A handler that ignores a stop request for stuck_grace is stuck in a library
// call; with exit_when_stuck the process then exits (code 3) so its
// supervisor replaces it and the job is retried elsewhere.
//
// Thread safety: Run on one thread; Stop from any other (not from a signal
// handler: use a signal-waiting thread).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>

#include "common/status.h"
#include "jobs/handler.h"
#include "jobs/queue.h"

namespace vidmill::jobs {

struct WorkerOptions {
  int concurrency = 1;
  std::chrono::milliseconds poll_interval{200};
  std::chrono::milliseconds heartbeat_interval{1000};
  // Job temp dirs are made under this directory (created if missing): put it on
  // the media filesystem so outputs can be renamed into place.
  std::string temp_root;
  // Asked before a job's work directory is made (and temp_root with it, when
  // missing); a failure is the attempt's result, retried as unavailable. The
  // media store's check: a share unmounted under a running worker must not
  // get temp_root made again on the bare mount point's disk (audit 33 F7).
  std::function<Status()> storage_check;
  // At start and then every temp_sweep_interval, job temp dirs under
  // temp_root untouched for this long are removed (a running job's dir is
  // touched at every heartbeat; the rest were left by crashed workers, on this
  // machine or another sharing the media dir). Swept only at start, they
  // would stay for good behind a job that is not claimed again (cancelled,
  // failed).
  std::chrono::seconds temp_max_age{3600};
  std::chrono::milliseconds temp_sweep_interval{3'600'000};
  TimeLimitPolicy time_limits;
  std::chrono::milliseconds stuck_grace{30'000};
  bool exit_when_stuck = false;
  // Prefix of this worker's lease owner names; OwnerPrefix(getpid(),
  // owner_tag) when empty.
  std::string owner_prefix;
  // A token its supervisor gave this process, so that the supervisor can name
  // its leases once it is gone (Queue::EndAttemptsOfOwner) without matching a
  // process of the same pid and host name elsewhere (containers).
  std::string owner_tag;
};

class Worker {
 public:
  // `queue` and `handlers` must outlive the worker. The queue's hooks
  // should be set by handlers.InstallHooks(queue).
  Worker(Queue& queue, const HandlerRegistry& handlers, WorkerOptions options);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Runs the slots until Stop(). Returns OK after a clean stop (running jobs
  // finished or released).
  Status Run();

  // "host:pid" or "host:pid:tag": what the lease owner names of the worker
  // process `pid` on this machine start with; each slot adds ":slot".
  static std::string OwnerPrefix(int64_t pid, const std::string& tag);

  // Asks Run to return: idle slots stop polling, running handlers are asked to
  // stop and their jobs released. Thread-safe, idempotent.
  void Stop();

  // Claims and runs at most one job on the calling thread. Returns whether a
  // job was claimed. For tests and tools.
  Result<bool> RunOne(int slot = 0);

 private:
  void SlotLoop(int slot);
  void RunClaimed(Job job);
  void HeartbeatLoop(JobContext& context, std::atomic<bool>& done, std::mutex& mu,
                     std::condition_variable& cv);
  void EndAttempt(JobContext& context, const Status& result);
  std::string OwnerName(int slot) const;
  void RemoveStaleTempDirs(const Job& job) const;
  Status MakeWorkDir(const std::string& temp_dir) const;
  void SweepAbandonedTempDirs() const;

  Queue& queue_;
  const HandlerRegistry& handlers_;
  WorkerOptions options_;
  std::string owner_prefix_;

  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable stop_cv_;
  std::mutex contexts_mu_;
  std::vector<JobContext*> running_;  // guarded by contexts_mu_
};

}  // namespace vidmill::jobs
