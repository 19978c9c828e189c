// Internal to ConvNet: its AMX path (conv_net_amx.cc). On CPUs with AMX-BF16
// (Intel Sapphire Rapids and later) a 3 × 3 convolution over 16 channels is
// a matrix product the tile unit does several times faster than the vector
// FMAs: products of bfloat16 (8-bit mantissa) inputs and weights, summed in
// float. ConvNet picks it when the CPU and the kernel allow it.
#ifndef VIDMILL_FILTERS_CONV_NET_AMX_H_
#define VIDMILL_FILTERS_CONV_NET_AMX_H_

#include <cstddef>
#include <memory>
#include <vector>

#include "filters/conv_net.h"

namespace vidmill::filters::conv_net_internal {

// The layers repacked for the tile unit (opaque outside conv_net_amx.cc).
struct AmxNet;

// Whether this process can use AMX-BF16: the CPU has it (with AVX-512 BF16
// for the conversions) and the kernel granted the tile data state
// (arch_prctl(ARCH_REQ_XCOMP_PERM), asked once per process).
bool AmxUsable();

// Repacks `layers` (already checked by ConvNet) for RunRowsAmx.
std::shared_ptr<const AmxNet> PackForAmx(const std::vector<ConvLayer>& layers);

// ConvNet::RunRows on the tile unit: same arguments, same schedule
// (conv_net_rows.h), same replicate padding. Call only when AmxUsable().
void RunRowsAmx(const AmxNet& net, const float* in, std::ptrdiff_t in_row_stride,
                std::ptrdiff_t in_plane_stride, int width, int height, float* out,
                std::ptrdiff_t out_row_stride, std::ptrdiff_t out_plane_stride, int row_begin,
                int row_end);

}  // namespace vidmill::filters::conv_net_internal

#endif  // VIDMILL_FILTERS_CONV_NET_AMX_H_
