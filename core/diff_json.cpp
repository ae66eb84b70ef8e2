// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "diff_json.h"

#include "json_writer.h"

#include <memory>

namespace ptscope::core {

namespace {

void writeOutcomeCore(JsonWriter &w, const LoadOutcome &o)
{
    w.field("strict_ok", o.strictOk());
    w.field("torch_header", o.typeError || o.exception ? std::string() : o.header);
    w.key("torch_message").stringArray(o.strictMessages());
    w.key("missing_keys").stringArray(o.missingKeys);
    w.key("unexpected_keys").stringArray(o.unexpectedKeys);
    w.field("non_strict_ok", o.nonStrictOk());
    w.key("non_strict_message").stringArray(o.nonStrictMessages());
}

} // namespace

std::vector<KeyValueComparison> compareLoadedValues(const Checkpoint &source, const SourceStateDict &sd, const Checkpoint *target,
    const ModelStructure &model, const LoadOutcome &o, HistogramBackend *backend)
{
    std::vector<KeyValueComparison> rows;
    if (!target)
        return rows;
    std::unique_ptr<HistogramBackend> own;
    if (!backend) {
        own = makeCpuHistogramBackend();
        backend = own.get();
    }
    for (const LoadedTensor &l : o.loaded) {
        if (l.sourceEntry < 0 || l.firstElementOnly)
            continue;
        const SourceEntry &e = sd.entries[static_cast<std::size_t>(l.sourceEntry)];
        const ModuleSlot &slot
            = model.modules[static_cast<std::size_t>(l.module)].slots[static_cast<std::size_t>(l.slot)];
        if (e.tensor < 0 || slot.tensor < 0)
            continue;
        KeyValueComparison row;
        row.key = l.key;
        auto r = compareTensorValues(
            source, static_cast<std::uint32_t>(e.tensor), *target, static_cast<std::uint32_t>(slot.tensor), backend);
        if (r)
            row.cmp = *r;
        else
            row.problem = r.error().message;
        rows.push_back(std::move(row));
    }
    return rows;
}

std::string diffTargetKind(const Checkpoint *cp, const ModelStructure &m)
{
    if (!cp)
        return "manifest";
    if (cp->format == FileFormat::TorchScript)
        return "torchscript";
    return m.classesKnown ? "whole_model" : "state_dict";
}

std::string diffJson(const Checkpoint &source, const SourceStateDict &sd, const std::string &sourceArg,
    const Checkpoint *target, const std::string &targetArg, const ModelStructure &model, const SourceContext &ctx,
    const DiffReport &report, TorchRules rules, const std::vector<KeyValueComparison> &values, bool valuesRequested,
    const ValuesBackend &valuesBackend)
{
    const LoadOutcome &o = report.outcome;
    JsonWriter w;
    w.beginObject();
    w.key("source").beginObject();
    w.field("file", sourceArg);
    w.field("format", formatName(source.format));
    w.key("state_dict_path").stringArray(sd.path);
    w.field("keys", static_cast<std::uint64_t>(sd.entries.size()));
    w.field("has_metadata", sd.hasMetadata);
    w.endObject();
    w.key("target").beginObject();
    w.field("file", targetArg);
    w.field("kind", diffTargetKind(target, model));
    w.field("origin", model.origin);
    w.field("class", model.modules.empty() ? std::string() : model.modules[0].className);
    w.field("keys", static_cast<std::uint64_t>(report.targetKeys));
    w.endObject();
    w.field("torch_rules", torchRulesId(rules));
    writeOutcomeCore(w, o);
    w.key("size_mismatches").beginArray();
    for (const SizeMismatch &m : o.sizeMismatches) {
        w.beginObject().field("key", m.key);
        w.key("source_shape").intArray(m.sourceShape);
        w.key("target_shape").intArray(m.targetShape);
        w.endObject();
    }
    w.endArray();
    w.key("dtype_differences").beginArray();
    for (const DtypeDifference &d : o.dtypeDifferences)
        w.beginObject()
            .field("key", d.key)
            .field("source_dtype", d.sourceDtype)
            .field("target_dtype", d.targetDtype)
            .endObject();
    w.endArray();
    w.field("loaded", static_cast<std::uint64_t>(o.loadedFromSource()));
    w.key("ignored_keys").stringArray(o.ignoredKeys);
    w.key("filled_in").stringArray(o.filledIn);
    if (ctx.wholeFile) {
        w.key("whole_file").beginObject();
        w.field("accessor", ctx.accessor);
        writeOutcomeCore(w, *ctx.wholeFile);
        w.endObject();
    }
    w.key("causes").beginArray();
    for (const DiffCause &c : report.causes) {
        w.beginObject().field("kind", c.kind).field("title", c.title).field("explanation", c.explanation);
        w.key("keys").stringArray(c.keys);
        w.endObject();
    }
    w.endArray();
    w.key("suggestions").beginArray();
    for (const DiffSuggestion &s : report.suggestions) {
        w.beginObject().field("kind", s.kind).field("title", s.title).field("explanation", s.explanation);
        w.field("code", s.code);
        w.field("verified", s.verified);
        if (s.verified) {
            w.field("strict_ok_after", s.strictOkAfter).field("non_strict_ok_after", s.nonStrictOkAfter);
            w.field("loaded_after", static_cast<std::uint64_t>(s.loadedAfter));
            w.key("missing_after").stringArray(s.missingAfter);
            w.key("unexpected_after").stringArray(s.unexpectedAfter);
        }
        w.endObject();
    }
    w.endArray();
    w.key("values").beginArray();
    for (const KeyValueComparison &v : values) {
        w.beginObject().field("key", v.key);
        if (v.cmp) {
            w.field("numel", v.cmp->numel);
            w.field("max_abs_diff", v.cmp->maxAbsDiff);
            w.field("mean_abs_diff", v.cmp->meanAbsDiff);
            w.field("rel_l2", v.cmp->relativeL2);
            w.field("cosine_similarity", v.cmp->cosine);
            w.field("differing", v.cmp->differing);
            w.field("allclose", v.cmp->allclose);
            w.field("identical", v.cmp->identical);
        } else {
            w.field("problem", v.problem);
        }
        w.endObject();
    }
    w.endArray();
    if (!valuesRequested)
        w.field("values_skipped", "--no-values");
    else if (!target)
        w.field("values_skipped", "the target is a manifest: it holds no values");
    else if (!valuesBackend.name.empty()) {
        w.field("values_backend", valuesBackend.name);
        if (!valuesBackend.reason.empty())
            w.field("values_backend_reason", valuesBackend.reason);
    }
    w.key("notes").stringArray(loadNotes(model, o));
    w.endObject();
    return w.str() + "\n";
}

} // namespace ptscope::core
