// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "sharded.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <set>

namespace ptscope::core {

namespace {

std::string directoryOf(const std::string &path)
{
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
}

Error indexError(std::string message)
{
    return makeError(ErrorCode::BadRecord, std::move(message), "index JSON", {},
                     "Check the index file: it must be the one the shards were written with.");
}

// Copies tensor `index` of `shard` (and the tensors it refers to) into `cp`; returns its new index.
std::uint32_t copyTensor(Checkpoint &cp, const Checkpoint &shard, std::uint32_t index,
                         std::map<std::uint32_t, std::uint32_t> &tensorMap,
                         std::map<std::int32_t, std::int32_t> &storageMap, const std::string &shardName)
{
    if (auto it = tensorMap.find(index); it != tensorMap.end())
        return it->second;
    TensorInfo t = shard.tensors[index];
    for (auto &c : t.components)
        c = copyTensor(cp, shard, c, tensorMap, storageMap, shardName);
    if (t.quant) {
        if (t.quant->scalesTensor >= 0)
            t.quant->scalesTensor = static_cast<std::int32_t>(
                copyTensor(cp, shard, static_cast<std::uint32_t>(t.quant->scalesTensor), tensorMap, storageMap, shardName));
        if (t.quant->zeroPointsTensor >= 0)
            t.quant->zeroPointsTensor = static_cast<std::int32_t>(copyTensor(
                cp, shard, static_cast<std::uint32_t>(t.quant->zeroPointsTensor), tensorMap, storageMap, shardName));
    }
    const auto newIndex = static_cast<std::uint32_t>(cp.tensors.size());
    if (t.storage >= 0) {
        auto it = storageMap.find(t.storage);
        if (it == storageMap.end()) {
            StorageInfo s = shard.storages[static_cast<std::size_t>(t.storage)];
            s.tensors.clear();
            s.file = s.file ? s.file : shard.file;
            s.shard = shardName;
            s.id = shardName + ":" + s.id;
            it = storageMap.emplace(t.storage, static_cast<std::int32_t>(cp.storages.size())).first;
            cp.storages.push_back(std::move(s));
        }
        t.storage = it->second;
        cp.storages[static_cast<std::size_t>(t.storage)].tensors.push_back(newIndex);
    }
    Value v;
    v.kind = ValueKind::Tensor;
    v.aux = newIndex;
    t.value = cp.arena.add(std::move(v));
    cp.tensors.push_back(std::move(t));
    tensorMap.emplace(index, newIndex);
    return newIndex;
}

} // namespace

Status readShardIndex(Checkpoint &cp, const OpenOptions &options)
{
    const auto bytes = cp.file->bytes();
    nlohmann::ordered_json index = nlohmann::ordered_json::parse(bytes.begin(), bytes.end(), nullptr, false);
    if (index.is_discarded() || !index.is_object())
        return indexError("the index is not valid JSON");
    if (!index.contains("weight_map") || !index["weight_map"].is_object())
        return indexError("the index has no weight_map object");
    cp.format = FileFormat::Sharded;

    // Shards in the order their first key appears, keys in index order per shard.
    std::vector<std::string> shards;
    std::map<std::string, std::vector<std::string>> keysOf;
    for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
        if (!it.value().is_string())
            return indexError("weight_map entry '" + it.key() + "' does not name a shard file");
        const std::string shard = it.value().get<std::string>();
        if (shard.empty() || shard.find('/') != std::string::npos || shard == "." || shard == "..")
            return indexError("weight_map entry '" + it.key() + "' names '" + shard
                              + "', which is not a file name beside the index");
        if (!keysOf.count(shard))
            shards.push_back(shard);
        keysOf[shard].push_back(it.key());
    }
    std::sort(shards.begin(), shards.end()); // model-00001-of-00003 ... : the order they were written in
    if (index.contains("metadata") && index["metadata"].is_object())
        for (auto it = index["metadata"].begin(); it != index["metadata"].end(); ++it)
            cp.metadata.push_back({"index metadata/" + it.key(),
                                   it.value().is_string() ? it.value().get<std::string>() : it.value().dump(),
                                   {"metadata", it.key()}});

    Value root;
    root.kind = ValueKind::Dict;
    std::uint64_t totalBytes = 0;
    const std::string dir = directoryOf(cp.path);
    for (const std::string &shardName : shards) {
        cp.shards.push_back(shardName);
        auto shard = openCheckpoint(dir + shardName, options);
        if (!shard) {
            cp.warnings.push_back({"shard " + shardName + " (" + std::to_string(keysOf[shardName].size())
                                       + " tensors of the index) cannot be read: " + shard.error().message,
                                   shardName, {}});
            continue;
        }
        const Checkpoint &s = **shard;
        if (s.format == FileFormat::Sharded) {
            cp.warnings.push_back({"shard " + shardName + " is itself an index: not followed", shardName, {}});
            continue;
        }
        for (const Warning &w : s.warnings)
            cp.warnings.push_back({w.message, shardName + (w.where.empty() ? "" : ": " + w.where), w.offset});
        std::map<std::string, const StateDictEntry *> held;
        for (const StateDictEntry &e : s.stateDict.entries)
            held.emplace(e.key, &e);
        const std::set<std::string> listed(keysOf[shardName].begin(), keysOf[shardName].end());
        std::map<std::uint32_t, std::uint32_t> tensorMap;
        std::map<std::int32_t, std::int32_t> storageMap;
        std::size_t missing = 0;
        // The shard's own order is the order the model's state_dict was split in.
        for (const StateDictEntry &e : s.stateDict.entries) {
            if (!listed.count(e.key)) {
                cp.warnings.push_back({"shard " + shardName + " holds '" + e.key + "', which the index does not list",
                                       shardName, {}});
                continue;
            }
            if (e.tensor < 0)
                continue;
            const std::uint32_t t = copyTensor(cp, s, static_cast<std::uint32_t>(e.tensor), tensorMap, storageMap,
                                               shardName);
            totalBytes += cp.tensors[t].nbytes;
            Value key;
            key.kind = ValueKind::String;
            key.text = e.key;
            root.entries.emplace_back(cp.arena.add(std::move(key)), cp.tensors[t].value);
        }
        for (const std::string &k : keysOf[shardName])
            if (!held.count(k) && ++missing <= 20)
                cp.warnings.push_back({"the index puts '" + k + "' in " + shardName + ", which does not hold it",
                                       shardName, {}});
        if (missing > 20)
            cp.warnings.push_back({std::to_string(missing - 20) + " more keys missing from " + shardName, shardName, {}});
    }
    if (index.contains("metadata") && index["metadata"].contains("total_size")
        && index["metadata"]["total_size"].is_number_unsigned()
        && index["metadata"]["total_size"].get<std::uint64_t>() != totalBytes)
        cp.warnings.push_back({"the index's total_size is " + std::to_string(index["metadata"]["total_size"].get<std::uint64_t>())
                                   + " bytes, the shards' tensors hold " + std::to_string(totalBytes),
                               "index JSON", {}});
    cp.root = cp.arena.add(std::move(root));
    return Ok{};
}

} // namespace ptscope::core
