#pragma once
// Owning smart pointers for libav* handles.
//
// Every libav* object the engine creates is owned by one of these from the line
// that creates it, so an early `return status;` can never leak or double-free.
// The New* factories turn allocation failure into a Status instead of a null.
//
// Notes on the few handles with unusual ownership rules:
//  * avformat_open_input() frees a caller-allocated AVFormatContext on failure:
//    release() the FormatInputPtr before the call and re-own the pointer only on
//    success (MediaInput does this).
//  * FormatInputPtr closes with avformat_close_input(), which does NOT free a
//    custom AVIOContext (AVFMT_FLAG_CUSTOM_IO); own that with AvioContextPtr and
//    declare it before the FormatInputPtr so it outlives the demuxer.
//  * FormatOutputPtr closes the output's AVIOContext (if the muxer opened one with
//    avio_open2, i.e. the format is not AVFMT_NOFILE and the flag
//    AVFMT_FLAG_CUSTOM_IO is not set), then frees the context. It does not write a
//    trailer.
//
// Thread safety: as for std::unique_ptr; the handles themselves are not thread-safe.

#include <memory>

#include "common/status.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavformat/avformat.h>
#include <libavformat/avio.h>
#include <libavutil/dict.h>
#include <libavutil/frame.h>
#include <libswscale/swscale.h>
}

namespace vidmill::engine {

struct FormatInputDeleter {
  void operator()(AVFormatContext* ctx) const { avformat_close_input(&ctx); }
};
struct FormatOutputDeleter {
  void operator()(AVFormatContext* ctx) const {
    if (ctx == nullptr) {
      return;
    }
    if (ctx->pb != nullptr && ctx->oformat != nullptr && !(ctx->oformat->flags & AVFMT_NOFILE) &&
        !(ctx->flags & AVFMT_FLAG_CUSTOM_IO)) {
      avio_closep(&ctx->pb);
    }
    avformat_free_context(ctx);
  }
};
// For AVIOContexts made with avio_alloc_context(): frees the (possibly
// reallocated) buffer and the context.
struct AvioContextDeleter {
  void operator()(AVIOContext* ctx) const {
    if (ctx != nullptr) {
      av_freep(&ctx->buffer);
      avio_context_free(&ctx);
    }
  }
};
struct CodecContextDeleter {
  void operator()(AVCodecContext* ctx) const { avcodec_free_context(&ctx); }
};
struct FrameDeleter {
  void operator()(AVFrame* frame) const { av_frame_free(&frame); }
};
struct PacketDeleter {
  void operator()(AVPacket* packet) const { av_packet_free(&packet); }
};
struct FilterGraphDeleter {
  void operator()(AVFilterGraph* graph) const { avfilter_graph_free(&graph); }
};
struct FilterInOutDeleter {
  void operator()(AVFilterInOut* inout) const { avfilter_inout_free(&inout); }
};
struct SwsContextDeleter {
  void operator()(SwsContext* ctx) const { sws_freeContext(ctx); }
};
// For buffers from av_malloc() and strings from av_strdup().
struct AvFreeDeleter {
  void operator()(void* ptr) const { av_free(ptr); }
};

using FormatInputPtr = std::unique_ptr<AVFormatContext, FormatInputDeleter>;
using FormatOutputPtr = std::unique_ptr<AVFormatContext, FormatOutputDeleter>;
using AvioContextPtr = std::unique_ptr<AVIOContext, AvioContextDeleter>;
using CodecContextPtr = std::unique_ptr<AVCodecContext, CodecContextDeleter>;
using FramePtr = std::unique_ptr<AVFrame, FrameDeleter>;
using PacketPtr = std::unique_ptr<AVPacket, PacketDeleter>;
using FilterGraphPtr = std::unique_ptr<AVFilterGraph, FilterGraphDeleter>;
using FilterInOutPtr = std::unique_ptr<AVFilterInOut, FilterInOutDeleter>;
using SwsContextPtr = std::unique_ptr<SwsContext, SwsContextDeleter>;
using AvFreePtr = std::unique_ptr<void, AvFreeDeleter>;

// Allocation helpers: an Internal status ("out of memory allocating a frame")
// instead of a null pointer.
Result<FramePtr> NewFrame();
Result<PacketPtr> NewPacket();
Result<FilterGraphPtr> NewFilterGraph();
Result<CodecContextPtr> NewCodecContext(const AVCodec* codec);

// An AVDictionary of options owned for the duration of one call that takes
// `AVDictionary**` (avformat_open_input, avcodec_open2 …): those calls consume
// the entries they recognise and leave the rest, so `get()` is passed by address.
class AvDictionary {
 public:
  AvDictionary() = default;
  ~AvDictionary() { av_dict_free(&dict_); }
  AvDictionary(const AvDictionary&) = delete;
  AvDictionary& operator=(const AvDictionary&) = delete;

  void Set(const char* key, const char* value) { av_dict_set(&dict_, key, value, 0); }
  void Set(const char* key, int64_t value) { av_dict_set_int(&dict_, key, value, 0); }
  AVDictionary** address() { return &dict_; }
  AVDictionary* get() const { return dict_; }

 private:
  AVDictionary* dict_ = nullptr;
};

}  // namespace vidmill::engine
