// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>

namespace ptscope::core {

namespace {

Error fileError(ErrorCode code, std::string message, const std::string &path, std::string hint = {})
{
    Error e = makeError(code, std::move(message), {}, std::nullopt, std::move(hint));
    e.path = path;
    return e;
}

std::string errnoText(int err)
{
    return std::strerror(err);
}

// Closes the descriptor on every failure path out of open().
struct FdGuard
{
    int fd = -1;
    ~FdGuard()
    {
        if (fd >= 0)
            ::close(fd);
    }
};

} // namespace

Result<std::shared_ptr<const MappedFile>> MappedFile::open(const std::string &path)
{
    // stat() first: open() on a FIFO or a device could block or have side effects, and the three
    // failure kinds need distinct codes.
    struct stat st = {};
    if (::stat(path.c_str(), &st) != 0) {
        const int err = errno;
        if (err == ENOENT || err == ENOTDIR)
            return fileError(ErrorCode::FileNotFound, "no such file", path, "Check the path.");
        return fileError(ErrorCode::ReadFailed, "the file cannot be read: " + errnoText(err), path);
    }
    if (!S_ISREG(st.st_mode)) {
        const std::string what = S_ISDIR(st.st_mode) ? "the path is a directory, not a file"
                                                     : "the path is not a regular file (a device, socket or pipe)";
        return fileError(ErrorCode::NotRegularFile, what, path,
            S_ISDIR(st.st_mode) ? "Pass one of the files inside it." : std::string());
    }

    // O_NONBLOCK: should the path be swapped for a FIFO after the stat, open() must not hang.
    FdGuard fd;
    fd.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd.fd < 0) {
        const int err = errno;
        return fileError(ErrorCode::ReadFailed, "the file cannot be opened for reading: " + errnoText(err), path,
            err == EACCES ? "Check the file's permissions." : std::string());
    }
    // Size and type from the descriptor we will map, not from the path (it may have changed).
    if (::fstat(fd.fd, &st) != 0) {
        const int err = errno;
        return fileError(ErrorCode::ReadFailed, "the file cannot be read: " + errnoText(err), path);
    }
    if (!S_ISREG(st.st_mode))
        return fileError(ErrorCode::NotRegularFile, "the path is not a regular file", path);

    std::shared_ptr<MappedFile> file(new MappedFile());
    file->m_path = path;
    if (st.st_size <= 0)
        return std::shared_ptr<const MappedFile>(std::move(file)); // mmap of length 0 is an error
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (size > std::numeric_limits<std::size_t>::max())
        return fileError(ErrorCode::ReadFailed, "the file is too large to map into this process's address space", path);

    void *map = ::mmap(nullptr, static_cast<std::size_t>(size), PROT_READ, MAP_PRIVATE, fd.fd, 0);
    if (map == MAP_FAILED) {
        const int err = errno;
        return fileError(ErrorCode::ReadFailed, "the file cannot be memory-mapped: " + errnoText(err), path);
    }
    // Inspection touches a few headers scattered over the file; read-ahead would only waste I/O.
    // Advice only: a failure changes nothing.
    ::madvise(map, static_cast<std::size_t>(size), MADV_RANDOM);
    file->m_map = map;
    file->m_fd = fd.fd; // kept for copyOut
    fd.fd = -1;
    file->m_data = static_cast<const std::uint8_t *>(map);
    file->m_size = size;
    return std::shared_ptr<const MappedFile>(std::move(file));
}

std::shared_ptr<const MappedFile> MappedFile::fromBuffer(std::vector<std::uint8_t> bytes, std::string name)
{
    std::shared_ptr<MappedFile> file(new MappedFile());
    file->m_path = std::move(name);
    file->m_buffer = std::move(bytes);
    file->m_data = file->m_buffer.data();
    file->m_size = file->m_buffer.size();
    return file;
}

MappedFile::~MappedFile()
{
    if (m_map)
        ::munmap(m_map, static_cast<std::size_t>(m_size));
    if (m_fd >= 0)
        ::close(m_fd);
}

void raiseOpenFileLimit()
{
    struct rlimit limit = {};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &limit);
    }
}

bool MappedFile::copyOut(const std::uint8_t *at, std::size_t n, std::uint8_t *out) const
{
    if (m_fd < 0 || at < m_data || n > m_size || static_cast<std::uint64_t>(at - m_data) > m_size - n)
        return false;
    auto offset = static_cast<std::uint64_t>(at - m_data);
    while (n > 0) {
        const ssize_t got = ::pread(m_fd, out, n, static_cast<off_t>(offset));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return false; // an error, or the file shrank under us
        out += got;
        offset += static_cast<std::uint64_t>(got);
        n -= static_cast<std::size_t>(got);
    }
    return true;
}

void MappedFile::releasePages(const std::uint8_t *begin, const std::uint8_t *end) const
{
    if (!m_map || begin >= end)
        return;
    begin = std::max(begin, m_data);
    end = std::min(end, m_data + m_size);
    static const std::uintptr_t page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    const std::uintptr_t first = (reinterpret_cast<std::uintptr_t>(begin) + page - 1) / page * page;
    const std::uintptr_t last = reinterpret_cast<std::uintptr_t>(end) / page * page;
    if (first < last) // read-only private mapping: dropping pages loses nothing, they fault back in from the file
        ::madvise(reinterpret_cast<void *>(first), last - first, MADV_DONTNEED);
}

} // namespace ptscope::core
