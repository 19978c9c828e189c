#include "filters/frame.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <mutex>
#include <utility>
#include <vector>

namespace vidmill::filters {

namespace {

constexpr size_t kHugePage = size_t{2} << 20;
// Freed large blocks kept for the next allocation of their size, up to this
// many bytes in all: a filter frees an output picture and allocates the next
// one of the same size every picture, and a block kept has its pages mapped.
constexpr size_t kKeptBytes = size_t{128} << 20;

size_t RoundUpToHugePage(size_t bytes) { return (bytes + kHugePage - 1) / kHugePage * kHugePage; }

struct KeptBlocks {
  std::mutex mu;
  std::vector<std::pair<size_t, void*>> blocks;  // (mapped size, block), newest last
  size_t bytes = 0;
};

KeptBlocks& Kept() {
  static KeptBlocks* const kept = new KeptBlocks;  // never destroyed: freed into at exit
  return *kept;
}

void* MapBlock(size_t size) {
  // Map a huge page more than needed and unmap the ends around an aligned
  // block: mmap itself aligns only to 4 KiB.
  void* mapped =
      mmap(nullptr, size + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapped == MAP_FAILED) throw std::bad_alloc();
  const uintptr_t start = reinterpret_cast<uintptr_t>(mapped);
  const uintptr_t block = RoundUpToHugePage(start);
  if (block > start) munmap(mapped, block - start);
  const uintptr_t end = start + size + kHugePage;
  if (end > block + size) munmap(reinterpret_cast<void*>(block + size), end - (block + size));
  // Advice only: where the kernel has no huge pages to give, 4 KiB ones.
  madvise(reinterpret_cast<void*>(block), size, MADV_HUGEPAGE);
  return reinterpret_cast<void*>(block);
}

}  // namespace

void* AllocateSamples(size_t bytes) {
  if (bytes < kHugePage) return ::operator new(bytes, std::align_val_t(OwnedFrame::kAlignment));
  const size_t size = RoundUpToHugePage(bytes);
  {
    KeptBlocks& kept = Kept();
    std::lock_guard lock(kept.mu);
    for (auto it = kept.blocks.rbegin(); it != kept.blocks.rend(); ++it) {
      if (it->first != size) continue;
      void* block = it->second;
      kept.blocks.erase(std::next(it).base());
      kept.bytes -= size;
      return block;
    }
  }
  return MapBlock(size);
}

void FreeSamples(void* block, size_t bytes) noexcept {
  if (block == nullptr) return;
  if (bytes < kHugePage) {
    ::operator delete(block, std::align_val_t(OwnedFrame::kAlignment));
    return;
  }
  const size_t size = RoundUpToHugePage(bytes);
  {
    KeptBlocks& kept = Kept();
    std::lock_guard lock(kept.mu);
    if (kept.bytes + size <= kKeptBytes) {
      try {
        kept.blocks.emplace_back(size, block);
        kept.bytes += size;
        return;
      } catch (const std::bad_alloc&) {
        // Not kept: unmapped below.
      }
    }
  }
  munmap(block, size);
}

size_t KeptSampleBytes() {
  KeptBlocks& kept = Kept();
  std::lock_guard lock(kept.mu);
  return kept.bytes;
}

int ChromaShiftX(Chroma chroma) { return chroma == Chroma::k444 ? 0 : 1; }
int ChromaShiftY(Chroma chroma) { return chroma == Chroma::k420 ? 1 : 0; }

std::string_view ChromaName(Chroma chroma) {
  switch (chroma) {
    case Chroma::k420:
      return "4:2:0";
    case Chroma::k422:
      return "4:2:2";
    case Chroma::k444:
      return "4:4:4";
  }
  return "?";
}

int PixelFormat::PlaneWidth(int plane) const {
  int shift = plane == 0 ? 0 : ChromaShiftX(chroma);
  return (width + (1 << shift) - 1) >> shift;
}

int PixelFormat::PlaneHeight(int plane) const {
  int shift = plane == 0 ? 0 : ChromaShiftY(chroma);
  return (height + (1 << shift) - 1) >> shift;
}

Status PixelFormat::Validate() const {
  if (width < 1 || height < 1 || width > 16384 || height > 16384) {
    return Status::InvalidArgument("frame size " + std::to_string(width) + "x" +
                                   std::to_string(height) + " is outside 1x1..16384x16384");
  }
  if (bit_depth < 8 || bit_depth > 16) {
    return Status::InvalidArgument("bit depth " + std::to_string(bit_depth) + " is outside 8..16");
  }
  return Status::Ok();
}

OwnedFrame::OwnedFrame(const PixelFormat& format) : OwnedFrame(format, uint8_t{0}) {}

OwnedFrame OwnedFrame::ForOverwrite(const PixelFormat& format) {
  return OwnedFrame(format, std::nullopt);
}

OwnedFrame::OwnedFrame(const PixelFormat& format, std::optional<uint8_t> fill) : format_(format) {
  const int bytes = format.wide() ? 2 : 1;
  for (int plane = 0; plane < 3; ++plane) {
    const ptrdiff_t row = static_cast<ptrdiff_t>(format.PlaneWidth(plane)) * bytes;
    strides_[plane] = (row + 63) / 64 * 64;
    const int height = format.PlaneHeight(plane);
    const size_t size = static_cast<size_t>(strides_[plane]) * height;
    if (fill) {
      storage_[plane].assign(size + kPlanePadding, *fill);
      continue;
    }
    storage_[plane].resize(size + kPlanePadding);
    std::memset(storage_[plane].data() + size, 0, kPlanePadding);
    if (row == strides_[plane]) continue;
    for (int y = 0; y < height; ++y) {
      std::memset(storage_[plane].data() + strides_[plane] * y + row, 0,
                  static_cast<size_t>(strides_[plane] - row));
    }
  }
}

FrameView OwnedFrame::view() const {
  FrameView view;
  view.format = format_;
  for (int plane = 0; plane < 3; ++plane) {
    view.planes[plane] =
        PlaneView{const_cast<uint8_t*>(storage_[plane].data()), format_.PlaneWidth(plane),
                  format_.PlaneHeight(plane), strides_[plane], format_.bit_depth};
  }
  return view;
}

OwnedFrame OwnedFrame::CopyOf(const FrameView& view) {
  OwnedFrame frame = ForOverwrite(view.format);
  (void)CopyFrame(view, frame.view());
  return frame;
}

void OwnedFrame::Fill(int luma, int chroma) {
  FrameView v = view();
  for (int plane = 0; plane < 3; ++plane) {
    const PlaneView& p = v.planes[plane];
    for (int y = 0; y < p.height; ++y) {
      for (int x = 0; x < p.width; ++x) {
        p.Set(x, y, plane == 0 ? luma : chroma);
      }
    }
  }
}

Status CopyFrame(const FrameView& from, const FrameView& to) {
  if (!(from.format == to.format)) {
    return Status::InvalidArgument("CopyFrame: formats differ");
  }
  const int bytes = from.format.wide() ? 2 : 1;
  for (int plane = 0; plane < 3; ++plane) {
    const PlaneView& src = from.planes[plane];
    const PlaneView& dst = to.planes[plane];
    for (int y = 0; y < src.height; ++y) {
      std::memcpy(dst.Row8(y), src.Row8(y), static_cast<size_t>(src.width) * bytes);
    }
  }
  return Status::Ok();
}

FrameView FieldOf(const FrameView& frame, int parity) {
  FrameView field = frame;
  field.format.height = (frame.format.height + 1 - parity) / 2;
  for (PlaneView& view : field.planes) {
    view.data += view.stride * parity;
    view.height = (view.height + 1 - parity) / 2;
    view.stride *= 2;
  }
  return field;
}

void CopyRowsExtending(const PlaneView& from, const PlaneView& to) {
  const size_t bytes = static_cast<size_t>(to.width) * (to.bit_depth > 8 ? 2 : 1);
  for (int y = 0; y < to.height; ++y) {
    std::memcpy(to.Row8(y), from.Row8(std::min(y, from.height - 1)), bytes);
  }
}

}  // namespace vidmill::filters
