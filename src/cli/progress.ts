// --verbose progress on stderr: a bar per phase on a terminal (cli-progress), plain lines at
// every tenth of a phase elsewhere (CI logs, pipes), so logs stay short and readable.
import { SingleBar } from 'cli-progress';
import { performance } from 'node:perf_hooks';
import type { EpochInfo } from '../run';

export interface Progress {
  update(e: EpochInfo): void;
  stop(): void;
}

const fmt = (x: number) => (Number.isFinite(x) ? x.toPrecision(4) : String(x));

function eta(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  return seconds < 90 ? `${seconds.toFixed(1)} s` : `${(seconds / 60).toFixed(1)} min`;
}

export function makeProgress(stream: NodeJS.WriteStream, prefix = ''): Progress {
  let phase: EpochInfo['phase'] | null = null;
  let start = 0, bar: SingleBar | null = null, nextTenth = 1;
  const label = (p: string) => `${prefix}${p.padEnd(9)}`;
  const close = () => {
    bar?.stop();
    bar = null;
  };
  return {
    update(e) {
      if (e.phase !== phase) {
        close();
        phase = e.phase;
        start = performance.now();
        nextTenth = 1;
        if (stream.isTTY) {
          bar = new SingleBar({
            stream,
            format: `${label(e.phase)} |{bar}| {value}/{total} | {rate} ep/s | ETA {left} | mse {mse}{dz}`,
            hideCursor: true,
            barsize: 24,
            fps: 10,
          });
          bar.start(e.epochs, 0, { rate: '-', left: '?', mse: '-', dz: '' });
        }
      }
      const seconds = (performance.now() - start) / 1000;
      const rate = e.epoch / Math.max(seconds, 1e-9);
      const left = (e.epochs - e.epoch) / rate;
      const dz = e.dz === undefined ? '' : ` | ΔZ ${e.dz}`;
      if (bar) {
        bar.update(e.epoch, { rate: rate.toFixed(0), left: eta(left), mse: fmt(e.mse), dz });
      } else if (e.epoch >= (nextTenth * e.epochs) / 10 || e.epoch === e.epochs) {
        while (nextTenth * e.epochs <= 10 * e.epoch) nextTenth++;
        stream.write(`${label(e.phase)} ${e.epoch}/${e.epochs} (${Math.floor((100 * e.epoch) / e.epochs)}%) ` +
          `${rate.toFixed(0)} ep/s ETA ${eta(left)} mse ${fmt(e.mse)}${dz}\n`);
      }
      if (e.epoch === e.epochs) close();
    },
    stop: close,
  };
}
