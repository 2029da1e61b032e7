/**
 * `nfx demo` — the bundled scenario, end to end. Until the host packet path
 * lands (issue 5) it shows the packet layer on the bundled small-office
 * capture: every frame dissected, one line each, the Wireshark fields of
 * one packet, and a rewritten capture that tshark reads.
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { readCapture } from '../../packet/pcap/index.js';
import { writePcapFile, type WritableRecord } from '../../packet/pcap/writer.js';
import { dissect } from '../../packet/dissect.js';
import { describe } from '../../packet/describe.js';
import { EXIT_OK, UsageError, type CliContext } from '../context.js';

export const DEMO_CAPTURE = fileURLToPath(new URL('../../../../data/demo.pcap', import.meta.url));

export async function demoCommand(argv: string[], ctx: CliContext): Promise<number> {
  if (argv.length > 0) throw new UsageError(`demo: unexpected argument "${argv[0]}"\nUsage: nfx demo`);
  ctx.stdout(`nfx demo: the bundled small-office capture (${DEMO_CAPTURE.replace(/.*\/data\//, 'data/')})\n\n`);
  const kept: WritableRecord[] = [];
  let n = 0;
  let first: ReturnType<typeof dissect> | undefined;
  for await (const rec of readCapture(DEMO_CAPTURE)) {
    const d = dissect(rec.data, rec.linkType);
    if (d.fields['tcp.flags'] === 2 && !first) first = d;
    ctx.stdout(`${String(++n).padStart(3)}  ${describe(d)}\n`);
    kept.push({ ...rec, data: rec.data.slice() });
  }
  if (first) {
    ctx.stdout('\nThe first TCP SYN, as Wireshark display-filter fields (nfx packet --json):\n');
    ctx.stdout(JSON.stringify(first.fields, null, 1).replace(/\n\s*/g, ' ') + '\n');
  }
  const outDir = join(ctx.home, 'demo');
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, 'demo-out.pcap');
  await writePcapFile(out, kept, { nanosecond: true });
  ctx.stdout(`\n${n} packets; written again with nanosecond stamps to ${out}\n`);
  return EXIT_OK;
}
