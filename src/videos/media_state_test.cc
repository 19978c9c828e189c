// The media columns against a real database (SQLite always, PostgreSQL when
// VIDMILL_TEST_POSTGRES names a server), and the media service's pure rules.

#include "videos/media_state.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/ids.h"
#include "storage/backend_test.h"
#include "storage/scratch_database.h"
#include "tests/support/temp_dir.h"
#include "videos/project_store.h"

namespace vidmill::videos {
namespace {

class MediaStateTest : public storage::BackendTest {
 protected:
  void SetUp() override {
    OpenScratchDatabase();
    if (IsSkipped() || HasFatalFailure()) return;
    team_ = NewId();
    other_team_ = NewId();
    for (const std::string& team : {team_, other_team_}) {
      ASSERT_TRUE(db_->Run([&](storage::Session& s) {
                       return s
                           .Execute(
                               "INSERT INTO teams(id, name, created_at, updated_at) "
                               "VALUES (?, ?, 0, 0)",
                               {team, team})
                           .status();
                     })
                      .ok());
    }
    ASSERT_TRUE(db_->Transaction([&](storage::Session& s) -> Status {
                     ASSIGN_OR_RETURN(Project project, CreateProject(s, team_, "p", 1000));
                     project_ = project.id;
                     return Status::Ok();
                   })
                    .ok());
  }

  Video Insert(std::optional<std::string> parent = std::nullopt,
               std::string processing_status = std::string(kStatusInitial)) {
    NewVideo spec;
    spec.team_id = team_;
    spec.project_id = project_;
    spec.user_id = "user-1";
    spec.parent_id = std::move(parent);
    spec.name = "clip";
    spec.processing_status = std::move(processing_status);
    Video out;
    Status status = db_->Transaction([&](storage::Session& s) -> Status {
      ASSIGN_OR_RETURN(out, InsertVideo(s, spec, 1000));
      return Status::Ok();
    });
    EXPECT_TRUE(status.ok()) << status.ToString();
    return out;
  }

  Result<Video> Check(const std::string& team, const std::string& id) {
    std::optional<Result<Video>> out;
    Status status = db_->Run([&](storage::Session& s) -> Status {
      out = CheckUploadAllowed(s, team, id);
      return Status::Ok();
    });
    EXPECT_TRUE(status.ok());
    return *out;
  }

  Video Read(const std::string& id) {
    Video out;
    EXPECT_TRUE(db_->Run([&](storage::Session& s) -> Status {
                     ASSIGN_OR_RETURN(out, GetVideoAnyTeam(s, id));
                     return Status::Ok();
                   })
                    .ok());
    return out;
  }

  std::string team_;
  std::string other_team_;
  std::string project_;
};

TEST_P(MediaStateTest, UploadAllowedRules) {
  Video original = Insert();
  EXPECT_TRUE(Check(team_, original.id).ok());
  EXPECT_EQ(Check(other_team_, original.id).status().code(), Code::kNotFound);
  EXPECT_EQ(Check(team_, NewId()).status().code(), Code::kNotFound);

  Video started = Insert(std::nullopt, std::string(kStatusInProgress));
  Result<Video> result = Check(team_, started.id);
  EXPECT_EQ(result.status().code(), Code::kConflict);
  EXPECT_NE(result.status().message().find("processing"), std::string::npos);

  Video child = Insert(original.id, std::string(kStatusInProgress));
  result = Check(team_, child.id);
  EXPECT_EQ(result.status().code(), Code::kConflict);
  EXPECT_NE(result.status().message().find("processed video"), std::string::npos);
  // The original now has a processed child: its media can no longer change.
  result = Check(team_, original.id);
  EXPECT_EQ(result.status().code(), Code::kConflict);
  EXPECT_NE(result.status().message().find(child.id), std::string::npos);
}

TEST_P(MediaStateTest, RecordUploadSetsTheUploadBlock) {
  Video video = Insert();
  EXPECT_EQ(video.upload_status, kStatusInitial);
  MediaFile file{"../tape \x01 03\xff.mov", 1234, "video/quicktime", "QuickTime / MOV",
                 std::string(64, 'a'),      5555};
  ASSERT_TRUE(db_->Transaction([&](storage::Session& s) {
                   return RecordUpload(s, video.id, file, "user-1", 7777);
                 })
                  .ok());
  Video stored = Read(video.id);
  EXPECT_EQ(stored.user_id, "user-1");
  EXPECT_EQ(stored.upload_status, kStatusDone);
  EXPECT_TRUE(stored.has_finished_uploading());
  EXPECT_EQ(stored.upload_updated_at, 7777);
  EXPECT_FALSE(stored.upload_error.has_value());
  EXPECT_EQ(stored.file_name, "../tape \x01 03\xEF\xBF\xBD.mov");
  EXPECT_EQ(stored.file_size, 1234);
  EXPECT_EQ(stored.file_type, "video/quicktime");
  EXPECT_EQ(stored.file_container, "QuickTime / MOV");
  EXPECT_EQ(stored.file_sha256, std::string(64, 'a'));
  EXPECT_EQ(stored.file_modified_at, 5555);

  // A second upload, by another member of the team, replaces every column,
  // and the video's user is now that uploader.
  file.file_name = "second.mp4";
  file.size = 99;
  ASSERT_TRUE(db_->Transaction([&](storage::Session& s) {
                   return RecordUpload(s, video.id, file, "user-2", 8888);
                 })
                  .ok());
  stored = Read(video.id);
  EXPECT_EQ(stored.user_id, "user-2");
  EXPECT_EQ(stored.file_name, "second.mp4");
  EXPECT_EQ(stored.file_size, 99);
  EXPECT_EQ(stored.upload_updated_at, 8888);

  Status missing = db_->Transaction(
      [&](storage::Session& s) { return RecordProcessedMedia(s, NewId(), file, 1); });
  EXPECT_EQ(missing.code(), Code::kNotFound);
}

// A job refused at completion (its video deleted while it published) removes
// what it published once the row is gone; while the row exists, nothing.
TEST_P(MediaStateTest, TheMediaOfADeletedVideoIsRemovedAfterItsJob) {
  test::TempDir media;
  auto blobs = storage::OpenFileBlobStore(media.path() + "/media");
  ASSERT_TRUE(blobs.ok()) << blobs.status().ToString();
  Video video = Insert();
  {
    auto writer = (*blobs)->Create(video.id, storage::kProcessedBlob);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Append("published after the delete").ok());
    ASSERT_TRUE((*writer)->Commit().ok());
  }
  EXPECT_TRUE(RemoveMediaOfDeletedVideo(*db_, **blobs, video.id).ok());
  EXPECT_TRUE(*(*blobs)->Exists(video.id, storage::kProcessedBlob)) << "the row is there";
  ASSERT_TRUE(db_->Transaction([&](storage::Session& s) {
                   return DeleteVideoCascade(s, team_, video.id, 2000).status();
                 })
                  .ok());
  EXPECT_TRUE(RemoveMediaOfDeletedVideo(*db_, **blobs, video.id).ok());
  EXPECT_FALSE(*(*blobs)->Exists(video.id, storage::kProcessedBlob));
  EXPECT_FALSE(std::filesystem::exists(media.path() + "/media/" + video.id));
}

INSTANTIATE_TEST_SUITE_P(Backends, MediaStateTest,
                         testing::Values(storage::Backend::kSqlite, storage::Backend::kPostgres),
                         [](const auto& info) {
                           return std::string(storage::BackendName(info.param));
                         });

TEST(SanitizeFileNameTest, Table) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"tape 03.mov", "tape 03.mov"},
      {"../../etc/passwd", "../../etc/passwd"},
      {"a\tb\r\nc", "a\tb\r\nc"},
      {std::string("nul\0byte", 8),
       "nul\xEF\xBF\xBD"
       "byte"},
      {"bad\xff", "bad\xEF\xBF\xBD"},
      {"\xC3\xA9t\xC3\xA9", "\xC3\xA9t\xC3\xA9"},
      {"\xC0\xAF", "\xEF\xBF\xBD\xEF\xBF\xBD"},
      {std::string(2000, 'x'), std::string(1024, 'x')},
  };
  for (const auto& [input, expected] : cases) {
    EXPECT_EQ(SanitizeFileName(input), expected) << testing::PrintToString(input);
  }
}

TEST(GuessContainerTest, Table) {
  struct Case {
    std::string head;
    std::string file_name;
    std::string declared;
    std::string mime;
    std::string container;
  };
  // Literal bytes, NULs included.
  auto bytes = []<size_t N>(const char(&text)[N]) { return std::string(text, N - 1); };
  const std::string ftyp_isom = bytes(
      "\0\0\0\x20"
      "ftypisom");
  const std::string ftyp_qt = bytes(
      "\0\0\0\x14"
      "ftypqt  ");
  const std::vector<Case> cases = {
      {ftyp_isom, "x.mov", "text/html", "video/mp4", "QuickTime / MOV"},
      {ftyp_qt, "x.mp4", "", "video/quicktime", "QuickTime / MOV"},
      {bytes("\0\0\0\x08wide"), "", "", "video/quicktime", "QuickTime / MOV"},
      {bytes("\x1A\x45\xDF\xA3\x01\x00\x00\x00\x42\x82\x84webm"), "", "", "video/webm",
       "Matroska / WebM"},
      {bytes("\x1A\x45\xDF\xA3\x01\x00\x00\x00\x42\x82\x88matroska"), "", "", "video/x-matroska",
       "Matroska / WebM"},
      {bytes("RIFF\x10\x00\x00\x00"
             "AVI LIST"),
       "", "", "video/x-msvideo", "AVI (Audio Video Interleaved)"},
      {bytes("\x00\x00\x01\xBA\x44"), "", "", "video/mpeg", "MPEG-PS (MPEG-2 Program Stream)"},
      {bytes("\x47\x40\x00\x10"), "", "", "video/mp2t", "MPEG-TS (MPEG-2 Transport Stream)"},
      {"FLV\x01\x05", "", "", "video/x-flv", "FLV (Flash Video)"},
      // Raw DV (tape capture), by its DIF header block or its extension
      // (audit 31 F8: it had been octet-stream), and HDV's .m2t.
      {bytes("\x1F\x07\x00\xBF\xF8\x78\x78\x78"), "", "", "video/x-dv", "DV (Digital Video)"},
      {"garbage", "tape 1.dif", "", "video/x-dv", "DV (Digital Video)"},
      {"garbage", "hdv.m2t", "", "video/mp2t", "MPEG-TS (MPEG-2 Transport Stream)"},
      // Unrecognised bytes: the extension, then a declared video/* type.
      {"garbage", "clip.MKV", "", "video/x-matroska", "Matroska / WebM"},
      {"garbage", "clip", "video/mp4; codecs=avc1", "video/mp4", "QuickTime / MOV"},
      {"garbage", "clip", "Video/X-Custom", "video/x-custom", "unknown"},
      // Declared types that are not media, or malformed, are not trusted.
      {"garbage", "clip", "text/html", "application/octet-stream", "unknown"},
      {"garbage", "clip", "video/mp4\r\nX-Evil: 1", "application/octet-stream", "unknown"},
      {"", "", "", "application/octet-stream", "unknown"},
  };
  for (const Case& c : cases) {
    ContainerGuess guess = GuessContainer(c.head, c.file_name, c.declared);
    EXPECT_EQ(guess.mime_type, c.mime) << testing::PrintToString(c.head) << " " << c.file_name;
    EXPECT_EQ(guess.container, c.container) << testing::PrintToString(c.head);
  }
}

TEST(ProcessedFileNameTest, Table) {
  struct Case {
    std::string original;
    std::string extension;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"tape 03.mov", "mov", "tape 03_processed.mov"},
      {"tape 03.mov", "mp4", "tape 03_processed.mp4"},
      {"tape 03.mov", "", "tape 03_processed.mov"},
      {"archive.tar.mkv", "mp4", "archive.tar_processed.mp4"},
      {"noext", "mp4", "noext_processed.mp4"},
      {"", "mp4", "video_processed.mp4"},
      {"", "", "video_processed"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ProcessedFileName(c.original, c.extension), c.expected) << c.original;
  }
  EXPECT_EQ(ExtensionForMimeType("video/quicktime"), "mov");
  EXPECT_EQ(ExtensionForMimeType("video/mp4"), "mp4");
  EXPECT_EQ(ExtensionForMimeType("application/x-unknown"), "");
}

}  // namespace
}  // namespace vidmill::videos
