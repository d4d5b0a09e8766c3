// npm run bench:gpu: the CUDA engine beside the CPU engine, in the same run. Results first: a
// reference replay on CUDA, then GPU-vs-CPU parity on both GPU paths and a batch against its
// networks run alone; only if all agree, the timings: network-epochs/s of 1100 networks of N=150
// (ranks × τ⋆, the paper's kind of grid) as one batch on the GPU and on all CPU cores; and
// recurrent epochs/s of one network (T=150, float32, LTTS) for N from 150 to 8192 on the GPU
// and, up to N=2000, on the CPU. Without a usable GPU it says so and exits 0.
import * as os from 'node:os';
import { info, train, type Info } from '../src/index';
import { checkReplay } from './common';
import {
  BATCH_CASES, batchParity, GPU, batchThroughput, fixtureParity, fmt, msPerEpoch, onBlockPath, paperGrid, SEED_CASES, seedParity,
  SINGLE_SIZES, type ParityRow,
} from './gpu-cases';

export interface SingleRow {
  N: number;
  gpuMs: number;
  cpuMs: number | null;
}

export interface GpuReport {
  info: Info;
  parity: ParityRow[];
  single: SingleRow[];
  batch: { K: number; N: number; gpu: number; cpu: number; cpuThreads: number } | null;
  /** Timings that threw, named. */
  timingFailures: string[];
  /** The cases run so far (passed, failed or hung), by name: a process that goes on after a hung one skips them. */
  done: string[];
}

const PARITY_HEADER = ['| case | compared | max abs diff | max rel diff (÷ the field\'s largest CPU value; worst field) | tolerance | spikes (or dz) equal | ok |', '|---|---|---:|---:|---:|---|---|'];

function parityLine(r: ParityRow): string {
  return `| ${r.name} | ${r.fields} | ${fmt(r.maxAbs)} | ${fmt(r.maxRel)} | ${r.tolerance} | ${r.spikesEqual ? 'yes' : 'NO'} | ${r.ok ? 'yes' : 'NO'} |`;
}

/** A case that threw (a kernel fault, a launch the GPU refused): a failed row saying why. */
function failedRow(name: string, err: unknown): ParityRow {
  const e = err as { code?: string; message?: string };
  const why = `${e?.code ? `${e.code}: ` : ''}${e?.message ?? String(err)}`.replace(/\|/g, '/');
  return { name, fields: `ERROR ${why}`, maxAbs: NaN, maxRel: NaN, tolerance: 0, spikesEqual: false, ok: false };
}

export function deviceLine(i: Info): string {
  const c = i.cuda;
  if (!c.available) return `no usable GPU (${c.reason}); CPU: ${os.cpus()[0]?.model ?? 'unknown'} × ${os.availableParallelism()}, variant ${i.cpu.isa}`;
  const cudaVersion = (v?: number) => (v ? `${Math.floor(v / 1000)}.${(v % 1000) / 10}` : '?');
  return `${c.name}, compute capability ${c.computeCapability}, ${c.multiprocessors} SMs, ` +
    `${((c.memoryBytes ?? 0) / 2 ** 30).toFixed(0)} GiB; the driver supports CUDA ${cudaVersion(c.driverVersion)}, ` +
    `runtime CUDA ${cudaVersion(c.runtimeVersion)}; ` +
    `CPU: ${os.cpus()[0]?.model ?? 'unknown'} × ${os.availableParallelism()}, variant ${i.cpu.isa}`;
}

export interface BenchOptions {
  fixtures: string[];
  /** Gets each line as soon as it is known. */
  log: (line: string) => void;
  /** Gets the report after every case, so that a run cut short keeps what was done. */
  save?: (report: GpuReport) => void;
  /** Gets "running: …" before each case: the log of a run killed mid-case names the case. */
  trace?: (line: string) => void;
  /**
   * Time even when parity fails (the device check: one short session, the kernels timed are
   * the same either way; the report says the parity failed). bench:gpu does not.
   */
  timeAnyway?: boolean;
  /**
   * One half only (the device check runs each in its own process: a kernel fault in a parity
   * case, which ends the process's CUDA context, then leaves the timings to run).
   */
  only?: 'parity' | 'timing';
  /**
   * The report of an earlier process of this half, ended because a case hung: its rows are
   * kept, its done cases skipped, and the rest run.
   */
  previous?: GpuReport;
  /**
   * Seconds a case may run before it counts as hung (a kernel that never returns cannot be
   * stopped from the host): its row says so, and `onHung` is called. Without it, no limit.
   */
  caseLimitS?: number;
  /** When (Date.now()'s clock) every case must have ended: a case's limit is never later. */
  caseDeadline?: number;
  /** Called once a hung case's row is saved, with what hung; ends the process (so that another goes on after it). */
  onHung?: (what: string) => void;
  /** Leave out the block-path cases (the first run, on that path, hung): their rows say so. */
  skipBlock?: boolean;
}

/** A case that ran past BenchOptions.caseLimitS. */
class Hung extends Error {}

/** `work`, or a Hung rejection after `seconds` (the work itself, a native call, runs on). */
async function limited<T>(work: Promise<T>, seconds: number | undefined, name: string): Promise<T> {
  if (seconds === undefined) return work;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Hung(`HUNG (or too slow): no result in ${seconds} s; the process was ended to go on ` +
      `with the cases after "${name}" (a kernel that never returns cannot be stopped otherwise)`)), seconds * 1000);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Whether the GPU still runs a small network (on the grid path when the block path is left
 * out): a kernel fault (an illegal address, a launch failure) destroys the process's CUDA
 * context, every later GPU call then fails the same way, and only the first failure says
 * anything. 'hung' when the probe itself does not return.
 */
async function gpuAlive(limitS: number | undefined, grid: boolean): Promise<'alive' | 'dead' | 'hung'> {
  try {
    await limited(train({ nRec: grid ? 256 : 16, tSeq: 10, epochs: [1, 1], seed: 1 }, { backend: GPU, onWarning: () => {} }), limitS, 'the probe');
    return 'alive';
  } catch (err) {
    return err instanceof Hung ? 'hung' : 'dead';
  }
}

/** Parity, then timings; every case on its own, so that one that throws does not end the run. */
export async function gpuBench(opts: BenchOptions): Promise<GpuReport> {
  const { log } = opts;
  const previous = opts.previous;
  const report: GpuReport = {
    info: info(), parity: previous?.parity ?? [], single: previous?.single ?? [], batch: previous?.batch ?? null,
    timingFailures: previous?.timingFailures ?? [], done: previous?.done ?? [],
  };
  const toRun = (names: string[]) => names.some((n) => !report.done.includes(n));
  const trace = opts.trace ?? (() => {});
  const save = () => opts.save?.(report);
  // The case after which the GPU no longer runs anything: the later cases are not run.
  let lostIn: string | null = null;
  const notRun = () => new Error(`not run: the GPU stopped working in "${lostIn}" (its row says why)`);
  // Seconds the next case may take: its own limit, within the half's (a case the half's timeout
  // ended would leave no row saying which one hung).
  const limitS = () => {
    const left = opts.caseDeadline === undefined ? Infinity : Math.max(1, Math.floor((opts.caseDeadline - Date.now()) / 1000));
    const s = Math.min(opts.caseLimitS ?? Infinity, left);
    return Number.isFinite(s) ? s : undefined;
  };
  const afterFailure = async (name: string, err: unknown) => {
    if ((err as { code?: string })?.code !== 'GOAL_CUDA' || lostIn) return;
    const state = await gpuAlive(limitS(), opts.skipBlock === true);
    if (state === 'hung') {
      // A new process (a new CUDA context) goes on after this case, as after a hung case.
      log(`the probe after "${name}" hung: this process ends, and a new one goes on after it`);
      opts.onHung?.(`the probe after "${name}"`);
    } else if (state === 'dead') {
      lostIn = name;
      log(`THE GPU NO LONGER RUNS ANYTHING after "${name}" (a kernel fault ends the process's CUDA context); the later cases are not run`);
    }
  };
  if (previous) {
    log('');
    log(`(a new process, going on after "${previous.done.at(-1)}", which hung or left the GPU hung)`);
  } else {
    if (GPU !== 'cuda') log('REHEARSAL (GOAL_REHEARSE=1): the CPU stands in for the GPU; no figure below is a GPU figure');
    log(`goal-snn ${report.info.version} on ${deviceLine(report.info)}`);
    // Set by bench/device-check.sh: which commit was built, and the driver (nvidia-smi's word).
    if (process.env.GOAL_SOURCE) log(`source: ${process.env.GOAL_SOURCE}`);
    if (process.env.GOAL_DRIVER) log(`driver: ${process.env.GOAL_DRIVER}; addon: ${process.env.GOAL_ADDON_ORIGIN ?? 'as carried'}`);
    if (process.env.GOAL_CUDA_SPIN === '1') log('GOAL_CUDA_SPIN=1: waits for the GPU spin (the runtime\'s default), not blocking sync');
  }
  if (opts.skipBlock && !previous) log('THE FIRST RUN HUNG on the block path (N=150): the block-path cases are left out');
  // Rehearses hung cases (the CPU standing in): those named, separated by ';', wait forever.
  const hangs = new Set(GPU === 'cuda' ? [] : (process.env.GOAL_REHEARSE_HANG ?? '').split(';'));
  // One case: named in the trace as it starts; a throw is written by `failed`, and the run goes
  // on; a case that hangs is written as such, then onHung ends the process.
  const runCase = async (name: string, block: boolean, run: () => Promise<void>, failed: (err: unknown) => void) => {
    if (report.done.includes(name)) return;
    trace(`running: ${name}`);
    let failure: unknown = null;
    try {
      if (lostIn) throw notRun();
      if (block && opts.skipBlock) throw new Error('not run: the first run, on the block path, hung');
      await limited(hangs.has(name) ? new Promise<void>(() => {}) : run(), limitS(), name);
    } catch (err) {
      failure = err;
      failed(err);
    }
    report.done.push(name);
    save();
    if (failure instanceof Hung) opts.onHung?.(`"${name}"`);
    else if (failure) await afterFailure(name, failure); // after the row is written: the probe may hang
  };
  const addRow = (r: ParityRow) => {
    report.parity.push(r);
    log(parityLine(r));
  };
  const parity = (name: string, block: boolean, run: () => Promise<ParityRow>) =>
    runCase(name, block, async () => addRow(await run()), (err) => addRow(failedRow(name, err)));
  // Every fixture is small (N ≤ 60): the block path.
  const fixtureCases = opts.fixtures.map((f) => `fixture ${f}`);
  if (opts.only !== 'timing' && toRun([...fixtureCases, ...SEED_CASES.map(([n]) => n), ...BATCH_CASES.map(([n]) => n)])) {
    log('');
    log('## Parity: GPU against the CPU on the same inputs');
    PARITY_HEADER.forEach((l) => log(l));
    for (const name of opts.fixtures) await parity(`fixture ${name}`, true, async () => (await fixtureParity([name]))[0]);
    for (const [name, p, exact] of SEED_CASES) await parity(name, onBlockPath(p), () => seedParity(name, p, exact));
    for (const [name, members, epochs] of BATCH_CASES) await parity(name, members.some(onBlockPath), () => batchParity(name, members, epochs));
  }
  if (opts.only === 'parity') return report;
  // The timing half of the device check: its parity half's outcome, from device-check.sh.
  const parityStatus = process.env.GOAL_PARITY_STATUS;
  if (opts.only === 'timing' && parityStatus && parityStatus !== '0' && !previous) {
    log('');
    log(`THE PARITY HALF FAILED (exit ${parityStatus}: see its rows); timing anyway (the same kernels)`);
  }
  if (report.parity.some((r) => !r.ok)) {
    log('');
    if (!opts.timeAnyway) {
      log('the GPU does not match the CPU: not timing');
      return report;
    }
    log('THE GPU DOES NOT MATCH THE CPU in the cases above marked NO; timing anyway (the same kernels)');
  }

  const timed = (name: string, block: boolean, run: () => Promise<void>, failed: (why: string) => string) => runCase(name, block, run, (err) => {
    report.timingFailures.push(name);
    log(failed(failedRow('', err).fields));
  });
  // The batch first: the paper's figure, and cheaper than the largest single networks, which a
  // run short of time may not reach.
  const grid = paperGrid();
  const threads = os.availableParallelism();
  if (toRun(['the batch'])) {
    log('');
    log(`## Batch: the paper's grid, ${grid.length} networks of N=150, T=150, float32: 11 ranks × 10 τ⋆ × 10 seeds ` +
      '(GPU: best of 3 calls of 20 epochs; CPU: one call of 2 epochs)');
  }
  await timed('the batch', grid.some(onBlockPath), async () => {
    const gpu = await batchThroughput(grid, GPU, 20);
    log(`${GPU}, one batch: ${fmt(gpu)} network-epochs/s`);
    const cpu = await batchThroughput(grid, 'cpu', 2, 1);
    report.batch = { K: grid.length, N: 150, gpu, cpu, cpuThreads: threads };
    log('| engine | network-epochs/s | GPU speed-up |');
    log('|---|---:|---:|');
    log(`| ${GPU}, one batch | ${fmt(gpu)} | ${fmt(gpu / cpu)}× |`);
    log(`| cpu, ${threads} threads | ${fmt(cpu)} | 1× |`);
  }, (why) => `batch: ${why}`);
  const singleName = (N: number) => `one network, N=${N}`;
  if (toRun(SINGLE_SIZES.map((s) => singleName(s.N)))) {
    log('');
    log('## One network: recurrent epochs, T=150, float32, LTTS, out_lr = 0.0025·150/N (median of 5 calls)');
    log('| N | GPU ms/epoch | GPU epochs/s | CPU ms/epoch (1 thread) | CPU epochs/s | GPU speed-up (CPU ms ÷ GPU ms) |');
    log('|---:|---:|---:|---:|---:|---:|');
  }
  for (const s of SINGLE_SIZES) {
    await timed(singleName(s.N), onBlockPath({ nRec: s.N, dtype: 'float32' }), async () => {
      const gpuMs = await msPerEpoch(s.N, GPU, s.gpuEpochs);
      const cpuMs = s.cpuEpochs === null ? null : await msPerEpoch(s.N, 'cpu', s.cpuEpochs);
      report.single.push({ N: s.N, gpuMs, cpuMs });
      log(`| ${s.N} | ${fmt(gpuMs)} | ${fmt(1000 / gpuMs)} | ${cpuMs === null ? '—' : fmt(cpuMs)} | ` +
        `${cpuMs === null ? '—' : fmt(1000 / cpuMs)} | ${cpuMs === null ? '—' : `${fmt(cpuMs / gpuMs)}×`} |`);
    }, (why) => `| ${s.N} | ${why} | | | | |`);
  }

  return report;
}

async function main() {
  const i = info();
  if (!i.cuda.available) {
    console.log(`bench:gpu: no usable GPU here (${i.cuda.reason}); nothing to time ` +
      `(the CUDA backend is ${i.cuda.compiled ? '' : 'not '}compiled into this build).`);
    return;
  }
  await checkReplay('cuda', 'ltts-n40-f32.json');
  const report = await gpuBench({ fixtures: [], log: (l) => console.log(l) });
  if (report.parity.some((r) => !r.ok) || report.timingFailures.length) process.exit(1);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(`bench:gpu: ${err.message}`);
    process.exit(1);
  });
}
