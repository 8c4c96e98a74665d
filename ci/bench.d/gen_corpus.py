#!/usr/bin/env python3
"""Deterministic ~1 GiB benchmark corpus (ci/bench): mixed text, incompressible
binaries, many small files, a few large ones. Same bytes on every run.
usage: gen_corpus.py DIR [SCALE]   (SCALE 1 = ~1 GiB, 4 = ~4 GiB)"""
import os, random, sys

MiB = 1 << 20
root = sys.argv[1]
scale = int(sys.argv[2]) if len(sys.argv) > 2 else 1
rng = random.Random(20261129)

# 64 text blocks of 1 MiB from a fixed vocabulary: log- and config-like lines.
vocab = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 10)))
         for _ in range(3000)]
def text_block(r):
    out, n = [], 0
    while n < MiB:
        line = "%04d-%02d-%02d %s=%d %s\n" % (r.randint(2000, 2030), r.randint(1, 12),
               r.randint(1, 28), r.choice(vocab), r.randint(0, 99999),
               " ".join(r.choice(vocab) for _ in range(r.randint(3, 14))))
        out.append(line); n += len(line)
    return "".join(out).encode()[:MiB]
text = [text_block(random.Random(i)) for i in range(64)]
# incompressible: a fixed-seed stream (randbytes is fast)
binr = random.Random(7)

def write(path, chunks):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        for c in chunks:
            f.write(c)

def text_chunks(nbytes, r):
    left = nbytes
    while left > 0:
        b = text[r.randrange(64)]
        yield b[:left]; left -= len(b[:left])

def bin_chunks(nbytes):
    left = nbytes
    while left > 0:
        n = min(left, 4 * MiB)
        yield binr.randbytes(n); left -= n

for s in range(scale):
    base = os.path.join(root, "set%d" % s)
    # a few large: 3 x 128 MiB text, 2 x 128 MiB incompressible
    for i in range(3):
        write(os.path.join(base, "large", "log%d.txt" % i), text_chunks(128 * MiB, rng))
    for i in range(2):
        write(os.path.join(base, "large", "blob%d.bin" % i), bin_chunks(128 * MiB))
    # medium: 150 x 1 MiB, half text half binary
    for i in range(150):
        p = os.path.join(base, "medium", "m%03d" % i)
        write(p, text_chunks(MiB, rng) if i % 2 else bin_chunks(MiB))
    # many small: 24000 files of 0.5..16 KiB in 240 directories, 3/4 text
    for i in range(24000):
        n = rng.randint(512, 16384)
        p = os.path.join(base, "small", "d%03d" % (i % 240), "f%05d.%s" % (i, "conf" if i % 4 else "bin"))
        if i % 4:
            b = text[rng.randrange(64)]; o = rng.randrange(MiB - n)
            write(p, [b[o:o + n]])
        else:
            write(p, [binr.randbytes(n)])
    os.symlink("large/log0.txt", os.path.join(base, "current.log"))
    os.link(os.path.join(base, "medium", "m001"), os.path.join(base, "m001.hard"))
