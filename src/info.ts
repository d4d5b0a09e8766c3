// What this installation can run: version, CPU variant and threads, CUDA compiled/available.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { NativeInfo } from '../binding';
import { nativeInfo, packageRoot } from './native';

export interface Info extends NativeInfo {
  version: string;
}

export function version(): string {
  return JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')).version;
}

export function info(): Info {
  return { version: version(), ...nativeInfo() };
}
