// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "diff_explain.h"

#include "checkpoint_analysis.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <numeric>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace ptscope::core {

namespace {

bool startsWith(std::string_view s, std::string_view p)
{
    return s.size() >= p.size() && s.compare(0, p.size(), p) == 0;
}

std::string leafOf(const std::string &key)
{
    const auto dot = key.rfind('.');
    return dot == std::string::npos ? key : key.substr(dot + 1);
}

std::string firstComponent(const std::string &key)
{
    return key.substr(0, key.find('.'));
}

std::string plural(std::size_t n, const char *one, const char *many)
{
    return std::to_string(n) + " " + (n == 1 ? one : many);
}

// "a", "b" and 3 more: for titles and explanations (the full lists go in `keys`).
std::string someKeys(const std::vector<std::string> &keys, std::size_t shown = 4)
{
    std::string s;
    for (std::size_t i = 0; i < keys.size() && i < shown; ++i)
        s += (i ? ", " : "") + keys[i];
    if (keys.size() > shown)
        s += " and " + std::to_string(keys.size() - shown) + " more";
    return s;
}

std::string pyList(const std::vector<std::string> &items, const std::string &indent = "    ")
{
    if (items.empty())
        return "[]";
    std::string s = "[\n";
    std::string line = indent;
    for (const std::string &it : items) {
        const std::string lit = pythonString(it) + ",";
        if (line.size() > indent.size() && line.size() + 1 + lit.size() > 100) {
            s += line + "\n";
            line = indent;
        }
        line += (line.size() > indent.size() ? " " : "") + lit;
    }
    return s + line + "\n]";
}

bool isBnBuffer(const std::string &key)
{
    const std::string leaf = leafOf(key);
    return leaf == "running_mean" || leaf == "running_var" || leaf == "num_batches_tracked";
}

bool isExtraStateKey(const std::string &key)
{
    return leafOf(key) == "_extra_state";
}

std::string prefixOrigin(const std::string &prefix)
{
    // Names the wrappers that add each component (pt-format.md section 10).
    std::string out;
    std::string rest = prefix;
    auto add = [&](const std::string &what) { out += (out.empty() ? "" : " + ") + what; };
    while (!rest.empty()) {
        if (startsWith(rest, "base_model.model.")) {
            add("peft's PeftModel (base_model.model.)");
            rest = rest.substr(17);
            continue;
        }
        const std::string c = firstComponent(rest);
        if (c == "module")
            add("nn.DataParallel / DistributedDataParallel (module.)");
        else if (c == "_orig_mod")
            add("torch.compile (_orig_mod.)");
        else if (c == "model")
            add("a wrapper's `model` attribute, e.g. a LightningModule (model.)");
        else if (c == "_fsdp_wrapped_module" || c == "_fpw_module")
            add("FSDP (" + c + ".)");
        else if (c == "_checkpoint_wrapped_module")
            add("activation checkpointing (" + c + ".)");
        else
            add("an attribute named " + c + " (" + c + ".)");
        const auto dot = rest.find('.');
        rest = dot == std::string::npos ? std::string() : rest.substr(dot + 1);
    }
    return out;
}

bool isEmaComponent(const std::string &c)
{
    static const char *const kNames[] = { "ema", "model_ema", "ema_model", "module_ema", "ema_module", "shadow",
        "averaged_model", "swa_model", "ema_state_dict", "model_ema_state_dict", "ema_net", "net_ema", "ema_params" };
    for (const char *n : kNames)
        if (c == n)
            return true;
    return false;
}

const char *kRenameHelper
    = "def rename_prefix(sd, old, new):\n"
      "    \"\"\"Keys (and their _metadata module versions) that start with `old` start with `new` instead.\"\"\"\n"
      "    out = OrderedDict((new + k[len(old):] if k.startswith(old) else k, v) for k, v in sd.items())\n"
      "    meta = getattr(sd, \"_metadata\", None)\n"
      "    if meta is not None:  # keeps BatchNorm's version check as it was\n"
      "        out._metadata = OrderedDict(((new + (m + \".\")[len(old):]).rstrip(\".\") if (m + "
      "\".\").startswith(old)\n"
      "                                     else m, v) for m, v in meta.items())\n"
      "    return out\n";

const char *kDropHelper
    = "def drop_keys(sd, keys=(), prefixes=()):\n"
      "    \"\"\"sd without `keys` and without the keys starting with one of `prefixes`; _metadata kept.\"\"\"\n"
      "    out = OrderedDict((k, v) for k, v in sd.items() if k not in keys and not k.startswith(tuple(prefixes)))\n"
      "    if hasattr(sd, \"_metadata\"):\n"
      "        out._metadata = sd._metadata\n"
      "    return out\n";

struct Pipeline
{
    const SourceContext &context;
    SourceStateDict sd;
    std::vector<std::string> lines; // the fixes so far, as Python
    bool renameHelper = false;
    bool dropHelper = false;

    std::string code(
        const std::vector<std::string> &extra, bool extraRename, bool extraDrop, const std::string &load) const
    {
        std::string s = "import torch\nfrom collections import OrderedDict\n\n";
        if (renameHelper || extraRename)
            s += std::string(kRenameHelper) + "\n";
        if (dropHelper || extraDrop)
            s += std::string(kDropHelper) + "\n";
        if (context.safetensors)
            s += "from safetensors.torch import load_file\n\nsd = load_file(" + pythonString(context.file) + ")\n";
        else if (context.sharded)
            s += "import json, os\nfrom safetensors.torch import load_file\n\nindex = " + pythonString(context.file)
                + "\nsd = OrderedDict()\nfor shard in dict.fromkeys(json.load(open(index))[\"weight_map\"].values()):\n"
                  "    path = os.path.join(os.path.dirname(index), shard)\n"
                  "    sd.update(load_file(path) if path.endswith(\".safetensors\") else torch.load(path, "
                  "map_location=\"cpu\"))\n";
        else if (context.torchScript)
            s += "sd = torch.jit.load(" + pythonString(context.file) + ", map_location=\"cpu\").state_dict()\n";
        else if (context.accessor.empty())
            s += "sd = torch.load(" + pythonString(context.file) + ", map_location=\"cpu\")\n";
        else if (context.rootIsModule)
            s += "ckpt = torch.load(" + pythonString(context.file)
                + ", map_location=\"cpu\", weights_only=False)\nsd = ckpt" + context.accessor + "\n";
        else
            s += "ckpt = torch.load(" + pythonString(context.file) + ", map_location=\"cpu\")\nsd = ckpt"
                + context.accessor + "\n";
        for (const std::string &l : lines)
            s += l + "\n";
        for (const std::string &l : extra)
            s += l + "\n";
        return s + load + "\n";
    }
};

const char *kLoadStrict = "model.load_state_dict(sd)";
const char *kLoadNonStrict = "result = model.load_state_dict(sd, strict=False)\n"
                             "print(\"not loaded (left as initialised):\", result.missing_keys)\n"
                             "print(\"ignored:\", result.unexpected_keys)";

void verify(DiffSuggestion &s, const ModelStructure &target, const SourceStateDict &sd, TorchRules rules,
    LoadOutcome *outcome = nullptr)
{
    LoadOutcome o = emulateLoadStateDict(target, sd, rules);
    s.verified = true;
    s.strictOkAfter = o.strictOk();
    s.nonStrictOkAfter = o.nonStrictOk();
    s.loadedAfter = o.loadedFromSource();
    s.missingAfter = o.missingKeys;
    s.unexpectedAfter = o.unexpectedKeys;
    s.sourceAfter = std::make_shared<const SourceStateDict>(sd);
    if (outcome)
        *outcome = std::move(o);
}

struct PrefixFix
{
    std::string strip;
    std::string add;
    std::size_t gained = 0;
    std::size_t affected = 0;
};

std::vector<std::string> dottedPrefixes(const std::string &key, std::size_t maxComponents)
{
    std::vector<std::string> out;
    std::size_t pos = 0;
    for (std::size_t n = 0; n < maxComponents; ++n) {
        const auto dot = key.find('.', pos);
        if (dot == std::string::npos)
            break;
        out.push_back(key.substr(0, dot + 1));
        pos = dot + 1;
    }
    return out;
}

std::vector<std::string> topPrefixes(const std::vector<std::string> &keys, std::size_t keep)
{
    std::map<std::string, std::size_t> counts;
    for (const std::string &k : keys)
        for (const std::string &p : dottedPrefixes(k, 4))
            ++counts[p];
    std::vector<std::pair<std::string, std::size_t>> v(counts.begin(), counts.end());
    std::stable_sort(v.begin(), v.end(), [](const auto &a, const auto &b) {
        return a.second != b.second ? a.second > b.second : a.first.size() > b.first.size();
    });
    std::vector<std::string> out { "" };
    for (std::size_t i = 0; i < v.size() && i < keep; ++i)
        out.push_back(v[i].first);
    return out;
}

std::optional<PrefixFix> findPrefixFix(const ModelStructure &model, const SourceStateDict &sd, const LoadOutcome &o)
{
    if (o.missingKeys.empty() || o.unexpectedKeys.empty())
        return std::nullopt;
    // A key counts as matched when the shapes agree too: a rename that only trades missing keys for
    // size mismatches is no fix.
    std::unordered_map<std::string, const std::vector<std::int64_t> *> target;
    for (const std::string &k : model.stateDictKeys())
        target.emplace(k, nullptr);
    for (const ModuleNode &n : model.modules)
        for (const ModuleSlot &s : n.slots)
            if (auto it = target.find(n.prefix + s.name); it != target.end())
                it->second = &s.shape;
    auto score = [&](const std::string &strip, const std::string &add, std::size_t *affected) {
        std::unordered_set<std::string> seen;
        std::size_t matched = 0;
        std::size_t aff = 0;
        for (const SourceEntry &e : sd.entries) {
            std::string k = e.key;
            if (startsWith(k, strip)) {
                k = add + k.substr(strip.size());
                ++aff;
            }
            const auto it = target.find(k);
            const bool shapeOk = it != target.end()
                && (!it->second || !e.isTensor || *it->second == e.shape
                    || (it->second->empty() && e.shape.size() == 1));
            if (shapeOk && seen.insert(k).second)
                ++matched;
        }
        if (affected)
            *affected = aff;
        return matched;
    };
    const std::size_t baseline = score("", "", nullptr);
    std::optional<PrefixFix> best;
    std::size_t bestScore = baseline;
    for (const std::string &strip : topPrefixes(o.unexpectedKeys, 8))
        for (const std::string &add : topPrefixes(o.missingKeys, 8)) {
            if (strip.empty() && add.empty())
                continue;
            std::size_t affected = 0;
            const std::size_t s = score(strip, add, &affected);
            const bool better = s > bestScore
                || (best && s == bestScore && strip.size() + add.size() < best->strip.size() + best->add.size());
            if (better) {
                bestScore = s;
                best = PrefixFix { strip, add, s - baseline, affected };
            }
        }
    return best;
}

// Finds 1:1 renames among the remaining missing/unexpected keys: same leaf name, same shape, unique.
std::vector<std::pair<std::string, std::string>> findRenames(
    const ModelStructure &target, const SourceStateDict &sd, const LoadOutcome &o)
{
    std::vector<std::pair<std::string, std::string>> out;
    std::map<std::pair<std::string, std::vector<std::int64_t>>, std::vector<std::string>> bySig;
    for (const std::string &u : o.unexpectedKeys)
        if (const SourceEntry *e = sd.find(u); e && e->isTensor)
            bySig[{ leafOf(u), e->shape }].push_back(u);
    std::map<std::pair<std::string, std::vector<std::int64_t>>, std::vector<std::string>> missingBySig;
    for (const std::string &m : o.missingKeys)
        if (const ModuleSlot *s = target.slotForKey(m))
            missingBySig[{ leafOf(m), s->shape }].push_back(m);
    for (const auto &[sig, missing] : missingBySig) {
        auto it = bySig.find(sig);
        if (missing.size() == 1 && it != bySig.end() && it->second.size() == 1)
            out.emplace_back(it->second[0], missing[0]);
    }
    // Keep the checkpoint's order.
    std::sort(out.begin(), out.end(), [&](const auto &a, const auto &b) {
        auto pos = [&](const std::string &k) {
            for (std::size_t i = 0; i < sd.entries.size(); ++i)
                if (sd.entries[i].key == k)
                    return i;
            return sd.entries.size();
        };
        return pos(a.first) < pos(b.first);
    });
    return out;
}

struct Ratio
{
    std::int64_t num = 1;
    std::int64_t den = 1;
    bool operator==(const Ratio &o) const { return num == o.num && den == o.den; }
};

std::optional<Ratio> widthFactor(const std::vector<SizeMismatch> &mismatches)
{
    std::optional<Ratio> factor;
    for (const SizeMismatch &m : mismatches) {
        if (m.sourceShape.size() != m.targetShape.size())
            return std::nullopt;
        for (std::size_t i = 0; i < m.sourceShape.size(); ++i) {
            const std::int64_t s = m.sourceShape[i];
            const std::int64_t t = m.targetShape[i];
            if (s == t)
                continue;
            if (s <= 0 || t <= 0)
                return std::nullopt;
            const std::int64_t g = std::gcd(s, t);
            const Ratio r { s / g, t / g };
            if (factor && !(*factor == r))
                return std::nullopt;
            factor = r;
        }
    }
    return factor;
}

std::string ratioText(const Ratio &r)
{
    if (r.den == 1)
        return "x" + std::to_string(r.num);
    char buf[64];
    std::snprintf(buf, sizeof buf, "x%.4g", static_cast<double>(r.num) / static_cast<double>(r.den));
    return buf;
}

// The module (by prefix) owning a key in the target, by longest module prefix.
std::string ownerPrefix(const ModelStructure &target, const std::string &key)
{
    std::string best;
    for (const ModuleNode &n : target.modules)
        if (startsWith(key, n.prefix) && n.prefix.size() > best.size()
            && key.find('.', n.prefix.size()) == std::string::npos)
            best = n.prefix;
    return best;
}

bool underNoneChild(const ModelStructure &target, const std::string &key)
{
    for (const ModuleNode &n : target.modules)
        for (const auto &[name, idx] : n.children)
            if (idx < 0 && startsWith(key, n.prefix + name + "."))
                return true;
    return false;
}

std::string accessorFor(const Checkpoint &cp, const ObjectPath &path)
{
    const ValueArena &a = cp.arena;
    ValueId id = cp.root;
    std::string s;
    for (const std::string &step : path) {
        if (!a.valid(id))
            break;
        const Value &v = a[id];
        ValueId next = kNoValue;
        if (v.kind == ValueKind::Dict) {
            for (const auto &[k, val] : v.entries)
                if (keyText(a, k) == step) {
                    next = val;
                    s += "[" + (a.isInt(k) ? step : pythonString(step)) + "]";
                    break;
                }
        } else if (v.kind == ValueKind::List || v.kind == ValueKind::Tuple) {
            s += "[" + step + "]";
            const std::size_t i = static_cast<std::size_t>(std::strtoull(step.c_str(), nullptr, 10));
            next = i < v.items.size() ? v.items[i] : kNoValue;
        } else {
            s += "." + step;
            next = attribute(a, id, step);
        }
        id = next;
    }
    if (a.valid(id) && isModuleObject(a, id))
        s += ".state_dict()";
    return s;
}

} // namespace

std::string pythonString(const std::string &s)
{
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c == '\\' || c == '"') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c == '\n') {
            out += "\\n";
        } else if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else {
            out += static_cast<char>(c); // UTF-8 passes through: Python 3 source is UTF-8
        }
    }
    return out + "\"";
}

SourceStateDict renamePrefix(const SourceStateDict &sd, const std::string &oldPrefix, const std::string &newPrefix)
{
    SourceStateDict out = sd;
    out.entries.clear();
    std::unordered_map<std::string, std::size_t> index;
    for (const SourceEntry &e : sd.entries) {
        SourceEntry r = e;
        if (startsWith(r.key, oldPrefix))
            r.key = newPrefix + r.key.substr(oldPrefix.size());
        if (auto it = index.find(r.key); it != index.end()) {
            out.entries[it->second] = std::move(r); // OrderedDict: first place, last value
            continue;
        }
        index.emplace(r.key, out.entries.size());
        out.entries.push_back(std::move(r));
    }
    out.metadata.clear();
    std::unordered_map<std::string, std::size_t> mindex;
    for (const auto &[m, v] : sd.metadata) {
        std::string name = m;
        const std::string dotted = m + ".";
        if (startsWith(dotted, oldPrefix)) {
            name = newPrefix + dotted.substr(oldPrefix.size());
            while (!name.empty() && name.back() == '.')
                name.pop_back();
        }
        if (auto it = mindex.find(name); it != mindex.end()) {
            out.metadata[it->second].second = v;
            continue;
        }
        mindex.emplace(name, out.metadata.size());
        out.metadata.emplace_back(name, v);
    }
    return out;
}

SourceStateDict dropKeys(
    const SourceStateDict &sd, const std::vector<std::string> &keys, const std::vector<std::string> &prefixes)
{
    SourceStateDict out = sd;
    out.entries.clear();
    const std::unordered_set<std::string> drop(keys.begin(), keys.end());
    for (const SourceEntry &e : sd.entries) {
        if (drop.count(e.key))
            continue;
        if (std::any_of(prefixes.begin(), prefixes.end(), [&](const std::string &p) { return startsWith(e.key, p); }))
            continue;
        out.entries.push_back(e);
    }
    return out;
}

SourceContext sourceContext(const Checkpoint &cp, const SourceStateDict &source, const ModelStructure &target,
    TorchRules rules, const std::string &fileArgument)
{
    SourceContext c;
    c.file = fileArgument;
    const ValueArena &a = cp.arena;
    c.safetensors = cp.format == FileFormat::Safetensors;
    c.sharded = cp.format == FileFormat::Sharded;
    if (c.safetensors || c.sharded) {
        c.rootType = c.safetensors ? "a safetensors file" : "a sharded checkpoint";
        return c;
    }
    if (cp.format == FileFormat::TorchScript) {
        c.torchScript = true;
        c.rootType = "a TorchScript module";
        return c;
    }
    if (!a.valid(cp.root))
        return c;
    c.rootIsModule = isModuleObject(a, cp.root);
    c.rootType = pythonTypeOf(cp, cp.root);
    c.accessor = accessorFor(cp, source.path);
    c.nested = !source.path.empty();
    if (a[cp.root].kind == ValueKind::Dict) {
        for (const auto &[k, v] : a[cp.root].entries)
            c.rootKeys.push_back(keyText(a, k));
        c.lightning = a.valid(dictGet(a, cp.root, "pytorch-lightning_version"));
        // Other state dicts in the file: EMA copies and the like.
        for (const auto &[k, v] : a[cp.root].entries) {
            const std::string name = keyText(a, k);
            if (!source.path.empty() && source.path.front() == name)
                continue;
            if (!a.valid(v) || a[v].kind != ValueKind::Dict || a[v].entries.empty())
                continue;
            std::size_t tensors = 0;
            for (const auto &[kk, vv] : a[v].entries)
                tensors += a.valid(vv) && a[vv].kind == ValueKind::Tensor;
            if (tensors * 2 > a[v].entries.size()
                && (name.find("ema") != std::string::npos || name.find("average") != std::string::npos
                    || name.find("swa") != std::string::npos))
                c.otherStateDicts.push_back("[" + pythonString(name) + "]");
        }
    }
    if (c.rootIsModule || c.nested)
        c.wholeFile = emulateLoadStateDict(target, sourceFromValue(cp, cp.root, {}), rules);
    return c;
}

DiffReport explainDiff(
    const ModelStructure &target, const SourceStateDict &source, const SourceContext &context, TorchRules rules)
{
    DiffReport r;
    r.outcome = emulateLoadStateDict(target, source, rules);
    const LoadOutcome &o = r.outcome;
    const std::vector<std::string> targetKeys = target.stateDictKeys();
    r.targetKeys = targetKeys.size();
    auto cause = [&](std::string kind, std::string title, std::string explanation, std::vector<std::string> keys = {}) {
        r.causes.push_back({ std::move(kind), std::move(title), std::move(explanation), std::move(keys) });
    };
    const char *rulesName = torchRulesName(rules);

    Pipeline p { context, source, {} };
    const std::size_t tensorsInModel
        = std::count_if(targetKeys.begin(), targetKeys.end(), [](const std::string &k) { return !isExtraStateKey(k); });
    auto nonStrictTrap = [&](const char *advice) {
        if (!o.strictOk() && o.nonStrictOk() && !o.typeError && o.loadedFromSource() * 2 < tensorsInModel)
            cause("non_strict_trap",
                "strict=False would \"succeed\" and load only " + std::to_string(o.loadedFromSource()) + " of "
                    + std::to_string(tensorsInModel) + " tensors",
                "load_state_dict(sd, strict=False) raises nothing here, but " + std::to_string(o.missingKeys.size())
                    + " of the model's keys are missing: the model would keep its random initial weights while "
                      "looking loaded. "
                    + advice,
                o.missingKeys);
    };

    // Where the state dict is in the file.
    if (context.rootIsModule) {
        DiffSuggestion s;
        s.kind = "state_dict_of_module";
        s.title = "Take the state_dict of the pickled model";
        std::string why = "torch.load returns a whole model (" + context.rootType
            + "), not a dict: load_state_dict raises TypeError";
        if (context.wholeFile && context.wholeFile->typeError)
            why += " (\"" + *context.wholeFile->typeError + "\")";
        cause("whole_model", "The checkpoint is a whole pickled model, not a state_dict",
            why
                + ". Its state_dict is what this comparison uses. Loading it runs the pickle: it needs the "
                  "original class importable and a trusted file (weights_only=True refuses it).");
        s.explanation = "Call .state_dict() on what torch.load returns (weights_only=False is needed for a whole "
                        "model: only do this for a file you trust).";
        s.code = p.code({}, false, false, kLoadStrict);
        verify(s, target, p.sd, rules);
        r.suggestions.push_back(std::move(s));
    } else if (context.nested) {
        std::string whole;
        if (context.wholeFile) {
            const LoadOutcome &w = *context.wholeFile;
            whole = " Passed whole, the dict's top-level keys (" + someKeys(context.rootKeys, 6)
                + ") would be unexpected and all " + std::to_string(w.missingKeys.size())
                + " of the model's keys missing; strict=False would load nothing"
                + (w.nonStrictOk() ? "" : " (it would raise)") + ".";
        }
        cause("nested", "The weights are one level down, at ckpt" + context.accessor,
            std::string(context.lightning ? "This is a PyTorch Lightning checkpoint" : "This is a training checkpoint")
                + ": torch.load returns a dict of " + plural(context.rootKeys.size(), "entry", "entries")
                + " and the state_dict is inside it." + whole,
            context.rootKeys);
        DiffSuggestion s;
        s.kind = "load_nested";
        s.title = "Load ckpt" + context.accessor + ", not the whole checkpoint";
        s.explanation = "Index the loaded dict before calling load_state_dict.";
        if (context.lightning)
            s.explanation += " With the LightningModule class at hand, MyModule.load_from_checkpoint(path) also works.";
        s.code = p.code({}, false, false, kLoadStrict);
        verify(s, target, p.sd, rules);
        r.suggestions.push_back(std::move(s));
    }

    if (!source.entries.empty() && !targetKeys.empty()
        && std::none_of(source.entries.begin(), source.entries.end(), [](const SourceEntry &e) { return e.isTensor; })) {
        // Every other cause (prefixes, BatchNorm buffers, strict=False) would only describe noise.
        std::vector<std::string> keys;
        for (const SourceEntry &e : source.entries)
            keys.push_back(e.key);
        const std::string listed = someKeys(keys, 6);
        keys.insert(keys.end(), o.missingKeys.begin(), o.missingKeys.end());
        cause("no_tensors", "The checkpoint holds no tensor at all",
            "torch.load returns a dict of " + plural(source.entries.size(), "entry", "entries") + " (" + listed
                + ") and none of them is a tensor: these are not the model's weights, and none of the model's "
                + plural(tensorsInModel, "tensor", "tensors")
                + " would be loaded. Look for the weights in another file saved beside this one.",
            keys);
        nonStrictTrap("Load the file that holds the weights instead.");
        return r;
    }

    const bool anyOpaque = std::any_of(target.modules.begin(), target.modules.end(),
                                       [](const ModuleNode &n) { return n.opaque; });
    const auto judged = std::count_if(targetKeys.begin(), targetKeys.end(),
                                      [&](const std::string &k) { return !target.underOpaqueModule(k); });
    if (o.strictOk() && anyOpaque)
        cause("exact", "strict=True would succeed for the keys ptscope can judge",
            "The " + std::to_string(judged) + " keys of the model's state_dict that ptscope can derive "
                + (o.filledIn.empty() ? std::string("are in the checkpoint")
                                      : "are in the checkpoint or filled in by torch (see below)")
                + " with the same shapes; the keys of the modules named in the notes are not judged.");
    else if (o.strictOk())
        cause("exact", "strict=True would succeed: every key matches",
            "All " + std::to_string(targetKeys.size()) + " keys of the model's state_dict "
                + (o.filledIn.empty() ? std::string("are in the checkpoint")
                                      : "are in the checkpoint or filled in by torch (see below)")
                + " with the same shapes, and nothing else is.");

    // Storages recorded on a device.
    std::map<std::string, std::size_t> devices;
    for (const SourceEntry &e : source.entries)
        if (e.isTensor && !e.device.empty() && e.device != "cpu" && e.device != "meta")
            ++devices[e.device];
    if (!devices.empty()) {
        std::string list;
        for (const auto &[d, n] : devices)
            list += (list.empty() ? "" : ", ") + d + " (" + plural(n, "tensor", "tensors") + ")";
        cause("device", "Storages were saved on " + list,
            "torch.load puts every storage back on the device it was saved from: on a machine without that device "
            "it raises \"Attempting to deserialize object on a CUDA device but torch.cuda.is_available() is "
            "False\" (or fails on a missing device index). map_location moves them while loading; "
            "load_state_dict then copies into the model's own device.");
        DiffSuggestion s;
        s.kind = "map_location";
        s.title = "Load with map_location=\"cpu\"";
        s.explanation = "Or map_location=\"cuda:0\" to land on the first GPU, or a dict such as "
                        "{\"cuda:1\": \"cuda:0\"} to renumber devices.";
        s.code = p.code({}, false, false, kLoadStrict);
        verify(s, target, p.sd, rules);
        r.suggestions.push_back(std::move(s));
    }

    LoadOutcome cur = o;
    // Prefix offsets and first-level renames.
    if (auto fix = findPrefixFix(target, p.sd, cur)) {
        const std::size_t tensors = p.sd.entries.size();
        const bool whole = fix->affected * 10 >= tensors * 9;
        DiffSuggestion s;
        std::string title;
        if (fix->add.empty()) {
            s.kind = "strip_prefix";
            title = "Every key starts with '" + fix->strip + "', which the model does not have";
        } else if (fix->strip.empty()) {
            s.kind = "add_prefix";
            title = "The model's keys start with '" + fix->add + "', the checkpoint's do not";
        } else {
            s.kind = "replace_prefix";
            title = "Keys starting with '" + fix->strip + "' are '" + fix->add + "' in the model";
        }
        if (!whole && !fix->strip.empty() && !fix->add.empty())
            s.kind = "rename";
        std::string origin = !fix->strip.empty() ? "'" + fix->strip + "' comes from " + prefixOrigin(fix->strip) : "";
        if (!fix->add.empty())
            origin += (origin.empty() ? "" : "; ") + std::string("the model is wrapped: '") + fix->add + "' comes from "
                + prefixOrigin(fix->add);
        cause(whole ? "prefix" : "rename",
            whole ? title : "A submodule was renamed: '" + fix->strip + "' -> '" + fix->add + "'",
            origin + ". " + plural(fix->gained, "more key matches", "more keys match") + " once the prefix is "
                + (fix->add.empty()          ? "stripped"
                        : fix->strip.empty() ? "added"
                                             : "replaced")
                + ".",
            {});
        s.title = fix->add.empty() ? "Strip '" + fix->strip + "' from the checkpoint's keys"
            : fix->strip.empty()   ? "Add '" + fix->add + "' to the checkpoint's keys"
                                   : "Rename '" + fix->strip + "' to '" + fix->add + "'";
        s.explanation = "rename_prefix keeps the OrderedDict and its _metadata (a dict comprehension would drop "
                        "_metadata and silently change BatchNorm's num_batches_tracked check).";
        if (fix->add.empty())
            s.explanation += " torch.nn.modules.utils.consume_prefix_in_state_dict_if_present(sd, "
                + pythonString(fix->strip)
                + ") does the same in place (torch 2.x also renames _metadata; 1.13 does not).";
        p.renameHelper = true;
        p.lines.push_back("sd = rename_prefix(sd, " + pythonString(fix->strip) + ", " + pythonString(fix->add) + ")");
        p.sd = renamePrefix(p.sd, fix->strip, fix->add);
        s.code = p.code({}, false, false, kLoadStrict);
        verify(s, target, p.sd, rules, &cur);
        r.suggestions.push_back(std::move(s));
    }

    // EMA copies beside the live weights.
    {
        const std::unordered_set<std::string> tk(targetKeys.begin(), targetKeys.end());
        std::map<std::string, std::vector<std::string>> families;
        for (const std::string &u : cur.unexpectedKeys) {
            const std::string c = firstComponent(u);
            if (c.size() == u.size() || !isEmaComponent(c))
                continue;
            std::string rest = u.substr(c.size() + 1);
            if (startsWith(rest, "module."))
                rest = rest.substr(7);
            if (tk.count(rest))
                families[c + "."].push_back(u);
        }
        for (const auto &[prefix, keys] : families) {
            cause("ema", "An EMA copy of the weights is stored beside them, under '" + prefix + "'",
                plural(keys.size(), "key", "keys") + " under '" + prefix
                    + "' repeat the model's own keys: an exponential moving average kept by the training loop. "
                      "The model has no such submodule, so they are unexpected.",
                keys);
            DiffSuggestion drop;
            drop.kind = "drop_ema";
            drop.title = "Drop the EMA keys ('" + prefix + "') and load the live weights";
            drop.explanation = "The live weights load as they are.";
            SourceStateDict dropped = dropKeys(p.sd, {}, { prefix });
            drop.code
                = p.code({ "sd = drop_keys(sd, prefixes=[" + pythonString(prefix) + "])" }, false, true, kLoadStrict);
            verify(drop, target, dropped, rules);
            DiffSuggestion use;
            use.kind = "load_ema";
            use.title = "Or load the EMA weights instead";
            use.explanation = "EMA weights usually evaluate better; take only the '" + prefix + "' keys, without it.";
            SourceStateDict ema;
            {
                SourceStateDict only = p.sd;
                only.entries.clear();
                for (const SourceEntry &e : p.sd.entries)
                    if (startsWith(e.key, prefix)) {
                        SourceEntry x = e;
                        x.key = x.key.substr(prefix.size());
                        if (startsWith(x.key, "module."))
                            x.key = x.key.substr(7);
                        only.entries.push_back(std::move(x));
                    }
                ema = std::move(only);
            }
            use.code = p.code({ "ema = OrderedDict((k[len(" + pythonString(prefix)
                                      + "):], v) for k, v in sd.items() if k.startswith(" + pythonString(prefix) + "))",
                                  "ema._metadata = getattr(sd, \"_metadata\", OrderedDict())", "sd = ema" },
                false, false, kLoadStrict);
            verify(use, target, ema, rules);
            p.dropHelper = true;
            p.lines.push_back("sd = drop_keys(sd, prefixes=[" + pythonString(prefix) + "])");
            p.sd = std::move(dropped);
            cur = emulateLoadStateDict(target, p.sd, rules);
            r.suggestions.push_back(std::move(drop));
            r.suggestions.push_back(std::move(use));
        }
        for (const std::string &other : context.otherStateDicts)
            cause("ema", "The file also holds another state dict at ckpt" + other,
                "It looks like an EMA or averaged copy; compare it with --source-key.");
    }

    // Renames of single tensors (same leaf name and shape on both sides).
    if (auto renames = findRenames(target, p.sd, cur); !renames.empty()) {
        std::vector<std::string> keys;
        std::string mapping = "renames = {\n";
        for (const auto &[from, to] : renames) {
            keys.push_back(from);
            mapping += "    " + pythonString(from) + ": " + pythonString(to) + ",\n";
        }
        mapping += "}";
        cause("rename", plural(renames.size(), "key was", "keys were") + " renamed",
            "Each of these checkpoint keys has exactly one missing model key with the same name and shape: "
                + someKeys(keys) + ".",
            keys);
        DiffSuggestion s;
        s.kind = "rename";
        s.title = "Rename " + plural(renames.size(), "key", "keys");
        s.explanation = "A one-to-one mapping found by leaf name and shape: check it before trusting it.";
        SourceStateDict renamed = p.sd;
        for (SourceEntry &e : renamed.entries)
            for (const auto &[from, to] : renames)
                if (e.key == from)
                    e.key = to;
        p.lines.push_back(mapping);
        p.lines.push_back("meta = getattr(sd, \"_metadata\", None)");
        p.lines.push_back("sd = OrderedDict((renames.get(k, k), v) for k, v in sd.items())");
        p.lines.push_back("if meta is not None:\n    sd._metadata = meta");
        p.sd = std::move(renamed);
        s.code = p.code({}, false, false, kLoadStrict);
        verify(s, target, p.sd, rules, &cur);
        r.suggestions.push_back(std::move(s));
    }

    // Tied weights dropped on save.
    {
        std::vector<std::string> tied;
        std::vector<std::pair<std::string, std::string>> copies;
        std::unordered_set<std::string> present;
        for (const SourceEntry &e : p.sd.entries)
            present.insert(e.key);
        for (const std::string &m : cur.missingKeys) {
            const ModuleSlot *slot = target.slotForKey(m);
            if (!slot)
                continue;
            std::string partner = slot->tiedTo;
            if (partner.empty())
                for (const ModuleNode &n : target.modules)
                    for (const ModuleSlot &s : n.slots)
                        if (s.tiedTo == m)
                            partner = n.prefix + s.name;
            bool certain = !partner.empty();
            if (partner.empty()) {
                // No tie recorded (a plain state_dict): an embedding of the same shape is the usual partner.
                const std::string lm = m;
                const bool headLike = lm.find("head") != std::string::npos || lm.find("decoder") != std::string::npos
                    || lm.find("output") != std::string::npos || lm.find("classifier") != std::string::npos;
                if (!headLike || leafOf(m) != "weight")
                    continue;
                for (const SourceEntry &e : p.sd.entries)
                    if (e.isTensor && e.shape == slot->shape
                        && (e.key.find("embed") != std::string::npos || e.key.find("wte") != std::string::npos
                            || e.key.find("shared") != std::string::npos
                            || e.key.find("tok_emb") != std::string::npos)) {
                        partner = e.key;
                        break;
                    }
            }
            if (partner.empty() || !present.count(partner))
                continue;
            tied.push_back(m);
            copies.emplace_back(m, partner);
            cause("tied", "'" + m + "' is tied to '" + partner + "' and was dropped on save",
                std::string(certain ? "In the model both names hold the same tensor"
                                    : "The missing tensor has the shape of the embedding '" + partner
                            + "' (the usual weight tying)")
                    + ". Savers that deduplicate shared tensors (safetensors, save_pretrained) keep one name. "
                      "strict=True reports it missing; with strict=False the tie fills it.",
                { m });
        }
        if (!copies.empty()) {
            DiffSuggestion s;
            s.kind = "copy_tied";
            s.title = "Restore the tied " + plural(copies.size(), "key", "keys") + " from " + copies[0].second;
            s.explanation = "The same tensor under both names, as the model has it.";
            std::vector<std::string> extra;
            SourceStateDict added = p.sd;
            for (const auto &[m, partner] : copies) {
                extra.push_back("sd[" + pythonString(m) + "] = sd[" + pythonString(partner) + "]");
                SourceEntry e = *added.find(partner);
                e.key = m;
                added.entries.push_back(std::move(e));
            }
            p.lines.insert(p.lines.end(), extra.begin(), extra.end());
            p.sd = std::move(added);
            s.code = p.code({}, false, false, kLoadStrict);
            verify(s, target, p.sd, rules, &cur);
            r.suggestions.push_back(std::move(s));
        }
    }

    // BatchNorm buffers.
    std::vector<std::string> bnUnexpected;
    {
        std::vector<std::string> missingNbt, missingStats, unexpectedStats;
        for (const std::string &m : cur.missingKeys)
            if (leafOf(m) == "num_batches_tracked")
                missingNbt.push_back(m);
            else if (isBnBuffer(m))
                missingStats.push_back(m);
        for (const std::string &u : cur.unexpectedKeys)
            if (isBnBuffer(u)
                && std::none_of(o.droppedRunningStats.begin(), o.droppedRunningStats.end(),
                    [&](const std::string &d) { return ownerPrefix(target, d) == ownerPrefix(target, u); }))
                unexpectedStats.push_back(u);
        const bool onlyBn = !(missingNbt.empty() && missingStats.empty() && unexpectedStats.empty())
            && std::all_of(cur.missingKeys.begin(), cur.missingKeys.end(), isBnBuffer)
            && std::all_of(cur.unexpectedKeys.begin(), cur.unexpectedKeys.end(), isBnBuffer)
            && cur.errorMessages.empty();
        if (!missingNbt.empty()) {
            cause("batchnorm",
                std::string(onlyBn ? "Only BatchNorm buffers differ: " : "") + "num_batches_tracked is missing for "
                    + someKeys(missingNbt),
                "The checkpoint's _metadata gives these BatchNorm layers version 2 (torch >= 0.4.1), so torch "
                "expects the counter; it was removed from the dict. It only matters with momentum=None "
                "(cumulative averaging); 0 is what a fresh model has.",
                missingNbt);
            DiffSuggestion s;
            s.kind = "fill_num_batches_tracked";
            s.title = "Put num_batches_tracked back (0)";
            s.explanation = "As torch itself does for checkpoints without version-2 metadata.";
            SourceStateDict added = p.sd;
            std::string loop = "for k in " + pyList(missingNbt) + ":\n    sd[k] = torch.tensor(0, dtype=torch.long)";
            for (const std::string &k : missingNbt) {
                SourceEntry e;
                e.key = k;
                e.isTensor = true;
                e.dtype = "int64";
                e.device = "cpu";
                e.layout = "strided";
                added.entries.push_back(std::move(e));
            }
            p.lines.push_back(loop);
            p.sd = std::move(added);
            s.code = p.code({}, false, false, kLoadStrict);
            verify(s, target, p.sd, rules, &cur);
            r.suggestions.push_back(std::move(s));
        }
        if (!missingStats.empty())
            cause("batchnorm", "BatchNorm running statistics are missing: " + someKeys(missingStats),
                "With strict=False these layers keep a fresh model's running_mean 0 and running_var 1: outputs in "
                "eval() mode will be wrong until the statistics are re-estimated (a few forward passes in train() "
                "mode over training data).",
                missingStats);
        std::vector<std::string> instanceStats, otherStats;
        for (const std::string &u : unexpectedStats) {
            const ModuleNode *owner = nullptr;
            for (const ModuleNode &n : target.modules)
                if (n.prefix == ownerPrefix(target, u))
                    owner = &n;
            (owner && owner->instanceNorm ? instanceStats : otherStats).push_back(u);
        }
        if (!instanceStats.empty())
            cause("instancenorm",
                "InstanceNorm running statistics the model does not track: " + someKeys(instanceStats),
                "The checkpoint's InstanceNorm layers were built with track_running_stats=True, the model's with "
                "the default False: the keys are unexpected. Drop them, or build the model's InstanceNorm with "
                "track_running_stats=True if the statistics are wanted.",
                instanceStats);
        if (!otherStats.empty())
            cause("batchnorm",
                "The checkpoint has BatchNorm statistics the model does not track: " + someKeys(otherStats),
                "The model's normalisation layers were built with track_running_stats=False (or are not BatchNorm "
                "at all): these keys are unexpected. Dropping them is safe if the model is meant not to track.",
                otherStats);
        bnUnexpected = unexpectedStats;
    }

    // Keys the model deliberately does not take.
    {
        std::vector<std::string> drop = bnUnexpected;
        std::vector<std::string> nonPersistent, extraUnexpected;
        for (const std::string &u : cur.unexpectedKeys) {
            if (std::find(bnUnexpected.begin(), bnUnexpected.end(), u) != bnUnexpected.end())
                continue;
            const ModuleNode *owner = nullptr;
            const ModuleSlot *slot = target.slotForKey(u, &owner);
            if (slot && slot->buffer && !slot->persistent) {
                nonPersistent.push_back(u);
                drop.push_back(u);
            } else if (slot && slot->none) {
                drop.push_back(u);
                cause("none_slot", "'" + u + "' is registered as None in the model",
                    "A parameter or buffer set to None is not part of the state_dict: the key is unexpected.", { u });
            } else if (isExtraStateKey(u)) {
                extraUnexpected.push_back(u);
                drop.push_back(u);
            }
        }
        if (!nonPersistent.empty())
            cause("non_persistent", "The model registers " + someKeys(nonPersistent) + " with persistent=False",
                "Non-persistent buffers are computed by the model and never saved; this checkpoint comes from a "
                "version of the code where they were persistent. Dropping them loses nothing.",
                nonPersistent);
        if (!extraUnexpected.empty())
            cause("extra_state",
                "The checkpoint carries extra state the model's class does not take: " + someKeys(extraUnexpected),
                "get_extra_state() wrote it when saving; the model's class does not override set_extra_state, so "
                "the key is unexpected.",
                extraUnexpected);
        std::vector<std::string> extraMissing;
        for (const std::string &m : cur.missingKeys)
            if (isExtraStateKey(m))
                extraMissing.push_back(m);
        if (!extraMissing.empty())
            cause("extra_state", "The model expects extra state the checkpoint lacks: " + someKeys(extraMissing),
                "The model's class overrides set_extra_state, so torch requires the key; the checkpoint was saved "
                "by code without get_extra_state. With strict=False the module keeps its current extra state.",
                extraMissing);
        if (!o.droppedRunningStats.empty()) {
            std::vector<std::string> keys = o.droppedRunningStats;
            for (const std::string &u : cur.unexpectedKeys)
                if (leafOf(u) == "num_batches_tracked")
                    for (const std::string &d : o.droppedRunningStats)
                        if (u.substr(0, u.size() - 19) == d.substr(0, d.rfind('.') + 1)
                            && std::find(keys.begin(), keys.end(), u) == keys.end())
                            keys.push_back(u);
            cause("instancenorm", "InstanceNorm running statistics from a pre-0.4 checkpoint: " + someKeys(keys),
                "InstanceNorm stopped tracking running stats by default in 0.4; with no _metadata version torch "
                "takes the checkpoint for an old one and raises even with strict=False.",
                keys);
            for (const std::string &k : keys)
                if (std::find(drop.begin(), drop.end(), k) == drop.end())
                    drop.push_back(k);
        }
        if (!drop.empty()) {
            DiffSuggestion s;
            s.kind = "drop_keys";
            s.title = "Drop " + plural(drop.size(), "key", "keys") + " the model does not take";
            s.explanation = "They hold nothing the model keeps: " + someKeys(drop) + ".";
            p.dropHelper = true;
            p.lines.push_back("sd = drop_keys(sd, keys=" + pyList(drop) + ")");
            p.sd = dropKeys(p.sd, drop, {});
            s.code = p.code({}, false, false, kLoadStrict);
            verify(s, target, p.sd, rules, &cur);
            r.suggestions.push_back(std::move(s));
        }
    }

    // A quantized model's checkpoint into the float model: its quantized layers saved scale,
    // zero_point and packed weights where the float layers take weight and bias.
    {
        std::set<std::string> owners; // prefixes with the dot
        for (const SourceEntry &e : source.entries)
            if (!e.isTensor)
                if (auto owner = packedParamsOwner(e.key))
                    owners.insert(*owner);
        std::vector<std::string> keys, names;
        auto under = [&](const std::string &k) {
            return std::any_of(owners.begin(), owners.end(), [&](const std::string &owner) { return startsWith(k, owner); });
        };
        for (const auto *list : {&o.unexpectedKeys, &o.missingKeys})
            for (const std::string &k : *list)
                if (under(k))
                    keys.push_back(k);
        for (const std::string &owner : owners)
            names.push_back(owner.empty() ? std::string("the model") : owner.substr(0, owner.size() - 1));
        if (!keys.empty())
            cause("quantized",
                "The checkpoint is of a quantized model (" + someKeys(names) + "); the model is not quantized",
                "torch.ao.quantization (quantize_dynamic, or convert after prepare) replaced those layers by quantized "
                "ones, whose state_dict holds scale, zero_point and packed qint8 weights (_packed_params, "
                "_all_weight_values) where a float layer takes weight and bias. Quantize the model the same way "
                "before load_state_dict (for dynamic quantization: model = "
                "torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear, torch.nn.LSTM}, dtype=torch.qint8)), "
                "or load the float checkpoint it was made from.",
                keys);
    }

    // torch.nn.utils.spectral_norm's load pre-hook: keys it reports (before the module reports them
    // again) when the checkpoint is not of a spectral-norm layer, or an old layout it converts.
    {
        std::vector<std::string> layers, keys;
        for (const ModuleNode &n : target.modules)
            for (const std::string &name : n.spectralNorm) {
                const std::string w = n.prefix + name;
                bool involved = false;
                for (const auto *list : {&o.missingKeys, &o.unexpectedKeys, &o.convertedKeys})
                    for (const std::string &k : *list)
                        if (k == w || k == w + "_orig" || k == w + "_u" || k == w + "_v") {
                            involved = true;
                            if (std::find(keys.begin(), keys.end(), k) == keys.end())
                                keys.push_back(k);
                        }
                if (involved)
                    layers.push_back(w);
            }
        const bool converted = !o.convertedKeys.empty();
        if (!layers.empty())
            cause("spectral_norm",
                converted && o.strictOk()
                    ? "An old spectral_norm layout, converted by torch: " + someKeys(layers)
                    : "The model applies spectral_norm to " + someKeys(layers) + "; the checkpoint's layer does not",
                converted && o.strictOk()
                    ? std::string("The checkpoint holds weight_orig, weight and weight_u without spectral_norm's "
                                  "version in its _metadata: spectral_norm's load hook removes weight and computes "
                                  "weight_v from them, so the load succeeds.")
                    : std::string("torch.nn.utils.spectral_norm keeps the weight as weight_orig with the buffers "
                                  "weight_u and weight_v, and its load hook reports weight_orig, weight and weight_u "
                                  "as missing before the layer reports its own missing keys: that is why some are "
                                  "listed twice. Load the checkpoint into the model before applying spectral_norm "
                                  "(or after torch.nn.utils.remove_spectral_norm), or load a checkpoint saved with "
                                  "spectral_norm."),
                keys);
    }

    // Keys torch ignores without a word.
    {
        std::vector<std::string> none, other, unjudged;
        for (const std::string &k : o.ignoredKeys)
            (underNoneChild(target, k) ? none : target.underOpaqueModule(k) ? unjudged : other).push_back(k);
        if (!unjudged.empty())
            cause("unjudged", "Not judged: " + someKeys(unjudged),
                "These keys go to modules whose state_dict ptscope cannot model (see the notes): torch may load "
                "them, report them or fail on them. Check them with the real model, or compare against its saved "
                "state_dict (torch.save(model.state_dict(), ...)) instead.",
                unjudged);
        if (!none.empty())
            cause("none_child", "Keys under a submodule set to None are silently ignored: " + someKeys(none),
                "The model registers that child as None (an optional part switched off): load_state_dict skips "
                "everything under its name without reporting it, even with strict=True.",
                none);
        if (!other.empty())
            cause("ignored", "torch ignores " + someKeys(other) + " without reporting them",
                std::string("Under ") + rulesName
                    + " rules these keys are neither loaded nor unexpected (keys below a parameter or buffer, or a "
                      "submodule's name used as a key).",
                other);
    }

    // Shapes.
    if (!cur.sizeMismatches.empty()) {
        std::vector<std::string> keys;
        for (const SizeMismatch &m : cur.sizeMismatches)
            keys.push_back(m.key);
        std::set<std::string> owners;
        for (const std::string &k : keys)
            owners.insert(ownerPrefix(target, k));
        const auto factor = widthFactor(cur.sizeMismatches);
        // The last modules holding weights, in model order: where a classification head sits.
        std::vector<std::int32_t> order;
        {
            std::vector<std::int32_t> stack { 0 };
            std::vector<std::int32_t> pre;
            // Pre-order through the children, as load() walks them.
            std::function<void(std::int32_t, int)> walk = [&](std::int32_t i, int depth) {
                if (i < 0 || depth > 1024)
                    return;
                pre.push_back(i);
                for (const auto &[n, c] : target.modules[static_cast<std::size_t>(i)].children)
                    walk(c, depth + 1);
            };
            walk(0, 0);
            for (std::int32_t i : pre) {
                const ModuleNode &n = target.modules[static_cast<std::size_t>(i)];
                if (std::any_of(
                        n.slots.begin(), n.slots.end(), [](const ModuleSlot &s) { return !s.none && s.persistent; }))
                    order.push_back(i);
            }
        }
        std::vector<std::string> tail;
        for (std::size_t i = order.size(); i > 0 && tail.size() < 2; --i)
            tail.push_back(target.modules[static_cast<std::size_t>(order[i - 1])].prefix);
        std::vector<std::string> badKeys = keys;
        for (const std::string &m : cur.missingKeys)
            if (!isExtraStateKey(m))
                badKeys.push_back(m);
        std::set<std::string> badOwners;
        for (const std::string &k : badKeys)
            badOwners.insert(ownerPrefix(target, k));
        const bool head = owners.size() <= 2 && !badOwners.count("")
            && std::all_of(badOwners.begin(), badOwners.end(),
                [&](const std::string &pfx) { return std::find(tail.begin(), tail.end(), pfx) != tail.end(); })
            && badKeys.size() * 2 < targetKeys.size();
        if (factor && owners.size() >= 2 && !head) {
            const std::string f = ratioText(*factor);
            cause("width",
                "A different width: shapes differ by one factor (" + f + ") across "
                    + plural(owners.size(), "module", "modules"),
                "Every mismatching tensor is the model's shape with some dimensions multiplied by the same factor: "
                "the checkpoint is a "
                    + f
                    + " wider (or narrower) variant of the architecture (e.g. a -small vs "
                      "-base model, width_mult, hidden_size). No renaming fixes this.",
                keys);
            DiffSuggestion s;
            s.kind = "rebuild_model";
            s.title = "Build the model with the checkpoint's width";
            s.explanation = "Instantiate the variant the checkpoint was trained as (its config or hyper-parameters "
                            "usually say which), then load strictly.";
            s.code = "# the checkpoint's shapes, for choosing the configuration:\n";
            for (std::size_t i = 0; i < cur.sizeMismatches.size() && i < 8; ++i)
                s.code += "#   " + cur.sizeMismatches[i].key + ": checkpoint "
                    + formatShape(cur.sizeMismatches[i].sourceShape) + ", model "
                    + formatShape(cur.sizeMismatches[i].targetShape) + "\n";
            s.code += "model = MyModel(...)  # the " + f + " configuration\n" + p.code({}, false, false, kLoadStrict);
            r.suggestions.push_back(std::move(s));
        } else if (head) {
            std::vector<std::string> heads(badOwners.begin(), badOwners.end());
            cause("head", "Only the last layers differ (" + someKeys(heads) + "): a changed head",
                "The size mismatches are all in the model's final module(s), as after fine-tuning for a different "
                "number of classes or outputs. The body loads as it is.",
                keys);
            DiffSuggestion s;
            s.kind = "drop_head";
            s.title = "Load everything but the head, and train the new head";
            s.explanation = "Drops the checkpoint's " + someKeys(heads)
                + " tensors; strict=False then reports them missing and the model keeps its freshly initialised head.";
            std::vector<std::string> prefixes = heads;
            SourceStateDict dropped = dropKeys(p.sd, {}, prefixes);
            s.code = p.code({ "sd = drop_keys(sd, prefixes=" + pyList(prefixes) + ")" }, false, true, kLoadNonStrict);
            verify(s, target, dropped, rules);
            r.suggestions.push_back(std::move(s));
        } else {
            std::string list;
            for (std::size_t i = 0; i < cur.sizeMismatches.size() && i < 3; ++i)
                list += (i ? "; " : "") + cur.sizeMismatches[i].key + " "
                    + formatShape(cur.sizeMismatches[i].sourceShape) + " vs "
                    + formatShape(cur.sizeMismatches[i].targetShape);
            cause("shape", plural(keys.size(), "tensor has", "tensors have") + " a different shape",
                "The checkpoint was trained with another configuration of this architecture (" + list
                    + "). strict=False still raises for size mismatches.",
                keys);
            DiffSuggestion s;
            s.kind = "drop_keys";
            s.title = "Skip the " + plural(keys.size(), "tensor", "tensors") + " whose shape differs";
            s.explanation = "Loads the rest with strict=False; the skipped tensors keep their initial values.";
            SourceStateDict dropped = dropKeys(p.sd, keys, {});
            s.code = p.code({ "sd = drop_keys(sd, keys=" + pyList(keys) + ")" }, false, true, kLoadNonStrict);
            verify(s, target, dropped, rules);
            r.suggestions.push_back(std::move(s));
        }
    }

    if (!o.nonTensorKeys.empty())
        cause("non_tensor", "Not a tensor: " + someKeys(o.nonTensorKeys),
            "torch raises \"expected torch.Tensor or Tensor-like object\" for these keys, even with strict=False. "
            "The value was overwritten with something else before saving (look at it with ptscope-cli info --tree).",
            o.nonTensorKeys);
    if (!o.copyFailureKeys.empty())
        cause("meta", "No data: " + someKeys(o.copyFailureKeys) + " are meta tensors",
            "The checkpoint was saved from a model on the meta device (shapes only): copy_ raises \"Cannot copy out "
            "of meta tensor; no data!\", even with strict=False. Save the model after its weights are materialised.",
            o.copyFailureKeys);
    if (!o.nonTensorKeys.empty() || !o.copyFailureKeys.empty()) {
        std::vector<std::string> keys = o.nonTensorKeys;
        keys.insert(keys.end(), o.copyFailureKeys.begin(), o.copyFailureKeys.end());
        DiffSuggestion s;
        s.kind = "drop_keys";
        s.title = "Skip the " + plural(keys.size(), "entry", "entries") + " torch cannot copy";
        s.explanation = "They stay at the model's initial values.";
        SourceStateDict dropped = dropKeys(p.sd, keys, {});
        s.code = p.code({ "sd = drop_keys(sd, keys=" + pyList(keys) + ")" }, false, true, kLoadNonStrict);
        verify(s, target, dropped, rules);
        r.suggestions.push_back(std::move(s));
    }

    // 0-dim parameters fed from 1-dim tensors.
    {
        std::vector<std::string> keys;
        for (const LoadedTensor &l : o.loaded)
            if (l.firstElementOnly)
                keys.push_back(l.key);
        if (!keys.empty())
            cause("zero_dim", "1-dim tensors load into 0-dim parameters: " + someKeys(keys),
                "For checkpoints from torch 0.3, load_state_dict copies element [0] of a 1-dim tensor into a 0-dim "
                "parameter. torch 1.13 does it whatever the length (the other values are dropped silently); 2.x "
                "only for a single element and reports a size mismatch otherwise.",
                keys);
    }

    // dtype casts.
    if (!o.dtypeDifferences.empty()) {
        std::map<std::pair<std::string, std::string>, std::vector<std::string>> groups;
        for (const DtypeDifference &d : o.dtypeDifferences)
            groups[{ d.sourceDtype, d.targetDtype }].push_back(d.key);
        for (const auto &[pair, keys] : groups) {
            const auto &[from, to] = pair;
            std::string effect = "exact";
            auto width = [](const std::string &t) {
                if (t == "float64" || t == "int64" || t == "complex128")
                    return 8;
                if (t == "float32" || t == "int32" || t == "complex64")
                    return 4;
                if (t == "float16" || t == "bfloat16" || t == "int16")
                    return 2;
                return 1;
            };
            const bool fromFloat = from.find("float") != std::string::npos;
            const bool toInt = to.find("int") != std::string::npos || to == "bool";
            if (fromFloat && toInt)
                effect = "values are truncated to integers";
            else if (from.find("complex") != std::string::npos && to.find("complex") == std::string::npos)
                effect = "the imaginary part is discarded (torch warns)";
            else if (width(from) > width(to) || (from == "float16" && to == "bfloat16")
                || (from == "bfloat16" && to == "float16"))
                effect = "values are rounded to " + to + " (precision lost; large values may overflow)";
            cause("dtype",
                plural(keys.size(), "tensor is", "tensors are") + " " + from + " in the checkpoint, " + to
                    + " in the model",
                "load_state_dict copies with copy_, which casts silently: " + effect
                    + ". No error either way; cast the model (model.to(torch." + from
                    + ")) to keep the checkpoint's "
                      "precision.",
                keys);
        }
    }

    // The other torches' rules: one cause for each whose answer differs.
    for (const TorchRules other : kAllTorchRules) {
        if (other == rules)
            continue;
        const LoadOutcome alt = emulateLoadStateDict(target, source, other);
        if (alt.strictMessages() != o.strictMessages() || alt.strictOk() != o.strictOk()) {
            const char *otherName = torchRulesName(other);
            std::vector<std::string> diff;
            for (const std::string &k : alt.unexpectedKeys)
                if (std::find(o.unexpectedKeys.begin(), o.unexpectedKeys.end(), k) == o.unexpectedKeys.end())
                    diff.push_back(k);
            std::string what = alt.strictOk() ? std::string(" strict=True would succeed.") : " it would say:\n" + [&] {
                std::string s;
                for (const std::string &l : alt.strictMessages())
                    s += "    " + l + "\n";
                return s;
            }();
            cause("torch_version", std::string("The answer differs under ") + otherName,
                std::string("torch changed load_state_dict twice: 2.4 reports keys below a parameter or buffer and "
                            "submodule names used as keys, and 2.10 stopped loading a longer 1-dim tensor into a 0-dim "
                            "parameter through its first element. Under ")
                    + otherName + what,
                diff);
        }
    }

    // BatchNorm's silent fill-in, judged after the fixes (a prefix fix moves the _metadata entries too).
    if (!cur.filledIn.empty()) {
        std::string why;
        if (!p.sd.hasMetadata)
            why = "The checkpoint has no _metadata (a state_dict rebuilt with a dict comprehension loses it)";
        else if (std::all_of(cur.filledIn.begin(), cur.filledIn.end(), [&](const std::string &k) {
                     const std::string prefix = k.substr(0, k.size() - 19);
                     return std::none_of(p.sd.metadata.begin(), p.sd.metadata.end(),
                         [&](const auto &m) { return m.first + "." == prefix || (prefix.empty() && m.first.empty()); });
                 }))
            why = "The checkpoint's _metadata has no entry for these layers";
        else
            why = "The checkpoint's _metadata gives these layers a version before 2 (saved before torch 0.4.1)";
        cause("batchnorm", "torch silently fills in num_batches_tracked for " + someKeys(cur.filledIn),
            why
                + ", so BatchNorm takes the missing counter for a pre-0.4.1 checkpoint and uses 0 instead of "
                  "reporting it missing. Harmless unless momentum=None.",
            cur.filledIn);
    }

    // strict=False, and its trap.
    nonStrictTrap("Fix the keys instead (see the suggestions).");
    if (!cur.strictOk() && cur.nonStrictOk() && !cur.typeError) {
        DiffSuggestion s;
        s.kind = "strict_false";
        s.title = p.lines.empty() ? "strict=False: load what matches" : "Then strict=False for the rest";
        s.explanation = "Skips " + plural(cur.missingKeys.size(), "missing key", "missing keys")
            + " (they keep the "
              "model's initial values"
            + (cur.missingKeys.empty() ? "" : ": " + someKeys(cur.missingKeys)) + ") and ignores "
            + plural(cur.unexpectedKeys.size(), "unexpected key", "unexpected keys")
            + (cur.unexpectedKeys.empty() ? "" : " (" + someKeys(cur.unexpectedKeys) + ")") + ".";
        if (cur.loadedFromSource() * 2 < tensorsInModel)
            s.explanation += " Careful: that loads only " + std::to_string(cur.loadedFromSource()) + " of "
                + std::to_string(tensorsInModel) + " tensors.";
        s.code = p.code({}, false, false, kLoadNonStrict);
        verify(s, target, p.sd, rules);
        r.suggestions.push_back(std::move(s));
    }

    if (!cur.strictOk()) {
        // Whatever no cause above accounts for.
        std::set<std::string> explained;
        for (const DiffCause &c : r.causes)
            if (c.kind != "non_strict_trap" && c.kind != "torch_version")
                explained.insert(c.keys.begin(), c.keys.end());
        std::vector<std::string> rest;
        for (const std::string &k : cur.missingKeys)
            if (!explained.count(k))
                rest.push_back(k);
        for (const std::string &k : cur.unexpectedKeys)
            if (!explained.count(k))
                rest.push_back(k);
        if (!rest.empty())
            cause("unexplained",
                plural(rest.size(), "key differs", "keys differ") + " without a pattern: " + someKeys(rest),
                "These are missing or unexpected with no prefix, rename, head or buffer pattern: the checkpoint "
                "was probably saved from a different architecture.",
                rest);
    }
    return r;
}

} // namespace ptscope::core
