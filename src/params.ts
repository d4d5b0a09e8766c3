// Parameters: the one place where defaults live (SPEC.md "Parameters and defaults"), their
// documentation for the CLI and README, and validation with messages that name the
// parameter, what it accepts and what it received.
import { GoalError, visible } from './errors';
import { MAX_NORMAL } from './rng';

/** The accepted values of `dtype` and `feedback`. */
export const DTYPES = ['float32', 'float64'] as const;
export const FEEDBACKS = ['spk', 'out'] as const;
export type Dtype = (typeof DTYPES)[number];
export type FeedbackKind = (typeof FEEDBACKS)[number];

/** Everything that defines a training run. Time constants are in units of dt. */
export interface Params {
  /** N, recurrent units. */
  nRec: number;
  /** I, input (clock) units. */
  nInp: number;
  /** O, output units. */
  nOut: number;
  /** T, sequence length in time steps. */
  tSeq: number;
  /** [readout epochs, recurrent epochs]. */
  epochs: readonly [number, number];
  /** R, rank of the feedback (nOut ≤ R ≤ nRec); null = LTTS (diagonal feedback). */
  rank: number | null;
  /** Recurrent learning rate; null = 5/√N. */
  recLr: number | null;
  /** Readout learning rate. */
  outLr: number;
  /** 'spk': spike-level error; 'out': output-level error (needs a rank). */
  feedback: FeedbackKind;
  /** Draw a new feedback matrix at every recurrent epoch. */
  resample: boolean;
  tauM: number;
  tauS: number;
  /** τ⋆: readout and target time constant. */
  tauO: number;
  sigmaInp: number;
  sigmaTrg: number;
  sigmaRec: number;
  /** Initial membrane potential (SPEC `Vo`). */
  vInit: number;
  bias: number;
  reset: number;
  /** Spike threshold (SPEC `thr`; fixed at 0 by the paper, settable here for completeness). */
  thr: number;
  /** Time step in seconds; the math uses time constants in units of dt, so dt only labels. */
  dt: number;
  /** Seed of the one random generator; null = draw one and report it. */
  seed: number | null;
  /** Arithmetic precision of the engine. */
  dtype: Dtype;
}

/** Params with every default applied and checked. */
export interface ResolvedParams extends Params {
  recLr: number;
}

/**
 * The defaults, frozen (SPEC.md's table unless noted). `nRec` has none: it is required.
 */
export const defaults = Object.freeze({
  /** N, recurrent units — required. SPEC `n_rec`. */
  nRec: null,
  /** I = 5 input (clock) units. SPEC `n_inp`. */
  nInp: 5,
  /** O = 3 output units. SPEC `n_out`. */
  nOut: 3,
  /** T = 150 time steps. SPEC `t_seq`. */
  tSeq: 150,
  /** 5000 readout epochs, then 10000 recurrent epochs. SPEC `epochs`. */
  epochs: Object.freeze([5000, 10000] as const),
  /** none = LTTS (D = m·Identity); else a count of feedback columns. SPEC `rank`. */
  rank: null,
  /** 5/√N when null (no unit), per time step (the update is online). SPEC `rec_lr`. */
  recLr: null,
  /** 0.0025 (no unit), per readout epoch. SPEC `out_lr`. */
  outLr: 0.0025,
  /** 'spk'. SPEC `feedback`. */
  feedback: 'spk' as FeedbackKind,
  /** off. SPEC `resample` (a new feedback matrix every recurrent epoch). */
  resample: false,
  /** 8 dt. SPEC `tau_m`. */
  tauM: 8,
  /** 2 dt. SPEC `tau_s`. */
  tauS: 2,
  /** 5 dt. SPEC `tau_o` (τ⋆). */
  tauO: 5,
  /** 22 (no unit): the standard deviation of W_ih's entries. SPEC `sigma_inp`. */
  sigmaInp: 22,
  /** 8 (no unit): the standard deviation of W_trg's entries. SPEC `sigma_trg`. */
  sigmaTrg: 8,
  /** 1 (no unit; the reference CLI's value): the standard deviation of W_hh's initial entries. SPEC `sigma_rec`. */
  sigmaRec: 1,
  /** −4 a.u. (arbitrary units, as every potential and current). SPEC `Vo`. */
  vInit: -4,
  /** −4 a.u. SPEC `bias`. */
  bias: -4,
  /** −20 a.u. SPEC `reset`. */
  reset: -20,
  /** 0 a.u. SPEC `thr`. */
  thr: 0,
  /** 0.001 s. SPEC `dt`. */
  dt: 0.001,
  /** none: a random seed, reported in the result. goal-snn's own. */
  seed: null,
  /** 'float32'. goal-snn's own (the reference runs float32 on the GPU, float64 in NumPy). */
  dtype: 'float32' as Dtype,
});

export type ParamName = keyof Params;

/** How each parameter is spelled and what it means: the CLI's flags and the README table. */
export interface ParamDoc {
  name: ParamName;
  /** SPEC.md's (and the fixtures') name. */
  spec: string;
  /** The paper's command-line spellings. */
  legacy: readonly string[];
  /** The conventional long option. */
  long: string;
  /** `dt`, `s`, a count's unit; `a.u.` for potentials and currents (arbitrary units: the model
   *  gives them no physical scale); `—` for a number or a choice that has no unit. */
  unit: string;
  meaning: string;
}

export const paramDocs: readonly ParamDoc[] = Object.freeze(([
  { name: 'nRec', spec: 'n_rec', legacy: ['-N', '-n_rec'], long: '--n-rec', unit: 'units', meaning: 'recurrent units N' },
  { name: 'nInp', spec: 'n_inp', legacy: ['-I', '-n_inp'], long: '--n-inp', unit: 'units', meaning: 'input (clock) units I' },
  { name: 'nOut', spec: 'n_out', legacy: ['-O', '-n_out'], long: '--n-out', unit: 'units', meaning: 'output units O' },
  { name: 'tSeq', spec: 't_seq', legacy: ['-T', '-t_seq'], long: '--t-seq', unit: 'steps', meaning: 'sequence length T' },
  { name: 'epochs', spec: 'epochs', legacy: ['-E', '-epochs'], long: '--epochs', unit: 'epochs', meaning: 'readout epochs, recurrent epochs' },
  { name: 'rank', spec: 'rank', legacy: ['-R', '-rank'], long: '--rank', unit: '—', meaning: 'rank R of the feedback, O ≤ R ≤ N' },
  { name: 'recLr', spec: 'rec_lr', legacy: ['-Rlr', '-rec_lr'], long: '--rec-lr', unit: '—', meaning: 'recurrent learning rate' },
  { name: 'outLr', spec: 'out_lr', legacy: ['-Olr', '-out_lr'], long: '--out-lr', unit: '—', meaning: 'readout learning rate' },
  { name: 'feedback', spec: 'feedback', legacy: ['-F', '-feedback'], long: '--feedback', unit: '—', meaning: 'spk (spike-level error) or out (output-level error)' },
  { name: 'resample', spec: 'resample', legacy: [], long: '--resample', unit: '—', meaning: 'draw a new feedback matrix at every recurrent epoch' },
  { name: 'tauM', spec: 'tau_m', legacy: ['-Tm', '-tau_m'], long: '--tau-m', unit: 'dt', meaning: 'membrane time constant' },
  { name: 'tauS', spec: 'tau_s', legacy: ['-Ts', '-tau_s'], long: '--tau-s', unit: 'dt', meaning: 'spike-filter time constant' },
  { name: 'tauO', spec: 'tau_o', legacy: ['-To', '-tau_o'], long: '--tau-o', unit: 'dt', meaning: 'readout and target time constant τ⋆' },
  { name: 'sigmaInp', spec: 'sigma_inp', legacy: ['-Si', '-sigma_inp'], long: '--sigma-inp', unit: '—', meaning: 'scale of the input matrix' },
  { name: 'sigmaTrg', spec: 'sigma_trg', legacy: ['-St', '-sigma_trg'], long: '--sigma-trg', unit: '—', meaning: 'scale of the target-projection matrix' },
  { name: 'sigmaRec', spec: 'sigma_rec', legacy: ['-Sr', '-sigma_rec'], long: '--sigma-rec', unit: '—', meaning: 'scale of the initial recurrent matrix' },
  { name: 'vInit', spec: 'Vo', legacy: ['-Vo'], long: '--v-init', unit: 'a.u.', meaning: 'initial membrane potential' },
  { name: 'bias', spec: 'bias', legacy: ['-B', '-bias'], long: '--bias', unit: 'a.u.', meaning: 'constant external current' },
  { name: 'reset', spec: 'reset', legacy: ['-rst', '-reset'], long: '--reset', unit: 'a.u.', meaning: 'reset current after a spike' },
  { name: 'thr', spec: 'thr', legacy: [], long: '--thr', unit: 'a.u.', meaning: 'spike threshold' },
  { name: 'dt', spec: 'dt', legacy: ['-dt'], long: '--dt', unit: 's', meaning: 'time step' },
  { name: 'seed', spec: 'seed', legacy: [], long: '--seed', unit: '—', meaning: 'seed of the random generator (reported when drawn)' },
  { name: 'dtype', spec: 'dtype', legacy: [], long: '--dtype', unit: '—', meaning: 'float32 or float64 arithmetic' },
] as ParamDoc[]).map((d) => Object.freeze({ ...d, legacy: Object.freeze([...d.legacy]) })));

/** A parameter's library name from its SPEC.md name (`n_rec` → `nRec`), as fixtures and rows hold them. */
export const paramBySpec: ReadonlyMap<string, ParamName> = new Map(paramDocs.map((d) => [d.spec, d.name]));

/** Largest N (and every other size) accepted: far beyond memory, far below int64 overflow. */
export const MAX_SIZE = 1 << 20;

/**
 * Most recurrent epochs in one run: each keeps an MSE and a ΔZ in JavaScript arrays (and in
 * `--json` text), which V8 cannot grow without bound; 1000 times the paper's 10,000.
 */
export const MAX_RECURRENT_EPOCHS = 10_000_000;

/** The largest seed: every integer up to it is exact in a double (2^53 − 1). */
export const MAX_SEED = Number.MAX_SAFE_INTEGER;

/** The largest float32. */
export const FLT_MAX = 3.4028234663852886e38;
/** True when x rounds to ±∞ in float32 (3.4028235e38, as FLT_MAX is usually written, rounds to FLT_MAX). */
export const beyondFloat32 = (x: number): boolean => Math.abs(Math.fround(x)) === Infinity;

/** The parameters the engine computes with in the run's dtype (dt never reaches it: time constants are in units of dt). */
const FLOAT_PARAMS = ['recLr', 'outLr', 'tauM', 'tauS', 'tauO', 'sigmaInp', 'sigmaTrg', 'sigmaRec', 'vInit', 'bias', 'reset', 'thr'] as const;
/** The scales of the drawn matrices (each times a standard normal). */
export const SCALE_PARAMS = ['sigmaInp', 'sigmaTrg', 'sigmaRec'] as const;

/** How a parameter is named in messages: the library name unless a caller (the CLI) says otherwise. */
export type Labeller = (name: ParamName) => string;

/** A received value as a message shows it (strings quoted, so `"2"` is not mistaken for 2). */
export function show(value: unknown, depth = 0): string {
  // Bounded too: a megabyte of text passed by mistake is not repeated in full.
  if (typeof value === 'string') return visible(value.length > 100 ? `${JSON.stringify(value.slice(0, 100))}… (${value.length} characters)` : JSON.stringify(value));
  if (Array.isArray(value)) {
    // Bounded: a message stays one short line, even for a huge or self-containing array.
    if (depth >= 2) return 'an array';
    const head = value.slice(0, 8).map((v) => show(v, depth + 1));
    return `[${head.join(', ')}${value.length > 8 ? `, … ${value.length} items` : ''}]`;
  }
  if (Object.is(value, -0)) return '-0'; // String(-0) is "0"
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (ArrayBuffer.isView(value)) return `${/^[AEIO]/.test(value.constructor.name) ? 'an' : 'a'} ${value.constructor.name}`;
  return typeof value;
}

/** A name as a message shows it: as it is when it looks like one, else quoted (a newline, a novel). */
export const showName = (name: string): string => (/^[\w$-]{1,64}$/.test(name) ? name : show(name));

/**
 * An epochs value read once, a pair by index (no iterator of the caller's runs): what is
 * checked is what is used. Anything else as it is, for the check to refuse.
 */
export const epochsOnce = (x: unknown): unknown => (Array.isArray(x) && x.length === 2 ? [x[0], x[1]] : x);

/** `value` as an integer in [lo, hi] (-0 as 0), or GOAL_INVALID_PARAM naming `name`: one message for every integer. */
export function checkInteger(name: ParamName, value: unknown, lo: number, hi: number, label: Labeller = (n) => n, orElse = ''): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < lo || value > hi) {
    throw new GoalError('GOAL_INVALID_PARAM', `${label(name)} must be an integer in [${lo}, ${hi}]${orElse} (got ${show(value)})`, name);
  }
  return value + 0;
}

/** The message of a value that is none of the accepted choices. */
export function notOneOf(label: string, choices: readonly string[], value: unknown): string {
  return `${label} must be one of ${choices.join(', ')} (got ${show(value)})`;
}

/**
 * ` (did you mean X?)` for a name at most two edits from one of `names` (case aside) and
 * nearer to it than to any other (`-Tx` is as near -Tm as -Ts: no guess), or ''.
 */
export function nearest(name: string, names: readonly string[]): string {
  const distance = (a: string, b: string) => {
    let row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      const next = [i];
      for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      row = next;
    }
    return row[b.length];
  };
  // A name cut short (-resam) means the one it begins, whatever the distances say (-reset).
  const begun = names.filter((n) => n.toLowerCase().startsWith(name.toLowerCase()));
  if (begun.length === 1) return ` (did you mean ${begun[0]}?)`;
  const scored = names.map((n) => [n, distance(n.toLowerCase(), name.toLowerCase())] as const);
  const [hit, d] = scored.reduce((a, b) => (b[1] < a[1] ? b : a));
  return d <= 2 && scored.filter(([, e]) => e === d).length === 1 ? ` (did you mean ${hit}?)` : '';
}

/**
 * The properties a call takes from `input`, each read once, so that what is checked is what is
 * used: its own enumerable ones (an unknown one among them is refused by the caller), and, as
 * a Web API reads its options, those of `known` names that it has otherwise (a class's getter
 * or method, a prototype's, a hidden one): ignored, a signal given so would not stop the run.
 * A function is called with `input` as `this`, as `input.onEpoch(…)` would be (a method).
 */
export function takeProperties(input: object, known: readonly string[]): Record<string, unknown> {
  const taken: Record<string, unknown> = { ...input };
  for (const key of known) if (!Object.hasOwn(taken, key) && key in input) taken[key] = (input as Record<string, unknown>)[key];
  for (const key of Object.keys(taken)) {
    const value = taken[key];
    if (typeof value === 'function') taken[key] = Function.prototype.bind.call(value, input);
  }
  return taken;
}

function suggest(key: string): string {
  const lower = key.toLowerCase().replace(/[_-]/g, '');
  const hit = paramDocs.find((d) => d.name.toLowerCase() === lower || d.spec.toLowerCase().replace(/_/g, '') === lower);
  return hit ? ` (did you mean ${hit.name}?)` : '';
}

/**
 * Applies the defaults to `input` and checks every value. Throws a GoalError
 * (code GOAL_INVALID_PARAM, `param` set) on the first bad value. Returns the warnings of
 * soft cases (SPEC: `feedback out` without a rank falls back to `spk`).
 */
export function resolveParams(
  input: Partial<Params>,
  label: Labeller = (n) => n,
): { params: ResolvedParams; warnings: string[] } {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new GoalError('GOAL_INVALID_PARAM', `params must be an object (got ${show(input)})`);
  }
  if (typeof label !== 'function') throw new GoalError('GOAL_INVALID_OPTION', `resolveParams(params, label): label must be a function (got ${show(label)})`);
  const own = takeProperties(input, Object.keys(defaults));
  for (const key of Object.keys(own)) {
    if (!Object.hasOwn(defaults, key)) throw new GoalError('GOAL_INVALID_PARAM', `unknown parameter ${showName(key)}${suggest(key)}`, key);
  }
  const given = (name: ParamName) => (Object.hasOwn(own, name) ? own[name] : undefined);
  const pick = (name: ParamName) => (given(name) === undefined ? (defaults as Record<string, unknown>)[name] : given(name));
  // A default that another value rules out (-N 1 with O's default 3) is said to be the default:
  // the user did not give it.
  const fail = (name: ParamName, expected: string, value: unknown): never => {
    const byDefault = given(name) === undefined ? ', its default' : '';
    throw new GoalError('GOAL_INVALID_PARAM', `${label(name)} must be ${expected} (got ${show(value)}${byDefault})`, name);
  };
  const integer = (name: ParamName, lo: number, hi = MAX_SIZE): number => checkInteger(name, pick(name), lo, hi, label);
  const real = (name: ParamName, kind: 'any' | 'positive' | 'nonnegative'): number => {
    const v = pick(name);
    const ok =
      typeof v === 'number' && Number.isFinite(v) && (kind === 'any' || (kind === 'positive' ? v > 0 : v >= 0));
    if (!ok) fail(name, kind === 'any' ? 'a finite number' : kind === 'positive' ? 'a finite number > 0' : 'a finite number ≥ 0', v);
    return v as number;
  };
  const oneOf = <T extends string>(name: ParamName, options: readonly T[]): T => {
    const v = pick(name);
    if (typeof v !== 'string' || !options.includes(v as T)) throw new GoalError('GOAL_INVALID_PARAM', notOneOf(label(name), options, v), name);
    return v as T;
  };

  const warnings: string[] = [];
  if (given('nRec') === undefined) throw new GoalError('GOAL_INVALID_PARAM', `${label('nRec')} is required (the number of recurrent units N)`, 'nRec');
  const nRec = integer('nRec', 1);
  const nInp = integer('nInp', 1);
  const nOut = integer('nOut', 1);
  if (nOut > nRec) fail('nOut', `an integer in [1, ${nRec}] (at most ${label('nRec')})`, nOut);
  const tSeq = integer('tSeq', 2);
  const epIn = pick('epochs');
  const ep = epochsOnce(epIn);
  const count = (x: unknown, hi: number) => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= hi;
  if (!Array.isArray(ep) || ep.length !== 2 || !count(ep[0], Number.MAX_SAFE_INTEGER) || !count(ep[1], MAX_RECURRENT_EPOCHS)) {
    fail('epochs', `two integers: readout epochs in [0, ${Number.MAX_SAFE_INTEGER}], recurrent epochs in [0, ${MAX_RECURRENT_EPOCHS}]`, ep);
  }
  const epochs = Object.freeze((ep as number[]).map((x) => x + 0)) as unknown as readonly [number, number]; // -0 → 0
  let rank: number | null = null;
  // A library caller may not know how to say LTTS; the CLI's flags have their own words for it.
  if (pick('rank') !== null) rank = checkInteger('rank', pick('rank'), nOut, nRec, label, label('rank') === 'rank' ? ', or null for LTTS' : '');
  let feedback = oneOf('feedback', FEEDBACKS);
  if (feedback === 'out' && rank === null) {
    warnings.push(`${label('feedback')} out needs a rank (${label('rank')}); using spk (LTTS) instead`);
    feedback = 'spk';
  }
  if (nInp > tSeq - 1) {
    // SPEC's clock: span = floor((T−1)/I) steps per unit, here 0.
    warnings.push(`${label('nInp')}=${nInp} clock units for ${label('tSeq')}=${tSeq}: each is on for ⌊(T−1)/I⌋ = 0 steps, so the network gets no input`);
  }
  let resample = pick('resample');
  if (typeof resample !== 'boolean') fail('resample', 'true or false', resample);
  if (resample && rank === null) {
    // As in the reference: LTTS's feedback is a fixed diagonal, drawn once.
    warnings.push(`${label('resample')} has no effect without a rank: LTTS's diagonal feedback is drawn once`);
    resample = false;
  }
  const recLrIn = pick('recLr');
  const recLr = recLrIn === null ? defaultRecLr(nRec) : real('recLr', 'nonnegative');
  const seedIn = pick('seed');
  const seed = seedIn === null ? null : checkInteger('seed', seedIn, 0, MAX_SEED, label);
  const params: ResolvedParams = {
    nRec,
    nInp,
    nOut,
    tSeq,
    epochs,
    rank,
    recLr,
    outLr: real('outLr', 'nonnegative'),
    feedback,
    resample: resample as boolean,
    tauM: real('tauM', 'positive'),
    tauS: real('tauS', 'positive'),
    tauO: real('tauO', 'positive'),
    sigmaInp: real('sigmaInp', 'nonnegative'),
    sigmaTrg: real('sigmaTrg', 'nonnegative'),
    sigmaRec: real('sigmaRec', 'nonnegative'),
    vInit: real('vInit', 'any'),
    bias: real('bias', 'any'),
    reset: real('reset', 'any'),
    thr: real('thr', 'any'),
    dt: real('dt', 'positive'),
    seed,
    dtype: oneOf('dtype', DTYPES),
  };
  if (params.dtype === 'float32') {
    // Past float32's largest value the engine would compute with ±∞, silently.
    for (const name of FLOAT_PARAMS) {
      if (beyondFloat32(params[name])) fail(name, `a number of float32's range, |x| ≤ ${FLT_MAX.toPrecision(5)} (with dtype float32)`, params[name]);
    }
  }
  // A scale times a drawn normal: past the dtype's range the network would start with ±∞, for
  // some seeds and not others; refused for all, before any draw.
  const most = (params.dtype === 'float32' ? FLT_MAX : Number.MAX_VALUE) / MAX_NORMAL;
  for (const name of SCALE_PARAMS) {
    if (params[name] > most) fail(name, `at most ${most.toPrecision(5)} with dtype ${params.dtype}, so that its normals (|g| < ${MAX_NORMAL}) stay within ${params.dtype}'s range`, params[name]);
  }
  return { params, warnings };
}

/** The params as SPEC.md (and the fixtures, and the stats of the reference) name them. */
export function specParams(p: ResolvedParams): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const d of paramDocs) out[d.spec] = p[d.name];
  return out;
}

/**
 * The paper's out_lr (0.0025 at N = 150) scaled by 150/N: the readout's gradient step grows
 * with N, and at the default it diverges from N ≈ 1200 on (2000 readout epochs, seeds 1–3:
 * N = 1200 converges, N = 1300 goes to NaN).
 */
export const scaledOutLr = (N: number): number => (defaults.outLr * 150) / N;

/** rec_lr when none is given (defaults.recLr is null): SPEC's 5/√N. */
export const defaultRecLr = (N: number): number => 5 / Math.sqrt(N);

/** A default as people read it (CLI help, README): the value, or what null stands for. */
export function describeDefault(name: ParamName): string {
  const v = (defaults as Record<string, unknown>)[name];
  switch (name) {
    case 'nRec': return 'required';
    case 'epochs': return defaults.epochs.join(' ');
    case 'rank': return 'none (LTTS)';
    case 'recLr': return '5/√N';
    case 'seed': return 'random';
    case 'resample': return 'off';
    default: return String(v);
  }
}

/** The parameter table of the README, generated from paramDocs and the defaults. */
export function parameterTable(): string {
  const rows = paramDocs.map((d) => {
    const flags = [...d.legacy, d.long].map((f) => `\`${f}\``).join(', ');
    return `| \`${d.name}\` | ${flags} | ${describeDefault(d.name)} | ${d.unit} | ${d.meaning} |`;
  });
  return ['| library | CLI flags | default | unit | meaning |', '|---|---|---|---|---|', ...rows].join('\n');
}
