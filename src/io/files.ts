// Files that are either complete or absent: written to a temporary name beside the target,
// flushed, then renamed over it.
import * as buffer from 'node:buffer';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GoalError, visible } from '../errors';

/** A failed file operation's errno name (ENOENT, EACCES, …) for a message. */
export function errnoCode(err: unknown): string {
  return (err as NodeJS.ErrnoException | null)?.code ?? 'error';
}

/** The names of a process's open files. */
const STREAM = /^\/dev\/(std(in|out|err)$|fd\/)|^\/proc\/[^/]+\/fd\//;

/** A path naming a stream a process already has open (/dev/stdin, /dev/fd/63 of `<(…)`). */
export const isOpenStream = (file: string): boolean => STREAM.test(file);

/**
 * The file a write to `file` must land in: `file` itself, or where its chain of symbolic links
 * ends (so that the link stays a link and its target gets the data, as with `>`). Each link is
 * resolved as the kernel does, against the real folder that holds it. `fail` gets loops and
 * unreadable links.
 */
export function landing(file: string, fail: (why: string) => never): string {
  let at = path.resolve(file);
  for (let hops = 0; hops < 40; hops++) {
    // An open file of a process (/dev/stdout, /proc/PID/fd/N), directly or through a link:
    // written atomically (a new file renamed over it) it would be taken from the stream, and
    // a pipe cannot be renamed over at all.
    if (STREAM.test(at)) fail('is an open stream of a process (standard output or error?), not a file: give a file name');
    let st: fs.Stats;
    try {
      st = fs.lstatSync(at);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return at; // nothing there yet
      fail(`cannot look at ${at} (${errnoCode(err)})`);
    }
    if (!st!.isSymbolicLink()) return at;
    try {
      at = path.resolve(fs.realpathSync(path.dirname(at)), fs.readlinkSync(at));
    } catch (err) {
      fail(`cannot follow the symbolic link ${at} (${errnoCode(err)})`);
    }
  }
  return fail('is a loop of symbolic links');
}

/** A path as messages show it: as it is, or JSON-quoted, escaped, when it holds a control or invisible character (a newline would break the message in two). */
export function shownPath(file: string): string {
  return visible(file) === file ? file : quotedPath(file);
}

/** A path JSON-quoted, its control and invisible characters escaped too (JSON leaves U+202E as it is). */
export const quotedPath = (file: string): string => visible(JSON.stringify(file));

/** GOAL_BAD_PATH about `file` as option `label` names it (`param`: the library's option). */
export function badPath(label: string, file: string, why: string, param?: string): GoalError {
  return new GoalError('GOAL_BAD_PATH', `${label} ${quotedPath(file)}: ${why}`, param);
}

/** Writes all of `data` (a write may take fewer bytes than asked, e.g. on a nearly full disk). */
export function writeAll(fd: number, data: Buffer): void {
  for (let done = 0; done < data.length;) {
    const n = fs.writeSync(fd, data, done);
    if (n <= 0) throw new GoalError('GOAL_IO', 'cannot write it (a write made no progress: is the disk full?)');
    done += n;
  }
}

/**
 * A temporary name beside `file` that names it, within NAME_MAX (255 bytes) whatever its
 * length: the file's own name is cut to 100 bytes, whole characters.
 */
function tempName(file: string): string {
  let base = '';
  for (const c of path.basename(file)) {
    if (Buffer.byteLength(base + c) > 100) break;
    base += c;
  }
  return path.join(path.dirname(file), `.${base}.${process.pid}.${Date.now()}.tmp`);
}

/** Removes a temporary file, if there; a failure to is no reason to fail what called it. */
function removeTemp(file: string): void {
  try {
    fs.rmSync(file, { force: true });
  } catch {
    // left behind; its name says what it was
  }
}

/**
 * Checks, before any work, that `file` can be written: a non-empty path whose folder exists and
 * takes a new file (tried for real: a read-only or pseudo file system fails here, not after the
 * run), and that is absent or a writable regular file (a folder, a device, a pipe is refused:
 * the atomic rename would replace it). Throws GOAL_BAD_PATH naming `label` (and `param`, the
 * library's option, in the error's param).
 */
export function checkWritable(file: string, label: string, bytes = 0, param?: string): void {
  const fail = (why: string): never => {
    throw badPath(label, file, why, param);
  };
  if (file === '') fail('needs a file name');
  if (/[/\\]$/.test(file)) fail('ends with a slash, so it names a folder; give a file name');
  const target = landing(file, fail);
  const dir = path.dirname(target);
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(dir);
  } catch {
    fail(`folder ${shownPath(dir)} does not exist`);
  }
  if (!st?.isDirectory()) fail(`${shownPath(dir)} is not a folder`);
  const existing = fs.statSync(target, { throwIfNoEntry: false });
  if (existing?.isDirectory()) fail('is a folder, not a file');
  if (existing && !existing.isFile()) fail('is not a regular file (a device, a pipe or a socket); give a file name');
  if (existing) {
    try {
      fs.accessSync(target, fs.constants.W_OK);
    } catch {
      fail('is read-only');
    }
    // In a sticky folder (/tmp) only the file's or the folder's owner may replace it: the
    // atomic rename would fail after the run.
    const uid = process.getuid?.() ?? 0;
    if (st!.mode & 0o1000 && uid !== 0 && existing.uid !== uid && st!.uid !== uid) {
      fail(`is another user's file in the sticky folder ${shownPath(dir)}: it cannot be replaced; choose another name`);
    }
  }
  // A full disk still takes an empty file: the probe holds what will be written, which a
  // quota also refuses. Past PROBE_BYTES the file system is asked for the rest, when it says
  // (a pseudo file system has no blocks); root may also use the blocks kept for it.
  if (bytes > PROBE_BYTES) {
    let free = Infinity;
    try {
      const fsStat = fs.statfsSync(dir);
      const blocks = process.getuid?.() === 0 ? fsStat.bfree : fsStat.bavail;
      if (fsStat.blocks > 0) free = blocks * fsStat.bsize;
    } catch {
      // not told: the probe alone decides
    }
    if (bytes > free) fail(`the disk holding it has ${sizeText(free)} free, and it takes ${sizeText(bytes)}`);
  }
  const probe = tempName(target);
  let fd = -1;
  try {
    fd = fs.openSync(probe, 'wx');
  } catch (err) {
    fail(`cannot create files in folder ${shownPath(dir)} (${errnoCode(err)})`);
  }
  let failed: unknown;
  try {
    const part = Math.min(bytes, PROBE_BYTES);
    if (part > 0) {
      writeAll(fd, Buffer.alloc(part));
      fs.fsyncSync(fd);
    }
  } catch (err) {
    failed = err;
  }
  try {
    fs.closeSync(fd); // a network file system may report a full quota only here
  } catch (err) {
    failed ??= err;
  }
  removeTemp(probe);
  if (failed !== undefined) fail(`cannot write ${sizeText(bytes)} in folder ${shownPath(dir)} (${errnoCode(failed)})`);
}

/** The most a write check writes for real. */
const PROBE_BYTES = 8 << 20;

/** A size as messages give it: three digits in binary units (187 MiB, 1.5 GiB). */
export function sizeText(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = bytes / 1024, u = 0;
  while (v >= 1024 && u < units.length - 1) v /= 1024, u++;
  return `${+v.toPrecision(3)} ${units[u]}`;
}

/**
 * Writes `data` to `file` atomically: a crash never leaves a truncated file at `file`; with
 * `fresh`, only where no file is (an existing one is never replaced). Parts
 * (an array of strings) are written one after another: a file larger than V8's longest string
 * (about 512 MiB) is never one string.
 */
export function writeFileAtomic(file: string, data: Buffer | string | readonly string[], options: { fresh?: boolean } = {}): void {
  const target = landing(file, (why) => {
    throw new GoalError('GOAL_BAD_PATH', `${file}: ${why}`);
  });
  if (options.fresh && there(target)) throw new GoalError('GOAL_BAD_PATH', `${shownPath(file)}: exists: nothing was written over it; choose another name`);
  const tmp = tempName(target);
  try {
    const fd = fs.openSync(tmp, 'wx');
    try {
      // A file replaced keeps its permission bits (a private one stays private) and, where
      // this user may give them, its owner and group (root replacing alice's file).
      const old = fs.statSync(target, { throwIfNoEntry: false });
      if (old) {
        try {
          fs.fchownSync(fd, old.uid, old.gid);
        } catch {
          // not ours to give: the writer's own
        }
        fs.fchmodSync(fd, old.mode & 0o777);
      }
      if (Buffer.isBuffer(data)) writeAll(fd, data);
      else for (const part of typeof data === 'string' ? [data] : data) writeAll(fd, Buffer.from(part));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    if (options.fresh) placeFresh(tmp, target);
    else fs.renameSync(tmp, target);
  } catch (err) {
    removeTemp(tmp);
    throw writeError(file, err);
  }
}

/** Link errors of a file system without hard links (FAT, some network and FUSE ones). */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EMLINK', 'EXDEV']);

/** Whether anything is at `file`, a dangling symbolic link too. */
function there(file: string): boolean {
  return fs.lstatSync(file, { throwIfNoEntry: false }) !== undefined;
}

/**
 * Puts the written `tmp` at `target` only if nothing is there by then: a rename would replace a
 * file that another program created meanwhile, a hard link fails instead.
 */
function placeFresh(tmp: string, target: string): void {
  const taken = () => new GoalError('GOAL_BAD_PATH', 'was created meanwhile, by another process: nothing was written over it; choose another name');
  try {
    fs.linkSync(tmp, target);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    // Over NFS a link whose reply was lost is sent again, and the retry finds the link made.
    if (code === 'EEXIST' && sameFile(tmp, target)) return removeTemp(tmp);
    if (code === 'EEXIST') throw taken();
    if (!NO_HARD_LINKS.has(code)) throw err;
    // Checked, then renamed: only the window between the two is open.
    if (there(target)) throw taken();
    fs.renameSync(tmp, target);
    return;
  }
  removeTemp(tmp);
}

/** A failed write (a full disk, a folder removed meanwhile) as a one-line GOAL_IO error. */
function writeError(file: string, err: unknown): GoalError {
  if (err instanceof GoalError) return new GoalError(err.code, `${shownPath(file)}: ${err.message}`);
  const e = err as NodeJS.ErrnoException;
  return new GoalError('GOAL_IO', `${shownPath(file)}: cannot write it (${e.code ?? e.message})`);
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

/**
 * Appends one line to `file` in a single write (O_APPEND: whole lines). A write that fails (a
 * full disk) is undone: no part of a line, and no empty file where there was none, is left
 * behind. The undoing cuts the file back to its size before the write, so it assumes one
 * writer, as a results file's lock makes sure.
 */
export function appendLine(file: string, line: string): void {
  try {
    const existed = fs.existsSync(file);
    const fd = fs.openSync(file, 'a');
    let created: string | null = null;
    let size = -1;
    try {
      // What the open created, a link's target included (removing the link would leave it).
      if (!existed) created = fs.realpathSync(file);
      size = fs.fstatSync(fd).size;
      writeAll(fd, Buffer.from(line.endsWith('\n') ? line : `${line}\n`));
      fs.fsyncSync(fd);
    } catch (err) {
      try {
        if (size >= 0) fs.ftruncateSync(fd, size);
        if (created !== null) fs.rmSync(created, { force: true });
      } catch {
        // the write's error is the one to report
      }
      throw err;
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    throw writeError(file, err);
  }
}

/** A device (/dev/zero, a disk): it may never end, so it is refused rather than read. */
export const isDevice = (st: fs.Stats): boolean => st.isCharacterDevice() || st.isBlockDevice();

/**
 * The lines of `file`, split at '\n' as String.split does (the piece after the last newline
 * comes last: '' when the file ends with one), read a chunk at a time: a results file may be
 * larger than V8's longest string (about 512 MiB). A line of zero bytes alone (a crash's
 * preallocated tail, of any length) comes as one zero byte; a longer line than a string holds
 * is an error (ERR_STRING_TOO_LONG), where Buffer.toString would return '' past 2 GiB.
 */
export function* fileLines(file: string): Generator<string> {
  const fd = fs.openSync(file, 'r');
  try {
    const chunk = Buffer.alloc(1 << 20);
    const zeros = Buffer.alloc(chunk.length);
    let pending: Buffer[] = []; // the current line's bytes so far (a UTF-8 character may straddle chunks)
    let bytes = 0; // their length
    let zero = true; // and whether they are all zero bytes
    const add = (piece: Buffer, copy: boolean) => {
      if (zero && piece.equals(zeros.subarray(0, piece.length))) {
        if (bytes === 0 && piece.length > 0) {
          pending.push(Buffer.of(0));
          bytes = 1;
        }
        return;
      }
      zero = false;
      if (bytes + piece.length > buffer.constants.MAX_STRING_LENGTH) {
        throw Object.assign(new Error('a line longer than the longest string'), { code: 'ERR_STRING_TOO_LONG' });
      }
      pending.push(copy ? Buffer.from(piece) : piece); // a copy when it outlives this chunk, which is reused
      bytes += piece.length;
    };
    const line = (): string => {
      const text = Buffer.concat(pending).toString('utf8');
      pending = [];
      bytes = 0;
      zero = true;
      return text;
    };
    for (let n; (n = fs.readSync(fd, chunk, 0, chunk.length, null)) > 0;) {
      let start = 0;
      for (let nl = chunk.indexOf(10, start); nl >= 0 && nl < n; nl = chunk.indexOf(10, start)) {
        add(chunk.subarray(start, nl), false);
        yield line();
        start = nl + 1;
      }
      if (start < n) add(chunk.subarray(start, n), true);
    }
    yield line();
  } finally {
    fs.closeSync(fd);
  }
}
