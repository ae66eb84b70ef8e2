// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "key_alignment.h"

#include "checkpoint_analysis.h"

#include <deque>
#include <unordered_map>
#include <unordered_set>

namespace ptscope::core {

const char *keyStatusName(KeyStatus status)
{
    switch (status) {
    case KeyStatus::Matched:
        return "matched";
    case KeyStatus::DtypeDiffers:
        return "dtype";
    case KeyStatus::ShapeMismatch:
        return "shape";
    case KeyStatus::Missing:
        return "missing";
    case KeyStatus::Unexpected:
        return "unexpected";
    case KeyStatus::Error:
        return "error";
    case KeyStatus::Ignored:
        return "ignored";
    case KeyStatus::FilledIn:
        return "filled_in";
    }
    return "?";
}

namespace {

std::unordered_set<std::string> setOf(const std::vector<std::string> &v)
{
    return { v.begin(), v.end() };
}

} // namespace

std::vector<AlignedKey> alignKeys(const ModelStructure &model, const SourceStateDict &source, const LoadOutcome &o)
{
    const auto missing = setOf(o.missingKeys);
    const auto unexpected = setOf(o.unexpectedKeys);
    const auto ignored = setOf(o.ignoredKeys);
    const auto dropped = setOf(o.droppedRunningStats);
    const auto converted = setOf(o.convertedKeys);
    const auto filled = setOf(o.filledIn);
    const auto nonTensor = setOf(o.nonTensorKeys);
    const auto copyFailure = setOf(o.copyFailureKeys);
    std::unordered_map<std::string, const SizeMismatch *> sizes;
    for (const SizeMismatch &m : o.sizeMismatches)
        sizes.emplace(m.key, &m);
    std::unordered_map<std::string, const DtypeDifference *> dtypes;
    for (const DtypeDifference &d : o.dtypeDifferences)
        dtypes.emplace(d.key, &d);
    std::unordered_map<std::string, const LoadedTensor *> loaded;
    for (const LoadedTensor &l : o.loaded)
        if (l.sourceEntry >= 0)
            loaded.emplace(l.key, &l);
    std::unordered_map<std::string, std::int32_t> sourceIndex;
    for (std::size_t i = 0; i < source.entries.size(); ++i)
        sourceIndex.emplace(source.entries[i].key, static_cast<std::int32_t>(i));

    auto classify = [&](AlignedKey &a) {
        const std::string &k = a.key;
        if (nonTensor.count(k)) {
            a.status = KeyStatus::Error;
            const SourceEntry *e = a.sourceEntry >= 0 ? &source.entries[std::size_t(a.sourceEntry)] : nullptr;
            a.note = "not a tensor" + (e ? ": " + e->pythonType : std::string()) + "; load_state_dict raises";
        } else if (copyFailure.count(k)) {
            a.status = KeyStatus::Error;
            a.note = "copying it raises (the checkpoint's tensor has no data)";
        } else if (auto s = sizes.find(k); s != sizes.end()) {
            a.status = KeyStatus::ShapeMismatch;
            a.note = "size mismatch: " + formatShape(s->second->sourceShape) + " in the checkpoint, "
                + formatShape(s->second->targetShape) + " in the model";
        } else if (auto l = loaded.find(k); l != loaded.end()) {
            if (auto d = dtypes.find(k); d != dtypes.end()) {
                a.status = KeyStatus::DtypeDiffers;
                a.note = "loads with a cast: " + d->second->sourceDtype + " to " + d->second->targetDtype;
            } else {
                a.status = KeyStatus::Matched;
                a.note = l->second->firstElementOnly ? "loads its first element into a 0-dim parameter" : "loads";
            }
        } else if (missing.count(k)) {
            a.status = KeyStatus::Missing;
            a.note = "in the model, not in the checkpoint: strict=True raises, strict=False leaves it as initialised";
        } else if (unexpected.count(k)) {
            a.status = KeyStatus::Unexpected;
            a.note = "in the checkpoint, not in the model: strict=True raises, strict=False drops it";
        } else if (filled.count(k)) {
            a.status = KeyStatus::FilledIn;
            a.note = "not in the checkpoint; torch fills it in (the checkpoint predates it)";
        } else if (converted.count(k)) {
            a.status = a.inTarget && a.sourceEntry < 0 ? KeyStatus::FilledIn : KeyStatus::Ignored;
            a.note = a.status == KeyStatus::FilledIn
                ? "not in the checkpoint; spectral_norm's load hook computes it from the old layout"
                : "spectral_norm's load hook removes it (the old layout) and computes weight_v from it";
        } else if (dropped.count(k)) {
            a.status = KeyStatus::Ignored;
            a.note = "an old InstanceNorm running-stats key torch removes before loading";
        } else {
            a.status = KeyStatus::Ignored;
            a.note = model.underOpaqueModule(k) ? "not judged: it goes to a module whose state_dict ptscope cannot model (see the notes)"
                : ignored.count(k) ? "torch neither loads nor reports it"
                                   : "not loaded, not reported";
        }
    };

    std::vector<AlignedKey> out;
    std::unordered_set<std::string> seen;
    for (const std::string &key : model.stateDictKeys()) {
        if (!seen.insert(key).second)
            continue;
        AlignedKey a;
        a.key = key;
        a.inTarget = true;
        const ModuleNode *owner = nullptr;
        if (const ModuleSlot *slot = model.slotForKey(key, &owner); slot && owner) {
            a.module = static_cast<std::int32_t>(owner - model.modules.data());
            a.slot = static_cast<std::int32_t>(slot - owner->slots.data());
        }
        if (auto it = sourceIndex.find(key); it != sourceIndex.end())
            a.sourceEntry = it->second;
        classify(a);
        out.push_back(std::move(a));
    }
    for (std::size_t i = 0; i < source.entries.size(); ++i) {
        if (seen.count(source.entries[i].key))
            continue;
        AlignedKey a;
        a.key = source.entries[i].key;
        a.sourceEntry = static_cast<std::int32_t>(i);
        classify(a);
        out.push_back(std::move(a));
    }
    return out;
}

const ModuleSlot *targetSlot(const ModelStructure &model, const AlignedKey &key)
{
    if (key.module < 0 || std::size_t(key.module) >= model.modules.size())
        return nullptr;
    const ModuleNode &m = model.modules[std::size_t(key.module)];
    if (key.slot < 0 || std::size_t(key.slot) >= m.slots.size())
        return nullptr;
    return &m.slots[std::size_t(key.slot)];
}

std::vector<ObjectPath> stateDictCandidates(const Checkpoint &cp, std::size_t maxDepth)
{
    std::vector<ObjectPath> out;
    if (cp.stateDict.found)
        out.push_back(cp.stateDict.path);
    const ValueArena &a = cp.arena;
    if (!a.valid(cp.root))
        return out;
    constexpr std::size_t kMaxVisits = 20000;
    std::size_t visits = 0;
    std::unordered_set<ValueId> visited;
    std::deque<std::pair<ValueId, ObjectPath>> queue;
    queue.emplace_back(cp.root, ObjectPath {});
    while (!queue.empty() && visits < kMaxVisits) {
        auto [id, path] = std::move(queue.front());
        queue.pop_front();
        if (!a.valid(id) || !visited.insert(id).second)
            continue;
        ++visits;
        const Value &v = a[id];
        if (v.kind == ValueKind::Tensor || v.kind == ValueKind::Storage)
            continue;
        if (v.kind == ValueKind::Dict && !v.entries.empty()) {
            std::size_t tensors = 0;
            for (const auto &[k, val] : v.entries)
                tensors += a.valid(val) && a[val].kind == ValueKind::Tensor;
            if (tensors > 0 && tensors * 2 >= v.entries.size()) {
                if (!(cp.stateDict.found && path == cp.stateDict.path))
                    out.push_back(path);
                continue; // a state dict's own values are tensors: nothing further down
            }
        }
        if (path.size() >= maxDepth)
            continue;
        for (auto &[label, child] : valueChildren(cp, id)) {
            ObjectPath p = path;
            p.push_back(label);
            queue.emplace_back(child, std::move(p));
        }
    }
    return out;
}

} // namespace ptscope::core
