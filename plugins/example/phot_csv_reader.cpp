// Example reader plugin: "photometry CSV" files, *.phot.csv —
//
//   objid,ra,dec,mag_g,mag_r,mag_z
//   1001,150.1192,2.2050,21.43,20.61,19.98
//
// objid: the catalogue's own object id (any text without commas); ra, dec: ICRS degrees;
// mag_g, mag_r, mag_z: AB magnitudes, empty or 99 when not detected. Further columns are kept
// as they are. Each row becomes one object with the key "phot-csv:<objid>", its position,
// the magnitudes, and the fluxes flux_g/r/z in nanomaggies (m = 22.5 − 2.5 log10 f), the
// unit the Legacy Surveys catalogues use, so the catalog can compare them with Tractor rows.
#include "core/common/error.h"
#include "core/ingest/plugin_abi.h"
#include "core/io/text_table.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <string>

namespace {

using namespace astroclip;

const char* const kRequired[] = {"objid", "ra", "dec", "mag_g", "mag_r", "mag_z"};
constexpr double kNotDetected = 99.0;

bool endsWith(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && std::equal(tail.rbegin(), tail.rend(), s.rbegin(),
                                                 [](char a, char b) { return std::tolower(a) == std::tolower(b); });
}

std::string lowerTrimmed(std::string s) {
    s.erase(0, std::min(s.find_first_not_of(" \t\r\""), s.size()));
    s.erase(s.find_last_not_of(" \t\r\"") + 1);
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

// The header line holds every required column (checked cheaply: score() must not throw).
bool headerHasRequiredColumns(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    if (!std::getline(in, line)) return false;
    std::vector<std::string> names;
    size_t start = 0;
    for (size_t i = 0; i <= line.size(); ++i)
        if (i == line.size() || line[i] == ',') {
            names.push_back(lowerTrimmed(line.substr(start, i - start)));
            start = i + 1;
        }
    return std::all_of(std::begin(kRequired), std::end(kRequired),
                       [&](const char* r) { return std::find(names.begin(), names.end(), r) != names.end(); });
}

class PhotCsvReader final : public Reader {
public:
    std::string name() const override { return "phot-csv"; }
    std::string description() const override {
        return "photometry CSV (*.phot.csv: objid, ra, dec, mag_g, mag_r, mag_z) — example plugin";
    }

    int score(const FileProbe& probe) const override {
        // Above the generic csv-table reader (10): this format is more specific.
        return endsWith(probe.path, ".phot.csv") && headerHasRequiredColumns(probe.path) ? 60 : 0;
    }

    ReadResult read(const FileProbe& probe, const ReaderOptions&) const override {
        const TextTable t = readTextTable(probe.path);
        int col[6];
        for (int i = 0; i < 6; ++i) {
            col[i] = t.columnIndex(kRequired[i]);
            if (col[i] < 0) throw FileError(probe.path, std::string("missing column '") + kRequired[i] + "'");
        }
        const std::vector<double> ra = t.numbers(col[1]), dec = t.numbers(col[2]);
        std::vector<double> mags[3] = {t.numbers(col[3]), t.numbers(col[4]), t.numbers(col[5])};
        static const char* const kBands[] = {"g", "r", "z"};

        const auto cell = [&](size_t r, size_t c) { return c < t.rows[r].size() ? t.rows[r][c] : std::string(); };
        ReadResult result;
        long undetected = 0;
        for (size_t r = 0; r < t.rows.size(); ++r) {
            const std::string id = cell(r, size_t(col[0]));
            if (id.empty()) throw FileError(probe.path, "row " + std::to_string(r + 1) + " has no objid");
            if (!(dec[r] >= -90 && dec[r] <= 90 && ra[r] >= 0 && ra[r] < 360))
                throw FileError(probe.path, "row " + std::to_string(r + 1) + " (objid " + id +
                                                "): ra/dec outside [0,360) × [-90,90] degrees");
            ObjectRecord obj;
            obj.sourceFile = probe.path;
            obj.keys = {"phot-csv:" + id};
            obj.ra = ra[r];
            obj.dec = dec[r];
            for (size_t c = 0; c < t.columns.size(); ++c)
                if (int(c) != col[3] && int(c) != col[4] && int(c) != col[5])
                    obj.columns[lowerTrimmed(t.columns[c].name)] = cell(r, c);
            obj.columns["ra"] = ra[r];
            obj.columns["dec"] = dec[r];
            for (int b = 0; b < 3; ++b) {
                const double m = mags[b][r];
                const std::string band = kBands[b];
                if (!std::isfinite(m) || m >= kNotDetected) {
                    obj.columns["mag_" + band] = std::monostate{};
                    obj.columns["flux_" + band] = std::monostate{};
                    ++undetected;
                } else {
                    obj.columns["mag_" + band] = m;
                    obj.columns["flux_" + band] = std::pow(10.0, (22.5 - m) / 2.5);
                }
            }
            result.objects.push_back(std::move(obj));
        }
        if (undetected) result.warnings.push_back(std::to_string(undetected) + " magnitudes flagged as not detected");
        return result;
    }
};

} // namespace

extern "C" ASTROCLIP_PLUGIN_EXPORT int astroclip_plugin_abi_version() { return ASTROCLIP_READER_ABI_VERSION; }
extern "C" ASTROCLIP_PLUGIN_EXPORT astroclip::Reader* astroclip_create_reader() { return new PhotCsvReader; }
