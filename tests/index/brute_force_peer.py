"""numpy's answer for tst_vector_index: exact cosine top-k by brute force on the vectors the
C++ test wrote, computed independently of FAISS and LibTorch (float64 throughout).

usage: brute_force_peer.py IN.json OUT.json
IN:  {"vectors": PATH (float32 [n, d] raw), "ids": PATH (int64 [n] raw), "queries": PATH
      (float32 [nq, d] raw), "n", "nq", "d",
      "cases": [{"name", "k", "allowed": [ids] or null}]}
OUT: {name: {"ids": [[...]] (−1 padded), "scores": [[...]], "min_gap": float}}
     min_gap: the smallest difference between consecutive scores among each query's first k + 1
     candidates; a large one means the exact order is well defined (no ties).
"""
import json
import sys

import numpy as np


def unit(rows):
    rows = rows.astype(np.float64)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def main(src, dst):
    with open(src) as f:
        spec = json.load(f)
    n, nq, d = spec["n"], spec["nq"], spec["d"]
    vectors = unit(np.fromfile(spec["vectors"], dtype=np.float32).reshape(n, d))
    ids = np.fromfile(spec["ids"], dtype=np.int64)
    queries = unit(np.fromfile(spec["queries"], dtype=np.float32).reshape(nq, d))
    scores = queries @ vectors.T  # [nq, n]
    out = {}
    for case in spec["cases"]:
        k = case["k"]
        keep = np.ones(n, dtype=bool) if case["allowed"] is None else np.isin(ids, np.asarray(case["allowed"]))
        candidates = np.flatnonzero(keep)
        result_ids = np.full((nq, k), -1, dtype=np.int64)
        result_scores = np.full((nq, k), -np.inf)
        min_gap = np.inf
        for q in range(nq):
            s = scores[q, candidates]
            order = np.argsort(-s, kind="stable")
            top = order[:k]
            result_ids[q, : len(top)] = ids[candidates[top]]
            result_scores[q, : len(top)] = s[top]
            head = s[order[: k + 1]]
            if len(head) > 1:
                min_gap = min(min_gap, float(np.min(-np.diff(head))))
        out[case["name"]] = {
            "ids": result_ids.tolist(),
            "scores": [[float(v) if np.isfinite(v) else None for v in row] for row in result_scores],
            "min_gap": min_gap,
        }
    with open(dst, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
