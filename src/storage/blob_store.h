#pragma once
// The blob store: where every media file lives (uploaded originals, processed
// media, thumbnails, web previews), behind a small interface so an object store
// can replace the filesystem later.
//
// Blobs are addressed by (video id, name). Both are restricted to a safe
// alphabet — letters, digits, '-', '_' and '.' (a name may not start with '.',
// at most 128 bytes) — so they are never paths chosen by a client; anything
// else is InvalidArgument.
//
// Publishing is atomic: a blob is either absent or complete. Writers fill a
// temporary file next to the final one and Commit() it (fsync the file, rename
// over the final name, fsync the directory); an uncommitted writer removes its
// temporary file when destroyed. Readers that opened a blob keep reading the
// version they opened even if it is replaced or deleted meanwhile.
//
// Well-known names (use these, so routes and workers agree):
//   kOriginalBlob            the uploaded media file
//   kProcessedBlob           the processed media (stored under the processed
//                            child video's id)
//   ThumbnailBlobName(i)     "thumbnail-<i>.jpg", i from 0
//   kWebPreviewBlob          the H.264/AAC MP4 preview for browsers
//
// Thread safety: a BlobStore is shared by all threads. A BlobWriter or a
// BlobReader is used by one thread at a time.

#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace vidmill::storage {

inline constexpr std::string_view kOriginalBlob = "original";
inline constexpr std::string_view kProcessedBlob = "processed";
inline constexpr std::string_view kWebPreviewBlob = "web.mp4";
std::string ThumbnailBlobName(int index);

// True for a video id or blob name the store accepts (see the file comment).
bool IsSafeBlobSegment(std::string_view segment);

// What a committed blob is.
struct BlobInfo {
  uint64_t size = 0;
  std::string sha256_hex;      // lower-case hex of the SHA-256 of the content
  int64_t modified_at_ms = 0;  // when it was published (file mtime)
};

// Incremental SHA-256 (OpenSSL EVP). Move-only.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&& other) noexcept;
  Sha256& operator=(Sha256&& other) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view bytes);
  // The digest of everything passed so far, as lower-case hex. Does not end
  // the computation: Update may be called again afterwards.
  std::string HexDigest() const;

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

// Writes one blob. Bytes are appended to a temporary file and hashed on the way;
// nothing is visible under the blob's name until Commit() returns OK. Append
// may return before the bytes are hashed or reach the file (the filesystem
// writer stages them and hashes and writes them on threads of its own, with at
// most 7 MiB in flight, bypassing the page cache where it can); a write error
// is returned by a later Append, Sync or Commit.
class BlobWriter {
 public:
  virtual ~BlobWriter() = default;  // removes the temporary file unless committed
  virtual Status Append(std::string_view bytes) = 0;
  // Bytes appended so far.
  virtual uint64_t size() const = 0;
  // SHA-256 hex of the bytes appended so far (waits for pending writes; ""
  // after a write error, which Sync/Commit report).
  virtual std::string Sha256Hex() = 0;
  // Makes the bytes appended so far durable (fsync) without publishing them.
  // Optional: Commit syncs anyway, but a caller that commits while holding a
  // lock (a database transaction) calls Sync first so the slow part happens
  // outside it.
  virtual Status Sync() = 0;
  // Makes the blob durable and visible (replacing any previous version).
  // After Commit (successful or not) the writer accepts no more calls but
  // Revert. The previous version is kept aside until the writer is destroyed.
  virtual Result<BlobInfo> Commit() = 0;
  // OK while the blob is still the version this writer's Commit published;
  // Unavailable once it is not (a later publication, or the media sweep
  // putting back the version Commit replaced: BlobStore::SettleKeptVersion,
  // which can run while the caller's transaction is being retried). A caller
  // that records the publication again checks this first.
  virtual Status StillPublished() = 0;
  // Undoes a successful Commit whose publication the caller could not record
  // (its database transaction failed): when the blob is still the version this
  // writer published, the previous version is put back, or the blob removed
  // when there was none; when another writer has published since, nothing
  // changes. Call it under the lock that serialises publishers of the blob.
  // OK and nothing done when Commit did not succeed.
  virtual Status Revert() = 0;
  // Drops the temporary file now (also done by the destructor).
  virtual void Discard() = 0;
};

// Reads one blob version, at any offset.
class BlobReader {
 public:
  virtual ~BlobReader() = default;
  virtual uint64_t size() const = 0;
  virtual int64_t modified_at_ms() const = 0;
  // A validator that changes whenever the blob is re-published: derived from
  // the file's identity (inode, mtime, size). Suitable as a strong ETag value
  // for blobs whose content hash is not recorded elsewhere.
  virtual std::string VersionTag() const = 0;
  // Reads up to `size` bytes at `offset` into `out`; returns bytes read (0 at end).
  virtual Result<size_t> ReadAt(uint64_t offset, char* out, size_t size) = 0;
};

struct SweepStats {
  int orphan_directories_removed = 0;
  int temp_files_removed = 0;
  // Orphans left in place because the database does not look like this
  // store's (see SweepOrphans); 0 when the sweep removed what it found.
  int orphan_directories_kept = 0;
  int video_directories = 0;  // seen, known or not
};

// A version of a blob that a writer's Commit kept aside (linked under a
// temporary name, for Revert) and no writer removed: the process stopped
// between publishing the new version and recording it, or between recording
// it and cleaning up (BlobStore::KeptVersions).
struct KeptVersion {
  std::string video_id;
  std::string name;       // of the blob it was
  std::string file_name;  // its temporary name in the video's directory
};

// What BlobStore::SettleKeptVersion did.
enum class KeptVersionOutcome {
  kGone,       // no longer there (its writer removed it meanwhile)
  kRecorded,   // the blob is the recorded content: the kept version was removed
  kRestored,   // the kept version is: it was put back as the blob
  kUndecided,  // neither is: nothing changed
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;

  // Starts writing blob `name` of `video_id`.
  virtual Result<std::unique_ptr<BlobWriter>> Create(std::string_view video_id,
                                                     std::string_view name) = 0;

  // A fresh path for a temporary file that a tool (libav, a worker) writes
  // itself, on the same filesystem as the blobs so PublishFile can rename it.
  // The file does not exist yet. Temporary files left behind are swept after
  // a day.
  virtual Result<std::string> TempPath(std::string_view video_id, std::string_view name) = 0;

  // Publishing a complete file at `source_path` as blob `name`, in two halves,
  // so a caller can publish quickly — inside the database transaction that
  // says the file is current (a job's completion, fenced on its lease), so
  // that a worker that lost its lease cannot put files over a newer job's.
  // PrepareFile is the slow half: it reads the file once for its size and
  // SHA-256 and fsyncs it. PublishFile moves it into place (rename and
  // directory fsync; a copy, then the source removed, when on another
  // filesystem) and returns `prepared` with the published file's mtime.
  // Publishing again a file that is in place already (the source gone, the
  // blob of its size there: a retried transaction) succeeds. PutFile below
  // does both at once.
  virtual Result<BlobInfo> PrepareFile(const std::string& source_path) = 0;
  virtual Result<BlobInfo> PublishFile(std::string_view video_id, std::string_view name,
                                       const std::string& source_path,
                                       const BlobInfo& prepared) = 0;

  // Opens a blob for reading. NotFound when it does not exist.
  virtual Result<std::unique_ptr<BlobReader>> Open(std::string_view video_id,
                                                   std::string_view name) = 0;

  virtual Result<bool> Exists(std::string_view video_id, std::string_view name) = 0;
  // Size in bytes. NotFound when it does not exist.
  virtual Result<uint64_t> Size(std::string_view video_id, std::string_view name) = 0;

  // Removes one blob of a video; OK if it was not there.
  virtual Status Remove(std::string_view video_id, std::string_view name) = 0;

  // Every version of blob `name` (of any video) that a Commit kept aside and
  // no writer removed (see KeptVersion).
  virtual Result<std::vector<KeptVersion>> KeptVersions(std::string_view name) = 0;
  // Settles `kept` against the content the database records for its blob
  // (`recorded`: size, SHA-256 and modification time): when the blob holds
  // that content, the kept version goes; when the kept version does, it is put
  // back as the blob (the version that replaced it was never recorded);
  // otherwise nothing changes. Content is compared by size, then by
  // modification time (renames and links keep it), and by SHA-256 where the
  // times differ (a copy restored from a backup) or where the kept version
  // has the blob's size too (a replacement published within a tick of the
  // file system's clock has the recorded time). Call it under the lock that
  // serialises the blob's publishers.
  virtual Result<KeptVersionOutcome> SettleKeptVersion(const KeptVersion& kept,
                                                       const BlobInfo& recorded) = 0;

  // Removes every blob and temporary file of a video; OK if there were none.
  // A writer still open for that video then fails at Commit.
  virtual Status Delete(std::string_view video_id) = 0;

  // The local path of a blob, for code that must hand a path to a library
  // (e.g. the worker opening media). Filesystem stores only; the path must be
  // treated as read-only. NotFound when the blob does not exist.
  virtual Result<std::string> LocalPath(std::string_view video_id, std::string_view name) = 0;

  // OK while the store is there to read and write: Unavailable when its root
  // no longer holds the store's marker file (a share unmounted under its
  // mount point, a directory moved away). Every write checks it, and a read
  // that finds nothing asks it before saying NotFound, so such a fault is a
  // 503 and a retried job, never a file written to the wrong disk, a 404, or
  // a job failed for good. /readyz asks it too.
  virtual Status CheckAvailable() = 0;
  // CheckAvailable, and the root takes writes (not remounted read-only):
  // what /readyz asks.
  virtual Status CheckWritable() = 0;
  // Puts the marker into a root that has none when it plainly is the store:
  // it holds video directories (a store from before the marker), or it is
  // empty and the database has no media yet (a new installation). An empty
  // root for a database with media is a share not mounted: Unavailable, and
  // no marker goes onto the disk under the mount point, where it would make
  // that disk pass for the store once the share is gone again. OK when the
  // marker is there. (OpenFileBlobStore marks a root it creates itself.)
  virtual Status Adopt(bool database_has_media) = 0;

  // The installation the store belongs to, as its marker names it ("" when it
  // names none: made by an older Vidmill, which recorded no id), and naming
  // it. The media sweep runs only for the installation the marker names
  // (SweepMediaOrphans).
  virtual Result<std::string> MarkerOwner() = 0;
  virtual Status SetMarkerOwner(const std::string& installation_id) = 0;
  // The ids of the video directories the store holds.
  virtual Result<std::vector<std::string>> VideoIds() = 0;

  // Start-up housekeeping: removes every video directory whose id is not in
  // `known_video_ids` (the ids of all rows in the videos table) and was not
  // modified within `orphan_grace` of `now` (so a video created while the
  // sweep runs is not lost), and every temporary file older than
  // `temp_max_age`: by its modification time, or for a kept version (see
  // KeptVersion) by its change time, when it was linked. An original's kept
  // version is never removed here (SettleKeptVersion decides about it).
  //
  // Orphans come from rare crash windows, so they are few. When the database
  // knows none of the directories, or more than a quarter of them (at least
  // 16) would go (a database restored from an older backup), no directory is
  // removed, and the count is reported as orphan_directories_kept. Whether the
  // database is this store's at all is the caller's to check first (the
  // marker's owner: SweepMediaOrphans).
  virtual Result<SweepStats> SweepOrphans(
      const std::set<std::string>& known_video_ids, TimePoint now,
      std::chrono::seconds orphan_grace = std::chrono::hours(1),
      std::chrono::seconds temp_max_age = std::chrono::hours(24)) = 0;
};

// PrepareFile and PublishFile at once, for a caller that need not publish
// inside a transaction.
Result<BlobInfo> PutFile(BlobStore& store, std::string_view video_id, std::string_view name,
                         const std::string& source_path);

// The filesystem implementation: <root>/<video-id>/<name>, with temporary files
// as <root>/<video-id>/.tmp-<random>-<name>. Creates `root` (and its marker)
// if needed; a root that was there without a marker waits for Adopt.
Result<std::unique_ptr<BlobStore>> OpenFileBlobStore(const std::string& root);

}  // namespace vidmill::storage
