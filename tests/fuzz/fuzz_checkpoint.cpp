// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// The whole reader over an in-memory file: format sniffing, zip / legacy / pickle / safetensors /
// shard index, the torch interpreter, the checkpoint analysis, then the JSON document and the
// tensor elements.
#include "fuzz_checkpoint_common.h"

using namespace ptscope;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    auto file = core::MappedFile::fromBuffer(std::vector<std::uint8_t>(data, data + size), fuzz::kInputName);
    auto cp = core::openCheckpoint(file, fuzz::fuzzOpenOptions());
    if (!cp) {
        fuzz::checkError(cp.error(), "fuzz_checkpoint");
        return 0;
    }
    fuzz::exerciseCheckpoint(**cp);
    return 0;
}
