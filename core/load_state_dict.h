// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

// What `model.load_state_dict(state_dict, strict=...)` does, computed from two files and never
// by running Python: the model's module tree (from a whole-model pickle or TorchScript file
// exactly, from a manifest, or inferred from a state_dict's keys and _metadata) and the state
// dict being loaded, walked with the algorithm of torch/nn/modules/module.py (1.13 or 2.x rules,
// docs: pt-format.md section 7).

#include "checkpoint.h"
#include "result.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ptscope::core {

// Whose load_state_dict: torch changed it twice in 2.x (pt-format.md 7.1), each change checked
// against the real torch of that era (torch 1.13, 2.6 and 2.14 fixtures).
enum class TorchRules {
    // 1.x to 2.3: a key is unexpected only when its first dotted component is neither a child nor
    // a local parameter or buffer; a 1-dim tensor of any length loads into a 0-dim parameter
    // through input[0] (IndexError when it is empty).
    Torch1_13,
    // 2.4 to 2.9: a dotted key is unexpected unless its first component is a child (keys below a
    // parameter or buffer, pytorch PR 124385); input[0] of any length as before.
    Torch2_4,
    // 2.10 and newer, the default: as 2.4, and only a 1-element tensor loads into a 0-dim
    // parameter (pytorch PR 166335); a longer one is a size mismatch.
    Torch2,
};
inline constexpr TorchRules kAllTorchRules[] = { TorchRules::Torch2, TorchRules::Torch2_4, TorchRules::Torch1_13 };
// "torch >= 2.10", "torch 2.4-2.9", "torch <= 2.3" (1.13 is the release most such files meet).
const char *torchRulesName(TorchRules rules);
// The JSON value: "2.x" (newest), "2.4", "1.13".
const char *torchRulesId(TorchRules rules);

// A parameter or buffer a module registers.
struct ModuleSlot
{
    std::string name;
    bool buffer = false;
    bool persistent = true; // buffers registered with persistent=False are not in state_dict
    bool none = false; // registered as None: not in state_dict
    bool lazy = false; // UninitializedParameter/Buffer: torch skips the shape check
    bool kindKnown = true; // parameter vs buffer known (not only guessed from the name)
    std::vector<std::int64_t> shape;
    std::string dtype;
    std::string device;
    std::int32_t tensor = -1; // index in the target checkpoint's tensors; -1 for manifests
    std::string tiedTo; // state_dict key of an earlier slot holding the same tensor
};

struct ModuleNode
{
    std::string prefix; // "" for the root, "layer1.0." below it
    std::string className; // "torch.nn.modules.batchnorm.BatchNorm2d", "__main__.Net", "Net" or ""
    std::vector<ModuleSlot> slots; // parameters in registration order, then buffers
    std::vector<std::pair<std::string, std::int32_t>> children; // name -> index in modules; -1: set to None
    std::optional<std::int64_t> version; // the class's _version, when known
    std::optional<bool> trackRunningStats; // normalisation layers
    bool normBase = false; // a _NormBase (BatchNorm*, InstanceNorm*): fills in num_batches_tracked
    bool instanceNorm = false; // an _InstanceNorm: the pre-0.4 running-stats check
    std::optional<bool> extraState; // the class overrides set_extra_state; nullopt: cannot be known
    bool opaque = false; // pickled in a way that cannot be followed: its keys are not judged
    // Weights under torch.nn.utils.spectral_norm ("weight"), whose load_state_dict pre-hook reads and
    // rewrites the checkpoint's keys for this module.
    std::vector<std::string> spectralNorm;

    std::string shortClassName() const; // "BatchNorm2d"
};

struct ModelStructure
{
    std::vector<ModuleNode> modules; // modules[0] is the root; parents come before their children
    std::string origin; // how it was obtained, in words
    bool classesKnown = false; // module classes come from the file (pickle, TorchScript, manifest)
    std::vector<std::string> notes; // what the file cannot tell

    // model.state_dict()'s keys, in its order ("_extra_state" included where known).
    std::vector<std::string> stateDictKeys() const;
    // The slot a key names, or nullptr.
    const ModuleSlot *slotForKey(const std::string &key, const ModuleNode **owner = nullptr) const;
    // Whether a key goes to a module whose keys are not judged (ModuleNode::opaque).
    bool underOpaqueModule(const std::string &key) const;
};

// One entry of the dict being loaded.
struct SourceEntry
{
    std::string key;
    bool isTensor = false;
    std::string pythonType; // what type(value) prints: "<class 'int'>"
    std::vector<std::int64_t> shape;
    std::string dtype;
    std::string device;
    std::string layout;
    std::int32_t tensor = -1; // index in the source checkpoint's tensors
};

struct SourceStateDict
{
    bool isMapping = true; // false: load_state_dict raises TypeError
    std::string pythonType; // the object's type(), for the TypeError message
    ObjectPath path; // where it sits in its file
    std::vector<SourceEntry> entries; // in insertion order, keys unique
    bool hasMetadata = false;
    // _metadata: module prefix without the trailing dot -> its "version" (nullopt: no version entry).
    std::vector<std::pair<std::string, std::optional<std::int64_t>>> metadata;

    // _metadata[module]["spectral_norm"][name + ".version"]: (module prefix without the dot, name) -> version.
    std::vector<std::pair<std::pair<std::string, std::string>, std::optional<std::int64_t>>> spectralNorm;

    // local_metadata.get("version") for a module prefix ("bn1." or ""), as torch looks it up.
    std::optional<std::int64_t> versionFor(const std::string &prefix) const;
    // local_metadata.get("spectral_norm", {}).get(name + ".version") for a module prefix.
    std::optional<std::int64_t> spectralNormVersion(const std::string &prefix, const std::string &name) const;
    const SourceEntry *find(const std::string &key) const;
};

struct SizeMismatch
{
    std::string key;
    std::vector<std::int64_t> sourceShape; // as torch prints it (after the 0-dim adjustment)
    std::vector<std::int64_t> targetShape;
};

struct DtypeDifference
{
    std::string key;
    std::string sourceDtype;
    std::string targetDtype;
};

// A tensor that load_state_dict copies into the model.
struct LoadedTensor
{
    std::string key;
    std::int32_t sourceEntry = -1; // index in SourceStateDict::entries; -1: filled in by torch
    std::int32_t module = -1; // index in ModelStructure::modules
    std::int32_t slot = -1; // index in that module's slots
    bool firstElementOnly = false; // a 1-dim tensor copied into a 0-dim parameter through [0]
};

struct LoadOutcome
{
    std::string header; // "Error(s) in loading state_dict for Net:"
    std::optional<std::string> typeError; // the TypeError for a non-mapping, whole text
    std::optional<std::string> exception; // another exception escaping load_state_dict ("IndexError: ...")
    std::vector<std::string> missingKeys; // in torch's order
    std::vector<std::string> unexpectedKeys;
    std::vector<std::string> errorMessages; // size mismatches, non-tensor values, copy failures, in discovery order
    std::vector<SizeMismatch> sizeMismatches;
    std::vector<DtypeDifference> dtypeDifferences;
    std::vector<LoadedTensor> loaded;
    std::vector<std::string> filledIn; // num_batches_tracked keys torch fills in (no or old _metadata)
    std::vector<std::string> droppedRunningStats; // InstanceNorm's pre-0.4 keys torch removes
    // An old spectral_norm layout rewritten by its load pre-hook: the weight it removes and the
    // weight_v it computes (not in the checkpoint).
    std::vector<std::string> convertedKeys;
    std::vector<std::string> nonTensorKeys; // keys whose value is not a tensor (an error message each)
    std::vector<std::string> copyFailureKeys; // keys whose copy_ raises (meta tensors: no data)
    std::vector<std::string> ignoredKeys; // source keys neither loaded nor reported (under None children, ...)
    std::vector<std::string> assumptions; // where the model's structure had to be guessed

    // The lines torch prints after the header for strict=True, in its order, without the tab.
    std::vector<std::string> strictMessages() const;
    bool strictOk() const;
    bool nonStrictOk() const;
    std::size_t loadedFromSource() const; // loaded tensors that come from the dict (not filled in by torch) //
                                          // strict=False returns (it still raises for errorMessages)
    std::vector<std::string> nonStrictMessages() const; // what strict=False raises with
};

// The module tree of a target model.
//  * key (optional): where the model sits in the file (a module object, a state dict); empty: the
//    state_dict the reader found (cp.stateDict).
Result<ModelStructure> modelFromCheckpoint(const Checkpoint &cp, const ObjectPath *key = nullptr);
// From a JSON manifest (docs/manifest.md): the full form or the minimal {key: {shape, dtype}}.
Result<ModelStructure> modelFromManifest(const std::string &path);
Result<ModelStructure> modelFromManifestText(const std::string &text, const std::string &path = {});
// Whether a file is a JSON object that a manifest could be (its first non-blank byte is '{' and it
// is not a sharded-checkpoint index).
bool looksLikeManifest(const std::string &path);

// The dict being loaded: at `key` when given, else the state_dict the reader found.
Result<SourceStateDict> sourceFromCheckpoint(const Checkpoint &cp, const ObjectPath *key = nullptr);
// Any value of the file as load_state_dict would receive it (the whole training checkpoint, a module).
SourceStateDict sourceFromValue(const Checkpoint &cp, ValueId value, ObjectPath path);

// model.load_state_dict(source) under the given rules.
LoadOutcome emulateLoadStateDict(const ModelStructure &model, const SourceStateDict &source, TorchRules rules);

// The module prefix (with its dot; empty for the root) of a key that torch's quantized modules write
// for their packed parameters ("fc1._packed_params._packed_params", "rnn._all_weight_values.0.param"),
// or nullopt for any other key.
std::optional<std::string> packedParamsOwner(const std::string &key);

// What a reader of the outcome must know: the model's notes (what its file could not say), then
// the emulation's assumptions. Every front end shows these.
std::vector<std::string> loadNotes(const ModelStructure &model, const LoadOutcome &outcome);

// Helpers shared with the explanations and front ends.
std::string torchSizeText(const std::vector<std::int64_t> &shape); // "torch.Size([5, 3])"
std::string pythonTypeOf(const Checkpoint &cp, ValueId value); // "<class 'int'>"
// "1.13", "1.x", "2.0".."2.3" -> Torch1_13; "2.4".."2.9" -> Torch2_4; "2", "2.x", "latest", "2.10"
// and later -> Torch2. Anything else: *ok = false (and Torch2).
TorchRules parseTorchRules(const std::string &text, bool *ok);

} // namespace ptscope::core
