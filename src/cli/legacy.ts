// The paper's command line used argparse with single-dash multi-letter flags (-n_rec, -Rlr,
// -Tm, -savepath) and --V. commander cannot declare those, so before parsing we rewrite
// each such token, when it is one we know, into the long option it stands for.
import { GoalError } from '../errors';
import { FEEDBACKS, nearest, paramDocs } from '../params';
import { EARLIER_EPOCHS, isSwitch, LTTS_WORD } from './options';

/** Legacy spelling → long option, for every flag commander cannot take as it is. */
export const LEGACY: ReadonlyMap<string, string> = new Map([
  ...paramDocs.flatMap((d) => d.legacy.filter((f) => f.length > 2).map((f) => [f, d.long] as [string, string])),
  ['-savepath', '--savepath'],
  ['--V', '--verbose'],
]);

const SHORT = new Set(paramDocs.flatMap((d) => d.legacy.filter((f) => f.length === 2)));

/** Every spelling of the epochs flag, the one option that takes two values. */
const EPOCHS = new Set(paramDocs.filter((d) => d.name === 'epochs').flatMap((d) => [...d.legacy, d.long]));

/** The epochs flag's one-letter spelling (-E). */
const SHORT_EPOCHS = [...EPOCHS].find((f) => f.length === 2)!;

/** Options whose value is a path. */
const PATH_OPTIONS = new Set(['--savepath', '--replay', '--out']);

/** Flags that take a value, as they stand after rewriting: `-rst -inf` is a bad value, not an unknown flag. */
export const TAKES_VALUE: ReadonlySet<string> = new Set([
  ...paramDocs.filter((d) => !isSwitch(d.name)).flatMap((d) => [d.long, ...d.legacy.filter((f) => f.length === 2)]),
  ...PATH_OPTIONS,
  '--backend', '--ranks', '--taus', '--seeds', '--shard', '--threads', '--batch', '--conv',
]);

/**
 * The legacy flag a token starts with when its value is stuck to it (`-Tm7`, `-Rlr0.5`), which
 * argparse refuses too; commander would read `-Tm7` as `-T m7`. The longest such flag, if any.
 */
function gluedLegacy(token: string): string | undefined {
  let found: string | undefined;
  for (const flag of LEGACY.keys()) {
    if (flag.startsWith('--') || token.length <= flag.length || !token.startsWith(flag)) continue;
    if (flag === '-savepath' || /^[-+.\d]/.test(token.slice(flag.length))) {
      if (!found || flag.length > found.length) found = flag;
    }
  }
  return found;
}

/**
 * One-letter flags whose values are words, which argparse takes glued as well (`-Fout`,
 * `-Rltts`): the words, so that `-Fx` stays an unknown option rather than a bad value.
 */
const WORD_VALUES: ReadonlyMap<string, RegExp> = new Map([['-F', new RegExp(`^(${FEEDBACKS.join('|')})$`)], ['-R', LTTS_WORD]]);

/** Every single-dash spelling we take, for suggestions. */
const SINGLE_DASH = [...LEGACY.keys(), ...SHORT].filter((f) => !f.startsWith('--'));

/**
 * The paper's flag that `--Tm`, `--rlr`, `--vo` (a single-dash one given two dashes, any case),
 * `--N` (a one-letter one given two dashes, in its case: `--o` is as likely `--out`) or `--v`
 * (`--V` in another case) stands for, and its long option (`-Tm`, `--tau-m`).
 * Undefined for anything else.
 */
export function legacyMeant(flag: string): { flag: string; long: string } | undefined {
  if (!/^--[^-]/.test(flag)) return undefined;
  const lower = flag.toLowerCase();
  const found = [...LEGACY.keys()].find((f) => f !== flag && (f.toLowerCase() === lower || f.toLowerCase() === lower.slice(1))) ??
    [...SHORT].find((f) => f === flag.slice(1));
  const long = found && (LEGACY.get(found) ?? paramDocs.find((d) => d.legacy.includes(found))?.long);
  return long ? { flag: found, long } : undefined;
}

/**
 * Rewrites legacy tokens (also `-flag=value`, as argparse accepts) up to a `--` terminator.
 * A single-dash word that is no flag of ours (`-Tx`) is refused here: commander would read
 * it as `-T x`.
 */
export function rewriteLegacy(argv: readonly string[], typed?: Map<string, string>): string[] {
  const out: string[] = [];
  // What each rewritten token was, so that messages can quote the user's own spelling.
  // The last spelling of a flag is the one a message about it quotes.
  const rewrite = (token: string, from: string) => {
    typed?.set(token, from);
    return token;
  };
  let epochsAt = -1; // where the last epochs flag is in `out`
  let epochsName = ''; // and how it was typed
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    if (token.startsWith(EARLIER_EPOCHS)) throw new GoalError('GOAL_USAGE', `unknown option '${token}'`); // ours alone
    if (i > 0 && PATH_OPTIONS.has(out[out.length - 1])) {
      // As argparse does: `-savepath --json` forgot the file name (it would write "--json").
      if (token.length > 1 && token.startsWith('-')) {
        throw new GoalError('GOAL_USAGE', `${argv[i - 1]} needs a file name, not the flag ${JSON.stringify(token)} (a file whose name starts with "-": write ./${token})`);
      }
      out.push(token);
      continue;
    }
    if (token === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const eq = token.indexOf('=');
    // `-E5 3` is `-E 5 3`, as `-N30` is `-N 30` (commander would give -E the 5 alone).
    const glued = token.startsWith(SHORT_EPOCHS) && /^[-+.\d]/.test(token.slice(2));
    const name = glued ? SHORT_EPOCHS : eq > 0 ? token.slice(0, eq) : token;
    if (EPOCHS.has(name) && TAKES_VALUE.has(out[out.length - 1]) && !EPOCHS.has(out[out.length - 1])) {
      // `-N -E 1 1`: the flag before it lacks its value; commander reports this word as it.
      out.push(token);
      continue;
    }
    if (EPOCHS.has(name)) {
      // commander would add a repeated -E's values to the first's: the last -E counts, as any
      // other repeated flag does; `--epochs=5 5` is `--epochs 5 5`.
      if (epochsAt >= 0) {
        // The earlier flag and its two values at most (anything after them stays, to be
        // refused) become a hidden option, checked (see checkArgs) and then dropped.
        let end = epochsAt + 1;
        while (end < out.length && end - epochsAt <= 2 && !/^-[^\d.]/.test(out[end])) end++;
        const values = out.slice(epochsAt + 1, end);
        out.splice(epochsAt, end - epochsAt, ...[...values, ''].map((v) => rewrite(`${EARLIER_EPOCHS}=${v}`, epochsName)));
      }
      epochsAt = out.length;
      epochsName = name;
      out.push(rewrite('--epochs', name), ...(glued ? [token.slice(2)] : eq > 0 ? [token.slice(eq + 1)] : []));
      continue;
    }
    const long = LEGACY.get(name);
    const stuck = long ? undefined : gluedLegacy(token);
    if (stuck) throw new GoalError('GOAL_USAGE', `${token}: write ${stuck} ${token.slice(stuck.length)} (a space between the flag and its value)`);
    if (long) out.push(rewrite(long + (eq > 0 ? token.slice(eq) : ''), token));
    else if (eq > 0 && SHORT.has(name)) out.push(name, token.slice(eq + 1));
    else if (/^-[A-Za-z][A-Za-z_]+$/.test(name) && !TAKES_VALUE.has(out[out.length - 1])) {
      // `-Fout=spk` is no glued word: argparse reads it as -F "out=spk", a bad value.
      const words = WORD_VALUES.get(name.slice(0, 2));
      if (words && (eq > 0 || words.test(name.slice(2)))) out.push(rewrite(name.slice(0, 2), token), token.slice(2));
      else {
        // A long option cut short and given one dash (-resam) means that option (--resample).
        const cut = paramDocs.filter((d) => d.long.startsWith(`-${name}`));
        const hint = cut.length === 1 ? ` (did you mean ${cut[0].long}?)` : nearest(name, SINGLE_DASH);
        throw new GoalError('GOAL_USAGE', `unknown option '${name}'${hint}`);
      }
    }
    else out.push(token.startsWith('-') ? rewrite(token, token) : token);
  }
  return out;
}

/**
 * The first word of a command line (after its subcommand) that is neither a flag nor a flag's
 * value: `merge` in `goal sweep --out F merge a b`, but not in `goal sweep --out merge`.
 */
export function firstWord(argv: readonly string[]): string | undefined {
  let words: readonly string[] = argv;
  try {
    words = rewriteLegacy(argv);
  } catch {
    // a bad flag: the words as typed
  }
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (w === '--') return words[i + 1];
    if (!w.startsWith('-') || w === '-') return w;
    if (!w.includes('=') && TAKES_VALUE.has(w)) i += EPOCHS.has(w) ? 2 : 1;
  }
  return undefined;
}
