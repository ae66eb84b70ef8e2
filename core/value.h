// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

namespace ptscope::core {

// Values live in one arena and refer to each other by index. Shared references (pickle memo,
// DUP) are the same id, cycles are possible, and destruction is flat: no recursion anywhere.
using ValueId = std::uint32_t;
inline constexpr ValueId kNoValue = 0xFFFFFFFFu;

enum class ValueKind : std::uint8_t {
    // Produced by the unpickler.
    None,
    Bool,         // boolean
    Int,          // integer (fits int64)
    BigInt,       // text = decimal digits with optional '-' (does not fit int64). Binary integers (LONG1/LONG4,
                  // hex/octal/binary INT/LONG text) whose magnitude exceeds 1024 bytes (8192 bits) are not
                  // converted to decimal (quadratic cost on hostile input): text is then "0x" + lowercase hex
                  // of the magnitude, with a leading '-' when negative ("-0x1f..."). Decimal text stays decimal.
    Float,        // real
    String,       // text = UTF-8
    Bytes,        // text = raw bytes
    ByteArray,    // text = raw bytes
    List,         // items
    Tuple,        // items
    Dict,         // entries in insertion order; text = class for dict subclasses ("collections.OrderedDict"),
                  // state = attribute dict set by BUILD (an OrderedDict's _metadata lives there)
    Set,          // items
    FrozenSet,    // items
    Global,       // text = module, name = name; a symbol only: nothing is imported or looked up
    Object,       // callable(args) or cls.__new__(cls, *args[, **kwargs]); see Value::origin.
                  // BUILD stores its argument in `state`; APPEND(S) add to `items`, SETITEM(S) to `entries`.
    PersistentId, // args = the persistent id value, as written
    // Produced by the torch interpretation (never by the unpickler).
    Complex,      // real, imag
    Tensor,       // aux = index into the owner's tensor table
    Storage,      // aux = index into the owner's storage table
    TorchSize,    // items = ints
    Device,       // text = "cuda:0", "cpu", ...
    Dtype,        // text = torch dtype name ("float32")
    Layout,       // text = "sparse_coo", ...
    QScheme,      // text = "per_tensor_affine", ...
};

enum class ObjectOrigin : std::uint8_t {
    Reduce,   // REDUCE: callable(*args)
    NewObj,   // NEWOBJ: cls.__new__(cls, *args)
    NewObjEx, // NEWOBJ_EX: cls.__new__(cls, *args, **kwargs)
    Inst,     // INST: protocol 0 class instantiation
    Obj,      // OBJ: protocol 1 class instantiation
};

struct Value
{
    ValueKind kind = ValueKind::None;
    ObjectOrigin origin = ObjectOrigin::Reduce;
    bool boolean = false;
    std::uint32_t aux = 0;
    std::uint64_t offset = 0; // byte offset (in the file) of the opcode that created this value
    std::int64_t integer = 0;
    double real = 0.0;
    double imag = 0.0;
    std::string text;
    std::string name;
    std::vector<ValueId> items;
    std::vector<std::pair<ValueId, ValueId>> entries;
    ValueId callable = kNoValue; // Object: what was called (usually a Global)
    ValueId args = kNoValue;     // Object: the argument tuple; PersistentId: the id itself
    ValueId kwargs = kNoValue;   // Object: NEWOBJ_EX keyword arguments
    ValueId state = kNoValue;    // Object/Dict: BUILD argument (last one wins; see `builds`)
    std::uint32_t builds = 0;    // how many BUILDs were applied
};

// The values of a pickle, addressed by ValueId. Stored in fixed chunks, so that adding a value never
// moves the others (a whole-model pickle makes millions of them: no reallocation copies, no
// doubled peak) and references stay valid while values are added.
class ValueArena
{
public:
    ValueArena() = default;
    ValueArena(const ValueArena &) = delete;
    ValueArena &operator=(const ValueArena &) = delete;
    ValueArena(ValueArena &&o) noexcept
        : m_chunks(std::move(o.m_chunks))
        , m_size(std::exchange(o.m_size, 0))
    {
    }
    ValueArena &operator=(ValueArena &&o) noexcept
    {
        if (this != &o) {
            clear();
            m_chunks = std::move(o.m_chunks);
            m_size = std::exchange(o.m_size, 0);
        }
        return *this;
    }
    ~ValueArena() { clear(); }

    ValueId add(Value v)
    {
        if ((m_size & (kChunk - 1)) == 0 && (m_size >> kShift) == m_chunks.size())
            m_chunks.push_back(std::unique_ptr<Chunk>(new Chunk)); // default-initialised: not zeroed
        new (slot(m_size)) Value(std::move(v));
        return static_cast<ValueId>(m_size++);
    }
    Value &operator[](ValueId id) { return *slot(id); }
    const Value &operator[](ValueId id) const { return *slot(id); }
    bool valid(ValueId id) const { return id < m_size; }
    std::size_t size() const { return m_size; }
    void reserve(std::size_t n) { m_chunks.reserve((n + kChunk - 1) >> kShift); }

    // Convenience lookups used by the interpretation layers.
    bool isString(ValueId id) const { return valid(id) && (*this)[id].kind == ValueKind::String; }
    bool isInt(ValueId id) const { return valid(id) && (*this)[id].kind == ValueKind::Int; }
    bool isGlobal(ValueId id, const char *module, const char *name) const
    {
        return valid(id) && (*this)[id].kind == ValueKind::Global && (*this)[id].text == module
            && (*this)[id].name == name;
    }

private:
    static constexpr unsigned kShift = 12; // 4096 values (about 0.75 MiB) a chunk
    static constexpr std::size_t kChunk = std::size_t(1) << kShift;
    struct Chunk
    {
        alignas(Value) unsigned char bytes[kChunk * sizeof(Value)];
    };

    Value *slot(std::size_t i) const
    {
        return std::launder(reinterpret_cast<Value *>(m_chunks[i >> kShift]->bytes + (i & (kChunk - 1)) * sizeof(Value)));
    }
    void clear()
    {
        for (std::size_t i = 0; i < m_size; ++i)
            slot(i)->~Value();
        m_size = 0;
        m_chunks.clear();
    }

    std::vector<std::unique_ptr<Chunk>> m_chunks;
    std::size_t m_size = 0;
};

} // namespace ptscope::core
