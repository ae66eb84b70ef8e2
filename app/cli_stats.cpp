// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// ptscope-cli stats: numbers about the weights.
#include "checkpoint.h"
#include "cli_common.h"
#include "cuda_histogram_backend.h"
#include "json_writer.h"
#include "tensor_stats.h"

#include <fnmatch.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace ptscope::core;

namespace ptscope::cli {

namespace {

constexpr const char *kUsage =
    "Usage: ptscope-cli stats [--json] [--bins N] [--backend auto|cpu|cuda] [--match GLOB] [--log-histogram]\n"
    "                         [--torch VERSION] FILE\n"
    "\n"
    "Per tensor: numel, min, max, mean, population std (over finite values), NaN/Inf/zero counts and a\n"
    "torch.histc histogram of N bins (default 64) from the finite min to the finite max.\n"
    "  --torch VERSION    whose torch.histc: 2 (default, any 2.x) or 1.13 (1.x), whose last bin edge can\n"
    "                     fall an ulp short of the maximum for 7, 15, 63... bins and then leaves it out\n"
    "  --match GLOB       only tensors whose path (\"a/b/weight\") or state_dict key matches (fnmatch)\n"
    "  --backend          auto (default): CUDA when usable, else the CPU; cpu; cuda (fails without CUDA)\n"
    "  --log-histogram    also a histogram of log10(|x|) over the finite non-zero values\n";

struct Row
{
    const TensorRef *ref = nullptr;
    std::optional<TensorStats> stats;
    std::string error;
};

std::string number(double v)
{
    if (std::isnan(v))
        return "-";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

// A 16-character sketch of the histogram for the human table.
std::string sparkline(const std::vector<std::uint64_t> &counts)
{
    static const char *levels[] = {" ", "\u2581", "\u2582", "\u2583", "\u2584", "\u2585", "\u2586", "\u2587", "\u2588"};
    if (counts.empty())
        return {};
    const std::size_t width = std::min<std::size_t>(16, counts.size());
    std::vector<std::uint64_t> merged(width, 0);
    for (std::size_t i = 0; i < counts.size(); ++i)
        merged[i * width / counts.size()] += counts[i];
    std::uint64_t peak = 0;
    for (auto c : merged)
        peak = std::max(peak, c);
    std::string out;
    for (auto c : merged)
        out += levels[peak ? (c * 8 + peak - 1) / peak : 0];
    return out;
}

void writeHistogram(JsonWriter &w, const Histogram &h)
{
    w.beginObject().field("min", h.min).field("max", h.max).key("counts").beginArray();
    for (std::uint64_t c : h.counts)
        w.value(c);
    w.endArray().endObject();
}

void writeJson(const Checkpoint &cp, const std::vector<Row> &rows, const std::string &backend,
               const std::string &reason, bool logHistogram)
{
    JsonWriter w;
    w.beginObject();
    w.field("file", cp.path);
    w.field("backend", backend);
    if (!reason.empty())
        w.field("backend_reason", reason);
    w.key("tensors").beginArray();
    for (const Row &r : rows) {
        const TensorInfo &t = cp.tensors[r.ref->tensor];
        w.beginObject();
        w.key("path").stringArray(r.ref->path);
        w.field("dtype", t.dtype);
        w.key("shape").intArray(t.shape);
        if (!r.stats) {
            w.field("error", r.error);
            w.endObject();
            continue;
        }
        const TensorStats &s = *r.stats;
        w.field("numel", s.numel);
        auto finiteOrNull = [&](const char *k, double v) {
            w.key(k);
            if (s.finiteCount == 0)
                w.null();
            else
                w.value(v);
        };
        finiteOrNull("min", s.min);
        finiteOrNull("max", s.max);
        finiteOrNull("mean", s.mean);
        finiteOrNull("std", s.std);
        w.field("nan", s.nan).field("inf", s.posInf + s.negInf);
        w.field("posinf", s.posInf).field("neginf", s.negInf);
        w.field("zeros", s.zeros).field("finite", s.finiteCount);
        if (!s.histogram.counts.empty()) {
            w.key("histogram");
            writeHistogram(w, s.histogram);
        }
        if (logHistogram) {
            w.key("log_histogram");
            writeHistogram(w, s.logHistogram);
        }
        w.endObject();
    }
    w.endArray();
    w.endObject();
    std::string out = w.str();
    out += '\n';
    std::fwrite(out.data(), 1, out.size(), stdout);
}

void printHuman(const Checkpoint &cp, const std::vector<Row> &rows, const std::string &backend,
                const std::string &reason)
{
    const Style s = terminalStyle();
    std::printf("%s%s%s\n", s.bold(), cp.path.c_str(), s.reset());
    std::printf("  backend: %s%s%s\n", backend.c_str(), reason.empty() ? "" : " - ", reason.c_str());
    std::vector<std::vector<std::string>> table{
        {"TENSOR", "DTYPE", "SHAPE", "NUMEL", "MIN", "MAX", "MEAN", "STD", "NAN", "INF", "ZEROS", "HISTOGRAM"}};
    std::vector<std::string> errors;
    for (const Row &r : rows) {
        const TensorInfo &t = cp.tensors[r.ref->tensor];
        const std::string name = joinPath(r.ref->path);
        if (!r.stats) {
            table.push_back({name, t.dtype, formatShape(t.shape), withThousands(t.numel), "", "", "", "", "", "", "",
                             "(not read)"});
            errors.push_back(name + ": " + r.error);
            continue;
        }
        const TensorStats &st = *r.stats;
        table.push_back({name, t.dtype, formatShape(t.shape), withThousands(st.numel), number(st.min),
                         number(st.max), number(st.mean), number(st.std), withThousands(st.nan),
                         withThousands(st.posInf + st.negInf), withThousands(st.zeros),
                         sparkline(st.histogram.counts)});
    }
    printTable(table, s);
    if (!errors.empty()) {
        std::printf("\n%sNot read%s (%zu)\n", s.yellow(), s.reset(), errors.size());
        for (const auto &e : errors)
            std::printf("  - %s\n", e.c_str());
    }
}

} // namespace

int runStats(const std::vector<std::string> &args)
{
    bool json = false;
    bool logHistogram = false;
    std::uint32_t bins = 64;
    std::string backendName = "auto";
    HistcEdges edges = HistcEdges::Exact;
    std::vector<std::string> globs;
    std::string file;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string &a = args[i];
        auto needValue = [&](const char *opt) -> const std::string * {
            if (i + 1 >= args.size()) {
                std::fprintf(stderr, "ptscope-cli stats: %s needs a value\n", opt);
                return nullptr;
            }
            return &args[++i];
        };
        if (a == "--json") {
            json = true;
        } else if (a == "--log-histogram") {
            logHistogram = true;
        } else if (a == "--bins") {
            const std::string *v = needValue("--bins");
            if (!v)
                return kExitUsage;
            char *end = nullptr;
            errno = 0;
            const unsigned long long n = std::strtoull(v->c_str(), &end, 10);
            if (v->empty() || *end || errno || (*v)[0] == '-' || n < 1 || n > 1'000'000) {
                std::fprintf(stderr, "ptscope-cli stats: --bins takes a whole number from 1 to 1000000 (got '%s')\n",
                             v->c_str());
                return kExitUsage;
            }
            bins = static_cast<std::uint32_t>(n);
        } else if (a == "--backend") {
            const std::string *v = needValue("--backend");
            if (!v)
                return kExitUsage;
            if (*v != "auto" && *v != "cpu" && *v != "cuda") {
                std::fprintf(stderr, "ptscope-cli stats: --backend is auto, cpu or cuda (got '%s')\n", v->c_str());
                return kExitUsage;
            }
            backendName = *v;
        } else if (a == "--torch") {
            const std::string *v = needValue("--torch");
            if (!v)
                return kExitUsage;
            if (*v == "1.13" || v->rfind("1.", 0) == 0)
                edges = HistcEdges::Torch1_13;
            else if (*v == "2" || *v == "2.x" || v->rfind("2.", 0) == 0 || *v == "latest")
                edges = HistcEdges::Exact;
            else {
                std::fprintf(stderr, "ptscope-cli stats: --torch takes a torch version such as 1.13 or 2 (got '%s')\n",
                             v->c_str());
                return kExitUsage;
            }
        } else if (a == "--match") {
            const std::string *v = needValue("--match");
            if (!v)
                return kExitUsage;
            globs.push_back(*v);
        } else if (a == "-h" || a == "--help") {
            std::printf("%s", kUsage);
            return kExitOk;
        } else if (!a.empty() && a[0] == '-' && a != "-") {
            std::fprintf(stderr, "ptscope-cli stats: unknown option '%s'\n", a.c_str());
            return kExitUsage;
        } else if (file.empty()) {
            file = a;
        } else {
            std::fprintf(stderr, "ptscope-cli stats: takes one FILE (got '%s' and '%s')\n", file.c_str(), a.c_str());
            return kExitUsage;
        }
    }
    if (file.empty()) {
        std::fprintf(stderr, "ptscope-cli stats: missing FILE\n%s", kUsage);
        return kExitUsage;
    }

    // Backend choice: auto takes the GPU when one is usable and otherwise says why it fell back to
    // the CPU; cuda fails with the reason; cpu needs no explanation.
    std::string reason;
    std::unique_ptr<HistogramBackend> backend;
    if (backendName != "cpu")
        backend = ptscope::cuda::makeCudaHistogramBackend(&reason);
    if (backendName == "cuda" && !backend) {
        std::fprintf(stderr, "ptscope-cli stats: cannot use --backend cuda: %s. Use --backend cpu or auto.\n",
                     reason.c_str());
        return kExitUnreadable;
    }
    if (!backend)
        backend = makeCpuHistogramBackend();
    else
        reason.clear();

    auto cp = openCheckpoint(file);
    if (!cp) {
        std::fprintf(stderr, "ptscope-cli: %s\n", cp.error().toString().c_str());
        return kExitUnreadable;
    }
    const Checkpoint &c = **cp;

    // State-dict keys by tensor, so that --match also accepts "fc1.weight".
    std::map<std::uint32_t, std::vector<std::string>> keys;
    for (const auto &e : c.stateDict.entries)
        if (e.tensor >= 0)
            keys[static_cast<std::uint32_t>(e.tensor)].push_back(e.key);
    auto matches = [&](const TensorRef &ref) {
        if (globs.empty())
            return true;
        const std::string path = joinPath(ref.path);
        for (const auto &g : globs) {
            if (fnmatch(g.c_str(), path.c_str(), 0) == 0)
                return true;
            if (auto it = keys.find(ref.tensor); it != keys.end())
                for (const auto &k : it->second)
                    if (fnmatch(g.c_str(), k.c_str(), 0) == 0)
                        return true;
        }
        return false;
    };

    StatsRequest request;
    request.bins = bins;
    request.logHistogram = logHistogram;
    request.edges = edges;

    std::vector<Row> rows;
    for (const TensorRef &ref : c.tensorRefs)
        if (matches(ref))
            rows.push_back(Row{&ref, std::nullopt, {}});
    std::uint64_t totalElements = 0, doneElements = 0;
    for (const Row &r : rows)
        totalElements += c.tensors[r.ref->tensor].numel;

    // Progress on stderr, only for a person watching a terminal.
    const bool showProgress = isatty(STDERR_FILENO) && totalElements > (std::uint64_t(1) << 26);
    int lastPercent = -1;
    std::map<std::uint32_t, std::size_t> done; // a tensor reached by several paths is computed once
    for (Row &r : rows) {
        const std::uint32_t t = r.ref->tensor;
        if (auto it = done.find(t); it != done.end()) {
            r.stats = rows[it->second].stats;
            r.error = rows[it->second].error;
            continue;
        }
        const std::uint64_t base = doneElements;
        ProgressSink sink;
        if (showProgress)
            sink = [&](std::uint64_t d, std::uint64_t total) {
                const double fraction = total ? static_cast<double>(d) / static_cast<double>(total) : 1.0;
                const auto tensorElements = static_cast<double>(c.tensors[t].numel);
                const int percent = static_cast<int>(
                    100.0 * (static_cast<double>(base) + fraction * tensorElements) / static_cast<double>(totalElements));
                if (percent != lastPercent) {
                    lastPercent = percent;
                    std::fprintf(stderr, "\rstats: %3d%%", percent);
                }
                return true;
            };
        auto stats = computeStats(c, {t}, request, sink, backend.get());
        if (stats)
            r.stats = std::move(*stats);
        else
            r.error = stats.error().message;
        doneElements += c.tensors[t].numel;
        done[t] = static_cast<std::size_t>(&r - rows.data());
    }
    if (showProgress)
        std::fprintf(stderr, "\r            \r");

    if (json)
        writeJson(c, rows, backend->name(), reason, logHistogram);
    else
        printHuman(c, rows, backend->name(), reason);
    return std::fflush(stdout) == 0 ? kExitOk : kExitUnreadable;
}

} // namespace ptscope::cli
