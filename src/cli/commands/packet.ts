import type { CliContext } from '../context.js';
import { UsageError } from '../context.js';

/** `nfx packet` — filled in by the packet-layer work (issue 2). */
export async function packetCommand(argv: string[], _ctx: CliContext): Promise<number> {
  throw new UsageError(`packet: not yet wired (${argv.join(' ')})`);
}
