// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include "checkpoint.h"

#include <functional>
#include <map>
#include <string>
#include <utility>

namespace ptscope::core {

// Turns the inert objects the unpickler built into what torch would have built, without running
// anything: a fixed table of torch functions (tensor rebuilds, torch.Size, torch.device, dtypes,
// OrderedDict, set, complex, bytes, numpy scalars) is recognised by name and its arguments are
// read as data. Everything else stays an Object for display and for the security scan.
class TorchInterpreter final
{
public:
    // Parses a nested legacy torch.save stream (torch.storage._load_from_bytes in plain pickles)
    // and returns the storage it holds, or -1 with a warning already recorded.
    using NestedLoader = std::function<std::int32_t(ValueId bytesValue)>;

    TorchInterpreter(Checkpoint &checkpoint, std::string storageNamespace);

    void setNestedLoader(NestedLoader loader) { m_nestedLoader = std::move(loader); }

    // Interprets the values with ids in [first, last), in creation order: arguments are always
    // created before the call that uses them, so they are already interpreted when it is reached.
    void interpret(ValueId first, ValueId last);

    // Storages created by this interpreter, by key (for the container reader to locate).
    const std::map<std::string, std::int32_t> &storagesByKey() const { return m_storageByKey; }

private:
    void interpretGlobal(ValueId id);
    void interpretPersistentId(ValueId id);
    void interpretObject(ValueId id);
    std::int32_t callTensorFunction(const std::string &module, const std::string &name, ValueId args, ValueId where,
                                    std::string &why);
    void applyMathBits(std::int32_t tensor, ValueId metadata);
    std::int32_t rebuildStrided(ValueId storage, ValueId offset, ValueId size, ValueId stride, const char *function,
                                std::string &why, const std::string &dtypeOverride = {});
    std::int32_t newTensor(TensorInfo info);
    void validateView(TensorInfo &t);
    void warn(ValueId where, std::string message);

    std::optional<std::int64_t> asInt(ValueId id) const;
    std::optional<std::vector<std::int64_t>> asIntList(ValueId id) const;
    std::optional<bool> asBool(ValueId id) const;
    const std::vector<ValueId> *tupleItems(ValueId id) const;

    Checkpoint &m_cp;
    std::string m_namespace;
    std::map<std::string, std::int32_t> m_storageByKey;
    NestedLoader m_nestedLoader;
};

// Checked arithmetic used wherever a size comes from the file.
bool mulOverflow(std::uint64_t a, std::uint64_t b, std::uint64_t &out);
bool addOverflow(std::uint64_t a, std::uint64_t b, std::uint64_t &out);

} // namespace ptscope::core
