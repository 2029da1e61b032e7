/** `nfx [-n NETNS] ip ...`: iproute2 over the saved virtual host; saved only when the command succeeds. */
import type { CliContext } from '../context.js';
import { loadHost, saveHost } from '../../host/store.js';
import { runIp } from '../../host/ip/index.js';
import { HostError } from '../../host/errors.js';

export async function ipCommand(argv: string[], ctx: CliContext): Promise<number> {
  let host;
  try {
    host = loadHost(ctx);
  } catch (e) {
    if (e instanceof HostError) { ctx.stderr(e.message + '\n'); return e.status; }
    throw e;
  }
  const status = runIp(host, argv, { out: ctx.stdout, err: ctx.stderr });
  if (status === 0) saveHost(ctx, host);
  return status;
}
