#include "storage/blob_store.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <new>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "common/ids.h"
#include "common/log.h"
#include "common/thread_name.h"

namespace vidmill::storage {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kTempPrefix = ".tmp-";
// Appended to a writer's temporary name for the version its Commit replaced.
constexpr std::string_view kKeptSuffix = ".previous";
// In the store's root, written by Init or Adopt (CheckAvailable); SetMarkerOwner adds
// the owning installation's id on a line of its own.
constexpr std::string_view kMarkerName = ".vidmill-media";
constexpr std::string_view kMarkerText =
    "Vidmill's media store. Nodes check that this file is here before they write.\n";
constexpr std::string_view kOwnerPrefix = "installation ";
constexpr size_t kMaxSegment = 128;
constexpr size_t kCopyBuffer = 1 << 20;
// Buffer address, file offset and length alignment that O_DIRECT needs (the
// largest logical block size in use).
constexpr size_t kDirectAlignment = 4096;

// ENOENT is NotFound, a full disk or I/O fault is Unavailable (retryable), the
// rest are Internal: the store's directory is not what it should be. The
// message reaches API clients (error responses, failed jobs), so it names no
// server path; the path goes to the log, except for a missing file.
Status ErrnoStatus(std::string_view what, const std::string& path, int err) {
  std::string message = "media storage: " + std::string(what) + ": " + std::strerror(err);
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return Status::NotFound(std::move(message));
    default:
      break;
  }
  LogWarning("media storage: " + std::string(what) + " " + path + ": " + std::strerror(err));
  switch (err) {
    case ENOSPC:
    case EDQUOT:
    case EIO:
    case EAGAIN:
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    // Storage that refuses writes (remounted read-only, permissions changed)
    // is a fault of the installation, not of the request: 503, not 500, and
    // jobs wait it out.
    case EROFS:
    case EACCES:
    case EPERM:
      return Status::Unavailable(std::move(message));
    default:
      return Status::Internal(std::move(message));
  }
}

// A path that should hold a regular file holds something else.
Status NotARegularFile(const std::string& path) {
  LogWarning("media storage: not a regular file: " + path);
  return Status::Internal("media storage: not a regular file");
}

// Owns a file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = other.fd_;
      other.fd_ = -1;
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Closes now, reporting the error close() gives (it can carry a deferred
  // write error on some filesystems).
  int Close() {
    if (fd_ < 0) return 0;
    int rc = ::close(fd_);
    fd_ = -1;
    return rc == 0 ? 0 : errno;
  }
  void Reset() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

 private:
  int fd_ = -1;
};

int64_t MtimeMillis(const struct stat& st) {
  return int64_t{st.st_mtim.tv_sec} * 1000 + st.st_mtim.tv_nsec / 1'000'000;
}

// When the inode last changed (a link made or removed, as well as a write).
int64_t CtimeMillis(const struct stat& st) {
  return int64_t{st.st_ctim.tv_sec} * 1000 + st.st_ctim.tv_nsec / 1'000'000;
}

// The SHA-256 (hex) of what `fd` (opened on `path`) reads to its end, and
// how many bytes that was.
Result<std::pair<std::string, uint64_t>> HashFile(int fd, const std::string& path) {
  Sha256 sha;
  std::vector<char> buffer(kCopyBuffer);
  uint64_t total = 0;
  while (true) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("cannot read", path, errno);
    }
    if (n == 0) break;
    sha.Update(std::string_view(buffer.data(), static_cast<size_t>(n)));
    total += static_cast<uint64_t>(n);
  }
  return std::make_pair(sha.HexDigest(), total);
}

// Whether the file at `path` holds `recorded`'s content (SettleKeptVersion);
// NotFound when there is no file. By its size and modification time, which
// renames and links keep; with `by_time` false, or where the times differ
// (a copy restored from a backup), by its SHA-256.
Result<bool> HoldsContent(const std::string& path, const BlobInfo& recorded, bool by_time) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return Status::NotFound(path + " is not there");
    return ErrnoStatus("cannot open", path, errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus("cannot stat", path, errno);
  if (static_cast<uint64_t>(st.st_size) != recorded.size) return false;
  if (by_time && MtimeMillis(st) == recorded.modified_at_ms) return true;
  if (recorded.sha256_hex.empty()) return false;
  ASSIGN_OR_RETURN(auto hashed, HashFile(fd.get(), path));
  return hashed.first == recorded.sha256_hex;
}

// Whether the file at `path` is there with `size` bytes (a stat, no reading).
bool HasSize(const std::string& path, uint64_t size) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_size) == size;
}

Status FsyncDir(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus("cannot open directory", dir, errno);
  if (::fsync(fd.get()) != 0) return ErrnoStatus("cannot sync directory", dir, errno);
  return Status::Ok();
}

Status CheckBlobName(std::string_view name) {
  if (!IsSafeBlobSegment(name)) {
    return Status::InvalidArgument("invalid blob name: '" + std::string(name.substr(0, 64)) + "'");
  }
  return Status::Ok();
}

Status CheckSegments(std::string_view video_id, std::string_view name) {
  if (!IsSafeBlobSegment(video_id)) {
    return Status::InvalidArgument("invalid video id for the blob store: '" +
                                   std::string(video_id.substr(0, 64)) + "'");
  }
  return CheckBlobName(name);
}

// A staging buffer whose start is aligned for O_DIRECT. Move-only.
class StageBuffer {
 public:
  StageBuffer() = default;
  explicit StageBuffer(size_t capacity)
      : data_(static_cast<char*>(std::aligned_alloc(kDirectAlignment, capacity))),
        capacity_(capacity) {
    if (data_ == nullptr) throw std::bad_alloc();
  }
  ~StageBuffer() { std::free(data_); }
  StageBuffer(StageBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)),
        capacity_(std::exchange(other.capacity_, 0)),
        size_(std::exchange(other.size_, 0)) {}
  StageBuffer& operator=(StageBuffer&& other) noexcept {
    if (this != &other) {
      std::free(data_);
      data_ = std::exchange(other.data_, nullptr);
      capacity_ = std::exchange(other.capacity_, 0);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  StageBuffer(const StageBuffer&) = delete;
  StageBuffer& operator=(const StageBuffer&) = delete;

  size_t capacity() const { return capacity_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  void clear() { size_ = 0; }
  // Appends as much of `bytes` as fits; returns how much that was.
  size_t Fill(std::string_view bytes) {
    size_t take = std::min(bytes.size(), capacity_ - size_);
    std::memcpy(data_ + size_, bytes.data(), take);
    size_ += take;
    return take;
  }
  std::string_view view() const { return std::string_view(data_, size_); }

 private:
  char* data_ = nullptr;
  size_t capacity_ = 0;
  size_t size_ = 0;
};

// Writes one blob through staging buffers. Append only copies into one; full
// buffers pass through two background threads in turn, one hashing and one
// writing, so that the caller's thread (for uploads, the server's I/O thread,
// which also receives and parses the body), the hash and the disk work at the
// same time. The caller never waits on the hash or the disk unless they fall
// behind by kMaxQueuedBuffers buffers, which also bounds the memory of one
// writer to kMaxQueuedBuffers + 3 buffers (7 MiB). Blobs smaller than one
// buffer never start the threads.
//
// The file is written with O_DIRECT where the filesystem accepts it: the
// aligned buffers go from user memory to the device without the kernel's copy
// into the page cache, which was the largest single cost of an upload on the
// (virtio, ext4) machine this was measured on, and leaves Commit's fsync
// almost nothing to write back. Durability is unchanged: O_DIRECT does not
// flush the device's cache, Commit's fsync does. The last, unaligned piece of
// a blob goes through the page cache. Where O_DIRECT is refused (at open or at
// the first write: tmpfs, some network filesystems) the writer falls back to
// ordinary writes with smaller buffers.
class FileBlobWriter final : public BlobWriter {
 public:
  // `direct`: `fd` was opened with O_DIRECT.
  FileBlobWriter(std::string dir, std::string final_path, std::string temp_path, Fd fd, bool direct)
      : dir_(std::move(dir)),
        final_path_(std::move(final_path)),
        temp_path_(std::move(temp_path)),
        fd_(std::move(fd)),
        stage_bytes_(direct ? kDirectStageBytes : kCachedStageBytes),
        direct_(direct) {}

  ~FileBlobWriter() override {
    Discard();
    if (!previous_path_.empty()) ::unlink(previous_path_.c_str());
  }

  Status Append(std::string_view bytes) override {
    if (done_) return Status::Internal("blob writer used after Commit/Discard");
    RETURN_IF_ERROR(BackgroundError());
    appended_ += bytes.size();
    while (!bytes.empty()) {
      if (stage_.capacity() == 0) stage_ = StageBuffer(stage_bytes_);
      bytes.remove_prefix(stage_.Fill(bytes));
      if (stage_.size() == stage_.capacity()) RETURN_IF_ERROR(Submit());
    }
    return Status::Ok();
  }

  uint64_t size() const override { return appended_; }

  std::string Sha256Hex() override {
    if (!done_ && !Drain().ok()) return "";
    return sha_.HexDigest();
  }

  Status Sync() override {
    if (done_) return Status::Internal("blob writer used after Commit/Discard");
    RETURN_IF_ERROR(Drain());
    if (::fsync(fd_.get()) != 0) return ErrnoStatus("cannot sync", temp_path_, errno);
    return Status::Ok();
  }

  Result<BlobInfo> Commit() override {
    if (done_) return Status::Internal("blob writer used after Commit/Discard");
    // From here on the writer is finished whatever happens; on failure the
    // temporary file is removed.
    if (Status drained = Drain(); !drained.ok()) {
      Discard();
      return drained;
    }
    StopThreads();
    if (::fsync(fd_.get()) != 0) {
      Status status = ErrnoStatus("cannot sync", temp_path_, errno);
      Discard();
      return status;
    }
    struct stat st {};
    if (::fstat(fd_.get(), &st) != 0) {
      Status status = ErrnoStatus("cannot stat", temp_path_, errno);
      Discard();
      return status;
    }
    if (int err = fd_.Close(); err != 0) {
      Status status = ErrnoStatus("cannot close", temp_path_, err);
      Discard();
      return status;
    }
    // Keeps the version being replaced, under a temporary name, for Revert.
    // Without the link (no previous version, or the link failed) Revert can
    // only remove the new one.
    previous_path_ = temp_path_ + std::string(kKeptSuffix);
    if (::link(final_path_.c_str(), previous_path_.c_str()) != 0) previous_path_.clear();
    if (::rename(temp_path_.c_str(), final_path_.c_str()) != 0) {
      // ENOENT here means the video's directory was deleted meanwhile.
      Status status = ErrnoStatus("cannot publish", final_path_, errno);
      Discard();
      return status;
    }
    done_ = true;
    published_ = true;
    published_dev_ = st.st_dev;
    published_ino_ = st.st_ino;
    RETURN_IF_ERROR(FsyncDir(dir_));
    BlobInfo info;
    info.size = appended_;
    info.sha256_hex = sha_.HexDigest();
    info.modified_at_ms = MtimeMillis(st);
    return info;
  }

  Status StillPublished() override {
    if (!published_) return Status::Internal("blob writer: nothing published");
    struct stat st {};
    if (::stat(final_path_.c_str(), &st) == 0 && st.st_dev == published_dev_ &&
        st.st_ino == published_ino_) {
      return Status::Ok();
    }
    return Status::Unavailable("the file was replaced after it was put in place; send it again")
        .WithRetryAfter(1);
  }

  Status Revert() override {
    if (!published_) return Status::Ok();
    published_ = false;
    std::string previous = std::move(previous_path_);
    previous_path_.clear();
    struct stat st {};
    bool ours = ::stat(final_path_.c_str(), &st) == 0 && st.st_dev == published_dev_ &&
                st.st_ino == published_ino_;
    if (!ours) {
      if (!previous.empty()) ::unlink(previous.c_str());
      return Status::Ok();
    }
    if (!previous.empty()) {
      if (::rename(previous.c_str(), final_path_.c_str()) != 0) {
        Status status = ErrnoStatus("cannot restore", final_path_, errno);
        ::unlink(previous.c_str());
        return status;
      }
    } else if (::unlink(final_path_.c_str()) != 0) {
      return ErrnoStatus("cannot remove", final_path_, errno);
    }
    return FsyncDir(dir_);
  }

  void Discard() override {
    if (done_) return;
    done_ = true;
    StopThreads();
    fd_.Reset();
    ::unlink(temp_path_.c_str());
  }

 private:
  // Direct writes: one device request each; 1 MiB measured faster than
  // 128 KiB and as fast as 2–4 MiB here.
  static constexpr size_t kDirectStageBytes = 1 << 20;
  // Through the page cache: small enough that a buffer is still in the CPU
  // cache when the background thread writes it (1 MiB buffers were measured to
  // triple the cost of the kernel's copy).
  static constexpr size_t kCachedStageBytes = 128 << 10;
  static constexpr size_t kMaxQueuedBuffers = 4;

  // The background stages a full buffer passes through, in this order, each on
  // a thread of its own.
  enum Stage { kHash = 0, kWrite = 1, kStages = 2 };

  // Writes `bytes` at the end of the file (on the background thread, or
  // inline before it exists): with O_DIRECT while the lengths allow it, then —
  // the tail of the blob, or a filesystem that refuses direct I/O after all —
  // through the page cache for the rest of the writer's life. Writeback of
  // cached writes is left to the kernel until the fsync: forcing it early
  // (sync_file_range every few MiB) was measured to double the CPU and wall
  // time of an upload here, since later writes then wait on pages under
  // writeback.
  Status WriteOut(std::string_view bytes) {
    while (!bytes.empty()) {
      size_t length = bytes.size();
      if (direct_) {
        length &= ~(kDirectAlignment - 1);
        if (length == 0) {
          RETURN_IF_ERROR(EndDirect());
          length = bytes.size();
        }
      }
      ssize_t n = ::write(fd_.get(), bytes.data(), length);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EINVAL && direct_) {
          RETURN_IF_ERROR(EndDirect());
          continue;
        }
        return ErrnoStatus("cannot write", temp_path_, errno);
      }
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return Status::Ok();
  }

  Status EndDirect() {
    direct_ = false;
    int flags = ::fcntl(fd_.get(), F_GETFL);
    if (flags < 0 || ::fcntl(fd_.get(), F_SETFL, flags & ~O_DIRECT) != 0) {
      return ErrnoStatus("cannot leave direct I/O on", temp_path_, errno);
    }
    return Status::Ok();
  }

  Status BackgroundError() {
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
  }

  // Buffers queued for either stage (the one each stage is working on aside).
  size_t Queued() const { return queues_[kHash].size() + queues_[kWrite].size(); }

  // Hands the full staging buffer to the background stages.
  Status Submit() {
    if (!threads_[kHash].joinable()) {
      threads_[kHash] = std::thread([this] {
        NameThisThread("vm-blob-hash");
        RunStage(kHash);
      });
      threads_[kWrite] = std::thread([this] {
        NameThisThread("vm-blob-write");
        RunStage(kWrite);
      });
    }
    std::unique_lock<std::mutex> lock(mu_);
    space_cv_.wait(lock, [&] { return Queued() < kMaxQueuedBuffers || !error_.ok(); });
    if (!error_.ok()) return error_;
    queues_[kHash].push_back(std::move(stage_));
    if (!spare_.empty()) {
      stage_ = std::move(spare_.back());
      spare_.pop_back();
    } else {
      stage_ = StageBuffer(stage_bytes_);
    }
    stage_.clear();
    stage_cv_[kHash].notify_one();
    return Status::Ok();
  }

  // Everything appended so far is hashed and written (or the first error is
  // returned).
  Status Drain() {
    if (!threads_[kHash].joinable()) {
      sha_.Update(stage_.view());
      Status status = WriteOut(stage_.view());
      stage_.clear();
      return status;
    }
    if (!stage_.empty()) RETURN_IF_ERROR(Submit());
    std::unique_lock<std::mutex> lock(mu_);
    space_cv_.wait(
        lock, [&] { return (Queued() == 0 && !busy_[kHash] && !busy_[kWrite]) || !error_.ok(); });
    return error_;
  }

  // One background thread: hashes buffers and passes them on, or writes them
  // and recycles them.
  void RunStage(Stage stage) {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      stage_cv_[stage].wait(lock, [&] { return !queues_[stage].empty() || stopping_; });
      if (stopping_) return;
      StageBuffer buffer = std::move(queues_[stage].front());
      queues_[stage].pop_front();
      busy_[stage] = true;
      bool failed = !error_.ok();
      lock.unlock();
      Status status;
      if (!failed) {
        if (stage == kHash) {
          sha_.Update(buffer.view());
        } else {
          status = WriteOut(buffer.view());
        }
      }
      lock.lock();
      busy_[stage] = false;
      if (!status.ok() && error_.ok()) error_ = status;
      if (stage == kHash) {
        queues_[kWrite].push_back(std::move(buffer));
        stage_cv_[kWrite].notify_one();
      } else {
        buffer.clear();
        if (spare_.size() < kMaxQueuedBuffers) spare_.push_back(std::move(buffer));
      }
      space_cv_.notify_all();
    }
  }

  void StopThreads() {
    if (!threads_[kHash].joinable()) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    for (std::condition_variable& cv : stage_cv_) cv.notify_all();
    for (std::thread& thread : threads_) thread.join();
  }

  const std::string dir_;
  const std::string final_path_;
  const std::string temp_path_;
  Fd fd_;
  bool done_ = false;
  // After a successful Commit: the published file's identity and where the
  // version it replaced is kept (empty: none), for Revert.
  bool published_ = false;
  dev_t published_dev_ = 0;
  ino_t published_ino_ = 0;
  std::string previous_path_;
  uint64_t appended_ = 0;  // caller's thread
  const size_t stage_bytes_;
  StageBuffer stage_;  // caller's thread
  // Updated by the hash stage, or by the caller before the threads start; read
  // after Drain.
  Sha256 sha_;
  // fd_ still has O_DIRECT. Used by the write stage, or by the caller before
  // the threads start.
  bool direct_;

  std::thread threads_[kStages];
  std::mutex mu_;
  std::condition_variable stage_cv_[kStages];  // its queue non-empty, or stopping_
  std::condition_variable space_cv_;           // a buffer moved on
  std::deque<StageBuffer> queues_[kStages];    // guarded by mu_
  std::vector<StageBuffer> spare_;             // guarded by mu_
  bool busy_[kStages] = {false, false};        // guarded by mu_
  bool stopping_ = false;                      // guarded by mu_
  Status error_;                               // guarded by mu_
};

class FileBlobReader final : public BlobReader {
 public:
  FileBlobReader(Fd fd, std::string path, const struct stat& st)
      : fd_(std::move(fd)), path_(std::move(path)), st_(st) {}

  uint64_t size() const override { return static_cast<uint64_t>(st_.st_size); }
  int64_t modified_at_ms() const override { return MtimeMillis(st_); }

  std::string VersionTag() const override {
    char buffer[96];
    std::snprintf(buffer, sizeof(buffer), "%llx-%llx-%llx",
                  static_cast<unsigned long long>(st_.st_ino),
                  static_cast<unsigned long long>(st_.st_mtim.tv_sec) * 1'000'000'000ULL +
                      static_cast<unsigned long long>(st_.st_mtim.tv_nsec),
                  static_cast<unsigned long long>(st_.st_size));
    return buffer;
  }

  Result<size_t> ReadAt(uint64_t offset, char* out, size_t size) override {
    while (true) {
      ssize_t n = ::pread(fd_.get(), out, size, static_cast<off_t>(offset));
      if (n >= 0) return static_cast<size_t>(n);
      if (errno == EINTR) continue;
      return ErrnoStatus("cannot read", path_, errno);
    }
  }

 private:
  Fd fd_;
  std::string path_;
  struct stat st_;
};

class FileBlobStore final : public BlobStore {
 public:
  explicit FileBlobStore(std::string root) : root_(std::move(root)) {}

  Result<std::unique_ptr<BlobWriter>> Create(std::string_view video_id,
                                             std::string_view name) override {
    RETURN_IF_ERROR(CheckSegments(video_id, name));
    ASSIGN_OR_RETURN(std::string dir, EnsureVideoDir(video_id));
    std::string temp_path = dir + "/" + NewTempName(name);
    // Direct I/O where the filesystem allows it (see FileBlobWriter).
    bool direct = true;
    Fd fd(::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_DIRECT, 0644));
    if (!fd.valid() && errno == EINVAL) {
      direct = false;
      fd = Fd(::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    }
    if (!fd.valid()) return ErrnoStatus("cannot create", temp_path, errno);
    std::string final_path = dir + "/" + std::string(name);
    return std::unique_ptr<BlobWriter>(new FileBlobWriter(
        dir, std::move(final_path), std::move(temp_path), std::move(fd), direct));
  }

  Result<std::string> TempPath(std::string_view video_id, std::string_view name) override {
    RETURN_IF_ERROR(CheckSegments(video_id, name));
    ASSIGN_OR_RETURN(std::string dir, EnsureVideoDir(video_id));
    return dir + "/" + NewTempName(name);
  }

  Result<BlobInfo> PrepareFile(const std::string& source_path) override {
    Fd fd(::open(source_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return ErrnoStatus("cannot open", source_path, errno);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return ErrnoStatus("cannot stat", source_path, errno);
    if (!S_ISREG(st.st_mode)) {
      return Status::InvalidArgument("not a regular file: " + source_path);
    }
    ASSIGN_OR_RETURN(auto hashed, HashFile(fd.get(), source_path));
    if (::fsync(fd.get()) != 0) return ErrnoStatus("cannot sync", source_path, errno);
    BlobInfo info;
    info.size = hashed.second;
    info.sha256_hex = std::move(hashed.first);
    info.modified_at_ms = MtimeMillis(st);
    return info;
  }

  Result<BlobInfo> PublishFile(std::string_view video_id, std::string_view name,
                               const std::string& source_path, const BlobInfo& prepared) override {
    RETURN_IF_ERROR(CheckSegments(video_id, name));
    ASSIGN_OR_RETURN(std::string dir, EnsureVideoDir(video_id));
    std::string final_path = dir + "/" + std::string(name);
    if (::rename(source_path.c_str(), final_path.c_str()) != 0) {
      const int err = errno;
      struct stat there {};
      if (err == ENOENT && ::access(source_path.c_str(), F_OK) != 0 &&
          ::stat(final_path.c_str(), &there) == 0 &&
          static_cast<uint64_t>(there.st_size) == prepared.size) {
        // Moved by an earlier try of the same publication (a completion
        // retried after its transaction failed).
        BlobInfo info = prepared;
        info.modified_at_ms = MtimeMillis(there);
        return info;
      }
      if (err != EXDEV) return ErrnoStatus("cannot publish", final_path, err);
      // Another filesystem: copy through a writer (which hashes and publishes
      // atomically), then drop the source.
      Fd fd(::open(source_path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd.valid()) return ErrnoStatus("cannot open", source_path, errno);
      ASSIGN_OR_RETURN(std::unique_ptr<BlobWriter> writer, Create(video_id, name));
      std::vector<char> buffer(kCopyBuffer);
      uint64_t offset = 0;
      while (true) {
        ssize_t n = ::pread(fd.get(), buffer.data(), buffer.size(), static_cast<off_t>(offset));
        if (n < 0) {
          if (errno == EINTR) continue;
          return ErrnoStatus("cannot read", source_path, errno);
        }
        if (n == 0) break;
        RETURN_IF_ERROR(writer->Append(std::string_view(buffer.data(), static_cast<size_t>(n))));
        offset += static_cast<uint64_t>(n);
      }
      ASSIGN_OR_RETURN(BlobInfo info, writer->Commit());
      ::unlink(source_path.c_str());
      return info;
    }
    RETURN_IF_ERROR(FsyncDir(dir));
    BlobInfo info = prepared;
    struct stat published {};
    if (::stat(final_path.c_str(), &published) == 0) info.modified_at_ms = MtimeMillis(published);
    return info;
  }

  Result<std::unique_ptr<BlobReader>> Open(std::string_view video_id,
                                           std::string_view name) override {
    RETURN_IF_ERROR(CheckSegments(video_id, name));
    std::string path = BlobPath(video_id, name);
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
      if (errno == ENOENT || errno == ENOTDIR) {
        RETURN_IF_ERROR(CheckAvailable());
        return Status::NotFound("media '" + std::string(name) + "' of video '" +
                                std::string(video_id) + "' not found");
      }
      return ErrnoStatus("cannot open", path, errno);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return ErrnoStatus("cannot stat", path, errno);
    if (!S_ISREG(st.st_mode)) return NotARegularFile(path);
    return std::unique_ptr<BlobReader>(new FileBlobReader(std::move(fd), std::move(path), st));
  }

  Result<bool> Exists(std::string_view video_id, std::string_view name) override {
    Result<uint64_t> size = Size(video_id, name);
    if (size.ok()) return true;
    if (size.status().code() == Code::kNotFound) return false;
    return size.status();
  }

  Result<uint64_t> Size(std::string_view video_id, std::string_view name) override {
    RETURN_IF_ERROR(CheckSegments(video_id, name));
    std::string path = BlobPath(video_id, name);
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      const int err = errno;
      if (err == ENOENT || err == ENOTDIR) RETURN_IF_ERROR(CheckAvailable());
      return ErrnoStatus("cannot stat", path, err);
    }
    if (!S_ISREG(st.st_mode)) return NotARegularFile(path);
    return static_cast<uint64_t>(st.st_size);
  }

  Status Remove(std::string_view video_id, std::string_view name) override {
    RETURN_IF_ERROR(CheckSegments(video_id, name));
    const std::string path = BlobPath(video_id, name);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT && errno != ENOTDIR) {
      return ErrnoStatus("cannot remove", path, errno);
    }
    return Status::Ok();
  }

  Status Delete(std::string_view video_id) override {
    if (!IsSafeBlobSegment(video_id)) {
      return Status::InvalidArgument("invalid video id for the blob store");
    }
    std::string dir = root_ + "/" + std::string(video_id);
    // Entry by entry, a vanished one being no error: remove_all gives up at a
    // file that goes while the directory is emptied (an upload to the
    // deleted video dropping its temporary file) and leaves the rest, up to a
    // whole original, for the hourly sweep.
    for (int attempt = 0; attempt < 10; ++attempt) {
      std::error_code error;
      fs::directory_iterator entry(dir, error);
      if (error == std::errc::no_such_file_or_directory) return Status::Ok();
      for (; !error && entry != fs::directory_iterator(); entry.increment(error)) {
        std::error_code removed;
        fs::remove_all(entry->path(), removed);
        if (removed && removed != std::errc::no_such_file_or_directory) {
          return Status::Unavailable("cannot delete " + entry->path().string() + ": " +
                                     removed.message());
        }
      }
      if (error && error != std::errc::no_such_file_or_directory) {
        return Status::Unavailable("cannot delete " + dir + ": " + error.message());
      }
      if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return Status::Ok();
      if (errno != ENOTEMPTY && errno != EEXIST) return ErrnoStatus("cannot delete", dir, errno);
    }
    return Status::Unavailable("cannot delete " + dir + ": files kept appearing in it");
  }

  Result<std::string> LocalPath(std::string_view video_id, std::string_view name) override {
    RETURN_IF_ERROR(Size(video_id, name).status());
    return BlobPath(video_id, name);
  }

  Result<SweepStats> SweepOrphans(const std::set<std::string>& known_video_ids, TimePoint now,
                                  std::chrono::seconds orphan_grace,
                                  std::chrono::seconds temp_max_age) override {
    SweepStats stats;
    const int64_t now_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    const int64_t grace_ms = std::chrono::milliseconds(orphan_grace).count();
    const int64_t temp_age_ms = std::chrono::milliseconds(temp_max_age).count();
    // First the directories, then whether the database is this store's.
    // Only directories the store could have made; anything else is left alone.
    ASSIGN_OR_RETURN(std::vector<std::string> video_ids, VideoIds());
    std::vector<std::string> dirs, orphans;
    int known = 0;
    for (const std::string& video_id : video_ids) {
      const std::string dir = root_ + "/" + video_id;
      struct stat st {};
      if (::lstat(dir.c_str(), &st) != 0) continue;
      if (known_video_ids.count(video_id) > 0) {
        ++known;
        dirs.push_back(dir);
      } else if (now_ms - MtimeMillis(st) >= grace_ms) {
        orphans.push_back(dir);
      } else {
        dirs.push_back(dir);
      }
    }
    stats.video_directories = static_cast<int>(dirs.size() + orphans.size());
    const size_t most = std::max<size_t>(16, static_cast<size_t>(stats.video_directories) / 4);
    if (!orphans.empty() && (known == 0 || orphans.size() > most)) {
      stats.orphan_directories_kept = static_cast<int>(orphans.size());
      orphans.clear();
    }
    for (const std::string& dir : orphans) {
      std::error_code remove_error;
      fs::remove_all(dir, remove_error);
      if (!remove_error) {
        ++stats.orphan_directories_removed;
      } else {
        dirs.push_back(dir);
      }
    }
    // Stale temporary files, in the directories that stay. A version a
    // Commit kept aside is a link to an older file, so its modification time
    // is that file's: it is as old as its change time (the link) says. An
    // original's kept version is never removed here: SettleKeptVersion
    // decides about it (one it cannot place is left for an operator). Taken
    // by its old time, a kept original had gone the moment a live re-upload
    // of a day-old video made it, and with it the file to put back should
    // the upload fail (audit 42 F2).
    const std::string kept_original = "-" + std::string(kOriginalBlob) + std::string(kKeptSuffix);
    for (const std::string& dir : dirs) {
      std::error_code inner_error;
      for (fs::directory_iterator file(dir, inner_error);
           !inner_error && file != fs::directory_iterator(); file.increment(inner_error)) {
        const std::string file_name = file->path().filename().string();
        if (file_name.rfind(kTempPrefix, 0) != 0) continue;
        if (file_name.ends_with(kept_original)) continue;
        struct stat file_st {};
        if (::lstat(file->path().c_str(), &file_st) != 0) continue;
        const int64_t changed_ms =
            file_name.ends_with(kKeptSuffix) ? CtimeMillis(file_st) : MtimeMillis(file_st);
        if (now_ms - changed_ms < temp_age_ms) continue;
        std::error_code remove_error;
        fs::remove_all(file->path(), remove_error);
        if (!remove_error) ++stats.temp_files_removed;
      }
    }
    return stats;
  }

  Result<std::vector<KeptVersion>> KeptVersions(std::string_view name) override {
    RETURN_IF_ERROR(CheckBlobName(name));
    RETURN_IF_ERROR(CheckAvailable());
    const std::string suffix = "-" + std::string(name) + std::string(kKeptSuffix);
    ASSIGN_OR_RETURN(std::vector<std::string> video_ids, VideoIds());
    std::vector<KeptVersion> kept;
    for (const std::string& video_id : video_ids) {
      std::error_code error;
      for (fs::directory_iterator file(root_ + "/" + video_id, error);
           !error && file != fs::directory_iterator(); file.increment(error)) {
        std::string file_name = file->path().filename().string();
        if (file_name.size() > kTempPrefix.size() + suffix.size() &&
            file_name.starts_with(kTempPrefix) && file_name.ends_with(suffix)) {
          kept.push_back(KeptVersion{video_id, std::string(name), std::move(file_name)});
        }
      }
    }
    return kept;
  }

  Result<KeptVersionOutcome> SettleKeptVersion(const KeptVersion& kept,
                                               const BlobInfo& recorded) override {
    RETURN_IF_ERROR(CheckSegments(kept.video_id, kept.name));
    if (kept.file_name.rfind(kTempPrefix, 0) != 0 ||
        kept.file_name.find('/') != std::string::npos) {
      return Status::InvalidArgument("not a kept version's name: " + kept.file_name);
    }
    RETURN_IF_ERROR(CheckAvailable());
    const std::string dir = root_ + "/" + kept.video_id;
    const std::string kept_path = dir + "/" + kept.file_name;
    const std::string blob_path = dir + "/" + kept.name;
    // File times come from a clock that ticks every few milliseconds: a
    // replacement of the recorded version's size, published within a tick
    // of it, has its time too, and would pass for it (the recorded version,
    // kept aside, would then be removed). So where the kept version has that
    // size as well, the blob's content decides.
    const bool by_time = !HasSize(kept_path, recorded.size);
    Result<bool> blob_holds = HoldsContent(blob_path, recorded, by_time);
    if (!blob_holds.ok() && blob_holds.status().code() != Code::kNotFound) {
      return blob_holds.status();
    }
    if (blob_holds.ok() && *blob_holds) {
      if (::unlink(kept_path.c_str()) != 0) {
        if (errno == ENOENT) return KeptVersionOutcome::kGone;
        return ErrnoStatus("cannot remove", kept_path, errno);
      }
      return KeptVersionOutcome::kRecorded;
    }
    Result<bool> kept_holds = HoldsContent(kept_path, recorded, /*by_time=*/true);
    if (!kept_holds.ok()) {
      if (kept_holds.status().code() == Code::kNotFound) return KeptVersionOutcome::kGone;
      return kept_holds.status();
    }
    if (!*kept_holds) return KeptVersionOutcome::kUndecided;
    if (::rename(kept_path.c_str(), blob_path.c_str()) != 0) {
      return ErrnoStatus("cannot restore", blob_path, errno);
    }
    RETURN_IF_ERROR(FsyncDir(dir));
    return KeptVersionOutcome::kRestored;
  }

  // A root this call creates is a new store and gets its marker at once. A
  // root that is there without one may be an unmounted share's mount point:
  // Adopt decides, once the database has been asked.
  Status Init() {
    std::error_code error;
    const bool existed = fs::exists(root_, error);
    fs::create_directories(root_, error);
    if (error) return Status::Unavailable("cannot create " + root_ + ": " + error.message());
    if (existed) return Status::Ok();
    return WriteMarker("");
  }

  Status Adopt(bool database_has_media) override {
    if (CheckAvailable().ok()) return Status::Ok();
    ASSIGN_OR_RETURN(std::vector<std::string> ids, VideoIds());
    if (ids.empty() && database_has_media) {
      return Status::Unavailable(
          "the media directory is empty and has no marker file, but the database has uploaded "
          "media: is the share mounted? (nothing is written there until it is)");
    }
    // An empty directory for a new installation, or a store from before the
    // marker existed.
    return WriteMarker("");
  }

  Result<std::string> MarkerOwner() override {
    RETURN_IF_ERROR(CheckAvailable());
    std::ifstream marker(MarkerPath());
    std::string line;
    while (std::getline(marker, line)) {
      if (line.rfind(kOwnerPrefix, 0) == 0) return line.substr(kOwnerPrefix.size());
    }
    return std::string();
  }

  Status SetMarkerOwner(const std::string& installation_id) override {
    RETURN_IF_ERROR(CheckAvailable());
    return WriteMarker(installation_id);
  }

  Result<std::vector<std::string>> VideoIds() override {
    std::vector<std::string> ids;
    std::error_code error;
    for (fs::directory_iterator it(root_, error); !error && it != fs::directory_iterator();
         it.increment(error)) {
      const std::string name = it->path().filename().string();
      struct stat st {};
      if (IsSafeBlobSegment(name) && ::lstat(it->path().c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
        ids.push_back(name);
      }
    }
    if (error) return Status::Unavailable("cannot list " + root_ + ": " + error.message());
    return ids;
  }

  Status CheckWritable() override {
    RETURN_IF_ERROR(CheckAvailable());
    if (::access(root_.c_str(), W_OK) != 0) return ErrnoStatus("cannot write to", root_, errno);
    return Status::Ok();
  }

  Status CheckAvailable() override {
    const std::string marker = MarkerPath();
    struct stat st {};
    if (::stat(marker.c_str(), &st) == 0) return Status::Ok();
    if (errno != ENOENT && errno != ENOTDIR) return ErrnoStatus("cannot stat", marker, errno);
    // No server path: the message reaches API clients (503s, retry notes).
    return Status::Unavailable(
        "media storage: the media directory is not the store now: its "
        "marker file " +
        std::string(kMarkerName) + " is gone (a share unmounted, the directory moved?)");
  }

 private:
  std::string MarkerPath() const { return root_ + "/" + std::string(kMarkerName); }

  // The marker, naming `owner` when not empty, put in place by rename.
  Status WriteMarker(const std::string& owner) {
    const std::string temp = root_ + "/" + NewTempName(kMarkerName);
    {
      std::ofstream out(temp, std::ios::trunc);
      out << kMarkerText;
      if (!owner.empty()) out << kOwnerPrefix << owner << "\n";
      if (!out.flush()) return ErrnoStatus("cannot write", temp, errno);
    }
    if (::rename(temp.c_str(), MarkerPath().c_str()) != 0) {
      const int err = errno;
      ::unlink(temp.c_str());
      return ErrnoStatus("cannot publish", MarkerPath(), err);
    }
    return Status::Ok();
  }

  std::string BlobPath(std::string_view video_id, std::string_view name) const {
    return root_ + "/" + std::string(video_id) + "/" + std::string(name);
  }

  Result<std::string> EnsureVideoDir(std::string_view video_id) {
    RETURN_IF_ERROR(CheckAvailable());  // not onto the disk under a mount point
    std::string dir = root_ + "/" + std::string(video_id);
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return ErrnoStatus("cannot create directory", dir, errno);
    }
    return dir;
  }

  static std::string NewTempName(std::string_view name) {
    return std::string(kTempPrefix) + HexEncode(RandomBytes(8)) + "-" + std::string(name);
  }

  std::string root_;
};

}  // namespace

std::string ThumbnailBlobName(int index) { return "thumbnail-" + std::to_string(index) + ".jpg"; }

bool IsSafeBlobSegment(std::string_view segment) {
  if (segment.empty() || segment.size() > kMaxSegment || segment.front() == '.') return false;
  for (char c : segment) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

struct Sha256::Ctx {
  struct Free {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> md;
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
  ctx_->md.reset(EVP_MD_CTX_new());
  if (!ctx_->md || EVP_DigestInit_ex(ctx_->md.get(), EVP_sha256(), nullptr) != 1) {
    // Only fails when OpenSSL cannot allocate: a bug-level condition.
    throw std::bad_alloc();
  }
}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&& other) noexcept = default;
Sha256& Sha256::operator=(Sha256&& other) noexcept = default;

void Sha256::Update(std::string_view bytes) {
  if (!bytes.empty()) EVP_DigestUpdate(ctx_->md.get(), bytes.data(), bytes.size());
}

std::string Sha256::HexDigest() const {
  std::unique_ptr<EVP_MD_CTX, Ctx::Free> copy(EVP_MD_CTX_new());
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!copy || EVP_MD_CTX_copy_ex(copy.get(), ctx_->md.get()) != 1 ||
      EVP_DigestFinal_ex(copy.get(), digest, &length) != 1) {
    throw std::bad_alloc();
  }
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest), length));
}

Result<BlobInfo> PutFile(BlobStore& store, std::string_view video_id, std::string_view name,
                         const std::string& source_path) {
  ASSIGN_OR_RETURN(BlobInfo prepared, store.PrepareFile(source_path));
  return store.PublishFile(video_id, name, source_path, prepared);
}

Result<std::unique_ptr<BlobStore>> OpenFileBlobStore(const std::string& root) {
  if (root.empty()) return Status::InvalidArgument("the media directory is not set");
  auto store = std::make_unique<FileBlobStore>(root);
  RETURN_IF_ERROR(store->Init());
  return std::unique_ptr<BlobStore>(std::move(store));
}

}  // namespace vidmill::storage
