// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

// A checkpoint built by hand over an in-memory buffer, for tests of the element reader and the
// statistics backends: any dtype, shape, stride and storage offset, one storage per tensor.
#include "checkpoint.h"
#include "mapped_file.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ptscope::test {

using namespace ptscope::core;

struct Synthetic
{
    Checkpoint cp;
    std::vector<std::uint8_t> bytes;

    std::uint32_t add(const std::string &dtype, const void *data, std::size_t nbytes, std::vector<std::int64_t> shape,
                      std::vector<std::int64_t> stride = {}, std::int64_t offset = 0)
    {
        StorageInfo s;
        s.key = std::to_string(cp.storages.size());
        s.id = s.key;
        s.dtype = dtype;
        s.nbytes = nbytes;
        s.dataOffset = bytes.size();
        bytes.insert(bytes.end(), static_cast<const std::uint8_t *>(data),
                     static_cast<const std::uint8_t *>(data) + nbytes);
        TensorInfo t;
        t.dtype = dtype;
        t.shape = shape;
        if (stride.empty()) {
            stride.assign(shape.size(), 1);
            for (std::size_t i = shape.size(); i-- > 1;)
                stride[i - 1] = stride[i] * shape[i];
        }
        t.stride = stride;
        t.storageOffset = offset;
        t.storage = static_cast<std::int32_t>(cp.storages.size());
        t.numel = 1;
        for (auto d : shape)
            t.numel *= static_cast<std::uint64_t>(d);
        cp.storages.push_back(s);
        cp.tensors.push_back(t);
        return static_cast<std::uint32_t>(cp.tensors.size() - 1);
    }

    template<typename T>
    std::uint32_t addVector(const std::string &dtype, const std::vector<T> &v)
    {
        return add(dtype, v.data(), v.size() * sizeof(T), {static_cast<std::int64_t>(v.size())});
    }

    void finish()
    {
        cp.file = MappedFile::fromBuffer(bytes, "synthetic");
        cp.path = "synthetic";
    }
};

} // namespace ptscope::test
