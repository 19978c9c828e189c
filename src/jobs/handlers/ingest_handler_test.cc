#include "jobs/handlers/ingest_handler.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>

#include "common/ids.h"
#include "engine/test_media.h"
#include "jobs/handlers/handler_test_fixture.h"
#include "jobs/ingestion_state.h"
#include "jobs/queue.h"
#include "storage/backend_test.h"
#include "storage/blob_store.h"
#include "storage/scratch_database.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_video.h"
#include "videos/video_store.h"

namespace vidmill::jobs {
namespace {

// The real file store, with a moment chosen by the test: `stall` runs once,
// when the handler first hands a finished file to the store — the moment a
// worker that stalls there (a GC or NFS pause, SIGSTOP) loses its job.
class StallingBlobStore final : public storage::BlobStore {
 public:
  StallingBlobStore(storage::BlobStore& real, std::function<void()> stall)
      : real_(real), stall_(std::move(stall)) {}

  Result<storage::BlobInfo> PrepareFile(const std::string& source_path) override {
    Stall();
    return real_.PrepareFile(source_path);
  }
  Result<storage::BlobInfo> PublishFile(std::string_view video_id, std::string_view name,
                                        const std::string& source_path,
                                        const storage::BlobInfo& prepared) override {
    return real_.PublishFile(video_id, name, source_path, prepared);
  }
  Result<std::unique_ptr<storage::BlobWriter>> Create(std::string_view video_id,
                                                      std::string_view name) override {
    return real_.Create(video_id, name);
  }
  Result<std::string> TempPath(std::string_view video_id, std::string_view name) override {
    return real_.TempPath(video_id, name);
  }
  Result<std::unique_ptr<storage::BlobReader>> Open(std::string_view video_id,
                                                    std::string_view name) override {
    return real_.Open(video_id, name);
  }
  Result<bool> Exists(std::string_view video_id, std::string_view name) override {
    return real_.Exists(video_id, name);
  }
  Result<uint64_t> Size(std::string_view video_id, std::string_view name) override {
    return real_.Size(video_id, name);
  }
  Status Remove(std::string_view video_id, std::string_view name) override {
    return real_.Remove(video_id, name);
  }
  Status Delete(std::string_view video_id) override { return real_.Delete(video_id); }
  Result<std::vector<storage::KeptVersion>> KeptVersions(std::string_view name) override {
    return real_.KeptVersions(name);
  }
  Result<storage::KeptVersionOutcome> SettleKeptVersion(
      const storage::KeptVersion& kept, const storage::BlobInfo& recorded) override {
    return real_.SettleKeptVersion(kept, recorded);
  }
  Result<std::string> LocalPath(std::string_view video_id, std::string_view name) override {
    return real_.LocalPath(video_id, name);
  }
  Status CheckAvailable() override { return real_.CheckAvailable(); }
  Status CheckWritable() override { return real_.CheckWritable(); }
  Status Adopt(bool database_has_media) override { return real_.Adopt(database_has_media); }
  Result<std::string> MarkerOwner() override { return real_.MarkerOwner(); }
  Status SetMarkerOwner(const std::string& installation_id) override {
    return real_.SetMarkerOwner(installation_id);
  }
  Result<std::vector<std::string>> VideoIds() override { return real_.VideoIds(); }
  Result<storage::SweepStats> SweepOrphans(const std::set<std::string>& known_video_ids,
                                           TimePoint now,
                                           std::chrono::seconds orphan_grace,
                                           std::chrono::seconds temp_max_age) override {
    return real_.SweepOrphans(known_video_ids, now, orphan_grace, temp_max_age);
  }

 private:
  void Stall() {
    if (stall_) std::exchange(stall_, nullptr)();
  }
  storage::BlobStore& real_;
  std::function<void()> stall_;
};

class IngestHandlerTest : public HandlerTest {
 protected:
  Status EnqueueFullIngestion() {
    return db_->Transaction([&](storage::Session& s) -> Status {
      return EnqueueIngestion(s, video_id_, IngestionKind::kFull, clock_).status();
    });
  }

  // Uploads a 1 s clip as the video's original, enqueues its full ingestion
  // and claims the job for `owner`.
  std::optional<Job> UploadAndClaim(const std::string& owner) {
    const std::string clip = dir_.path() + "/clip.mp4";
    if (!engine::testing::Ffmpeg("-f lavfi -i testsrc2=size=160x90:rate=25 -t 1 "
                                 "-pix_fmt yuv420p '" +
                                 clip + "'") ||
        !storage::PutFile(*blobs_, video_id_, storage::kOriginalBlob, clip).ok() ||
        !EnqueueFullIngestion().ok()) {
      ADD_FAILURE() << "cannot upload and enqueue the clip";
      return std::nullopt;
    }
    auto job = queue_->Claim(owner, {std::string(kKindIngestFull)});
    if (!job.ok() || !job->has_value()) {
      ADD_FAILURE() << "nothing to claim";
      return std::nullopt;
    }
    return **job;
  }

  // Runs the ingestion handler of `kind` on `job` with the blob store `store`.
  Status RunIngestion(storage::BlobStore& store, const Job& job,
                      IngestionKind kind = IngestionKind::kFull) {
    IngestHandler handler(kind, store, clock_, IngestHandlerOptions{});
    const std::string temp = dir_.path() + "/attempt-" + std::to_string(job.attempts);
    std::filesystem::create_directories(temp);
    JobContext context(*queue_, handler, job, temp, TimeLimitPolicy{});
    return handler.Run(context);
  }

  std::string ReadBlob(const std::string& name) {
    auto path = blobs_->LocalPath(video_id_, name);
    if (!path.ok()) return "";
    std::ifstream in(*path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
};

INSTANTIATE_TEST_SUITE_P(Backends, IngestHandlerTest,
                         ::testing::Values(storage::Backend::kSqlite, storage::Backend::kPostgres),
                         [](const auto& info) {
                           return std::string(storage::BackendName(info.param));
                         });

// A worker that stalls with its thumbnails and web preview made, while the
// user uploads again and that upload is ingested, must not put its files
// over the newer ones when it wakes: its completion is refused (the job was
// superseded), and nothing of it is published. The files had been renamed
// into place before the completion, so the newer upload showed the older
// clip's thumbnails and preview (audit 13).
TEST_P(IngestHandlerTest, AWorkerThatLostItsJobPublishesNothing) {
  std::optional<Job> job = UploadAndClaim("host:1:stalled:0");
  ASSERT_TRUE(job);

  // While it stalls: a new upload supersedes the job, and its own ingestion
  // publishes the newer files.
  const std::string newer_thumbnail = dir_.path() + "/newer.jpg";
  const std::string newer_preview = dir_.path() + "/newer.mp4";
  std::ofstream(newer_thumbnail) << "the newer upload's thumbnail";
  std::ofstream(newer_preview) << "the newer upload's web preview";
  StallingBlobStore stalling(*blobs_, [&] {
    ASSERT_TRUE(EnqueueFullIngestion().ok());
    ASSERT_TRUE(
        storage::PutFile(*blobs_, video_id_, storage::ThumbnailBlobName(0), newer_thumbnail).ok());
    ASSERT_TRUE(storage::PutFile(*blobs_, video_id_, storage::kWebPreviewBlob, newer_preview).ok());
  });
  Status ran = RunIngestion(stalling, *job);

  EXPECT_EQ(ran.code(), Code::kCancelled) << ran.ToString();
  EXPECT_EQ(ReadBlob(storage::ThumbnailBlobName(0)), "the newer upload's thumbnail");
  EXPECT_EQ(ReadBlob(std::string(storage::kWebPreviewBlob)), "the newer upload's web preview");
  for (int thumbnail_idx = 1; thumbnail_idx < 5; ++thumbnail_idx) {
    EXPECT_FALSE(*blobs_->Exists(video_id_, storage::ThumbnailBlobName(thumbnail_idx)))
        << thumbnail_idx;
  }
}

// The same attempt, not superseded, publishes every file and completes.
TEST_P(IngestHandlerTest, AnAttemptThatKeepsItsJobPublishesEveryFile) {
  std::optional<Job> job = UploadAndClaim("host:1:steady:0");
  ASSERT_TRUE(job);
  Status ran = RunIngestion(*blobs_, *job);
  ASSERT_TRUE(ran.ok()) << ran.ToString();
  for (int thumbnail_idx = 0; thumbnail_idx < 5; ++thumbnail_idx) {
    EXPECT_TRUE(*blobs_->Exists(video_id_, storage::ThumbnailBlobName(thumbnail_idx)))
        << thumbnail_idx;
  }
  EXPECT_GT(ReadBlob(std::string(storage::kWebPreviewBlob)).size(), 1000u);
  EXPECT_EQ(queue_->Get(job->id)->state, kStateDone);
}

// A light re-upload's ingestion draws no thumbnails or preview, and removes
// those of the earlier upload's full ingestion: nothing served them, but they
// had stayed on disk for the life of the video (audit 36 F2).
TEST_P(IngestHandlerTest, ALightReUploadRemovesTheEarlierUploadsPreviews) {
  std::optional<Job> full = UploadAndClaim("host:1:full:0");
  ASSERT_TRUE(full);
  ASSERT_TRUE(RunIngestion(*blobs_, *full).ok());
  ASSERT_TRUE(*blobs_->Exists(video_id_, storage::kWebPreviewBlob));
  ASSERT_TRUE(db_->Transaction([&](storage::Session& s) -> Status {
                   return EnqueueIngestion(s, video_id_, IngestionKind::kLight, clock_).status();
                 })
                  .ok());
  auto light = queue_->Claim("host:1:light:0", {std::string(kKindIngestLight)});
  ASSERT_TRUE(light.ok() && light->has_value());
  Status ran = RunIngestion(*blobs_, **light, IngestionKind::kLight);
  ASSERT_TRUE(ran.ok()) << ran.ToString();
  EXPECT_EQ(queue_->Get((*light)->id)->state, kStateDone);
  EXPECT_TRUE(*blobs_->Exists(video_id_, storage::kOriginalBlob));
  EXPECT_FALSE(*blobs_->Exists(video_id_, storage::kWebPreviewBlob));
  for (int thumbnail_idx = 0; thumbnail_idx < 5; ++thumbnail_idx) {
    EXPECT_FALSE(*blobs_->Exists(video_id_, storage::ThumbnailBlobName(thumbnail_idx)))
        << thumbnail_idx;
  }
}

}  // namespace
}  // namespace vidmill::jobs
