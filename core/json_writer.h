// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <functional>
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

    // What has been written and not yet handed to the sink (everything when there is no sink).
    const std::string &str() const { return m_out; }

    // Streams the document: from now on, whenever a megabyte or more is waiting, it is passed to
    // `sink` and dropped from str(). flush() passes the rest. A large document (a whole model's
    // object tree runs to tens of megabytes) then never sits in memory whole.
    void setSink(std::function<void(std::string_view)> sink) { m_sink = std::move(sink); }
    void flush();

    static std::string escape(std::string_view s);

private:
    void separator();
    void newline();

    std::string m_out;
    std::function<void(std::string_view)> m_sink;
    std::vector<bool> m_first; // per open container: nothing written yet
    bool m_pretty;
    bool m_afterKey = false;
};

} // namespace ptscope::core
