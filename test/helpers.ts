// Shared by the tests: fixture loading, array comparison, goal ended by signals, a degenerate seed.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildTarget, Rng, type JsonFixture } from '../src/index';

export const FIXTURE_DIR = path.join(__dirname, 'fixtures', 'reference');

/** A new folder under the system's temporary one, removed with what it holds when the test process ends. */
export function scratchDir(prefix = 'goal-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  if (scratch.length === 0) process.once('exit', () => scratch.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  scratch.push(dir);
  return dir;
}
const scratch: string[] = [];

/** The `goal` command of this checkout. */
export const BIN = path.join(__dirname, '..', 'bin', 'goal.js');

/**
 * Runs goal with `args` in `dir`; once its stderr matches `ready` (on a loaded machine the
 * set-up alone can take seconds, so no fixed wait would do), calls `onReady`, then sends each
 * signal after its wait (ms), counted from when its stderr matches the pattern given with it,
 * if any (what the process says once it heard the signal before, so that the next lands on the
 * state that follows, however fast or loaded the machine). Resolves to how it ended and its
 * stderr.
 */
export async function signalled(args: string[], dir: string, ready: RegExp, signals: [number, NodeJS.Signals, RegExp?][], onReady = () => {}) {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: dir });
  let err = '', out = '';
  child.stderr.on('data', (d) => (err += d));
  child.stdout.on('data', (d) => (out += d));
  // 'close', not 'exit': stderr is read to its end.
  let closed = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => { closed = true; resolve({ code, signal }); }));
  const until = async (heard: RegExp) => { while (!heard.test(err) && !closed) await new Promise((resolve) => setTimeout(resolve, 5)); };
  await until(ready);
  onReady();
  for (const [wait, signal, heard] of signals) {
    if (heard) await until(heard);
    await new Promise((resolve) => setTimeout(resolve, wait));
    child.kill(signal);
  }
  const ended = await exited;
  return { ended, err, out };
}

export function fixtureNames(): string[] {
  return fs.readdirSync(FIXTURE_DIR).filter((f) => f.endsWith('.json')).sort();
}

export function loadFixture(name: string): JsonFixture {
  return JSON.parse(fs.readFileSync(path.join(FIXTURE_DIR, name), 'utf8')) as JsonFixture;
}

/**
 * max |a − b| / max |b| over two equally long arrays (Infinity when lengths differ). NaN on
 * both sides agrees (a diverged run; the GPU's NaN bits are not x86's); on one side only it is
 * an infinite difference.
 */
export function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let d = 0, s = 0;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]) || Number.isNaN(b[i])) {
      if (Number.isNaN(a[i]) !== Number.isNaN(b[i])) return Infinity;
      continue;
    }
    d = Math.max(d, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  return d === 0 ? 0 : d / s;
}

/**
 * Whether a replay's field checks (compareReplay's list, or the CLI's `replay_check` object)
 * cover every field SPEC.md's "Fixtures" has a replay reproduce (`expect` but its min_margin,
 * with D or B) and all of them match: an empty list, which `every` would pass, is no match.
 */
export function replayMatches(checks: readonly { field: string; ok: boolean }[] | Record<string, { ok: boolean }>): boolean {
  const list = Array.isArray(checks) ? checks : Object.entries(checks).map(([field, c]) => ({ field, ok: c.ok }));
  const fields = new Set(list.map((c) => c.field));
  const feedback = fields.has('D') !== fields.has('B');
  return feedback && REPLAY_FIELDS.every((f) => fields.has(f)) && list.length === REPLAY_FIELDS.length + 1 && list.every((c) => c.ok);
}
const REPLAY_FIELDS = ['z_targ', 'Z_last', 'dz', 'mse_out', 'mse_rec', 'W_ho_trained', 'W_hh_final'];

/** Number of positions where two equally long arrays differ (Infinity when lengths differ). */
export function mismatches(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) n++;
  return n;
}

/**
 * The first seed from `from` on (200 tried) whose target at T = 9, O = 3 is degenerate (only its
 * last step is free, and all its values there are ≤ 0), found by the task's definition rather
 * than by running goal; undefined when none is.
 */
export function firstDegenerateSeed(from = 0): number | undefined {
  return Array.from({ length: 200 }, (_, k) => from + k).find((seed) => {
    try {
      buildTarget(9, 3, new Rng(seed));
      return false;
    } catch {
      return true;
    }
  });
}
