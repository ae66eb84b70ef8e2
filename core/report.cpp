// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// Reports: the data. The document and the formats are in report_format.cpp.
#include "report.h"

#include "dtype.h"
#include "histogram_backend.h"
#include "security_scan.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <unordered_map>

namespace ptscope::core {

namespace {

// Progress over every pass of the whole report: each computeStats call reports its own (done, total),
// which is rebased onto the report's element count.
class ReportProgress
{
public:
    ReportProgress(const ProgressSink &sink, std::uint64_t total)
        : m_sink(sink)
        , m_total(std::max<std::uint64_t>(total, 1))
    {
    }

    // A sink for one computeStats call that reads `elements` elements.
    ProgressSink step(std::uint64_t elements)
    {
        if (!m_sink)
            return {};
        const std::uint64_t base = m_done;
        m_done += elements;
        return [this, base, elements](std::uint64_t done, std::uint64_t total) {
            const double f = total ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
            const auto now = std::min(m_total, base + static_cast<std::uint64_t>(f * static_cast<double>(elements)));
            m_reported = std::max(m_reported, now);
            return m_sink(m_reported, m_total);
        };
    }
    bool finish() { return !m_sink || m_sink(m_total, m_total); }

private:
    const ProgressSink &m_sink;
    std::uint64_t m_total;
    std::uint64_t m_done = 0;
    std::uint64_t m_reported = 0;
};

bool isFloating(const TensorInfo &t)
{
    const DtypeInfo *d = dtypeByName(t.dtype);
    return d && (d->kind == DtypeKind::Float || d->kind == DtypeKind::Quantized);
}

std::string caption(const TensorInfo &t)
{
    return t.dtype + " " + formatShape(t.shape) + ", " + std::to_string(t.numel) + " values";
}

// The tensors of a file in report order: state_dict keys first, then every other tensor once.
void collectTensors(FileReport &fr)
{
    const Checkpoint &cp = *fr.checkpoint;
    std::unordered_map<std::uint32_t, const ObjectPath *> firstPath;
    for (const TensorRef &r : cp.tensorRefs)
        firstPath.emplace(r.tensor, &r.path);
    std::vector<bool> seen(cp.tensors.size(), false);
    for (const StateDictEntry &e : cp.stateDict.entries) {
        if (e.tensor < 0)
            continue;
        ReportTensor t;
        t.key = e.key;
        t.inStateDict = true;
        t.tensor = static_cast<std::uint32_t>(e.tensor);
        if (auto it = firstPath.find(t.tensor); it != firstPath.end())
            t.path = *it->second;
        else
            t.path = {e.key};
        seen[t.tensor] = true;
        fr.tensors.push_back(std::move(t));
    }
    for (const TensorRef &r : cp.tensorRefs) {
        if (seen[r.tensor])
            continue;
        seen[r.tensor] = true;
        ReportTensor t;
        t.key = joinPath(r.path);
        t.path = r.path;
        t.tensor = r.tensor;
        fr.tensors.push_back(std::move(t));
    }
}

void collectModules(FileReport &fr)
{
    const Checkpoint &cp = *fr.checkpoint;
    std::map<std::string, std::size_t> index;
    std::vector<std::set<std::string>> dtypes;
    for (const StateDictEntry &e : cp.stateDict.entries) {
        if (e.tensor < 0)
            continue;
        const TensorInfo &t = cp.tensors[static_cast<std::size_t>(e.tensor)];
        const auto dot = e.key.rfind('.');
        const std::string prefix = dot == std::string::npos ? std::string() : e.key.substr(0, dot);
        auto [it, inserted] = index.emplace(prefix, fr.modules.size());
        if (inserted) {
            fr.modules.push_back(ReportModule{prefix, 0, 0, 0, {}});
            dtypes.emplace_back();
        }
        ReportModule &m = fr.modules[it->second];
        ++m.tensors;
        m.numel += t.numel;
        m.nbytes += t.nbytes;
        dtypes[it->second].insert(t.dtype);
    }
    for (std::size_t i = 0; i < fr.modules.size(); ++i)
        for (const std::string &d : dtypes[i])
            fr.modules[i].dtypes += (fr.modules[i].dtypes.empty() ? "" : ", ") + d;
}

void collectGlobals(FileReport &fr)
{
    // What torch's own loader needs besides torch: OrderedDict, builtins, and _codecs.encode (how
    // protocol-2 pickles store bytes). Anything else is imported by torch.load.
    static const std::set<std::string> plain = {"collections", "builtins", "_codecs"};
    std::map<std::pair<std::string, std::string>, std::uint64_t> counts;
    for (const GlobalUse &g : fr.checkpoint->globals)
        ++counts[{g.module, g.dynamic ? std::string("(dynamic global)") : g.name}];
    for (const auto &[g, n] : counts) {
        const std::string top = g.first.substr(0, g.first.find('.'));
        fr.globals.push_back(ReportGlobal{g.first, g.second, n, !(plain.count(g.first) || top == "torch")});
    }
}

// The verdict openCheckpoint already computed (core/security_scan.h), one line per finding.
void collectSecurity(FileReport &fr)
{
    const SecurityReport &scan = securityReport(*fr.checkpoint);
    ReportSecurityScan s;
    s.verdict = verdictName(scan.verdict);
    for (const SecurityFinding &f : scan.findings)
        s.findings.push_back(std::string("[") + verdictName(f.severity) + "] " + findingTitle(f)
                             + (f.use.empty() ? "" : " (" + f.use + ")") + ": " + f.what + " (" + findingWhere(f) + ")");
    if (scan.omittedFindings)
        s.findings.push_back(std::to_string(scan.omittedFindings) + " further finding(s) not listed");
    s.findings.push_back("torch.load(weights_only=True), torch >= 2.6: " + weightsOnlySummary(scan.torch26));
    s.findings.push_back("torch.load(weights_only=True), torch 1.13: " + weightsOnlySummary(scan.torch113));
    fr.security = std::move(s);
}

std::uint64_t statsElements(const FileReport &fr)
{
    std::uint64_t n = 0;
    for (const ReportTensor &t : fr.tensors)
        n += fr.checkpoint->tensors[t.tensor].numel;
    return n;
}

Status computeFileStats(FileReport &fr, const ReportOptions &options, ReportProgress &progress,
                        HistogramBackend *backend)
{
    const Checkpoint &cp = *fr.checkpoint;
    fr.backend = backend->name();
    fr.bins = options.bins;
    StatsRequest request;
    request.bins = options.bins;
    for (ReportTensor &t : fr.tensors) {
        auto stats = computeStats(cp, {t.tensor}, request, progress.step(cp.tensors[t.tensor].numel), backend);
        if (stats)
            t.stats = std::move(*stats);
        else if (stats.error().code == ErrorCode::Cancelled)
            return stats.error();
        else
            t.error = stats.error().message;
    }

    // The whole model: every floating-point state_dict tensor that could be read, once each.
    std::vector<std::uint32_t> weights;
    std::set<std::uint32_t> taken;
    std::uint64_t weightElements = 0;
    for (const ReportTensor &t : fr.tensors)
        if (t.inStateDict && t.stats && isFloating(cp.tensors[t.tensor]) && taken.insert(t.tensor).second) {
            weights.push_back(t.tensor);
            weightElements += cp.tensors[t.tensor].numel;
        }
    if (!weights.empty()) {
        StatsRequest whole;
        whole.bins = options.wholeModelBins;
        auto stats = computeStats(cp, weights, whole, progress.step(2 * weightElements), backend);
        if (!stats && stats.error().code == ErrorCode::Cancelled)
            return stats.error();
        if (stats && !stats->histogram.counts.empty())
            fr.wholeModel = ReportHistogram{"The whole model",
                                            std::to_string(weights.size()) + " floating-point tensors, "
                                                + std::to_string(weightElements) + " values",
                                            {HistogramSeries{fr.name, stats->histogram}}};
    }

    // The largest state_dict tensors.
    std::vector<const ReportTensor *> bySize;
    for (const ReportTensor &t : fr.tensors)
        if (t.inStateDict && t.stats && !t.stats->histogram.counts.empty())
            bySize.push_back(&t);
    std::stable_sort(bySize.begin(), bySize.end(), [&](const ReportTensor *a, const ReportTensor *b) {
        return cp.tensors[a->tensor].numel > cp.tensors[b->tensor].numel;
    });
    taken.clear();
    for (const ReportTensor *t : bySize) {
        if (fr.largest.size() >= options.largestLayers)
            break;
        if (!taken.insert(t->tensor).second)
            continue; // a tied weight: its first key stands for it
        fr.largest.push_back(ReportHistogram{t->key, caption(cp.tensors[t->tensor]),
                                             {HistogramSeries{fr.name, t->stats->histogram}}});
    }
    return Ok{};
}

std::vector<ReportKeyRow> keyRows(const ComparisonReport &c)
{
    const LoadOutcome &o = c.diff.outcome;
    auto toSet = [](const std::vector<std::string> &v) { return std::set<std::string>(v.begin(), v.end()); };
    const auto missing = toSet(o.missingKeys), unexpected = toSet(o.unexpectedKeys), filled = toSet(o.filledIn),
               ignored = toSet(o.ignoredKeys), nonTensor = toSet(o.nonTensorKeys), copyFails = toSet(o.copyFailureKeys);
    std::set<std::string> sizes, dtypes, loaded, zeroDim;
    for (const SizeMismatch &m : o.sizeMismatches)
        sizes.insert(m.key);
    for (const DtypeDifference &d : o.dtypeDifferences)
        dtypes.insert(d.key);
    for (const LoadedTensor &l : o.loaded) {
        loaded.insert(l.key);
        if (l.firstElementOnly)
            zeroDim.insert(l.key);
    }
    auto status = [&](const std::string &key, ReportKeyRow &row) {
        row.ok = false;
        if (sizes.count(key))
            row.status = "size mismatch";
        else if (nonTensor.count(key))
            row.status = "not a tensor";
        else if (copyFails.count(key))
            row.status = "copy fails";
        else if (missing.count(key))
            row.status = "missing";
        else if (unexpected.count(key))
            row.status = "unexpected";
        else {
            row.ok = true;
            if (filled.count(key))
                row.status = "filled in by torch";
            else if (ignored.count(key))
                row.status = "ignored";
            else if (zeroDim.count(key))
                row.status = "0-dim from [0]";
            else if (dtypes.count(key))
                row.status = "dtype differs";
            else if (loaded.count(key))
                row.status = "loaded";
            else
                row.status = "not loaded";
        }
    };

    std::vector<ReportKeyRow> rows;
    std::set<std::string> done;
    for (const std::string &key : c.model.stateDictKeys()) {
        if (!done.insert(key).second)
            continue;
        ReportKeyRow row;
        row.key = key;
        row.inTarget = true;
        if (const ModuleSlot *slot = c.model.slotForKey(key)) {
            row.targetDtype = slot->dtype.empty() ? std::string("?") : slot->dtype;
            row.targetShape = slot->shape;
        } else {
            row.targetDtype = "(extra state)";
        }
        if (const SourceEntry *e = c.source.find(key)) {
            row.inSource = true;
            row.sourceDtype = e->isTensor ? e->dtype : e->pythonType;
            row.sourceShape = e->shape;
        }
        status(key, row);
        rows.push_back(std::move(row));
    }
    for (const SourceEntry &e : c.source.entries) {
        if (!done.insert(e.key).second)
            continue;
        ReportKeyRow row;
        row.key = e.key;
        row.inSource = true;
        row.sourceDtype = e.isTensor ? e.dtype : e.pythonType;
        row.sourceShape = e.shape;
        status(e.key, row);
        rows.push_back(std::move(row));
    }
    return rows;
}

const ReportTensor *findTensor(const FileReport &fr, std::uint32_t tensor)
{
    for (const ReportTensor &t : fr.tensors)
        if (t.tensor == tensor)
            return &t;
    return nullptr;
}

Status buildComparison(Report &report, const std::shared_ptr<const Checkpoint> &source,
                       const std::shared_ptr<const Checkpoint> &target, ModelStructure model,
                       const std::vector<std::string> &names, const ReportOptions &options, ReportProgress &progress,
                       HistogramBackend *backend)
{
    auto sd = sourceFromCheckpoint(*source);
    if (!sd)
        return sd.error();
    ComparisonReport c;
    c.sourceName = names[0];
    c.targetName = names[1];
    c.rules = options.rules;
    c.source = std::move(*sd);
    c.model = std::move(model);
    c.context = sourceContext(*source, c.source, c.model, c.rules, c.sourceName);
    c.diff = explainDiff(c.model, c.source, c.context, c.rules);
    c.values = compareLoadedValues(*source, c.source, target.get(), c.model, c.diff.outcome);
    c.keys = keyRows(c);
    c.diffJson = diffJson(*source, c.source, c.sourceName, target.get(), c.targetName, c.model, c.context, c.diff,
                          c.rules, c.values, true);

    // Overlaid histograms: the largest tensors both sides hold, on bins spanning both.
    if (target && report.files.size() == 2) {
        struct Pair
        {
            std::string key;
            const ReportTensor *a;
            const ReportTensor *b;
        };
        std::vector<Pair> pairs;
        for (const LoadedTensor &l : c.diff.outcome.loaded) {
            if (l.sourceEntry < 0 || l.firstElementOnly)
                continue;
            const SourceEntry &e = c.source.entries[static_cast<std::size_t>(l.sourceEntry)];
            const ModuleSlot &slot = c.model.modules[static_cast<std::size_t>(l.module)]
                                         .slots[static_cast<std::size_t>(l.slot)];
            if (e.tensor < 0 || slot.tensor < 0)
                continue;
            const ReportTensor *a = findTensor(report.files[0], static_cast<std::uint32_t>(e.tensor));
            const ReportTensor *b = findTensor(report.files[1], static_cast<std::uint32_t>(slot.tensor));
            if (a && b && a->stats && b->stats && a->stats->finiteCount && b->stats->finiteCount)
                pairs.push_back(Pair{l.key, a, b});
        }
        std::stable_sort(pairs.begin(), pairs.end(), [&](const Pair &x, const Pair &y) {
            return source->tensors[x.a->tensor].numel > source->tensors[y.a->tensor].numel;
        });
        if (pairs.size() > options.comparedHistograms)
            pairs.resize(options.comparedHistograms);
        for (const Pair &p : pairs) {
            StatsRequest request;
            request.bins = options.bins;
            request.range = histcRange(std::min(p.a->stats->min, p.b->stats->min),
                                       std::max(p.a->stats->max, p.b->stats->max));
            auto sa = computeStats(*source, {p.a->tensor}, request,
                                   progress.step(source->tensors[p.a->tensor].numel * 2), backend);
            auto sb = computeStats(*target, {p.b->tensor}, request,
                                   progress.step(target->tensors[p.b->tensor].numel * 2), backend);
            for (const auto *r : {&sa, &sb})
                if (!*r && r->error().code == ErrorCode::Cancelled)
                    return r->error();
            if (!sa || !sb)
                continue;
            c.overlaid.push_back(ReportHistogram{p.key, caption(source->tensors[p.a->tensor]),
                                                 {HistogramSeries{"source: " + names[0], sa->histogram},
                                                  HistogramSeries{"target: " + names[1], sb->histogram}}});
        }
    }
    report.comparison = std::move(c);
    return Ok{};
}

Result<Report> build(const std::vector<std::shared_ptr<const Checkpoint>> &checkpoints,
                     const std::vector<std::string> &names, std::optional<ModelStructure> manifestModel,
                     const ReportOptions &options)
{
    Report report;
    report.generator = options.generator;
    for (std::size_t i = 0; i < checkpoints.size(); ++i) {
        FileReport fr;
        fr.checkpoint = checkpoints[i];
        fr.name = names[i];
        collectTensors(fr);
        collectModules(fr);
        collectGlobals(fr);
        collectSecurity(fr);
        report.files.push_back(std::move(fr));
    }
    // Elements read: every tensor once, the whole model twice (two passes), and in a comparison the
    // overlaid tensors twice on each side (an upper bound: a few of them).
    std::uint64_t total = 0;
    for (const FileReport &fr : report.files)
        total += 3 * statsElements(fr);
    ReportProgress progress(options.progress, total);
    auto backend = makeCpuHistogramBackend();
    for (FileReport &fr : report.files)
        if (Status s = computeFileStats(fr, options, progress, backend.get()); !s)
            return s.error();

    if (names.size() == 2) {
        std::shared_ptr<const Checkpoint> target = checkpoints.size() == 2 ? checkpoints[1] : nullptr;
        ModelStructure model;
        if (manifestModel) {
            model = std::move(*manifestModel);
        } else {
            auto m = modelFromCheckpoint(*target);
            if (!m)
                return m.error();
            model = std::move(*m);
        }
        if (Status s = buildComparison(report, checkpoints[0], target, std::move(model), names, options, progress,
                                       backend.get());
            !s)
            return s.error();
    }
    if (!progress.finish())
        return makeError(ErrorCode::Cancelled, "the report was cancelled");
    return report;
}

} // namespace

Result<Report> buildReport(const std::vector<std::string> &files, const ReportOptions &options)
{
    if (files.empty() || files.size() > 2)
        return makeError(ErrorCode::ReadFailed, "a report takes one file, or two to compare");
    std::vector<std::shared_ptr<const Checkpoint>> checkpoints;
    std::optional<ModelStructure> manifest;
    for (std::size_t i = 0; i < files.size(); ++i) {
        if (i == 1 && looksLikeManifest(files[i])) {
            auto m = modelFromManifest(files[i]);
            if (!m)
                return m.error();
            manifest = std::move(*m);
            continue;
        }
        auto cp = openCheckpoint(files[i]);
        if (!cp)
            return cp.error();
        checkpoints.push_back(std::move(*cp));
    }
    return build(checkpoints, files, std::move(manifest), options);
}

Result<Report> buildReport(const std::vector<std::shared_ptr<const Checkpoint>> &checkpoints,
                           const std::vector<std::string> &names, const ReportOptions &options)
{
    if (checkpoints.empty() || checkpoints.size() > 2 || names.size() != checkpoints.size())
        return makeError(ErrorCode::ReadFailed, "a report takes one checkpoint, or two to compare");
    return build(checkpoints, names, std::nullopt, options);
}

std::string reportNumber(double v)
{
    if (std::isnan(v))
        return "-";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

} // namespace ptscope::core
