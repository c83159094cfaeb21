/**
 * Telling an out-of-memory kill from other kernel deaths.
 *
 * Jupyter Server does not report how a kernel process ended, so the signal (SIGKILL) is not
 * visible from here. What is visible is the memory cgroup's OOM-kill counter: the kernel runs in
 * the runner's cgroup (a Kubernetes pod, a container, a systemd unit), and when the kernel dies
 * while that counter went up, the kernel was killed for memory. Without a readable counter (no
 * cgroup, another OS) a death stays `kernel_died`.
 */
import { readFileSync } from 'node:fs';

const COUNTER_FILES = [
  '/sys/fs/cgroup/memory.events', // cgroup v2
  '/sys/fs/cgroup/memory/memory.oom_control', // cgroup v1
];

/** The cgroup's OOM-kill count now, or null when it cannot be read. */
export function readOomKillCount(files: readonly string[] = COUNTER_FILES): number | null {
  for (const file of files) {
    try {
      const match = /^oom_kill (\d+)$/m.exec(readFileSync(file, 'utf8'));
      if (match?.[1]) return Number(match[1]);
    } catch {
      // not this cgroup version
    }
  }
  return null;
}

/** Whether an OOM kill happened since `baseline` was read. */
export function oomKilledSince(baseline: number | null, files?: readonly string[]): boolean {
  if (baseline === null) return false;
  const now = readOomKillCount(files);
  return now !== null && now > baseline;
}
