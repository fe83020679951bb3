#!/bin/bash
# Attach perf stat (syscall tracepoints, context switches, task clock; one row a second) to every Tollgate sidecar
# and nginx worker of a running `bench/run`; usage: perf-stat.sh <out dir> <seconds>
out=$1; secs=$2; mkdir -p $out
ev='raw_syscalls:sys_enter,syscalls:sys_enter_writev,syscalls:sys_enter_write,syscalls:sys_enter_sendto,syscalls:sys_enter_sendmsg,syscalls:sys_enter_read,syscalls:sys_enter_readv,syscalls:sys_enter_recvfrom,syscalls:sys_enter_epoll_pwait2,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_futex,context-switches,task-clock'
for spec in "tollgate/agent.yaml" "tollgate/tool.yaml" "tollgate-enforce/agent.yaml" "tollgate-enforce/tool.yaml" "tollgate-inspect/agent.yaml" "tollgate-inspect/tool.yaml"; do
  pid=$(pgrep -f "java.*/$spec" | head -1)
  [ -n "$pid" ] || continue
  name=$(echo $spec | tr '/' '-' | sed 's/.yaml//')
  perf stat -e "$ev" -I 1000 -x, -p $pid -o $out/$name.csv -- sleep $secs &
done
for pid in $(pgrep -f "nginx: worker"); do
  perf stat -e "$ev" -I 1000 -x, -p $pid -o $out/nginx-$pid.csv -- sleep $secs &
done
wait
