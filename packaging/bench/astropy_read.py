"""Peer for the ingest benchmark: astropy opens every FITS file under a folder and reads the
data of every HDU (what any Python pipeline must do before it can use the files)."""
import glob
import sys
import time

from astropy.io import fits

files = sorted(glob.glob(sys.argv[1] + "/**/*.fits", recursive=True))
t0 = time.perf_counter()
for f in files:
    with fits.open(f, memmap=False) as hdus:
        for h in hdus:
            _ = h.data
print(f"{len(files)} {time.perf_counter() - t0:.4f}")
