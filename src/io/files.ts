// Files that are either complete or absent: written to a temporary name beside the target,
// flushed, then renamed over it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GoalError } from '../errors';

/**
 * Checks, before any work, that `file` can be written: its folder exists and is writable,
 * and it is not itself a folder. Throws GOAL_BAD_PATH naming `label`.
 */
export function checkWritable(file: string, label: string): void {
  const dir = path.dirname(path.resolve(file));
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    throw new GoalError('GOAL_BAD_PATH', `${label} ${file}: folder ${dir} does not exist`);
  }
  if (!st.isDirectory()) throw new GoalError('GOAL_BAD_PATH', `${label} ${file}: ${dir} is not a folder`);
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch {
    throw new GoalError('GOAL_BAD_PATH', `${label} ${file}: folder ${dir} is not writable`);
  }
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) {
    throw new GoalError('GOAL_BAD_PATH', `${label} ${file} is a folder, not a file`);
  }
}

/** Writes `data` to `file` atomically: a crash never leaves a truncated file at `file`. */
export function writeFileAtomic(file: string, data: Buffer | string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      if (typeof data === 'string') fs.writeSync(fd, data);
      else fs.writeSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
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
