// Which engine runs a network: the user's choice, checked against what this build and
// this machine offer.
import { GoalError } from './errors';
import { nativeInfo } from './native';
import { notOneOf } from './params';
import type { NativeBackend } from '../binding';

export type Backend = 'auto' | 'cpu' | 'cuda';
export const BACKENDS: readonly Backend[] = Object.freeze(['auto', 'cpu', 'cuda']);

/**
 * The backend each entry point takes when none is asked for: one network runs where its
 * results are the reference's (the CPU) unless asked; a sweep, the engine of large grids, takes
 * the GPU batch when there is one.
 */
export const DEFAULT_BACKEND = Object.freeze({ train: 'cpu', replay: 'cpu', sweep: 'auto' } as const);

/**
 * 'cpu' and 'cuda' are taken as asked ('cuda' without a usable device is an error that says
 * what to do); 'auto' takes CUDA when available, else the CPU with a warning (to each call's
 * own `warn`: every caller hears it once).
 */
export function chooseBackend(requested: Backend, warn: (message: string) => void): NativeBackend {
  if (!BACKENDS.includes(requested)) {
    throw new GoalError('GOAL_INVALID_OPTION', notOneOf('options.backend', BACKENDS, requested));
  }
  if (requested === 'cpu') return 'cpu';
  const { cuda, cpu } = nativeInfo();
  if (cuda.available) return 'cuda';
  if (requested === 'cuda') {
    throw new GoalError('GOAL_NO_CUDA', `backend cuda is not available: ${cuda.reason}; choose the cpu backend, or auto, which falls back to it`);
  }
  warn(`no usable GPU: ${cuda.reason}; running on the CPU (${cpu.device})`);
  return 'cpu';
}
