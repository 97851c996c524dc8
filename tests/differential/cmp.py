#!/usr/bin/env python3
"""cmp.py REF.ndjson REF.meta VIGIL1.ndjson VIGIL3.ndjson [REF.stats VIGIL.stats]
Exit 0 when everything agrees. Prints the category of each disagreement:
  CORE   multiset of (rule, key, state, ts) differs between ref and vigil (shards 1)
  SHARD  vigil's shards=1 and shards=3 outputs differ (full alert content)
  FIELD  matched alerts differ in severity / labels / value / count / message
  ID     vigil's ids are inconsistent (a clear without its raise's id)
  STATS  messages / rejected_total differ
"""
import sys, json
from collections import Counter


def load(p):
    out = []
    for l in open(p):
        if l.strip():
            out.append(json.loads(l))
    return out


def kt(a):
    return tuple(sorted((str(x), str(y)) for x, y in a.get('key', {}).items()))


def core(a):
    return (a['rule'], kt(a), a['state'], int(a['ts']))


def main(argv):
    ref, meta, v1, v3 = argv[:4]
    R, A1, A3 = load(ref), load(v1), load(v3)
    excl = set()
    for r, kv in json.load(open(meta)).get('excluded_near_boundary', []):
        excl.add((r, tuple(sorted((str(a), str(b)) for a, b in kv))))
    bad = []
    keep = lambda a: (a['rule'], kt(a)) not in excl
    E = Counter(core(a) for a in R if keep(a))
    A = Counter(core(a) for a in A1 if keep(a))
    if E != A:
        for x in sorted(E - A)[:15]:
            bad.append('CORE missing %s' % (x,))
        for x in sorted(A - E)[:15]:
            bad.append('CORE extra   %s' % (x,))
    # shard independence: full content
    c1 = Counter(json.dumps(a, sort_keys=True) for a in A1)
    c3 = Counter(json.dumps(a, sort_keys=True) for a in A3)
    if c1 != c3:
        for x in sorted(c1 - c3)[:5]:
            bad.append('SHARD only-1 %s' % x)
        for x in sorted(c3 - c1)[:5]:
            bad.append('SHARD only-3 %s' % x)
    # field comparison of matched alerts (same order of (rule,key) episodes)
    def bykey(L):
        d = {}
        for a in sorted(L, key=lambda a: (a['rule'], kt(a), int(a['ts']), a['state'] != 'raised')):
            d.setdefault((a['rule'], kt(a)), []).append(a)
        return d
    dr, dv = bykey([a for a in R if keep(a)]), bykey([a for a in A1 if keep(a)])
    nf = 0
    for k in dr:
        if k not in dv or [core(a) for a in dr[k]] != [core(a) for a in dv[k]]:
            continue
        for a, b in zip(dr[k], dv[k]):
            for f in ('severity', 'labels', 'value', 'count', 'message'):
                x, y = a.get(f), b.get(f)
                if f == 'value' and x is not None and y is not None and abs(x - y) <= 1e-9 * max(1, abs(x)):
                    continue
                if f == 'message' and (a.get('value') != b.get('value') or a.get('value') == 0):
                    continue
                if x != y:
                    nf += 1
                    if nf <= 5:
                        bad.append('FIELD %s %s: ref %r vigil %r  (%s)' % (f, core(a), x, y, json.dumps(b)))
    # id consistency in vigil output
    open_id = {}
    for a in A1:
        k = (a['rule'], kt(a))
        if a['state'] == 'raised':
            open_id[k] = a['id']
        else:
            if open_id.get(k) != a['id']:
                bad.append('ID clear %s has id %s, raise had %s' % (core(a), a['id'], open_id.get(k)))
    if len(argv) >= 6:
        s, t = json.load(open(argv[4])), json.load(open(argv[5]))
        for f in ('messages', 'rejected_total'):
            if s.get(f) != t.get(f):
                bad.append('STATS %s ref %s vigil %s (ref %s vigil %s)' % (f, s.get(f), t.get(f), s.get('rejected'), t.get('rejected')))
    for b in bad:
        print(b)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
