// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "dtype.h"

#include <array>

namespace ptscope::core {

namespace {

constexpr std::array kDtypes = {
    DtypeInfo{"float64", "Double", 8, DtypeKind::Float},
    DtypeInfo{"float32", "Float", 4, DtypeKind::Float},
    DtypeInfo{"float16", "Half", 2, DtypeKind::Float},
    DtypeInfo{"bfloat16", "BFloat16", 2, DtypeKind::Float},
    DtypeInfo{"int64", "Long", 8, DtypeKind::Signed},
    DtypeInfo{"int32", "Int", 4, DtypeKind::Signed},
    DtypeInfo{"int16", "Short", 2, DtypeKind::Signed},
    DtypeInfo{"int8", "Char", 1, DtypeKind::Signed},
    DtypeInfo{"uint8", "Byte", 1, DtypeKind::Unsigned},
    DtypeInfo{"bool", "Bool", 1, DtypeKind::Bool},
    DtypeInfo{"complex32", "ComplexHalf", 4, DtypeKind::Complex},
    DtypeInfo{"complex64", "ComplexFloat", 8, DtypeKind::Complex},
    DtypeInfo{"complex128", "ComplexDouble", 16, DtypeKind::Complex},
    DtypeInfo{"qint8", "QInt8", 1, DtypeKind::Quantized},
    DtypeInfo{"quint8", "QUInt8", 1, DtypeKind::Quantized},
    DtypeInfo{"qint32", "QInt32", 4, DtypeKind::Quantized},
    DtypeInfo{"quint4x2", "QUInt4x2", 1, DtypeKind::Quantized, 2},
    DtypeInfo{"quint2x4", "QUInt2x4", 1, DtypeKind::Quantized, 4},
    DtypeInfo{"float8_e5m2", "Float8_e5m2", 1, DtypeKind::Float},
    DtypeInfo{"float8_e4m3fn", "Float8_e4m3fn", 1, DtypeKind::Float},
    DtypeInfo{"float8_e5m2fnuz", "Float8_e5m2fnuz", 1, DtypeKind::Float},
    DtypeInfo{"float8_e4m3fnuz", "Float8_e4m3fnuz", 1, DtypeKind::Float},
    DtypeInfo{"float8_e8m0fnu", "Float8_e8m0fnu", 1, DtypeKind::Float},
    DtypeInfo{"float4_e2m1fn_x2", "Float4_e2m1fn_x2", 1, DtypeKind::Float},
    DtypeInfo{"uint16", "UInt16", 2, DtypeKind::Unsigned},
    DtypeInfo{"uint32", "UInt32", 4, DtypeKind::Unsigned},
    DtypeInfo{"uint64", "UInt64", 8, DtypeKind::Unsigned},
    DtypeInfo{"uint1", "UInt1", 1, DtypeKind::Unsigned},
    DtypeInfo{"uint2", "UInt2", 1, DtypeKind::Unsigned},
    DtypeInfo{"uint3", "UInt3", 1, DtypeKind::Unsigned},
    DtypeInfo{"uint4", "UInt4", 1, DtypeKind::Unsigned},
    DtypeInfo{"uint5", "UInt5", 1, DtypeKind::Unsigned},
    DtypeInfo{"uint6", "UInt6", 1, DtypeKind::Unsigned},
    DtypeInfo{"uint7", "UInt7", 1, DtypeKind::Unsigned},
    DtypeInfo{"int1", "Int1", 1, DtypeKind::Signed},
    DtypeInfo{"int2", "Int2", 1, DtypeKind::Signed},
    DtypeInfo{"int3", "Int3", 1, DtypeKind::Signed},
    DtypeInfo{"int4", "Int4", 1, DtypeKind::Signed},
    DtypeInfo{"int5", "Int5", 1, DtypeKind::Signed},
    DtypeInfo{"int6", "Int6", 1, DtypeKind::Signed},
    DtypeInfo{"int7", "Int7", 1, DtypeKind::Signed},
    DtypeInfo{"bits1x8", "Bits1x8", 1, DtypeKind::Bits},
    DtypeInfo{"bits2x4", "Bits2x4", 1, DtypeKind::Bits},
    DtypeInfo{"bits4x2", "Bits4x2", 1, DtypeKind::Bits},
    DtypeInfo{"bits8", "Bits8", 1, DtypeKind::Bits},
    DtypeInfo{"bits16", "Bits16", 2, DtypeKind::Bits},
};

// Aliases torch accepts as attribute names of the torch module (torch.float is torch.float32).
struct Alias
{
    std::string_view alias;
    std::string_view name;
};
constexpr std::array kAliases = {
    Alias{"float", "float32"},  Alias{"double", "float64"},   Alias{"half", "float16"},
    Alias{"long", "int64"},     Alias{"int", "int32"},        Alias{"short", "int16"},
    Alias{"cfloat", "complex64"}, Alias{"cdouble", "complex128"}, Alias{"chalf", "complex32"},
};

} // namespace

const DtypeInfo *dtypeByName(std::string_view torchName)
{
    for (const auto &a : kAliases)
        if (a.alias == torchName)
            torchName = a.name;
    for (const auto &d : kDtypes)
        if (d.name == torchName)
            return &d;
    return nullptr;
}

namespace {

// "FloatStorage" / "FloatTensor" -> the dtype whose c10 ScalarType is "Float".
const DtypeInfo *byScalarTypeStem(std::string_view className, std::string_view suffix)
{
    if (className.size() <= suffix.size() || className.substr(className.size() - suffix.size()) != suffix)
        return nullptr;
    const std::string_view stem = className.substr(0, className.size() - suffix.size());
    for (const auto &d : kDtypes)
        if (d.scalarType == stem)
            return &d;
    return nullptr;
}

} // namespace

bool isComplexDtype(std::string_view torchName)
{
    const DtypeInfo *info = dtypeByName(torchName);
    return info && info->kind == DtypeKind::Complex;
}

const DtypeInfo *dtypeByStorageClass(std::string_view className)
{
    if (className == "UntypedStorage" || className == "_UntypedStorage")
        return dtypeByName("uint8");
    return byScalarTypeStem(className, "Storage");
}

const DtypeInfo *dtypeByTensorClass(std::string_view className)
{
    return byScalarTypeStem(className, "Tensor");
}

} // namespace ptscope::core
