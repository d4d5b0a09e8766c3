// The node half of bench/device-check.sh, run with plain node on the device machine (no npm, no
// tap there): the device, driver and compute capability; every reference fixture and the random
// seeds of bench:gpu replayed on the GPU and on the CPU with the max abs/rel differences and
// whether spikes agree; a batch against its networks run alone; then the GPU and CPU timings of
// the same run. Writes gpu-report.md and gpu-report.json into the folder given as argument; with
// a second argument, parity or timing, that half only, into gpu-report-<half>.md and .json.
// A case with no result in GOAL_CASE_LIMIT seconds (default 60; 600 in a rehearsal), or by
// GOAL_CASE_DEADLINE (Unix seconds: the device check's half ends soon after) is hung: its
// row says so, <report>.hung names it, and the process ends itself (SIGKILL: a kernel that never
// returns holds the process); GOAL_RESUME=1 then goes on after it, adding to the same report.
// GOAL_SKIP_BLOCK=1 leaves out the block-path cases (the device check's first run hung there).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { info } from '../src/index';
import { packageRoot } from '../src/native';
import { gpuBench, type GpuReport } from './gpu';
import { GPU } from './gpu-cases';

async function main() {
  const out = process.argv[2] ?? process.env.OUT ?? '.';
  const only = process.argv[3] as 'parity' | 'timing' | undefined;
  if (only !== undefined && only !== 'parity' && only !== 'timing') throw new Error(`the second argument must be parity or timing (got ${only})`);
  const name = `gpu-report${only ? `-${only}` : ''}`;
  fs.mkdirSync(out, { recursive: true });
  const file = (ext: string) => path.join(out, `${name}.${ext}`);
  const resume = process.env.GOAL_RESUME === '1' && fs.existsSync(file('json'));
  const previous = resume ? (JSON.parse(fs.readFileSync(file('json'), 'utf8')) as GpuReport) : undefined;
  const lines: string[] = resume ? fs.readFileSync(file('md'), 'utf8').replace(/\n$/, '').split('\n') : [];
  const log = (l: string) => {
    lines.push(l);
    console.log(l);
    fs.writeFileSync(file('md'), `${lines.join('\n')}\n`);  // kept if a later step dies
  };
  const i = info();
  if (!i.cuda.available && GPU === 'cuda') {
    log(`no usable GPU: ${i.cuda.reason} (CUDA backend ${i.cuda.compiled ? '' : 'not '}compiled into this build)`);
    process.exit(2);
  }
  const fixtures = fs.readdirSync(path.join(packageRoot(), 'test', 'fixtures', 'reference'))
    .filter((f) => f.endsWith('.json')).sort();
  const save = (report: GpuReport) => fs.writeFileSync(file('json'), `${JSON.stringify(report, null, 2)}\n`);
  const caseLimitS = Number(process.env.GOAL_CASE_LIMIT) || (GPU === 'cuda' ? 60 : 600);
  const deadline = Number(process.env.GOAL_CASE_DEADLINE);
  const onHung = (hung: string) => {
    fs.writeFileSync(file('hung'), hung);
    console.log(`gpu-check: ${hung} hung (no result in time); ending this process so that another goes on after it`);
    process.kill(process.pid, 'SIGKILL');
  };
  const report = await gpuBench({
    fixtures, log, save, timeAnyway: true, only, trace: (l) => console.log(l),
    previous, caseLimitS, caseDeadline: deadline > 0 ? deadline * 1000 : undefined, onHung, skipBlock: process.env.GOAL_SKIP_BLOCK === '1',
  });
  const bad = report.parity.filter((r) => !r.ok);
  log('');
  if (only !== 'timing') log(bad.length ? `PARITY FAILED in ${bad.length} case(s): ${bad.map((r) => r.name).join('; ')}` : 'parity: all cases within tolerance');
  if (report.timingFailures.length) log(`TIMING FAILED in ${report.timingFailures.length} case(s): ${report.timingFailures.join('; ')}`);
  if (bad.length || report.timingFailures.length) process.exit(1);
}

main().catch((err) => {
  console.error(`gpu-check: ${err.stack ?? err.message}`);
  process.exit(1);
});
