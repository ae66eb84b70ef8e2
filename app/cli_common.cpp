// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "cli_common.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace ptscope::cli {

Style terminalStyle()
{
    Style s;
    s.color = isatty(STDOUT_FILENO) && !std::getenv("NO_COLOR");
    return s;
}

std::string pad(std::string s, std::size_t width)
{
    if (s.size() < width)
        s.append(width - s.size(), ' ');
    return s;
}

std::string withThousands(std::uint64_t v)
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

void printTable(const std::vector<std::vector<std::string>> &rows, const Style &style)
{
    if (rows.empty())
        return;
    std::vector<std::size_t> widths(rows[0].size(), 0);
    for (const auto &r : rows)
        for (std::size_t c = 0; c < r.size(); ++c)
            widths[c] = std::max(widths[c], r[c].size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
        std::string line = "  ";
        for (std::size_t c = 0; c < rows[i].size(); ++c) {
            const bool last = c + 1 == rows[i].size();
            line += last ? rows[i][c] : pad(rows[i][c], widths[c] + 2);
        }
        if (i == 0)
            std::printf("%s%s%s\n", style.dim(), line.c_str(), style.reset());
        else
            std::printf("%s\n", line.c_str());
    }
}

} // namespace ptscope::cli
