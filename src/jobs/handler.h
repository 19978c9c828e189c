#pragma once
// What a kind of job does: a JobHandler, registered by kind, run by a Worker
// with a JobContext for one attempt of one job.
//
// Writing a handler:
//   * Take the dependencies you need (blob store, engine limits …) in the
//     constructor; the context carries only what is specific to this attempt.
//   * Work into context.temp_dir() (removed after the attempt, whatever the
//     outcome) and publish by atomic rename only after
//     context.CheckStop() is OK.
//   * Call context.ReportProgress() as you go; it is cheap (memory only — the
//     worker's heartbeat writes it at least every heartbeat interval). When it
//     returns an error, stop and return that error: the lease was lost, the
//     video deleted, the worker is shutting down or the time limit passed.
//     Give context.ShouldStop() to long library calls as their cancel callback.
//   * Write domain rows through context.FencedWrite() — never through the
//     database directly — so a worker that lost its lease changes nothing.
//     End with context.Complete(fn) to commit the last writes together with the
//     job's completion (when the handler returns OK without calling it, the
//     worker completes the job itself).
//   * Return errors as Status: IsPermanentError() ones (kCorruptMedia …) fail
//     the job at once, others are retried with backoff. OnFailed then records
//     the failure in the domain row. Exceptions are caught and become kInternal.
//
// Thread safety: Run may be called from several worker threads at once (with
// different contexts), so handlers keep no per-job state in members. A
// JobContext is used by its handler's thread; ReportProgress, ShouldStop and
// CheckStop may also be called from any thread the handler starts.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "jobs/queue.h"
#include "storage/database.h"

namespace vidmill::jobs {

class JobContext;

class JobHandler {
 public:
  virtual ~JobHandler() = default;

  // Does the job's work for one attempt. See the file comment.
  virtual Status Run(JobContext& context) = 0;

  // Mirrors progress into the domain row (e.g. the video's ingestion_progress).
  // Runs inside the heartbeat's fenced transaction, about once a second.
  virtual Status OnProgress(storage::Session& session, const Job& job, double percent,
                            std::optional<int64_t> eta_seconds) {
    return Status::Ok();
  }

  // Records that the job failed for good, with the message the job stored.
  // Runs inside the transaction that fails the job — including when the queue
  // gives up on a job whose workers kept dying, so it must not assume a
  // running handler or any file.
  virtual Status OnFailed(storage::Session& session, const Job& job, const std::string& message) {
    return Status::Ok();
  }

  // Records that an attempt failed and the job waits for another, with a note
  // for the user (what failed, when the next attempt starts). Runs inside the
  // transaction that re-queues the job, also after an expired lease.
  virtual Status OnRetry(storage::Session& session, const Job& job, const std::string& note) {
    return Status::Ok();
  }
};

// Why a context asks its handler to stop.
enum class StopReason {
  kNone,
  kLeaseLost,  // the lease expired or the job was cancelled (video deleted)
  kShutdown,   // the worker is stopping (SIGTERM): the job is released
  kTimeLimit,  // the job ran past its wall-time limit: it fails
};

// Limits on the wall time of one attempt.
struct TimeLimitPolicy {
  // Limit before the handler says how long the media is.
  std::chrono::seconds initial{3600};
  // Once the media duration is known: base + per_media_second × duration.
  std::chrono::seconds base{300};
  double per_media_second = 20.0;
};

class JobContext {
 public:
  JobContext(Queue& queue, JobHandler& handler, Job job, std::string temp_dir,
             TimeLimitPolicy limits);
  JobContext(const JobContext&) = delete;
  JobContext& operator=(const JobContext&) = delete;

  const Job& job() const { return job_; }
  const Lease& lease() const { return lease_; }
  const std::string& params_json() const { return job_.params_json; }
  // A directory private to this attempt, on the same filesystem as the media
  // directory; removed with its contents after the attempt.
  const std::string& temp_dir() const { return temp_dir_; }
  storage::Database& database() const { return queue_.database(); }
  const Clock& clock() const { return queue_.clock(); }

  // Records progress (percent, clamped to 0–100) and, when known, the seconds
  // left; without an ETA the worker extrapolates one from the elapsed time.
  // Returns CheckStop().
  Status ReportProgress(double percent, std::optional<int64_t> eta_seconds = std::nullopt);

  // True once the handler should stop; cheap, for cancel callbacks.
  bool ShouldStop() const { return stop_reason_.load() != StopReason::kNone; }
  // OK, or the error explaining why the handler must stop: kCancelled (lease
  // lost, job cancelled, shutdown) or kTimeout (time limit).
  Status CheckStop() const;

  // Sets the wall-time limit from the media duration (TimeLimitPolicy), or
  // explicitly. The limit counts from the start of the attempt.
  void SetMediaDuration(double seconds);
  void SetTimeLimit(std::chrono::seconds limit);
  std::chrono::steady_clock::time_point deadline() const;

  // Runs `fn` in a transaction fenced on this attempt's lease.
  Status FencedWrite(const SessionFn& fn);
  // Completes the job, running `fn` in the same fenced transaction. Once it
  // returns OK the handler should return OK without further writes.
  Status Complete(const SessionFn& fn = nullptr);
  bool completed() const { return completed_; }

  // --- Used by the Worker -------------------------------------------------
  void RequestStop(StopReason reason, std::string message);
  StopReason stop_reason() const { return stop_reason_.load(); }
  std::string stop_message() const;
  double progress() const;
  // The ETA to write: the handler's, else extrapolated from elapsed time.
  std::optional<int64_t> EtaSeconds() const;
  JobHandler& handler() const { return handler_; }
  std::chrono::steady_clock::time_point started() const { return started_; }

 private:
  Queue& queue_;
  JobHandler& handler_;
  Job job_;
  Lease lease_;
  std::string temp_dir_;
  TimeLimitPolicy limits_;
  std::chrono::steady_clock::time_point started_;
  bool completed_ = false;

  std::atomic<StopReason> stop_reason_{StopReason::kNone};
  mutable std::mutex mu_;  // guards the fields below
  std::string stop_message_;
  double progress_ = 0;
  std::optional<int64_t> eta_seconds_;
  std::chrono::steady_clock::time_point deadline_;
};

// Handlers by job kind. Filled before the worker starts; read-only afterwards.
class HandlerRegistry {
 public:
  void Register(std::string kind, std::unique_ptr<JobHandler> handler);
  JobHandler* Find(const std::string& kind) const;
  std::vector<std::string> kinds() const;

  // Sets the queue's failure and retry hooks to dispatch to the handler of the
  // job's kind (OnFailed, OnRetry).
  void InstallHooks(Queue& queue) const;

 private:
  std::map<std::string, std::unique_ptr<JobHandler>> handlers_;
};

}  // namespace vidmill::jobs
