// --verbose progress on stderr: a bar per phase on a terminal (cli-progress), plain lines
// elsewhere (CI logs, pipes, batch-system logs): after a phase's first epoch (its rate and
// ETA, without waiting a tenth of a long run), at every tenth, and at least every
// LINE_EVERY_S seconds between them, so a log stays short yet shows a slow run alive.
import { SingleBar } from 'cli-progress';
import type { EpochInfo } from '../run';

export interface Progress {
  update(e: EpochInfo): void;
  stop(): void;
}

/** The longest a plain-line log goes without a line while a phase runs, in seconds. */
export const LINE_EVERY_S = 30;

const fmt = (x: number) => (Number.isFinite(x) ? x.toPrecision(4) : String(x));

function eta(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 90) return `${seconds.toFixed(1)} s`;
  return seconds < 90 * 60 ? `${(seconds / 60).toFixed(1)} min` : `${(seconds / 3600).toFixed(1)} h`;
}

export function makeProgress(stream: NodeJS.WriteStream, prefix = ''): Progress {
  let phase: EpochInfo['phase'] | null = null;
  let last = 0, bar: SingleBar | null = null, nextTenth = 1;
  const label = (p: string) => `${prefix}${p.padEnd(9)}`;
  const close = () => {
    bar?.stop();
    bar = null;
  };
  return {
    update(e) {
      if (e.phase !== phase || e.epoch === 1) { // a new phase, or the next batch of a sweep
        close();
        phase = e.phase;
        last = 0;
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
      const rate = e.epoch / Math.max(e.seconds, 1e-9);
      const rateText = rate < 100 ? rate.toPrecision(2) : rate.toFixed(0); // a slow run's 0.83 ep/s, not 1
      const left = (e.epochs - e.epoch) / rate;
      const dz = e.dz === undefined ? '' : ` | ΔZ ${e.dz}`;
      if (bar) {
        bar.update(e.epoch, { rate: rateText, left: eta(left), mse: fmt(e.mse), dz });
      } else if (e.epoch === 1 || 10 * e.epoch >= nextTenth * e.epochs || e.epoch === e.epochs || e.seconds - last >= LINE_EVERY_S) {
        while (nextTenth * e.epochs <= 10 * e.epoch) nextTenth++;
        last = e.seconds;
        stream.write(`${label(e.phase)} ${e.epoch}/${e.epochs} (${Math.floor((100 * e.epoch) / e.epochs)}%) ` +
          `${rateText} ep/s ETA ${eta(left)} mse ${fmt(e.mse)}${dz}\n`);
      }
      if (e.epoch === e.epochs) close();
    },
    stop: close,
  };
}
