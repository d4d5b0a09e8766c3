// npm run bench:sweep: sweep throughput in network-epochs/s (recurrent epochs of all points
// per second, readout phases included in the time) with 1 and 2 CPU threads, and the GPU batch
// when one is available. Checks first that a sweep row equals a lone train() run.
import * as os from 'node:os';
import { info, sweep, train, type SweepOptions } from '../src/index';

async function main() {
  const base = { nRec: 150, tSeq: 150, epochs: [200, 300] as [number, number] };
  const check = await sweep({ ranks: [3], taus: [5], seeds: [1], base, backend: 'cpu', curves: true, onWarning: () => {} });
  const alone = await train({ ...base, rank: 3, tauO: 5, seed: 1 });
  if (JSON.stringify(check.rows[0].mse_rec) !== JSON.stringify(alone.mseRec)) {
    console.error('sweep row differs from the same train() run: not timing');
    process.exit(1);
  }
  console.log('check: a sweep row equals train() with the same seed, bit for bit\n');
  const grid: SweepOptions = { ranks: [3, 10, 50, 150, 'ltts'], taus: [2, 5], seeds: [1, 2], base, onWarning: () => {} };
  const points = 5 * 2 * 2, epochs = points * base.epochs[1];
  console.log(`grid: ${points} points of N=150, T=150, ${base.epochs[0]} readout + ${base.epochs[1]} recurrent epochs, float32`);
  console.log('| engine | seconds | network-epochs/s | speed-up |');
  console.log('|---|---:|---:|---:|');
  let one = 0;
  const runs: [string, Partial<SweepOptions>][] = [['cpu, 1 thread', { backend: 'cpu', threads: 1 }], ['cpu, 2 threads', { backend: 'cpu', threads: 2 }]];
  if (os.availableParallelism() > 2) runs.push([`cpu, ${os.availableParallelism()} threads`, { backend: 'cpu' }]);
  if (info().cuda.available) runs.push(['cuda batch', { backend: 'cuda' }]);
  for (const [name, o] of runs) {
    const r = await sweep({ ...grid, ...o });
    if (!one) one = r.seconds;
    console.log(`| ${name} | ${r.seconds.toFixed(2)} | ${(epochs / r.seconds).toFixed(0)} | ${(one / r.seconds).toFixed(2)}× |`);
  }
}

main().catch((err) => {
  console.error(`bench: ${err.message}`);
  process.exit(1);
});
