# Per-request syscall, context-switch and CPU counts of each process from perf-stat.sh output (per-second intervals),
# over the measured 1,000 rps windows of `bench/run latency` (their ends are the timestamps in console-times.log;
# seconds 1-7 of each 8 s window). Usage: python3 perreq.py <perf-stat dir> <console-times.log> [rate]
import sys,glob,os,re,datetime,collections
d=sys.argv[1]; ts=sys.argv[2]; rate=float(sys.argv[3]) if len(sys.argv)>3 else 1000
ends=collections.defaultdict(list)
for l in open(ts):
    m=re.match(r'(\d+) latency (\S+) rep \d+\s+(\d+)\s+ok',l)
    if m: ends[m.group(2)].append(int(m.group(1)))
for f in sorted(glob.glob(d+'/*.csv')):
    name=os.path.basename(f)[:-4]
    peer='nginx' if name.startswith('nginx') else name.rsplit('-',1)[0]
    first=open(f).readline()
    start=datetime.datetime.strptime(first.split('started on ')[1].strip(),'%a %b %d %H:%M:%S %Y').replace(tzinfo=datetime.timezone.utc).timestamp()
    tot=collections.defaultdict(float); secs=0; seen=set()
    for l in open(f):
        if l.startswith('#') or not l.strip(): continue
        p=l.strip().split(',')
        t=start+float(p[0]); ev=p[3]; 
        try: v=float(p[1])
        except: continue
        for e in ends[peer]:
            if e-7 <= t <= e-1:
                tot[ev]+=v
                if ev=='task-clock': secs+=1
    if secs==0: continue
    n=secs*rate
    short={k.split(':')[-1].replace('sys_enter_',''):v/n for k,v in tot.items()}
    print(f"{name:28s} s={secs:3d} "+' '.join(f"{k}={v:.2f}" for k,v in short.items() if k!='task-clock')+f" cpu_ms/req={short['task-clock']:.3f}")
