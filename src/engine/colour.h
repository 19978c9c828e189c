#pragma once
// The colour of the pictures a job writes: which YCbCr matrix, primaries,
// transfer and range the output has, and the libavfilter step that gets the
// source's pictures there.
//
// Policy (docs/processing.md, "Colour"):
//  * The output is limited range ("tv"), and always tagged. (RGB output, FFV1
//    of an RGB source, stays RGB: nothing is converted.)
//  * BT.2020 sources (HDR: HLG, PQ; wide-gamut SDR) keep their matrix,
//    primaries and transfer; nothing is converted but the range.
//  * Otherwise the output follows its size: HD (1280 wide or 720 lines and
//    up) is BT.709, SD is BT.601 (SMPTE 170M at 480/486 lines, else the
//    BT.470BG / PAL primaries). A source already of that family keeps its own
//    tags; any other is converted (SD upscaled to HD: BT.601 → BT.709 and the
//    reverse; RGB sources by the output's matrix). Untagged sources are read
//    as players read them: BT.709 when HD, BT.601 when SD.
//  * Primaries and transfer are retagged, not converted (BT.601 and BT.709
//    share their transfer, and their primaries differ by little).
//
// Thread safety: pure functions.

#include <string>

extern "C" {
#include <libavcodec/codec_par.h>
#include <libavutil/mastering_display_metadata.h>
#include <libavutil/pixfmt.h>
}

#include "engine/transcode_spec.h"

namespace vidmill::engine {

// The matrix an untagged `width`×`height` picture is read with, as players
// read it: BT.709 when HD (1280 wide or 720 lines and up), else BT.601.
AVColorSpace UntaggedMatrix(int width, int height);

// The source's colour as coded: `par`'s tags, the decoder's pixel format
// (RGB, and the full-range yuvj formats), and guesses for what is untagged.
ColourDescription SourceColour(const AVCodecParameters* par, AVPixelFormat decoded);

// The output's colour for `source` written at `width`×`height` (see above)
// in `pixel_format`; an RGB one (FFV1 of an RGB source) stays full-range RGB.
ColourDescription OutputColour(const ColourDescription& source, int width, int height,
                               const std::string& pixel_format);

// libswscale's flags for a conversion of matrix or range it makes (formats
// vf_colorspace does not write). Its default rounding moves the neutral
// axis: 8-bit grey and white would come out with Cb and Cr at 127 (a green
// cast) and one luma code low, 10-bit white at 937 for 940.
inline constexpr char kExactConversionFlags[] = "accurate_rnd+full_chroma_int";

// The libavfilter steps that turn pictures of `source` into `output`'s
// matrix and range ("" when nothing changes), then tag them; `pixel_format`
// is the output's format (the YUV format RGB sources are converted to).
// `interlaced`: fields are converted apart. Between BT.601 and BT.709
// (SD ↔ HD) in the formats it writes (4:2:0, 4:2:2, 4:4:4 at 8, 10, 12
// bits) vf_colorspace converts, exact on the neutral axis and about 1 ms a
// 1080p picture; otherwise libswscale with kExactConversionFlags.
std::string ColourConversion(const ColourDescription& source, const ColourDescription& output,
                             const std::string& pixel_format, bool interlaced);

// The scale filter's options that keep a full-range YUV source full range
// through a resize or a format change (":in_range=pc:out_range=pc"; "" for
// limited range and RGB): the range is converted once, by ColourConversion,
// exactly (libswscale's own range conversion takes 10-bit white as 1020).
std::string KeepFullRange(const ColourDescription& source);

// HDR10's static metadata as x265 parameters: "master-display=G(x,y)B(x,y)
// R(x,y)WP(x,y)L(max,min)" (chromaticities in 1/50000, luminance in
// 1/10000 cd/m²) and "max-cll=MaxCLL,MaxFALL", joined by ':'; either may be
// null or incomplete and is then left out; "" when neither is there.
std::string X265Hdr10Params(const AVMasteringDisplayMetadata* mastering,
                            const AVContentLightMetadata* light);

}  // namespace vidmill::engine
