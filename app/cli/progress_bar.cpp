#include "app/cli/cli_common.h"

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <unistd.h>

namespace astroclip::cli {

namespace {
std::atomic<bool> g_interrupted{false};
extern "C" void onInterrupt(int) {
    // The first Ctrl-C asks the job to stop at a safe point; should that take too long, the
    // next one ends the program the usual way.
    if (g_interrupted) std::signal(SIGINT, SIG_DFL);
    g_interrupted = true;
}
} // namespace

void installInterruptHandler() { std::signal(SIGINT, onInterrupt); }
bool interrupted() { return g_interrupted; }

ProgressFn makeProgressBar(bool quiet) {
    const bool tty = isatty(fileno(stderr));
    struct State {
        std::string stage;
        int lastDecile = -1;
        std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
        std::chrono::steady_clock::time_point lastDraw{};
    };
    auto state = std::make_shared<State>();
    return [=](const Progress& p) {
        if (g_interrupted) return false;
        if (quiet) return true;
        if (p.stage != state->stage) {
            if (tty && !state->stage.empty()) std::fputc('\n', stderr);
            state->stage = p.stage;
            state->lastDecile = -1;
            state->start = std::chrono::steady_clock::now();
        }
        const auto now = std::chrono::steady_clock::now();
        const double frac = p.total > 0 ? double(p.done) / double(p.total) : 0.0;
        const double elapsed = std::chrono::duration<double>(now - state->start).count();
        const double eta = frac > 0.01 ? elapsed * (1 - frac) / frac : 0.0;
        if (tty) {
            if (now - state->lastDraw < std::chrono::milliseconds(100) && p.done != p.total) return true;
            state->lastDraw = now;
            constexpr int kWidth = 30;
            const int filled = int(frac * kWidth);
            std::fprintf(stderr, "\r%-10s [%.*s%*s] %lld/%lld  %5.1fs  eta %5.1fs  %-24.24s", p.stage.c_str(), filled,
                         "##############################", kWidth - filled, "", (long long)p.done, (long long)p.total,
                         elapsed, eta, p.detail.c_str());
            if (p.total > 0 && p.done >= p.total) std::fputc('\n', stderr);
        } else {
            const int decile = int(frac * 10);
            if (decile != state->lastDecile) {
                state->lastDecile = decile;
                std::fprintf(stderr, "%s: %lld/%lld (%d%%) %.1fs\n", p.stage.c_str(), (long long)p.done,
                             (long long)p.total, decile * 10, elapsed);
            }
        }
        return true;
    };
}

void printJson(const nlohmann::json& j) { std::printf("%s\n", j.dump(2).c_str()); }

} // namespace astroclip::cli
