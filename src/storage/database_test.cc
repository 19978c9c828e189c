#include "storage/database.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "storage/migrations.h"
#include "storage/scratch_database.h"

namespace vidmill::storage {
namespace {

// Every test runs on both back ends: SQLite always, PostgreSQL when
// VIDMILL_TEST_POSTGRES names a server (`make test` starts one).
class DatabaseTest : public testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto scratch = ScratchDatabase::Create(GetParam());
    if (!scratch.ok() && scratch.status().code() == Code::kNotFound) {
      GTEST_SKIP() << scratch.status().message();
    }
    ASSERT_TRUE(scratch.ok()) << scratch.status().ToString();
    scratch_ = std::move(*scratch);
  }
  const std::string& url() const { return scratch_->url(); }

 private:
  std::unique_ptr<ScratchDatabase> scratch_;
};

// A URL of a scheme Vidmill does not speak is refused as a usage error: it
// had been opened as a SQLite file of that name (or waited on for ever).
TEST(OpenDatabaseTest, AnUnsupportedSchemeIsInvalidArgument) {
  for (const char* url : {"mysql://user@host/db", "redis://host"}) {
    auto db = OpenDatabase(url);
    ASSERT_FALSE(db.ok()) << url;
    EXPECT_EQ(db.status().code(), Code::kInvalidArgument) << db.status().ToString();
    EXPECT_NE(db.status().message().find("is not supported"), std::string::npos);
  }
  EXPECT_FALSE(std::filesystem::exists("mysql:"));
}

INSTANTIATE_TEST_SUITE_P(Backends, DatabaseTest,
                         testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const auto& info) { return std::string(BackendName(info.param)); });

TEST_P(DatabaseTest, MigratesAndRoundTripsValues) {
  auto db = OpenDatabase(url());
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  Status status = (*db)->Run([](Session& s) -> Status {
    RETURN_IF_ERROR(s.Execute("INSERT INTO teams(id, name, created_at, updated_at) VALUES (?,?,?,?)",
                              {std::string("t1"), std::string("A"), int64_t{1}, int64_t{2}})
                        .status());
    ASSIGN_OR_RETURN(Row row, s.QueryOne("SELECT id, name, created_at FROM teams WHERE id = ?",
                                         {std::string("t1")}, "team"));
    EXPECT_EQ(row.Text(0), "t1");
    EXPECT_EQ(row.Int(2), 1);
    return Status::Ok();
  });
  EXPECT_TRUE(status.ok()) << status.ToString();
  // Reopening applies nothing twice.
  auto again = OpenDatabase(url());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
}

TEST_P(DatabaseTest, FailedTransactionRollsBack) {
  auto db = OpenDatabase(url());
  ASSERT_TRUE(db.ok());
  Status status = (*db)->Transaction([](Session& s) -> Status {
    RETURN_IF_ERROR(s.Execute("INSERT INTO teams(id, name, created_at, updated_at) VALUES (?,?,?,?)",
                              {std::string("t1"), std::string("A"), int64_t{1}, int64_t{2}})
                        .status());
    return Status::Conflict("changed my mind");
  });
  EXPECT_EQ(status.code(), Code::kConflict);
  int64_t count = -1;
  ASSERT_TRUE((*db)->Run([&](Session& s) -> Status {
                    ASSIGN_OR_RETURN(Rows rows, s.Query("SELECT COUNT(*) FROM teams", {}));
                    count = rows[0].Int(0);
                    return Status::Ok();
                  }).ok());
  EXPECT_EQ(count, 0);
}

TEST_P(DatabaseTest, UniqueViolationIsConflict) {
  auto db = OpenDatabase(url());
  ASSERT_TRUE(db.ok());
  auto insert = [&](const char* id) {
    return (*db)->Run([&](Session& s) {
      return s.Execute("INSERT INTO teams(id, name, created_at, updated_at) VALUES (?,?,?,?)",
                       {std::string(id), std::string("same"), int64_t{1}, int64_t{2}})
          .status();
    });
  };
  EXPECT_TRUE(insert("a").ok());
  EXPECT_EQ(insert("b").code(), Code::kConflict);
}

TEST_P(DatabaseTest, ConcurrentWritersAllSucceed) {
  auto db = OpenDatabase(url());
  ASSERT_TRUE(db.ok());
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        Status s = (*db)->Transaction([&](Session& session) {
          std::string id = std::to_string(t) + "-" + std::to_string(i);
          return session
              .Execute("INSERT INTO teams(id, name, created_at, updated_at) VALUES (?,?,?,?)",
                       {id, id, int64_t{1}, int64_t{2}})
              .status();
        });
        if (!s.ok()) failures++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace vidmill::storage
