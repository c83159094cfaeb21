/**
 * A container's processes, as its cgroup would hold them: the main process and every
 * descendant seen since it started, even one that moved to its own process group or session
 * (a Jupyter Server does) or was re-parented after its parent died. Sampled from /proc; a pid
 * is remembered with its start time so a reused pid is never mistaken for a member.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** Clock ticks since boot: with the pid, the identity of a process. */
  start: string;
  rssBytes: number;
}

const PAGE_SIZE = 4096;

/** Every process on the machine (one read of /proc/PID/stat each). */
export function readProcessTable(): Map<number, ProcessInfo> {
  const table = new Map<number, ProcessInfo>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return table;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // After the command (which may hold spaces and parentheses): state ppid pgrp session ...
      // starttime is field 22 and rss (pages) field 24 of stat, i.e. 19 and 21 here.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      table.set(Number(entry), {
        pid: Number(entry),
        ppid: Number(fields[1]),
        start: fields[19] ?? '',
        rssBytes: Number(fields[21] ?? 0) * PAGE_SIZE,
      });
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return table;
}

export class ProcessTree {
  readonly #members = new Map<number, string>();

  constructor(root: number, table: Map<number, ProcessInfo> = readProcessTable()) {
    this.#members.set(root, table.get(root)?.start ?? '');
    this.refresh(table);
  }

  /** Forgets members that ended and adopts every descendant of a live member. */
  refresh(table: Map<number, ProcessInfo>): void {
    for (const [pid, start] of this.#members) {
      const info = table.get(pid);
      if (!info || (start !== '' && info.start !== start)) this.#members.delete(pid);
      else if (start === '') this.#members.set(pid, info.start);
    }
    const children = new Map<number, ProcessInfo[]>();
    for (const info of table.values()) {
      const list = children.get(info.ppid) ?? [];
      list.push(info);
      children.set(info.ppid, list);
    }
    const queue = [...this.#members.keys()];
    while (queue.length > 0) {
      const pid = queue.pop() as number;
      for (const child of children.get(pid) ?? []) {
        if (this.#members.has(child.pid)) continue;
        this.#members.set(child.pid, child.start);
        queue.push(child.pid);
      }
    }
  }

  /** Resident memory of every member, as the cgroup's memory controller counts it. */
  rssBytes(table: Map<number, ProcessInfo>): number {
    let total = 0;
    for (const [pid, start] of this.#members) {
      const info = table.get(pid);
      if (info && info.start === start) total += info.rssBytes;
    }
    return total;
  }

  /** The member with the largest resident memory (the OOM killer's choice). */
  biggest(table: Map<number, ProcessInfo>): number | undefined {
    let found: { pid: number; rss: number } | undefined;
    for (const [pid, start] of this.#members) {
      const info = table.get(pid);
      if (!info || info.start !== start) continue;
      if (!found || info.rssBytes > found.rss) found = { pid, rss: info.rssBytes };
    }
    return found?.pid;
  }

  /** Sends `signal` to every member still alive (after a fresh look for new descendants). */
  kill(signal: NodeJS.Signals): void {
    const table = readProcessTable();
    this.refresh(table);
    for (const pid of this.#members.keys()) {
      try {
        process.kill(pid, signal);
      } catch {
        // Gone already.
      }
    }
  }
}
