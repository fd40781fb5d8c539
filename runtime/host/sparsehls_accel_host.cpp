// Native XRT host for the RTL accelerator (sparsehls_accel, `sparsehls rtlsim` of a project).
//
//   sparsehls_accel_host <sparsehls_accel.xclbin> <project/rtlsim/rtl> [--device N]
//
// Build (runtime/host/Makefile, target accel; Debian's libxrt-dev or /opt/xilinx/xrt):
//   g++ -std=c++17 -I/usr/include/xrt sparsehls_accel_host.cpp -o sparsehls_accel_host -lxrt_coreutil -pthread
//
// It makes exactly the calls of the cocotb testbench (compiler/backends/rtl/accel_tb.py):
// the argument order and registers from <rtl>/vitis/kernel_args.txt (written from
// compiler/backends/rtl/kernel_args.py, like kernel.xml), the weight image <rtl>/weights.bin
// in a buffer on the kernel's AXI master, one load call (mode 1), then one run call per
// sequence of <rtl>/host (meta.txt: output row bytes and runs, then each run's tokens;
// input<i>.bin; golden<i>.bin, the golden model's int8 rows with their zero pad bytes):
// input, output, n_tokens, mode 0.  Every output byte is compared.  Exit 0 = match,
// 1 = mismatches, 2 = a refusal or XRT's own error (no card, XILINX_XRT not set), one line.
#include <stdint.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "xrt/xrt_bo.h"
#include "xrt/xrt_device.h"
#include "xrt/xrt_kernel.h"
#include "xrt/experimental/xrt_xclbin.h"

namespace {

const char* const KERNEL = "sparsehls_accel";

// A refusal of ours (missing file, another design), as opposed to XRT's own errors.
struct Refusal : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::vector<char> read_file(const std::string& path) {
    std::ifstream f(path.c_str(), std::ios::binary);
    if (!f) throw Refusal("cannot read " + path);
    return std::vector<char>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// kernel_args.txt: "<name> <pointer 0/1> <register offset>" per argument, in call order
std::vector<std::string> read_args(const std::string& path) {
    std::ifstream f(path.c_str());
    if (!f) throw Refusal("cannot read " + path + ": run `sparsehls rtlsim` on the project first");
    std::vector<std::string> names;
    std::string line;
    while (std::getline(f, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream s(line);
        std::string name;
        s >> name;
        names.push_back(name);
    }
    return names;
}

xrt::xclbin check_xclbin(const std::string& path, const std::vector<std::string>& names) {
    const xrt::xclbin xclbin(path);
    std::string held;
    bool found = false;
    for (const xrt::xclbin::kernel& k : xclbin.get_kernels()) {
        held += (held.empty() ? "" : ", ") + k.get_name();
        found = found || k.get_name() == KERNEL;
    }
    if (!found)
        throw Refusal(path + " holds kernel(s) [" + held + "], not " + KERNEL +
                                 ": it was built for another design");
    const xrt::xclbin::kernel k = xclbin.get_kernel(KERNEL);
    for (const xrt::xclbin::arg& a : k.get_args())
        if (a.get_index() >= names.size() || a.get_name() != names[a.get_index()])
            throw Refusal(path + ": argument " + std::to_string(a.get_index()) + " of " + KERNEL +
                                     " is " + a.get_name() + ", not this package's: another design");
    return xclbin;
}

int run_host(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: sparsehls_accel_host <xclbin> <project/rtlsim/rtl> [--device N]\n");
        return 2;
    }
    const std::string xclbin_path = argv[1], rtl = argv[2];
    unsigned device_index = 0;
    for (int i = 3; i + 1 < argc; i += 2)
        if (!std::strcmp(argv[i], "--device")) device_index = (unsigned)std::atoi(argv[i + 1]);

    const std::vector<std::string> names = read_args(rtl + "/vitis/kernel_args.txt");
    std::map<std::string, int> idx;
    for (size_t i = 0; i < names.size(); ++i) idx[names[i]] = (int)i;
    for (const char* n : {"weights", "input", "output", "n_tokens", "mode"})
        if (!idx.count(n)) throw Refusal(rtl + "/vitis/kernel_args.txt has no argument " + n);
    size_t out_row = 0, runs = 0;
    std::vector<size_t> tokens;
    {
        std::ifstream meta((rtl + "/host/meta.txt").c_str());
        if (!(meta >> out_row >> runs)) throw Refusal("cannot read " + rtl + "/host/meta.txt");
        tokens.resize(runs);
        for (size_t& t : tokens)
            if (!(meta >> t)) throw Refusal(rtl + "/host/meta.txt lists fewer runs than it says");
    }
    const std::vector<char> weights = read_file(rtl + "/weights.bin");
    std::vector<std::vector<char>> inputs, golden;
    size_t in_max = 64, out_max = 64;
    for (size_t r = 0; r < runs; ++r) {
        inputs.push_back(read_file(rtl + "/host/input" + std::to_string(r) + ".bin"));
        golden.push_back(read_file(rtl + "/host/golden" + std::to_string(r) + ".bin"));
        in_max = std::max(in_max, inputs.back().size());
        out_max = std::max(out_max, tokens[r] * out_row);
    }

    const xrt::xclbin xclbin = check_xclbin(xclbin_path, names);
    xrt::device device(device_index);
    const xrt::uuid uuid = device.load_xclbin(xclbin);
    xrt::kernel kernel(device, uuid, KERNEL, xrt::kernel::cu_access_mode::exclusive);
    xrt::bo wbo(device, weights.size(), xrt::bo::flags::normal, kernel.group_id(idx["weights"]));
    xrt::bo ibo(device, in_max, xrt::bo::flags::normal, kernel.group_id(idx["input"]));
    xrt::bo obo(device, out_max, xrt::bo::flags::normal, kernel.group_id(idx["output"]));
    wbo.write(weights.data());
    wbo.sync(XCL_BO_SYNC_BO_TO_DEVICE);

    // The load call: mode 1 reads the weight image into the on-chip tables (once).
    xrt::run run(kernel);
    run.set_arg(idx["weights"], wbo);
    run.set_arg(idx["input"], ibo);
    run.set_arg(idx["output"], obo);
    run.set_arg(idx["n_tokens"], (uint32_t)0);
    run.set_arg(idx["mode"], (uint32_t)1);
    auto t0 = std::chrono::steady_clock::now();
    run.start();
    run.wait();
    std::printf("sparsehls_accel_host: weights loaded (%zu bytes) in %.3f ms\n", weights.size(),
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());

    long bad = 0;
    for (size_t r = 0; r < runs; ++r) {
        const size_t bytes = tokens[r] * out_row;
        ibo.write(inputs[r].data(), inputs[r].size(), 0);
        ibo.sync(XCL_BO_SYNC_BO_TO_DEVICE, inputs[r].size(), 0);
        run.set_arg(idx["n_tokens"], (uint32_t)tokens[r]);
        run.set_arg(idx["mode"], (uint32_t)0);
        t0 = std::chrono::steady_clock::now();
        run.start();
        run.wait();
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        std::vector<char> got(bytes);
        obo.sync(XCL_BO_SYNC_BO_FROM_DEVICE, bytes, 0);
        obo.read(got.data(), bytes, 0);
        std::ofstream(rtl + "/host/xrt" + std::to_string(r) + ".bin", std::ios::binary)
            .write(got.data(), (std::streamsize)got.size());
        long diff = 0;
        for (size_t b = 0; b < bytes; ++b)
            if (b >= golden[r].size() || got[b] != golden[r][b]) ++diff;
        std::printf("sparsehls_accel_host: sequence %zu: %zu tokens, %.3f ms, %ld mismatches\n", r, tokens[r], ms,
                    diff);
        bad += diff;
    }
    std::printf("sparsehls_accel_host: %ld mismatches\n", bad);
    return bad == 0 ? 0 : 1;
}

}  // namespace

// Every refusal and XRT failure is an exception: one line on stderr, exit 2.
int main(int argc, char** argv) {
    try {
        return run_host(argc, argv);
    } catch (const std::exception& e) {
        const bool ours = dynamic_cast<const Refusal*>(&e) != nullptr;
        std::string msg = e.what();
        for (char& c : msg)
            if (c == '\n' || c == '\r') c = ' ';
        while (!msg.empty() && msg.back() == ' ') msg.pop_back();
        std::fprintf(stderr, "sparsehls_accel_host: %s%s\n", ours ? "" : "XRT: ", msg.c_str());
        return 2;
    }
}
