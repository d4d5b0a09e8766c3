// The addon checks what protects memory, refuses overlapping and out-of-order calls, and
// turns every failure into a coded JS error (never a crash).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import type { NetConfig } from '../binding';
import { addon } from '../src/native';
import { MAX_SIZE } from '../src/params';
import { scratchDir } from './helpers';

const N = 4, I = 2, O = 1, T = 5;
const base = (): NetConfig => ({
  dtype: 'float64', N, I, O, T, R: 0, feedback: 'spk',
  tau_m: 8, tau_s: 2, tau_o: 5, v_init: -4, bias: -4, reset: -20, thr: 0, rec_lr: 0.1, out_lr: 0.01,
  W_ih: new Float64Array(I * N).fill(3), W_hh: new Float64Array(N * N), W_ho: new Float64Array(N * O).fill(0.5),
  W_trg: new Float64Array(O * N), targ: new Float64Array(T * O).fill(0.2), clock: new Float64Array((T - 1) * I).fill(1),
});
/** A lone network: a batch of one. */
const one = (net: NetConfig, backend: 'cpu' | 'cuda' = 'cpu') => new (addon().Batch)({ backend, nets: [net] });

t.test('typed-array kinds and lengths, sizes, config', async (t) => {
  const bad: [Partial<Record<keyof NetConfig, unknown>>, RegExp][] = [
    [{ W_hh: new Float32Array(N * N) }, /config.nets\[0\].W_hh must be a Float64Array/],
    [{ W_hh: new Float64Array(N * N - 1) }, /W_hh must have 16 elements \(got 15\)/],
    [{ clock: [1, 2] }, /clock must be a Float64Array/],
    [{ W_ih: undefined }, /config.W_ih is missing/],
    [{ N: 2.5 }, /config.N must be an integer/],
    [{ N: -1 }, /config.N must be an integer in \[1, /],
    [{ T: 1 }, /config.T must be an integer in \[2, /],
    [{ R: 9 }, /rank R must be in \[O, N\]/],
    [{ tau_m: 0 }, /time constants must be finite and > 0/],
    [{ dtype: 'float16' }, /dtype must be 'float32' or 'float64'/],
  ];
  for (const [change, message] of bad) {
    t.throws(() => one({ ...base(), ...change } as NetConfig), { code: 'GOAL_INVALID', message }, JSON.stringify(Object.keys(change)));
  }
  t.throws(() => one({ ...base(), W_hh: new Float32Array(N * N) } as never), TypeError, 'a wrong type is a TypeError');
  const { Batch } = addon();
  t.throws(() => new Batch(undefined as never), { code: 'GOAL_INVALID' });
  t.throws(() => new Batch({ backend: 'tpu' as never, nets: [base()] }), { code: 'GOAL_INVALID' });
  t.throws(() => new Batch({ backend: 'cpu', nets: [] }), { code: 'GOAL_INVALID' });
  t.throws(() => new Batch({ backend: 'cpu', threads: 0, nets: [base()] }), { code: 'GOAL_INVALID' });
  t.throws(() => new Batch({ backend: 'cpu', nets: [base(), { ...base(), N: 5, W_hh: new Float64Array(25), W_ih: new Float64Array(10), W_ho: new Float64Array(5), W_trg: new Float64Array(5) }] }),
    { code: 'GOAL_INVALID', message: /share N, I, O, T and dtype/ });
  t.throws(() => addon().bytesNeeded({ ...base(), N: 2 ** 40 }), { code: 'GOAL_INVALID' });
  // The engine's size limit is the library's MAX_SIZE: what resolveParams takes, the addon takes.
  t.ok(addon().bytesNeeded({ ...base(), T: MAX_SIZE }) > 0, `T = MAX_SIZE (${MAX_SIZE}) is taken`);
  t.throws(() => addon().bytesNeeded({ ...base(), T: MAX_SIZE + 1 }), { code: 'GOAL_INVALID', message: new RegExp(`\\[2, ${MAX_SIZE}\\]`) }, 'MAX_SIZE + 1 is not');
});

t.test('a batch whose networks fit one by one but not together is refused before any is allocated', async (t) => {
  // Long T: each network is large, its inputs small (one set of arrays shared by them all).
  const long = { ...base(), T: MAX_SIZE, targ: new Float64Array(MAX_SIZE * O), clock: new Float64Array((MAX_SIZE - 1) * I) };
  const each = addon().bytesNeeded(long);
  const K = Math.ceil(os.totalmem() / each) + 1;
  t.ok(each < 0.5 * os.totalmem(), `one network: ${(each / 2 ** 20).toFixed(0)} MiB`);
  t.throws(() => new (addon().Batch)({ backend: 'cpu', nets: new Array(K).fill(long) }),
    { code: 'GOAL_ENOMEM', message: new RegExp(`^a batch of ${K} networks of N=${N} needs .*, more than this machine's .* of memory$`) });
});

t.test('a getter that detaches an array fetched before it: a coded error, not a read of freed memory', async (t) => {
  const net = base() as unknown as Record<string, unknown>;
  const W_hh = net.W_hh as Float64Array;
  delete net.W_ho;
  Object.defineProperty(net, 'W_ho', {
    enumerable: true,
    get() {
      structuredClone(W_hh.buffer, { transfer: [W_hh.buffer as ArrayBuffer] }); // detaches W_hh
      return new Float64Array(N * O);
    },
  });
  t.throws(() => one(net as unknown as NetConfig), { code: 'GOAL_INVALID', message: /W_hh must have 16 elements \(got 0\)/ });
});

t.test('feedback copies its noise: the caller may change or transfer it at once', async (t) => {
  const noise = () => Float64Array.from({ length: N * N }, (_, k) => Math.sin(k + 1));
  const build = async (after: (a: Float64Array) => void) => {
    const b = one({ ...base(), W_ho: Float64Array.from({ length: N * O }, (_, k) => 0.1 * (k + 1)) });
    await b.targetRun();
    await b.readout(1);
    const a = noise();
    const call = b.feedback([a]);
    after(a); // before the worker has run
    await call;
    const D = b.read(0, 'D');
    b.dispose();
    return D;
  };
  const untouched = await build(() => {});
  t.strictSame(await build((a) => a.fill(1e6)), untouched, 'overwritten after the call: same D');
  t.strictSame(await build((a) => structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] })), untouched, 'transferred after the call: same D');
});

t.test('phases out of order, overlapping calls, disposal', async (t) => {
  const net = one(base());
  await t.rejects(net.readout(1), { code: 'GOAL_STATE' }, 'readout before the target run');
  t.throws(() => net.read(0, 'Z_last'), { code: 'GOAL_STATE' });
  const first = net.targetRun();
  t.throws(() => net.readout(1), { code: 'GOAL_BUSY' }, 'a second call while one runs');
  t.throws(() => net.read(0, 'W_hh'), { code: 'GOAL_BUSY' }, 'no reads while a call runs');
  t.throws(() => net.dispose(), { code: 'GOAL_BUSY' });
  t.equal(net.size, 1, 'size is readable while a call runs');
  await first;
  await t.rejects(net.recurrent(1), { code: 'GOAL_STATE' }, 'recurrent epochs before the feedback');
  t.throws(() => net.feedback([new Float64Array(3)]), { code: 'GOAL_INVALID', message: /noise\[0\] must have 16 elements/ });
  t.throws(() => net.feedback([]), { code: 'GOAL_INVALID', message: /one noise array per network/ });
  // An array that grows while it is read: the addon reads one entry per network, no more.
  const growing: Float64Array[] = [];
  Object.defineProperty(growing, 0, { get() { growing.push(new Float64Array(N * N)); return new Float64Array(N * N); }, enumerable: true, configurable: true });
  await net.feedback(growing);
  t.throws(() => net.readout(-1), { code: 'GOAL_INVALID' });
  t.throws(() => net.readout(Number.NaN), { code: 'GOAL_INVALID' });
  t.throws(() => net.readout(2 ** 40), { code: 'GOAL_INVALID' }, 'an absurd epoch count is an error, not an abort');
  // A call's outputs are zeroed on the main thread before it starts: bounded to 2^26 values
  // (512 MiB each), not gigabytes that would stall the event loop or meet the OOM killer.
  t.equal(net.maxEpochs, 2 ** 26, 'one network: 2^26 epochs a call');
  t.throws(() => net.readout(2 ** 26 + 1), { code: 'GOAL_INVALID', message: /at most 2\^26; see Batch\.maxEpochs/ });
  const three = new (addon().Batch)({ backend: 'cpu', nets: [base(), base(), base()] });
  t.equal(three.maxEpochs, Math.floor(2 ** 26 / 3), 'three networks share the bound');
  three.dispose();
  t.throws(() => net.read(0, 'nope' as never), { code: 'GOAL_INVALID' });
  t.throws(() => net.read(1, 'W_hh'), { code: 'GOAL_INVALID' }, 'network index out of range');
  const mse = await net.readout(3);
  t.equal(mse.length, 3);
  await net.feedback([new Float64Array(N * N).fill(1)]);
  const r = await net.recurrent(2);
  t.equal(r.dz.length, 2);
  t.equal(net.read(0, 'Z_last').length, T * N);
  net.dispose();
  t.throws(() => net.read(0, 'W_hh'), { code: 'GOAL_STATE', message: /disposed/ });
});

t.test('stop(): a target run stopped while it runs, a dense D stopped before it starts: both reject with GOAL_ABORTED; after dispose, a no-op', async (t) => {
  const Tl = 1 << 20; // T's largest: milliseconds of steps at N = 4, stop() comes long before the end
  const long = one({ ...base(), T: Tl, targ: new Float64Array(Tl * O).fill(0.2), clock: new Float64Array((Tl - 1) * I).fill(1) });
  const run = long.targetRun();
  long.stop();
  await t.rejects(run, { code: 'GOAL_ABORTED', message: 'the target run was stopped' });
  long.dispose();
  t.doesNotThrow(() => long.stop(), 'nothing to stop after dispose');
  // 2R > N: the feedback is D = B_R B_Rᵀ, N²R; stopped before the call, it fails at its first row.
  const Nd = 40;
  const denseNet = () => one({
    ...base(), N: Nd, R: Nd, W_ih: new Float64Array(I * Nd).fill(3), W_hh: new Float64Array(Nd * Nd),
    W_ho: new Float64Array(Nd * O).fill(0.5), W_trg: new Float64Array(O * Nd),
  });
  const dense = denseNet();
  await dense.targetRun();
  const alone = denseNet();
  await alone.targetRun();
  await alone.feedback([new Float64Array(Nd * Nd).fill(0.5)]); // a twin batch, not stopped, builds it
  alone.dispose();
  dense.stop();
  await t.rejects(dense.feedback([new Float64Array(Nd * Nd).fill(0.5)]), { code: 'GOAL_ABORTED', message: 'the feedback construction was stopped' });
  dense.dispose();
});

t.test('the noise\'s getters run the caller\'s code: disposing the batch there, or starting a call, is a coded error', async (t) => {
  const noiseWith = (get: () => void) => {
    const noise: Float64Array[] = [];
    Object.defineProperty(noise, 0, { get() { get(); return new Float64Array(N * N); }, enumerable: true });
    return noise;
  };
  const disposed = one(base());
  await disposed.targetRun();
  t.throws(() => disposed.feedback(noiseWith(() => disposed.dispose())), { code: 'GOAL_STATE', message: /disposed/ });
  const busy = one(base());
  await busy.targetRun();
  await busy.feedback([new Float64Array(N * N)]);
  let started: Promise<unknown> | undefined;
  t.throws(() => busy.feedback(noiseWith(() => { started = busy.readout(50); })), { code: 'GOAL_BUSY' }, 'the call the getter started runs; this one is refused');
  t.throws(() => busy.dispose(), { code: 'GOAL_BUSY' }, 'and the batch cannot be disposed under it');
  t.equal((await started as Float64Array).length, 50);
  busy.dispose();
});

t.test('cuda without CUDA is a coded error', async (t) => {
  if (addon().info().cuda.available) return t.skip('a GPU is available here', () => {});
  t.throws(() => one(base(), 'cuda'), { code: /GOAL_NO_CUDA|GOAL_CUDA/ });
});

t.test('a CPU batch equals its networks run one at a time, bit for bit', async (t) => {
  const nets = [0, 1, 2].map((k) => ({
    ...base(),
    R: k === 2 ? 2 : 0,
    W_hh: Float64Array.from({ length: N * N }, (_, i) => Math.sin(i * 7 + k)),
    W_ih: Float64Array.from({ length: I * N }, (_, i) => 4 + Math.cos(i + k)),
  }));
  const noise = nets.map((_, k) => Float64Array.from({ length: N * N }, (_, i) => Math.cos(i * 3 + k)));
  for (const threads of [1, 2]) {
    const b = new (addon().Batch)({ backend: 'cpu', threads, nets });
    t.equal(b.size, 3);
    await b.targetRun();
    const mse = await b.readout(4);
    await b.feedback(noise);
    const r = await b.recurrent(3);
    for (let k = 0; k < 3; k++) {
      const alone = one(nets[k]);
      await alone.targetRun();
      const m1 = await alone.readout(4);
      await alone.feedback([noise[k]]);
      const r1 = await alone.recurrent(3);
      t.strictSame(Array.from(mse.subarray(4 * k, 4 * k + 4)), Array.from(m1), `threads ${threads}, net ${k}: readout`);
      t.strictSame(Array.from(r.mseRec.subarray(3 * k, 3 * k + 3)), Array.from(r1.mseRec), `net ${k}: mse_rec`);
      t.strictSame(Array.from(r.dz.subarray(3 * k, 3 * k + 3)), Array.from(r1.dz), `net ${k}: dz`);
      t.strictSame(Array.from(b.read(k, 'W_hh')), Array.from(alone.read(0, 'W_hh')), `net ${k}: W_hh`);
      alone.dispose();
    }
    b.dispose();
  }
});

/** Runs `script` (CommonJS, with `addon` the raw binding's path) in a child Node; how it ended. */
function child(script: string, options: { shell?: string; timeout?: number } = {}) {
  const file = path.join(scratchDir('goal-binding-'), 'c.js');
  fs.writeFileSync(file, `const addon = ${JSON.stringify(ADDON)};\n` +
    `const native = ${JSON.stringify(require.resolve('../dist/src/native.js'))};\n${script}`);
  const started = Date.now();
  const r = options.shell
    ? spawnSync('sh', ['-c', `${options.shell} && exec "$0" "$1"`, process.execPath, file], { encoding: 'utf8', timeout: options.timeout ?? 60_000 })
    : spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: options.timeout ?? 60_000 });
  return { ...r, seconds: (Date.now() - started) / 1000 };
}
const ADDON = path.join(__dirname, '..', 'build', 'Release', 'goal_snn.node');

t.test('a worker thread stopped during a run ends alone; the process goes on', async (t) => {
  const index = require.resolve('../dist/src/index.js');
  const script = `
    const { Worker, isMainThread } = require('node:worker_threads');
    if (isMainThread) {
      const w = new Worker(__filename);
      w.on('message', () => setTimeout(() => w.terminate(), 200));
      w.on('exit', () => setTimeout(() => console.log('alive'), 100));
    } else {
      require('node:worker_threads').parentPort.postMessage('started');
      require(${JSON.stringify(index)}).train({ nRec: 400, epochs: [1000000, 0], seed: 1 });
    }`;
  const r = child(script);
  t.equal(r.signal, null, `no abort (${r.stderr.trim().split('\n').slice(-2).join(' ')})`);
  t.equal(r.status, 0);
  t.equal(r.stdout, 'alive\n');
});

const NET = `{ N: 64, I: 2, O: 1, T: 2000, R: 0, feedback: 'spk', dtype: 'float64', tau_m: 20, tau_s: 2, tau_o: 5,
  v_init: -4, bias: 0, reset: -20, thr: 0, rec_lr: 0.1, out_lr: 0.01, W_ih: f(128), W_hh: f(4096), W_ho: f(64),
  W_trg: f(64), targ: f(2000), clock: f(3998) }`;
const F = 'const f = (n) => Float64Array.from({ length: n }, (_, i) => Math.sin(i * 1.7) * 0.5);';

t.test('the environment\'s settings come from the caller, never from getenv (which races with process.env on another thread)', async (t) => {
  // A getenv in C++ while a worker thread sets process.env reads freed memory: the sources of the
  // addon (all of native/ but the host emulation of CUDA, which is no part of it) call none.
  const sources = ['binding', 'kernels'].flatMap((d) => fs.readdirSync(path.join(__dirname, '..', 'native', d)).map((f) => path.join('native', d, f)))
    .filter((f) => /\.(cpp|cu|cuh|h)$/.test(f) && !/cuda_emu/.test(f));
  t.ok(sources.length >= 10, `${sources.length} sources`);
  const calling = sources.filter((f) => /\bgetenv\s*\(|\bsecure_getenv\s*\(|\benviron\b/.test(fs.readFileSync(path.join(__dirname, '..', f), 'utf8')));
  t.strictSame(calling, [], 'none reads the environment');
  // What the caller passes rules, whatever the environment says.
  const raw = require(ADDON) as typeof import('../binding');
  t.equal(raw.info({ GOAL_CPU_ISA: 'base' }).cpu.isa, 'base');
  t.equal(new raw.Batch({ backend: 'cpu', nets: [base()] }, { GOAL_CPU_ISA: 'base' }).device, 'cpu:base');
  t.equal(raw.info().cpu.isa, raw.info({}).cpu.isas.at(-1), 'none given: the widest variant');
  t.throws(() => raw.info({ GOAL_CPU_ISA: 'sse9' }), { code: 'GOAL_INVALID', message: /GOAL_CPU_ISA must be base, avx2 or avx512 \(got sse9\)/ });
  t.throws(() => raw.info({ GOAL_CPU_ISA: 5 } as never), { code: 'GOAL_INVALID', message: 'settings.GOAL_CPU_ISA must be a string' });
  t.throws(() => raw.info('base' as never), { code: 'GOAL_INVALID', message: /settings must be an object/ });
  // The library passes process.env's, read when each batch is made.
  const saved = process.env.GOAL_CPU_ISA;
  try {
    process.env.GOAL_CPU_ISA = 'base';
    t.equal(one(base()).device, 'cpu:base', 'GOAL_CPU_ISA through process.env');
  } finally {
    if (saved === undefined) delete process.env.GOAL_CPU_ISA;
    else process.env.GOAL_CPU_ISA = saved;
  }
});

// node-api-headers comes with cmake-js, which builds the addon.
const napiHeaders = (() => {
  try {
    return path.dirname(require.resolve('node-api-headers/include/node_api.h'));
  } catch {
    return null;
  }
})();
const otherAddon = spawnSync('cc', ['--version']).status !== 0 ? 'no C compiler (cc) to build a second addon'
  : napiHeaders === null ? 'node-api-headers not found' : false;

t.test('a getter called on an object another addon wrapped: a coded error, not a read of that addon\'s memory', { skip: otherAddon }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goal-other-'));
  // The smallest addon that wraps its objects (napi_wrap), as many do.
  fs.writeFileSync(path.join(dir, 'other.c'), `#include <node_api.h>
static char payload[64];
static napi_value wrapped(napi_env env, napi_callback_info info) {
  napi_value o;
  napi_create_object(env, &o);
  napi_wrap(env, o, payload, NULL, NULL, NULL);
  return o;
}
NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "wrapped", NAPI_AUTO_LENGTH, wrapped, NULL, &fn);
  napi_set_named_property(env, exports, "wrapped", fn);
  return exports;
}
`);
  const macos = process.platform === 'darwin' ? ['-undefined', 'dynamic_lookup'] : []; // Node's symbols, found at load
  const cc = spawnSync('cc', ['-shared', '-fPIC', ...macos, `-I${napiHeaders}`, '-o', path.join(dir, 'other.node'), path.join(dir, 'other.c')], { encoding: 'utf8' });
  t.equal(cc.status, 0, `the other addon builds ${cc.stderr}`);
  const r = child(`const foreign = require(${JSON.stringify(path.join(dir, 'other.node'))}).wrapped();
    const proto = require(addon).Batch.prototype;
    for (const name of ['size', 'maxEpochs', 'device']) {
      try { Object.getOwnPropertyDescriptor(proto, name).get.call(foreign); console.log(name, 'returned'); }
      catch (e) { console.log(name, e.code, e.message); }
    }
    try { proto.stop.call(foreign); } catch (e) { console.log('stop', e.constructor.name); }`);
  fs.rmSync(dir, { recursive: true });
  t.equal(r.signal, null, 'no crash');
  t.equal(r.stdout, ['size', 'maxEpochs', 'device'].map((n) => `${n} GOAL_INVALID a Batch getter called on an object that is no Batch\n`).join('') + 'stop TypeError\n', r.stderr);
});

t.test('stop() ends readout and recurrent calls too, between epochs or steps; a feedback cut short leaves none to use', async (t) => {
  const net = one({ ...base(), T: 2000, targ: new Float64Array(2000 * O).fill(0.2), clock: new Float64Array(1999 * I).fill(1) });
  await net.targetRun();
  await net.feedback([new Float64Array(N * N).fill(0.1)]);
  const readout = net.readout(net.maxEpochs); // 2^26 epochs: many minutes
  setTimeout(() => net.stop(), 20);
  const started = Date.now();
  await t.rejects(readout, { code: 'GOAL_ABORTED', message: 'the readout epochs were stopped' });
  t.ok(Date.now() - started < 10_000, `ended at once (${Date.now() - started} ms)`);
  await t.rejects(net.recurrent(1), { code: 'GOAL_ABORTED', message: 'the recurrent epochs were stopped' }, 'and every later call');
  await t.rejects(net.feedback([new Float64Array(N * N).fill(0.1)]), { code: 'GOAL_ABORTED' });
  t.throws(() => net.read(0, 'D'), { code: 'GOAL_STATE', message: 'D needs the feedback first' }, 'the stopped feedback is not half used');
  net.dispose();
});

t.test('the process exits at once while a long native call runs: its batches are stopped', async (t) => {
  for (const call of ['b.readout(b.maxEpochs)', 'b.feedback([new Float64Array(64 * 64)]).then(() => b.recurrent(1e6))']) {
    const r = child(`${F}
      const b = new (require(native).addon().Batch)({ backend: 'cpu', nets: [${NET}] });
      b.targetRun().then(() => { ${call}; setTimeout(() => process.exit(0), 100); });`);
    t.equal(r.status, 0, `${call}: exit status 0 ${r.stderr}`);
    t.ok(r.seconds < 15, `${call}: ended after ${r.seconds} s, not minutes`);
  }
});

t.test('a result too large for memory is GOAL_ENOMEM, not V8\'s fatal out-of-memory abort', { skip: fs.existsSync('/proc/self/limits') ? false : 'needs ulimit -v (Linux)' }, async (t) => {
  // N = 4096: W_hh is 128 MiB as a Float64Array. The address space is then filled with 32 MiB
  // buffers, all kept (as the network's inputs are), so that no collection of garbage can make
  // room: where JavaScript's allocation throws a RangeError, Node-API's ended the process.
  const r = child(`const f = (n) => new Float64Array(n);
    const net = { N: 4096, I: 1, O: 1, T: 2, R: 0, feedback: 'spk', dtype: 'float32',
      tau_m: 20, tau_s: 2, tau_o: 5, v_init: 0, bias: 0, reset: -1, thr: 1, rec_lr: 0.1, out_lr: 0.01,
      W_ih: f(4096), W_hh: f(4096 * 4096), W_ho: f(4096), W_trg: f(4096), targ: f(2), clock: f(1) };
    const b = new (require(addon).Batch)({ backend: 'cpu', nets: [net] });
    const hold = [];
    for (;;) { try { hold.push(new ArrayBuffer(32 << 20)); } catch { break; } }
    try { new Float64Array(4096 * 4096); console.log('JavaScript allocates it'); } catch (e) { console.log('JavaScript:', e.constructor.name); }
    try { b.read(0, 'W_hh'); console.log('read'); } catch (e) { console.log(e.code, e.message); }
    console.log(hold.length > 0, net.W_hh.length);`, { shell: 'ulimit -v 3000000' });
  t.equal(r.signal, null, `no abort ${r.stderr.split('\n').slice(0, 2).join(' ')}`);
  t.equal(r.stdout, "JavaScript: RangeError\nGOAL_ENOMEM out of memory for read('W_hh') (128 MiB: Array buffer allocation failed)\ntrue 16777216\n");
});

t.test('a setter on Error.prototype or Object.prototype (another library\'s) neither hides a code nor leaves a promise unsettled', async (t) => {
  const r = child(`${F}
    Object.defineProperty(Error.prototype, 'code', { set() { throw new Error('setter ran'); }, configurable: true });
    Object.defineProperty(Object.prototype, 'mseRec', { set() { throw new Error('setter ran'); }, configurable: true });
    const b = new (require(addon).Batch)({ backend: 'cpu', nets: [${NET}] });
    const timer = setTimeout(() => { console.log('unsettled'); process.exit(3); }, 20000);
    b.readout(1).then(() => console.log('resolved'), (e) => console.log('rejected', e.code))
      .then(() => b.targetRun()).then(() => b.feedback([new Float64Array(64 * 64)])).then(() => b.recurrent(1))
      .then((r) => { console.log('recurrent', r.mseRec.length, r.dz.length); clearTimeout(timer); });`);
  t.equal(r.stdout, 'rejected GOAL_STATE\nrecurrent 1 1\n', r.stderr);
});
