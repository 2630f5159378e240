# Per-row medians and spreads of fault-overlap slowdowns over the runs in the files given: python3 stats.py runs-*.txt
import sys,re,statistics as st
rows={}
for f in sys.argv[1:]:
    for line in open(f):
        m=re.match(r'^(Inline|Allocated|SingleLock|two machines|zeroing)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)',line)
        if m:
            rows.setdefault(m.group(1),[]).append((int(m.group(2)),int(m.group(3)),float(m.group(4))))
for k,v in rows.items():
    sl=[x[2] for x in v]; s1=[x[0] for x in v]; s2=[x[1] for x in v]
    print(f"{k:14} n={len(v):2}  1T median {st.median(s1):5.0f} ns  2T median {st.median(s2):5.0f} ns  slowdown median {st.median(sl):.2f} mean {st.mean(sl):.3f} sd {st.stdev(sl):.3f} range {min(sl):.2f}-{max(sl):.2f}  -> ratio {st.median(sl)/2:.3f}, gain {2/st.median(sl):.2f}x")
