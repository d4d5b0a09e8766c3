// Shared by the tests: fixture loading and array comparison.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Fixture } from '../src/index';

export const FIXTURE_DIR = path.join(__dirname, 'fixtures', 'reference');

export function fixtureNames(): string[] {
  return fs.readdirSync(FIXTURE_DIR).filter((f) => f.endsWith('.json')).sort();
}

export function loadFixture(name: string): Fixture {
  return JSON.parse(fs.readFileSync(path.join(FIXTURE_DIR, name), 'utf8')) as Fixture;
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

/** Number of positions where two equally long arrays differ (Infinity when lengths differ). */
export function mismatches(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) n++;
  return n;
}
