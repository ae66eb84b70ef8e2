// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "details_formatter.h"

#include "checkpoint.h"
#include "checkpoint_analysis.h"
#include "security_scan.h"
#include "tensor_stats.h"

#include <QLocale>

#include <cmath>
#include <set>

namespace ptscope::ui::details {

namespace {

QString esc(const std::string &s)
{
    return QString::fromStdString(s).toHtmlEscaped();
}

QString row(const QString &label, const QString &valueHtml)
{
    return QStringLiteral("<tr><td style='color:gray; padding-right:14px'>") + label.toHtmlEscaped()
        + QStringLiteral("</td><td>") + valueHtml + QStringLiteral("</td></tr>");
}

QString num(std::uint64_t v)
{
    return QLocale().toString(qulonglong(v));
}

QString real(double v)
{
    return std::isnan(v) ? QStringLiteral("–") : QString::number(v, 'g', 7);
}

QString ints(const std::vector<std::int64_t> &v)
{
    return QString::fromStdString(core::formatShape(v));
}

QString table(const QString &rows)
{
    return QStringLiteral("<table cellspacing=0 cellpadding=1>") + rows + QStringLiteral("</table>");
}

QString heading(const QString &text)
{
    return QStringLiteral("<h3 style='margin-bottom:4px'>") + text.toHtmlEscaped() + QStringLiteral("</h3>");
}

} // namespace

QString tensorName(const core::Checkpoint &cp, std::uint32_t tensor)
{
    for (const auto &e : cp.stateDict.entries) {
        if (e.tensor == std::int32_t(tensor))
            return QString::fromStdString(e.key);
    }
    for (const auto &ref : cp.tensorRefs) {
        if (ref.tensor == tensor)
            return QString::fromStdString(core::joinPath(ref.path));
    }
    return QStringLiteral("tensor #%1").arg(tensor);
}

QString statsHtml(const core::TensorStats &s)
{
    QString rows;
    rows += row(QObject::tr("elements"), num(s.numel));
    rows += row(QObject::tr("finite"), num(s.finiteCount));
    rows += row(QObject::tr("min"), real(s.min));
    rows += row(QObject::tr("max"), real(s.max));
    rows += row(QObject::tr("mean"), real(s.mean));
    rows += row(QObject::tr("std"), real(s.std));
    rows += row(QObject::tr("zeros"), num(s.zeros));
    rows += row(QObject::tr("NaN / +Inf / −Inf"), num(s.nan) + QStringLiteral(" / ") + num(s.posInf)
                    + QStringLiteral(" / ") + num(s.negInf));
    return heading(QObject::tr("Statistics")) + table(rows);
}

QString tensorHtml(const core::Checkpoint &cp, std::uint32_t tensor, const core::TensorStats *stats)
{
    if (tensor >= cp.tensors.size())
        return {};
    const auto &t = cp.tensors[tensor];
    QString rows;
    rows += row(QObject::tr("dtype"), esc(t.dtype));
    rows += row(QObject::tr("shape"), ints(t.shape));
    if (t.layout == "strided") {
        rows += row(QObject::tr("stride"), ints(t.stride));
        rows += row(QObject::tr("storage offset"), num(std::uint64_t(t.storageOffset)));
    }
    rows += row(QObject::tr("layout"), esc(t.layout));
    rows += row(QObject::tr("elements"), num(t.numel));
    rows += row(QObject::tr("size"), esc(core::formatBytes(t.nbytes)) + QStringLiteral(" (") + num(t.nbytes)
                    + QObject::tr(" bytes)"));
    rows += row(QObject::tr("device"), esc(t.device));
    rows += row(QObject::tr("parameter"), t.isParameter ? QObject::tr("yes") : QObject::tr("no"));
    rows += row(QObject::tr("requires_grad"), t.requiresGrad ? QObject::tr("yes") : QObject::tr("no"));
    if (!t.rebuild.empty())
        rows += row(QObject::tr("rebuilt by"), QStringLiteral("<code>") + esc(t.rebuild) + QStringLiteral("</code>"));
    if (!t.subclass.empty())
        rows += row(QObject::tr("class"), esc(t.subclass));
    if (t.quant) {
        const auto &q = *t.quant;
        rows += row(QObject::tr("qscheme"), esc(q.qscheme));
        if (q.axis < 0) {
            rows += row(QObject::tr("scale / zero point"), real(q.scale) + QStringLiteral(" / ")
                            + QString::number(q.zeroPoint));
        } else {
            rows += row(QObject::tr("axis"), QString::number(q.axis));
        }
    }
    if (!t.problem.empty())
        rows += row(QObject::tr("problem"), QStringLiteral("<b style='color:#d9534f'>") + esc(t.problem)
                        + QStringLiteral("</b>"));
    QString paths;
    for (const auto &ref : cp.tensorRefs) {
        if (ref.tensor == tensor)
            paths += QStringLiteral("<code>") + esc(core::joinPath(ref.path)) + QStringLiteral("</code><br>");
    }
    if (!paths.isEmpty())
        rows += row(QObject::tr("reached at"), paths);

    QString html = heading(tensorName(cp, tensor)) + table(rows);
    if (t.storage >= 0 && std::size_t(t.storage) < cp.storages.size()) {
        const auto &st = cp.storages[std::size_t(t.storage)];
        QString srows;
        srows += row(QObject::tr("key"), esc(st.key));
        srows += row(QObject::tr("dtype"), esc(st.dtype));
        srows += row(QObject::tr("location"), esc(st.location));
        srows += row(QObject::tr("elements"), num(st.numel));
        srows += row(QObject::tr("size"), esc(core::formatBytes(st.nbytes)));
        srows += row(QObject::tr("record"), QStringLiteral("<code>") + esc(st.record) + QStringLiteral("</code>"));
        if (st.dataOffset)
            srows += row(QObject::tr("file offset"), num(*st.dataOffset));
        if (!st.shard.empty())
            srows += row(QObject::tr("shard"), esc(st.shard));
        if (!st.problem.empty())
            srows += row(QObject::tr("problem"), QStringLiteral("<b style='color:#d9534f'>") + esc(st.problem)
                             + QStringLiteral("</b>"));
        QString partners;
        for (std::uint32_t other : st.tensors) {
            if (other != tensor)
                partners += QStringLiteral("<code>") + tensorName(cp, other).toHtmlEscaped()
                    + QStringLiteral("</code><br>");
        }
        srows += row(QObject::tr("shared with"), partners.isEmpty() ? QObject::tr("no other tensor") : partners);
        html += heading(QObject::tr("Storage")) + table(srows);
    }
    if (stats)
        html += statsHtml(*stats);
    else
        html += QStringLiteral("<p><i>") + QObject::tr("Statistics are being computed…") + QStringLiteral("</i></p>");
    return html;
}

QString groupHtml(const core::Checkpoint &cp, const QString &key, const std::vector<std::uint32_t> &tensors,
                  const QString &dtypeMix, const core::TensorStats *stats)
{
    std::uint64_t params = 0;
    std::uint64_t bytes = 0;
    std::set<std::string> devices;
    for (std::uint32_t t : tensors) {
        params += cp.tensors[t].numel;
        bytes += cp.tensors[t].nbytes;
        devices.insert(cp.tensors[t].device);
    }
    QStringList deviceList;
    for (const auto &d : devices)
        deviceList << QString::fromStdString(d);
    QString rows;
    rows += row(QObject::tr("tensors"), num(tensors.size()));
    rows += row(QObject::tr("parameters"), num(params));
    rows += row(QObject::tr("size"), esc(core::formatBytes(bytes)));
    rows += row(QObject::tr("dtypes"), dtypeMix.toHtmlEscaped());
    rows += row(QObject::tr("devices"), deviceList.join(QStringLiteral(", ")).toHtmlEscaped());
    QString html = heading(key.isEmpty() ? QObject::tr("state_dict") : key) + table(rows);
    if (stats)
        html += statsHtml(*stats);
    return html;
}

QString valueHtml(const core::Checkpoint &cp, core::ValueId value, const QString &path)
{
    if (!cp.arena.valid(value))
        return {};
    QString html = heading(path.isEmpty() ? QObject::tr("(root)") : path);
    html += QStringLiteral("<p>") + esc(core::valueSummary(cp, value)) + QStringLiteral("</p>");
    const auto &v = cp.arena[value];
    if (v.kind == core::ValueKind::String || v.kind == core::ValueKind::BigInt) {
        html += QStringLiteral("<pre>") + esc(v.text.substr(0, 4000)) + QStringLiteral("</pre>");
    }
    const auto children = core::valueChildren(cp, value);
    if (!children.empty()) {
        QString rows;
        std::size_t shown = 0;
        for (const auto &[label, child] : children) {
            if (++shown > 300) {
                rows += row(QStringLiteral("…"), QObject::tr("%1 more").arg(children.size() - 300));
                break;
            }
            rows += row(QString::fromStdString(label), esc(core::valueSummary(cp, child)));
        }
        html += heading(QObject::tr("Contents")) + table(rows);
    }
    return html;
}

QString fileHtml(const core::Checkpoint &cp)
{
    QString rows;
    rows += row(QObject::tr("format"), esc(core::formatName(cp.format)));
    rows += row(QObject::tr("size"), esc(core::formatBytes(cp.fileSize)));
    if (!cp.archiveName.empty())
        rows += row(QObject::tr("archive folder"), esc(cp.archiveName));
    if (cp.pickleProtocol)
        rows += row(QObject::tr("pickle protocol"), QString::number(cp.pickleProtocol));
    if (!cp.writerHint.empty())
        rows += row(QObject::tr("written by"), esc(cp.writerHint));
    rows += row(QObject::tr("tensors"), num(cp.tensors.size()));
    rows += row(QObject::tr("storages"), num(cp.storages.size()));
    if (cp.stateDict.found)
        rows += row(QObject::tr("state_dict"), esc(cp.stateDict.source));
    QString html = heading(QString::fromStdString(cp.path)) + table(rows);
    if (!cp.metadata.empty()) {
        QString mrows;
        for (const auto &m : cp.metadata)
            mrows += row(QString::fromStdString(m.label), esc(m.value));
        html += heading(QObject::tr("Metadata")) + table(mrows);
    }
    return html;
}

SecurityBanner securityBanner(const core::Checkpoint &cp)
{
    const core::SecurityReport &scan = core::securityReport(cp);
    SecurityBanner b;
    if (scan.verdict == core::Verdict::Safe)
        return b;
    b.level = QString::fromLatin1(core::verdictName(scan.verdict));
    b.headline = scan.verdict == core::Verdict::Dangerous
        ? QObject::tr("Dangerous: torch.load(weights_only=False) on this file would run what is listed here. "
                      "ptscope only reads it; do not load it with torch.")
        : scan.fullyRead
        ? QObject::tr("This file holds more than plain tensors and data. ptscope only reads it; "
                      "torch.load would import and run what it names.")
        : QObject::tr("Part of this file could not be read, so it cannot be called safe. ptscope only reads it.");
    for (const core::SecurityFinding &f : scan.findings)
        b.lines << QStringLiteral("%1 — %2 (%3)")
                       .arg(QString::fromStdString(core::findingTitle(f)), QString::fromStdString(f.what),
                            QString::fromStdString(core::findingWhere(f)));
    if (scan.omittedFindings)
        b.lines << QObject::tr("and %1 further findings").arg(scan.omittedFindings);
    b.weightsOnly = QObject::tr("torch ≥ 2.6's default torch.load (weights_only=True): %1")
                        .arg(QString::fromStdString(core::weightsOnlySummary(scan.torch26)));
    return b;
}

} // namespace ptscope::ui::details
