// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// What a front end does with an opened checkpoint: the JSON document, and the first and last
// elements of every tensor (the view and storage checks decide whether the bytes may be touched).
#pragma once

#include "fuzz_common.h"
#include "info_json.h"
#include "tensor_data.h"

#include <algorithm>

namespace ptscope::fuzz {

inline void exerciseCheckpoint(const core::Checkpoint &cp)
{
    core::InfoJsonOptions jo;
    jo.pretty = false;
    (void)core::infoJson(cp, jo);
    const std::size_t tensors = std::min<std::size_t>(cp.tensors.size(), 64);
    for (std::size_t i = 0; i < tensors; ++i) {
        auto reader = core::TensorElementReader::open(cp, static_cast<std::uint32_t>(i));
        if (!reader) {
            checkError(reader.error(), "TensorElementReader::open");
            continue;
        }
        double out[16];
        const std::uint64_t numel = (*reader)->numel();
        std::uint64_t got = (*reader)->read(std::span<double>(out, 16));
        if (got > std::min<std::uint64_t>(numel, 16))
            std::abort();
        if (numel > 16) {
            (*reader)->seek(numel - 3);
            got = (*reader)->read(std::span<double>(out, 16));
            if (got != 3)
                std::abort();
        }
    }
}

} // namespace ptscope::fuzz
