#pragma once
// How many audio streams a job keeps: more than a recording holds (broadcast
// MXF 8 or 16, a mixing desk's QuickTime 32 or 48), and a bound on the
// decoders and encoders a job opens. The engine keeps at most this many; the
// processing validator refuses a source with more (a 409) rather than let a
// job drop some. It had been 16, and a 20-track QuickTime lost 4 tracks
// silently (audit 31 F2).

namespace vidmill {

inline constexpr int kMaxAudioStreams = 64;

}  // namespace vidmill
