// Files that are either complete or absent: written to a temporary name beside the target,
// flushed, then renamed over it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GoalError } from '../errors';

/**
 * The file a write to `file` must land in: `file` itself, or where its chain of symbolic links
 * ends (so that the link stays a link and its target gets the data, as with `>`).
 */
function landing(file: string): string {
  let at = path.resolve(file);
  for (let hops = 0; hops < 40; hops++) {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(at);
    } catch {
      return at; // nothing there yet
    }
    if (!st.isSymbolicLink()) return at;
    at = path.resolve(path.dirname(at), fs.readlinkSync(at));
  }
  return at;
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
  const target = landing(file);
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
  const target = landing(file);
  const tmp = tempName(target);
  try {
    const fd = fs.openSync(tmp, 'wx');
    try {
      if (typeof data === 'string') fs.writeSync(fd, data);
      else fs.writeSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, target);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/** Appends one line to `file` in a single write (O_APPEND: whole lines, even with several writers). */
export function appendLine(file: string, line: string): void {
  const fd = fs.openSync(file, 'a');
  try {
    fs.writeSync(fd, line.endsWith('\n') ? line : `${line}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
