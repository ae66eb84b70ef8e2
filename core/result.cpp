// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "result.h"

namespace ptscope::core {

const char *errorCodeName(ErrorCode code)
{
    switch (code) {
    case ErrorCode::FileNotFound: return "file-not-found";
    case ErrorCode::NotRegularFile: return "not-regular-file";
    case ErrorCode::ReadFailed: return "read-failed";
    case ErrorCode::EmptyFile: return "empty-file";
    case ErrorCode::TooShort: return "too-short";
    case ErrorCode::UnknownFormat: return "unknown-format";
    case ErrorCode::GitLfsPointer: return "git-lfs-pointer";
    case ErrorCode::HtmlPage: return "html-page";
    case ErrorCode::Truncated: return "truncated";
    case ErrorCode::CorruptZip: return "corrupt-zip";
    case ErrorCode::UnsupportedZipFeature: return "unsupported-zip-feature";
    case ErrorCode::UnsupportedFormat: return "unsupported-format";
    case ErrorCode::MissingRecord: return "missing-record";
    case ErrorCode::BadRecord: return "bad-record";
    case ErrorCode::PickleError: return "pickle-error";
    case ErrorCode::BudgetExceeded: return "budget-exceeded";
    case ErrorCode::InvalidTensor: return "invalid-tensor";
    case ErrorCode::Cancelled: return "cancelled";
    }
    return "unknown";
}

static std::string location(const std::string &where, const std::optional<std::uint64_t> &offset)
{
    std::string s;
    if (!where.empty())
        s += "in " + where;
    if (offset) {
        if (!s.empty())
            s += ' ';
        s += "at byte " + std::to_string(*offset);
    }
    return s;
}

std::string Error::toString() const
{
    std::string s;
    if (!path.empty())
        s += path + ": ";
    s += message;
    const std::string loc = location(where, offset);
    if (!loc.empty())
        s += " (" + loc + ")";
    if (!hint.empty()) {
        if (!s.empty() && s.back() != '.')
            s += '.';
        s += ' ' + hint;
    }
    return s;
}

std::string Warning::toString() const
{
    std::string s = message;
    const std::string loc = location(where, offset);
    if (!loc.empty())
        s += " (" + loc + ")";
    return s;
}

} // namespace ptscope::core
