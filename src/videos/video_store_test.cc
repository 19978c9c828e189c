// The videos domain against a real database (SQLite always, PostgreSQL when
// VIDMILL_TEST_POSTGRES names a server): projects, video rows, team isolation,
// the delete cascade, paging anchors and the JSON document.

#include "videos/video_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "common/clock.h"
#include "common/ids.h"
#include "storage/backend_test.h"
#include "storage/scratch_database.h"
#include "videos/project_store.h"
#include "videos/video_document.h"

namespace vidmill::videos {
namespace {

class VideoStoreTest : public storage::BackendTest {
 protected:
  void SetUp() override {
    OpenScratchDatabase();
    if (IsSkipped() || HasFatalFailure()) return;
    team_a_ = AddTeam("team-a");
    team_b_ = AddTeam("team-b");
  }

  std::string AddTeam(const std::string& name) {
    std::string id = NewId();
    Status status = db_->Run([&](storage::Session& s) {
      return s
          .Execute("INSERT INTO teams(id, name, created_at, updated_at) VALUES (?, ?, 0, 0)",
                   {id, name})
          .status();
    });
    EXPECT_TRUE(status.ok()) << status.ToString();
    return id;
  }

  template <typename T>
  T InTransaction(const std::function<Result<T>(storage::Session&)>& fn) {
    std::optional<T> out;
    Status status = db_->Transaction([&](storage::Session& s) -> Status {
      ASSIGN_OR_RETURN(T value, fn(s));
      out = std::move(value);
      return Status::Ok();
    });
    EXPECT_TRUE(status.ok()) << status.ToString();
    return out ? std::move(*out) : T{};
  }

  Status TransactionStatus(const std::function<Status(storage::Session&)>& fn) {
    return db_->Transaction(fn);
  }

  Project NewProject(const std::string& team, const std::string& name, int64_t now = 1000) {
    return InTransaction<Project>(
        [&](storage::Session& s) { return CreateProject(s, team, name, now); });
  }

  Video NewVideoIn(const std::string& team, const std::string& project,
                   std::optional<std::string> parent = std::nullopt, int64_t now = 1000) {
    NewVideo spec;
    spec.team_id = team;
    spec.project_id = project;
    spec.user_id = "user-1";
    spec.parent_id = std::move(parent);
    spec.name = "clip";
    return InTransaction<Video>([&](storage::Session& s) { return InsertVideo(s, spec, now); });
  }

  void AddJob(const std::string& video_id, const std::string& state) {
    Status status = db_->Run([&](storage::Session& s) {
      return s
          .Execute(
              "INSERT INTO jobs(id, kind, video_id, state, run_after, created_at, updated_at)"
              " VALUES (?, 'ingest', ?, ?, 0, 0, 0)",
              {NewId(), video_id, state})
          .status();
    });
    ASSERT_TRUE(status.ok()) << status.ToString();
  }

  std::vector<std::string> JobStates(const std::string& video_id) {
    std::vector<std::string> states;
    Status status = db_->Run([&](storage::Session& s) -> Status {
      ASSIGN_OR_RETURN(
          storage::Rows rows,
          s.Query("SELECT state FROM jobs WHERE video_id = ? ORDER BY state", {video_id}));
      for (const auto& row : rows) states.push_back(row.Text(0));
      return Status::Ok();
    });
    EXPECT_TRUE(status.ok()) << status.ToString();
    return states;
  }

  Result<Video> Get(const std::string& team, const std::string& id) {
    std::optional<Result<Video>> out;
    Status status = db_->Run([&](storage::Session& s) {
      out = GetVideo(s, team, id);
      return Status::Ok();
    });
    EXPECT_TRUE(status.ok());
    return std::move(*out);
  }

  std::string team_a_;
  std::string team_b_;
};

TEST(NormalizeNameTest, TrimsAndValidates) {
  struct Case {
    std::string input;
    bool ok;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"Holiday", true, "Holiday"},
      {"  padded \t", true, "padded"},
      {"Ærø — 夏", true, "Ærø — 夏"},
      {std::string(255, 'x'), true, std::string(255, 'x')},
      {std::string(255, 'x') + "  ", true, std::string(255, 'x')},
      {"", false, ""},
      {"   ", false, ""},
      {std::string(256, 'x'), false, ""},
      {"line\nbreak", false, ""},
      {std::string("nul\0byte", 8), false, ""},
  };
  for (const Case& c : cases) {
    Result<std::string> got = NormalizeName(c.input, "name");
    EXPECT_EQ(got.ok(), c.ok) << "input: " << c.input;
    if (c.ok && got.ok()) {
      EXPECT_EQ(*got, c.want);
    }
    if (!c.ok && !got.ok()) {
      EXPECT_EQ(got.status().code(), Code::kInvalidArgument);
      EXPECT_NE(got.status().message().find("name"), std::string::npos);
    }
  }
  // 255 two-byte characters are 255 characters, not 510.
  std::string wide;
  for (int i = 0; i < 255; ++i) wide += "é";
  EXPECT_TRUE(NormalizeName(wide, "name").ok());
  EXPECT_FALSE(NormalizeName(wide + "é", "name").ok());
}

TEST_P(VideoStoreTest, InsertsAndReadsBackEveryDefault) {
  Project project = NewProject(team_a_, "P");
  Video video = NewVideoIn(team_a_, project.id, std::nullopt, 5000);
  ASSERT_TRUE(IsValidId(video.id));
  EXPECT_EQ(video.team_id, team_a_);
  EXPECT_EQ(video.project_id, project.id);
  EXPECT_EQ(video.user_id, "user-1");
  EXPECT_FALSE(video.parent_id);
  EXPECT_EQ(video.upload_status, kStatusInitial);
  EXPECT_EQ(video.ingestion_status, kStatusInitial);
  EXPECT_EQ(video.processing_status, kStatusInitial);
  EXPECT_EQ(video.created_at, 5000);
  EXPECT_EQ(video.upload_updated_at, 5000);
  EXPECT_EQ(video.attributes, "{}");
  EXPECT_FALSE(video.file_name);
  EXPECT_FALSE(video.metadata);

  Result<Video> any = [&] {
    std::optional<Result<Video>> out;
    EXPECT_TRUE(db_->Run([&](storage::Session& s) {
                     out = GetVideoAnyTeam(s, video.id);
                     return Status::Ok();
                   })
                    .ok());
    return std::move(*out);
  }();
  ASSERT_TRUE(any.ok());
  EXPECT_EQ(any->id, video.id);
}

TEST_P(VideoStoreTest, AnotherTeamSeesNothing) {
  Project project = NewProject(team_a_, "P");
  Video video = NewVideoIn(team_a_, project.id);
  EXPECT_TRUE(Get(team_a_, video.id).ok());
  Result<Video> other = Get(team_b_, video.id);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), Code::kNotFound);
  Result<Video> missing = Get(team_a_, NewId());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  // The messages are the same shape, so a caller cannot tell the two apart.
  EXPECT_EQ(other.status().message(), "video '" + video.id + "' not found");

  // Team B cannot put a video into team A's project, nor under A's video.
  NewVideo spec;
  spec.team_id = team_b_;
  spec.project_id = project.id;
  spec.user_id = "u";
  Status status =
      TransactionStatus([&](storage::Session& s) { return InsertVideo(s, spec, 1).status(); });
  EXPECT_EQ(status.code(), Code::kNotFound);
  Project project_b = NewProject(team_b_, "B");
  NewVideo child = spec;
  child.project_id = project_b.id;
  child.parent_id = video.id;
  status =
      TransactionStatus([&](storage::Session& s) { return InsertVideo(s, child, 1).status(); });
  EXPECT_EQ(status.code(), Code::kNotFound);

  // Nor delete it.
  status = TransactionStatus(
      [&](storage::Session& s) { return DeleteVideoCascade(s, team_b_, video.id, 1).status(); });
  EXPECT_EQ(status.code(), Code::kNotFound);
  EXPECT_TRUE(Get(team_a_, video.id).ok());
}

TEST_P(VideoStoreTest, CreationTimesStrictlyIncreaseWithinATeam) {
  Project project = NewProject(team_a_, "P", 1000);
  // The clock stands still (and even goes back): times still increase.
  Video first = NewVideoIn(team_a_, project.id, std::nullopt, 2000);
  Video second = NewVideoIn(team_a_, project.id, std::nullopt, 2000);
  Video third = NewVideoIn(team_a_, project.id, std::nullopt, 1500);
  EXPECT_EQ(first.created_at, 2000);
  EXPECT_EQ(second.created_at, 2001);
  EXPECT_EQ(third.created_at, 2002);
  // Another team has its own sequence.
  Project project_b = NewProject(team_b_, "B", 1000);
  EXPECT_EQ(NewVideoIn(team_b_, project_b.id, std::nullopt, 1700).created_at, 1700);
}

TEST_P(VideoStoreTest, DeleteCascadesToProcessedVideosAndCancelsTheirJobs) {
  Project project = NewProject(team_a_, "P");
  Video original = NewVideoIn(team_a_, project.id);
  Video processed_1 = NewVideoIn(team_a_, project.id, original.id);
  Video processed_2 = NewVideoIn(team_a_, project.id, original.id);
  Video unrelated = NewVideoIn(team_a_, project.id);
  AddJob(original.id, "done");
  AddJob(processed_1.id, "running");
  AddJob(processed_2.id, "queued");
  AddJob(unrelated.id, "running");

  std::vector<std::string> deleted = InTransaction<std::vector<std::string>>(
      [&](storage::Session& s) { return DeleteVideoCascade(s, team_a_, original.id, 9000); });
  ASSERT_EQ(deleted.size(), 3u);
  EXPECT_EQ(deleted[0], original.id);
  EXPECT_EQ(std::set<std::string>(deleted.begin() + 1, deleted.end()),
            (std::set<std::string>{processed_1.id, processed_2.id}));
  for (const std::string& id : deleted) {
    EXPECT_EQ(Get(team_a_, id).status().code(), Code::kNotFound) << id;
  }
  EXPECT_TRUE(Get(team_a_, unrelated.id).ok());
  EXPECT_EQ(JobStates(original.id), std::vector<std::string>{"done"});
  EXPECT_EQ(JobStates(processed_1.id), std::vector<std::string>{"cancelled"});
  EXPECT_EQ(JobStates(processed_2.id), std::vector<std::string>{"cancelled"});
  EXPECT_EQ(JobStates(unrelated.id), std::vector<std::string>{"running"});
}

TEST_P(VideoStoreTest, DeletingAProcessedVideoKeepsItsOriginal) {
  Project project = NewProject(team_a_, "P");
  Video original = NewVideoIn(team_a_, project.id);
  Video processed = NewVideoIn(team_a_, project.id, original.id);
  std::vector<std::string> deleted = InTransaction<std::vector<std::string>>(
      [&](storage::Session& s) { return DeleteVideoCascade(s, team_a_, processed.id, 1); });
  EXPECT_EQ(deleted, std::vector<std::string>{processed.id});
  EXPECT_TRUE(Get(team_a_, original.id).ok());
}

TEST_P(VideoStoreTest, ProjectsRefuseDeletionWhileTheyHoldVideos) {
  Project project = NewProject(team_a_, "P");
  Video video = NewVideoIn(team_a_, project.id);
  Status status = TransactionStatus(
      [&](storage::Session& s) { return DeleteProject(s, team_a_, project.id).status(); });
  EXPECT_EQ(status.code(), Code::kConflict);
  EXPECT_NE(status.message().find("1 video"), std::string::npos) << status.message();
  ASSERT_TRUE(TransactionStatus([&](storage::Session& s) {
                return DeleteVideoCascade(s, team_a_, video.id, 1).status();
              }).ok());
  // Another team cannot delete it even when empty.
  status = TransactionStatus(
      [&](storage::Session& s) { return DeleteProject(s, team_b_, project.id).status(); });
  EXPECT_EQ(status.code(), Code::kNotFound);
  status = TransactionStatus(
      [&](storage::Session& s) { return DeleteProject(s, team_a_, project.id).status(); });
  EXPECT_TRUE(status.ok()) << status.ToString();
}

TEST_P(VideoStoreTest, DefaultProjectIsCreatedOncePerTeam) {
  Project first = InTransaction<Project>(
      [&](storage::Session& s) { return GetOrCreateDefaultProject(s, team_a_, 10); });
  Project again = InTransaction<Project>(
      [&](storage::Session& s) { return GetOrCreateDefaultProject(s, team_a_, 20); });
  Project other = InTransaction<Project>(
      [&](storage::Session& s) { return GetOrCreateDefaultProject(s, team_b_, 30); });
  EXPECT_EQ(first.id, again.id);
  EXPECT_EQ(first.name, "Default");
  EXPECT_TRUE(first.is_default);
  EXPECT_NE(other.id, first.id);
  EXPECT_EQ(other.team_id, team_b_);
}

TEST_P(VideoStoreTest, ConcurrentCreatorsShareOneDefaultProjectAndDistinctTimes) {
  constexpr int kThreads = 6;
  constexpr int kVideosEach = 5;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kVideosEach; ++i) {
        Status status = db_->Transaction([&](storage::Session& s) -> Status {
          ASSIGN_OR_RETURN(Project project, GetOrCreateDefaultProject(s, team_a_, 1000));
          NewVideo spec;
          spec.team_id = team_a_;
          spec.project_id = project.id;
          spec.user_id = "u";
          // A clock that stands still: only the team lock keeps times apart.
          return InsertVideo(s, spec, 1000).status();
        });
        if (!status.ok()) {
          ++failures;
          ADD_FAILURE() << status.ToString();
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  Status status = db_->Run([&](storage::Session& s) -> Status {
    ASSIGN_OR_RETURN(storage::Rows projects,
                     s.Query("SELECT COUNT(*) FROM projects WHERE team_id = ?", {team_a_}));
    EXPECT_EQ(projects[0].Int(0), 1);
    ASSIGN_OR_RETURN(storage::Rows times,
                     s.Query("SELECT COUNT(DISTINCT created_at), COUNT(*) FROM videos "
                             "WHERE team_id = ?",
                             {team_a_}));
    EXPECT_EQ(times[0].Int(0), kThreads * kVideosEach);
    EXPECT_EQ(times[0].Int(1), kThreads * kVideosEach);
    return Status::Ok();
  });
  EXPECT_TRUE(status.ok()) << status.ToString();
}

TEST_P(VideoStoreTest, PagingIsAnchoredAgainstLaterInsertions) {
  Project project = NewProject(team_a_, "P");
  std::vector<std::string> ids;  // oldest first
  for (int i = 0; i < 7; ++i) ids.push_back(NewVideoIn(team_a_, project.id).id);

  auto list = [&](const PageRequest& request) {
    return InTransaction<Page<Video>>(
        [&](storage::Session& s) { return ListVideos(s, team_a_, {}, request); });
  };
  Page<Video> page1 = list({1, 3, std::nullopt});
  ASSERT_TRUE(page1.anchor);
  EXPECT_EQ(page1.anchor->id, ids[6]);
  EXPECT_EQ(page1.total, 7);
  EXPECT_EQ(page1.page_count(3), 3);
  ASSERT_EQ(page1.items.size(), 3u);
  EXPECT_EQ(page1.items[0].id, ids[6]);
  EXPECT_EQ(page1.items[2].id, ids[4]);

  // Two videos arrive; the anchored page 2 does not shift.
  std::string late_1 = NewVideoIn(team_a_, project.id).id;
  std::string late_2 = NewVideoIn(team_a_, project.id).id;
  Page<Video> page2 = list({2, 3, page1.anchor});
  ASSERT_EQ(page2.items.size(), 3u);
  EXPECT_EQ(page2.items[0].id, ids[3]);
  EXPECT_EQ(page2.items[2].id, ids[1]);
  Page<Video> page3 = list({3, 3, page1.anchor});
  ASSERT_EQ(page3.items.size(), 1u);
  EXPECT_EQ(page3.items[0].id, ids[0]);
  EXPECT_TRUE(list({4, 3, page1.anchor}).items.empty());

  // A fresh walk sees the new ones first.
  Page<Video> fresh = list({1, 3, std::nullopt});
  EXPECT_EQ(fresh.total, 9);
  EXPECT_EQ(fresh.items[0].id, late_2);
  EXPECT_EQ(fresh.items[1].id, late_1);
}

TEST_P(VideoStoreTest, ListFiltersByProjectAndParent) {
  Project p1 = NewProject(team_a_, "P1");
  Project p2 = NewProject(team_a_, "P2");
  Video original = NewVideoIn(team_a_, p1.id);
  Video processed = NewVideoIn(team_a_, p1.id, original.id);
  Video elsewhere = NewVideoIn(team_a_, p2.id);
  auto ids = [&](const VideoFilter& filter) {
    Page<Video> page = InTransaction<Page<Video>>(
        [&](storage::Session& s) { return ListVideos(s, team_a_, filter, PageRequest{}); });
    std::vector<std::string> out;
    for (const Video& v : page.items) out.push_back(v.id);
    return out;
  };
  EXPECT_EQ(ids({}), (std::vector<std::string>{elsewhere.id, processed.id, original.id}));
  EXPECT_EQ(ids({p1.id, std::nullopt}), (std::vector<std::string>{processed.id, original.id}));
  EXPECT_EQ(ids({std::nullopt, original.id}), std::vector<std::string>{processed.id});
  EXPECT_TRUE(ids({std::nullopt, processed.id}).empty());

  // Filters naming another team's project or video are NotFound.
  Status status = TransactionStatus([&](storage::Session& s) {
    return ListVideos(s, team_b_, {p1.id, std::nullopt}, PageRequest{}).status();
  });
  EXPECT_EQ(status.code(), Code::kNotFound);
  status = TransactionStatus([&](storage::Session& s) {
    return ListVideos(s, team_b_, {std::nullopt, original.id}, PageRequest{}).status();
  });
  EXPECT_EQ(status.code(), Code::kNotFound);
}

TEST_P(VideoStoreTest, RejectsBadPageRequests) {
  for (PageRequest bad : {PageRequest{0, 20, {}}, PageRequest{-1, 20, {}}, PageRequest{1, 0, {}},
                          PageRequest{1, 101, {}}, PageRequest{kMaxPage + 1, 20, {}}}) {
    Status status = TransactionStatus(
        [&](storage::Session& s) { return ListProjects(s, team_a_, bad).status(); });
    EXPECT_EQ(status.code(), Code::kInvalidArgument) << bad.page << "/" << bad.page_size;
  }
}

TEST_P(VideoStoreTest, DocumentHasEveryBlockAndReportsFailures) {
  Project project = NewProject(team_a_, "P");
  Video video = NewVideoIn(team_a_, project.id);
  boost::json::object doc = VideoDocument(video);
  for (const char* key :
       {"id", "name", "description", "projectId", "userId", "teamId", "parentId", "upload",
        "ingestion", "processing", "attributes", "dateCreated", "timeLastUpdated"}) {
    EXPECT_TRUE(doc.contains(key)) << key;
  }
  EXPECT_TRUE(doc["parentId"].is_null());
  EXPECT_EQ(doc["upload"].at("uploadState").at("uploadStatus"), "INITIAL");
  EXPECT_FALSE(doc["upload"].at("uploadState").as_object().contains("errorMessage"));
  EXPECT_EQ(doc["upload"].at("hasFinishedUploading"), false);
  EXPECT_TRUE(doc["ingestion"].at("metadata").as_object().empty());
  EXPECT_TRUE(doc["processing"].at("processingParameters").as_object().empty());

  // Written the way the other services write their columns.
  ASSERT_TRUE(db_->Run([&](storage::Session& s) {
                   return s
                       .Execute(
                           "UPDATE videos SET upload_status = 'DONE', file_name = 'a.mp4', "
                           "file_size = 1234, ingestion_status = 'FAILED', "
                           "ingestion_error = 'cannot open input: moov atom not found', "
                           "ingestion_progress = 42.500000000000004, ingestion_eta = 7, "
                           "thumbnail_count = 3, metadata = '{\"frameWidth\": 64}', "
                           "quality = 'not json', processing_updated_at = 99999000 "
                           "WHERE id = ?",
                           {video.id})
                       .status();
                 })
                  .ok());
  Result<Video> reread = Get(team_a_, video.id);
  ASSERT_TRUE(reread.ok());
  doc = VideoDocument(*reread);
  EXPECT_EQ(doc["upload"].at("hasFinishedUploading"), true);
  EXPECT_EQ(doc["upload"].at("fileName"), "a.mp4");
  EXPECT_EQ(doc["upload"].at("fileSize"), 1234);
  const auto& state = doc["ingestion"].at("ingestionState").as_object();
  EXPECT_EQ(state.at("ingestionStatus"), "FAILED");
  EXPECT_EQ(state.at("errorMessage"), "cannot open input: moov atom not found");
  // To a hundredth: 42.500000000000004 as stored.
  EXPECT_EQ(state.at("processingProgressPercent").as_double(), 42.5);
  EXPECT_EQ(state.at("etaSeconds"), 7);
  EXPECT_EQ(state.at("thumbnailsAvailable"), true);
  EXPECT_EQ(state.at("webVideoAvailable"), false);
  EXPECT_EQ(doc["ingestion"].at("metadata").at("frameWidth"), 64);
  EXPECT_TRUE(doc["ingestion"].at("qualityAssessment").as_object().empty());
  EXPECT_EQ(doc["timeLastUpdated"].as_string(), FormatApiDate(99999000));
}

INSTANTIATE_TEST_SUITE_P(Backends, VideoStoreTest,
                         testing::Values(storage::Backend::kSqlite, storage::Backend::kPostgres),
                         [](const auto& info) {
                           return std::string(storage::BackendName(info.param));
                         });

}  // namespace
}  // namespace vidmill::videos
