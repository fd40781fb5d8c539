// Native XRT host for a sparsehls design.
//
//   sparsehls_host <sparsehls.xclbin> <project/hls> [--device N] [--repeat R]
//
// Build (runtime/host/Makefile; Debian's libxrt-dev or /opt/xilinx/xrt):
//   g++ -std=c++17 -I/usr/include/xrt sparsehls_host.cpp -o sparsehls_host -lxrt_coreutil -pthread
//
// Reads the argument list from <hls>/interface.txt, copies <hls>/weights.bin to
// the card once, runs the batch in <hls>/tb_data (meta.txt, <input>.bin; written
// by `sparsehls csim`), reads the outputs back and, where
// tb_data/golden_<output>.bin exists, compares every element. Exit 0 = match.
#include <stdint.h>

#include <chrono>
#include <exception>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "xrt/xrt_bo.h"
#include "xrt/xrt_device.h"
#include "xrt/xrt_kernel.h"
#include "xrt/experimental/xrt_xclbin.h"

namespace {

struct Arg {
    std::string name, kind, dir, ctype, rows;
    int cols = 0;
};

std::vector<char> read_file(const std::string& path, bool required) {
    std::ifstream f(path.c_str(), std::ios::binary);
    if (!f) {
        if (required) {
            std::fprintf(stderr, "sparsehls_host: cannot read %s\n", path.c_str());
            std::exit(2);
        }
        return std::vector<char>();
    }
    return std::vector<char>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

std::vector<Arg> read_interface(const std::string& path, std::string& top) {
    std::ifstream f(path.c_str());
    if (!f) {
        std::fprintf(stderr, "sparsehls_host: cannot read %s\n", path.c_str());
        std::exit(2);
    }
    std::vector<Arg> args;
    std::string line;
    while (std::getline(f, line)) {
        if (line.empty()) continue;
        if (line[0] == '#') {
            std::istringstream h(line.substr(1));
            std::string t;
            if (top.empty() && (h >> t) && t != "name") top = t;
            continue;
        }
        std::istringstream s(line);
        Arg a;
        std::string cols;
        s >> a.name >> a.kind >> a.dir >> a.ctype >> a.rows >> cols;
        a.cols = cols == "-" ? 0 : std::atoi(cols.c_str());
        args.push_back(a);
    }
    return args;
}

size_t elem_bytes(const std::string& ctype) { return ctype == "int8_t" ? 1 : 4; }

// The xclbin must hold this project's kernel with this project's argument list: an xclbin
// built for another design would otherwise be driven with the wrong registers.  Parsing the
// file needs no card, so this answers before xrt::device is opened.
xrt::xclbin check_xclbin(const std::string& path, const std::string& top, const std::vector<Arg>& args) {
    const xrt::xclbin xclbin(path);
    std::string names;
    bool found = false;
    for (const xrt::xclbin::kernel& k : xclbin.get_kernels()) {
        names += (names.empty() ? "" : ", ") + k.get_name();
        found = found || k.get_name() == top;
    }
    if (!found)
        throw std::runtime_error(path + " holds kernel(s) [" + names + "], not " + top +
                                 ": it was built for another design");
    const xrt::xclbin::kernel k = xclbin.get_kernel(top);
    if (k.get_num_args() != args.size())
        throw std::runtime_error(path + ": kernel " + top + " has " + std::to_string(k.get_num_args()) +
                                 " arguments, this project's has " + std::to_string(args.size()) +
                                 ": it was built for another design");
    for (const xrt::xclbin::arg& a : k.get_args())
        if (a.get_index() < args.size() && a.get_name() != args[a.get_index()].name)
            throw std::runtime_error(path + ": argument " + std::to_string(a.get_index()) + " of " + top + " is " +
                                     a.get_name() + ", this project's is " + args[a.get_index()].name +
                                     ": it was built for another design");
    return xclbin;
}

int run_host(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: sparsehls_host <xclbin> <project/hls> [--device N] [--repeat R]\n");
        return 2;
    }
    const std::string xclbin_path = argv[1], hls = argv[2];
    unsigned device_index = 0;
    int repeat = 1;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--device")) device_index = (unsigned)std::atoi(argv[i + 1]);
        if (!std::strcmp(argv[i], "--repeat")) repeat = std::atoi(argv[i + 1]);
    }
    std::string top;
    const std::vector<Arg> args = read_interface(hls + "/interface.txt", top);
    int n_batch = 0, n_seq = 0;
    {
        std::ifstream meta((hls + "/tb_data/meta.txt").c_str());
        if (!(meta >> n_batch >> n_seq)) {
            std::fprintf(stderr, "sparsehls_host: cannot read %s/tb_data/meta.txt\n", hls.c_str());
            return 2;
        }
    }

    const xrt::xclbin xclbin = check_xclbin(xclbin_path, top, args);
    xrt::device device(device_index);
    const xrt::uuid uuid = device.load_xclbin(xclbin);
    xrt::kernel kernel(device, uuid, top, xrt::kernel::cu_access_mode::shared);

    // Weights: weights.bin once, in one buffer behind the 512-bit port w (the same bytes).
    std::vector<char> weights = read_file(hls + "/weights.bin", true);
    int w_index = -1;
    for (size_t i = 0; i < args.size(); ++i)
        if (args[i].name == "w") w_index = (int)i;
    if (w_index < 0) throw std::runtime_error(hls + "/interface.txt has no weight port w: recompile the project");
    xrt::bo wbo(device, weights.size(), xrt::bo::flags::normal, kernel.group_id(w_index));
    wbo.write(weights.data());
    wbo.sync(XCL_BO_SYNC_BO_TO_DEVICE);

    std::vector<xrt::bo> bos(args.size());
    std::vector<size_t> out_bytes(args.size(), 0);
    xrt::run run(kernel);
    for (size_t i = 0; i < args.size(); ++i) {
        const Arg& a = args[i];
        if ((int)i == w_index) {
            run.set_arg((int)i, wbo);
        } else if (a.kind == "m_axi" && a.dir == "in") {
            std::vector<char> data = read_file(hls + "/tb_data/" + a.name + ".bin", true);
            bos[i] = xrt::bo(device, data.size(), xrt::bo::flags::normal, kernel.group_id((int)i));
            bos[i].write(data.data());
            bos[i].sync(XCL_BO_SYNC_BO_TO_DEVICE);
            run.set_arg((int)i, bos[i]);
        } else if (a.kind == "m_axi") {
            const size_t rows = a.rows == "seq" ? (size_t)n_seq : 1;
            out_bytes[i] = (size_t)n_batch * rows * (size_t)a.cols * elem_bytes(a.ctype);
            bos[i] = xrt::bo(device, out_bytes[i], xrt::bo::flags::normal, kernel.group_id((int)i));
            run.set_arg((int)i, bos[i]);
        } else if (a.name == "n_batch") {
            run.set_arg((int)i, n_batch);
        } else {
            run.set_arg((int)i, n_seq);
        }
    }

    const auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < repeat; ++r) {
        run.start();
        run.wait();
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::printf("sparsehls_host: %d x %d sequences of %d tokens, %.3f ms per batch\n", repeat, n_batch, n_seq,
                ms / repeat);

    long bad = 0;
    for (size_t i = 0; i < args.size(); ++i) {
        if (!out_bytes[i]) continue;
        std::vector<char> got(out_bytes[i]);
        bos[i].sync(XCL_BO_SYNC_BO_FROM_DEVICE);
        bos[i].read(got.data());
        std::ofstream(hls + "/tb_data/xrt_" + args[i].name + ".bin", std::ios::binary).write(got.data(), (std::streamsize)got.size());
        std::vector<char> want = read_file(hls + "/tb_data/golden_" + args[i].name + ".bin", false);
        if (want.empty()) continue;
        const size_t eb = elem_bytes(args[i].ctype);
        for (size_t e = 0; e + eb <= got.size(); e += eb)
            if (e + eb > want.size() || std::memcmp(&got[e], &want[e], eb) != 0) ++bad;
        std::printf("sparsehls_host: %s compared with the golden model\n", args[i].name.c_str());
    }
    std::printf("sparsehls_host: %ld mismatches\n", bad);
    return bad == 0 ? 0 : 1;
}

}  // namespace

// Every XRT failure (no card, "XILINX_XRT not set", an xclbin for another design or
// platform, a kernel name the xclbin lacks) is an exception: one line on stderr, exit 2.
int main(int argc, char** argv) {
    try {
        return run_host(argc, argv);
    } catch (const std::exception& e) {
        std::string msg = e.what();
        for (char& c : msg)
            if (c == '\n' || c == '\r') c = ' ';
        while (!msg.empty() && msg.back() == ' ') msg.pop_back();
        std::fprintf(stderr, "sparsehls_host: XRT: %s\n", msg.c_str());
        return 2;
    }
}
