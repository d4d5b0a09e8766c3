// Shared by the benchmarks: a trained-readout network of the paper's shape, ready for
// timing recurrent epochs, and a replay check that must pass before anything is timed.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Net, NativeBackend } from '../binding';
import { compareReplay, replay, resolveParams, Rng, type Fixture, type Params } from '../src/index';
import { addon, packageRoot } from '../src/native';
import { netSizes, noiseCount } from '../src/run';
import { drawNetwork } from '../src/train';

/** Replays a reference fixture on `backend` and exits non-zero if it does not match. */
export async function checkReplay(backend: NativeBackend, name = 'ltts-n40.json'): Promise<void> {
  const file = path.join(packageRoot(), 'test', 'fixtures', 'reference', name);
  const fx = JSON.parse(fs.readFileSync(file, 'utf8')) as Fixture;
  const checks = compareReplay(fx, await replay(fx, { backend }));
  const bad = checks.filter((c) => !c.ok);
  if (bad.length) {
    console.error(`replay of ${name} on ${backend} does not match the reference: ${bad.map((c) => c.field).join(', ')}`);
    process.exit(1);
  }
  console.log(`check: ${name} replays on ${backend} (${checks.length} fields match the reference)`);
}

/**
 * The paper's out_lr (0.0025 at N=150) scaled by 150/N: the readout's gradient step grows
 * with N, and at the default it diverges from N≈2000 on, leaving a silent, NaN network that
 * would time nothing.
 */
export const scaledOutLr = (N: number) => (0.0025 * 150) / N;

/** A network after its target run, readout epochs and feedback: ready for recurrent epochs. */
export async function readyNet(params: Partial<Params>, backend: NativeBackend, readout = 200): Promise<Net> {
  const { params: p } = resolveParams({ ...params, epochs: [readout, 0] });
  const rng = new Rng(p.seed ?? 1);
  const m = drawNetwork(p, rng);
  const net = new (addon().Net)({ ...netSizes(p), backend, ...m });
  await net.targetRun();
  await net.readout(readout);
  await net.feedback(rng.normals(noiseCount(p)));
  return net;
}

/** Median ms per recurrent epoch over `rounds` timed calls of `epochs` each (after a warm-up). */
export async function timeRecurrent(net: Net, epochs: number, rounds = 5): Promise<number> {
  await net.recurrent(Math.max(1, Math.ceil(epochs / 4)));
  const ms: number[] = [];
  for (let k = 0; k < rounds; k++) {
    const t0 = process.hrtime.bigint();
    await net.recurrent(epochs);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6 / epochs);
  }
  ms.sort((a, b) => a - b);
  return ms[Math.floor(rounds / 2)];
}
