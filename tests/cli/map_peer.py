"""Independent peer of tst_cli_map: writes the vector tables `astroclip import-embeddings` reads
(astropy for FITS and ECSV, h5py for HDF5, plain text for CSV) and checks what `astroclip map`
stored, reading the catalog file with sqlite3 and computing PCA with numpy's SVD and map
quality with scikit-learn. Run by /usr/bin/python3; every command prints one JSON object."""
import hashlib
import json
import sqlite3
import sys

import numpy as np

DIM = 16


def catalog_objects(catalog):
    c = sqlite3.connect(catalog)
    ids = [r[0] for r in c.execute("SELECT id FROM objects ORDER BY id")]
    keys = dict(c.execute("SELECT object_id, key FROM object_keys WHERE key LIKE 'desi:targetid:%'"))
    return np.array(ids, dtype=np.int64), [keys[i] for i in ids]


def clustered(n, dim, seed):
    """Six well-separated clusters on the sphere: a map should keep them apart."""
    rng = np.random.RandomState(seed)
    centres = rng.normal(size=(6, dim))
    labels = rng.randint(0, 6, size=n)
    x = centres[labels] * 3.0 + rng.normal(size=(n, dim))
    return x.astype(np.float32), labels


def write_csv(path, ids, x, names=None):
    with open(path, "w") as f:
        cols = names or [f"emb_{j}" for j in range(x.shape[1])]
        f.write("object_id," + ",".join(cols) + "\n")
        for i, row in zip(ids, x):
            f.write(str(int(i)) + "," + ",".join(repr(float(v)) for v in row) + "\n")


def write(outdir, catalog):
    from astropy.table import Table
    import h5py

    ids, keys = catalog_objects(catalog)
    n = len(ids)
    x, labels = clustered(n, DIM, 1)
    np.save(f"{outdir}/vectors.npy", x)
    np.save(f"{outdir}/labels.npy", labels)
    # CSV, one column per component (in a shuffled column order: the reader sorts by number).
    order = np.random.RandomState(2).permutation(DIM)
    names = [f"emb_{j}" for j in order]
    write_csv(f"{outdir}/vectors.csv", ids, x[:, order], names)
    # FITS: a binary table with a 16E vector column.
    Table({"object_id": ids, "embedding": x}).write(f"{outdir}/vectors.fits", overwrite=True)
    # ECSV keyed by catalog key, the vector in one multidimensional column (astropy writes JSON lists).
    Table({"key": keys, "vec": x}).write(f"{outdir}/vectors_keys.ecsv", overwrite=True)
    # HDF5: float64 [n, 16] in a group, int32 ids beside it.
    with h5py.File(f"{outdir}/vectors.h5", "w") as f:
        g = f.create_group("run")
        g.create_dataset("embeddings", data=x.astype(np.float64))
        g.create_dataset("object_id", data=ids.astype(np.int32))
    # HDF5 keyed by catalog key at the root: variable-length UTF-8 strings, and fixed-length bytes.
    with h5py.File(f"{outdir}/vectors_keys.h5", "w") as f:
        f.create_dataset("embedding", data=x)
        f.create_dataset("key", data=np.array(keys, dtype=object), dtype=h5py.string_dtype())
    with h5py.File(f"{outdir}/vectors_fixed_keys.h5", "w") as f:
        f.create_dataset("embedding", data=x)
        f.create_dataset("key", data=np.array([k.encode() for k in keys]))
    # Other vectors for the same objects (a re-run elsewhere), 8-d ones, bad rows.
    changed, _ = clustered(n, DIM, 5)
    np.save(f"{outdir}/changed.npy", changed)
    write_csv(f"{outdir}/changed.csv", ids, changed)
    write_csv(f"{outdir}/narrow.csv", ids, x[:, :8])
    write_csv(f"{outdir}/unknown.csv", np.concatenate([ids[:5], [999999, 888888]]), x[:7])
    bad = x[:10].copy()
    bad[2, 3] = np.nan
    bad[6, 0] = np.inf
    write_csv(f"{outdir}/nan.csv", ids[:10], bad)
    with open(f"{outdir}/garbage.fits", "wb") as f:
        f.write(b"SIMPLE  = this is not a FITS file" + b"\0" * 100)
    print(json.dumps({"n": n}))


def stored_vectors(catalog, model, modality, space):
    c = sqlite3.connect(catalog)
    rows = c.execute(
        "SELECT e.object_id, e.vector FROM embeddings e JOIN models m ON m.id = e.model_id "
        "WHERE m.name = ? AND e.modality = ? AND e.space = ? ORDER BY e.object_id", (model, modality, space)).fetchall()
    return np.array([r[0] for r in rows]), np.stack([np.frombuffer(r[1], dtype="<f4") for r in rows])


def check_vectors(catalog, model, modality, space, npy):
    ids, v = stored_vectors(catalog, model, modality, space)
    want = np.load(npy)
    all_ids, _ = catalog_objects(catalog)
    print(json.dumps({"count": len(ids), "dim": int(v.shape[1]), "ids_match": bool(np.array_equal(ids, all_ids)),
                      "equal": bool(v.shape == want.shape and np.array_equal(v, want))}))


def map_points(catalog, model, method, dims):
    c = sqlite3.connect(catalog)
    rows = c.execute(
        "SELECT p.object_id, p.x, p.y, p.z FROM map_points p JOIN maps m ON m.id = p.map_id "
        "JOIN models md ON md.id = m.model_id WHERE md.name = ? AND m.method = ? AND m.dims = ? "
        "ORDER BY p.object_id", (model, method, int(dims))).fetchall()
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    pts = np.array([r[1:1 + int(dims)] for r in rows], dtype=np.float64).reshape(len(rows), int(dims))
    return ids, pts


def points(catalog, model, method, dims):
    ids, pts = map_points(catalog, model, method, dims)
    print(json.dumps({"count": len(ids), "finite": bool(np.isfinite(pts).all()),
                      "sha256": hashlib.sha256(pts.astype("<f4").tobytes() + ids.tobytes()).hexdigest()}))


def unit(x):
    x = x.astype(np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def pca(catalog, model, dims, npy):
    """Stored PCA map vs numpy: SVD of the centred unit vectors, compared axis by axis up to sign."""
    ids, pts = map_points(catalog, model, "pca", dims)
    x = unit(np.load(npy))
    xc = x - x.mean(0)
    u, s, vt = np.linalg.svd(xc, full_matrices=False)
    want = xc @ vt[:int(dims)].T
    err = 0.0
    for j in range(int(dims)):
        sign = 1.0 if np.dot(want[:, j], pts[:, j]) >= 0 else -1.0
        err = max(err, float(np.abs(sign * pts[:, j] - want[:, j]).max() / np.abs(want[:, j]).max()))
    print(json.dumps({"count": len(ids), "relative_error": err,
                      "variance_ratio": (s[:int(dims)] ** 2 / (s ** 2).sum()).tolist()}))


def quality(catalog, model, method, dims, npy, labels_npy):
    """Trustworthiness (k = 15, cosine) and how often a point's 10 map neighbours share its cluster."""
    from sklearn.manifold import trustworthiness
    from sklearn.neighbors import NearestNeighbors
    ids, pts = map_points(catalog, model, method, dims)
    x = unit(np.load(npy))
    labels = np.load(labels_npy)
    t = trustworthiness(x, pts, n_neighbors=15, metric="cosine")
    nn = NearestNeighbors(n_neighbors=11).fit(pts).kneighbors(pts, return_distance=False)[:, 1:]
    purity = float((labels[nn] == labels[:, None]).mean())
    print(json.dumps({"count": len(ids), "trustworthiness": float(t), "purity": purity}))


def out_file(path, catalog, model, method, dims):
    """A --out file (CSV or ECSV, read by astropy) against the stored map and the catalog's positions."""
    from astropy.table import Table
    t = Table.read(path, format="ascii.ecsv" if path.endswith(".ecsv") else "ascii.csv")
    cols = ["x", "y", "z"][:int(dims)]
    got = np.stack([np.asarray(t[c], dtype=np.float32) for c in cols], axis=1)
    c = sqlite3.connect(catalog)
    pos = dict((r[0], (r[1], r[2])) for r in c.execute("SELECT id, ra, dec FROM objects"))
    ra_ok = all(abs(pos[int(i)][0] - float(r)) < 1e-12 and abs(pos[int(i)][1] - float(d)) < 1e-12
                for i, r, d in zip(t["object_id"], t["ra"], t["dec"]))
    result = {"rows": len(t), "columns": t.colnames, "ra_dec_match": bool(ra_ok)}
    if model:
        ids, pts = map_points(catalog, model, method, dims)
        result["equal_to_stored"] = bool(np.array_equal(np.asarray(t["object_id"]), ids) and
                                         np.array_equal(got, pts.astype(np.float32)))
    if path.endswith(".ecsv"):
        result["ra_unit"] = str(t["ra"].unit)
    print(json.dumps(result))


def selection(path, catalog, where_max_z):
    """A --where map's --out file: exactly the objects with truth_z below the bound."""
    from astropy.table import Table
    t = Table.read(path, format="ascii.csv")
    c = sqlite3.connect(catalog)
    want = [r[0] for r in c.execute("SELECT id FROM objects WHERE truth_z < ? ORDER BY id", (float(where_max_z),))]
    print(json.dumps({"rows": len(t), "ids_match": [int(i) for i in t["object_id"]] == want}))


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"write": write, "check-vectors": check_vectors, "points": points, "pca": pca, "quality": quality,
     "out": out_file, "selection": selection}[command](*args)
