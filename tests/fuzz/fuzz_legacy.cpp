// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// The legacy (pre-zip) torch.save reader: magic number, protocol, sys_info, object pickle, storage
// keys and raw storages. Inputs that are not legacy streams are dropped from the corpus, so the
// fuzzer spends its time behind the magic number.
#include "format_sniff.h"
#include "fuzz_checkpoint_common.h"

using namespace ptscope;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    const std::span<const std::uint8_t> bytes(data, size);
    if (core::sniffFormat(bytes).container != core::Container::Legacy)
        return -1;
    auto file = core::MappedFile::fromBuffer(std::vector<std::uint8_t>(data, data + size), fuzz::kInputName);
    auto cp = core::openCheckpoint(file, fuzz::fuzzOpenOptions());
    if (!cp) {
        fuzz::checkError(cp.error(), "fuzz_legacy");
        return 0;
    }
    if ((*cp)->format != core::FileFormat::TorchLegacy)
        std::abort();
    fuzz::exerciseCheckpoint(**cp);
    return 0;
}
