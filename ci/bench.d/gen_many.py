#!/usr/bin/env python3
"""Deterministic tree of ~1,000,000 entries for ci/bench (BENCH_PARTS many):
many empty and tiny files, one wide directory, one deep chain, a two-level
tree. 999,000-odd entries: under the reader's default cap of 1,000,000.
usage: gen_many.py DIR"""
import os, random, sys

root = sys.argv[1]
rng = random.Random(20261202)

def tiny(path, i):
    # half empty, the rest 1..200 bytes of config-like text
    with open(path, "wb") as f:
        if i % 2:
            f.write((("key%d=value%d\n" % (i, rng.randrange(1 << 30))) * 8)[: rng.randint(1, 200)].encode())

# wide: one directory of 100,000 files
wide = os.path.join(root, "wide")
os.makedirs(wide)
for i in range(100000):
    tiny(os.path.join(wide, "f%06d" % i), i)
# deep: a chain of 200 directories, 50 files in each
d = os.path.join(root, "deep")
for level in range(200):
    d = os.path.join(d, "level%03d" % level)
    os.makedirs(d)
    for i in range(50):
        tiny(os.path.join(d, "f%02d.conf" % i), i)
# tree: 88 x 100 directories of 100 files
for a in range(88):
    for b in range(100):
        d = os.path.join(root, "tree", "a%02d" % a, "b%02d" % b)
        os.makedirs(d)
        for i in range(100):
            tiny(os.path.join(d, "c%02d" % i), i)
