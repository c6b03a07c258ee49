"""Peer for the catalogue-import benchmark: Python's sqlite3 executemany of the same rows
(read with astropy), into a table with the same columns, WAL, one transaction."""
import sqlite3
import sys
import time

from astropy.io import fits

src, db = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
with fits.open(src, memmap=False) as h:
    d = h[1].data
    rows = list(zip(d["TARGETID"].tolist(), d["RA"].tolist(), d["DEC"].tolist(), d["Z"].tolist(),
                    d["MAG_R"].tolist(), [c.strip() for c in d["CLASS"].tolist()], d["FLAG"].tolist()))
t_read = time.perf_counter() - t0
con = sqlite3.connect(db)
con.execute("PRAGMA journal_mode=WAL")
con.execute("PRAGMA synchronous=NORMAL")
con.execute("CREATE TABLE objects (id INTEGER PRIMARY KEY, targetid INTEGER UNIQUE, ra REAL, dec REAL,"
            " z REAL, mag_r REAL, class TEXT, flag INTEGER)")
t1 = time.perf_counter()
with con:
    con.executemany("INSERT INTO objects (targetid, ra, dec, z, mag_r, class, flag) VALUES (?,?,?,?,?,?,?)", rows)
t_insert = time.perf_counter() - t1
con.close()
print(f"{len(rows)} {t_read:.4f} {t_insert:.4f}")
