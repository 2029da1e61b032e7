/**
 * `nfx [-n NETNS] run FILE`: apply a script of `ip`, `sysctl` and `nft` lines to the
 * host. Nothing is saved unless every line succeeds.
 *
 * The `nft` seam: when `src/cli/commands/nft.ts` exports `nftScriptHandler`
 * (a `ScriptHandler` from `src/host/script.ts`), `run` hands it the `nft` lines.
 */
import { readFileSync } from 'node:fs';
import type { CliContext } from '../context.js';
import { UsageError } from '../context.js';
import { loadHost, saveHost } from '../../host/store.js';
import { builtinHandlers, runScript, type ScriptHandler } from '../../host/script.js';
import { HostError } from '../../host/errors.js';

/** The nft command's script handler, if that command provides one. */
async function nftHandler(): Promise<ScriptHandler | undefined> {
  const path = './nft.js';
  try {
    const m = (await import(path)) as { nftScriptHandler?: ScriptHandler };
    return m.nftScriptHandler;
  } catch {
    return undefined;
  }
}

export async function runCommand(argv: string[], ctx: CliContext): Promise<number> {
  if (argv.length !== 1) throw new UsageError('run: exactly one FILE is expected (use "-" for standard input)');
  const file = argv[0]!;
  let text: string;
  try {
    text = file === '-' ? new TextDecoder().decode(await ctx.readStdin()) : readFileSync(file, 'utf8');
  } catch (e) {
    ctx.stderr(`nfx run: cannot read "${file}": ${(e as NodeJS.ErrnoException).code ?? String(e)}\n`);
    return 1;
  }
  let host;
  try {
    host = loadHost(ctx);
  } catch (e) {
    if (e instanceof HostError) { ctx.stderr(e.message + '\n'); return e.status; }
    throw e;
  }
  const handlers = builtinHandlers();
  const nft = await nftHandler();
  if (nft) handlers.set('nft', nft);
  else {
    handlers.set('nft', (_argv, env) => {
      env.io.err('Error: the nft command is not available in this nfx build yet.\n');
      return 1;
    });
  }
  const res = await runScript(host, text, {
    file: file === '-' ? '<stdin>' : file,
    handlers,
    io: { out: ctx.stdout, err: ctx.stderr },
    readFile: (p) => readFileSync(p, 'utf8'),
  });
  if (res.status === 0) saveHost(ctx, host);
  return res.status;
}
