#!/usr/bin/env python3
"""Ratio of each row's mean to its group's baseline with a 99.9% confidence interval from BenchmarkDotNet's Error
columns (Error = half-width of the 99.9% CI of the mean): relative errors add in quadrature. Rows are grouped by
every column that varies (parameters and categories); the baseline is a group's first row, which is where
BenchmarkDotNet lists the baseline method."""
import csv, sys, re
def val(s):
    s = s.replace(',', '').strip()
    m = re.match(r'([0-9.]+)\s*(ns|μs|us|ms|s)?', s)
    if not m: return None
    v = float(m.group(1)); u = m.group(2) or 'ns'
    return v * {'ns':1,'μs':1e3,'us':1e3,'ms':1e6,'s':1e9}[u]
for path in sys.argv[1:]:
    rows = list(csv.DictReader(open(path, encoding='utf-8-sig')))
    params = [k for k in rows[0] if k not in ('Method','Mean','Error','StdDev','Ratio','RatioSD','Allocated','Alloc Ratio','Median') and len({r[k] for r in rows})>1 and k not in ('Job','Arguments','BuildConfiguration','EnvironmentVariables','NuGetReferences','Toolchain','IsBaseline')]
    print(f'## {path.split("/")[-1]}  (group keys: {params})')
    groups = {}
    for r in rows: groups.setdefault(tuple(r[k] for k in params if k != 'Method'), []).append(r)
    for key, rs in groups.items():
        base = rs[0]
        mb, eb = val(base['Mean']), val(base['Error'])
        for r in rs:
            m, e = val(r['Mean']), val(r['Error'])
            ratio = m / mb; rel = ((e/m)**2 + (eb/mb)**2) ** 0.5 if r is not base else e/m
            print(f"{' '.join(key):40s} {r['Method']:24s} {r['Mean']:>12s} ±{r['Error']:>10s}  ratio {ratio:5.2f} ± {ratio*rel:4.2f} ({rel*100:4.1f}%)")
