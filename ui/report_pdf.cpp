// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "report_pdf.h"

#include "report.h"

#include <QFile>
#include <QFontMetricsF>
#include <QPageSize>
#include <QPainter>
#include <QPainterPath>
#include <QPdfWriter>

#include <algorithm>
#include <cmath>
#include <functional>

namespace ptscope::ui {

namespace {

using core::DocBlock;
using core::DocTable;
using core::ReportDocument;
using core::ReportHistogram;

QString q(const std::string &s)
{
    return QString::fromStdString(s);
}

QColor toneBackground(const std::string &tone)
{
    if (tone == "bad")
        return QColor(0xfd, 0xec, 0xec);
    if (tone == "warn")
        return QColor(0xff, 0xf8, 0xe1);
    if (tone == "ok")
        return QColor(0xed, 0xf7, 0xee);
    return QColor(0xf3, 0xf4, 0xf6);
}

QColor toneAccent(const std::string &tone)
{
    if (tone == "bad")
        return QColor(0xc6, 0x28, 0x28);
    if (tone == "warn")
        return QColor(0xd3, 0x9e, 0x00);
    if (tone == "ok")
        return QColor(0x2e, 0x7d, 0x32);
    return QColor(0x9a, 0xa3, 0xb2);
}

// Points everywhere: the writer runs at 72 dpi, so one device unit is one point.
class PdfLayout
{
public:
    PdfLayout(QPdfWriter &writer, const ReportDocument &doc, QPainter *painter, int totalPages)
        : m_writer(writer)
        , m_doc(doc)
        , m_p(painter)
        , m_totalPages(totalPages)
    {
        const QRectF page(QPointF(0, 0), writer.pageLayout().fullRectPoints().size());
        m_pageHeight = page.height();
        m_body = QRectF(kMargin, kTop, page.width() - 2 * kMargin, page.height() - kTop - kBottom);
        m_sans = QFont(QStringLiteral("DejaVu Sans"));
        m_mono = QFont(QStringLiteral("DejaVu Sans Mono"));
        m_mono.setStyleHint(QFont::Monospace);
    }

    int run()
    {
        startPage();
        for (const DocBlock &b : m_doc.blocks) {
            switch (b.kind) {
            case DocBlock::Kind::Heading: heading(b); break;
            case DocBlock::Kind::Paragraph: paragraph(b); break;
            case DocBlock::Kind::Note: note(b); break;
            case DocBlock::Kind::Code: code(b); break;
            case DocBlock::Kind::Facts: facts(b); break;
            case DocBlock::Kind::Table: table(b.table); break;
            case DocBlock::Kind::Histograms: histograms(b); break;
            }
        }
        return m_page;
    }

private:
    static constexpr double kMargin = 40;
    static constexpr double kTop = 54;
    static constexpr double kBottom = 44;
    static constexpr double kPad = 3;

    QFont font(bool mono, double size, bool bold = false) const
    {
        QFont f = mono ? m_mono : m_sans;
        f.setPointSizeF(size);
        f.setBold(bold);
        // No ligatures: "float32" must come out of the PDF as f-l, not as the "fl" glyph.
        f.setStyleStrategy(QFont::PreferNoShaping);
        return f;
    }
    QFontMetricsF metrics(const QFont &f) const { return QFontMetricsF(f, &m_writer); }
    double textHeight(const QFont &f, double width, const QString &text, int flags) const
    {
        return metrics(f).boundingRect(QRectF(0, 0, width, 1e6), flags, text).height();
    }
    double remaining() const { return m_body.bottom() - m_y; }

    void startPage()
    {
        ++m_page;
        m_y = m_body.top();
        if (!m_p)
            return;
        if (m_page > 1)
            m_writer.newPage();
        const double w = m_body.width();
        m_p->setPen(QColor(0x4a, 0x52, 0x61));
        m_p->setFont(font(false, 8, true));
        const QString title = metrics(font(false, 8, true)).elidedText(q(m_doc.fileNames), Qt::ElideMiddle, w * 0.72);
        m_p->drawText(QRectF(kMargin, 20, w * 0.75, 14), Qt::AlignLeft | Qt::AlignVCenter, title);
        m_p->setFont(font(false, 8));
        m_p->drawText(QRectF(kMargin, 20, w, 14), Qt::AlignRight | Qt::AlignVCenter, QStringLiteral("ptscope report"));
        m_p->setPen(QPen(QColor(0xc9, 0xce, 0xd6), 0.6));
        m_p->drawLine(QPointF(kMargin, 37), QPointF(kMargin + w, 37));
        m_p->setPen(QColor(0x7a, 0x82, 0x92));
        m_p->setFont(font(false, 7.5));
        const double fy = m_pageHeight - 30;
        m_p->drawText(QRectF(kMargin, fy, w, 12), Qt::AlignLeft | Qt::AlignVCenter, q(m_doc.generator));
        m_p->drawText(QRectF(kMargin, fy, w, 12), Qt::AlignRight | Qt::AlignVCenter,
                      QStringLiteral("Page %1 of %2").arg(m_page).arg(m_totalPages));
    }
    // Starts a new page unless `height` fits on this one (a block taller than a page starts at the top).
    void ensure(double height)
    {
        if (height > remaining() && m_y > m_body.top() + 0.5)
            startPage();
    }

    void heading(const DocBlock &b)
    {
        const double size = b.level <= 1 ? 17 : b.level == 2 ? 13 : 10.5;
        const QFont f = font(false, size, true);
        const int flags = Qt::TextWordWrap | Qt::AlignLeft;
        const double gap = m_y > m_body.top() + 0.5 ? (b.level <= 2 ? 14 : 8) : 0;
        const double h = textHeight(f, m_body.width(), q(b.text), flags);
        ensure(gap + h + 60); // keep a heading with what follows it
        m_y += m_y > m_body.top() + 0.5 ? gap : 0;
        if (m_p) {
            m_p->setFont(f);
            m_p->setPen(QColor(0x1d, 0x23, 0x30));
            m_p->drawText(QRectF(m_body.left(), m_y, m_body.width(), h), flags, q(b.text));
            if (b.level == 2) {
                m_p->setPen(QPen(QColor(0xd8, 0xdc, 0xe3), 0.8));
                m_p->drawLine(QPointF(m_body.left(), m_y + h + 2), QPointF(m_body.right(), m_y + h + 2));
            }
        }
        m_y += h + (b.level == 2 ? 7 : 4);
    }

    void paragraph(const DocBlock &b)
    {
        const QFont f = font(false, 9);
        const int flags = Qt::TextWordWrap | Qt::AlignLeft;
        const double h = textHeight(f, m_body.width(), q(b.text), flags);
        ensure(h);
        if (m_p) {
            m_p->setFont(f);
            m_p->setPen(b.tone.empty() ? QColor(0x1d, 0x23, 0x30) : toneAccent(b.tone).darker(130));
            m_p->drawText(QRectF(m_body.left(), m_y, m_body.width(), h), flags, q(b.text));
        }
        m_y += h + 6;
    }

    void note(const DocBlock &b)
    {
        const QFont f = font(false, 9);
        const int flags = Qt::TextWordWrap | Qt::AlignLeft;
        const double inner = m_body.width() - 18;
        const double h = textHeight(f, inner, q(b.text), flags) + 12;
        ensure(h);
        if (m_p) {
            m_p->fillRect(QRectF(m_body.left(), m_y, m_body.width(), h), toneBackground(b.tone));
            m_p->fillRect(QRectF(m_body.left(), m_y, 3.5, h), toneAccent(b.tone));
            m_p->setFont(f);
            m_p->setPen(QColor(0x1d, 0x23, 0x30));
            m_p->drawText(QRectF(m_body.left() + 12, m_y + 6, inner, h - 12), flags, q(b.text));
        }
        m_y += h + 7;
    }

    // Code splits between pages only at line boundaries.
    void code(const DocBlock &b)
    {
        const QFont f = font(true, 7.5);
        const int flags = Qt::TextWrapAnywhere | Qt::AlignLeft;
        const double inner = m_body.width() - 16;
        QString text = q(b.text);
        text.replace(QLatin1Char('\t'), QStringLiteral("    "));
        const QStringList lines = text.split(QLatin1Char('\n'));
        std::vector<double> heights;
        for (const QString &l : lines)
            heights.push_back(std::max(metrics(f).height(), textHeight(f, inner, l.isEmpty() ? QStringLiteral(" ") : l, flags)));
        std::size_t i = 0;
        const auto count = static_cast<std::size_t>(lines.size());
        while (i < count) {
            ensure(heights[i] + 10);
            // As many lines as fit on this page.
            double h = 8;
            std::size_t j = i;
            while (j < count && (h + heights[j] + 4 <= remaining() || j == i)) {
                h += heights[j];
                ++j;
            }
            h += 4;
            if (m_p) {
                m_p->fillRect(QRectF(m_body.left(), m_y, m_body.width(), h), QColor(0xf3, 0xf4, 0xf6));
                m_p->setPen(QPen(QColor(0xdd, 0xe1, 0xe7), 0.6));
                m_p->drawRect(QRectF(m_body.left(), m_y, m_body.width(), h));
                m_p->setFont(f);
                m_p->setPen(QColor(0x1d, 0x23, 0x30));
                double y = m_y + 6;
                for (std::size_t k = i; k < j; ++k) {
                    m_p->drawText(QRectF(m_body.left() + 8, y, inner, heights[k]), flags, lines[static_cast<qsizetype>(k)]);
                    y += heights[k];
                }
            }
            m_y += h;
            i = j;
            if (i < count)
                startPage();
        }
        m_y += 8;
    }

    void facts(const DocBlock &b)
    {
        const QFont lf = font(false, 8.5);
        const QFont vf = font(false, 8.5);
        double labelWidth = 0;
        for (const auto &[k, v] : b.facts)
            labelWidth = std::max(labelWidth, metrics(lf).horizontalAdvance(q(k)));
        labelWidth = std::min(labelWidth + 12, 160.0);
        const double valueWidth = m_body.width() - labelWidth;
        const int flags = Qt::TextWordWrap | Qt::AlignLeft;
        for (const auto &[k, v] : b.facts) {
            const double h = std::max(textHeight(lf, labelWidth - 12, q(k), flags),
                                      textHeight(vf, valueWidth, q(v), flags | Qt::TextWrapAnywhere))
                + 3;
            ensure(h);
            if (m_p) {
                m_p->setFont(lf);
                m_p->setPen(QColor(0x5b, 0x64, 0x75));
                m_p->drawText(QRectF(m_body.left(), m_y, labelWidth - 12, h), flags, q(k));
                m_p->setFont(vf);
                m_p->setPen(QColor(0x1d, 0x23, 0x30));
                m_p->drawText(QRectF(m_body.left() + labelWidth, m_y, valueWidth, h), flags, q(v));
            }
            m_y += h;
        }
        m_y += 6;
    }

    void table(const DocTable &t)
    {
        const std::size_t n = t.columns.size();
        if (n == 0)
            return;
        const double size = n > 8 ? 6.5 : 7.5;
        const QFont hf = font(false, size, true);
        auto cellFont = [&](std::size_t c) { return font(t.mono[c], t.mono[c] ? size - 0.5 : size); };
        // Natural widths (the widest cell of each column), then a common cap so they fit the page:
        // columns narrower than the cap keep their width, wider ones wrap.
        std::vector<double> natural(n, 0);
        for (std::size_t c = 0; c < n; ++c)
            natural[c] = metrics(hf).horizontalAdvance(q(t.columns[c])) + 2 * kPad + 1;
        for (const auto &row : t.rows)
            for (std::size_t c = 0; c < n && c < row.size(); ++c)
                natural[c] = std::max(natural[c], metrics(cellFont(c)).horizontalAdvance(q(row[c].text)) + 2 * kPad + 1);
        const double total = m_body.width();
        std::vector<double> width = natural;
        double sum = 0;
        for (double w : natural)
            sum += w;
        if (sum > total) {
            // Numbers and short words keep their width; text and monospaced columns (keys, shapes)
            // share what is left under a common cap, and wrap. Only if that leaves nothing do all
            // columns share the cap.
            std::vector<bool> wraps(n, false);
            double fixed = 0;
            for (std::size_t c = 0; c < n; ++c) {
                wraps[c] = !t.numeric[c] && (t.mono[c] || natural[c] > 90);
                fixed += wraps[c] ? 0 : natural[c];
            }
            const bool allWrap = fixed > total * 0.8;
            double lo = 0, hi = *std::max_element(natural.begin(), natural.end());
            for (int it = 0; it < 50; ++it) {
                const double cap = (lo + hi) / 2;
                double s = 0;
                for (std::size_t c = 0; c < n; ++c)
                    s += (allWrap || wraps[c]) ? std::min(natural[c], cap) : natural[c];
                (s > total ? hi : lo) = cap;
            }
            for (std::size_t c = 0; c < n; ++c)
                width[c] = (allWrap || wraps[c]) ? std::min(natural[c], lo) : natural[c];
        } else {
            // Spare room goes to the text columns.
            const double spare = total - sum;
            double textSum = 0;
            for (std::size_t c = 0; c < n; ++c)
                textSum += t.numeric[c] ? 0 : natural[c];
            for (std::size_t c = 0; c < n; ++c)
                if (!t.numeric[c] && textSum > 0)
                    width[c] += spare * natural[c] / textSum;
        }
        const int wrap = Qt::TextWrapAnywhere;
        auto rowHeight = [&](const std::vector<std::string> &cells, bool header) {
            double h = 0;
            for (std::size_t c = 0; c < n && c < cells.size(); ++c)
                h = std::max(h, textHeight(header ? hf : cellFont(c), width[c] - 2 * kPad, q(cells[c]), wrap));
            return h + 2 * kPad;
        };
        const double headerHeight = rowHeight(t.columns, true);
        auto drawRow = [&](const std::vector<std::string> &cells, bool header, const std::string &tone, double h) {
            if (!m_p)
                return;
            const QRectF rowRect(m_body.left(), m_y, total, h);
            if (header)
                m_p->fillRect(rowRect, QColor(0xee, 0xf1, 0xf5));
            else if (!tone.empty())
                m_p->fillRect(rowRect, toneBackground(tone));
            double x = m_body.left();
            for (std::size_t c = 0; c < n && c < cells.size(); ++c) {
                m_p->setFont(header ? hf : cellFont(c));
                m_p->setPen(QColor(0x1d, 0x23, 0x30));
                const int align = t.numeric[c] ? Qt::AlignRight : Qt::AlignLeft;
                m_p->drawText(QRectF(x + kPad, m_y + kPad, width[c] - 2 * kPad, h - 2 * kPad), wrap | align | Qt::AlignTop,
                              q(cells[c]));
                x += width[c];
            }
            m_p->setPen(QPen(QColor(0xe3, 0xe6, 0xeb), 0.5));
            m_p->drawLine(rowRect.bottomLeft(), rowRect.bottomRight());
        };
        // The header and at least one row together.
        std::vector<std::string> cells;
        auto texts = [&](const std::vector<core::DocCell> &row) {
            cells.clear();
            for (const core::DocCell &cell : row)
                cells.push_back(cell.text);
            return cells;
        };
        const double firstRow = t.rows.empty() ? 0 : rowHeight(texts(t.rows[0]), false);
        ensure(headerHeight + firstRow);
        drawRow(t.columns, true, {}, headerHeight);
        m_y += headerHeight;
        for (std::size_t r = 0; r < t.rows.size(); ++r) {
            const auto &rowCells = texts(t.rows[r]);
            const double h = rowHeight(rowCells, false);
            if (h > remaining()) {
                startPage();
                drawRow(t.columns, true, {}, headerHeight);
                m_y += headerHeight;
            }
            drawRow(rowCells, false, r < t.rowTone.size() ? t.rowTone[r] : std::string(), h);
            m_y += h;
        }
        m_y += 8;
    }

    void histogram(const ReportHistogram &h, const QRectF &box)
    {
        static const QColor colors[] = {QColor(0x3b, 0x78, 0xc4), QColor(0xe0, 0x7b, 0x39)};
        const QFont small = font(false, 6.5);
        const QFont titleFont = font(true, 7, true);
        const double legend = h.series.size() > 1 ? 11 : 0;
        const QRectF plot(box.left() + 34, box.top() + 4 + legend, box.width() - 40, box.height() - 40 - legend);
        const core::HistogramExtent extent = core::histogramExtent(h);
        const std::uint64_t peak = extent.peak;
        const double lo = extent.lo, hi = extent.hi;
        m_p->fillRect(plot, QColor(0xfa, 0xfb, 0xfc));
        m_p->setPen(QPen(QColor(0xc9, 0xce, 0xd6), 0.5));
        m_p->drawRect(plot);
        for (std::size_t si = 0; si < h.series.size() && si < 2; ++si) {
            const core::Histogram &hist = h.series[si].histogram;
            if (hist.counts.empty() || peak == 0)
                continue;
            QColor c = colors[si];
            c.setAlphaF(h.series.size() > 1 ? 0.55f : 0.85f);
            QPainterPath path;
            const double bw = (hist.max - hist.min) / static_cast<double>(hist.counts.size());
            for (std::size_t i = 0; i < hist.counts.size(); ++i) {
                if (!hist.counts[i])
                    continue;
                const double x0 = plot.left() + (hist.min + bw * double(i) - lo) / (hi - lo) * plot.width();
                const double x1 = plot.left() + (hist.min + bw * double(i + 1) - lo) / (hi - lo) * plot.width();
                const double bh = plot.height() * double(hist.counts[i]) / double(peak);
                path.addRect(QRectF(x0, plot.bottom() - bh, std::max(0.25, x1 - x0), bh));
            }
            m_p->fillPath(path, c);
        }
        m_p->setFont(small);
        m_p->setPen(QColor(0x4a, 0x52, 0x61));
        auto num = [](double v) { return QString::number(v, 'g', 3); };
        const QRectF axis(plot.left(), plot.bottom() + 1, plot.width(), 9);
        m_p->drawText(axis, Qt::AlignLeft | Qt::AlignTop, num(lo));
        m_p->drawText(axis, Qt::AlignHCenter | Qt::AlignTop, num((lo + hi) / 2));
        m_p->drawText(axis, Qt::AlignRight | Qt::AlignTop, num(hi));
        m_p->drawText(QRectF(box.left(), plot.top(), 31, 9), Qt::AlignRight | Qt::AlignTop, QString::number(peak));
        m_p->drawText(QRectF(box.left(), plot.bottom() - 9, 31, 9), Qt::AlignRight | Qt::AlignBottom, QStringLiteral("0"));
        if (h.series.size() > 1) {
            double x = plot.left();
            for (std::size_t si = 0; si < 2; ++si) {
                QColor c = colors[si];
                c.setAlphaF(0.7f);
                m_p->fillRect(QRectF(x, box.top() + 2, 7, 7), c);
                m_p->drawText(QRectF(x + 10, box.top(), plot.width() / 2 - 12, 10), Qt::AlignLeft | Qt::AlignVCenter,
                              metrics(small).elidedText(q(h.series[si].label), Qt::ElideMiddle, plot.width() / 2 - 14));
                x += plot.width() / 2;
            }
        }
        m_p->setFont(titleFont);
        m_p->setPen(QColor(0x1d, 0x23, 0x30));
        m_p->drawText(QRectF(box.left(), plot.bottom() + 12, box.width(), 10), Qt::AlignLeft | Qt::AlignTop,
                      metrics(titleFont).elidedText(q(h.title), Qt::ElideMiddle, box.width()));
        m_p->setFont(small);
        m_p->setPen(QColor(0x5b, 0x64, 0x75));
        m_p->drawText(QRectF(box.left(), plot.bottom() + 23, box.width(), 10), Qt::AlignLeft | Qt::AlignTop,
                      metrics(small).elidedText(q(h.caption), Qt::ElideRight, box.width()));
    }

    // Two per row; a row never splits.
    void histograms(const DocBlock &b)
    {
        const double gap = 16;
        const double w = (m_body.width() - gap) / 2;
        const double h = 150;
        for (std::size_t i = 0; i < b.histograms.size(); i += 2) {
            ensure(h);
            if (m_p)
                for (std::size_t k = i; k < i + 2 && k < b.histograms.size(); ++k)
                    histogram(b.histograms[k], QRectF(m_body.left() + double(k - i) * (w + gap), m_y, w, h));
            m_y += h + 8;
        }
    }

    QPdfWriter &m_writer;
    const ReportDocument &m_doc;
    QPainter *m_p;
    int m_totalPages;
    int m_page = 0;
    double m_y = 0;
    double m_pageHeight = 0;
    QRectF m_body;
    QFont m_sans;
    QFont m_mono;
};

} // namespace

QString writeReportPdf(const core::ReportDocument &doc, const QString &path)
{
    {
        QFile probe(path);
        if (!probe.open(QIODevice::WriteOnly))
            return QObject::tr("cannot write %1: %2").arg(path, probe.errorString());
    }
    QPdfWriter writer(path);
    writer.setResolution(72);
    writer.setPageSize(QPageSize(QPageSize::A4));
    writer.setPageMargins(QMarginsF(0, 0, 0, 0));
    writer.setTitle(q(doc.title));
    writer.setCreator(q(doc.generator));
    // First pass: measure only, to know the page count for the footers.
    const int pages = PdfLayout(writer, doc, nullptr, 0).run();
    QPainter painter;
    if (!painter.begin(&writer))
        return QObject::tr("cannot write the PDF %1").arg(path);
    painter.setRenderHint(QPainter::Antialiasing);
    PdfLayout(writer, doc, &painter, pages).run();
    if (!painter.end())
        return QObject::tr("cannot finish the PDF %1").arg(path);
    return {};
}

} // namespace ptscope::ui
