// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

// Shared by the ptscope-cli commands: exit codes, terminal styling, aligned tables.
#include <cstdint>
#include <string>
#include <vector>

namespace ptscope::cli {

constexpr int kExitOk = 0;
constexpr int kExitUnreadable = 1;
constexpr int kExitUsage = 2;
constexpr int kExitDangerous = 3;

struct Style
{
    bool color = false;
    const char *bold() const { return color ? "\033[1m" : ""; }
    const char *dim() const { return color ? "\033[2m" : ""; }
    const char *yellow() const { return color ? "\033[33m" : ""; }
    const char *red() const { return color ? "\033[31m" : ""; }
    const char *green() const { return color ? "\033[32m" : ""; }
    const char *reset() const { return color ? "\033[0m" : ""; }
};

// Colour only when stdout is a terminal and NO_COLOR is unset.
Style terminalStyle();

std::string pad(std::string s, std::size_t width);
std::string withThousands(std::uint64_t v);
// First row is the header; columns are aligned to their widest cell.
void printTable(const std::vector<std::vector<std::string>> &rows, const Style &style);

// Each command: argv after the command name; returns the exit code.
int runInfo(const std::vector<std::string> &args);
int runStats(const std::vector<std::string> &args);
int runDiff(const std::vector<std::string> &args);
int runReport(const std::vector<std::string> &args);
int runScan(const std::vector<std::string> &args);

} // namespace ptscope::cli
