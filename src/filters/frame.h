#pragma once
// Plain picture types for Vidmill's own filters, independent of libav.
//
// A PlaneView is a borrowed 2-D array of 8-bit (uint8_t) or 9–16-bit
// (uint16_t, native endian, value in the low `bit_depth` bits) samples; a
// FrameView is three planes of planar Y'CbCr with a chroma subsampling. The
// processing pipeline wraps its AVFrames into views without copying; filters
// read views and write OwnedFrames (or views of them).
//
// Ownership: views never own memory and must not outlive what they point to.
// OwnedFrame owns its planes (rows padded to 64 bytes for SIMD).
// Thread safety: plain values; a view may be read from many threads, written
// from one.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace vidmill::filters {

// Storage for pictures and planes of samples: 64-byte aligned, and left
// unset by a vector's resize (construct with no arguments default-
// initialises), for samples the caller writes, every one. A block of 2 MiB or
// more is mapped on its own, aligned to 2 MiB, and offered to the kernel for
// transparent huge pages (madvise): where faulting memory in is slow (on the
// AMD EPYC Zen 5 VM measured, about 10 µs a fault: a quarter of pabsr1's
// time and a third of an 8-picture 1080p denoise's), one fault then maps
// 2 MiB instead of 4 KiB (docs/filters.md, first section).
// A freed large block is kept, up to 128 MiB in all, for the next block of
// its size: a filter's output pictures are freed and allocated again every
// picture, and a kept block's pages stay mapped. Thread-safe.
void* AllocateSamples(size_t bytes);
void FreeSamples(void* block, size_t bytes) noexcept;
// The bytes of freed large blocks kept for reuse (for tests).
size_t KeptSampleBytes();

template <typename T>
struct SampleAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = SampleAllocator<U>;
  };
  SampleAllocator() = default;
  template <typename U>
  SampleAllocator(const SampleAllocator<U>&) noexcept {}
  T* allocate(size_t count) { return static_cast<T*>(AllocateSamples(count * sizeof(T))); }
  void deallocate(T* p, size_t count) noexcept { FreeSamples(p, count * sizeof(T)); }
  template <typename U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

// Chroma subsampling of a planar Y'CbCr frame.
enum class Chroma { k420, k422, k444 };

// log2 of the horizontal / vertical chroma subsampling factor.
int ChromaShiftX(Chroma chroma);
int ChromaShiftY(Chroma chroma);
std::string_view ChromaName(Chroma chroma);

// The format of a frame: size of the luma plane, bit depth (8–16) and chroma.
struct PixelFormat {
  int width = 0;
  int height = 0;
  int bit_depth = 8;
  Chroma chroma = Chroma::k420;

  bool wide() const { return bit_depth > 8; }
  int max_value() const { return (1 << bit_depth) - 1; }
  int PlaneWidth(int plane) const;
  int PlaneHeight(int plane) const;
  // kInvalidArgument for sizes < 1 or > 16384, odd sizes the chroma cannot
  // represent are allowed (chroma planes round up), depths outside 8–16.
  Status Validate() const;
  bool operator==(const PixelFormat&) const = default;
};

// One plane. `stride` is in bytes. For bit_depth > 8 the samples are uint16_t.
struct PlaneView {
  uint8_t* data = nullptr;
  int width = 0;
  int height = 0;
  ptrdiff_t stride = 0;
  int bit_depth = 8;

  uint8_t* Row8(int y) const { return data + stride * y; }
  uint16_t* Row16(int y) const { return reinterpret_cast<uint16_t*>(data + stride * y); }
  // Sample at (x, y), as int, no bounds check.
  int At(int x, int y) const { return bit_depth > 8 ? Row16(y)[x] : Row8(y)[x]; }
  void Set(int x, int y, int value) const {
    if (bit_depth > 8) {
      Row16(y)[x] = static_cast<uint16_t>(value);
    } else {
      Row8(y)[x] = static_cast<uint8_t>(value);
    }
  }
};

// Three planes (Y, Cb, Cr) of one picture.
struct FrameView {
  PixelFormat format;
  PlaneView planes[3];
};

// A frame that owns its samples, with its presentation timestamp (in the
// caller's time base; filters that emit at field rate halve the duration and
// say so in their header). Each plane's samples start on a 64-byte boundary,
// its stride is a multiple of 64 bytes and its last row is followed by
// kPlanePadding bytes: what FFmpeg asks of a frame's buffers, so that an
// AVFrame may take the planes over without copying them (register_filters.cc).
// Moving the frame keeps them where they are.
class OwnedFrame {
 public:
  static constexpr size_t kAlignment = 64;
  static constexpr size_t kPlanePadding = 64;

  OwnedFrame() = default;
  // Allocates a frame of `format`, samples zero (chroma too: call Fill for grey).
  explicit OwnedFrame(const PixelFormat& format);
  // Allocates a frame of `format` whose samples the caller writes, every one:
  // they are not set (a 1080p picture's zeroing cost a deinterlacer about 7 %
  // of its time, on its one serial path); the rows' padding is zero.
  static OwnedFrame ForOverwrite(const PixelFormat& format);

  const PixelFormat& format() const { return format_; }
  FrameView view() const;
  PlaneView plane(int index) const { return view().planes[index]; }

  // A deep copy of `view` (which must be valid for its format).
  static OwnedFrame CopyOf(const FrameView& view);
  // Sets every sample of each plane to the given value.
  void Fill(int luma, int chroma);

  int64_t pts = 0;

 private:
  // Allocates with each byte set to `fill`, or not set when none.
  OwnedFrame(const PixelFormat& format, std::optional<uint8_t> fill);

  PixelFormat format_;
  ptrdiff_t strides_[3] = {0, 0, 0};
  std::vector<uint8_t, SampleAllocator<uint8_t>> storage_[3];
};

// Copies the samples of `from` into `to` (same format required, else
// kInvalidArgument).
Status CopyFrame(const FrameView& from, const FrameView& to);

// Field `parity` (0 = top) of `frame`: every other row of each plane, from
// row `parity`. Where a plane has an odd number of rows the top field has the
// extra one; format.height is the luma field's height (for the bottom field
// of a 4:2:0 frame, a chroma plane may then have a row fewer than the format
// implies).
FrameView FieldOf(const FrameView& frame, int parity);

// Copies `to.height` rows of `to.width` samples from `from` (same depth, at
// least as wide) into `to`; rows below `from`'s last repeat it.
void CopyRowsExtending(const PlaneView& from, const PlaneView& to);

}  // namespace vidmill::filters
