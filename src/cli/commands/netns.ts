/** `nfx netns list|add|del NAME`: the saved virtual hosts, as `ip netns` manages namespaces. */
import type { CliContext } from '../context.js';
import { UsageError } from '../context.js';
import { addHost, delHost, listHosts } from '../../host/store.js';
import { HostError } from '../../host/errors.js';

export async function netnsCommand(argv: string[], ctx: CliContext): Promise<number> {
  const [cmd = 'list', name, ...rest] = argv;
  try {
    if ('list'.startsWith(cmd) || 'show'.startsWith(cmd)) {
      for (const n of listHosts(ctx)) ctx.stdout(n + '\n');
      return 0;
    }
    if (rest.length > 0) throw new UsageError(`netns: unexpected argument "${rest[0]}"`);
    if ('add'.startsWith(cmd)) {
      if (!name) throw new UsageError('netns add: a name is required');
      addHost(ctx, name);
      return 0;
    }
    if ('delete'.startsWith(cmd)) {
      if (!name) throw new UsageError('netns del: a name is required');
      delHost(ctx, name);
      return 0;
    }
  } catch (e) {
    if (e instanceof HostError) { ctx.stderr(e.message + '\n'); return e.status; }
    throw e;
  }
  throw new UsageError(`netns: unknown command "${cmd}" (list, add NAME, del NAME)`);
}
