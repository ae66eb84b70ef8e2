// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// ptscope-cli report: a shareable document about one checkpoint, or two compared.
#include "cli_common.h"
#include "load_state_dict.h"
#include "report.h"

#include <dlfcn.h>

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace ptscope::core;

namespace ptscope::cli {

namespace {

constexpr const char *kUsage
    = "Usage: ptscope-cli report --format html|pdf|md|json|csv -o OUT [--bins N] [--torch VERSION] FILE [FILE2]\n"
      "\n"
      "Writes a report about FILE: what the file is, its metadata, the globals its pickle references, a\n"
      "summary per module, every tensor with its statistics, histograms of the whole model and of the\n"
      "largest layers. With FILE2 it compares them: model.load_state_dict(torch.load(FILE)) where FILE2\n"
      "stands for the model (as `diff`), with torch's message, causes, fixes, every key's status, value\n"
      "differences and overlaid histograms, followed by both files' reports.\n"
      "\n"
      "  --format F     html (self-contained), pdf, md (Markdown), json (info + stats + diff), csv (one\n"
      "                 row per tensor); default: from OUT's extension\n"
      "  -o, --output   the file to write ('-' writes a text format to stdout)\n"
      "  --bins N       histogram bins per tensor (default 64)\n"
      "  --torch V      load_state_dict rules for comparisons: 2 (default: 2.10 and newer), 2.4 (2.4 to\n"
      "                 2.9), 1.13 (1.x to 2.3), or any MAJOR.MINOR\n";

std::string formatFromExtension(const std::string &out)
{
    const auto dot = out.rfind('.');
    if (dot == std::string::npos)
        return {};
    std::string ext = out.substr(dot + 1);
    for (char &c : ext)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (ext == "htm" || ext == "html" || ext == "xhtml")
        return "html";
    if (ext == "markdown" || ext == "md")
        return "md";
    if (ext == "pdf" || ext == "json" || ext == "csv")
        return ext;
    return {};
}

// Writes `bytes` to `out` through a temporary file renamed into place: never a partial document.
// The PDF writer lives in a plugin (report_pdf_plugin.cpp, linked with Qt Gui) so that no other
// command pays for loading Qt. It sits beside this executable in a build tree, and at
// PTSCOPE_PDF_PLUGIN_RELDIR from it once installed.
bool writePdf(const ReportDocument &doc, const std::string &path, std::string *error)
{
    char self[4096];
    const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    std::string dir = n > 0 ? std::string(self, static_cast<std::size_t>(n)) : std::string();
    dir = dir.substr(0, dir.find_last_of('/') + 1);
    void *plugin = nullptr;
    std::string tried;
    for (const std::string &candidate : {dir + PTSCOPE_PDF_PLUGIN, dir + PTSCOPE_PDF_PLUGIN_RELDIR "/" PTSCOPE_PDF_PLUGIN}) {
        plugin = ::dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (plugin)
            break;
        const char *why = ::dlerror();
        tried += (tried.empty() ? "" : "; ") + std::string(why ? why : candidate.c_str());
    }
    if (!plugin) {
        *error = "the PDF writer (" PTSCOPE_PDF_PLUGIN ") cannot be loaded: " + tried
            + "; the other formats (html, md, json, csv) need no plugin";
        return false;
    }
    using WriteFn = bool (*)(const ReportDocument *, const char *, std::string *);
    auto write = reinterpret_cast<WriteFn>(::dlsym(plugin, "ptscopeWriteReportPdf"));
    if (!write) {
        *error = std::string("the PDF writer ") + PTSCOPE_PDF_PLUGIN + " lacks ptscopeWriteReportPdf";
        return false;
    }
    // The plugin stays loaded: Qt's application object and its plugins outlive this call.
    return write(&doc, path.c_str(), error);
}

bool writeAtomically(const std::string &out, const std::string &bytes, std::string *error)
{
    if (out == "-") {
        const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), stdout) == bytes.size() && std::fflush(stdout) == 0;
        if (!ok)
            *error = "cannot write to stdout";
        return ok;
    }
    const std::string tmp = out + ".partial";
    FILE *f = std::fopen(tmp.c_str(), "wb");
    if (!f) {
        *error = "cannot write " + out + ": " + std::strerror(errno);
        return false;
    }
    const bool written = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
    const bool closed = std::fclose(f) == 0;
    if (!written || !closed || std::rename(tmp.c_str(), out.c_str()) != 0) {
        *error = "cannot write " + out + ": " + std::strerror(errno);
        std::remove(tmp.c_str());
        return false;
    }
    return true;
}

} // namespace

int runReport(const std::vector<std::string> &args)
{
    std::string format, out;
    std::vector<std::string> files;
    ReportOptions options;
    options.generator = std::string("ptscope ") + PTSCOPE_VERSION;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string &a = args[i];
        auto operand = [&](const char *option) -> const std::string * {
            if (i + 1 >= args.size()) {
                std::fprintf(stderr, "ptscope-cli report: %s needs a value\n", option);
                return nullptr;
            }
            return &args[++i];
        };
        if (a == "--format" || a == "-f") {
            const std::string *v = operand("--format");
            if (!v)
                return kExitUsage;
            format = *v == "markdown" ? std::string("md") : *v;
            if (format != "html" && format != "pdf" && format != "md" && format != "json" && format != "csv") {
                std::fprintf(stderr, "ptscope-cli report: --format is html, pdf, md, json or csv (got '%s')\n",
                             v->c_str());
                return kExitUsage;
            }
        } else if (a == "-o" || a == "--output") {
            const std::string *v = operand("-o");
            if (!v)
                return kExitUsage;
            out = *v;
        } else if (a == "--bins") {
            const std::string *v = operand("--bins");
            if (!v)
                return kExitUsage;
            char *end = nullptr;
            errno = 0;
            const unsigned long n = std::strtoul(v->c_str(), &end, 10);
            if (v->empty() || *end || errno || (*v)[0] == '-' || n < 1 || n > 4096) {
                std::fprintf(stderr, "ptscope-cli report: --bins takes a whole number from 1 to 4096 (got '%s')\n",
                             v->c_str());
                return kExitUsage;
            }
            options.bins = static_cast<std::uint32_t>(n);
        } else if (a == "--torch") {
            const std::string *v = operand("--torch");
            if (!v)
                return kExitUsage;
            bool ok = false;
            options.rules = parseTorchRules(*v, &ok);
            if (!ok) {
                std::fprintf(stderr, "ptscope-cli report: --torch takes a torch version such as 1.13, 2.6 or 2 (got '%s')\n", v->c_str());
                return kExitUsage;
            }
        } else if (a == "-h" || a == "--help") {
            std::fputs(kUsage, stdout);
            return kExitOk;
        } else if (!a.empty() && a[0] == '-' && a != "-") {
            std::fprintf(stderr, "ptscope-cli report: unknown option '%s'\n", a.c_str());
            return kExitUsage;
        } else {
            files.push_back(a);
        }
    }
    if (out.empty()) {
        std::fprintf(stderr, "ptscope-cli report: missing -o OUT\n%s", kUsage);
        return kExitUsage;
    }
    if (format.empty())
        format = formatFromExtension(out);
    if (format.empty()) {
        std::fprintf(stderr, "ptscope-cli report: missing --format (html, pdf, md, json or csv)\n");
        return kExitUsage;
    }
    if (files.empty() || files.size() > 2) {
        std::fprintf(stderr, "ptscope-cli report: takes FILE, or FILE and FILE2 to compare (got %zu files)\n",
                     files.size());
        return kExitUsage;
    }
    if (format == "pdf" && out == "-") {
        std::fprintf(stderr, "ptscope-cli report: a PDF needs a file name after -o\n");
        return kExitUsage;
    }

    // Progress on stderr, only for a person watching a terminal.
    int lastPercent = -1;
    if (isatty(STDERR_FILENO))
        options.progress = [&](std::uint64_t done, std::uint64_t total) {
            if (total < (std::uint64_t(1) << 24))
                return true;
            const int percent = static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(total));
            if (percent != lastPercent) {
                lastPercent = percent;
                std::fprintf(stderr, "\rreport: %3d%%", percent);
            }
            return true;
        };
    auto report = buildReport(files, options);
    if (lastPercent >= 0)
        std::fprintf(stderr, "\r              \r");
    if (!report) {
        std::fprintf(stderr, "ptscope-cli: %s\n", report.error().toString().c_str());
        return kExitUnreadable;
    }

    std::string error;
    if (format == "pdf") {
        const std::string tmp = out + ".partial";
        if (writePdf(reportDocument(*report), tmp, &error) && std::rename(tmp.c_str(), out.c_str()) != 0)
            error = "cannot write " + out + ": " + std::strerror(errno);
        if (!error.empty())
            std::remove(tmp.c_str());
    } else {
        std::string bytes;
        if (format == "html")
            bytes = renderHtml(reportDocument(*report));
        else if (format == "md")
            bytes = renderMarkdown(reportDocument(*report));
        else if (format == "json")
            bytes = renderJson(*report);
        else
            bytes = renderCsv(*report);
        writeAtomically(out, bytes, &error);
    }
    if (!error.empty()) {
        std::fprintf(stderr, "ptscope-cli report: %s\n", error.c_str());
        return kExitUnreadable;
    }
    return kExitOk;
}

} // namespace ptscope::cli
