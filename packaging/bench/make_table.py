"""Writes a seeded N-row FITS catalogue (TARGETID, RA, DEC, Z, MAG_R, CLASS, FLAG)."""
import sys

import numpy as np
from astropy.io import fits

n, out = int(sys.argv[1]), sys.argv[2]
rng = np.random.default_rng(1)
cols = [
    fits.Column("TARGETID", "K", array=np.arange(n, dtype=np.int64) + 39627000000000000),
    fits.Column("RA", "D", array=rng.uniform(140, 160, n)),
    fits.Column("DEC", "D", array=rng.uniform(-8, 12, n)),
    fits.Column("Z", "E", array=rng.uniform(0, 1.5, n).astype(np.float32)),
    fits.Column("MAG_R", "E", array=rng.uniform(15, 23, n).astype(np.float32)),
    fits.Column("CLASS", "8A", array=rng.choice(["BGS", "LRG", "ELG", "QSO"], n)),
    fits.Column("FLAG", "J", array=rng.integers(0, 4, n, dtype=np.int32)),
]
fits.BinTableHDU.from_columns(cols, name="CATALOG").writeto(out, overwrite=True)
