#!/usr/bin/env python3
"""Seed tests/fuzz/corpus/<target>/ from the tests' own inputs (spec example paths and bodies, template
expressions, KQL table cases, built-in policy definitions, the default world). Run once, then minimise
with `cargo +nightly fuzz cmin <target> --fuzz-dir tests/fuzz` (scripts/fuzz --cmin does both)."""
import glob, hashlib, json, os, re, sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "fuzz", "seeds")


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


def walk(v, f):
    f(v)
    if isinstance(v, dict):
        for x in v.values():
            walk(x, f)
    elif isinstance(v, list):
        for x in v:
            walk(x, f)


paths, bodies = set(), []
for p in glob.glob(os.path.join(ROOT, "tests/spec-examples/**/*.json"), recursive=True):
    try:
        ex = json.load(open(p))
    except Exception:
        continue
    walk(ex, lambda v: isinstance(v, str) and v.startswith("/") and paths.add(v))
    params = ex.get("parameters", {})
    if isinstance(params.get("scope"), str):
        paths.add("/" + params["scope"].lstrip("/"))
    for k, v in params.items():
        if isinstance(v, (dict, list)) and k not in ("api-version",):
            bodies.append(json.dumps(v))
for p in sorted(paths):
    put("resource_id", p)
    put("route", p)
for b in bodies:
    put("body", b)
# the lenient reader's own shapes: JSONC as az sends it
put("body", '{\n  // comment\n  properties: {template: {resources: [],}, mode: "Incremental"},\n}')
put("body", "{location: 'westeurope', tags: {env: 'prod'}}")

exprs = set()
for p in glob.glob(os.path.join(ROOT, "tests/templates/**/*.json"), recursive=True):
    try:
        walk(json.load(open(p)), lambda v: isinstance(v, str) and v.startswith("[") and exprs.add(v))
    except Exception:
        pass
src = open(os.path.join(ROOT, "src/template/eval.rs")).read()
exprs.update(re.findall(r'"(\[[^"\\]*(?:\\.[^"\\]*)*\])"', src))
for e in exprs:
    put("template_expr", e)

for q in re.findall(r'(?:check|exec|fails?|err)\w*\(\s*"((?:[^"\\]|\\.)*)"', open(os.path.join(ROOT, "src/kql/tests.rs")).read()):
    put("kql", q.encode().decode("unicode_escape"))

for p in glob.glob(os.path.join(ROOT, "fixtures/policy/built-in-policies/policyDefinitions/**/*.json"), recursive=True):
    try:
        put("policy", json.dumps(json.load(open(p))["properties"]))
    except Exception:
        pass

put("world", open(os.path.join(ROOT, "fixtures/default-world.json")).read())

# token: first byte even → a token as sent; odd → claims signed with the fuzz key
put("token", b"\x00eyJhbGciOiJub25lIn0.eyJvaWQiOiJ4In0.")
put("token", b"\x00eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJ2ZXIiOiIxLjAifQ.c2ln")
for claims in [
    {"ver": "1.0", "aud": "https://management.azure.com/", "oid": "o", "tid": "t", "exp": 1900000000, "nbf": 1700000000, "iat": 1700000000},
    {"ver": "2.0", "aud": "c", "oid": "o", "tid": "t", "exp": 1900000000, "nbf": 1700000000},
    {"lhe_rt": 1, "oid": "o", "tid": "t", "exp": 1900000000, "iat": 1700000000},
]:
    put("token", b"\x01" + json.dumps(claims).encode())
put("token", b"\x02https://management.azure.com//.default")
print("seeds in", OUT, {t: len(os.listdir(os.path.join(OUT, t))) for t in os.listdir(OUT)}, file=sys.stderr)
