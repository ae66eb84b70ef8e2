// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
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

class ValueArena
{
public:
    ValueId add(Value v)
    {
        m_values.push_back(std::move(v));
        return static_cast<ValueId>(m_values.size() - 1);
    }
    Value &operator[](ValueId id) { return m_values[id]; }
    const Value &operator[](ValueId id) const { return m_values[id]; }
    bool valid(ValueId id) const { return id < m_values.size(); }
    std::size_t size() const { return m_values.size(); }
    void reserve(std::size_t n) { m_values.reserve(n); }

    // Convenience lookups used by the interpretation layers.
    bool isString(ValueId id) const { return valid(id) && m_values[id].kind == ValueKind::String; }
    bool isInt(ValueId id) const { return valid(id) && m_values[id].kind == ValueKind::Int; }
    bool isGlobal(ValueId id, const char *module, const char *name) const
    {
        return valid(id) && m_values[id].kind == ValueKind::Global && m_values[id].text == module
            && m_values[id].name == name;
    }

private:
    std::vector<Value> m_values;
};

} // namespace ptscope::core
