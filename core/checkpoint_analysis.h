// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include "checkpoint.h"

#include <string_view>

namespace ptscope::core {

class ZipArchive;

// Reads the TorchScript code/ files (never runs them) for each class's __parameters__ and
// __buffers__ lists, which is where TorchScript keeps the parameter/buffer split.
void analyzeTorchScriptCode(Checkpoint &cp, const ZipArchive &zip, const std::string &prefix);

// After the pickles are read: every path to a tensor, the state_dict view, the metadata summary.
void analyzeCheckpoint(Checkpoint &cp, const OpenOptions &options);

// Follows an ObjectPath from the root (dict keys, list/tuple indices, object attributes);
// kNoValue when a step does not exist.
ValueId resolvePath(const Checkpoint &cp, const ObjectPath &path);

// One line about a value, for trees and details panes: "OrderedDict, 38 entries",
// "float32 [16, 3, 3, 3], 1.73 KB", "int 12", "argparse.Namespace, 10 attributes", ...
std::string valueSummary(const Checkpoint &cp, ValueId id);

// What a value contains, labelled as in ObjectPath steps: dict entries, list/tuple items, object
// attributes (and a call's arguments under "(args)" when nothing else describes the object).
std::vector<std::pair<std::string, ValueId>> valueChildren(const Checkpoint &cp, ValueId id);

// Totals over the state_dict's tensors, as every summary (info, reports) shows them.
struct StateDictTotals
{
    std::size_t tensors = 0;
    std::uint64_t params = 0;
    std::uint64_t bytes = 0;
    std::string dtypeMix;  // "float32 81.1 KB, int64 48 B" (bytes per dtype, by name)
    std::string deviceMix; // "cpu (38)" (tensors per recorded device, by name)
};
StateDictTotals stateDictTotals(const Checkpoint &cp);

// The text a dict key gets in an ObjectPath ("3" for an int key, the string itself for a str key).
std::string keyText(const ValueArena &arena, ValueId key);

// Object helpers shared with the load_state_dict emulation.
// An object's __dict__ (BUILD state) as (name, value) pairs, slots included.
std::vector<std::pair<std::string, ValueId>> objectAttributes(const ValueArena &arena, ValueId id);
// An object's BUILD state when it is not attributes (a dict, or a (dict, slots dict) pair) but what
// the class's __setstate__ takes, e.g. torch.ScriptObject's ((tensors...), class name) of quantized
// packed parameters; kNoValue otherwise. Paths reach into it through the step "(state)".
ValueId opaqueState(const ValueArena &arena, ValueId id);
// One attribute of an object's __dict__; kNoValue when absent.
ValueId attribute(const ValueArena &arena, ValueId id, std::string_view name);
// A dict's value for a str key; kNoValue when absent.
ValueId dictGet(const ValueArena &arena, ValueId dictId, std::string_view key);
// "module.Name" of the class an object was built from; empty when not an object of a global.
std::string className(const ValueArena &arena, ValueId id);
// torch.compile's OptimizedModule(orig_module, ctx): the wrapped module, else kNoValue.
ValueId compiledInner(const ValueArena &arena, ValueId id);
// An nn.Module pickled whole (an object with _parameters and _modules dicts, or an OptimizedModule).
bool isModuleObject(const ValueArena &arena, ValueId id);

} // namespace ptscope::core
