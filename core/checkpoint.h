// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include "mapped_file.h"
#include "result.h"
#include "unpickler.h"
#include "value.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ptscope::core {

struct SecurityReport; // security_scan.h

enum class FileFormat { TorchZip, TorchLegacy, TorchScript, Pickle, Safetensors, Sharded };
// "torch-zip", "torch-legacy", "torchscript", "pickle", "safetensors", "sharded"
const char *formatName(FileFormat format);

// One storage as recorded in the file. Several tensors may share it.
struct StorageInfo
{
    std::string id;                  // unique in the file: the key, or "constants/<key>" for TorchScript constants
    std::string key;                 // the file's key ("0", "94019345678912", ...)
    std::string dtype;               // element type of the storage ("uint8" for UntypedStorage)
    std::string location;            // as recorded: "cpu", "cuda:0", "mps", ...
    std::uint64_t numel = 0;         // elements of `dtype` the file declares
    std::uint64_t nbytes = 0;        // numel * item size
    std::string record;              // where the bytes are: "archive/data/0", "raw storage 3", ...
    std::optional<std::uint64_t> dataOffset; // file offset of the first byte when it can be mapped
    std::string problem;             // why the bytes are unusable (missing record, size mismatch, ...)
    std::vector<std::uint32_t> tensors; // tensors viewing it
    std::shared_ptr<const MappedFile> file; // where dataOffset points: null means Checkpoint::file
    std::string shard;               // sharded checkpoints: the shard file holding it
};

struct QuantInfo
{
    std::string qscheme;             // "per_tensor_affine", "per_channel_affine", ...
    double scale = 0.0;              // per tensor
    std::int64_t zeroPoint = 0;      // per tensor
    std::int64_t axis = -1;          // per channel
    std::int32_t scalesTensor = -1;  // per channel: tensor indices
    std::int32_t zeroPointsTensor = -1;
};

struct TensorInfo
{
    std::string dtype;
    std::string layout = "strided";  // "strided", "sparse_coo", "sparse_csr", "sparse_csc", "sparse_bsr", "sparse_bsc", "nested"
    std::vector<std::int64_t> shape;
    std::vector<std::int64_t> stride;   // strided layouts only
    std::int64_t storageOffset = 0;     // in elements
    std::int32_t storage = -1;          // index into Checkpoint::storages, -1 when there is none (meta, sparse, ...)
    std::string device;                 // the storage location recorded in the file ("meta" for meta tensors)
    bool requiresGrad = false;
    bool isParameter = false;
    // torch 2.x math bits (the rebuild's metadata dict): the values are the storage's conjugated
    // or negated (Tensor.is_conj() / is_neg()).
    bool conjView = false;
    bool negView = false;
    std::string rebuild;                // torch function that rebuilds it ("_rebuild_tensor_v2", ...)
    std::string subclass;               // tensor subclass ("torch.nn.parameter.Parameter", a user class, ...)
    std::optional<QuantInfo> quant;
    std::vector<std::uint32_t> components; // sparse: indices/values (or crow/col/values) tensors; nested: buffer
    std::uint64_t numel = 0;            // elements of the (dense) shape
    std::uint64_t nbytes = 0;           // numel * item size (torch's Tensor.nbytes for strided tensors)
    std::string problem;                // invalid view, unknown dtype, ... (also reported as a warning)
    ValueId value = kNoValue;
};

// One step on the way from the root object to a value: a dict key as text, a list or tuple index
// as decimal text, or an object attribute by name.
using ObjectPath = std::vector<std::string>;

struct TensorRef
{
    ObjectPath path;
    std::uint32_t tensor = 0;
};

struct StateDictEntry
{
    std::string key;
    ValueId value = kNoValue;
    std::int32_t tensor = -1;           // -1 for a non-tensor value (e.g. _extra_state)
    bool isBuffer = false;              // known for whole-model pickles and TorchScript
};

struct StateDictView
{
    bool found = false;
    ObjectPath path;                    // where it sits in the file's object
    std::string source;                 // how it was found, in words ("the object itself", "key 'state_dict'", ...)
    std::vector<StateDictEntry> entries; // exactly model.state_dict()'s keys, in order
    ValueId metadata = kNoValue;        // the OrderedDict's _metadata (module versions), when present
    std::vector<std::string> notes;     // e.g. "loading this file needs the original class ..."
};

struct MetadataItem
{
    std::string label;                  // "epoch", "learning rate (group 0)", ...
    std::string value;                  // formatted
    ObjectPath path;
};

// An optimizer state_dict found in the file ({"state": {id: {...}}, "param_groups": [...]}).
struct OptimizerInfo
{
    ObjectPath path;
    std::string type;                   // "Adam or AdamW", "SGD", ... as far as the state tells
    std::size_t groups = 0;
    std::size_t params = 0;             // ids across all groups
    std::size_t withState = 0;
    std::uint64_t stateBytes = 0;
    std::vector<std::string> paramNames; // by id, when the mapping to state_dict keys is known
    std::string mapping;                // how the names were found, or why not
};

struct ZipRecordInfo
{
    std::string name;
    std::uint64_t size = 0;
    std::uint64_t compressedSize = 0;
    std::uint16_t method = 0;
    std::uint64_t dataOffset = 0;
};

// A TorchScript class as declared in the archive's code/ files.
struct ScriptClass
{
    std::string file;                   // "archive/code/__torch__/torch/nn/modules/linear.py"
    std::vector<std::string> parameters; // __parameters__
    std::vector<std::string> buffers;    // __buffers__
    bool isModule = false;              // declared as a subclass of Module
};

struct Checkpoint
{
    std::string path;
    FileFormat format = FileFormat::TorchZip;
    std::uint64_t fileSize = 0;
    std::shared_ptr<const MappedFile> file;

    // Container details.
    std::string archiveName;            // zip top folder
    std::optional<std::int64_t> formatVersion; // zip "version" record / legacy protocol version
    std::string byteOrder = "little";
    std::vector<ZipRecordInfo> records; // zip members (TorchScript code files included)
    std::vector<std::string> shards;    // sharded checkpoints: shard files, in order
    int pickleProtocol = 0;
    std::string writerHint;             // what wrote it, as far as the file tells ("torch >= 2.1 (byteorder record)")

    std::map<std::string, ScriptClass> scriptClasses; // TorchScript: by qualified name ("__torch__.Net")

    ValueArena arena;
    ValueId root = kNoValue;
    ValueId constantsRoot = kNoValue;   // TorchScript constants.pkl
    std::vector<GlobalUse> globals;
    std::vector<StorageInfo> storages;
    std::vector<TensorInfo> tensors;
    std::vector<TensorRef> tensorRefs;  // every path that reaches a tensor, in walk order
    StateDictView stateDict;
    std::vector<MetadataItem> metadata;
    std::vector<OptimizerInfo> optimizers;
    std::vector<Warning> warnings;
    // Is it safe to torch.load? Computed by openCheckpoint from every pickle in the file (security_scan.h).
    std::shared_ptr<const SecurityReport> security;
};

struct OpenOptions
{
    PickleLimits pickleLimits;
    std::uint64_t maxTensorRefs = 5'000'000;
};

// Opens any supported file by its content. Reads the pickle(s) and the zip directory only:
// tensor data is never touched.
// The checkpoint a model folder stands for, as transformers loads it: model.safetensors.index.json,
// pytorch_model.bin.index.json, model.safetensors, pytorch_model.bin (and PEFT's and diffusers'
// names), else its one shard index or its one checkpoint file. An error names what is there
// when that is ambiguous (several checkpoints, shards without their index) or empty.
Result<std::string> checkpointInFolder(const std::string &folder);
// A folder opens the checkpoint inside it (checkpointInFolder).
Result<std::shared_ptr<const Checkpoint>> openCheckpoint(const std::string &path, const OpenOptions &options = {});
Result<std::shared_ptr<const Checkpoint>> openCheckpoint(std::shared_ptr<const MappedFile> file,
                                                         const OpenOptions &options = {});

// Helpers shared by front ends.
std::string joinPath(const ObjectPath &path);          // "model_state_dict/fc1.weight"
std::string formatShape(const std::vector<std::int64_t> &shape); // "[5, 10]"
std::string formatBytes(std::uint64_t bytes);          // "1.4 GB"

} // namespace ptscope::core
