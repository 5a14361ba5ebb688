#include "fixtures/doctest_printers.hpp"
#include "formats/probe.hpp"
#include "io/memory_device.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace imgmend;
using formats::Format;
using util::Errc;

TEST_CASE("probe_format recognises the qcow2 magic and nothing else")
{
    struct Row {
        std::vector<uint8_t> bytes;
        Format expected;
    };
    const Row rows[] = {
        {{'Q', 'F', 'I', 0xfb}, Format::qcow2},
        {{'Q', 'F', 'I', 0xfb, 0, 0, 0, 3}, Format::qcow2},
        {{'Q', 'F', 'I', 0xfa, 0, 0, 0, 3}, Format::raw},
        {{'q', 'F', 'I', 0xfb}, Format::raw},
        {{0xfb, 'I', 'F', 'Q'}, Format::raw}, // little-endian magic is not qcow2
        {{'Q', 'F', 'I'}, Format::raw},       // too short to hold a magic
        {{}, Format::raw},
        {std::vector<uint8_t>(4096, 0), Format::raw},
    };
    for (const Row& r : rows) {
        CAPTURE(r.bytes.size());
        io::MemoryDevice dev(r.bytes);
        auto f = formats::probe_format(dev);
        REQUIRE(f);
        CHECK(*f == r.expected);
    }
}

TEST_CASE("parse_format accepts qcow2 and raw only")
{
    CHECK(*formats::parse_format("qcow2") == Format::qcow2);
    CHECK(*formats::parse_format("raw") == Format::raw);
    for (const char* name : {"vmdk", "QCOW2", "qcow", "", "raw ", "qcow2\n"}) {
        CAPTURE(name);
        auto f = formats::parse_format(name);
        REQUIRE_FALSE(f);
        CHECK(f.error().code == Errc::unsupported_feature);
        CHECK(f.error().message.find(std::string("'") + name + "'") != std::string::npos);
    }
}
