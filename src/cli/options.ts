// The training flags, declared once from paramDocs and shared by `goal train` and
// `goal sweep`, and their conversion into library params with flag-named messages.
import { Command, Option } from 'commander';
import { BACKENDS, type Backend } from '../backend';
import { GoalError } from '../errors';
import { defaults, describeDefault, DTYPES, FEEDBACKS, notOneOf, paramDocs, resolveParams, type ParamName, type Params, type ResolvedParams } from '../params';

const doc = new Map(paramDocs.map((d) => [d.name, d]));

/** How a parameter is named on the command line: its first legacy spelling and its long option. */
export function flagLabel(name: ParamName): string {
  const d = doc.get(name)!;
  return d.legacy.length ? `${d.legacy[0]}/${d.long}` : d.long;
}

const VALUE: Partial<Record<ParamName, string>> = {
  nRec: '<n>', nInp: '<n>', nOut: '<n>', tSeq: '<n>', epochs: '<n...>', rank: '<R>', feedback: '<spk|out>', dtype: '<float32|float64>', seed: '<S>',
};

/** Whether a parameter's flag is a switch, taking no value. */
export const isSwitch = (name: ParamName): boolean => name === 'resample';

/** A parameter's flags as commander declares them: `-N, --n-rec <n>` (short one if any). */
export function paramFlags(name: ParamName): string {
  const d = doc.get(name)!;
  const short = d.legacy.find((f) => f.length === 2);
  return `${short ? `${short}, ` : ''}${d.long}${isSwitch(name) ? '' : ` ${VALUE[name] ?? '<x>'}`}`;
}

/**
 * The values of a flag given more than once, before the last (which counts, as with argparse):
 * each is still checked, so that a bad value is never dropped silently.
 */
const earlier = new WeakMap<Command, { name: ParamName; value: unknown }[]>();

/** The hidden option that an epochs flag before the last becomes (see rewriteLegacy). */
export const EARLIER_EPOCHS = '--epochs-before';

/** Adds one option per parameter (except those in `skip`) to `cmd`. */
export function addParamOptions(cmd: Command, skip: readonly ParamName[] = []): Command {
  const before: { name: ParamName; value: unknown }[] = [];
  earlier.set(cmd, before);
  for (const d of paramDocs) {
    if (skip.includes(d.name)) continue;
    const flags = paramFlags(d.name);
    const also = d.legacy.filter((f) => f.length > 2);
    const unit = d.unit && !['units', 'epochs', 'steps', '—'].includes(d.unit) ? ` [${d.unit}]` : '';
    const words = d.name === 'rank' ? `${d.meaning}; ltts (or none) for LTTS` : d.meaning;
    const option = new Option(flags, `${words}${unit} (default: ${describeDefault(d.name)})${also.length ? `; also ${also.join(', ')}` : ''}`);
    if (!isSwitch(d.name) && d.name !== 'epochs') {
      option.argParser((value: string, previous: unknown) => {
        if (previous !== undefined) before.push({ name: d.name, value: previous });
        return value;
      });
    }
    cmd.addOption(option);
  }
  // An epochs flag's values are a list: commander would join a repeated flag's lists.
  // rewriteLegacy turns an epochs flag before the last into EARLIER_EPOCHS=value for each of
  // its values and an empty one to end the list.
  cmd.addOption(new Option(`${EARLIER_EPOCHS} [n...]`).hideHelp().argParser((value: string, previous: unknown) => {
    const list = Array.isArray(previous) ? (previous as string[]) : [];
    if (value !== '') return [...list, value];
    before.push({ name: 'epochs', value: list });
    return undefined;
  }));
  return cmd;
}

/** How a rank flag (or a sweep's --ranks) says LTTS: no rank. */
export const LTTS_WORD = /^(ltts|none)$/i;

/** A number as a flag's value may write it: decimal, with an optional exponent (no hex, no NaN). */
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

export function usage(message: string, param?: string): never {
  throw new GoalError('GOAL_USAGE', message, param);
}

/**
 * A file flag given `-`: to many tools that is standard output, to the file system a file named
 * "-". Neither guess is safe, so it is refused, saying how to get the file.
 */
export function notDash(flag: string, value: string | undefined, why: string): void {
  if (value === '-') usage(`${flag} -: not standard output (${why}); give a file name (./- for a file named "-")`);
}

/** Words that Number() and other tools read as a number but no parameter can take. */
const NON_FINITE = /^[+-]?(inf(inity)?|nan)$/i;

/**
 * `text` as a number, or a usage error: `${flag} expects ${expects} (got "…")`, quoted as typed
 * (past a double's range it would read as Infinity, below it as 0), with why when it looks like
 * a number. `expects` may be a function: worked out only for the message.
 */
export function parseNumber(flag: string, text: unknown, expects: string | (() => string), param?: string): number {
  const what = () => (typeof expects === 'string' ? expects : expects());
  const bad = (why = '') => usage(`${flag} expects ${what()} (got ${JSON.stringify(text)}${why})`, param);
  if (typeof text !== 'string') return bad();
  const trimmed = text.trim();
  if (!NUMBER.test(trimmed)) return bad(NON_FINITE.test(trimmed) ? ', which is not finite' : '');
  const x = Number(text);
  if (!Number.isFinite(x)) bad(", past a double's range, ±1.8e308");
  // Nonzero digits that read as 0: 1e-400 is no learning rate of 0 the user meant.
  if (x === 0 && /[1-9]/.test(text.replace(/[eE].*$/, ''))) bad(", below a double's smallest, 4.9e-324: it would read as 0");
  // Past 2^53 an integer as written is no longer the number read: quoted as typed, not rounded.
  if (!Number.isSafeInteger(x) && /^[+-]?\d+$/.test(trimmed) && /integer/.test(what())) {
    bad(`, past ${Number.MAX_SAFE_INTEGER}${BigInt(trimmed) === BigInt(x) ? '' : `: it would read as ${x}`}`);
  }
  return x;
}

function toNumber(name: ParamName, text: unknown, expects: string | (() => string) = () => accepts(name)): number {
  return parseNumber(flagLabel(name), text, expects, name);
}

/**
 * What a parameter accepts, in the words of its own check (`an integer in [1, 1048576]`), so
 * that a word where a number belongs is told the range at once: the check itself, given NaN.
 */
function accepts(name: ParamName): string {
  try {
    resolveParams({ nRec: 1000, [name]: name === 'epochs' ? [NaN, NaN] : NaN });
  } catch (err) {
    const said = err instanceof GoalError && err.param === name ? /^\S+ must be (.*) \(got \[?NaN/.exec(err.message) : null;
    if (said) return said[1];
  }
  return 'a number';
}

/** One flag's value (strings, from commander) as the library param, unchecked. */
function fromOption(name: ParamName, v: unknown): unknown {
  switch (name) {
    case 'epochs': {
      const list = v as string[];
      // One word holding both ("5 5" quoted, 5,5): what to type instead.
      const split = list.length === 1 ? list[0].split(/[\s,]+/).filter(Boolean) : [];
      const hint = split.length === 2 ? `; give them as two words: ${flagLabel('epochs').split('/')[0]} ${split.join(' ')}` : '';
      if (list.length !== 2) usage(`${flagLabel('epochs')} takes two integers, readout epochs and recurrent epochs (got ${list.length ? list.map((x) => (/^\S+$/.test(x) ? x : JSON.stringify(x))).join(' ') : 'none'})${hint}`, 'epochs');
      return list.map((x) => toNumber('epochs', x));
    }
    case 'rank':
      return LTTS_WORD.test(String(v)) ? null : toNumber('rank', v, 'a number, or ltts (or none) for LTTS');
    case 'feedback':
    case 'dtype': {
      // Checked here too, so that `-F -E 1 1` (-F took "-E") names -F, not the stray "1".
      const choices: readonly string[] = name === 'feedback' ? FEEDBACKS : DTYPES;
      if (!choices.includes(v as string)) usage(notOneOf(flagLabel(name), choices, v), name);
      return v;
    }
    case 'resample':
      return v === true;
    default:
      return toNumber(name, v);
  }
}

/** Converts commander's option values (strings) into library params, unchecked. */
export function paramsFromOptions(opts: Record<string, unknown>, skip: readonly ParamName[] = []): Partial<Params> {
  const input: Record<string, unknown> = {};
  for (const d of paramDocs) {
    const v = opts[d.name];
    if (v !== undefined && !skip.includes(d.name)) input[d.name] = fromOption(d.name, v);
  }
  return input as Partial<Params>;
}

/**
 * Checks the values of flags given more than once, before the last: each as if it had been
 * the only one (the other flags at their final values). Errors about other flags are left to
 * the full check that follows.
 */
function checkEarlier(cmd: Command, opts: Record<string, unknown>, skip: readonly ParamName[]): void {
  const list = earlier.get(cmd) ?? [];
  if (!list.length) return;
  const input = paramsFromOptions(opts, skip);
  // A sweep's grid sets these per point: any value in range stands in for them here.
  const stand = Object.fromEntries(skip.map((n) => [n, n === 'rank' ? null : n === 'seed' ? 1 : (defaults as Record<string, unknown>)[n]]));
  for (const { name, value } of list) {
    try {
      resolveParams({ ...stand, ...input, [name]: fromOption(name, value) }, flagLabel);
    } catch (err) {
      if (err instanceof GoalError && err.param === name) throw err;
    }
  }
}

/** Command-line options → checked params, with messages that name the flags. */
export function resolveOptions(opts: Record<string, unknown>): { params: ResolvedParams; warnings: string[] } {
  return resolveParams(paramsFromOptions(opts), flagLabel);
}

/**
 * What commander leaves unchecked: the values of a flag given before its last (each must be
 * valid too), and values that follow no flag. For those commander would say only "too many
 * arguments"; a bad flag value before them (`-N -E 1 1`: -N took "-E") is the likelier cause,
 * so it is named first (a number, a choice or --backend).
 */
export function checkArgs(cmd: Command, opts: Record<string, unknown>, skip: readonly ParamName[] = []): void {
  checkEarlier(cmd, opts, skip);
  if (!cmd.args.length) return;
  paramsFromOptions(opts, skip);
  chosenBackend(opts, 'auto'); // `--backend -E 1 1`: --backend took "-E"
  // `--threads --out F`: commander gave --threads the next flag, and F was left over.
  for (const o of cmd.options) {
    const v = opts[o.attributeName()];
    const flag = typeof v === 'string' ? cmd.options.find((x) => x.long === v.split('=')[0] || x.short === v) : undefined;
    if (flag) usage(`${o.long} needs a value, not the flag "${v}"`);
  }
  const arg = cmd.args[0];
  // `goal train help`: help as a word, as some commands take it.
  if (arg === 'help') usage(`unexpected argument "help": for help, ${cmd.parent ? `${cmd.parent.name()} ` : ''}${cmd.name()} --help`);
  usage(`unexpected argument ${JSON.stringify(arg)}: a value without its flag (${flagLabel('epochs')} takes two values, every other flag one)`);
}

/**
 * An option of ours (not the paper's) that takes one value: given twice, it is refused, as
 * which one was meant is a guess. (A parameter's flag may repeat, as argparse allowed: the last
 * counts, every value checked.)
 */
export function once(option: Option): Option {
  return option.argParser((value: string, previous: unknown) => {
    if (previous !== undefined) usage(`${option.long} is given twice (${JSON.stringify(previous)} and ${JSON.stringify(value)}): give it once`);
    return value;
  });
}

/** `--backend NAME` or `--gpu` (the paper's flag: the GPU when there is one, = auto). */
export function chosenBackend(opts: Record<string, unknown>, fallback: Backend): Backend {
  const b = opts.backend as string | undefined;
  if (b !== undefined && !BACKENDS.includes(b as Backend)) usage(notOneOf('--backend', BACKENDS, b));
  // --gpu with --backend cuda asks for the GPU twice: the explicit cuda (no fallback) stands.
  if (opts.gpu && b === 'cpu') usage('--gpu asks for the GPU; it contradicts --backend cpu');
  return (b as Backend | undefined) ?? (opts.gpu ? 'auto' : fallback);
}
