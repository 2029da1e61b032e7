/** `nfx [-n NETNS] sysctl [-w] KEY[=VALUE]...`: procps sysctl over the virtual host. */
import type { CliContext } from '../context.js';
import { loadHost, saveHost } from '../../host/store.js';
import { runSysctl } from '../../host/sysctl-cmd.js';
import { HostError } from '../../host/errors.js';

export async function sysctlCommand(argv: string[], ctx: CliContext): Promise<number> {
  let host;
  try {
    host = loadHost(ctx);
  } catch (e) {
    if (e instanceof HostError) { ctx.stderr(e.message + '\n'); return e.status; }
    throw e;
  }
  let failed = false;
  const status = runSysctl(host, argv, { out: ctx.stdout, err: (t) => { failed = true; ctx.stderr(t); } });
  // A write that reported an error changed nothing worth keeping; all others are saved.
  if (status === 0 && !failed) saveHost(ctx, host);
  return status;
}
