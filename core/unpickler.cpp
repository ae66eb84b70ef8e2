// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "unpickler.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstring>
#include <exception>
#include <limits>
#include <new>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

// The machine follows CPython's C unpickler (Modules/_pickle.c), which is what torch.load runs:
// one value stack with a separate MARK stack (opcodes only see the values above the last MARK), a
// sparse memo, and the same operand checks. Where CPython's Python and C unpicklers disagree
// (FRAME boundaries), the stricter reading wins and the input is rejected. Nothing is ever looked
// up or called: globals are (module, name) symbols, calls are Object records.

namespace ptscope::core {

namespace {

// Opcode bytes, named as in CPython's Lib/pickle.py.
enum Op : std::uint8_t {
    MARK = '(',
    STOP = '.',
    POP = '0',
    POP_MARK = '1',
    DUP = '2',
    FLOAT = 'F',
    INT = 'I',
    BININT = 'J',
    BININT1 = 'K',
    LONG = 'L',
    BININT2 = 'M',
    NONE = 'N',
    PERSID = 'P',
    BINPERSID = 'Q',
    REDUCE = 'R',
    STRING = 'S',
    BINSTRING = 'T',
    SHORT_BINSTRING = 'U',
    UNICODE = 'V',
    BINUNICODE = 'X',
    APPEND = 'a',
    BUILD = 'b',
    GLOBAL = 'c',
    DICT = 'd',
    EMPTY_DICT = '}',
    APPENDS = 'e',
    GET = 'g',
    BINGET = 'h',
    INST = 'i',
    LONG_BINGET = 'j',
    LIST = 'l',
    EMPTY_LIST = ']',
    OBJ = 'o',
    PUT = 'p',
    BINPUT = 'q',
    LONG_BINPUT = 'r',
    SETITEM = 's',
    TUPLE = 't',
    EMPTY_TUPLE = ')',
    SETITEMS = 'u',
    BINFLOAT = 'G',
    PROTO = 0x80,
    NEWOBJ = 0x81,
    EXT1 = 0x82,
    EXT2 = 0x83,
    EXT4 = 0x84,
    TUPLE1 = 0x85,
    TUPLE2 = 0x86,
    TUPLE3 = 0x87,
    NEWTRUE = 0x88,
    NEWFALSE = 0x89,
    LONG1 = 0x8A,
    LONG4 = 0x8B,
    BINBYTES = 'B',
    SHORT_BINBYTES = 'C',
    SHORT_BINUNICODE = 0x8C,
    BINUNICODE8 = 0x8D,
    BINBYTES8 = 0x8E,
    EMPTY_SET = 0x8F,
    ADDITEMS = 0x90,
    FROZENSET = 0x91,
    NEWOBJ_EX = 0x92,
    STACK_GLOBAL = 0x93,
    MEMOIZE = 0x94,
    FRAME = 0x95,
    BYTEARRAY8 = 0x96,
    NEXT_BUFFER = 0x97,
    READONLY_BUFFER = 0x98,
};

const char *opName(std::uint8_t op)
{
    switch (op) {
    case MARK: return "MARK";
    case STOP: return "STOP";
    case POP: return "POP";
    case POP_MARK: return "POP_MARK";
    case DUP: return "DUP";
    case FLOAT: return "FLOAT";
    case INT: return "INT";
    case BININT: return "BININT";
    case BININT1: return "BININT1";
    case LONG: return "LONG";
    case BININT2: return "BININT2";
    case NONE: return "NONE";
    case PERSID: return "PERSID";
    case BINPERSID: return "BINPERSID";
    case REDUCE: return "REDUCE";
    case STRING: return "STRING";
    case BINSTRING: return "BINSTRING";
    case SHORT_BINSTRING: return "SHORT_BINSTRING";
    case UNICODE: return "UNICODE";
    case BINUNICODE: return "BINUNICODE";
    case APPEND: return "APPEND";
    case BUILD: return "BUILD";
    case GLOBAL: return "GLOBAL";
    case DICT: return "DICT";
    case EMPTY_DICT: return "EMPTY_DICT";
    case APPENDS: return "APPENDS";
    case GET: return "GET";
    case BINGET: return "BINGET";
    case INST: return "INST";
    case LONG_BINGET: return "LONG_BINGET";
    case LIST: return "LIST";
    case EMPTY_LIST: return "EMPTY_LIST";
    case OBJ: return "OBJ";
    case PUT: return "PUT";
    case BINPUT: return "BINPUT";
    case LONG_BINPUT: return "LONG_BINPUT";
    case SETITEM: return "SETITEM";
    case TUPLE: return "TUPLE";
    case EMPTY_TUPLE: return "EMPTY_TUPLE";
    case SETITEMS: return "SETITEMS";
    case BINFLOAT: return "BINFLOAT";
    case PROTO: return "PROTO";
    case NEWOBJ: return "NEWOBJ";
    case EXT1: return "EXT1";
    case EXT2: return "EXT2";
    case EXT4: return "EXT4";
    case TUPLE1: return "TUPLE1";
    case TUPLE2: return "TUPLE2";
    case TUPLE3: return "TUPLE3";
    case NEWTRUE: return "NEWTRUE";
    case NEWFALSE: return "NEWFALSE";
    case LONG1: return "LONG1";
    case LONG4: return "LONG4";
    case BINBYTES: return "BINBYTES";
    case SHORT_BINBYTES: return "SHORT_BINBYTES";
    case SHORT_BINUNICODE: return "SHORT_BINUNICODE";
    case BINUNICODE8: return "BINUNICODE8";
    case BINBYTES8: return "BINBYTES8";
    case EMPTY_SET: return "EMPTY_SET";
    case ADDITEMS: return "ADDITEMS";
    case FROZENSET: return "FROZENSET";
    case NEWOBJ_EX: return "NEWOBJ_EX";
    case STACK_GLOBAL: return "STACK_GLOBAL";
    case MEMOIZE: return "MEMOIZE";
    case FRAME: return "FRAME";
    case BYTEARRAY8: return "BYTEARRAY8";
    case NEXT_BUFFER: return "NEXT_BUFFER";
    case READONLY_BUFFER: return "READONLY_BUFFER";
    }
    return nullptr;
}

const char *kindName(ValueKind k)
{
    switch (k) {
    case ValueKind::None: return "None";
    case ValueKind::Bool: return "bool";
    case ValueKind::Int:
    case ValueKind::BigInt: return "int";
    case ValueKind::Float: return "float";
    case ValueKind::String: return "str";
    case ValueKind::Bytes: return "bytes";
    case ValueKind::ByteArray: return "bytearray";
    case ValueKind::List: return "list";
    case ValueKind::Tuple: return "tuple";
    case ValueKind::Dict: return "dict";
    case ValueKind::Set: return "set";
    case ValueKind::FrozenSet: return "frozenset";
    case ValueKind::Global: return "global";
    case ValueKind::Object: return "object";
    case ValueKind::PersistentId: return "persistent id";
    default: return "torch value";
    }
}

// Globals, call results and persistent ids are only known at run time: they may well be a class,
// a tuple or a dict there, so operand checks must let them through. Literals of the wrong kind are
// errors, exactly where CPython's C unpickler raises.
bool opaque(ValueKind k)
{
    return k == ValueKind::Object || k == ValueKind::Global || k == ValueKind::PersistentId;
}

// --- Python 2 -> 3 names (CPython Lib/_compat_pickle.py, 3.11), applied like Unpickler.find_class
// with fix_imports=True when the protocol is below 3. Both tables are sorted for binary search.
struct ModuleMap
{
    std::string_view from, to;
};
struct NameMap
{
    std::string_view fromModule, fromName, toModule, toName;
};

constexpr ModuleMap kImportMapping[] = {
    {"BaseHTTPServer", "http.server"},
    {"CGIHTTPServer", "http.server"},
    {"ConfigParser", "configparser"},
    {"Cookie", "http.cookies"},
    {"Dialog", "tkinter.dialog"},
    {"DocXMLRPCServer", "xmlrpc.server"},
    {"FileDialog", "tkinter.filedialog"},
    {"HTMLParser", "html.parser"},
    {"Queue", "queue"},
    {"ScrolledText", "tkinter.scrolledtext"},
    {"SimpleDialog", "tkinter.simpledialog"},
    {"SimpleHTTPServer", "http.server"},
    {"SimpleXMLRPCServer", "xmlrpc.server"},
    {"SocketServer", "socketserver"},
    {"StringIO", "io"},
    {"Tix", "tkinter.tix"},
    {"Tkconstants", "tkinter.constants"},
    {"Tkdnd", "tkinter.dnd"},
    {"Tkinter", "tkinter"},
    {"UserDict", "collections"},
    {"UserList", "collections"},
    {"UserString", "collections"},
    {"__builtin__", "builtins"},
    {"_abcoll", "collections.abc"},
    {"_elementtree", "xml.etree.ElementTree"},
    {"_winreg", "winreg"},
    {"anydbm", "dbm"},
    {"cPickle", "pickle"},
    {"cStringIO", "io"},
    {"commands", "subprocess"},
    {"cookielib", "http.cookiejar"},
    {"copy_reg", "copyreg"},
    {"dbhash", "dbm.bsd"},
    {"dbm", "dbm.ndbm"},
    {"dumbdbm", "dbm.dumb"},
    {"dummy_thread", "_dummy_thread"},
    {"gdbm", "dbm.gnu"},
    {"htmlentitydefs", "html.entities"},
    {"httplib", "http.client"},
    {"markupbase", "_markupbase"},
    {"repr", "reprlib"},
    {"robotparser", "urllib.robotparser"},
    {"test.test_support", "test.support"},
    {"thread", "_thread"},
    {"tkColorChooser", "tkinter.colorchooser"},
    {"tkCommonDialog", "tkinter.commondialog"},
    {"tkFileDialog", "tkinter.filedialog"},
    {"tkFont", "tkinter.font"},
    {"tkMessageBox", "tkinter.messagebox"},
    {"tkSimpleDialog", "tkinter.simpledialog"},
    {"ttk", "tkinter.ttk"},
    {"urllib2", "urllib.request"},
    {"urlparse", "urllib.parse"},
    {"whichdb", "dbm"},
    {"xmlrpclib", "xmlrpc.client"},
};

constexpr NameMap kNameMapping[] = {
    {"UserDict", "IterableUserDict", "collections", "UserDict"},
    {"UserDict", "UserDict", "collections", "UserDict"},
    {"UserList", "UserList", "collections", "UserList"},
    {"UserString", "UserString", "collections", "UserString"},
    {"__builtin__", "basestring", "builtins", "str"},
    {"__builtin__", "intern", "sys", "intern"},
    {"__builtin__", "long", "builtins", "int"},
    {"__builtin__", "reduce", "functools", "reduce"},
    {"__builtin__", "unichr", "builtins", "chr"},
    {"__builtin__", "unicode", "builtins", "str"},
    {"__builtin__", "xrange", "builtins", "range"},
    {"_multiprocessing", "Connection", "multiprocessing.connection", "Connection"},
    {"_socket", "fromfd", "socket", "fromfd"},
    {"exceptions", "ArithmeticError", "builtins", "ArithmeticError"},
    {"exceptions", "AssertionError", "builtins", "AssertionError"},
    {"exceptions", "AttributeError", "builtins", "AttributeError"},
    {"exceptions", "BaseException", "builtins", "BaseException"},
    {"exceptions", "BufferError", "builtins", "BufferError"},
    {"exceptions", "BytesWarning", "builtins", "BytesWarning"},
    {"exceptions", "DeprecationWarning", "builtins", "DeprecationWarning"},
    {"exceptions", "EOFError", "builtins", "EOFError"},
    {"exceptions", "EnvironmentError", "builtins", "EnvironmentError"},
    {"exceptions", "Exception", "builtins", "Exception"},
    {"exceptions", "FloatingPointError", "builtins", "FloatingPointError"},
    {"exceptions", "FutureWarning", "builtins", "FutureWarning"},
    {"exceptions", "GeneratorExit", "builtins", "GeneratorExit"},
    {"exceptions", "IOError", "builtins", "IOError"},
    {"exceptions", "ImportError", "builtins", "ImportError"},
    {"exceptions", "ImportWarning", "builtins", "ImportWarning"},
    {"exceptions", "IndentationError", "builtins", "IndentationError"},
    {"exceptions", "IndexError", "builtins", "IndexError"},
    {"exceptions", "KeyError", "builtins", "KeyError"},
    {"exceptions", "KeyboardInterrupt", "builtins", "KeyboardInterrupt"},
    {"exceptions", "LookupError", "builtins", "LookupError"},
    {"exceptions", "MemoryError", "builtins", "MemoryError"},
    {"exceptions", "NameError", "builtins", "NameError"},
    {"exceptions", "NotImplementedError", "builtins", "NotImplementedError"},
    {"exceptions", "OSError", "builtins", "OSError"},
    {"exceptions", "OverflowError", "builtins", "OverflowError"},
    {"exceptions", "PendingDeprecationWarning", "builtins", "PendingDeprecationWarning"},
    {"exceptions", "ReferenceError", "builtins", "ReferenceError"},
    {"exceptions", "RuntimeError", "builtins", "RuntimeError"},
    {"exceptions", "RuntimeWarning", "builtins", "RuntimeWarning"},
    {"exceptions", "StandardError", "builtins", "Exception"},
    {"exceptions", "StopIteration", "builtins", "StopIteration"},
    {"exceptions", "SyntaxError", "builtins", "SyntaxError"},
    {"exceptions", "SyntaxWarning", "builtins", "SyntaxWarning"},
    {"exceptions", "SystemError", "builtins", "SystemError"},
    {"exceptions", "SystemExit", "builtins", "SystemExit"},
    {"exceptions", "TabError", "builtins", "TabError"},
    {"exceptions", "TypeError", "builtins", "TypeError"},
    {"exceptions", "UnboundLocalError", "builtins", "UnboundLocalError"},
    {"exceptions", "UnicodeDecodeError", "builtins", "UnicodeDecodeError"},
    {"exceptions", "UnicodeEncodeError", "builtins", "UnicodeEncodeError"},
    {"exceptions", "UnicodeError", "builtins", "UnicodeError"},
    {"exceptions", "UnicodeTranslateError", "builtins", "UnicodeTranslateError"},
    {"exceptions", "UnicodeWarning", "builtins", "UnicodeWarning"},
    {"exceptions", "UserWarning", "builtins", "UserWarning"},
    {"exceptions", "ValueError", "builtins", "ValueError"},
    {"exceptions", "Warning", "builtins", "Warning"},
    {"exceptions", "ZeroDivisionError", "builtins", "ZeroDivisionError"},
    {"itertools", "ifilter", "builtins", "filter"},
    {"itertools", "ifilterfalse", "itertools", "filterfalse"},
    {"itertools", "imap", "builtins", "map"},
    {"itertools", "izip", "builtins", "zip"},
    {"itertools", "izip_longest", "itertools", "zip_longest"},
    {"multiprocessing", "AuthenticationError", "multiprocessing.context", "AuthenticationError"},
    {"multiprocessing", "BufferTooShort", "multiprocessing.context", "BufferTooShort"},
    {"multiprocessing", "ProcessError", "multiprocessing.context", "ProcessError"},
    {"multiprocessing", "TimeoutError", "multiprocessing.context", "TimeoutError"},
    {"multiprocessing.forking", "Popen", "multiprocessing.popen_fork", "Popen"},
    {"multiprocessing.process", "Process", "multiprocessing.context", "Process"},
    {"socket", "_socketobject", "socket", "SocketType"},
    {"urllib", "ContentTooShortError", "urllib.error", "ContentTooShortError"},
    {"urllib", "getproxies", "urllib.request", "getproxies"},
    {"urllib", "pathname2url", "urllib.request", "pathname2url"},
    {"urllib", "quote", "urllib.parse", "quote"},
    {"urllib", "quote_plus", "urllib.parse", "quote_plus"},
    {"urllib", "unquote", "urllib.parse", "unquote"},
    {"urllib", "unquote_plus", "urllib.parse", "unquote_plus"},
    {"urllib", "url2pathname", "urllib.request", "url2pathname"},
    {"urllib", "urlcleanup", "urllib.request", "urlcleanup"},
    {"urllib", "urlencode", "urllib.parse", "urlencode"},
    {"urllib", "urlopen", "urllib.request", "urlopen"},
    {"urllib", "urlretrieve", "urllib.request", "urlretrieve"},
    {"urllib2", "HTTPError", "urllib.error", "HTTPError"},
    {"urllib2", "URLError", "urllib.error", "URLError"},
    {"whichdb", "whichdb", "dbm", "whichdb"},
};

static_assert(std::is_sorted(std::begin(kImportMapping), std::end(kImportMapping),
                             [](const ModuleMap &a, const ModuleMap &b) { return a.from < b.from; }));
static_assert(std::is_sorted(std::begin(kNameMapping), std::end(kNameMapping), [](const NameMap &a, const NameMap &b) {
    return a.fromModule < b.fromModule || (a.fromModule == b.fromModule && a.fromName < b.fromName);
}));

// CPython's order: the (module, name) rule first, otherwise the module rule.
void fixImports(std::string &module, std::string &name)
{
    const auto key = std::pair<std::string_view, std::string_view>(module, name);
    const auto n = std::lower_bound(std::begin(kNameMapping), std::end(kNameMapping), key,
                                    [](const NameMap &e, const auto &k) {
                                        return e.fromModule < k.first
                                            || (e.fromModule == k.first && e.fromName < k.second);
                                    });
    if (n != std::end(kNameMapping) && n->fromModule == module && n->fromName == name) {
        module = n->toModule;
        name = n->toName;
        return;
    }
    const auto m = std::lower_bound(std::begin(kImportMapping), std::end(kImportMapping), module,
                                    [](const ModuleMap &e, const std::string &k) { return e.from < k; });
    if (m != std::end(kImportMapping) && m->from == module)
        module = m->to;
}

// --- Text helpers -----------------------------------------------------------------------------

// Returns the index of the first byte that is not valid UTF-8, or s.size() when all of it is.
// `surrogates` accepts encoded U+D800..U+DFFF (ED A0..BF xx) as CPython's "surrogatepass" does;
// overlong forms, code points past U+10FFFF and cut sequences are rejected either way.
std::size_t invalidUtf8(std::string_view s, bool surrogates)
{
    const auto *p = reinterpret_cast<const unsigned char *>(s.data());
    const std::size_t n = s.size();
    std::size_t i = 0;
    while (i < n) {
        // ASCII fast path, eight bytes at a time.
        while (i + 8 <= n) {
            std::uint64_t w;
            std::memcpy(&w, p + i, 8);
            if (w & 0x8080808080808080ull)
                break;
            i += 8;
        }
        if (i >= n)
            break;
        const unsigned char c = p[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        auto cont = [&](std::size_t k) { return i + k < n && (p[i + k] & 0xC0) == 0x80; };
        if (c >= 0xC2 && c <= 0xDF) {
            if (!cont(1))
                return i;
            i += 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            if (i + 1 >= n)
                return i;
            const unsigned char c1 = p[i + 1];
            const bool ok = c == 0xE0   ? (c1 >= 0xA0 && c1 <= 0xBF)
                : c == 0xED && !surrogates ? (c1 >= 0x80 && c1 <= 0x9F)
                                           : (c1 & 0xC0) == 0x80;
            if (!ok || !cont(2))
                return i;
            i += 3;
        } else if (c >= 0xF0 && c <= 0xF4) {
            if (i + 1 >= n)
                return i;
            const unsigned char c1 = p[i + 1];
            const bool ok = c == 0xF0 ? (c1 >= 0x90 && c1 <= 0xBF) : c == 0xF4 ? (c1 >= 0x80 && c1 <= 0x8F)
                                                                                : (c1 & 0xC0) == 0x80;
            if (!ok || !cont(2) || !cont(3))
                return i;
            i += 4;
        } else {
            return i;
        }
    }
    return n;
}

std::size_t firstNonAscii(std::string_view s)
{
    return static_cast<std::size_t>(
        std::find_if(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; }) - s.begin());
}

void appendUtf8(std::string &out, std::uint32_t cp)
{
    // Surrogates are written like any other BMP code point (three bytes), matching what the
    // UTF-8 paths keep with surrogatepass.
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

int hexDigit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool isPySpace(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view trimPySpace(std::string_view s)
{
    while (!s.empty() && isPySpace(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && isPySpace(s.back()))
        s.remove_suffix(1);
    return s;
}

// --- Integers -----------------------------------------------------------------------------------

struct IntValue
{
    bool big = false;
    std::int64_t small = 0;
    std::string text; // BigInt text when big
};

// A little-endian magnitude that does not fit int64 (or does), as an Int or BigInt (see value.h):
// decimal up to kMaxDecimalBytes, beyond that "0x" hex so that hostile multi-megabyte integers
// cannot cost quadratic time.
constexpr std::size_t kMaxDecimalBytes = 1024;

void magnitudeToInt(const std::uint8_t *mag, std::size_t n, bool negative, IntValue &out)
{
    while (n > 0 && mag[n - 1] == 0)
        --n;
    if (n <= 8) {
        std::uint64_t u = 0;
        for (std::size_t i = n; i-- > 0;)
            u = (u << 8) | mag[i];
        const std::uint64_t limit = negative ? (1ull << 63) : (1ull << 63) - 1;
        if (u <= limit) {
            out.big = false;
            out.small = negative ? static_cast<std::int64_t>(0 - u) : static_cast<std::int64_t>(u);
            return;
        }
    }
    out.big = true;
    out.text.clear();
    if (negative)
        out.text += '-';
    if (n > kMaxDecimalBytes) {
        static constexpr char kHex[] = "0123456789abcdef";
        out.text += "0x";
        out.text.reserve(out.text.size() + 2 * n);
        bool leading = true;
        for (std::size_t i = n; i-- > 0;) {
            const std::uint8_t b = mag[i];
            if (!(leading && (b >> 4) == 0))
                out.text += kHex[b >> 4];
            out.text += kHex[b & 15];
            leading = false;
        }
        return;
    }
    // Repeated division by 10^9 over 32-bit limbs.
    std::vector<std::uint32_t> limbs((n + 3) / 4, 0);
    for (std::size_t i = 0; i < n; ++i)
        limbs[i / 4] |= static_cast<std::uint32_t>(mag[i]) << (8 * (i % 4));
    while (!limbs.empty() && limbs.back() == 0)
        limbs.pop_back();
    std::vector<std::uint32_t> chunks;
    chunks.reserve(n * 241 / 900 / 9 + 2);
    while (!limbs.empty()) {
        std::uint64_t rem = 0;
        for (std::size_t i = limbs.size(); i-- > 0;) {
            const std::uint64_t cur = (rem << 32) | limbs[i];
            limbs[i] = static_cast<std::uint32_t>(cur / 1000000000u);
            rem = cur % 1000000000u;
        }
        chunks.push_back(static_cast<std::uint32_t>(rem));
        while (!limbs.empty() && limbs.back() == 0)
            limbs.pop_back();
    }
    char buf[16];
    for (std::size_t i = chunks.size(); i-- > 0;) {
        auto r = std::to_chars(buf, buf + sizeof buf, chunks[i]);
        const std::size_t len = static_cast<std::size_t>(r.ptr - buf);
        if (i + 1 != chunks.size())
            out.text.append(9 - len, '0');
        out.text.append(buf, len);
    }
}

// Two's-complement little-endian (LONG1/LONG4).
void decodeLong(const std::uint8_t *p, std::size_t n, IntValue &out)
{
    if (n == 0) {
        out.big = false;
        out.small = 0;
        return;
    }
    const bool negative = (p[n - 1] & 0x80) != 0;
    if (n <= 8) {
        std::uint64_t u = negative ? ~0ull : 0;
        for (std::size_t i = n; i-- > 0;)
            u = (u << 8) | p[i];
        out.big = false;
        out.small = static_cast<std::int64_t>(u);
        return;
    }
    if (!negative) {
        magnitudeToInt(p, n, false, out);
        return;
    }
    std::vector<std::uint8_t> mag(p, p + n);
    unsigned carry = 1;
    for (auto &b : mag) {
        const unsigned v = static_cast<std::uint8_t>(~b) + carry;
        b = static_cast<std::uint8_t>(v);
        carry = v >> 8;
    }
    magnitudeToInt(mag.data(), n, true, out);
}

// Python's int(text, base) for base 0 (INT, LONG: prefixes 0x/0o/0b, no leading zeros) and base 10
// (GET, PUT: leading zeros allowed). Underscores between digits and surrounding whitespace as Python.
bool parsePyInt(std::string_view s, bool base0, IntValue &out)
{
    s = trimPySpace(s);
    bool negative = false;
    if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
        negative = s.front() == '-';
        s.remove_prefix(1);
    }
    int base = 10;
    bool prefixed = false;
    if (base0 && s.size() >= 2 && s[0] == '0') {
        const char p = static_cast<char>(s[1] | 0x20);
        if (p == 'x' || p == 'o' || p == 'b') {
            base = p == 'x' ? 16 : p == 'o' ? 8 : 2;
            prefixed = true;
            s.remove_prefix(2);
        }
    }
    // Validate digits and underscores; collect the digit values.
    std::string digits;
    digits.reserve(s.size());
    bool lastUnderscore = prefixed; // "0x_1f" is allowed: an underscore may follow the prefix
    bool underscoreOk = prefixed;
    for (char c : s) {
        if (c == '_') {
            if (!underscoreOk)
                return false;
            underscoreOk = false;
            lastUnderscore = true;
            continue;
        }
        const int d = hexDigit(static_cast<unsigned char>(c));
        if (d < 0 || d >= base)
            return false;
        digits += static_cast<char>(d);
        underscoreOk = true;
        lastUnderscore = false;
    }
    if (digits.empty() || (lastUnderscore && !s.empty()))
        return false;
    if (base == 10) {
        std::size_t first = digits.find_first_not_of('\0');
        if (base0 && first != std::string::npos && first > 0)
            return false; // "01" is not a Python literal
        if (first == std::string::npos) {
            out.big = false;
            out.small = 0;
            return true;
        }
        const std::size_t count = digits.size() - first;
        if (count <= 19) {
            std::uint64_t u = 0;
            for (std::size_t i = first; i < digits.size(); ++i)
                u = u * 10 + static_cast<std::uint8_t>(digits[i]); // 19 digits fit uint64
            const std::uint64_t limit = negative ? (1ull << 63) : (1ull << 63) - 1;
            if (u <= limit) {
                out.big = false;
                out.small = negative ? static_cast<std::int64_t>(0 - u) : static_cast<std::int64_t>(u);
                return true;
            }
        }
        out.big = true;
        out.text.clear();
        out.text.reserve(count + 1);
        if (negative)
            out.text += '-';
        for (std::size_t i = first; i < digits.size(); ++i)
            out.text += static_cast<char>('0' + digits[i]);
        return true;
    }
    // Power-of-two bases: pack the bits into a little-endian magnitude.
    const unsigned bits = base == 16 ? 4 : base == 8 ? 3 : 1;
    std::vector<std::uint8_t> mag;
    mag.reserve(digits.size() * bits / 8 + 2);
    std::uint32_t acc = 0;
    unsigned accBits = 0;
    for (std::size_t i = digits.size(); i-- > 0;) {
        acc |= static_cast<std::uint32_t>(static_cast<std::uint8_t>(digits[i])) << accBits;
        accBits += bits;
        while (accBits >= 8) {
            mag.push_back(static_cast<std::uint8_t>(acc));
            acc >>= 8;
            accBits -= 8;
        }
    }
    if (accBits > 0)
        mag.push_back(static_cast<std::uint8_t>(acc));
    magnitudeToInt(mag.data(), mag.size(), negative, out);
    return true;
}

// Python's float(text), locale-independent: std::from_chars plus Python's spellings
// (leading '+', inf/infinity/nan in any case, underscores between digits, overflow to inf).
bool parsePyFloat(std::string_view s, double &out)
{
    s = trimPySpace(s);
    bool negative = false;
    std::string_view body = s;
    if (!body.empty() && (body.front() == '+' || body.front() == '-')) {
        negative = body.front() == '-';
        body.remove_prefix(1);
    }
    auto iequals = [](std::string_view a, std::string_view b) {
        return a.size() == b.size()
            && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return (x | 0x20) == y; });
    };
    if (iequals(body, "inf") || iequals(body, "infinity")) {
        out = negative ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
        return true;
    }
    if (iequals(body, "nan")) {
        out = negative ? -std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::quiet_NaN();
        return true;
    }
    if (body.empty())
        return false;
    std::string clean;
    clean.reserve(body.size() + 1);
    if (negative)
        clean += '-';
    auto isDigit = [](char c) { return c >= '0' && c <= '9'; };
    for (std::size_t i = 0; i < body.size(); ++i) {
        const char c = body[i];
        if (c == '_') {
            if (i == 0 || i + 1 == body.size() || !isDigit(body[i - 1]) || !isDigit(body[i + 1]))
                return false;
            continue;
        }
        if (!(isDigit(c) || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'))
            return false; // from_chars would also take "inf"/"nan(...)" inside; Python does not
        clean += c;
    }
    double d = 0;
    const auto r = std::from_chars(clean.data(), clean.data() + clean.size(), d, std::chars_format::general);
    if (r.ptr != clean.data() + clean.size())
        return false;
    if (r.ec == std::errc::result_out_of_range) {
        // Python rounds to inf or (signed) zero. Decide by the decimal exponent of the first
        // significant digit.
        const std::size_t ePos = clean.find_first_of("eE");
        std::string_view mant = std::string_view(clean).substr(negative ? 1 : 0, ePos - (negative ? 1 : 0));
        long long exp10 = 0;
        if (ePos != std::string::npos) {
            std::string_view e = std::string_view(clean).substr(ePos + 1);
            const bool eneg = !e.empty() && e.front() == '-';
            if (!e.empty() && (e.front() == '+' || e.front() == '-'))
                e.remove_prefix(1);
            for (char c : e) {
                exp10 = std::min<long long>(exp10 * 10 + (c - '0'), 1'000'000'000);
            }
            if (eneg)
                exp10 = -exp10;
        }
        const std::size_t dot = mant.find('.');
        const std::size_t intLen = dot == std::string_view::npos ? mant.size() : dot;
        const std::size_t firstNz = mant.find_first_of("123456789");
        long long lead = 0; // decimal exponent of the first significant digit, before exp10
        if (firstNz != std::string_view::npos)
            lead = firstNz < intLen ? static_cast<long long>(intLen - firstNz) - 1
                                    : -static_cast<long long>(firstNz - intLen);
        const bool huge = firstNz != std::string_view::npos && lead + exp10 > 0;
        d = huge ? std::numeric_limits<double>::infinity() : 0.0;
        if (negative)
            d = -d;
    } else if (r.ec != std::errc()) {
        return false;
    }
    out = d;
    return true;
}

// --- The machine --------------------------------------------------------------------------------

class Machine
{
public:
    Machine(std::span<const std::uint8_t> data, ValueArena &arena, std::string_view where, std::uint64_t base,
            const PickleLimits &limits)
        : m_data(data.data())
        , m_size(data.size())
        , m_limit(data.size())
        , m_arena(arena)
        , m_where(where)
        , m_base(base)
        , m_limits(limits)
    {
    }

    Result<PickleResult> run();
    PickleResult takePartial() { return std::move(m_result); }

private:
    // --- errors
    bool fail(ErrorCode code, std::string detail) { return failAt(code, m_opPos, std::move(detail)); }
    bool failAt(ErrorCode code, std::size_t pos, std::string detail)
    {
        std::string msg;
        if (const char *name = opName(m_op); name && m_started)
            msg = std::string(name) + ": ";
        msg += detail;
        m_error = makeError(code, std::move(msg), m_where, m_base + pos);
        return false;
    }
    bool failShort(std::uint64_t needed)
    {
        const std::size_t avail = m_limit - m_pos;
        if (m_inFrame)
            return fail(ErrorCode::PickleError, "frame boundary: the argument needs " + std::to_string(needed)
                                                    + " bytes but the frame ends in " + std::to_string(avail)
                                                    + " (at byte " + std::to_string(m_base + m_frameEnd) + ")");
        return fail(ErrorCode::Truncated, "the pickle ends inside the argument (needs " + std::to_string(needed)
                                              + " bytes, " + std::to_string(avail) + " remain)");
    }

    // --- reading arguments; every length is compared with the remaining bytes before use
    bool need(std::uint64_t n) { return n <= m_limit - m_pos || failShort(n); }
    std::uint64_t le(std::size_t n)
    {
        std::uint64_t v = 0;
        for (std::size_t i = n; i-- > 0;)
            v = (v << 8) | m_data[m_pos + i];
        m_pos += n;
        return v;
    }
    bool readU(std::size_t n, std::uint64_t &v)
    {
        if (!need(n))
            return false;
        v = le(n);
        return true;
    }
    bool readLine(std::string_view &line)
    {
        const std::size_t avail = m_limit - m_pos;
        const std::size_t window = m_limits.maxLineBytes < avail ? static_cast<std::size_t>(m_limits.maxLineBytes) + 1
                                                                   : avail;
        const void *nl = std::memchr(m_data + m_pos, '\n', window);
        if (!nl) {
            if (avail > m_limits.maxLineBytes)
                return fail(ErrorCode::BudgetExceeded,
                            "text argument longer than " + std::to_string(m_limits.maxLineBytes) + " bytes");
            if (m_inFrame)
                return fail(ErrorCode::PickleError, "frame boundary: text argument not terminated before the frame "
                                                    "ends at byte "
                                                        + std::to_string(m_base + m_frameEnd));
            return fail(ErrorCode::Truncated, "the pickle ends inside a text argument (no newline)");
        }
        const std::size_t len = static_cast<std::size_t>(static_cast<const std::uint8_t *>(nl) - (m_data + m_pos));
        line = std::string_view(reinterpret_cast<const char *>(m_data + m_pos), len);
        m_pos += len + 1;
        return true;
    }
    std::string_view bytesAt(std::size_t n)
    {
        std::string_view s(reinterpret_cast<const char *>(m_data + m_pos), n);
        m_pos += n;
        return s;
    }

    // --- values and the stack
    bool newValue(ValueKind kind, ValueId &id)
    {
        if (m_created >= m_limits.maxValues || m_arena.size() >= kNoValue)
            return fail(ErrorCode::BudgetExceeded,
                        "more than " + std::to_string(m_limits.maxValues) + " values in one pickle");
        ++m_created;
        Value v;
        v.kind = kind;
        v.offset = m_base + m_opPos;
        id = m_arena.add(std::move(v));
        return true;
    }
    bool push(ValueId id)
    {
        if (m_stack.size() >= m_limits.maxStack)
            return fail(ErrorCode::BudgetExceeded,
                        "stack deeper than " + std::to_string(m_limits.maxStack) + " values");
        m_stack.push_back(id);
        return true;
    }
    bool pushNew(ValueKind kind, ValueId &id) { return newValue(kind, id) && push(id); }
    bool pushNew(ValueKind kind)
    {
        ValueId id;
        return pushNew(kind, id);
    }
    std::size_t fence() const { return m_marks.empty() ? 0 : m_marks.back(); }
    // CPython's stack is split at each MARK; opcodes only see values above the last one.
    bool needStack(std::size_t n)
    {
        const std::size_t have = m_stack.size() - fence();
        if (have >= n)
            return true;
        return fail(ErrorCode::PickleError, "stack underflow: needs " + std::to_string(n) + " value"
                                                + (n == 1 ? "" : "s") + ", " + std::to_string(have) + " available"
                                                + (m_marks.empty() ? "" : " above the last MARK"));
    }
    ValueId pop()
    {
        const ValueId id = m_stack.back();
        m_stack.pop_back();
        return id;
    }
    // Closes the innermost MARK; the marked values are m_stack[begin..end).
    bool popMark(std::size_t &begin)
    {
        if (m_marks.empty())
            return fail(ErrorCode::PickleError, "no MARK on the stack");
        begin = m_marks.back();
        m_marks.pop_back();
        return true;
    }
    Value &at(ValueId id) { return m_arena[id]; }
    ValueKind kindOf(ValueId id) const { return m_arena[id].kind; }
    bool wrongKind(const char *role, ValueId id, const char *wanted)
    {
        return fail(ErrorCode::PickleError,
                    std::string(role) + " is a " + kindName(kindOf(id)) + ", expected " + wanted);
    }

    // --- opcode groups
    bool intValue(const IntValue &v)
    {
        ValueId id;
        if (!pushNew(v.big ? ValueKind::BigInt : ValueKind::Int, id))
            return false;
        if (v.big)
            at(id).text = v.text;
        else
            at(id).integer = v.small;
        return true;
    }
    bool utf8String(std::size_t n, bool surrogates)
    {
        const std::string_view s = bytesAt(n);
        const std::size_t bad = invalidUtf8(s, surrogates);
        if (bad != s.size()) {
            return failAt(ErrorCode::PickleError, m_pos - n + bad,
                          "invalid UTF-8 (byte 0x" + hex2(static_cast<std::uint8_t>(s[bad])) + " at +"
                              + std::to_string(bad) + " of the string that starts at byte "
                              + std::to_string(m_base + m_pos - n) + ")");
        }
        ValueId id;
        if (!pushNew(ValueKind::String, id))
            return false;
        at(id).text.assign(s.data(), s.size());
        return true;
    }
    // Python 2 str: torch.load decodes them as UTF-8; what is not UTF-8 stays bytes.
    bool py2String(std::string_view s)
    {
        const bool text = invalidUtf8(s, false) == s.size();
        ValueId id;
        if (!pushNew(text ? ValueKind::String : ValueKind::Bytes, id))
            return false;
        at(id).text.assign(s.data(), s.size());
        return true;
    }
    bool rawBytes(ValueKind kind, std::size_t n)
    {
        const std::string_view s = bytesAt(n);
        ValueId id;
        if (!pushNew(kind, id))
            return false;
        at(id).text.assign(s.data(), s.size());
        return true;
    }
    bool global(std::string module, std::string name)
    {
        std::string written;
        if (m_proto < 3) {
            written = module + "." + name;
            fixImports(module, name);
            if (written == module + "." + name)
                written.clear();
        }
        ValueId id;
        if (!newValue(ValueKind::Global, id))
            return false;
        m_result.globals.push_back(GlobalUse{module, name, m_base + m_opPos, false, std::move(written)});
        Value &v = at(id);
        v.text = std::move(module);
        v.name = std::move(name);
        m_lastGlobal = id;
        return true;
    }
    // A tuple of m_stack[begin..end), used by INST and OBJ for their arguments.
    bool tupleOf(std::size_t begin, std::size_t end, ValueId &id)
    {
        if (!newValue(ValueKind::Tuple, id))
            return false;
        at(id).items.assign(m_stack.begin() + static_cast<std::ptrdiff_t>(begin),
                            m_stack.begin() + static_cast<std::ptrdiff_t>(end));
        return true;
    }
    bool object(ObjectOrigin origin, ValueId callable, ValueId args, ValueId kwargs, ValueId &id)
    {
        if (!newValue(ValueKind::Object, id))
            return false;
        Value &v = at(id);
        v.origin = origin;
        v.callable = callable;
        v.args = args;
        v.kwargs = kwargs;
        return true;
    }
    bool memoPut(std::uint64_t key)
    {
        if (!needStack(1))
            return false;
        auto it = m_memo.find(key);
        if (it != m_memo.end()) {
            it->second = m_stack.back();
            return true;
        }
        if (m_memo.size() >= m_limits.maxMemoEntries)
            return fail(ErrorCode::BudgetExceeded,
                        "more than " + std::to_string(m_limits.maxMemoEntries) + " memo entries");
        m_memo.emplace(key, m_stack.back());
        return true;
    }
    bool memoGet(std::uint64_t key, bool negative = false)
    {
        auto it = negative ? m_memo.end() : m_memo.find(key);
        if (it == m_memo.end())
            return fail(ErrorCode::PickleError, "dangling memo reference: no memo entry "
                                                    + std::string(negative ? "-" : "") + std::to_string(key));
        return push(it->second);
    }
    bool textIndex(std::string_view line, std::uint64_t &key, bool &negative)
    {
        IntValue v;
        if (!parsePyInt(line, false, v))
            return fail(ErrorCode::PickleError, "memo index is not a decimal integer");
        if (!v.big) {
            negative = v.small < 0;
            key = negative ? 0 - static_cast<std::uint64_t>(v.small) : static_cast<std::uint64_t>(v.small);
            return true;
        }
        // Keys past int64 up to 2**64-1 are still representable; larger ones could never be stored.
        negative = v.text.front() == '-';
        const char *first = v.text.data() + (negative ? 1 : 0);
        const auto r = std::from_chars(first, v.text.data() + v.text.size(), key);
        if (r.ec != std::errc())
            return fail(ErrorCode::PickleError, "memo index " + v.text + " is out of range");
        return true;
    }
    static std::string hex2(std::uint8_t b)
    {
        static constexpr char kHex[] = "0123456789abcdef";
        return {kHex[b >> 4], kHex[b & 15]};
    }

    bool step();

    const std::uint8_t *m_data;
    std::size_t m_size;
    std::size_t m_pos = 0;
    std::size_t m_limit;        // m_frameEnd inside a frame, else m_size
    std::size_t m_frameEnd = 0;
    bool m_inFrame = false;
    std::size_t m_opPos = 0;
    std::uint8_t m_op = 0;
    bool m_started = false;
    bool m_stopped = false;
    bool m_sawProto = false;
    int m_proto = 0;
    static constexpr int kMaxProtoWarnings = 10;
    int m_lateProtos = 0;

    ValueArena &m_arena;
    std::string m_where;
    std::uint64_t m_base;
    const PickleLimits &m_limits;
    std::uint64_t m_created = 0;
    ValueId m_lastGlobal = kNoValue;

    std::vector<ValueId> m_stack;
    std::vector<std::size_t> m_marks;
    std::unordered_map<std::uint64_t, ValueId> m_memo;

    PickleResult m_result;
    Error m_error;
    bool m_opSeen[256] = {};
};

Result<PickleResult> Machine::run()
{
    if (m_size > m_limits.maxPickleBytes)
        return makeError(ErrorCode::BudgetExceeded,
                         "pickle of " + std::to_string(m_size) + " bytes is larger than the limit of "
                             + std::to_string(m_limits.maxPickleBytes) + " bytes",
                         m_where, m_base);
    // Sized for typical torch pickles (a value every ~30 bytes) without reserving much for big inputs.
    // Only a fresh arena: reserving on top of a filled one would reallocate it for every pickle of a
    // file (legacy files hold several; nested torch.save streams can be many), which is quadratic.
    if (m_arena.size() == 0)
        m_arena.reserve(std::min<std::size_t>(m_size / 32 + 16, 1u << 18));
    m_stack.reserve(256);
    m_marks.reserve(64);
    m_memo.reserve(std::min<std::size_t>(m_size / 16 + 16, 1u << 16));

    while (!m_stopped) {
        if (m_inFrame && m_pos == m_frameEnd) {
            m_inFrame = false;
            m_limit = m_size;
        }
        if (m_pos >= m_size) {
            m_started = false;
            failAt(ErrorCode::Truncated, m_size,
                   m_size == 0 ? "empty pickle" : "the pickle ends without a STOP opcode");
            return m_error;
        }
        m_opPos = m_pos;
        m_op = m_data[m_pos++];
        m_started = true;
        if (!m_opSeen[m_op]) {
            m_opSeen[m_op] = true;
            m_result.firstOpcodes.emplace_back(m_op, m_base + m_opPos);
        }
        if (!step())
            return m_error;
    }
    return std::move(m_result);
}

bool Machine::step()
{
    std::uint64_t u = 0;
    std::string_view line;
    switch (m_op) {
    // --- stack structure
    case MARK:
        if (m_marks.size() >= m_limits.maxMarkDepth)
            return fail(ErrorCode::BudgetExceeded,
                        "more than " + std::to_string(m_limits.maxMarkDepth) + " open MARKs");
        m_marks.push_back(m_stack.size());
        return true;
    case STOP: {
        if (!needStack(1))
            return false;
        m_result.root = pop();
        m_result.endOffset = m_base + m_pos;
        if (!m_stack.empty() || !m_marks.empty())
            m_result.warnings.push_back(Warning{"STOP left " + std::to_string(m_stack.size()) + " value(s) and "
                                                    + std::to_string(m_marks.size()) + " MARK(s) on the stack",
                                                m_where, m_base + m_opPos});
        m_stopped = true;
        return true;
    }
    case POP:
        // As CPython's load_pop: an empty frame above a MARK pops the MARK itself.
        if (m_stack.size() > fence()) {
            m_stack.pop_back();
            return true;
        }
        if (!m_marks.empty()) {
            m_marks.pop_back();
            return true;
        }
        return needStack(1);
    case POP_MARK: {
        std::size_t begin;
        if (!popMark(begin))
            return false;
        m_stack.resize(begin);
        return true;
    }
    case DUP:
        if (!needStack(1))
            return false;
        return push(m_stack.back());

    // --- protocol and framing
    case PROTO: {
        if (!readU(1, u))
            return false;
        if (u > 5)
            return fail(ErrorCode::PickleError, "unsupported pickle protocol " + std::to_string(u) + " (0 to 5 exist)");
        // Reported, but a stream of a million PROTOs must not become a million warnings.
        if (m_opPos != 0 && m_lateProtos++ < kMaxProtoWarnings) {
            const char *more = m_lateProtos == kMaxProtoWarnings ? " (further ones not reported)" : "";
            m_result.warnings.push_back(Warning{"PROTO " + std::to_string(u) + " is not the first opcode" + more,
                                                m_where, m_base + m_opPos});
        }
        if (!m_sawProto)
            m_result.protocol = static_cast<int>(u);
        m_sawProto = true;
        m_proto = static_cast<int>(u);
        return true;
    }
    case FRAME: {
        // Checked before the argument is read: the FRAME opcode itself lies inside the current frame.
        if (m_inFrame)
            return fail(ErrorCode::PickleError, "frame boundary: FRAME inside a frame that ends at byte "
                                                    + std::to_string(m_base + m_frameEnd));
        if (!readU(8, u))
            return false;
        if (u > m_size - m_pos)
            return fail(ErrorCode::Truncated, "frame boundary past the end: the frame declares " + std::to_string(u)
                                                  + " bytes, " + std::to_string(m_size - m_pos) + " remain");
        m_inFrame = true;
        m_frameEnd = m_pos + static_cast<std::size_t>(u);
        m_limit = m_frameEnd;
        return true;
    }

    // --- scalars
    case NONE: return pushNew(ValueKind::None);
    case NEWTRUE:
    case NEWFALSE: {
        ValueId id;
        if (!pushNew(ValueKind::Bool, id))
            return false;
        at(id).boolean = m_op == NEWTRUE;
        return true;
    }
    case INT: {
        if (!readLine(line))
            return false;
        if (line == "00" || line == "01") {
            ValueId id;
            if (!pushNew(ValueKind::Bool, id))
                return false;
            at(id).boolean = line == "01";
            return true;
        }
        IntValue v;
        if (!parsePyInt(line, true, v))
            return fail(ErrorCode::PickleError, "argument is not an integer literal");
        return intValue(v);
    }
    case LONG: {
        if (!readLine(line))
            return false;
        if (!line.empty() && line.back() == 'L')
            line.remove_suffix(1);
        IntValue v;
        if (!parsePyInt(line, true, v))
            return fail(ErrorCode::PickleError, "argument is not an integer literal");
        return intValue(v);
    }
    case BININT: {
        if (!readU(4, u))
            return false;
        IntValue v;
        v.small = static_cast<std::int32_t>(static_cast<std::uint32_t>(u));
        return intValue(v);
    }
    case BININT1:
    case BININT2: {
        if (!readU(m_op == BININT1 ? 1 : 2, u))
            return false;
        IntValue v;
        v.small = static_cast<std::int64_t>(u);
        return intValue(v);
    }
    case LONG1:
    case LONG4: {
        if (m_op == LONG1) {
            if (!readU(1, u))
                return false;
        } else {
            if (!readU(4, u))
                return false;
            if (static_cast<std::int32_t>(static_cast<std::uint32_t>(u)) < 0)
                return fail(ErrorCode::PickleError, "negative byte count");
        }
        if (!need(u))
            return false;
        IntValue v;
        decodeLong(m_data + m_pos, static_cast<std::size_t>(u), v);
        m_pos += static_cast<std::size_t>(u);
        return intValue(v);
    }
    case FLOAT: {
        // Python's float() spelling; CPython's C unpickler is stricter (no spaces or underscores, and
        // OverflowError for 1e400) but an inspector is better served by the value (inf) than a failure.
        if (!readLine(line))
            return false;
        double d;
        if (!parsePyFloat(line, d))
            return fail(ErrorCode::PickleError, "argument is not a float literal");
        ValueId id;
        if (!pushNew(ValueKind::Float, id))
            return false;
        at(id).real = d;
        return true;
    }
    case BINFLOAT: {
        if (!need(8))
            return false;
        std::uint64_t bits = 0;
        for (int i = 0; i < 8; ++i)
            bits = (bits << 8) | m_data[m_pos++];
        ValueId id;
        if (!pushNew(ValueKind::Float, id))
            return false;
        at(id).real = std::bit_cast<double>(bits);
        return true;
    }

    // --- strings and bytes
    case BINUNICODE:
    case SHORT_BINUNICODE:
    case BINUNICODE8:
        if (!readU(m_op == SHORT_BINUNICODE ? 1 : m_op == BINUNICODE ? 4 : 8, u) || !need(u))
            return false;
        return utf8String(static_cast<std::size_t>(u), true);
    case BINBYTES:
    case SHORT_BINBYTES:
    case BINBYTES8:
        if (!readU(m_op == SHORT_BINBYTES ? 1 : m_op == BINBYTES ? 4 : 8, u) || !need(u))
            return false;
        return rawBytes(ValueKind::Bytes, static_cast<std::size_t>(u));
    case BYTEARRAY8:
        if (!readU(8, u) || !need(u))
            return false;
        return rawBytes(ValueKind::ByteArray, static_cast<std::size_t>(u));
    case SHORT_BINSTRING:
        if (!readU(1, u) || !need(u))
            return false;
        return py2String(bytesAt(static_cast<std::size_t>(u)));
    case BINSTRING:
        if (!readU(4, u))
            return false;
        if (static_cast<std::int32_t>(static_cast<std::uint32_t>(u)) < 0)
            return fail(ErrorCode::PickleError, "negative byte count");
        if (!need(u))
            return false;
        return py2String(bytesAt(static_cast<std::size_t>(u)));
    case STRING: {
        if (!readLine(line))
            return false;
        const std::size_t lineStart = m_pos - line.size() - 1;
        if (line.size() < 2 || line.front() != line.back() || (line.front() != '\'' && line.front() != '"'))
            return fail(ErrorCode::PickleError, "the argument must be quoted");
        const std::string_view body = line.substr(1, line.size() - 2);
        // codecs.escape_decode, as CPython's load_string.
        std::string out;
        out.reserve(body.size());
        for (std::size_t i = 0; i < body.size();) {
            const char c = body[i++];
            if (c != '\\') {
                out += c;
                continue;
            }
            if (i == body.size())
                return failAt(ErrorCode::PickleError, lineStart + i, "trailing \\ in the string");
            const char e = body[i++];
            switch (e) {
            case '\n': break;
            case '\\': out += '\\'; break;
            case '\'': out += '\''; break;
            case '"': out += '"'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 't': out += '\t'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 'v': out += '\v'; break;
            case 'a': out += '\a'; break;
            case '0':
            case '1':
            case '2':
            case '3':
            case '4':
            case '5':
            case '6':
            case '7': {
                unsigned v = static_cast<unsigned>(e - '0');
                for (int k = 0; k < 2 && i < body.size() && body[i] >= '0' && body[i] <= '7'; ++k)
                    v = (v << 3) + static_cast<unsigned>(body[i++] - '0');
                out += static_cast<char>(v & 0xFF); // CPython keeps the low byte of \400..\777
                break;
            }
            case 'x': {
                const int h = i + 1 < body.size() ? hexDigit(static_cast<unsigned char>(body[i])) : -1;
                const int l = i + 1 < body.size() ? hexDigit(static_cast<unsigned char>(body[i + 1])) : -1;
                if (h < 0 || l < 0)
                    return failAt(ErrorCode::PickleError, lineStart + i - 1, "invalid \\x escape");
                out += static_cast<char>(h * 16 + l);
                i += 2;
                break;
            }
            default:
                // Unknown escapes stay as written (backslash included).
                out += '\\';
                --i;
                break;
            }
        }
        return py2String(out);
    }
    case UNICODE: {
        if (!readLine(line))
            return false;
        const std::size_t lineStart = m_pos - line.size() - 1;
        // raw-unicode-escape: bytes are Latin-1 code points except \uXXXX and \UXXXXXXXX.
        std::string out;
        out.reserve(line.size() + line.size() / 4);
        for (std::size_t i = 0; i < line.size();) {
            const auto c = static_cast<unsigned char>(line[i++]);
            if (c != '\\' || i == line.size()) {
                appendUtf8(out, c);
                continue;
            }
            const auto e = static_cast<unsigned char>(line[i++]);
            if (e != 'u' && e != 'U') {
                out += '\\';
                appendUtf8(out, e);
                continue;
            }
            const std::size_t escape = lineStart + i - 2; // errors point at the backslash
            const std::size_t count = e == 'u' ? 4 : 8;
            std::uint32_t cp = 0;
            for (std::size_t k = 0; k < count; ++k) {
                const int d = i < line.size() ? hexDigit(static_cast<unsigned char>(line[i])) : -1;
                if (d < 0)
                    return failAt(ErrorCode::PickleError, escape,
                                  e == 'u' ? "truncated \\uXXXX escape" : "truncated \\UXXXXXXXX escape");
                cp = (cp << 4) | static_cast<std::uint32_t>(d);
                ++i;
            }
            if (cp > 0x10FFFF)
                return failAt(ErrorCode::PickleError, escape, "\\UXXXXXXXX escape out of range");
            appendUtf8(out, cp);
        }
        ValueId id;
        if (!pushNew(ValueKind::String, id))
            return false;
        at(id).text = std::move(out);
        return true;
    }

    // --- containers
    case EMPTY_LIST: return pushNew(ValueKind::List);
    case EMPTY_TUPLE: return pushNew(ValueKind::Tuple);
    case EMPTY_DICT: return pushNew(ValueKind::Dict);
    case EMPTY_SET: return pushNew(ValueKind::Set);
    case LIST:
    case TUPLE:
    case FROZENSET: {
        std::size_t begin;
        if (!popMark(begin))
            return false;
        ValueId id;
        if (!newValue(m_op == LIST ? ValueKind::List : m_op == TUPLE ? ValueKind::Tuple : ValueKind::FrozenSet, id))
            return false;
        at(id).items.assign(m_stack.begin() + static_cast<std::ptrdiff_t>(begin), m_stack.end());
        m_stack.resize(begin);
        return push(id);
    }
    case TUPLE1:
    case TUPLE2:
    case TUPLE3: {
        const std::size_t n = m_op - TUPLE1 + 1u;
        if (!needStack(n))
            return false;
        ValueId id;
        if (!newValue(ValueKind::Tuple, id))
            return false;
        at(id).items.assign(m_stack.end() - static_cast<std::ptrdiff_t>(n), m_stack.end());
        m_stack.resize(m_stack.size() - n);
        return push(id);
    }
    case DICT: {
        std::size_t begin;
        if (!popMark(begin))
            return false;
        if ((m_stack.size() - begin) % 2 != 0)
            return fail(ErrorCode::PickleError, "odd number of items after the MARK");
        ValueId id;
        if (!newValue(ValueKind::Dict, id))
            return false;
        auto &entries = at(id).entries;
        entries.reserve((m_stack.size() - begin) / 2);
        for (std::size_t i = begin; i < m_stack.size(); i += 2)
            entries.emplace_back(m_stack[i], m_stack[i + 1]);
        m_stack.resize(begin);
        return push(id);
    }
    case APPEND: {
        if (!needStack(2))
            return false;
        const ValueId item = pop();
        const ValueId target = m_stack.back();
        const ValueKind k = kindOf(target);
        if (k != ValueKind::List && k != ValueKind::Object) {
            m_stack.push_back(item);
            return wrongKind("the target", target, "a list or an object");
        }
        at(target).items.push_back(item);
        return true;
    }
    case APPENDS:
    case ADDITEMS:
    case SETITEMS: {
        std::size_t begin;
        if (!popMark(begin))
            return false;
        // The target sits just below the MARK, inside the enclosing frame.
        if (begin <= fence())
            return fail(ErrorCode::PickleError, "stack underflow: no target below the MARK");
        const ValueId target = m_stack[begin - 1];
        const ValueKind k = kindOf(target);
        const std::size_t count = m_stack.size() - begin;
        if (count == 0)
            return true; // CPython checks nothing else for an empty batch
        if (m_op == SETITEMS) {
            if (k != ValueKind::Dict && k != ValueKind::Object)
                return wrongKind("the target", target, "a dict or an object");
            if (count % 2 != 0)
                return fail(ErrorCode::PickleError, "odd number of items after the MARK");
            // No reserve(size + count): many small batches would reallocate every time (quadratic).
            auto &entries = at(target).entries;
            for (std::size_t i = begin; i < m_stack.size(); i += 2)
                entries.emplace_back(m_stack[i], m_stack[i + 1]);
        } else {
            if (m_op == APPENDS && k != ValueKind::List && k != ValueKind::Object)
                return wrongKind("the target", target, "a list or an object");
            if (m_op == ADDITEMS && k != ValueKind::Set && k != ValueKind::Object)
                return wrongKind("the target", target, "a set or an object");
            auto &items = at(target).items;
            items.insert(items.end(), m_stack.begin() + static_cast<std::ptrdiff_t>(begin), m_stack.end());
        }
        m_stack.resize(begin);
        return true;
    }
    case SETITEM: {
        if (!needStack(3))
            return false;
        const ValueId target = m_stack[m_stack.size() - 3];
        const ValueKind k = kindOf(target);
        if (k != ValueKind::Dict && k != ValueKind::Object)
            return wrongKind("the target", target, "a dict or an object");
        const ValueId value = pop();
        const ValueId key = pop();
        at(target).entries.emplace_back(key, value);
        return true;
    }

    // --- memo
    case PUT: {
        if (!readLine(line))
            return false;
        bool negative;
        if (!textIndex(line, u, negative))
            return false;
        if (negative)
            return fail(ErrorCode::PickleError, "negative memo index");
        return memoPut(u);
    }
    case BINPUT:
        return readU(1, u) && memoPut(u);
    case LONG_BINPUT:
        return readU(4, u) && memoPut(u);
    case MEMOIZE:
        return memoPut(m_memo.size());
    case GET: {
        if (!readLine(line))
            return false;
        bool negative;
        if (!textIndex(line, u, negative))
            return false;
        return memoGet(u, negative);
    }
    case BINGET:
        return readU(1, u) && memoGet(u);
    case LONG_BINGET:
        return readU(4, u) && memoGet(u);

    // --- globals, calls, objects
    case GLOBAL: {
        std::string_view module, name;
        if (!readLine(module))
            return false;
        const std::size_t modulePos = m_pos - module.size() - 1;
        if (!readLine(name))
            return false;
        const std::size_t namePos = m_pos - name.size() - 1;
        if (std::size_t bad = invalidUtf8(module, false); bad != module.size())
            return failAt(ErrorCode::PickleError, modulePos + bad, "module name is not valid UTF-8");
        if (std::size_t bad = invalidUtf8(name, false); bad != name.size())
            return failAt(ErrorCode::PickleError, namePos + bad, "global name is not valid UTF-8");
        return global(std::string(module), std::string(name)) && push(m_lastGlobal);
    }
    case STACK_GLOBAL: {
        if (!needStack(2))
            return false;
        const ValueId nameId = m_stack[m_stack.size() - 1];
        const ValueId moduleId = m_stack[m_stack.size() - 2];
        if (kindOf(moduleId) != ValueKind::String || kindOf(nameId) != ValueKind::String) {
            m_result.globals.push_back(GlobalUse{std::string(), std::string(), m_base + m_opPos, true, {}});
            return fail(ErrorCode::PickleError, std::string("non-literal import: the operands are a ")
                                                    + kindName(kindOf(moduleId)) + " and a " + kindName(kindOf(nameId))
                                                    + ", not two strings");
        }
        if (!global(at(moduleId).text, at(nameId).text))
            return false;
        m_stack.resize(m_stack.size() - 2);
        return push(m_lastGlobal);
    }
    case INST: {
        std::string_view module, name;
        if (!readLine(module))
            return false;
        const std::size_t modulePos = m_pos - module.size() - 1;
        if (!readLine(name))
            return false;
        const std::size_t namePos = m_pos - name.size() - 1;
        if (const std::size_t bad = firstNonAscii(module); bad != module.size())
            return failAt(ErrorCode::PickleError, modulePos + bad, "module name is not ASCII");
        if (const std::size_t bad = firstNonAscii(name); bad != name.size())
            return failAt(ErrorCode::PickleError, namePos + bad, "class name is not ASCII");
        std::size_t begin;
        if (!popMark(begin))
            return false;
        ValueId args, obj;
        if (!global(std::string(module), std::string(name)))
            return false;
        const ValueId cls = m_lastGlobal;
        if (!tupleOf(begin, m_stack.size(), args) || !object(ObjectOrigin::Inst, cls, args, kNoValue, obj))
            return false;
        m_stack.resize(begin);
        return push(obj);
    }
    case OBJ: {
        std::size_t begin;
        if (!popMark(begin))
            return false;
        if (m_stack.size() == begin)
            return fail(ErrorCode::PickleError, "stack underflow: no class after the MARK");
        const ValueId cls = m_stack[begin];
        if (!opaque(kindOf(cls)))
            return wrongKind("the class", cls, "a class");
        ValueId args, obj;
        if (!tupleOf(begin + 1, m_stack.size(), args) || !object(ObjectOrigin::Obj, cls, args, kNoValue, obj))
            return false;
        m_stack.resize(begin);
        return push(obj);
    }
    case REDUCE: {
        if (!needStack(2))
            return false;
        const ValueId args = m_stack[m_stack.size() - 1];
        const ValueId callable = m_stack[m_stack.size() - 2];
        if (!opaque(kindOf(callable)))
            return wrongKind("the callable", callable, "a global or an object");
        if (kindOf(args) != ValueKind::Tuple && !opaque(kindOf(args)))
            return wrongKind("the argument", args, "a tuple");
        ValueId obj;
        if (!object(ObjectOrigin::Reduce, callable, args, kNoValue, obj))
            return false;
        m_stack.pop_back();
        m_stack.back() = obj;
        return true;
    }
    case NEWOBJ:
    case NEWOBJ_EX: {
        const bool ex = m_op == NEWOBJ_EX;
        if (!needStack(ex ? 3 : 2))
            return false;
        const std::size_t top = m_stack.size();
        const ValueId kwargs = ex ? m_stack[top - 1] : kNoValue;
        const ValueId args = m_stack[top - (ex ? 2 : 1)];
        const ValueId cls = m_stack[top - (ex ? 3 : 2)];
        if (!opaque(kindOf(cls)))
            return wrongKind("the class", cls, "a class");
        if (kindOf(args) != ValueKind::Tuple && !opaque(kindOf(args)))
            return wrongKind("the argument", args, "a tuple");
        if (ex && kindOf(kwargs) != ValueKind::Dict && !opaque(kindOf(kwargs)))
            return wrongKind("the keyword argument", kwargs, "a dict");
        ValueId obj;
        if (!object(ex ? ObjectOrigin::NewObjEx : ObjectOrigin::NewObj, cls, args, kwargs, obj))
            return false;
        m_stack.resize(top - (ex ? 3 : 2));
        return push(obj);
    }
    case BUILD: {
        if (!needStack(2))
            return false;
        const ValueId state = m_stack[m_stack.size() - 1];
        const ValueId target = m_stack[m_stack.size() - 2];
        const ValueKind k = kindOf(target);
        if (k != ValueKind::Object && k != ValueKind::Dict)
            return wrongKind("the target", target, "an object or a dict");
        Value &v = at(target);
        v.state = state;
        ++v.builds;
        m_stack.pop_back();
        return true;
    }
    case PERSID: {
        if (!readLine(line))
            return false;
        if (const std::size_t bad = firstNonAscii(line); bad != line.size())
            return failAt(ErrorCode::PickleError, m_pos - line.size() - 1 + bad, "persistent id is not ASCII");
        ValueId pid, id;
        if (!newValue(ValueKind::String, pid))
            return false;
        at(pid).text.assign(line.data(), line.size());
        if (!newValue(ValueKind::PersistentId, id))
            return false;
        at(id).args = pid;
        return push(id);
    }
    case BINPERSID: {
        if (!needStack(1))
            return false;
        ValueId id;
        if (!newValue(ValueKind::PersistentId, id))
            return false;
        at(id).args = m_stack.back();
        m_stack.back() = id;
        return true;
    }

    // --- never written by torch.save: refused rather than half-modelled
    case EXT1:
    case EXT2:
    case EXT4:
        return fail(ErrorCode::PickleError, "unsupported opcode (copyreg extension registry)");
    case NEXT_BUFFER:
    case READONLY_BUFFER:
        return fail(ErrorCode::PickleError, "unsupported opcode (out-of-band buffers)");
    default:
        break;
    }
    return fail(ErrorCode::PickleError, "unknown opcode 0x" + hex2(m_op));
}

} // namespace

const char *pickleOpcodeName(std::uint8_t op)
{
    return opName(op);
}

Result<PickleResult> unpickle(std::span<const std::uint8_t> data, ValueArena &arena, std::string_view where,
                              std::uint64_t baseOffset, const PickleLimits &limits, PickleResult *partial)
{
    // The machine reports every failure through Result; only allocation failure could throw,
    // and that must not escape the API either.
    try {
        Machine machine(data, arena, where, baseOffset, limits);
        auto result = machine.run();
        if (!result && partial) {
            *partial = machine.takePartial();
            partial->root = kNoValue;
        }
        return result;
    } catch (const std::bad_alloc &) {
        return makeError(ErrorCode::BudgetExceeded, "out of memory while reading the pickle", std::string(where),
                         baseOffset);
    } catch (const std::exception &e) {
        return makeError(ErrorCode::PickleError, std::string("internal error while reading the pickle: ") + e.what(),
                         std::string(where), baseOffset);
    }
}

} // namespace ptscope::core
