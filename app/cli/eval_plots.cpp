#include "app/cli/eval_plots.h"

#include "core/common/error.h"

#include <plplot.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

namespace astroclip::cli {

namespace {

// One PLplot stream writing one PNG; ended (and the file closed) on destruction.
class PngPlot {
public:
    PngPlot(const std::string& path, int width = 900, int height = 800) : path_(path) {
        plmkstrm(&stream_);
        plsstrm(stream_);
        plsdev("pngcairo");
        plsfnam(path.c_str());
        char geometry[32];
        std::snprintf(geometry, sizeof geometry, "%dx%d", width, height);
        plsetopt("geometry", geometry);
        plscolbg(255, 255, 255);  // white background, black axes: a figure for a paper or a report
        plscol0(1, 0, 0, 0);
        plscol0(2, 200, 30, 30);   // the 1:1 line
        plscol0(9, 30, 80, 200);   // data
        plinit();
    }
    ~PngPlot() {
        plsstrm(stream_);
        plend1();
    }
    PngPlot(const PngPlot&) = delete;
    PngPlot& operator=(const PngPlot&) = delete;

private:
    std::string path_;
    PLINT stream_ = 0;
};

void checkWritten(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec) || std::filesystem::file_size(path, ec) == 0)
        throw FileError(path, "PLplot wrote no image (is Debian's plplot-driver-cairo installed?)");
}

std::string redshiftPlot(const analysis::ProbeResult& r, const std::string& model, const std::string& dir) {
    const std::string path = dir + "/redshift-" + r.params.embeddings.modality + ".png";
    {
        PngPlot plot(path);
        double lo = 0, hi = 0;
        for (const double v : r.truth) hi = std::max(hi, v);
        for (const double v : r.predicted) hi = std::max(hi, v);
        hi *= 1.05;
        plenv(lo, hi, lo, hi, 1, 0);
        char title[160];
        std::snprintf(title, sizeof title, "%s %s, k-NN zero-shot: R#u2#d = %.3f (%lld held out)", model.c_str(),
                      r.params.embeddings.modality.c_str(), r.score, (long long)r.evaluated);
        pllab("true redshift", "predicted redshift", title);
        plcol0(2);
        const PLFLT line[2] = {lo, hi};
        plline(2, line, line);
        plcol0(9);
        plpoin(PLINT(r.truth.size()), r.truth.data(), r.predicted.data(), 17);  // filled dots
    }
    checkWritten(path);
    return path;
}

std::string retrievalPlot(const analysis::EvalReport& report, const std::string& dir) {
    const std::string path = dir + "/retrieval-ranks.png";
    {
        PngPlot plot(path, 1500, 650);
        plssub(int(report.retrieval.size()), 1);
        for (const auto& r : report.retrieval) {
            pladv(0);
            // log10 of the rank: the partner is in the first few when the space is aligned.
            std::vector<PLFLT> logRanks;
            for (const int64_t rank : r.ranks) logRanks.push_back(std::log10(double(rank)));
            const double top = std::log10(double(r.ids.size())) + 0.05;
            const int bins = 30;
            std::vector<PLFLT> counts(bins, 0.0);
            for (const double v : logRanks) counts[size_t(std::min(bins - 1, int(v / top * bins)))] += 1;
            const double ymax = *std::max_element(counts.begin(), counts.end()) * 1.1 + 1;
            plschr(0, 0.85);
            plvsta();
            plwind(0, top, 0, ymax);
            plbox("bcnlst", 0, 0, "bcnst", 0, 0);
            char title[160];
            std::snprintf(title, sizeof title, "%s to %s: median rank %.1f of %zu, top-10 %.2f", r.from.c_str(),
                          r.to.c_str(), r.medianRank, r.ids.size(), r.top10);
            pllab("rank of the true partner", "objects", title);
            plcol0(9);
            plhist(PLINT(logRanks.size()), logRanks.data(), 0, top, bins, PL_HIST_NOSCALING);
            plcol0(1);
        }
    }
    checkWritten(path);
    return path;
}

} // namespace

std::vector<std::string> writeEvalPlots(const analysis::EvalReport& report, const std::string& dir) {
    std::vector<std::string> files;
    for (const auto& r : report.redshift) files.push_back(redshiftPlot(r, report.model, dir));
    if (!report.retrieval.empty()) files.push_back(retrievalPlot(report, dir));
    return files;
}

} // namespace astroclip::cli
