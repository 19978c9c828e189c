#pragma once
// For tests: a GoogleTest fixture parameterised by back end, holding a fresh
// scratch database (see scratch_database.h) opened and migrated. A derived
// fixture's SetUp calls OpenScratchDatabase() first and returns when it
// skipped (PostgreSQL without VIDMILL_TEST_POSTGRES) or failed:
//
//   void SetUp() override {
//     OpenScratchDatabase();
//     if (IsSkipped() || HasFatalFailure()) return;
//     …
//   }

#include <gtest/gtest.h>

#include <memory>

#include "storage/database.h"
#include "storage/scratch_database.h"

namespace vidmill::storage {

class BackendTest : public ::testing::TestWithParam<Backend> {
 protected:
  void OpenScratchDatabase() {
    auto scratch = ScratchDatabase::Create(GetParam());
    if (!scratch.ok() && scratch.status().code() == Code::kNotFound) {
      GTEST_SKIP() << scratch.status().message();
    }
    ASSERT_TRUE(scratch.ok()) << scratch.status().ToString();
    scratch_ = std::move(*scratch);
    auto db = OpenDatabase(scratch_->url());
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
  }

  std::unique_ptr<ScratchDatabase> scratch_;
  std::unique_ptr<Database> db_;
};

}  // namespace vidmill::storage
