#pragma once
// The fixture the job handlers' tests share: a scratch database of the
// backend under test (SQLite, or PostgreSQL when VIDMILL_TEST_POSTGRES is
// set), a real file blob store and a queue on temp dirs, a fake clock, and
// one video row to run jobs for.

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "common/clock.h"
#include "jobs/queue.h"
#include "storage/backend_test.h"
#include "storage/blob_store.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_video.h"

namespace vidmill::jobs {

class HandlerTest : public storage::BackendTest {
 protected:
  void SetUp() override {
    OpenScratchDatabase();
    if (IsSkipped() || HasFatalFailure()) return;
    auto blobs = storage::OpenFileBlobStore(dir_.path() + "/media");
    ASSERT_TRUE(blobs.ok()) << blobs.status().ToString();
    blobs_ = std::move(*blobs);
    Status status = db_->Transaction([&](storage::Session& s) -> Status {
      ASSIGN_OR_RETURN(video_id_, test::InsertTestVideo(s, clock_.NowMillis()));
      return Status::Ok();
    });
    ASSERT_TRUE(status.ok()) << status.ToString();
    queue_ = std::make_unique<Queue>(*db_, clock_);
  }

  test::TempDir dir_;
  FakeClock clock_{1'700'000'000'000};
  std::unique_ptr<storage::BlobStore> blobs_;
  std::unique_ptr<Queue> queue_;
  std::string video_id_;
};

}  // namespace vidmill::jobs
