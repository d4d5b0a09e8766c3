// Shared by the benchmarks: a trained-readout network of the paper's shape, ready for
// timing recurrent epochs, and a replay check that must pass before anything is timed.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Batch, NativeBackend, NetConfig } from '../binding';
import { compareReplay, replay, resolveParams, type JsonFixture, type TrainParams } from '../src/index';
import { addon, packageRoot } from '../src/native';
import { netConfig } from '../src/run';
import { drawInput } from '../src/train';

/** Replays a reference fixture on `backend` and exits non-zero if it does not match. */
export async function checkReplay(backend: NativeBackend, name = 'ltts-n40.json'): Promise<void> {
  const file = path.join(packageRoot(), 'test', 'fixtures', 'reference', name);
  const fx = JSON.parse(fs.readFileSync(file, 'utf8')) as JsonFixture;
  const checks = compareReplay(fx, await replay(fx, { backend }));
  const bad = checks.filter((c) => !c.ok);
  if (bad.length) {
    console.error(`replay of ${name} on ${backend} does not match the reference: ${bad.map((c) => c.field).join(', ')}`);
    process.exit(1);
  }
  console.log(`check: ${name} replays on ${backend} (${checks.length} fields match the reference)`);
}

/** Benchmarks use it so that a large network does not diverge into a silent, NaN one that would time nothing. */
export { scaledOutLr } from '../src/params';

/** One network as train() draws it for these params, and its feedback noise: a batch member. */
export async function drawMember(params: TrainParams): Promise<{ net: NetConfig; noise: Float64Array }> {
  const { params: p } = resolveParams(params);
  const input = await drawInput({ ...p, seed: p.seed ?? 1 });
  return { net: netConfig(input), noise: await input.noise() };
}

/** A batch after its target run, readout epochs and feedback: ready for recurrent epochs. */
export async function readyBatch(members: { net: NetConfig; noise: Float64Array }[], backend: NativeBackend,
  readout: number, threads = 1): Promise<Batch> {
  const b = new (addon().Batch)({ backend, threads, nets: members.map((m) => m.net) });
  await b.targetRun();
  await b.readout(readout);
  await b.feedback(members.map((m) => m.noise));
  return b;
}

/** One network (a batch of one), ready for recurrent epochs. */
export async function readyNet(params: TrainParams, backend: NativeBackend, readout = 200): Promise<Batch> {
  return readyBatch([await drawMember({ ...params, epochs: [readout, 0] })], backend, readout);
}

/** Median ms per recurrent epoch over `rounds` timed calls of `epochs` each (after a warm-up). */
export async function timeRecurrent(net: Batch, epochs: number, rounds = 5): Promise<number> {
  await net.recurrent(Math.max(1, Math.ceil(epochs / 4)));
  const ms: number[] = [];
  for (let k = 0; k < rounds; k++) {
    const t0 = process.hrtime.bigint();
    const r = await net.recurrent(epochs);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6 / epochs);
    // A diverged network (NaN) may take other paths: its time would not be the work's.
    if (!r.mseRec.every(Number.isFinite)) throw new Error('the timed network diverged (mse_rec not finite): no timing');
  }
  ms.sort((a, b) => a - b);
  return ms[Math.floor(rounds / 2)];
}
