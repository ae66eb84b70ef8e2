// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// The pickle virtual machine, then the torch interpreter over what it built (rebuild functions,
// storages, views), then the summaries the front ends print.
#include "checkpoint_analysis.h"
#include "fuzz_common.h"
#include "torch_interpret.h"
#include "unpickler.h"

using namespace ptscope;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    const std::span<const std::uint8_t> bytes(data, size);
    core::Checkpoint cp;
    cp.file = core::MappedFile::fromBuffer(std::vector<std::uint8_t>(data, data + size), fuzz::kInputName);
    cp.path = fuzz::kInputName;
    cp.fileSize = size;
    auto r = core::unpickle(bytes, cp.arena, "data.pkl", 0, fuzz::fuzzPickleLimits());
    if (!r) {
        fuzz::checkError(r.error(), "fuzz_unpickler");
        return 0;
    }
    if (r->endOffset > size || !cp.arena.valid(r->root))
        std::abort();
    core::TorchInterpreter interp(cp, "data");
    interp.interpret(0, static_cast<core::ValueId>(cp.arena.size()));
    cp.root = r->root;
    (void)core::valueSummary(cp, cp.root);
    std::size_t n = 0;
    for (const auto &child : core::valueChildren(cp, cp.root)) {
        (void)core::valueSummary(cp, child.second);
        if (++n > 64)
            break;
    }
    return 0;
}
