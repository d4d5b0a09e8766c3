// One writer per results file: a lock file beside it, created exclusively, naming the process
// that holds it (host, pid, start), so that a lock left by a process that is gone can be told
// from one that is alive, and taken over.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { GoalError, visible } from '../errors';
import { badPath, errnoCode, landing, quotedPath, shownPath, writeAll } from './files';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // someone else's process, alive
  }
  // A killed writer whose parent has not reaped it yet (a container's PID 1 may never) still
  // answers signal 0: a zombie (state Z) or dead one (X) writes nothing more.
  const state = statFields(pid)?.[0];
  return state !== 'Z' && state !== 'X';
}

/** The fields of /proc/PID/stat after the command name (state first), or null where /proc cannot say. */
function statFields(pid: number | 'self'): string[] | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: the fields start after its last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** When process `pid` started (clock ticks since boot, Linux), or null where /proc cannot say. */
function startOf(pid: number | 'self'): string | null {
  return statFields(pid)?.[19] ?? null; // starttime, the 22nd field
}

/** This process, as a lock names it: host, pid and start (a pid alone is reused, e.g. PID 1 of a restarted container). */
const SELF = `${os.hostname()} ${process.pid} ${startOf('self') ?? '-'}`;

/** Seconds after which an empty lock or an abandoned `.break` (its writer died mid-way) is stale. */
const ABANDONED_S = 10;

/** Creates `file` holding `text` if it does not exist (false if it does); never leaves it empty. */
function createExclusive(file: string, text: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeAll(fd, Buffer.from(text));
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true }); // a full disk: no empty lock left to block the next run
    throw err;
  }
  fs.closeSync(fd);
  return true;
}

function ageSeconds(file: string): number {
  try {
    return (Date.now() - fs.statSync(file).mtimeMs) / 1000;
  } catch {
    return 0;
  }
}

/** The lock of `file`: beside where its data lands (a symbolic link's target). */
function lockPath(file: string, label: string, param?: string): string {
  return `${landing(file, (why) => {
    throw badPath(label, file, why, param);
  })}.lock`;
}

/** What a lock holds, or null when there is none. */
function holderOf(lock: string): string | null {
  try {
    return fs.readFileSync(lock, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** A lock's holder as people read it. */
function describe(holder: string): string {
  const [host, pid] = holder.split(' ');
  // Not a lock of ours (edited, or another program's): who holds it is unknown.
  return pid && /^\d+$/.test(pid) ? `process ${pid} on ${visible(host)}` : 'another process';
}

/**
 * Whether the holder of `lock` is gone: a process of this host that has ended (or whose pid now
 * names another process, or an earlier life of this one), or a lock left empty long ago. Another
 * host's lock is never judged from here.
 */
function stale(lock: string, holder: string): boolean {
  if (holder === '') return ageSeconds(lock) > ABANDONED_S; // its writer died between create and write
  const [host, pidText, start] = holder.split(' ');
  const pid = Number(pidText);
  if (host !== os.hostname() || !Number.isInteger(pid) || pid < 1) return false;
  if (pid === process.pid) return start !== undefined && `${host} ${pid} ${start}` !== SELF;
  if (!alive(pid)) return true;
  const now = start && start !== '-' ? startOf(pid) : null;
  return now !== null && now !== start;
}

/**
 * The locks this process holds (lock path → its release). A registry, because the CLI's last
 * words before a signal ends the process (releaseLocks) cannot reach the sweep that took them.
 */
const held = new Map<string, () => void>();

/**
 * Claims `file` for one writer until the returned function is called. A lock whose holder is
 * gone is taken over. Two writers appending to one results file would each compute and write
 * every point. Throws GOAL_LOCKED naming `label`.
 */
export function lockFile(file: string, label: string, param?: string): () => void {
  const lock = lockPath(file, label, param), breaker = `${lock}.break`;
  const cannot = (err: unknown, what: string): never => {
    // A name the folder takes may be too long once `.lock` (or `.lock.break`) is added to it.
    const long = errnoCode(err) === 'ENAMETOOLONG' ? ': the name is too long for it; choose a shorter one' : '';
    throw badPath(label, file, `cannot ${what} (${errnoCode(err)})${long}`, param);
  };
  const locked = (holder: string, why = ''): never => {
    throw new GoalError('GOAL_LOCKED', `${label} ${quotedPath(file)} is being written by ${describe(holder)}${why} (lock ${shownPath(lock)}): ` +
      'wait for it to end, or delete the lock if it is not running', param);
  };
  const read = (): string | null => {
    try {
      return holderOf(lock);
    } catch (err) {
      return cannot(err, `read its lock file ${shownPath(lock)}`);
    }
  };

  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      if (createExclusive(lock, `${SELF}\n`)) {
        const release = () => {
          held.delete(lock);
          try {
            if (fs.readFileSync(lock, 'utf8') === `${SELF}\n`) fs.rmSync(lock, { force: true });
          } catch {
            // already gone: nothing to release
          }
        };
        held.set(lock, release);
        return release;
      }
    } catch (err) {
      cannot(err, `create its lock file ${shownPath(lock)}`);
    }
    const holder = read();
    if (holder === null) continue; // released meanwhile
    if (!stale(lock, holder)) locked(holder);
    // One process breaks a stale lock: whoever creates `.break` first; it checks that the lock
    // still names the same dead holder (another may have taken over meanwhile) before removing it.
    let breaking: boolean;
    try {
      if (ageSeconds(breaker) > ABANDONED_S) fs.rmSync(breaker, { force: true }); // its breaker died
      breaking = createExclusive(breaker, `${SELF}\n`);
    } catch (err) {
      return cannot(err, `create ${shownPath(breaker)}`);
    }
    if (!breaking) locked(holder, ', or another process is taking its lock over');
    try {
      if (read() === holder) fs.rmSync(lock, { force: true });
    } catch (err) {
      cannot(err, `remove the stale lock ${shownPath(lock)}`);
    } finally {
      fs.rmSync(breaker, { force: true });
    }
  }
  return locked(read() ?? '');
}

/** Who is writing `file` now, as people read it, or null when nobody is (no lock, or a stale one). */
export function writerOf(file: string): string | null {
  try {
    const lock = lockPath(file, '');
    const holder = holderOf(lock);
    return holder === null || stale(lock, holder) ? null : describe(holder);
  } catch {
    return null;
  }
}

/** Releases every lock this process holds (its last words before a signal ends it). */
export function releaseLocks(): void {
  for (const release of [...held.values()]) release();
}
