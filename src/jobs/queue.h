#pragma once
// The durable job queue: media work (ingestion, processing) as rows of the
// `jobs` table, claimed by worker processes under a lease.
//
// Design. A job is a row; its state moves
//
//     queued ──claim──► running ──Complete──► done
//        ▲                 │ ├──Fail (permanent, or the last attempt)──► failed
//        │                 │ └──video deleted (videos::DeleteVideoCascade)──► cancelled
//        └──Fail (transient) / lease expired (backoff) / Release (shutdown)
//
// * Claiming is one transaction that takes the oldest runnable queued job
//   (state 'queued', run_after <= now, ordered by created_at): on SQLite the
//   transaction holds the write lock from BEGIN (IMMEDIATE), on PostgreSQL the
//   candidate row is locked with FOR UPDATE SKIP LOCKED so concurrent claimers
//   pass each other instead of queueing.
// * Attempts are counted at claim time: the claim increments `attempts` and the
//   Lease carries that number. A lease is (job id, owner, attempt) and expires
//   at `lease_expires_at` unless renewed by Heartbeat.
// * Fencing: every write a worker makes — heartbeat, progress, its domain rows
//   (FencedWrite), completion, failure, release — runs in a transaction that
//   first updates the job row WHERE id, owner and attempt match and the state
//   is still 'running' (a lease that expired but was not reaped yet is still
//   its owner's: a worker that could not reach the database for longer than
//   its lease renews it when it can, if no reaper was first). If that
//   matches nothing the
//   whole transaction is rolled back and the caller gets kCancelled, so a
//   worker that lost its lease (paused past it, or the video was deleted)
//   changes nothing and must discard its output. The fence's UPDATE also locks
//   the job row (PostgreSQL) so a concurrent reaper or deletion waits for it.
// * A lease that expires (its worker died or hung) is reaped by the next
//   claimer — unless this process could not reach the database itself within
//   the last lease duration, or started less than a lease duration ago (it
//   cannot know what came before): after an outage every running job's lease has
//   run out, and their workers get that long to renew them, so an outage
//   longer than the lease does not cost each running job an attempt (three
//   such outages would fail a healthy job). The reaped job goes back to
//   'queued' with an exponential backoff plus
//   jitter, or to 'failed' after its last attempt ("gave up after 3 attempts:
//   …"). The attempt it used was counted when it was claimed.
// * Errors end an attempt through Fail: permanent ones (IsPermanentError:
//   corrupt media, invalid input, time limit) fail the job at once; internal
//   ones are retried with backoff until max_attempts; kUnavailable (a full
//   disk, an I/O fault, the database away) is the machine's fault, not the
//   job's, so it is retried past max_attempts, the backoff growing to its cap,
//   until the fault clears — a disk filled for a minute must not cost the
//   user their upload's ingestion.
// * At-least-once: a job may run more than once (its worker died after doing
//   the work but before Complete), so every job step must be idempotent —
//   outputs go to temporary names and are published by rename.
//
// Thread safety: a Queue is safe to use from many threads and processes at once
// (all coordination is in the database).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "storage/database.h"

namespace vidmill::jobs {

// Job kinds.
inline constexpr std::string_view kKindIngestFull = "ingest_full";
inline constexpr std::string_view kKindIngestLight = "ingest_light";
inline constexpr std::string_view kKindProcess = "process";

// Job states (the `state` column).
inline constexpr std::string_view kStateQueued = "queued";
inline constexpr std::string_view kStateRunning = "running";
inline constexpr std::string_view kStateDone = "done";
inline constexpr std::string_view kStateFailed = "failed";
inline constexpr std::string_view kStateCancelled = "cancelled";

inline constexpr int64_t kDefaultMaxAttempts = 3;

// What to enqueue. params_json is a JSON object the job's handler interprets.
struct NewJob {
  std::string kind;
  std::string video_id;
  std::string params_json = "{}";
};

// Inserts a queued job, runnable now, in the caller's transaction (so it
// commits or rolls back with the caller's other writes) and returns its id.
// Enqueuing an ingestion job (ingest_full / ingest_light) cancels the queued
// and running ingestion jobs of the same video: a new upload supersedes them.
// Errors: InvalidArgument for an unknown kind or an empty video id; database
// errors as returned by the session.
Result<std::string> Enqueue(storage::Session& session, const NewJob& job, const Clock& clock);

// How many queued jobs workers take before `video_id`'s queued job of one of
// `kinds` (claims go by creation order); nullopt when it has none waiting (it
// runs, or is done). For the progress a user sees while a job waits.
Result<std::optional<int64_t>> QueuedAhead(storage::Session& session, const std::string& video_id,
                                           const std::vector<std::string>& kinds);

// One row of the jobs table.
struct Job {
  std::string id;
  std::string kind;
  std::string video_id;
  std::string params_json;
  std::string state;
  int64_t attempts = 0;  // attempts started so far (counted at claim)
  int64_t max_attempts = kDefaultMaxAttempts;
  std::optional<std::string> lease_owner;
  std::optional<int64_t> lease_expires_at;  // epoch millis
  int64_t run_after = 0;                    // epoch millis
  double progress = 0;                      // percent
  std::optional<int64_t> eta_seconds;
  std::optional<std::string> error;  // the last error (failed, cancelled, or before a retry)
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

// The right to work on one attempt of one job.
struct Lease {
  std::string job_id;
  std::string owner;
  int64_t attempt = 0;
};

inline Lease LeaseOf(const Job& job) {
  return Lease{job.id, job.lease_owner.value_or(""), job.attempts};
}

// True for errors that retrying will not fix: corrupt or unsupported media,
// invalid parameters, a missing input, a job over its time limit (kTimeout).
// Everything else (kUnavailable: disk full, database blip; kInternal) is
// retried.
bool IsPermanentError(const Status& status);

struct QueueOptions {
  // How long a claim or heartbeat keeps the job.
  std::chrono::milliseconds lease_duration{30'000};
  // Retry delay after attempt n (1-based): min(max, base · 2^(n-1)), of which
  // the upper half is random ("equal jitter").
  std::chrono::milliseconds backoff_base{2'000};
  std::chrono::milliseconds backoff_max{300'000};
  // Returns a number in [0, 1) for the jitter. Empty: a thread-safe PRNG.
  std::function<double()> random;
};

// Called inside the transaction that moves a job to 'failed' for good, with
// the message stored in the job's `error` (e.g. to mark the video's ingestion
// FAILED). An error rolls the transition back.
using FailureHook =
    std::function<Status(storage::Session& session, const Job& job, const std::string& message)>;

// Called inside the transaction that puts a job back in the queue after a
// failed attempt (or an expired lease), with a note for the user: what went
// wrong and when the next attempt starts. An error rolls the transition back.
using RetryHook = FailureHook;

// Called inside a fenced transaction with the job row's session.
using SessionFn = std::function<Status(storage::Session& session)>;

enum class FailOutcome { kRetryScheduled, kFailed };

class Queue {
 public:
  // `db` and `clock` must outlive the Queue.
  Queue(storage::Database& db, const Clock& clock, QueueOptions options = {});

  // Set before the queue is used; not synchronised.
  void SetFailureHook(FailureHook hook) { failure_hook_ = std::move(hook); }
  void SetRetryHook(RetryHook hook) { retry_hook_ = std::move(hook); }

  const QueueOptions& options() const { return options_; }
  const Clock& clock() const { return clock_; }
  storage::Database& database() const { return db_; }

  // Reaps expired leases (ReapExpired), then claims the oldest runnable job
  // whose kind is in `kinds` (any kind when empty) for `owner`. Returns the job
  // as claimed (state running, attempts incremented, lease set) or nullopt
  // when nothing is runnable. Cheap when idle: a read decides whether a write
  // transaction is needed.
  Result<std::optional<Job>> Claim(const std::string& owner,
                                   const std::vector<std::string>& kinds = {});

  // Renews the lease and records progress (percent) and ETA. When `also` is
  // given it runs in the same fenced transaction (e.g. mirroring progress into
  // the video row). kCancelled when the lease is lost or the job cancelled.
  Status Heartbeat(const Lease& lease, double progress, std::optional<int64_t> eta_seconds,
                   const SessionFn& also = nullptr);

  // Runs `fn` in a transaction fenced on the lease (see above).
  Status FencedWrite(const Lease& lease, const SessionFn& fn);

  // Marks the job done; `fn`, when given, runs in the same fenced transaction
  // so the job's final domain writes and its completion commit together.
  Status Complete(const Lease& lease, const SessionFn& fn = nullptr);

  // Ends the attempt with `error`: the job fails for good when the error is
  // permanent or this was its last attempt (the failure hook runs), else it is
  // re-queued after a backoff. kCancelled when the lease is lost.
  Result<FailOutcome> Fail(const Lease& lease, const Status& error);

  // Gives the job back, runnable at once, without counting this attempt (a
  // worker shutting down). kCancelled when the lease is lost.
  Status Release(const Lease& lease);

  // Re-queues (with backoff) or fails every running job whose lease expired.
  // Returns how many jobs it moved.
  Result<int> ReapExpired();
  // ReapExpired, unless this queue saw the database unavailable within the
  // last lease duration, or was made less than one ago (then 0): what Claim
  // and serve's reaper run.
  Result<int> ReapExpiredWhenDue();

  // The same, at once, for every running job whose lease owner starts with
  // `owner_prefix`: a worker process known to be gone (its supervisor reaped
  // it), so its jobs need not wait out their leases. `message` says what
  // became of it. Returns how many jobs it moved.
  Result<int> EndAttemptsOfOwner(const std::string& owner_prefix, const std::string& message);

  // The job `job_id`. NotFound when absent.
  Result<Job> Get(const std::string& job_id);

  // Every job of a video, oldest first (tests, diagnostics).
  Result<std::vector<Job>> ListForVideo(const std::string& video_id);

  // The retry delay after attempt `attempt` (1-based), jitter included.
  std::chrono::milliseconds Backoff(int64_t attempt) const;

 private:
  // Runs the fence UPDATE in `session`; kCancelled explaining why when it fails.
  Status Fence(storage::Session& session, const Lease& lease, int64_t now);
  // How an attempt's error decides the job's fate.
  enum class Retry {
    kNever,       // permanent: the job fails now
    kLimited,     // retried until max_attempts
    kUnlimited,   // the machine's fault (kUnavailable): retried past max_attempts
  };
  static Retry RetryFor(const Status& error);
  // Ends the attempt of each running job `where` (an SQL condition on the
  // jobs table, its parameters in `params`) selects, with `message`.
  Result<int> EndRunningAttempts(const std::string& where, std::vector<storage::Value> params,
                                 const std::string& message);
  // Moves the running job to failed or back to queued; the caller holds the fence.
  Result<FailOutcome> EndAttempt(storage::Session& session, const Job& job,
                                 const std::string& message, Retry retry, int64_t now);
  double Random() const;

  // Notes an outage (`status` kUnavailable): reaping waits a lease duration.
  void NoteOutage(const Status& status);

  storage::Database& db_;
  const Clock& clock_;
  QueueOptions options_;
  std::atomic<int64_t> reap_not_before_{0};  // epoch millis
  FailureHook failure_hook_;
  RetryHook retry_hook_;
};

}  // namespace vidmill::jobs
