#include "jobs/handlers/process_handler.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "jobs/handlers/handler_test_fixture.h"

namespace vidmill::jobs {
namespace {

class ProcessHandlerTest : public HandlerTest {
 protected:
  // Runs the handler on a claimed process job whose stored parameters are
  // `params_json`.
  Status RunWithParams(const std::string& params_json) {
    Status enqueued = db_->Transaction([&](storage::Session& s) -> Status {
      return Enqueue(s, NewJob{std::string(kKindProcess), video_id_, params_json}, clock_)
          .status();
    });
    if (!enqueued.ok()) return enqueued;
    auto job = queue_->Claim("host:1:test:0", {std::string(kKindProcess)});
    if (!job.ok()) return job.status();
    if (!job->has_value()) return Status::Internal("nothing to claim");
    ProcessHandler handler(*blobs_, clock_, ProcessHandlerOptions{});
    const std::string temp = dir_.path() + "/attempt";
    std::filesystem::create_directories(temp);
    JobContext context(*queue_, handler, **job, temp, TimeLimitPolicy{});
    return handler.Run(context);
  }
};

INSTANTIATE_TEST_SUITE_P(Backends, ProcessHandlerTest,
                         ::testing::Values(storage::Backend::kSqlite, storage::Backend::kPostgres),
                         [](const auto& info) {
                           return std::string(storage::BackendName(info.param));
                         });

// A job row whose parameters lack a field, or hold one of the wrong type,
// fails once with a permanent error that says so; it had thrown out of the
// handler (a missing "request" after a present "sourceVideoId") and was
// retried as an internal error.
TEST_P(ProcessHandlerTest, MalformedParametersFailTheJobOnceWithAMessage) {
  for (const char* params :
       {R"({"sourceVideoId": "v1"})", R"({"sourceVideoId": 7, "request": {}})",
        R"({"request": {}})", R"({"sourceVideoId": "v1", "request": []})", "not json",
        "[]"}) {
    Status ran = RunWithParams(params);
    EXPECT_EQ(ran.code(), Code::kInvalidArgument) << params << ": " << ran.ToString();
    EXPECT_TRUE(IsPermanentError(ran)) << params;
    EXPECT_NE(ran.message().find("parameters are malformed"), std::string::npos) << params;
  }
}

// The queue's hooks run inside its own transactions (a heartbeat's lease
// renewal, a job's failure): a video deleted meanwhile, or one no longer
// being processed, is left alone rather than an error that would roll the
// renewal or the failure back.
TEST_P(ProcessHandlerTest, HooksOnAVideoGoneOrNotProcessingLeaveIt) {
  ProcessHandler handler(*blobs_, clock_, ProcessHandlerOptions{});
  for (const std::string& video_id :
       {std::string("00000000-0000-4000-8000-000000000000"), video_id_}) {
    Job job;
    job.video_id = video_id;
    Status hooks = db_->Transaction([&](storage::Session& session) -> Status {
      RETURN_IF_ERROR(handler.OnProgress(session, job, 50, 10));
      return video_id == video_id_ ? Status::Ok() : handler.OnFailed(session, job, "gone");
    });
    EXPECT_TRUE(hooks.ok()) << video_id << ": " << hooks.ToString();
  }
}

}  // namespace
}  // namespace vidmill::jobs
