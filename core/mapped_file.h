// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include "result.h"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace ptscope::core {

// Read-only bytes of a file: a private read-only memory map (pages are read only when touched,
// so resident memory does not grow with file size) whose descriptor stays open for copyOut, or
// an owned buffer for tests and for archives nested inside other files.
class MappedFile final
{
public:
    // Checks, in order: exists, regular file, readable; each failure has its own code.
    // An empty file maps to an empty span (no error here: format detection reports it).
    static Result<std::shared_ptr<const MappedFile>> open(const std::string &path);
    static std::shared_ptr<const MappedFile> fromBuffer(std::vector<std::uint8_t> bytes, std::string name = {});

    ~MappedFile();
    MappedFile(const MappedFile &) = delete;
    MappedFile &operator=(const MappedFile &) = delete;

    std::span<const std::uint8_t> bytes() const { return {m_data, m_size}; }
    std::uint64_t size() const { return m_size; }
    const std::string &path() const { return m_path; }

    // Tells the kernel that [begin, end) was read and is not needed again soon: the whole pages
    // inside it leave this process's resident set (they stay in the page cache and fault back in
    // if touched). Streaming readers call it so that memory does not grow with file size. No-op
    // for in-memory buffers and for ranges outside the file.
    void releasePages(const std::uint8_t *begin, const std::uint8_t *end) const;

    // Copies the n bytes at `at` (inside bytes()) to `out` by reading the file (pread), without
    // touching the mapping: no page joins the resident set and no page-table entry is made, which
    // for a one-off sweep over gigabytes costs less than faulting the mapping in. False when the
    // bytes are not a mapped file's (an in-memory buffer) or the read fails; `out` is then
    // unspecified and the caller reads `at` itself.
    bool copyOut(const std::uint8_t *at, std::size_t n, std::uint8_t *out) const;

private:
    MappedFile() = default;

    std::string m_path;
    const std::uint8_t *m_data = nullptr;
    std::uint64_t m_size = 0;
    void *m_map = nullptr; // non-null when memory-mapped
    int m_fd = -1;         // the mapped file, open for copyOut
    std::vector<std::uint8_t> m_buffer;
};

// A mapped file keeps its descriptor open (copyOut), so a process holding many (the shards of two
// large models side by side) needs more than the usual soft limit of 1024: raises the soft limit on
// open files to the hard one. Best effort; the executables call it at start.
void raiseOpenFileLimit();

} // namespace ptscope::core
