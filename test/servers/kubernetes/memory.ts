/**
 * Resident memory of a process group, read from /proc the way the cgroup memory controller
 * would count a container's processes: the sum of VmRSS over every process whose group is
 * the container's.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** RSS in bytes per process group, for the groups asked about (one pass over /proc). */
export function groupRssBytes(groups: ReadonlySet<number>): Map<number, number> {
  const totals = new Map<number, number>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return totals;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command (which may hold spaces): state ppid pgrp ...
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const group = Number(fields[2]);
      if (!groups.has(group)) continue;
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
      if (match) totals.set(group, (totals.get(group) ?? 0) + Number(match[1]) * 1024);
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return totals;
}
