// The training flags, declared once from paramDocs and shared by `goal train` and
// `goal sweep`, and their conversion into library params with flag-named messages.
import { Command, Option } from 'commander';
import { BACKENDS, type Backend } from '../backend';
import { GoalError } from '../errors';
import { describeDefault, paramDocs, resolveParams, type ParamName, type Params, type ResolvedParams } from '../params';

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

/** Adds one option per parameter (except those in `skip`) to `cmd`. */
export function addParamOptions(cmd: Command, skip: readonly ParamName[] = []): Command {
  for (const d of paramDocs) {
    if (skip.includes(d.name)) continue;
    const flags = paramFlags(d.name);
    const also = d.legacy.filter((f) => f.length > 2);
    const unit = d.unit && d.unit !== 'units' && d.unit !== 'epochs' && d.unit !== 'steps' ? ` [${d.unit}]` : '';
    cmd.addOption(new Option(flags, `${d.meaning}${unit} (default: ${describeDefault(d.name)})${also.length ? `; also ${also.join(', ')}` : ''}`));
  }
  return cmd;
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function usage(message: string, param?: string): never {
  throw new GoalError('GOAL_USAGE', message, param);
}

function toNumber(name: ParamName, text: unknown): number {
  if (typeof text !== 'string' || !NUMBER.test(text.trim())) usage(`${flagLabel(name)} expects a number (got ${JSON.stringify(text)})`, name);
  return Number(text);
}

/** Converts commander's option values (strings) into library params, unchecked. */
export function paramsFromOptions(opts: Record<string, unknown>, skip: readonly ParamName[] = []): Partial<Params> {
  const input: Record<string, unknown> = {};
  for (const d of paramDocs) {
    const v = opts[d.name];
    if (v === undefined || skip.includes(d.name)) continue;
    switch (d.name) {
      case 'epochs': {
        const list = v as string[];
        if (list.length !== 2) usage(`${flagLabel('epochs')} takes two integers, readout epochs and recurrent epochs (got ${list.join(' ')})`, 'epochs');
        input.epochs = list.map((x) => toNumber('epochs', x));
        break;
      }
      case 'rank':
        input.rank = /^(none|ltts)$/i.test(String(v)) ? null : toNumber('rank', v);
        break;
      case 'feedback':
      case 'dtype':
        input[d.name] = v;
        break;
      case 'resample':
        input.resample = v === true;
        break;
      default:
        input[d.name] = toNumber(d.name, v);
    }
  }
  return input as Partial<Params>;
}

/** Command-line options → checked params, with messages that name the flags. */
export function resolveOptions(opts: Record<string, unknown>): { params: ResolvedParams; warnings: string[] } {
  return resolveParams(paramsFromOptions(opts), flagLabel);
}

/**
 * Refuses values that follow no flag. commander would say only "too many arguments"; a bad
 * flag value before them (`-N -E 1 1`: -N took "-E") is the likelier cause, so it is named first.
 */
export function refuseStray(cmd: Command, opts: Record<string, unknown>, skip: readonly ParamName[] = []): void {
  if (!cmd.args.length) return;
  paramsFromOptions(opts, skip);
  usage(`unexpected argument ${JSON.stringify(cmd.args[0])}: a value without its flag (${flagLabel('epochs')} takes two values, every other flag one)`);
}

/** `--backend NAME` or `--gpu` (the paper's flag: the GPU when there is one, = auto). */
export function chosenBackend(opts: Record<string, unknown>, fallback: Backend): Backend {
  const b = opts.backend as string | undefined;
  if (b !== undefined && !BACKENDS.includes(b as Backend)) usage(`--backend must be one of ${BACKENDS.join(', ')} (got ${JSON.stringify(b)})`);
  if (opts.gpu && b !== undefined && b !== 'auto') usage(`--gpu asks for --backend auto; it contradicts --backend ${b}`);
  return opts.gpu ? 'auto' : ((b as Backend) ?? fallback);
}
