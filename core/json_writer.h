// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ptscope::core {

// A streaming JSON writer: keys keep the order they are written in (QJsonObject would sort
// them), 64-bit integers stay exact, and non-finite floats become strings ("nan", "inf").
class JsonWriter final
{
public:
    explicit JsonWriter(bool pretty = true)
        : m_pretty(pretty)
    {
    }

    JsonWriter &beginObject();
    JsonWriter &endObject();
    JsonWriter &beginArray();
    JsonWriter &endArray();
    JsonWriter &key(std::string_view k);

    JsonWriter &value(std::string_view s);
    JsonWriter &value(const char *s) { return value(std::string_view(s)); }
    JsonWriter &value(const std::string &s) { return value(std::string_view(s)); }
    JsonWriter &value(bool b);
    JsonWriter &value(std::int64_t i);
    JsonWriter &value(std::uint64_t u);
    JsonWriter &value(int i) { return value(static_cast<std::int64_t>(i)); }
    JsonWriter &value(double d);
    JsonWriter &null();

    template<typename T>
    JsonWriter &field(std::string_view k, const T &v)
    {
        key(k);
        return value(v);
    }
    JsonWriter &stringArray(const std::vector<std::string> &items);
    JsonWriter &intArray(const std::vector<std::int64_t> &items);

    const std::string &str() const { return m_out; }

    static std::string escape(std::string_view s);

private:
    void separator();
    void newline();

    std::string m_out;
    std::vector<bool> m_first; // per open container: nothing written yet
    bool m_pretty;
    bool m_afterKey = false;
};

} // namespace ptscope::core
