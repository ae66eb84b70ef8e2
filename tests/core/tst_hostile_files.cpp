// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// Whole hostile files through openCheckpoint (docs/security-checklist.md, container, legacy and
// tensor-metadata items #1-#27 and #54-#60): each is refused with a specific code, a message that
// says what is wrong and the byte offset where, or opens with the damage reported on the one
// tensor it concerns while every other tensor is still listed. The zip and pickle layers have
// their own, finer tables in tst_zip_archive and tst_unpickler.
#include "checkpoint.h"
#include "tensor_data.h"

#include <QDir>
#include <QFile>
#include <QTest>

#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <optional>

using namespace ptscope::core;

namespace {

using Bytes = std::vector<std::uint8_t>;

QByteArray qb(const std::string &s)
{
    return QByteArray::fromStdString(s);
}

QByteArray qb(const Bytes &b)
{
    return QByteArray(reinterpret_cast<const char *>(b.data()), static_cast<qsizetype>(b.size()));
}

Bytes bytesOf(std::string_view s)
{
    return Bytes(s.begin(), s.end());
}

void put32(Bytes &b, std::uint64_t at, std::uint32_t v)
{
    for (int i = 0; i < 4; ++i)
        b.at(at + i) = static_cast<std::uint8_t>(v >> (8 * i));
}

void le(Bytes &b, std::uint64_t v, int n)
{
    for (int i = 0; i < n; ++i)
        b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

Bytes deflateRaw(const Bytes &in)
{
    z_stream zs {};
    if (deflateInit2(&zs, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return {};
    Bytes out(deflateBound(&zs, static_cast<uLong>(in.size())));
    zs.next_in = const_cast<Bytef *>(in.data());
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = out.data();
    zs.avail_out = static_cast<uInt>(out.size());
    const int rc = deflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return rc == Z_STREAM_END ? out : Bytes {};
}

// ---- A protocol-2 pickle assembler (what torch.save writes, and ways to break it) --------------

class P
{
public:
    P() { bytes = {0x80, 0x02}; }
    P &op(std::uint8_t c)
    {
        bytes.push_back(c);
        return *this;
    }
    P &mark() { return op('('); }
    P &global(const char *module, const char *name)
    {
        op('c');
        text(module);
        op('\n');
        text(name);
        return op('\n');
    }
    P &str(const std::string &s)
    {
        op('X');
        le(bytes, s.size(), 4);
        text(s);
        return *this;
    }
    P &integer(std::int64_t v)
    {
        if (v >= 0 && v < 0x7FFFFFFF) {
            op('J');
            le(bytes, static_cast<std::uint64_t>(v), 4);
            return *this;
        }
        op(0x8A).op(8); // LONG1, 8 bytes
        le(bytes, static_cast<std::uint64_t>(v), 8);
        return *this;
    }
    P &real(double d)
    {
        op('G');
        std::uint64_t u;
        std::memcpy(&u, &d, 8);
        for (int i = 7; i >= 0; --i)
            bytes.push_back(static_cast<std::uint8_t>(u >> (8 * i)));
        return *this;
    }
    P &boolean(bool b) { return op(b ? 0x88 : 0x89); }
    P &ints(std::initializer_list<std::int64_t> values)
    {
        mark();
        for (auto v : values)
            integer(v);
        return op('t');
    }
    P &reduce() { return op('R'); }
    P &stop() { return op('.'); }
    P &storage(const char *cls, const std::string &key, std::int64_t numel)
    {
        mark().str("storage").global("torch", cls).str(key).str("cpu").integer(numel).op('t');
        return op('Q');
    }
    // torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())
    P &tensorV2(const char *cls, const std::string &key, std::int64_t numel, std::int64_t offset,
                std::initializer_list<std::int64_t> size, std::initializer_list<std::int64_t> stride)
    {
        global("torch._utils", "_rebuild_tensor_v2");
        mark().storage(cls, key, numel).integer(offset).ints(size).ints(stride).boolean(false);
        global("collections", "OrderedDict").op(')').reduce();
        return op('t').reduce();
    }
    // A dict {name: <what the callback writes>, ...}
    template<typename F> P &dict(F &&items)
    {
        op('}').mark();
        items(*this);
        return op('u');
    }

    Bytes bytes;

private:
    void text(const std::string &s) { bytes.insert(bytes.end(), s.begin(), s.end()); }
};

// ---- A zip writer: stored members as torch writes them, plus the fields a row damages -------------

struct Member
{
    std::string name;
    Bytes data;                   // written as is
    std::uint16_t method = 0;     // label only: the payload is not compressed here unless `deflate`
    bool deflate = false;         // deflate `data` and label the member 8
    std::uint16_t flags = 0x0800;
    std::optional<std::uint32_t> crc;    // CRC-32 written in both headers instead of the real one
    std::optional<std::uint32_t> size;   // uncompressed size (both headers) instead of the real one
    std::optional<std::string> localName;
};

struct Zip
{
    Bytes bytes;
    std::vector<std::uint64_t> local;   // local header offsets
    std::vector<std::uint64_t> central; // central record offsets
    std::uint64_t eocd = 0;
};

Zip buildZip(const std::vector<Member> &members, const std::string &comment = {})
{
    Zip z;
    Bytes &b = z.bytes;
    struct W
    {
        std::uint32_t crc;
        std::uint64_t compressed, size;
        std::uint16_t method;
    };
    std::vector<W> written;
    for (const Member &m : members) {
        const Bytes payload = m.deflate ? deflateRaw(m.data) : m.data;
        const std::uint16_t method = m.deflate ? 8 : m.method;
        const auto crc = m.crc.value_or(static_cast<std::uint32_t>(crc32_z(0, m.data.data(), m.data.size())));
        const std::string localName = m.localName.value_or(m.name);
        // A stored member's two sizes are one number: an override changes both.
        const std::uint64_t compressed = (!m.deflate && m.method == 0 && m.size) ? *m.size : payload.size();
        z.local.push_back(b.size());
        le(b, 0x04034b50, 4);
        le(b, 20, 2);
        le(b, m.flags, 2);
        le(b, method, 2);
        le(b, 0, 4);
        le(b, crc, 4);
        le(b, compressed, 4);
        le(b, m.size.value_or(static_cast<std::uint32_t>(m.data.size())), 4);
        le(b, localName.size(), 2);
        le(b, 0, 2);
        b.insert(b.end(), localName.begin(), localName.end());
        b.insert(b.end(), payload.begin(), payload.end());
        written.push_back({crc, compressed, m.data.size(), method});
    }
    const std::uint64_t cdOffset = b.size();
    for (std::size_t i = 0; i < members.size(); ++i) {
        const Member &m = members[i];
        z.central.push_back(b.size());
        le(b, 0x02014b50, 4);
        le(b, 20, 2);
        le(b, 20, 2);
        le(b, m.flags, 2);
        le(b, written[i].method, 2);
        le(b, 0, 4);
        le(b, written[i].crc, 4);
        le(b, written[i].compressed, 4);
        le(b, m.size.value_or(static_cast<std::uint32_t>(written[i].size)), 4);
        le(b, m.name.size(), 2);
        le(b, 0, 2);
        le(b, 0, 2);
        le(b, 0, 2);
        le(b, 0, 2);
        le(b, 0, 4);
        le(b, z.local[i], 4);
        b.insert(b.end(), m.name.begin(), m.name.end());
    }
    const std::uint64_t cdSize = b.size() - cdOffset;
    z.eocd = b.size();
    le(b, 0x06054b50, 4);
    le(b, 0, 4);
    le(b, members.size(), 2);
    le(b, members.size(), 2);
    le(b, cdSize, 4);
    le(b, cdOffset, 4);
    le(b, comment.size(), 2);
    b.insert(b.end(), comment.begin(), comment.end());
    return z;
}

Member stored(std::string name, Bytes data)
{
    Member m;
    m.name = std::move(name);
    m.data = std::move(data);
    return m;
}

Bytes floats(int n)
{
    Bytes b;
    for (int i = 0; i < n; ++i) {
        const float f = static_cast<float>(i) + 0.5f;
        std::uint32_t u;
        std::memcpy(&u, &f, 4);
        le(b, u, 4);
    }
    return b;
}

// {"good": 4 floats on storage 0, "bad": written by `bad`} as data.pkl, with the records a torch
// 1.13 archive holds. Rows damage the pickle (through `bad`) or the members.
Bytes twoTensorPickle(const std::function<void(P &)> &bad)
{
    P p;
    p.dict([&](P &d) {
        d.str("good").tensorV2("FloatStorage", "0", 4, 0, {4}, {1});
        d.str("bad");
        bad(d);
    });
    p.stop();
    return p.bytes;
}

std::vector<Member> twoTensorMembers(const Bytes &pickle, Bytes second = floats(4))
{
    return {stored("archive/data.pkl", pickle), stored("archive/data/0", floats(4)),
            stored("archive/data/1", std::move(second)), stored("archive/version", bytesOf("3\n"))};
}

void goodSecond(P &p)
{
    p.tensorV2("FloatStorage", "1", 4, 0, {2, 2}, {2, 1});
}

// ---- Legacy (pre-zip) streams: five pickles, then each raw storage as [int64 count][bytes] ------

Bytes pickleOf(const std::function<void(P &)> &body)
{
    P p;
    body(p);
    p.stop();
    return p.bytes;
}

const Bytes kLegacyMagic = pickleOf([](P &p) {
    p.op(0x8A).op(10); // LONG1 0x1950A86A20F9469CFC6C
    for (std::uint8_t c : {0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19})
        p.op(c);
});

struct Legacy
{
    Bytes magic = kLegacyMagic;
    Bytes protocol = pickleOf([](P &p) { p.integer(1001); });
    Bytes sysInfo = pickleOf([](P &p) {
        p.op('}').mark().str("protocol_version").integer(1001).str("little_endian").boolean(true);
        p.op('u');
    });
    Bytes object;
    Bytes keys;
    Bytes raw;

    Bytes bytes() const
    {
        Bytes b;
        for (const Bytes *part : {&magic, &protocol, &sysInfo, &object, &keys, &raw})
            b.insert(b.end(), part->begin(), part->end());
        return b;
    }
    std::uint64_t rawOffset() const
    {
        return magic.size() + protocol.size() + sysInfo.size() + object.size() + keys.size();
    }
};

// {"good": 4 floats (key "0"), "bad": 4 floats (key "1")} with both raw storages.
Legacy legacyTwoTensors()
{
    Legacy l;
    l.object = pickleOf([](P &p) {
        p.dict([](P &d) {
            d.str("good").tensorV2("FloatStorage", "0", 4, 0, {4}, {1});
            d.str("bad").tensorV2("FloatStorage", "1", 4, 0, {2, 2}, {2, 1});
        });
    });
    l.keys = pickleOf([](P &p) { p.mark().str("0").str("1").op('l'); });
    for (int k = 0; k < 2; ++k) {
        le(l.raw, 4, 8);
        const Bytes f = floats(4);
        l.raw.insert(l.raw.end(), f.begin(), f.end());
    }
    return l;
}

// ---- Helpers ----------------------------------------------------------------------------------

Result<std::shared_ptr<const Checkpoint>> openBytes(Bytes bytes, const OpenOptions &options = {})
{
    return openCheckpoint(MappedFile::fromBuffer(std::move(bytes), "hostile.pt"), options);
}

const TensorInfo *tensorAt(const Checkpoint &cp, const std::string &key)
{
    for (const TensorRef &r : cp.tensorRefs)
        if (r.path.size() == 1 && r.path[0] == key)
            return &cp.tensors[r.tensor];
    return nullptr;
}

QByteArray allWarnings(const Checkpoint &cp)
{
    QByteArray s;
    for (const Warning &w : cp.warnings)
        s += qb(w.toString()) + '\n';
    return s;
}

const Warning *warningWith(const Checkpoint &cp, const std::string &part)
{
    for (const Warning &w : cp.warnings)
        if (w.message.find(part) != std::string::npos)
            return &w;
    return nullptr;
}

// The tensor every "one bad tensor" row keeps intact: listed, valid, bytes located and readable.
void verifyGoodTensor(const Checkpoint &cp)
{
    const TensorInfo *good = tensorAt(cp, "good");
    QVERIFY2(good, "the intact tensor is no longer listed");
    QVERIFY2(good->problem.empty(), good->problem.c_str());
    QCOMPARE(good->shape, std::vector<std::int64_t>{4});
    QVERIFY(good->storage >= 0);
    const StorageInfo &s = cp.storages[static_cast<std::size_t>(good->storage)];
    QVERIFY2(s.problem.empty(), s.problem.c_str());
    QVERIFY(s.dataOffset.has_value());
    const auto index = static_cast<std::uint32_t>(good - cp.tensors.data());
    auto reader = TensorElementReader::open(cp, index);
    QVERIFY2(reader, reader ? "" : reader.error().toString().c_str());
    double out[4] = {};
    QCOMPARE((*reader)->read(out), std::size_t(4));
    QCOMPARE(out[3], 3.5);
}

// Caps the address space while it lives, so a row proves the reader does not allocate what a file
// declares. Sanitizers reserve terabytes of shadow memory: no cap there.
class AddressSpaceCap
{
public:
    explicit AddressSpaceCap(std::uint64_t headroom)
    {
#if defined(__SANITIZE_ADDRESS__)
        (void)headroom;
#else
        if (::getrlimit(RLIMIT_AS, &m_old) != 0)
            return;
        QFile statm(QStringLiteral("/proc/self/statm"));
        if (!statm.open(QIODevice::ReadOnly))
            return;
        const std::uint64_t pages = statm.readAll().split(' ').value(0).toULongLong();
        rlimit capped = m_old;
        capped.rlim_cur = pages * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)) + headroom;
        m_active = ::setrlimit(RLIMIT_AS, &capped) == 0;
#endif
    }
    ~AddressSpaceCap()
    {
        if (m_active)
            ::setrlimit(RLIMIT_AS, &m_old);
    }

private:
    rlimit m_old {};
    bool m_active = false;
};

constexpr qint64 kAnyOffset = -1;
constexpr qint64 kNoOffset = -2;

} // namespace

class TestHostileFiles : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void refused_data();
    void refused();
    void oneBadTensor_data();
    void oneBadTensor();
    void legacyOneBadStorage_data();
    void legacyOneBadStorage();
    void containerFindings_data();
    void containerFindings();
    void torchScriptCodeIsNotRun();
    void nestedArchiveIsNotOpened();
    void declaredHugePickleIsNotAllocated();
    void legacyPicklesHaveTheSameBudgets();
    void legacyMagicMustBeTheLiteral();
};

// ================================ refused files ================================

void TestHostileFiles::refused_data()
{
    // Files openCheckpoint must refuse: the code, a part of the message, and the byte offset
    // (kAnyOffset: present; kNoOffset: none is meaningful, e.g. an empty file).
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<int>("code");
    QTest::addColumn<QByteArray>("messagePart");
    QTest::addColumn<qint64>("offset");
    auto row = [](const char *name, const Bytes &b, ErrorCode code, const char *part, qint64 offset) {
        QTest::newRow(name) << qb(b) << int(code) << QByteArray(part) << offset;
    };
    const Bytes pickle = twoTensorPickle(goodSecond);
    const Zip good = buildZip(twoTensorMembers(pickle));

    row("01 empty file", {}, ErrorCode::EmptyFile, "empty", kNoOffset);
    row("01 one byte of a pickle", Bytes {0x80}, ErrorCode::Truncated, "", kNoOffset);
    row("01 three bytes of the legacy magic", Bytes {0x80, 0x02, 0x8A}, ErrorCode::Truncated, "", kNoOffset);
    static const char png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";
    row("02 PNG renamed .pt", Bytes(png, png + sizeof png - 1), ErrorCode::UnknownFormat, "PNG", kNoOffset);
    {
        Bytes cut(good.bytes.begin(), good.bytes.end() - 22);
        row("03 zip without its end record (last 22 bytes cut)", cut, ErrorCode::Truncated, "zip directory",
            qint64(cut.size()));
        Bytes b = good.bytes;
        put32(b, good.eocd + 16, 0x7FFFFFF0);
        row("04 central directory offset past EOF", b, ErrorCode::CorruptZip, "past the end of the file", kAnyOffset);
        Bytes s = good.bytes;
        put32(s, good.eocd + 12, 0x7FFFFFF0);
        row("04 central directory size past EOF", s, ErrorCode::CorruptZip, "", kAnyOffset);
    }
    {
        // 14: data.pkl's stored size larger than the file.
        std::vector<Member> m = twoTensorMembers(pickle);
        m[0].size = 100000;
        row("14 data.pkl stored size larger than the file", buildZip(m).bytes, ErrorCode::CorruptZip,
            "past the end of the file", kAnyOffset);
    }
    {
        // 12: two central records pointing at one local header.
        Zip z = buildZip(twoTensorMembers(pickle));
        Bytes b = z.bytes;
        put32(b, z.central[2] + 42, static_cast<std::uint32_t>(z.local[1]));
        row("12 two entries share one local header", b, ErrorCode::CorruptZip, "overlapping records", kAnyOffset);
    }
    {
        // 19: the first entry is not inside a folder (torch: "file in archive is not in a subdirectory").
        std::vector<Member> m = twoTensorMembers(pickle);
        m[0].name = "data.pkl";
        row("19 first entry at the top level", buildZip(m).bytes, ErrorCode::UnsupportedFormat,
            "is not inside a folder", kNoOffset);
        std::vector<Member> n = {stored("archive/version", bytesOf("3\n")), stored("archive/data/0", floats(4))};
        row("19 no data.pkl in the folder", buildZip(n).bytes, ErrorCode::UnsupportedFormat, "has no archive/data.pkl",
            kNoOffset);
    }
    {
        // 18 on data.pkl itself: nothing to show without it.
        std::vector<Member> m = twoTensorMembers(pickle);
        m[0].method = 12;
        row("18 data.pkl compressed with bzip2", buildZip(m).bytes, ErrorCode::UnsupportedZipFeature, "bzip2",
            kAnyOffset);
        std::vector<Member> e = twoTensorMembers(pickle);
        e[0].flags = 0x0801;
        row("09 data.pkl encrypted (flag 0x1)", buildZip(e).bytes, ErrorCode::UnsupportedZipFeature, "encrypted",
            kAnyOffset);
    }
    {
        // A damaged pickle inside a good archive: the error is at the file offset of the opcode.
        Bytes bad = pickle;
        bad[bad.size() - 1] = 0xFF; // STOP replaced by an unknown opcode
        Zip z = buildZip(twoTensorMembers(bad));
        const qint64 at = qint64(z.local[0] + 30 + std::string("archive/data.pkl").size() + bad.size() - 1);
        row("28 unknown opcode in data.pkl (file offset)", z.bytes, ErrorCode::PickleError, "0xff", at);
    }

    // Legacy streams.
    {
        Legacy p = legacyTwoTensors();
        p.protocol = pickleOf([](P &q) { q.integer(1000); });
        row("24 legacy protocol version 1000", p.bytes(), ErrorCode::BadRecord, "protocol version", kAnyOffset);
        Legacy k = legacyTwoTensors();
        k.keys = pickleOf([](P &q) { q.str("0"); });
        row("24 legacy storage keys not a list", k.bytes(), ErrorCode::BadRecord, "not a list", kAnyOffset);
        Legacy u = legacyTwoTensors();
        u.keys = pickleOf([](P &q) { q.mark().str("0").str("7").op('l'); });
        row("24 legacy raw storage the pickle never names", u.bytes(), ErrorCode::BadRecord,
            "is not referenced by the pickle", kAnyOffset);
        Legacy t = legacyTwoTensors();
        const Bytes whole = t.bytes();
        const Bytes cut(whole.begin(), whole.end() - 5);
        row("24 legacy stream cut inside a raw storage", cut, ErrorCode::Truncated, "ends inside raw storage 1",
            qint64(t.rawOffset() + 8 + 16 + 8));
        Legacy n = legacyTwoTensors();
        put32(n.raw, 0, 0xFFFFFFFF);
        put32(n.raw, 4, 0xFFFFFFFF); // count -1
        row("24 legacy raw storage count negative", n.bytes(), ErrorCode::BadRecord, "impossible element count",
            qint64(n.rawOffset()));
        Legacy o = legacyTwoTensors();
        put32(o.raw, 0, 0x00000001);
        put32(o.raw, 4, 0x40000000); // 2^62 + 1 floats: the byte count overflows
        row("24 legacy raw storage byte count overflows", o.bytes(), ErrorCode::BadRecord, "impossible element count",
            qint64(o.rawOffset()));
        Legacy h = legacyTwoTensors();
        put32(h.raw, 0, 0x10000000); // 2^28 floats = 1 GiB, far more than remains
        row("24 legacy raw storage larger than the file", h.bytes(), ErrorCode::Truncated, "needs 1073741824 bytes",
            qint64(h.rawOffset() + 8));
        Legacy s = legacyTwoTensors();
        s.sysInfo.clear();
        s.object.clear();
        s.keys.clear();
        s.raw.clear();
        row("24 legacy stream ending after the protocol", s.bytes(), ErrorCode::Truncated, "sys_info",
            qint64(s.magic.size() + s.protocol.size()));
    }
    {
        // 26: the pre-0.4 tar layout.
        QFile f(QStringLiteral(PTSCOPE_TEST_DATA_DIR "/fixtures/error_tar_pre_0_4.pt"));
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray tar = f.readAll();
        row("26 legacy tar layout (torch < 0.4)", Bytes(tar.begin(), tar.end()), ErrorCode::UnsupportedFormat, "tar",
            kNoOffset);
    }
}

void TestHostileFiles::refused()
{
    QFETCH(QByteArray, bytes);
    QFETCH(int, code);
    QFETCH(QByteArray, messagePart);
    QFETCH(qint64, offset);
    auto cp = openBytes(Bytes(bytes.begin(), bytes.end()));
    QVERIFY2(!cp, "a hostile file was accepted");
    const Error &e = cp.error();
    QVERIFY2(e.code == static_cast<ErrorCode>(code),
             (std::string(errorCodeName(e.code)) + ": " + e.toString()).c_str());
    QVERIFY2(qb(e.message).contains(messagePart), e.message.c_str());
    QVERIFY(e.message.size() > 15);
    QCOMPARE(qb(e.path), QByteArray("hostile.pt"));
    if (offset == kAnyOffset) {
        QVERIFY2(e.offset.has_value(), ("no byte offset: " + e.toString()).c_str());
        QVERIFY(*e.offset <= std::uint64_t(bytes.size()));
    } else if (offset >= 0) {
        QVERIFY2(e.offset.has_value(), ("no byte offset: " + e.toString()).c_str());
        QCOMPARE(qint64(*e.offset), offset);
    }
    // The one-line form names the file and the offset.
    const QByteArray line = qb(e.toString());
    QVERIFY(line.contains("hostile.pt"));
    if (e.offset)
        QVERIFY2(line.contains(QByteArray::number(qulonglong(*e.offset))), line.constData());
}

// ================================ one bad tensor among good ones ================================

void TestHostileFiles::oneBadTensor_data()
{
    // Zip archives that open, where "bad" is damaged and "good" is not. The damage is reported on
    // "bad" (its tensor or storage problem, and a warning) and "good" is listed and readable.
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<QByteArray>("problemPart");
    // warning: 0 the damage is on the storage only (a storage problem), 1 a warning says it too,
    // 2 a warning says it with the byte offset of the construct in the file.
    QTest::addColumn<int>("warning");
    auto row = [](const char *name, const Bytes &b, const char *part, int warning) {
        QTest::newRow(name) << qb(b) << QByteArray(part) << warning;
    };
    const Bytes pickle = twoTensorPickle(goodSecond);
    {
        std::vector<Member> m = twoTensorMembers(pickle);
        m[2].flags = 0x0801;
        row("09 storage record encrypted (flag 0x1)", buildZip(m).bytes, "encrypted", 1);
        std::vector<Member> p = twoTensorMembers(pickle);
        p[2].flags = 0x0820;
        row("09 storage record with patch data (flag 0x20)", buildZip(p).bytes, "patch", 1);
        std::vector<Member> b = twoTensorMembers(pickle);
        b[2].method = 12;
        row("18 storage record compressed with bzip2", buildZip(b).bytes, "bzip2", 1);
        std::vector<Member> z = twoTensorMembers(pickle);
        z[2].method = 93;
        row("18 storage record compressed with zstd", buildZip(z).bytes, "zstd", 1);
        std::vector<Member> d = twoTensorMembers(pickle);
        d[2].deflate = true;
        row("18 storage record deflated (torch never compresses them)", buildZip(d).bytes, "is compressed", 0);
    }
    {
        // 54: the pickle names key "1"; the archive has no archive/data/1.
        std::vector<Member> m = twoTensorMembers(pickle);
        m.erase(m.begin() + 2);
        row("54 storage key names no zip member", buildZip(m).bytes, "archive/data/1 is missing", 2);
        // 55: the pickle declares 5 floats, the record holds 4.
        const Bytes five = twoTensorPickle([](P &p) { p.tensorV2("FloatStorage", "1", 5, 0, {2, 2}, {2, 1}); });
        row("55 pickle numel differs from the record's size", buildZip(twoTensorMembers(five)).bytes,
            "has 16 bytes, the pickle declares 20", 2);
        // 56: numel * itemsize overflows 64 bits.
        const Bytes huge = twoTensorPickle(
            [](P &p) { p.tensorV2("DoubleStorage", "1", 0x4000000000000001, 0, {2, 2}, {2, 1}); });
        row("56 storage numel * itemsize overflows", buildZip(twoTensorMembers(huge)).bytes, "overflows", 2);
        const Bytes offsetOverflow = twoTensorPickle(
            [](P &p) { p.tensorV2("FloatStorage", "1", 4, 0x4000000000000001, {2, 2}, {2, 1}); });
        row("56 storage offset * itemsize overflows", buildZip(twoTensorMembers(offsetOverflow)).bytes,
            "reaches past the end", 2);
    }
    {
        // 57 and 58: the views torch would refuse.
        auto view = [&](const char *name, std::int64_t offset, std::initializer_list<std::int64_t> size,
                        std::initializer_list<std::int64_t> stride, const char *part) {
            const Bytes p = twoTensorPickle([&](P &q) { q.tensorV2("FloatStorage", "1", 4, offset, size, stride); });
            row(name, buildZip(twoTensorMembers(p)).bytes, part, 2);
        };
        view("57 negative size", 0, {-2, 2}, {2, 1}, "negative size");
        view("57 negative stride", 3, {2}, {-1}, "negative stride");
        view("57 negative storage offset", -1, {2}, {1}, "negative storage offset");
        view("57 rank of size differs from rank of stride", 0, {2, 2}, {1}, "different ranks");
        view("58 view extent past the storage", 1, {2, 2}, {2, 1}, "reaches past the end of storage 1");
        view("58 stride reaching past the storage", 0, {2, 2}, {3, 1}, "reaches past the end");
        view("58 extent overflows 64 bits", 0, {3}, {0x4000000000000001}, "reaches past the end");
    }
    {
        // 59: quantized tensors get the same view check, and per-channel parameters must match the axis.
        const Bytes qstride = twoTensorPickle([](P &p) {
            p.global("torch._utils", "_rebuild_qtensor").mark().storage("QUInt8Storage", "1", 16).integer(0);
            p.ints({4, 4}).ints({8, 1}).mark().global("torch", "per_tensor_affine").real(0.5).integer(3).op('t');
            p.boolean(false).global("collections", "OrderedDict").op(')').reduce().op('t').reduce();
        });
        row("59 quantized tensor whose stride reaches past its storage", buildZip(twoTensorMembers(qstride, Bytes(16)))
            .bytes, "reaches past the end", 2);
        auto perChannel = [](std::int64_t axis, int scales) {
            return twoTensorPickle([=](P &p) {
                p.global("torch._utils", "_rebuild_qtensor").mark().storage("QInt8Storage", "1", 16).integer(0);
                p.ints({4, 4}).ints({4, 1}).mark().global("torch", "per_channel_affine");
                p.global("torch._utils", "_rebuild_tensor_v2").mark().storage("DoubleStorage", "2", scales);
                p.integer(0).ints({scales}).ints({1}).boolean(false);
                p.global("collections", "OrderedDict").op(')').reduce().op('t').reduce();
                p.global("torch._utils", "_rebuild_tensor_v2").mark().storage("LongStorage", "3", scales);
                p.integer(0).ints({scales}).ints({1}).boolean(false);
                p.global("collections", "OrderedDict").op(')').reduce().op('t').reduce();
                p.integer(axis).op('t');
                p.boolean(false).global("collections", "OrderedDict").op(')').reduce().op('t').reduce();
            });
        };
        auto members = [](const Bytes &pk, int scales) {
            std::vector<Member> m = twoTensorMembers(pk, Bytes(16));
            m.push_back(stored("archive/data/2", Bytes(std::size_t(8 * scales))));
            m.push_back(stored("archive/data/3", Bytes(std::size_t(8 * scales))));
            return m;
        };
        row("59 per-channel scales shorter than the axis", buildZip(members(perChannel(0, 3), 3)).bytes,
            "3 scales for axis 0 of size 4", 2);
        row("59 per-channel axis out of range", buildZip(members(perChannel(5, 4), 4)).bytes, "axis 5", 2);
    }
    {
        // 60: a storage class torch does not have.
        const Bytes evil = twoTensorPickle([](P &p) { p.tensorV2("EvilStorage", "1", 4, 0, {2, 2}, {2, 1}); });
        row("60 unknown storage class", buildZip(twoTensorMembers(evil)).bytes, "unknown storage type 'EvilStorage'",
            2);
    }
}

void TestHostileFiles::oneBadTensor()
{
    QFETCH(QByteArray, bytes);
    QFETCH(QByteArray, problemPart);
    QFETCH(int, warning);
    auto result = openBytes(Bytes(bytes.begin(), bytes.end()));
    QVERIFY2(result, result ? "" : result.error().toString().c_str());
    const Checkpoint &cp = **result;
    verifyGoodTensor(cp);
    const TensorInfo *bad = tensorAt(cp, "bad");
    QVERIFY2(bad, "the damaged tensor is not listed");
    // What a front end shows for it: the tensor's problem and its storage's.
    std::string problem = bad->problem;
    if (bad->storage >= 0)
        problem += " | " + cp.storages[static_cast<std::size_t>(bad->storage)].problem;
    QVERIFY2(qb(problem).contains(problemPart), ("problem: '" + problem + "'").c_str());
    if (warning > 0) {
        const Warning *w = nullptr;
        for (const Warning &x : cp.warnings)
            if (qb(x.message).contains(problemPart))
                w = &x;
        QVERIFY2(w, ("no warning says '" + problemPart.toStdString() + "':\n" + allWarnings(cp).toStdString()).c_str());
        if (warning == 2) {
            QVERIFY2(w->offset.has_value(), ("no byte offset: " + w->toString()).c_str());
            QVERIFY(*w->offset < cp.fileSize);
        }
    }
    // Its bytes are never offered for reading.
    const auto index = static_cast<std::uint32_t>(bad - cp.tensors.data());
    QVERIFY2(!TensorElementReader::open(cp, index), "the damaged tensor's bytes were offered for reading");
}

void TestHostileFiles::legacyOneBadStorage_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<QByteArray>("problemPart");
    {
        // 55 in the legacy layout: the raw storage holds 3 elements, the pickle declared 4.
        Legacy l = legacyTwoTensors();
        l.raw.resize(l.raw.size() - 16 - 8);
        le(l.raw, 3, 8);
        const Bytes f = floats(3);
        l.raw.insert(l.raw.end(), f.begin(), f.end());
        QTest::newRow("55 legacy raw storage count differs from the pickle") << qb(l.bytes())
                                                                             << QByteArray("wrong byte size");
    }
    {
        // 54 in the legacy layout: the key list names only storage 0.
        Legacy l = legacyTwoTensors();
        l.keys = pickleOf([](P &p) { p.mark().str("0").op('l'); });
        l.raw.resize(8 + 16);
        QTest::newRow("54 legacy storage without raw data") << qb(l.bytes()) << QByteArray("no raw data");
    }
    {
        Legacy l = legacyTwoTensors();
        l.object = pickleOf([](P &p) {
            p.dict([](P &d) {
                d.str("good").tensorV2("FloatStorage", "0", 4, 0, {4}, {1});
                d.str("bad").tensorV2("FloatStorage", "1", 4, 2, {2, 2}, {2, 1});
            });
        });
        QTest::newRow("58 legacy view past its storage") << qb(l.bytes()) << QByteArray("reaches past the end");
    }
}

void TestHostileFiles::legacyOneBadStorage()
{
    QFETCH(QByteArray, bytes);
    QFETCH(QByteArray, problemPart);
    auto result = openBytes(Bytes(bytes.begin(), bytes.end()));
    QVERIFY2(result, result ? "" : result.error().toString().c_str());
    const Checkpoint &cp = **result;
    QCOMPARE(cp.format, FileFormat::TorchLegacy);
    verifyGoodTensor(cp);
    const TensorInfo *bad = tensorAt(cp, "bad");
    QVERIFY(bad);
    std::string problem = bad->problem;
    if (problem.empty() && bad->storage >= 0)
        problem = cp.storages[static_cast<std::size_t>(bad->storage)].problem;
    QVERIFY2(qb(problem).contains(problemPart), ("problem: '" + problem + "'").c_str());
    QVERIFY(!TensorElementReader::open(cp, static_cast<std::uint32_t>(bad - cp.tensors.data())));
}

// ================================ container findings ================================

void TestHostileFiles::containerFindings_data()
{
    // Archives torch would read (or refuse only for its own reasons) where ptscope shows the
    // content and reports what is odd. Both tensors stay intact in every row.
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<QByteArray>("warningPart");
    const Bytes pickle = twoTensorPickle(goodSecond);
    auto row = [](const char *name, const Bytes &b, const char *part) {
        QTest::newRow(name) << qb(b) << QByteArray(part);
    };
    {
        std::vector<Member> m = twoTensorMembers(pickle);
        m[0].localName = "archive/evil.pkl";
        row("08 local header name differs from the central directory", buildZip(m).bytes,
            "central directory name is used");
        std::vector<Member> c = twoTensorMembers(pickle);
        c[0].crc = 0xDEADBEEF;
        row("10 CRC mismatch on data.pkl", buildZip(c).bytes, "CRC");
        std::vector<Member> d = twoTensorMembers(pickle);
        P evil;
        evil.global("os", "system").mark().str("echo pwned").op('t').reduce().stop();
        d.push_back(stored("archive/data.pkl", evil.bytes));
        row("11 duplicate data.pkl (the first is read, as miniz does)", buildZip(d).bytes, "duplicate");
        row("16 64 KiB archive comment", buildZip(twoTensorMembers(pickle), std::string(65535, 'c')).bytes, "");
        std::vector<Member> n = twoTensorMembers(pickle);
        n.push_back(stored("archive/../../etc/passwd", bytesOf("root:x:0:0")));
        n.push_back(stored(std::string("archive/nul\0name", 16), bytesOf("x")));
        row("17 names with ../ and NUL bytes", buildZip(n).bytes, "");
        std::vector<Member> o = twoTensorMembers(pickle);
        o.push_back(stored("other/data.pkl", bytesOf("\x80\x02N.")));
        row("19 an entry outside the archive folder", buildZip(o).bytes, "outside the archive folder 'archive/'");
    }
    {
        std::vector<Member> m = twoTensorMembers(pickle);
        m.pop_back();
        row("20 no version record", buildZip(m).bytes, "no version record");
        std::vector<Member> t = twoTensorMembers(pickle);
        t.back().data = bytesOf("three\n");
        row("20 version record not a number", buildZip(t).bytes, "not a number");
        std::vector<Member> r = twoTensorMembers(pickle);
        r.back().data = bytesOf("99\n");
        row("20 version out of range", buildZip(r).bytes, "format version 99 is outside 1..10");
        std::vector<Member> h = twoTensorMembers(pickle);
        h.back().data = Bytes(5000, '3');
        row("20 version record of 5000 bytes", buildZip(h).bytes, "no version record");
    }
    {
        // 22: another pickle beside data.pkl (protocol 0, no extension) is listed, never run.
        std::vector<Member> m = twoTensorMembers(pickle);
        m.push_back(stored("archive/data/extra", bytesOf("cos\nsystem\n(S'echo pwned'\ntR.")));
        row("22 a protocol-0 pickle member beside data.pkl", buildZip(m).bytes, "");
    }
}

void TestHostileFiles::containerFindings()
{
    QFETCH(QByteArray, bytes);
    QFETCH(QByteArray, warningPart);
    auto result = openBytes(Bytes(bytes.begin(), bytes.end()));
    QVERIFY2(result, result ? "" : result.error().toString().c_str());
    const Checkpoint &cp = **result;
    QCOMPARE(cp.format, FileFormat::TorchZip);
    verifyGoodTensor(cp);
    const TensorInfo *second = tensorAt(cp, "bad");
    QVERIFY(second);
    QVERIFY2(second->problem.empty(), second->problem.c_str());
    QCOMPARE(second->shape, (std::vector<std::int64_t>{2, 2}));
    if (!warningPart.isEmpty())
        QVERIFY2(warningWith(cp, warningPart.toStdString()), allWarnings(cp).constData());
    // Every member is listed as the central directory names it, and nothing outside the torch
    // globals was imported or resolved: the only globals are the ones data.pkl names.
    for (const GlobalUse &g : cp.globals)
        QVERIFY2(g.module == "torch" || g.module == "torch._utils" || g.module == "collections",
                 (g.module + "." + g.name).c_str());
    QVERIFY(cp.records.size() >= 3);
}

void TestHostileFiles::torchScriptCodeIsNotRun()
{
    // 21: a TorchScript archive is recognised as such; its code files are listed and read as
    // text for parameter names, never run (they contain Python that torch would compile).
    auto result = openCheckpoint(PTSCOPE_TEST_DATA_DIR "/fixtures/torchscript_scripted.pt");
    QVERIFY2(result, result ? "" : result.error().toString().c_str());
    const Checkpoint &cp = **result;
    QCOMPARE(cp.format, FileFormat::TorchScript);
    QCOMPARE(QByteArray(formatName(cp.format)), QByteArray("torchscript"));
    const bool hasCode = std::any_of(cp.records.begin(), cp.records.end(),
                                     [](const ZipRecordInfo &r) { return r.name.find("/code/") != std::string::npos; });
    QVERIFY(hasCode);
    QVERIFY(!cp.scriptClasses.empty());
}

void TestHostileFiles::nestedArchiveIsNotOpened()
{
    // 23: a zip inside the archive (here a whole second checkpoint) is listed as a member and not
    // recursed into: its tensors do not appear.
    const Bytes pickle = twoTensorPickle(goodSecond);
    const Bytes inner = buildZip(twoTensorMembers(pickle)).bytes;
    std::vector<Member> m = twoTensorMembers(pickle);
    m.push_back(stored("archive/data/inner.zip", inner));
    auto result = openBytes(buildZip(m).bytes);
    QVERIFY2(result, result ? "" : result.error().toString().c_str());
    const Checkpoint &cp = **result;
    QCOMPARE(cp.tensors.size(), std::size_t(2));
    QCOMPARE(cp.storages.size(), std::size_t(2));
    const bool listed = std::any_of(cp.records.begin(), cp.records.end(), [&](const ZipRecordInfo &r) {
        return r.name == "archive/data/inner.zip" && r.size == inner.size();
    });
    QVERIFY(listed);
}

void TestHostileFiles::declaredHugePickleIsNotAllocated()
{
    // 13: data.pkl deflated, declaring 3 GiB. Refused against the pickle budget before anything is
    // allocated (the address space is capped well below 3 GiB while it runs), with the offset of
    // the member; and with a budget that allows it, the output grows only as real data comes.
    const Bytes pickle = twoTensorPickle(goodSecond);
    std::vector<Member> m = twoTensorMembers(pickle);
    m[0].deflate = true;
    m[0].size = 0xC0000000u; // 3 GiB
    const Zip z = buildZip(m);
    AddressSpaceCap cap(512u << 20);
    auto refused = openBytes(z.bytes);
    QVERIFY(!refused);
    QCOMPARE(QByteArray(errorCodeName(refused.error().code)), QByteArray(errorCodeName(ErrorCode::BudgetExceeded)));
    QVERIFY2(qb(refused.error().message).contains("more than the pickle budget"), refused.error().message.c_str());
    QVERIFY(refused.error().offset.has_value());
    QCOMPARE(qb(refused.error().where), QByteArray("archive/data.pkl"));
    OpenOptions generous;
    generous.pickleLimits.maxPickleBytes = 4ull << 30;
    auto inflated = openBytes(z.bytes, generous);
    QVERIFY(!inflated);
    QVERIFY2(qb(inflated.error().message).contains("inflates to"), inflated.error().message.c_str());
}

void TestHostileFiles::legacyPicklesHaveTheSameBudgets()
{
    // 24: each of the legacy stream's pickles runs under the same budgets as data.pkl: an object
    // pickle of 5000 values against a budget of 1000 is refused, at an offset inside that pickle.
    Legacy l = legacyTwoTensors();
    l.object = pickleOf([](P &p) {
        p.op(']').mark();
        for (int i = 0; i < 5000; ++i)
            p.integer(i);
        p.op('e');
    });
    l.keys = pickleOf([](P &p) { p.op(']'); });
    l.raw.clear();
    OpenOptions tight;
    tight.pickleLimits.maxValues = 1000;
    auto r = openBytes(l.bytes(), tight);
    QVERIFY(!r);
    QCOMPARE(QByteArray(errorCodeName(r.error().code)), QByteArray(errorCodeName(ErrorCode::BudgetExceeded)));
    QVERIFY(r.error().offset.has_value());
    const std::uint64_t objectStart = l.magic.size() + l.protocol.size() + l.sysInfo.size();
    QVERIFY(*r.error().offset >= objectStart);
    QVERIFY(*r.error().offset < objectStart + l.object.size());
    QVERIFY2(qb(r.error().where).contains("object"), r.error().where.c_str());
    // The same file within the default budgets opens.
    auto ok = openBytes(l.bytes());
    QVERIFY2(ok, ok ? "" : ok.error().toString().c_str());
}

void TestHostileFiles::legacyMagicMustBeTheLiteral()
{
    // 24/25: a stream is read as legacy torch.save only when it starts with the magic number as a
    // literal pickle (PROTO 2, LONG1 0x1950a86a20f9469cfc6c, STOP). Another number, or the magic
    // computed by REDUCE, is a plain pickle: nothing of it is taken as storages, the call is listed
    // as a global to flag, and the rest of the file is reported as trailing bytes.
    Legacy other = legacyTwoTensors();
    other.magic = pickleOf([](P &p) { p.integer(42); });
    Legacy computed = legacyTwoTensors();
    computed.magic = pickleOf([](P &p) {
        p.op(0x8A).op(10); // the literal, popped, then int("119547037146038801333356")
        for (std::uint8_t c : {0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19})
            p.op(c);
        p.op('0');
        p.global("builtins", "int").mark().str("119547037146038801333356").op('t').reduce();
    });
    for (const Legacy *l : {&other, &computed}) {
        auto r = openBytes(l->bytes());
        QVERIFY2(r, r ? "" : r.error().toString().c_str());
        const Checkpoint &cp = **r;
        QCOMPARE(cp.format, FileFormat::Pickle);
        QVERIFY(cp.tensors.empty());
        QVERIFY(cp.storages.empty());
        const Warning *trailing = warningWith(cp, "bytes follow the pickle's STOP opcode");
        QVERIFY2(trailing, allWarnings(cp).constData());
        QCOMPARE(trailing->offset.value_or(0), std::uint64_t(l->magic.size()));
    }
    auto r = openBytes(computed.bytes());
    const auto &globals = (*r)->globals;
    QVERIFY(std::any_of(globals.begin(), globals.end(),
                        [](const GlobalUse &g) { return g.module == "builtins" && g.name == "int"; }));
    // The real magic number opens the same stream as legacy, with both tensors.
    auto legacy = openBytes(legacyTwoTensors().bytes());
    QVERIFY2(legacy, legacy ? "" : legacy.error().toString().c_str());
    QCOMPARE((*legacy)->format, FileFormat::TorchLegacy);
    QCOMPARE((*legacy)->tensors.size(), std::size_t(2));
}

QTEST_GUILESS_MAIN(TestHostileFiles)
#include "tst_hostile_files.moc"
