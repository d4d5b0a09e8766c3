// Files that are either complete or absent: written to a temporary name beside the target,
// flushed, then renamed over it.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GoalError } from '../errors';

/**
 * The file a write to `file` must land in: `file` itself, or where its chain of symbolic links
 * ends (so that the link stays a link and its target gets the data, as with `>`). Each link is
 * resolved as the kernel does, against the real folder that holds it. `fail` gets loops and
 * unreadable links.
 */
function landing(file: string, fail: (why: string) => never): string {
  let at = path.resolve(file);
  for (let hops = 0; hops < 40; hops++) {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(at);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return at; // nothing there yet
      fail(`cannot look at ${at} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    if (!st!.isSymbolicLink()) return at;
    try {
      at = path.resolve(fs.realpathSync(path.dirname(at)), fs.readlinkSync(at));
    } catch (err) {
      fail(`cannot follow the symbolic link ${at} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  return fail('is a loop of symbolic links');
}

/** Writes all of `data` (a write may take fewer bytes than asked, e.g. on a nearly full disk). */
function writeAll(fd: number, data: Buffer): void {
  for (let done = 0; done < data.length;) {
    const n = fs.writeSync(fd, data, done);
    if (n <= 0) throw new GoalError('GOAL_IO', 'cannot write it (a write made no progress: is the disk full?)');
    done += n;
  }
}

function tempName(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
}

/**
 * Checks, before any work, that `file` can be written: a non-empty path whose folder exists and
 * takes a new file (tried for real: a read-only or pseudo file system fails here, not after the
 * run), and that is absent or a writable regular file (a folder, a device, a pipe is refused:
 * the atomic rename would replace it). Throws GOAL_BAD_PATH naming `label`.
 */
export function checkWritable(file: string, label: string): void {
  const fail = (why: string): never => {
    throw new GoalError('GOAL_BAD_PATH', `${label} ${JSON.stringify(file)}: ${why}`);
  };
  if (file === '') fail('needs a file name');
  if (/[/\\]$/.test(file)) fail('ends with a slash, so it names a folder; give a file name');
  const target = landing(file, fail);
  const dir = path.dirname(target);
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(dir);
  } catch {
    fail(`folder ${dir} does not exist`);
  }
  if (!st?.isDirectory()) fail(`${dir} is not a folder`);
  const existing = fs.statSync(target, { throwIfNoEntry: false });
  if (existing?.isDirectory()) fail('is a folder, not a file');
  if (existing && !existing.isFile()) fail('is not a regular file (a device, a pipe or a socket); give a file name');
  if (existing) {
    try {
      fs.accessSync(target, fs.constants.W_OK);
    } catch {
      fail('is read-only');
    }
  }
  const probe = tempName(target);
  try {
    fs.closeSync(fs.openSync(probe, 'wx'));
  } catch (err) {
    fail(`cannot create files in folder ${dir} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  } finally {
    fs.rmSync(probe, { force: true });
  }
}

/** Writes `data` to `file` atomically: a crash never leaves a truncated file at `file`. */
export function writeFileAtomic(file: string, data: Buffer | string): void {
  const target = landing(file, (why) => {
    throw new GoalError('GOAL_BAD_PATH', `${file}: ${why}`);
  });
  const tmp = tempName(target);
  try {
    const fd = fs.openSync(tmp, 'wx');
    try {
      writeAll(fd, typeof data === 'string' ? Buffer.from(data) : data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, target);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw writeError(file, err);
  }
}

/** A failed write (a full disk, a folder removed meanwhile) as a one-line GOAL_IO error. */
function writeError(file: string, err: unknown): GoalError {
  if (err instanceof GoalError) return new GoalError(err.code, `${file}: ${err.message}`);
  const e = err as NodeJS.ErrnoException;
  return new GoalError('GOAL_IO', `${file}: cannot write it (${e.code ?? e.message})`);
}

/** Whether two paths name one existing file (through links, hard links included). */
export function sameFile(a: string, b: string): boolean {
  try {
    const sa = fs.statSync(a, { throwIfNoEntry: false });
    const sb = fs.statSync(b, { throwIfNoEntry: false });
    return !!sa && !!sb && sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false; // unreachable (ENOTDIR, EACCES, …): not the same file; other checks say why
  }
}

/** Appends one line to `file` in a single write (O_APPEND: whole lines, even with several writers). */
export function appendLine(file: string, line: string): void {
  try {
    const fd = fs.openSync(file, 'a');
    try {
      writeAll(fd, Buffer.from(line.endsWith('\n') ? line : `${line}\n`));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    throw writeError(file, err);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // someone else's process, alive
  }
}

/** When process `pid` started (clock ticks since boot, Linux), or null where /proc cannot say. */
function startOf(pid: number | 'self'): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces and parentheses); starttime is the 22nd.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
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

/** The locks this process holds (lock path → its release), for releaseLocks(). */
const held = new Map<string, () => void>();

/**
 * Claims `file` for one writer until the returned function is called: a lock file beside it
 * (`file.lock`: host, pid and process start), created exclusively. A lock whose process (on
 * this host) is gone is taken over: killed, or an earlier life of a container under the same
 * pid. Two writers appending to one results file would each compute and write every point.
 * Throws GOAL_LOCKED naming `label`.
 */
export function lockFile(file: string, label: string): () => void {
  const target = landing(file, (why) => {
    throw new GoalError('GOAL_BAD_PATH', `${label} ${JSON.stringify(file)}: ${why}`);
  });
  const lock = `${target}.lock`, breaker = `${lock}.break`;
  const cannot = (err: unknown, what: string): never => {
    throw new GoalError('GOAL_BAD_PATH', `${label} ${JSON.stringify(file)}: cannot ${what} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  };
  const locked = (holder: string, why = ''): never => {
    const [host, pid] = holder.split(' ');
    const who = pid ? `process ${pid} on ${host}` : 'another process';
    throw new GoalError('GOAL_LOCKED', `${label} ${file} is being written by ${who}${why} (lock ${lock}): wait for it to end, or delete the lock if it is not running`);
  };
  const holderOf = (): string | null => {
    try {
      return fs.readFileSync(lock, 'utf8').trim();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      return cannot(err, `read its lock file ${lock}`);
    }
  };
  const stale = (holder: string): boolean => {
    if (holder === '') return ageSeconds(lock) > ABANDONED_S; // its writer died between create and write
    const [host, pidText, start] = holder.split(' ');
    const pid = Number(pidText);
    if (host !== os.hostname() || !Number.isInteger(pid) || pid < 1) return false; // another host's: not judged from here
    if (pid === process.pid) return start !== undefined && `${host} ${pid} ${start}` !== SELF;
    if (!alive(pid)) return true;
    const now = start && start !== '-' ? startOf(pid) : null;
    return now !== null && now !== start; // the pid now names another process
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
      cannot(err, `create its lock file ${lock}`);
    }
    const holder = holderOf();
    if (holder === null) continue; // released meanwhile
    if (!stale(holder)) locked(holder);
    // One process breaks a stale lock: whoever creates `.break` first; it checks that the lock
    // still names the same dead holder (another may have taken over meanwhile) before removing it.
    let breaking: boolean;
    try {
      if (ageSeconds(breaker) > ABANDONED_S) fs.rmSync(breaker, { force: true }); // its breaker died
      breaking = createExclusive(breaker, `${SELF}\n`);
    } catch (err) {
      return cannot(err, `create ${breaker}`);
    }
    if (!breaking) locked(holder, ', or another process is taking its lock over');
    try {
      if (holderOf() === holder) fs.rmSync(lock, { force: true });
    } catch (err) {
      cannot(err, `remove the stale lock ${lock}`);
    } finally {
      fs.rmSync(breaker, { force: true });
    }
  }
  return locked(holderOf() ?? '');
}

/** Who holds the lock of `file` ("host pid start"), or null when there is none. */
export function lockedBy(file: string): string | null {
  try {
    return fs.readFileSync(`${landing(file, () => { throw new Error(); })}.lock`, 'utf8').trim();
  } catch {
    return null;
  }
}

/** Releases every lock this process holds (its last words before a signal ends it). */
export function releaseLocks(): void {
  for (const release of [...held.values()]) release();
}
