// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <string_view>

namespace ptscope::core {

enum class DtypeKind : std::uint8_t { Bool, Signed, Unsigned, Float, Complex, Quantized, Bits };

struct DtypeInfo
{
    std::string_view name;       // torch name without "torch.": "float32"
    std::string_view scalarType; // c10 ScalarType name: "Float" (storage class = scalarType + "Storage")
    std::uint32_t itemSize;      // bytes per element as torch counts them (sub-byte types: 1)
    DtypeKind kind;
    // Elements per byte: quint4x2 2, quint2x4 4 (torch packs them in the tensor's flat order, the
    // first in the low bits; a storage of R rows holds R * ceil(columns / 2 or 4) bytes), else 1.
    std::uint32_t elementsPerByte = 1;
};

// Every dtype torch 1.13 to 2.x can write (float8 variants, unsigned and sub-byte ones included).
const DtypeInfo *dtypeByName(std::string_view torchName);

// complex32, complex64, complex128.
bool isComplexDtype(std::string_view torchName);

// "FloatStorage", "HalfStorage", "Float8_e4m3fnStorage", "UntypedStorage" (uint8) ...: the module
// (torch, torch.cuda, ...) does not matter, only the class name, as in torch's own loader.
const DtypeInfo *dtypeByStorageClass(std::string_view className);

// Legacy tensor class names ("FloatTensor", "cuda.HalfTensor" without the module) to a dtype.
const DtypeInfo *dtypeByTensorClass(std::string_view className);

} // namespace ptscope::core
