#!/usr/bin/python3
"""The central galaxy's footprint: our dense segmentation head against SEP (Source Extractor as
a library, Debian's python3-sep) on the same held-out cutouts, both scored by IoU against the
simulator's truth (SEGMAP class 1).

usage: dense_sep.py CATALOG DENSE_JSON [--rows]

SEP runs as SExtractor does by default: a 64-pixel background mesh (sep.Background's default),
detection at 1.5 sigma of the global background RMS, minimum area 5 pixels, deblending on; on
the r band, centre-cropped to the size the encoder saw. Its footprint of the central galaxy is
the segment under the centre pixel (or, when the centre is sky, the segment of the detection
nearest to it). Prints a Markdown table, or with --rows one 'benchmark|ours|peer|ratio' row.
"""
import json
import sqlite3
import sys

import numpy as np
import sep
from astropy.io import fits


def hdu_ref(ref):
    path, hdu = ref[:ref.rindex("[")], int(ref[ref.rindex("[") + 1:-1])
    return path, hdu


def crop(a, size):
    h, w = a.shape
    y0, x0 = (h - size) // 2, (w - size) // 2
    return a[y0:y0 + size, x0:x0 + size]


def sep_central(r_band):
    data = np.ascontiguousarray(r_band, dtype=np.float64)
    bkg = sep.Background(data)
    sub = data - bkg.back()
    objects, seg = sep.extract(sub, 1.5, err=bkg.globalrms, segmentation_map=True)
    c = data.shape[0] // 2
    label = seg[c, c]
    if label == 0 and len(objects):
        d = (objects["x"] - c) ** 2 + (objects["y"] - c) ** 2
        label = int(np.argmin(d)) + 1
    return seg == label if label else np.zeros_like(seg, dtype=bool)


def iou(a, b):
    union = np.logical_or(a, b).sum()
    return np.logical_and(a, b).sum() / union if union else np.nan


def main():
    catalog, dense_json = sys.argv[1:3]
    report = json.load(open(dense_json))
    size = report["crop_size"]
    c = sqlite3.connect(catalog)
    ours, theirs = [], []
    for oid, our_iou in zip(report["central"]["ids"], report["central"]["iou"]):
        row = c.execute("SELECT path, hdu, planes, segmap_ref FROM images WHERE object_id = ? AND kind = 'cutout' "
                        "AND segmap_ref != '' ORDER BY id LIMIT 1", (oid,)).fetchone()
        if row is None or our_iou is None:
            continue
        path, hdu, planes, segmap_ref = row
        with fits.open(path) as f:
            cube = f[hdu - 1].data  # the catalog counts HDUs from 1, as CFITSIO
            r_band = crop(cube[int(planes.split(",")[1])], size)
        spath, shdu = hdu_ref(segmap_ref)
        with fits.open(spath) as f:
            truth = crop(f[shdu - 1].data, size) == 1
        t = iou(sep_central(r_band), truth)
        if np.isnan(t):
            continue
        ours.append(our_iou)
        theirs.append(t)
    ours, theirs = np.mean(ours), np.mean(theirs)
    if "--rows" in sys.argv:
        print(f"central footprint IoU vs truth, {len(report['central']['ids'])} held-out cutouts (higher is better)|"
              f"{ours:.3f}|SEP {theirs:.3f}|{ours / theirs:.2f}x")
    else:
        print("| central-galaxy footprint, IoU against the simulator's truth | ours (linear head on patch tokens) | SEP 1.5 sigma |")
        print("|---|---|---|")
        print(f"| mean over {len(report['central']['ids'])} held-out cutouts | {ours:.3f} | {theirs:.3f} |")


if __name__ == "__main__":
    main()
