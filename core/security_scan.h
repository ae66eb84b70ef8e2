// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include "checkpoint.h"
#include "mapped_file.h"
#include "result.h"
#include "unpickler.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ptscope::core {

class JsonWriter;

// Is it safe to torch.load? Decided before anything is loaded, from every pickle in the file, by
// reading them with the inert unpickler (nothing is imported or run). docs/SECURITY.md explains the rules.
enum class Verdict {
    Safe,       // only what torch's weights-only loader allows by default, and the whole file was read
    Suspicious, // other globals (a user's classes, numpy, argparse, ...), TorchScript code, or not fully read
    Dangerous,  // globals that run commands, evaluate code, import modules, touch files or the network,
                // or load another pickle
};
const char *verdictName(Verdict v); // "safe", "suspicious", "dangerous"

enum class FindingKind {
    DangerousGlobal, // "dangerous-global": on the dangerous-globals table (module or a parent module matched)
    DynamicImport,   // "dynamic-import": STACK_GLOBAL operands computed at load time: any import is possible
    UnlistedGlobal,  // "unlisted-global": not on torch's weights-only allowlist; loading needs and runs its code
    NestedLoad,      // "nested-load": bytes that another torch.load would read (torch.storage._load_from_bytes)
    TorchScriptCode, // "torchscript-code": the archive carries TorchScript code that torch.jit.load compiles
    ExtraPickle,     // "extra-pickle": a pickle in a zip member torch.load itself does not read
    NotFullyRead,    // "not-fully-read": a pickle or the container could not be read to the end
};
const char *findingKindName(FindingKind k);

struct SecurityFinding
{
    Verdict severity = Verdict::Suspicious; // what this finding alone makes of the file
    FindingKind kind = FindingKind::UnlistedGlobal;
    std::string module;           // the global (empty when the finding is not about one)
    std::string name;
    std::string use;              // "called", "instantiated", "referenced" (how the pickle uses the global)
    std::string pickle;           // which pickle: "archive/data.pkl", "legacy: object", "archive/extra/x.pkl", ...
    std::optional<std::uint64_t> offset; // byte offset of the opcode (or where reading stopped)
    bool offsetInMember = false;  // the offset counts from the start of that pickle's own bytes (an inflated
                                  // zip member, or bytes nested in another pickle), not from the file
    bool reachable = false;       // the global's result sits in the loaded object (then `path` says where)
    ObjectPath path;              // from the pickle's root object, as in info's tensor paths
    std::string what;             // in plain words: what loading would do
    std::uint64_t count = 1;      // uses of this global merged into this finding (same pickle)
};

// What torch.load(weights_only=True) would do with the file, from torch's own rules
// (torch/_weights_only_unpickler.py): its global allowlist, its opcode subset, its persistent-id check.
struct WeightsOnlyCheck
{
    bool applicable = true;                  // false: torch.load does not read this kind of file at all
    bool accepted = false;
    std::string reason;                      // why not (the first thing torch would stop at, with where)
    bool fixableByAllowlisting = false;      // add_safe_globals(addSafeGlobals) would make it load
    std::vector<std::string> addSafeGlobals; // "argparse.Namespace", ... (what the user would allowlist)
    std::vector<std::string> neverAcceptable; // globals no allowlist should (or can) let through
    std::string note;                        // anything else worth knowing (TorchScript dispatch, ...)
};

// One pickle the scan read.
struct ScannedPickle
{
    std::string name;                        // "archive/data.pkl", "legacy: object", ...
    int protocol = 0;
    bool complete = true;                    // read to its STOP
    std::vector<std::string> globals;        // "module.name" as written in the file, in order, repeats included
};

struct SecurityReport
{
    Verdict verdict = Verdict::Safe;
    bool fullyRead = true;
    std::vector<SecurityFinding> findings;   // most severe first, then in file order
    std::vector<ScannedPickle> pickles;      // every pickle scanned, in the order they were read
    std::uint64_t omittedFindings = 0;       // past ScanOptions::maxFindings (the verdict still counts them)
    WeightsOnlyCheck torch26;                // torch >= 2.6: torch.load's default is weights_only=True
    WeightsOnlyCheck torch113;               // torch 1.13: torch.load(..., weights_only=True)
};

// A pickle the scan read to its end, as unpickle() left it (not interpreted), with what identifies
// it: openCheckpoint scans first and hands the file's main pickle to its reader, so that a large
// pickle (a whole model, tens of thousands of tensors) is parsed once, not twice.
struct ParsedPickle
{
    std::string label;      // the zip member's name, or "pickle" for a plain pickle file
    std::uint64_t base = 0; // file offset of its first byte when stored; 0 inside a deflated member
    std::uint64_t size = 0; // its bytes
    ValueArena arena;       // its values alone (ids from 0)
    PickleResult result;
};

struct ScanOptions
{
    PickleLimits pickleLimits;
    std::uint32_t maxPickles = 10'000;       // pickles scanned in one file (stacked, embedded, members)
    std::uint32_t maxFindings = 1'000;       // distinct findings kept; further ones are counted in a last one
    // When set: the largest pickle torch.load reads first-hand (data.pkl, a plain pickle file) that
    // was read completely is moved here (arena empty when there was none).
    ParsedPickle *keepMainPickle = nullptr;
};

// Scans one file by its content. Never fails: anything it cannot read becomes a "not fully read"
// finding (fail closed), so the verdict is then never "safe".
SecurityReport scanFile(const std::shared_ptr<const MappedFile> &file, const ScanOptions &options = {});

// The same, from a path. Errors only when there is nothing to scan: the file cannot be opened, or
// it is not a checkpoint at all (an image, an HTML page, an empty file: see sniffFormat).
Result<SecurityReport> scanFile(const std::string &path, const ScanOptions &options = {});

// The report of an opened checkpoint (openCheckpoint computes it once); for a sharded index the
// shards' reports merged.
const SecurityReport &securityReport(const Checkpoint &cp);

// Shard reports (name, report) as one: findings and pickles prefixed with the shard's name.
SecurityReport mergeShardReports(const std::vector<std::pair<std::string, SecurityReport>> &shards);

// Plain-text pieces every front end shows the same way.
// "posix.system (x2)", or the finding's kind when it is not about a global.
std::string findingTitle(const SecurityFinding &f);
// "in archive/data.pkl at byte 93, object path a/b".
std::string findingWhere(const SecurityFinding &f);
// One line: "accepted", "refused (why); add_safe_globals would need: ...; never to be allowed: ...".
std::string weightsOnlySummary(const WeightsOnlyCheck &c);

// {"verdict": ..., "findings": [...], "weights_only": {...}} as in docs/cli-contract.md; `file`
// is added when non-empty.
void writeSecurityJson(JsonWriter &w, const SecurityReport &report, const std::string &file = {});

} // namespace ptscope::core
