/**
 * The process collector: process_* families with the names and meanings of Prometheus' Go
 * client (read from /proc on Linux, as it does), plus etcd's os_fd_used / os_fd_limit.
 * Sampled at scrape time. Off Linux, the families fall back to what Node reports
 * (cpu, resident memory, start time) and leave the fd ones at 0.
 */
import * as fs from 'node:fs';
import type { Registry } from './registry';

/** Linux's USER_HZ: /proc/self/stat counts CPU time in these ticks (the Go client assumes 100). */
const USER_HZ = 100;
/** Page size used to turn /proc's rss pages into bytes. */
const PAGE_SIZE_BYTES = 4096;
/** Go's float64(math.MaxUint64): what an unlimited address space reports. */
const UNLIMITED = 18446744073709551615;

interface ProcStat {
  readonly cpuSeconds: number;
  readonly virtualBytes: number;
  readonly residentBytes: number;
}

/** Fields of /proc/self/stat after the command name (which may hold spaces and parentheses). */
function readProcStat(): ProcStat | null {
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/stat', 'utf8');
  } catch {
    return null;
  }
  // Fields start after the last ')'; field 3 (state) is index 0 here.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const utime = Number(f[11]);
  const stime = Number(f[12]);
  return { cpuSeconds: (utime + stime) / USER_HZ, virtualBytes: Number(f[20]), residentBytes: Number(f[21]) * PAGE_SIZE_BYTES };
}

/** A soft limit from /proc/self/limits ('Max open files', 'Max address space'); null if unknown. */
export function readLimit(limitsText: string, name: string): number | null {
  for (const line of limitsText.split('\n')) {
    if (!line.startsWith(name)) continue;
    const soft = line.slice(name.length).trim().split(/\s+/)[0];
    if (soft === 'unlimited') return UNLIMITED;
    const n = Number(soft);
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

function countOpenFds(): number {
  try {
    return fs.readdirSync('/proc/self/fd').length;
  } catch {
    return 0;
  }
}

/** Registers the process families on `registry`, sampled at each scrape. */
export function registerProcessMetrics(registry: Registry): void {
  const cpu = registry.counter({ name: 'process_cpu_seconds_total', help: 'Total user and system CPU time spent in seconds.' });
  const rss = registry.gauge({ name: 'process_resident_memory_bytes', help: 'Resident memory size in bytes.' });
  const vsz = registry.gauge({ name: 'process_virtual_memory_bytes', help: 'Virtual memory size in bytes.' });
  const vmax = registry.gauge({ name: 'process_virtual_memory_max_bytes', help: 'Maximum amount of virtual memory available in bytes.' });
  const start = registry.gauge({ name: 'process_start_time_seconds', help: 'Start time of the process since unix epoch in seconds.' });
  const openFds = registry.gauge({ name: 'process_open_fds', help: 'Number of open file descriptors.' });
  const maxFds = registry.gauge({ name: 'process_max_fds', help: 'Maximum number of open file descriptors.' });
  const osUsed = registry.gauge({ name: 'os_fd_used', help: 'The number of used file descriptors.' });
  const osLimit = registry.gauge({ name: 'os_fd_limit', help: 'The file descriptor limit.' });
  // Fixed once, in hundredths of a second as /proc's start time ticks give it (USER_HZ).
  start.set(Math.round((Date.now() / 1000 - process.uptime()) * 100) / 100);
  registry.onCollect(() => {
    const st = readProcStat();
    if (st !== null) {
      // A counter only goes up: add what /proc says was used since the last scrape.
      if (st.cpuSeconds > cpu.value) cpu.inc(st.cpuSeconds - cpu.value);
      rss.set(st.residentBytes);
      vsz.set(st.virtualBytes);
    } else {
      const u = process.cpuUsage();
      const s = (u.user + u.system) / 1e6;
      if (s > cpu.value) cpu.inc(s - cpu.value);
      rss.set(process.memoryUsage.rss());
    }
    let limits = '';
    try {
      limits = fs.readFileSync('/proc/self/limits', 'utf8');
    } catch {
      // not Linux: the limits stay 0
    }
    const fds = countOpenFds();
    const fdLimit = readLimit(limits, 'Max open files') ?? 0;
    openFds.set(fds);
    osUsed.set(fds);
    maxFds.set(fdLimit);
    osLimit.set(fdLimit);
    vmax.set(readLimit(limits, 'Max address space') ?? 0);
  });
}
