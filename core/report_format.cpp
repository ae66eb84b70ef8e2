// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// Reports: the document every visual format shows, and the text formats (HTML, Markdown, JSON, CSV).
#include "report.h"

#include "checkpoint_analysis.h"
#include "info_json.h"
#include "json_writer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>

namespace ptscope::core {

namespace {

// ---------------------------------------------------------------------------------------------
// Document building
// ---------------------------------------------------------------------------------------------

std::string thousands(std::uint64_t v)
{
    std::string digits = std::to_string(v);
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i && (digits.size() - i) % 3 == 0)
            out += ',';
        out += digits[i];
    }
    return out;
}

DocCell text(std::string s)
{
    return DocCell{std::move(s), std::nullopt};
}

DocCell count(std::uint64_t v)
{
    return DocCell{thousands(v), static_cast<double>(v)};
}

// Four significant digits for people; JSON and CSV carry the exact values.
DocCell number(double v)
{
    if (std::isnan(v))
        return DocCell{"-", std::nullopt};
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", v);
    return DocCell{buf, v};
}

DocCell bytesCell(std::uint64_t v)
{
    return DocCell{formatBytes(v), static_cast<double>(v)};
}

class Builder
{
public:
    explicit Builder(ReportDocument &doc)
        : m_doc(doc)
    {
    }

    void heading(int level, std::string s)
    {
        DocBlock b;
        b.kind = DocBlock::Kind::Heading;
        b.level = level;
        b.text = std::move(s);
        m_doc.blocks.push_back(std::move(b));
    }
    void paragraph(std::string s, std::string tone = {})
    {
        DocBlock b;
        b.kind = DocBlock::Kind::Paragraph;
        b.text = std::move(s);
        b.tone = std::move(tone);
        m_doc.blocks.push_back(std::move(b));
    }
    void note(std::string s, std::string tone)
    {
        DocBlock b;
        b.kind = DocBlock::Kind::Note;
        b.text = std::move(s);
        b.tone = std::move(tone);
        m_doc.blocks.push_back(std::move(b));
    }
    void code(std::string s)
    {
        DocBlock b;
        b.kind = DocBlock::Kind::Code;
        b.text = std::move(s);
        m_doc.blocks.push_back(std::move(b));
    }
    void facts(std::vector<std::pair<std::string, std::string>> f)
    {
        if (f.empty())
            return;
        DocBlock b;
        b.kind = DocBlock::Kind::Facts;
        b.facts = std::move(f);
        m_doc.blocks.push_back(std::move(b));
    }
    // Columns as "name", "#name" (numeric) or "`name" (monospaced).
    DocTable &table(const std::vector<std::string> &columns)
    {
        DocBlock b;
        b.kind = DocBlock::Kind::Table;
        b.table.id = "table-" + std::to_string(++m_tables);
        for (const std::string &c : columns) {
            const bool numeric = !c.empty() && c[0] == '#';
            const bool mono = !c.empty() && c[0] == '`';
            b.table.columns.push_back(numeric || mono ? c.substr(1) : c);
            b.table.numeric.push_back(numeric);
            b.table.mono.push_back(mono);
        }
        m_doc.blocks.push_back(std::move(b));
        return m_doc.blocks.back().table;
    }
    void histograms(std::vector<ReportHistogram> h)
    {
        if (h.empty())
            return;
        DocBlock b;
        b.kind = DocBlock::Kind::Histograms;
        b.histograms = std::move(h);
        m_doc.blocks.push_back(std::move(b));
    }

private:
    ReportDocument &m_doc;
    int m_tables = 0;
};

std::string listKeys(const std::vector<std::string> &keys, std::size_t max = 12)
{
    std::string out;
    for (std::size_t i = 0; i < keys.size() && i < max; ++i)
        out += (i ? ", " : "") + keys[i];
    if (keys.size() > max)
        out += " and " + std::to_string(keys.size() - max) + " more";
    return out;
}

std::string formatDescription(const Checkpoint &cp)
{
    switch (cp.format) {
    case FileFormat::TorchZip: return "torch.save zip archive (torch >= 1.6)";
    case FileFormat::TorchLegacy: return "legacy torch.save stream (torch < 1.6 layout)";
    case FileFormat::TorchScript: return "TorchScript archive (torch.jit.save)";
    case FileFormat::Pickle: return "plain pickle holding tensors";
    case FileFormat::Safetensors: return "safetensors";
    case FileFormat::Sharded: return "sharded checkpoint (merged through its index)";
    }
    return formatName(cp.format);
}

void fileBlocks(Builder &b, const FileReport &fr, int level, const std::string &role)
{
    const Checkpoint &cp = *fr.checkpoint;
    const StateDictView &sd = cp.stateDict;
    b.heading(level, role.empty() ? "The file" : role + ": " + fr.name);
    // One file: its sections stand beside "The file"; in a comparison they sit under each file.
    const int section = role.empty() ? level : level + 1;

    std::vector<std::pair<std::string, std::string>> f;
    f.emplace_back("File", fr.name);
    f.emplace_back("Format", std::string(formatName(cp.format)) + " — " + formatDescription(cp));
    f.emplace_back("Size", formatBytes(cp.fileSize) + " (" + thousands(cp.fileSize) + " bytes)");
    if (!cp.archiveName.empty())
        f.emplace_back("Archive folder", cp.archiveName);
    if (cp.formatVersion)
        f.emplace_back("Format version", std::to_string(*cp.formatVersion));
    if (cp.pickleProtocol)
        f.emplace_back("Pickle protocol", std::to_string(cp.pickleProtocol));
    f.emplace_back("Byte order", cp.byteOrder);
    f.emplace_back("Written by", cp.writerHint.empty() ? std::string("(the file does not say)") : cp.writerHint);
    for (const std::string &s : cp.shards)
        f.emplace_back("Shard", s);
    if (sd.found) {
        const StateDictTotals totals = stateDictTotals(cp);
        f.emplace_back("Weights", sd.path.empty() ? sd.source : "under '" + joinPath(sd.path) + "' (" + sd.source + ")");
        f.emplace_back("State dict", std::to_string(sd.entries.size()) + " keys, " + std::to_string(totals.tensors)
                                         + " tensors, " + thousands(totals.params) + " parameters, "
                                         + formatBytes(totals.bytes));
        if (!totals.dtypeMix.empty()) {
            f.emplace_back("Dtypes", totals.dtypeMix);
            f.emplace_back("Devices", totals.deviceMix);
        }
    } else {
        f.emplace_back("Weights", "no state_dict found in this file");
    }
    f.emplace_back("Tensors in the file", std::to_string(fr.tensors.size()) + " (" + std::to_string(cp.storages.size())
                                              + " storages)");
    b.facts(std::move(f));
    for (const std::string &n : sd.notes)
        b.note(n, "warn");

    if (!cp.metadata.empty() || !cp.optimizers.empty()) {
        b.heading(section, "Metadata");
        std::vector<std::pair<std::string, std::string>> m;
        for (const MetadataItem &item : cp.metadata)
            m.emplace_back(item.label, item.value);
        b.facts(std::move(m));
        for (const OptimizerInfo &o : cp.optimizers) {
            b.facts({{"Optimizer", o.type + " under '" + joinPath(o.path) + "'"},
                     {"Parameter groups", std::to_string(o.groups)},
                     {"Parameters", std::to_string(o.params) + " (" + std::to_string(o.withState) + " with state, "
                                        + formatBytes(o.stateBytes) + ")"},
                     {"Parameter names", o.mapping}});
        }
    }

    b.heading(section, "Security");
    if (fr.security) {
        const std::string tone = fr.security->verdict == "safe" ? "ok"
            : fr.security->verdict == "dangerous"               ? "bad"
                                                                : "warn";
        b.note("Security scan verdict: " + fr.security->verdict, tone);
        for (const std::string &finding : fr.security->findings)
            b.paragraph("• " + finding);
    } else {
        b.note("Security scan: not run for this report. What the pickle references is listed below; ptscope "
               "never imports or runs any of it.",
               "");
    }
    std::size_t beyond = 0;
    for (const ReportGlobal &g : fr.globals)
        beyond += g.beyondTorch ? 1 : 0;
    if (fr.globals.empty()) {
        b.paragraph("The pickle references no globals.");
    } else {
        b.paragraph(beyond ? "Referenced outside torch, collections and builtins: " + std::to_string(beyond)
                                 + " global(s). torch.load would import them (weights_only=True refuses them)."
                           : "Every global the pickle references belongs to torch, collections or builtins.",
                    beyond ? "warn" : "ok");
        DocTable &t = b.table({"`module", "`name", "#uses", "torch.load imports it"});
        for (const ReportGlobal &g : fr.globals) {
            t.rows.push_back({text(g.module), text(g.name), count(g.count), text(g.beyondTorch ? "yes" : "-")});
            t.rowTone.push_back(g.beyondTorch ? "warn" : "");
        }
    }
    if (!cp.warnings.empty()) {
        b.paragraph(std::to_string(cp.warnings.size()) + " warning(s) while reading:", "warn");
        DocTable &t = b.table({"warning", "`where"});
        for (const Warning &w : cp.warnings) {
            t.rows.push_back({text(w.message), text(w.where + (w.offset ? " @" + std::to_string(*w.offset) : ""))});
            t.rowTone.push_back("warn");
        }
    }

    if (!fr.modules.empty()) {
        b.heading(section, "Modules");
        b.paragraph(std::to_string(fr.modules.size()) + " modules hold the state_dict's tensors.");
        DocTable &t = b.table({"`module", "#tensors", "#parameters", "#size", "dtypes"});
        for (const ReportModule &m : fr.modules) {
            t.rows.push_back({text(m.prefix.empty() ? "(top level)" : m.prefix), count(m.tensors), count(m.numel),
                              bytesCell(m.nbytes), text(m.dtypes)});
            t.rowTone.emplace_back();
        }
    }

    b.heading(section, "Tensors");
    b.paragraph("Every tensor, state_dict keys first (in model.state_dict() order), then the others by their path. "
                "Statistics are torch's: min, max, mean and population std over the finite values ("
                + fr.backend + " backend).");
    DocTable &t = b.table({"`key", "dtype", "`shape", "#numel", "#size", "device", "#min", "#max", "#mean", "#std",
                           "#nan", "#inf", "#zeros"});
    std::vector<std::string> unread;
    for (const ReportTensor &rt : fr.tensors) {
        const TensorInfo &ti = cp.tensors[rt.tensor];
        std::vector<DocCell> row{text(rt.key), text(ti.dtype + (ti.layout == "strided" ? "" : " " + ti.layout)),
                                 text(formatShape(ti.shape)), count(ti.numel), bytesCell(ti.nbytes), text(ti.device)};
        if (rt.stats) {
            const TensorStats &s = *rt.stats;
            const bool finite = s.finiteCount > 0;
            const double nan = std::nan("");
            for (double v : {finite ? s.min : nan, finite ? s.max : nan, finite ? s.mean : nan, finite ? s.std : nan})
                row.push_back(number(v));
            row.push_back(count(s.nan));
            row.push_back(count(s.posInf + s.negInf));
            row.push_back(count(s.zeros));
            t.rowTone.push_back(s.nan || s.posInf || s.negInf ? "bad" : "");
        } else {
            for (int i = 0; i < 7; ++i)
                row.push_back(text(""));
            t.rowTone.push_back("warn");
            unread.push_back(rt.key + ": " + rt.error);
        }
        t.rows.push_back(std::move(row));
    }
    if (!unread.empty()) {
        b.paragraph("Not read (" + std::to_string(unread.size()) + "):", "warn");
        DocTable &u = b.table({"`tensor and reason"});
        for (const std::string &s : unread) {
            u.rows.push_back({text(s)});
            u.rowTone.push_back("warn");
        }
    }

    if (fr.wholeModel || !fr.largest.empty()) {
        b.heading(section, "Histograms");
        b.paragraph("torch.histc bins from each tensor's finite min to its finite max: the whole model ("
                    + std::to_string(fr.wholeModel ? fr.wholeModel->series[0].histogram.counts.size() : 0)
                    + " bins), then the largest layers (" + std::to_string(fr.bins) + " bins).");
        std::vector<ReportHistogram> h;
        if (fr.wholeModel)
            h.push_back(*fr.wholeModel);
        h.insert(h.end(), fr.largest.begin(), fr.largest.end());
        b.histograms(std::move(h));
    }
}

std::string loadCall(const ComparisonReport &c)
{
    const SourceContext &ctx = c.context;
    const std::string file = pythonString(c.sourceName);
    return ctx.torchScript ? "torch.jit.load(" + file + ").state_dict()"
        : ctx.safetensors  ? "safetensors.torch.load_file(" + file + ")"
                           : "torch.load(" + file + ")" + ctx.accessor;
}

void comparisonBlocks(Builder &b, const Report &r)
{
    const ComparisonReport &c = *r.comparison;
    const LoadOutcome &o = c.diff.outcome;
    b.heading(2, "Does it load?");
    b.facts({{"Call", "model.load_state_dict(" + loadCall(c) + ")"},
             {"Rules", torchRulesName(c.rules)},
             {"Source", c.sourceName + " — " + std::to_string(c.source.entries.size()) + " keys"
                            + (c.source.path.empty() ? "" : ", state dict at '" + joinPath(c.source.path) + "'")},
             {"Target (the model)", c.targetName + " — " + diffTargetKind(r.files.size() == 2 ? r.files[1].checkpoint.get() : nullptr, c.model)
                                        + ", " + c.model.origin + ", " + std::to_string(c.diff.targetKeys) + " keys"}});
    if (o.strictOk()) {
        b.note("strict=True succeeds: every key matches and every shape fits.", "ok");
    } else {
        b.note("strict=True raises. torch's message:", "bad");
        std::string msg;
        if (o.typeError)
            msg = "TypeError: " + *o.typeError;
        else if (o.exception)
            msg = *o.exception;
        else {
            msg = "RuntimeError: " + o.header;
            for (const std::string &l : o.strictMessages())
                msg += "\n\t" + l;
        }
        b.code(msg);
    }
    if (o.nonStrictOk())
        b.paragraph("strict=False returns: " + std::to_string(o.loadedFromSource()) + " of "
                        + std::to_string(c.diff.targetKeys) + " tensors loaded, " + std::to_string(o.missingKeys.size())
                        + " missing, " + std::to_string(o.unexpectedKeys.size()) + " unexpected.",
                    o.missingKeys.empty() && o.unexpectedKeys.empty() ? "ok" : "warn");
    else
        b.paragraph("strict=False raises too (" + std::to_string(o.nonStrictMessages().size())
                        + " error(s) besides missing and unexpected keys).",
                    "bad");

    if (!c.diff.causes.empty()) {
        b.heading(2, "Why");
        int n = 0;
        for (const DiffCause &cause : c.diff.causes) {
            b.heading(3, std::to_string(++n) + ". " + cause.title + " [" + cause.kind + "]");
            b.paragraph(cause.explanation);
            if (!cause.keys.empty())
                b.paragraph("Keys: " + listKeys(cause.keys));
        }
    }
    if (!c.diff.suggestions.empty()) {
        b.heading(2, "How to fix it");
        int n = 0;
        for (const DiffSuggestion &s : c.diff.suggestions) {
            b.heading(3, std::to_string(++n) + ". " + s.title);
            b.paragraph(s.explanation);
            if (s.verified)
                b.paragraph(s.strictOkAfter ? "Checked: then strict=True succeeds."
                                : s.nonStrictOkAfter
                                ? "Checked: then strict=False returns, " + std::to_string(s.loadedAfter) + " of "
                                    + std::to_string(c.diff.targetKeys) + " loaded."
                                : "Checked: torch still raises after this fix alone.",
                            s.strictOkAfter ? "ok" : "warn");
            b.code(s.code);
        }
    }

    b.heading(2, "Keys");
    std::size_t bad = 0;
    for (const ReportKeyRow &k : c.keys)
        bad += k.ok ? 0 : 1;
    b.paragraph(std::to_string(c.keys.size()) + " keys: the model's in state_dict order, then those only the source "
                    "holds; " + std::to_string(bad) + " do not load as they are.");
    DocTable &kt = b.table({"`key", "status", "source dtype", "`source shape", "target dtype", "`target shape"});
    for (const ReportKeyRow &k : c.keys) {
        kt.rows.push_back({text(k.key), text(k.status), text(k.inSource ? k.sourceDtype : "-"),
                           text(k.inSource ? formatShape(k.sourceShape) : "-"), text(k.inTarget ? k.targetDtype : "-"),
                           text(k.inTarget ? formatShape(k.targetShape) : "-")});
        kt.rowTone.push_back(!k.ok ? "bad" : k.status == "loaded" ? "" : "warn");
    }

    b.heading(2, "Values");
    if (c.values.empty()) {
        b.paragraph(r.files.size() == 2 ? "No tensor is loaded from the source, so there is nothing to compare."
                                        : "The target is a manifest: it holds no values to compare.");
    } else {
        std::size_t identical = 0, close = 0, problems = 0;
        for (const KeyValueComparison &v : c.values) {
            if (!v.cmp) {
                ++problems;
                continue;
            }
            identical += v.cmp->identical;
            close += v.cmp->allclose && !v.cmp->identical;
        }
        b.paragraph(std::to_string(c.values.size()) + " tensors both sides hold: " + std::to_string(identical)
                    + " identical, " + std::to_string(close) + " allclose (rtol 1e-5, atol 1e-8), "
                    + std::to_string(c.values.size() - identical - close - problems) + " differ"
                    + (problems ? ", " + std::to_string(problems) + " not comparable." : "."));
        DocTable &vt = b.table({"`key", "#numel", "#max |diff|", "#mean |diff|", "#rel L2", "#cosine", "#differing", "allclose"});
        for (const KeyValueComparison &v : c.values) {
            if (!v.cmp) {
                vt.rows.push_back({text(v.key), text(""), text(""), text(""), text(""), text(""), text(""), text(v.problem)});
                vt.rowTone.push_back("warn");
                continue;
            }
            const ValueComparison &cmp = *v.cmp;
            vt.rows.push_back({text(v.key), count(cmp.numel), number(cmp.maxAbsDiff), number(cmp.meanAbsDiff),
                               number(cmp.relativeL2), number(cmp.cosine), count(cmp.differing),
                               text(cmp.identical ? "identical" : cmp.allclose ? "yes" : "no")});
            vt.rowTone.push_back(cmp.allclose ? "" : "warn");
        }
    }
    if (!c.overlaid.empty()) {
        b.heading(2, "Histograms of the largest matched tensors");
        b.paragraph("Source over target, on the same bins (from the smaller min to the larger max of the two).");
        b.histograms(c.overlaid);
    }
    for (const std::string &n : loadNotes(c.model, o))
        b.note(n, "warn");
}

} // namespace

ReportDocument reportDocument(const Report &r)
{
    ReportDocument doc;
    doc.generator = r.generator;
    Builder b(doc);
    if (r.comparison) {
        doc.title = "ptscope comparison: " + r.comparison->sourceName + " into " + r.comparison->targetName;
        doc.fileNames = r.comparison->sourceName + " vs " + r.comparison->targetName;
        b.heading(1, doc.title);
        b.paragraph("What model.load_state_dict does with the source checkpoint when the target stands for the model, "
                    "computed by " + r.generator + " from the files alone: nothing in them was imported or executed.");
        comparisonBlocks(b, r);
        for (std::size_t i = 0; i < r.files.size(); ++i)
            fileBlocks(b, r.files[i], 2, i == 0 ? "Source" : "Target");
    } else {
        const FileReport &fr = r.files.front();
        doc.title = "ptscope report: " + fr.name;
        doc.fileNames = fr.name;
        b.heading(1, doc.title);
        b.paragraph("What the file holds, read by " + r.generator
                    + " without Python: nothing in it was imported or executed.");
        fileBlocks(b, fr, 2, {});
    }
    return doc;
}

// ---------------------------------------------------------------------------------------------
// HTML
// ---------------------------------------------------------------------------------------------

namespace {

std::string xml(const std::string &s)
{
    std::string out;
    out.reserve(s.size());
    for (char ch : s) {
        switch (ch) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default:
            // Control characters are not allowed in XML 1.0: shown as U+FFFD.
            if (static_cast<unsigned char>(ch) < 0x20 && ch != '\n' && ch != '\t')
                out += "\xEF\xBF\xBD";
            else
                out += ch;
        }
    }
    return out;
}

std::string fmt3(double v)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", v);
    return buf;
}

const char *kSeriesColors[] = {"#3b78c4", "#e07b39"};

const char *kCss = R"(
body{font-family:-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;color:#1d2330;margin:0;background:#f6f7f9}
main{max-width:1180px;margin:0 auto;padding:24px 28px 60px;background:#fff}
h1{font-size:1.6em;margin:0.2em 0 0.4em}h2{font-size:1.3em;border-bottom:1px solid #d8dce3;padding-bottom:4px;margin-top:1.8em}
h3{font-size:1.05em;margin-top:1.3em}
code,pre,.mono{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:0.92em}
pre{background:#f3f4f6;border:1px solid #dde1e7;border-radius:4px;padding:10px 12px;overflow-x:auto;white-space:pre-wrap}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:3px 18px;margin:0.8em 0}
dl.facts dt{color:#5b6475}dl.facts dd{margin:0;word-break:break-word}
table{border-collapse:collapse;margin:0.8em 0;font-size:0.86em;width:100%}
th,td{border-bottom:1px solid #e3e6eb;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#eef1f5;position:sticky;top:0;cursor:pointer;user-select:none;white-space:nowrap}
th[aria-sort=ascending]::after{content:" \25B2"}th[aria-sort=descending]::after{content:" \25BC"}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.mono{white-space:nowrap}td.mono:first-child{white-space:normal;word-break:break-all}
tr.bad td{background:#fdecec}tr.warn td{background:#fff8e1}tr.ok td{background:#edf7ee}
.note{border-left:4px solid #9aa3b2;background:#f3f4f6;padding:8px 12px;margin:0.8em 0}
.note.ok,p.ok{border-color:#2e7d32}.note.bad{border-color:#c62828;background:#fdecec}.note.warn{border-color:#d39e00;background:#fff8e1}
p.bad{color:#b71c1c}p.warn{color:#8a6100}p.ok{color:#1b5e20}
.hists{display:flex;flex-wrap:wrap;gap:14px}
figure.hist{margin:0;border:1px solid #e3e6eb;border-radius:4px;padding:6px 8px;background:#fff}
figure.hist figcaption{font-size:0.85em;max-width:360px;word-break:break-all}
footer{color:#7a8292;font-size:0.8em;margin-top:3em}
)";

// Click a header to sort by it; numbers by their data-v value, the rest as text.
const char *kScript = R"(
document.querySelectorAll("table.sortable th").forEach(function (th) {
  th.addEventListener("click", function () {
    var table = th.closest("table"), body = table.tBodies[0];
    var col = Array.prototype.indexOf.call(th.parentNode.children, th);
    var asc = th.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(th.parentNode.children, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (x, y) {
      var a = x.cells[col], b = y.cells[col], va = a.getAttribute("data-v"), vb = b.getAttribute("data-v");
      var d = (va !== null && vb !== null) ? parseFloat(va) - parseFloat(vb)
            : (va !== null) ? -1 : (vb !== null) ? 1 : a.textContent.localeCompare(b.textContent);
      return asc ? d : -d;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
)";

std::string sortValue(double v)
{
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

void htmlTable(std::string &o, const DocTable &t)
{
    o += "<table class=\"sortable\" id=\"" + xml(t.id) + "\"><thead><tr>";
    for (std::size_t c = 0; c < t.columns.size(); ++c)
        o += std::string("<th") + (t.numeric[c] ? " class=\"num\"" : "") + ">" + xml(t.columns[c]) + "</th>";
    o += "</tr></thead><tbody>\n";
    for (std::size_t r = 0; r < t.rows.size(); ++r) {
        const std::string &tone = r < t.rowTone.size() ? t.rowTone[r] : std::string();
        o += tone.empty() ? "<tr>" : "<tr class=\"" + tone + "\">";
        for (std::size_t c = 0; c < t.rows[r].size(); ++c) {
            const DocCell &cell = t.rows[r][c];
            o += "<td";
            if (t.numeric[c])
                o += " class=\"num\"";
            else if (t.mono[c])
                o += " class=\"mono\"";
            if (cell.sort && std::isfinite(*cell.sort))
                o += " data-v=\"" + sortValue(*cell.sort) + "\"";
            o += ">" + xml(cell.text) + "</td>";
        }
        o += "</tr>\n";
    }
    o += "</tbody></table>\n";
}

} // namespace

HistogramExtent histogramExtent(const ReportHistogram &h)
{
    HistogramExtent e;
    bool first = true;
    for (const HistogramSeries &s : h.series) {
        for (std::uint64_t c : s.histogram.counts)
            e.peak = std::max(e.peak, c);
        if (s.histogram.counts.empty())
            continue;
        e.lo = first ? s.histogram.min : std::min(e.lo, s.histogram.min);
        e.hi = first ? s.histogram.max : std::max(e.hi, s.histogram.max);
        first = false;
    }
    if (!(e.hi > e.lo))
        e.hi = e.lo + 1;
    return e;
}

std::string histogramSvg(const ReportHistogram &h, int width, int height)
{
    const double left = 46, right = 10, top = h.series.size() > 1 ? 22 : 8, bottom = 30;
    const double pw = width - left - right, ph = height - top - bottom;
    const HistogramExtent extent = histogramExtent(h);
    const std::uint64_t peak = extent.peak;
    const double lo = extent.lo, hi = extent.hi;
    auto X = [&](double v) { return left + (v - lo) / (hi - lo) * pw; };
    char buf[256];
    std::string o;
    std::snprintf(buf, sizeof buf,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                  "font-family=\"DejaVu Sans, Arial, sans-serif\" font-size=\"10\">",
                  width, height, width, height);
    o += buf;
    o += "<title>" + xml(h.title) + "</title>";
    std::snprintf(buf, sizeof buf, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#fafbfc\" stroke=\"#c9ced6\"/>",
                  left, top, pw, ph);
    o += buf;
    for (std::size_t si = 0; si < h.series.size() && si < 2; ++si) {
        const Histogram &hist = h.series[si].histogram;
        const std::size_t n = hist.counts.size();
        if (n == 0 || peak == 0)
            continue;
        o += std::string("<g fill=\"") + kSeriesColors[si] + "\" fill-opacity=\"" + (h.series.size() > 1 ? "0.55" : "0.85")
            + "\">";
        const double bw = (hist.max - hist.min) / static_cast<double>(n);
        for (std::size_t i = 0; i < n; ++i) {
            if (hist.counts[i] == 0)
                continue;
            const double x0 = X(hist.min + bw * static_cast<double>(i)), x1 = X(hist.min + bw * static_cast<double>(i + 1));
            const double bh = ph * static_cast<double>(hist.counts[i]) / static_cast<double>(peak);
            std::snprintf(buf, sizeof buf, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"/>", x0,
                          top + ph - bh, std::max(0.3, x1 - x0), bh);
            o += buf;
        }
        o += "</g>";
    }
    // Axes: value range below, count scale on the left.
    std::snprintf(buf, sizeof buf, "<g fill=\"#4a5261\"><text x=\"%.1f\" y=\"%.1f\" text-anchor=\"start\">%s</text>", left,
                  top + ph + 13, xml(fmt3(lo)).c_str());
    o += buf;
    std::snprintf(buf, sizeof buf, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>", left + pw / 2,
                  top + ph + 13, xml(fmt3((lo + hi) / 2)).c_str());
    o += buf;
    std::snprintf(buf, sizeof buf, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>", left + pw, top + ph + 13,
                  xml(fmt3(hi)).c_str());
    o += buf;
    std::snprintf(buf, sizeof buf, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>", left - 4, top + 9,
                  thousands(peak).c_str());
    o += buf;
    std::snprintf(buf, sizeof buf, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">0</text>", left - 4, top + ph);
    o += buf;
    std::snprintf(buf, sizeof buf, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#7a8292\">value</text>",
                  left + pw / 2, top + ph + 25);
    o += buf;
    o += "</g>";
    if (h.series.size() > 1) {
        double x = left;
        for (std::size_t si = 0; si < h.series.size() && si < 2; ++si) {
            std::snprintf(buf, sizeof buf, "<rect x=\"%.1f\" y=\"6\" width=\"10\" height=\"10\" fill=\"%s\" fill-opacity=\"0.7\"/>",
                          x, kSeriesColors[si]);
            o += buf;
            std::string label = h.series[si].label;
            if (label.size() > 30)
                label = label.substr(0, 27) + "...";
            std::snprintf(buf, sizeof buf, "<text x=\"%.1f\" y=\"15\" fill=\"#1d2330\">", x + 14);
            o += buf + xml(label) + "</text>";
            x += pw / 2;
        }
    }
    o += "</svg>";
    return o;
}

std::string renderHtml(const ReportDocument &doc)
{
    std::string o;
    o += "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n";
    o += "<meta name=\"generator\" content=\"" + xml(doc.generator) + "\"/>\n";
    o += "<title>" + xml(doc.title) + "</title>\n<style>" + std::string(kCss) + "</style>\n</head>\n<body>\n<main>\n";
    for (const DocBlock &b : doc.blocks) {
        switch (b.kind) {
        case DocBlock::Kind::Heading: {
            const std::string tag = "h" + std::to_string(std::clamp(b.level, 1, 4));
            o += "<" + tag + ">" + xml(b.text) + "</" + tag + ">\n";
            break;
        }
        case DocBlock::Kind::Paragraph:
            o += (b.tone.empty() ? std::string("<p>") : "<p class=\"" + b.tone + "\">") + xml(b.text) + "</p>\n";
            break;
        case DocBlock::Kind::Note:
            o += "<div class=\"note" + (b.tone.empty() ? std::string() : " " + b.tone) + "\">" + xml(b.text) + "</div>\n";
            break;
        case DocBlock::Kind::Code: o += "<pre><code>" + xml(b.text) + "</code></pre>\n"; break;
        case DocBlock::Kind::Facts:
            o += "<dl class=\"facts\">";
            for (const auto &[k, v] : b.facts)
                o += "<dt>" + xml(k) + "</dt><dd>" + xml(v) + "</dd>";
            o += "</dl>\n";
            break;
        case DocBlock::Kind::Table: htmlTable(o, b.table); break;
        case DocBlock::Kind::Histograms:
            o += "<div class=\"hists\">\n";
            for (const ReportHistogram &h : b.histograms)
                o += "<figure class=\"hist\">" + histogramSvg(h) + "<figcaption><b class=\"mono\">" + xml(h.title)
                    + "</b><br/>" + xml(h.caption) + "</figcaption></figure>\n";
            o += "</div>\n";
            break;
        }
    }
    o += "<footer>Written by " + xml(doc.generator) + ". This page is self-contained: it needs neither ptscope nor a network.</footer>\n";
    o += "</main>\n<script>//<![CDATA[" + std::string(kScript) + "//]]></script>\n</body>\n</html>\n";
    return o;
}

// ---------------------------------------------------------------------------------------------
// Markdown
// ---------------------------------------------------------------------------------------------

namespace {

std::string mdCell(const std::string &s)
{
    std::string out;
    for (char ch : s) {
        if (ch == '|')
            out += "\\|";
        else if (ch == '\n')
            out += "<br>";
        else
            out += ch;
    }
    return out;
}

std::string mdInline(const std::string &s)
{
    // Keys like "layer1.0.conv1.weight" read best as code (not when a backtick or a line break is in them).
    if (s.find_first_of("`\n") != std::string::npos)
        return mdCell(s);
    return s.empty() ? s : "`" + mdCell(s) + "`";
}

std::string sparkline(const std::vector<std::uint64_t> &counts, std::size_t width = 32)
{
    static const char *levels[] = {" ", "\u2581", "\u2582", "\u2583", "\u2584", "\u2585", "\u2586", "\u2587", "\u2588"};
    if (counts.empty())
        return {};
    width = std::min(width, counts.size());
    std::vector<std::uint64_t> merged(width, 0);
    for (std::size_t i = 0; i < counts.size(); ++i)
        merged[i * width / counts.size()] += counts[i];
    const std::uint64_t peak = *std::max_element(merged.begin(), merged.end());
    std::string out;
    for (std::uint64_t c : merged)
        out += levels[peak ? (c * 8 + peak - 1) / peak : 0];
    return out;
}

} // namespace

std::string renderMarkdown(const ReportDocument &doc)
{
    std::string o;
    for (const DocBlock &b : doc.blocks) {
        switch (b.kind) {
        case DocBlock::Kind::Heading:
            o += std::string(static_cast<std::size_t>(std::clamp(b.level, 1, 6)), '#') + " " + b.text + "\n\n";
            break;
        case DocBlock::Kind::Paragraph:
            o += (b.tone == "bad" ? "**" + b.text + "**" : b.text) + "\n\n";
            break;
        case DocBlock::Kind::Note: {
            const char *mark = b.tone == "ok" ? "\u2705 " : b.tone == "bad" ? "\u274C " : b.tone == "warn" ? "\u26A0\uFE0F " : "";
            o += "> " + std::string(mark) + b.text + "\n\n";
            break;
        }
        case DocBlock::Kind::Code: {
            std::string fence = "```";
            while (b.text.find(fence) != std::string::npos)
                fence += '`';
            const bool python = b.text.find("RuntimeError:") == std::string::npos
                && b.text.find("TypeError:") == std::string::npos;
            o += fence + (python ? "python" : "text") + "\n" + b.text + "\n" + fence + "\n\n";
            break;
        }
        case DocBlock::Kind::Facts:
            o += "| | |\n|---|---|\n";
            for (const auto &[k, v] : b.facts)
                o += "| **" + mdCell(k) + "** | " + mdCell(v) + " |\n";
            o += "\n";
            break;
        case DocBlock::Kind::Table: {
            const DocTable &t = b.table;
            o += "|";
            for (const std::string &c : t.columns)
                o += " " + mdCell(c) + " |";
            o += "\n|";
            for (std::size_t c = 0; c < t.columns.size(); ++c)
                o += t.numeric[c] ? "---:|" : "---|";
            o += "\n";
            for (const auto &row : t.rows) {
                o += "|";
                for (std::size_t c = 0; c < row.size(); ++c)
                    o += " " + (t.mono[c] ? mdInline(row[c].text) : mdCell(row[c].text)) + " |";
                o += "\n";
            }
            o += "\n";
            break;
        }
        case DocBlock::Kind::Histograms:
            o += "| histogram | range | |\n|---|---|---|\n";
            for (const ReportHistogram &h : b.histograms)
                for (const HistogramSeries &s : h.series)
                    o += "| " + mdInline(h.title) + (h.series.size() > 1 ? " (" + mdCell(s.label) + ")" : "") + "<br>"
                        + mdCell(h.caption) + " | " + reportNumber(s.histogram.min) + " … "
                        + reportNumber(s.histogram.max) + " | `" + sparkline(s.histogram.counts) + "` |\n";
            o += "\n";
            break;
        }
    }
    o += "<sub>Written by " + doc.generator + "; nothing in the files was imported or executed.</sub>\n";
    return o;
}

// ---------------------------------------------------------------------------------------------
// JSON and CSV
// ---------------------------------------------------------------------------------------------

namespace {

using ojson = nlohmann::ordered_json;

void writeHistogram(JsonWriter &w, const Histogram &h)
{
    w.beginObject().field("min", h.min).field("max", h.max).key("counts").beginArray();
    for (std::uint64_t c : h.counts)
        w.value(c);
    w.endArray().endObject();
}

// The `ptscope-cli stats --json` document for a file's tensors.
std::string statsJson(const FileReport &fr)
{
    const Checkpoint &cp = *fr.checkpoint;
    JsonWriter w(false);
    w.beginObject().field("file", cp.path).field("backend", fr.backend).field("bins", static_cast<std::uint64_t>(fr.bins));
    w.key("tensors").beginArray();
    for (const ReportTensor &rt : fr.tensors) {
        const TensorInfo &t = cp.tensors[rt.tensor];
        w.beginObject();
        w.key("path").stringArray(rt.path);
        w.field("key", rt.key).field("state_dict", rt.inStateDict);
        w.field("dtype", t.dtype);
        w.key("shape").intArray(t.shape);
        if (!rt.stats) {
            w.field("error", rt.error).endObject();
            continue;
        }
        const TensorStats &s = *rt.stats;
        w.field("numel", s.numel);
        for (const auto &[k, v] : {std::pair<const char *, double>{"min", s.min}, {"max", s.max}, {"mean", s.mean},
                                   {"std", s.std}}) {
            w.key(k);
            if (s.finiteCount == 0)
                w.null();
            else
                w.value(v);
        }
        w.field("nan", s.nan).field("inf", s.posInf + s.negInf).field("posinf", s.posInf).field("neginf", s.negInf);
        w.field("zeros", s.zeros).field("finite", s.finiteCount);
        if (!s.histogram.counts.empty()) {
            w.key("histogram");
            writeHistogram(w, s.histogram);
        }
        w.endObject();
    }
    w.endArray().endObject();
    return w.str();
}

ojson histogramJson(const ReportHistogram &h)
{
    ojson series = ojson::array();
    for (const HistogramSeries &s : h.series)
        series.push_back({{"label", s.label},
                          {"min", s.histogram.min},
                          {"max", s.histogram.max},
                          {"counts", s.histogram.counts}});
    return {{"title", h.title}, {"caption", h.caption}, {"series", series}};
}

ojson fileSummaryJson(const FileReport &fr)
{
    ojson modules = ojson::array();
    for (const ReportModule &m : fr.modules)
        modules.push_back({{"module", m.prefix},
                           {"tensors", m.tensors},
                           {"numel", m.numel},
                           {"nbytes", m.nbytes},
                           {"dtypes", m.dtypes}});
    ojson largest = ojson::array();
    for (const ReportHistogram &h : fr.largest)
        largest.push_back(histogramJson(h));
    ojson globals = ojson::array();
    for (const ReportGlobal &g : fr.globals)
        globals.push_back({{"module", g.module}, {"name", g.name}, {"count", g.count}, {"imported_by_torch_load", g.beyondTorch}});
    ojson out = {{"file", fr.name}, {"modules", modules}, {"globals", globals}};
    out["whole_model_histogram"] = fr.wholeModel ? histogramJson(*fr.wholeModel) : ojson(nullptr);
    out["largest_histograms"] = largest;
    return out;
}

ojson securityJson(const FileReport &fr)
{
    // The security scan's verdict; null means "not scanned".
    if (!fr.security)
        return nullptr;
    return {{"verdict", fr.security->verdict}, {"findings", fr.security->findings}};
}

std::string csvField(const std::string &s)
{
    if (s.find_first_of(",\"\r\n") == std::string::npos)
        return s;
    std::string out = "\"";
    for (char ch : s) {
        if (ch == '"')
            out += '"';
        out += ch;
    }
    return out + "\"";
}

// The shortest text that reads back as the same double; empty for NaN.
std::string exact(double v)
{
    if (std::isnan(v))
        return {};
    if (std::isinf(v))
        return v > 0 ? "inf" : "-inf";
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

} // namespace

std::string renderJson(const Report &r)
{
    ojson doc;
    ojson meta = {{"generator", r.generator}, {"kind", r.comparison ? "comparison" : "file"}};
    ojson names = ojson::array();
    for (const FileReport &fr : r.files)
        names.push_back(fr.name);
    meta["files"] = names;
    ojson summaries = ojson::array();
    for (const FileReport &fr : r.files)
        summaries.push_back(fileSummaryJson(fr));
    meta["summaries"] = summaries;
    if (r.comparison) {
        ojson keys = ojson::array();
        for (const ReportKeyRow &k : r.comparison->keys)
            keys.push_back({{"key", k.key},
                            {"status", k.status},
                            {"loads", k.ok},
                            {"source_dtype", k.inSource ? ojson(k.sourceDtype) : ojson(nullptr)},
                            {"source_shape", k.inSource ? ojson(k.sourceShape) : ojson(nullptr)},
                            {"target_dtype", k.inTarget ? ojson(k.targetDtype) : ojson(nullptr)},
                            {"target_shape", k.inTarget ? ojson(k.targetShape) : ojson(nullptr)}});
        meta["keys"] = keys;
        ojson overlaid = ojson::array();
        for (const ReportHistogram &h : r.comparison->overlaid)
            overlaid.push_back(histogramJson(h));
        meta["overlaid_histograms"] = overlaid;
    }
    doc["report"] = meta;
    ojson files = ojson::array();
    InfoJsonOptions info;
    info.pretty = false;
    for (const FileReport &fr : r.files)
        files.push_back({{"info", ojson::parse(infoJson(*fr.checkpoint, info))},
                         {"stats", ojson::parse(statsJson(fr))},
                         {"security", securityJson(fr)}});
    doc["files"] = files;
    doc["diff"] = r.comparison ? ojson::parse(r.comparison->diffJson) : ojson(nullptr);
    return doc.dump(1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

std::string renderCsv(const Report &r)
{
    const bool two = r.files.size() > 1;
    std::string o = two ? "file," : "";
    o += "key,dtype,shape,numel,bytes,device,min,max,mean,std,nan,inf,zeros\r\n";
    for (const FileReport &fr : r.files) {
        const Checkpoint &cp = *fr.checkpoint;
        for (const ReportTensor &rt : fr.tensors) {
            const TensorInfo &t = cp.tensors[rt.tensor];
            std::vector<std::string> cells;
            if (two)
                cells.push_back(fr.name);
            cells.insert(cells.end(), {rt.key, t.dtype, formatShape(t.shape), std::to_string(t.numel),
                                       std::to_string(t.nbytes), t.device});
            if (rt.stats) {
                const TensorStats &s = *rt.stats;
                const bool finite = s.finiteCount > 0;
                for (double v : {s.min, s.max, s.mean, s.std})
                    cells.push_back(finite ? exact(v) : std::string());
                cells.push_back(std::to_string(s.nan));
                cells.push_back(std::to_string(s.posInf + s.negInf));
                cells.push_back(std::to_string(s.zeros));
            } else {
                cells.insert(cells.end(), 7, std::string());
            }
            for (std::size_t i = 0; i < cells.size(); ++i)
                o += (i ? "," : "") + csvField(cells[i]);
            o += "\r\n";
        }
    }
    return o;
}

} // namespace ptscope::core
