/**
 * `sysctl [-n] [-e] [-q] [-a] [-w] KEY[=VALUE]...` as procps-ng 4 behaves over
 * /proc/sys/net: `KEY = VALUE` lines, a directory prefix lists everything under
 * it, `KEY=VALUE` writes even without -w, and errors in procps' words.
 */
import { HostError } from './errors.js';
import { sysctlGet, sysctlKeys, sysctlSet } from './sysctl.js';
import type { Host } from './types.js';

export interface SysctlIo { out: (t: string) => void; err: (t: string) => void }

/** Runs one sysctl command line (without `sysctl`); returns procps' exit status. */
export function runSysctl(host: Host, argv: string[], io: SysctlIo): number {
  let write = false, valuesOnly = false, quiet = false, ignore = false, all = false, namesOnly = false;
  const args: string[] = [];
  for (const a of argv) {
    if (a.startsWith('-') && args.length === 0 && !a.includes('=')) {
      for (const c of a.replace(/^--?/, '').split('')) {
        if (a === '--write' || c === 'w') write = true;
        else if (c === 'n') valuesOnly = true;
        else if (c === 'N') namesOnly = true;
        else if (c === 'q') quiet = true;
        else if (c === 'e') ignore = true;
        else if (c === 'a' || c === 'A' || c === 'X') all = true;
        else if (c === 'b') valuesOnly = true;
        else {
          io.err(`sysctl: invalid option -- '${c}'\n`);
          return 1;
        }
        if (a.startsWith('--')) break;
      }
      continue;
    }
    args.push(a);
  }
  const show = (k: string, v: string): void => {
    if (namesOnly) io.out(`${k}\n`);
    else if (valuesOnly) io.out(`${v}\n`);
    else io.out(`${k} = ${v}\n`);
  };
  if (all && args.length === 0) {
    for (const k of sysctlKeys(host)) show(k, sysctlGet(host, k)!);
    return 0;
  }
  if (args.length === 0) {
    io.err('sysctl: no variables specified\nTry `sysctl --help\' for more information.\n');
    return 1;
  }
  let status = 0;
  for (let arg of args) {
    arg = arg.replace(/\//g, '.');
    const eq = arg.indexOf('=');
    if (eq < 0 && write) {
      io.err(`sysctl: "${arg}" must be of the form name=value\n`);
      status = 1;
      continue;
    }
    if (eq >= 0) {
      const key = arg.slice(0, eq).trim();
      const value = arg.slice(eq + 1);
      try {
        sysctlSet(host, key, value);
        if (!quiet) show(key, sysctlGet(host, key)!);
      } catch (e) {
        if (!(e instanceof HostError)) throw e;
        if (ignore && e.message.includes('cannot stat')) continue;
        io.err(e.message + '\n');
        if (e.status) status = e.status;
      }
      continue;
    }
    const v = sysctlGet(host, arg);
    if (v !== undefined) { show(arg, v); continue; }
    // A directory: every key below it.
    const below = sysctlKeys(host).filter((k) => k.startsWith(arg + '.'));
    if (below.length > 0) { for (const k of below) show(k, sysctlGet(host, k)!); continue; }
    if (ignore) continue;
    io.err(`sysctl: cannot stat /proc/sys/${arg.replace(/\./g, '/')}: No such file or directory\n`);
    status = 1;
  }
  return status;
}
