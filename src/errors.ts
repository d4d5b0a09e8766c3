/** The codes of GoalError (README, "The library", says when each comes). */
export type GoalErrorCode =
  | 'GOAL_INVALID_PARAM' | 'GOAL_INVALID_OPTION' | 'GOAL_USAGE' | 'GOAL_DEGENERATE_TASK' | 'GOAL_ENOMEM'
  | 'GOAL_NO_CUDA' | 'GOAL_BAD_FIXTURE' | 'GOAL_BAD_PATH' | 'GOAL_BAD_RESULTS' | 'GOAL_LOCKED' | 'GOAL_IO'
  | 'GOAL_CUDA' | 'GOAL_NO_ADDON' | 'GOAL_INVALID' | 'GOAL_INTERNAL' | 'GOAL_STATE' | 'GOAL_BUSY' | 'GOAL_ABORTED';

/** Every error goal-snn raises on purpose: a one-line message and a stable `code`. */
export class GoalError extends Error {
  readonly code: GoalErrorCode;
  /** The parameter (or option) at fault, by its library name (an unknown option: as given), when there is one. */
  readonly param?: string;

  constructor(code: GoalErrorCode, message: string, param?: string) {
    super(message);
    this.name = 'GoalError';
    this.code = code;
    if (param !== undefined) this.param = param;
  }
}

/**
 * Gives native errors (plain Errors with a GOAL_* `code`) our class, so callers test one
 * type, and so does V8's failure to allocate a typed array (a memory limit below what the
 * up-front check could see, e.g. `ulimit -v`); anything else (a throwing onEpoch callback,
 * say) passes through unchanged.
 */
export function asGoalError(err: unknown): unknown {
  if (err instanceof GoalError) return err;
  if (err instanceof RangeError && /allocation failed|Invalid typed array length|Array buffer/i.test(err.message)) {
    return new GoalError('GOAL_ENOMEM', `not enough memory for this network (${err.message}); try a smaller N or T, or raise the memory limit`);
  }
  const e = err as { code?: unknown; message?: unknown } | null;
  if (e && typeof e.code === 'string' && e.code.startsWith('GOAL_')) {
    return new GoalError(e.code as GoalErrorCode, typeof e.message === 'string' ? e.message : String(err));
  }
  return err;
}

/** Control, format (zero-width, bidirectional) and line-separating characters. */
const INVISIBLE = /[\p{Cc}\p{Cf}\u2028\u2029]/gu;

/**
 * `text` with its control and invisible characters escaped (\n, \u0007, \u200b, \u202e), so
 * that a message quoting what the user gave stays one line and shows what it holds.
 */
export function visible(text: string): string {
  return text.replace(INVISIBLE, (c) => {
    const json = JSON.stringify(c).slice(1, -1); // \n, \t, \u0001; the others come back as they are
    if (json.length > 1) return json;
    const code = c.codePointAt(0)!;
    return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
