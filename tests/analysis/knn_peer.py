"""scikit-learn's answer for tst_knn: k-NN regression (optionally after StandardScaler) and
r2_score on the vectors the C++ test wrote.

usage: knn_peer.py IN.json OUT.json
IN:  {"reference": [[...]], "targets": [...], "queries": [[...]], "truth": [...],
      "cases": [{"name", "k", "standardize", "weights"}]}
OUT: {name: {"predictions": [...], "r2": float}}
"""
import json
import sys

import numpy as np
from sklearn.metrics import r2_score
from sklearn.neighbors import KNeighborsRegressor
from sklearn.preprocessing import StandardScaler


def main(src, dst):
    with open(src) as f:
        data = json.load(f)
    reference = np.asarray(data["reference"], dtype=np.float64)
    targets = np.asarray(data["targets"], dtype=np.float64)
    queries = np.asarray(data["queries"], dtype=np.float64)
    truth = np.asarray(data["truth"], dtype=np.float64)
    out = {}
    for case in data["cases"]:
        ref, qry = reference, queries
        if case["standardize"]:
            scaler = StandardScaler().fit(ref)
            ref, qry = scaler.transform(ref), scaler.transform(qry)
        model = KNeighborsRegressor(n_neighbors=case["k"], weights=case["weights"]).fit(ref, targets)
        predictions = model.predict(qry)
        out[case["name"]] = {"predictions": predictions.tolist(), "r2": float(r2_score(truth, predictions))}
    with open(dst, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
