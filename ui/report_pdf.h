// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include <QString>

namespace ptscope::core {
struct ReportDocument;
}

namespace ptscope::ui {

// Lays out a report document on A4 pages with QPdfWriter + QPainter: vector text and histograms,
// a header with the file name(s) and a "page N of M" footer on every page, tables whose header row
// repeats on each page and whose rows are never cut between pages. Needs a QGuiApplication (the
// offscreen platform is enough); runs on any thread. Returns an empty string on success, else why not.
QString writeReportPdf(const core::ReportDocument &doc, const QString &path);

} // namespace ptscope::ui
