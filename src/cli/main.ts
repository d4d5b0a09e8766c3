// The `goal` command: subcommands, the legacy-flag rewrite, and one policy for failures:
// a short message on stderr, exit 2 for bad input, 1 for failures at run time, never a stack.
import { Command, CommanderError } from 'commander';
import { GoalError, visible } from '../errors';
import { version } from '../info';
import { infoCommand } from './info';
import { commandDone, processIo, type Io } from './io';
import { firstWord, legacyMeant, rewriteLegacy } from './legacy';
import { sweepCommand } from './sweep';
import { trainCommand } from './train';

/** Codes of errors that come from what the user asked for: exit status 2. */
const USER_ERRORS = new Set([
  'GOAL_USAGE', 'GOAL_INVALID_PARAM', 'GOAL_BAD_FIXTURE', 'GOAL_BAD_PATH', 'GOAL_ENOMEM',
  'GOAL_NO_CUDA', 'GOAL_DEGENERATE_TASK', 'GOAL_INVALID', 'GOAL_BAD_RESULTS', 'GOAL_INVALID_OPTION', 'GOAL_LOCKED',
]);

function program(io: Io): Command {
  const root = new Command('goal')
    .description('GOAL: train recurrent spiking networks with error- or target-based feedback')
    .version(version(), '--version', 'print the version')
    .enablePositionalOptions();
  const train = trainCommand(io);
  for (const cmd of [train, sweepCommand(io), infoCommand(io)]) root.addCommand(cmd);
  // Users of the paper's script know one command: its flags, with their defaults, are in the
  // first help they ask for.
  root.addHelpText('after', () => {
    const help = train.helpInformation();
    return `\nOptions of goal train (goal sweep --help lists the sweep's):\n${help.slice(help.indexOf('Options:\n') + 'Options:\n'.length)}`;
  });
  for (const cmd of [root, ...commandsOf(root)]) {
    cmd.exitOverride().configureOutput({
      writeOut: (s) => io.out(s),
      writeErr: (s) => io.err(s),
      outputError: () => {}, // reported once, below, in our own words
    });
  }
  return root;
}

/** Every command under `root`, subcommands of subcommands too. */
function commandsOf(root: Command): Command[] {
  return root.commands.flatMap((c) => [c, ...commandsOf(c)]);
}

export async function main(argv: readonly string[], io: Io = processIo()): Promise<number> {
  const code = await command(argv, io);
  commandDone();
  // A signal that came during the last synchronous stretch (a merge, a file written) waits in
  // the event loop's signal pipe, which a process that simply ends never reads: one more turn
  // of the loop hears it, and the process ends as the signal says, its work complete.
  await new Promise((resolve) => setImmediate(resolve));
  return code;
}

async function command(argv: readonly string[], io: Io): Promise<number> {
  const root = program(io);
  if (argv.length === 0) {
    io.err('goal: a command is needed: train, sweep or info\n(see goal --help)\n');
    return 2;
  }
  // Messages name the (sub)command they are about; an unknown command is the root's error.
  const sub = root.commands.find((c) => c.name() === argv[0]);
  // `goal help help`, as git and npm take it: the help of help, which is goal's own.
  if (argv[0] === 'help' && argv[1] === 'help') return command(['--help'], io);
  if (argv[0] === 'help' && argv.length > 1 && !root.commands.some((c) => c.name() === argv[1])) {
    io.err(`goal: unknown command '${visible(argv[1])}'\n(see goal --help)\n`);
    return 2;
  }
  const word = firstWord(argv.slice(1));
  const subsub = sub?.commands.find((c) => c.name() === word); // `goal sweep --out F merge …` too
  const where = !sub ? 'goal' : subsub ? `goal ${argv[0]} ${subsub.name()}` : `goal ${argv[0]}`;
  const typed = new Map<string, string>();
  // A message quotes a flag as the user typed it (`--V=1`, not the `--verbose=1` it became).
  const asTyped = (message: string) => {
    for (const [rewritten, original] of typed) {
      // `'--rec-lr'`, and commander's `'--rec-lr <x>'` and `'-N, --n-rec <n>'` (a missing value)
      for (const q of ['\'', '"']) {
        for (const end of [q, ' ']) {
          message = message.split(`${q}${rewritten}${end}`).join(`${q}${original}${end}`);
          message = message.replace(new RegExp(`${q}-[A-Za-z], ${rewritten}${end}`, 'g'), `${q}${original}${end}`);
        }
      }
    }
    return message;
  };
  let args: string[];
  try {
    args = rewriteLegacy(argv, typed);
  } catch (err) {
    // A flag we cannot read, as commander's own: with where to look.
    if (!(err instanceof GoalError)) throw err;
    io.err(`${where}: ${visible(err.message)}\n(see ${where} --help)\n`);
    return 2;
  }
  try {
    await root.parseAsync(args, { from: 'user' });
    return io.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(err.code)) return 0;
      // `goal -N 150`, `goal train --seeds 3`: a flag of another command, which commander would
      // take for a misspelling of one of this command's.
      const flag = err.code === 'commander.unknownOption' ? /'([^']+)'/.exec(err.message)?.[1] : undefined;
      const here = subsub ?? sub ?? root;
      // `--verbose=1`: commander reads it as an unknown flag; it is a known switch given a value.
      const name = flag?.split('=')[0];
      const switched = flag?.includes('=') && here.options.find((o) => o.long === name && !o.required && !o.optional);
      if (switched) {
        const given = typed.get(flag!) ?? flag!; // `--V=1` as typed, not the `--verbose=1` it became
        io.err(`${where}: option '${given.split('=')[0]}' is a switch and takes no value (got '${given}')\n(see ${where} --help)\n`);
        return 2;
      }
      const owners = flag === undefined ? []
        : commandsOf(root).filter((c) => c !== here && c.options.some((o) => o.short === flag || o.long === name));
      // What commander quotes of the command line ('--bo\ngus') stays on the message's one line;
      // its own second line is a guess at what was meant.
      let said = asTyped(err.message.replace(/^error: /, '')).split(/\n(?=\(Did you mean )/).map(visible).join('\n');
      // `-E` as the last word: say what the flag takes, in its help's words.
      const lacking = err.code === 'commander.optionMissingArgument' ? here.options.find((o) => err.message.includes(`'${o.flags}'`)) : undefined;
      if (lacking?.description) said = `${said}: ${lacking.description.replace(/; also .*$/s, '')}`;
      // A flag cut short (--resam) means the one it begins, not commander's nearest (--reset);
      // another command's whole flag (--out) is said to be that.
      const begun = name === undefined || owners.length ? [] : here.options.filter((o) => o.long?.startsWith(name) && !o.hidden);
      if (begun.length === 1) said = `${said.split('\n')[0]}\n(Did you mean ${begun[0].long}?)`;
      // The paper's flag with a dash too many (--Tm, --St): commander guesses nothing, or a long
      // option merely near it (--dt).
      const meant = name === undefined || owners.length ? undefined : legacyMeant(name);
      if (meant && here.options.some((o) => o.long === meant.long && !o.hidden)) said = `${said.split('\n')[0]}\n(Did you mean ${meant.flag} (${meant.long})?)`;
      if (owners.length) {
        const names = owners.map((c) => `goal ${c.parent !== root ? `${c.parent!.name()} ` : ''}${c.name()}`);
        const usage = here === root ? ` (${names[0]} ${/'([^']+)'/.exec(said)?.[1]} …)` : '';
        // Commander's one guess at a misspelling (--seeds: --seed?) may still be what was meant.
        const guess = /\(Did you mean (-\S+)\?\)/.exec(said)?.[1];
        said = `${said.split('\n')[0]}: an option of ${names.join(' and ')}${usage}${guess ? ` (or did you mean ${guess}?)` : ''}`;
      }
      io.err(`${where}: ${said}\n(see ${where} --help)\n`);
      return 2;
    }
    if (err instanceof GoalError) {
      // Our messages are one line: what they quote of the user's stays so, and shows what it holds.
      io.err(`${where}: ${visible(asTyped(err.message))}\n`);
      return USER_ERRORS.has(err.code) ? 2 : 1;
    }
    const e = err as Error;
    io.err(`${where}: unexpected failure: ${e?.message ?? String(err)}\n`);
    if (process.env.GOAL_DEBUG) io.err(`${e?.stack}\n`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code || process.exitCode || 0; // a failed write to stdout set it to 1
  });
}
