/**
 * `npm run bench` — runs every benchmark, or those named on the command line
 * (`node dist/bench/run.js pcap`). Each bench module exports
 * `async function bench(h: Harness): Promise<void>`; add new ones to BENCHES.
 */
import { Harness } from './harness.js';

interface BenchModule {
  bench(h: Harness): Promise<void>;
}

/** The benches, in the order they run. Explicit on purpose: no discovery by file name. */
const BENCHES: { name: string; load: () => Promise<BenchModule> }[] = [
  { name: 'pcap', load: () => import('./pcap.js') },
  { name: 'esp', load: () => import('./esp.js') },
  { name: 'engine', load: () => import('./engine.js') },
  { name: 'nft', load: () => import('./nft.js') },
  { name: 'iptfs', load: () => import('./iptfs.js') },
  { name: 'host', load: () => import('./host.js') },
];

async function main(argv: string[]): Promise<number> {
  const unknown = argv.filter((a) => !BENCHES.some((b) => b.name === a));
  if (unknown.length > 0) {
    console.error(`unknown bench: ${unknown.join(', ')} (have: ${BENCHES.map((b) => b.name).join(', ')})`);
    return 2;
  }
  const selected = argv.length > 0 ? BENCHES.filter((b) => argv.includes(b.name)) : BENCHES;
  let failed = 0;
  for (const entry of selected) {
    console.log(`== ${entry.name} ==`);
    const h = new Harness(entry.name);
    try {
      await (await entry.load()).bench(h);
    } catch (err) {
      failed++;
      console.error(`bench ${entry.name} failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    } finally {
      await h.cleanup();
    }
  }
  return failed > 0 ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
