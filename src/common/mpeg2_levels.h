#pragma once
// MPEG-2 video's profile and level limits, for the profile and level that
// FFmpeg 5.1's mpeg2video encoder writes when it is given none (it picks them
// from the chroma and the frame size). The validator keeps a derived bit rate
// within them, and the encoder its peak rate and buffer: a stream that
// declares more than its level allows is refused by strict decoders and
// playout servers.

#include <cstdint>

namespace vidmill {

struct Mpeg2Level {
  const char* name;       // "MP@ML", "4:2:2@HL" …
  int64_t max_bit_rate;   // bits/s (ISO/IEC 13818-2, table 8-13)
  int64_t max_vbv_bits;   // the VBV buffer's size limit, bits (table 8-14)
};

// 4:2:2: the 4:2:2 profile, at Main Level up to 720 × 608, else High Level;
// 4:2:0: Main profile, at Main Level up to 720 × 576, High-1440 up to 1440
// wide, else High Level (FFmpeg's mpeg12enc.c, encode_init).
inline Mpeg2Level Mpeg2LevelFor(int width, int height, bool four_two_two) {
  if (four_two_two) {
    if (width <= 720 && height <= 608) return {"4:2:2@ML", 50'000'000, 9'437'184};
    return {"4:2:2@HL", 300'000'000, 47'185'920};
  }
  if (width <= 720 && height <= 576) return {"MP@ML", 15'000'000, 1'835'008};
  if (width <= 1440) return {"MP@H-14", 60'000'000, 7'340'032};
  return {"MP@HL", 80'000'000, 9'781'248};
}

}  // namespace vidmill
