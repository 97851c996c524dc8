#!/usr/bin/env python3
"""Random small vigil cases: gen.py SEED OUTDIR
Writes OUTDIR/rules.yaml and OUTDIR/in1.ndjson [in2.ndjson in3.csv ...]."""
import sys, os, random, json, datetime as dt

BASE = 1732233600000  # 2024-11-22T00:00:00Z, a multiple of every window size used


def iso(ms, r, spaced_ok=True):
    sec, msr = divmod(ms, 1000)
    d = dt.datetime.fromtimestamp(sec, dt.timezone.utc)
    k = r.random()
    if k < 0.25 and msr == 0 and spaced_ok:
        return d.strftime('%Y-%m-%d %H:%M:%S')
    if k < 0.5:
        off = r.choice([2, -5, 1])
        d2 = d + dt.timedelta(hours=off)
        frac = '' if (msr == 0 and r.random() < 0.5) else '.%03d' % msr
        return d2.strftime('%Y-%m-%dT%H:%M:%S') + frac + ('+%02d:00' % off if off >= 0 else '-%02d:00' % -off)
    if k < 0.6:
        # 6 fractional digits, sub-ms part never .5
        sub = r.choice([0, 1, 123, 499, 501, 999])
        m2 = ms if sub < 500 else ms - 1
        sec2, ms2 = divmod(m2, 1000)
        d2 = dt.datetime.fromtimestamp(sec2, dt.timezone.utc)
        us = ms2 * 1000 + sub if sub < 500 else ms2 * 1000 + sub
        return d2.strftime('%Y-%m-%dT%H:%M:%S') + '.%06dZ' % us
    frac = '' if (msr == 0 and r.random() < 0.5) else '.%03d' % msr
    return d.strftime('%Y-%m-%dT%H:%M:%S') + frac + 'Z'


def ts_value(ms, r, mixed):
    """a JSON value (as text) that denotes ms"""
    if not mixed:
        return str(ms)
    k = r.random()
    if k < 0.3:
        return str(ms)
    if k < 0.4:
        s = '%d.%03d' % divmod(ms, 1000)
        return s.rstrip('0').rstrip('.') if r.random() < 0.5 else s
    if k < 0.5:
        sub = r.choice([0, 1, 250, 499, -1, -499])
        return str(ms * 1000 + sub)
    if k < 0.6:
        sub = r.choice([0, 7, 499999, -499999, 123456])
        return str(ms * 1000000 + sub)
    if k < 0.7:
        return '"%d"' % ms
    return json.dumps(iso(ms, r))


def gen_rules(r, fieldset):
    rules = []
    used = set()
    nrules = r.randint(1, 5)
    T = r.choice([30, 29.5, 30.5])
    fors = ['0', '500ms', '1s', '2s', '5s', '1.5s', '0s']
    for i in range(nrules):
        kind = r.choices(['event', 'arith', 'tag', 'sliding', 'window', 'deadman'], [4, 2, 1, 4, 4, 3])[0]
        key = r.choices([['device'], ['zone'], ['zone', 'device'], []], [6, 2, 2, 2])[0]
        d = {'name': '%s-%d' % (kind, i), 'key': key}
        if r.random() < 0.15:
            d['match'] = {'zone': r.choice(['z1', 'z2'])}
        if kind == 'event':
            d['when'] = r.choice(['temp > %s' % T, 'temp >= %s' % T, 'temp < 28', 'hum > 70 and temp > 27',
                                  'temp > %s or hum > 90' % T, 'not (temp <= %s)' % T, 'on == 1', 'on == 1 and temp > 28',
                                  'temp == 30', 'temp != 29', 'payload.temp > %s' % T, 'hum >= 70 or hum <= 20',
                                  'temp > 29 and (hum > 60 or hum < 30)', 'true and temp > 29', 'temp > 30 || hum < 25',
                                  '!(hum < 50) && temp > 28'])
            if r.random() < 0.5:
                d['for'] = r.choice(fors)
            if r.random() < 0.4:
                d['clear_when'] = r.choice(['temp < 28', 'temp <= 29', 'hum < 50', 'false', 'temp < 28 or hum < 30', 'true',
                                            'not (temp > 29)', 'count(temp, 2s) >= 3'])
        elif kind == 'arith':
            d['when'] = r.choice(['temp - hum / 10 > 22', 'abs(temp - 25) > 4', 'clamp(temp, 20, 30) >= 30',
                                  'max(temp, hum) > 60', 'min(temp, hum) < 25', 'sqrt(hum) > 8', 'temp % 7 > 3',
                                  'temp / (hum - 50) > 1', '-temp < -30', 'temp * 2 + 1 > 61', 'temp - 20 * 0.5 > 20',
                                  '(temp - 20) * (hum - 50) > 50', 'sqrt(temp - 29) > 0.5', 'hum % 0 > 1 or temp > 30',
                                  'abs(-temp) >= 30', '2 * temp > 3 * 20'])
            if r.random() < 0.3:
                d['for'] = r.choice(fors)
        elif kind == 'tag':
            d['when'] = r.choice(["zone == 'z1' and temp > 29", "device != 'd2' and hum > 80",
                                  "zone = 'z2' or temp > 31", "zone <> 'z1' and temp > 29.5",
                                  "'z1' == zone and hum < 30", "mode == 'auto' and temp > 29"])
        elif kind == 'sliding':
            d['when'] = r.choice(['avg(temp, 5s) > %s' % T, 'max(temp, 5s) - min(temp, 5s) > 2',
                                  'count(temp, 5s) >= 4', 'changes(temp, 5s) == 0 and count(temp, 5s) >= 3',
                                  'stddev(temp, 10s) > 1', 'p90(temp, 10s) > 30', 'p50(hum, 5s) > 60',
                                  'rate(temp, 5s) > 0.2', 'delta(temp, 5s) < -1', 'last(temp, 2s) > first(temp, 2s)',
                                  'sum(temp, 2s) > 90', 'ewma(temp, 5s) > 29', 'abs(avg(temp, 5s) - ewma(temp, 20s)) > 0.5',
                                  'count(hum, 3s) == 0 and temp > 28', 'min(temp, 3s) > 29', 'max(hum, 2s) >= 90',
                                  'p99(temp, 5s) > 30.5 or p95(hum, 5s) < 20', 'changes(hum, 10s) > 3',
                                  'avg(payload.temp, 5s) > 29', 'count(temp, 1s) > 1',
                                  'avg(temp, 1m) > avg(temp, 5s) + 0.5', 'count(temp, 1m) - count(hum, 1m) > 3',
                                  'max(temp, 30s) > 31 and min(hum, 10s) < 30', 'sum(on, 10s) >= 2'])
            if r.random() < 0.4:
                d['for'] = r.choice(fors)
            if r.random() < 0.3:
                d['clear_when'] = r.choice(['avg(temp, 5s) < 28', 'count(temp, 5s) < 2', 'temp < 28'])
        elif kind == 'window':
            size = r.choice(['2s', '5s', '10s', '1m'])
            w = {'size': size}
            if r.random() < 0.5:
                w['every'] = {'2s': r.choice(['1s', '2s']), '5s': r.choice(['1s', '5s', '2500ms']),
                              '10s': r.choice(['5s', '2s', '3s']), '1m': r.choice(['5s', '10s', '7s', '1m'])}[size]
            d['window'] = w
            d['when'] = r.choice(['avg(temp) > %s' % T, 'max(hum) > 80 or count(hum) < 3', 'min(temp) > 29',
                                  'p95(temp) - min(temp) > 2', 'count(temp) >= 5', 'changes(temp) > 3',
                                  'last(temp) > first(temp)', 'sum(hum) > 300', 'stddev(temp) > 1',
                                  'rate(temp) > 0.1', 'delta(temp) <= 0', 'count(temp) == 0',
                                  'avg(payload.temp) > 29', 'max(on) == 1', 'p50(hum) >= 60 and avg(temp) > 28'])
            if r.random() < 0.3:
                d['clear_when'] = r.choice(['avg(temp) < 28', 'count(temp) < 2', 'max(hum) < 60'])
        else:
            d['deadman'] = r.choice(['1s', '2s', '3s', '5s'])
            if 'match' in d and r.random() < 0.5:
                del d['match']
            if r.random() < 0.3 and key:
                if key == ['device']:
                    d['expect'] = r.sample(['d1', 'd9', 'd2'], r.randint(1, 2))
                elif key == ['zone']:
                    d['expect'] = ['z1', 'z9'][:r.randint(1, 2)]
                elif key == ['zone', 'device']:
                    d['expect'] = [{'zone': 'z1', 'device': 'd1'}, {'zone': 'z9', 'device': 'd9'}][:r.randint(1, 2)]
        if r.random() < 0.3:
            d['severity'] = r.choice(['critical', 'major', 'warning', 'info'])
        if r.random() < 0.2:
            d['labels'] = {'team': 'ops', 'n': str(i)}
        if r.random() < 0.2:
            d['message'] = r.choice(['{rule} {state} v={value} c={count} at {ts}', 'dev {device} {severity}',
                                     '{unknown} {rule}'])
        rules.append(d)
    return rules


def yaml_dump(doc):
    out = []

    def sc(v):
        if isinstance(v, str):
            return json.dumps(v)
        return json.dumps(v)
    if 'sources' in doc:
        out.append('sources:')
        for s in doc['sources']:
            out.append('  - name: %s' % s['name'])
            out.append('    file: {path: in1.ndjson}')
            if 'allowed_lateness' in s:
                out.append('    allowed_lateness: %s' % s['allowed_lateness'])
            if 'timestamp' in s:
                out.append('    timestamp: %s' % json.dumps(s['timestamp']))
    out.append('rules:')
    for d in doc['rules']:
        out.append('  - name: %s' % d['name'])
        out.append('    key: %s' % json.dumps(d['key']))
        for k in ('match', 'window', 'labels'):
            if k in d:
                out.append('    %s: %s' % (k, json.dumps(d[k])))
        for k in ('when', 'clear_when', 'message'):
            if k in d:
                out.append('    %s: %s' % (k, sc(d[k])))
        for k in ('for', 'deadman', 'severity'):
            if k in d:
                out.append('    %s: %s' % (k, d[k]))
        if 'expect' in d:
            out.append('    expect: %s' % json.dumps(d['expect']))
    return '\n'.join(out) + '\n'


MALFORMED = ['not json at all', '{"ts": 1732233600000, "device": "d1", "temp": 31', '[1, 2, 3]', '42', '"str"',
             '{"ts":"yesterday","device":"d1","temp":35}', '{"ts":1732233600000,"device":"d1","temp":NaN}',
             '{"ts":1732233600000,"device":"d1","temp":35} trailing', "{'ts':1,'device':'d1'}",
             '{"ts":1732233600000,"device":"d1","temp":31,}', '{"ts":"2024-13-45T99:00:00Z","device":"d1","temp":35}',
             '{"ts":1732233600000,"device":"d1","temp":.5}', '{"ts":1732233600000,"device":"d1","temp":01}']


def deep(n):
    return '{"ts":1732233600000,"device":"d1","temp":35,"x":' + '{"a":' * n + '1' + '}' * n + '}'


def gen_data(r, nfiles, tsnames):
    devices = ['d1', 'd2', 'd3', 'd4', '7'][:r.randint(2, 5)]
    big = r.random() < 0.15
    if big:
        devices = ['d%d' % i for i in range(1, r.randint(10, 40))]
    zone_of = {d: ('z1' if i % 2 == 0 else 'z2') for i, d in enumerate(devices)}
    n = r.randint(200, 1500) if not big else r.randint(2000, 5000)
    mixed = r.random() < 0.6
    nested = r.random() < 0.2
    t = BASE + r.choice([0, 1, 999, 1000, 4999])
    steps = r.choice([[0, 250, 500, 1000], [0, 1, 499, 500, 501, 1000], [0, 100, 200], [0, 1000, 2000, 3000, 5000]])
    temps = [27.9, 28, 28.5, 29, 29.5, 29.9, 30, 30.1, 30.5, 31, 32, 25, 20.5] + ([-3.5, -10, 0] if r.random() < 0.3 else [])
    hums = [19.9, 20, 30, 49.9, 50, 60, 61, 70, 70.1, 80, 90, 91]
    weights = {d: 1.0 for d in devices}
    lines = []  # (ts for merge-splitting, text)
    late_p = r.choice([0, 0, 0.02, 0.05, 0.1])
    miss_p = r.choice([0.0, 0.05, 0.15])
    cur = {d: [r.choice(temps), r.choice(hums)] for d in devices}
    for i in range(n):
        if r.random() < 0.02:
            # phase change: some devices go silent or come back
            for d in devices:
                weights[d] = r.choice([0, 1, 1, 2])
            if sum(weights.values()) == 0:
                weights[devices[0]] = 1
        t += r.choice(steps)
        if r.random() < 0.004:
            t += r.choice([10000, 30000, 300000, 9999, 10001])  # everything silent for a while
        dv = r.choices(devices, [weights[d] for d in devices])[0]
        ts = t
        if r.random() < late_p:
            ts = t - r.choice([1, 500, 1000, 2000, 2500, 4000])
        if r.random() < 0.005:
            lines.append((ts, r.choice(MALFORMED + [deep(70)])))
            continue
        if r.random() < 0.01:
            # a message without the device tag (advances the watermark; zone-keyed rules see it)
            lines.append((ts, '{"ts":%d,"zone":"%s","hum":%s}' % (ts, r.choice(['z1', 'z2']), r.choice(hums))))
            continue
        if r.random() < 0.3:
            cur[dv][0] = r.choice(temps)
        if r.random() < 0.3:
            cur[dv][1] = r.choice(hums)
        obj = []
        tsname = r.choice(tsnames) if mixed and r.random() < 0.3 else ('ts' if 'ts' in tsnames else tsnames[0])
        obj.append('"%s":%s' % (tsname, ts_value(ts, r, mixed)))
        if dv == '7' and r.random() < 0.5:
            obj.append('"device":7')
        else:
            obj.append('"device":"%s"' % dv)
        if r.random() > 0.03:
            obj.append('"zone":"%s"' % zone_of[dv])
        if r.random() < 0.1:
            obj.append('"mode":"%s"' % r.choice(['auto', 'manual']))
        tv, hv = cur[dv]
        k = r.random()
        if k < miss_p:
            pass
        elif k < miss_p + 0.02:
            obj.append('"temp":null')
        elif k < miss_p + 0.04:
            obj.append('"temp":"%s"' % tv)
        else:
            obj.append('"temp":%s' % tv)
        k = r.random()
        if k < miss_p:
            pass
        elif k < miss_p + 0.02:
            obj.append('"hum":null')
        else:
            obj.append('"hum":%s' % hv)
        if nested and r.random() < 0.8:
            obj.append('"payload":{"temp":%s,"unit":"C"}' % tv)
        if r.random() < 0.2:
            obj.append('"on":%s' % r.choice(['true', 'false']))
        if r.random() < 0.01:
            obj.append('"temp":99')  # duplicate name: first occurrence wins
        if r.random() < 0.02:
            obj.append('"extra":[1,2,{"a":3}]')
        r.shuffle(obj) if r.random() < 0.1 else None
        lines.append((ts, '{' + ','.join(obj) + '}'))
    # split among files, each keeping its order
    files = [[] for _ in range(nfiles)]
    mode = r.choice(['random', 'device', 'time'])
    for j, (ts, l) in enumerate(lines):
        if mode == 'random':
            files[r.randrange(nfiles)].append(l)
        elif mode == 'time':
            files[min(nfiles - 1, j * nfiles // len(lines))].append(l)
        else:
            files[hash(l[:40]) % nfiles if False else (sum(map(ord, l.split('"device":')[1][:4])) % nfiles if '"device":' in l else 0)].append(l)
    return files


def main():
    seed = int(sys.argv[1])
    outdir = sys.argv[2]
    r = random.Random(seed)
    os.makedirs(outdir, exist_ok=True)
    rules = gen_rules(r, None)
    doc = {'rules': rules}
    if r.random() < 0.35:
        doc['sources'] = [{'name': 'src'}]
        if r.random() < 0.7:
            doc['sources'][0]['allowed_lateness'] = r.choice(['500ms', '1s', '2s', '1.5s'])
        if r.random() < 0.3:
            doc['sources'][0]['timestamp'] = r.choice([{'field': ['time', 'ts']}, {'unit': 'auto'}, {'field': 'ts', 'unit': 'auto'},
                                                       {'timezone': '+01:00'}, {'timezone': 'UTC'}])
    open(os.path.join(outdir, 'rules.yaml'), 'w').write(yaml_dump(doc))
    nfiles = r.choices([1, 2, 3], [5, 3, 2])[0]
    tsnames = ['ts', 'timestamp', 'time']
    f = doc.get('sources', [{}])[0].get('timestamp', {}).get('field')
    if f is not None:
        tsnames = [f] if isinstance(f, str) else f
    files = gen_data(r, nfiles, tsnames)
    for i, f in enumerate(files):
        if r.random() < 0.15:
            open(os.path.join(outdir, 'in%d.csv' % (i + 1)), 'w').write(to_csv(f, r))
        else:
            open(os.path.join(outdir, 'in%d.ndjson' % (i + 1)), 'w').write('\n'.join(f) + '\n')


def to_csv(lines, r):
    cols = ['ts', 'device', 'zone', 'temp', 'hum', 'on', 'mode']
    out = [','.join(cols)]
    for l in lines:
        try:
            o = json.loads(l, object_pairs_hook=lambda p: dict(reversed(p)))  # first wins
        except Exception:
            out.append('x,y')   # bad_csv: wrong number of cells
            continue
        if not isinstance(o, dict):
            out.append('1,2,3')
            continue
        ts = o.get('ts', o.get('timestamp', o.get('time')))
        if not isinstance(o.get('ts'), (int, float, str)) and 'timestamp' not in o and 'time' not in o:
            continue
        if isinstance(ts, str) and (',' in ts or ' ' in ts and r.random() < 2):
            pass
        row = []
        for c in cols:
            v = o.get(c) if c != 'ts' else ts
            if v is None or isinstance(v, (dict, list)):
                row.append('')
            elif isinstance(v, bool):
                row.append('1' if v else '0')
            elif isinstance(v, float) and c == 'ts':
                row.append(repr(v))
            else:
                row.append(str(v))
        if any(isinstance(o.get(c), str) and c in ('temp', 'hum') for c in cols):
            continue  # a string where a number is expected has no CSV equivalent
        out.append(','.join(row))
    return '\n'.join(out) + '\n'


if __name__ == '__main__':
    main()
