// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// ptscope-cli scan: is it safe to torch.load? Nothing in the file is ever executed.
#include "checkpoint.h"
#include "cli_common.h"
#include "json_writer.h"
#include "security_scan.h"

#include <cstdio>
#include <string>
#include <vector>

using namespace ptscope::core;

namespace ptscope::cli {

namespace {

std::string joinList(const std::vector<std::string> &items)
{
    std::string s;
    for (std::size_t i = 0; i < items.size(); ++i)
        s += (i ? ", " : "") + items[i];
    return s;
}

void printWeightsOnly(const char *title, const WeightsOnlyCheck &c, const Style &s)
{
    std::printf("  %s: ", title);
    if (!c.applicable)
        std::printf("not applicable: %s\n", c.reason.c_str());
    else if (c.accepted)
        std::printf("%saccepted%s\n", s.green(), s.reset());
    else
        std::printf("%srefused%s: %s\n", s.yellow(), s.reset(), c.reason.c_str());
    if (!c.addSafeGlobals.empty()) {
        std::printf("    %s: torch.serialization.add_safe_globals([%s])\n",
                    c.fixableByAllowlisting ? "loads after" : "would still need more than", joinList(c.addSafeGlobals).c_str());
    }
    if (!c.neverAcceptable.empty())
        std::printf("    never allowlist: %s\n", joinList(c.neverAcceptable).c_str());
    if (!c.note.empty())
        std::printf("    %s%s%s\n", s.dim(), c.note.c_str(), s.reset());
}

void printReport(const std::string &file, const SecurityReport &r, const Style &s)
{
    const char *colour = r.verdict == Verdict::Dangerous ? s.red() : r.verdict == Verdict::Suspicious ? s.yellow()
                                                                                                      : s.green();
    std::string verdict = verdictName(r.verdict);
    for (char &c : verdict)
        c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
    std::printf("%s%s%s: %s%s%s%s\n", s.bold(), file.c_str(), s.reset(), s.bold(), colour, verdict.c_str(), s.reset());
    switch (r.verdict) {
    case Verdict::Safe:
        std::printf("  Only what torch's weights-only loader allows by default; every pickle was read to the end.\n");
        break;
    case Verdict::Suspicious:
        std::printf("  Loading needs code beyond torch (and runs it), or part of the file could not be checked.\n");
        break;
    case Verdict::Dangerous:
        std::printf("  Loading this file with torch.load(weights_only=False) or pickle would do what is listed below.\n"
                    "  Do not load it.\n");
        break;
    }
    if (!r.findings.empty())
        std::printf("\n%sFindings%s\n", s.bold(), s.reset());
    for (const SecurityFinding &f : r.findings) {
        const char *c = f.severity == Verdict::Dangerous ? s.red() : f.severity == Verdict::Suspicious ? s.yellow()
                                                                                                      : s.dim();
        std::printf("  %s%-10s%s %s\n", c, verdictName(f.severity), s.reset(), findingTitle(f).c_str());
        const std::string where = findingWhere(f);
        std::printf("             %s\n             %s%s%s\n", where.c_str(), s.dim(), f.what.c_str(), s.reset());
    }
    if (r.omittedFindings)
        std::printf("  ... %llu more findings not listed\n", static_cast<unsigned long long>(r.omittedFindings));
    std::printf("\n%sweights_only=True%s\n", s.bold(), s.reset());
    printWeightsOnly("torch >= 2.6 (the default)", r.torch26, s);
    printWeightsOnly("torch 1.13", r.torch113, s);
    std::printf("\n%sPickles read: %zu%s\n", s.dim(), r.pickles.size(), s.reset());
}

} // namespace

int runScan(const std::vector<std::string> &args)
{
    bool json = false;
    std::string file;
    for (const std::string &a : args) {
        if (a == "--json") {
            json = true;
        } else if (a == "-h" || a == "--help") {
            std::printf("Usage: ptscope-cli scan [--json] FILE\n"
                        "Exit codes: 0 safe or suspicious, 1 unreadable (or not fully read), 2 usage, 3 dangerous.\n");
            return kExitOk;
        } else if (!a.empty() && a[0] == '-' && a != "-") {
            std::fprintf(stderr, "ptscope-cli scan: unknown option '%s'\n", a.c_str());
            return kExitUsage;
        } else if (file.empty()) {
            file = a;
        } else {
            std::fprintf(stderr, "ptscope-cli scan: takes one FILE (got '%s' and '%s')\n", file.c_str(), a.c_str());
            return kExitUsage;
        }
    }
    if (file.empty()) {
        std::fprintf(stderr, "ptscope-cli scan: missing FILE\n");
        return kExitUsage;
    }
    auto report = scanFile(file);
    if (!report) {
        std::fprintf(stderr, "ptscope-cli: %s\n", report.error().toString().c_str());
        return kExitUnreadable;
    }
    const SecurityReport &r = *report;
    if (json) {
        JsonWriter w(true);
        writeSecurityJson(w, r, file);
        std::string out = w.str();
        out += '\n';
        std::fwrite(out.data(), 1, out.size(), stdout);
    } else {
        printReport(file, r, terminalStyle());
    }
    if (std::fflush(stdout) != 0)
        return kExitUnreadable;
    if (r.verdict == Verdict::Dangerous)
        return kExitDangerous;
    if (!r.fullyRead) {
        // One line: the most precise place where reading stopped (one with a byte offset, if any).
        const SecurityFinding *stop = nullptr;
        for (const SecurityFinding &f : r.findings)
            if (f.kind == FindingKind::NotFullyRead && (!stop || (!stop->offset && f.offset)))
                stop = &f;
        if (stop) {
            const std::string at = stop->offset ? " at byte " + std::to_string(*stop->offset) : std::string();
            std::fprintf(stderr, "ptscope-cli: %s: not fully read (%s%s): %s\n", file.c_str(), stop->pickle.c_str(),
                         at.c_str(), stop->what.c_str());
        }
        return kExitUnreadable;
    }
    return kExitOk;
}

} // namespace ptscope::cli
