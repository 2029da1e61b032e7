/**
 * nft compile speed: a generated 10,000-rule ruleset compiled by nfx
 * (parse → evaluate → linearize) and checked by the real `nft -c -f` inside a
 * throwaway network namespace, in the same run; prints the ratio.
 * `node dist/bench/nft.js` runs it alone; bench/run.ts can run it as `nft`.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { Harness } from './harness.js';
import { compileFile } from '../src/nft/compile-file.js';

/** A deterministic 10,000-rule inet ruleset of typical gateway rules. */
export function generateRuleset(n: number): string {
  const lines = ['table inet bench {', '  set blocked { type ipv4_addr; flags interval; }', '  chain input {', '    type filter hook input priority 0; policy drop;'];
  const shapes = [
    (i: number) => `tcp dport ${1 + (i % 60000)} accept`,
    (i: number) => `ip saddr 10.${(i >> 8) & 255}.${i & 255}.0/24 udp dport { 53, 123, ${1000 + (i % 5000)} } counter accept`,
    (i: number) => `iifname "eth${i % 8}" ct state established,related accept`,
    (i: number) => `ip6 saddr 2001:db8::${(i % 65535).toString(16)} tcp dport ${i % 1024}-${1024 + (i % 1024)} drop`,
    (i: number) => `meta mark 0x${(i % 4096).toString(16)} ip daddr @blocked log prefix "blk${i} " drop`,
    (i: number) => `tcp flags syn / syn,ack limit rate ${1 + (i % 100)}/second accept`,
  ];
  for (let i = 0; i < n; i++) lines.push(`    ${shapes[i % shapes.length]!(i)}`);
  lines.push('  }', '}');
  return lines.join('\n') + '\n';
}

export async function bench(h: Harness): Promise<void> {
  const text = generateRuleset(10_000);
  const ours = await h.time('nfx compile 10,000 rules', 10_000, 'rules', () => {
    const rules = compileFile(text, 'bench.nft');
    if (rules.length !== 10_000) throw new Error(`compiled ${rules.length} rules`);
  }, 3);
  const haveNft = fs.existsSync('/usr/sbin/nft') && process.getuid?.() === 0 && spawnSync('ip', ['netns', 'list']).status === 0;
  if (!haveNft) { h.note('nft or network namespaces unavailable: no baseline'); return; }
  const ns = `nfxbench-${process.pid}`;
  spawnSync('ip', ['netns', 'add', ns]);
  try {
    const dir = await h.tempDir();
    const file = `${dir}/ruleset.nft`;
    fs.writeFileSync(file, text);
    // nft runs in a child: its CPU time is the shell's cutime + cstime (/proc/PID/stat
    // fields 16 and 17, in clock ticks) read after the shell has waited for it.
    const tick = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
    const script = `ip netns exec ${ns} nft -c -f ${file} || exit 1; cat /proc/$$/stat`;
    let best = Infinity, bestCpu = Infinity;
    for (let run = 0; run < 3; run++) {
      const t0 = process.hrtime.bigint();
      const p = spawnSync('sh', ['-c', script], { encoding: 'utf8' });
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (p.status !== 0) throw new Error(`nft -c failed: ${p.stderr.slice(0, 400)}`);
      // The fields after the command name in parentheses: state is field 3, cutime 16, cstime 17.
      const f = p.stdout.slice(p.stdout.lastIndexOf(')') + 2).trim().split(' ');
      const cpu = (Number(f[13]) + Number(f[14])) / tick;
      if (seconds < best) { best = seconds; bestCpu = cpu; }
    }
    const theirs = h.record('nft -c -f (10,000 rules) (best of 3)', 10_000, 'rules', best, bestCpu);
    h.ratio(ours, theirs);
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const h = new Harness('nft');
  try { await bench(h); } finally { await h.cleanup(); }
}
