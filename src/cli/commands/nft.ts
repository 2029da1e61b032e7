/**
 * `nfx [-n NETNS] nft [options] [-f FILE | CMD...]`: nft 1.0.6 on a virtual
 * host. The host is saved only when the whole batch committed; `-c` never
 * saves. Also the `nft` line handler of `nfx run` scripts (`nft -f - <<'EOF'`).
 */
import type { CliContext } from '../context.js';
import { loadHost, saveHost } from '../../host/store.js';
import { HostError } from '../../host/errors.js';
import type { ScriptHandler } from '../../host/script.js';
import { parseNftArgs, runNft } from '../../nft/command.js';

export async function nftCommand(argv: string[], ctx: CliContext): Promise<number> {
  let host;
  try {
    host = loadHost(ctx);
  } catch (e) {
    if (e instanceof HostError) { ctx.stderr(e.message + '\n'); return e.status; }
    throw e;
  }
  const before = JSON.stringify(host.sections['nftables'] ?? null);
  const status = await runNft(argv, host, {
    out: ctx.stdout,
    err: ctx.stderr,
    readStdin: async () => new TextDecoder().decode(await ctx.readStdin()),
  });
  let check = false;
  try { check = parseNftArgs(argv).check; } catch { /* usage error: already reported */ }
  // A list-only invocation changes nothing; saving it anyway would only rewrite the file.
  if (status === 0 && !check && JSON.stringify(host.sections['nftables'] ?? null) !== before) saveHost(ctx, host);
  return status;
}

/** `nft ...` lines of `nfx run` scripts: the here-document is `-f -`'s input. */
export const nftScriptHandler: ScriptHandler = (argv, env) => runNft(argv, env.host, {
  out: env.io.out,
  err: env.io.err,
  readStdin: () => env.stdin ?? '',
  readFile: env.readFile,
});
