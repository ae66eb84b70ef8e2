// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// ptscope-cli diff: what target_model.load_state_dict(torch.load(SOURCE)) does, why, and how to fix it.
#include "checkpoint.h"
#include "checkpoint_analysis.h"
#include "cli_common.h"
#include "cuda_histogram_backend.h"
#include "diff_explain.h"
#include "diff_json.h"
#include "json_writer.h"
#include "load_state_dict.h"
#include "value_compare.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace ptscope::core;

namespace ptscope::cli {

namespace {

constexpr const char *kUsage
    = "Usage: ptscope-cli diff [--json] [--source-key PATH] [--target-key PATH] [--torch VERSION] [--no-values]\n"
      "                        [--backend auto|cpu|cuda] SOURCE TARGET\n"
      "\n"
      "Explains target_model.load_state_dict(torch.load(SOURCE)) exactly as torch would: whether strict=True\n"
      "succeeds, the lines torch prints, what strict=False returns, why the keys differ and how to fix it.\n"
      "\n"
      "  SOURCE             the checkpoint being loaded (a state_dict, a training checkpoint, a whole model, ...)\n"
      "  TARGET             stands for the model: a saved fresh state_dict, another checkpoint, a TorchScript\n"
      "                     file, a whole-model pickle, or a JSON manifest (docs/manifest.md)\n"
      "  --source-key PATH  where the state dict is in SOURCE, slash-separated (e.g. model_state_dict)\n"
      "  --target-key PATH  the same for TARGET\n"
      "  --torch VERSION    whose load_state_dict rules: 2 (default: 2.10 and newer), 2.4 (2.4 to 2.9),\n"
      "                     1.13 (1.x to 2.3); any MAJOR.MINOR picks its era\n"
      "  --no-values        skip the numeric comparison of the tensors both sides hold\n"
      "  --backend          where values are compared: auto (default): CUDA when usable, else every CPU core;\n"
      "                     cpu; cuda (fails without a usable GPU). The numbers are the same either way\n"
      "  --json             the scripting contract's document\n";

ObjectPath splitPath(const std::string &s)
{
    ObjectPath p;
    std::size_t pos = 0;
    while (pos <= s.size()) {
        const auto slash = s.find('/', pos);
        const std::string step = s.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
        if (!step.empty())
            p.push_back(step);
        if (slash == std::string::npos)
            break;
        pos = slash + 1;
    }
    return p;
}

// Plain words wrapped at `width` columns under `indent`.
void printWrapped(const std::string &text, const std::string &indent, std::size_t width = 100)
{
    std::string line = indent;
    std::size_t pos = 0;
    while (pos < text.size()) {
        if (text[pos] == '\n') {
            std::printf("%s\n", line.c_str());
            line = indent;
            ++pos;
            continue;
        }
        auto end = text.find_first_of(" \n", pos);
        if (end == std::string::npos)
            end = text.size();
        const std::string word = text.substr(pos, end - pos);
        if (line.size() > indent.size() && line.size() + 1 + word.size() > width) {
            std::printf("%s\n", line.c_str());
            line = indent;
        }
        line += (line.size() > indent.size() ? " " : "") + word;
        pos = end < text.size() && text[end] == ' ' ? end + 1 : end;
    }
    if (line.size() > indent.size())
        std::printf("%s\n", line.c_str());
}

std::string fmt(double v)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", v);
    return buf;
}

void printHuman(const Checkpoint &source, const SourceStateDict &sd, const std::string &sourceArg,
    const Checkpoint *target, const std::string &targetArg, const ModelStructure &model, const SourceContext &ctx,
    const DiffReport &report, TorchRules rules, const std::vector<KeyValueComparison> &values,
    const ValuesBackend &valuesBackend, const Style &s)
{
    const LoadOutcome &o = report.outcome;
    const std::string call = ctx.torchScript ? "torch.jit.load(" + sourceArg + ").state_dict()"
        : ctx.safetensors                    ? "safetensors.torch.load_file(" + sourceArg + ")"
                                             : "torch.load(" + sourceArg + ")" + ctx.accessor;
    std::printf("%smodel.load_state_dict(%s)%s  (%s rules)\n", s.bold(), call.c_str(), s.reset(),
        torchRulesName(rules));
    std::printf("  source: %s, %s%s, %zu keys%s\n", sourceArg.c_str(), formatName(source.format),
        sd.path.empty() ? "" : (", state dict at '" + joinPath(sd.path) + "'").c_str(), sd.entries.size(),
        sd.hasMetadata ? "" : ", no _metadata");
    std::printf("  target: %s, %s (%s), %zu keys\n", targetArg.c_str(), diffTargetKind(target, model).c_str(),
        model.origin.c_str(), report.targetKeys);

    std::printf("\n%sstrict=True%s: %s%s%s\n", s.bold(), s.reset(), o.strictOk() ? s.green() : s.red(),
        o.strictOk() ? "succeeds" : "raises", s.reset());
    if (!o.strictOk()) {
        if (o.typeError)
            std::printf("  TypeError: %s\n", o.typeError->c_str());
        else if (o.exception)
            std::printf("  %s\n", o.exception->c_str());
        else {
            std::printf("  RuntimeError: %s\n", o.header.c_str());
            for (const std::string &l : o.strictMessages())
                std::printf("  \t%s\n", l.c_str());
        }
    }
    if (ctx.wholeFile) {
        const LoadOutcome &w = *ctx.wholeFile;
        const std::string verdict = w.typeError ? "TypeError: " + *w.typeError
            : w.strictOk()                      ? std::string("strict=True succeeds")
                           : "strict=True raises with " + std::to_string(w.missingKeys.size()) + " missing and "
                + std::to_string(w.unexpectedKeys.size()) + " unexpected keys; strict=False loads "
                + std::to_string(w.loadedFromSource()) + " tensors";
        printWrapped("(passing torch.load(" + sourceArg + ") itself: " + verdict + ")", "  ");
    }
    std::printf("%sstrict=False%s: ", s.bold(), s.reset());
    if (o.nonStrictOk())
        std::printf("returns: %zu of %zu tensors loaded, %zu missing, %zu unexpected\n", o.loadedFromSource(),
            report.targetKeys, o.missingKeys.size(), o.unexpectedKeys.size());
    else
        std::printf("%sraises%s (%zu error(s) besides missing/unexpected keys)\n", s.red(), s.reset(),
            o.nonStrictMessages().size());

    if (!report.causes.empty()) {
        std::printf("\n%sWhy%s\n", s.bold(), s.reset());
        int n = 0;
        for (const DiffCause &c : report.causes) {
            std::printf("  %d. %s%s%s [%s]\n", ++n, s.bold(), c.title.c_str(), s.reset(), c.kind.c_str());
            printWrapped(c.explanation, "     ");
        }
    }
    if (!report.suggestions.empty()) {
        std::printf("\n%sHow to fix it%s\n", s.bold(), s.reset());
        int n = 0;
        for (const DiffSuggestion &sg : report.suggestions) {
            std::string verdict;
            if (sg.verified)
                verdict = sg.strictOkAfter ? "then strict=True succeeds"
                    : sg.nonStrictOkAfter  ? "then strict=False returns, " + std::to_string(sg.loadedAfter) + " of "
                        + std::to_string(report.targetKeys) + " loaded"
                                          : "torch still raises";
            std::printf("  %d. %s%s%s%s%s%s\n", ++n, s.bold(), sg.title.c_str(), s.reset(),
                verdict.empty() ? "" : "  (", verdict.c_str(), verdict.empty() ? "" : ")");
            printWrapped(sg.explanation, "     ");
            std::printf("\n");
            std::size_t pos = 0;
            while (pos < sg.code.size()) {
                auto end = sg.code.find('\n', pos);
                if (end == std::string::npos)
                    end = sg.code.size();
                std::printf("     %s%s%s\n", s.dim(), sg.code.substr(pos, end - pos).c_str(), s.reset());
                pos = end + 1;
            }
            std::printf("\n");
        }
    }
    if (!values.empty()) {
        std::size_t identical = 0, close = 0, problems = 0;
        for (const KeyValueComparison &v : values) {
            if (!v.cmp) {
                ++problems;
                continue;
            }
            identical += v.cmp->identical;
            close += v.cmp->allclose && !v.cmp->identical;
        }
        std::printf("%sValues%s (%zu tensors both sides hold): %zu identical, %zu allclose, %zu differ%s\n", s.bold(),
            s.reset(), values.size(), identical, close, values.size() - identical - close - problems,
            problems ? (", " + std::to_string(problems) + " not comparable").c_str() : "");
        if (!valuesBackend.name.empty())
            std::printf("  compared on the %s backend%s%s\n", valuesBackend.name.c_str(),
                valuesBackend.reason.empty() ? "" : " - ", valuesBackend.reason.c_str());
        std::vector<const KeyValueComparison *> sorted;
        for (const KeyValueComparison &v : values)
            if (v.cmp && !v.cmp->identical)
                sorted.push_back(&v);
        std::stable_sort(sorted.begin(), sorted.end(),
            [](const KeyValueComparison *a, const KeyValueComparison *b) { return a->cmp->relativeL2 > b->cmp->relativeL2; });
        if (!sorted.empty()) {
            std::vector<std::vector<std::string>> rows { { "KEY", "MAX |DIFF|", "MEAN |DIFF|", "REL L2", "COSINE",
                "DIFFERING", "ALLCLOSE" } };
            for (std::size_t i = 0; i < sorted.size() && i < 10; ++i) {
                const ValueComparison &c = *sorted[i]->cmp;
                rows.push_back({ sorted[i]->key, fmt(c.maxAbsDiff), fmt(c.meanAbsDiff), fmt(c.relativeL2), fmt(c.cosine),
                    withThousands(c.differing) + "/" + withThousands(c.numel), c.allclose ? "yes" : "no" });
            }
            printTable(rows, s);
        }
    }
    const std::vector<std::string> notes = loadNotes(model, o);
    if (!notes.empty()) {
        std::printf("\n%sNotes%s\n", s.yellow(), s.reset());
        for (const std::string &n : notes)
            printWrapped("- " + n, "  ");
    }
}

} // namespace

int runDiff(const std::vector<std::string> &args)
{
    bool json = false;
    bool values = true;
    std::string backendName = "auto";
    std::optional<ObjectPath> sourceKey, targetKey;
    TorchRules rules = TorchRules::Torch2;
    std::vector<std::string> files;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string &a = args[i];
        auto operand = [&](const char *option) -> const std::string * {
            if (i + 1 >= args.size()) {
                std::fprintf(stderr, "ptscope-cli diff: %s needs a value\n", option);
                return nullptr;
            }
            return &args[++i];
        };
        if (a == "--json") {
            json = true;
        } else if (a == "--no-values") {
            values = false;
        } else if (a == "--backend") {
            const std::string *v = operand("--backend");
            if (!v)
                return kExitUsage;
            if (*v != "auto" && *v != "cpu" && *v != "cuda") {
                std::fprintf(stderr, "ptscope-cli diff: --backend is auto, cpu or cuda (got '%s')\n", v->c_str());
                return kExitUsage;
            }
            backendName = *v;
        } else if (a == "--source-key" || a == "--target-key") {
            const std::string *v = operand(a.c_str());
            if (!v)
                return kExitUsage;
            (a == "--source-key" ? sourceKey : targetKey) = splitPath(*v);
        } else if (a == "--torch") {
            const std::string *v = operand("--torch");
            if (!v)
                return kExitUsage;
            bool ok = false;
            rules = parseTorchRules(*v, &ok);
            if (!ok) {
                std::fprintf(stderr, "ptscope-cli diff: --torch takes a torch version such as 1.13, 2.6 or 2 (got '%s')\n", v->c_str());
                return kExitUsage;
            }
        } else if (a == "-h" || a == "--help") {
            std::fputs(kUsage, stdout);
            return kExitOk;
        } else if (!a.empty() && a[0] == '-' && a != "-") {
            std::fprintf(stderr, "ptscope-cli diff: unknown option '%s'\n", a.c_str());
            return kExitUsage;
        } else {
            files.push_back(a);
        }
    }
    if (files.size() != 2) {
        std::fprintf(stderr, "ptscope-cli diff: takes SOURCE and TARGET (got %zu file(s)); see --help\n", files.size());
        return kExitUsage;
    }
    const std::string &sourceArg = files[0];
    const std::string &targetArg = files[1];

    // The values' backend, as stats chooses it: auto takes the GPU when one is usable and otherwise
    // says why not; cuda fails with the reason before any work; cpu needs no explanation. Nothing
    // is set up when no value will be compared.
    ValuesBackend used;
    std::unique_ptr<HistogramBackend> backend;
    const bool comparesValues = values && !looksLikeManifest(targetArg);
    if (comparesValues || backendName == "cuda") {
        if (backendName != "cpu")
            backend = ptscope::cuda::makeCudaHistogramBackend(&used.reason);
        if (backendName == "cuda" && !backend) {
            std::fprintf(stderr, "ptscope-cli diff: cannot use --backend cuda: %s. Use --backend cpu or auto.\n",
                used.reason.c_str());
            return kExitUnreadable;
        }
        if (!backend)
            backend = makeCpuHistogramBackend();
        else
            used.reason.clear();
        used.name = backend->name();
    }

    auto source = openCheckpoint(sourceArg);
    if (!source) {
        std::fprintf(stderr, "ptscope-cli: %s\n", source.error().toString().c_str());
        return kExitUnreadable;
    }
    std::shared_ptr<const Checkpoint> target;
    std::optional<ModelStructure> model;
    if (looksLikeManifest(targetArg)) {
        auto m = modelFromManifest(targetArg);
        if (!m) {
            std::fprintf(stderr, "ptscope-cli: %s\n", m.error().toString().c_str());
            return kExitUnreadable;
        }
        model = std::move(*m);
    } else {
        auto t = openCheckpoint(targetArg);
        if (!t) {
            std::fprintf(stderr, "ptscope-cli: %s\n", t.error().toString().c_str());
            return kExitUnreadable;
        }
        target = *t;
        auto m = modelFromCheckpoint(*target, targetKey ? &*targetKey : nullptr);
        if (!m) {
            std::fprintf(stderr, "ptscope-cli: %s\n", m.error().toString().c_str());
            return kExitUnreadable;
        }
        model = std::move(*m);
    }
    auto sd = sourceFromCheckpoint(**source, sourceKey ? &*sourceKey : nullptr);
    if (!sd) {
        std::fprintf(stderr, "ptscope-cli: %s\n", sd.error().toString().c_str());
        return kExitUnreadable;
    }
    const SourceContext ctx = sourceContext(**source, *sd, *model, rules, sourceArg);
    const DiffReport report = explainDiff(*model, *sd, ctx, rules);
    const std::vector<KeyValueComparison> rows
        = values ? compareLoadedValues(**source, *sd, target.get(), *model, report.outcome, backend.get())
                 : std::vector<KeyValueComparison> {};
    if (json) {
        const std::string out
            = diffJson(**source, *sd, sourceArg, target.get(), targetArg, *model, ctx, report, rules, rows, values, used);
        std::fwrite(out.data(), 1, out.size(), stdout);
    } else {
        printHuman(
            **source, *sd, sourceArg, target.get(), targetArg, *model, ctx, report, rules, rows, used, terminalStyle());
    }
    return std::fflush(stdout) == 0 ? kExitOk : kExitUnreadable;
}

} // namespace ptscope::cli
