// The Videos service over HTTP against the real `vidmill serve`: projects,
// video items, the full video document, listings and their paging walk,
// progress endpoints, the delete cascade, the 409 on non-empty projects, bad
// input, and the isolation matrix with a second team's token.
//
// Rows the Videos service does not write itself (processed videos, jobs, the
// columns of the media and ingestion services) are put in place through the
// store the server uses, the way those services write them.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "common/ids.h"
#include "storage/database.h"
#include "tests/support/http_client.h"
#include "tests/support/server_harness.h"
#include "videos/video_store.h"

namespace vidmill {
namespace {

using test::HttpClient;
using test::HttpResponse;
using test::ServerHarness;

std::string Str(const boost::json::value& value) {
  return value.is_string() ? std::string(value.as_string())
                           : "<" + boost::json::serialize(value) + ">";
}

class VideosApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    client_ = std::make_unique<HttpClient>(server_.port());
    token_a_ = server_.CreateUserAndLogin("alice@example.com", "correct horse battery", "team-a");
    token_b_ = server_.CreateUserAndLogin("bob@example.com", "staple battery horse", "team-b");
    ASSERT_FALSE(token_a_.empty());
    ASSERT_FALSE(token_b_.empty());
  }

  void TearDown() override {
    if (HasFailure()) std::cerr << "--- server log ---\n" << server_.ServerLog() << "\n";
  }

  boost::json::object CreateProject(const std::string& name, const std::string& token) {
    HttpResponse response =
        client_->SendJson("PUT", "/videos/v1/project", boost::json::object{{"name", name}}, token);
    EXPECT_EQ(response.status, 200) << response.body;
    boost::json::value doc = response.Json();
    if (!doc.is_object() || !doc.as_object().contains("project")) return {};
    return doc.as_object()["project"].as_object();
  }

  boost::json::object CreateVideo(const boost::json::object& body, const std::string& token) {
    HttpResponse response = client_->SendJson("PUT", "/videos/v1/video", body, token);
    EXPECT_EQ(response.status, 200) << response.body;
    boost::json::value doc = response.Json();
    return doc.is_object() ? doc.as_object() : boost::json::object{};
  }

  boost::json::object GetVideoDocument(const std::string& id) {
    HttpResponse response = client_->Get("/videos/v1/video/" + id, token_a_);
    EXPECT_EQ(response.status, 200) << response.body;
    boost::json::value doc = response.Json();
    if (!doc.is_object() || !doc.as_object().contains("video")) return {};
    return doc.as_object()["video"].as_object();
  }

  // The store the server uses, opened a second time by the test.
  storage::Database& Db() {
    if (!db_) {
      auto db = storage::OpenDatabase(server_.database_url());
      EXPECT_TRUE(db.ok()) << db.status().ToString();
      db_ = std::move(*db);
    }
    return *db_;
  }

  void Sql(const std::string& sql, const std::vector<storage::Value>& params) {
    Status status = Db().Run([&](storage::Session& s) { return s.Execute(sql, params).status(); });
    ASSERT_TRUE(status.ok()) << status.ToString();
  }

  std::string QueryText(const std::string& sql, const std::vector<storage::Value>& params) {
    std::string out;
    Status status = Db().Run([&](storage::Session& s) -> Status {
      ASSIGN_OR_RETURN(storage::Row row, s.QueryOne(sql, params, "row"));
      out = row.Text(0);
      return Status::Ok();
    });
    EXPECT_TRUE(status.ok()) << status.ToString();
    return out;
  }

  // A processed video of `parent`, inserted as the processing request does.
  std::string InsertProcessedVideo(const std::string& parent_id) {
    std::string team_id = QueryText("SELECT team_id FROM videos WHERE id = ?", {parent_id});
    std::string project_id = QueryText("SELECT project_id FROM videos WHERE id = ?", {parent_id});
    videos::NewVideo spec;
    spec.team_id = team_id;
    spec.project_id = project_id;
    spec.user_id = QueryText("SELECT user_id FROM videos WHERE id = ?", {parent_id});
    spec.parent_id = parent_id;
    spec.name = "processed";
    spec.processing_status = std::string(videos::kStatusInProgress);
    spec.processing_parameters = R"({"targetVideo":{"frameWidth":128,"frameHeight":72}})";
    std::string id;
    Status status = Db().Transaction([&](storage::Session& s) -> Status {
      ASSIGN_OR_RETURN(videos::Video video, videos::InsertVideo(s, spec, 1'700'000'000'000));
      id = video.id;
      return Status::Ok();
    });
    EXPECT_TRUE(status.ok()) << status.ToString();
    return id;
  }

  void InsertJob(const std::string& video_id, const std::string& state) {
    Sql("INSERT INTO jobs (id, kind, video_id, state, run_after, created_at, updated_at) "
        "VALUES (?, 'process', ?, ?, 0, 0, 0)",
        {NewId(), video_id, state});
  }

  std::filesystem::path MediaDir(const std::string& video_id) {
    return std::filesystem::path(server_.data_dir()) / "media" / video_id;
  }

  void PutMediaFile(const std::string& video_id) {
    std::filesystem::create_directories(MediaDir(video_id));
    std::ofstream(MediaDir(video_id) / "original") << "not really a video";
  }

  // Follows `next` from `first_target`, returning every embedded id in order;
  // `between_pages` runs after each page is read.
  std::vector<std::string> Walk(const std::string& first_target, const std::string& embedded,
                                const std::function<void()>& between_pages) {
    std::vector<std::string> ids;
    std::string target = first_target;
    for (int pages = 0; pages < 100; ++pages) {
      HttpResponse response = client_->Get(target, token_a_);
      EXPECT_EQ(response.status, 200) << target << ": " << response.body;
      if (response.status != 200) break;
      boost::json::object doc = response.Json().as_object();
      for (const auto& item : doc["_embedded"].at(embedded).as_array()) {
        ids.push_back(Str(item.at("id")));
      }
      between_pages();
      const auto& links = doc["_links"].as_object();
      if (!links.contains("next")) break;
      std::string next = Str(links.at("next").at("href"));
      EXPECT_EQ(next.rfind(server_.base_url(), 0), 0u) << next;
      target = test::TargetOf(next);
    }
    return ids;
  }

  ServerHarness server_;
  std::unique_ptr<HttpClient> client_;
  std::unique_ptr<storage::Database> db_;
  std::string token_a_;
  std::string token_b_;
};

TEST_F(VideosApiTest, ProjectLifecycle) {
  boost::json::object project = CreateProject("  Holiday footage  ", token_a_);
  std::string id = Str(project["id"]);
  ASSERT_TRUE(IsValidId(id));
  EXPECT_EQ(Str(project["name"]), "Holiday footage");
  EXPECT_TRUE(IsValidId(Str(project["teamId"])));
  EXPECT_EQ(Str(project["dateCreated"]).size(), 19u);
  EXPECT_EQ(Str(project["timeLastUpdated"]).size(), 19u);

  HttpResponse got = client_->Get("/videos/v1/project/" + id, token_a_);
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(got.Json().at("project").at("name"), "Holiday footage");

  HttpResponse renamed = client_->SendJson("POST", "/videos/v1/project/" + id,
                                           boost::json::object{{"name", "Archive"}}, token_a_);
  ASSERT_EQ(renamed.status, 200) << renamed.body;
  EXPECT_EQ(renamed.Json().at("project").at("name"), "Archive");
  EXPECT_EQ(client_->Get("/videos/v1/project/" + id, token_a_).Json().at("project").at("name"),
            "Archive");

  HttpResponse deleted = client_->Delete("/videos/v1/project/" + id, token_a_);
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(deleted.Json().at("project").at("id"), id.c_str());
  HttpResponse gone = client_->Get("/videos/v1/project/" + id, token_a_);
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(gone.Json().at("exception"), "NotFoundException");
  EXPECT_EQ(client_->Delete("/videos/v1/project/" + id, token_a_).status, 404);
}

TEST_F(VideosApiTest, ProjectNamesAreValidated) {
  struct Case {
    std::string body;
    int status;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {R"({})", 400, "'name' is required"},
      {R"({"name": null})", 400, "'name' is required"},
      {R"({"name": ""})", 400, "must not be empty"},
      {R"({"name": "   "})", 400, "must not be empty"},
      {R"({"name": 42})", 400, "must be a string"},
      {R"({"name": ")" + std::string(256, 'x') + R"("})", 400, "at most 255"},
      {R"({"name": "ok", "colour": "red"})", 400, "unknown field 'colour'"},
      {R"({"name": "a\nb"})", 400, "control characters"},
      {R"(["name"])", 400, "JSON object"},
      {R"({"name": )", 400, "not valid JSON"},
      // A key given twice has no one meaning; the last had won silently.
      {R"({"name": "a", "name": "b"})", 400, "the key 'name' twice"},
      {R"({"name": "a", "x": {"k": 1, "k": 2}})", 400, "the key 'k' twice"},
  };
  for (const Case& c : cases) {
    HttpResponse response = client_->Send(
        "PUT", "/videos/v1/project",
        {{"Authorization", "Bearer " + token_a_}, {"Content-Type", "application/json"}}, c.body);
    EXPECT_EQ(response.status, c.status) << c.body << " → " << response.body;
    EXPECT_EQ(response.Json().at("exception"), "BadRequestException") << c.body;
    EXPECT_NE(Str(response.Json().at("errorMessage")).find(c.message_part), std::string::npos)
        << c.body << " → " << response.body;
  }
  HttpResponse wrong_type =
      client_->Send("PUT", "/videos/v1/project",
                    {{"Authorization", "Bearer " + token_a_}, {"Content-Type", "text/plain"}},
                    R"({"name": "x"})");
  EXPECT_EQ(wrong_type.status, 415);
  // A body of no stated type is not taken for JSON (a browser sends one from
  // any page, with no preflight).
  HttpResponse no_type = client_->Send(
      "PUT", "/videos/v1/project", {{"Authorization", "Bearer " + token_a_}}, R"({"name": "x"})");
  EXPECT_EQ(no_type.status, 415) << no_type.body;
  // Nothing was created by any of them.
  HttpResponse list = client_->Get("/videos/v1/projects", token_a_);
  ASSERT_EQ(list.status, 200);
  EXPECT_TRUE(list.Json().at("_embedded").at("projects").as_array().empty());
  // The media type is read as HTTP writes it: any case, white space around
  // the parameters (a tab before the ';' had been a 415).
  for (const char* type : {"Application/JSON", "application/json; charset=utf-8",
                           "application/json\t;charset=\"utf-8\"", "application/json; charset"}) {
    HttpResponse typed = client_->Send(
        "PUT", "/videos/v1/project",
        {{"Authorization", "Bearer " + token_a_}, {"Content-Type", type}}, R"({"name": "typed"})");
    EXPECT_EQ(typed.status, 200) << type << " → " << typed.body;
  }

  // 255 characters exactly is fine, and so is renaming to it.
  boost::json::object project = CreateProject(std::string(255, 'y'), token_a_);
  HttpResponse rename = client_->SendJson("POST", "/videos/v1/project/" + Str(project["id"]),
                                          boost::json::object{{"name", ""}}, token_a_);
  EXPECT_EQ(rename.status, 400);
}

TEST_F(VideosApiTest, ProjectListingIsHalWithLinksOnlyWhereTheyExist) {
  std::vector<std::string> ids;  // oldest first
  for (int i = 0; i < 5; ++i)
    ids.push_back(Str(CreateProject("P" + std::to_string(i), token_a_)["id"]));

  HttpResponse response = client_->Get("/videos/v1/projects?page-size=2", token_a_);
  ASSERT_EQ(response.status, 200) << response.body;
  boost::json::object doc = response.Json().as_object();
  EXPECT_EQ(doc["pageSize"], 2);
  EXPECT_EQ(doc["page"], 1);
  const auto& links = doc["_links"].as_object();
  for (const char* rel : {"self", "first", "last", "next"}) {
    ASSERT_TRUE(links.contains(rel)) << rel;
    EXPECT_EQ(Str(links.at(rel).at("href")).rfind(server_.base_url() + "/videos/v1/projects?", 0),
              0u);
  }
  EXPECT_FALSE(links.contains("previous"));
  EXPECT_NE(Str(links.at("last").at("href")).find("page=3"), std::string::npos);
  EXPECT_NE(Str(links.at("next").at("href")).find("page=2"), std::string::npos);
  EXPECT_NE(Str(links.at("next").at("href")).find("anchor="), std::string::npos);
  const auto& items = doc["_embedded"].at("projects").as_array();
  ASSERT_EQ(items.size(), 2u);
  // Newest first; each item with its own self link.
  EXPECT_EQ(Str(items[0].at("id")), ids[4]);
  EXPECT_EQ(Str(items[1].at("id")), ids[3]);
  EXPECT_EQ(Str(items[0].at("_links").at("self").at("href")),
            server_.base_url() + "/videos/v1/project/" + ids[4]);
  EXPECT_EQ(items[0].at("name"), "P4");
  EXPECT_TRUE(items[0].as_object().contains("dateCreated"));
  EXPECT_TRUE(items[0].as_object().contains("timeLastUpdated"));

  // The last page has previous and no next.
  HttpResponse last = client_->Get(test::TargetOf(Str(links.at("last").at("href"))), token_a_);
  ASSERT_EQ(last.status, 200);
  boost::json::object last_doc = last.Json().as_object();
  EXPECT_EQ(last_doc["page"], 3);
  EXPECT_FALSE(last_doc["_links"].as_object().contains("next"));
  EXPECT_TRUE(last_doc["_links"].as_object().contains("previous"));
  ASSERT_EQ(last_doc["_embedded"].at("projects").as_array().size(), 1u);
  EXPECT_EQ(Str(last_doc["_embedded"].at("projects").at(0).at("id")), ids[0]);

  // The default page size is 20; a single page has neither next nor previous.
  boost::json::object all = client_->Get("/videos/v1/projects", token_a_).Json().as_object();
  EXPECT_EQ(all["pageSize"], 20);
  EXPECT_EQ(all["_embedded"].at("projects").as_array().size(), 5u);
  EXPECT_FALSE(all["_links"].as_object().contains("next"));
  EXPECT_FALSE(all["_links"].as_object().contains("previous"));

  // Beyond the end: an empty page pointing back at the last one.
  boost::json::object beyond =
      client_->Get("/videos/v1/projects?page=9&page-size=2", token_a_).Json().as_object();
  EXPECT_TRUE(beyond["_embedded"].at("projects").as_array().empty());
  EXPECT_NE(Str(beyond["_links"].at("previous").at("href")).find("page=3"), std::string::npos);
}

TEST_F(VideosApiTest, BadPagingParametersAre400) {
  for (std::string query :
       {"page=0", "page=-1", "page=abc", "page=", "page=1.5", "page=99999999999999999999",
        "page-size=0", "page-size=-5", "page-size=x", "page-size=101", "page-size=+3",
        "anchor=nonsense", "anchor=12.not-an-id"}) {
    for (std::string path : {"/videos/v1/projects", "/videos/v1/videos"}) {
      HttpResponse response = client_->Get(path + "?" + query, token_a_);
      EXPECT_EQ(response.status, 400) << path << "?" << query << " → " << response.body;
      EXPECT_EQ(response.Json().at("exception"), "BadRequestException");
    }
  }
  EXPECT_EQ(client_->Get("/videos/v1/projects?page-size=100", token_a_).status, 200);
}

// A query parameter given twice is a 400 naming it, as a JSON key given twice
// is; the first value had been taken silently, even where the second was
// malformed (audit 32 F4).
TEST_F(VideosApiTest, AQueryParameterGivenTwiceIs400) {
  for (std::string target :
       {"/videos/v1/projects?page=1&page=abc", "/videos/v1/projects?page-size=3&page-size=4",
        "/videos/v1/videos?page=1&page=1", "/videos/v1/videos?project-id=a&project-id=b"}) {
    HttpResponse response = client_->Get(target, token_a_);
    EXPECT_EQ(response.status, 400) << target << " → " << response.body;
    EXPECT_EQ(response.Json().at("exception"), "BadRequestException");
    EXPECT_NE(response.body.find("is given more than once"), std::string::npos) << response.body;
  }
  EXPECT_EQ(client_->Get("/videos/v1/projects?page=1&page-size=3", token_a_).status, 200);
}

TEST_F(VideosApiTest, PagingWalkSeesEachProjectOnceWhileProjectsAreAdded) {
  std::set<std::string> existing;
  for (int i = 0; i < 23; ++i)
    existing.insert(Str(CreateProject("P" + std::to_string(i), token_a_)["id"]));
  std::set<std::string> added;
  std::vector<std::string> seen = Walk("/videos/v1/projects?page-size=5", "projects", [&] {
    for (int i = 0; i < 2; ++i) added.insert(Str(CreateProject("late", token_a_)["id"]));
  });
  EXPECT_EQ(seen.size(), existing.size());
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), existing);
  // A fresh listing shows the late ones, first.
  boost::json::object fresh =
      client_->Get("/videos/v1/projects?page-size=100", token_a_).Json().as_object();
  const auto& items = fresh["_embedded"].at("projects").as_array();
  ASSERT_EQ(items.size(), existing.size() + added.size());
  for (size_t i = 0; i < added.size(); ++i) EXPECT_TRUE(added.count(Str(items[i].at("id"))));
}

TEST_F(VideosApiTest, VideoPagingWalkKeepsFiltersWhileVideosAreAdded) {
  std::string project = Str(CreateProject("Walk", token_a_)["id"]);
  std::string other = Str(CreateProject("Other", token_a_)["id"]);
  std::set<std::string> existing;
  for (int i = 0; i < 11; ++i) {
    existing.insert(Str(CreateVideo({{"projectId", project}}, token_a_)["videoId"]));
    CreateVideo({{"projectId", other}}, token_a_);
  }
  std::string first = "/videos/v1/videos?project-id=" + project + "&page-size=3";
  std::vector<std::string> seen = Walk(first, "videos", [&] {
    CreateVideo({{"projectId", project}}, token_a_);
    CreateVideo({{"projectId", other}}, token_a_);
  });
  EXPECT_EQ(seen.size(), existing.size());
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), existing);

  boost::json::object page = client_->Get(first, token_a_).Json().as_object();
  EXPECT_NE(Str(page["_links"].at("next").at("href")).find("project-id=" + project),
            std::string::npos);
}

TEST_F(VideosApiTest, CreateVideoUsesTheDefaultProjectAndHandsOutUrls) {
  boost::json::object created = CreateVideo({}, token_a_);
  std::string video_id = Str(created["videoId"]);
  std::string project_id = Str(created["projectId"]);
  ASSERT_TRUE(IsValidId(video_id));
  ASSERT_TRUE(IsValidId(project_id));
  EXPECT_EQ(Str(created["uploadMediaUrl"]), server_.base_url() + "/media/v1/upload/" + video_id);
  EXPECT_EQ(Str(created["uploadLightMediaUrl"]),
            server_.base_url() + "/media/v1/upload/light/" + video_id);
  EXPECT_EQ(Str(created["processVideoUrl"]),
            server_.base_url() + "/videos/v1/process-video/" + video_id);
  HttpResponse project = client_->Get("/videos/v1/project/" + project_id, token_a_);
  ASSERT_EQ(project.status, 200);
  EXPECT_EQ(project.Json().at("project").at("name"), "Default");

  // A body-less request and a second video land in the same default project.
  HttpResponse bare =
      client_->Send("PUT", "/videos/v1/video", {{"Authorization", "Bearer " + token_a_}});
  ASSERT_EQ(bare.status, 200) << bare.body;
  EXPECT_EQ(Str(bare.Json().at("projectId")), project_id);
  // Team B gets a default project of its own.
  EXPECT_NE(Str(CreateVideo({}, token_b_)["projectId"]), project_id);

  // A named project and a name.
  std::string named = Str(CreateProject("Named", token_a_)["id"]);
  boost::json::object in_named = CreateVideo({{"projectId", named}, {"name", " Clip "}}, token_a_);
  EXPECT_EQ(Str(in_named["projectId"]), named);
  EXPECT_EQ(Str(GetVideoDocument(Str(in_named["videoId"]))["name"]), "Clip");

  // Bad input.
  struct Case {
    boost::json::object body;
    int status;
  };
  const std::vector<Case> cases = {
      {{{"projectId", "not-an-id"}}, 400},
      {{{"projectId", 7}}, 400},
      {{{"name", true}}, 400},
      {{{"name", std::string(256, 'n')}}, 400},
      {{{"projectID", named}}, 400},
      {{{"projectId", NewId()}}, 404},
  };
  for (const Case& c : cases) {
    HttpResponse response = client_->SendJson("PUT", "/videos/v1/video", c.body, token_a_);
    EXPECT_EQ(response.status, c.status)
        << boost::json::serialize(c.body) << " → " << response.body;
  }
}

TEST_F(VideosApiTest, VideoDocumentHasEveryBlock) {
  boost::json::object created = CreateVideo({{"name", "Raw"}}, token_a_);
  std::string id = Str(created["videoId"]);
  boost::json::object video = GetVideoDocument(id);
  EXPECT_EQ(Str(video["id"]), id);
  EXPECT_EQ(Str(video["name"]), "Raw");
  EXPECT_EQ(Str(video["projectId"]), Str(created["projectId"]));
  EXPECT_TRUE(IsValidId(Str(video["userId"])));
  EXPECT_TRUE(IsValidId(Str(video["teamId"])));
  EXPECT_TRUE(video["parentId"].is_null());
  EXPECT_TRUE(video["description"].is_string());
  EXPECT_TRUE(video["attributes"].is_object());
  const auto& upload = video["upload"].as_object();
  EXPECT_EQ(upload.at("uploadState").at("uploadStatus"), "INITIAL");
  EXPECT_EQ(upload.at("hasFinishedUploading"), false);
  for (const char* key : {"fileName", "fileSize", "fileType", "fileContainerName"}) {
    EXPECT_TRUE(upload.contains(key)) << key;
  }
  const auto& ingestion = video["ingestion"].as_object();
  const auto& state = ingestion.at("ingestionState").as_object();
  EXPECT_EQ(state.at("ingestionStatus"), "INITIAL");
  for (const char* key :
       {"updatedAt", "videoMetadataAvailable", "videoMetadataCommitted", "thumbnailsAvailable",
        "webVideoAvailable", "processingProgressPercent", "etaSeconds"}) {
    EXPECT_TRUE(state.contains(key)) << key;
  }
  EXPECT_TRUE(ingestion.at("metadata").is_object());
  EXPECT_TRUE(ingestion.at("qualityAssessment").is_object());
  const auto& processing = video["processing"].as_object();
  EXPECT_EQ(processing.at("processingState").at("processingStatus"), "INITIAL");
  EXPECT_TRUE(processing.at("processingParameters").is_object());
  EXPECT_EQ(Str(video["dateCreated"]).size(), 19u);

  // The media and ingestion services write their columns; the document follows.
  Sql("UPDATE videos SET upload_status = 'DONE', upload_updated_at = ?, file_name = 'clip.mp4', "
      "file_size = 4096, file_type = 'video/mp4', file_container = 'QuickTime / MOV', "
      "ingestion_status = 'IN_PROGRESS', ingestion_updated_at = ?, ingestion_progress = 37.5, "
      "ingestion_eta = 12, metadata_available = 1, thumbnail_count = 4, "
      "metadata = '{\"frameWidth\": 128, \"frameHeight\": 72}', "
      "quality = '{\"overallSubjectiveScore\": 3.5, \"metrics\": []}' WHERE id = ?",
      {int64_t{1'800'000'000'000}, int64_t{1'800'000'005'000}, id});
  video = GetVideoDocument(id);
  EXPECT_EQ(video["upload"].at("hasFinishedUploading"), true);
  EXPECT_EQ(video["upload"].at("fileName"), "clip.mp4");
  EXPECT_EQ(video["upload"].at("fileSize"), 4096);
  EXPECT_EQ(video["upload"].at("fileType"), "video/mp4");
  EXPECT_EQ(video["upload"].at("fileContainerName"), "QuickTime / MOV");
  EXPECT_EQ(video["upload"].at("uploadState").at("updatedAt"), "2027-01-15 08:00:00");
  const auto& now_state = video["ingestion"].at("ingestionState").as_object();
  EXPECT_EQ(now_state.at("ingestionStatus"), "IN_PROGRESS");
  EXPECT_EQ(now_state.at("processingProgressPercent").as_double(), 37.5);
  EXPECT_EQ(now_state.at("etaSeconds"), 12);
  EXPECT_EQ(now_state.at("videoMetadataAvailable"), true);
  EXPECT_EQ(now_state.at("thumbnailsAvailable"), true);
  EXPECT_EQ(video["ingestion"].at("metadata").at("frameWidth"), 128);
  EXPECT_EQ(video["ingestion"].at("qualityAssessment").at("overallSubjectiveScore").as_double(),
            3.5);
  EXPECT_EQ(video["timeLastUpdated"], "2027-01-15 08:00:05");

  // The same through the progress endpoint.
  HttpResponse progress = client_->Get("/videos/v1/check-ingest-video-progress/" + id, token_a_);
  ASSERT_EQ(progress.status, 200) << progress.body;
  EXPECT_EQ(Str(progress.Json().at("videoId")), id);
  EXPECT_EQ(Str(progress.Json().at("projectId")), Str(created["projectId"]));
  EXPECT_EQ(progress.Json().at("ingestionState").at("ingestionStatus"), "IN_PROGRESS");
  EXPECT_EQ(progress.Json().at("ingestionState").at("videoMetadataAvailable"), true);
  EXPECT_EQ(progress.Json().at("ingestionState").at("updatedAt"), "2027-01-15 08:00:05");

  // A failure carries its message in the state object.
  Sql("UPDATE videos SET ingestion_status = 'FAILED', "
      "ingestion_error = 'cannot open input: moov atom not found' WHERE id = ?",
      {id});
  progress = client_->Get("/videos/v1/check-ingest-video-progress/" + id, token_a_);
  EXPECT_EQ(progress.Json().at("ingestionState").at("ingestionStatus"), "FAILED");
  EXPECT_EQ(progress.Json().at("ingestionState").at("errorMessage"),
            "cannot open input: moov atom not found");
  EXPECT_EQ(GetVideoDocument(id)["ingestion"].at("ingestionState").at("errorMessage"),
            "cannot open input: moov atom not found");
}

TEST_F(VideosApiTest, ProcessedVideoShowsParentParametersAndProgress) {
  std::string original = Str(CreateVideo({}, token_a_)["videoId"]);
  std::string processed = InsertProcessedVideo(original);
  Sql("UPDATE videos SET processing_progress = 61.25, processing_eta = 30, "
      "processing_updated_at = ? WHERE id = ?",
      {int64_t{1'800'000'000'000}, processed});

  boost::json::object video = GetVideoDocument(processed);
  EXPECT_EQ(Str(video["parentId"]), original);
  EXPECT_EQ(video["processing"].at("processingParameters").at("targetVideo").at("frameWidth"), 128);
  EXPECT_EQ(video["processing"].at("processingState").at("processingStatus"), "IN_PROGRESS");

  HttpResponse progress =
      client_->Get("/videos/v1/check-process-video-progress/" + processed, token_a_);
  ASSERT_EQ(progress.status, 200) << progress.body;
  boost::json::object doc = progress.Json().as_object();
  EXPECT_EQ(Str(doc["videoId"]), processed);
  EXPECT_EQ(doc["processingState"].at("processingStatus"), "IN_PROGRESS");
  EXPECT_EQ(doc["processingState"].at("processingProgressPercent").as_double(), 61.25);
  EXPECT_EQ(doc["processingState"].at("etaSeconds"), 30);
  EXPECT_EQ(doc["processingState"].at("updatedAt"), "2027-01-15 08:00:00");
  EXPECT_FALSE(doc["processingState"].as_object().contains("errorMessage"));

  Sql("UPDATE videos SET processing_status = 'FAILED', processing_error = ? WHERE id = ?",
      {std::string("encoder failed: out of disk space"), processed});
  doc = client_->Get("/videos/v1/check-process-video-progress/" + processed, token_a_)
            .Json()
            .as_object();
  EXPECT_EQ(doc["processingState"].at("processingStatus"), "FAILED");
  EXPECT_EQ(doc["processingState"].at("errorMessage"), "encoder failed: out of disk space");

  // Listing by parent shows only the processed one; without it, both.
  boost::json::object by_parent =
      client_->Get("/videos/v1/videos?parent-id=" + original, token_a_).Json().as_object();
  const auto& items = by_parent["_embedded"].at("videos").as_array();
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(Str(items[0].at("id")), processed);
  EXPECT_EQ(Str(items[0].at("parentId")), original);
  for (const char* key :
       {"projectId", "name", "filename", "dateCreated", "timeLastUpdated", "_links"}) {
    EXPECT_TRUE(items[0].as_object().contains(key)) << key;
  }
  boost::json::object all = client_->Get("/videos/v1/videos", token_a_).Json().as_object();
  EXPECT_EQ(all["_embedded"].at("videos").as_array().size(), 2u);
  EXPECT_EQ(client_->Get("/videos/v1/videos?parent-id=bad", token_a_).status, 400);
  EXPECT_EQ(client_->Get("/videos/v1/videos?parent-id=" + NewId(), token_a_).status, 404);
}

TEST_F(VideosApiTest, DeleteCascadesToProcessedVideosAndTheirFiles) {
  std::string original = Str(CreateVideo({}, token_a_)["videoId"]);
  std::string child_1 = InsertProcessedVideo(original);
  std::string child_2 = InsertProcessedVideo(original);
  std::string bystander = Str(CreateVideo({}, token_a_)["videoId"]);
  for (const std::string& id : {original, child_1, child_2, bystander}) PutMediaFile(id);
  InsertJob(original, "done");
  InsertJob(child_1, "running");
  InsertJob(child_2, "queued");
  InsertJob(bystander, "running");

  HttpResponse response = client_->Delete("/videos/v1/video/" + original, token_a_);
  ASSERT_EQ(response.status, 200) << response.body;
  std::vector<std::string> deleted;
  boost::json::value deleted_doc = response.Json();  // keep the document alive for the loop
  for (const auto& entry : deleted_doc.at("deletedVideos").as_array()) {
    deleted.push_back(Str(entry.at("videoId")));
  }
  ASSERT_EQ(deleted.size(), 3u);
  EXPECT_EQ(deleted[0], original);
  EXPECT_EQ(std::set<std::string>(deleted.begin(), deleted.end()),
            (std::set<std::string>{original, child_1, child_2}));
  for (const std::string& id : deleted) {
    EXPECT_EQ(client_->Get("/videos/v1/video/" + id, token_a_).status, 404) << id;
    EXPECT_FALSE(std::filesystem::exists(MediaDir(id))) << id;
  }
  EXPECT_EQ(QueryText("SELECT state FROM jobs WHERE video_id = ?", {child_1}), "cancelled");
  EXPECT_EQ(QueryText("SELECT state FROM jobs WHERE video_id = ?", {child_2}), "cancelled");
  EXPECT_EQ(QueryText("SELECT state FROM jobs WHERE video_id = ?", {original}), "done");
  EXPECT_EQ(QueryText("SELECT state FROM jobs WHERE video_id = ?", {bystander}), "running");
  EXPECT_EQ(client_->Get("/videos/v1/video/" + bystander, token_a_).status, 200);
  EXPECT_TRUE(std::filesystem::exists(MediaDir(bystander) / "original"));

  // Deleting twice is a 404; deleting a processed video keeps its original.
  EXPECT_EQ(client_->Delete("/videos/v1/video/" + original, token_a_).status, 404);
  std::string child_3 = InsertProcessedVideo(bystander);
  HttpResponse one = client_->Delete("/videos/v1/video/" + child_3, token_a_);
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(one.Json().at("deletedVideos").as_array().size(), 1u);
  EXPECT_EQ(client_->Get("/videos/v1/video/" + bystander, token_a_).status, 200);
}

TEST_F(VideosApiTest, NonEmptyProjectCannotBeDeleted) {
  std::string project = Str(CreateProject("Busy", token_a_)["id"]);
  std::string video = Str(CreateVideo({{"projectId", project}}, token_a_)["videoId"]);
  HttpResponse refused = client_->Delete("/videos/v1/project/" + project, token_a_);
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_EQ(refused.Json().at("exception"), "ConflictException");
  EXPECT_NE(Str(refused.Json().at("errorMessage")).find("1 video"), std::string::npos)
      << refused.body;
  EXPECT_EQ(client_->Get("/videos/v1/project/" + project, token_a_).status, 200);
  ASSERT_EQ(client_->Delete("/videos/v1/video/" + video, token_a_).status, 200);
  EXPECT_EQ(client_->Delete("/videos/v1/project/" + project, token_a_).status, 200);
}

TEST_F(VideosApiTest, AnotherTeamGets404ForEveryId) {
  std::string project = Str(CreateProject("Secret", token_a_)["id"]);
  std::string video =
      Str(CreateVideo({{"projectId", project}, {"name", "secret"}}, token_a_)["videoId"]);
  std::string processed = InsertProcessedVideo(video);
  PutMediaFile(video);

  struct Call {
    std::string method;
    std::string target;
    std::string body;
  };
  const std::vector<Call> calls = {
      {"GET", "/videos/v1/project/" + project, ""},
      {"POST", "/videos/v1/project/" + project, R"({"name": "mine now"})"},
      {"DELETE", "/videos/v1/project/" + project, ""},
      {"GET", "/videos/v1/video/" + video, ""},
      {"GET", "/videos/v1/video/" + processed, ""},
      {"POST", "/videos/v1/video/" + video, R"({"name": "mine now"})"},
      {"DELETE", "/videos/v1/video/" + video, ""},
      {"DELETE", "/videos/v1/video/" + processed, ""},
      {"GET", "/videos/v1/check-ingest-video-progress/" + video, ""},
      {"GET", "/videos/v1/check-process-video-progress/" + processed, ""},
      {"GET", "/videos/v1/videos?project-id=" + project, ""},
      {"GET", "/videos/v1/videos?parent-id=" + video, ""},
      {"PUT", "/videos/v1/video", R"({"projectId": ")" + project + R"("})"},
  };
  for (const Call& call : calls) {
    test::HeaderList headers = {{"Authorization", "Bearer " + token_b_}};
    if (!call.body.empty()) headers.emplace_back("Content-Type", "application/json");
    HttpResponse response = client_->Send(call.method, call.target, headers, call.body);
    EXPECT_EQ(response.status, 404) << call.method << " " << call.target << " → " << response.body;
    // The same answer a made-up id gets: nothing tells the ids exist.
    EXPECT_EQ(response.Json().at("exception"), "NotFoundException");
  }
  // Team B's listings do not show team A's items.
  EXPECT_TRUE(client_->Get("/videos/v1/projects", token_b_)
                  .Json()
                  .at("_embedded")
                  .at("projects")
                  .as_array()
                  .empty());
  EXPECT_TRUE(client_->Get("/videos/v1/videos", token_b_)
                  .Json()
                  .at("_embedded")
                  .at("videos")
                  .as_array()
                  .empty());
  // And everything of team A is untouched.
  EXPECT_EQ(client_->Get("/videos/v1/project/" + project, token_a_).Json().at("project").at("name"),
            "Secret");
  EXPECT_EQ(GetVideoDocument(video)["name"], "secret");
  EXPECT_EQ(client_->Get("/videos/v1/video/" + processed, token_a_).status, 200);
  EXPECT_TRUE(std::filesystem::exists(MediaDir(video) / "original"));
  EXPECT_EQ(client_->Get("/videos/v1/videos", token_a_)
                .Json()
                .at("_embedded")
                .at("videos")
                .as_array()
                .size(),
            2u);
}

TEST_F(VideosApiTest, EveryRouteNeedsAToken) {
  std::string id = NewId();
  const std::vector<std::pair<std::string, std::string>> calls = {
      {"PUT", "/videos/v1/project"},
      {"GET", "/videos/v1/project/" + id},
      {"POST", "/videos/v1/project/" + id},
      {"DELETE", "/videos/v1/project/" + id},
      {"GET", "/videos/v1/projects"},
      {"PUT", "/videos/v1/video"},
      {"GET", "/videos/v1/video/" + id},
      {"POST", "/videos/v1/video/" + id},
      {"DELETE", "/videos/v1/video/" + id},
      {"GET", "/videos/v1/videos"},
      {"GET", "/videos/v1/check-ingest-video-progress/" + id},
      {"GET", "/videos/v1/check-process-video-progress/" + id},
  };
  for (const auto& [method, target] : calls) {
    EXPECT_EQ(client_->Send(method, target).status, 401) << method << " " << target;
    EXPECT_EQ(client_->Send(method, target, {{"Authorization", "Bearer not.a.token"}}).status, 401)
        << method << " " << target;
  }
}

TEST_F(VideosApiTest, MalformedPathIdsAre404) {
  for (std::string target :
       {"/videos/v1/video/nope", "/videos/v1/project/1234",
        "/videos/v1/check-ingest-video-progress/%2e%2e",
        "/videos/v1/check-process-video-progress/ABCDEF00-0000-4000-8000-000000000000"}) {
    HttpResponse response = client_->Get(target, token_a_);
    EXPECT_EQ(response.status, 404) << target << " → " << response.body;
  }
}

// RFC 9562 §4: UUIDs compare case-insensitively, so an id a client upper-cased
// (some languages' UUID types print that way) names the same video or project.
TEST_F(VideosApiTest, UpperCaseIdsNameTheSameResources) {
  auto upper = [](std::string id) {
    for (char& c : id) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return id;
  };
  std::string project_id = Str(CreateProject("Shouting", token_a_)["id"]);
  boost::json::object created = CreateVideo({{"projectId", upper(project_id)}}, token_a_);
  EXPECT_EQ(Str(created["projectId"]), project_id);
  std::string video_id = Str(created["videoId"]);

  HttpResponse video = client_->Get("/videos/v1/video/" + upper(video_id), token_a_);
  ASSERT_EQ(video.status, 200) << video.body;
  EXPECT_EQ(Str(video.Json().at("video").at("id")), video_id);
  HttpResponse project = client_->Get("/videos/v1/project/" + upper(project_id), token_a_);
  ASSERT_EQ(project.status, 200) << project.body;
  EXPECT_EQ(Str(project.Json().at("project").at("id")), project_id);
  HttpResponse listed = client_->Get("/videos/v1/videos?project-id=" + upper(project_id), token_a_);
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_NE(listed.body.find(video_id), std::string::npos) << listed.body;
  // The listing's links carry the id as stored, not as sent.
  EXPECT_NE(listed.body.find("project-id=" + project_id), std::string::npos) << listed.body;
  EXPECT_EQ(listed.body.find(upper(project_id)), std::string::npos) << listed.body;
  HttpResponse progress =
      client_->Get("/videos/v1/check-ingest-video-progress/" + upper(video_id), token_a_);
  EXPECT_EQ(progress.status, 200) << progress.body;
  // The media and processing routes find the video too: what they refuse is
  // that it has no media yet, not its id.
  for (std::string target : {"/media/v1/download/original/", "/videos/v1/process-video/"}) {
    HttpResponse response = target.starts_with("/media")
                                ? client_->Get(target + upper(video_id), token_a_)
                                : client_->SendJson("POST", target + upper(video_id), {}, token_a_);
    EXPECT_EQ(response.body.find("not found"), std::string::npos)
        << target << " → " << response.body;
    EXPECT_NE(response.status, 200) << target;
  }
  // Another team's id is still not found, whatever its case.
  EXPECT_EQ(client_->Get("/videos/v1/video/" + upper(video_id), token_b_).status, 404);
}

TEST_F(VideosApiTest, RenameVideo) {
  std::string id = Str(CreateVideo({}, token_a_)["videoId"]);
  HttpResponse response = client_->SendJson("POST", "/videos/v1/video/" + id,
                                            boost::json::object{{"name", "Better name"}}, token_a_);
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.Json().at("video").at("name"), "Better name");
  EXPECT_EQ(GetVideoDocument(id)["name"], "Better name");
  // A blank name clears it, as a blank name at creation leaves it empty.
  HttpResponse blank = client_->SendJson("POST", "/videos/v1/video/" + id,
                                         boost::json::object{{"name", "  "}}, token_a_);
  ASSERT_EQ(blank.status, 200) << blank.body;
  EXPECT_EQ(blank.Json().at("video").at("name"), "");
  EXPECT_EQ(GetVideoDocument(id)["name"], "");
  // The name itself must be there, and still be a valid one.
  HttpResponse missing =
      client_->SendJson("POST", "/videos/v1/video/" + id, boost::json::object{}, token_a_);
  EXPECT_EQ(missing.status, 400) << missing.body;
  EXPECT_NE(Str(missing.Json().at("errorMessage")).find("'name' is required"), std::string::npos);
  EXPECT_EQ(client_
                ->SendJson("POST", "/videos/v1/video/" + id, boost::json::object{{"name", "a\nb"}},
                           token_a_)
                .status,
            400);
}

// The scheme and host of --public-url are lower-cased (clients sign URLs so),
// its port and path prefix kept, and a trailing slash dropped.
TEST(VideosPublicUrlTest, AbsoluteUrlsUseThePublicUrl) {
  ServerHarness::Options options;
  options.extra_flags = {"--public-url", "HTTPS://Videos.Example.com:8443/vm/"};
  ServerHarness server(options);
  std::string token = server.CreateUserAndLogin("carol@example.com", "a long password", "team-c");
  HttpClient client(server.port());
  HttpResponse created = client.SendJson("PUT", "/videos/v1/video", boost::json::object{}, token);
  ASSERT_EQ(created.status, 200) << created.body;
  std::string id = Str(created.Json().at("videoId"));
  EXPECT_EQ(Str(created.Json().at("uploadMediaUrl")),
            "https://videos.example.com:8443/vm/media/v1/upload/" + id);
  HttpResponse list = client.Get("/videos/v1/videos", token);
  ASSERT_EQ(list.status, 200) << list.body;
  boost::json::value doc = list.Json();
  EXPECT_EQ(
      Str(doc.at("_links").at("first").at("href"))
          .rfind("https://videos.example.com:8443/vm/videos/v1/videos?page=1&page-size=20&anchor=",
                 0),
      0u)
      << list.body;
  EXPECT_EQ(Str(doc.at("_embedded").at("videos").at(0).at("_links").at("self").at("href")),
            "https://videos.example.com:8443/vm/videos/v1/video/" + id);
}

}  // namespace
}  // namespace vidmill
