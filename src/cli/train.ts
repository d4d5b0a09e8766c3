// `goal train`: the paper's command line (legacy and long flags), its closing summary, the
// stats pickle, --json, --replay, and Ctrl-C that keeps the epochs done.
import * as fs from 'node:fs';
import { Command, Option } from 'commander';
import { BACKENDS, type Backend } from '../backend';
import { GoalError } from '../errors';
import { checkWritable, writeFileAtomic } from '../io/files';
import { statsPickle } from '../io/pickle';
import { paramDocs, specParams, type ResolvedParams } from '../params';
import { compareReplay, fixtureParams, replay, type Fixture } from '../replay';
import { randomSeed } from '../rng';
import { train } from '../train';
import { checkMemory, type EpochInfo } from '../run';
import { addParamOptions, flagLabel, resolveOptions } from './options';
import { makeProgress } from './progress';
import type { Io } from './io';

/** What one run printed and saved, whichever way it ran. */
interface Outcome {
  mseOut: number;
  mseRec: number[];
  dz: number[];
  seed: number | null;
  backend: string;
  device: string;
  dtype: string;
  seconds: number;
  params: ResolvedParams;
  aborted: boolean;
  check?: ReturnType<typeof compareReplay>;
}

export function trainCommand(io: Io): Command {
  const cmd = new Command('train')
    .description('train one network as the paper does: readout epochs, then recurrent epochs with GOAL feedback')
    .addOption(new Option('--savepath <file>', 'write the stats pickle (mse_out, [mse_rec], [dz]) at exactly this path (default: none); also -savepath'))
    .addOption(new Option('--backend <name>', 'engine: cpu, cuda, or auto (CUDA when available) (default: cpu)'))
    .addOption(new Option('--gpu', 'run on the GPU; without one, warn and use the CPU (= --backend auto) (default: off)'))
    .addOption(new Option('--replay <file>', 'take params, matrices and task from a fixture-format JSON file (default: none)'))
    .addOption(new Option('--json', 'print exactly one JSON object on stdout, nothing else (default: off)'))
    .addOption(new Option('--verbose', 'parameter recap and progress on stderr (default: off); also --V'));
  addParamOptions(cmd);
  return cmd.action(async (opts: Record<string, unknown>) => {
    io.exitCode = await runTrain(opts, io);
  });
}

function chosenBackend(opts: Record<string, unknown>): Backend {
  const b = opts.backend as string | undefined;
  if (b !== undefined && !BACKENDS.includes(b as Backend)) {
    throw new GoalError('GOAL_USAGE', `--backend must be one of ${BACKENDS.join(', ')} (got ${JSON.stringify(b)})`);
  }
  if (opts.gpu && b !== undefined && b !== 'auto') {
    throw new GoalError('GOAL_USAGE', `--gpu asks for --backend auto; it contradicts --backend ${b}`);
  }
  return opts.gpu ? 'auto' : ((b as Backend) ?? 'cpu');
}

function loadFixture(file: string): Fixture {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new GoalError('GOAL_BAD_FIXTURE', `--replay ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    return JSON.parse(text) as Fixture;
  } catch (err) {
    throw new GoalError('GOAL_BAD_FIXTURE', `--replay ${file}: not valid JSON (${(err as Error).message})`);
  }
}

function recap(p: ResolvedParams, io: Io): void {
  io.err('parameters:\n');
  const spec = specParams(p);
  for (const d of paramDocs) io.err(`  ${d.spec.padEnd(10)} ${JSON.stringify(spec[d.spec])}\n`);
}

async function runTrain(opts: Record<string, unknown>, io: Io): Promise<number> {
  // Params are resolved here (to check them first) and again by train(): say each warning once.
  const said = new Set<string>();
  const warn = (m: string) => {
    if (!said.has(m)) io.err(`goal: warning: ${m}\n`);
    said.add(m);
  };
  // Everything that can be checked is checked before any training starts.
  const backend = chosenBackend(opts);
  const savepath = opts.savepath as string | undefined;
  let fixture: Fixture | undefined;
  let params: ResolvedParams;
  if (opts.replay !== undefined) {
    const clash = paramDocs.filter((d) => opts[d.name] !== undefined).map((d) => d.long);
    if (clash.length) {
      throw new GoalError('GOAL_USAGE', `--replay takes every parameter from its file; drop ${clash.join(', ')}`);
    }
    fixture = loadFixture(opts.replay as string);
    try {
      params = fixtureParams(fixture).params;
    } catch (err) {
      if (err instanceof GoalError) throw new GoalError(err.code, `--replay ${opts.replay}: ${err.message}`);
      throw err;
    }
  } else {
    const resolved = resolveOptions(opts);
    params = resolved.params;
    resolved.warnings.forEach(warn);
    // Drawn here rather than in train() so that the recap shows it.
    if (params.seed === null) params = { ...params, seed: randomSeed() };
  }
  checkMemory(params, flagLabel);
  if (savepath !== undefined) checkWritable(savepath, '-savepath');

  const verbose = opts.verbose === true;
  if (verbose) recap(params, io);
  const progress = verbose ? makeProgress(io.stderr) : null;
  const controller = new AbortController();
  const stopInterrupt = io.onInterrupt(() => controller.abort());
  const common = {
    onWarning: warn,
    onEpoch: progress ? (e: EpochInfo) => progress.update(e) : undefined,
    signal: controller.signal,
    backend,
    label: flagLabel,
  };
  let outcome: Outcome;
  try {
    if (fixture) {
      const r = await replay(fixture, common).catch((err: unknown) => {
        if (err instanceof GoalError && err.code === 'GOAL_BAD_FIXTURE') throw new GoalError(err.code, `--replay ${opts.replay}: ${err.message}`);
        throw err;
      });
      outcome = { ...r, seed: null, check: r.aborted ? undefined : compareReplay(fixture, r) };
    } else {
      outcome = await train(params, common);
    }
  } finally {
    progress?.stop();
    stopInterrupt();
  }

  if (savepath !== undefined) writeFileAtomic(savepath, statsPickle(outcome.mseOut, outcome.mseRec, outcome.dz));
  if (opts.json) {
    io.out(`${JSON.stringify(toJson(outcome))}\n`);
  } else {
    summary(outcome, io);
  }
  if (outcome.aborted) {
    const [, recurrent] = outcome.params.epochs;
    const during = outcome.mseRec.length === 0 && recurrent > 0 ? 'in the readout phase, before any' : `after ${outcome.mseRec.length} of ${recurrent}`;
    io.err(`goal: interrupted ${during} recurrent epochs` +
      `${savepath !== undefined ? `; the stats so far are in ${savepath}` : ''}\n`);
    return 130;
  }
  return 0;
}

function toJson(o: Outcome): Record<string, unknown> {
  const out: Record<string, unknown> = {
    mse_out: o.mseOut,
    mse_rec: o.mseRec,
    dz: o.dz,
    seed: o.seed,
    backend: o.backend,
    device: o.device,
    dtype: o.dtype,
    seconds: o.seconds,
    aborted: o.aborted,
    params: specParams(o.params),
  };
  if (o.check) out.replay_check = Object.fromEntries(o.check.map((c) => [c.field, { ok: c.ok, max_rel: c.maxRel, tolerance: c.tolerance }]));
  return out;
}

function summary(o: Outcome, io: Io): void {
  const last = (xs: number[]) => (xs.length ? xs[xs.length - 1] : NaN);
  const where = `${o.device}, ${o.dtype}${o.seed !== null ? `, seed ${o.seed}` : ''}`;
  io.out(`Training time: ${o.seconds.toFixed(2)} s (${where})\n`);
  io.out(`Target readout MSE: ${o.mseOut}\n`);
  io.out(`Model readout MSE: ${last(o.mseRec)}\n`);
  io.out(`Model spike error: ${last(o.dz)}\n`);
  if (o.check) {
    const bad = o.check.filter((c) => !c.ok);
    if (o.check.length === 0) io.out('Replay: the file has no expect fields to compare with\n');
    else io.out(bad.length === 0
      ? `Replay matches the reference (${o.check.map((c) => c.field).join(', ')})\n`
      : `Replay DIFFERS from the reference in ${bad.map((c) => `${c.field} (max rel ${c.maxRel.toExponential(2)})`).join(', ')}\n`);
  }
}
