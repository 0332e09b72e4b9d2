"""A strict parser of Prometheus's text exposition format 0.0.4, for the
metrics tests. It accepts only what the format allows and what celeriac
promises on top of it, and raises ExpositionError naming the line:

* every line ends in a line feed; no blank lines; the only comments are
  `# HELP name text` and `# TYPE name type` (HELP escapes: \\\\ and \\n only);
* a family's HELP and TYPE come once each, before its samples, and its
  samples are contiguous (families never interleave);
* metric names match [a-zA-Z_:][a-zA-Z0-9_:]* and start with celeriac_;
  label names match [a-zA-Z_][a-zA-Z0-9_]* without a leading __; label
  values are double-quoted with only \\\\, \\" and \\n escapes; no label
  twice in a sample, no trailing comma, no timestamps;
* values are Go floats (+Inf, -Inf, NaN included);
* counters end in _total and are never negative;
* histograms: per label set, buckets with strictly increasing `le`, ending
  at +Inf, cumulative counts never decreasing, _count equal to the +Inf
  bucket, and a _sum; no sample name outside _bucket/_sum/_count;
* no series (name and label set) appears twice.

parse(text) returns {family name: Family}.
"""

import math
import re

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


class ExpositionError(Exception):
    pass


class Family:
    def __init__(self, name):
        self.name = name
        self.help = None
        self.type = None
        self.samples = []  # (sample name, {label: value}, float)

    def series(self, sample_name=None):
        """{frozenset(labels.items()): value} of one sample name (default: the family's)."""
        sample_name = sample_name or self.name
        return {frozenset(labels.items()): v for n, labels, v in self.samples if n == sample_name}

    def value(self, **labels):
        """The value of the series with exactly these labels; KeyError if absent."""
        return self.series()[frozenset(labels.items())]

    def histogram(self, **labels):
        """{'buckets': [(le, cumulative)], 'sum': s, 'count': c} for one label set."""
        key = frozenset(labels.items())
        buckets = [(l["le"], v) for n, l, v in self.samples
                   if n == self.name + "_bucket" and frozenset((k, x) for k, x in l.items() if k != "le") == key]
        return {"buckets": buckets, "sum": self.series(self.name + "_sum")[key],
                "count": self.series(self.name + "_count")[key]}


def _unescape(text, allowed, where):
    out = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 >= len(text) or text[i + 1] not in allowed:
                raise ExpositionError(f"{where}: bad escape in {text!r}")
            out.append({"\\": "\\", '"': '"', "n": "\n"}[text[i + 1]])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _value(text, where):
    if text in ("+Inf", "-Inf", "NaN"):
        return {"+Inf": math.inf, "-Inf": -math.inf, "NaN": math.nan}[text]
    if not FLOAT.fullmatch(text):
        raise ExpositionError(f"{where}: {text!r} is not a sample value")
    return float(text)


def _labels(text, i, where):
    """Parses {a="x",b="y"} starting at text[i] == '{'; returns (dict, index after '}')."""
    labels = {}
    i += 1
    if i < len(text) and text[i] == "}":
        raise ExpositionError(f"{where}: empty label braces")
    while True:
        m = LABEL.match(text, i)
        if not m:
            raise ExpositionError(f"{where}: bad label name at column {i}")
        name = m.group(0)
        if name.startswith("__"):
            raise ExpositionError(f"{where}: reserved label name {name}")
        i = m.end()
        if text[i:i + 2] != '="':
            raise ExpositionError(f"{where}: expected =\" after label {name}")
        i += 2
        start = i
        while i < len(text) and text[i] != '"':
            i += 2 if text[i] == "\\" else 1
        if i >= len(text):
            raise ExpositionError(f"{where}: unterminated value of label {name}")
        if "\n" in text[start:i]:
            raise ExpositionError(f"{where}: raw line feed in label {name}")
        if name in labels:
            raise ExpositionError(f"{where}: label {name} given twice")
        labels[name] = _unescape(text[start:i], '\\"n', where)
        i += 1
        if i < len(text) and text[i] == ",":
            i += 1
            if i < len(text) and text[i] == "}":
                raise ExpositionError(f"{where}: trailing comma in labels")
            continue
        if i < len(text) and text[i] == "}":
            return labels, i + 1
        raise ExpositionError(f"{where}: expected , or }} after label {name}")


def _family_of(sample_name, families, current):
    if current is not None:
        f = families[current]
        allowed = [f.name] if f.type != "histogram" else [f.name + s for s in ("_bucket", "_sum", "_count")]
        if sample_name in allowed:
            return f
    return None


def parse(text):
    if not text.endswith("\n"):
        raise ExpositionError("the exposition does not end in a line feed")
    families = {}
    current = None  # the family whose samples may follow
    finished = set()  # families whose sample block ended
    seen_series = set()
    for number, line in enumerate(text[:-1].split("\n"), 1):
        where = f"line {number}"
        if line == "":
            raise ExpositionError(f"{where}: blank line")
        if line.startswith("#"):
            m = re.fullmatch(r"# (HELP|TYPE) (\S+) ?(.*)", line)
            if not m:
                raise ExpositionError(f"{where}: a comment other than HELP or TYPE: {line!r}")
            kind, name, rest = m.groups()
            if not NAME.fullmatch(name) or not name.startswith("celeriac_"):
                raise ExpositionError(f"{where}: bad metric name {name!r}")
            if current is not None and current != name:
                finished.add(current)
            if name in finished:
                raise ExpositionError(f"{where}: {kind} for {name} after its samples ended")
            f = families.setdefault(name, Family(name))
            if f.samples:
                raise ExpositionError(f"{where}: {kind} for {name} after its samples")
            if kind == "HELP":
                if f.help is not None:
                    raise ExpositionError(f"{where}: second HELP for {name}")
                f.help = _unescape(rest, "\\n", where)
            else:
                if f.type is not None:
                    raise ExpositionError(f"{where}: second TYPE for {name}")
                if rest not in TYPES:
                    raise ExpositionError(f"{where}: unknown type {rest!r}")
                if rest == "counter" and not name.endswith("_total"):
                    raise ExpositionError(f"{where}: counter {name} does not end in _total")
                f.type = rest
            current = name
            continue
        m = NAME.match(line)
        if not m:
            raise ExpositionError(f"{where}: no metric name: {line!r}")
        sample_name = m.group(0)
        i = m.end()
        labels = {}
        if i < len(line) and line[i] == "{":
            labels, i = _labels(line, i, where)
        if line[i:i + 1] != " ":
            raise ExpositionError(f"{where}: expected one space before the value")
        value_text = line[i + 1:]
        if " " in value_text:
            raise ExpositionError(f"{where}: extra fields after the value (timestamps are not used): {line!r}")
        value = _value(value_text, where)
        f = _family_of(sample_name, families, current)
        if f is None:
            raise ExpositionError(f"{where}: sample {sample_name} outside its family's TYPE block")
        if f.type is None or f.help is None:
            raise ExpositionError(f"{where}: sample of {f.name} before its HELP and TYPE")
        if f.type == "histogram":
            has_le = "le" in labels
            if has_le != sample_name.endswith("_bucket"):
                raise ExpositionError(f"{where}: le belongs on _bucket samples only")
        elif "le" in labels:
            raise ExpositionError(f"{where}: le on a {f.type}")
        if f.type == "counter" and not value >= 0:
            raise ExpositionError(f"{where}: counter {sample_name} is {value_text}")
        key = (sample_name, frozenset(labels.items()))
        if key in seen_series:
            raise ExpositionError(f"{where}: series {sample_name}{labels} appears twice")
        seen_series.add(key)
        f.samples.append((sample_name, labels, value))
    for f in families.values():
        if f.type is None or f.help is None:
            raise ExpositionError(f"family {f.name} lacks HELP or TYPE")
        if f.type == "histogram":
            _check_histogram(f)
    return families


def _check_histogram(f):
    groups = {}
    for n, labels, v in f.samples:
        rest = frozenset((k, x) for k, x in labels.items() if k != "le")
        groups.setdefault(rest, {"buckets": [], "sum": None, "count": None})
        g = groups[rest]
        if n.endswith("_bucket"):
            g["buckets"].append((labels["le"], v))
        elif n.endswith("_sum"):
            g["sum"] = v
        else:
            g["count"] = v
    for rest, g in groups.items():
        where = f"histogram {f.name}{dict(rest)}"
        if not g["buckets"] or g["buckets"][-1][0] != "+Inf":
            raise ExpositionError(f"{where}: does not end with the +Inf bucket")
        bounds = [_value(le, where) for le, _ in g["buckets"]]
        if any(not b2 > b1 for b1, b2 in zip(bounds, bounds[1:])):
            raise ExpositionError(f"{where}: le values not strictly increasing: {bounds}")
        counts = [v for _, v in g["buckets"]]
        if any(c2 < c1 for c1, c2 in zip(counts, counts[1:])):
            raise ExpositionError(f"{where}: bucket counts decrease: {counts}")
        if g["count"] is None or g["sum"] is None:
            raise ExpositionError(f"{where}: missing _count or _sum")
        if g["count"] != counts[-1]:
            raise ExpositionError(f"{where}: _count {g['count']} != +Inf bucket {counts[-1]}")
