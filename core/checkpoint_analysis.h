// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include "checkpoint.h"

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

// The text a dict key gets in an ObjectPath ("3" for an int key, the string itself for a str key).
std::string keyText(const ValueArena &arena, ValueId key);

} // namespace ptscope::core
