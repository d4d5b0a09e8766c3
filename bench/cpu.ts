// npm run bench: recurrent-epoch throughput of the CPU engine, float32, one thread, T=150.
// Checks a reference replay first; times only after it passes.
import { info } from '../src/index';
import { checkReplay, readyNet, scaledOutLr, timeRecurrent } from './common';

async function main() {
  await checkReplay('cpu');
  const i = info();
  console.log(`goal-snn ${i.version}, CPU variant ${i.cpu.isa}, float32, 1 thread, T=150, LTTS unless noted,\n` +
    `out_lr = 0.0025·150/N (the default 0.0025 makes the readout diverge from N≈1200 on)\n`);
  console.log('| N | feedback | ms / recurrent epoch | epochs/s |');
  console.log('|---:|---|---:|---:|');
  const sizes: [number, number | null, number][] = [
    [150, null, 400], [150, 3, 400], [150, 150, 200], [500, null, 60], [1000, null, 16], [2000, null, 4],
  ];
  for (const [N, rank, epochs] of sizes) {
    const net = await readyNet({ nRec: N, tSeq: 150, rank, seed: 1, dtype: 'float32', outLr: scaledOutLr(N) }, 'cpu');
    const ms = await timeRecurrent(net, epochs);
    net.dispose();
    console.log(`| ${N} | ${rank === null ? 'LTTS' : `rank ${rank}`} | ${ms.toFixed(3)} | ${(1000 / ms).toFixed(0)} |`);
  }
}

main().catch((err) => {
  console.error(`bench: ${err.message}`);
  process.exit(1);
});
