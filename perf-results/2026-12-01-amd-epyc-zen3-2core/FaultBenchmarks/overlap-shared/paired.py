# Same-run differences of fault-overlap slowdowns between rows (mean, 2 standard errors): python3 paired.py runs-*.txt
import sys,re,statistics as st
runs=[];cur={}
for f in sys.argv[1:]:
    for line in open(f):
        m=re.match(r'^(Inline|Allocated|SingleLock|two machines|zeroing)\s+(\d+)\s+(\d+)\s+([\d.]+)',line)
        if m:
            cur[m.group(1)]=float(m.group(4))
            if m.group(1)=='zeroing': runs.append(cur); cur={}
def pair(a,b):
    d=[r[a]-r[b] for r in runs if a in r and b in r]
    se=st.stdev(d)/len(d)**0.5
    print(f"{a} - {b}: n={len(d)} mean {st.mean(d):+.3f} ± {2*se:.3f} (2 s.e.), median {st.median(d):+.3f}, positive in {sum(x>0 for x in d)}/{len(d)}")
pair('Inline','two machines'); pair('Allocated','two machines'); pair('SingleLock','Inline'); pair('SingleLock','Allocated'); pair('Inline','zeroing')
