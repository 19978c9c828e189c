#include "jobs/ingestion_state.h"

#include <gtest/gtest.h>

#include "common/ids.h"
#include "jobs/queue.h"
#include "storage/backend_test.h"
#include "storage/scratch_database.h"
#include "tests/support/test_video.h"
#include "videos/video_store.h"

namespace vidmill::jobs {
namespace {

class IngestionStateTest : public storage::BackendTest {
 protected:
  void SetUp() override {
    OpenScratchDatabase();
    if (IsSkipped() || HasFatalFailure()) return;
    Status status = db_->Transaction([&](storage::Session& s) -> Status {
      ASSIGN_OR_RETURN(video_id_, test::InsertTestVideo(s, clock_.NowMillis()));
      return Status::Ok();
    });
    ASSERT_TRUE(status.ok()) << status.ToString();
  }

  videos::Video Load() {
    videos::Video video;
    Status status = db_->Run([&](storage::Session& s) -> Status {
      ASSIGN_OR_RETURN(video, videos::GetVideoAnyTeam(s, video_id_));
      return Status::Ok();
    });
    EXPECT_TRUE(status.ok()) << status.ToString();
    return video;
  }

  Status Write(const std::function<Status(storage::Session&)>& fn) { return db_->Transaction(fn); }

  FakeClock clock_{1'700'000'000'000};
  std::string video_id_;
};

INSTANTIATE_TEST_SUITE_P(Backends, IngestionStateTest,
                         ::testing::Values(storage::Backend::kSqlite, storage::Backend::kPostgres),
                         [](const auto& info) {
                           return std::string(storage::BackendName(info.param));
                         });

TEST_P(IngestionStateTest, LifeOfAFullIngestion) {
  std::string job_id;
  ASSERT_TRUE(Write([&](storage::Session& s) -> Status {
                ASSIGN_OR_RETURN(job_id,
                                 EnqueueIngestion(s, video_id_, IngestionKind::kFull, clock_));
                return Status::Ok();
              }).ok());
  videos::Video video = Load();
  EXPECT_EQ(video.ingestion_status, videos::kStatusInProgress);
  EXPECT_EQ(video.ingestion_kind.value_or(""), "full");
  EXPECT_FALSE(video.metadata_available);
  Queue queue(*db_, clock_);
  auto job = queue.Get(job_id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->kind, kKindIngestFull);
  EXPECT_EQ(job->video_id, video_id_);

  clock_.Advance(std::chrono::seconds(1));
  ASSERT_TRUE(Write([&](storage::Session& s) {
                return RecordIngestionProgress(s, video_id_, 42.5, 7, clock_.NowMillis());
              }).ok());
  ASSERT_TRUE(Write([&](storage::Session& s) {
                return RecordIngestionMetadata(s, video_id_, R"({"frameWidth":64})",
                                               clock_.NowMillis());
              }).ok());
  video = Load();
  EXPECT_DOUBLE_EQ(video.ingestion_progress, 42.5);
  EXPECT_EQ(video.ingestion_eta.value_or(-1), 7);
  EXPECT_TRUE(video.metadata_available);
  EXPECT_FALSE(video.metadata_committed);
  EXPECT_EQ(video.metadata.value_or(""), R"({"frameWidth":64})");
  EXPECT_EQ(video.ingestion_updated_at, clock_.NowMillis());

  ASSERT_TRUE(Write([&](storage::Session& s) {
                return CommitIngestion(s, video_id_,
                                       IngestionResult{R"({"frameWidth":64,"totalFrames":3})",
                                                       R"({"metrics":[]})", 5, true},
                                       clock_.NowMillis());
              }).ok());
  video = Load();
  EXPECT_EQ(video.ingestion_status, videos::kStatusDone);
  EXPECT_DOUBLE_EQ(video.ingestion_progress, 100);
  EXPECT_TRUE(video.metadata_committed);
  EXPECT_EQ(video.quality.value_or(""), R"({"metrics":[]})");
  EXPECT_EQ(video.thumbnail_count, 5);
  EXPECT_TRUE(video.web_video_available);

  // Progress after the end is ignored, not an error (heartbeats must not fail).
  ASSERT_TRUE(Write([&](storage::Session& s) {
                return RecordIngestionProgress(s, video_id_, 10, 1, clock_.NowMillis());
              }).ok());
  EXPECT_DOUBLE_EQ(Load().ingestion_progress, 100);

  // A new upload starts over from a clean slate.
  ASSERT_TRUE(Write([&](storage::Session& s) {
                return EnqueueIngestion(s, video_id_, IngestionKind::kLight, clock_).status();
              }).ok());
  video = Load();
  EXPECT_EQ(video.ingestion_status, videos::kStatusInProgress);
  EXPECT_EQ(video.ingestion_kind.value_or(""), "light");
  EXPECT_FALSE(video.metadata_available);
  EXPECT_FALSE(video.metadata.has_value());
  EXPECT_EQ(video.thumbnail_count, 0);
  EXPECT_FALSE(video.web_video_available);
}

TEST_P(IngestionStateTest, FailureKeepsTheMessageForTheUser) {
  ASSERT_TRUE(Write([&](storage::Session& s) {
                return MarkIngestionStarted(s, video_id_, IngestionKind::kFull, clock_.NowMillis());
              }).ok());
  ASSERT_TRUE(Write([&](storage::Session& s) {
                return MarkIngestionFailed(s, video_id_, "cannot open input: not a video",
                                           clock_.NowMillis());
              }).ok());
  videos::Video video = Load();
  EXPECT_EQ(video.ingestion_status, videos::kStatusFailed);
  EXPECT_EQ(video.ingestion_error.value_or(""), "cannot open input: not a video");
  // A vanished video is not an error for the failure path, but is for the others.
  EXPECT_TRUE(Write([&](storage::Session& s) {
                return MarkIngestionFailed(s, "missing", "x", clock_.NowMillis());
              }).ok());
  EXPECT_EQ(Write([&](storage::Session& s) {
              return MarkIngestionStarted(s, "missing", IngestionKind::kFull, 0);
            }).code(),
            Code::kNotFound);
  EXPECT_EQ(Write([&](storage::Session& s) {
              return EnqueueIngestion(s, "missing", IngestionKind::kFull, clock_).status();
            }).code(),
            Code::kNotFound);
}

}  // namespace
}  // namespace vidmill::jobs
