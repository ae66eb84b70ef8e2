// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "format_sniff.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace ptscope::core {

namespace {

// A legacy torch.save stream opens with the pickle of the magic number 0x1950a86a20f9469cfc6c, at
// the protocol torch.save was given (pickle_protocol: 2 by default, 1 to 5 load again):
//   2, 3: PROTO n, LONG1 of 10 bytes, STOP
//   4, 5: PROTO n, FRAME of 13 bytes, LONG1 of 10 bytes, STOP
//   1:    LONG "119547037146038801333356L", STOP (the text form of protocols 0 and 1)
std::vector<std::string> legacyMagics()
{
    const std::string number("\x8A\x0A\x6C\xFC\x9C\x46\xF9\x20\x6A\xA8\x50\x19\x2E", 13);
    std::vector<std::string> out;
    for (char proto = 2; proto <= 5; ++proto) {
        std::string m{'\x80', proto};
        if (proto >= 4)
            m += std::string("\x95\x0D\0\0\0\0\0\0\0", 9);
        out.push_back(m + number);
    }
    out.emplace_back("L119547037146038801333356L\n.");
    return out;
}

bool startsWith(std::span<const std::uint8_t> b, std::string_view s)
{
    return b.size() >= s.size() && std::memcmp(b.data(), s.data(), s.size()) == 0;
}

std::string hexPrefix(std::span<const std::uint8_t> b)
{
    static const char digits[] = "0123456789abcdef";
    std::string s;
    for (std::size_t i = 0; i < b.size() && i < 8; ++i) {
        if (i)
            s += ' ';
        s += digits[b[i] >> 4];
        s += digits[b[i] & 15];
    }
    return s;
}

std::string lowerHead(std::span<const std::uint8_t> b, std::size_t n)
{
    std::string s;
    std::size_t i = 0;
    // Skip a UTF-8 byte-order mark and leading whitespace.
    if (b.size() >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF)
        i = 3;
    while (i < b.size() && std::isspace(b[i]))
        ++i;
    for (; i < b.size() && s.size() < n; ++i)
        s += static_cast<char>(std::tolower(b[i]));
    return s;
}

Sniff refuse(ErrorCode code, std::string message, std::string hint, std::optional<std::uint64_t> offset = {})
{
    Sniff s;
    s.container = Container::Refused;
    s.error = makeError(code, std::move(message), {}, offset, std::move(hint));
    return s;
}

std::string lfsSize(std::span<const std::uint8_t> b)
{
    const std::string text(reinterpret_cast<const char *>(b.data()), std::min<std::size_t>(b.size(), 1024));
    const auto pos = text.find("\nsize ");
    if (pos == std::string::npos)
        return {};
    std::string digits;
    for (std::size_t i = pos + 6; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i)
        digits += text[i];
    return digits;
}

bool isTar(std::span<const std::uint8_t> b)
{
    return b.size() >= 262 && std::memcmp(b.data() + 257, "ustar", 5) == 0;
}

} // namespace

Sniff sniffFormat(std::span<const std::uint8_t> b)
{
    if (b.empty())
        return refuse(ErrorCode::EmptyFile, "the file is empty (0 bytes)",
                      "It was probably not written completely or the download failed: save or download it again.");
    if (startsWith(b, "PK\x03\x04") || startsWith(b, "PK\x05\x06"))
        return {Container::Zip, {}};
    static const std::vector<std::string> kLegacyMagics = legacyMagics();
    for (const std::string &m : kLegacyMagics) {
        if (startsWith(b, m))
            return {Container::Legacy, {}};
        if (b.size() < m.size() && std::memcmp(b.data(), m.data(), b.size()) == 0 && (b.size() > 1 || b[0] != 'L'))
            return refuse(ErrorCode::Truncated,
                          "the file ends after " + std::to_string(b.size())
                              + " bytes, inside the magic number of a legacy torch.save checkpoint",
                          "The file is truncated: download or copy it again.", b.size());
    }
    if (startsWith(b, "version https://git-lfs"))  {
        const std::string size = lfsSize(b);
        return refuse(ErrorCode::GitLfsPointer,
                      "this is a Git LFS pointer file, not the checkpoint itself"
                          + (size.empty() ? std::string() : " (the real file has " + size + " bytes)"),
                      "Fetch the real file with 'git lfs pull' (or download it from the hosting site).");
    }
    const std::string head = lowerHead(b, 64);
    if (head.rfind("<!doctype html", 0) == 0 || head.rfind("<html", 0) == 0 || head.rfind("<head", 0) == 0
        || (head.rfind("<?xml", 0) == 0 && head.find("html") != std::string::npos))
        return refuse(ErrorCode::HtmlPage,
                      "this is an HTML page, not a checkpoint: the download saved a web page (an error, login "
                      "or redirect page)",
                      "Open it in a browser to see what the server said, then download the file's direct link.");
    if (startsWith(b, "PYTORCH1"))
        return refuse(ErrorCode::UnsupportedFormat,
                      "this is a checkpoint from PyTorch's preview release ('PYTORCH1' container), which no torch "
                      "release can load",
                      "Re-save it with the tool that wrote it.");
    if (isTar(b))
        return refuse(ErrorCode::UnsupportedFormat,
                      "this is a tar archive: torch < 0.4 wrote checkpoints in this layout (sys_info, pickle, "
                      "storages, tensors), which ptscope does not read",
                      "Load it with an old torch (<= 1.x) and save it again with torch.save to convert it.");
    if (b.size() >= 9 && b[8] == '{') {
        std::uint64_t n = 0;
        std::memcpy(&n, b.data(), 8);
        if (n > 0)
            return {Container::Safetensors, {}};
    }
    if (head.rfind("{", 0) == 0) {
        const bool index = head.find("weight_map") != std::string::npos
            || lowerHead(b, 1 << 20).find("\"weight_map\"") != std::string::npos;
        if (index)
            return {Container::ShardIndex, {}};
        return refuse(ErrorCode::UnsupportedFormat, "this is a JSON text file, not a checkpoint",
                      "Sharded checkpoints are opened through their *.index.json, which has a weight_map.");
    }
    struct Magic
    {
        std::string_view bytes;
        const char *what;
        const char *hint;
    };
    static const Magic kMagics[] = {
        {"\x89PNG", "a PNG image", ""},
        {"\xFF\xD8\xFF", "a JPEG image", ""},
        {"GIF8", "a GIF image", ""},
        {"\x1F\x8B", "a gzip-compressed file", "Decompress it first (gunzip), then open the result."},
        {"BZh", "a bzip2-compressed file", "Decompress it first (bunzip2), then open the result."},
        {"\xFD" "7zXZ", "an xz-compressed file", "Decompress it first (unxz), then open the result."},
        {"7z\xBC\xAF", "a 7-Zip archive", "Extract it first, then open the checkpoint inside."},
        {"\x28\xB5\x2F\xFD", "a zstd-compressed file", "Decompress it first (unzstd), then open the result."},
        {"\x93NUMPY", "a NumPy .npy array file", ""},
        {"\x89HDF", "an HDF5 file (e.g. Keras weights)", ""},
        {"\x7F" "ELF", "an executable (ELF) file", ""},
        {"%PDF", "a PDF document", ""},
        {"GGUF", "a GGUF model file (llama.cpp)", ""},
        {"\x08\x01\x12", "probably an ONNX or other protobuf file", ""},
    };
    for (const auto &m : kMagics)
        if (startsWith(b, m.bytes))
            return refuse(ErrorCode::UnknownFormat, std::string("this is ") + m.what + ", not a PyTorch checkpoint",
                          *m.hint ? m.hint : "Check that this is the file you meant (or the right download link).");
    // A pickle: protocol 2+ starts with PROTO; protocols 0/1 start with an opcode that builds a value.
    if (b.size() >= 2 && b[0] == 0x80 && b[1] >= 2 && b[1] <= 5)
        return {Container::Pickle, {}};
    if (b[0] == '(' || b[0] == '}' || b[0] == ']' || b[0] == 'c' || b[0] == ')' || b[0] == 'N' || b[0] == 'l'
        || b[0] == 'd')
        return {Container::Pickle, {}};
    std::size_t printable = 0;
    const std::size_t n = std::min<std::size_t>(b.size(), 512);
    for (std::size_t i = 0; i < n; ++i)
        printable += (std::isprint(b[i]) || std::isspace(b[i])) ? 1 : 0;
    if (printable == n)
        return refuse(ErrorCode::UnknownFormat, "this is a text file, not a PyTorch checkpoint", "");
    return refuse(ErrorCode::UnknownFormat,
                  "not a PyTorch checkpoint: the first bytes (" + hexPrefix(b)
                      + ") match no format ptscope knows (zip torch.save, legacy torch.save, pickle)",
                  "Check that this is the file you meant; checkpoints start with 'PK' or 0x80.");
}

} // namespace ptscope::core
