// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "json_writer.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace ptscope::core {

std::string JsonWriter::escape(std::string_view s)
{
    std::string out;
    out.reserve(s.size() + 2);
    out += '"';
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (c < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", c);
                out += buf;
            } else if (c < 0x80) {
                out += static_cast<char>(c);
            } else {
                // Pass valid UTF-8 through; replace invalid bytes so the document stays valid.
                int len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
                bool ok = len > 0 && i + len <= s.size();
                for (int j = 1; ok && j < len; ++j)
                    ok = (static_cast<unsigned char>(s[i + j]) & 0xC0) == 0x80;
                if (ok) {
                    out.append(s.substr(i, len));
                    i += len - 1;
                } else {
                    out += "\\ufffd";
                }
            }
        }
    }
    out += '"';
    return out;
}

void JsonWriter::newline()
{
    if (!m_pretty)
        return;
    m_out += '\n';
    m_out.append(m_first.size() * 2, ' ');
}

void JsonWriter::flush()
{
    if (m_sink && !m_out.empty()) {
        m_sink(m_out);
        m_out.clear();
    }
}

void JsonWriter::separator()
{
    if (m_sink && m_out.size() >= (std::size_t(1) << 20))
        flush();
    if (m_afterKey) {
        m_afterKey = false;
        return;
    }
    if (!m_first.empty()) {
        if (!m_first.back())
            m_out += ',';
        m_first.back() = false;
        newline();
    }
}

JsonWriter &JsonWriter::beginObject()
{
    separator();
    m_out += '{';
    m_first.push_back(true);
    return *this;
}

JsonWriter &JsonWriter::endObject()
{
    const bool empty = m_first.back();
    m_first.pop_back();
    if (!empty)
        newline();
    m_out += '}';
    return *this;
}

JsonWriter &JsonWriter::beginArray()
{
    separator();
    m_out += '[';
    m_first.push_back(true);
    return *this;
}

JsonWriter &JsonWriter::endArray()
{
    const bool empty = m_first.back();
    m_first.pop_back();
    if (!empty)
        newline();
    m_out += ']';
    return *this;
}

JsonWriter &JsonWriter::key(std::string_view k)
{
    separator();
    m_out += escape(k);
    m_out += m_pretty ? ": " : ":";
    m_afterKey = true;
    return *this;
}

JsonWriter &JsonWriter::value(std::string_view s)
{
    separator();
    m_out += escape(s);
    return *this;
}

JsonWriter &JsonWriter::value(bool b)
{
    separator();
    m_out += b ? "true" : "false";
    return *this;
}

JsonWriter &JsonWriter::value(std::int64_t i)
{
    separator();
    m_out += std::to_string(i);
    return *this;
}

JsonWriter &JsonWriter::value(std::uint64_t u)
{
    separator();
    m_out += std::to_string(u);
    return *this;
}

JsonWriter &JsonWriter::value(double d)
{
    if (std::isnan(d))
        return value(std::string_view("nan"));
    if (std::isinf(d))
        return value(std::string_view(d > 0 ? "inf" : "-inf"));
    separator();
    char buf[40];
    for (int precision = 1; precision <= 17; ++precision) {
        std::snprintf(buf, sizeof buf, "%.*g", precision, d);
        if (std::strtod(buf, nullptr) == d)
            break;
    }
    m_out += buf;
    return *this;
}

JsonWriter &JsonWriter::null()
{
    separator();
    m_out += "null";
    return *this;
}

JsonWriter &JsonWriter::stringArray(const std::vector<std::string> &items)
{
    const bool pretty = m_pretty;
    beginArray();
    m_pretty = false; // short arrays stay on one line
    for (const auto &s : items)
        value(s);
    endArray();
    m_pretty = pretty;
    return *this;
}

JsonWriter &JsonWriter::intArray(const std::vector<std::int64_t> &items)
{
    const bool pretty = m_pretty;
    beginArray();
    m_pretty = false;
    for (auto i : items)
        value(i);
    endArray();
    m_pretty = pretty;
    return *this;
}

} // namespace ptscope::core
