// The memory this process may use, and what its runs in progress hold of it: one account for
// the networks (run.ts's checkMemory) and the single arrays the public draws allocate (rng.ts).
import * as fs from 'node:fs';
import * as os from 'node:os';

export const GiB = 1024 ** 3;

/** Bytes of the networks of this process's runs in progress (see run.ts's reserveMemory). */
let held = 0;

export const heldBytes = (): number => held;

/** Counts `bytes` as held until the returned release is called (once; later calls do nothing). */
export function hold(bytes: number): () => void {
  held += bytes;
  let holding = true;
  return () => {
    if (holding) held -= bytes;
    holding = false;
  };
}

/** `have` bytes as the ENOMEM messages say it: the machine's, or what this process may use. */
export function limitText(have: number): string {
  return `this ${have < os.totalmem() ? 'process may use' : 'machine has'} ${(have / GiB).toFixed(1)} GiB`;
}

/**
 * Memory available now: free, and what the system can reclaim (MemAvailable), within a
 * container's limit where Node can tell.
 */
export function availableMemory(): number {
  return typeof process.availableMemory === 'function' ? process.availableMemory() : os.freemem();
}

/**
 * Memory this process may use: the machine's, or less under a container's (cgroup) limit or an
 * address-space limit (what it leaves, plus the runs in progress, whose memory it already counts).
 */
export function memoryLimit(): number {
  const total = os.totalmem();
  const constrained = typeof process.constrainedMemory === 'function' ? process.constrainedMemory() : 0;
  const limit = constrained > 0 && constrained < total ? constrained : total;
  return Math.min(limit, held + addressSpaceLeft());
}

/**
 * What an address-space limit (ulimit -v) leaves this process, read from /proc (Linux):
 * without this, such a limit stops a large network only once its arrays fail to allocate,
 * after the draw. Infinity without a limit or without /proc.
 */
function addressSpaceLeft(): number {
  try {
    const limit = /^Max address space\s+(\d+)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
    if (!limit) return Infinity; // unlimited
    const size = /^VmSize:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return Number(limit[1]) - (size ? Number(size[1]) * 1024 : 0);
  } catch {
    return Infinity;
  }
}
