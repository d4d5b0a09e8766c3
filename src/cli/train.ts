// `goal train`: the paper's command line (legacy and long flags), its closing summary, the
// stats pickle, --json, --replay, and Ctrl-C that keeps the epochs done.
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { isatty } from 'node:tty';
import * as v8 from 'node:v8';
import { Command, Option } from 'commander';
import { chooseBackend, DEFAULT_BACKEND } from '../backend';
import { GoalError, visible } from '../errors';
import { checkWritable, errnoCode, isDevice, isOpenStream, sameFile, shownPath, sizeText, writeFileAtomic } from '../io/files';
import { statsPickle, statsPickleBytes } from '../io/pickle';
import { PARSED_BYTES_PER_CHAR, parsedBytes, parsePythonJson } from '../io/pyjson';
import { paramDocs, specParams, type ResolvedParams } from '../params';
import { checkFixtureShapes, compareReplay, expectFields, fixtureLabel, fixtureParams, marginNote, replay, requireExpect, type FieldCheck, type Fixture } from '../replay';
import { randomSeed } from '../rng';
import { checkTarget, checkTaskLength, train } from '../train';
import { checkMemory, deviceName, onceEach, type EpochInfo } from '../run';
import { addParamOptions, checkArgs, chosenBackend, flagLabel, notDash, once, resolveOptions } from './options';
import { makeProgress } from './progress';
import { ENDED, type EndSignal, type Io } from './io';

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
  check?: FieldCheck[];
  /** A replay's outcome (final matrices and rasters too), named as in a fixture's `expect`. */
  matrices?: Record<string, unknown>;
  /** Why a replay's spikes may differ, when they do. */
  note?: string;
  /** Stopped before the readout phase ended, in it or before it (the target run): mse_out is then NaN, no readout trained. */
  stoppedEarly?: 'in the readout phase' | 'before the readout phase';
}

export function trainCommand(io: Io): Command {
  const cmd = new Command('train')
    .description('train one network as the paper does: readout epochs, then recurrent epochs with GOAL feedback')
    .addOption(new Option('--savepath <file>', 'write the stats pickle (mse_out, [mse_rec], [dz]) at exactly this path (default: none); also -savepath')
      // The paper's flag: repeated, the last counts (as with argparse), an earlier one checked.
      .argParser((file: string, previous: unknown) => {
        if (previous !== undefined) checkWritable(previous as string, '-savepath');
        return file;
      }))
    .addOption(once(new Option('--backend <name>', `engine: cpu, cuda, or auto (CUDA when available) (default: ${DEFAULT_BACKEND.train})`)))
    .addOption(new Option('--gpu', 'run on the GPU; without one, warn and use the CPU (= --backend auto) (default: off)'))
    .addOption(once(new Option('--replay <file>', 'take params, matrices and task from a fixture-format JSON file (default: none)')))
    .addOption(new Option('--json', 'print exactly one JSON object on stdout, nothing else (default: off)'))
    .addOption(new Option('--verbose', 'parameter recap and progress on stderr (default: off); also --V'));
  addParamOptions(cmd).allowExcessArguments();
  return cmd.action(async (opts: Record<string, unknown>) => {
    checkArgs(cmd, opts);
    io.exitCode = await runTrain(opts, io);
  });
}

/** The stats file of SPEC.md: (mse_out, [mse_rec…], [dz…]) as a pickle, written atomically. */
function saveStats(savepath: string, s: { mseOut: number; mseRec: number[]; dz: number[] }): void {
  writeFileAtomic(savepath, statsPickle(s.mseOut, s.mseRec, s.dz));
}

/** A GoalError that is about the --replay file, with the file named first. */
function fixtureError(file: string, err: unknown): unknown {
  return err instanceof GoalError ? new GoalError(err.code, `--replay ${shownPath(file)}: ${err.message}`) : err;
}

/** Runs `check`; a GoalError it throws names the --replay file first. */
function aboutFixture<T>(file: string, check: () => T): T {
  try {
    return check();
  } catch (err) {
    throw fixtureError(file, err);
  }
}

function readFixtureFile(file: string): string {
  const st = fs.statSync(file);
  // A device may never end, and a named pipe without a writer blocks this read, and with it the
  // signal handlers; a pipe the shell opened (`<(…)`, /dev/fd/N) has its writer.
  const pipe = (st.isFIFO() && !isOpenStream(file)) || st.isSocket();
  if (isDevice(st) || st.isDirectory() || pipe) {
    const what = st.isDirectory() ? 'a folder' : pipe ? 'a named pipe or a socket' : 'a device';
    throw new GoalError('GOAL_BAD_FIXTURE', `--replay ${shownPath(file)}: is ${what}, not a fixture file${pipe ? ' (redirect it: --replay - < PIPE)' : ''}`);
  }
  return fs.readFileSync(file, 'utf8');
}

/** All of standard input. Read as a stream: a synchronous read of a pipe whose writer has not
 *  written yet fails with EAGAIN once Node has made the pipe non-blocking. */
async function readStdin(): Promise<string> {
  // isatty(0), not process.stdin.isTTY, which would open the stream in the wrong mode first.
  if (isatty(0)) throw new GoalError('GOAL_BAD_FIXTURE', '--replay -: reads the fixture from standard input, which is a terminal; pipe or redirect a file into it');
  const st = fs.fstatSync(0);
  if (isDevice(st) || st.isDirectory()) {
    throw new GoalError('GOAL_BAD_FIXTURE', `--replay -: standard input is ${st.isDirectory() ? 'a folder' : 'a device'}, not a fixture; pipe or redirect a file into it`);
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function loadFixture(file: string): Promise<Fixture> {
  let text: string;
  if (file === '') throw new GoalError('GOAL_BAD_FIXTURE', '--replay needs a file name (or -, standard input)');
  try {
    if (file === '-') {
      // The usual name of standard input: `generate | goal train --replay -`.
      text = await readStdin();
    } else {
      text = readFixtureFile(file);
    }
  } catch (err) {
    if (err instanceof GoalError) throw err;
    // Past V8's longest string (~512 MiB: a fixture of N ≈ 4000 or more) it cannot be one text.
    const why = errnoCode(err) === 'ERR_STRING_TOO_LONG' ? ': it is larger than the longest text Node can hold, about 512 MiB' : ` (${errnoCode(err)})`;
    throw new GoalError('GOAL_BAD_FIXTURE', `--replay ${shownPath(file)}: cannot read it${why}`);
  }
  // Not UTF-8 text (read as such, a byte that is not becomes U+FFFD), e.g. the stats pickle that
  // -savepath writes: V8's message would quote the bytes.
  if (/[\x00\ufffd]/.test(text.slice(0, 256))) {
    throw new GoalError('GOAL_BAD_FIXTURE', `--replay ${shownPath(file)}: binary data, not UTF-8 JSON (the stats pickle that -savepath writes cannot be replayed: it holds no draws)`);
  }
  // Past the heap V8 has left, JSON.parse would end the process with V8's own report: a list of
  // millions of short lists (a generator's stray field) fits the longest text but not the heap.
  // The young generation (up to 3 × 16 MiB on 64-bit Node) holds no large object: not room.
  const heap = v8.getHeapStatistics();
  const room = heap.heap_size_limit - heap.used_heap_size - 48 * 2 ** 20;
  const need = PARSED_BYTES_PER_CHAR * text.length < 0.9 * room ? 0 : parsedBytes(text);
  if (need > 0.9 * room) {
    throw new GoalError('GOAL_ENOMEM', `--replay ${shownPath(file)}: too large to read: its JSON would take about ${sizeText(need)} of memory, ` +
      `and Node's heap has ${sizeText(Math.max(0, room))} left (NODE_OPTIONS=--max-old-space-size=MiB raises it)`);
  }
  try {
    // A byte-order mark (some editors on Windows write one) is no part of the JSON.
    return parsePythonJson(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text) as Fixture;
  } catch (err) {
    // V8 quotes the text around the error: keep it to one line, control characters escaped.
    const why = visible((err as Error).message);
    throw new GoalError('GOAL_BAD_FIXTURE', `--replay ${shownPath(file)}: not valid JSON (${why.length > 160 ? `${why.slice(0, 160)}…` : why})`);
  }
}

function recap(p: ResolvedParams, io: Io): void {
  io.err('parameters:\n');
  const spec = specParams(p);
  for (const d of paramDocs) io.err(`  ${d.spec.padEnd(10)} ${JSON.stringify(spec[d.spec])}\n`);
}

async function runTrain(opts: Record<string, unknown>, io: Io): Promise<number> {
  // Params are resolved here (to check them first) and again by train(): say each warning once.
  const warn = onceEach((m) => io.err(`goal: warning: ${m}\n`));
  // Everything that can be checked is checked before any training starts.
  const asked = chosenBackend(opts, DEFAULT_BACKEND.train);
  const savepath = opts.savepath as string | undefined;
  let fixture: Fixture | undefined;
  let params: ResolvedParams;
  let warnings: string[] = []; // told once every check has passed
  if (opts.replay !== undefined) {
    const clash = paramDocs.filter((d) => opts[d.name] !== undefined).map((d) => flagLabel(d.name));
    if (clash.length) {
      throw new GoalError('GOAL_USAGE', `--replay takes every parameter from its file; drop ${clash.join(', ')}`);
    }
    // `--replay - < fx.json` reads the file too: stdin, as /dev/stdin names it, is that file.
    const stdin = opts.replay === '-';
    if (savepath !== undefined && sameFile(savepath, stdin ? '/dev/stdin' : opts.replay as string)) {
      throw new GoalError('GOAL_USAGE', `-savepath ${shownPath(savepath)} is the --replay file${stdin ? ' (standard input)' : ''}: the stats would overwrite the fixture; choose another name`);
    }
    fixture = await loadFixture(opts.replay as string);
    params = aboutFixture(opts.replay as string, () => fixtureParams(fixture!).params);
    aboutFixture(opts.replay as string, () => requireExpect(fixture!, params));
  } else {
    const resolved = resolveOptions(opts);
    params = resolved.params;
    checkTaskLength(params, flagLabel);
    warnings = resolved.warnings;
    // Drawn here rather than in train() so that the recap shows it.
    if (params.seed === null) params = { ...params, seed: randomSeed() };
  }
  if (fixture) {
    aboutFixture(opts.replay as string, () => {
      checkFixtureShapes(fixture!, params); // a fixture whose sizes contradict its matrices says so first
      checkMemory(params, fixtureLabel);
    });
  } else {
    checkMemory(params, flagLabel);
  }
  notDash('-savepath', savepath, 'the stats are a binary pickle');
  if (savepath !== undefined) checkWritable(savepath, '-savepath', statsPickleBytes(params.epochs[1]));
  // The seed's target (train() draws it again): a degenerate one is refused before any warning.
  if (!fixture) await checkTarget({ ...params, seed: params.seed! }, flagLabel);
  // Resolved here, not in train(): --gpu's fallback is told before the recap and the run.
  const backend = chooseBackend(asked, (m) => warnings.push(m));
  warnings.forEach(warn);

  const verbose = opts.verbose === true;
  if (verbose) recap(params, io);
  const progress = verbose ? makeProgress(io.stderr) : null;
  const controller = new AbortController();
  const t0 = performance.now();
  // What the epochs told so far, for a second Ctrl-C, which does not wait for the run to return.
  const soFar = { mseOut: NaN, mseRec: [] as number[], dz: [] as number[] };
  // mse_out is the trained readout's: set when the readout phase is over (onReadout), so that
  // any stop before then saves NaN, as the run's result has it.
  let readoutOver = false;
  let readoutBegun = false;
  const stoppedEarly = (): Outcome['stoppedEarly'] => (readoutOver ? undefined : readoutBegun ? 'in the readout phase' : 'before the readout phase');
  const record = (e: EpochInfo) => {
    if (e.phase === 'readout') readoutBegun = true;
    if (e.phase === 'recurrent') {
      soFar.mseRec.push(e.mse);
      soFar.dz.push(e.dz ?? NaN);
    }
  };
  // A second Ctrl-C, SIGTERM or SIGHUP ends the process before the run returns: its last words
  // are the outcome so far, said and saved as a stopped run's (--json: still one object).
  const quit = (signal: EndSignal) => {
    progress?.stop();
    const mseOut = readoutOver ? soFar.mseOut : NaN;
    // A replay's matrices are in the engine, busy: named, as a stopped replay names them, but empty.
    const matrices = fixture && expectFields({ ...soFar, mseOut, zTarg: [], zLast: null, wHoTrained: [], wHhFinal: [], minMargin: NaN }, params.feedback);
    const outcome = {
      ...soFar, mseOut, seed: fixture ? null : params.seed, backend, device: deviceName(backend), dtype: params.dtype,
      seconds: (performance.now() - t0) / 1000, params, aborted: true, stoppedEarly: stoppedEarly(), matrices,
    };
    try {
      lastWords(outcome, opts, io, ENDED[signal]);
    } catch (err) {
      // The process ends all the same: what failed is said, not thrown from a signal handler.
      io.err(`goal: ${ENDED[signal]}; ${err instanceof Error ? err.message : String(err)}\n`);
    }
  };
  const stopInterrupt = io.onInterrupt(() => controller.abort(), quit);
  const common = {
    onWarning: warn,
    onReadout: (mseOut: number) => {
      soFar.mseOut = mseOut; // also without readout epochs
      readoutOver = true;
    },
    onEpoch: (e: EpochInfo) => {
      record(e);
      progress?.update(e);
    },
    signal: controller.signal,
    backend,
  };
  let outcome: Outcome;
  try {
    try {
      if (fixture) {
        const r = await replay(fixture, common).catch((err: unknown) => {
          throw err instanceof GoalError && err.code === 'GOAL_BAD_FIXTURE' ? fixtureError(opts.replay as string, err) : err;
        });
        const check = r.aborted ? undefined : compareReplay(fixture, r);
        outcome = { ...r, seed: null, check, matrices: expectFields(r, r.params.feedback), note: check && marginNote(fixture, r, check) };
      } else {
        outcome = await train(params, { ...common, label: flagLabel });
      }
      if (outcome.aborted) outcome.stoppedEarly = stoppedEarly();
    } finally {
      progress?.stop();
    }
    // Saved and reported while the signal handlers stand: the save is synchronous, so a Ctrl-C
    // now waits for it (with the default action it would end the process mid-write, the run lost).
    const code = lastWords(outcome, opts, io, 'interrupted');
    // A Ctrl-C as the last epochs ran stopped nothing, but it still ends with its status, so
    // that a shell loop around goal stops too; a failure (a save, a replay that differs) first.
    if (controller.signal.aborted && !outcome.aborted && code === 0) {
      io.err('goal: interrupted as the last epochs ran, which ran to their end: the results are complete\n');
      return 130;
    }
    return code;
  } finally {
    stopInterrupt();
  }
}

/**
 * Saves the stats (when asked), prints the outcome, and gives the exit status; a stopped run's
 * outcome says how it ended (`stopped`: interrupted, or a signal's ENDED word) and where.
 */
function lastWords(outcome: Outcome, opts: Record<string, unknown>, io: Io, stopped: string): number {
  const savepath = opts.savepath as string | undefined;
  // The results are printed even when the stats file cannot be written (a disk filled up).
  let unsaved: string | undefined;
  if (savepath !== undefined) {
    try {
      saveStats(savepath, outcome);
    } catch (err) {
      if (!(err instanceof GoalError)) throw err;
      unsaved = err.message;
    }
  }
  if (opts.json) {
    io.out(`${JSON.stringify(toJson(outcome))}\n`);
  } else {
    summary(outcome, io);
  }
  const saved = savepath !== undefined && unsaved === undefined;
  if (unsaved !== undefined) io.err(`goal train: -savepath ${unsaved}; the results above are not saved\n`);
  if (outcome.aborted) {
    const [, recurrent] = outcome.params.epochs;
    const done = outcome.mseRec.length;
    const during = outcome.stoppedEarly ?? (done > 0 ? `after ${done} of ${recurrent} recurrent epochs` : 'before any recurrent epoch');
    io.err(`goal: ${stopped} ${during}${saved ? `; the stats so far are in ${shownPath(savepath)}` : ''}\n`);
    return 130;
  }
  if (unsaved !== undefined) return 1;
  const differs = outcome.check?.filter((c) => !c.ok) ?? [];
  if (differs.length) {
    // Like diff(1): a replay that does not reproduce its reference is a failure for scripts.
    if (opts.json) io.err(`goal train: the replay differs from the reference in ${differs.map((c) => c.field).join(', ')}\n`);
    if (outcome.note) io.err(`goal train: note: ${outcome.note}\n`);
    return 1;
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
  if (o.matrices) Object.assign(out, o.matrices);
  if (o.note) out.replay_note = o.note;
  if (o.check) {
    // The one answer a script wants (the exit status says it too), then the evidence per field.
    out.replay_match = o.check.every((c) => c.ok);
    out.replay_check = Object.fromEntries(o.check.map((c) => [c.field, { ok: c.ok, max_abs: c.maxAbs, max_rel: c.maxRel, tolerance: c.tolerance }]));
  }
  return out;
}

/** How far a field of a replay is off, in words: ∞ (JSON's null) is no distance to print. */
function howFar(c: FieldCheck): string {
  if (Number.isFinite(c.maxRel)) return `max rel ${c.maxRel.toExponential(2)}`;
  if (Number.isFinite(c.maxAbs)) return `max abs ${c.maxAbs.toExponential(2)}, where the reference is all zeros`;
  return 'NaN or ∞ where the other side is finite';
}

function summary(o: Outcome, io: Io): void {
  // NaN is what a diverged run prints: a value that is missing is said in words.
  const none = o.aborted ? 'none (stopped before the recurrent phase)' : 'none (no recurrent epoch)';
  const last = (xs: number[]) => (xs.length ? xs[xs.length - 1] : none);
  const where = `${o.device}, ${o.dtype}${o.seed !== null ? `, seed ${o.seed}` : ''}`;
  io.out(`Training time: ${o.seconds.toFixed(2)} s (${where})\n`);
  io.out(`Target readout MSE: ${o.stoppedEarly ? `none (stopped ${o.stoppedEarly})` : o.mseOut}\n`);
  io.out(`Model readout MSE: ${last(o.mseRec)}\n`);
  io.out(`Model spike error: ${last(o.dz)}\n`);
  if (o.check) {
    const bad = o.check.filter((c) => !c.ok);
    io.out(bad.length === 0
      ? `Replay matches the reference (${o.check.map((c) => c.field).join(', ')})\n`
      : `Replay DIFFERS from the reference in ${bad.map((c) => `${c.field} (${howFar(c)})`).join(', ')}\n`);
  }
}
