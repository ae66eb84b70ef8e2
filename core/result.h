// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace ptscope::core {

// Stable error codes: tests and front ends switch on these, never on message text.
enum class ErrorCode {
    FileNotFound,
    NotRegularFile,
    ReadFailed,
    EmptyFile,
    TooShort,
    UnknownFormat,
    GitLfsPointer,
    HtmlPage,
    Truncated,
    CorruptZip,
    UnsupportedZipFeature,
    UnsupportedFormat,
    MissingRecord,
    BadRecord,
    PickleError,
    BudgetExceeded,
    InvalidTensor,
    Cancelled,
};

const char *errorCodeName(ErrorCode code);

// What went wrong, in which file, and where inside it.
struct Error
{
    ErrorCode code = ErrorCode::ReadFailed;
    std::string message;                 // one sentence: what is wrong
    std::string path;                    // the file on disk
    std::string where;                   // archive member or pickle name ("archive/data.pkl"), may be empty
    std::optional<std::uint64_t> offset; // byte offset inside `where` (or the file when `where` is empty)
    std::string hint;                    // what the user can do, may be empty

    // "PATH: MESSAGE (in WHERE at byte N). HINT" on one line.
    std::string toString() const;
};

// A non-fatal finding collected while reading (unknown dtype, CRC mismatch, ...).
struct Warning
{
    std::string message;
    std::string where;
    std::optional<std::uint64_t> offset;

    std::string toString() const;
};

// Small expected-type: std::expected is C++23. Core functions never throw across their API.
template<typename T>
class [[nodiscard]] Result
{
public:
    Result(T value)
        : m_data(std::in_place_index<0>, std::move(value))
    {
    }
    Result(Error error)
        : m_data(std::in_place_index<1>, std::move(error))
    {
    }

    bool ok() const { return m_data.index() == 0; }
    explicit operator bool() const { return ok(); }

    T &value() & { return std::get<0>(m_data); }
    const T &value() const & { return std::get<0>(m_data); }
    T &&value() && { return std::get<0>(std::move(m_data)); }
    T &operator*() & { return value(); }
    const T &operator*() const & { return value(); }
    T *operator->() { return &value(); }
    const T *operator->() const { return &value(); }

    const Error &error() const { return std::get<1>(m_data); }
    Error &error() { return std::get<1>(m_data); }

private:
    std::variant<T, Error> m_data;
};

struct Ok
{
};
using Status = Result<Ok>;

inline Error makeError(ErrorCode code, std::string message, std::string where = {},
                       std::optional<std::uint64_t> offset = std::nullopt, std::string hint = {})
{
    Error e;
    e.code = code;
    e.message = std::move(message);
    e.where = std::move(where);
    e.offset = offset;
    e.hint = std::move(hint);
    return e;
}

} // namespace ptscope::core
