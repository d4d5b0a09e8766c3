// Where the CLI writes and how it hears Ctrl-C: the process by default, something else in tests.
import * as fs from 'node:fs';
import { releaseLocks } from '../io/lock';

/** The signals that end a run at once, its last words said. */
export type EndSignal = 'SIGINT' | 'SIGTERM' | 'SIGHUP';

const STATUS: Record<EndSignal, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

/** What the last words call each end. */
export const ENDED: Record<EndSignal, string> = { SIGINT: 'quit', SIGTERM: 'terminated', SIGHUP: 'hung up' };

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** For progress bars (they need to know whether it is a terminal). */
  stderr: NodeJS.WriteStream;
  /**
   * Calls `handler` on the first Ctrl-C (the run then stops after the epochs in progress). On a
   * second Ctrl-C (not the echo of the first, see SAME_INTERRUPT_MS), on SIGTERM (a batch
   * system's time limit) or SIGHUP (the terminal closed), releases the process's file locks,
   * calls `quit` (synchronous last words, see writeNow) and ends the process as soon as they are
   * written, as the signal does (status 130, 143 or 129 in a shell). Returns the unsubscribe
   * function.
   */
  onInterrupt(handler: () => void, quit?: (signal: EndSignal) => void): () => void;
  exitCode: number;
}

/**
 * Writes to `stream` until its reader goes away (`goal … | head`): then further output is
 * dropped, and the run still finishes its work (the stats file included) instead of dying on
 * EPIPE. Any other failure to write stdout (a full disk behind `> file`) is one line on stderr
 * and exit status 1, not a stack trace.
 */
function writer(stream: NodeJS.WriteStream, name: string, fd: number): (text: string) => void {
  let closed = false;
  stream.on('error', (err: NodeJS.ErrnoException) => {
    closed = true;
    // A broken stderr only loses messages: the run's status stands.
    if (err.code === 'EPIPE' || stream === process.stderr) return;
    process.exitCode = 1;
    process.stderr.write(`goal: cannot write to ${name}: ${err.message}\n`);
  });
  return (text) => {
    if (closed) return;
    if (!ending) stream.write(text);
    else closed = !writeNow(fd, text);
  };
}

/** How long last words wait for a pipe's reader that takes nothing. */
const STALLED_MS = 5_000;
/** Set by end(): what the writers write from then on, they write at once (writeNow). */
let ending = false;

/**
 * Writes `text` to `fd` before returning, for the last words: the process ends right after
 * them, and libuv writes to a pipe asynchronously, so all but the pipe's buffer (64 KiB: a long
 * run's --json object) would be lost. A reader that takes nothing for STALLED_MS loses the
 * rest (and meanwhile further signals wait). Output still queued for a slow reader before the
 * last words (progress lines on a pipe) may be lost: it is not ours to flush synchronously.
 * False when the reader is gone (EPIPE) or the write fails.
 */
function writeNow(fd: number, text: string): boolean {
  const bytes = Buffer.from(text);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  let taken = Date.now();
  for (let at = 0; at < bytes.length;) {
    try {
      at += fs.writeSync(fd, bytes, at);
      taken = Date.now();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || Date.now() - taken > STALLED_MS) return false;
      Atomics.wait(pause, 0, 0, 1); // the pipe is full: 1 ms for its reader
    }
  }
  return true;
}

/** Signals closer than this are one interrupt (no person presses Ctrl-C twice that fast). */
const SAME_INTERRUPT_MS = 200;

/** Bytes written to stdout and stderr that libuv still holds for a pipe's slow reader. */
function queued(): number {
  return [process.stdout, process.stderr].reduce((n, s) => n + (s.destroyed ? 0 : s.writableLength), 0);
}

/** Set by commandDone(): the command has returned, its output written (if not yet read). */
let done = false;
/** When a signal's end began waiting for queued output (0: it is not waiting). */
let drainingSince = 0;

/** Tells the signal handlers that the command has returned: see end(). */
export function commandDone(): void {
  done = true;
}

/**
 * Ends the process as `signal` would, its file locks released, after `quit`'s last words. Once
 * the command has returned (its output written, e.g. a long --json object going to a slow pipe),
 * output still queued is first let through, so that a reader gets the whole of it, unless the
 * reader takes nothing for STALLED_MS or another signal comes (one not SAME_INTERRUPT_MS
 * after the first: timeout signals the process and then its group).
 */
function end(signal: EndSignal, quit?: (signal: EndSignal) => void): void {
  // The locks first: last words may wait for a slow reader, and a supervisor's SIGKILL may come
  // meanwhile (nothing is appended now: this handler holds the only JavaScript thread).
  releaseLocks();
  if (drainingSince && Date.now() - drainingSince < SAME_INTERRUPT_MS) return;
  if (done && !drainingSince && queued() > 0) {
    drainingSince = Date.now();
    let left = queued(), taken = Date.now();
    const poll = setInterval(() => {
      const now = queued();
      if (now < left) [left, taken] = [now, Date.now()];
      if (now === 0 || Date.now() - taken > STALLED_MS) {
        clearInterval(poll);
        die(signal);
      }
    }, 5);
    return;
  }
  ending = true;
  quit?.(signal);
  die(signal);
}

function die(signal: EndSignal): never {
  // process.exit() would wait for the native call in progress (libuv joins its worker threads
  // on the way out): the signal's default action ends the process now. As PID 1 of a
  // container, the kernel ignores it; then exit the slow way.
  for (const s of Object.keys(STATUS)) process.removeAllListeners(s);
  process.kill(process.pid, signal);
  process.exit(STATUS[signal]);
}

/** Runs subscribed through onInterrupt, in this process. */
let listening = 0;
let guarded = false;

/**
 * While no run listens (before it starts, during a merge), a signal still ends the process at
 * once, but from a listener: between two synchronous steps, never inside one, so that a write
 * check's probe or an atomic write's temporary file is not left behind. Once per process.
 */
function guard(): void {
  if (guarded) return;
  guarded = true;
  for (const s of Object.keys(STATUS) as EndSignal[]) {
    process.on(s, () => {
      if (listening === 0) end(s);
    });
  }
}

export function processIo(): Io {
  guard();
  return {
    out: writer(process.stdout, 'stdout', 1),
    err: writer(process.stderr, 'stderr', 2),
    stderr: process.stderr,
    onInterrupt(handler, quit) {
      let first = 0;
      const terminate = () => end('SIGTERM', quit);
      const hangup = () => end('SIGHUP', quit);
      const listener = () => {
        // A supervisor such as `timeout -s INT` signals the process and then its group: two
        // signals microseconds apart are one interrupt, not the second Ctrl-C of a user.
        if (first) {
          if (Date.now() - first >= SAME_INTERRUPT_MS) end('SIGINT', quit);
          return;
        }
        first = Date.now();
        // On a terminal, past the ^C echoed where a progress bar may stand.
        process.stderr.write(`${process.stderr.isTTY ? '\n' : ''}goal: stopping after the epochs in progress (Ctrl-C again to quit at once)\n`);
        handler();
      };
      listening++;
      process.on('SIGINT', listener);
      process.on('SIGTERM', terminate);
      process.on('SIGHUP', hangup);
      let on = true;
      return () => {
        if (!on) return;
        on = false;
        listening--;
        process.off('SIGINT', listener);
        process.off('SIGTERM', terminate);
        process.off('SIGHUP', hangup);
      };
    },
    exitCode: 0,
  };
}
