// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// The safetensors reader on any bytes: header length, JSON header, dtypes, offsets and sizes.
#include "checkpoint_analysis.h"
#include "fuzz_checkpoint_common.h"
#include "safetensors.h"

using namespace ptscope;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    core::Checkpoint cp;
    cp.file = core::MappedFile::fromBuffer(std::vector<std::uint8_t>(data, data + size), fuzz::kInputName);
    cp.path = fuzz::kInputName;
    cp.fileSize = size;
    core::Status st = core::readSafetensors(cp);
    if (!st) {
        fuzz::checkError(st.error(), "fuzz_safetensors");
        return 0;
    }
    // Accepted: every tensor's bytes lie inside the file, after the header.
    for (const core::StorageInfo &s : cp.storages)
        if (!s.dataOffset || *s.dataOffset > size || s.nbytes > size - *s.dataOffset)
            std::abort();
    core::analyzeCheckpoint(cp, fuzz::fuzzOpenOptions());
    fuzz::exerciseCheckpoint(cp);
    return 0;
}
