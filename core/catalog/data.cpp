// Image and spectrum rows, the ingest ledger (ingested_files) and the catalog summary.
//
// Arrays are stored as BLOBs of their in-memory bytes: float32 and bytes, little-endian,
// the order every platform the app targets uses.
#include "core/catalog/catalog.h"
#include "core/catalog/catalog_impl.h"

#include "core/common/error.h"
#include "core/data/wavegrid.h"

#include <bit>
#include <cstring>

namespace astroclip {

static_assert(std::endian::native == std::endian::little, "catalog arrays are stored little-endian");

namespace {

const char* kindName(ImageRecord::Kind k) { return k == ImageRecord::Kind::Cutout ? "cutout" : "band"; }

std::string joinBands(const ImageRecord& img) {
    std::string out;
    for (const auto& b : img.bands) {
        if (b.empty() || b.find(',') != std::string::npos)
            throw FileError(img.path, "band name '" + b + "' cannot be stored (empty or containing a comma)");
        if (!out.empty()) out += ',';
        out += b;
    }
    return out;
}

std::string joinPlanes(const std::vector<int>& planes) {
    std::string out;
    for (const int p : planes) {
        if (!out.empty()) out += ',';
        out += std::to_string(p);
    }
    return out;
}

std::vector<std::string> splitList(const std::string& s) {
    std::vector<std::string> out;
    if (s.empty()) return out;
    size_t start = 0;
    for (;;) {
        const size_t comma = s.find(',', start);
        out.push_back(s.substr(start, comma - start));
        if (comma == std::string::npos) return out;
        start = comma + 1;
    }
}

template <typename T>
std::vector<T> blobTo(std::span<const unsigned char> b) {
    std::vector<T> out(b.size() / sizeof(T));
    if (!out.empty()) std::memcpy(out.data(), b.data(), out.size() * sizeof(T));
    return out;
}

void checkImage(const ImageRecord& img) {
    if (img.width < 0 || img.height < 0)
        throw FileError(img.path, "image with negative size " + std::to_string(img.width) + "×" + std::to_string(img.height));
    if (img.kind == ImageRecord::Kind::Cutout) {
        if (img.planes.size() != 3)
            throw FileError(img.path, "a cutout must map g, r and z to planes; got " + std::to_string(img.planes.size()) +
                                          " plane indices");
        for (const int p : img.planes)
            if (p < -1 || (!img.bands.empty() && p >= static_cast<int>(img.bands.size())))
                throw FileError(img.path, "cutout plane index " + std::to_string(p) + " outside the image's " +
                                              std::to_string(img.bands.size()) + " planes");
    }
    if (!img.pixels.empty()) {
        const size_t plane = static_cast<size_t>(img.width) * static_cast<size_t>(img.height);
        const size_t planes = img.bands.empty() ? (plane ? img.pixels.size() / plane : 0) : img.bands.size();
        if (plane == 0 || img.pixels.size() != planes * plane)
            throw FileError(img.path, "stored image has " + std::to_string(img.pixels.size()) +
                                          " pixels, not bands × height × width = " + std::to_string(planes * plane));
    }
}

void checkSpectrum(const SpectrumRecord& s) {
    const size_t n = DesiGrid::kSize;
    if (s.flux.size() != n || s.ivar.size() != n || s.mask.size() != n)
        throw FileError(s.path, "spectrum not on the canonical grid: flux, ivar and mask have " +
                                    std::to_string(s.flux.size()) + ", " + std::to_string(s.ivar.size()) + " and " +
                                    std::to_string(s.mask.size()) + " pixels, not " + std::to_string(n));
}

} // namespace

// ---------------------------------------------------------------- images and spectra

void Catalog::Impl::addImage(int64_t objectId, const ImageRecord& img) {
    checkImage(img);
    const std::string bands = joinBands(img), planes = joinPlanes(img.planes);
    auto& s = stmt("INSERT INTO images(object_id, kind, path, hdu, bands, planes, width, height, pixscale, unit, "
                   "ivar_ref, segmap_ref, depthmap_ref, psf_ref, pixels) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)");
    sql::Use u(s);
    s.bind(1, objectId);
    s.bind(2, kindName(img.kind));
    s.bind(3, img.path);
    s.bind(4, img.hdu);
    s.bind(5, bands);
    s.bind(6, planes);
    s.bind(7, img.width);
    s.bind(8, img.height);
    s.bind(9, img.pixscaleArcsec);
    s.bind(10, img.unit);
    s.bind(11, img.ivarRef);
    s.bind(12, img.segmapRef);
    s.bind(13, img.depthmapRef);
    s.bind(14, img.psfRef);
    if (!img.pixels.empty()) s.bindArray(15, std::span<const float>(img.pixels));
    s.step("adding an image");
}

void Catalog::Impl::addSpectrum(int64_t objectId, const SpectrumRecord& sp) {
    checkSpectrum(sp);
    auto& s = stmt("INSERT INTO spectra(object_id, flux, ivar, mask, path, format, native, unit, native_wave_min, "
                   "native_wave_max) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    sql::Use u(s);
    s.bind(1, objectId);
    s.bindArray(2, std::span<const float>(sp.flux));
    s.bindArray(3, std::span<const float>(sp.ivar));
    s.bindArray(4, std::span<const unsigned char>(sp.mask));
    s.bind(5, sp.path);
    s.bind(6, sp.format);
    s.bind(7, sp.native);
    s.bind(8, sp.unit);
    s.bind(9, sp.nativeWaveMin);
    s.bind(10, sp.nativeWaveMax);
    s.step("adding a spectrum");
}

std::vector<ImageRecord> Catalog::images(int64_t objectId) {
    std::vector<ImageRecord> out;
    auto& q = impl_->stmt("SELECT kind, path, hdu, bands, planes, width, height, pixscale, unit, ivar_ref, segmap_ref, "
                          "depthmap_ref, psf_ref, pixels FROM images WHERE object_id = ?1 ORDER BY id");
    sql::Use u(q);
    q.bind(1, objectId);
    while (q.step("reading images")) {
        ImageRecord img;
        img.kind = q.text(0) == "cutout" ? ImageRecord::Kind::Cutout : ImageRecord::Kind::BandImage;
        img.path = q.text(1);
        img.hdu = static_cast<int>(q.int64(2));
        img.bands = splitList(q.text(3));
        for (const auto& p : splitList(q.text(4))) img.planes.push_back(std::stoi(p));
        img.width = static_cast<int>(q.int64(5));
        img.height = static_cast<int>(q.int64(6));
        img.pixscaleArcsec = q.real(7);
        img.unit = q.text(8);
        img.ivarRef = q.text(9);
        img.segmapRef = q.text(10);
        img.depthmapRef = q.text(11);
        img.psfRef = q.text(12);
        img.pixels = blobTo<float>(q.blob(13));
        out.push_back(std::move(img));
    }
    return out;
}

std::vector<SpectrumRecord> Catalog::spectra(int64_t objectId) {
    std::vector<SpectrumRecord> out;
    auto& q = impl_->stmt("SELECT flux, ivar, mask, path, format, native, unit, native_wave_min, native_wave_max "
                          "FROM spectra WHERE object_id = ?1 ORDER BY id");
    sql::Use u(q);
    q.bind(1, objectId);
    while (q.step("reading spectra")) {
        SpectrumRecord s;
        s.flux = blobTo<float>(q.blob(0));
        s.ivar = blobTo<float>(q.blob(1));
        s.mask = blobTo<unsigned char>(q.blob(2));
        s.path = q.text(3);
        s.format = q.text(4);
        s.native = q.text(5);
        s.unit = q.text(6);
        s.nativeWaveMin = q.real(7);
        s.nativeWaveMax = q.real(8);
        out.push_back(std::move(s));
    }
    return out;
}

// ---------------------------------------------------------------- ingest ledger

void Catalog::recordFile(const IngestedFile& f) {
    if (f.status != "ok" && f.status != "skipped" && f.status != "failed")
        throw CatalogError(impl_->path + ": file status '" + f.status + "' is not one of ok, skipped, failed");
    auto& s = impl_->stmt(
        "INSERT INTO ingested_files(path, size, mtime, status, reader, message, objects) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(path) DO UPDATE SET size = excluded.size, "
        "mtime = excluded.mtime, status = excluded.status, reader = excluded.reader, "
        "message = excluded.message, objects = excluded.objects");
    sql::Use u(s);
    s.bind(1, f.path);
    s.bind(2, f.size);
    s.bind(3, f.mtime);
    s.bind(4, f.status);
    s.bind(5, f.reader);
    s.bind(6, f.message);
    s.bind(7, f.objects);
    s.step("recording an ingested file");
}

int64_t Catalog::forgetFileData(const std::string& path) {
    int64_t removed = 0;
    for (const char* sqlText : {"DELETE FROM images WHERE path = ?1", "DELETE FROM spectra WHERE path = ?1"}) {
        auto& s = impl_->stmt(sqlText);
        sql::Use u(s);
        s.bind(1, path);
        s.step("removing data of a re-ingested file");
        removed += sqlite3_changes(impl_->db);
    }
    return removed;
}

std::optional<IngestedFile> Catalog::file(const std::string& path) {
    auto& q = impl_->stmt("SELECT path, size, mtime, status, reader, message, objects FROM ingested_files WHERE path = ?1");
    sql::Use u(q);
    q.bind(1, path);
    if (!q.step("reading an ingested file")) return std::nullopt;
    return IngestedFile{q.text(0), q.int64(1), q.int64(2), q.text(3), q.text(4), q.text(5), q.int64(6)};
}

std::vector<IngestedFile> Catalog::files() {
    auto& q = impl_->stmt("SELECT path, size, mtime, status, reader, message, objects FROM ingested_files ORDER BY path");
    sql::Use u(q);
    std::vector<IngestedFile> out;
    while (q.step("listing ingested files"))
        out.push_back(IngestedFile{q.text(0), q.int64(1), q.int64(2), q.text(3), q.text(4), q.text(5), q.int64(6)});
    return out;
}

// ---------------------------------------------------------------- summary

CatalogInfo Catalog::info() {
    Impl& I = *impl_;
    CatalogInfo info;
    info.path = I.path;
    info.schemaVersion = I.version;
    {
        // Objects by what data they have: each object counted once per modality.
        sql::Stmt q(I.db, R"sql(
            WITH cut AS (SELECT DISTINCT object_id FROM images WHERE kind = 'cutout'),
                 band AS (SELECT DISTINCT object_id FROM images WHERE kind = 'band'
                          AND object_id NOT IN (SELECT object_id FROM cut)),
                 spec AS (SELECT DISTINCT object_id FROM spectra)
            SELECT (SELECT count(*) FROM objects), (SELECT count(*) FROM cut), (SELECT count(*) FROM band),
                   (SELECT count(*) FROM spec),
                   (SELECT count(*) FROM cut WHERE object_id IN (SELECT object_id FROM spec)),
                   (SELECT count(*) FROM images), (SELECT count(*) FROM spectra),
                   (SELECT count(*) FROM ingested_files WHERE status = 'ok'),
                   (SELECT count(*) FROM ingested_files WHERE status = 'failed'))sql");
        q.step("summarising the catalog");
        info.objects = q.int64(0);
        info.objectsWithImage = q.int64(1);
        info.objectsWithBandImages = q.int64(2);
        info.objectsWithSpectrum = q.int64(3);
        info.objectsWithBoth = q.int64(4);
        info.images = q.int64(5);
        info.spectra = q.int64(6);
        info.ingestedFiles = q.int64(7);
        info.failedFiles = q.int64(8);
    }
    info.columns = columns();
    if (I.version < 2) return info;  // no models or embeddings before schema 2
    {
        sql::Stmt q(I.db, "SELECT id, name, stage, path, step FROM models ORDER BY id");
        while (q.step("listing models")) info.models.push_back({q.int64(0), q.text(1), q.text(2), q.text(3), q.int64(4)});
    }
    {
        sql::Stmt q(I.db, "SELECT m.name, e.modality, e.space, count(*), max(e.dim) FROM embeddings e "
                          "JOIN models m ON m.id = e.model_id GROUP BY e.model_id, e.modality, e.space "
                          "ORDER BY m.name, e.modality, e.space");
        while (q.step("listing embeddings"))
            info.embeddings.push_back({q.text(0), q.text(1), q.text(2), q.int64(3), static_cast<int>(q.int64(4))});
    }
    if (I.version < 4) return info;  // no maps before schema 4
    for (const auto& m : maps()) {
        const auto set = embeddingSet(m.key);
        info.maps.push_back({m.model, m.key.modality, m.key.space, m.method, m.dims, m.count,
                             !set || set->source != m.source || set->count != m.count});
    }
    return info;
}

} // namespace astroclip
