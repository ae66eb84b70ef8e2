// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include "checkpoint.h"
#include "histogram_backend.h"
#include "result.h"

#include <cstdint>
#include <memory>
#include <span>

namespace ptscope::core {

// What a reader yields for a complex tensor: its magnitude (torch.abs, as statistics use it), or
// one of its parts, as torch.view_as_real(t)[..., 0] and [..., 1] give them (a conjugated view's
// imaginary part negated, a negated view's both parts). For a real tensor, Magnitude and Real both
// yield its values; Imaginary is an error.
enum class ComplexPart : std::uint8_t { Magnitude, Real, Imaginary };

// Streams the elements of one tensor, in logical (row-major) order, converted to double, straight
// from the memory-mapped file: views with strides and storage offsets are read as the tensor they
// are, memory stays bounded whatever the tensor size, and nothing is read until asked.
//
// Conversions follow torch: every float type (float16, bfloat16, the float8 variants) exactly as
// torch converts it to float; integers and bool as numbers; complex as its magnitude; quantized
// tensors dequantized with their scale and zero point (per tensor and per channel); sparse tensors
// as their dense equivalent, implicit zeros included; big-endian files byte-swapped.
class TensorElementReader final
{
public:
    // Error (with the reason) when the tensor's bytes are not available: meta tensors, storages
    // whose record is missing or compressed, invalid views, dtypes without a numeric meaning.
    static Result<std::unique_ptr<TensorElementReader>> open(const Checkpoint &cp, std::uint32_t tensorIndex,
                                                             ComplexPart part = ComplexPart::Magnitude);

    ~TensorElementReader();
    TensorElementReader(const TensorElementReader &) = delete;
    TensorElementReader &operator=(const TensorElementReader &) = delete;

    std::uint64_t numel() const;

    // Writes up to out.size() next elements; returns how many (0 at the end).
    std::size_t read(std::span<double> out);

    // Restarts from element `index` (random access for parallel chunking).
    void seek(std::uint64_t index);

    // The tensor's elements as raw bytes when they need no more than a per-element conversion:
    // a dense, contiguous, native-byte-order tensor of a real (non-complex, non-quantized) dtype.
    // Returns false otherwise (the elements must then come through read()). The bytes stay valid
    // while the checkpoint's mapping lives.
    bool rawBytes(RawElement &type, const std::uint8_t *&bytes) const;

private:
    TensorElementReader();
    struct Impl;
    std::unique_ptr<Impl> d;
};

} // namespace ptscope::core
