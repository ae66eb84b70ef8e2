// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "torch_interpret.h"

#include "dtype.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace ptscope::core {

bool mulOverflow(std::uint64_t a, std::uint64_t b, std::uint64_t &out)
{
    return __builtin_mul_overflow(a, b, &out);
}

bool addOverflow(std::uint64_t a, std::uint64_t b, std::uint64_t &out)
{
    return __builtin_add_overflow(a, b, &out);
}

namespace {

bool isQScheme(std::string_view name)
{
    return name == "per_tensor_affine" || name == "per_tensor_symmetric" || name == "per_channel_affine"
        || name == "per_channel_symmetric" || name == "per_channel_affine_float_qparams";
}

bool startsWith(std::string_view s, std::string_view prefix)
{
    return s.substr(0, prefix.size()) == prefix;
}

// torch pickles torch.layout values by name: "torch.sparse_coo" -> "sparse_coo".
std::string layoutName(std::string_view text)
{
    if (startsWith(text, "torch."))
        text.remove_prefix(6);
    return std::string(text);
}

} // namespace

TorchInterpreter::TorchInterpreter(Checkpoint &checkpoint, std::string storageNamespace)
    : m_cp(checkpoint)
    , m_namespace(std::move(storageNamespace))
{
}

void TorchInterpreter::warn(ValueId where, std::string message)
{
    Warning w;
    w.message = std::move(message);
    if (m_cp.arena.valid(where))
        w.offset = m_cp.arena[where].offset;
    w.where = m_namespace.empty() ? std::string("pickle") : m_namespace + ".pkl";
    m_cp.warnings.push_back(std::move(w));
}

std::optional<std::int64_t> TorchInterpreter::asInt(ValueId id) const
{
    if (!m_cp.arena.valid(id))
        return std::nullopt;
    const Value &v = m_cp.arena[id];
    if (v.kind == ValueKind::Int)
        return v.integer;
    if (v.kind == ValueKind::Bool)
        return v.boolean ? 1 : 0;
    return std::nullopt;
}

std::optional<bool> TorchInterpreter::asBool(ValueId id) const
{
    if (!m_cp.arena.valid(id))
        return std::nullopt;
    const Value &v = m_cp.arena[id];
    if (v.kind == ValueKind::Bool)
        return v.boolean;
    if (v.kind == ValueKind::Int)
        return v.integer != 0;
    return std::nullopt;
}

const std::vector<ValueId> *TorchInterpreter::tupleItems(ValueId id) const
{
    if (!m_cp.arena.valid(id))
        return nullptr;
    const Value &v = m_cp.arena[id];
    if (v.kind == ValueKind::Tuple || v.kind == ValueKind::List || v.kind == ValueKind::TorchSize)
        return &v.items;
    return nullptr;
}

std::optional<std::vector<std::int64_t>> TorchInterpreter::asIntList(ValueId id) const
{
    const auto *items = tupleItems(id);
    if (!items)
        return std::nullopt;
    std::vector<std::int64_t> out;
    out.reserve(items->size());
    for (ValueId item : *items) {
        auto i = asInt(item);
        if (!i)
            return std::nullopt;
        out.push_back(*i);
    }
    return out;
}

void TorchInterpreter::interpret(ValueId first, ValueId last)
{
    for (ValueId id = first; id < last && m_cp.arena.valid(id); ++id) {
        switch (m_cp.arena[id].kind) {
        case ValueKind::Global: interpretGlobal(id); break;
        case ValueKind::PersistentId: interpretPersistentId(id); break;
        case ValueKind::Object: interpretObject(id); break;
        default: break;
        }
    }
}

void TorchInterpreter::interpretGlobal(ValueId id)
{
    Value &v = m_cp.arena[id];
    if (v.text != "torch")
        return;
    // Bare torch attributes that are values rather than callables: dtypes and qschemes.
    if (const DtypeInfo *d = dtypeByName(v.name)) {
        v.kind = ValueKind::Dtype;
        v.text = std::string(d->name);
    } else if (isQScheme(v.name)) {
        v.kind = ValueKind::QScheme;
        v.text = v.name;
    }
}

void TorchInterpreter::interpretPersistentId(ValueId id)
{
    Value &pidValue = m_cp.arena[id];
    const auto *items = tupleItems(pidValue.args);
    if (!items || items->empty() || !m_cp.arena.isString((*items)[0])) {
        // The tar format's persistent ids are bare keys; nothing torch >= 0.4 writes looks like this.
        warn(id, "persistent id that is not a ('storage', ...) or ('module', ...) tuple: left as is");
        return;
    }
    const std::vector<ValueId> pid = *items;
    const std::string &tag = m_cp.arena[pid[0]].text;
    if (tag == "module") {
        // Legacy whole-model files: ("module", class, source file, source). The value is the class.
        if (pid.size() >= 2 && m_cp.arena.valid(pid[1]) && m_cp.arena[pid[1]].kind == ValueKind::Global) {
            const Value cls = m_cp.arena[pid[1]];
            Value &target = m_cp.arena[id];
            target.kind = ValueKind::Global;
            target.text = cls.text;
            target.name = cls.name;
        }
        return;
    }
    if (tag != "storage" || pid.size() < 5) {
        warn(id, "persistent id with tag '" + tag + "' and " + std::to_string(pid.size())
                     + " fields: torch only writes ('storage', type, key, location, numel)");
        return;
    }
    const Value &typeValue = m_cp.arena[pid[1]];
    std::string typeName;
    if (typeValue.kind == ValueKind::Global)
        typeName = typeValue.name;
    else if (typeValue.kind == ValueKind::Dtype) // a bare dtype in place of a storage class
        typeName = typeValue.text;
    const DtypeInfo *dtype = dtypeByStorageClass(typeName);
    if (!dtype && typeValue.kind == ValueKind::Dtype)
        dtype = dtypeByName(typeName);

    std::string key;
    const Value &keyValue = m_cp.arena[pid[2]];
    if (keyValue.kind == ValueKind::String)
        key = keyValue.text;
    else if (keyValue.kind == ValueKind::Int)
        key = std::to_string(keyValue.integer);
    else {
        warn(id, "storage persistent id whose key is neither text nor an integer");
        return;
    }
    std::string location;
    if (m_cp.arena.isString(pid[3]))
        location = m_cp.arena[pid[3]].text;
    auto numel = asInt(pid[4]);

    std::int64_t viewOffset = 0;
    if (pid.size() >= 6 && m_cp.arena.valid(pid[5]) && m_cp.arena[pid[5]].kind != ValueKind::None) {
        // Legacy storage views: (view_key, offset, view_numel) into the root storage `key`.
        auto view = tupleItems(pid[5]);
        if (view && view->size() == 3 && asInt((*view)[1]))
            viewOffset = *asInt((*view)[1]);
        else
            warn(id, "legacy storage view metadata is malformed: ignored");
    }

    std::int32_t index;
    auto it = m_storageByKey.find(key);
    if (it != m_storageByKey.end()) {
        index = it->second;
    } else {
        StorageInfo s;
        s.key = key;
        s.id = (m_namespace.empty() || m_namespace == "data") ? key : m_namespace + "/" + key;
        s.location = location;
        if (dtype) {
            s.dtype = std::string(dtype->name);
        } else {
            s.dtype = typeName.empty() ? std::string("unknown") : typeName;
            s.problem = "unknown storage type '" + typeName + "'";
            warn(id, "unknown storage type '" + typeName + "' for storage " + key);
        }
        if (!numel || *numel < 0) {
            s.problem = "the storage's element count is missing or negative";
            warn(id, "storage " + key + ": element count is missing or negative");
        } else {
            s.numel = static_cast<std::uint64_t>(*numel);
            const std::uint64_t item = dtype ? dtype->itemSize : 1;
            if (mulOverflow(s.numel, item, s.nbytes)) {
                s.problem = "the storage's declared size overflows";
                s.nbytes = 0;
                warn(id, "storage " + key + ": declared size overflows 64 bits");
            }
        }
        index = static_cast<std::int32_t>(m_cp.storages.size());
        m_cp.storages.push_back(std::move(s));
        m_storageByKey.emplace(key, index);
    }
    Value &target = m_cp.arena[id];
    target.kind = ValueKind::Storage;
    target.aux = static_cast<std::uint32_t>(index);
    target.integer = viewOffset; // element offset of a legacy storage view
}

std::int32_t TorchInterpreter::newTensor(TensorInfo info)
{
    validateView(info);
    const auto index = static_cast<std::int32_t>(m_cp.tensors.size());
    if (info.storage >= 0)
        m_cp.storages[static_cast<std::size_t>(info.storage)].tensors.push_back(static_cast<std::uint32_t>(index));
    m_cp.tensors.push_back(std::move(info));
    return index;
}

void TorchInterpreter::validateView(TensorInfo &t)
{
    const DtypeInfo *dtype = dtypeByName(t.dtype);
    std::uint64_t numel = 1;
    bool overflow = false;
    for (std::int64_t d : t.shape) {
        if (d < 0) {
            t.problem = "negative size in shape " + formatShape(t.shape);
            return;
        }
        overflow |= mulOverflow(numel, static_cast<std::uint64_t>(d), numel);
    }
    if (overflow) {
        t.problem = "the element count of shape " + formatShape(t.shape) + " overflows";
        return;
    }
    t.numel = numel;
    const std::uint64_t item = dtype ? dtype->itemSize : 0;
    if (mulOverflow(numel, item, t.nbytes)) {
        t.problem = "the byte size of shape " + formatShape(t.shape) + " overflows";
        t.nbytes = 0;
        return;
    }
    if (t.layout != "strided" || t.storage < 0)
        return;
    if (t.stride.size() != t.shape.size()) {
        t.problem = "shape " + formatShape(t.shape) + " and stride " + formatShape(t.stride)
            + " have different ranks";
        return;
    }
    if (t.storageOffset < 0) {
        t.problem = "negative storage offset " + std::to_string(t.storageOffset);
        return;
    }
    for (std::int64_t s : t.stride)
        if (s < 0) {
            t.problem = "negative stride in " + formatShape(t.stride);
            return;
        }
    if (numel == 0 || !dtype)
        return;
    // Extent in elements: offset + sum((size_i - 1) * stride_i) + 1, all checked.
    std::uint64_t extent = static_cast<std::uint64_t>(t.storageOffset);
    for (std::size_t i = 0; i < t.shape.size(); ++i) {
        std::uint64_t span = 0;
        overflow |= mulOverflow(static_cast<std::uint64_t>(t.shape[i] - 1), static_cast<std::uint64_t>(t.stride[i]),
                                span);
        overflow |= addOverflow(extent, span, extent);
    }
    overflow |= addOverflow(extent, 1, extent);
    std::uint64_t extentBytes = 0;
    if (dtype->elementsPerByte > 1)
        extentBytes = extent / dtype->elementsPerByte + (extent % dtype->elementsPerByte != 0);
    else
        overflow |= mulOverflow(extent, item, extentBytes);
    const StorageInfo &s = m_cp.storages[static_cast<std::size_t>(t.storage)];
    if (overflow || extentBytes > s.nbytes) {
        t.problem = "the view (offset " + std::to_string(t.storageOffset) + ", shape " + formatShape(t.shape)
            + ", stride " + formatShape(t.stride) + ") reaches past the end of storage " + s.key + " ("
            + std::to_string(s.nbytes) + " bytes)";
    }
}

// torch 2.x's metadata argument (torch._utils.get_tensor_metadata): {"conj": True} and/or
// {"neg": True} for a conjugated or negated view. Anything else in it is ignored.
void TorchInterpreter::applyMathBits(std::int32_t tensor, ValueId metadata)
{
    if (!m_cp.arena.valid(metadata) || m_cp.arena[metadata].kind != ValueKind::Dict)
        return;
    TensorInfo &t = m_cp.tensors[static_cast<std::size_t>(tensor)];
    for (const auto &[k, v] : m_cp.arena[metadata].entries) {
        if (!m_cp.arena.valid(k) || m_cp.arena[k].kind != ValueKind::String)
            continue;
        const std::string &key = m_cp.arena[k].text;
        if (key == "conj")
            t.conjView = asBool(v).value_or(false);
        else if (key == "neg")
            t.negView = asBool(v).value_or(false);
    }
}

std::int32_t TorchInterpreter::rebuildStrided(ValueId storage, ValueId offset, ValueId size, ValueId stride,
                                              const char *function, std::string &why,
                                              const std::string &dtypeOverride)
{
    if (!m_cp.arena.valid(storage) || m_cp.arena[storage].kind != ValueKind::Storage) {
        why = "its first argument is not a storage";
        return -1;
    }
    auto off = asInt(offset);
    auto shape = asIntList(size);
    auto strides = asIntList(stride);
    if (!off || !shape || !strides) {
        why = "its offset, size or stride is not made of integers";
        return -1;
    }
    const Value &sv = m_cp.arena[storage];
    TensorInfo t;
    t.storage = static_cast<std::int32_t>(sv.aux);
    const StorageInfo &s = m_cp.storages[sv.aux];
    t.dtype = dtypeOverride.empty() ? s.dtype : dtypeOverride;
    t.device = s.location;
    t.shape = std::move(*shape);
    t.stride = std::move(*strides);
    t.storageOffset = *off + sv.integer;
    t.rebuild = function;
    if (!dtypeOverride.empty() && s.dtype != "uint8") {
        // _rebuild_tensor_v3 stores an untyped storage; anything else is a different storage dtype.
        const DtypeInfo *sd = dtypeByName(s.dtype);
        const DtypeInfo *td = dtypeByName(dtypeOverride);
        if (sd && td && sd->itemSize != td->itemSize)
            t.problem = "tensor dtype " + dtypeOverride + " does not match storage dtype " + s.dtype;
    }
    if (!dtypeOverride.empty() && s.dtype == "uint8") {
        // Untyped storage: numel counts bytes; the element offset/shape are in the tensor dtype.
    }
    return newTensor(std::move(t));
}

std::int32_t TorchInterpreter::callTensorFunction(const std::string &module, const std::string &name, ValueId args,
                                                  ValueId where, std::string &why)
{
    const auto *a = tupleItems(args);
    if (!a) {
        why = "its arguments are not a tuple";
        return -1;
    }
    const std::vector<ValueId> arg = *a;
    auto tensorOf = [&](ValueId id) -> std::int32_t {
        if (m_cp.arena.valid(id) && m_cp.arena[id].kind == ValueKind::Tensor)
            return static_cast<std::int32_t>(m_cp.arena[id].aux);
        return -1;
    };
    const std::string qualified = module + "." + name;
    (void)where;

    if (module == "torch._utils" && (name == "_rebuild_tensor_v2" || name == "_rebuild_tensor")) {
        if (arg.size() < 4) {
            why = "it has fewer than 4 arguments";
            return -1;
        }
        std::int32_t t = rebuildStrided(arg[0], arg[1], arg[2], arg[3], name.c_str(), why);
        if (t >= 0 && arg.size() >= 5)
            m_cp.tensors[static_cast<std::size_t>(t)].requiresGrad = asBool(arg[4]).value_or(false);
        if (t >= 0 && arg.size() >= 7)
            applyMathBits(t, arg[6]);
        return t;
    }
    if (module == "torch._utils" && name == "_rebuild_tensor_v3") {
        if (arg.size() < 7 || !m_cp.arena.valid(arg[6]) || m_cp.arena[arg[6]].kind != ValueKind::Dtype) {
            why = "it needs 7 arguments ending with a dtype";
            return -1;
        }
        std::int32_t t = rebuildStrided(arg[0], arg[1], arg[2], arg[3], "_rebuild_tensor_v3", why,
                                        m_cp.arena[arg[6]].text);
        if (t >= 0)
            m_cp.tensors[static_cast<std::size_t>(t)].requiresGrad = asBool(arg[4]).value_or(false);
        if (t >= 0 && arg.size() >= 8)
            applyMathBits(t, arg[7]);
        return t;
    }
    if ((module == "torch._utils" && (name == "_rebuild_parameter" || name == "_rebuild_parameter_with_state"))
        || (module == "torch.nn.parameter" && (name == "Parameter" || name == "Buffer"))) {
        std::int32_t t = arg.empty() ? -1 : tensorOf(arg[0]);
        if (t < 0) {
            why = "its data argument is not a tensor";
            return -1;
        }
        TensorInfo &info = m_cp.tensors[static_cast<std::size_t>(t)];
        const bool isBufferClass = name == "Buffer";
        info.isParameter = !isBufferClass;
        info.subclass = isBufferClass ? "torch.nn.parameter.Buffer" : "torch.nn.parameter.Parameter";
        info.requiresGrad = arg.size() >= 2 ? asBool(arg[1]).value_or(!isBufferClass) : !isBufferClass;
        return t;
    }
    if (module == "torch._utils" && name == "_rebuild_qtensor") {
        if (arg.size() < 5) {
            why = "it has fewer than 5 arguments";
            return -1;
        }
        std::int32_t t = rebuildStrided(arg[0], arg[1], arg[2], arg[3], "_rebuild_qtensor", why);
        if (t < 0)
            return -1;
        TensorInfo &info = m_cp.tensors[static_cast<std::size_t>(t)];
        if (arg.size() >= 6)
            info.requiresGrad = asBool(arg[5]).value_or(false);
        const auto *q = tupleItems(arg[4]);
        if (q && !q->empty() && m_cp.arena.valid((*q)[0]) && m_cp.arena[(*q)[0]].kind == ValueKind::QScheme) {
            QuantInfo qi;
            qi.qscheme = m_cp.arena[(*q)[0]].text;
            if (startsWith(qi.qscheme, "per_tensor") && q->size() >= 3) {
                const Value &scale = m_cp.arena[(*q)[1]];
                qi.scale = scale.kind == ValueKind::Float ? scale.real : static_cast<double>(asInt((*q)[1]).value_or(0));
                qi.zeroPoint = asInt((*q)[2]).value_or(0);
            } else if (startsWith(qi.qscheme, "per_channel") && q->size() >= 4) {
                qi.scalesTensor = tensorOf((*q)[1]);
                qi.zeroPointsTensor = tensorOf((*q)[2]);
                qi.axis = asInt((*q)[3]).value_or(-1);
                // torch checks these when it rebuilds the tensor: one scale and one zero point per
                // index along the axis.
                const auto rank = static_cast<std::int64_t>(info.shape.size());
                if (qi.axis < 0 || qi.axis >= rank) {
                    if (info.problem.empty())
                        info.problem = "per-channel quantization axis " + std::to_string(qi.axis)
                            + " is outside the tensor's " + std::to_string(rank) + " dimensions";
                } else {
                    const auto channels = static_cast<std::uint64_t>(info.shape[static_cast<std::size_t>(qi.axis)]);
                    for (auto [index, what] : {std::pair{qi.scalesTensor, "scales"},
                                               std::pair{qi.zeroPointsTensor, "zero points"}}) {
                        if (!info.problem.empty())
                            break;
                        if (index < 0)
                            info.problem = std::string("per-channel quantization ") + what + " are not a tensor";
                        else if (m_cp.tensors[static_cast<std::size_t>(index)].numel != channels)
                            info.problem = "per-channel quantization has "
                                + std::to_string(m_cp.tensors[static_cast<std::size_t>(index)].numel) + " " + what
                                + " for axis " + std::to_string(qi.axis) + " of size " + std::to_string(channels);
                    }
                }
            } else {
                info.problem = "quantizer parameters of scheme " + qi.qscheme + " are malformed";
            }
            info.quant = qi;
        } else {
            info.problem = "quantizer parameters are not (qscheme, ...)";
        }
        return t;
    }
    if (module == "torch._utils" && (name == "_rebuild_sparse_tensor" || name == "_rebuild_sparse_csr_tensor")) {
        if (arg.size() < 2 || !m_cp.arena.valid(arg[0]) || m_cp.arena[arg[0]].kind != ValueKind::Layout) {
            why = "it needs (layout, data)";
            return -1;
        }
        const std::string layout = m_cp.arena[arg[0]].text;
        const auto *d = tupleItems(arg[1]);
        if (!d) {
            why = "its data is not a tuple";
            return -1;
        }
        TensorInfo info;
        info.layout = layout;
        info.rebuild = name;
        std::size_t sizeIndex;
        std::int32_t valuesTensor;
        if (layout == "sparse_coo") {
            if (d->size() < 3) {
                why = "sparse COO data needs (indices, values, size)";
                return -1;
            }
            info.components = {};
            for (std::size_t i = 0; i < 2; ++i)
                if (tensorOf((*d)[i]) >= 0)
                    info.components.push_back(static_cast<std::uint32_t>(tensorOf((*d)[i])));
            valuesTensor = tensorOf((*d)[1]);
            sizeIndex = 2;
        } else {
            if (d->size() < 4) {
                why = "compressed sparse data needs (compressed indices, plain indices, values, size)";
                return -1;
            }
            for (std::size_t i = 0; i < 3; ++i)
                if (tensorOf((*d)[i]) >= 0)
                    info.components.push_back(static_cast<std::uint32_t>(tensorOf((*d)[i])));
            valuesTensor = tensorOf((*d)[2]);
            sizeIndex = 3;
        }
        auto shape = asIntList((*d)[sizeIndex]);
        if (!shape || valuesTensor < 0) {
            why = "its size or values are malformed";
            return -1;
        }
        const TensorInfo &values = m_cp.tensors[static_cast<std::size_t>(valuesTensor)];
        info.dtype = values.dtype;
        info.device = values.device;
        info.shape = std::move(*shape);
        std::uint64_t stored = 0;
        for (std::uint32_t c : info.components)
            stored += m_cp.tensors[c].nbytes;
        std::int32_t t = newTensor(std::move(info));
        // What the file holds is the indices and values, not the dense equivalent.
        m_cp.tensors[static_cast<std::size_t>(t)].nbytes = stored;
        return t;
    }
    if (module == "torch._utils" && name == "_rebuild_meta_tensor_no_storage") {
        if (arg.size() < 3 || !m_cp.arena.valid(arg[0]) || m_cp.arena[arg[0]].kind != ValueKind::Dtype) {
            why = "it needs (dtype, size, stride, ...)";
            return -1;
        }
        auto shape = asIntList(arg[1]);
        auto stride = asIntList(arg[2]);
        if (!shape || !stride) {
            why = "its size or stride is not made of integers";
            return -1;
        }
        TensorInfo info;
        info.dtype = m_cp.arena[arg[0]].text;
        info.device = "meta";
        info.shape = std::move(*shape);
        info.stride = std::move(*stride);
        info.rebuild = name;
        if (arg.size() >= 4)
            info.requiresGrad = asBool(arg[3]).value_or(false);
        return newTensor(std::move(info));
    }
    if (module == "torch._utils" && name == "_rebuild_wrapper_subclass") {
        if (arg.size() < 8 || !m_cp.arena.valid(arg[1]) || m_cp.arena[arg[1]].kind != ValueKind::Dtype) {
            why = "it needs (cls, dtype, size, stride, offset, layout, device, requires_grad)";
            return -1;
        }
        TensorInfo info;
        info.dtype = m_cp.arena[arg[1]].text;
        info.shape = asIntList(arg[2]).value_or(std::vector<std::int64_t>{});
        info.stride = asIntList(arg[3]).value_or(std::vector<std::int64_t>{});
        info.storageOffset = asInt(arg[4]).value_or(0);
        if (m_cp.arena.valid(arg[5]) && m_cp.arena[arg[5]].kind == ValueKind::Layout)
            info.layout = m_cp.arena[arg[5]].text;
        if (m_cp.arena.valid(arg[6]) && m_cp.arena[arg[6]].kind == ValueKind::Device)
            info.device = m_cp.arena[arg[6]].text;
        info.requiresGrad = asBool(arg[7]).value_or(false);
        if (m_cp.arena.valid(arg[0]) && m_cp.arena[arg[0]].kind == ValueKind::Global)
            info.subclass = m_cp.arena[arg[0]].text + "." + m_cp.arena[arg[0]].name;
        info.rebuild = name;
        return newTensor(std::move(info));
    }
    if (module == "torch._utils"
        && (name == "_rebuild_device_tensor_from_cpu_tensor" || name == "_rebuild_device_tensor_from_numpy"
            || name == "_rebuild_xla_tensor")) {
        if (arg.size() < 4) {
            why = "it needs (data, dtype, device, requires_grad)";
            return -1;
        }
        TensorInfo info;
        const std::int32_t cpu = tensorOf(arg[0]);
        if (cpu >= 0) {
            info = m_cp.tensors[static_cast<std::size_t>(cpu)];
            info.components = {static_cast<std::uint32_t>(cpu)};
        }
        if (m_cp.arena.valid(arg[1]) && m_cp.arena[arg[1]].kind == ValueKind::Dtype)
            info.dtype = m_cp.arena[arg[1]].text;
        if (m_cp.arena.isString(arg[2]))
            info.device = m_cp.arena[arg[2]].text;
        info.requiresGrad = asBool(arg[3]).value_or(false);
        info.rebuild = name;
        if (cpu < 0) {
            // The data is a NumPy array: keep the shape unknown rather than guess.
            info.layout = "strided";
            info.problem = "data stored as a NumPy array; shape not decoded";
        }
        info.storage = -1;
        return newTensor(std::move(info));
    }
    if (module == "torch._utils" && name == "_rebuild_nested_tensor") {
        TensorInfo info;
        info.layout = "nested";
        info.rebuild = name;
        const std::int32_t buffer = arg.empty() ? -1 : tensorOf(arg[0]);
        if (buffer < 0) {
            why = "its buffer is not a tensor";
            return -1;
        }
        // (buffer, sizes, strides, storage offsets): the components' elements lie in the buffer.
        info.components = {static_cast<std::uint32_t>(buffer)};
        for (std::size_t i = 1; i < 4 && i < arg.size(); ++i)
            if (const std::int32_t c = tensorOf(arg[i]); c >= 0)
                info.components.push_back(static_cast<std::uint32_t>(c));
        const TensorInfo &b = m_cp.tensors[static_cast<std::size_t>(buffer)];
        info.dtype = b.dtype;
        info.device = b.device;
        const std::uint64_t numel = b.numel, nbytes = b.nbytes;
        const std::int32_t t = newTensor(std::move(info));
        // Its elements are the buffer's (a nested tensor has no single shape): the counts are.
        m_cp.tensors[static_cast<std::size_t>(t)].numel = numel;
        m_cp.tensors[static_cast<std::size_t>(t)].nbytes = nbytes;
        return t;
    }
    if (module == "torch._tensor" && (name == "_rebuild_from_type_v2" || name == "_rebuild_from_type")) {
        // (func, new_type, args, state): func(*args) then the class is swapped to new_type.
        if (arg.size() < 3 || !m_cp.arena.valid(arg[0]) || m_cp.arena[arg[0]].kind != ValueKind::Global) {
            why = "it needs (function, type, args, state)";
            return -1;
        }
        const Value &func = m_cp.arena[arg[0]];
        std::int32_t t = callTensorFunction(func.text, func.name, arg[2], where, why);
        if (t < 0)
            return -1;
        TensorInfo &info = m_cp.tensors[static_cast<std::size_t>(t)];
        if (m_cp.arena.valid(arg[1]) && m_cp.arena[arg[1]].kind == ValueKind::Global) {
            const Value &cls = m_cp.arena[arg[1]];
            const std::string clsName = cls.text + "." + cls.name;
            if (clsName == "torch.nn.parameter.Parameter") {
                info.isParameter = true;
                info.subclass = clsName;
            } else if (clsName != "torch.Tensor" && clsName != "torch._tensor.Tensor") {
                info.subclass = clsName;
            }
        }
        return t;
    }
    why = "it is not a tensor function ptscope knows (" + qualified + ")";
    return -1;
}

void TorchInterpreter::interpretObject(ValueId id)
{
    const Value &obj = m_cp.arena[id];
    if (!m_cp.arena.valid(obj.callable) || m_cp.arena[obj.callable].kind != ValueKind::Global)
        return;
    const std::string module = m_cp.arena[obj.callable].text;
    const std::string name = m_cp.arena[obj.callable].name;
    const ValueId argsId = obj.args;
    const auto *argsPtr = tupleItems(argsId);
    const std::vector<ValueId> args = argsPtr ? *argsPtr : std::vector<ValueId>{};

    if (module == "torch._utils" || module == "torch._tensor" || module == "torch.nn.parameter") {
        const bool known = startsWith(name, "_rebuild_") || name == "Parameter" || name == "Buffer";
        if (!known)
            return;
        std::string why;
        const std::int32_t t = callTensorFunction(module, name, argsId, id, why);
        if (t < 0) {
            warn(id, module + "." + name + " could not be read as a tensor: " + why);
            return;
        }
        Value &v = m_cp.arena[id];
        v.kind = ValueKind::Tensor;
        v.aux = static_cast<std::uint32_t>(t);
        if (m_cp.tensors[static_cast<std::size_t>(t)].value == kNoValue || name == "_rebuild_parameter"
            || name == "_rebuild_parameter_with_state" || name == "_rebuild_from_type_v2")
            m_cp.tensors[static_cast<std::size_t>(t)].value = id;
        return;
    }
    if (module == "copyreg" && name == "_reconstructor") {
        // Protocols 0/1 write plain objects as copyreg._reconstructor(cls, object, None) + BUILD:
        // the object is an instance of cls, exactly as NEWOBJ would have made it.
        if (!args.empty() && m_cp.arena.valid(args[0]) && m_cp.arena[args[0]].kind == ValueKind::Global) {
            Value &v = m_cp.arena[id];
            v.callable = args[0];
            v.origin = ObjectOrigin::NewObj;
            v.args = kNoValue;
        }
        return;
    }
    if (module == "torch" && name == "Size") {
        auto dims = args.empty() ? std::nullopt : asIntList(args[0]);
        if (!dims)
            return;
        Value &v = m_cp.arena[id];
        v.kind = ValueKind::TorchSize;
        v.items = tupleItems(args[0]) ? *tupleItems(args[0]) : std::vector<ValueId>{};
        return;
    }
    if (module == "torch" && name == "device") {
        if (args.empty() || !m_cp.arena.isString(args[0]))
            return;
        std::string text = m_cp.arena[args[0]].text;
        if (args.size() >= 2 && asInt(args[1]))
            text += ":" + std::to_string(*asInt(args[1]));
        Value &v = m_cp.arena[id];
        v.kind = ValueKind::Device;
        v.text = text;
        return;
    }
    if (module == "torch.serialization" && name == "_get_layout") {
        if (args.empty() || !m_cp.arena.isString(args[0]))
            return;
        Value &v = m_cp.arena[id];
        v.text = layoutName(m_cp.arena[args[0]].text);
        v.kind = ValueKind::Layout;
        return;
    }
    if (module == "torch.storage" && name == "_load_from_bytes") {
        if (!m_nestedLoader || args.empty() || !m_cp.arena.valid(args[0])
            || m_cp.arena[args[0]].kind != ValueKind::Bytes)
            return;
        const std::int32_t s = m_nestedLoader(args[0]);
        if (s < 0)
            return;
        Value &v = m_cp.arena[id];
        v.kind = ValueKind::Storage;
        v.aux = static_cast<std::uint32_t>(s);
        v.integer = 0;
        return;
    }
    if (module == "collections" && (name == "OrderedDict" || name == "Counter" || name == "defaultdict")) {
        Value &v = m_cp.arena[id];
        std::vector<std::pair<ValueId, ValueId>> entries = v.entries;
        // OrderedDict([(k, v), ...]) and Counter({...}) carry their items as the argument.
        if (name != "defaultdict" && !args.empty() && m_cp.arena.valid(args[0])) {
            const Value &a0 = m_cp.arena[args[0]];
            std::vector<std::pair<ValueId, ValueId>> fromArgs;
            if (a0.kind == ValueKind::Dict)
                fromArgs = a0.entries;
            else if (a0.kind == ValueKind::List || a0.kind == ValueKind::Tuple)
                for (ValueId pair : a0.items) {
                    const auto *kv = tupleItems(pair);
                    if (kv && kv->size() == 2)
                        fromArgs.emplace_back((*kv)[0], (*kv)[1]);
                }
            fromArgs.insert(fromArgs.end(), entries.begin(), entries.end());
            entries = std::move(fromArgs);
        }
        Value &target = m_cp.arena[id];
        target.kind = ValueKind::Dict;
        target.text = module + "." + name;
        target.entries = std::move(entries);
        return;
    }
    if ((module == "builtins" && (name == "set" || name == "frozenset"))) {
        Value &v = m_cp.arena[id];
        std::vector<ValueId> items = v.items;
        if (!args.empty() && tupleItems(args[0]))
            items.insert(items.begin(), tupleItems(args[0])->begin(), tupleItems(args[0])->end());
        Value &target = m_cp.arena[id];
        target.kind = name == "set" ? ValueKind::Set : ValueKind::FrozenSet;
        target.items = std::move(items);
        return;
    }
    if (module == "builtins" && name == "complex") {
        double parts[2] = {0.0, 0.0};
        for (std::size_t i = 0; i < 2 && i < args.size(); ++i) {
            const Value &p = m_cp.arena[args[i]];
            if (p.kind == ValueKind::Float)
                parts[i] = p.real;
            else if (p.kind == ValueKind::Int)
                parts[i] = static_cast<double>(p.integer);
            else
                return;
        }
        Value &v = m_cp.arena[id];
        v.kind = ValueKind::Complex;
        v.real = parts[0];
        v.imag = parts[1];
        return;
    }
    if ((module == "_codecs" && name == "encode") || (module == "builtins" && name == "bytearray")) {
        // Protocol 2 writes bytes as _codecs.encode(latin-1 text, "latin1"): decode it back.
        std::string bytes;
        if (!args.empty() && m_cp.arena.valid(args[0])) {
            const Value &a0 = m_cp.arena[args[0]];
            if (a0.kind == ValueKind::Bytes || a0.kind == ValueKind::ByteArray) {
                bytes = a0.text;
            } else if (a0.kind == ValueKind::String) {
                const std::string &s = a0.text;
                for (std::size_t i = 0; i < s.size();) {
                    const auto c = static_cast<unsigned char>(s[i]);
                    if (c < 0x80) {
                        bytes.push_back(static_cast<char>(c));
                        i += 1;
                    } else if ((c & 0xE0) == 0xC0 && i + 1 < s.size()) {
                        const unsigned cp = ((c & 0x1Fu) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3Fu);
                        if (cp > 0xFF)
                            return; // not latin-1: leave the call as it is
                        bytes.push_back(static_cast<char>(cp));
                        i += 2;
                    } else {
                        return;
                    }
                }
            } else {
                return;
            }
        } else if (name != "bytearray") {
            return;
        }
        Value &v = m_cp.arena[id];
        v.kind = name == "bytearray" ? ValueKind::ByteArray : ValueKind::Bytes;
        v.text = std::move(bytes);
        return;
    }
    if ((module == "numpy.core.multiarray" || module == "numpy._core.multiarray") && name == "_reconstruct") {
        // ndarray: _reconstruct(ndarray, (0,), b'b') then BUILD (version, shape, dtype, fortran, data).
        // Not a torch tensor (torch would need NumPy to load it); kept as an object with a summary.
        const auto *st = tupleItems(obj.state);
        if (!st || st->size() < 5)
            return;
        auto shape = asIntList((*st)[1]);
        const Value &dt = m_cp.arena[(*st)[2]];
        const auto *dtArgs = tupleItems(dt.args);
        if (!shape || dt.kind != ValueKind::Object || !dtArgs || dtArgs->empty() || !m_cp.arena.isString((*dtArgs)[0]))
            return;
        const std::string summary = "numpy.ndarray " + m_cp.arena[(*dtArgs)[0]].text + " " + formatShape(*shape);
        m_cp.arena[id].name = summary;
        return;
    }
    if ((module == "numpy.core.multiarray" || module == "numpy._core.multiarray") && name == "scalar") {
        // numpy.float64 and friends: (dtype object, raw bytes). Decode the common numeric ones.
        if (args.size() < 2 || !m_cp.arena.valid(args[0]) || !m_cp.arena.valid(args[1])
            || m_cp.arena[args[1]].kind != ValueKind::Bytes)
            return;
        const Value &dt = m_cp.arena[args[0]];
        const auto *dtArgs = tupleItems(dt.args);
        if (dt.kind != ValueKind::Object || !dtArgs || dtArgs->empty() || !m_cp.arena.isString((*dtArgs)[0]))
            return;
        const std::string descr = m_cp.arena[(*dtArgs)[0]].text;
        char order = '<';
        if (const auto *st = tupleItems(dt.state); st && st->size() >= 2 && m_cp.arena.isString((*st)[1])
            && !m_cp.arena[(*st)[1]].text.empty())
            order = m_cp.arena[(*st)[1]].text[0];
        std::string raw = m_cp.arena[args[1]].text;
        if (order == '>')
            std::reverse(raw.begin(), raw.end());
        Value out;
        out.offset = m_cp.arena[id].offset;
        auto loadInt = [&](bool isSigned) -> bool {
            if (raw.empty() || raw.size() > 8)
                return false;
            std::uint64_t u = 0;
            std::memcpy(&u, raw.data(), raw.size());
            if (isSigned && raw.size() < 8 && (u >> (raw.size() * 8 - 1)) & 1u)
                u |= ~0ull << (raw.size() * 8);
            out.kind = ValueKind::Int;
            out.integer = static_cast<std::int64_t>(u);
            return isSigned || raw.size() < 8 || out.integer >= 0;
        };
        bool ok = false;
        if (descr == "f8" && raw.size() == 8) {
            out.kind = ValueKind::Float;
            std::memcpy(&out.real, raw.data(), 8);
            ok = true;
        } else if (descr == "f4" && raw.size() == 4) {
            float f;
            std::memcpy(&f, raw.data(), 4);
            out.kind = ValueKind::Float;
            out.real = f;
            ok = true;
        } else if (descr == "b1" && raw.size() == 1) {
            out.kind = ValueKind::Bool;
            out.boolean = raw[0] != 0;
            ok = true;
        } else if (!descr.empty() && (descr[0] == 'i' || descr[0] == 'u')) {
            ok = loadInt(descr[0] == 'i');
        }
        if (!ok)
            return;
        static const char *const kNames[] = {"numpy.float64", "numpy.float32", "numpy.bool_"};
        out.name = descr == "f8" ? kNames[0] : descr == "f4" ? kNames[1] : descr == "b1" ? kNames[2]
                                                                                         : "numpy." + descr;
        if (descr[0] == 'i')
            out.name = "numpy.int" + std::to_string((raw.size()) * 8);
        else if (descr[0] == 'u')
            out.name = "numpy.uint" + std::to_string((raw.size()) * 8);
        m_cp.arena[id] = std::move(out);
        return;
    }
}

} // namespace ptscope::core
