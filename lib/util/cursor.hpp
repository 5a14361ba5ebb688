// A bounds-checked big-endian reader and writer over a byte span. Reads past
// the end return zero and set a sticky overrun flag, so a parser can read a
// whole structure and test once (never casting image bytes to integers).
#pragma once

#include <boost/endian/conversion.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

namespace imgmend::util {

class Cursor {
public:
    explicit Cursor(std::span<const uint8_t> bytes, size_t position = 0)
        : bytes_(bytes), pos_(position)
    {
    }

    uint8_t u8() { return read<uint8_t>(); }
    uint16_t be16() { return read<uint16_t>(); }
    uint32_t be32() { return read<uint32_t>(); }
    uint64_t be64() { return read<uint64_t>(); }

    std::string string(size_t length)
    {
        if (!take(length))
            return {};
        return std::string(reinterpret_cast<const char*>(bytes_.data() + pos_ - length), length);
    }
    std::span<const uint8_t> bytes(size_t length)
    {
        if (!take(length))
            return {};
        return bytes_.subspan(pos_ - length, length);
    }
    void skip(size_t length) { take(length); }
    void seek(size_t position)
    {
        if (position > bytes_.size()) {
            overrun_ = true;
            pos_ = bytes_.size();
            return;
        }
        pos_ = position;
    }

    size_t position() const { return pos_; }
    size_t remaining() const { return bytes_.size() - pos_; }
    bool overrun() const { return overrun_; }

private:
    template <typename T>
    T read()
    {
        if (!take(sizeof(T)))
            return 0;
        return boost::endian::endian_load<T, sizeof(T), boost::endian::order::big>(
            bytes_.data() + pos_ - sizeof(T));
    }
    bool take(size_t length)
    {
        if (overrun_ || length > bytes_.size() - pos_) {
            overrun_ = true;
            return false;
        }
        pos_ += length;
        return true;
    }

    std::span<const uint8_t> bytes_;
    size_t pos_;
    bool overrun_ = false;
};

// Fixed-position big-endian stores into a buffer the caller sized.
inline void store_be16(std::span<uint8_t> out, size_t at, uint16_t v)
{
    boost::endian::store_big_u16(out.subspan(at, 2).data(), v);
}
inline void store_be32(std::span<uint8_t> out, size_t at, uint32_t v)
{
    boost::endian::store_big_u32(out.subspan(at, 4).data(), v);
}
inline void store_be64(std::span<uint8_t> out, size_t at, uint64_t v)
{
    boost::endian::store_big_u64(out.subspan(at, 8).data(), v);
}
inline uint64_t load_be64(std::span<const uint8_t> in, size_t at)
{
    return boost::endian::load_big_u64(in.subspan(at, 8).data());
}
inline uint32_t load_be32(std::span<const uint8_t> in, size_t at)
{
    return boost::endian::load_big_u32(in.subspan(at, 4).data());
}
inline uint16_t load_be16(std::span<const uint8_t> in, size_t at)
{
    return boost::endian::load_big_u16(in.subspan(at, 2).data());
}

} // namespace imgmend::util
