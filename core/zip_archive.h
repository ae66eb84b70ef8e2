// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include "result.h"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ptscope::core {

struct ZipLimits
{
    std::uint64_t maxEntries = 1'000'000;
    std::uint64_t maxNameBytes = 65535;                    // per entry name
    std::uint64_t maxCentralDirectoryBytes = 256ull << 20; // bounds the memory the entry list takes
};

struct ZipEntry
{
    std::string name;                // as in the central directory (opaque bytes, never a filesystem path)
    std::uint16_t flags = 0;         // general-purpose bit flags
    std::uint16_t method = 0;        // 0 stored, 8 deflate; anything else is reported, not read
    std::uint32_t crc32 = 0;         // from the central directory
    std::uint64_t compressedSize = 0;
    std::uint64_t size = 0;          // uncompressed
    std::uint64_t dataOffset = 0;    // file offset of the first payload byte (from the local header)
    std::uint32_t index = 0;         // position in the central directory
    std::uint64_t localHeaderOffset = 0; // file offset of the entry's local header
    // Non-empty: why this entry cannot be read (unsupported method, encryption, a local header that
    // contradicts the central directory, ...); storedData() and read() then fail with problemCode.
    // dataOffset is 0 when the local header could not be located at all.
    std::string problem;
    ErrorCode problemCode = ErrorCode::CorruptZip;
};

// A zip archive over bytes already in memory (normally a memory map). The central directory is
// read once by minizip (zip64 included); payload offsets come from each entry's own local header,
// so torch's 64-byte "FB" padding and any other extra field are honoured. Stored payloads are
// returned as spans into the mapping: no copy.
class ZipArchive final
{
public:
    // `path` is only used in error messages.
    static Result<ZipArchive> open(std::span<const std::uint8_t> file, const std::string &path,
                                   const ZipLimits &limits = {});

    const std::vector<ZipEntry> &entries() const { return m_entries; }

    // First central-directory entry with exactly this name, or nullptr.
    const ZipEntry *find(std::string_view name) const;

    // The stored payload, zero-copy. Error for compressed entries and for payloads that do not
    // fit inside the file.
    Result<std::span<const std::uint8_t>> storedData(const ZipEntry &entry) const;

    // The whole payload, inflated when deflated. Refuses (BudgetExceeded) entries whose size
    // exceeds maxBytes before allocating; verifies the CRC and reports a mismatch as a warning
    // appended to `warnings` (torch does not check it either).
    Result<std::vector<std::uint8_t>> read(const ZipEntry &entry, std::uint64_t maxBytes,
                                           std::vector<Warning> *warnings = nullptr) const;

    // Found while opening: duplicate names, local/central name mismatches, unsupported methods,
    // encrypted entries, unreadable local headers (each such entry also carries a `problem`).
    // Overlapping records are not a warning: open() refuses the archive.
    const std::vector<Warning> &warnings() const { return m_warnings; }

private:
    std::span<const std::uint8_t> m_file;
    std::string m_path;
    std::vector<ZipEntry> m_entries;
    std::vector<Warning> m_warnings;
    std::vector<std::uint32_t> m_byName; // entry indices sorted by (name, index), for find()
};

} // namespace ptscope::core
