// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "info_json.h"

#include "checkpoint_analysis.h"
#include "dtype.h"
#include "json_writer.h"
#include "security_scan.h"

#include <algorithm>
#include <map>
#include <unordered_map>

namespace ptscope::core {

namespace {

void writeTensorCore(JsonWriter &w, const Checkpoint &cp, const TensorInfo &t)
{
    w.field("dtype", t.dtype);
    if (t.layout != "strided")
        w.field("layout", t.layout);
    w.key("shape").intArray(t.shape);
    if (t.layout == "strided" && t.storage >= 0) {
        w.key("stride").intArray(t.stride);
        w.field("storage_offset", t.storageOffset);
    } else {
        w.key("stride").null();
        w.key("storage_offset").null();
    }
    w.field("device", t.device);
    w.field("numel", t.numel);
    w.field("nbytes", t.nbytes);
    w.field("parameter", t.isParameter);
    w.field("requires_grad", t.requiresGrad);
    if (t.storage >= 0) {
        w.field("storage", cp.storages[static_cast<std::size_t>(t.storage)].id);
        if (!cp.storages[static_cast<std::size_t>(t.storage)].shard.empty())
            w.field("shard", cp.storages[static_cast<std::size_t>(t.storage)].shard);
    } else {
        w.key("storage").null();
    }
    if (!t.subclass.empty() && t.subclass != "torch.nn.parameter.Parameter")
        w.field("subclass", t.subclass);
    if (t.quant) {
        w.key("quantized").beginObject();
        w.field("qscheme", t.quant->qscheme);
        if (t.quant->qscheme.rfind("per_tensor", 0) == 0) {
            w.field("scale", t.quant->scale);
            w.field("zero_point", t.quant->zeroPoint);
        } else {
            w.field("axis", t.quant->axis);
        }
        w.endObject();
    }
    if (!t.problem.empty())
        w.field("problem", t.problem);
}

struct ObjectWriter
{
    const Checkpoint &cp;
    JsonWriter &w;
    std::uint64_t budget = 200000;
    std::unordered_map<ValueId, ObjectPath> expanded;

    // Dict-like entries as [{"key": text, "value": node}], keys as they appear in paths.
    void writeEntries(const std::vector<std::pair<ValueId, ValueId>> &entries, const ObjectPath &path, int depth)
    {
        for (const auto &[k, val] : entries) {
            ObjectPath p = path;
            p.push_back(keyText(cp.arena, k));
            w.beginObject().field("key", p.back()).key("value");
            write(val, p, depth + 1);
            w.endObject();
        }
    }

    void write(ValueId id, const ObjectPath &path, int depth)
    {
        const ValueArena &a = cp.arena;
        if (!a.valid(id)) {
            w.null();
            return;
        }
        if (budget == 0 || depth > 64) {
            w.beginObject().field("type", "truncated").endObject();
            return;
        }
        --budget;
        const Value &v = a[id];
        const bool container = v.kind == ValueKind::Dict || v.kind == ValueKind::List || v.kind == ValueKind::Tuple
            || v.kind == ValueKind::Set || v.kind == ValueKind::FrozenSet || v.kind == ValueKind::Object;
        if (container) {
            auto it = expanded.find(id);
            if (it != expanded.end()) {
                // Shared (or cyclic) reference: written once, pointed to afterwards.
                w.beginObject().field("type", "ref").key("path").stringArray(it->second).endObject();
                return;
            }
            expanded.emplace(id, path);
        }
        w.beginObject();
        switch (v.kind) {
        case ValueKind::None: w.field("type", "none"); break;
        case ValueKind::Bool: w.field("type", "bool").field("value", v.boolean); break;
        case ValueKind::Int:
            w.field("type", v.name.empty() ? "int" : v.name).field("value", v.integer);
            break;
        case ValueKind::BigInt: w.field("type", "int").field("value", v.text); break;
        case ValueKind::Float:
            w.field("type", v.name.empty() ? "float" : v.name).field("value", v.real);
            break;
        case ValueKind::Complex:
            w.field("type", "complex").field("real", v.real).field("imag", v.imag);
            break;
        case ValueKind::String: w.field("type", "str").field("value", v.text); break;
        case ValueKind::Bytes:
        case ValueKind::ByteArray: {
            static const char digits[] = "0123456789abcdef";
            std::string hex;
            for (std::size_t i = 0; i < v.text.size() && i < 32; ++i) {
                hex += digits[static_cast<unsigned char>(v.text[i]) >> 4];
                hex += digits[static_cast<unsigned char>(v.text[i]) & 15];
            }
            w.field("type", v.kind == ValueKind::Bytes ? "bytes" : "bytearray")
                .field("length", static_cast<std::uint64_t>(v.text.size()))
                .field("hex_prefix", hex);
            break;
        }
        case ValueKind::Dict:
            w.field("type", "dict");
            if (!v.text.empty())
                w.field("class", v.text);
            w.key("items").beginArray();
            writeEntries(v.entries, path, depth);
            w.endArray();
            if (a.valid(v.state)) {
                ObjectPath p = path;
                p.push_back("(attributes)");
                w.key("attributes");
                write(v.state, p, depth + 1);
            }
            break;
        case ValueKind::List:
        case ValueKind::Tuple:
        case ValueKind::Set:
        case ValueKind::FrozenSet: {
            const char *type = v.kind == ValueKind::List ? "list"
                : v.kind == ValueKind::Tuple             ? "tuple"
                : v.kind == ValueKind::Set               ? "set"
                                                         : "frozenset";
            w.field("type", type).key("items").beginArray();
            for (std::size_t i = 0; i < v.items.size(); ++i) {
                ObjectPath p = path;
                p.push_back(std::to_string(i));
                write(v.items[i], p, depth + 1);
            }
            w.endArray();
            break;
        }
        case ValueKind::Global: w.field("type", "global").field("module", v.text).field("name", v.name); break;
        case ValueKind::Object: {
            w.field("type", "object");
            if (a.valid(v.callable) && a[v.callable].kind == ValueKind::Global)
                w.field("class", a[v.callable].text + "." + a[v.callable].name);
            const char *how = v.origin == ObjectOrigin::Reduce ? "reduce"
                : v.origin == ObjectOrigin::NewObj             ? "newobj"
                : v.origin == ObjectOrigin::NewObjEx           ? "newobj_ex"
                : v.origin == ObjectOrigin::Inst               ? "inst"
                                                               : "obj";
            w.field("built_by", how);
            if (!v.name.empty())
                w.field("summary", v.name);
            if (a.valid(v.args)) {
                ObjectPath p = path;
                p.push_back("(args)");
                w.key("args");
                write(v.args, p, depth + 1);
            }
            if (a.valid(v.state)) {
                w.key("state");
                write(v.state, path, depth + 1);
            }
            if (!v.items.empty() || !v.entries.empty()) {
                w.key("items").beginArray();
                for (std::size_t i = 0; i < v.items.size(); ++i) {
                    ObjectPath p = path;
                    p.push_back(std::to_string(i));
                    write(v.items[i], p, depth + 1);
                }
                writeEntries(v.entries, path, depth);
                w.endArray();
            }
            break;
        }
        case ValueKind::PersistentId:
            w.field("type", "persistent_id").key("id");
            write(v.args, path, depth + 1);
            break;
        case ValueKind::Tensor: {
            const TensorInfo &t = cp.tensors[v.aux];
            w.field("type", t.isParameter ? "parameter" : "tensor").field("dtype", t.dtype);
            w.key("shape").intArray(t.shape);
            break;
        }
        case ValueKind::Storage: {
            const StorageInfo &s = cp.storages[v.aux];
            w.field("type", "storage").field("storage", s.id).field("dtype", s.dtype).field("numel", s.numel);
            break;
        }
        case ValueKind::TorchSize: {
            std::vector<std::int64_t> dims;
            for (ValueId d : v.items)
                dims.push_back(a.valid(d) ? a[d].integer : 0);
            w.field("type", "torch.Size").key("value").intArray(dims);
            break;
        }
        case ValueKind::Device: w.field("type", "torch.device").field("value", v.text); break;
        case ValueKind::Dtype: w.field("type", "torch.dtype").field("value", v.text); break;
        case ValueKind::Layout: w.field("type", "torch.layout").field("value", v.text); break;
        case ValueKind::QScheme: w.field("type", "torch.qscheme").field("value", v.text); break;
        }
        w.endObject();
    }
};

} // namespace

std::string infoJson(const Checkpoint &cp, const InfoJsonOptions &options)
{
    std::string out;
    writeInfoJson(cp, options, [&out](std::string_view piece) { out.append(piece); });
    return out;
}

void writeInfoJson(const Checkpoint &cp, const InfoJsonOptions &options,
                   const std::function<void(std::string_view)> &sink)
{
    JsonWriter w(options.pretty);
    w.setSink(sink);
    w.beginObject();
    w.field("file", cp.path);
    w.field("format", formatName(cp.format));
    w.field("file_size", cp.fileSize);

    w.key("container").beginObject();
    if (!cp.archiveName.empty())
        w.field("archive_name", cp.archiveName);
    if (cp.formatVersion)
        w.field("version", *cp.formatVersion);
    else
        w.key("version").null();
    w.field("byteorder", cp.byteOrder);
    w.field("pickle_protocol", cp.pickleProtocol);
    if (!cp.writerHint.empty())
        w.field("writer_hint", cp.writerHint);
    if (!cp.records.empty()) {
        w.key("records").beginArray();
        for (const auto &r : cp.records) {
            w.beginObject().field("name", r.name).field("size", r.size);
            if (r.method != 0)
                w.field("compression", r.method == 8 ? "deflate" : "method " + std::to_string(r.method));
            w.endObject();
        }
        w.endArray();
    }
    w.endObject();

    w.key("tensors").beginArray();
    for (const TensorRef &ref : cp.tensorRefs) {
        w.beginObject();
        w.key("path").stringArray(ref.path);
        writeTensorCore(w, cp, cp.tensors[ref.tensor]);
        w.endObject();
    }
    w.endArray();

    w.key("storages").beginArray();
    for (const StorageInfo &s : cp.storages) {
        w.beginObject();
        w.field("storage", s.id).field("key", s.key).field("dtype", s.dtype).field("device", s.location);
        w.field("numel", s.numel).field("nbytes", s.nbytes);
        if (!s.shard.empty())
            w.field("shard", s.shard);
        if (!s.record.empty())
            w.field("record", s.record);
        if (s.dataOffset)
            w.field("data_offset", *s.dataOffset);
        w.field("views", static_cast<std::uint64_t>(s.tensors.size()));
        if (!s.problem.empty())
            w.field("problem", s.problem);
        w.endObject();
    }
    w.endArray();

    if (cp.stateDict.found) {
        const StateDictView &sd = cp.stateDict;
        w.key("state_dict").beginObject();
        w.key("path").stringArray(sd.path);
        w.field("source", sd.source);
        std::uint64_t params = 0, bytes = 0;
        w.key("keys").beginArray();
        for (const StateDictEntry &e : sd.entries) {
            w.beginObject().field("key", e.key);
            if (e.tensor >= 0) {
                const TensorInfo &t = cp.tensors[static_cast<std::size_t>(e.tensor)];
                w.field("dtype", t.dtype);
                w.key("shape").intArray(t.shape);
                params += t.numel;
                bytes += t.nbytes;
            } else {
                w.key("dtype").null().key("shape").null();
                const Value &v = cp.arena[e.value];
                w.field("value_type", v.kind == ValueKind::Object ? "object" : "non-tensor");
            }
            w.endObject();
        }
        w.endArray();
        w.field("numel", params).field("nbytes", bytes);
        if (cp.arena.valid(sd.metadata)) {
            w.key("module_versions").beginObject();
            const Value &md = cp.arena[sd.metadata];
            if (md.kind == ValueKind::Dict)
                for (const auto &[k, v] : md.entries) {
                    const ValueId entry = v; // clang < 16 cannot capture a structured binding
                    const ValueId ver = [&]() -> ValueId {
                        if (!cp.arena.valid(entry) || cp.arena[entry].kind != ValueKind::Dict)
                            return kNoValue;
                        for (const auto &[mk, mv] : cp.arena[entry].entries)
                            if (cp.arena.isString(mk) && cp.arena[mk].text == "version")
                                return mv;
                        return kNoValue;
                    }();
                    w.key(keyText(cp.arena, k));
                    if (cp.arena.isInt(ver))
                        w.value(cp.arena[ver].integer);
                    else
                        w.null();
                }
            w.endObject();
        }
        w.key("notes").stringArray(sd.notes);
        w.endObject();
    } else {
        w.key("state_dict").null();
    }

    w.key("metadata").beginArray();
    for (const MetadataItem &m : cp.metadata) {
        w.beginObject().field("label", m.label).field("value", m.value).key("path").stringArray(m.path);
        w.endObject();
    }
    w.endArray();

    w.key("optimizers").beginArray();
    for (const OptimizerInfo &o : cp.optimizers) {
        w.beginObject().key("path").stringArray(o.path).field("type", o.type);
        w.field("param_groups", static_cast<std::uint64_t>(o.groups)).field("params", static_cast<std::uint64_t>(o.params));
        w.field("params_with_state", static_cast<std::uint64_t>(o.withState)).field("state_nbytes", o.stateBytes);
        w.key("param_names").stringArray(o.paramNames).field("mapping", o.mapping);
        w.endObject();
    }
    w.endArray();

    std::map<std::pair<std::string, std::string>, std::uint64_t> globals;
    for (const GlobalUse &g : cp.globals)
        ++globals[{g.module, g.name}];
    w.key("globals").beginArray();
    for (const auto &[g, count] : globals)
        w.beginObject().field("module", g.first).field("name", g.second).field("count", count).endObject();
    w.endArray();

    if (options.includeObjects) {
        w.key("objects");
        ObjectWriter ow{cp, w, 200000, {}};
        ow.write(cp.root, {}, 0);
    }

    w.key("warnings").beginArray();
    for (const Warning &wn : cp.warnings) {
        w.beginObject().field("message", wn.message);
        if (!wn.where.empty())
            w.field("where", wn.where);
        if (wn.offset)
            w.field("offset", *wn.offset);
        w.endObject();
    }
    w.endArray();
    w.key("security");
    writeSecurityJson(w, securityReport(cp));
    w.endObject();
    w.flush();
    sink("\n");
}

} // namespace ptscope::core
