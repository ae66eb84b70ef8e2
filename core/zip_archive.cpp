// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "zip_archive.h"

#include <minizip/unzip.h>
#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>

namespace ptscope::core {

namespace {

// Record sizes and signatures (APPNOTE.TXT 4.3).
constexpr std::uint64_t kLocalHeaderSize = 30;
constexpr std::uint64_t kCentralHeaderSize = 46;
constexpr std::uint64_t kEocdSize = 22;
constexpr std::uint64_t kZip64LocatorSize = 20;
constexpr std::uint64_t kZip64EocdSize = 56;
constexpr std::uint64_t kMaxCommentSize = 0xFFFF;
constexpr std::uint32_t kSigLocal = 0x04034b50;
constexpr std::uint32_t kSigCentral = 0x02014b50;
constexpr std::uint32_t kSigEocd = 0x06054b50;
constexpr std::uint32_t kSigZip64Eocd = 0x06064b50;
constexpr std::uint32_t kSigZip64Locator = 0x07064b50;
constexpr std::uint16_t kExtraZip64 = 0x0001;

constexpr std::uint16_t kFlagEncrypted = 0x0001;
constexpr std::uint16_t kFlagPatchData = 0x0020;
constexpr std::uint16_t kFlagStrongEncryption = 0x0040;

// A hostile archive can carry a million broken entries; the warning list stays readable.
constexpr std::size_t kMaxWarnings = 200;

using Bytes = std::span<const std::uint8_t>;

std::uint16_t le16(Bytes b, std::uint64_t at)
{
    return static_cast<std::uint16_t>(b[at] | (b[at + 1] << 8));
}

std::uint32_t le32(Bytes b, std::uint64_t at)
{
    return static_cast<std::uint32_t>(b[at]) | (static_cast<std::uint32_t>(b[at + 1]) << 8)
        | (static_cast<std::uint32_t>(b[at + 2]) << 16) | (static_cast<std::uint32_t>(b[at + 3]) << 24);
}

std::uint64_t le64(Bytes b, std::uint64_t at)
{
    return static_cast<std::uint64_t>(le32(b, at)) | (static_cast<std::uint64_t>(le32(b, at + 4)) << 32);
}

// True when [at, at + len) lies inside b; no overflow for any input.
bool fits(Bytes b, std::uint64_t at, std::uint64_t len)
{
    return at <= b.size() && len <= b.size() - at;
}

std::optional<std::uint64_t> checkedAdd(std::uint64_t a, std::uint64_t b)
{
    if (a > std::numeric_limits<std::uint64_t>::max() - b)
        return std::nullopt;
    return a + b;
}

std::string hex32(std::uint32_t v)
{
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08x", v);
    return buf;
}

// Names are opaque bytes: quote them with control and non-ASCII bytes escaped so a hostile name
// cannot corrupt a terminal or a log line.
std::string quoteName(std::string_view name)
{
    std::string s = "'";
    const std::size_t shown = std::min<std::size_t>(name.size(), 200);
    for (std::size_t i = 0; i < shown; ++i) {
        const auto c = static_cast<unsigned char>(name[i]);
        if (c < 0x20 || c == 0x7F || c == '\\') {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            s += buf;
        } else {
            s += static_cast<char>(c);
        }
    }
    if (shown < name.size())
        s += "...(" + std::to_string(name.size()) + " bytes)";
    return s + "'";
}

std::string methodName(std::uint16_t method)
{
    switch (method) {
    case 0:
        return "stored";
    case 1:
        return "shrink";
    case 6:
        return "implode";
    case 8:
        return "deflate";
    case 9:
        return "deflate64";
    case 12:
        return "bzip2";
    case 14:
        return "LZMA";
    case 93:
        return "zstd";
    case 95:
        return "xz";
    case 98:
        return "PPMd";
    case 99:
        return "AES encryption";
    default:
        return "unknown";
    }
}

Error zipError(ErrorCode code, std::string message, const std::string &path, std::string where = {},
    std::optional<std::uint64_t> offset = std::nullopt, std::string hint = {})
{
    Error e = makeError(code, std::move(message), std::move(where), offset, std::move(hint));
    e.path = path;
    return e;
}

const char *const kTruncatedHint = "Download or copy the file again.";

// --- End records ----------------------------------------------------------------------------------
// minizip only says "cannot open" for a damaged archive; locating the end records ourselves gives
// the user a reason and a byte offset, and lets us refuse layouts that zip readers interpret
// differently (data before the archive, a central directory that does not end where the end
// records begin, classic and zip64 records that disagree).

struct EndRecords
{
    std::uint64_t eocdOffset = 0;
    std::uint64_t endStart = 0; // first byte of the end records (zip64 record, or the classic one)
    std::uint64_t cdOffset = 0;
    std::uint64_t cdSize = 0;
    std::uint64_t entries = 0;
    bool zip64 = false;
};

Result<EndRecords> locateEndRecords(Bytes file, const std::string &path)
{
    const std::uint64_t size = file.size();
    // The classic end record is the last 22 bytes plus a comment of at most 64 KiB. The last
    // signature wins, as in miniz (torch's reader) and minizip.
    const std::uint64_t highest = size - kEocdSize;
    const std::uint64_t lowest = highest > kMaxCommentSize ? highest - kMaxCommentSize : 0;
    std::optional<std::uint64_t> found;
    for (std::uint64_t p = highest + 1; p-- > lowest;) {
        if (file[p] == 0x50 && le32(file, p) == kSigEocd) {
            found = p;
            break;
        }
    }
    if (!found) {
        if (le32(file, 0) == kSigLocal)
            return zipError(ErrorCode::CorruptZip,
                "the zip directory at the end of the file is missing: the file is truncated, e.g. an "
                "interrupted download or copy ("
                    + std::to_string(size) + " bytes present)",
                path, {}, size, kTruncatedHint);
        return zipError(ErrorCode::CorruptZip,
            "this is not a zip archive: it neither starts with a zip header nor ends with a zip directory", path, {},
            0);
    }
    EndRecords r;
    const std::uint64_t p = *found;
    r.eocdOffset = p;
    const std::uint16_t disk = le16(file, p + 4);
    const std::uint16_t cdDisk = le16(file, p + 6);
    const std::uint16_t entriesHere = le16(file, p + 8);
    const std::uint16_t entries16 = le16(file, p + 10);
    const std::uint32_t cdSize32 = le32(file, p + 12);
    const std::uint32_t cdOffset32 = le32(file, p + 16);
    const std::uint16_t commentLength = le16(file, p + 20);
    if (commentLength > size - p - kEocdSize)
        return zipError(ErrorCode::CorruptZip,
            "the zip end record declares a " + std::to_string(commentLength) + "-byte comment, but only "
                + std::to_string(size - p - kEocdSize) + " bytes follow it: the file is truncated",
            path, {}, p, kTruncatedHint);
    r.entries = entries16;
    r.cdSize = cdSize32;
    r.cdOffset = cdOffset32;
    r.endStart = p;

    if (p >= kZip64LocatorSize && le32(file, p - kZip64LocatorSize) == kSigZip64Locator) {
        const std::uint64_t loc = p - kZip64LocatorSize;
        const std::uint32_t recordDisk = le32(file, loc + 4);
        const std::uint64_t recordOffset = le64(file, loc + 8);
        const std::uint32_t disks = le32(file, loc + 16);
        if (recordDisk != 0 || disks != 1)
            return zipError(ErrorCode::UnsupportedZipFeature,
                "this is one part of a multi-part (split) zip archive, which is not supported", path, {}, loc);
        // recordOffset comes from the file: compare without forming recordOffset + 56 (it may be near 2^64).
        if (recordOffset > loc || loc - recordOffset < kZip64EocdSize)
            return zipError(ErrorCode::CorruptZip,
                "the zip64 locator points to byte " + std::to_string(recordOffset)
                    + " for the zip64 end record, which is not inside the file before the locator (byte "
                    + std::to_string(loc) + ")",
                path, {}, loc + 8);
        if (le32(file, recordOffset) != kSigZip64Eocd)
            return zipError(ErrorCode::CorruptZip,
                "there is no zip64 end record at byte " + std::to_string(recordOffset)
                    + ", where the zip64 locator points",
                path, {}, recordOffset);
        const std::uint64_t rec = recordOffset;
        const std::uint32_t disk64 = le32(file, rec + 16);
        const std::uint32_t cdDisk64 = le32(file, rec + 20);
        const std::uint64_t entriesHere64 = le64(file, rec + 24);
        const std::uint64_t entries64 = le64(file, rec + 32);
        const std::uint64_t cdSize64 = le64(file, rec + 40);
        const std::uint64_t cdOffset64 = le64(file, rec + 48);
        if (disk64 != 0 || cdDisk64 != 0 || entriesHere64 != entries64)
            return zipError(ErrorCode::UnsupportedZipFeature,
                "this is one part of a multi-part (split) zip archive, which is not supported", path, {}, rec);
        // Where the classic record holds a real value (not the 0xFFFF... placeholder) it must agree:
        // readers differ in which record they believe.
        const bool agree = (entries16 == 0xFFFF || entries16 == entries64)
            && (cdSize32 == 0xFFFFFFFF || cdSize32 == cdSize64)
            && (cdOffset32 == 0xFFFFFFFF || cdOffset32 == cdOffset64);
        if (!agree)
            return zipError(ErrorCode::CorruptZip,
                "the zip64 end record and the classic end record disagree about the central directory "
                "(zip readers would read different entries)",
                path, {}, rec);
        r.zip64 = true;
        r.entries = entries64;
        r.cdSize = cdSize64;
        r.cdOffset = cdOffset64;
        r.endStart = rec;
    } else {
        if (disk != 0 || cdDisk != 0 || entriesHere != entries16)
            return zipError(ErrorCode::UnsupportedZipFeature,
                "this is one part of a multi-part (split) zip archive, which is not supported", path, {}, p);
    }

    if (r.cdOffset > r.endStart) {
        const bool pastEof = r.cdOffset >= size;
        return zipError(ErrorCode::CorruptZip,
            "the zip end record places the central directory at byte " + std::to_string(r.cdOffset)
                + (pastEof ? ", past the end of the file (" + std::to_string(size) + " bytes)"
                           : ", after the end record itself (byte " + std::to_string(r.endStart) + ")")
                + ": the file is truncated or damaged",
            path, {}, r.endStart, kTruncatedHint);
    }
    if (r.cdSize > r.endStart - r.cdOffset)
        return zipError(ErrorCode::CorruptZip,
            "the central directory (" + std::to_string(r.cdSize) + " bytes at byte " + std::to_string(r.cdOffset)
                + ") runs past the end records at byte " + std::to_string(r.endStart)
                + ": the file is truncated or damaged",
            path, {}, r.cdOffset, kTruncatedHint);
    if (r.cdOffset + r.cdSize != r.endStart)
        // minizip would shift every offset by the gap ("bytes before the zip file"); miniz, which torch
        // uses, would not. Two readers, two archives: refuse.
        return zipError(ErrorCode::CorruptZip,
            std::to_string(r.endStart - r.cdOffset - r.cdSize)
                + " unexplained bytes lie between the end of the central directory (byte "
                + std::to_string(r.cdOffset + r.cdSize) + ") and the end record (byte " + std::to_string(r.endStart)
                + "): data was prepended to the archive or its directory is damaged",
            path, {}, r.cdOffset + r.cdSize);
    if (r.entries > r.cdSize / kCentralHeaderSize)
        return zipError(ErrorCode::CorruptZip,
            "the zip end record declares " + std::to_string(r.entries) + " entries, but the " + std::to_string(r.cdSize)
                + "-byte central directory can hold at most " + std::to_string(r.cdSize / kCentralHeaderSize),
            path, {}, r.endStart);
    if (r.entries == 0 && r.cdSize != 0)
        return zipError(ErrorCode::CorruptZip,
            "the zip end record declares no entries but a " + std::to_string(r.cdSize) + "-byte central directory",
            path, {}, r.endStart);
    return r;
}

// --- minizip over memory ------------------------------------------------------------------------
// The archive is already mapped: minizip reads it through these callbacks, never through stdio.

struct MemoryStream
{
    Bytes bytes;
    std::uint64_t pos = 0;
};

voidpf ZCALLBACK memOpen(voidpf opaque, const void * /*filename*/, int mode)
{
    if ((mode & ZLIB_FILEFUNC_MODE_WRITE) != 0)
        return nullptr;
    auto *s = static_cast<MemoryStream *>(opaque);
    s->pos = 0;
    return s;
}

uLong ZCALLBACK memRead(voidpf /*opaque*/, voidpf stream, void *buf, uLong size)
{
    auto *s = static_cast<MemoryStream *>(stream);
    if (s->pos >= s->bytes.size())
        return 0;
    const std::uint64_t n = std::min<std::uint64_t>(size, s->bytes.size() - s->pos);
    std::memcpy(buf, s->bytes.data() + s->pos, static_cast<std::size_t>(n));
    s->pos += n;
    return static_cast<uLong>(n);
}

uLong ZCALLBACK memWrite(voidpf, voidpf, const void *, uLong)
{
    return 0;
}

ZPOS64_T ZCALLBACK memTell(voidpf /*opaque*/, voidpf stream)
{
    return static_cast<MemoryStream *>(stream)->pos;
}

long ZCALLBACK memSeek(voidpf /*opaque*/, voidpf stream, ZPOS64_T offset, int origin)
{
    auto *s = static_cast<MemoryStream *>(stream);
    std::uint64_t base = 0;
    switch (origin) {
    case ZLIB_FILEFUNC_SEEK_SET:
        base = 0;
        break;
    case ZLIB_FILEFUNC_SEEK_CUR:
        base = s->pos;
        break;
    case ZLIB_FILEFUNC_SEEK_END:
        base = s->bytes.size();
        break;
    default:
        return -1;
    }
    // minizip passes negative relative seeks as wrapped unsigned values: modular addition is intended.
    // Like fseek, a position past the end is allowed; reads there return nothing. (minizip skips
    // unknown extra fields by seeking: a bad length there must not fail the whole entry list.)
    s->pos = base + offset;
    return 0;
}

int ZCALLBACK memClose(voidpf, voidpf)
{
    return 0;
}

int ZCALLBACK memError(voidpf, voidpf)
{
    return 0;
}

struct UnzCloser
{
    unzFile f = nullptr;
    ~UnzCloser()
    {
        if (f)
            unzClose(f);
    }
};

// --- Central directory extra field ----------------------------------------------------------------

struct CentralExtra
{
    std::string problem; // non-empty: malformed
    std::optional<std::uint64_t> size;
    std::optional<std::uint64_t> compressedSize;
    std::optional<std::uint64_t> localHeaderOffset;
};

// Walks the extra field of one central record and decodes the zip64 field in the order the spec
// fixes (uncompressed, compressed, offset, disk), each present only when its classic field is the
// 0xFFFFFFFF placeholder. minizip does not check that the field holds them (and the minizip 1.1
// Debian ships does not apply the field at all on 64-bit Linux, see ZipArchive::open).
CentralExtra parseCentralExtra(Bytes extra, bool needSize, bool needCompressed, bool needOffset, bool needDisk)
{
    CentralExtra x;
    bool seenZip64 = false;
    std::uint64_t at = 0;
    while (extra.size() - at >= 4) {
        const std::uint16_t id = le16(extra, at);
        const std::uint16_t length = le16(extra, at + 2);
        if (length > extra.size() - at - 4) {
            x.problem = "its extra field at offset " + std::to_string(at) + " declares " + std::to_string(length)
                + " bytes, but only " + std::to_string(extra.size() - at - 4) + " remain in the extra data";
            return x;
        }
        if (id == kExtraZip64 && !seenZip64) {
            seenZip64 = true;
            const std::uint64_t needed = 8 * (needSize + needCompressed + needOffset) + 4 * needDisk;
            if (length < needed) {
                x.problem = "its zip64 extra field holds " + std::to_string(length) + " bytes, but the "
                    + std::to_string(needed) + " bytes of the values marked 0xFFFFFFFF are needed";
                return x;
            }
            std::uint64_t v = at + 4;
            if (needSize) {
                x.size = le64(extra, v);
                v += 8;
            }
            if (needCompressed) {
                x.compressedSize = le64(extra, v);
                v += 8;
            }
            if (needOffset)
                x.localHeaderOffset = le64(extra, v);
        }
        at += 4 + length;
    }
    // 1-3 trailing bytes: ignored, as Python's zipfile does (old alignment tools left such padding).
    if ((needSize || needCompressed || needOffset || needDisk) && !seenZip64)
        x.problem = "its sizes or offset are marked 0xFFFFFFFF but it has no zip64 extra field";
    return x;
}

struct LocalHeader
{
    std::optional<std::uint64_t> dataOffset; // set when the header is there and its name length matches
    std::string problem; // non-empty: it contradicts the central directory
};

// The checks minizip makes when it opens an entry (signature, method, name length, and CRC and
// sizes unless they live in a data descriptor), for the entries minizip cannot open or refused:
// the result locates the payload where possible and tells the user why the entry is unreadable.
LocalHeader readLocalHeader(Bytes file, const ZipEntry &e, std::uint64_t nameLength)
{
    LocalHeader h;
    const std::uint64_t l = e.localHeaderOffset;
    if (!fits(file, l, kLocalHeaderSize)) {
        h.problem = "its local header offset " + std::to_string(l) + " lies outside the file";
        return h;
    }
    if (le32(file, l) != kSigLocal) {
        h.problem = "there is no local header at byte " + std::to_string(l) + " where the central directory points";
        return h;
    }
    if (le16(file, l + 26) != nameLength) {
        h.problem = "its local header name is " + std::to_string(le16(file, l + 26))
            + " bytes long, the central directory name " + std::to_string(nameLength);
        return h;
    }
    h.dataOffset = l + kLocalHeaderSize + nameLength + le16(file, l + 28); // l < file size: no overflow
    const std::uint16_t flags = le16(file, l + 6);
    const std::uint16_t method = le16(file, l + 8);
    if (method != e.method) {
        h.problem = "its local header says compression method " + std::to_string(method)
            + ", the central directory says " + std::to_string(e.method);
    } else if ((flags & 0x0008) == 0) {
        const std::uint32_t crc = le32(file, l + 14);
        const std::uint32_t csize = le32(file, l + 18);
        const std::uint32_t usize = le32(file, l + 22);
        if (crc != e.crc32)
            h.problem
                = "its local header CRC-32 " + hex32(crc) + " differs from the central directory's " + hex32(e.crc32);
        else if ((csize != 0xFFFFFFFF && csize != e.compressedSize) || (usize != 0xFFFFFFFF && usize != e.size))
            h.problem = "its local header sizes (" + std::to_string(csize) + ", " + std::to_string(usize)
                + ") differ from the central directory's (" + std::to_string(e.compressedSize) + ", "
                + std::to_string(e.size) + ")";
    }
    return h;
}

// Collects warnings up to a cap, then counts the rest.
struct WarningSink
{
    std::vector<Warning> &out;
    std::size_t dropped = 0;

    void add(std::string message, std::string where, std::optional<std::uint64_t> offset)
    {
        if (out.size() < kMaxWarnings)
            out.push_back({ std::move(message), std::move(where), offset });
        else
            ++dropped;
    }
    void finish()
    {
        if (dropped)
            out.push_back({ std::to_string(dropped) + " more zip warnings were not listed", {}, {} });
    }
};

struct Range
{
    std::uint64_t begin;
    std::uint64_t end;
    std::int64_t entry; // -1: the central directory and end records
};

} // namespace

Result<ZipArchive> ZipArchive::open(
    std::span<const std::uint8_t> file, const std::string &path, const ZipLimits &limits)
{
    if (file.empty())
        return zipError(
            ErrorCode::EmptyFile, "the file is empty (0 bytes), not a zip archive", path, {}, {}, kTruncatedHint);
    if (file.size() < kEocdSize)
        return zipError(ErrorCode::TooShort,
            "the file is too short to be a zip archive: " + std::to_string(file.size())
                + " bytes, a zip needs at least 22",
            path, {}, file.size(), kTruncatedHint);

    auto endResult = locateEndRecords(file, path);
    if (!endResult)
        return endResult.error();
    const EndRecords end = *endResult;
    if (end.entries > limits.maxEntries)
        return zipError(ErrorCode::BudgetExceeded,
            "the zip archive declares " + std::to_string(end.entries) + " entries, more than the limit of "
                + std::to_string(limits.maxEntries),
            path, {}, end.endStart);
    if (end.entries > std::numeric_limits<std::uint32_t>::max())
        return zipError(ErrorCode::BudgetExceeded,
            "the zip archive declares " + std::to_string(end.entries) + " entries, more than ptscope can index", path,
            {}, end.endStart);
    if (end.cdSize > limits.maxCentralDirectoryBytes)
        return zipError(ErrorCode::BudgetExceeded,
            "the zip central directory is " + std::to_string(end.cdSize) + " bytes, more than the limit of "
                + std::to_string(limits.maxCentralDirectoryBytes),
            path, {}, end.cdOffset);

    ZipArchive zip;
    zip.m_file = file;
    zip.m_path = path;
    WarningSink warnings { zip.m_warnings };
    if (end.entries == 0)
        return zip; // nothing to enumerate (and minizip 1.1 cannot find an end record at byte 0)

    // minizip sees the archive up to the end record and not the comment after it: it then finds the
    // same end record as we did, even when a comment is longer than its 64 KiB - 22 search window.
    MemoryStream stream { file.first(static_cast<std::size_t>(end.eocdOffset + kEocdSize)), 0 };
    zlib_filefunc64_def io {};
    io.zopen64_file = memOpen;
    io.zread_file = memRead;
    io.zwrite_file = memWrite;
    io.ztell64_file = memTell;
    io.zseek64_file = memSeek;
    io.zclose_file = memClose;
    io.zerror_file = memError;
    io.opaque = &stream;
    UnzCloser uz;
    uz.f = unzOpen2_64("", &io);
    if (!uz.f)
        return zipError(ErrorCode::CorruptZip,
            "the zip central directory at byte " + std::to_string(end.cdOffset) + " cannot be read", path, {},
            end.cdOffset);
    unz_global_info64 global {};
    if (unzGetGlobalInfo64(uz.f, &global) != UNZ_OK || global.number_entry != end.entries)
        return zipError(ErrorCode::CorruptZip,
            "the zip end records are ambiguous: the archive declares " + std::to_string(end.entries)
                + " entries, but the zip library found " + std::to_string(global.number_entry),
            path, {}, end.endStart);

    const std::uint64_t cdEnd = end.cdOffset + end.cdSize;
    std::vector<char> nameBuffer(0x10000 + 1);
    std::vector<unsigned char> extraBuffer(0x10000);
    std::uint64_t recordOffset = end.cdOffset;
    zip.m_entries.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(end.entries, 1u << 16)));

    for (std::uint64_t i = 0; i < end.entries; ++i) {
        // The declared count was checked above; this guards the loop itself against the limit too.
        if (i >= limits.maxEntries)
            return zipError(ErrorCode::BudgetExceeded,
                "the zip archive has more than " + std::to_string(limits.maxEntries) + " entries", path, {},
                recordOffset);
        const int moved = i == 0 ? unzGoToFirstFile(uz.f) : unzGoToNextFile(uz.f);
        unz_file_info64 info {};
        int rc = moved;
        if (rc == UNZ_OK)
            rc = unzGetCurrentFileInfo64(uz.f, &info, nameBuffer.data(), static_cast<uLong>(nameBuffer.size()),
                extraBuffer.data(), static_cast<uLong>(extraBuffer.size()), nullptr, 0);
        if (rc != UNZ_OK || unzGetOffset64(uz.f) != recordOffset) {
            // minizip says only "bad zip file": tell the user which record and why.
            const std::string which = "central directory entry " + std::to_string(i) + " of "
                + std::to_string(end.entries) + " (at byte " + std::to_string(recordOffset) + ")";
            std::string why = "cannot be read";
            if (cdEnd - recordOffset < kCentralHeaderSize || le32(file, recordOffset) != kSigCentral)
                why = "is missing: there is no central directory record there";
            else if (kCentralHeaderSize + le16(file, recordOffset + 28) + le16(file, recordOffset + 30)
                    + le16(file, recordOffset + 32)
                > cdEnd - recordOffset)
                why = "runs past the end of the central directory at byte " + std::to_string(cdEnd)
                    + ": a name, extra or comment length is wrong";
            return zipError(ErrorCode::CorruptZip, which + " " + why, path, "central directory", recordOffset);
        }
        const std::uint64_t nameLength = info.size_filename;
        const std::uint64_t extraLength = info.size_file_extra;
        const std::uint64_t recordSize = kCentralHeaderSize + nameLength + extraLength + info.size_file_comment;
        if (recordSize > cdEnd - recordOffset)
            return zipError(ErrorCode::CorruptZip,
                "central directory entry " + std::to_string(i) + " (" + std::to_string(recordSize) + " bytes at byte "
                    + std::to_string(recordOffset) + ") runs past the end of the central directory at byte "
                    + std::to_string(cdEnd) + ": a name, extra or comment length is wrong",
                path, "central directory", recordOffset);
        if (nameLength > limits.maxNameBytes)
            return zipError(ErrorCode::BudgetExceeded,
                "central directory entry " + std::to_string(i) + " has a " + std::to_string(nameLength)
                    + "-byte name, more than the limit of " + std::to_string(limits.maxNameBytes),
                path, "central directory", recordOffset);

        ZipEntry e;
        e.name.assign(nameBuffer.data(), static_cast<std::size_t>(nameLength));
        e.index = static_cast<std::uint32_t>(i);
        e.flags = static_cast<std::uint16_t>(info.flag);
        e.method = static_cast<std::uint16_t>(info.compression_method);
        e.crc32 = static_cast<std::uint32_t>(info.crc);
        e.compressedSize = info.compressed_size;
        e.size = info.uncompressed_size;

        auto setProblem = [&](ErrorCode code, std::string why) {
            if (!e.problem.empty())
                return;
            e.problemCode = code;
            e.problem = "zip entry " + quoteName(e.name) + " cannot be read: " + why;
            warnings.add(e.problem, e.name, recordOffset);
        };

        // Our own reading of the fields minizip decoded, to catch what it does not check.
        const std::uint32_t rawCompressed = le32(file, recordOffset + 20);
        const std::uint32_t rawSize = le32(file, recordOffset + 24);
        const std::uint16_t rawDisk = le16(file, recordOffset + 34);
        const std::uint32_t rawOffset = le32(file, recordOffset + 42);
        const CentralExtra extra = parseCentralExtra(Bytes(extraBuffer.data(), static_cast<std::size_t>(extraLength)),
            rawSize == 0xFFFFFFFF, rawCompressed == 0xFFFFFFFF, rawOffset == 0xFFFFFFFF, rawDisk == 0xFFFF);
        // Debian's minizip 1.1 compares these fields with (unsigned long)-1, which on LP64 is not
        // 0xFFFFFFFF: it never applies a central zip64 field and leaves the placeholders. Newer minizip
        // applies it. Our decoding is used; minizip's must be one of the two.
        auto resolve = [](std::uint64_t fromMinizip, std::uint32_t raw, std::optional<std::uint64_t> zip64) {
            const std::uint64_t value = zip64.value_or(raw);
            return (fromMinizip == value || fromMinizip == raw) ? std::optional<std::uint64_t>(value) : std::nullopt;
        };
        bool locatable = true;
        if (!extra.problem.empty()) {
            setProblem(ErrorCode::CorruptZip, extra.problem);
            locatable = false;
        } else {
            const auto size = resolve(info.uncompressed_size, rawSize, extra.size);
            const auto compressed = resolve(info.compressed_size, rawCompressed, extra.compressedSize);
            if (size && compressed) {
                e.size = *size;
                e.compressedSize = *compressed;
                e.localHeaderOffset = extra.localHeaderOffset.value_or(rawOffset);
            } else {
                setProblem(ErrorCode::CorruptZip, "its zip64 extra field is ambiguous");
                locatable = false;
            }
        }

        if ((e.flags & (kFlagEncrypted | kFlagStrongEncryption)) != 0)
            setProblem(ErrorCode::UnsupportedZipFeature,
                "it is encrypted (general-purpose flags " + std::to_string(e.flags) + ")");
        else if ((e.flags & kFlagPatchData) != 0)
            setProblem(ErrorCode::UnsupportedZipFeature, "it is compressed patch data (flag bit 5)");
        if (e.method != 0 && e.method != 8)
            setProblem(ErrorCode::UnsupportedZipFeature,
                "compression method " + std::to_string(e.method) + " (" + methodName(e.method)
                    + ") is not supported; only stored and deflate are");
        if (e.method == 0 && e.size != e.compressedSize)
            setProblem(ErrorCode::CorruptZip,
                "it is stored (not compressed) but declares " + std::to_string(e.size) + " bytes and "
                    + std::to_string(e.compressedSize) + " stored bytes");

        // The payload offset comes from the entry's own local header: its name and extra lengths
        // (torch's "FB" padding, a local zip64 field) decide where the data starts.
        std::optional<std::uint64_t> dataOffset;
        if (locatable && extra.localHeaderOffset) {
            // Past 4 GiB: minizip 1.1 would seek to the 0xFFFFFFFF placeholder (see above), so the
            // local header is read here, with the same checks.
            const LocalHeader h = readLocalHeader(file, e, nameLength);
            dataOffset = h.dataOffset;
            if (!h.problem.empty())
                setProblem(ErrorCode::CorruptZip, h.problem);
        } else if (locatable) {
            int method = 0;
            int level = 0;
            if (unzOpenCurrentFile2(uz.f, &method, &level, 1) == UNZ_OK) {
                const std::uint64_t pos = unzGetCurrentFileZStreamPos64(uz.f);
                const int localExtra = unzGetLocalExtrafield(uz.f, nullptr, 0);
                unzCloseCurrentFile(uz.f);
                // Cross-check with the local header offset we decoded: a disagreement means minizip
                // and we read the directory differently.
                const auto expected = checkedAdd(
                    e.localHeaderOffset, kLocalHeaderSize + nameLength + static_cast<std::uint64_t>(localExtra));
                if (localExtra < 0 || !expected || *expected != pos)
                    setProblem(ErrorCode::CorruptZip, "its local header position is ambiguous");
                else
                    dataOffset = pos;
            } else {
                // Still locate the payload when the header itself is intact (an unsupported method,
                // sizes that only differ), so the bounds and overlap checks below cover it.
                const LocalHeader h = readLocalHeader(file, e, nameLength);
                dataOffset = h.dataOffset;
                setProblem(ErrorCode::CorruptZip,
                    h.problem.empty()
                        ? "its local header at byte " + std::to_string(e.localHeaderOffset) + " is not readable"
                        : h.problem);
            }
        }
        if (dataOffset) {
            e.dataOffset = *dataOffset;
            const std::uint64_t l = e.localHeaderOffset;
            if (!fits(file, e.dataOffset, e.compressedSize))
                return zipError(ErrorCode::CorruptZip,
                    "zip entry " + quoteName(e.name) + " declares " + std::to_string(e.compressedSize)
                        + " bytes of data at byte " + std::to_string(e.dataOffset) + ", past the end of the file ("
                        + std::to_string(file.size()) + " bytes): the file is truncated or damaged",
                    path, e.name, e.dataOffset, kTruncatedHint);
            // torch, like every reader that goes through the central directory, uses the central name;
            // a different local name is what a scanner reading local headers in sequence would see.
            if (fits(file, l + kLocalHeaderSize, nameLength)
                && std::memcmp(file.data() + l + kLocalHeaderSize, e.name.data(), e.name.size()) != 0)
                warnings.add("zip entry " + quoteName(e.name) + ": its local header gives a different name, "
                        + quoteName(std::string_view(reinterpret_cast<const char *>(file.data() + l + kLocalHeaderSize),
                            static_cast<std::size_t>(nameLength)))
                        + "; the central directory name is used, as torch does",
                    e.name, l);
        }
        zip.m_entries.push_back(std::move(e));
        recordOffset += recordSize;
    }

    // Overlapping records: the same bytes read as two entries (zip bombs that quote one entry inside
    // another, or two names for one payload). Refuse before anything is inflated.
    std::vector<Range> ranges;
    ranges.reserve(zip.m_entries.size() + 1);
    for (const ZipEntry &e : zip.m_entries)
        if (e.dataOffset != 0)
            ranges.push_back({ e.localHeaderOffset, e.dataOffset + e.compressedSize, e.index });
    ranges.push_back({ end.cdOffset, file.size(), -1 });
    std::sort(ranges.begin(), ranges.end(),
        [](const Range &a, const Range &b) { return a.begin != b.begin ? a.begin < b.begin : a.entry < b.entry; });
    const Range *widest = nullptr;
    for (const Range &r : ranges) {
        if (widest && r.begin < widest->end) {
            auto describe = [&](const Range &x) {
                return x.entry < 0 ? std::string("the central directory")
                                   : "entry " + quoteName(zip.m_entries[static_cast<std::size_t>(x.entry)].name);
            };
            return zipError(ErrorCode::CorruptZip,
                "overlapping records: " + describe(*widest) + " (bytes " + std::to_string(widest->begin) + "-"
                    + std::to_string(widest->end) + ") and " + describe(r) + " (bytes " + std::to_string(r.begin) + "-"
                    + std::to_string(r.end)
                    + ") share bytes; such archives are built to fool scanners or to act as zip bombs",
                path, {}, r.begin);
        }
        if (!widest || r.end > widest->end)
            widest = &r;
    }

    // Duplicate names: find() returns the first by central-directory index; the others are reported.
    zip.m_byName.resize(zip.m_entries.size());
    for (std::size_t i = 0; i < zip.m_byName.size(); ++i)
        zip.m_byName[i] = static_cast<std::uint32_t>(i);
    std::sort(zip.m_byName.begin(), zip.m_byName.end(), [&](std::uint32_t a, std::uint32_t b) {
        const int c = zip.m_entries[a].name.compare(zip.m_entries[b].name);
        return c != 0 ? c < 0 : a < b;
    });
    for (std::size_t i = 0; i < zip.m_byName.size();) {
        std::size_t j = i + 1;
        const std::string &name = zip.m_entries[zip.m_byName[i]].name;
        while (j < zip.m_byName.size() && zip.m_entries[zip.m_byName[j]].name == name)
            ++j;
        if (j - i > 1) {
            std::string indices;
            for (std::size_t k = i; k < j && k < i + 5; ++k)
                indices += (k > i ? ", " : "") + std::to_string(zip.m_byName[k]);
            if (j - i > 5)
                indices += ", ...";
            warnings.add("duplicate zip entry name " + quoteName(name) + ": " + std::to_string(j - i)
                    + " entries (central directory index " + indices
                    + ") share it; the first is used, the others are ignored",
                name, zip.m_entries[zip.m_byName[i + 1]].localHeaderOffset);
        }
        i = j;
    }
    warnings.finish();
    return zip;
}

const ZipEntry *ZipArchive::find(std::string_view name) const
{
    const auto it = std::lower_bound(m_byName.begin(), m_byName.end(), name,
        [&](std::uint32_t i, std::string_view n) { return m_entries[i].name < n; });
    if (it == m_byName.end() || m_entries[*it].name != name)
        return nullptr;
    return &m_entries[*it];
}

namespace {

// The archive's own copy of an entry: callers pass entries around by value, and bounds must come
// from what open() validated, not from a copy someone may have changed.
const ZipEntry *ownEntry(const std::vector<ZipEntry> &entries, const ZipEntry &entry)
{
    if (entry.index >= entries.size())
        return nullptr;
    const ZipEntry &own = entries[entry.index];
    if (own.name != entry.name || own.dataOffset != entry.dataOffset)
        return nullptr;
    return &own;
}

} // namespace

Result<std::span<const std::uint8_t>> ZipArchive::storedData(const ZipEntry &entry) const
{
    const ZipEntry *e = ownEntry(m_entries, entry);
    if (!e)
        return zipError(ErrorCode::BadRecord, "this zip entry does not belong to this archive", m_path, entry.name);
    if (!e->problem.empty())
        return zipError(e->problemCode, e->problem, m_path, e->name, e->localHeaderOffset);
    if (e->method != 0)
        return zipError(ErrorCode::UnsupportedZipFeature,
            "zip entry " + quoteName(e->name) + " is compressed (" + methodName(e->method)
                + "): its bytes cannot be used in place",
            m_path, e->name, e->dataOffset);
    if (!fits(m_file, e->dataOffset, e->size))
        return zipError(ErrorCode::CorruptZip, "zip entry " + quoteName(e->name) + " lies outside the file", m_path,
            e->name, e->dataOffset);
    return m_file.subspan(static_cast<std::size_t>(e->dataOffset), static_cast<std::size_t>(e->size));
}

Result<std::vector<std::uint8_t>> ZipArchive::read(
    const ZipEntry &entry, std::uint64_t maxBytes, std::vector<Warning> *warnings) const
{
    const ZipEntry *e = ownEntry(m_entries, entry);
    if (!e)
        return zipError(ErrorCode::BadRecord, "this zip entry does not belong to this archive", m_path, entry.name);
    if (!e->problem.empty())
        return zipError(e->problemCode, e->problem, m_path, e->name, e->localHeaderOffset);
    // The declared size is checked before anything is allocated.
    if (e->size > maxBytes || e->size >= std::numeric_limits<std::size_t>::max())
        return zipError(ErrorCode::BudgetExceeded,
            "zip entry " + quoteName(e->name) + " is " + std::to_string(e->size)
                + " bytes uncompressed, more than the limit of " + std::to_string(maxBytes) + " bytes for this record",
            m_path, e->name, e->dataOffset);
    if (!fits(m_file, e->dataOffset, e->compressedSize))
        return zipError(ErrorCode::CorruptZip, "zip entry " + quoteName(e->name) + " lies outside the file", m_path,
            e->name, e->dataOffset);
    const Bytes payload
        = m_file.subspan(static_cast<std::size_t>(e->dataOffset), static_cast<std::size_t>(e->compressedSize));

    std::vector<std::uint8_t> out;
    if (e->method == 0) {
        out.assign(payload.begin(), payload.end());
    } else if (e->method == 8) {
        // Raw inflate straight from the mapping. Output grows as it is produced (a declared size is a
        // claim, not a fact) and never beyond declared + 1 bytes: one byte more than declared is
        // enough to prove the entry lies, so a bomb that declares a small size stops right there.
        z_stream zs {};
        if (inflateInit2(&zs, -MAX_WBITS) != Z_OK)
            return zipError(ErrorCode::ReadFailed, "cannot start the deflate decoder", m_path, e->name);
        struct InflateEnd
        {
            z_stream *zs;
            ~InflateEnd() { inflateEnd(zs); }
        } inflateGuard { &zs };
        const std::uint64_t cap = e->size + 1;
        std::uint64_t produced = 0;
        std::uint64_t consumed = 0;
        // Start with as much as the compressed bytes (which are really in the file), then double.
        out.resize(
            static_cast<std::size_t>(std::min<std::uint64_t>(cap, std::max<std::uint64_t>(64 * 1024, payload.size()))));
        for (;;) {
            if (zs.avail_in == 0 && consumed < payload.size()) {
                const std::uint64_t chunk = std::min<std::uint64_t>(payload.size() - consumed, 1u << 30);
                zs.next_in = const_cast<Bytef *>(payload.data() + consumed); // zlib does not write the input
                zs.avail_in = static_cast<uInt>(chunk);
                consumed += chunk;
            }
            if (produced == out.size()) {
                if (out.size() >= cap)
                    return zipError(ErrorCode::CorruptZip,
                        "zip entry " + quoteName(e->name) + " inflates to more than the " + std::to_string(e->size)
                            + " bytes its central directory record declares (a zip bomb or a damaged "
                              "archive); decompression was stopped",
                        m_path, e->name, e->dataOffset);
                out.resize(static_cast<std::size_t>(std::min<std::uint64_t>(cap, out.size() * 2)));
            }
            const std::uint64_t room = std::min<std::uint64_t>(out.size() - produced, UINT_MAX);
            zs.next_out = out.data() + produced;
            zs.avail_out = static_cast<uInt>(room);
            const int rc = inflate(&zs, Z_NO_FLUSH);
            produced += room - zs.avail_out;
            if (rc == Z_STREAM_END)
                break;
            if (rc == Z_OK)
                continue;
            if (rc == Z_BUF_ERROR && (zs.avail_out == 0 || consumed < payload.size()))
                continue; // output full (grow) or more input to feed
            if (rc == Z_BUF_ERROR && zs.avail_in == 0 && consumed == payload.size())
                return zipError(ErrorCode::CorruptZip,
                    "the deflate data of zip entry " + quoteName(e->name) + " ends early, after "
                        + std::to_string(payload.size()) + " compressed and " + std::to_string(produced)
                        + " uncompressed bytes",
                    m_path, e->name, e->dataOffset);
            return zipError(ErrorCode::CorruptZip,
                "the deflate data of zip entry " + quoteName(e->name)
                    + " is corrupt: " + (zs.msg ? zs.msg : "zlib error " + std::to_string(rc)),
                m_path, e->name, e->dataOffset + zs.total_in);
        }
        if (produced > e->size)
            return zipError(ErrorCode::CorruptZip,
                "zip entry " + quoteName(e->name) + " inflates to more than the " + std::to_string(e->size)
                    + " bytes its central directory record declares",
                m_path, e->name, e->dataOffset);
        if (produced != e->size)
            return zipError(ErrorCode::CorruptZip,
                "zip entry " + quoteName(e->name) + " inflates to " + std::to_string(produced)
                    + " bytes, but its central directory record declares " + std::to_string(e->size),
                m_path, e->name, e->dataOffset);
        out.resize(static_cast<std::size_t>(produced));
    } else {
        // open() gives every other method a problem; kept for entries built by hand.
        return zipError(ErrorCode::UnsupportedZipFeature,
            "compression method " + std::to_string(e->method) + " is not supported", m_path, e->name, e->dataOffset);
    }

    const auto crc = static_cast<std::uint32_t>(crc32_z(crc32_z(0, nullptr, 0), out.data(), out.size()));
    if (crc != e->crc32 && warnings)
        warnings->push_back(
            { "CRC-32 mismatch in zip entry " + quoteName(e->name) + ": the archive records " + hex32(e->crc32)
                    + ", the data gives " + hex32(crc) + " (the data is used anyway, as torch does; it may be damaged)",
                e->name, e->dataOffset });
    return out;
}

} // namespace ptscope::core
