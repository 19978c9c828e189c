#include "videos/media_state.h"

#include <array>
#include <cctype>
#include <cstring>
#include <string>

#include "common/utf8.h"

namespace vidmill::videos {
namespace {

constexpr size_t kMaxFileName = 1024;

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

struct KnownContainer {
  std::string_view extension;
  std::string_view mime_type;
  std::string_view container;
};

constexpr std::array<KnownContainer, 17> kContainers = {{
    {"mp4", "video/mp4", "QuickTime / MOV"},
    {"m4v", "video/x-m4v", "QuickTime / MOV"},
    {"mov", "video/quicktime", "QuickTime / MOV"},
    {"3gp", "video/3gpp", "QuickTime / MOV"},
    {"mj2", "video/mj2", "QuickTime / MOV"},
    {"mkv", "video/x-matroska", "Matroska / WebM"},
    {"webm", "video/webm", "Matroska / WebM"},
    {"avi", "video/x-msvideo", "AVI (Audio Video Interleaved)"},
    {"ts", "video/mp2t", "MPEG-TS (MPEG-2 Transport Stream)"},
    {"mpg", "video/mpeg", "MPEG-PS (MPEG-2 Program Stream)"},
    {"flv", "video/x-flv", "FLV (Flash Video)"},
    {"mxf", "application/mxf", "MXF (Material eXchange Format)"},
    {"wmv", "video/x-ms-wmv", "ASF (Advanced / Active Streaming Format)"},
    {"asf", "video/x-ms-asf", "ASF (Advanced / Active Streaming Format)"},
    {"ogv", "video/ogg", "Ogg"},
    {"m2ts", "video/mp2t", "MPEG-TS (MPEG-2 Transport Stream)"},
    {"dv", "video/x-dv", "DV (Digital Video)"},
}};

const KnownContainer* ByExtension(std::string_view extension) {
  std::string lower = Lower(extension);
  if (lower == "mpeg" || lower == "vob") lower = "mpg";
  if (lower == "mts" || lower == "m2t") lower = "m2ts";  // AVCHD, HDV
  if (lower == "dif") lower = "dv";
  for (const KnownContainer& known : kContainers) {
    if (known.extension == lower) return &known;
  }
  return nullptr;
}

ContainerGuess FromKnown(const KnownContainer& known) {
  return ContainerGuess{std::string(known.mime_type), std::string(known.container),
                        std::string(known.extension)};
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && text.substr(0, prefix.size()) == prefix;
}

// The container recognised from magic bytes, or nullptr.
const KnownContainer* BySignature(std::string_view head) {
  if (head.size() >= 12 && head.substr(4, 4) == "ftyp") {
    std::string_view brand = head.substr(8, 4);
    if (brand == "qt  ") return ByExtension("mov");
    if (StartsWith(brand, "3g")) return ByExtension("3gp");
    if (brand == "M4V " || brand == "M4VH" || brand == "M4VP") return ByExtension("m4v");
    if (brand == "mjp2") return ByExtension("mj2");
    return ByExtension("mp4");
  }
  // QuickTime files without ftyp start with another top-level atom.
  if (head.size() >= 8) {
    std::string_view atom = head.substr(4, 4);
    if (atom == "moov" || atom == "mdat" || atom == "wide" || atom == "free" || atom == "pnot") {
      return ByExtension("mov");
    }
  }
  if (StartsWith(head, "\x1A\x45\xDF\xA3")) {
    return head.find("webm") != std::string_view::npos ? ByExtension("webm") : ByExtension("mkv");
  }
  if (head.size() >= 12 && StartsWith(head, "RIFF") && head.substr(8, 4) == "AVI ") {
    return ByExtension("avi");
  }
  if (StartsWith(head, std::string_view("\x00\x00\x01\xBA", 4))) return ByExtension("mpg");
  if (StartsWith(head, "FLV\x01")) return ByExtension("flv");
  if (StartsWith(head, "\x06\x0E\x2B\x34\x02\x05\x01\x01")) return ByExtension("mxf");
  if (StartsWith(head, "\x30\x26\xB2\x75\x8E\x66\xCF\x11")) return ByExtension("asf");
  if (StartsWith(head, "OggS")) return ByExtension("ogv");
  // Raw DV, as tape capture writes it: a DIF header block (libavformat's
  // dv_probe looks for the same).
  if (head.size() >= 4 && StartsWith(head, std::string_view("\x1F\x07\x00", 3)) &&
      (static_cast<unsigned char>(head[3]) & 0x7F) == 0x3F) {
    return ByExtension("dv");
  }
  // MPEG-TS: a sync byte every 188 bytes; with only 64 bytes, one sync byte
  // and a plausible header (transport error bit clear) is all there is to see.
  if (!head.empty() && static_cast<unsigned char>(head[0]) == 0x47 && head.size() >= 4 &&
      (static_cast<unsigned char>(head[1]) & 0x80) == 0) {
    return ByExtension("ts");
  }
  return nullptr;
}

// A syntactically clean "type/subtype" (RFC 9110 token chars), lower-cased,
// parameters dropped; "" otherwise.
std::string CleanMimeType(std::string_view declared) {
  size_t semicolon = declared.find(';');
  std::string_view type = declared.substr(0, semicolon);
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  size_t slash = type.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == type.size()) return "";
  for (char c : type) {
    bool token =
        std::isalnum(static_cast<unsigned char>(c)) || std::strchr("!#$&-^_.+/", c) != nullptr;
    if (!token || c == '\0') return "";
  }
  if (type.find('/', slash + 1) != std::string_view::npos) return "";
  return Lower(type);
}

std::string_view ExtensionOf(std::string_view file_name) {
  size_t slash = file_name.find_last_of("/\\");
  if (slash != std::string_view::npos) file_name.remove_prefix(slash + 1);
  size_t dot = file_name.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return {};
  return file_name.substr(dot + 1);
}

Status WriteMediaColumns(storage::Session& session, const std::string& video_id,
                         const MediaFile& file, int64_t now_millis) {
  // An upload without a file name (a multipart part with no filename) has an
  // unknown one: NULL, shown as null like every other unknown file field.
  std::string file_name = SanitizeFileName(file.file_name);
  ASSIGN_OR_RETURN(
      int64_t changed,
      session.Execute(
          "UPDATE videos SET upload_status = ?, upload_updated_at = ?, "
          "upload_error = NULL, file_name = ?, file_size = ?, file_type = ?, "
          "file_container = ?, file_sha256 = ?, file_modified_at = ? WHERE id = ?",
          {std::string(kStatusDone), now_millis,
           file_name.empty() ? storage::Null() : storage::Value(file_name), file.size,
           file.file_type, file.container, file.sha256_hex, file.modified_at_ms, video_id}));
  if (changed == 0) return Status::NotFound("video", video_id);
  return Status::Ok();
}

}  // namespace

Status UploadAllowed(storage::Session& session, const Video& video) {
  if (video.is_processed()) {
    return Status::Conflict("video '" + video.id +
                            "' is a processed video; media can only be uploaded to an original");
  }
  if (video.processing_status != kStatusInitial) {
    return Status::Conflict("video '" + video.id + "' has been sent for processing (" +
                            video.processing_status + "); its media can no longer be replaced");
  }
  ASSIGN_OR_RETURN(storage::Rows children,
                   session.Query("SELECT id FROM videos WHERE parent_id = ? LIMIT 1", {video.id}));
  if (!children.empty()) {
    return Status::Conflict("video '" + video.id + "' has been processed (into video '" +
                            children[0].Text(0) + "'); its media can no longer be replaced");
  }
  return Status::Ok();
}

Result<Video> CheckUploadAllowed(storage::Session& session, const std::string& team_id,
                                 const std::string& video_id) {
  ASSIGN_OR_RETURN(Video video, GetVideo(session, team_id, video_id));
  RETURN_IF_ERROR(UploadAllowed(session, video));
  return video;
}

Status RecordUpload(storage::Session& session, const std::string& video_id, const MediaFile& file,
                    const std::string& uploader_id, int64_t now_millis) {
  RETURN_IF_ERROR(WriteMediaColumns(session, video_id, file, now_millis));
  return session.Execute("UPDATE videos SET user_id = ? WHERE id = ?", {uploader_id, video_id})
      .status();
}

Status RecordProcessedMedia(storage::Session& session, const std::string& video_id,
                            const MediaFile& file, int64_t now_millis) {
  return WriteMediaColumns(session, video_id, file, now_millis);
}

std::string SanitizeFileName(std::string_view file_name) {
  std::string out;
  out.reserve(std::min(file_name.size(), kMaxFileName));
  while (!file_name.empty()) {
    size_t length = Utf8SequenceLength(file_name);
    std::string_view piece;
    if (length == 0 || file_name[0] == '\0') {
      piece = kUtf8Replacement;
      length = 1;
    } else {
      piece = file_name.substr(0, length);
    }
    if (out.size() + piece.size() > kMaxFileName) break;
    out.append(piece);
    file_name.remove_prefix(length);
  }
  return out;
}

ContainerGuess GuessContainer(std::string_view head, std::string_view file_name,
                              std::string_view declared_type) {
  if (const KnownContainer* known = BySignature(head.substr(0, 64))) return FromKnown(*known);
  if (const KnownContainer* known = ByExtension(ExtensionOf(file_name))) return FromKnown(*known);
  std::string mime = CleanMimeType(declared_type);
  if (StartsWith(mime, "video/") || StartsWith(mime, "audio/")) {
    for (const KnownContainer& known : kContainers) {
      if (known.mime_type == mime) return FromKnown(known);
    }
    return ContainerGuess{mime, "unknown", ""};
  }
  return ContainerGuess{"application/octet-stream", "unknown", ""};
}

std::string ExtensionForMimeType(std::string_view mime_type) {
  std::string mime = CleanMimeType(mime_type);
  for (const KnownContainer& known : kContainers) {
    if (known.mime_type == mime) return std::string(known.extension);
  }
  return "";
}

std::string ProcessedFileName(std::string_view original_file_name, std::string_view extension) {
  std::string_view base = original_file_name;
  std::string_view original_extension = ExtensionOf(base);
  if (!original_extension.empty()) base.remove_suffix(original_extension.size() + 1);
  if (base.empty()) base = "video";
  std::string_view chosen = extension.empty() ? original_extension : extension;
  std::string name = std::string(base) + "_processed";
  if (!chosen.empty()) name += "." + std::string(chosen);
  return name;
}

Status RemoveMediaOfDeletedVideo(storage::Database& db, storage::BlobStore& blobs,
                                 const std::string& video_id) {
  Status found = db.Run([&](storage::Session& session) -> Status {
    return GetVideoAnyTeam(session, video_id).status();
  });
  if (found.code() != Code::kNotFound) return found.ok() ? Status::Ok() : found;
  return blobs.Delete(video_id);
}

}  // namespace vidmill::videos
