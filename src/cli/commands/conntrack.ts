/**
 * `nfx [-n NETNS] conntrack -L | -C | -F` — the host's connection tracking table, as
 * conntrack-tools prints it: one line per confirmed entry on stdout, the summary on stderr.
 */
import { loadHost, saveHost } from '../../host/store.js';
import { HostError } from '../../host/errors.js';
import { sysctlGet } from '../../host/sysctl.js';
import { hostClock, SECTION_CONNTRACK } from '../../host/path/state.js';
import { ConntrackTable, deserializeConntrack, formatConn, serializeConntrack, type ConntrackJson } from '../../netfilter/conntrack/index.js';
import { UsageError, type CliContext } from '../context.js';
import type { Host } from '../../host/types.js';

export const CONNTRACK_USAGE = 'Usage: nfx conntrack -L | -C | -F   (--dump, --count, --flush)';
const VERSION = 'conntrack v1.4.7 (conntrack-tools)';

type Action = 'list' | 'count' | 'flush';

function parseAction(argv: readonly string[]): Action {
  if (argv.length !== 1) throw new UsageError(`conntrack: ${argv.length ? `unexpected "${argv[1] ?? ''}"` : 'no command given'}\n${CONNTRACK_USAGE}`);
  switch (argv[0]) {
    case '-L': case '--dump': return 'list';
    case '-C': case '--count': return 'count';
    case '-F': case '--flush': return 'flush';
    default: throw new UsageError(`conntrack: unknown option "${argv[0]}"\n${CONNTRACK_USAGE}`);
  }
}

/** The host's saved table on its virtual clock, with its sysctls (expired entries go on gc). */
export function hostConntrack(host: Host): ConntrackTable {
  const ct = new ConntrackTable(hostClock(host), (k) => { const v = sysctlGet(host, k); return v === undefined ? undefined : Number(v); });
  const saved = host.sections[SECTION_CONNTRACK] as ConntrackJson | undefined;
  if (saved) deserializeConntrack(ct, saved);
  return ct;
}

export async function conntrackCommand(argv: string[], ctx: CliContext): Promise<number> {
  const action = parseAction(argv);
  let host: Host;
  try {
    host = loadHost(ctx);
  } catch (e) {
    if (e instanceof HostError) { ctx.stderr(e.message + '\n'); return e.status; }
    throw e;
  }
  const ct = hostConntrack(host);
  ct.gc();
  const conns = ct.confirmed();
  if (action === 'list') {
    for (const c of conns) ctx.stdout(formatConn(ct, c) + '\n');
    ctx.stderr(`${VERSION}: ${conns.length} flow entries have been shown.\n`);
  } else if (action === 'count') {
    ctx.stdout(`${conns.length}\n`);
  } else {
    ct.flush();
    host.sections[SECTION_CONNTRACK] = serializeConntrack(ct);
    saveHost(ctx, host);
    ctx.stderr(`${VERSION}: connection tracking table has been emptied.\n`);
  }
  return 0;
}
