#!/usr/bin/env python3
"""Regenerates every file under this folder (crush/testdata/extra/) with crushtool.

    python3 gen.py          # needs crushtool (Ceph 16.2.15) on PATH; stdlib only

What it does, from scratch (maps/, mappings/ and rejected/ are deleted first):
  1. builds the source maps in Python and writes maps/NAME.src.txt;
  2. in a temporary directory: crushtool -c NAME.src.txt -o NAME.bin,
     crushtool -d NAME.bin -o maps/NAME.txt (the canonical text), then
     crushtool -c maps/NAME.txt -o NAME.rt.bin and requires NAME.rt.bin to be
     byte-identical to NAME.bin (and its decompile identical to maps/NAME.txt);
     a map that fails this is dropped (reported on stdout);
  3. runs `crushtool -i maps/NAME.bin --test --show-mappings --rule R
     --num-rep N --min-x 0 --max-x MAXX [--weight D W ...] [--pool-id P]`
     (cwd = the temporary directory) for every planned job, stores the first
     KEEP lines gzip'd as mappings/NAME__rR__nN__TAG.txt.gz and writes
     mappings/MANIFEST.tsv with the line count and sha256 of the FULL output;
  4. checks that the inputs listed in REJECTED still fail to compile and
     records crushtool's message in rejected/EXPECTED.tsv.

Everything is deterministic: the random maps use random.Random(fixed seed),
gzip headers carry mtime 0 and no file name.
"""
import gzip
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
MAPS_DIR = os.path.join(HERE, 'maps')
MAPPINGS_DIR = os.path.join(HERE, 'mappings')
REJECTED_DIR = os.path.join(HERE, 'rejected')
CRUSHTOOL = 'crushtool'
MAXX = 4999          # x = 0..4999 for every run
KEEP = 1000          # lines kept (gzip'd) per output
RANDOM_SEED = 0x10116   # base seed of the random maps (map k uses RANDOM_SEED + k)

TUNABLE_KEYS = ('choose_local_tries', 'choose_local_fallback_tries', 'choose_total_tries',
                'chooseleaf_descend_once', 'chooseleaf_vary_r', 'chooseleaf_stable',
                'straw_calc_version', 'allowed_bucket_algs')
PROFILES = {
    'legacy':   (2, 5, 19, 0, 0, 0, 0, 22),
    'argonaut': (2, 5, 19, 0, 0, 0, 0, 22),
    'bobtail':  (0, 0, 50, 1, 0, 0, 1, 22),
    'firefly':  (0, 0, 50, 1, 1, 0, 1, 22),
    'hammer':   (0, 0, 50, 1, 1, 0, 1, 54),
    'jewel':    (0, 0, 50, 1, 1, 1, 1, 54),
}
STD_TYPES = ((0, 'osd'), (1, 'host'), (2, 'rack'), (3, 'row'), (4, 'root'))
DEFAULT_CHOOSE_ARGS = '18446744073709551615'   # (uint64)-1 as crushtool -d prints it

# w2: partial reweight of the i-th placed device (sorted ids), cycling; '1' = left alone
W2_CYCLE = ('0.5', '1', '0.25', '0.8', '1', '0', '0.6', '1', '0.1', '0.95', '0.333')


def wtxt(milli):
    """weight in thousandths -> text with 3 decimals (always round-trips through -d)."""
    return '%d.%03d' % (milli // 1000, milli % 1000)


def tun(profile=None, **over):
    v = dict(zip(TUNABLE_KEYS, PROFILES[profile or 'jewel']))
    for k, x in over.items():
        assert k in v, k
        v[k] = x
    return v


class CMap:
    """A source map built in Python.  Weights are integers in thousandths."""

    def __init__(self, name, about, tunables, types=STD_TYPES):
        self.name = name
        self.about = about
        self.tunables = tunables        # dict, or None = write no tunable lines
        self.types = list(types)
        self.devices = {}               # id -> (name, class)
        self.buckets = []               # (type, name, id, alg, items[(name, milli|None, pos|None)])
        self.rules = []                 # text blocks
        self.choose_args = []           # text blocks
        self.raw = None                 # hand-written text instead of the above
        self.jobs = []                  # (rule, numrep, weight tag, pool or None)
        self.rand_weights = []          # args for tag 'wr'
        self.dedupe = False             # skip outputs identical to an earlier one of the same rule
        self._next_id = -1

    # ---- building -------------------------------------------------------
    def dev(self, i, cls=None):
        self.devices[i] = ('osd.%d' % i, cls)
        return 'osd.%d' % i

    def bucket(self, btype, name, alg, items, bid=None):
        if bid is None:
            used = {b[2] for b in self.buckets}
            while self._next_id in used:
                self._next_id -= 1
            bid = self._next_id
            self._next_id -= 1
        norm = []
        for it in items:
            it = tuple(it) + (None,) * (3 - len(it))
            norm.append(it)
        self.buckets.append((btype, name, bid, alg, norm))
        return name

    def host(self, name, alg, devs, btype='host', bid=None, cls=None):
        """devs: [(device id, milli weight)]; returns (name, sum of weights)."""
        items = []
        for d, w in devs:
            c = cls(d) if callable(cls) else cls
            items.append((self.dev(d, c), w))
        self.bucket(btype, name, alg, items, bid)
        return name, sum(w for _, w in devs)

    def rule(self, rid, name, rtype, steps):
        lines = ['rule %s {' % name, '\tid %d' % rid, '\ttype %s' % rtype,
                 '\tmin_size 1', '\tmax_size 10']
        lines += ['\tstep ' + s for s in steps]
        lines.append('}')
        self.rules.append('\n'.join(lines))

    def run(self, rule, numreps, tags=('w0',), pool=None):
        for n in numreps:
            for t in tags:
                self.jobs.append((rule, n, t, pool))

    # ---- text -----------------------------------------------------------
    def text(self):
        if self.raw is not None:
            return self.raw
        out = ['# %s: %s' % (self.name, self.about), '# generated by gen.py; see README.md']
        if self.tunables is not None:
            for k in TUNABLE_KEYS:
                out.append('tunable %s %d' % (k, self.tunables[k]))
        out.append('')
        for i in sorted(self.devices):
            n, c = self.devices[i]
            out.append('device %d %s%s' % (i, n, ' class %s' % c if c else ''))
        out.append('')
        for i, n in self.types:
            out.append('type %d %s' % (i, n))
        out.append('')
        for btype, name, bid, alg, items in self.buckets:
            out += ['%s %s {' % (btype, name), '\tid %d' % bid, '\talg %s' % alg, '\thash 0']
            for it, w, pos in items:
                s = '\titem %s' % it
                if w is not None:
                    s += ' weight %s' % wtxt(w)
                if pos is not None:
                    s += ' pos %d' % pos
                out.append(s)
            out.append('}')
        out.append('')
        out += self.rules
        out.append('')
        out += self.choose_args
        return '\n'.join(out).rstrip('\n') + '\n'


def choose_args_block(index, entries):
    """entries: [(bucket id, [[milli,...] per position] or None, [ids] or None)]"""
    out = ['choose_args %s {' % index]
    for bid, ws, ids in entries:
        out += ['  {', '    bucket_id %d' % bid]
        if ws:
            out.append('    weight_set [')
            for pos in ws:
                out.append('      [ %s ]' % ' '.join(wtxt(w) for w in pos))
            out.append('    ]')
        if ids:
            out.append('    ids [ %s ]' % ' '.join(str(i) for i in ids))
        out.append('  }')
    out.append('}')
    return '\n'.join(out)


# ===================================================================== maps

def small_host_topology(m, host_algs=None, rack_algs=('straw2', 'straw2'), root_alg='straw2'):
    """13 OSDs in 7 small hosts (1-3 OSDs, some zero weights); two racks plus
    two hosts directly under the root.  Types osd/host/rack/root."""
    ha = host_algs or {}
    spec = [  # host, devices
        ('hA', [(0, 1000), (1, 0)]),
        ('hB', [(2, 1000)]),
        ('hC', [(3, 500), (4, 1000), (5, 1500)]),
        ('hD', [(6, 0)]),                       # only a zero-weight OSD ...
        ('hE', [(7, 1000), (8, 1000)]),
        ('hF', [(9, 2000)]),
        ('hG', [(10, 1000), (11, 0), (12, 1000)]),
    ]
    w = {}
    for hn, devs in spec:
        _, w[hn] = m.host(hn, ha.get(hn, 'straw2'), devs)
    m.bucket('rack', 'rack0', rack_algs[0], [('hA', w['hA']), ('hB', w['hB']), ('hC', w['hC'])])
    m.bucket('rack', 'rack1', rack_algs[1], [('hD', 1000), ('hE', w['hE'])])  # ... stated 1.0
    m.bucket('root', 'default', root_alg, [('rack0', w['hA'] + w['hB'] + w['hC']),
                                          ('rack1', 1000 + w['hE']), ('hF', w['hF']), ('hG', w['hG'])])


def local_tries_rules(m, full=True):
    W = ('w0', 'w1', 'w2')
    m.rule(0, 'cl_host_0', 'replicated', ['take default', 'chooseleaf firstn 0 type host', 'emit'])
    m.run(0, [9])
    m.run(0, [4], W)
    m.run(0, [4], ('w0',), pool=5)
    m.rule(1, 'cl_host_2', 'replicated', ['take default', 'chooseleaf firstn 2 type host', 'emit'])
    m.run(1, [3])
    m.rule(2, 'cl_host_m1', 'replicated', ['take default', 'chooseleaf firstn -1 type host', 'emit'])
    m.run(2, [3])
    m.run(2, [8], W)
    m.rule(3, 'ch_host_osd', 'replicated', ['take default', 'choose firstn 0 type host',
                                            'choose firstn 1 type osd', 'emit'])
    m.run(3, [3, 8])
    m.run(3, [8], ('w2',))
    m.rule(4, 'ch_osd', 'replicated', ['take default', 'choose firstn 0 type osd', 'emit'])
    m.run(4, [14])
    m.run(4, [4], W)
    if full:
        m.rule(5, 'ch_rack_cl_host', 'replicated', ['take default', 'choose firstn 0 type rack',
                                                    'chooseleaf firstn 2 type host', 'emit'])
        m.run(5, [4])
        m.rule(6, 'cl_rack', 'replicated', ['take default', 'chooseleaf firstn 0 type rack', 'emit'])
        m.run(6, [3])
        m.rule(7, 'ind_host', 'erasure', ['take default', 'chooseleaf indep 0 type host', 'emit'])
        m.run(7, [4], ('w0', 'w1'))
        m.rule(8, 'set_local1_stable0', 'replicated',
               ['set_choose_local_tries 1', 'set_chooseleaf_stable 0', 'take default',
                'chooseleaf firstn 0 type host', 'emit'])
        m.run(8, [5], ('w0', 'w2'))


def maps_local_tries():
    out = []
    combos = [
        # name, local, fallback, total, descend_once, vary_r, stable, host algs
        ('x01_local2_fb0_t19_d0_v0_s0', 2, 0, 19, 0, 0, 0, None),
        ('x02_local3_fb0_t50_d1_v1_s1', 3, 0, 50, 1, 1, 1, None),
        ('x03_local2_fb0_t19_d1_v2_s0', 2, 0, 19, 1, 2, 0, None),
        ('x04_local3_fb0_t50_d0_v3_s1_mixalg', 3, 0, 50, 0, 3, 1,
         {'hA': 'list', 'hB': 'straw', 'hC': 'tree', 'hD': 'list', 'hE': 'straw2',
          'hF': 'uniform', 'hG': 'straw'}),
        ('x05_local0_fb3_t25_d0_v1_s0', 0, 3, 25, 0, 1, 0, None),
    ]
    for name, lo, fb, tot, d1, vr, st, algs in combos:
        m = CMap(name, 'choose_local_tries %d, choose_local_fallback_tries %d, total %d, '
                       'descend_once %d, vary_r %d, stable %d on small hosts' % (lo, fb, tot, d1, vr, st),
                 tun('jewel', choose_local_tries=lo, choose_local_fallback_tries=fb,
                     choose_total_tries=tot, chooseleaf_descend_once=d1,
                     chooseleaf_vary_r=vr, chooseleaf_stable=st))
        if algs:
            small_host_topology(m, algs, rack_algs=('straw', 'list'))
        else:
            small_host_topology(m)
        local_tries_rules(m, full=name != 'x05_local0_fb3_t25_d0_v1_s0')
        out.append(m)
    return out


def ca_topology(m):
    """13 OSDs, root -1 over hosts h0..h4 (ids -2..-6), all straw2."""
    spec = [('h0', [(0, 1000), (1, 2000), (2, 1000)]),
            ('h1', [(3, 1500), (4, 500)]),
            ('h2', [(5, 1000), (6, 1000), (7, 0), (8, 2000)]),
            ('h3', [(9, 3000)]),
            ('h4', [(10, 1000), (11, 1000), (12, 1000)])]
    items = []
    for k, (hn, devs) in enumerate(spec):
        items.append(m.host(hn, 'straw2', devs, bid=-2 - k))
    m.bucket('root', 'default', 'straw2', items, bid=-1)


def ca_rules(m, short=False):
    m.rule(0, 'cl_firstn_host', 'replicated', ['take default', 'chooseleaf firstn 0 type host', 'emit'])
    m.rule(1, 'cl_indep_host', 'erasure', ['set_chooseleaf_tries 5', 'set_choose_tries 100', 'take default',
                                           'chooseleaf indep 0 type host', 'emit'])
    m.rule(2, 'ch_firstn_osd', 'replicated', ['take default', 'choose firstn 0 type osd', 'emit'])
    m.rule(3, 'ch_indep_host_osd', 'erasure', ['take default', 'choose indep 3 type host',
                                               'choose indep 2 type osd', 'emit'])
    if short:
        m.run(0, [3])
        m.run(1, [5])
        m.run(0, [3], pool=3)
        return
    m.run(0, [2, 3])
    m.run(0, [5], ('w0', 'w2'))
    m.run(0, [3], pool=3)
    m.run(0, [5], ('w2',), pool=0)
    m.run(1, [3])
    m.run(1, [5], ('w0', 'w1'))
    m.run(1, [5], pool=3)
    m.run(2, [4])
    m.run(3, [6])


CA_SETS = {
    'A': [(-1, [[1000, 4000, 500, 3000, 0]], None),
          (-2, [[0, 1000, 5000]], None),
          (-4, [[1000, 1000, 1000, 1000]], None)],
    'B': [(-1, [[4000, 2000, 4000, 3000, 3000], [0, 5000, 1000, 1000, 1000], [1000, 1000, 0, 8000, 2300]], None),
          (-2, [[1000, 2000, 1000], [3000, 0, 1000], [250, 250, 4000]], None),
          (-4, [[1000, 0, 1000, 2000], [0, 2000, 1000, 1000]], None),
          (-6, [[1000, 1000, 1000], [2000, 1000, 0], [100, 300, 3000]], None)],
    'C': [(-1, None, [-20, -21, -22, -23, -24]),
          (-2, None, [100, 101, 102]),
          (-4, None, [8, 7, 6, 5]),
          (-6, None, [5, 5, 5])],
    'D': [(-1, [[4000, 2000, 4000, 3000, 3000], [2500, 500, 4000, 0, 3000]], [-3, -2, -6, -5, -4]),
          (-3, [[500, 1500]], [4, 3]),
          (-5, None, [77])],
    'E': [(-1, [[500, 3000, 1000, 2000, 4000], [3000, 0, 3000, 1000, 1000], [1000, 1000, 1000, 1000, 1000]],
           [11, 12, 13, 14, 15]),
          (-2, [[2000, 0, 2000]], None)],
}


def maps_choose_args():
    out = []
    spec = [
        ('x10_ca_ws1', 'choose_args 0: weight_set with 1 position (root, h0, h2)', [('0', 'A')], False),
        ('x11_ca_ws3', 'choose_args 0: weight_set with 3 positions (2 on h2), different weights per position',
         [('0', 'B')], False),
        ('x12_ca_ids', 'choose_args 0: ids replacement lists only (incl. positive and repeated ids)',
         [('0', 'C')], False),
        ('x13_ca_both', 'choose_args 0: weight_set (2 positions) and ids', [('0', 'D')], False),
        ('x14_ca_default', 'choose_args with the DEFAULT index (-1, printed %s)' % DEFAULT_CHOOSE_ARGS,
         [(DEFAULT_CHOOSE_ARGS, 'E')], False),
        ('x15_ca_multi', 'choose_args 0, 1 and default: crushtool --test uses index 0',
         [('0', 'D'), ('1', 'B'), (DEFAULT_CHOOSE_ARGS, 'E')], True),
        ('x16_ca_unused', 'choose_args 1 and 2 only: neither 0 nor default, so none is used',
         [('1', 'B'), ('2', 'D')], True),
        ('x17_ca_default_fallback', 'choose_args 5 and default: --test falls back to default',
         [('5', 'D'), (DEFAULT_CHOOSE_ARGS, 'B')], True),
    ]
    for name, about, sets, short in spec:
        m = CMap(name, about, tun('jewel'))
        ca_topology(m)
        ca_rules(m, short)
        for idx, key in sets:
            m.choose_args.append(choose_args_block(idx, CA_SETS[key]))
        out.append(m)
    return out


def maps_big_weights():
    out = []
    # x20: four straw2 roots, big bucket weights (>= 32768.0 = 0x80000000 in 16.16)
    m = CMap('x20_straw2_bigw', 'straw2 bucket item weights >= 32768.0 (and large < 32768) mixed with small ones',
             tun('jewel'))
    roots = [('rootA', [40000000, 20000000, 500]),
             ('rootB', [32768000, 32767000, 500]),
             ('rootC', [30000000, 25000000, 10000500]),
             ('rootD', [1000, 65000000, 0, 534000])]
    d = 0
    for rn, ws in roots:
        items = []
        for k, w in enumerate(ws):
            hn, _ = m.host('%s_h%d' % (rn, k), 'straw2', [(d, 1000 + 500 * (d % 3)), (d + 1, 1000)])
            d += 2
            items.append((hn, w))
        m.bucket('root', rn, 'straw2', items)
    for k, (rn, _) in enumerate(roots):
        m.rule(2 * k, 'fn_' + rn, 'replicated', ['take ' + rn, 'chooseleaf firstn 0 type host', 'emit'])
        m.rule(2 * k + 1, 'ind_' + rn, 'erasure', ['take ' + rn, 'chooseleaf indep 0 type host', 'emit'])
        m.run(2 * k, [2, 3])
        m.run(2 * k + 1, [3])
    m.run(0, [3], ('w1',))
    m.run(3, [3], ('w2',))
    out.append(m)

    # x21: the same kind of weights under list / tree / straw / uniform roots
    m = CMap('x21_bigw_other_algs', 'bucket weights >= 32768.0 in list, tree, straw (v1) and uniform roots',
             tun('jewel'))
    roots = [('rootL', 'list', [40000000, 20000000, 500]),
             ('rootT', 'tree', [40000000, 25000000, 535000]),
             ('rootS', 'straw', [40000000, 20000000, 500, 5000000]),
             ('rootU', 'uniform', [20000000, 20000000, 20000000])]
    d = 0
    for rn, alg, ws in roots:
        items = []
        for k, w in enumerate(ws):
            hn, _ = m.host('%s_h%d' % (rn, k), 'straw2', [(d, 1000), (d + 1, 2000)])
            d += 2
            items.append((hn, w))
        m.bucket('root', rn, alg, items)
    for k, (rn, _, _) in enumerate(roots):
        m.rule(2 * k, 'fn_' + rn, 'replicated', ['take ' + rn, 'chooseleaf firstn 0 type host', 'emit'])
        m.rule(2 * k + 1, 'ind_' + rn, 'erasure', ['take ' + rn, 'chooseleaf indep 0 type host', 'emit'])
        m.run(2 * k, [3])
        m.run(2 * k + 1, [3])
    out.append(m)

    # x22: choose_args weight_set values >= 32768.0 (crushtool -d prints them as negative numbers)
    m = CMap('x22_ca_bigw', 'choose_args weight_set values >= 32768.0 (decompiled as negative weights)',
             tun('jewel'))
    ca_topology(m)
    m.rule(0, 'cl_firstn_host', 'replicated', ['take default', 'chooseleaf firstn 0 type host', 'emit'])
    m.rule(1, 'cl_indep_host', 'erasure', ['take default', 'chooseleaf indep 0 type host', 'emit'])
    m.run(0, [2, 3])
    m.run(1, [3, 5])
    m.run(0, [3], ('w1',))
    m.choose_args.append(choose_args_block('0', [
        (-1, [[40000000, 1000, 65535000, 500, 0], [32768000, 32768000, 1000, 0, 2000],
              [1000, 50000000, 60000000, 32767000, 32768000]], None),
        (-4, [[40000000, 1000, 0, 1000]], None)]))
    out.append(m)
    return out


def maps_straw1():
    out = []
    variants = [('x30_straw1_calc0_legacy', tun('legacy')),
                ('x31_straw1_calc1_jewel', tun('jewel')),
                ('x32_straw1_calc0_jewel', tun('jewel', straw_calc_version=0))]
    for name, t in variants:
        m = CMap(name, 'straw (v1) buckets with duplicate, zero and unsorted weights, straw_calc_version %d'
                 % t['straw_calc_version'], t)
        spec = [('s0', [1000, 1000, 1000]),
                ('s1', [2000, 0, 2000, 0]),
                ('s2', [500, 3000, 500, 1500, 3000]),
                ('s3', [0, 0, 1000]),
                ('s4', [4000]),
                ('s5', [3000, 1000, 2000, 1000, 3000, 2000]),
                ('s6', [0, 0])]
        d = 0
        for hn, ws in spec:
            m.host(hn, 'straw', [(d + k, w) for k, w in enumerate(ws)])
            d += len(ws)
        # stated weights: duplicates (4.0 x2), a zero, unsorted; s2 stated below its sum
        m.bucket('root', 'default', 'straw', [('s0', 3000), ('s1', 4000), ('s2', 4000), ('s3', 1000),
                                              ('s4', 4000), ('s5', 12000), ('s6', 0)])
        m.rule(0, 'cl_firstn_host', 'replicated', ['take default', 'chooseleaf firstn 0 type host', 'emit'])
        m.rule(1, 'cl_indep_host', 'erasure', ['take default', 'chooseleaf indep 0 type host', 'emit'])
        m.rule(2, 'ch_firstn_osd', 'replicated', ['take default', 'choose firstn 0 type osd', 'emit'])
        m.rule(3, 'take_s5_osd', 'replicated', ['take s5', 'choose firstn 0 type osd', 'emit'])
        m.run(0, [2, 6])
        m.run(0, [3], ('w0', 'w2'))
        m.run(1, [4], ('w0', 'w1'))
        m.run(2, [3, 10])
        m.run(3, [3])
        out.append(m)
    return out


def maps_uniform():
    out = []
    m = CMap('x40_uniform_div', 'uniform root of 6 hosts x 3 OSDs: indep with size % numrep == 0 (and != 0)',
             tun('jewel'))
    hosts = []
    for h in range(6):
        hosts.append(m.host('u%d' % h, 'uniform', [(3 * h + k, 1000) for k in range(3)]))
    m.bucket('root', 'default', 'uniform', hosts)
    W = ('w0', 'w1', 'w2')
    m.rule(0, 'ind_host_0', 'erasure', ['take default', 'chooseleaf indep 0 type host', 'emit'])
    m.run(0, [2, 4, 5])
    m.run(0, [3, 6], W)
    m.rule(1, 'ind_host_3', 'erasure', ['take default', 'chooseleaf indep 3 type host', 'emit'])
    m.run(1, [5])
    m.run(1, [3], ('w0', 'w2'))
    m.rule(2, 'ind_osd_in_u0', 'erasure', ['take u0', 'choose indep 0 type osd', 'emit'])
    m.run(2, [2, 4])
    m.run(2, [3], ('w0', 'w1'))
    m.rule(3, 'ind_host2_osd3', 'erasure', ['take default', 'choose indep 2 type host',
                                            'choose indep 3 type osd', 'emit'])
    m.run(3, [6], ('w0', 'w2'))
    m.rule(4, 'ind_osd_from_root', 'erasure', ['take default', 'choose indep 0 type osd', 'emit'])
    m.run(4, [6], ('w0', 'w1'))
    m.rule(5, 'fn_host', 'replicated', ['take default', 'chooseleaf firstn 0 type host', 'emit'])
    m.run(5, [3])
    m.run(5, [6], ('w0', 'w1'))
    out.append(m)

    m = CMap('x41_uniform_nodiv', 'uniform root of 5 hosts x 4 OSDs: indep numreps that do and do not divide',
             tun('jewel'))
    hosts = []
    for h in range(5):
        hosts.append(m.host('u%d' % h, 'uniform', [(4 * h + k, 1500) for k in range(4)]))
    m.bucket('root', 'default', 'uniform', hosts)
    m.rule(0, 'ind_host_0', 'erasure', ['take default', 'chooseleaf indep 0 type host', 'emit'])
    m.run(0, [2])
    m.run(0, [4, 5], W)
    m.rule(1, 'ind_osd_in_u0', 'erasure', ['take u0', 'choose indep 0 type osd', 'emit'])
    m.run(1, [3])
    m.run(1, [4], ('w0', 'w1'))
    m.rule(2, 'fn_host', 'replicated', ['take default', 'chooseleaf firstn 0 type host', 'emit'])
    m.run(2, [3])
    m.rule(3, 'ind_osd_from_root', 'erasure', ['take default', 'choose indep 0 type osd', 'emit'])
    m.run(3, [5], ('w0', 'w2'))
    out.append(m)
    return out


def maps_rule_shapes():
    m = CMap('x50_rule_shapes', 'several take/emit blocks, firstn -1/-2, indep under indep, empty buckets',
             tun('jewel'))
    d = 0
    racks = []
    layout = [('rack0', [('h0', 3), ('h1', 2), ('hE1', 0)]),
              ('rack1', [('h2', 2), ('h3', 3), ('hE2', 0)]),
              ('rack2', [('h4', 1), ('h5', 3)])]
    for rn, hosts in layout:
        items = []
        for hn, cnt in hosts:
            _, w = m.host(hn, 'straw2', [(d + k, 1000 + 250 * ((d + k) % 4)) for k in range(cnt)])
            d += cnt
            if hn == 'hE1':
                w = 1000      # empty host stated with weight 1.0: it gets picked
            items.append((hn, w))
        m.bucket('rack', rn, 'straw2', items)
        racks.append((rn, sum(w for _, w in items)))
    m.bucket('root', 'default', 'straw2', racks)
    m.bucket('root', 'void', 'straw2', [])   # a root with no items
    R = [
        ('three_blocks', 'replicated', ['take rack0', 'chooseleaf firstn 1 type host', 'emit',
                                        'take rack1', 'chooseleaf firstn 1 type host', 'emit',
                                        'take default', 'chooseleaf firstn -2 type host', 'emit'], [3, 5]),
        ('choose_m1_rack', 'replicated', ['take default', 'choose firstn -1 type rack',
                                          'chooseleaf firstn 1 type host', 'emit'], [2, 3, 4]),
        ('indep_under_indep', 'erasure', ['take default', 'choose indep 2 type rack',
                                          'chooseleaf indep 0 type host', 'emit'], [2, 4, 6]),
        ('indep0_under_indep0', 'erasure', ['take default', 'choose indep 0 type rack',
                                            'chooseleaf indep 0 type host', 'emit'], [3, 5]),
        ('take_void_firstn', 'replicated', ['take void', 'chooseleaf firstn 0 type host', 'emit'], [3]),
        ('take_void_indep', 'erasure', ['take void', 'chooseleaf indep 0 type host', 'emit'], [3]),
        ('void_then_default', 'replicated', ['take void', 'chooseleaf firstn 0 type host', 'emit',
                                             'take default', 'chooseleaf firstn 0 type host', 'emit'], [3]),
        ('indep_host_then_osd', 'erasure', ['take default', 'choose indep 0 type host',
                                            'choose indep 1 type osd', 'emit'], [4]),
        ('indep_rack_with_empty', 'erasure', ['take rack0', 'chooseleaf indep 0 type host', 'emit'], [3]),
        ('firstn_then_indep', 'replicated', ['take default', 'choose firstn 2 type rack',
                                             'chooseleaf indep 2 type host', 'emit'], [4]),
        ('osd_firstn_m1', 'replicated', ['take h3', 'choose firstn -1 type osd', 'emit'], [2, 4]),
        ('firstn_rack_with_empty', 'replicated', ['take rack0', 'chooseleaf firstn 0 type host', 'emit'], [3]),
        ('indep_firstn_mix_blocks', 'erasure', ['take rack2', 'chooseleaf indep 2 type host', 'emit',
                                                'take default', 'choose firstn -2 type host',
                                                'chooseleaf firstn 1 type osd', 'emit'], [4]),
    ]
    for rid, (n, t, steps, nrs) in enumerate(R):
        m.rule(rid, n, t, steps)
        m.run(rid, nrs)
    m.run(0, [5], ('w1',))
    m.run(2, [4], ('w2',))
    m.run(11, [3], ('w1',))
    return [m]


X60 = r'''# x60_text_autoids: text-format edge cases, written by hand (odd spacing on purpose)
#   - buckets without "id" lines (ids assigned by crushtool) mixed with explicit ids
#   - buckets defined out of id order (crushtool -d prints children first, by id)
#   - a forward reference (rack rk0 lists host "late" defined after it)
#   - "hash rjenkins1" spelled out, "hash 0", and no hash line at all
#   - omitted item weights (device -> 1.0, bucket -> its summed weight)
#   - a host listed in two parents; comments and blank lines everywhere
tunable   choose_total_tries   50     # legacy local tries (2/5) kept on purpose
tunable chooseleaf_descend_once 1
	tunable chooseleaf_vary_r 1
tunable chooseleaf_stable 1
tunable straw_calc_version 1
tunable allowed_bucket_algs 54


device 0 osd.0
   device 1 osd.1
device 2 osd.2       # trailing comment
device 3 osd.3
device 5 osd.5
device 6 osd.6
device 7 osd.7
device 9 osd.9
device 10 osd.10
device 11 osd.11
device 12 osd.12
device 13 osd.13
device 15 osd.15	# 4, 8 and 14 are holes, 15 is named but in no bucket

type 0 osd
type 1 host
type 2 rack
type 4 root     # type ids need not be contiguous

rack rk0 {             # lists "late", defined just below: crushtool swaps the two
	alg straw2           # before parsing, so "late" gets the first automatic id
	item late weight 1.5
}
host late {
	alg straw2
	item osd.13 weight 1.5
}
host node-a {          # no id
	alg straw2
	hash rjenkins1
	item osd.0 weight 1.000
	item osd.1                # weight omitted -> 1.0
}
host node_b {
	id -2
	alg straw2
	hash 0
	item osd.2 weight 0.5
	item osd.3 weight 1.5
}
host nd {
	id -9
	alg straw
	item osd.9 weight 1
	item osd.10 weight 1
	item osd.11 weight 3
}
host node.c {
	alg list
	hash rjenkins1
	item osd.5   weight   2
	item osd.6 weight 0.25
	item osd.7 weight 1.75
}

rack rk1 {
	alg straw2
	item node-a           # weight omitted -> 2.0
	item node_b weight 2.000
}
rack rk2 {
	id -3
	alg list
	item nd
	item node.c weight 1.0
}
host single {
	alg straw2
	item osd.12 weight 0.125
}
root top {
	alg straw2
	item rk1
	item rk2 weight 3.5
	item node.c weight 4.000    # node.c is also in rk2
	item single
}

# rules

rule   rep_host   {
	id 0
	type replicated
	min_size 1
	max_size 10
	step take top
	step chooseleaf firstn 0 type host
	step emit
}
rule ec_rack {
	ruleset 1     # "ruleset" accepted instead of "id"
	type erasure
	min_size 3
	max_size 6
	step set_chooseleaf_tries 5
	step take top
	step chooseleaf indep 0 type rack
	step emit
}
rule osd_any{
	id 2
	type replicated
	min_size 1
	max_size 10
	step take top
	step choose firstn 0 type osd
	step emit
}
'''

X61 = r'''# x61_text_pos_rules: item "pos", rules without a name, unusual type names
#   - tree and uniform buckets with explicit pos (some items without pos; crushtool
#     fills the free slots in order), pos also given on list and straw2 buckets
#     (it reorders their items; crushtool -d then prints no pos for them)
#   - rules without a name ("rule {"), and rule ids with gaps
#   - type 0 is not called osd; device names that are not osd.N
#   - bucket named with '-', '_' and '.'
tunable choose_local_tries 0
tunable choose_local_fallback_tries 0
tunable choose_total_tries 50
tunable chooseleaf_descend_once 1
tunable chooseleaf_vary_r 1
tunable chooseleaf_stable 1
tunable straw_calc_version 1
tunable allowed_bucket_algs 54

device 0 disk0
device 1 disk1
device 2 disk2
device 3 disk3
device 4 ssd-4
device 5 ssd_5
device 6 hdd.6
device 7 d7
device 8 d8
device 9 d9
device 10 d10
device 11 d11
device 12 d12
device 13 d13

type 0 disk
type 2 chassis
type 7 dc

chassis tree-a {
	id -2
	alg tree
	hash 0
	item disk3 weight 1.0 pos 2
	item disk0 weight 2.0
	item disk1 weight 0.5
	item disk2 weight 1.5 pos 0
}
chassis uni_b {
	id -3
	alg uniform
	hash 0
	item ssd-4 weight 1.0 pos 1
	item ssd_5 weight 1.0 pos 2
	item hdd.6 weight 1.0 pos 0
}
chassis list.c {
	id -4
	alg list
	hash 0
	item d8 weight 1.0 pos 1
	item d7 weight 3.0 pos 0
	item d9 weight 0.5
}
chassis s2.d {
	id -5
	alg straw2
	hash 0
	item d11 weight 1.0 pos 1
	item d10 weight 2.0 pos 0
	item d12 weight 1.0
}
chassis tree-e {
	id -6
	alg tree
	hash 0
	item d13 weight 2.0 pos 0
}
dc dc1 {
	id -1
	alg tree
	hash 0
	item uni_b weight 3.0 pos 1
	item tree-a pos 0
	item list.c
	item s2.d
	item tree-e weight 0.5
}

rule {
	id 0
	type replicated
	min_size 1
	max_size 10
	step take dc1
	step chooseleaf firstn 0 type chassis
	step emit
}
rule by_chassis {
	id 2
	type replicated
	min_size 1
	max_size 10
	step take dc1
	step chooseleaf firstn 0 type chassis
	step emit
}
rule indep_chassis {
	id 3
	type erasure
	min_size 1
	max_size 10
	step take dc1
	step chooseleaf indep 0 type chassis
	step emit
}
rule {
	id 6
	type erasure
	min_size 1
	max_size 10
	step take tree-a
	step choose indep 0 type disk
	step emit
}
rule tree_disks {
	id 7
	type replicated
	min_size 1
	max_size 10
	step take tree-a
	step choose firstn 0 type disk
	step emit
}
rule uni_disks {
	id 9
	type erasure
	min_size 1
	max_size 10
	step take uni_b
	step choose indep 0 type disk
	step emit
}
'''


def maps_text_edges():
    out = []
    m = CMap('x60_text_autoids', 'text edge cases: no id lines, out-of-order ids, hash rjenkins1, omitted '
             'weights, host in two parents, ruleset keyword, comments/whitespace', None)
    m.raw = X60
    m.run(0, [2, 3])
    m.run(0, [3], ('w2',))
    m.run(1, [4])
    m.run(2, [3])
    out.append(m)
    m = CMap('x61_text_pos_rules', 'text edge cases: pos in tree/uniform/list/straw2, nameless rules, '
             'rule id gaps, type 0 named disk, odd names', None)
    m.raw = X61
    # rules 0 and 6 have no name: crushtool --test aborts on them (after printing), so they are not run
    m.run(2, [2, 3])
    m.run(3, [4])
    m.run(7, [3])
    m.run(9, [3], ('w0', 'w1'))
    out.append(m)
    return out


# ------------------------------------------------------------ random maps

RW_VALUES = ('0', '0.5', '0.25', '0.75', '0.1', '0.9', '0.333', '0.6667', '1', '0.05', '0.99')
DEV_WEIGHTS = (125, 250, 500, 750, 1000, 1000, 1000, 1000, 1500, 2000, 2000, 3000, 4000,
               100, 300, 1700, 2450, 3630)
POOLS = (0, 1, 2, 5, 17, 255, 4096, 1000003)


def random_map(k, with_classes):
    rng = random.Random(RANDOM_SEED + k)
    name = 'x7%d_rand%d' % (k, k)
    levels = rng.randint(2, 4)          # bucket levels, root included
    level_types = {2: ['host', 'root'], 3: ['host', 'rack', 'root'], 4: ['host', 'rack', 'row', 'root']}[levels]
    if with_classes:
        algs = ['straw2'] * 4 + ['straw', 'list']
        classes = ['hdd', 'ssd', 'nvme'][:rng.randint(2, 3)]
    else:
        algs = ['straw2'] * 3 + ['straw', 'list', 'tree', 'uniform']
        classes = []

    # --- shape: nested lists, regenerated until 10..60 OSDs
    while True:
        def grow(level):            # level index into level_types (0 = host)
            if level == 0:
                return rng.randint(1, 5)
            fan = rng.randint(2, 4) if level == levels - 1 else rng.randint(1, 4)
            kids = []
            for _ in range(fan):
                if level >= 2 and rng.random() < 0.2:
                    kids.append(grow(0))      # skip levels: a host directly here
                else:
                    kids.append(grow(level - 1))
            return kids

        shape = grow(levels - 1)

        def count(s):
            return s if isinstance(s, int) else sum(count(c) for c in s)
        if 10 <= count(shape) <= 60:
            break

    if rng.random() < 0.5:
        t = rng.choice(['legacy', 'argonaut', 'bobtail', 'firefly', 'hammer', 'jewel'])
        tunables, tdesc = tun(t), t
    else:
        tunables = tun('jewel',
                       choose_local_tries=rng.choice([0, 0, 1, 2, 3]),
                       choose_local_fallback_tries=rng.choice([0, 0, 0, 2, 5]),
                       choose_total_tries=rng.choice([3, 10, 19, 50]),
                       chooseleaf_descend_once=rng.randint(0, 1),
                       chooseleaf_vary_r=rng.choice([0, 1, 2, 3, 4]),
                       chooseleaf_stable=rng.randint(0, 1),
                       straw_calc_version=rng.randint(0, 1))
        tdesc = 'custom ' + '/'.join(str(tunables[x]) for x in TUNABLE_KEYS[:7])
    m = CMap(name, 'random map (seed %d): %d levels, tunables %s%s' % (
        RANDOM_SEED + k, levels, tdesc, ', device classes ' + '/'.join(classes) if classes else ''), tunables)

    dev = [0]
    counters = {}
    buckets_by_level = {}      # type -> [names]

    def next_dev():
        d = dev[0]
        dev[0] += 2 if rng.random() < 0.08 else 1      # occasional id holes
        return d

    def bname(t):
        counters[t] = counters.get(t, 0) + 1
        return '%s%d' % (t, counters[t] - 1)

    sub_cls = {}       # bucket name -> {class: positive weight in its subtree}
    n_items = {}       # bucket name -> number of items

    def build(s, level):
        """returns (name, weight in milli)"""
        t = level_types[level]
        alg = rng.choice(algs)
        name = 'default' if level == levels - 1 else bname(t)
        if level == 0:
            if alg == 'uniform':
                w = rng.choice(DEV_WEIGHTS)    # (all-zero uniform buckets make crushtool abort)
                devs = [(next_dev(), w) for _ in range(s)]
            else:
                devs = [(next_dev(), 0 if rng.random() < 0.1 else rng.choice(DEV_WEIGHTS)) for _ in range(s)]
            cls = (lambda d: rng.choice(classes)) if classes else None
            n, w = m.host(name, alg, devs, btype=t, cls=cls)
            buckets_by_level.setdefault(t, []).append(n)
            sub_cls[n] = {}
            for d, dw in devs:
                c = m.devices[d][1]
                if c and dw:
                    sub_cls[n][c] = sub_cls[n].get(c, 0) + dw
            n_items[n] = len(devs)
            return n, w
        kids = [build(c, 0 if isinstance(c, int) else level - 1) for c in s]
        if alg == 'uniform':
            same = max(w for _, w in kids) or 1000
            items = [(n, same) for n, _ in kids]
        else:
            items = []
            for n, w in kids:
                r = rng.random()
                if r < 0.06:
                    w = 0
                elif r < 0.12:
                    w = rng.choice(DEV_WEIGHTS) * rng.randint(1, 4)
                items.append((n, w))
        m.bucket(t, name, alg, items)
        buckets_by_level.setdefault(t, []).append(name)
        sub_cls[name] = {}
        for n, _ in kids:
            for c, cw in sub_cls[n].items():
                sub_cls[name][c] = sub_cls[name].get(c, 0) + cw
        n_items[name] = len(items)
        return name, sum(w for _, w in items)

    build(shape, levels - 1)
    if rng.random() < 0.4:       # a named device that sits in no bucket
        m.dev(dev[0] + rng.randint(0, 3))
    placed = sorted(d for b in m.buckets for it in b[4] for d in [it[0]] if d.startswith('osd.'))
    placed = sorted(int(p[4:]) for p in placed)
    m.rand_weights = []
    for d in placed:
        if rng.random() < 0.35:
            m.rand_weights += ['--weight', str(d), rng.choice(RW_VALUES)]

    def with_class(target, prob):
        """' class C' for a class that has weight under target (or '')"""
        have = sorted(sub_cls[target])
        if have and rng.random() < prob:
            return ' class ' + rng.choice(have)
        return ''

    # --- rules
    present = [t for t in level_types if t in buckets_by_level]
    m.dedupe = True
    nrules = rng.randint(3, 5)
    for rid in range(nrules):
        mode = rng.choice(['firstn', 'indep'])
        steps = []
        for op, vals in (('set_choose_tries', (1, 3, 10, 100)), ('set_chooseleaf_tries', (1, 2, 5)),
                         ('set_choose_local_tries', (0, 1, 2)), ('set_choose_local_fallback_tries', (0, 1, 3)),
                         ('set_chooseleaf_vary_r', (0, 1, 2)), ('set_chooseleaf_stable', (0, 1))):
            if rng.random() < 0.15:
                steps.append('%s %d' % (op, rng.choice(vals)))
        # take target: the root mostly, sometimes an inner bucket with 2+ items
        inner = [b for t in level_types[1:-1] for b in buckets_by_level.get(t, []) if n_items[b] >= 2]
        if inner and rng.random() < 0.2:
            target = rng.choice(inner)
            tgt_type = [t for t in level_types if target in buckets_by_level.get(t, [])][0]
        else:
            tgt_type, target = 'root', 'default'
        take = 'take ' + target + with_class(target, 0.7)
        below = [t for t in present if level_types.index(t) < level_types.index(tgt_type)]
        n = rng.choice([-1, 0, 0, 2, 3, 4])
        shape_kind = rng.choice(['leaf', 'leaf', 'choose_osd', 'two_step', 'two_blocks'])
        if shape_kind == 'two_step' and len(below) < 2:
            shape_kind = 'leaf'
        if shape_kind == 'leaf':
            steps += [take, 'chooseleaf %s %d type %s' % (mode, n, rng.choice(below)), 'emit']
        elif shape_kind == 'choose_osd':
            steps += [take, 'choose %s %d type osd' % (mode, n), 'emit']
        elif shape_kind == 'two_step':
            hi = rng.choice(below[1:])
            lo = rng.choice(below[:below.index(hi)])
            steps += [take, 'choose %s %d type %s' % (mode, n, hi),
                      'chooseleaf %s %d type %s' % (mode, rng.randint(1, 2), lo), 'emit']
        else:
            n = rng.choice([0, -1])
            steps += [take, 'chooseleaf %s 1 type host' % mode, 'emit',
                      'take default' + with_class('default', 0.5),
                      'chooseleaf %s %d type host' % (mode, n), 'emit']
        m.rule(rid, 'r%d_%s' % (rid, shape_kind), 'replicated' if mode == 'firstn' else 'erasure', steps)
        # num-reps: N > 0 caps the step, so only 1..N differ; N = -1 needs num-rep >= 2
        if n > 0:
            cand = list(range(1, n + 1))
        else:
            cand = list(range(2 if n < 0 else 1, 8))
        nrs = sorted(rng.sample(cand, min(len(cand), rng.randint(2, 3))))
        m.run(rid, nrs)
        m.run(rid, [nrs[-1]], ('wr',))
        m.run(rid, [rng.choice(nrs)], (rng.choice(['w0', 'wr']),), pool=rng.choice(POOLS))
    return m


def maps_random():
    return [random_map(k, with_classes=k in (2, 5, 8)) for k in range(10)]


def all_maps():
    return (maps_local_tries() + maps_choose_args() + maps_big_weights() + maps_straw1() +
            maps_uniform() + maps_rule_shapes() + maps_text_edges() + maps_random())


# --------------------------------------------- inputs crushtool must reject

REJECT_BASE = '''device 0 osd.0
device 1 osd.1
type 0 osd
type 1 host
type 2 root
%s
rule r {
	id 0
	type replicated
	min_size 1
	max_size 10
	step take default
	step chooseleaf firstn 0 type host
	step emit
}
%s'''
H0 = 'host h0 {\n\tid -2\n\talg straw2\n\titem osd.0 weight 1.0\n\titem osd.1 weight 1.0\n}\n'
ROOT = 'root default {\n\tid -1\n\talg straw2\n\titem h0 weight %s\n}\n'
REJECTED = [
    ('forward_reference_two_children', 'a bucket listing TWO buckets defined later in the file '
     '(adjust_bucket_item_place swaps parse-tree nodes but keeps stale name->node links, so only simple '
     'forward references get fixed)',
     REJECT_BASE % ('root default {\n\tid -1\n\talg straw2\n\titem h0 weight 2.0\n\titem h1 weight 1.0\n}\n' +
                    H0 + 'host h1 {\n\tid -3\n\talg straw2\n}\n', '')),
    ('device_weight_over_100', 'device weights are limited to 100.0',
     REJECT_BASE % (H0.replace('osd.0 weight 1.0', 'osd.0 weight 100.5') + ROOT % '2.0', '')),
    ('bucket_item_weight_65535_5', 'bucket item weight above 65535.0',
     REJECT_BASE % (H0 + ROOT % '65535.5', '')),
    ('bucket_weight_sum_overflow', 'bucket weights summing to >= 65536.0 (u32 overflow)',
     REJECT_BASE % (H0 + 'host h1 {\n\tid -3\n\talg straw2\n}\n' +
                    'root default {\n\tid -1\n\talg straw2\n\titem h0 weight 40000\n\titem h1 weight 25536\n}\n',
                    '')),
    ('choose_args_minus_1', 'choose_args -1 (the default index must be written 18446744073709551615)',
     REJECT_BASE % (H0 + ROOT % '2.0',
                    'choose_args -1 {\n  {\n    bucket_id -1\n    weight_set [\n      [ 1.0 ]\n    ]\n  }\n}\n')),
    ('choose_args_wrong_size', 'weight_set position with the wrong number of weights',
     REJECT_BASE % (H0 + ROOT % '2.0',
                    'choose_args 0 {\n  {\n    bucket_id -2\n    weight_set [\n      [ 1.0 2.0 3.0 ]\n    ]\n'
                    '  }\n}\n')),
    ('uniform_unequal_weights', 'uniform bucket whose items have different weights',
     REJECT_BASE % (H0.replace('straw2', 'uniform').replace('osd.1 weight 1.0', 'osd.1 weight 2.0') +
                    ROOT % '3.0', '')),
]


# =================================================================== driver

def run(cmd, cwd=None, check=True):
    r = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if check and r.returncode != 0:
        sys.exit('FAILED (%d): %s\n%s' % (r.returncode, ' '.join(cmd),
                                           '\n'.join(r.stderr.decode(errors='replace').splitlines()[:5])))
    return r


def w1_w2(placed):
    w1, w2 = [], []
    for i, d in enumerate(placed):
        if i % 5 == 2:
            w1 += ['--weight', str(d), '0']
        v = W2_CYCLE[i % len(W2_CYCLE)]
        if v != '1':
            w2 += ['--weight', str(d), v]
    return w1, w2


def write_gz(path, data):
    with open(path, 'wb') as raw:
        with gzip.GzipFile(filename='', mode='wb', compresslevel=9, fileobj=raw, mtime=0) as f:
            f.write(data)


def main():
    maps = all_maps()
    names = [m.name for m in maps]
    assert len(set(names)) == len(names), 'duplicate map names'
    for d in (MAPS_DIR, MAPPINGS_DIR, REJECTED_DIR):
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(d)
    tmp = tempfile.mkdtemp(prefix='loligo-extra-')
    try:
        os.makedirs(os.path.join(tmp, 'maps'))
        kept, dropped = [], []
        for m in maps:
            src = os.path.join(MAPS_DIR, m.name + '.src.txt')
            txt = os.path.join(MAPS_DIR, m.name + '.txt')
            b = os.path.join(tmp, 'maps', m.name + '.bin')
            rt = os.path.join(tmp, m.name + '.rt.bin')
            rtt = os.path.join(tmp, m.name + '.rt.txt')
            with open(src, 'w') as f:
                f.write(m.text())
            run([CRUSHTOOL, '-c', src, '-o', b])
            run([CRUSHTOOL, '-d', b, '-o', txt])
            run([CRUSHTOOL, '-c', txt, '-o', rt])
            run([CRUSHTOOL, '-d', rt, '-o', rtt])
            with open(b, 'rb') as f1, open(rt, 'rb') as f2, open(txt, 'rb') as f3, open(rtt, 'rb') as f4:
                ok = f1.read() == f2.read() and f3.read() == f4.read()
            if not ok:
                print('DROPPED %s: maps/%s.txt does not recompile to the same binary' % (m.name, m.name))
                os.remove(src)
                os.remove(txt)
                dropped.append(m.name)
                continue
            dump = json.loads(run([CRUSHTOOL, '-i', b, '--dump']).stdout)
            m.placed = sorted({it['id'] for bk in dump['buckets'] for it in bk['items'] if it['id'] >= 0})
            kept.append(m)

        rows = []
        skipped = 0
        seen_bodies = set()
        for m in kept:
            w1, w2 = w1_w2(m.placed)
            wargs = {'w0': [], 'w1': w1, 'w2': w2, 'wr': m.rand_weights}
            seen = set()
            for rule, nr, wtag, pool in m.jobs:
                tag = wtag if pool is None else 'p%d%s' % (pool, '' if wtag == 'w0' else wtag)
                fn = '%s__r%d__n%d__%s.txt.gz' % (m.name, rule, nr, tag)
                if fn in seen:
                    continue
                seen.add(fn)
                cmd = [CRUSHTOOL, '-i', 'maps/%s.bin' % m.name, '--test', '--show-mappings',
                       '--rule', str(rule), '--num-rep', str(nr), '--min-x', '0', '--max-x', str(MAXX)]
                cmd += wargs[wtag]
                if pool is not None:
                    cmd += ['--pool-id', str(pool)]
                data = run(cmd, cwd=tmp).stdout
                lines = data.count(b'\n')
                if lines != MAXX + 1:
                    sys.exit('%s: %d lines, expected %d' % (fn, lines, MAXX + 1))
                digest = hashlib.sha256(data).hexdigest()
                if m.dedupe:
                    # random maps: an output identical to one already kept for the same rule adds
                    # nothing (e.g. a num-rep above what the rule can fill, or reweights that hit
                    # no chosen device); the x column differs, so compare the mappings only
                    body = hashlib.sha256(b'\n'.join(l.split(b' ', 5)[-1] for l in data.splitlines())).digest()
                    if (m.name, rule, body) in seen_bodies:
                        skipped += 1
                        continue
                    seen_bodies.add((m.name, rule, body))
                keep = b''.join(data.splitlines(True)[:KEEP])
                write_gz(os.path.join(MAPPINGS_DIR, fn), keep)
                rows.append((fn, 'maps/%s.txt' % m.name, str(rule), str(nr), ' '.join(wargs[wtag]) or '-',
                             '-' if pool is None else str(pool), ' '.join(cmd), str(lines), digest))
        with open(os.path.join(MAPPINGS_DIR, 'MANIFEST.tsv'), 'w') as f:
            f.write('file\tmap\trule\tnum_rep\tweights\tpool_id\tcommand\tlines\tsha256_uncompressed\n')
            for r in rows:
                f.write('\t'.join(r) + '\n')

        # inputs that must stay rejected
        exp = ['name\twhat\texit_code\tcrushtool_message']
        for name, what, text in REJECTED:
            p = os.path.join(REJECTED_DIR, name + '.txt')
            with open(p, 'w') as f:
                f.write(text)
            r = run([CRUSHTOOL, '-c', p, '-o', os.path.join(tmp, 'rej.bin')], check=False)
            if r.returncode == 0:
                sys.exit('expected %s to be rejected' % name)
            msg = r.stderr.decode(errors='replace').strip().splitlines()[0]
            msg = msg.replace(REJECTED_DIR + os.sep, '').replace('\t', ' ')
            exp.append('%s\t%s\t%d\t%s' % (name, what, r.returncode, msg))
        with open(os.path.join(REJECTED_DIR, 'EXPECTED.tsv'), 'w') as f:
            f.write('\n'.join(exp) + '\n')
    finally:
        shutil.rmtree(tmp)
    print('%d maps kept, %d dropped%s, %d mapping files (%d duplicate random-map outputs skipped), '
          '%d rejected inputs' % (len(kept), len(dropped), (' (' + ', '.join(dropped) + ')') if dropped else '',
                                  len(rows), skipped, len(REJECTED)))


if __name__ == '__main__':
    main()
