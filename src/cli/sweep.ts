// `goal sweep`: the (rank, τ⋆) grid of the paper's Figure 2 in one command; `goal sweep merge`
// joins the files of a sharded sweep.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { Command, Option } from 'commander';
import { DEFAULT_BACKEND } from '../backend';
import { checkWritable, shownPath } from '../io/files';
import { lockFile } from '../io/lock';
import { DEFAULT_CONV, DEFAULT_GPU_BATCH, mergeRows, plural, realPath, summarize, summaryTables, sweep, SWEEP_ACCEPTS, writeRows, type SweepPlan, type SweepRank, type SweepResult, type SweepRow } from '../sweep';
import { MAX_SEED, paramDocs, type ParamName } from '../params';
import { addParamOptions, checkArgs, chosenBackend, flagLabel, LTTS_WORD, notDash, once, paramFlags, paramsFromOptions, parseNumber, usage } from './options';
import { makeProgress } from './progress';
import { ENDED, type Io } from './io';

/** The parameters a sweep varies, and the options that give their values. */
const GRID_PARAMS: readonly [ParamName, string][] = [['rank', '--ranks'], ['tauO', '--taus'], ['seed', '--seeds']];

function list(flag: string, text: string, item: (x: string) => number | SweepRank): (number | SweepRank)[] {
  // One trailing comma is allowed (`7,` is the list of one seed 7); other empty items are typos.
  const parts = text.replace(/,\s*$/, '').split(',').map((x) => x.trim());
  if (parts.some((x) => x === '')) usage(`${flag} needs a comma-separated list without empty items (got ${JSON.stringify(text)})`);
  return parts.map(item);
}

const number = (flag: string, x: string, what = 'numbers'): number => parseNumber(flag, x, what);

/** `--ranks 3,19,150,ltts` */
export function parseRanks(text: string): SweepRank[] {
  return list('--ranks', text, (x) => (LTTS_WORD.test(x) ? 'ltts' : number('--ranks', x, 'integers in [O, N], or ltts'))) as SweepRank[];
}

/** The largest seed count `--seeds n` takes (for more, a list, or shards). */
const MAX_SEED_COUNT = 100000;

/** `--seeds 1,2,3` (a list; `7,` is the single seed 7) or `--seeds 3` (a count: 1, 2, 3). */
export function parseSeeds(text: string): number[] {
  if (!text.includes(',')) {
    const n = number('--seeds', text.trim(), `a count in [1, ${MAX_SEED_COUNT}] or a list of seeds, e.g. 1,2,3`);
    if (!Number.isInteger(n) || n < 1 || n > MAX_SEED_COUNT) usage(`--seeds: a count must be an integer in [1, ${MAX_SEED_COUNT}] (got ${text})`);
    return Array.from({ length: n }, (_, k) => k + 1);
  }
  return list('--seeds', text, (x) => number('--seeds', x, `integers in [0, ${MAX_SEED}]`)) as number[];
}

function parseShard(text: string): { k: number; n: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  // Past 2^53 a number is no longer the integer written: refused, not rounded.
  if (!m || +m[1] < 1 || +m[1] > +m[2] || !Number.isSafeInteger(+m[2])) usage(`--shard must be k/n with 1 ≤ k ≤ n ≤ ${Number.MAX_SAFE_INTEGER}, e.g. 2/8 (got ${JSON.stringify(text)})`);
  return { k: +m[1], n: +m[2] };
}

function printRow(io: Io, r: SweepRow, done: number, total: number): void {
  io.err(`point ${done}/${total}: rank ${r.rank === 'ltts' ? 'LTTS' : r.rank}, τ⋆ ${r.tau_o}, seed ${r.seed}: ` +
    `mse ${r.mse_final.toPrecision(3)}, ΔS ${r.dz_final}, T_conv ${r.t_conv ?? '—'} (${r.seconds.toFixed(1)} s)\n`);
}

/** Refuses a sweep option (camelCase key) given before `merge`, which would be ignored. */
function beforeMerge(key: string): never {
  // A parameter by all its spellings (-N/--n-rec), as every message names it.
  const flag = paramDocs.some((d) => d.name === key) ? flagLabel(key as ParamName) : `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  usage(`put nothing but --out before "merge": it takes shard files and --out (got ${flag} there)`);
}

/** Why `--out -` is refused, for sweep and merge alike. */
const TABLES_ON_STDOUT = 'the summary tables go there';

function mergeCommand(io: Io): Command {
  return new Command('merge')
    .description('join the JSON Lines files of a sharded sweep (each point once) and print the summary')
    .argument('<files...>', 'shard files')
    .addOption(once(new Option('--out <file>', 'merged JSON Lines file, a new one (an existing file is refused; written atomically); required')))
    .action((files: string[], own: { out?: string }, merge: Command) => {
      // `goal sweep --out F merge …` gave --out to the sweep: it is merge's all the same; any
      // other sweep option there would be ignored, so it is refused.
      const before = Object.entries(merge.parent!.opts()).filter(([, v]) => v !== undefined);
      const stray = before.find(([k]) => k !== 'out');
      if (stray) beforeMerge(stray[0]);
      const early = merge.parent!.opts().out as string | undefined;
      if (own.out !== undefined && early !== undefined) usage(`--out is given twice (${JSON.stringify(early)} and ${JSON.stringify(own.out)}): give it once`);
      const opts = { out: own.out ?? early };
      if (opts.out === undefined) usage('--out <file> is required: the merged file to write');
      notDash('--out', opts.out, TABLES_ON_STDOUT);
      checkWritable(opts.out, '--out');
      if (files.includes('')) usage('a shard file name is empty');
      if (files.includes('-')) usage('merge reads shard files by name, not standard input (-)');
      // A sweep writing --out holds its lock; so does merge, against a sweep or merge to come.
      const unlock = lockFile(opts.out, '--out');
      let rows: SweepRow[];
      try {
        if (fs.existsSync(opts.out)) usage(`--out ${shownPath(opts.out)} exists: merge writes a new file; choose another name`);
        rows = mergeRows(files, (m) => io.err(`goal: warning: ${m}\n`));
        writeRows(opts.out, rows, true);
      } finally {
        unlock();
      }
      // Points of several grids (sweeps of one configuration over other ranks, τ⋆ or seeds) are
      // joined as the points they are; said, lest a file of another sweep slip in unseen.
      const grids = new Set(rows.map((r) => r.grid)).size;
      const of = grids > 1 ? ` of ${grids} grids` : '';
      io.err(`merged ${plural(rows.length, 'point')}${of} from ${plural(new Set(files.map(realPath)).size, 'file')} into ${shownPath(opts.out)}\n`);
      if (!rows.length) io.err('goal: warning: the files hold no points\n');
      if (rows.length) io.out(`${summaryTables(rows)}\n`);
    });
}

export function sweepCommand(io: Io): Command {
  const cmd = new Command('sweep')
    .description('train a grid over feedback rank and τ⋆ (tau_o) with several seeds; print the paper\'s Figure 2 D–F tables')
    .addOption(once(new Option('--ranks <list>', 'feedback ranks, e.g. 3,19,150,ltts (ltts: diagonal feedback); required')))
    .addOption(once(new Option('--taus <list>', 'τ⋆ values in units of dt, e.g. 1,2,5,10; required')))
    .addOption(once(new Option('--seeds <list|count>', 'seeds, e.g. 1,2,3; a count n for seeds 1..n; n, for the seed n alone; required')))
    .addOption(once(new Option('--out <file>', 'JSON Lines results, one row appended per finished point (default: none)')))
    .addOption(new Option('--resume', 'skip the points already in --out (default: off)'))
    .addOption(once(new Option('--shard <k/n>', 'run only every n-th point, starting at the k-th (a job of an array) (default: 1/1, every point)')))
    .addOption(once(new Option('--threads <k>', `CPU networks run at once (default: all cores, ${os.availableParallelism()} here)`)))
    .addOption(once(new Option('--backend <name>', `cpu, cuda, or auto: the CUDA batch when available (default: ${DEFAULT_BACKEND.sweep})`)))
    .addOption(new Option('--gpu', 'the CUDA batch when available, else the CPU with a warning (= --backend auto) (default: off)'))
    .addOption(once(new Option('--batch <k>', `networks per lockstep batch; on the CPU, set it to train that many in lockstep over --threads (default: ${DEFAULT_GPU_BATCH} on a GPU, none on the CPU)`)))
    .addOption(once(new Option('--conv <x>', `T_conv: first recurrent epoch with mse ≤ x·mse_out (default: ${DEFAULT_CONV})`)))
    .addOption(new Option('--curves', 'keep the mse_rec and dz curves in each row (default: off)'))
    .addOption(new Option('--json', 'print one JSON object (the summary cells) instead of the tables (default: off)'))
    .addOption(new Option('--verbose', 'progress of lockstep batches (the GPU\'s, or the CPU\'s with --batch) on stderr (default: off)'));
  addParamOptions(cmd, GRID_PARAMS.map(([name]) => name));
  // Accepted only to be refused with a pointer to the grid's option (not "unknown option").
  for (const [name] of GRID_PARAMS) cmd.addOption(new Option(paramFlags(name)).hideHelp());
  cmd.addOption(new Option('--savepath <file>').hideHelp());
  // Options after `merge` belong to merge (both take --out).
  cmd.enablePositionalOptions().addCommand(mergeCommand(io)).allowExcessArguments();
  return cmd.action(async (opts: Record<string, unknown>) => {
    // `goal sweep -E 1 1 merge …`: the epochs flag's list took the subcommand and its files.
    if ((opts.epochs as string[] | undefined)?.includes('merge')) beforeMerge('epochs');
    checkArgs(cmd, opts, GRID_PARAMS.map(([name]) => name));
    io.exitCode = await runSweep(opts, io);
  });
}

/** A sweep's outcome as the summary tells it; the plan's numbers null when a signal came before it. */
type Outcome = Omit<SweepResult, keyof SweepPlan> & { [K in keyof SweepPlan]: SweepPlan[K] | null };

/** The summary of a sweep's rows, finished or stopped: the tables, or --json's one object. */
function printSummary(io: Io, opts: Record<string, unknown>, r: Outcome, grid: { ranks: SweepRank[]; taus: number[]; seeds: number }): void {
  if (opts.json) {
    const { planned, completed, skipped, outside, aborted, seconds, backend } = r;
    const cells = summarize(r.rows, opts.shard === undefined ? { ranks: grid.ranks, taus: grid.taus } : undefined);
    io.out(`${JSON.stringify({ planned, completed, skipped, outside, aborted, seconds, backend, summary: cells })}\n`);
  } else if (r.rows.length || opts.shard === undefined) {
    // The whole grid (a shard holds only a part of it): a stopped sweep's missing cells show,
    // all of them when it stopped before its first point.
    io.out(`${summaryTables(r.rows, opts.shard === undefined ? grid : undefined)}\n`);
  }
}

async function runSweep(opts: Record<string, unknown>, io: Io): Promise<number> {
  for (const [name, grid] of GRID_PARAMS) {
    if (opts[name] !== undefined) usage(`${flagLabel(name)} is set by the sweep's grid: give its values with ${grid}`);
  }
  if (opts.savepath !== undefined) usage('-savepath is goal train\'s stats file; a sweep writes one row per point to --out FILE');
  const backend = chosenBackend(opts, DEFAULT_BACKEND.sweep);
  // A one-number option (--threads K), when given.
  const single = (key: keyof typeof SWEEP_ACCEPTS) => (opts[key] === undefined ? undefined : number(`--${key}`, opts[key] as string, SWEEP_ACCEPTS[key]));
  // Checked here, not by commander: `goal sweep merge` does not take them.
  for (const flag of ['ranks', 'taus', 'seeds']) if (opts[flag] === undefined) usage(`--${flag} is required`);
  const ranks = parseRanks(opts.ranks as string);
  const taus = list('--taus', opts.taus as string, (x) => number('--taus', x, 'numbers > 0 (τ⋆ in units of dt)')) as number[];
  const seeds = parseSeeds(opts.seeds as string);
  notDash('--out', opts.out as string | undefined, TABLES_ON_STDOUT);
  const lists = { ranks, taus, seeds: seeds.length };
  const controller = new AbortController();
  const progress = opts.verbose ? makeProgress(io.stderr, 'batch ') : null;
  // For last words when a second Ctrl-C, SIGTERM or SIGHUP ends the process before the sweep
  // returns: the summary of the rows so far (those resumed, then this run's), as a stopped
  // sweep's (--json: still one object), and how to finish.
  const t0 = Date.now();
  let plan: SweepPlan | undefined;
  let resumed: readonly SweepRow[] = [];
  const fresh: SweepRow[] = []; // this run's, as onRow hears them
  const stop = io.onInterrupt(() => controller.abort(), (signal) => {
    progress?.stop();
    try {
      const planned = plan ?? { planned: null, skipped: null, outside: null, backend: null }; // not yet: the file or the GPU was being read
      const rows = [...resumed, ...fresh];
      printSummary(io, opts, { ...planned, rows, completed: fresh.length, aborted: true, seconds: (Date.now() - t0) / 1000 }, lists);
    } catch (err) {
      // The process ends all the same: what failed is said, not thrown from a signal handler.
      io.err(`goal: ${err instanceof Error ? err.message : String(err)}\n`);
    }
    io.err(`goal: ${ENDED[signal]} with ${plural(fresh.length, 'point')} done by this run` +
      `${opts.out !== undefined ? `; run the same command with --resume to finish` : ''}\n`);
  });
  let result;
  try {
    result = await sweep({
      ranks, taus, seeds,
      base: paramsFromOptions(opts, GRID_PARAMS.map(([name]) => name)),
      out: opts.out as string | undefined,
      resume: opts.resume === true,
      shard: opts.shard === undefined ? undefined : parseShard(opts.shard as string),
      threads: single('threads'),
      batch: single('batch'),
      backend,
      conv: single('conv'),
      curves: opts.curves === true,
      signal: controller.signal,
      onStart: (p, rows) => {
        plan = p;
        resumed = rows;
        if (!plan.skipped && !plan.outside) return;
        // Said before the points run: their numbering counts only those left. Rows of another
        // grid (a narrower or mistyped one), or of another shard, are kept in the file.
        const file = shownPath(opts.out as string);
        const where = opts.shard !== undefined ? 'outside this shard' : 'of another grid';
        const other = plan.outside ? `${plural(plan.outside, 'point')} ${where} (kept there; not in this summary)` : '';
        io.err(`${plan.skipped
          ? `resuming: ${plural(plan.skipped, 'point')} ${plan.skipped === 1 ? 'is' : 'are'} already in ${file}${other && `, and ${other}`}`
          : `resuming: ${file} holds ${other}`}; ${plan.planned} to run\n`);
      },
      onRow: (r, n, total) => {
        fresh.push(r);
        printRow(io, r, n, total);
      },
      onEpoch: progress ? (e) => progress.update(e) : undefined,
      onWarning: (m) => io.err(`goal: warning: ${m}\n`),
      label: (n) => GRID_PARAMS.find(([name]) => name === n)?.[1] ?? flagLabel(n),
      optionLabel: (o) => `--${o}`,
    });
  } finally {
    progress?.stop();
    stop();
  }
  printSummary(io, opts, result, lists);
  if (result.aborted) {
    io.err(`goal: interrupted with ${result.completed} of ${result.planned} points done` +
      `${opts.out !== undefined ? `; run the same command with --resume to finish` : ''}\n`);
    return 130;
  }
  io.err(`sweep: ${plural(result.planned, 'point')} in ${result.seconds.toFixed(1)} s on ${result.backend}\n`);
  // A Ctrl-C as the last points ended stopped nothing; its status still stops a shell loop.
  if (controller.signal.aborted) {
    io.err('goal: interrupted as the last points ran to their end: every point is done\n');
    return 130;
  }
  return 0;
}
