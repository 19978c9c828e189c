#include "jobs/queue.h"

#include <algorithm>
#include <mutex>
#include <random>

#include "common/clock.h"
#include "common/ids.h"

namespace vidmill::jobs {
namespace {

using storage::Null;
using storage::Row;
using storage::Rows;
using storage::Session;
using storage::Value;

constexpr const char* kJobColumns =
    "id, kind, video_id, params, state, attempts, max_attempts, lease_owner, lease_expires_at, "
    "run_after, progress, eta_seconds, error, created_at, updated_at";

Job JobFromRow(const Row& row) {
  Job job;
  job.id = row.Text(0);
  job.kind = row.Text(1);
  job.video_id = row.Text(2);
  job.params_json = row.Text(3);
  job.state = row.Text(4);
  job.attempts = row.Int(5);
  job.max_attempts = row.Int(6);
  job.lease_owner = row.OptText(7);
  if (!row.IsNull(8)) job.lease_expires_at = row.Int(8);
  job.run_after = row.Int(9);
  job.progress = row.Double(10);
  if (!row.IsNull(11)) job.eta_seconds = row.Int(11);
  job.error = row.OptText(12);
  job.created_at = row.Int(13);
  job.updated_at = row.Int(14);
  return job;
}

bool IsKnownKind(std::string_view kind) {
  return kind == kKindIngestFull || kind == kKindIngestLight || kind == kKindProcess;
}

bool IsIngestKind(std::string_view kind) {
  return kind == kKindIngestFull || kind == kKindIngestLight;
}

Result<Job> LoadJob(Session& session, const std::string& job_id) {
  ASSIGN_OR_RETURN(
      Row row, session.QueryOne(std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id = ?",
                                {job_id}, "job '" + job_id + "'"));
  return JobFromRow(row);
}

// "(state = 'queued' AND run_after <= ?) [AND kind IN (?, …)]" with its parameters.
std::string KindFilter(const std::vector<std::string>& kinds, std::vector<Value>& params) {
  if (kinds.empty()) return "";
  std::string sql = " AND kind IN (";
  for (size_t kind_idx = 0; kind_idx < kinds.size(); ++kind_idx) {
    sql += kind_idx == 0 ? "?" : ", ?";
    params.emplace_back(kinds[kind_idx]);
  }
  return sql + ")";
}

}  // namespace

Result<std::optional<int64_t>> QueuedAhead(Session& session, const std::string& video_id,
                                           const std::vector<std::string>& kinds) {
  std::vector<Value> params = {video_id};
  ASSIGN_OR_RETURN(Rows own,
                   session.Query("SELECT created_at, id FROM jobs WHERE video_id = ? "
                                 "AND state = 'queued'" +
                                     KindFilter(kinds, params) + " ORDER BY created_at LIMIT 1",
                                 params));
  if (own.empty()) return std::optional<int64_t>();
  const int64_t created_at = own[0].Int(0);
  ASSIGN_OR_RETURN(Rows ahead, session.Query("SELECT COUNT(*) FROM jobs WHERE state = 'queued' AND "
                                             "(created_at < ? OR (created_at = ? AND id < ?))",
                                             {created_at, created_at, own[0].Text(1)}));
  return std::optional<int64_t>(ahead[0].Int(0));
}

Result<std::string> Enqueue(Session& session, const NewJob& job, const Clock& clock) {
  if (!IsKnownKind(job.kind)) {
    return Status::InvalidArgument("unknown job kind '" + job.kind + "'");
  }
  if (job.video_id.empty()) {
    return Status::InvalidArgument("a job needs a video id");
  }
  int64_t now = clock.NowMillis();
  if (IsIngestKind(job.kind)) {
    RETURN_IF_ERROR(session
                        .Execute("UPDATE jobs SET state = 'cancelled', error = ?, "
                                 "lease_expires_at = NULL, updated_at = ? "
                                 "WHERE video_id = ? AND kind IN (?, ?) "
                                 "AND state IN ('queued', 'running')",
                                 {std::string("superseded by a new upload"), now, job.video_id,
                                  std::string(kKindIngestFull), std::string(kKindIngestLight)})
                        .status());
  }
  std::string id = NewId();
  RETURN_IF_ERROR(
      session
          .Execute("INSERT INTO jobs (id, kind, video_id, params, state, attempts, max_attempts, "
                   "run_after, progress, created_at, updated_at) "
                   "VALUES (?, ?, ?, ?, 'queued', 0, ?, ?, 0, ?, ?)",
                   {id, job.kind, job.video_id,
                    job.params_json.empty() ? std::string("{}") : job.params_json,
                    kDefaultMaxAttempts, now, now, now})
          .status());
  return id;
}

bool IsPermanentError(const Status& status) {
  switch (status.code()) {
    case Code::kCorruptMedia:
    case Code::kInvalidArgument:
    case Code::kNotFound:
    case Code::kUnsupportedMedia:
    case Code::kPayloadTooLarge:
    case Code::kConflict:
    case Code::kTimeout:
    case Code::kNotImplemented:
      return true;
    default:
      return false;
  }
}

Queue::Queue(storage::Database& db, const Clock& clock, QueueOptions options)
    : db_(db), clock_(clock), options_(std::move(options)) {
  // A process that has just started cannot know whether the database was
  // away until now (it may have waited for it itself), so it reaps nothing
  // for its first lease duration either: a worker started during an outage
  // would otherwise reap, the moment the database comes back, jobs whose
  // healthy workers are about to renew their leases.
  reap_not_before_ = clock_.NowMillis() + options_.lease_duration.count();
}

double Queue::Random() const {
  if (options_.random) {
    return std::clamp(options_.random(), 0.0, 1.0);
  }
  static std::mutex mu;
  static std::mt19937_64 engine{std::random_device{}()};
  std::lock_guard lock(mu);
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

std::chrono::milliseconds Queue::Backoff(int64_t attempt) const {
  int64_t shift = std::clamp<int64_t>(attempt - 1, 0, 30);
  int64_t full = std::min<int64_t>(options_.backoff_max.count(),
                                   options_.backoff_base.count() * (int64_t{1} << shift));
  int64_t half = full / 2;
  return std::chrono::milliseconds(half + static_cast<int64_t>(Random() * (full - half)));
}

Status Queue::Fence(Session& session, const Lease& lease, int64_t now) {
  ASSIGN_OR_RETURN(
      int64_t changed,
      session.Execute("UPDATE jobs SET updated_at = ? WHERE id = ? AND state = ? "
                      "AND lease_owner = ? AND attempts = ?",
                      {now, lease.job_id, std::string(kStateRunning), lease.owner, lease.attempt}));
  if (changed == 1) {
    return Status::Ok();
  }
  // Explain why, for the worker's log.
  Result<Job> job = LoadJob(session, lease.job_id);
  if (!job.ok()) {
    return Status::Cancelled("job " + lease.job_id + " no longer exists");
  }
  if (job->state == kStateCancelled) {
    return Status::Cancelled("job " + lease.job_id +
                             " was cancelled: " + job->error.value_or("cancelled"));
  }
  return Status::Cancelled("lost the lease on job " + lease.job_id + " (attempt " +
                           std::to_string(lease.attempt) + "): it expired or another worker " +
                           "took the job over");
}

Result<std::optional<Job>> Queue::Claim(const std::string& owner,
                                        const std::vector<std::string>& kinds) {
  int64_t now = clock_.NowMillis();
  // A read first, so idle pollers do not take the write lock.
  bool runnable = false;
  bool expired = false;
  Status looked = db_.Run([&](Session& session) -> Status {
    std::vector<Value> params = {now};
    std::string sql = "SELECT 1 FROM jobs WHERE state = 'queued' AND run_after <= ?" +
                      KindFilter(kinds, params) + " LIMIT 1";
    ASSIGN_OR_RETURN(Rows rows, session.Query(sql, params));
    runnable = !rows.empty();
    ASSIGN_OR_RETURN(Rows stale, session.Query("SELECT 1 FROM jobs WHERE state = 'running' "
                                               "AND lease_expires_at <= ? LIMIT 1",
                                               {now}));
    expired = !stale.empty();
    return Status::Ok();
  });
  NoteOutage(looked);
  RETURN_IF_ERROR(looked);
  if (expired) {
    ASSIGN_OR_RETURN(int reaped, ReapExpiredWhenDue());
    runnable = runnable || reaped > 0;
  }
  if (!runnable) {
    return std::optional<Job>();
  }

  std::optional<Job> claimed;
  RETURN_IF_ERROR(db_.Transaction([&](Session& session) -> Status {
    claimed.reset();
    int64_t at = clock_.NowMillis();
    std::vector<Value> params = {at};
    std::string sql = std::string("SELECT ") + kJobColumns +
                      " FROM jobs WHERE state = 'queued' AND run_after <= ?" +
                      KindFilter(kinds, params) + " ORDER BY created_at, id LIMIT 1";
    if (session.dialect() == storage::Dialect::kPostgres) {
      sql += " FOR UPDATE SKIP LOCKED";
    }
    ASSIGN_OR_RETURN(Rows rows, session.Query(sql, params));
    if (rows.empty()) {
      return Status::Ok();
    }
    Job job = JobFromRow(rows.front());
    job.state = kStateRunning;
    job.attempts += 1;
    job.lease_owner = owner;
    job.lease_expires_at = at + options_.lease_duration.count();
    job.updated_at = at;
    ASSIGN_OR_RETURN(int64_t changed,
                     session.Execute("UPDATE jobs SET state = 'running', attempts = ?, "
                                     "lease_owner = ?, lease_expires_at = ?, updated_at = ? "
                                     "WHERE id = ? AND state = 'queued'",
                                     {job.attempts, owner, *job.lease_expires_at, at, job.id}));
    if (changed == 1) {
      claimed = std::move(job);
    }
    return Status::Ok();
  }));
  return claimed;
}

Status Queue::Heartbeat(const Lease& lease, double progress, std::optional<int64_t> eta_seconds,
                        const SessionFn& also) {
  Status beat = db_.Transaction([&](Session& session) -> Status {
    int64_t now = clock_.NowMillis();
    RETURN_IF_ERROR(Fence(session, lease, now));
    RETURN_IF_ERROR(
        session
            .Execute("UPDATE jobs SET lease_expires_at = ?, progress = ?, "
                     "eta_seconds = ? WHERE id = ?",
                     {now + options_.lease_duration.count(), std::clamp(progress, 0.0, 100.0),
                      eta_seconds ? Value(*eta_seconds) : Null(), lease.job_id})
            .status());
    if (also) {
      RETURN_IF_ERROR(also(session));
    }
    return Status::Ok();
  });
  NoteOutage(beat);
  return beat;
}

void Queue::NoteOutage(const Status& status) {
  if (status.code() != Code::kUnavailable) return;
  const int64_t until = clock_.NowMillis() + options_.lease_duration.count();
  int64_t seen = reap_not_before_.load();
  while (seen < until && !reap_not_before_.compare_exchange_weak(seen, until)) {
  }
}

Result<int> Queue::ReapExpiredWhenDue() {
  if (clock_.NowMillis() < reap_not_before_.load()) return 0;
  Result<int> reaped = ReapExpired();
  NoteOutage(reaped.status());
  return reaped;
}

Status Queue::FencedWrite(const Lease& lease, const SessionFn& fn) {
  return db_.Transaction([&](Session& session) -> Status {
    RETURN_IF_ERROR(Fence(session, lease, clock_.NowMillis()));
    return fn(session);
  });
}

Status Queue::Complete(const Lease& lease, const SessionFn& fn) {
  return db_.Transaction([&](Session& session) -> Status {
    int64_t now = clock_.NowMillis();
    RETURN_IF_ERROR(Fence(session, lease, now));
    RETURN_IF_ERROR(session
                        .Execute("UPDATE jobs SET state = 'done', progress = 100, "
                                 "eta_seconds = 0, error = NULL, lease_expires_at = NULL "
                                 "WHERE id = ?",
                                 {lease.job_id})
                        .status());
    if (fn) {
      RETURN_IF_ERROR(fn(session));
    }
    return Status::Ok();
  });
}

Queue::Retry Queue::RetryFor(const Status& error) {
  if (IsPermanentError(error)) return Retry::kNever;
  return error.code() == Code::kUnavailable ? Retry::kUnlimited : Retry::kLimited;
}

Result<FailOutcome> Queue::EndAttempt(Session& session, const Job& job, const std::string& message,
                                      Retry retry, int64_t now) {
  const bool spent = job.attempts >= job.max_attempts;
  if (retry == Retry::kNever || (retry == Retry::kLimited && spent)) {
    std::string final_message = message;
    if (retry != Retry::kNever) {
      final_message = "gave up after " + std::to_string(job.attempts) +
                      (job.attempts == 1 ? " attempt: " : " attempts: ") + message;
    }
    RETURN_IF_ERROR(session
                        .Execute("UPDATE jobs SET state = 'failed', error = ?, "
                                 "lease_expires_at = NULL, eta_seconds = NULL, updated_at = ? "
                                 "WHERE id = ?",
                                 {final_message, now, job.id})
                        .status());
    if (failure_hook_) {
      RETURN_IF_ERROR(failure_hook_(session, job, final_message));
    }
    return FailOutcome::kFailed;
  }
  const std::string queued_message =
      spent ? "retrying until the fault clears (attempt " + std::to_string(job.attempts) +
                  "): " + message
            : message;
  int64_t run_after = now + Backoff(job.attempts).count();
  RETURN_IF_ERROR(session
                      .Execute("UPDATE jobs SET state = 'queued', error = ?, lease_owner = NULL, "
                               "lease_expires_at = NULL, run_after = ?, progress = 0, "
                               "eta_seconds = NULL, "
                               "updated_at = ? WHERE id = ?",
                               {queued_message, run_after, now, job.id})
                      .status());
  if (retry_hook_) {
    // A fault of the installation is not counted against the job: its note
    // says so, rather than "2 of 3", which read as about to fail for good.
    std::string note = retry == Retry::kUnlimited
                           ? "attempt " + std::to_string(job.attempts) + " failed: " + message +
                                 " (a fault of the installation: retried until it clears)"
                           : "attempt " + std::to_string(job.attempts) + " of " +
                                 std::to_string(job.max_attempts) + " failed: " + message;
    note += "; the next attempt starts at " + FormatApiDate(run_after) + " UTC";
    RETURN_IF_ERROR(retry_hook_(session, job, note));
  }
  return FailOutcome::kRetryScheduled;
}

Result<FailOutcome> Queue::Fail(const Lease& lease, const Status& error) {
  FailOutcome outcome = FailOutcome::kFailed;
  RETURN_IF_ERROR(db_.Transaction([&](Session& session) -> Status {
    int64_t now = clock_.NowMillis();
    RETURN_IF_ERROR(Fence(session, lease, now));
    ASSIGN_OR_RETURN(Job job, LoadJob(session, lease.job_id));
    ASSIGN_OR_RETURN(outcome,
                     EndAttempt(session, job, error.message(), RetryFor(error), now));
    return Status::Ok();
  }));
  return outcome;
}

Status Queue::Release(const Lease& lease) {
  return db_.Transaction([&](Session& session) -> Status {
    int64_t now = clock_.NowMillis();
    RETURN_IF_ERROR(Fence(session, lease, now));
    RETURN_IF_ERROR(session
                        .Execute("UPDATE jobs SET state = 'queued', attempts = attempts - 1, "
                                 "lease_owner = NULL, lease_expires_at = NULL, run_after = ?, "
                                 "progress = 0, eta_seconds = NULL WHERE id = ?",
                                 {now, lease.job_id})
                        .status());
    if (!retry_hook_) return Status::Ok();
    // The retry hook updates the video's state too: otherwise it would keep
    // the stopped attempt's progress and ETA next to jobsAhead.
    ASSIGN_OR_RETURN(Job job, LoadJob(session, lease.job_id));
    return retry_hook_(session, job,
                       "the worker running it was stopped; it runs again from the start on the "
                       "next free worker");
  });
}

Result<int> Queue::ReapExpired() {
  return EndRunningAttempts("lease_expires_at <= ?", {clock_.NowMillis()},
                            "the worker running it stopped responding (its lease expired)");
}

Result<int> Queue::EndAttemptsOfOwner(const std::string& owner_prefix, const std::string& message) {
  if (owner_prefix.empty()) return Status::InvalidArgument("no lease owner named");
  return EndRunningAttempts("substr(lease_owner, 1, length(?)) = ?", {owner_prefix, owner_prefix},
                            message);
}

Result<int> Queue::EndRunningAttempts(const std::string& where, std::vector<Value> params,
                                      const std::string& message) {
  int moved = 0;
  RETURN_IF_ERROR(db_.Transaction([&](Session& session) -> Status {
    moved = 0;
    int64_t now = clock_.NowMillis();
    std::string sql = std::string("SELECT ") + kJobColumns +
                      " FROM jobs WHERE state = 'running' AND " + where +
                      " ORDER BY lease_expires_at LIMIT 100";
    if (session.dialect() == storage::Dialect::kPostgres) {
      sql += " FOR UPDATE SKIP LOCKED";
    }
    ASSIGN_OR_RETURN(Rows rows, session.Query(sql, params));
    for (const Row& row : rows) {
      Job job = JobFromRow(row);
      ASSIGN_OR_RETURN(FailOutcome outcome,
                       EndAttempt(session, job, message, Retry::kLimited, now));
      (void)outcome;
      ++moved;
    }
    return Status::Ok();
  }));
  return moved;
}

Result<Job> Queue::Get(const std::string& job_id) {
  std::optional<Job> job;
  RETURN_IF_ERROR(db_.Run([&](Session& session) -> Status {
    ASSIGN_OR_RETURN(job, LoadJob(session, job_id));
    return Status::Ok();
  }));
  return *std::move(job);
}

Result<std::vector<Job>> Queue::ListForVideo(const std::string& video_id) {
  std::vector<Job> jobs;
  RETURN_IF_ERROR(db_.Run([&](Session& session) -> Status {
    ASSIGN_OR_RETURN(Rows rows, session.Query(std::string("SELECT ") + kJobColumns +
                                                  " FROM jobs WHERE video_id = ? "
                                                  "ORDER BY created_at, id",
                                              {video_id}));
    jobs.clear();
    for (const Row& row : rows) {
      jobs.push_back(JobFromRow(row));
    }
    return Status::Ok();
  }));
  return jobs;
}

}  // namespace vidmill::jobs
