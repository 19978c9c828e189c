#include "storage/blob_store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/temp_dir.h"

namespace vidmill::storage {
namespace {

namespace fs = std::filesystem;

constexpr char kVideo[] = "0b8a6f0e-2f7d-4c1e-9a51-6f1f2d3c4b5a";

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string ReadAll(BlobReader& reader) {
  std::string out;
  char buffer[7];  // odd size: exercises partial reads
  uint64_t offset = 0;
  while (true) {
    Result<size_t> n = reader.ReadAt(offset, buffer, sizeof(buffer));
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    if (!n.ok() || *n == 0) break;
    out.append(buffer, *n);
    offset += *n;
  }
  return out;
}

void SetMtime(const std::string& path, TimePoint when) {
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(when.time_since_epoch()).count();
  struct timeval times[2] = {{seconds, 0}, {seconds, 0}};
  ASSERT_EQ(::utimes(path.c_str(), times), 0) << path;
}

class BlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = OpenFileBlobStore(temp_.path() + "/media");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    root_ = temp_.path() + "/media";
  }

  test::TempDir temp_;
  std::string root_;
  std::unique_ptr<BlobStore> store_;
};

TEST(Sha256Test, KnownVectors) {
  struct Case {
    std::vector<std::string> pieces;
    std::string hex;
  };
  const std::vector<Case> cases = {
      {{}, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {{"abc"}, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {{"a", "b", "c"}, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"},
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
  };
  for (const Case& c : cases) {
    Sha256 sha;
    for (const std::string& piece : c.pieces) sha.Update(piece);
    EXPECT_EQ(sha.HexDigest(), c.hex);
    EXPECT_EQ(sha.HexDigest(), c.hex) << "HexDigest must not end the computation";
  }
}

TEST(BlobSegmentTest, Table) {
  struct Case {
    std::string segment;
    bool safe;
  };
  const std::vector<Case> cases = {
      {kVideo, true},
      {"original", true},
      {"thumbnail-3.jpg", true},
      {"web.mp4", true},
      {"", false},
      {".", false},
      {"..", false},
      {".tmp-x", false},
      {"a/b", false},
      {"../etc", false},
      {"a b", false},
      {std::string("a\0b", 3), false},
      {"é", false},
      {std::string(128, 'a'), true},
      {std::string(129, 'a'), false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(IsSafeBlobSegment(c.segment), c.safe) << "'" << c.segment << "'";
  }
}

TEST_F(BlobStoreTest, WriteCommitReadBack) {
  auto writer = store_->Create(kVideo, "original");
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  ASSERT_TRUE((*writer)->Append("hello ").ok());
  ASSERT_TRUE((*writer)->Append("world").ok());
  EXPECT_EQ((*writer)->size(), 11u);
  ASSERT_TRUE((*writer)->Sync().ok());

  // Nothing visible before Commit.
  EXPECT_FALSE(*store_->Exists(kVideo, "original"));
  EXPECT_EQ(store_->Open(kVideo, "original").status().code(), Code::kNotFound);

  auto info = (*writer)->Commit();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->size, 11u);
  EXPECT_EQ(info->sha256_hex, "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
  EXPECT_GT(info->modified_at_ms, 0);
  EXPECT_TRUE(*store_->Exists(kVideo, "original"));
  EXPECT_EQ(*store_->Size(kVideo, "original"), 11u);
  EXPECT_EQ(ListDir(root_ + "/" + kVideo), std::vector<std::string>{"original"});

  auto reader = store_->Open(kVideo, "original");
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ((*reader)->size(), 11u);
  EXPECT_EQ(ReadAll(**reader), "hello world");
  char buffer[16];
  auto n = (*reader)->ReadAt(6, buffer, sizeof(buffer));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string(buffer, *n), "world");
  n = (*reader)->ReadAt(100, buffer, sizeof(buffer));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0u);

  auto path = store_->LocalPath(kVideo, "original");
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(*path, root_ + "/" + kVideo + "/original");
}

TEST_F(BlobStoreTest, LargeBlobInOddChunks) {
  // Several staging buffers (the background writer) fed in odd-sized pieces.
  std::string content;
  uint32_t x = 7;
  while (content.size() < (5u << 20) + 12345) {
    x = x * 1664525 + 1013904223;
    content.push_back(static_cast<char>(x >> 24));
  }
  auto writer = store_->Create(kVideo, "original");
  ASSERT_TRUE(writer.ok());
  size_t pos = 0;
  size_t piece = 1;
  while (pos < content.size()) {
    size_t n = std::min(piece, content.size() - pos);
    ASSERT_TRUE((*writer)->Append(std::string_view(content).substr(pos, n)).ok());
    pos += n;
    piece = piece * 3 + 7;
    if (piece > 3000000) piece = 1;
  }
  EXPECT_EQ((*writer)->size(), content.size());
  Sha256 expected;
  expected.Update(content);
  EXPECT_EQ((*writer)->Sha256Hex(), expected.HexDigest());
  auto info = (*writer)->Commit();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->sha256_hex, expected.HexDigest());
  auto reader = store_->Open(kVideo, "original");
  ASSERT_TRUE(reader.ok());
  std::string back(content.size(), '\0');
  auto n = (*reader)->ReadAt(0, back.data(), back.size());
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, content.size());
  EXPECT_TRUE(back == content);
}

TEST_F(BlobStoreTest, AppendsAfterASyncOfAnUnalignedLength) {
  // Sync writes out a partial buffer whose length is no multiple of the
  // direct-I/O block: the writer continues through the page cache from that
  // unaligned offset, and the blob must still be exact.
  std::string content;
  uint32_t x = 11;
  while (content.size() < (4u << 20) + 777) {
    x = x * 1664525 + 1013904223;
    content.push_back(static_cast<char>(x >> 24));
  }
  const size_t first = (1u << 20) + (1u << 19) + 4099;
  auto writer = store_->Create(kVideo, "original");
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Append(std::string_view(content).substr(0, first)).ok());
  ASSERT_TRUE((*writer)->Sync().ok());
  Sha256 head;
  head.Update(std::string_view(content).substr(0, first));
  EXPECT_EQ((*writer)->Sha256Hex(), head.HexDigest());
  for (size_t pos = first; pos < content.size(); pos += 300000) {
    ASSERT_TRUE((*writer)->Append(std::string_view(content).substr(pos, 300000)).ok());
  }
  Sha256 expected;
  expected.Update(content);
  auto info = (*writer)->Commit();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->size, content.size());
  EXPECT_EQ(info->sha256_hex, expected.HexDigest());
  auto reader = store_->Open(kVideo, "original");
  ASSERT_TRUE(reader.ok());
  std::string back(content.size(), '\0');
  auto n = (*reader)->ReadAt(0, back.data(), back.size());
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, content.size());
  EXPECT_TRUE(back == content);
}

TEST_F(BlobStoreTest, WriteErrorSurfacesAndLeavesNothing) {
  // A file size limit stands in for a full disk: writes past 3 MiB fail (EFBIG).
  struct rlimit saved {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  struct rlimit limited = saved;
  limited.rlim_cur = 3 << 20;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limited), 0);
  Status failure;
  {
    auto writer = store_->Create(kVideo, "original");
    ASSERT_TRUE(writer.ok());
    const std::string chunk(64 << 10, 'z');
    for (int i = 0; i < 160 && failure.ok(); ++i) failure = (*writer)->Append(chunk);
    if (failure.ok()) failure = (*writer)->Commit().status();
  }
  ::setrlimit(RLIMIT_FSIZE, &saved);
  ::signal(SIGXFSZ, old_handler);
  EXPECT_FALSE(failure.ok());
  EXPECT_NE(failure.message().find("cannot write"), std::string::npos) << failure.ToString();
  // The message reaches API clients: it says what failed, not where.
  EXPECT_EQ(failure.message().find(root_), std::string::npos) << failure.ToString();
  EXPECT_TRUE(ListDir(root_ + "/" + kVideo).empty());
  EXPECT_FALSE(*store_->Exists(kVideo, "original"));
}

TEST_F(BlobStoreTest, UncommittedWriterLeavesNothing) {
  {
    auto writer = store_->Create(kVideo, "original");
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Append(std::string(100000, 'x')).ok());
    EXPECT_EQ(ListDir(root_ + "/" + kVideo).size(), 1u) << "the temporary file exists meanwhile";
  }
  EXPECT_TRUE(ListDir(root_ + "/" + kVideo).empty());
  EXPECT_FALSE(*store_->Exists(kVideo, "original"));

  auto writer = store_->Create(kVideo, "original");
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Append("x").ok());
  (*writer)->Discard();
  EXPECT_TRUE(ListDir(root_ + "/" + kVideo).empty());
  EXPECT_FALSE((*writer)->Append("y").ok());
  EXPECT_FALSE((*writer)->Commit().ok());
}

TEST_F(BlobStoreTest, ReplaceKeepsOpenReadersOnTheirVersion) {
  auto first = store_->Create(kVideo, "original");
  ASSERT_TRUE((*first)->Append("first version").ok());
  ASSERT_TRUE((*first)->Commit().ok());
  auto old_reader = store_->Open(kVideo, "original");
  ASSERT_TRUE(old_reader.ok());
  std::string old_tag = (*old_reader)->VersionTag();

  auto second = store_->Create(kVideo, "original");
  ASSERT_TRUE((*second)->Append("second").ok());
  ASSERT_TRUE((*second)->Commit().ok());

  EXPECT_EQ(ReadAll(**old_reader), "first version");
  auto new_reader = store_->Open(kVideo, "original");
  ASSERT_TRUE(new_reader.ok());
  EXPECT_EQ(ReadAll(**new_reader), "second");
  EXPECT_NE((*new_reader)->VersionTag(), old_tag);
  second->reset();  // drops the previous version it kept for Revert
  EXPECT_EQ(ListDir(root_ + "/" + kVideo), std::vector<std::string>{"original"});
}

TEST_F(BlobStoreTest, RevertPutsThePreviousVersionBack) {
  auto first = store_->Create(kVideo, "original");
  ASSERT_TRUE((*first)->Append("first version").ok());
  ASSERT_TRUE((*first)->Commit().ok());
  auto second = store_->Create(kVideo, "original");
  ASSERT_TRUE((*second)->Append("second").ok());
  ASSERT_TRUE((*second)->Commit().ok());

  ASSERT_TRUE((*second)->Revert().ok());
  auto reader = store_->Open(kVideo, "original");
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(ReadAll(**reader), "first version");
  EXPECT_TRUE((*second)->Revert().ok()) << "a second Revert does nothing";
  second->reset();
  first->reset();
  EXPECT_EQ(ListDir(root_ + "/" + kVideo), std::vector<std::string>{"original"});
}

TEST_F(BlobStoreTest, RevertWithoutAPreviousVersionRemovesTheBlob) {
  auto writer = store_->Create(kVideo, "processed");
  ASSERT_TRUE((*writer)->Append("data").ok());
  ASSERT_TRUE((*writer)->Commit().ok());
  ASSERT_TRUE((*writer)->Revert().ok());
  Result<bool> exists = store_->Exists(kVideo, "processed");
  ASSERT_TRUE(exists.ok());
  EXPECT_FALSE(*exists);
  writer->reset();
  EXPECT_TRUE(ListDir(root_ + "/" + kVideo).empty());
}

TEST_F(BlobStoreTest, RevertLeavesAVersionPublishedSinceInPlace) {
  auto first = store_->Create(kVideo, "original");
  ASSERT_TRUE((*first)->Append("first").ok());
  ASSERT_TRUE((*first)->Commit().ok());
  auto second = store_->Create(kVideo, "original");
  ASSERT_TRUE((*second)->Append("second").ok());
  ASSERT_TRUE((*second)->Commit().ok());
  auto third = store_->Create(kVideo, "original");
  ASSERT_TRUE((*third)->Append("third").ok());
  ASSERT_TRUE((*third)->Commit().ok());

  ASSERT_TRUE((*second)->Revert().ok());
  auto reader = store_->Open(kVideo, "original");
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(ReadAll(**reader), "third");
  first->reset();
  second->reset();
  third->reset();
  EXPECT_EQ(ListDir(root_ + "/" + kVideo), std::vector<std::string>{"original"});
}

// What a publication leaves when its process stops after Commit, before the
// writer is destroyed: the version it replaced, kept under the writer's
// temporary name + ".previous". Here the version in place is linked so by
// hand; then `replacement` is published over it.
class KeptVersionTest : public BlobStoreTest {
 protected:
  // Publishes `content` as the original of `video`.
  BlobInfo Publish(const std::string& content, const std::string& video = kVideo) {
    auto writer = store_->Create(video, "original");
    EXPECT_TRUE(writer.ok());
    EXPECT_TRUE((*writer)->Append(content).ok());
    Result<BlobInfo> info = (*writer)->Commit();
    EXPECT_TRUE(info.ok()) << info.status().ToString();
    return info.ok() ? *info : BlobInfo{};
  }

  // The original `recorded` is replaced by `replacement`, its kept version left.
  KeptVersion Interrupted(const std::string& replacement) {
    const std::string dir = root_ + "/" + kVideo;
    EXPECT_EQ(::link((dir + "/original").c_str(), (dir + "/" + kKeptName).c_str()), 0);
    Publish(replacement);
    return KeptVersion{kVideo, "original", kKeptName};
  }

  std::string Original() {
    auto reader = store_->Open(kVideo, "original");
    EXPECT_TRUE(reader.ok());
    return reader.ok() ? ReadAll(**reader) : "";
  }

  static std::string Sha256Hex(const std::string& content) {
    Sha256 sha;
    sha.Update(content);
    return sha.HexDigest();
  }

  static constexpr char kKeptName[] = ".tmp-0123456789abcdef-original.previous";
};

TEST_F(KeptVersionTest, TheKeptVersionsOfABlobAreListed) {
  Publish("first");
  Interrupted("second");
  const std::string other = "1c1d2e3f-0000-4000-8000-000000000001";
  Publish("x", other);
  std::ofstream(root_ + "/" + other + "/.tmp-00000000000000aa-original.previous") << "x";
  std::ofstream(root_ + "/" + other + "/.tmp-00000000000000bb-original") << "an upload";
  std::ofstream(root_ + "/" + other + "/.tmp-00000000000000cc-processed.previous") << "y";
  Result<std::vector<KeptVersion>> kept = store_->KeptVersions("original");
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  std::vector<std::string> found;
  for (const KeptVersion& version : *kept) {
    EXPECT_EQ(version.name, "original");
    found.push_back(version.video_id + "/" + version.file_name);
  }
  std::sort(found.begin(), found.end());
  EXPECT_EQ(found, (std::vector<std::string>{std::string(kVideo) + "/" + kKeptName,
                                             other + "/.tmp-00000000000000aa-original.previous"}));
}

TEST_F(KeptVersionTest, AnUnrecordedReplacementMakesWayForTheRecordedVersion) {
  const BlobInfo recorded = Publish("first version");
  const KeptVersion kept = Interrupted("other version");  // the same size
  auto settled = store_->SettleKeptVersion(kept, recorded);
  ASSERT_TRUE(settled.ok()) << settled.status().ToString();
  EXPECT_EQ(*settled, KeptVersionOutcome::kRestored);
  EXPECT_EQ(Original(), "first version");
  EXPECT_EQ(ListDir(root_ + "/" + kVideo), std::vector<std::string>{"original"});
  settled = store_->SettleKeptVersion(kept, recorded);
  ASSERT_TRUE(settled.ok());
  EXPECT_EQ(*settled, KeptVersionOutcome::kGone);
}

// A replacement of the recorded version's size, published within one tick
// of the file system's clock after it, has its time too (the two tests
// above, when the two versions were published within a few milliseconds,
// failed now and then): the content decides, and the recorded version is
// put back — kept aside by the upload (a link: its time) or restored from a
// backup (a copy with another time).
TEST_F(KeptVersionTest, AReplacementWithTheRecordedSizeAndTimeMakesWayToo) {
  const std::string dir = root_ + "/" + kVideo;
  const TimePoint tick(std::chrono::hours(24 * 365 * 30));
  const BlobInfo recorded{
      13, Sha256Hex("first version"),
      std::chrono::duration_cast<std::chrono::milliseconds>(tick.time_since_epoch()).count()};
  for (const bool copied : {false, true}) {
    Publish("first version");
    if (copied) {
      fs::copy_file(dir + "/original", dir + "/" + kKeptName);
      SetMtime(dir + "/" + kKeptName, TimePoint(std::chrono::hours(24 * 365 * 40)));
      Publish("other version");
    } else {
      Interrupted("other version");
      SetMtime(dir + "/" + kKeptName, tick);
    }
    SetMtime(dir + "/original", tick);
    auto settled = store_->SettleKeptVersion(KeptVersion{kVideo, "original", kKeptName}, recorded);
    ASSERT_TRUE(settled.ok()) << settled.status().ToString();
    EXPECT_EQ(*settled, KeptVersionOutcome::kRestored) << (copied ? "copied" : "linked");
    EXPECT_EQ(Original(), "first version");
    EXPECT_EQ(ListDir(dir), std::vector<std::string>{"original"});
  }
}

TEST_F(KeptVersionTest, ARecordedReplacementDropsTheKeptVersion) {
  Publish("first version");
  const KeptVersion kept = Interrupted("other version");
  auto reader = store_->Open(kVideo, "original");
  ASSERT_TRUE(reader.ok());
  const BlobInfo recorded{13, Sha256Hex("other version"), (*reader)->modified_at_ms()};
  auto settled = store_->SettleKeptVersion(kept, recorded);
  ASSERT_TRUE(settled.ok()) << settled.status().ToString();
  EXPECT_EQ(*settled, KeptVersionOutcome::kRecorded);
  EXPECT_EQ(Original(), "other version");
  EXPECT_EQ(ListDir(root_ + "/" + kVideo), std::vector<std::string>{"original"});
}

// Copied from a backup without its times: the content decides.
TEST_F(KeptVersionTest, AKeptVersionWithOtherTimesIsKnownByItsContent) {
  const BlobInfo recorded = Publish("first version");
  const std::string dir = root_ + "/" + kVideo;
  fs::copy_file(dir + "/original", dir + "/" + kKeptName);
  SetMtime(dir + "/" + kKeptName, TimePoint(std::chrono::hours(24 * 365 * 30)));
  Publish("other version");
  auto settled = store_->SettleKeptVersion(KeptVersion{kVideo, "original", kKeptName}, recorded);
  ASSERT_TRUE(settled.ok()) << settled.status().ToString();
  EXPECT_EQ(*settled, KeptVersionOutcome::kRestored);
  EXPECT_EQ(Original(), "first version");
}

// A live upload whose transaction is retried lets its locks go between the
// runs; a sweep may then take its kept version for a crashed upload's and
// put it back. The writer sees it before recording again (audit 42 F1).
TEST_F(KeptVersionTest, AWriterKnowsWhenItsPublicationWasPutBack) {
  const BlobInfo recorded = Publish("first version");
  auto live = store_->Create(kVideo, "original");
  ASSERT_TRUE((*live)->Append("other version").ok());
  ASSERT_TRUE((*live)->Commit().ok());
  EXPECT_TRUE((*live)->StillPublished().ok());
  Result<std::vector<KeptVersion>> kept = store_->KeptVersions("original");
  ASSERT_TRUE(kept.ok());
  ASSERT_EQ(kept->size(), 1u);
  auto settled = store_->SettleKeptVersion(kept->front(), recorded);
  ASSERT_TRUE(settled.ok()) << settled.status().ToString();
  EXPECT_EQ(*settled, KeptVersionOutcome::kRestored);
  Status still = (*live)->StillPublished();
  EXPECT_EQ(still.code(), Code::kUnavailable) << still.ToString();
  EXPECT_TRUE((*live)->Revert().ok());
  live->reset();
  EXPECT_EQ(Original(), "first version");
  EXPECT_EQ(ListDir(root_ + "/" + kVideo), std::vector<std::string>{"original"});
}

// The temporary-file sweep goes by age, and a kept version is a link to an
// older file: by its modification time, a re-upload of a video first
// uploaded more than a day ago made a "stale" file, and the sweep removed
// the version the upload would have put back (audit 42 F2). A kept version's
// age is its link's (change time); an original's is never swept.
TEST_F(KeptVersionTest, TheSweepLeavesKeptVersionsByTheirLinksAge) {
  Publish("first version");
  const std::string dir = root_ + "/" + kVideo;
  const TimePoint now = std::chrono::system_clock::now();
  SetMtime(dir + "/original", now - std::chrono::hours(48));
  Interrupted("other version");
  const std::string kept_processed = dir + "/.tmp-00000000000000aa-processed.previous";
  std::ofstream(kept_processed) << "an older processed file";
  SetMtime(kept_processed, now - std::chrono::hours(48));
  auto stats = store_->SweepOrphans({kVideo}, now);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->temp_files_removed, 0);
  EXPECT_TRUE(fs::exists(dir + "/" + kKeptName));
  EXPECT_TRUE(fs::exists(kept_processed));
  // A day after the link was made, a kept processed file goes; the original's stays.
  stats = store_->SweepOrphans({kVideo}, now + std::chrono::hours(25));
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->temp_files_removed, 1);
  EXPECT_FALSE(fs::exists(kept_processed));
  EXPECT_TRUE(fs::exists(dir + "/" + kKeptName));
}

TEST_F(KeptVersionTest, NeitherVersionRecordedChangesNothing) {
  BlobInfo recorded = Publish("first version");
  const KeptVersion kept = Interrupted("other version");
  recorded.sha256_hex = Sha256Hex("third version");
  recorded.modified_at_ms -= 1000;
  auto settled = store_->SettleKeptVersion(kept, recorded);
  ASSERT_TRUE(settled.ok()) << settled.status().ToString();
  EXPECT_EQ(*settled, KeptVersionOutcome::kUndecided);
  EXPECT_EQ(Original(), "other version");
  EXPECT_EQ(ListDir(root_ + "/" + kVideo),
            (std::vector<std::string>{std::string(kKeptName), "original"}));
  EXPECT_FALSE(store_->SettleKeptVersion(KeptVersion{kVideo, "original", "../x"}, recorded).ok());
}

TEST_F(BlobStoreTest, RevertBeforeCommitDoesNothing) {
  auto first = store_->Create(kVideo, "original");
  ASSERT_TRUE((*first)->Append("first").ok());
  ASSERT_TRUE((*first)->Commit().ok());
  auto uncommitted = store_->Create(kVideo, "original");
  ASSERT_TRUE((*uncommitted)->Append("never published").ok());
  EXPECT_TRUE((*uncommitted)->Revert().ok());
  auto reader = store_->Open(kVideo, "original");
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(ReadAll(**reader), "first");
}

TEST_F(BlobStoreTest, CommitAfterVideoDeletedFails) {
  auto writer = store_->Create(kVideo, "processed");
  ASSERT_TRUE((*writer)->Append("data").ok());
  ASSERT_TRUE(store_->Delete(kVideo).ok());
  EXPECT_FALSE((*writer)->Commit().ok());
  EXPECT_FALSE(fs::exists(root_ + "/" + kVideo));
}

TEST_F(BlobStoreTest, TempPathAndPutFile) {
  auto temp = store_->TempPath(kVideo, "web.mp4");
  ASSERT_TRUE(temp.ok());
  EXPECT_FALSE(fs::exists(*temp));
  { std::ofstream(*temp) << "abc"; }
  auto info = PutFile(*store_, kVideo, "web.mp4", *temp);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->size, 3u);
  EXPECT_EQ(info->sha256_hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_FALSE(fs::exists(*temp));
  auto reader = store_->Open(kVideo, "web.mp4");
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(ReadAll(**reader), "abc");

  // A source elsewhere (possibly another filesystem) is moved in as well.
  std::string outside = temp_.path() + "/outside.jpg";
  { std::ofstream(outside) << "jpeg"; }
  ASSERT_TRUE(PutFile(*store_, kVideo, ThumbnailBlobName(0), outside).ok());
  EXPECT_FALSE(fs::exists(outside));
  EXPECT_EQ(*store_->Size(kVideo, "thumbnail-0.jpg"), 4u);

  EXPECT_EQ(PutFile(*store_, kVideo, "x", temp_.path() + "/missing").status().code(),
            Code::kNotFound);
}

// PutFile's two halves: the slow one (hash, sync) leaves the file where it
// is; the quick one moves it into place, and succeeds again for a file that
// is in place already (a completion retried after its transaction failed).
TEST_F(BlobStoreTest, PrepareThenPublishAndPublishAgain) {
  auto temp = store_->TempPath(kVideo, "web.mp4");
  ASSERT_TRUE(temp.ok());
  { std::ofstream(*temp) << "abc"; }
  auto prepared = store_->PrepareFile(*temp);
  ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
  EXPECT_EQ(prepared->size, 3u);
  EXPECT_EQ(prepared->sha256_hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(fs::exists(*temp));
  EXPECT_FALSE(*store_->Exists(kVideo, "web.mp4"));
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto published = store_->PublishFile(kVideo, "web.mp4", *temp, *prepared);
    ASSERT_TRUE(published.ok()) << attempt << ": " << published.status().ToString();
    EXPECT_EQ(published->sha256_hex, prepared->sha256_hex);
    EXPECT_FALSE(fs::exists(*temp));
  }
  auto reader = store_->Open(kVideo, "web.mp4");
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(ReadAll(**reader), "abc");
  // A missing source whose blob is not the prepared one is an error.
  storage::BlobInfo other = *prepared;
  other.size = 4;
  EXPECT_FALSE(store_->PublishFile(kVideo, "web.mp4", *temp, other).ok());
}

TEST_F(BlobStoreTest, DeleteVideo) {
  for (const char* name : {"original", "web.mp4"}) {
    auto writer = store_->Create(kVideo, name);
    ASSERT_TRUE((*writer)->Append(name).ok());
    ASSERT_TRUE((*writer)->Commit().ok());
  }
  ASSERT_TRUE(store_->Delete(kVideo).ok());
  EXPECT_FALSE(*store_->Exists(kVideo, "original"));
  EXPECT_TRUE(store_->Delete(kVideo).ok()) << "deleting twice is fine";
  EXPECT_EQ(store_->Size(kVideo, "original").status().code(), Code::kNotFound);
}

// Files vanishing while a video's directory is emptied (an upload to the
// deleted video dropping its temporary file) do not stop the deletion: it had
// given up at the first one (ENOENT) and left the rest for the hourly sweep.
TEST_F(BlobStoreTest, DeleteFinishesWhileFilesVanishFromTheDirectory) {
  for (int round = 0; round < 30; ++round) {
    SCOPED_TRACE(round);
    auto writer = store_->Create(kVideo, "original");
    ASSERT_TRUE((*writer)->Append("abc").ok());
    ASSERT_TRUE((*writer)->Commit().ok());
    const fs::path dir = fs::path(root_) / kVideo;
    // Many small files that another thread unlinks as the deletion runs.
    std::vector<fs::path> files;
    for (int i = 0; i < 400; ++i) {
      files.push_back(dir / (".tmp-" + std::to_string(i)));
      std::ofstream(files.back()) << "x";
    }
    ASSERT_TRUE(fs::exists(files.back()));
    std::atomic<bool> go{false};
    std::thread churn([&] {
      while (!go.load()) {
      }
      for (auto it = files.rbegin(); it != files.rend(); ++it) ::unlink(it->c_str());
    });
    go.store(true);
    Status deleted = store_->Delete(kVideo);
    churn.join();
    EXPECT_TRUE(deleted.ok()) << deleted.ToString();
    EXPECT_FALSE(fs::exists(dir));
  }
}

TEST_F(BlobStoreTest, RefusesUnsafeNames) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"../x", "original"}, {kVideo, "../original"}, {"", "original"},
      {kVideo, ""},         {kVideo, "a/b"},         {kVideo, ".tmp-1-original"},
  };
  for (const auto& [video, name] : cases) {
    EXPECT_EQ(store_->Create(video, name).status().code(), Code::kInvalidArgument);
    EXPECT_EQ(store_->Open(video, name).status().code(), Code::kInvalidArgument);
    EXPECT_EQ(store_->TempPath(video, name).status().code(), Code::kInvalidArgument);
  }
  EXPECT_EQ(store_->Delete("..").code(), Code::kInvalidArgument);
  EXPECT_TRUE(fs::exists(temp_.path())) << "Delete(\"..\") must not escape the root";
}

// The store's root loses its marker when a share is unmounted under its
// mount point (simulated by moving the root away and leaving an empty
// directory, as a bare mount point is): writes are refused as Unavailable
// rather than landing on the wrong disk, and a blob not found there is
// Unavailable, not NotFound (a job must wait, not fail for good).
TEST_F(BlobStoreTest, AStoreWhoseRootIsGoneIsUnavailableNotEmpty) {
  {
    auto writer = store_->Create(kVideo, "original");
    ASSERT_TRUE((*writer)->Append("media").ok());
    ASSERT_TRUE((*writer)->Commit().ok());
  }
  EXPECT_TRUE(store_->CheckAvailable().ok());
  fs::rename(root_, root_ + ".away");
  fs::create_directories(root_);  // the bare mount point
  EXPECT_EQ(store_->CheckAvailable().code(), Code::kUnavailable);
  EXPECT_EQ(store_->Create("11111111-2222-4333-8444-555555555555", "original").status().code(),
            Code::kUnavailable);
  EXPECT_EQ(store_->Open(kVideo, "original").status().code(), Code::kUnavailable);
  EXPECT_EQ(store_->Size(kVideo, "original").status().code(), Code::kUnavailable);
  EXPECT_EQ(store_->LocalPath(kVideo, "original").status().code(), Code::kUnavailable);
  EXPECT_EQ(store_->Exists(kVideo, "original").status().code(), Code::kUnavailable);
  EXPECT_TRUE(fs::is_empty(root_)) << "nothing written under the mount point";
  // The share is back.
  fs::remove(root_);
  fs::rename(root_ + ".away", root_);
  EXPECT_TRUE(store_->CheckAvailable().ok());
  EXPECT_TRUE(*store_->Exists(kVideo, "original"));
  EXPECT_EQ(store_->Open(kVideo, "thumbnail-0.jpg").status().code(), Code::kNotFound);
}

// A store opened on a bare mount point (the share not mounted when the node
// starts) must not put its marker there: the disk under the mount point would
// pass for the store once the share is gone again. Adopt decides with the
// database's word; a directory the store creates itself is marked at once.
TEST_F(BlobStoreTest, AnUnmarkedRootIsAdoptedOnlyWhenItPlainlyIsTheStore) {
  const std::string mount_point = root_ + "-mount";
  fs::create_directories(mount_point);
  auto store = OpenFileBlobStore(mount_point);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->CheckAvailable().code(), Code::kUnavailable);
  EXPECT_EQ((*store)->Adopt(/*database_has_media=*/true).code(), Code::kUnavailable);
  EXPECT_TRUE(fs::is_empty(mount_point)) << "nothing written under the mount point";
  EXPECT_EQ((*store)->Create(kVideo, "original").status().code(), Code::kUnavailable);
  // A new installation (no media anywhere) takes the empty directory.
  EXPECT_TRUE((*store)->Adopt(/*database_has_media=*/false).ok());
  EXPECT_TRUE((*store)->CheckAvailable().ok());

  // A store from before the marker: video directories, no marker.
  const std::string old_store = root_ + "-old";
  fs::create_directories(old_store + "/" + kVideo);
  auto old = OpenFileBlobStore(old_store);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ((*old)->CheckAvailable().code(), Code::kUnavailable);
  EXPECT_TRUE((*old)->Adopt(/*database_has_media=*/true).ok());
  EXPECT_TRUE((*old)->CheckAvailable().ok());

  // A root the store creates is marked by opening it.
  auto fresh = OpenFileBlobStore(root_ + "-new");
  ASSERT_TRUE(fresh.ok());
  EXPECT_TRUE((*fresh)->CheckAvailable().ok());
  for (const std::string& dir : {mount_point, old_store, root_ + "-new"}) fs::remove_all(dir);
}

TEST_F(BlobStoreTest, SweepRemovesOrphansAndStaleTemps) {
  const std::string known = kVideo;
  const std::string orphan = "11111111-2222-4333-8444-555555555555";
  const std::string fresh_orphan = "66666666-7777-4888-8999-aaaaaaaaaaaa";
  for (const std::string& video : {known, orphan, fresh_orphan}) {
    auto writer = store_->Create(video, "original");
    ASSERT_TRUE((*writer)->Append("x").ok());
    ASSERT_TRUE((*writer)->Commit().ok());
  }
  auto stale_temp = store_->TempPath(known, "web.mp4");
  auto fresh_temp = store_->TempPath(known, "thumbnail-0.jpg");
  { std::ofstream(*stale_temp) << "partial"; }
  { std::ofstream(*fresh_temp) << "partial"; }
  // A file that is not the store's: left alone.
  { std::ofstream(root_ + "/README") << "not ours"; }

  const TimePoint now = std::chrono::system_clock::now();
  SetMtime(root_ + "/" + orphan, now - std::chrono::hours(2));
  SetMtime(*stale_temp, now - std::chrono::hours(25));

  auto stats = store_->SweepOrphans({known}, now);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->orphan_directories_removed, 1);
  EXPECT_EQ(stats->temp_files_removed, 1);
  EXPECT_FALSE(fs::exists(root_ + "/" + orphan));
  EXPECT_TRUE(fs::exists(root_ + "/" + fresh_orphan)) << "within the grace period";
  EXPECT_TRUE(*store_->Exists(known, "original"));
  EXPECT_FALSE(fs::exists(*stale_temp));
  EXPECT_TRUE(fs::exists(*fresh_temp));
  EXPECT_TRUE(fs::exists(root_ + "/README"));

  // Later, the fresh orphan goes too.
  stats = store_->SweepOrphans({known}, now + std::chrono::hours(2));
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->orphan_directories_removed, 1);
  EXPECT_FALSE(fs::exists(root_ + "/" + fresh_orphan));
}

// A database that knows none of the store's videos (fresh, mistyped, another
// installation's), or whose rows would leave most of them orphans (a restored
// backup), is not this store's: nothing is removed. An empty database had
// wiped every video's media at start-up.
TEST_F(BlobStoreTest, SweepKeepsEverythingForADatabaseThatIsNotTheStores) {
  const TimePoint now = std::chrono::system_clock::now();
  std::vector<std::string> videos;
  for (int i = 0; i < 40; ++i) {
    char id[40];
    std::snprintf(id, sizeof(id), "00000000-0000-4000-8000-%012d", i);
    videos.push_back(id);
    auto writer = store_->Create(id, "original");
    ASSERT_TRUE((*writer)->Append("media").ok());
    ASSERT_TRUE((*writer)->Commit().ok());
    SetMtime(root_ + "/" + id, now - std::chrono::hours(48));
  }
  auto stats = store_->SweepOrphans({}, now);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->orphan_directories_removed, 0);
  EXPECT_EQ(stats->orphan_directories_kept, 40);
  EXPECT_EQ(stats->video_directories, 40);
  // A backup that knows 10 of the 40: 30 orphans are too many.
  const std::set<std::string> backup(videos.begin(), videos.begin() + 10);
  stats = store_->SweepOrphans(backup, now);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->orphan_directories_kept, 30);
  for (const std::string& video : videos) EXPECT_TRUE(*store_->Exists(video, "original"));
  // The store's own database, with a few orphans (rows deleted, files left
  // by a crash): those go.
  const std::set<std::string> own(videos.begin() + 3, videos.end());
  stats = store_->SweepOrphans(own, now);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->orphan_directories_removed, 3);
  EXPECT_EQ(stats->orphan_directories_kept, 0);
  EXPECT_FALSE(*store_->Exists(videos[0], "original"));
  EXPECT_TRUE(*store_->Exists(videos[3], "original"));
}

}  // namespace
}  // namespace vidmill::storage
