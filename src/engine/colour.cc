#include "engine/colour.h"

extern "C" {
#include <libavutil/mathematics.h>
#include <libavutil/pixdesc.h>
}

namespace vidmill::engine {
namespace {

bool IsHd(int width, int height) { return width >= 1280 || height >= 720; }

bool IsBt2020(const ColourDescription& colour) {
  return colour.matrix == AVCOL_SPC_BT2020_NCL || colour.matrix == AVCOL_SPC_BT2020_CL ||
         colour.primaries == AVCOL_PRI_BT2020;
}

bool IsBt601Matrix(int matrix) {
  return matrix == AVCOL_SPC_BT470BG || matrix == AVCOL_SPC_SMPTE170M;
}

// The SD standard for a picture `height` lines high: NTSC's at 480/486.
ColourDescription Bt601(int height) {
  const bool ntsc = height == 480 || height == 486;
  ColourDescription colour;
  colour.matrix = ntsc ? AVCOL_SPC_SMPTE170M : AVCOL_SPC_BT470BG;
  colour.primaries = ntsc ? AVCOL_PRI_SMPTE170M : AVCOL_PRI_BT470BG;
  colour.transfer = AVCOL_TRC_SMPTE170M;
  colour.range = AVCOL_RANGE_MPEG;
  return colour;
}

ColourDescription Bt709() {
  ColourDescription colour;
  colour.matrix = AVCOL_SPC_BT709;
  colour.primaries = AVCOL_PRI_BT709;
  colour.transfer = AVCOL_TRC_BT709;
  colour.range = AVCOL_RANGE_MPEG;
  return colour;
}

// libswscale's name for a matrix (the scale filter's in/out_color_matrix).
const char* MatrixName(int matrix) {
  switch (matrix) {
    case AVCOL_SPC_BT709:
      return "bt709";
    case AVCOL_SPC_FCC:
      return "fcc";
    case AVCOL_SPC_SMPTE240M:
      return "smpte240m";
    case AVCOL_SPC_BT2020_NCL:
    case AVCOL_SPC_BT2020_CL:
      return "bt2020";
    default:
      return "bt601";
  }
}

// BT.601 (either standard's tag) or BT.709: the matrices vf_colorspace
// converts between here.
bool IsSdOrHdMatrix(int matrix) { return matrix == AVCOL_SPC_BT709 || IsBt601Matrix(matrix); }

// vf_colorspace's name for an output format it writes, "" for the others.
std::string ColorspaceFormat(const std::string& pixel_format) {
  for (const char* chroma : {"420", "422", "444"}) {
    const std::string base = std::string("yuv") + chroma + "p";
    if (pixel_format == base) return base;
    if (pixel_format == base + "10le") return base + "10";
    if (pixel_format == base + "12le") return base + "12";
  }
  return "";
}

// The setparams step that tags pictures as `colour`.
std::string Tags(const ColourDescription& colour) {
  return std::string("setparams=range=") + (colour.range == AVCOL_RANGE_JPEG ? "pc" : "tv") +
         ":color_primaries=" +
         av_color_primaries_name(static_cast<AVColorPrimaries>(colour.primaries)) + ":color_trc=" +
         av_color_transfer_name(static_cast<AVColorTransferCharacteristic>(colour.transfer)) +
         ":colorspace=" + av_color_space_name(static_cast<AVColorSpace>(colour.matrix));
}

}  // namespace

AVColorSpace UntaggedMatrix(int width, int height) {
  return static_cast<AVColorSpace>(IsHd(width, height) ? Bt709().matrix : Bt601(height).matrix);
}

ColourDescription SourceColour(const AVCodecParameters* par, AVPixelFormat decoded) {
  ColourDescription colour;
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(decoded);
  colour.rgb = desc != nullptr && (desc->flags & AV_PIX_FMT_FLAG_RGB);
  const ColourDescription by_size = IsHd(par->width, par->height) ? Bt709() : Bt601(par->height);
  const bool matrix_tagged =
      par->color_space != AVCOL_SPC_UNSPECIFIED && par->color_space != AVCOL_SPC_RESERVED;
  colour.matrix = matrix_tagged ? par->color_space : UntaggedMatrix(par->width, par->height);
  // Untagged primaries and transfer follow the matrix's standard.
  const ColourDescription guess = colour.matrix == AVCOL_SPC_BT709       ? Bt709()
                                  : colour.matrix == AVCOL_SPC_SMPTE170M ? Bt601(480)
                                  : colour.matrix == AVCOL_SPC_BT470BG   ? Bt601(576)
                                                                         : by_size;
  if (colour.rgb) colour.matrix = AVCOL_SPC_RGB;
  colour.primaries = par->color_primaries != AVCOL_PRI_UNSPECIFIED &&
                             par->color_primaries != AVCOL_PRI_RESERVED &&
                             par->color_primaries != AVCOL_PRI_RESERVED0
                         ? par->color_primaries
                         : guess.primaries;
  colour.transfer = par->color_trc != AVCOL_TRC_UNSPECIFIED &&
                            par->color_trc != AVCOL_TRC_RESERVED &&
                            par->color_trc != AVCOL_TRC_RESERVED0
                        ? par->color_trc
                        : guess.transfer;
  const bool jpeg_format = decoded == AV_PIX_FMT_YUVJ420P || decoded == AV_PIX_FMT_YUVJ422P ||
                           decoded == AV_PIX_FMT_YUVJ444P || decoded == AV_PIX_FMT_YUVJ440P ||
                           decoded == AV_PIX_FMT_YUVJ411P;
  colour.range = colour.rgb || jpeg_format || par->color_range == AVCOL_RANGE_JPEG
                     ? AVCOL_RANGE_JPEG
                     : AVCOL_RANGE_MPEG;
  return colour;
}

ColourDescription OutputColour(const ColourDescription& source, int width, int height,
                               const std::string& pixel_format) {
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(av_get_pix_fmt(pixel_format.c_str()));
  if (desc != nullptr && (desc->flags & AV_PIX_FMT_FLAG_RGB)) {
    ColourDescription output = source;
    output.rgb = true;
    output.matrix = AVCOL_SPC_RGB;
    output.range = AVCOL_RANGE_JPEG;
    return output;
  }
  ColourDescription output;
  if (IsBt2020(source) && !source.rgb) {
    output = source;
  } else if (IsHd(width, height)) {
    output = source.matrix == AVCOL_SPC_BT709 ? source : Bt709();
  } else {
    output = IsBt601Matrix(source.matrix) ? source : Bt601(height);
  }
  output.rgb = false;
  output.range = AVCOL_RANGE_MPEG;
  return output;
}

std::string KeepFullRange(const ColourDescription& source) {
  return !source.rgb && source.range == AVCOL_RANGE_JPEG ? ":in_range=pc:out_range=pc" : "";
}

std::string ColourConversion(const ColourDescription& source, const ColourDescription& output,
                             const std::string& pixel_format, bool interlaced) {
  const bool same_matrix =
      std::string(MatrixName(source.matrix)) == MatrixName(output.matrix) && !source.rgb;
  std::string steps;
  if (output.rgb) {
    // RGB kept RGB (filters that work in YUV convert there and back): back to
    // RGB by the pictures' own tags first, then tagged (tagging first would
    // read limited-range YUV as full range: black would come back 15).
    return "format=pix_fmts=" + pixel_format + "," + Tags(output);
  }
  if (!same_matrix || source.range != output.range) {
    // The input range is the pictures' own tag: a resize before this step
    // may already have made full range limited (and says so); naming the
    // source's range here would expand it twice (10-bit full-range HD to SD
    // would come out desaturated).
    const std::string colorspace_format = ColorspaceFormat(pixel_format);
    const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(av_get_pix_fmt(pixel_format.c_str()));
    // vf_colorspace reads 4:2:0 as progressive: fields of interlaced 4:2:0
    // would share their chroma, so those go through libswscale field by field.
    const bool fields_share_chroma = interlaced && (desc == nullptr || desc->log2_chroma_h > 0);
    if (!source.rgb && IsSdOrHdMatrix(source.matrix) && IsSdOrHdMatrix(output.matrix) &&
        !colorspace_format.empty() && !fields_share_chroma) {
      // Matrix and range only (fast=1): the primaries and transfer are
      // retagged, not converted, so the filter is told they stay the output's.
      const char* primaries =
          av_color_primaries_name(static_cast<AVColorPrimaries>(output.primaries));
      const char* transfer =
          av_color_transfer_name(static_cast<AVColorTransferCharacteristic>(output.transfer));
      steps =
          // Fields apart into the output's format first, keeping a full
          // range (the range is colorspace's to convert).
          std::string(interlaced ? std::string("scale=interl=1") + KeepFullRange(source) +
                                       ",format=pix_fmts=" + pixel_format + ","
                                 : "") +
          "colorspace=ispace=" + av_color_space_name(static_cast<AVColorSpace>(source.matrix)) +
          ":iprimaries=" + primaries + ":itrc=" + transfer +
          // A limited-range source stays limited through any resize; a
          // full-range one's pictures say which they are by now.
          (source.range == AVCOL_RANGE_MPEG ? ":irange=tv" : "") +
          ":space=" + av_color_space_name(static_cast<AVColorSpace>(output.matrix)) +
          ":primaries=" + primaries + ":trc=" + transfer +
          ":range=tv:fast=1:format=" + colorspace_format + ",";
    } else {
      steps = std::string("scale=in_color_matrix=") + MatrixName(source.matrix) +
              ":out_color_matrix=" + MatrixName(output.matrix) +
              ":out_range=tv:flags=" + kExactConversionFlags + (interlaced ? ":interl=1" : "");
      if (source.rgb) steps += ",format=pix_fmts=" + pixel_format;
      steps += ",";
    }
  }
  // Tagged, so that each later step (and the encoder) knows what it has.
  return steps + Tags(output);
}

std::string X265Hdr10Params(const AVMasteringDisplayMetadata* mastering,
                            const AVContentLightMetadata* light) {
  std::string params;
  if (mastering != nullptr && mastering->has_primaries && mastering->has_luminance) {
    auto scaled = [](AVRational value, int scale) {
      return std::to_string(av_rescale(value.num, scale, value.den > 0 ? value.den : 1));
    };
    auto point = [&](const AVRational xy[2]) {
      return "(" + scaled(xy[0], 50000) + "," + scaled(xy[1], 50000) + ")";
    };
    // FFmpeg keeps the primaries as R, G, B; x265 takes G, B, R.
    params = "master-display=G" + point(mastering->display_primaries[1]) + "B" +
             point(mastering->display_primaries[2]) + "R" + point(mastering->display_primaries[0]) +
             "WP" + point(mastering->white_point) + "L(" + scaled(mastering->max_luminance, 10000) +
             "," + scaled(mastering->min_luminance, 10000) + ")";
  }
  if (light != nullptr && (light->MaxCLL > 0 || light->MaxFALL > 0)) {
    if (!params.empty()) params += ":";
    params += "max-cll=" + std::to_string(light->MaxCLL) + "," + std::to_string(light->MaxFALL);
  }
  return params;
}

}  // namespace vidmill::engine
