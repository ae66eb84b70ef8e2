// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "checkpoint_analysis.h"

#include "zip_archive.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <unordered_set>

namespace ptscope::core {

namespace {

using Attributes = std::vector<std::pair<std::string, ValueId>>;

std::string formatFloat(double v)
{
    if (std::isnan(v))
        return "nan";
    if (std::isinf(v))
        return v > 0 ? "inf" : "-inf";
    char buf[40];
    // Shortest text that reads back as the same double, like Python's repr.
    for (int precision = 1; precision <= 17; ++precision) {
        std::snprintf(buf, sizeof buf, "%.*g", precision, v);
        if (std::strtod(buf, nullptr) == v)
            break;
    }
    std::string s = buf;
    if (s.find_first_of(".en") == std::string::npos)
        s += ".0";
    return s;
}

} // namespace

// Attributes of an object as Python would see them in its __dict__ (BUILD state), plus the items
// a dict or list subclass received.
Attributes objectAttributes(const ValueArena &arena, ValueId id)
{
    Attributes out;
    const Value &v = arena[id];
    auto addDict = [&](ValueId dictId) {
        if (!arena.valid(dictId) || arena[dictId].kind != ValueKind::Dict)
            return;
        for (const auto &[k, val] : arena[dictId].entries)
            out.emplace_back(keyText(arena, k), val);
    };
    if (arena.valid(v.state)) {
        const Value &st = arena[v.state];
        if (st.kind == ValueKind::Dict) {
            addDict(v.state);
        } else if (st.kind == ValueKind::Tuple && st.items.size() == 2) {
            // (instance dict, slots dict), as written for classes with __slots__.
            addDict(st.items[0]);
            addDict(st.items[1]);
        }
    }
    return out;
}

ValueId opaqueState(const ValueArena &arena, ValueId id)
{
    if (!arena.valid(id) || arena[id].kind != ValueKind::Object || !arena.valid(arena[id].state))
        return kNoValue;
    const ValueId state = arena[id].state;
    const Value &st = arena[state];
    auto dictOrNone = [&](ValueId x) {
        return !arena.valid(x) || arena[x].kind == ValueKind::Dict || arena[x].kind == ValueKind::None;
    };
    if (st.kind == ValueKind::Dict || st.kind == ValueKind::None
        || (st.kind == ValueKind::Tuple && st.items.size() == 2 && dictOrNone(st.items[0]) && dictOrNone(st.items[1])))
        return kNoValue;
    return state;
}

ValueId attribute(const ValueArena &arena, ValueId id, std::string_view name)
{
    if (!arena.valid(id) || arena[id].kind != ValueKind::Object)
        return kNoValue;
    const Value &v = arena[id];
    if (!arena.valid(v.state))
        return kNoValue;
    auto lookIn = [&](ValueId dictId) -> ValueId {
        if (!arena.valid(dictId) || arena[dictId].kind != ValueKind::Dict)
            return kNoValue;
        for (const auto &[k, val] : arena[dictId].entries)
            if (arena.isString(k) && arena[k].text == name)
                return val;
        return kNoValue;
    };
    const Value &st = arena[v.state];
    if (st.kind == ValueKind::Dict)
        return lookIn(v.state);
    if (st.kind == ValueKind::Tuple && st.items.size() == 2) {
        ValueId r = lookIn(st.items[0]);
        return r != kNoValue ? r : lookIn(st.items[1]);
    }
    return kNoValue;
}

ValueId dictGet(const ValueArena &arena, ValueId dictId, std::string_view key)
{
    if (!arena.valid(dictId) || arena[dictId].kind != ValueKind::Dict)
        return kNoValue;
    for (const auto &[k, val] : arena[dictId].entries)
        if (arena.isString(k) && arena[k].text == key)
            return val;
    return kNoValue;
}

std::string className(const ValueArena &arena, ValueId id)
{
    if (!arena.valid(id))
        return {};
    const Value &v = arena[id];
    if (v.kind != ValueKind::Object || !arena.valid(v.callable) || arena[v.callable].kind != ValueKind::Global)
        return {};
    const Value &g = arena[v.callable];
    return g.text + "." + g.name;
}

// torch.compile's OptimizedModule pickles itself as OptimizedModule(orig_module, dynamo_ctx): a
// module whose only child is `_orig_mod`.
ValueId compiledInner(const ValueArena &arena, ValueId id)
{
    if (!arena.valid(id) || arena[id].kind != ValueKind::Object || !arena.isGlobal(arena[id].callable,
            "torch._dynamo.eval_frame", "OptimizedModule"))
        return kNoValue;
    const Value &args = arena[arena[id].args];
    if (!arena.valid(arena[id].args) || args.kind != ValueKind::Tuple || args.items.empty())
        return kNoValue;
    return args.items[0];
}

// An nn.Module pickled whole: an object whose __dict__ has _parameters and _modules.
bool isModuleObject(const ValueArena &arena, ValueId id)
{
    if (arena.valid(compiledInner(arena, id)))
        return true;
    const ValueId params = attribute(arena, id, "_parameters");
    const ValueId modules = attribute(arena, id, "_modules");
    return arena.valid(params) && arena[params].kind == ValueKind::Dict && arena.valid(modules)
        && arena[modules].kind == ValueKind::Dict;
}

namespace {

bool isTensor(const ValueArena &arena, ValueId id)
{
    return arena.valid(id) && arena[id].kind == ValueKind::Tensor;
}

struct Walker
{
    Checkpoint &cp;
    std::uint64_t maxRefs;
    bool truncated = false;

    void run()
    {
        if (!cp.arena.valid(cp.root))
            return;
        struct Frame
        {
            ValueId id;
            ObjectPath path;
        };
        std::vector<Frame> stack;
        std::unordered_set<ValueId> expanded;
        stack.push_back({cp.root, {}});
        while (!stack.empty()) {
            Frame f = std::move(stack.back());
            stack.pop_back();
            const Value &v = cp.arena[f.id];
            if (v.kind == ValueKind::Tensor) {
                if (cp.tensorRefs.size() >= maxRefs) {
                    truncated = true;
                    break;
                }
                cp.tensorRefs.push_back({std::move(f.path), v.aux});
                continue;
            }
            const bool container = v.kind == ValueKind::Dict || v.kind == ValueKind::List
                || v.kind == ValueKind::Tuple || v.kind == ValueKind::Object;
            if (!container || !expanded.insert(f.id).second)
                continue;
            std::vector<Frame> children;
            auto child = [&](std::string step, ValueId id) {
                if (!cp.arena.valid(id))
                    return;
                ObjectPath p = f.path;
                p.push_back(std::move(step));
                children.push_back({id, std::move(p)});
            };
            switch (v.kind) {
            case ValueKind::Dict:
                for (const auto &[k, val] : v.entries)
                    child(keyText(cp.arena, k), val);
                break;
            case ValueKind::List:
            case ValueKind::Tuple:
                for (std::size_t i = 0; i < v.items.size(); ++i)
                    child(std::to_string(i), v.items[i]);
                break;
            case ValueKind::Object: {
                for (auto &[name, val] : objectAttributes(cp.arena, f.id))
                    child(name, val);
                child("(state)", opaqueState(cp.arena, f.id));
                for (std::size_t i = 0; i < v.items.size(); ++i)
                    child(std::to_string(i), v.items[i]);
                for (const auto &[k, val] : v.entries)
                    child(keyText(cp.arena, k), val);
                // Arguments of a call nothing interpreted: tensors passed to a user's class stay visible.
                if (!cp.arena.valid(v.state) && cp.arena.valid(v.args) && cp.arena[v.args].kind == ValueKind::Tuple) {
                    const auto &items = cp.arena[v.args].items;
                    for (std::size_t i = 0; i < items.size(); ++i)
                        child("(args)", items[i]), children.back().path.push_back(std::to_string(i));
                }
                break;
            }
            default: break;
            }
            // Push in reverse so children are visited in their natural order.
            for (auto it = children.rbegin(); it != children.rend(); ++it)
                stack.push_back(std::move(*it));
        }
    }
};

std::size_t tensorCount(const ValueArena &arena, ValueId dictId)
{
    std::size_t n = 0;
    if (arena.valid(dictId) && arena[dictId].kind == ValueKind::Dict)
        for (const auto &[k, v] : arena[dictId].entries)
            n += isTensor(arena, v) ? 1 : 0;
    return n;
}

// A dict that looks like a state_dict: string keys, and tensors for most values. One that carries
// the `_metadata` attribute Module.state_dict() sets is one whatever it holds: a model without
// weights gives an empty one, and a broken one may hold more non-tensor values than tensors.
bool looksLikeStateDict(const ValueArena &arena, ValueId dictId)
{
    if (!arena.valid(dictId) || arena[dictId].kind != ValueKind::Dict)
        return false;
    const auto &entries = arena[dictId].entries;
    std::size_t tensors = 0;
    for (const auto &[k, v] : entries) {
        if (!arena.isString(k))
            return false;
        tensors += isTensor(arena, v) ? 1 : 0;
    }
    const ValueId state = arena[dictId].state;
    if (arena.valid(state) && arena.valid(dictGet(arena, state, "_metadata")))
        return true;
    return !entries.empty() && tensors * 2 > entries.size();
}

void addDictEntries(Checkpoint &cp, ValueId dictId)
{
    for (const auto &[k, v] : cp.arena[dictId].entries) {
        StateDictEntry e;
        e.key = keyText(cp.arena, k);
        e.value = v;
        e.tensor = isTensor(cp.arena, v) ? static_cast<std::int32_t>(cp.arena[v].aux) : -1;
        cp.stateDict.entries.push_back(std::move(e));
    }
    const ValueId state = cp.arena[dictId].state;
    if (cp.arena.valid(state)) {
        const ValueId md = dictGet(cp.arena, state, "_metadata");
        if (cp.arena.valid(md))
            cp.stateDict.metadata = md;
    }
}

// model.state_dict() of a whole pickled module: parameters, persistent buffers, then children.
void addModuleEntries(Checkpoint &cp, ValueId module, const std::string &prefix, std::vector<ValueId> &stack)
{
    if (stack.size() > 256 || std::find(stack.begin(), stack.end(), module) != stack.end()) {
        cp.stateDict.notes.push_back("module nesting at '" + prefix + "' is cyclic or deeper than 256: not followed");
        return;
    }
    stack.push_back(module);
    const ValueArena &a = cp.arena;
    if (const ValueId inner = compiledInner(a, module); a.valid(inner)) {
        if (isModuleObject(a, inner))
            addModuleEntries(cp, inner, prefix + "_orig_mod.", stack);
        stack.pop_back();
        return;
    }
    auto addTensors = [&](ValueId dictId, bool buffers, const std::set<std::string> &skip) {
        if (!a.valid(dictId) || a[dictId].kind != ValueKind::Dict)
            return;
        for (const auto &[k, v] : a[dictId].entries) {
            const std::string name = keyText(a, k);
            if (!a.valid(v) || a[v].kind == ValueKind::None || skip.count(name))
                continue;
            StateDictEntry e;
            e.key = prefix + name;
            e.value = v;
            e.tensor = isTensor(a, v) ? static_cast<std::int32_t>(a[v].aux) : -1;
            e.isBuffer = buffers;
            cp.stateDict.entries.push_back(std::move(e));
        }
    };
    addTensors(attribute(a, module, "_parameters"), false, {});
    std::set<std::string> nonPersistent;
    const ValueId np = attribute(a, module, "_non_persistent_buffers_set");
    if (a.valid(np))
        for (ValueId item : a[np].items)
            if (a.isString(item))
                nonPersistent.insert(a[item].text);
    addTensors(attribute(a, module, "_buffers"), true, nonPersistent);
    const ValueId children = attribute(a, module, "_modules");
    if (a.valid(children) && a[children].kind == ValueKind::Dict) {
        for (const auto &[k, child] : a[children].entries) {
            if (!a.valid(child) || a[child].kind == ValueKind::None)
                continue;
            if (isModuleObject(a, child))
                addModuleEntries(cp, child, prefix + keyText(a, k) + ".", stack);
            else
                cp.stateDict.notes.push_back("submodule '" + prefix + keyText(a, k)
                                             + "' is pickled in a way ptscope cannot follow (custom __reduce__)");
        }
    }
    stack.pop_back();
}

const ScriptClass *scriptClassOf(const Checkpoint &cp, ValueId id)
{
    const std::string name = className(cp.arena, id);
    if (name.empty())
        return nullptr;
    auto it = cp.scriptClasses.find(name);
    return it == cp.scriptClasses.end() ? nullptr : &it->second;
}

// ScriptModule.state_dict(): each module's parameters then buffers (in attribute order), then
// its submodules, recursively.
void addScriptEntries(Checkpoint &cp, ValueId module, const std::string &prefix, int depth)
{
    const ScriptClass *cls = scriptClassOf(cp, module);
    if (!cls || depth > 256)
        return;
    const Attributes attrs = objectAttributes(cp.arena, module);
    auto addNamed = [&](const std::vector<std::string> &names, bool buffers) {
        for (const auto &[name, v] : attrs) {
            if (std::find(names.begin(), names.end(), name) == names.end())
                continue;
            if (!cp.arena.valid(v) || cp.arena[v].kind == ValueKind::None)
                continue;
            StateDictEntry e;
            e.key = prefix + name;
            e.value = v;
            e.tensor = isTensor(cp.arena, v) ? static_cast<std::int32_t>(cp.arena[v].aux) : -1;
            e.isBuffer = buffers;
            cp.stateDict.entries.push_back(std::move(e));
        }
    };
    addNamed(cls->parameters, false);
    addNamed(cls->buffers, true);
    for (const auto &[name, v] : attrs) {
        const ScriptClass *child = scriptClassOf(cp, v);
        if (child && child->isModule)
            addScriptEntries(cp, v, prefix + name + ".", depth + 1);
    }
    for (const auto &[name, v] : attrs)
        if (isTensor(cp.arena, v) && std::find(cls->parameters.begin(), cls->parameters.end(), name) == cls->parameters.end()
            && std::find(cls->buffers.begin(), cls->buffers.end(), name) == cls->buffers.end())
            cp.tensors[cp.arena[v].aux].isParameter = false;
}

void markParameters(Checkpoint &cp)
{
    // TorchScript writes parameters as plain tensors; the code files say which ones they are.
    for (const StateDictEntry &e : cp.stateDict.entries)
        if (e.tensor >= 0 && !e.isBuffer)
            cp.tensors[static_cast<std::size_t>(e.tensor)].isParameter = true;
}

// A breadth-first work item over the object tree.
struct QueueItem
{
    ValueId id;
    ObjectPath path;
    int depth;
};

void findStateDict(Checkpoint &cp)
{
    ValueArena &a = cp.arena;
    StateDictView &sd = cp.stateDict;
    if (!a.valid(cp.root))
        return;
    if (cp.format == FileFormat::TorchScript) {
        if (scriptClassOf(cp, cp.root)) {
            sd.found = true;
            sd.source = "the TorchScript module's parameters and buffers";
            addScriptEntries(cp, cp.root, "", 0);
            markParameters(cp);
        }
        return;
    }
    auto useModule = [&](ValueId id, ObjectPath path, std::string source) {
        sd.found = true;
        sd.path = std::move(path);
        sd.source = std::move(source);
        std::vector<ValueId> stack;
        addModuleEntries(cp, id, "", stack);
        sd.notes.push_back("this is a whole pickled model (" + className(a, id)
                           + "): torch.load needs the original Python class importable, and weights_only=True "
                             "refuses it");
    };
    auto useDict = [&](ValueId id, ObjectPath path, std::string source) {
        sd.found = true;
        sd.path = std::move(path);
        sd.source = std::move(source);
        addDictEntries(cp, id);
    };
    if (isModuleObject(a, cp.root))
        return useModule(cp.root, {}, "the whole pickled model");
    if (a[cp.root].kind != ValueKind::Dict)
        return;
    if (looksLikeStateDict(a, cp.root))
        return useDict(cp.root, {}, "the file's object itself");
    static const char *const kKeys[] = {"state_dict", "model_state_dict", "model_state", "model", "module",
                                        "net", "network", "model_ema", "ema", "state_dict_ema", "params",
                                        "weights", "generator", "student", "teacher"};
    for (const char *key : kKeys) {
        const ValueId v = dictGet(a, cp.root, key);
        if (!a.valid(v))
            continue;
        if (looksLikeStateDict(a, v))
            return useDict(v, {key}, std::string("key '") + key + "'");
        if (isModuleObject(a, v))
            return useModule(v, {key}, std::string("the model pickled whole under key '") + key + "'");
        // One level further down, e.g. {"model": {"state_dict": {...}}}.
        for (const char *inner : kKeys) {
            const ValueId w = dictGet(a, v, inner);
            if (looksLikeStateDict(a, w))
                return useDict(w, {key, inner}, std::string("key '") + key + "' / '" + inner + "'");
        }
    }
    // Otherwise the dict (up to three levels down) holding the most tensors.
    ValueId best = kNoValue;
    ObjectPath bestPath;
    std::size_t bestCount = 0;
    std::vector<QueueItem> queue{{cp.root, {}, 0}};
    std::unordered_set<ValueId> seen;
    for (std::size_t i = 0; i < queue.size() && i < 10000; ++i) {
        QueueItem item = queue[i];
        if (!seen.insert(item.id).second)
            continue;
        const std::size_t n = tensorCount(a, item.id);
        if (n > bestCount && looksLikeStateDict(a, item.id)) {
            bestCount = n;
            best = item.id;
            bestPath = item.path;
        }
        if (item.depth >= 3 || a[item.id].kind != ValueKind::Dict)
            continue;
        for (const auto &[k, v] : a[item.id].entries)
            if (a.valid(v) && a[v].kind == ValueKind::Dict) {
                ObjectPath p = item.path;
                p.push_back(keyText(a, k));
                queue.push_back({v, std::move(p), item.depth + 1});
            }
    }
    if (a.valid(best))
        useDict(best, bestPath, "the dict holding the most tensors");
}

std::string scalarText(const ValueArena &a, ValueId id)
{
    if (!a.valid(id))
        return {};
    const Value &v = a[id];
    switch (v.kind) {
    case ValueKind::None: return "None";
    case ValueKind::Bool: return v.boolean ? "True" : "False";
    case ValueKind::Int: return std::to_string(v.integer);
    case ValueKind::BigInt: return v.text;
    case ValueKind::Float: return formatFloat(v.real);
    case ValueKind::String: return v.text.size() > 200 ? v.text.substr(0, 200) + "..." : v.text;
    case ValueKind::Complex: return "(" + formatFloat(v.real) + (v.imag < 0 ? "" : "+") + formatFloat(v.imag) + "j)";
    case ValueKind::Device:
    case ValueKind::Dtype: return v.text;
    default: return {};
    }
}

std::string lower(std::string s)
{
    for (char &c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

bool interestingKey(const std::string &key)
{
    static const char *const kWords[] = {"epoch", "step", "iter", "loss", "acc", "lr", "learning_rate", "version",
                                         "commit", "git", "sha", "arch", "model_name", "best", "score", "metric",
                                         "seed", "batch_size", "date", "time", "dataset", "num_classes"};
    const std::string k = lower(key);
    for (const char *w : kWords)
        if (k.find(w) != std::string::npos)
            return true;
    return false;
}

bool isBufferName(const std::string &key)
{
    for (const char *suffix : {"running_mean", "running_var", "num_batches_tracked"})
        if (key.size() >= std::strlen(suffix) && key.compare(key.size() - std::strlen(suffix), std::string::npos, suffix) == 0)
            return true;
    return false;
}

// Optimizer ids are positions in model.parameters() order. Names come from 2.x's param_names,
// or by replaying that order over the state_dict's parameters, accepted only when every state
// tensor's shape matches the parameter it would belong to.
void mapOptimizerParams(Checkpoint &cp, OptimizerInfo &info, ValueId state, const std::vector<ValueId> &groups)
{
    const ValueArena &a = cp.arena;
    std::vector<std::int64_t> ids;
    std::vector<std::string> given;
    for (ValueId g : groups) {
        const ValueId params = dictGet(a, g, "params");
        const ValueId names = dictGet(a, g, "param_names");
        if (!a.valid(params))
            continue;
        for (std::size_t i = 0; i < a[params].items.size(); ++i) {
            const ValueId p = a[params].items[i];
            ids.push_back(a.isInt(p) ? a[p].integer : -1);
            if (a.valid(names) && i < a[names].items.size() && a.isString(a[names].items[i]))
                given.push_back(a[a[names].items[i]].text);
        }
    }
    info.params = ids.size();
    if (!given.empty() && given.size() == ids.size()) {
        info.paramNames = given;
        info.mapping = "names recorded in param_groups (param_names)";
        return;
    }
    if (!cp.stateDict.found) {
        info.mapping = "no state_dict in the file to map the optimizer's ids to";
        return;
    }
    std::vector<const StateDictEntry *> params;
    for (const StateDictEntry &e : cp.stateDict.entries) {
        if (e.tensor < 0 || e.isBuffer || isBufferName(e.key))
            continue;
        const std::string &dtype = cp.tensors[static_cast<std::size_t>(e.tensor)].dtype;
        if (dtype.find("float") == std::string::npos && dtype.find("complex") == std::string::npos)
            continue; // integer tensors are never trained parameters
        params.push_back(&e);
    }
    if (params.size() != ids.size()) {
        info.mapping = "not mapped: the optimizer has " + std::to_string(ids.size()) + " parameters, the state_dict "
            + std::to_string(params.size()) + " trainable-looking tensors";
        return;
    }
    std::size_t verified = 0;
    for (const auto &[k, per] : a[state].entries) {
        if (!a.isInt(k) || a[k].integer < 0 || static_cast<std::size_t>(a[k].integer) >= params.size())
            continue;
        const TensorInfo &param = cp.tensors[static_cast<std::size_t>(params[static_cast<std::size_t>(a[k].integer)]->tensor)];
        bool checked = false;
        if (a.valid(per) && a[per].kind == ValueKind::Dict)
            for (const auto &[sk, sv] : a[per].entries) {
                if (!isTensor(a, sv) || cp.tensors[a[sv].aux].shape.empty())
                    continue;
                if (cp.tensors[a[sv].aux].shape != param.shape) {
                    info.mapping = "not mapped: the state of id " + std::to_string(a[k].integer) + " ("
                        + keyText(a, sk) + " " + formatShape(cp.tensors[a[sv].aux].shape)
                        + ") does not fit the parameter at that position (" + params[static_cast<std::size_t>(a[k].integer)]->key
                        + " " + formatShape(param.shape) + ")";
                    return;
                }
                checked = true;
            }
        verified += checked ? 1 : 0;
    }
    for (const StateDictEntry *e : params)
        info.paramNames.push_back(e->key);
    info.mapping = "by model.parameters() order; shapes verified for " + std::to_string(verified) + " of "
        + std::to_string(ids.size());
    if (verified == 0)
        info.mapping += " (no state tensors to check: treat as a guess)";
}

void describeOptimizer(Checkpoint &cp, ValueId opt, const ObjectPath &path)
{
    const ValueArena &a = cp.arena;
    const ValueId state = dictGet(a, opt, "state");
    const ValueId groups = dictGet(a, opt, "param_groups");
    if (!a.valid(state) || !a.valid(groups) || a[state].kind != ValueKind::Dict
        || (a[groups].kind != ValueKind::List && a[groups].kind != ValueKind::Tuple))
        return;
    OptimizerInfo info;
    info.path = path;
    std::set<std::string> stateKeys;
    for (const auto &[k, per] : a[state].entries) {
        if (!a.valid(per) || a[per].kind != ValueKind::Dict)
            continue;
        for (const auto &[sk, sv] : a[per].entries) {
            stateKeys.insert(keyText(a, sk));
            if (isTensor(a, sv))
                info.stateBytes += cp.tensors[a[sv].aux].nbytes;
        }
    }
    std::set<std::string> groupKeys;
    std::vector<std::string> lrs;
    for (ValueId g : a[groups].items) {
        if (!a.valid(g) || a[g].kind != ValueKind::Dict)
            continue;
        for (const auto &[gk, gv] : a[g].entries) {
            groupKeys.insert(keyText(a, gk));
            if (keyText(a, gk) == "lr")
                lrs.push_back(scalarText(a, gv));
        }
    }
    info.type = "optimizer";
    if (stateKeys.count("exp_avg") && stateKeys.count("exp_avg_sq"))
        info.type = groupKeys.count("decoupled_weight_decay") ? "AdamW" : "Adam or AdamW";
    else if (stateKeys.count("momentum_buffer") || groupKeys.count("nesterov"))
        info.type = "SGD";
    else if (stateKeys.count("square_avg"))
        info.type = groupKeys.count("alpha") ? "RMSprop" : "Adadelta";
    else if (stateKeys.count("sum"))
        info.type = "Adagrad";
    else if (groupKeys.count("betas"))
        info.type = "Adam-family";
    info.groups = a[groups].items.size();
    info.withState = a[state].entries.size();
    mapOptimizerParams(cp, info, state, a[groups].items);
    std::string text = info.type + ": " + std::to_string(info.groups) + " param group(s), "
        + std::to_string(info.params) + " parameters, state for " + std::to_string(info.withState) + " of them ("
        + formatBytes(info.stateBytes) + ")";
    if (!lrs.empty()) {
        text += ", lr ";
        for (std::size_t i = 0; i < lrs.size(); ++i)
            text += (i ? ", " : "") + lrs[i];
    }
    cp.metadata.push_back({"optimizer", text, path});
    cp.metadata.push_back({"optimizer ids -> keys", info.mapping, path});
    cp.optimizers.push_back(std::move(info));
}

// Other dicts that mirror the state_dict (same keys after an optional prefix, same shapes): EMA
// weights, a teacher copy, a second model.
void findWeightCopies(Checkpoint &cp)
{
    const ValueArena &a = cp.arena;
    if (!cp.stateDict.found || !a.valid(cp.root) || a[cp.root].kind != ValueKind::Dict)
        return;
    std::map<std::string, const TensorInfo *> live;
    for (const StateDictEntry &e : cp.stateDict.entries)
        if (e.tensor >= 0)
            live.emplace(e.key, &cp.tensors[static_cast<std::size_t>(e.tensor)]);
    const ValueId sdId = resolvePath(cp, cp.stateDict.path);
    for (const auto &[k, v] : a[cp.root].entries) {
        if (v == sdId || !looksLikeStateDict(a, v))
            continue;
        std::size_t same = 0;
        for (const auto &[kk, vv] : a[v].entries) {
            std::string key = keyText(a, kk);
            if (key.rfind("module.", 0) == 0)
                key = key.substr(7);
            auto it = live.find(key);
            if (it != live.end() && isTensor(a, vv) && cp.tensors[a[vv].aux].shape == it->second->shape)
                ++same;
        }
        if (same * 10 < live.size() * 9)
            continue;
        const std::string name = keyText(a, k);
        const bool ema = lower(name).find("ema") != std::string::npos || lower(name).find("average") != std::string::npos;
        cp.metadata.push_back({ema ? "EMA weights" : "weight copy",
                               "'" + name + "': " + std::to_string(a[v].entries.size()) + " entries, "
                                   + std::to_string(same) + " with the state_dict's keys and shapes",
                               {name}});
    }
}

// "callbacks/ModelCheckpoint{'monitor': ...}/best_model_path": long keys shortened for display
// (the full path stays in MetadataItem::path).
std::string shortLabel(const ObjectPath &path)
{
    std::string s;
    for (std::size_t i = 0; i < path.size(); ++i) {
        if (i)
            s += '/';
        s += path[i].size() > 32 ? path[i].substr(0, 29) + "..." : path[i];
    }
    return s;
}

void collectMetadata(Checkpoint &cp)
{
    const ValueArena &a = cp.arena;
    if (!a.valid(cp.root) || a[cp.root].kind != ValueKind::Dict)
        return;
    std::vector<QueueItem> queue{{cp.root, {}, 0}};
    std::unordered_set<ValueId> seen;
    for (std::size_t i = 0; i < queue.size() && i < 2000 && cp.metadata.size() < 100; ++i) {
        const QueueItem item = queue[i];
        if (!seen.insert(item.id).second)
            continue;
        const Value &v = a[item.id];
        if (v.kind == ValueKind::Dict && a.valid(dictGet(a, item.id, "param_groups"))) {
            describeOptimizer(cp, item.id, item.path);
            continue;
        }
        if (v.kind == ValueKind::Dict && a.valid(dictGet(a, item.id, "last_epoch"))
            && a.valid(dictGet(a, item.id, "_last_lr"))) {
            cp.metadata.push_back({"lr scheduler",
                                   "last_epoch " + scalarText(a, dictGet(a, item.id, "last_epoch")) + ", last lr "
                                       + [&] {
                                             const ValueId l = dictGet(a, item.id, "_last_lr");
                                             std::string s;
                                             if (a.valid(l))
                                                 for (ValueId x : a[l].items)
                                                     s += (s.empty() ? "" : ", ") + scalarText(a, x);
                                             return s;
                                         }(),
                                   item.path});
            continue;
        }
        Attributes children;
        if (v.kind == ValueKind::Dict) {
            if (looksLikeStateDict(a, item.id))
                continue;
            for (const auto &[k, val] : v.entries)
                children.emplace_back(keyText(a, k), val);
        } else if (v.kind == ValueKind::Object && !isModuleObject(a, item.id)) {
            children = objectAttributes(a, item.id);
        } else if ((v.kind == ValueKind::List || v.kind == ValueKind::Tuple) && item.depth < 2) {
            for (std::size_t j = 0; j < v.items.size() && j < 16; ++j)
                children.emplace_back(std::to_string(j), v.items[j]);
        }
        for (const auto &[name, child] : children) {
            if (!a.valid(child))
                continue;
            ObjectPath p = item.path;
            p.push_back(name);
            const std::string text = scalarText(a, child);
            const bool hyper = !item.path.empty()
                && (lower(item.path.back()).find("hparam") != std::string::npos
                    || lower(item.path.back()).find("hyper") != std::string::npos
                    || item.path.back() == "args" || item.path.back() == "config" || item.path.back() == "cfg"
                    || className(a, item.id) == "argparse.Namespace");
            if (!text.empty() && (interestingKey(name) || hyper || item.depth == 0)
                && a[child].kind != ValueKind::None) {
                cp.metadata.push_back({shortLabel(p), text, p});
            } else if (item.depth < 3
                       && (a[child].kind == ValueKind::Dict || a[child].kind == ValueKind::Object
                           || a[child].kind == ValueKind::List || a[child].kind == ValueKind::Tuple)) {
                queue.push_back({child, std::move(p), item.depth + 1});
            }
        }
    }
}

} // namespace

std::string keyText(const ValueArena &arena, ValueId key)
{
    if (!arena.valid(key))
        return "?";
    const Value &k = arena[key];
    switch (k.kind) {
    case ValueKind::String: return k.text;
    case ValueKind::Int: return std::to_string(k.integer);
    case ValueKind::BigInt: return k.text;
    case ValueKind::Bool: return k.boolean ? "True" : "False";
    case ValueKind::None: return "None";
    case ValueKind::Float: return formatFloat(k.real);
    case ValueKind::Bytes: return "b'" + k.text + "'";
    case ValueKind::Tuple: {
        std::string s = "(";
        for (std::size_t i = 0; i < k.items.size() && i < 16; ++i)
            s += (i ? ", " : "") + keyText(arena, k.items[i]);
        return s + (k.items.size() == 1 ? ",)" : ")");
    }
    default: return "<key>";
    }
}

std::vector<std::pair<std::string, ValueId>> valueChildren(const Checkpoint &cp, ValueId id)
{
    std::vector<std::pair<std::string, ValueId>> out;
    const ValueArena &a = cp.arena;
    if (!a.valid(id))
        return out;
    const Value &v = a[id];
    switch (v.kind) {
    case ValueKind::Dict:
        for (const auto &[k, val] : v.entries)
            out.emplace_back(keyText(a, k), val);
        break;
    case ValueKind::List:
    case ValueKind::Tuple:
    case ValueKind::Set:
    case ValueKind::FrozenSet:
        for (std::size_t i = 0; i < v.items.size(); ++i)
            out.emplace_back(std::to_string(i), v.items[i]);
        break;
    case ValueKind::Object:
        out = objectAttributes(a, id);
        if (const ValueId state = opaqueState(a, id); a.valid(state))
            out.emplace_back("(state)", state);
        for (std::size_t i = 0; i < v.items.size(); ++i)
            out.emplace_back(std::to_string(i), v.items[i]);
        for (const auto &[k, val] : v.entries)
            out.emplace_back(keyText(a, k), val);
        if (out.empty() && a.valid(v.args) && a[v.args].kind == ValueKind::Tuple)
            for (std::size_t i = 0; i < a[v.args].items.size(); ++i)
                out.emplace_back("(args)/" + std::to_string(i), a[v.args].items[i]);
        break;
    default: break;
    }
    return out;
}

std::string valueSummary(const Checkpoint &cp, ValueId id)
{
    const ValueArena &a = cp.arena;
    if (!a.valid(id))
        return "?";
    const Value &v = a[id];
    auto count = [](std::size_t n, const char *what) { return std::to_string(n) + " " + what + (n == 1 ? "" : "s"); };
    switch (v.kind) {
    case ValueKind::None: return "None";
    case ValueKind::Bool: return v.boolean ? "True" : "False";
    case ValueKind::Int: return (v.name.empty() ? std::string("int ") : v.name + " ") + std::to_string(v.integer);
    case ValueKind::BigInt: return "int " + v.text;
    case ValueKind::Float: return (v.name.empty() ? std::string("float ") : v.name + " ") + formatFloat(v.real);
    case ValueKind::Complex: return "complex " + scalarText(a, id);
    case ValueKind::String:
        return "str '" + (v.text.size() > 80 ? v.text.substr(0, 77) + "..." : v.text) + "'";
    case ValueKind::Bytes: return "bytes, " + formatBytes(v.text.size());
    case ValueKind::ByteArray: return "bytearray, " + formatBytes(v.text.size());
    case ValueKind::List: return "list, " + count(v.items.size(), "item");
    case ValueKind::Tuple: return "tuple, " + count(v.items.size(), "item");
    case ValueKind::Set: return "set, " + count(v.items.size(), "item");
    case ValueKind::FrozenSet: return "frozenset, " + count(v.items.size(), "item");
    case ValueKind::Dict: {
        const std::string cls = v.text.empty() ? std::string("dict")
                                               : v.text.substr(v.text.rfind('.') == std::string::npos ? 0 : v.text.rfind('.') + 1);
        std::size_t tensors = 0;
        for (const auto &[k, val] : v.entries)
            tensors += isTensor(a, val) ? 1 : 0;
        return cls + ", " + std::to_string(v.entries.size()) + (v.entries.size() == 1 ? " entry" : " entries")
            + (tensors ? " (" + count(tensors, "tensor") + ")" : "");
    }
    case ValueKind::Global: return "global " + v.text + "." + v.name;
    case ValueKind::Object: {
        if (!v.name.empty())
            return v.name; // e.g. a NumPy array's summary
        std::string cls = className(a, id);
        if (cls.empty())
            cls = "object";
        const std::size_t attrs = objectAttributes(a, id).size();
        if (isModuleObject(a, id))
            return cls + " (nn.Module)";
        return attrs ? cls + ", " + count(attrs, "attribute") : cls + " object";
    }
    case ValueKind::PersistentId: return "persistent id";
    case ValueKind::Tensor: {
        const TensorInfo &t = cp.tensors[v.aux];
        std::string s = (t.isParameter ? "Parameter " : "") + t.dtype;
        if (t.layout != "strided")
            s += " " + t.layout;
        s += " " + formatShape(t.shape) + ", " + formatBytes(t.nbytes);
        if (!t.device.empty() && t.device != "cpu")
            s += ", " + t.device;
        if (t.storage >= 0 && cp.storages[static_cast<std::size_t>(t.storage)].tensors.size() > 1)
            s += ", shares storage " + cp.storages[static_cast<std::size_t>(t.storage)].id;
        return s;
    }
    case ValueKind::Storage: {
        const StorageInfo &s = cp.storages[v.aux];
        return "storage " + s.id + ", " + s.dtype + " x " + std::to_string(s.numel);
    }
    case ValueKind::TorchSize: {
        std::vector<std::int64_t> dims;
        for (ValueId d : v.items)
            dims.push_back(a.valid(d) ? a[d].integer : 0);
        return "torch.Size(" + formatShape(dims) + ")";
    }
    case ValueKind::Device: return "torch.device('" + v.text + "')";
    case ValueKind::Dtype: return "torch." + v.text;
    case ValueKind::Layout: return "torch." + v.text;
    case ValueKind::QScheme: return "torch." + v.text;
    }
    return "?";
}

ValueId resolvePath(const Checkpoint &cp, const ObjectPath &path)
{
    const ValueArena &a = cp.arena;
    ValueId id = cp.root;
    for (const std::string &step : path) {
        if (!a.valid(id))
            return kNoValue;
        const Value &v = a[id];
        ValueId next = kNoValue;
        if (v.kind == ValueKind::Dict) {
            for (const auto &[k, val] : v.entries)
                if (keyText(a, k) == step) {
                    next = val;
                    break;
                }
        } else if (v.kind == ValueKind::List || v.kind == ValueKind::Tuple) {
            char *end = nullptr;
            const unsigned long long i = std::strtoull(step.c_str(), &end, 10);
            if (end && *end == 0 && !step.empty() && i < v.items.size())
                next = v.items[i];
        } else if (v.kind == ValueKind::Object) {
            for (const auto &[name, val] : objectAttributes(a, id))
                if (name == step) {
                    next = val;
                    break;
                }
            if (next == kNoValue)
                for (const auto &[k, val] : v.entries)
                    if (keyText(a, k) == step) {
                        next = val;
                        break;
                    }
        }
        id = next;
    }
    return id;
}

void analyzeTorchScriptCode(Checkpoint &cp, const ZipArchive &zip, const std::string &prefix)
{
    const std::string codeDir = prefix + "/code/";
    std::uint64_t budget = 64ull << 20; // total code text read
    for (const ZipEntry &e : zip.entries()) {
        if (e.name.compare(0, codeDir.size(), codeDir) != 0 || e.name.size() < 3
            || e.name.compare(e.name.size() - 3, 3, ".py") != 0)
            continue;
        if (e.size > budget) {
            cp.warnings.push_back({"TorchScript code files exceed 64 MB: the rest are not read", e.name, {}});
            break;
        }
        auto text = zip.read(e, budget, &cp.warnings);
        if (!text) {
            cp.warnings.push_back({"TorchScript code file could not be read: " + text.error().message, e.name, {}});
            continue;
        }
        budget -= text->size();
        // "archive/code/__torch__/torch/nn/modules/linear.py" -> "__torch__.torch.nn.modules.linear"
        std::string module = e.name.substr(codeDir.size(), e.name.size() - codeDir.size() - 3);
        std::replace(module.begin(), module.end(), '/', '.');
        const std::string src(text->begin(), text->end());
        std::string current;
        std::size_t pos = 0;
        while (pos < src.size()) {
            std::size_t end = src.find('\n', pos);
            if (end == std::string::npos)
                end = src.size();
            const std::string_view line(src.data() + pos, end - pos);
            pos = end + 1;
            if (line.rfind("class ", 0) == 0) {
                const auto paren = line.find('(');
                const auto colon = line.find(':');
                const auto nameEnd = std::min(paren, colon);
                if (nameEnd == std::string_view::npos)
                    continue;
                current = module + "." + std::string(line.substr(6, nameEnd - 6));
                ScriptClass &cls = cp.scriptClasses[current];
                cls.file = e.name;
                cls.isModule = paren != std::string_view::npos && line.find("Module", paren) != std::string_view::npos;
                continue;
            }
            if (current.empty() || line.rfind("  ", 0) != 0)
                continue;
            std::string_view trimmed = line;
            while (!trimmed.empty() && trimmed.front() == ' ')
                trimmed.remove_prefix(1);
            const bool params = trimmed.rfind("__parameters__ = [", 0) == 0;
            const bool buffers = trimmed.rfind("__buffers__ = [", 0) == 0;
            if (!params && !buffers)
                continue;
            std::vector<std::string> names;
            for (std::size_t i = trimmed.find('['); i < trimmed.size(); ++i) {
                if (trimmed[i] != '"')
                    continue;
                const auto close = trimmed.find('"', i + 1);
                if (close == std::string_view::npos)
                    break;
                names.emplace_back(trimmed.substr(i + 1, close - i - 1));
                i = close;
            }
            (params ? cp.scriptClasses[current].parameters : cp.scriptClasses[current].buffers) = std::move(names);
        }
    }
}

void analyzeCheckpoint(Checkpoint &cp, const OpenOptions &options)
{
    Walker walker{cp, options.maxTensorRefs};
    walker.run();
    if (walker.truncated)
        cp.warnings.push_back({"more than " + std::to_string(options.maxTensorRefs)
                                   + " paths lead to tensors: the list stops there",
                               {}, {}});
    std::vector<std::int64_t> firstRef(cp.tensors.size(), -1);
    for (std::size_t i = 0; i < cp.tensorRefs.size(); ++i)
        if (firstRef[cp.tensorRefs[i].tensor] < 0)
            firstRef[cp.tensorRefs[i].tensor] = static_cast<std::int64_t>(i);
    for (std::size_t i = 0; i < cp.tensors.size(); ++i) {
        const TensorInfo &t = cp.tensors[i];
        if (t.problem.empty() || firstRef[i] < 0)
            continue;
        Warning w;
        w.message = "tensor " + joinPath(cp.tensorRefs[static_cast<std::size_t>(firstRef[i])].path) + ": " + t.problem;
        if (cp.arena.valid(t.value))
            w.offset = cp.arena[t.value].offset;
        cp.warnings.push_back(std::move(w));
    }
    findStateDict(cp);
    if (cp.format == FileFormat::Sharded && cp.stateDict.found)
        cp.stateDict.source = std::to_string(cp.shards.size()) + " shards merged in order";
    collectMetadata(cp);
    findWeightCopies(cp);
    if (cp.format == FileFormat::TorchScript) {
        std::size_t files = 0;
        std::uint64_t bytes = 0;
        std::string extras;
        for (const ZipRecordInfo &r : cp.records) {
            const auto code = r.name.find("/code/");
            if (code != std::string::npos && r.name.size() > 3 && r.name.compare(r.name.size() - 3, 3, ".py") == 0) {
                ++files;
                bytes += r.size;
            }
            const auto extra = r.name.find("/extra/");
            if (extra != std::string::npos)
                extras += (extras.empty() ? "" : ", ") + r.name.substr(extra + 7) + " (" + formatBytes(r.size) + ")";
        }
        cp.metadata.push_back({"TorchScript code", std::to_string(files) + " files, " + formatBytes(bytes)
                                                        + " (compiled and run by torch.jit.load; never by ptscope)",
                               {}});
        if (!extras.empty())
            cp.metadata.push_back({"TorchScript extra files", extras, {}});
    }
}

StateDictTotals stateDictTotals(const Checkpoint &cp)
{
    StateDictTotals out;
    std::map<std::string, std::uint64_t> dtypes, devices;
    for (const StateDictEntry &e : cp.stateDict.entries) {
        if (e.tensor < 0)
            continue;
        const TensorInfo &t = cp.tensors[static_cast<std::size_t>(e.tensor)];
        ++out.tensors;
        out.params += t.numel;
        out.bytes += t.nbytes;
        dtypes[t.dtype] += t.nbytes;
        devices[t.device.empty() ? "?" : t.device] += 1;
    }
    for (const auto &[d, n] : dtypes)
        out.dtypeMix += (out.dtypeMix.empty() ? "" : ", ") + d + " " + formatBytes(n);
    for (const auto &[d, n] : devices)
        out.deviceMix += (out.deviceMix.empty() ? "" : ", ") + d + " (" + std::to_string(n) + ")";
    return out;
}

} // namespace ptscope::core
