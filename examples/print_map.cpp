// Embedding imgmend: open an image (and its backing chain) through the
// public API and print where each extent of guest data comes from.
//
//   g++ -o print_map print_map.cpp $(pkg-config --cflags --libs imgmend)
#include <formats/chain.hpp>
#include <map/map.hpp>

#include <cstdio>

int main(int argc, char** argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: print_map IMAGE\n");
        return 2;
    }
    imgmend::formats::OpenOptions options; // probe the format, take qemu's shared read lock
    auto chain = imgmend::formats::Chain::open(argv[1], options);
    if (!chain) {
        std::fprintf(stderr, "print_map: %s\n", chain.error().message.c_str());
        return 1;
    }
    auto printed = imgmend::map::map_chain(*chain, 0, chain->size(), [](const imgmend::map::MapEntry& e) {
        std::printf("%llu %llu depth=%d %s\n", static_cast<unsigned long long>(e.start),
                    static_cast<unsigned long long>(e.length), e.depth,
                    !e.present ? "unallocated" : e.zero ? "zero" : "data");
        return imgmend::util::Result<void>{};
    });
    if (!printed) {
        std::fprintf(stderr, "print_map: %s\n", printed.error().message.c_str());
        return 1;
    }
    return 0;
}
