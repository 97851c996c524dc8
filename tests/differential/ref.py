#!/usr/bin/env python3
"""Independent reference implementation of `vigil replay` semantics, written
from DESIGN.md only (../shared/DESIGN.md; plus the documented decisions of
docs/semantics-decisions.md where DESIGN.md is silent).

  ref.py RULES.yaml INPUT... [--out FILE] [--meta FILE] [--stats FILE]
         [--sliding vigil|design] [--mode dm_advance,...]

--mode selects alternative readings (to tell a known disagreement from a
new one when investigating):
  dm_advance  deadman deadlines fire only when the watermark strictly
              advances (vigil's behaviour before 5cfb058); by default
              (DESIGN.md) they are checked at every arrival and at the end
              against the last watermark

Writes alerts as NDJSON (same fields as vigil). --meta writes a
conformance-style meta.json whose "excluded_near_boundary" lists the
(rule, key) pairs where a comparison involving a computed aggregate landed
within 1e-9 (relative) of its threshold, where summation order may decide.

Covered: JSON/CSV message parsing (timestamps in every form, dotted paths,
tags, booleans, first-duplicate-wins, depth limit, rejection), several
input files merged in event time, the expression language (3-valued
logic), event rules (for, clear_when, counts, values), sliding aggregates,
ewma, window rules (tumbling/hopping), deadman rules (incl. expect),
watermark with allowed_lateness, end-of-input closing of windows.
Not covered: messages without a timestamp (wall clock), plugins,
key_ttl eviction, max_* limits, topics / topic_tags.
"""
import sys, json, math, re, heapq, hashlib, csv, io
from collections import deque
from decimal import Decimal, ROUND_HALF_EVEN, ROUND_HALF_UP
import datetime as _dt
import yaml

# --------------------------------------------------------------------------
# durations

DUR_RE = re.compile(r'^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)$')
UNIT_MS = {'ms': 1, 's': 1000, 'm': 60000, 'h': 3600000, 'd': 86400000}


def parse_duration(v):
    if isinstance(v, bool):
        raise ValueError('bad duration %r' % v)
    if isinstance(v, (int, float)) and v == 0:
        return 0
    m = DUR_RE.match(str(v).strip())
    if not m:
        raise ValueError('bad duration %r' % v)
    return int(Decimal(m.group(1)) * UNIT_MS[m.group(2)])


# --------------------------------------------------------------------------
# expressions

class Node:
    pass


class Num(Node):
    def __init__(s, v): s.v = float(v)


class Str(Node):
    def __init__(s, v): s.v = v


class Dur(Node):
    def __init__(s, ms): s.ms = ms


class Bool(Node):
    def __init__(s, v): s.v = v


class Name(Node):
    def __init__(s, n): s.n = n


class Neg(Node):
    def __init__(s, a): s.a = a


class Arith(Node):
    def __init__(s, op, a, b): s.op, s.a, s.b = op, a, b


class Cmp(Node):
    def __init__(s, op, a, b): s.op, s.a, s.b = op, a, b


class TagCmp(Node):
    def __init__(s, op, tag, val): s.op, s.tag, s.val = op, tag, val


class And(Node):
    def __init__(s, a, b): s.a, s.b = a, b


class Or(Node):
    def __init__(s, a, b): s.a, s.b = a, b


class Not(Node):
    def __init__(s, a): s.a = a


class Call(Node):
    def __init__(s, fn, args): s.fn, s.args = fn, args


class Agg(Node):
    """sliding (W given) or window (W None) aggregate, or ewma (fn='ewma', W=tau)"""
    def __init__(s, fn, field, W): s.fn, s.field, s.W = fn, field, W


AGGS = {'avg', 'min', 'max', 'sum', 'count', 'stddev', 'first', 'last', 'delta',
        'rate', 'changes', 'p50', 'p90', 'p95', 'p99'}
# aggregates whose result is computed (summation order etc. may change the last bits)
INEXACT_AGGS = {'avg', 'sum', 'stddev', 'rate', 'p50', 'p90', 'p95', 'p99', 'ewma'}

TOK_RE = re.compile(r'''
  (?P<ws>\s+)
 |(?P<dur>[0-9]+(?:\.[0-9]+)?(?:ms|s|m|h|d)(?![A-Za-z0-9_.]))
 |(?P<num>(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
 |(?P<str>'(?:[^']|'')*')
 |(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
 |(?P<op>==|!=|<>|<=|>=|&&|\|\||[-+*/%()<>=!,])
''', re.X)


def tokenize(src):
    toks, i = [], 0
    while i < len(src):
        m = TOK_RE.match(src, i)
        if not m:
            raise SyntaxError('bad char at %d in %r' % (i, src))
        i = m.end()
        k = m.lastgroup
        if k == 'ws':
            continue
        toks.append((k, m.group(k)))
    toks.append(('end', None))
    return toks


class Parser:
    def __init__(s, src, window):
        s.t = tokenize(src)
        s.i = 0
        s.window = window

    def peek(s):
        return s.t[s.i]

    def next(s):
        x = s.t[s.i]; s.i += 1; return x

    def accept(s, kind, val=None):
        k, v = s.peek()
        if k == kind and (val is None or (v.lower() if kind == 'name' else v) in (val if isinstance(val, tuple) else (val,))):
            s.i += 1
            return v
        return None

    def expect(s, kind, val):
        if s.accept(kind, val) is None:
            raise SyntaxError('expected %s got %r' % (val, s.peek()))

    def parse(s):
        e = s.p_or()
        if s.peek()[0] != 'end':
            raise SyntaxError('trailing %r' % (s.peek(),))
        return e

    def p_or(s):
        a = s.p_and()
        while s.accept('name', 'or') is not None or s.accept('op', '||') is not None:
            a = Or(a, s.p_and())
        return a

    def p_and(s):
        a = s.p_not()
        while s.accept('name', 'and') is not None or s.accept('op', '&&') is not None:
            a = And(a, s.p_not())
        return a

    def p_not(s):
        if s.accept('name', 'not') is not None or s.accept('op', '!') is not None:
            return Not(s.p_not())
        return s.p_cmp()

    def p_cmp(s):
        a = s.p_add()
        k, v = s.peek()
        if k == 'op' and v in ('==', '!=', '<>', '<=', '>=', '<', '>', '='):
            s.next()
            b = s.p_add()
            op = {'=': '==', '<>': '!='}.get(v, v)
            if isinstance(b, Str) and isinstance(a, Name):
                return TagCmp(op, a.n, b.v)
            if isinstance(a, Str) and isinstance(b, Name):
                flip = {'<': '>', '>': '<', '<=': '>=', '>=': '<='}.get(op, op)
                return TagCmp(flip, b.n, a.v)
            return Cmp(op, a, b)
        return a

    def p_add(s):
        a = s.p_mul()
        while True:
            k, v = s.peek()
            if k == 'op' and v in '+-' and len(v) == 1:
                s.next(); a = Arith(v, a, s.p_mul())
            else:
                return a

    def p_mul(s):
        a = s.p_un()
        while True:
            k, v = s.peek()
            if k == 'op' and v in ('*', '/', '%'):
                s.next(); a = Arith(v, a, s.p_un())
            else:
                return a

    def p_un(s):
        if s.accept('op', '-') is not None:
            return Neg(s.p_un())
        return s.p_prim()

    def p_prim(s):
        k, v = s.next()
        if k == 'num':
            return Num(v)
        if k == 'dur':
            return Dur(parse_duration(v))
        if k == 'str':
            return Str(v[1:-1].replace("''", "'"))
        if k == 'op' and v == '(':
            e = s.p_or()
            s.expect('op', ')')
            return e
        if k == 'name':
            lv = v.lower()
            if lv == 'true':
                return Bool(True)
            if lv == 'false':
                return Bool(False)
            if s.accept('op', '(') is not None:
                args = []
                if s.accept('op', ')') is None:
                    while True:
                        args.append(s.p_or())
                        if s.accept('op', ')') is not None:
                            break
                        s.expect('op', ',')
                return s.mkcall(lv, args)
            return Name(v)
        raise SyntaxError('unexpected %r' % ((k, v),))

    def mkcall(s, fn, args):
        if fn == 'ewma':
            assert len(args) == 2 and isinstance(args[0], Name) and isinstance(args[1], Dur)
            return Agg('ewma', args[0].n, args[1].ms)
        if fn in AGGS:
            if s.window and len(args) == 1 and isinstance(args[0], Name):
                return Agg(fn, args[0].n, None)
            if len(args) == 2 and isinstance(args[1], Dur):
                assert isinstance(args[0], Name)
                return Agg(fn, args[0].n, args[1].ms)
        if fn in ('abs', 'sqrt') and len(args) == 1:
            return Call(fn, args)
        if fn in ('min', 'max') and len(args) == 2:
            return Call(fn, args)
        if fn == 'clamp' and len(args) == 3:
            return Call(fn, args)
        raise SyntaxError('unknown function %s/%d' % (fn, len(args)))


def walk(n):
    yield n
    for a in ('a', 'b'):
        if hasattr(n, a):
            yield from walk(getattr(n, a))
    if isinstance(n, Call):
        for x in n.args:
            yield from walk(x)


def field_names(n):
    out = set()
    for x in walk(n):
        if isinstance(x, Name):
            out.add(x.n)
        elif isinstance(x, Agg):
            out.add(x.field)
    return out


def numfmt(v):
    if v is None:
        return 'null'
    if v == int(v) and abs(v) < 1e16:
        return str(int(v))
    return repr(v)


class Near(Exception):
    pass


class Ctx:
    """evaluation context: fields of the message (event rules) and an
    aggregate evaluator"""
    def __init__(s, fields, tags, aggfn):
        s.fields, s.tags, s.aggfn = fields, tags, aggfn
        s.near = False


def ev(n, c):
    """numbers -> (value|None, inexact); booleans -> True/False/None"""
    if isinstance(n, Num):
        return n.v, False
    if isinstance(n, Name):
        return c.fields.get(n.n), False
    if isinstance(n, Agg):
        return c.aggfn(n), n.fn in INEXACT_AGGS
    if isinstance(n, Neg):
        v, ix = ev(n.a, c)
        return (None if v is None else -v), ix
    if isinstance(n, Arith):
        a, ia = ev(n.a, c)
        b, ib = ev(n.b, c)
        ix = ia or ib
        if a is None or b is None:
            return None, ix
        try:
            if n.op == '+': r = a + b
            elif n.op == '-': r = a - b
            elif n.op == '*': r = a * b
            elif n.op == '/':
                if b == 0: return None, ix
                r = a / b
            else:
                if b == 0: return None, ix
                r = math.fmod(a, b)
        except OverflowError:
            return None, ix
        if isinstance(r, float) and (math.isnan(r) or math.isinf(r)):
            return None, ix
        return r, ix
    if isinstance(n, Call):
        vals = [ev(x, c) for x in n.args]
        ix = any(i for _, i in vals)
        vs = [v for v, _ in vals]
        if any(v is None for v in vs):
            return None, ix
        if n.fn == 'abs': return abs(vs[0]), ix
        if n.fn == 'sqrt': return (None if vs[0] < 0 else math.sqrt(vs[0])), ix
        if n.fn == 'min': return min(vs[0], vs[1]), ix
        if n.fn == 'max': return max(vs[0], vs[1]), ix
        if n.fn == 'clamp': return min(max(vs[0], vs[1]), vs[2]), ix
    if isinstance(n, Cmp):
        a, ia = ev(n.a, c)
        b, ib = ev(n.b, c)
        if a is None or b is None:
            return None
        if (ia or ib) and abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b)):
            c.near = True
        return {'==': a == b, '!=': a != b, '<': a < b, '<=': a <= b, '>': a > b, '>=': a >= b}[n.op]
    if isinstance(n, TagCmp):
        t = c.tags.get(n.tag)
        if t is None:
            return None
        return {'==': t == n.val, '!=': t != n.val, '<': t < n.val, '<=': t <= n.val,
                '>': t > n.val, '>=': t >= n.val}[n.op]
    if isinstance(n, Bool):
        return n.v
    if isinstance(n, And):
        a, b = ev(n.a, c), ev(n.b, c)
        if a is False or b is False: return False
        if a is None or b is None: return None
        return True
    if isinstance(n, Or):
        a, b = ev(n.a, c), ev(n.b, c)
        if a is True or b is True: return True
        if a is None or b is None: return None
        return False
    if isinstance(n, Not):
        a = ev(n.a, c)
        return None if a is None else (not a)
    raise TypeError('cannot evaluate %r' % n)


def lhs_value(when, c):
    if isinstance(when, Cmp):
        return ev(when.a, c)[0]
    return None


# --------------------------------------------------------------------------
# aggregates

def aggregate(fn, pts):
    """pts: list of (ts, value) in buffer (arrival) order"""
    n = len(pts)
    if fn == 'count':
        return float(n)
    if n == 0:
        return None
    vs = [v for _, v in pts]
    if fn == 'avg':
        s = 0.0
        for v in vs: s += v
        return s / n
    if fn == 'sum':
        s = 0.0
        for v in vs: s += v
        return s
    if fn == 'min': return min(vs)
    if fn == 'max': return max(vs)
    if fn == 'first': return vs[0]
    if fn == 'last': return vs[-1]
    if fn == 'delta': return vs[-1] - vs[0]
    if fn == 'stddev':
        s = 0.0
        for v in vs: s += v
        m = s / n
        q = 0.0
        for v in vs: q += (v - m) * (v - m)
        return math.sqrt(q / n)
    if fn == 'rate':
        if n < 2: return None
        dt = pts[-1][0] - pts[0][0]
        if dt == 0: return None
        return (vs[-1] - vs[0]) / (dt / 1000.0)
    if fn == 'changes':
        return float(sum(1 for i in range(1, n) if vs[i] != vs[i - 1]))
    if fn in ('p50', 'p90', 'p95', 'p99'):
        p = int(fn[1:])
        sv = sorted(vs)
        h = (n - 1) * p / 100.0
        lo = math.floor(h)
        hi = min(lo + 1, n - 1)
        f = h - lo
        return sv[lo] + (sv[hi] - sv[lo]) * f
    raise ValueError(fn)


# --------------------------------------------------------------------------
# messages

class Reject(Exception):
    pass


class TDec(Decimal):
    """a JSON number that remembers its text (a number used as a tag is its JSON text)"""
    def __new__(cls, text):
        d = Decimal.__new__(cls, text)
        d.text = text
        return d


def _no_const(x):
    raise Reject('invalid_json')


def _pairs(pairs):
    d = {}
    for k, v in pairs:
        if k not in d:
            d[k] = v
    return d


def depth(v):
    if isinstance(v, dict):
        return 1 + max([depth(x) for x in v.values()] + [0])
    if isinstance(v, list):
        return 1 + max([depth(x) for x in v] + [0])
    return 0


def flatten(obj, prefix, fields, tags, raw):
    for k, v in obj.items():
        name = prefix + k
        if isinstance(v, dict):
            flatten(v, name + '.', fields, tags, raw)
        elif isinstance(v, bool):
            fields[name] = 1.0 if v else 0.0
            tags[name] = 'true' if v else 'false'
        elif isinstance(v, Decimal):
            fields[name] = float(v)
            tags[name] = getattr(v, 'text', str(v))
            raw[name] = v
        elif isinstance(v, int):
            fields[name] = float(v)
            tags[name] = str(v)
            raw[name] = Decimal(v)
        elif isinstance(v, str):
            tags[name] = v
            raw[name] = v
        # None, lists: missing


ISO_RE = re.compile(r'^(\d{4})-(\d{2})-(\d{2})([T ])(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|z|[+-]\d{2}:?\d{2})?$')


def round_ms(d):
    return int(d.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def num_ts(d, unit):
    if unit == 'auto':
        a = abs(d)
        if a < Decimal('1e11'): unit = 's'
        elif a < Decimal('1e14'): unit = 'ms'
        elif a < Decimal('1e17'): unit = 'us'
        else: unit = 'ns'
    f = {'s': Decimal(1000), 'ms': Decimal(1), 'us': Decimal('0.001'), 'ns': Decimal('0.000001')}.get(unit)
    if f is None:
        raise Reject('bad_timestamp')
    return round_ms(d * f)


def parse_tz(z):
    if z is None or z in ('Z', 'z', 'UTC'):
        return 0
    sign = -1 if z[0] == '-' else 1
    z = z[1:].replace(':', '')
    return sign * (int(z[:2]) * 60 + int(z[2:4])) * 60000


def str_ts(s, unit, tzms):
    if re.fullmatch(r'[0-9]+', s):
        return num_ts(Decimal(s), unit)
    if unit not in ('auto', 'iso'):
        raise Reject('bad_timestamp')
    m = ISO_RE.match(s)
    if not m:
        raise Reject('bad_timestamp')
    y, mo, d, sep, h, mi, se, frac, z = m.groups()
    try:
        base = _dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(se), tzinfo=_dt.timezone.utc)
    except ValueError:
        raise Reject('bad_timestamp')
    ms = Decimal(int(base.timestamp())) * 1000
    if frac:
        ms += Decimal('0' + frac) * 1000
    off = parse_tz(z) if z is not None else tzms
    return round_ms(ms) - off


class Msg:
    __slots__ = ('ts', 'fields', 'tags', 'seq')


def make_msg(obj, tsconf, rawnums):
    fields, tags, raw = {}, {}, {}
    flatten(obj, '', fields, tags, raw)
    ts = None
    for f in tsconf['fields']:
        if f in raw:
            v = raw[f]
            if isinstance(v, Decimal):
                ts = num_ts(v, tsconf['unit'])
            else:
                ts = str_ts(v, tsconf['unit'], tsconf['tz'])
            break
        if f in fields:  # boolean
            raise Reject('bad_timestamp')
    if ts is None:
        raise Reject('no_timestamp')  # wall clock: not modelled
    m = Msg()
    m.ts, m.fields, m.tags = ts, fields, tags
    return m


def parse_json_line(line, tsconf):
    if len(line.encode()) > 1 << 20:
        raise Reject('too_large')
    raws = {}


    try:
        obj = json.loads(line, object_pairs_hook=_pairs, parse_float=TDec, parse_int=TDec,
                         parse_constant=_no_const)
    except Reject:
        raise
    except json.JSONDecodeError as e:
        raise Reject('trailing_garbage' if 'Extra data' in str(e) else 'invalid_json')
    except RecursionError:
        raise Reject('too_deep')
    if not isinstance(obj, dict):
        raise Reject('not_object')
    if depth(obj) > 64:
        raise Reject('too_deep')
    return make_msg(obj, tsconf, raws)


NUM_RE = re.compile(r'^-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$')


def read_csv(text, tsconf, rejects):
    out = []
    lines = text.splitlines()
    header = None
    for line in lines:
        if not line.strip():
            continue
        try:
            row = next(csv.reader([line], strict=True))
        except Exception:
            rejects['bad_csv'] = rejects.get('bad_csv', 0) + 1
            continue
        if header is None:
            header = row
            continue
        if len(row) != len(header):
            rejects['bad_csv'] = rejects.get('bad_csv', 0) + 1
            continue
        obj = {}
        for k, v in zip(header, row):
            if k in obj:
                continue
            if v == '':
                continue
            if NUM_RE.match(v):
                obj[k] = Decimal(v)
            else:
                obj[k] = v
        # dotted headers -> nested
        try:
            out.append(make_msg(obj, tsconf, {}))
        except Reject as r:
            rejects[r.args[0]] = rejects.get(r.args[0], 0) + 1
    return out


def read_input(path, tsconf, rejects):
    text = open(path, encoding='utf-8', errors='surrogateescape').read()
    if path.endswith('.csv'):
        return read_csv(text, tsconf, rejects)
    out = []
    for line in text.split('\n'):
        if not line.strip():
            continue
        try:
            out.append(parse_json_line(line, tsconf))
        except Reject as r:
            rejects[r.args[0]] = rejects.get(r.args[0], 0) + 1
    return out


def merge(files):
    """k-way merge in event time; each file keeps its order; ties to the earlier file"""
    h = []
    for i, f in enumerate(files):
        if f:
            heapq.heappush(h, (f[0].ts, i, 0))
    while h:
        ts, i, j = heapq.heappop(h)
        yield files[i][j]
        if j + 1 < len(files[i]):
            heapq.heappush(h, (files[i][j + 1].ts, i, j + 1))


# --------------------------------------------------------------------------
# rules

class Rule:
    pass


def load_rules(path):
    doc = yaml.safe_load(open(path))
    src = (doc.get('sources') or [{}])[0]
    tsc = src.get('timestamp')
    tsconf = {'fields': ['ts', 'timestamp', 'time'], 'unit': 'auto', 'tz': 0}
    if isinstance(tsc, str):
        tsconf['fields'] = [tsc]
    elif isinstance(tsc, dict):
        f = tsc.get('field')
        if f is not None:
            tsconf['fields'] = [f] if isinstance(f, str) else list(f)
        tsconf['unit'] = tsc.get('unit', 'auto')
        tz = tsc.get('timezone')
        if tz and tz != 'UTC':
            tsconf['tz'] = parse_tz(tz)
    lateness = parse_duration(src.get('allowed_lateness', 0))
    rules = []
    for r in doc['rules']:
        R = Rule()
        R.name = r['name']
        R.key = list(r.get('key') or [])
        R.match = {str(k): (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in (r.get('match') or {}).items()}
        R.severity = r.get('severity', 'warning')
        R.labels = {str(k): str(v) for k, v in (r.get('labels') or {}).items()}
        R.message = r.get('message')
        R.deadman = R.window = None
        R.when = R.clear = None
        R.whentext = None
        if 'deadman' in r:
            R.kind = 'deadman'
            R.deadman = parse_duration(r['deadman'])
            R.expect = []
            for e in r.get('expect') or []:
                if isinstance(e, dict):
                    R.expect.append(tuple(str(e[k]) for k in R.key))
                else:
                    R.expect.append((str(e),))
            R.fields = set()
        else:
            R.kind = 'window' if 'window' in r else 'event'
            win = R.kind == 'window'
            R.whentext = str(r['when'])
            R.when = Parser(R.whentext, win).parse()
            cw = r.get('clear_when')
            if cw is not None:
                R.clear = Bool(cw) if isinstance(cw, bool) else Parser(str(cw), win).parse()
            R.fields = field_names(R.when) | (field_names(R.clear) if R.clear else set())
            if win:
                w = r['window']
                R.size = parse_duration(w['size'])
                R.every = parse_duration(w.get('every', w['size']))
            else:
                R.forms = parse_duration(r.get('for', 0))
            aggs = [x for e in (R.when, R.clear) if e is not None for x in walk(e) if isinstance(x, Agg)]
            R.bufs = sorted({(a.field, a.W) for a in aggs if a.fn != 'ewma'}, key=str)
            R.ewmas = sorted({(a.field, a.W) for a in aggs if a.fn == 'ewma'}, key=str)
        rules.append(R)
    return rules, tsconf, lateness


def sees(R, m):
    for k in R.key:
        if k not in m.tags:
            return False
    for k, v in R.match.items():
        if k == 'topic':
            return False
        if m.tags.get(k) != v:
            return False
    if R.kind == 'deadman':
        return True
    return any(f in m.fields for f in R.fields)


# --------------------------------------------------------------------------
# engine

class Engine:
    def __init__(s, rules, lateness, sliding='vigil', modes=()):
        s.rules, s.L, s.sliding, s.modes = rules, lateness, sliding, set(modes)
        s.alerts = []
        s.near = set()
        s.st = {}          # (rule name, key) -> state dict
        s.wm = None
        s.maxts = None
        s.late = 0
        s.first = True

    def state(s, R, key):
        k = (R.name, key)
        st = s.st.get(k)
        if st is None:
            st = {'state': 'OK', 't0': None, 'count': 0, 'id': None, 'raise_ts': None}
            if R.kind == 'event':
                st['bufs'] = {b: deque() for b in R.bufs}
                st['ewma'] = {e: [None, None] for e in R.ewmas}
            elif R.kind == 'window':
                st['wins'] = {}
            s.st[k] = st
        return st

    def emit(s, R, key, st, state, ts, value):
        if state == 'raised':
            st['id'] = hashlib.sha1(('%s|%s|%d' % (R.name, '/'.join(key), ts)).encode()).hexdigest()[:16]
        kd = dict(zip(R.key, key))
        if R.message is not None:
            msg = str(R.message)
            rep = {'rule': R.name, 'severity': R.severity, 'state': state, 'value': numfmt(value),
                   'count': str(st['count']), 'ts': str(ts)}
            rep.update(kd)
            msg = re.sub(r'\{([^{}]*)\}', lambda m: rep.get(m.group(1), m.group(0)), msg)
        else:
            cond = R.whentext if R.kind != 'deadman' else 'deadman %s' % R.deadman_text
            msg = '%s %s: %s' % (R.name, state, cond)
            if value is not None:
                msg += ' (value %s)' % numfmt(value)
        s.alerts.append({'id': st['id'], 'rule': R.name, 'key': kd, 'state': state, 'severity': R.severity,
                         'ts': ts, 'value': value, 'count': st['count'], 'labels': R.labels, 'message': msg})

    # ---- timers
    def fire(s, wm, final=False):
        due = []
        for (rn, key), st in s.st.items():
            R = s.byname[rn]
            if R.kind == 'window':
                for start in st['wins']:
                    end = start + R.size
                    if final or end <= wm:
                        due.append((end, 1, rn, key, start))
            elif R.kind == 'deadman':
                lim = s.wm if final else wm
                if 'dm_advance' in s.modes and (final or not s.advanced):
                    continue
                if lim is not None and st['state'] == 'OK' and st['last'] + R.deadman <= lim:
                    due.append((st['last'] + R.deadman, 0, rn, key, None))
        due.sort(key=lambda x: (x[0], x[1], x[2], x[3], x[4] or 0))
        for end, kind, rn, key, start in due:
            R = s.byname[rn]
            st = s.st[(rn, key)]
            if kind == 0:
                st['state'] = 'FIRING'
                st['count'] = 1
                s.emit(R, key, st, 'raised', end, None)
            else:
                msgs = st['wins'].pop(start)
                s.close_window(R, key, st, end, msgs)

    def close_window(s, R, key, st, end, msgs):
        if not msgs:
            return

        def aggfn(a):
            return aggregate(a.fn, [(t, f[a.field]) for t, f in msgs if a.field in f])
        c = Ctx({}, {}, aggfn)
        self_eval(s, R, key, st, c, end)

    def process(s, m):
        for R in s.rules:
            if not sees(R, m):
                continue
            key = tuple(m.tags[k] for k in R.key)
            st = s.state(R, key)
            if R.kind == 'deadman':
                if st['state'] == 'FIRING':
                    st['state'] = 'OK'
                    s.emit(R, key, st, 'cleared', m.ts, None)
                if st.get('last') is None or m.ts > st['last']:
                    st['last'] = m.ts
            elif R.kind == 'window':
                W, S = R.size, R.every
                s0 = (m.ts // S) * S
                starts = []
                x = s0
                while x + W > m.ts:
                    starts.append(x)
                    x -= S
                late = False
                for x in starts:
                    if x + W > s.wm:
                        st['wins'].setdefault(x, []).append((m.ts, m.fields))
                    else:
                        late = True
                if late:
                    s.latemsg = True
            else:
                s.event(R, key, st, m)

    def event(s, R, key, st, m):
        t = m.ts
        for (f, W), buf in st['bufs'].items():
            if f in m.fields:
                buf.append((t, m.fields[f]))
            while buf and buf[0][0] <= t - W:
                buf.popleft()
        for (f, tau), e in st['ewma'].items():
            if f in m.fields:
                x = m.fields[f]
                if e[0] is None:
                    e[0], e[1] = x, t
                else:
                    dt = max(0, t - e[1])
                    e[0] = e[0] + (1 - math.exp(-dt / tau)) * (x - e[0])
                    e[1] = max(e[1], t)

        def aggfn(a):
            if a.fn == 'ewma':
                return st['ewma'][(a.field, a.W)][0]
            buf = st['bufs'][(a.field, a.W)]
            if s.sliding == 'design':
                pts = [p for p in buf if t - a.W < p[0] <= t]
            else:
                pts = list(buf)
            return aggregate(a.fn, pts)
        c = Ctx(m.fields, m.tags, aggfn)
        self_eval(s, R, key, st, c, t)

    def run(s, msgs):
        s.byname = {R.name: R for R in s.rules}
        for R in s.rules:
            if R.kind == 'deadman':
                R.deadman_text = R.deadman_src
        for m in msgs:
            advanced = s.maxts is None or m.ts > s.maxts
            if advanced:
                s.maxts = m.ts
            s.wm = s.maxts - s.L
            s.advanced = advanced
            if s.first:
                s.first = False
                for R in s.rules:
                    if R.kind == 'deadman':
                        for k in R.expect:
                            st = s.state(R, k)
                            st['last'] = m.ts
            s.fire(s.wm)
            s.latemsg = False
            s.process(m)
            if s.latemsg:
                s.late += 1
        s.fire(None, final=True)


def self_eval(s, R, key, st, c, ts):
    """the event/window state machine; ts = alert ts"""
    w = ev(R.when, c)
    cw = ev(R.clear, c) if R.clear is not None else None
    if c.near:
        s.near.add((R.name, key))
    if st['state'] == 'OK':
        if w is True:
            if R.kind == 'event' and R.forms > 0:
                st['state'] = 'PENDING'
                st['t0'] = ts
            else:
                st['state'] = 'FIRING'
                st['count'] = 1
                s.emit(R, key, st, 'raised', ts, lhs_value(R.when, c))
    elif st['state'] == 'PENDING':
        if w is True:
            if ts - st['t0'] >= R.forms:
                st['state'] = 'FIRING'
                st['count'] = 1
                s.emit(R, key, st, 'raised', ts, lhs_value(R.when, c))
        elif w is False:
            st['state'] = 'OK'
    else:
        if w is True:
            st['count'] += 1   # count grows on every `when` true (also on the clearing message: vigil's reading)
        if R.clear is not None:
            if cw is True:
                st['state'] = 'OK'
                s.emit(R, key, st, 'cleared', ts, lhs_value(R.when, c))
                return
        elif w is False:
            st['state'] = 'OK'
            s.emit(R, key, st, 'cleared', ts, lhs_value(R.when, c))
            return


def main(argv):
    args = list(argv)
    out = meta = stats = None
    sliding = 'vigil'
    modes = []
    for opt in ('--out', '--meta', '--stats', '--sliding', '--mode'):
        if opt in args:
            i = args.index(opt)
            v = args[i + 1]
            del args[i:i + 2]
            if opt == '--out': out = v
            elif opt == '--meta': meta = v
            elif opt == '--stats': stats = v
            elif opt == '--mode': modes = v.split(',')
            else: sliding = v
    rules_path, inputs = args[0], args[1:]
    rules, tsconf, lateness = load_rules(rules_path)
    doc = yaml.safe_load(open(rules_path))
    for R, r in zip(rules, doc['rules']):
        if R.kind == 'deadman':
            R.deadman_src = str(r['deadman'])
    rejects = {}
    files = [read_input(p, tsconf, rejects) for p in inputs]
    nmsg = sum(len(f) for f in files)
    eng = Engine(rules, lateness, sliding, modes)
    eng.run(merge(files))
    fo = open(out, 'w') if out else sys.stdout
    for a in eng.alerts:
        fo.write(json.dumps(a) + '\n')
    if out:
        fo.close()
    if meta:
        json.dump({'messages': nmsg, 'malformed': sum(rejects.values()), 'alerts': len(eng.alerts),
                   'excluded_near_boundary': [[r, [[k, v] for k, v in zip(eng.byname[r].key, key)]]
                                              for r, key in sorted(eng.near)]}, open(meta, 'w'), indent=1)
    if stats:
        json.dump({'messages': nmsg + sum(rejects.values()), 'rejected': rejects, 'rejected_total': sum(rejects.values()),
                   'alerts': len(eng.alerts), 'late_events': eng.late}, open(stats, 'w'))


if __name__ == '__main__':
    sys.setrecursionlimit(10000)
    main(sys.argv[1:])
