// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "safetensors.h"

#include "dtype.h"
#include "torch_interpret.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <set>

namespace ptscope::core {

namespace {

using OrderedJson = nlohmann::ordered_json;

// The reference reader's limit (safetensors' HeaderTooLarge).
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;

struct DtypeName
{
    const char *safetensors;
    const char *torch; // nullptr: a dtype with no torch equivalent ptscope can describe (sub-byte)
};

constexpr DtypeName kDtypes[] = {
    {"BOOL", "bool"},         {"U8", "uint8"},          {"I8", "int8"},
    {"F8_E5M2", "float8_e5m2"}, {"F8_E4M3", "float8_e4m3fn"}, {"F8_E8M0", "float8_e8m0fnu"},
    {"F8_E4M3FNUZ", "float8_e4m3fnuz"}, {"F8_E5M2FNUZ", "float8_e5m2fnuz"},
    {"I16", "int16"},         {"U16", "uint16"},        {"F16", "float16"},
    {"BF16", "bfloat16"},     {"I32", "int32"},         {"U32", "uint32"},
    {"F32", "float32"},       {"F64", "float64"},       {"I64", "int64"},
    {"U64", "uint64"},        {"C64", "complex64"},
};

Error headerError(std::string message, std::optional<std::uint64_t> offset = std::uint64_t{8})
{
    return makeError(ErrorCode::BadRecord, std::move(message), "safetensors header", offset,
                     "The file is damaged or was not written by a safetensors writer.");
}

struct Entry
{
    std::string name;
    std::string dtype; // torch name
    std::vector<std::int64_t> shape;
    std::uint64_t begin = 0;
    std::uint64_t end = 0;
};

} // namespace

Status readSafetensors(Checkpoint &cp)
{
    const auto bytes = cp.file->bytes();
    if (bytes.size() < 8)
        return makeError(ErrorCode::Truncated, "the file is too short to hold a safetensors header length", {},
                         bytes.size(), "Download or copy the file again.");
    std::uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    if (n > kMaxHeaderBytes)
        return headerError("the safetensors header declares " + std::to_string(n)
                               + " bytes, more than the 100 MB the format allows",
                           0);
    if (n > bytes.size() - 8)
        return makeError(ErrorCode::Truncated,
                         "the safetensors header declares " + std::to_string(n) + " bytes but only "
                             + std::to_string(bytes.size() - 8) + " follow: the file is truncated",
                         "safetensors header", 0, "Download or copy the file again.");
    const std::string_view text(reinterpret_cast<const char *>(bytes.data() + 8), n);

    // Duplicate tensor names are forbidden by the format, but a JSON parser keeps the last one:
    // catch them while parsing, before two readers could disagree about which one is real.
    std::set<std::string> seen;
    std::string duplicate;
    auto callback = [&](int depth, OrderedJson::parse_event_t event, OrderedJson &parsed) {
        if (depth == 1 && event == OrderedJson::parse_event_t::key) {
            const std::string key = parsed.get<std::string>();
            if (!seen.insert(key).second && duplicate.empty())
                duplicate = key;
        }
        return true;
    };
    OrderedJson header = OrderedJson::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/false);
    if (header.is_discarded())
        return headerError("the safetensors header is not valid JSON (UTF-8)");
    if (!header.is_object())
        return headerError("the safetensors header is not a JSON object");
    if (!duplicate.empty())
        return headerError("the safetensors header names tensor '" + duplicate + "' twice");

    cp.format = FileFormat::Safetensors;
    const std::uint64_t dataStart = 8 + n;
    std::vector<Entry> entries;
    for (auto it = header.begin(); it != header.end(); ++it) {
        if (it.key() == "__metadata__") {
            if (!it.value().is_object())
                return headerError("__metadata__ is not an object of strings");
            for (auto m = it.value().begin(); m != it.value().end(); ++m) {
                if (!m.value().is_string())
                    return headerError("__metadata__ value '" + m.key() + "' is not a string");
                cp.metadata.push_back({"metadata/" + m.key(), m.value().get<std::string>(), {"__metadata__", m.key()}});
            }
            continue;
        }
        const OrderedJson &t = it.value();
        if (!t.is_object() || !t.contains("dtype") || !t.contains("shape") || !t.contains("data_offsets")
            || !t["dtype"].is_string() || !t["shape"].is_array() || !t["data_offsets"].is_array()
            || t["data_offsets"].size() != 2)
            return headerError("tensor '" + it.key() + "' lacks a dtype, shape or data_offsets pair");
        Entry e;
        e.name = it.key();
        const std::string st = t["dtype"].get<std::string>();
        for (const auto &d : kDtypes)
            if (st == d.safetensors)
                e.dtype = d.torch;
        if (e.dtype.empty())
            return headerError("tensor '" + e.name + "' has dtype '" + st + "', which ptscope does not know");
        for (const auto &dim : t["shape"]) {
            if (!dim.is_number_unsigned() || dim.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))
                return headerError("tensor '" + e.name + "' has a shape entry that is not a non-negative integer");
            e.shape.push_back(static_cast<std::int64_t>(dim.get<std::uint64_t>()));
        }
        for (int i = 0; i < 2; ++i)
            if (!t["data_offsets"][i].is_number_unsigned())
                return headerError("tensor '" + e.name + "' has data_offsets that are not non-negative integers");
        e.begin = t["data_offsets"][0].get<std::uint64_t>();
        e.end = t["data_offsets"][1].get<std::uint64_t>();
        entries.push_back(std::move(e));
    }

    // The reference reader's validation: contiguous, non-overlapping, sizes matching shapes,
    // and the buffer ending exactly at the end of the file.
    std::vector<const Entry *> byOffset;
    for (const auto &e : entries)
        byOffset.push_back(&e);
    std::sort(byOffset.begin(), byOffset.end(),
              [](const Entry *a, const Entry *b) { return a->begin != b->begin ? a->begin < b->begin : a->end < b->end; });
    std::uint64_t expectedBegin = 0;
    for (const Entry *e : byOffset) {
        if (e->begin != expectedBegin || e->end < e->begin)
            return headerError("tensor '" + e->name + "' has data_offsets [" + std::to_string(e->begin) + ", "
                               + std::to_string(e->end) + "]: tensors must be contiguous and must not overlap");
        std::uint64_t numel = 1;
        bool overflow = false;
        for (std::int64_t d : e->shape)
            overflow |= mulOverflow(numel, static_cast<std::uint64_t>(d), numel);
        std::uint64_t size = 0;
        overflow |= mulOverflow(numel, dtypeByName(e->dtype)->itemSize, size);
        if (overflow || size != e->end - e->begin)
            return headerError("tensor '" + e->name + "' holds " + std::to_string(e->end - e->begin)
                               + " bytes, its shape " + formatShape(e->shape) + " and dtype " + e->dtype + " need "
                               + (overflow ? std::string("more than 2^64") : std::to_string(size)));
        expectedBegin = e->end;
    }
    std::uint64_t bufferEnd = 0;
    if (addOverflow(dataStart, expectedBegin, bufferEnd) || bufferEnd != bytes.size()) {
        if (bufferEnd > bytes.size())
            return makeError(ErrorCode::Truncated,
                             "the tensors need " + std::to_string(expectedBegin) + " bytes after the header, only "
                                 + std::to_string(bytes.size() - dataStart) + " are in the file: it is truncated",
                             "safetensors data", bytes.size(), "Download or copy the file again.");
        return headerError(std::to_string(bytes.size() - bufferEnd) + " bytes after the last tensor belong to none",
                           bufferEnd);
    }

    // The object torch would see: safetensors.torch.load_file returns a dict of tensors.
    Value root;
    root.kind = ValueKind::Dict;
    for (const Entry &e : entries) {
        StorageInfo s;
        s.id = e.name;
        s.key = e.name;
        s.dtype = e.dtype;
        s.location = "cpu";
        s.nbytes = e.end - e.begin;
        s.numel = s.nbytes / dtypeByName(e.dtype)->itemSize;
        s.record = "tensor data of '" + e.name + "'";
        s.dataOffset = dataStart + e.begin;
        TensorInfo t;
        t.dtype = e.dtype;
        t.shape = e.shape;
        t.stride.assign(e.shape.size(), 1);
        for (std::size_t i = e.shape.size(); i-- > 1;)
            t.stride[i - 1] = t.stride[i] * std::max<std::int64_t>(e.shape[i], 1);
        t.storage = static_cast<std::int32_t>(cp.storages.size());
        t.device = "cpu";
        t.rebuild = "safetensors";
        t.numel = s.numel;
        t.nbytes = s.nbytes;
        s.tensors.push_back(static_cast<std::uint32_t>(cp.tensors.size()));
        cp.storages.push_back(std::move(s));

        Value key;
        key.kind = ValueKind::String;
        key.text = e.name;
        key.offset = 8;
        const ValueId keyId = cp.arena.add(std::move(key));
        Value tensor;
        tensor.kind = ValueKind::Tensor;
        tensor.aux = static_cast<std::uint32_t>(cp.tensors.size());
        tensor.offset = 8;
        const ValueId tensorId = cp.arena.add(std::move(tensor));
        t.value = tensorId;
        cp.tensors.push_back(std::move(t));
        root.entries.emplace_back(keyId, tensorId);
    }
    cp.root = cp.arena.add(std::move(root));
    return Ok{};
}

} // namespace ptscope::core
