"""Raw-pixel PCA baseline vectors for the few-shot benchmark (packaging/bench/fewshot.sh).

Usage: pixel_pca.py SURVEY_DIR OUT.csv [COMPONENTS=64]

Reads every simulated g,r,z cutout the survey's truth table lists, applies the Legacy Surveys
viewer's per-band arcsinh stretch (DESIGN.md: scales g 6.0, r 3.4, z 2.2, Q = 20; no clipping, so
faint tidal light keeps its contrast), flattens the pixels and projects them on their first
COMPONENTS principal axes (scikit-learn PCA, randomized solver, seed 0). Writes one row per
galaxy: key (desi:targetid:<TARGETID>, the catalog's link key) and pca_0 ... pca_{K-1}, ready
for `astroclip import-embeddings --key-column key --columns pca_`.
"""
import os
import sys

import numpy as np
from astropy.io import fits
from sklearn.decomposition import PCA

survey, out = sys.argv[1], sys.argv[2]
components = int(sys.argv[3]) if len(sys.argv) > 3 else 64
truth = fits.getdata(os.path.join(survey, "truth.fits"), "TRUTH")
scales = np.array([6.0, 3.4, 2.2], dtype=np.float32)[:, None, None]
q = 20.0
rows = []
for name in truth["CUTOUT"]:
    flux = fits.getdata(os.path.join(survey, name.strip()), 0).astype(np.float32)  # [3, H, W]
    rows.append((np.arcsinh(q * flux * scales) / np.sqrt(q)).ravel())
x = np.stack(rows)
z = PCA(n_components=components, svd_solver="randomized", random_state=0).fit_transform(x)
with open(out, "w") as f:
    f.write("key," + ",".join(f"pca_{i}" for i in range(components)) + "\n")
    for tid, v in zip(truth["TARGETID"], z):
        f.write(f"desi:targetid:{tid}," + ",".join(f"{c:.7g}" for c in v) + "\n")
print(f"{len(rows)} cutouts of {x.shape[1]} pixels -> {components} components", file=sys.stderr)
