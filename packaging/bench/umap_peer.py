"""umap-learn 0.5.3 on the vectors astroclip-umap-bench wrote, for packaging/bench/umap.sh:
the same parameters as ours (k = 15, min_dist 0.1, 2-D, default epochs, spectral init,
Euclidean) on the same number of threads. umap-learn runs in parallel only without a
random_state, so none is given. Numba compiles its kernels on first use; a small warm-up fit
first keeps that compile time out of the measurement (in the peer's favour).

usage: umap_peer.py X.f32 N D --threads T --out MAP.f32
prints {"seconds", "cpu_seconds"}: wall and process CPU time of fit_transform
"""
import argparse
import json
import os
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("n", type=int)
    ap.add_argument("d", type=int)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dims", type=int, default=2)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.environ["NUMBA_NUM_THREADS"] = str(args.threads)  # before numba loads
    import numpy as np
    import umap

    x = np.fromfile(args.data, dtype="<f4").reshape(args.n, args.d)
    umap.UMAP(n_neighbors=15, n_components=args.dims, n_jobs=args.threads).fit_transform(x[:min(args.n, 600)])
    t0, c0 = time.perf_counter(), time.process_time()
    embedding = umap.UMAP(n_neighbors=15, n_components=args.dims, min_dist=0.1, n_jobs=args.threads).fit_transform(x)
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    embedding.astype("<f4").tofile(args.out)
    json.dump({"seconds": seconds, "cpu_seconds": cpu_seconds}, sys.stdout)


if __name__ == "__main__":
    main()
