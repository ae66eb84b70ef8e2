// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "checkpoint.h"

#include "checkpoint_analysis.h"
#include "dtype.h"
#include "format_sniff.h"
#include "safetensors.h"
#include "security_scan.h"
#include "sharded.h"
#include "torch_interpret.h"
#include "zip_archive.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>

namespace ptscope::core {

const char *formatName(FileFormat format)
{
    switch (format) {
    case FileFormat::TorchZip: return "torch-zip";
    case FileFormat::TorchLegacy: return "torch-legacy";
    case FileFormat::TorchScript: return "torchscript";
    case FileFormat::Pickle: return "pickle";
    case FileFormat::Safetensors: return "safetensors";
    case FileFormat::Sharded: return "sharded";
    }
    return "unknown";
}

std::string joinPath(const ObjectPath &path)
{
    std::string s;
    for (std::size_t i = 0; i < path.size(); ++i) {
        if (i)
            s += '/';
        s += path[i];
    }
    return s;
}

std::string formatShape(const std::vector<std::int64_t> &shape)
{
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i)
            s += ", ";
        s += std::to_string(shape[i]);
    }
    return s + "]";
}

std::string formatBytes(std::uint64_t bytes)
{
    static const char *const units[] = {"B", "KB", "MB", "GB", "TB", "PB"};
    if (bytes < 1000)
        return std::to_string(bytes) + " B";
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1000.0 && u < 5) {
        v /= 1000.0;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, v < 10 ? "%.2f %s" : v < 100 ? "%.1f %s" : "%.0f %s", v, units[u]);
    return buf;
}

namespace {

// 0x1950A86A20F9469CFC6C, the literal integer every legacy torch.save file starts with.
constexpr const char *kLegacyMagicDecimal = "119547037146038801333356";
constexpr std::int64_t kLegacyProtocolVersion = 1001;

Error withPath(Error e, const std::string &path)
{
    e.path = path;
    return e;
}

bool hasEocd(std::span<const std::uint8_t> b)
{
    // The end-of-central-directory record sits in the last 22 + 65535 bytes.
    const std::size_t window = std::min<std::size_t>(b.size(), 22 + 65535);
    const std::uint8_t *start = b.data() + (b.size() - window);
    for (std::size_t i = window >= 22 ? window - 22 + 1 : 0; i-- > 0;)
        if (start[i] == 'P' && start[i + 1] == 'K' && start[i + 2] == 5 && start[i + 3] == 6)
            return true;
    return false;
}

std::optional<std::int64_t> parseDecimal(std::string_view s)
{
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' '))
        s.remove_suffix(1);
    if (s.empty() || s.size() > 18)
        return std::nullopt;
    std::int64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9')
            return std::nullopt;
        v = v * 10 + (c - '0');
    }
    return v;
}

class Reader
{
public:
    // `parsed`: the main pickle as the security scan read it (may be null), taken over instead of
    // parsing it again when it is the same pickle.
    Reader(Checkpoint &cp, const OpenOptions &options, ParsedPickle *parsed = nullptr)
        : m_cp(cp)
        , m_options(options)
        , m_parsed(parsed)
    {
    }

    Status readZip();
    Status readLegacy(std::span<const std::uint8_t> bytes, std::uint64_t base, bool embedded,
                      std::int32_t *rootStorage);
    Status readPickle();

private:
    Result<PickleResult> runPickle(std::span<const std::uint8_t> bytes, const std::string &where,
                                   std::uint64_t base, TorchInterpreter &interp);
    std::int32_t loadNested(ValueId bytesValue);
    void addWarning(std::string message, std::string where = {}, std::optional<std::uint64_t> offset = {})
    {
        m_cp.warnings.push_back(Warning{std::move(message), std::move(where), offset});
    }

    Checkpoint &m_cp;
    const OpenOptions &m_options;
    ParsedPickle *m_parsed = nullptr;
    int m_nestedDepth = 0;
    int m_nestedCount = 0;
};

Result<PickleResult> Reader::runPickle(std::span<const std::uint8_t> bytes, const std::string &where,
                                       std::uint64_t base, TorchInterpreter &interp)
{
    const ValueId first = static_cast<ValueId>(m_cp.arena.size());
    // The scan's parse of these very bytes (same member, offset and size, same limits), when the
    // arena is still empty, so that its value ids stay what they were.
    const bool adopt = m_parsed && m_parsed->arena.size() > 0 && first == 0 && where == m_parsed->label
        && base == m_parsed->base && bytes.size() == m_parsed->size;
    auto result = adopt ? Result<PickleResult>(std::move(m_parsed->result))
                        : unpickle(bytes, m_cp.arena, where, base, m_options.pickleLimits);
    if (adopt) {
        m_cp.arena = std::move(m_parsed->arena);
        m_parsed = nullptr;
    }
    if (!result)
        return result;
    for (auto &w : result->warnings)
        m_cp.warnings.push_back(w);
    m_cp.globals.insert(m_cp.globals.end(), result->globals.begin(), result->globals.end());
    interp.setNestedLoader([this](ValueId id) { return loadNested(id); });
    interp.interpret(first, static_cast<ValueId>(m_cp.arena.size()));
    return result;
}

// torch.storage._load_from_bytes(b): b is a whole legacy torch.save stream holding one storage.
std::int32_t Reader::loadNested(ValueId bytesValue)
{
    if (m_nestedDepth > 0 || ++m_nestedCount > 100000) {
        addWarning("nested torch.save stream ignored (nested too deeply or too many)");
        return -1;
    }
    const Value &v = m_cp.arena[bytesValue];
    const std::uint64_t valueOffset = v.offset;
    // When the bytes were written by BINBYTES/SHORT_BINBYTES/BINBYTES8 they are contiguous in the file,
    // so offsets (and later the data) can point straight into the mapping.
    std::span<const std::uint8_t> span;
    std::uint64_t base = 0;
    bool inFile = false;
    const auto file = m_cp.file->bytes();
    if (valueOffset < file.size()) {
        const std::uint8_t op = file[valueOffset];
        const std::uint64_t header = op == 0x42 ? 5 : op == 0x43 ? 2 : op == 0x8E ? 9 : 0;
        if (header && valueOffset + header + v.text.size() <= file.size()
            && std::memcmp(file.data() + valueOffset + header, v.text.data(), v.text.size()) == 0) {
            span = file.subspan(valueOffset + header, v.text.size());
            base = valueOffset + header;
            inFile = true;
        }
    }
    if (!inFile)
        span = {reinterpret_cast<const std::uint8_t *>(m_cp.arena[bytesValue].text.data()),
                m_cp.arena[bytesValue].text.size()};
    ++m_nestedDepth;
    std::int32_t storage = -1;
    // The nested stream's own storages must not collide with the outer ones: its interpreter is separate.
    std::string copy;
    if (!inFile) {
        copy = m_cp.arena[bytesValue].text; // the arena may grow while the nested pickles are read
        span = {reinterpret_cast<const std::uint8_t *>(copy.data()), copy.size()};
    }
    Status st = readLegacy(span, base, true, &storage);
    --m_nestedDepth;
    if (!st) {
        addWarning("embedded torch.save stream (torch.storage._load_from_bytes) could not be read: "
                       + st.error().message,
                   "pickle", valueOffset);
        return -1;
    }
    if (storage >= 0 && !inFile) {
        m_cp.storages[static_cast<std::size_t>(storage)].dataOffset.reset();
        m_cp.storages[static_cast<std::size_t>(storage)].record = "embedded in the pickle as text";
    }
    return storage;
}

Status Reader::readLegacy(std::span<const std::uint8_t> bytes, std::uint64_t base, bool embedded,
                          std::int32_t *rootStorage)
{
    const std::string label = embedded ? "embedded torch.save stream at byte " + std::to_string(base) + ": " : "";
    TorchInterpreter interp(m_cp, embedded ? "embedded@" + std::to_string(base) : std::string());
    std::uint64_t pos = 0;
    auto next = [&](const char *what) -> Result<PickleResult> {
        if (pos >= bytes.size())
            return makeError(ErrorCode::Truncated,
                             label + "the file ends before the " + std::string(what) + " pickle", what, base + pos,
                             "The file is truncated: download or copy it again.");
        auto r = runPickle(bytes.subspan(pos), label + what, base + pos, interp);
        if (r)
            pos = r->endOffset - base;
        return r;
    };

    auto magic = next("magic number");
    if (!magic)
        return magic.error();
    const Value &mv = m_cp.arena[magic->root];
    if (mv.kind != ValueKind::BigInt || mv.text != kLegacyMagicDecimal)
        return makeError(ErrorCode::BadRecord, label + "invalid magic number (not a literal 0x1950a86a20f9469cfc6c)",
                         "magic number", base, "The file is corrupt or was not written by torch.save.");
    auto protocol = next("protocol version");
    if (!protocol)
        return protocol.error();
    const Value &pv = m_cp.arena[protocol->root];
    if (pv.kind != ValueKind::Int || pv.integer != kLegacyProtocolVersion)
        return makeError(ErrorCode::BadRecord, label + "invalid legacy protocol version (torch expects 1001)",
                         "protocol version", m_cp.arena[protocol->root].offset);
    auto sysInfo = next("sys_info");
    if (!sysInfo)
        return sysInfo.error();
    if (!embedded) {
        m_cp.formatVersion = kLegacyProtocolVersion;
        const Value &si = m_cp.arena[sysInfo->root];
        if (si.kind == ValueKind::Dict)
            for (const auto &[k, val] : si.entries)
                if (m_cp.arena.isString(k) && m_cp.arena[k].text == "little_endian"
                    && m_cp.arena[val].kind == ValueKind::Bool && !m_cp.arena[val].boolean)
                    m_cp.byteOrder = "big";
    }
    auto object = next("object");
    if (!object)
        return object.error();
    if (!embedded) {
        m_cp.root = object->root;
        m_cp.pickleProtocol = object->protocol;
    } else if (rootStorage) {
        const Value &r = m_cp.arena[object->root];
        if (r.kind == ValueKind::Storage)
            *rootStorage = static_cast<std::int32_t>(r.aux);
    }
    auto keys = next("storage keys");
    if (!keys)
        return keys.error();
    const Value &kv = m_cp.arena[keys->root];
    if (kv.kind != ValueKind::List && kv.kind != ValueKind::Tuple)
        return makeError(ErrorCode::BadRecord, label + "the storage key list is not a list", "storage keys",
                         kv.offset);
    const std::vector<ValueId> keyIds = kv.items;
    const auto &byKey = interp.storagesByKey();
    for (std::size_t i = 0; i < keyIds.size(); ++i) {
        const Value &k = m_cp.arena[keyIds[i]];
        const std::string key = k.kind == ValueKind::String ? k.text
            : k.kind == ValueKind::Int                      ? std::to_string(k.integer)
                                                            : std::string();
        auto it = byKey.find(key);
        if (it == byKey.end())
            return makeError(ErrorCode::BadRecord,
                             label + "raw storage " + std::to_string(i) + " (key '" + key
                                 + "') is not referenced by the pickle, so its element size is unknown",
                             "raw storages", base + pos);
        StorageInfo &s = m_cp.storages[static_cast<std::size_t>(it->second)];
        if (bytes.size() - pos < 8)
            return makeError(ErrorCode::Truncated,
                             label + "the file ends inside the header of raw storage " + std::to_string(i) + " (key "
                                 + key + ")",
                             "raw storages", base + pos, "The file is truncated: download or copy it again.");
        std::int64_t count;
        std::memcpy(&count, bytes.data() + pos, 8);
        pos += 8;
        const DtypeInfo *d = dtypeByName(s.dtype);
        std::uint64_t nbytes = 0;
        if (count < 0 || !d || mulOverflow(static_cast<std::uint64_t>(count), d->itemSize, nbytes))
            return makeError(ErrorCode::BadRecord,
                             label + "raw storage " + key + " declares an impossible element count "
                                 + std::to_string(count),
                             "raw storages", base + pos - 8);
        if (nbytes > bytes.size() - pos)
            return makeError(ErrorCode::Truncated,
                             label + "the file ends inside raw storage " + key + ": it needs " + std::to_string(nbytes)
                                 + " bytes, " + std::to_string(bytes.size() - pos) + " remain",
                             "raw storages", base + pos, "The file is truncated: download or copy it again.");
        s.record = "raw storage " + std::to_string(i);
        s.dataOffset = base + pos;
        if (static_cast<std::uint64_t>(count) != s.numel)
            s.problem = "the file holds " + std::to_string(count) + " elements, the pickle declares "
                + std::to_string(s.numel) + " (torch: storage has wrong byte size)";
        pos += nbytes;
    }
    for (const auto &[key, index] : byKey)
        if (m_cp.storages[static_cast<std::size_t>(index)].record.empty())
            m_cp.storages[static_cast<std::size_t>(index)].problem = "no raw data for this storage in the file";
    if (!embedded && pos < bytes.size())
        addWarning(std::to_string(bytes.size() - pos) + " bytes after the last storage are not part of the checkpoint",
                   "file", base + pos);
    return Ok{};
}

Status Reader::readPickle()
{
    TorchInterpreter interp(m_cp, std::string());
    auto r = runPickle(m_cp.file->bytes(), "pickle", 0, interp);
    if (!r)
        return r.error();
    m_cp.root = r->root;
    m_cp.pickleProtocol = r->protocol;
    if (r->endOffset < m_cp.fileSize)
        addWarning(std::to_string(m_cp.fileSize - r->endOffset) + " bytes follow the pickle's STOP opcode", "pickle",
                   r->endOffset);
    for (const StorageInfo &s : m_cp.storages)
        if (s.record.empty() && s.problem.empty()) {
            // Persistent ids in a plain pickle need a loader torch does not have for plain pickle.load.
        }
    return Ok{};
}

Status Reader::readZip()
{
    const auto bytes = m_cp.file->bytes();
    if (!hasEocd(bytes))
        return makeError(ErrorCode::Truncated,
                         "the zip directory at the end of the file is missing: the file is truncated (an interrupted "
                         "download or copy, " + formatBytes(bytes.size()) + " present)",
                         {}, bytes.size(), "Download or copy the file again.");
    auto zipResult = ZipArchive::open(bytes, m_cp.path);
    if (!zipResult)
        return zipResult.error();
    const ZipArchive &zip = *zipResult;
    for (const Warning &w : zip.warnings())
        m_cp.warnings.push_back(w);
    const auto &entries = zip.entries();
    if (entries.empty())
        return makeError(ErrorCode::UnsupportedFormat, "this is an empty zip archive, not a checkpoint");
    for (const ZipEntry &e : entries)
        m_cp.records.push_back({e.name, e.size, e.compressedSize, e.method, e.dataOffset});

    const std::string &firstName = entries.front().name;
    const auto slash = firstName.find('/');
    auto listing = [&]() {
        std::string s;
        for (std::size_t i = 0; i < entries.size() && i < 5; ++i)
            s += (i ? ", " : "") + entries[i].name;
        if (entries.size() > 5)
            s += ", ... (" + std::to_string(entries.size()) + " entries)";
        return s;
    };
    if (slash == std::string::npos || slash == 0)
        return makeError(ErrorCode::UnsupportedFormat,
                         "this zip archive is not a torch.save file: its first entry '" + firstName
                             + "' is not inside a folder (torch: \"file in archive is not in a subdirectory\"); it "
                               "contains " + listing(),
                         "central directory", {});
    const std::string prefix = firstName.substr(0, slash);
    m_cp.archiveName = prefix;
    std::size_t outside = 0;
    for (const ZipEntry &e : entries)
        if (e.name.compare(0, prefix.size() + 1, prefix + "/") != 0)
            ++outside;
    if (outside)
        addWarning(std::to_string(outside) + " zip entries are outside the archive folder '" + prefix
                   + "/' (torch >= 2 refuses such files)", "central directory");

    auto record = [&](const std::string &name) { return zip.find(prefix + "/" + name); };
    const ZipEntry *dataPkl = record("data.pkl");
    const ZipEntry *constantsPkl = record("constants.pkl");
    if (!dataPkl) {
        if (record("model.json"))
            return makeError(ErrorCode::UnsupportedFormat,
                             "this is a TorchScript archive from torch <= 1.3 (model.json), which ptscope does not read",
                             {}, {}, "Load it with torch.jit.load and save it again with a current torch.");
        if (record("archive_format") || record(".data/extern_modules") || record(".data/version"))
            return makeError(ErrorCode::UnsupportedFormat,
                             "this is a torch.package or torch.export archive, not a torch.save checkpoint", {}, {},
                             "ptscope reads torch.save and torch.jit.save files.");
        return makeError(ErrorCode::UnsupportedFormat,
                         "this zip archive is not a PyTorch checkpoint: it has no " + prefix + "/data.pkl; it contains "
                             + listing());
    }
    m_cp.format = constantsPkl ? FileFormat::TorchScript : FileFormat::TorchZip;

    // Small text records.
    auto readText = [&](const ZipEntry *e) -> std::optional<std::string> {
        if (!e || e->size > 4096)
            return std::nullopt;
        auto r = zip.read(*e, 4096, &m_cp.warnings);
        if (!r)
            return std::nullopt;
        return std::string(r->begin(), r->end());
    };
    const ZipEntry *versionRecord = record("version");
    if (!versionRecord)
        versionRecord = record(".data/version");
    if (auto text = readText(versionRecord)) {
        m_cp.formatVersion = parseDecimal(*text);
        if (!m_cp.formatVersion)
            addWarning("the version record is not a number: torch.load would refuse this file", prefix + "/version");
        else if (*m_cp.formatVersion < 1 || *m_cp.formatVersion > 10)
            addWarning("format version " + std::to_string(*m_cp.formatVersion)
                           + " is outside 1..10: torch.load would refuse this file",
                       prefix + "/version");
    } else {
        addWarning("the archive has no version record: torch.load would refuse this file", prefix + "/version");
    }
    std::vector<std::string> hints;
    if (auto bo = readText(record("byteorder"))) {
        m_cp.byteOrder = *bo;
        hints.push_back("byteorder record: torch >= 2.1");
        if (*bo != "little" && *bo != "big")
            addWarning("unknown byteorder record '" + *bo + "'", prefix + "/byteorder");
    }
    if (record(".format_version"))
        hints.push_back(".format_version record: torch >= 2.7");
    if (auto align = readText(record(".storage_alignment")))
        hints.push_back("storage alignment " + *align);
    if (record(".data/serialization_id"))
        hints.push_back("serialization id: torch >= 2.1");
    for (std::size_t i = 0; i < hints.size(); ++i)
        m_cp.writerHint += (i ? "; " : "") + hints[i];

    auto readPickleRecord = [&](const ZipEntry &e, const std::string &ns, ValueId &root) -> Status {
        const std::string where = prefix + "/" + ns + ".pkl";
        if (e.size > m_options.pickleLimits.maxPickleBytes)
            return makeError(ErrorCode::BudgetExceeded,
                             where + " is " + formatBytes(e.size) + ", more than the pickle budget of "
                                 + formatBytes(m_options.pickleLimits.maxPickleBytes),
                             where, e.dataOffset);
        auto data = zip.read(e, m_options.pickleLimits.maxPickleBytes, &m_cp.warnings);
        if (!data)
            return data.error();
        TorchInterpreter interp(m_cp, ns);
        // Offsets inside a stored pickle are file offsets; inside a deflated one they are pickle offsets.
        const std::uint64_t base = e.method == 0 ? e.dataOffset : 0;
        auto r = runPickle(*data, where, base, interp);
        if (!r)
            return r.error();
        root = r->root;
        if (ns == "data")
            m_cp.pickleProtocol = r->protocol;
        if (r->endOffset - base < data->size())
            addWarning(std::to_string(data->size() - (r->endOffset - base)) + " bytes follow the pickle's STOP opcode",
                       where, r->endOffset);
        // Locate the storages this pickle referenced: prefix/<ns>/<key>.
        for (const auto &[key, index] : interp.storagesByKey()) {
            StorageInfo &s = m_cp.storages[static_cast<std::size_t>(index)];
            // Where the pickle uses the storage: the first tensor viewing it.
            std::optional<std::uint64_t> usedAt;
            if (!s.tensors.empty() && m_cp.arena.valid(m_cp.tensors[s.tensors.front()].value))
                usedAt = m_cp.arena[m_cp.tensors[s.tensors.front()].value].offset;
            s.record = prefix + "/" + ns + "/" + key;
            // A problem the pickle itself declared (unknown storage type, impossible size) stays
            // the one shown: it is why the record does not match.
            auto setProblem = [&s](std::string problem) {
                if (s.problem.empty())
                    s.problem = std::move(problem);
            };
            const ZipEntry *rec = zip.find(s.record);
            if (!rec) {
                setProblem("record " + s.record + " is missing from the archive");
                addWarning("storage " + key + ": record " + s.record + " is missing", where, usedAt);
                continue;
            }
            if (rec->size != s.nbytes) {
                const std::string mismatch = "record " + s.record + " has " + std::to_string(rec->size)
                    + " bytes, the pickle declares " + std::to_string(s.nbytes);
                setProblem(mismatch);
                addWarning("storage " + key + ": " + mismatch, where, usedAt);
                continue;
            }
            if (!rec->problem.empty())
                setProblem("record " + s.record + ": " + rec->problem);
            else if (rec->method != 0)
                setProblem("record " + s.record + " is compressed (the archive was re-zipped: torch.save stores "
                           "records uncompressed; ptscope reads weights in place). Re-zip it with 'zip -0 -r', or load "
                           "and save it again with torch.save");
            else
                s.dataOffset = rec->dataOffset;
        }
        return Ok{};
    };
    if (constantsPkl) {
        Status st = readPickleRecord(*constantsPkl, "constants", m_cp.constantsRoot);
        if (!st)
            return st;
    }
    Status st = readPickleRecord(*dataPkl, "data", m_cp.root);
    if (!st)
        return st;
    if (m_cp.format == FileFormat::TorchScript)
        analyzeTorchScriptCode(m_cp, zip, prefix);
    return Ok{};
}

} // namespace

Result<std::string> checkpointInFolder(const std::string &folder)
{
    namespace fs = std::filesystem;
    std::error_code ec;
    std::vector<std::string> names;
    for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
        std::error_code fileEc;
        if (it->is_regular_file(fileEc))
            names.push_back(it->path().filename().string());
        if (names.size() > 100'000)
            break; // not a model folder; what was seen decides
    }
    if (ec)
        return withPath(makeError(ErrorCode::ReadFailed, "cannot list the folder: " + ec.message()), folder);
    std::sort(names.begin(), names.end());
    auto has = [&](const std::string &n) { return std::binary_search(names.begin(), names.end(), n); };
    auto endsWith = [](const std::string &s, std::string_view e) {
        return s.size() >= e.size() && s.compare(s.size() - e.size(), e.size(), e) == 0;
    };
    const std::string dir = folder.empty() || folder.back() == '/' ? folder : folder + "/";
    // What transformers, diffusers and PEFT write, in the order they load it.
    for (const char *n : {"model.safetensors.index.json", "pytorch_model.bin.index.json", "model.safetensors",
                          "pytorch_model.bin", "adapter_model.safetensors", "adapter_model.bin",
                          "diffusion_pytorch_model.safetensors.index.json", "diffusion_pytorch_model.safetensors",
                          "diffusion_pytorch_model.bin"})
        if (has(n))
            return dir + n;
    std::vector<std::string> indexes, files;
    for (const std::string &n : names) {
        if (endsWith(n, ".index.json"))
            indexes.push_back(n);
        else if (endsWith(n, ".safetensors") || endsWith(n, ".bin") || endsWith(n, ".pt") || endsWith(n, ".pth")
                 || endsWith(n, ".ckpt") || endsWith(n, ".tar"))
            files.push_back(n);
    }
    auto list = [](const std::vector<std::string> &v) {
        std::string s;
        for (std::size_t i = 0; i < v.size() && i < 8; ++i)
            s += (i ? ", " : "") + v[i];
        return v.size() > 8 ? s + ", ..." : s;
    };
    if (indexes.size() == 1)
        return dir + indexes[0];
    if (indexes.size() > 1)
        return withPath(makeError(ErrorCode::UnsupportedFormat,
                         "the folder holds several shard indexes (" + list(indexes) + "): open one of them"), folder);
    if (files.size() == 1)
        return dir + files[0];
    if (files.empty())
        return withPath(makeError(ErrorCode::NotRegularFile,
                         "the folder holds no checkpoint (no .safetensors, .bin, .pt, .pth, .ckpt or shard index)"), folder);
    const bool shards = std::all_of(files.begin(), files.end(),
                                    [](const std::string &n) { return n.find("-of-") != std::string::npos; });
    return withPath(makeError(ErrorCode::UnsupportedFormat,
                     shards ? "the folder holds shards (" + list(files)
                                  + ") but not the *.index.json that lists them: open a shard, or restore the index"
                            : "the folder holds several checkpoints (" + list(files) + "): open one of them"), folder);
}

Result<std::shared_ptr<const Checkpoint>> openCheckpoint(const std::string &path, const OpenOptions &options)
{
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
        auto inside = checkpointInFolder(path);
        if (!inside)
            return inside.error();
        return openCheckpoint(*inside, options);
    }
    auto file = MappedFile::open(path);
    if (!file)
        return file.error();
    return openCheckpoint(*file, options);
}

Result<std::shared_ptr<const Checkpoint>> openCheckpoint(std::shared_ptr<const MappedFile> file,
                                                         const OpenOptions &options)
{
    auto cp = std::make_shared<Checkpoint>();
    cp->path = file->path();
    cp->fileSize = file->size();
    cp->file = file;
    const Sniff sniff = sniffFormat(file->bytes());
    // The security scan reads every pickle first; the reader takes over its parse of the main one.
    ScanOptions scanOptions;
    scanOptions.pickleLimits = options.pickleLimits;
    ParsedPickle mainPickle;
    std::optional<SecurityReport> report;
    if (sniff.container != Container::ShardIndex && sniff.container != Container::Refused) {
        scanOptions.keepMainPickle = &mainPickle;
        report = scanFile(file, scanOptions);
        scanOptions.keepMainPickle = nullptr;
    }
    Reader reader(*cp, options, &mainPickle);
    Status status = Ok{};
    switch (sniff.container) {
    case Container::Refused: return withPath(sniff.error, cp->path);
    case Container::Zip: status = reader.readZip(); break;
    case Container::Legacy:
        cp->format = FileFormat::TorchLegacy;
        status = reader.readLegacy(file->bytes(), 0, false, nullptr);
        break;
    case Container::Pickle:
        cp->format = FileFormat::Pickle;
        status = reader.readPickle();
        break;
    case Container::Safetensors: status = readSafetensors(*cp); break;
    case Container::ShardIndex: status = readShardIndex(*cp, options); break;
    }
    if (!status)
        return withPath(status.error(), cp->path);
    analyzeCheckpoint(*cp, options);
    if (report) {
        cp->security = std::make_shared<const SecurityReport>(std::move(*report));
    } else {
        const std::string dir = cp->path.substr(0, cp->path.find_last_of('/') + 1);
        std::vector<std::pair<std::string, SecurityReport>> shards;
        for (const std::string &name : cp->shards) {
            auto shard = MappedFile::open(dir + name);
            if (shard) {
                shards.emplace_back(name, scanFile(*shard, scanOptions));
                continue;
            }
            SecurityReport missing;
            missing.verdict = Verdict::Suspicious;
            missing.fullyRead = false;
            SecurityFinding f;
            f.kind = FindingKind::NotFullyRead;
            f.pickle = name;
            f.what = "this shard could not be opened, so it was not scanned: " + shard.error().message;
            missing.findings.push_back(std::move(f));
            missing.torch26.accepted = missing.torch113.accepted = false;
            missing.torch26.reason = missing.torch113.reason = "shard " + name + " could not be opened";
            shards.emplace_back(name, std::move(missing));
        }
        cp->security = std::make_shared<const SecurityReport>(mergeShardReports(shards));
    }
    return std::shared_ptr<const Checkpoint>(std::move(cp));
}

} // namespace ptscope::core
