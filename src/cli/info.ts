// `goal info`: what this installation can run.
import { Command, Option } from 'commander';
import { info } from '../info';
import type { Io } from './io';

export function infoCommand(io: Io): Command {
  return new Command('info')
    .description('version, compiled and available backends, GPU, CPU threads')
    .addOption(new Option('--json', 'print one JSON object (default: off)'))
    .action((opts: { json?: boolean }) => {
      const i = info();
      if (opts.json) {
        io.out(`${JSON.stringify(i)}\n`);
        return;
      }
      const c = i.cuda;
      const gib = (b?: number) => (b === undefined ? '?' : `${(b / 1024 ** 3).toFixed(0)} GiB`);
      io.out(`goal-snn ${i.version}\n`);
      io.out(`cpu:  available, variant ${i.cpu.isa} (this machine runs: ${i.cpu.isas.join(', ')}), ${i.cpu.threads} threads\n`);
      io.out(`cuda: ${c.compiled ? 'compiled' : 'not compiled'}, ${c.available ? 'available' : 'not available'}` +
        (c.available ? ` — ${c.name}, compute capability ${c.computeCapability}, ${c.multiprocessors} SMs, ${gib(c.memoryBytes)}` : `: ${c.reason}`) +
        '\n');
    });
}
