/**
 * The `ip xfrm` entry point for the nfx CLI: pure (argv in, text and exit
 * status out), acting on one netns's Xfrm. Exit statuses are iproute2's:
 * 0 success; 1 or 255 (exit(-1)) for command-line errors, as the C code
 * chooses per message; 2 when the kernel (here: Xfrm) refuses the request.
 */
import { AF_INET, AF_INET6, AF_UNSPEC } from '../constants.js';
import { XfrmError, formatKernelError } from '../errors.js';
import { eventGroup, type XfrmGroup } from '../events.js';
import type { Xfrm } from '../xfrm.js';
import { IpExit, matches } from './args.js';
import type { IpContext } from './parse.js';
import { formatXfrmEvent, type PrintOptions } from './print.js';
import { doXfrmPolicy } from './policy-cmd.js';
import { doXfrmState, type CmdResult } from './state-cmd.js';

export interface IpXfrmOptions {
  /** Number of -s flags (true = 1). */
  stats?: number | boolean;
  /** -o / -oneline. */
  oneline?: boolean;
  /** -4 / -6 (preferred_family). */
  family?: 0 | 4 | 6;
  /** Hide keys in every listing, whatever the command line says. */
  nokeys?: boolean;
  /** Interface name → index (0 = no such device), for `dev` in selectors. */
  ifIndex?: (name: string) => number;
  /** Interface index → name, for printing `dev`. */
  ifName?: (ifindex: number) => string;
}

export type { CmdResult };

const USAGE = 'Usage: ip xfrm XFRM-OBJECT { COMMAND | help }\nwhere  XFRM-OBJECT := state | policy | monitor\n';

const MONITOR_GROUPS: [string, XfrmGroup][] = [
  ['acquire', 'acquire'],
  ['expire', 'expire'],
  ['SA', 'sa'],
  ['aevent', 'aevents'],
  ['policy', 'policy'],
  ['report', 'report'],
];

/**
 * `ip xfrm monitor`: a one-shot CLI cannot wait, so it prints the events
 * this Xfrm recorded (newest last) that fall in the selected groups.
 * Mapping events are always shown, as with iproute2's default all-groups.
 */
function doMonitor(args: string[], x: Xfrm, po: PrintOptions): CmdResult {
  let groups: Set<XfrmGroup> | null = null;
  for (const w of args) {
    if (w === 'nokeys' || w === 'all' || matches(w, 'all-nsid')) continue;
    if (matches(w, 'help'))
      throw new IpExit(
        'Usage: ip xfrm monitor [ nokeys ] [ all-nsid ] [ all | OBJECTS | help ]\nOBJECTS := { acquire | expire | SA | aevent | policy | report }\n',
        255,
      );
    const g = MONITOR_GROUPS.find(([n]) => matches(w, n));
    if (!g) throw new IpExit(`Argument "${w}" is unknown, try "ip xfrm monitor help".\n`, 255);
    (groups ??= new Set()).add(g[1]);
  }
  let s = '';
  for (const e of x.events.log) {
    if (groups && !groups.has(eventGroup(e))) continue;
    s += formatXfrmEvent(e, po);
  }
  return { stdout: s, stderr: '', status: 0 };
}

/**
 * Runs `ip [-s] [-o] [-4|-6] xfrm ARGV...`. `argv` is what follows `xfrm`,
 * e.g. ['state', 'add', 'src', '10.0.0.1', ...].
 */
export function ipXfrm(argv: string[], xfrm: Xfrm, opts: IpXfrmOptions = {}): CmdResult {
  const stats = typeof opts.stats === 'boolean' ? (opts.stats ? 1 : 0) : (opts.stats ?? 0);
  const preferredFamily = opts.family === 4 ? AF_INET : opts.family === 6 ? AF_INET6 : AF_UNSPEC;
  const ctx: IpContext = { preferredFamily, ifIndex: opts.ifIndex ?? (() => 0) };
  const po: PrintOptions = {
    stats,
    oneline: opts.oneline ?? false,
    nokeys: opts.nokeys ?? false,
    preferredFamily,
    ...(opts.ifName ? { ifName: opts.ifName } : {}),
  };
  try {
    if (argv.length < 1) throw new IpExit(USAGE, 255);
    const [obj, ...rest] = argv as [string, ...string[]];
    if (matches(obj, 'state') || matches(obj, 'sa')) return doXfrmState(rest, xfrm, ctx, po);
    if (matches(obj, 'policy')) return doXfrmPolicy(rest, xfrm, ctx, po);
    if (matches(obj, 'monitor')) return doMonitor(rest, xfrm, po);
    throw new IpExit(USAGE, 255);
  } catch (e) {
    if (e instanceof IpExit) return { stdout: '', stderr: e.stderr, status: e.status };
    if (e instanceof XfrmError) return { stdout: '', stderr: formatKernelError(e), status: 2 };
    throw e;
  }
}
