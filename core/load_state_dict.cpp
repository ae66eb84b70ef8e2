// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "load_state_dict.h"

#include "checkpoint_analysis.h"

#include <algorithm>
#include <cctype>
#include <deque>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace ptscope::core {

namespace {

using Json = nlohmann::ordered_json;

bool startsWith(std::string_view s, std::string_view p)
{
    return s.size() >= p.size() && s.compare(0, p.size(), p) == 0;
}

bool endsWith(std::string_view s, std::string_view p)
{
    return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

constexpr std::string_view kExtraState = "_extra_state";

std::string shortName(const std::string &qualified)
{
    const auto dot = qualified.rfind('.');
    return dot == std::string::npos ? qualified : qualified.substr(dot + 1);
}

// "__torch__.torch.nn.modules.conv.___torch_mangle_9.Conv2d" -> "torch.nn.modules.conv.Conv2d": TorchScript
// qualifies classes under __torch__ and renames redefinitions.
std::string demangleScriptClass(const std::string &name)
{
    std::string s = startsWith(name, "__torch__.") ? name.substr(10) : name;
    std::string out;
    std::size_t pos = 0;
    while (pos <= s.size()) {
        std::size_t dot = s.find('.', pos);
        if (dot == std::string::npos)
            dot = s.size();
        const std::string part = s.substr(pos, dot - pos);
        if (!startsWith(part, "___torch_mangle_"))
            out += (out.empty() ? "" : ".") + part;
        pos = dot + 1;
    }
    return out;
}

// torch's own normalisation classes (module path not needed: TorchScript and manifests give short names).
bool isNormClassName(const std::string &shortClass)
{
    static const char *const kNames[] = { "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm",
        "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d",
        "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d" };
    return std::find_if(std::begin(kNames), std::end(kNames), [&](const char *n) { return shortClass == n; })
        != std::end(kNames);
}

bool isInstanceNormClassName(const std::string &shortClass)
{
    return startsWith(shortClass, "InstanceNorm") || startsWith(shortClass, "LazyInstanceNorm");
}

// Classes whose code torch ships: none of torch.nn's modules overrides set_extra_state.
bool isTorchClass(const std::string &qualified)
{
    return startsWith(qualified, "torch.");
}

std::string quoteKey(const std::string &key)
{
    return "\"" + key + "\"";
}

std::string joinQuoted(const std::vector<std::string> &keys)
{
    std::string s;
    for (const std::string &k : keys)
        s += (s.empty() ? "" : ", ") + quoteKey(k);
    return s;
}

void applyNormRules(ModuleNode &node)
{
    const std::string shortClass = node.shortClassName();
    if (isNormClassName(shortClass)) {
        node.normBase = true;
        node.instanceNorm = isInstanceNormClassName(shortClass);
        if (!node.version)
            node.version = 2; // _NormBase._version
    }
    if (!node.trackRunningStats && node.normBase) {
        // TorchScript keeps track_running_stats as a code constant: the buffers tell instead.
        bool tracking = false;
        for (const ModuleSlot &s : node.slots)
            tracking = tracking || (s.name == "running_mean" && !s.none);
        node.trackRunningStats = tracking;
    }
}

void markTies(ModelStructure &m)
{
    std::map<std::int32_t, std::string> firstByTensor;
    for (ModuleNode &node : m.modules)
        for (ModuleSlot &s : node.slots) {
            if (s.tensor < 0 || s.none || !s.persistent)
                continue;
            auto [it, inserted] = firstByTensor.emplace(s.tensor, node.prefix + s.name);
            if (!inserted)
                s.tiedTo = it->second;
        }
}

// --------------------------------------------------------------------------------------------
// Target structure from a whole pickled module
// --------------------------------------------------------------------------------------------

// torch's quantized modules (eager mode, static and dynamic) keep their weights in packed
// parameter objects and write their state_dict keys themselves (_save_to_state_dict): scale,
// zero_point, _packed_params.dtype/_packed_params, _all_weight_values.N.param and so on.
bool writesOwnKeys(const std::string &className)
{
    for (const char *p : {"torch.ao.nn.quantized.", "torch.nn.quantized.", "torch.ao.nn.intrinsic.quantized.",
                          "torch.nn.intrinsic.quantized."})
        if (className.rfind(p, 0) == 0)
            return true;
    return false;
}

std::string quantizedNote(const std::string &prefix, const std::string &className)
{
    return "'" + (prefix.empty() ? std::string("the model") : prefix.substr(0, prefix.size() - 1))
        + "' is a quantized module (" + className
        + "): it writes its own state_dict keys (scale, zero_point, packed weights), which ptscope does not "
          "model: its keys are not judged";
}

struct ModuleWalker
{
    const Checkpoint &cp;
    ModelStructure &out;
    std::vector<ValueId> stack;

    void slotFromValue(ModuleSlot &slot, ValueId v)
    {
        const ValueArena &a = cp.arena;
        if (!a.valid(v) || a[v].kind == ValueKind::None) {
            slot.none = true;
            return;
        }
        if (a[v].kind == ValueKind::Tensor) {
            const TensorInfo &t = cp.tensors[a[v].aux];
            slot.tensor = static_cast<std::int32_t>(a[v].aux);
            slot.shape = t.shape;
            slot.dtype = t.dtype;
            slot.device = t.device;
            slot.lazy = t.subclass.find("Uninitialized") != std::string::npos;
            return;
        }
        slot.lazy = className(a, v).find("Uninitialized") != std::string::npos;
    }

    std::int32_t walk(ValueId module, const std::string &prefix)
    {
        const ValueArena &a = cp.arena;
        const auto index = static_cast<std::int32_t>(out.modules.size());
        out.modules.emplace_back();
        out.modules.back().prefix = prefix;
        out.modules.back().className = className(a, module);
        if (stack.size() > 256 || std::find(stack.begin(), stack.end(), module) != stack.end()) {
            out.modules.back().opaque = true;
            out.notes.push_back(
                "module nesting at '" + prefix + "' is cyclic or deeper than 256: its keys are not judged");
            return index;
        }
        if (writesOwnKeys(out.modules.back().className)) {
            out.modules.back().opaque = true;
            out.notes.push_back(quantizedNote(prefix, out.modules.back().className));
            return index;
        }
        stack.push_back(module);
        if (const ValueId inner = compiledInner(a, module); a.valid(inner)) {
            // OptimizedModule registers the original model as its only child, _orig_mod.
            const std::int32_t child = isModuleObject(a, inner) ? walk(inner, prefix + "_orig_mod.") : -1;
            out.modules[static_cast<std::size_t>(index)].children.emplace_back("_orig_mod", child);
            out.modules[static_cast<std::size_t>(index)].extraState = false;
            stack.pop_back();
            return index;
        }
        ModuleNode node;
        node.prefix = prefix;
        node.className = className(a, module);
        auto addSlots = [&](ValueId dictId, bool buffers, const std::set<std::string> &nonPersistent) {
            if (!a.valid(dictId) || a[dictId].kind != ValueKind::Dict)
                return;
            for (const auto &[k, v] : a[dictId].entries) {
                ModuleSlot slot;
                slot.name = keyText(a, k);
                slot.buffer = buffers;
                slot.persistent = !nonPersistent.count(slot.name);
                slotFromValue(slot, v);
                node.slots.push_back(std::move(slot));
            }
        };
        addSlots(attribute(a, module, "_parameters"), false, {});
        std::set<std::string> nonPersistent;
        const ValueId np = attribute(a, module, "_non_persistent_buffers_set");
        if (a.valid(np))
            for (ValueId item : a[np].items)
                if (a.isString(item))
                    nonPersistent.insert(a[item].text);
        const ValueId buffers = attribute(a, module, "_buffers");
        addSlots(buffers, true, nonPersistent);
        const ValueId track = attribute(a, module, "track_running_stats");
        if (a.valid(track) && a[track].kind == ValueKind::Bool)
            node.trackRunningStats = a[track].boolean;
        // A user subclass of _NormBase still has its track_running_stats and num_batches_tracked slot.
        if (node.trackRunningStats && a.valid(dictGet(a, buffers, "num_batches_tracked")))
            node.normBase = true;
        if (isTorchClass(node.className))
            node.extraState = false;
        // torch.nn.utils.spectral_norm registers a load_state_dict pre-hook (wrapped in _WrappedHook
        // since torch 1.13) that holds the SpectralNorm object and its weight's name.
        const ValueId preHooks = attribute(a, module, "_load_state_dict_pre_hooks");
        if (a.valid(preHooks) && a[preHooks].kind == ValueKind::Dict)
            for (const auto &[k, hook] : a[preHooks].entries) {
                ValueId h = hook;
                if (endsWith(className(a, h), "._WrappedHook"))
                    h = attribute(a, h, "hook");
                if (className(a, h) != "torch.nn.utils.spectral_norm.SpectralNormLoadStateDictPreHook")
                    continue;
                const ValueId name = attribute(a, attribute(a, h, "fn"), "name");
                if (a.isString(name))
                    node.spectralNorm.push_back(a[name].text);
            }
        applyNormRules(node);
        const std::string cls = node.className;
        out.modules[static_cast<std::size_t>(index)] = std::move(node);
        const ValueId children = attribute(a, module, "_modules");
        if (a.valid(children) && a[children].kind == ValueKind::Dict) {
            for (const auto &[k, child] : a[children].entries) {
                const std::string name = keyText(a, k);
                std::int32_t childIndex = -1;
                if (a.valid(child) && a[child].kind != ValueKind::None) {
                    if (isModuleObject(a, child)) {
                        childIndex = walk(child, prefix + name + ".");
                    } else {
                        childIndex = static_cast<std::int32_t>(out.modules.size());
                        ModuleNode opaque;
                        opaque.prefix = prefix + name + ".";
                        opaque.className = className(a, child);
                        opaque.opaque = true;
                        out.modules.push_back(std::move(opaque));
                        out.notes.push_back("submodule '" + prefix + name
                            + "' is pickled in a way ptscope cannot follow: its keys are not judged");
                    }
                }
                out.modules[static_cast<std::size_t>(index)].children.emplace_back(name, childIndex);
            }
        }
        if (!isTorchClass(cls) && !out.modules[static_cast<std::size_t>(index)].extraState)
            out.modules[static_cast<std::size_t>(index)].extraState = std::nullopt;
        stack.pop_back();
        return index;
    }
};

// --------------------------------------------------------------------------------------------
// Target structure from a TorchScript module
// --------------------------------------------------------------------------------------------

const ScriptClass *scriptClassOf(const Checkpoint &cp, ValueId id)
{
    const std::string name = className(cp.arena, id);
    if (name.empty())
        return nullptr;
    auto it = cp.scriptClasses.find(name);
    return it == cp.scriptClasses.end() ? nullptr : &it->second;
}

void walkScript(const Checkpoint &cp, ValueId module, const std::string &prefix, int depth, ModelStructure &out)
{
    const ScriptClass *cls = scriptClassOf(cp, module);
    const auto index = out.modules.size();
    out.modules.emplace_back();
    ModuleNode &node = out.modules.back();
    node.prefix = prefix;
    node.className = demangleScriptClass(className(cp.arena, module));
    if (!cls || depth > 256) {
        node.opaque = true;
        return;
    }
    if (writesOwnKeys(node.className)) {
        node.opaque = true;
        out.notes.push_back(quantizedNote(prefix, node.className));
        return;
    }
    const auto attrs = objectAttributes(cp.arena, module);
    auto addNamed = [&](const std::vector<std::string> &names, bool buffers) {
        for (const auto &[name, v] : attrs) {
            if (std::find(names.begin(), names.end(), name) == names.end())
                continue;
            ModuleSlot slot;
            slot.name = name;
            slot.buffer = buffers;
            const ValueArena &a = cp.arena;
            if (!a.valid(v) || a[v].kind == ValueKind::None) {
                slot.none = true;
            } else if (a[v].kind == ValueKind::Tensor) {
                const TensorInfo &t = cp.tensors[a[v].aux];
                slot.tensor = static_cast<std::int32_t>(a[v].aux);
                slot.shape = t.shape;
                slot.dtype = t.dtype;
                slot.device = t.device;
            }
            out.modules[index].slots.push_back(std::move(slot));
        }
    };
    addNamed(cls->parameters, false);
    addNamed(cls->buffers, true);
    // Only the Python class knows about extra state; torch's own classes have none.
    if (isTorchClass(out.modules[index].className))
        out.modules[index].extraState = false;
    applyNormRules(out.modules[index]);
    for (const auto &[name, v] : attrs) {
        const ScriptClass *child = scriptClassOf(cp, v);
        if (!child || !child->isModule)
            continue;
        const auto childIndex = static_cast<std::int32_t>(out.modules.size());
        out.modules[index].children.emplace_back(name, childIndex);
        walkScript(cp, v, prefix + name + ".", depth + 1, out);
    }
}

// --------------------------------------------------------------------------------------------
// Target structure from keys (plain state_dict, manifest)
// --------------------------------------------------------------------------------------------

struct KeyRecord
{
    std::string key;
    bool isTensor = true;
    std::vector<std::int64_t> shape;
    std::string dtype;
    std::string device;
    std::optional<bool> parameter;
    std::int32_t tensor = -1;
    std::string tieId;
};

struct ModuleRecord
{
    std::string name; // prefix without the trailing dot
    std::string className;
    std::optional<std::int64_t> version;
    std::optional<bool> track;
    std::vector<std::string> nonPersistent;
    std::vector<std::string> noneChildren;
    std::optional<bool> extraState;
};

bool isBufferName(const std::string &name)
{
    return name == "running_mean" || name == "running_var" || name == "num_batches_tracked";
}

ModelStructure buildFromKeys(const std::vector<KeyRecord> &keys, const std::vector<ModuleRecord> &records)
{
    ModelStructure m;
    std::unordered_map<std::string, std::int32_t> byName;
    m.modules.emplace_back();
    byName[""] = 0;
    // Returns the index of a module, creating it and its ancestors (child names hold no dots).
    auto ensure = [&](const std::string &name, auto &&self) -> std::int32_t {
        if (auto it = byName.find(name); it != byName.end())
            return it->second;
        const auto dot = name.rfind('.');
        const std::string parentName = dot == std::string::npos ? std::string() : name.substr(0, dot);
        const std::int32_t parent = self(parentName, self);
        const auto index = static_cast<std::int32_t>(m.modules.size());
        m.modules.emplace_back();
        m.modules.back().prefix = name + ".";
        m.modules[static_cast<std::size_t>(parent)].children.emplace_back(
            dot == std::string::npos ? name : name.substr(dot + 1), index);
        byName[name] = index;
        return index;
    };
    for (const ModuleRecord &r : records) {
        ModuleNode &node = m.modules[static_cast<std::size_t>(ensure(r.name, ensure))];
        node.className = r.className;
        node.version = r.version;
        node.trackRunningStats = r.track;
        node.extraState = r.extraState;
        if (r.track)
            node.normBase = true; // only _NormBase subclasses have track_running_stats
    }
    std::unordered_map<std::string, std::string> tieFirst;
    for (const KeyRecord &k : keys) {
        if (k.key == kExtraState || endsWith(k.key, "._extra_state")) {
            const std::string owner = k.key == kExtraState ? std::string() : k.key.substr(0, k.key.size() - 13);
            m.modules[static_cast<std::size_t>(ensure(owner, ensure))].extraState = true;
            continue;
        }
        const auto dot = k.key.rfind('.');
        const std::string owner = dot == std::string::npos ? std::string() : k.key.substr(0, dot);
        ModuleSlot slot;
        slot.name = dot == std::string::npos ? k.key : k.key.substr(dot + 1);
        slot.shape = k.shape;
        slot.dtype = k.dtype;
        slot.device = k.device;
        slot.tensor = k.tensor;
        slot.kindKnown = k.parameter.has_value();
        slot.buffer = k.parameter ? !*k.parameter : isBufferName(slot.name);
        if (!k.tieId.empty()) {
            auto [it, inserted] = tieFirst.emplace(k.tieId, k.key);
            if (!inserted)
                slot.tiedTo = it->second;
        }
        m.modules[static_cast<std::size_t>(ensure(owner, ensure))].slots.push_back(std::move(slot));
    }
    // Keys whose values are packed quantized parameters (a torch.dtype, a tuple of tensors, a
    // ScriptObject) are written by a quantized module's own _save_to_state_dict: that module is not
    // modelled (its keys are not judged), as for a quantized module of a pickled model.
    for (const KeyRecord &k : keys) {
        if (k.isTensor)
            continue;
        const std::optional<std::string> prefix = packedParamsOwner(k.key);
        if (!prefix)
            continue;
        ModuleNode &node = m.modules[static_cast<std::size_t>(
            ensure(prefix->empty() ? *prefix : prefix->substr(0, prefix->size() - 1), ensure))];
        if (node.opaque)
            continue;
        node.opaque = true;
        m.notes.push_back(
            quantizedNote(*prefix, node.className.empty() ? "its keys hold packed parameters" : node.className));
    }
    for (const ModuleRecord &r : records) {
        ModuleNode &node = m.modules[static_cast<std::size_t>(byName[r.name])];
        for (const std::string &b : r.nonPersistent) {
            ModuleSlot slot;
            slot.name = b;
            slot.buffer = true;
            slot.persistent = false;
            node.slots.push_back(std::move(slot));
        }
        for (const std::string &c : r.noneChildren)
            node.children.emplace_back(c, -1);
    }
    for (ModuleNode &node : m.modules) {
        // spectral_norm's layout (X_orig, X_u, X_v, no X) is taken for spectral_norm on X: its hooks
        // are not in a state_dict or a manifest.
        for (const ModuleSlot &orig : node.slots) {
            if (!endsWith(orig.name, "_orig"))
                continue;
            const std::string name = orig.name.substr(0, orig.name.size() - 5);
            int found = 0;
            bool plain = false;
            for (const ModuleSlot &other : node.slots) {
                found += other.name == name + "_u" || other.name == name + "_v";
                plain |= other.name == name;
            }
            if (found == 2 && !plain
                && std::find(node.spectralNorm.begin(), node.spectralNorm.end(), name) == node.spectralNorm.end())
                node.spectralNorm.push_back(name);
        }
        if (!node.extraState)
            node.extraState = false; // a fresh state_dict lists _extra_state wherever the class has it
        applyNormRules(node);
        if (!node.normBase && node.className.empty()) {
            // A module holding BatchNorm's three buffers is taken for a _NormBase that tracks running stats.
            int found = 0;
            for (const ModuleSlot &s : node.slots)
                found += (s.name == "running_mean" || s.name == "running_var" || s.name == "num_batches_tracked");
            if (found == 3) {
                node.normBase = true;
                node.trackRunningStats = true;
            }
        }
    }
    return m;
}

std::optional<std::int64_t> intOf(const ValueArena &a, ValueId v)
{
    if (a.valid(v) && a[v].kind == ValueKind::Int)
        return a[v].integer;
    if (a.valid(v) && a[v].kind == ValueKind::Bool)
        return a[v].boolean ? 1 : 0;
    return std::nullopt;
}

using SpectralNormRecords = std::vector<std::pair<std::pair<std::string, std::string>, std::optional<std::int64_t>>>;

// The _metadata of a dict (an attribute set by BUILD): module prefix -> "version", and (optional)
// what torch.nn.utils.spectral_norm records there: {"spectral_norm": {"weight.version": 1}}.
bool readMetadata(const Checkpoint &cp, ValueId dictId,
                  std::vector<std::pair<std::string, std::optional<std::int64_t>>> &out,
                  SpectralNormRecords *spectral = nullptr)
{
    const ValueArena &a = cp.arena;
    if (!a.valid(dictId) || a[dictId].kind != ValueKind::Dict)
        return false;
    const ValueId md = dictGet(a, a[dictId].state, "_metadata");
    if (!a.valid(md) || a[md].kind != ValueKind::Dict)
        return false;
    for (const auto &[k, v] : a[md].entries) {
        out.emplace_back(keyText(a, k), intOf(a, dictGet(a, v, "version")));
        const ValueId sn = dictGet(a, v, "spectral_norm");
        if (!spectral || !a.valid(sn) || a[sn].kind != ValueKind::Dict)
            continue;
        for (const auto &[name, version] : a[sn].entries) {
            const std::string n = keyText(a, name);
            if (endsWith(n, ".version"))
                spectral->push_back({{keyText(a, k), n.substr(0, n.size() - 8)}, intOf(a, version)});
        }
    }
    return true;
}

std::vector<ModuleRecord> recordsFromMetadata(
    const std::vector<std::pair<std::string, std::optional<std::int64_t>>> &metadata)
{
    std::vector<ModuleRecord> records;
    for (const auto &[name, version] : metadata) {
        ModuleRecord r;
        r.name = name;
        r.version = version;
        records.push_back(std::move(r));
    }
    return records;
}

ModelStructure structureFromStateDict(const Checkpoint &cp, const std::vector<StateDictEntry> &entries, ValueId dictId)
{
    std::vector<KeyRecord> keys;
    for (const StateDictEntry &e : entries) {
        KeyRecord k;
        k.key = e.key;
        k.isTensor = e.tensor >= 0;
        if (e.tensor >= 0) {
            const TensorInfo &t = cp.tensors[static_cast<std::size_t>(e.tensor)];
            k.shape = t.shape;
            k.dtype = t.dtype;
            k.device = t.device;
            k.tensor = e.tensor;
            k.tieId = std::to_string(e.tensor);
        }
        keys.push_back(std::move(k));
    }
    std::vector<std::pair<std::string, std::optional<std::int64_t>>> metadata;
    SpectralNormRecords spectral;
    const bool hasMetadata = readMetadata(cp, dictId, metadata, &spectral);
    ModelStructure m = buildFromKeys(keys, recordsFromMetadata(metadata));
    // A module whose state_dict recorded a spectral_norm version has spectral_norm's hooks.
    for (const auto &[where, version] : spectral)
        for (ModuleNode &n : m.modules)
            if (n.prefix == (where.first.empty() ? where.first : where.first + ".")
                && std::find(n.spectralNorm.begin(), n.spectralNorm.end(), where.second) == n.spectralNorm.end())
                n.spectralNorm.push_back(where.second);
    m.origin = hasMetadata ? "inferred from the state_dict's keys and its _metadata"
                           : "inferred from the state_dict's keys; it has no _metadata";
    m.notes.push_back("module classes are not recorded in a state_dict: a module holding running_mean, running_var "
                      "and num_batches_tracked is taken for a BatchNorm; children set to None, non-persistent "
                      "buffers and InstanceNorm's pre-0.4 check cannot be known (a manifest records them, see "
                      "docs/manifest.md)");
    return m;
}

ModelStructure structureFromModule(const Checkpoint &cp, ValueId module)
{
    ModelStructure m;
    ModuleWalker walker { cp, m, {} };
    walker.walk(module, "");
    m.origin = "the whole pickled model (" + className(cp.arena, module) + ")";
    m.classesKnown = true;
    markTies(m);
    for (const ModuleNode &n : m.modules)
        if (!n.extraState && !n.opaque) {
            m.notes.push_back("whether the user classes (" + n.className
                + ", ...) define set_extra_state cannot be read from a pickle: a _extra_state key "
                  "in the checkpoint is taken as handled, none as not needed");
            break;
        }
    return m;
}

ModelStructure structureFromScript(const Checkpoint &cp)
{
    ModelStructure m;
    walkScript(cp, cp.root, "", 0, m);
    m.origin = "the TorchScript module's parameters and buffers";
    m.classesKnown = true;
    markTies(m);
    m.notes.push_back("TorchScript keeps non-persistent buffers as buffers and does not record children set to "
                      "None or extra state: those follow the scripted module, not the Python class");
    return m;
}

std::optional<std::vector<std::int64_t>> shapeOf(const Json &j)
{
    if (!j.is_array())
        return std::nullopt;
    std::vector<std::int64_t> shape;
    for (const Json &d : j) {
        if (!d.is_number_integer() || d.get<std::int64_t>() < 0)
            return std::nullopt;
        shape.push_back(d.get<std::int64_t>());
    }
    return shape;
}

Result<KeyRecord> keyRecordOf(const std::string &key, const Json &v, const std::string &path)
{
    KeyRecord k;
    k.key = key;
    auto bad = [&](const std::string &why) -> Result<KeyRecord> {
        Error e = makeError(ErrorCode::BadRecord, "manifest entry '" + key + "' " + why, {}, std::nullopt,
            "see docs/manifest.md for the format");
        e.path = path;
        return e;
    };
    if (v.is_array()) {
        auto shape = shapeOf(v);
        if (!shape)
            return bad("is not a list of sizes");
        k.shape = *shape;
        return k;
    }
    if (!v.is_object())
        return bad("is neither a record nor a shape");
    if (v.contains("shape")) {
        auto shape = shapeOf(v["shape"]);
        if (!shape)
            return bad("has a shape that is not a list of sizes");
        k.shape = *shape;
    } else if (v.contains("type")) {
        k.isTensor = false;
        return k;
    } else {
        return bad("has no shape");
    }
    if (v.contains("dtype") && v["dtype"].is_string()) {
        k.dtype = v["dtype"].get<std::string>();
        if (startsWith(k.dtype, "torch."))
            k.dtype = k.dtype.substr(6);
    }
    if (v.contains("device") && v["device"].is_string())
        k.device = v["device"].get<std::string>();
    if (v.contains("parameter") && v["parameter"].is_boolean())
        k.parameter = v["parameter"].get<bool>();
    else if (v.contains("kind") && v["kind"].is_string())
        k.parameter = v["kind"].get<std::string>() == "parameter";
    if (v.contains("ptr") && v["ptr"].is_number_integer() && v["ptr"].get<std::int64_t>() != 0)
        k.tieId = std::to_string(v["ptr"].get<std::int64_t>());
    return k;
}

std::vector<std::string> stringList(const Json &j)
{
    std::vector<std::string> out;
    if (j.is_array())
        for (const Json &x : j)
            if (x.is_string())
                out.push_back(x.get<std::string>());
    return out;
}

std::string pythonTypeOfValue(const Checkpoint &cp, ValueId id)
{
    const ValueArena &a = cp.arena;
    if (!a.valid(id))
        return "<class 'NoneType'>";
    const Value &v = a[id];
    auto cls = [](const std::string &name) { return "<class '" + name + "'>"; };
    switch (v.kind) {
    case ValueKind::None:
        return cls("NoneType");
    case ValueKind::Bool:
        return cls("bool");
    case ValueKind::Int:
    case ValueKind::BigInt:
        return cls("int");
    case ValueKind::Float:
        return cls("float");
    case ValueKind::Complex:
        return cls("complex");
    case ValueKind::String:
        return cls("str");
    case ValueKind::Bytes:
        return cls("bytes");
    case ValueKind::ByteArray:
        return cls("bytearray");
    case ValueKind::List:
        return cls("list");
    case ValueKind::Tuple:
        return cls("tuple");
    case ValueKind::Set:
        return cls("set");
    case ValueKind::FrozenSet:
        return cls("frozenset");
    case ValueKind::Dict:
        return cls(v.text.empty() ? std::string("dict") : v.text);
    case ValueKind::Global:
        return cls("type");
    case ValueKind::TorchSize:
        return cls("torch.Size");
    case ValueKind::Device:
        return cls("torch.device");
    case ValueKind::Dtype:
        return cls("torch.dtype");
    case ValueKind::Layout:
        return cls("torch.layout");
    case ValueKind::QScheme:
        return cls("torch.qscheme");
    case ValueKind::Storage:
        return cls("torch.storage.TypedStorage");
    case ValueKind::Tensor:
        return cls("torch.Tensor");
    case ValueKind::PersistentId:
        return cls("object");
    case ValueKind::Object: {
        if (a.valid(v.callable) && a.isGlobal(v.callable, "numpy.core.multiarray", "_reconstruct"))
            return cls("numpy.ndarray");
        const std::string name = className(a, id);
        return cls(name.empty() ? std::string("object") : name);
    }
    }
    return cls("object");
}

SourceEntry entryFor(const Checkpoint &cp, const std::string &key, ValueId v)
{
    SourceEntry e;
    e.key = key;
    const ValueArena &a = cp.arena;
    if (a.valid(v) && a[v].kind == ValueKind::Tensor) {
        const TensorInfo &t = cp.tensors[a[v].aux];
        e.isTensor = true;
        e.shape = t.shape;
        e.dtype = t.dtype;
        e.device = t.device;
        e.layout = t.layout;
        e.tensor = static_cast<std::int32_t>(a[v].aux);
    } else {
        e.pythonType = pythonTypeOfValue(cp, v);
    }
    return e;
}

// model.state_dict() of a module the file holds whole (or a TorchScript module): its entries, and
// the _metadata torch would write (each module's class _version; 1 unless known otherwise).
SourceStateDict sourceFromStructure(const Checkpoint &cp, const ModelStructure &m, ObjectPath path)
{
    SourceStateDict sd;
    sd.path = std::move(path);
    sd.hasMetadata = true;
    for (const ModuleNode &node : m.modules) {
        sd.metadata.emplace_back(node.prefix.empty() ? std::string() : node.prefix.substr(0, node.prefix.size() - 1),
            node.version.value_or(1));
        for (const ModuleSlot &s : node.slots) {
            if (s.none || !s.persistent)
                continue;
            SourceEntry e;
            e.key = node.prefix + s.name;
            if (s.tensor >= 0) {
                const TensorInfo &t = cp.tensors[static_cast<std::size_t>(s.tensor)];
                e.isTensor = true;
                e.shape = t.shape;
                e.dtype = t.dtype;
                e.device = t.device;
                e.layout = t.layout;
                e.tensor = s.tensor;
            } else {
                e.pythonType = "<class 'object'>";
            }
            sd.entries.push_back(std::move(e));
        }
    }
    return sd;
}

// Walk order of load(): pre-order from the root through non-None children.
void preorder(const ModelStructure &m, std::int32_t index, std::vector<std::int32_t> &out, int depth = 0)
{
    if (index < 0 || static_cast<std::size_t>(index) >= m.modules.size() || depth > 1024)
        return;
    out.push_back(index);
    for (const auto &[name, child] : m.modules[static_cast<std::size_t>(index)].children)
        preorder(m, child, out, depth + 1);
}

// ------------------------------------------------------------------------------------------------
// The emulation of module.py's load()
// ------------------------------------------------------------------------------------------------

struct Emulator
{
    const ModelStructure &model;
    const SourceStateDict &source;
    TorchRules rules;
    LoadOutcome out;
    // Source entries, then entries torch synthesises; a deque: `present` keeps views of the keys across push_back.
    std::deque<SourceEntry> work;
    std::unordered_set<std::string> used;
    bool stopped = false;

    void run()
    {
        work.assign(source.entries.begin(), source.entries.end());
        std::vector<std::int32_t> root(work.size());
        for (std::size_t i = 0; i < work.size(); ++i)
            root[i] = static_cast<std::int32_t>(i);
        if (!model.modules.empty())
            load(0, root, 0);
    }

    void load(std::int32_t moduleIndex, std::vector<std::int32_t> dict, int depth)
    {
        if (stopped || depth > 1024)
            return;
        const ModuleNode &node = model.modules[static_cast<std::size_t>(moduleIndex)];
        const std::string &prefix = node.prefix;
        if (node.opaque) {
            for (std::int32_t i : dict)
                used.insert(work[static_cast<std::size_t>(i)].key),
                    out.ignoredKeys.push_back(work[static_cast<std::size_t>(i)].key);
            return;
        }
        std::unordered_map<std::string_view, std::int32_t> present;
        for (std::int32_t i : dict)
            present.emplace(work[static_cast<std::size_t>(i)].key, i);
        const std::optional<std::int64_t> version = source.versionFor(prefix);

        // _InstanceNorm._load_from_state_dict: pre-0.4 running stats are reported and dropped.
        if (node.instanceNorm && !version && node.trackRunningStats == false) {
            std::vector<std::string> found;
            for (const char *name : { "running_mean", "running_var" })
                if (present.count(prefix + name))
                    found.push_back(prefix + name);
            if (!found.empty()) {
                std::string names;
                for (std::size_t i = 0; i < found.size(); ++i)
                    names += (i ? " and " : "") + quoteKey(found[i]);
                const std::string klass = node.shortClassName();
                out.errorMessages.push_back("Unexpected running stats buffer(s) " + names + " for " + klass
                    + " with track_running_stats=False. If state_dict is a checkpoint saved before 0.4.0, this may "
                      "be expected because "
                    + klass
                    + " does not track running stats by default since 0.4.0. Please remove these keys from "
                      "state_dict. If the running stats are actually needed, instead set track_running_stats=True "
                      "in "
                    + klass + " to enable them. See the documentation of " + klass + " for details.");
                for (const std::string &k : found) {
                    const std::int32_t idx = present[k];
                    dict.erase(std::find(dict.begin(), dict.end(), idx));
                    present.erase(work[static_cast<std::size_t>(idx)].key);
                    used.insert(k);
                    out.droppedRunningStats.push_back(k);
                }
            }
        }
        // _NormBase: without version-2 metadata a missing num_batches_tracked is filled in.
        if (node.normBase && (!version || *version < 2) && node.trackRunningStats == true) {
            const std::string key = prefix + "num_batches_tracked";
            if (!present.count(key)) {
                SourceEntry e;
                e.key = key;
                e.isTensor = true;
                e.dtype = "int64";
                e.device = "cpu";
                e.layout = "strided";
                work.push_back(std::move(e));
                const auto idx = static_cast<std::int32_t>(work.size() - 1);
                dict.push_back(idx);
                present.emplace(work.back().key, idx);
                out.filledIn.push_back(key);
            }
        }
        // torch.nn.utils.spectral_norm's pre-hook (SpectralNormLoadStateDictPreHook), before the module's
        // own keys: without a spectral_norm version in the checkpoint's metadata it reports each of
        // weight_orig, weight and weight_u it lacks as missing (the module then reports its own
        // missing keys again), or, holding all three, turns the old layout into the new one (weight
        // popped, weight_v computed from the others).
        for (const std::string &name : node.spectralNorm) {
            const std::optional<std::int64_t> snVersion = source.spectralNormVersion(prefix, name);
            if (snVersion && *snVersion >= 1)
                continue;
            const std::string w = prefix + name;
            auto has = [&](const std::string &k) { return present.count(k) > 0; };
            if (!snVersion && has(w + "_orig") && has(w + "_u") && has(w + "_v") && !has(w))
                continue;
            bool lacking = false;
            for (const char *suffix : {"_orig", "", "_u"})
                if (!has(w + suffix)) {
                    lacking = true;
                    out.missingKeys.push_back(w + suffix);
                }
            if (lacking)
                continue;
            const std::int32_t weightIdx = present[w];
            dict.erase(std::find(dict.begin(), dict.end(), weightIdx));
            present.erase(work[static_cast<std::size_t>(weightIdx)].key);
            used.insert(w);
            out.convertedKeys.push_back(w);
            if (!has(w + "_v")) {
                SourceEntry e;
                e.key = w + "_v";
                e.isTensor = true;
                const SourceEntry &orig = work[static_cast<std::size_t>(present[w + "_orig"])];
                e.dtype = orig.dtype;
                e.device = orig.device;
                e.layout = "strided";
                for (const ModuleSlot &sl : node.slots)
                    if (sl.name == name + "_v")
                        e.shape = sl.shape;
                work.push_back(std::move(e));
                const auto idx = static_cast<std::int32_t>(work.size() - 1);
                dict.push_back(idx);
                present.emplace(work.back().key, idx);
                out.convertedKeys.push_back(w + "_v");
            }
        }
        std::unordered_set<std::string> local;
        for (std::size_t s = 0; s < node.slots.size(); ++s) {
            const ModuleSlot &slot = node.slots[s];
            if (slot.none || (slot.buffer && !slot.persistent))
                continue;
            local.insert(slot.name);
            const std::string key = prefix + slot.name;
            auto it = present.find(key);
            if (it == present.end()) {
                out.missingKeys.push_back(key);
                continue;
            }
            const std::int32_t idx = it->second;
            const SourceEntry &in = work[static_cast<std::size_t>(idx)];
            used.insert(key);
            if (!in.isTensor) {
                out.errorMessages.push_back("While copying the parameter named " + quoteKey(key)
                    + ", expected torch.Tensor or Tensor-like object from checkpoint but "
                      "received "
                    + in.pythonType);
                out.nonTensorKeys.push_back(key);
                continue;
            }
            std::vector<std::int64_t> inShape = in.shape;
            bool firstOnly = false;
            if (!slot.lazy && slot.shape.empty() && inShape.size() == 1) {
                // Backward compatibility with 0.3: a 1-dim tensor into a 0-dim parameter goes through [0].
                if (rules != TorchRules::Torch2) {
                    if (inShape[0] == 0) {
                        out.exception = "IndexError: index 0 is out of bounds for dimension 0 with size 0";
                        stopped = true;
                        return;
                    }
                    inShape.clear();
                    firstOnly = true;
                } else if (inShape[0] == 1) {
                    inShape.clear();
                    firstOnly = true;
                }
            }
            if (!slot.lazy && inShape != slot.shape) {
                out.errorMessages.push_back("size mismatch for " + key + ": copying a param with shape "
                    + torchSizeText(inShape) + " from checkpoint, the shape in current model is "
                    + torchSizeText(slot.shape) + ".");
                out.sizeMismatches.push_back({ key, inShape, slot.shape });
                continue;
            }
            if (in.device == "meta" && slot.device != "meta") {
                out.errorMessages.push_back("While copying the parameter named " + quoteKey(key)
                    + ", whose dimensions in the model are " + torchSizeText(slot.shape)
                    + " and whose dimensions in the checkpoint are " + torchSizeText(inShape)
                    + ", an exception occurred : ('Cannot copy out of meta tensor; no data!',).");
                out.copyFailureKeys.push_back(key);
                continue;
            }
            LoadedTensor lt;
            lt.key = key;
            lt.sourceEntry = static_cast<std::size_t>(idx) < source.entries.size() ? idx : -1;
            lt.module = moduleIndex;
            lt.slot = static_cast<std::int32_t>(s);
            lt.firstElementOnly = firstOnly;
            out.loaded.push_back(std::move(lt));
            if (!slot.dtype.empty() && !in.dtype.empty() && slot.dtype != in.dtype)
                out.dtypeDifferences.push_back({ key, in.dtype, slot.dtype });
        }
        const std::string extraKey = prefix + std::string(kExtraState);
        bool extra = node.extraState.value_or(false);
        if (!node.extraState && present.count(extraKey)) {
            extra = true;
            out.assumptions.push_back("'" + extraKey + "' is taken as the extra state of " + node.className
                + " (a pickle does not tell whether the class defines set_extra_state)");
        }
        if (extra) {
            if (present.count(extraKey))
                used.insert(extraKey);
            else
                out.missingKeys.push_back(extraKey);
        } else if (present.count(extraKey)) {
            out.unexpectedKeys.push_back(extraKey);
            used.insert(extraKey);
        }
        std::unordered_map<std::string_view, std::size_t> childSlot;
        for (std::size_t c = 0; c < node.children.size(); ++c)
            childSlot.emplace(node.children[c].first, c);
        std::vector<std::vector<std::int32_t>> childDicts(node.children.size());
        for (std::int32_t i : dict) {
            const std::string &key = work[static_cast<std::size_t>(i)].key;
            if (!startsWith(key, prefix) || key == extraKey)
                continue;
            const std::string_view rest = std::string_view(key).substr(prefix.size());
            const auto dot = rest.find('.');
            const std::string_view first = rest.substr(0, dot);
            const auto child = childSlot.find(first);
            const bool isChild = child != childSlot.end();
            bool unexpected;
            if (rules == TorchRules::Torch1_13 || dot == std::string_view::npos)
                unexpected = rules == TorchRules::Torch1_13 ? !isChild && !local.count(std::string(first))
                                                            : !local.count(std::string(rest));
            else
                unexpected = !isChild;
            if (unexpected) {
                out.unexpectedKeys.push_back(key);
                used.insert(key);
            }
            if (isChild && dot != std::string_view::npos)
                childDicts[child->second].push_back(i);
        }
        for (std::size_t c = 0; c < node.children.size(); ++c)
            if (node.children[c].second >= 0)
                load(node.children[c].second, std::move(childDicts[c]), depth + 1);
    }
};

} // namespace

std::string ModuleNode::shortClassName() const
{
    return shortName(className);
}

std::vector<std::string> ModelStructure::stateDictKeys() const
{
    std::vector<std::string> keys;
    std::vector<std::int32_t> order;
    preorder(*this, 0, order);
    for (std::int32_t i : order) {
        const ModuleNode &node = modules[static_cast<std::size_t>(i)];
        for (const ModuleSlot &s : node.slots)
            if (!s.none && s.persistent)
                keys.push_back(node.prefix + s.name);
        if (node.extraState.value_or(false))
            keys.push_back(node.prefix + std::string(kExtraState));
    }
    return keys;
}

bool ModelStructure::underOpaqueModule(const std::string &key) const
{
    return std::any_of(modules.begin(), modules.end(),
                       [&](const ModuleNode &n) { return n.opaque && startsWith(key, n.prefix); });
}

const ModuleSlot *ModelStructure::slotForKey(const std::string &key, const ModuleNode **owner) const
{
    const auto dot = key.rfind('.');
    const std::string prefix = dot == std::string::npos ? std::string() : key.substr(0, dot + 1);
    const std::string name = dot == std::string::npos ? key : key.substr(dot + 1);
    for (const ModuleNode &node : modules) {
        if (node.prefix != prefix)
            continue;
        for (const ModuleSlot &s : node.slots)
            if (s.name == name) {
                if (owner)
                    *owner = &node;
                return &s;
            }
    }
    return nullptr;
}

std::optional<std::int64_t> SourceStateDict::versionFor(const std::string &prefix) const
{
    if (!hasMetadata)
        return std::nullopt;
    const std::string name = prefix.empty() ? prefix : prefix.substr(0, prefix.size() - 1);
    for (const auto &[k, v] : metadata)
        if (k == name)
            return v;
    return std::nullopt;
}

std::optional<std::int64_t> SourceStateDict::spectralNormVersion(const std::string &prefix, const std::string &name) const
{
    const std::string module = prefix.empty() ? prefix : prefix.substr(0, prefix.size() - 1);
    for (const auto &[where, version] : spectralNorm)
        if (where.first == module && where.second == name)
            return version;
    return std::nullopt;
}

const SourceEntry *SourceStateDict::find(const std::string &key) const
{
    for (const SourceEntry &e : entries)
        if (e.key == key)
            return &e;
    return nullptr;
}

std::vector<std::string> LoadOutcome::strictMessages() const
{
    if (typeError)
        return { *typeError };
    if (exception)
        return { *exception };
    std::vector<std::string> lines;
    if (!missingKeys.empty())
        lines.push_back("Missing key(s) in state_dict: " + joinQuoted(missingKeys) + ". ");
    if (!unexpectedKeys.empty())
        lines.push_back("Unexpected key(s) in state_dict: " + joinQuoted(unexpectedKeys) + ". ");
    lines.insert(lines.end(), errorMessages.begin(), errorMessages.end());
    return lines;
}

bool LoadOutcome::strictOk() const
{
    return !typeError && !exception && missingKeys.empty() && unexpectedKeys.empty() && errorMessages.empty();
}

std::size_t LoadOutcome::loadedFromSource() const
{
    return static_cast<std::size_t>(
        std::count_if(loaded.begin(), loaded.end(), [](const LoadedTensor &l) { return l.sourceEntry >= 0; }));
}

bool LoadOutcome::nonStrictOk() const
{
    return !typeError && !exception && errorMessages.empty();
}

std::vector<std::string> LoadOutcome::nonStrictMessages() const
{
    if (typeError)
        return { *typeError };
    if (exception)
        return { *exception };
    return errorMessages;
}

std::string torchSizeText(const std::vector<std::int64_t> &shape)
{
    return "torch.Size(" + formatShape(shape) + ")";
}

std::string pythonTypeOf(const Checkpoint &cp, ValueId value)
{
    return pythonTypeOfValue(cp, value);
}

namespace {

struct RulesLabel
{
    TorchRules rules;
    const char *name; // for people
    const char *id;   // in JSON
};

constexpr RulesLabel kRulesLabels[] = {
    {TorchRules::Torch2, "torch >= 2.10", "2.x"},
    {TorchRules::Torch2_4, "torch 2.4-2.9", "2.4"},
    {TorchRules::Torch1_13, "torch <= 2.3", "1.13"},
};

const RulesLabel &rulesLabel(TorchRules rules)
{
    for (const RulesLabel &l : kRulesLabels)
        if (l.rules == rules)
            return l;
    return kRulesLabels[0];
}

} // namespace

const char *torchRulesName(TorchRules rules)
{
    return rulesLabel(rules).name;
}

const char *torchRulesId(TorchRules rules)
{
    return rulesLabel(rules).id;
}

TorchRules parseTorchRules(const std::string &text, bool *ok)
{
    if (ok)
        *ok = true;
    if (text == "2" || text == "2.x" || text == "latest")
        return TorchRules::Torch2;
    // MAJOR.MINOR[.anything]
    std::size_t i = 0;
    auto number = [&](long &v) {
        const std::size_t start = i;
        v = 0;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9' && i - start < 4)
            v = v * 10 + (text[i++] - '0');
        return i > start;
    };
    long major = 0, minor = 0;
    if (number(major) && i < text.size() && text[i] == '.' && (++i, number(minor))
        && (i == text.size() || text[i] == '.' || text[i] == '+')) {
        if (major == 1 || (major == 2 && minor <= 3))
            return TorchRules::Torch1_13;
        if (major == 2 && minor <= 9)
            return TorchRules::Torch2_4;
        if (major >= 2)
            return TorchRules::Torch2;
    }
    if (ok)
        *ok = false;
    return TorchRules::Torch2;
}

Result<ModelStructure> modelFromCheckpoint(const Checkpoint &cp, const ObjectPath *key)
{
    const ValueArena &a = cp.arena;
    auto notFound = [&](const std::string &what) -> Result<ModelStructure> {
        Error e = makeError(ErrorCode::UnsupportedFormat, what, {}, std::nullopt,
            "name the state_dict with --target-key, or describe the model with a manifest "
            "(docs/manifest.md)");
        e.path = cp.path;
        return e;
    };
    ValueId value = kNoValue;
    if (key) {
        value = resolvePath(cp, *key);
        if (!a.valid(value))
            return notFound("nothing at '" + joinPath(*key) + "' in the file");
    } else if (cp.format == FileFormat::TorchScript) {
        if (!cp.stateDict.found)
            return notFound("the TorchScript module's parameters could not be listed");
        return structureFromScript(cp);
    } else {
        if (!cp.stateDict.found)
            return notFound("no state_dict found in the file");
        value = cp.stateDict.path.empty() ? cp.root : resolvePath(cp, cp.stateDict.path);
        if (!a.valid(value) || (a[value].kind != ValueKind::Dict && !isModuleObject(a, value))) {
            // safetensors, shards: the reader's entries are all there is.
            ModelStructure m = structureFromStateDict(cp, cp.stateDict.entries, kNoValue);
            return m;
        }
    }
    if (isModuleObject(a, value))
        return structureFromModule(cp, value);
    if (cp.format == FileFormat::TorchScript && value == cp.root)
        return structureFromScript(cp);
    if (a[value].kind != ValueKind::Dict)
        return notFound("'" + joinPath(key ? *key : cp.stateDict.path) + "' is " + valueSummary(cp, value)
            + ", neither a state_dict nor a module");
    std::vector<StateDictEntry> entries;
    for (const auto &[k, v] : a[value].entries) {
        StateDictEntry e;
        e.key = keyText(a, k);
        e.value = v;
        e.tensor = a.valid(v) && a[v].kind == ValueKind::Tensor ? static_cast<std::int32_t>(a[v].aux) : -1;
        entries.push_back(std::move(e));
    }
    return structureFromStateDict(cp, entries, value);
}

bool looksLikeManifest(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return false;
    char c = 0;
    while (in.get(c))
        if (!std::isspace(static_cast<unsigned char>(c)))
            break;
    if (c != '{')
        return false;
    // A sharded checkpoint's index is JSON too: it names its shards in "weight_map".
    std::string head(4096, '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<std::size_t>(in.gcount()));
    return head.find("\"weight_map\"") == std::string::npos;
}

Result<ModelStructure> modelFromManifest(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        Error e = makeError(ErrorCode::FileNotFound, "cannot open the manifest");
        e.path = path;
        return e;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    if (ss.str().size() > (512u << 20)) {
        Error e = makeError(ErrorCode::BudgetExceeded, "the manifest is larger than 512 MB");
        e.path = path;
        return e;
    }
    return modelFromManifestText(ss.str(), path);
}

Result<ModelStructure> modelFromManifestText(const std::string &text, const std::string &path)
{
    auto bad = [&](const std::string &why) -> Result<ModelStructure> {
        Error e = makeError(ErrorCode::BadRecord, why, {}, std::nullopt, "see docs/manifest.md for the format");
        e.path = path;
        return e;
    };
    const Json doc = Json::parse(text, nullptr, false);
    if (doc.is_discarded())
        return bad("the manifest is not valid JSON");
    if (!doc.is_object())
        return bad("the manifest is not a JSON object");
    const bool full = doc.contains("state_dict") && doc["state_dict"].is_object();
    const Json &sd = full ? doc["state_dict"] : doc;
    std::vector<KeyRecord> keys;
    for (auto it = sd.begin(); it != sd.end(); ++it) {
        auto k = keyRecordOf(it.key(), it.value(), path);
        if (!k)
            return k.error();
        keys.push_back(std::move(*k));
    }
    std::vector<ModuleRecord> records;
    if (full && doc.contains("modules") && doc["modules"].is_object()) {
        for (auto it = doc["modules"].begin(); it != doc["modules"].end(); ++it) {
            ModuleRecord r;
            r.name = it.key();
            const Json &v = it.value();
            if (!v.is_object())
                return bad("manifest module '" + r.name + "' is not a record");
            if (v.contains("class") && v["class"].is_string())
                r.className = v["class"].get<std::string>();
            if (v.contains("version") && v["version"].is_number_integer())
                r.version = v["version"].get<std::int64_t>();
            if (v.contains("track_running_stats") && v["track_running_stats"].is_boolean())
                r.track = v["track_running_stats"].get<bool>();
            if (v.contains("extra_state") && v["extra_state"].is_boolean())
                r.extraState = v["extra_state"].get<bool>();
            if (v.contains("non_persistent"))
                r.nonPersistent = stringList(v["non_persistent"]);
            if (v.contains("none_children"))
                r.noneChildren = stringList(v["none_children"]);
            records.push_back(std::move(r));
        }
    }
    ModelStructure m = buildFromKeys(keys, records);
    if (full && doc.contains("class") && doc["class"].is_string() && m.modules[0].className.empty())
        m.modules[0].className = doc["class"].get<std::string>();
    m.classesKnown = !records.empty();
    m.origin = records.empty() ? "the manifest's keys (no module records)" : "the manifest";
    if (records.empty())
        m.notes.push_back("the manifest lists keys only: module classes, children set to None and non-persistent "
                          "buffers are unknown (the full one-liner in docs/manifest.md records them)");
    return m;
}

SourceStateDict sourceFromValue(const Checkpoint &cp, ValueId value, ObjectPath path)
{
    const ValueArena &a = cp.arena;
    SourceStateDict sd;
    sd.path = path;
    if (isModuleObject(a, value)) {
        sd.isMapping = false;
        sd.pythonType = pythonTypeOfValue(cp, value);
        return sd;
    }
    if (!a.valid(value) || a[value].kind != ValueKind::Dict) {
        sd.isMapping = false;
        sd.pythonType = pythonTypeOfValue(cp, value);
        return sd;
    }
    std::unordered_map<std::string, std::size_t> index;
    for (const auto &[k, v] : a[value].entries) {
        SourceEntry e = entryFor(cp, keyText(a, k), v);
        if (auto it = index.find(e.key); it != index.end()) {
            sd.entries[it->second] = std::move(e); // a repeated key keeps its first place and its last value
            continue;
        }
        index.emplace(e.key, sd.entries.size());
        sd.entries.push_back(std::move(e));
    }
    sd.hasMetadata = readMetadata(cp, value, sd.metadata, &sd.spectralNorm);
    return sd;
}

Result<SourceStateDict> sourceFromCheckpoint(const Checkpoint &cp, const ObjectPath *key)
{
    const ValueArena &a = cp.arena;
    auto fail = [&](const std::string &what) -> Result<SourceStateDict> {
        Error e = makeError(ErrorCode::UnsupportedFormat, what, {}, std::nullopt,
            "name the state_dict with --source-key (see `ptscope-cli info --tree`)");
        e.path = cp.path;
        return e;
    };
    ValueId value = kNoValue;
    ObjectPath path;
    if (key) {
        path = *key;
        value = resolvePath(cp, path);
        if (!a.valid(value))
            return fail("nothing at '" + joinPath(path) + "' in the file");
    } else {
        if (!cp.stateDict.found) {
            // load_state_dict(torch.load(source)) takes whatever dict the file holds, even one
            // without a tensor: every key is then unexpected and every parameter missing.
            if (cp.format == FileFormat::TorchScript || !a.valid(cp.root) || a[cp.root].kind != ValueKind::Dict)
                return fail("no state_dict found in the file");
            return sourceFromValue(cp, cp.root, {});
        }
        if (cp.format == FileFormat::TorchScript)
            return sourceFromStructure(cp, structureFromScript(cp), {});
        path = cp.stateDict.path;
        value = path.empty() ? cp.root : resolvePath(cp, path);
        if (!a.valid(value) || (a[value].kind != ValueKind::Dict && !isModuleObject(a, value))) {
            SourceStateDict sd;
            sd.path = path;
            for (const StateDictEntry &e : cp.stateDict.entries)
                sd.entries.push_back(entryFor(cp, e.key, e.value));
            return sd;
        }
    }
    if (isModuleObject(a, value))
        return sourceFromStructure(cp, structureFromModule(cp, value), path);
    if (a[value].kind != ValueKind::Dict)
        return fail("'" + joinPath(path) + "' is " + valueSummary(cp, value) + ", not a state_dict");
    return sourceFromValue(cp, value, path);
}

LoadOutcome emulateLoadStateDict(const ModelStructure &model, const SourceStateDict &source, TorchRules rules)
{
    Emulator em { model, source, rules, {}, {}, {} };
    const std::string cls = model.modules.empty() || model.modules[0].className.empty()
        ? std::string("<model class>")
        : model.modules[0].shortClassName();
    em.out.header = "Error(s) in loading state_dict for " + cls + ":";
    if (!source.isMapping) {
        em.out.typeError = "Expected state_dict to be dict-like, got " + source.pythonType + ".";
        return em.out;
    }
    em.run();
    for (const SourceEntry &e : source.entries)
        if (!em.used.count(e.key)
            && std::find(em.out.ignoredKeys.begin(), em.out.ignoredKeys.end(), e.key) == em.out.ignoredKeys.end())
            em.out.ignoredKeys.push_back(e.key);
    for (const ModuleNode &n : model.modules)
        if (n.opaque)
            em.out.assumptions.push_back("keys under '" + n.prefix + "' are not judged: that module could not be read");
    return std::move(em.out);
}

std::vector<std::string> loadNotes(const ModelStructure &model, const LoadOutcome &outcome)
{
    std::vector<std::string> notes = model.notes;
    notes.insert(notes.end(), outcome.assumptions.begin(), outcome.assumptions.end());
    return notes;
}

std::optional<std::string> packedParamsOwner(const std::string &key)
{
    for (const std::string marker : {"_packed_params.", "_all_weight_values."}) {
        const auto at = key.rfind(marker);
        if (at != std::string::npos && (at == 0 || key[at - 1] == '.'))
            return key.substr(0, at);
    }
    return std::nullopt;
}

} // namespace ptscope::core
