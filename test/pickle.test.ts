// The stats pickle loads in Python's standard library and in an independent JS parser.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { Parser } from 'pickleparser';
import { encodePickle, PyTuple, statsPickle, statsPickleBytes } from '../src/io/pickle';
import { writeFileAtomic } from '../src/io/files';

const python = spawnSync('python3', ['--version']).status === 0;

/** What Python's pickle.load makes of `buf`, as JSON (NaN/inf spelled out). */
function pythonLoads(buf: Buffer): unknown {
  const code = [
    'import json, math, pickle, sys',
    'v = pickle.loads(sys.stdin.buffer.read())',
    'def enc(x):',
    '    if isinstance(x, tuple): return {"tuple": [enc(y) for y in x]}',
    '    if isinstance(x, list): return [enc(y) for y in x]',
    '    assert isinstance(x, float), type(x)',
    '    return x if math.isfinite(x) else repr(x)',
    'print(json.dumps(enc(v)))',
  ].join('\n');
  const r = spawnSync('python3', ['-c', code], { input: buf });
  if (r.status !== 0) throw new Error(r.stderr.toString());
  return JSON.parse(r.stdout.toString());
}

t.test('the stats tuple', async (t) => {
  const mseRec = Array.from({ length: 2500 }, (_, k) => 1 / (k + 1)); // several APPENDS batches
  const dz = mseRec.map((_, k) => k % 7);
  const buf = statsPickle(0.125, mseRec, dz);
  t.equal(buf[0], 0x80, 'PROTO');
  t.equal(buf[1], 2, 'protocol 2');
  t.equal(buf[buf.length - 1], 0x2e, 'STOP');
  t.strictSame(new Parser().parse(buf), [0.125, mseRec, dz], 'JS parser: the same tuple');
  // PROTO 2, the float (9 bytes), per list EMPTY_LIST and MARK … APPENDS per 1000 items and 9
  // bytes an item, TUPLE3, STOP: one buffer of exactly that length.
  t.equal(buf.length, 2 + 9 + 2 * (1 + 2 * 3 + 9 * 2500) + 1 + 1);
  if (!python) return t.skip('python3 not found: skipping the load in Python', () => {});
  t.strictSame(pythonLoads(buf), { tuple: [0.125, mseRec, dz] }, 'Python: a 3-tuple of a float and two lists');
});

t.test('statsPickleBytes: the length statsPickle will have, for the savepath check', async (t) => {
  // Around APPENDS' batches of 1000 items, where the count of MARK…APPENDS pairs changes.
  for (const n of [0, 1, 2, 999, 1000, 1001, 2000, 2001, 12345]) {
    t.equal(statsPickleBytes(n), statsPickle(0.5, new Array(n).fill(0.25), new Array(n).fill(3)).length, `${n} epochs`);
  }
});

t.test('a NaN of any sign and payload is written as Python writes float("nan")', async (t) => {
  const nan = (bits: bigint): number => {
    const f = new Float64Array(1);
    new DataView(f.buffer).setBigUint64(0, bits, true); // the platform's order: x86-64 and arm64 are little-endian
    return f[0];
  };
  // PROTO 2, then BINFLOAT and 8 big-endian bytes.
  for (const bits of [0x7ff8000000000000n, 0xfff8000000000000n, 0x7ff0000000000001n, 0xfff8000000000001n]) {
    t.equal(encodePickle(nan(bits)).subarray(3, 11).toString('hex'), '7ff8000000000000', bits.toString(16));
  }
  if (!python) return t.skip('python3 not found: skipping the comparison with Python\'s pickle', () => {});
  const r = spawnSync('python3', ['-c', 'import pickle, sys; sys.stdout.buffer.write(pickle.dumps(float("nan"), 2))']);
  t.equal(encodePickle(nan(0xfff8000000000001n)).toString('hex'), r.stdout.toString('hex'), 'the bytes of pickle.dumps(float("nan"), 2)');
});

t.test('special floats, empty lists, tuples of every length', { skip: python ? false : 'python3 not found' }, async (t) => {
  t.strictSame(pythonLoads(encodePickle(new PyTuple([NaN, [Infinity, -Infinity, -0], []]))), { tuple: ['nan', ['inf', '-inf', -0], []] });
  for (let n = 0; n <= 5; n++) {
    const items = Array.from({ length: n }, (_, k) => k + 0.5);
    t.strictSame(pythonLoads(encodePickle(new PyTuple(items))), { tuple: items }, `${n}-tuple`);
  }
});

t.test('atomic write: complete or absent, no temporary left behind', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goal-atomic-'));
  const file = path.join(dir, 'stats.pkl');
  fs.writeFileSync(file, 'old');
  writeFileAtomic(file, statsPickle(1, [2], [3]));
  t.strictSame(new Parser().parse(fs.readFileSync(file)), [1, [2], [3]]);
  t.strictSame(fs.readdirSync(dir), ['stats.pkl'], 'only the target remains');
  t.throws(() => writeFileAtomic(path.join(dir, 'missing', 'x.pkl'), 'data'));
  t.strictSame(fs.readdirSync(dir), ['stats.pkl'], 'a failed write leaves nothing');
  fs.rmSync(dir, { recursive: true });
});
