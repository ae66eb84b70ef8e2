// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// ptscope-cli info: what is in a file.
#include "checkpoint.h"
#include "checkpoint_analysis.h"
#include "cli_common.h"
#include "info_json.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

using namespace ptscope::core;

namespace ptscope::cli {

namespace {

void printInfo(const Checkpoint &cp, const Style &s)
{
    std::printf("%s%s%s\n", s.bold(), cp.path.c_str(), s.reset());
    std::string container = std::string(formatName(cp.format)) + ", " + formatBytes(cp.fileSize);
    if (!cp.archiveName.empty())
        container += ", archive folder '" + cp.archiveName + "'";
    if (cp.formatVersion)
        container += ", format version " + std::to_string(*cp.formatVersion);
    if (cp.pickleProtocol)
        container += ", pickle protocol " + std::to_string(cp.pickleProtocol);
    if (cp.byteOrder != "little")
        container += ", " + cp.byteOrder + "-endian";
    std::printf("  %s\n", container.c_str());
    if (!cp.writerHint.empty())
        std::printf("  written by: %s\n", cp.writerHint.c_str());
    for (const std::string &shard : cp.shards)
        std::printf("  shard: %s\n", shard.c_str());

    // Weights summary.
    const StateDictView &sd = cp.stateDict;
    if (sd.found) {
        const StateDictTotals totals = stateDictTotals(cp);
        std::string where = sd.path.empty() ? "(" + sd.source + ")" : "under '" + joinPath(sd.path) + "'";
        std::printf("\n%sWeights%s %s: %zu tensors, %s parameters, %s\n", s.bold(), s.reset(), where.c_str(),
                    totals.tensors, withThousands(totals.params).c_str(), formatBytes(totals.bytes).c_str());
        if (!totals.dtypeMix.empty())
            std::printf("  dtypes: %s\n  devices: %s\n", totals.dtypeMix.c_str(), totals.deviceMix.c_str());
        for (const auto &note : sd.notes)
            std::printf("  %snote:%s %s\n", s.yellow(), s.reset(), note.c_str());
    } else {
        std::printf("\nNo state_dict found in this file.\n");
    }

    if (!cp.metadata.empty()) {
        std::printf("\n%sMetadata%s\n", s.bold(), s.reset());
        std::vector<std::vector<std::string>> rows{{"NAME", "VALUE"}};
        for (const auto &m : cp.metadata)
            rows.push_back({m.label, m.value});
        printTable(rows, s);
    }

    if (sd.found && !sd.entries.empty()) {
        // safetensors keeps no module order: its keys come in the file's layout order.
        const char *order = cp.format == FileFormat::Safetensors ? "in the file's order" : "in model.state_dict() order";
        std::printf("\n%sState dict%s (%zu keys, %s)\n", s.bold(), s.reset(), sd.entries.size(), order);
        std::vector<std::vector<std::string>> rows{{"KEY", "DTYPE", "SHAPE", "SIZE", "DEVICE"}};
        for (const auto &e : sd.entries) {
            if (e.tensor < 0) {
                rows.push_back({e.key, "-", "(not a tensor)", "", ""});
                continue;
            }
            const TensorInfo &t = cp.tensors[static_cast<std::size_t>(e.tensor)];
            std::string dtype = t.dtype;
            if (t.layout != "strided")
                dtype += " " + t.layout;
            rows.push_back({e.key, dtype, formatShape(t.shape), formatBytes(t.nbytes), t.device});
        }
        printTable(rows, s);
    }

    // Tensors outside the state dict (optimizer state, EMA copies, ...): summarised.
    std::vector<bool> inStateDict(cp.tensors.size(), false);
    for (const auto &e : sd.entries)
        if (e.tensor >= 0)
            inStateDict[static_cast<std::size_t>(e.tensor)] = true;
    std::map<std::string, std::pair<std::size_t, std::uint64_t>> others; // first path step -> count, bytes
    for (const TensorRef &r : cp.tensorRefs) {
        if (inStateDict[r.tensor])
            continue;
        const std::string group = r.path.empty() ? std::string("(root)") : r.path.front();
        others[group].first += 1;
        others[group].second += cp.tensors[r.tensor].nbytes;
    }
    if (!others.empty()) {
        std::printf("\n%sOther tensors%s\n", s.bold(), s.reset());
        std::vector<std::vector<std::string>> rows{{"UNDER", "TENSORS", "SIZE"}};
        for (const auto &[g, cb] : others)
            rows.push_back({g, std::to_string(cb.first), formatBytes(cb.second)});
        printTable(rows, s);
    }

    std::size_t sharedStorages = 0;
    for (const StorageInfo &st : cp.storages)
        sharedStorages += st.tensors.size() > 1 ? 1 : 0;
    if (sharedStorages)
        std::printf("\n%zu storage(s) are shared by several tensors (views or tied weights).\n", sharedStorages);

    if (!cp.warnings.empty()) {
        std::printf("\n%sWarnings%s (%zu)\n", s.yellow(), s.reset(), cp.warnings.size());
        std::size_t shown = 0;
        for (const Warning &w : cp.warnings) {
            if (++shown > 50) {
                std::printf("  ... %zu more (see --json)\n", cp.warnings.size() - 50);
                break;
            }
            std::printf("  - %s\n", w.toString().c_str());
        }
    }
}

// The whole object tree, like `tree`: shared containers are printed once and referred to after.
void printTree(const Checkpoint &cp, int maxDepth, std::size_t maxChildren)
{
    struct Frame
    {
        ValueId id;          // kNoValue: an elision line
        std::string label;
        std::string indent;  // prefix for this node's children
        std::string branch;  // prefix for this node's own line
        int depth;
    };
    std::vector<Frame> stack{{cp.root, "(root)", "", "", 0}};
    std::map<ValueId, std::string> printed;
    std::size_t lines = 0;
    while (!stack.empty()) {
        Frame f = std::move(stack.back());
        stack.pop_back();
        if (++lines > 100000) {
            std::printf("... (tree cut at 100000 lines)\n");
            return;
        }
        if (f.id == kNoValue) {
            std::printf("%s%s\n", f.branch.c_str(), f.label.c_str());
            continue;
        }
        if (auto seen = printed.find(f.id); seen != printed.end()) {
            std::printf("%s%s: (same object as %s)\n", f.branch.c_str(), f.label.c_str(), seen->second.c_str());
            continue;
        }
        const auto children = valueChildren(cp, f.id);
        if (!children.empty())
            printed.emplace(f.id, f.label);
        std::printf("%s%s: %s\n", f.branch.c_str(), f.label.c_str(), valueSummary(cp, f.id).c_str());
        if (children.empty() || cp.arena[f.id].kind == ValueKind::Tensor)
            continue;
        if (f.depth >= maxDepth) {
            std::printf("%s└─ ... (%zu inside; more with --depth)\n", f.indent.c_str(), children.size());
            continue;
        }
        const std::size_t shown = std::min(children.size(), maxChildren);
        const bool elided = shown < children.size();
        std::vector<Frame> next;
        for (std::size_t i = 0; i < shown; ++i) {
            const bool last = i + 1 == shown && !elided;
            next.push_back({children[i].second, children[i].first, f.indent + (last ? "   " : "│  "),
                            f.indent + (last ? "└─ " : "├─ "), f.depth + 1});
        }
        if (elided)
            next.push_back({kNoValue, "... " + std::to_string(children.size() - shown) + " more (--max-children)", "",
                            f.indent + "└─ ", f.depth + 1});
        for (auto it = next.rbegin(); it != next.rend(); ++it)
            stack.push_back(std::move(*it));
    }
}

} // namespace

int runInfo(const std::vector<std::string> &args)
{
    bool json = false;
    bool objects = true;
    bool tree = false;
    int depth = 6;
    std::size_t maxChildren = 50;
    std::string file;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string &a = args[i];
        auto number = [&](const char *option, long min, long max, long &out) {
            char *end = nullptr;
            if (i + 1 >= args.size() || (out = std::strtol(args[i + 1].c_str(), &end, 10), *end) || out < min
                || out > max) {
                std::fprintf(stderr, "ptscope-cli info: %s takes a number from %ld to %ld\n", option, min, max);
                return false;
            }
            ++i;
            return true;
        };
        long n = 0;
        if (a == "--json")
            json = true;
        else if (a == "--no-objects")
            objects = false;
        else if (a == "--tree")
            tree = true;
        else if (a == "--depth") {
            if (!number("--depth", 0, 1000, n))
                return kExitUsage;
            depth = static_cast<int>(n);
        } else if (a == "--max-children") {
            if (!number("--max-children", 1, 10000000, n))
                return kExitUsage;
            maxChildren = static_cast<std::size_t>(n);
        } else if (a == "-h" || a == "--help") {
            std::printf("Usage: ptscope-cli info [--json [--no-objects]] [--tree [--depth N] [--max-children N]] FILE\n");
            return kExitOk;
        } else if (!a.empty() && a[0] == '-' && a != "-") {
            std::fprintf(stderr, "ptscope-cli info: unknown option '%s'\n", a.c_str());
            return kExitUsage;
        } else if (file.empty())
            file = a;
        else {
            std::fprintf(stderr, "ptscope-cli info: takes one FILE (got '%s' and '%s')\n", file.c_str(), a.c_str());
            return kExitUsage;
        }
    }
    if (file.empty()) {
        std::fprintf(stderr, "ptscope-cli info: missing FILE\n");
        return kExitUsage;
    }
    auto cp = openCheckpoint(file);
    if (!cp) {
        std::fprintf(stderr, "ptscope-cli: %s\n", cp.error().toString().c_str());
        return kExitUnreadable;
    }
    if (json) {
        InfoJsonOptions options;
        options.includeObjects = objects;
        writeInfoJson(**cp, options,
                      [](std::string_view piece) { std::fwrite(piece.data(), 1, piece.size(), stdout); });
    } else if (tree) {
        printTree(**cp, depth, maxChildren);
    } else {
        printInfo(**cp, terminalStyle());
    }
    return std::fflush(stdout) == 0 ? kExitOk : kExitUnreadable;
}


} // namespace ptscope::cli
