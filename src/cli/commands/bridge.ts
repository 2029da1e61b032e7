/** `nfx [-n NETNS] bridge link|fdb|vlan ...`: iproute2's `bridge` over the saved virtual host (docs/bridge.md). */
import type { CliContext } from '../context.js';
import { loadHost, saveHost } from '../../host/store.js';
import { runBridge } from '../../host/bridge-cmd.js';
import { HostError } from '../../host/errors.js';
import { hostClock } from '../../host/path/state.js';

export async function bridgeCommand(argv: string[], ctx: CliContext): Promise<number> {
  let host;
  try {
    host = loadHost(ctx);
  } catch (e) {
    if (e instanceof HostError) { ctx.stderr(e.message + '\n'); return e.status; }
    throw e;
  }
  // Learnt entries age on the host's virtual clock, saved with it.
  const status = runBridge(host, argv, { out: ctx.stdout, err: ctx.stderr }, hostClock(host).nowMs());
  if (status === 0) saveHost(ctx, host);
  return status;
}
