// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

// Shareable reports: one checkpoint inspected, or two compared. The content lives here, once:
//  * Report: the data (checkpoints, per-tensor statistics, module summary, histograms, and for two
//    files the load_state_dict emulation, its explanation and the value comparison);
//  * ReportDocument: that data laid out as a sequence of blocks (headings, facts, tables, code,
//    histograms) that every visual format renders the same way: HTML and Markdown here, PDF in
//    ui/report_pdf (QPainter);
//  * JSON (the CLI contract's info + stats + diff documents) and CSV (one row per tensor) straight
//    from the data.

#include "checkpoint.h"
#include "diff_explain.h"
#include "diff_json.h"
#include "load_state_dict.h"
#include "result.h"
#include "tensor_stats.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ptscope::core {

// ---------------------------------------------------------------------------------------------
// The data
// ---------------------------------------------------------------------------------------------

struct HistogramSeries
{
    std::string label;   // "model.ckpt", "source", ...
    Histogram histogram; // counts empty: nothing to draw
};

struct ReportHistogram
{
    std::string title;                  // "fc1.weight"
    std::string caption;                // "float32 [5, 10], 50 values"
    std::vector<HistogramSeries> series; // one, or two overlaid (comparisons), on the same bins
};

// What a drawing of a ReportHistogram spans: the tallest bin and the value range of every series
// (a range of width 1 when there is none), shared by the SVG and the PDF renderers.
struct HistogramExtent
{
    std::uint64_t peak = 0;
    double lo = 0.0;
    double hi = 1.0;
};
HistogramExtent histogramExtent(const ReportHistogram &h);

struct ReportTensor
{
    std::string key;          // the state_dict key, or the slash-separated path for tensors outside it
    ObjectPath path;          // how to reach it from the root object (the first of its paths)
    bool inStateDict = false;
    std::uint32_t tensor = 0; // index into the checkpoint's tensors
    std::optional<TensorStats> stats;
    std::string error;        // why there are no statistics
};

struct ReportModule
{
    std::string prefix;       // "layer1.0.conv1" ("" for keys at the top level)
    std::size_t tensors = 0;
    std::uint64_t numel = 0;
    std::uint64_t nbytes = 0;
    std::string dtypes;       // "float32", "float32, int64"
};

// The verdict of the security scan (core/security_scan.h) as the report shows it: findings and the
// weights_only answers, one line each.
struct ReportSecurityScan
{
    std::string verdict;               // "safe" | "suspicious" | "dangerous"
    std::vector<std::string> findings; // one line each
};

struct ReportGlobal
{
    std::string module;
    std::string name;
    std::uint64_t count = 0;
    bool beyondTorch = false; // neither torch, collections, builtins nor _codecs: torch.load would import it
};

struct FileReport
{
    std::shared_ptr<const Checkpoint> checkpoint;
    std::string name;                          // the file as the user named it
    std::vector<ReportTensor> tensors;         // state_dict keys in order, then every other tensor once
    std::vector<ReportModule> modules;         // by module prefix, in state_dict order
    std::vector<ReportGlobal> globals;         // sorted by module and name
    std::optional<ReportSecurityScan> security; // the security scan's verdict (nullopt: not scanned)
    std::optional<ReportHistogram> wholeModel; // every floating-point state_dict tensor together
    std::vector<ReportHistogram> largest;      // the largest state_dict tensors, largest first
    std::string backend;                       // which statistics backend ran ("cpu")
    std::uint32_t bins = 0;
};

// One key of either side of a comparison and what load_state_dict does with it.
struct ReportKeyRow
{
    std::string key;
    std::string status;       // "loaded", "missing", "unexpected", "size mismatch", "dtype differs",
                              // "filled in by torch", "ignored", "not a tensor", "copy fails", "0-dim from [0]"
    std::string sourceDtype;  // empty when the source does not hold the key
    std::vector<std::int64_t> sourceShape;
    std::string targetDtype;  // empty when the model does not hold the key
    std::vector<std::int64_t> targetShape;
    bool inSource = false;
    bool inTarget = false;
    bool ok = true;           // loads as it is
};

struct ComparisonReport
{
    std::string sourceName;   // SOURCE (the checkpoint being loaded)
    std::string targetName;   // TARGET (stands for the model)
    TorchRules rules = TorchRules::Torch2;
    SourceStateDict source;
    ModelStructure model;
    SourceContext context;
    DiffReport diff;
    std::vector<KeyValueComparison> values;
    std::vector<ReportKeyRow> keys;        // the model's keys in state_dict order, then unexpected ones
    std::vector<ReportHistogram> overlaid; // the largest tensors both sides hold, source over target
    std::string diffJson;                  // the `ptscope-cli diff --json` document
};

struct Report
{
    std::string generator;          // "ptscope 0.1.0"
    std::vector<FileReport> files;  // one, or two for a comparison (one when the target is a manifest)
    std::optional<ComparisonReport> comparison;
};

struct ReportOptions
{
    std::uint32_t bins = 64;            // per tensor
    std::uint32_t wholeModelBins = 100;
    std::size_t largestLayers = 6;      // histograms of the largest state_dict tensors
    std::size_t comparedHistograms = 6; // overlaid histograms in a comparison
    TorchRules rules = TorchRules::Torch2;
    std::string generator = "ptscope";
    ProgressSink progress;              // elements read so far, over all passes; false cancels
};

// Reads and summarises FILE, or compares SOURCE with TARGET (TARGET may be a manifest). The
// checkpoints are opened here; tensor data is streamed once per statistic. Errors: the file cannot
// be read (its Result error), Cancelled.
Result<Report> buildReport(const std::vector<std::string> &files, const ReportOptions &options = {});
// The same from checkpoints already open (the desktop app). `names` are the files as shown to the user.
Result<Report> buildReport(const std::vector<std::shared_ptr<const Checkpoint>> &checkpoints,
                           const std::vector<std::string> &names, const ReportOptions &options = {});

// ---------------------------------------------------------------------------------------------
// The document: what every visual format shows, in order
// ---------------------------------------------------------------------------------------------

struct DocCell
{
    std::string text;
    std::optional<double> sort; // numeric sort key (HTML's sortable tables); nullopt: sort as text
};

struct DocTable
{
    std::string id;                    // unique in the document ("tensors-1")
    std::vector<std::string> columns;
    std::vector<bool> numeric;         // right-aligned, sorted as numbers
    std::vector<bool> mono;            // keys, shapes, code: a monospaced font
    std::vector<std::vector<DocCell>> rows;
    std::vector<std::string> rowTone;  // per row: "", "ok", "bad", "warn"
};

struct DocBlock
{
    enum class Kind { Heading, Paragraph, Facts, Table, Code, Histograms, Note };
    Kind kind = Kind::Paragraph;
    int level = 2;                     // headings: 1 (title) to 3
    std::string text;                  // heading, paragraph, code, note
    std::string tone;                  // "", "ok", "bad", "warn" (notes and verdicts)
    std::vector<std::pair<std::string, std::string>> facts; // label, value
    DocTable table;
    std::vector<ReportHistogram> histograms;
};

struct ReportDocument
{
    std::string title;                 // "ptscope report: model.ckpt"
    std::string fileNames;             // page headers: "model.ckpt" or "a.pt vs b.pt"
    std::string generator;
    std::vector<DocBlock> blocks;
};

ReportDocument reportDocument(const Report &report);

// ---------------------------------------------------------------------------------------------
// Formats
// ---------------------------------------------------------------------------------------------

// One self-contained, well-formed (XHTML-compatible) HTML file: inline CSS, inline SVG histograms,
// a few lines of inline JavaScript that sort tables by a click on their header.
std::string renderHtml(const ReportDocument &doc);
// GitHub-flavoured Markdown for pull requests and issues (histograms as one-line sketches).
std::string renderMarkdown(const ReportDocument &doc);
// A histogram (one or two overlaid series) as a standalone SVG element, width x height user units.
std::string histogramSvg(const ReportHistogram &h, int width = 360, int height = 190);
// {"report": {...}, "files": [{"info": <info --json>, "stats": <stats --json>, "security": ...}],
//  "diff": <diff --json> | null}
std::string renderJson(const Report &report);
// key,dtype,shape,numel,bytes,device,min,max,mean,std,nan,inf,zeros (a leading "file" column when
// two files are compared). RFC 4180 quoting.
std::string renderCsv(const Report &report);

// Shared number formatting: "%.6g", "-" for NaN.
std::string reportNumber(double v);

} // namespace ptscope::core
