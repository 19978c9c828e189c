#include "jobs/handler.h"

#include <algorithm>
#include <cmath>
#include <thread>

namespace vidmill::jobs {

JobContext::JobContext(Queue& queue, JobHandler& handler, Job job, std::string temp_dir,
                       TimeLimitPolicy limits)
    : queue_(queue),
      handler_(handler),
      job_(std::move(job)),
      lease_(LeaseOf(job_)),
      temp_dir_(std::move(temp_dir)),
      limits_(limits),
      started_(std::chrono::steady_clock::now()),
      deadline_(started_ + limits.initial) {}

Status JobContext::ReportProgress(double percent, std::optional<int64_t> eta_seconds) {
  if (std::isnan(percent)) percent = 0;
  {
    std::lock_guard lock(mu_);
    progress_ = std::clamp(percent, 0.0, 100.0);
    eta_seconds_ = eta_seconds;
  }
  if (std::chrono::steady_clock::now() > deadline()) {
    auto limit = std::chrono::duration_cast<std::chrono::seconds>(deadline() - started_);
    RequestStop(StopReason::kTimeLimit, "the job ran longer than its time limit of " +
                                            std::to_string(limit.count()) + " s");
  }
  return CheckStop();
}

Status JobContext::CheckStop() const {
  StopReason reason = stop_reason_.load();
  if (reason == StopReason::kNone) {
    return Status::Ok();
  }
  if (reason == StopReason::kTimeLimit) {
    return Status::Timeout(stop_message());
  }
  return Status::Cancelled(stop_message());
}

void JobContext::SetMediaDuration(double seconds) {
  if (!(seconds >= 0) || !std::isfinite(seconds)) {
    return;
  }
  auto limit =
      limits_.base +
      std::chrono::seconds(static_cast<int64_t>(std::ceil(limits_.per_media_second * seconds)));
  SetTimeLimit(limit);
}

void JobContext::SetTimeLimit(std::chrono::seconds limit) {
  std::lock_guard lock(mu_);
  deadline_ = started_ + limit;
}

std::chrono::steady_clock::time_point JobContext::deadline() const {
  std::lock_guard lock(mu_);
  return deadline_;
}

Status JobContext::FencedWrite(const SessionFn& fn) { return queue_.FencedWrite(lease_, fn); }

Status JobContext::Complete(const SessionFn& fn) {
  // The work is finished: a database outage now must not throw it away (the
  // job would run again). Retrying is safe, the write being fenced: an
  // expired lease is still this attempt's until a reaper takes the job, and
  // reapers that saw the outage wait a lease after it, so while the database
  // is away the completion is retried until it lands (giving up after one
  // lease, an outage longer than that would cost a finished job its attempt).
  // Any other fault of the installation (the media store gone at
  // publishing) is retried for one lease, then ends the attempt, which is
  // retried with a note. The retries end too when the attempt must stop (its
  // lease lost, its time limit, shutdown).
  // Past the lease, once the database answers again, the completion is
  // tried once more before the fault is taken for another one: a try that a
  // frozen server kept waiting (a connection timeout each) fails just as the
  // server comes back, and giving up on that failure had run finished jobs
  // again (audit 33 F1).
  const auto give_up = std::chrono::steady_clock::now() + queue_.options().lease_duration;
  auto pause = std::chrono::milliseconds(100);
  Status status = queue_.Complete(lease_, fn);
  while (status.code() == Code::kUnavailable && CheckStop().ok()) {
    if (std::chrono::steady_clock::now() + pause >= give_up &&
        queue_.database().Ping().code() != Code::kUnavailable) {
      // Back: the last try, at once (a reaper that saw the outage takes the
      // job a lease after it, and the lease may be shorter than a pause).
      status = queue_.Complete(lease_, fn);
      break;
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(2000));
    status = queue_.Complete(lease_, fn);
  }
  if (status.ok()) {
    completed_ = true;
  }
  return status;
}

void JobContext::RequestStop(StopReason reason, std::string message) {
  std::lock_guard lock(mu_);
  StopReason expected = StopReason::kNone;
  // The first reason wins: it is what the handler is told.
  if (stop_reason_.compare_exchange_strong(expected, reason)) {
    stop_message_ = std::move(message);
  }
}

std::string JobContext::stop_message() const {
  std::lock_guard lock(mu_);
  return stop_message_;
}

double JobContext::progress() const {
  std::lock_guard lock(mu_);
  return progress_;
}

std::optional<int64_t> JobContext::EtaSeconds() const {
  std::lock_guard lock(mu_);
  if (eta_seconds_) {
    return std::max<int64_t>(0, *eta_seconds_);
  }
  if (progress_ < 1.0 || progress_ >= 100.0) {
    return std::nullopt;
  }
  double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  return static_cast<int64_t>(std::ceil(elapsed * (100.0 - progress_) / progress_));
}

void HandlerRegistry::Register(std::string kind, std::unique_ptr<JobHandler> handler) {
  handlers_[std::move(kind)] = std::move(handler);
}

JobHandler* HandlerRegistry::Find(const std::string& kind) const {
  auto it = handlers_.find(kind);
  return it == handlers_.end() ? nullptr : it->second.get();
}

std::vector<std::string> HandlerRegistry::kinds() const {
  std::vector<std::string> kinds;
  for (const auto& [kind, handler] : handlers_) {
    kinds.push_back(kind);
  }
  return kinds;
}

void HandlerRegistry::InstallHooks(Queue& queue) const {
  using Method = Status (JobHandler::*)(storage::Session&, const Job&, const std::string&);
  auto dispatch = [this](Method method) {
    return [this, method](storage::Session& session, const Job& job,
                          const std::string& message) -> Status {
      JobHandler* handler = Find(job.kind);
      if (handler == nullptr) return Status::Ok();
      return (handler->*method)(session, job, message);
    };
  };
  queue.SetFailureHook(dispatch(&JobHandler::OnFailed));
  queue.SetRetryHook(dispatch(&JobHandler::OnRetry));
}

}  // namespace vidmill::jobs
