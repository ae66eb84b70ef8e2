// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// The zip reader alone: open the bytes as an archive, then read every entry the way the
// checkpoint reader does (stored spans, inflation under a budget, lookups by name).
#include "fuzz_common.h"
#include "zip_archive.h"

using namespace ptscope;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    const std::span<const std::uint8_t> bytes(data, size);
    core::ZipLimits limits;
    limits.maxEntries = 20'000;
    limits.maxCentralDirectoryBytes = 4u << 20;
    auto zip = core::ZipArchive::open(bytes, fuzz::kInputName, limits);
    if (!zip) {
        fuzz::checkError(zip.error(), "fuzz_zip");
        return 0;
    }
    std::vector<core::Warning> warnings;
    std::size_t n = 0;
    for (const core::ZipEntry &e : zip->entries()) {
        if (++n > 64)
            break;
        // The entry found by name must be one with that name, at or before this one.
        const core::ZipEntry *found = zip->find(e.name);
        if (!found || found->name != e.name || found->index > e.index)
            std::abort();
        auto stored = zip->storedData(e);
        if (stored) {
            if (stored->data() < data || stored->data() + stored->size() > data + size)
                std::abort(); // a span outside the input
        } else {
            fuzz::checkError(stored.error(), "fuzz_zip storedData");
        }
        auto r = zip->read(e, 1u << 20, &warnings);
        if (r) {
            if (r->size() != e.size)
                std::abort(); // read() promises exactly the declared size
        } else {
            fuzz::checkError(r.error(), "fuzz_zip read");
        }
    }
    return 0;
}
