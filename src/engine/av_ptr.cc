#include "engine/av_ptr.h"

namespace vidmill::engine {

Result<FramePtr> NewFrame() {
  FramePtr frame(av_frame_alloc());
  if (!frame) {
    return Status::Internal("out of memory allocating a frame");
  }
  return frame;
}

Result<PacketPtr> NewPacket() {
  PacketPtr packet(av_packet_alloc());
  if (!packet) {
    return Status::Internal("out of memory allocating a packet");
  }
  return packet;
}

Result<FilterGraphPtr> NewFilterGraph() {
  FilterGraphPtr graph(avfilter_graph_alloc());
  if (!graph) {
    return Status::Internal("out of memory allocating a filter graph");
  }
  return graph;
}

Result<CodecContextPtr> NewCodecContext(const AVCodec* codec) {
  CodecContextPtr ctx(avcodec_alloc_context3(codec));
  if (!ctx) {
    return Status::Internal("out of memory allocating a codec context");
  }
  return ctx;
}

}  // namespace vidmill::engine
