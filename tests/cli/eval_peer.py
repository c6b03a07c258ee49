"""Peer of tst_cli_eval.

make CATALOG OUTDIR: writes image.csv and spectrum.csv, synthetic 'aligned' vectors built from
the catalog's truth (redshift, stellar mass, quenched flag, a per-object identity part shared by
both modalities, independent noise), so a probe, the few-shot head and retrieval all have
something to find.

check CATALOG EVAL_JSON: recomputes from the same vectors what eval.json reports —
cross-modal retrieval ranks with numpy, k-NN redshift predictions with scikit-learn's
KNeighborsRegressor (k = 64, distance-weighted, StandardScaler fitted on the labelled side) —
and prints the largest differences as JSON.
"""
import json
import sqlite3
import sys

import numpy as np


def make(catalog, out):
    c = sqlite3.connect(catalog)
    rows = c.execute("SELECT id, truth_z, truth_logmstar, truth_quenched FROM objects ORDER BY id").fetchall()
    ids = np.array([r[0] for r in rows])
    z = np.array([r[1] for r in rows])
    mass = np.array([r[2] for r in rows])
    quenched = np.array([r[3] for r in rows], dtype=float)
    rng = np.random.default_rng(5)
    identity = rng.normal(size=(len(ids), 6))
    shared = np.column_stack([(z - z.mean()) / z.std(), (mass - mass.mean()) / mass.std(), 2 * quenched, identity])
    for name in ("image", "spectrum"):
        v = shared + 0.3 * rng.normal(size=shared.shape)
        with open(f"{out}/{name}.csv", "w") as f:
            f.write("object_id," + ",".join(f"e{i}" for i in range(v.shape[1])) + "\n")
            for i, row in zip(ids, v):
                f.write(f"{i}," + ",".join("%.9g" % x for x in row) + "\n")


def load(catalog, modality):
    c = sqlite3.connect(catalog)
    rows = c.execute("SELECT e.object_id, e.vector FROM embeddings e JOIN models m ON m.id = e.model_id "
                     "WHERE m.name = 'synthetic' AND e.modality = ? ORDER BY e.object_id", (modality,)).fetchall()
    return np.array([r[0] for r in rows]), np.stack([np.frombuffer(r[1], dtype="<f4") for r in rows]).astype(np.float64)


def check(catalog, eval_json):
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.preprocessing import StandardScaler
    report = json.load(open(eval_json))
    out = {}
    ids_i, img = load(catalog, "image")
    ids_s, spec = load(catalog, "spectrum")
    unit = lambda v: v / np.linalg.norm(v, axis=1, keepdims=True)
    for r in report["retrieval"]:
        held = np.array(r["ids"])
        q = unit((img if r["from"] == "image" else spec)[np.searchsorted(ids_i, held)])
        t = unit((spec if r["to"] == "spectrum" else img)[np.searchsorted(ids_s, held)])
        s = q @ t.T
        ranks = 1 + (s > np.diag(s)[:, None]).sum(1)
        out[f"{r['from']}_ranks_differ"] = int((ranks != np.array(r["ranks"])).sum())
        out[f"{r['from']}_median_rank"] = float(np.median(ranks))
    c = sqlite3.connect(catalog)
    truth = dict(c.execute("SELECT id, truth_z FROM objects").fetchall())
    for p in report["redshift_predictions"]:
        ids, v = (ids_i, img) if p["modality"] == "image" else (ids_s, spec)
        held = set(p["ids"])
        train = [i for i in ids if i not in held]
        rows = lambda sel: v[np.searchsorted(ids, sel)]
        scaler = StandardScaler().fit(rows(train))
        model = KNeighborsRegressor(n_neighbors=64, weights="distance").fit(
            scaler.transform(rows(train)), [truth[i] for i in train])
        predicted = model.predict(scaler.transform(rows(p["ids"])))
        out[f"{p['modality']}_knn_max_diff"] = float(np.abs(predicted - np.array(p["predicted"])).max())
    print(json.dumps(out))


if __name__ == "__main__":
    {"make": make, "check": check}[sys.argv[1]](*sys.argv[2:])
