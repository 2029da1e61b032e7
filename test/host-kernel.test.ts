/**
 * Differential test: random sequences of `ip link/addr/route/rule/neigh` commands
 * applied to nfx and to the real kernel in a throwaway network namespace; after
 * each command the exit status and message must agree, after each sequence the
 * JSON listings and `ip route get` answers for random destinations.
 *
 * Normalised (where the kernel is not deterministic or the test bed differs):
 * - MAC addresses: the kernel draws random ones, so every generated `ip link add`
 *   names both MACs (nfx's derived ones) — nothing is rewritten afterwards;
 * - DAD: the namespace gets accept_dad=0 before any link exists (nfx completes
 *   DAD at once, there being no one else on a virtual link);
 * - `ip neigh` order: the kernel lists its hash buckets, so both lists are sorted;
 * - fe80::/64 and ff00::/8 routes made for several links by one carrier change come
 *   in linkwatch's order: such runs are sorted by device;
 * - timing: carrier, operstate and `linkdown` settle asynchronously in the kernel
 *   (linkwatch), so a listing that differs is re-read for up to ~0.5 s.
 *
 * Env: NFX_KERNEL_SEQS (default 120), NFX_KERNEL_SEED (default: random, printed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { newHost } from '../src/host/model.js';
import { runIp } from '../src/host/ip/index.js';
import { deriveMac } from '../src/host/links.js';
import { formatMac } from '../src/host/inet.js';
import type { Host } from '../src/host/types.js';
import { mulberry32Float as rng } from '../src/netfilter/random.js';

function canRun(): string | null {
  if (process.getuid?.() !== 0) return 'not root: the kernel differential test needs network namespaces';
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return 'ip netns is unavailable';
  return null;
}


interface Gen { r: () => number; links: string[]; host: string; made: number }
const pick = <T>(g: Gen, xs: readonly T[]): T => xs[Math.floor(g.r() * xs.length)]!;
const chance = (g: Gen, p: number): boolean => g.r() < p;

const V4_NETS = ['10.0.0', '10.0.1', '10.1.0', '192.168.7'];
const V6_NETS = ['2001:db8:0', '2001:db8:1', '2001:db8:a'];
const TABLES = ['main', '100', '200', 'local'];

function v4Prefix(g: Gen): string {
  const plen = pick(g, [8, 16, 24, 24, 30, 32]);
  if (plen === 8) return '10.0.0.0/8';
  if (plen === 16) return pick(g, ['10.0.0.0/16', '10.1.0.0/16', '192.168.0.0/16', '172.16.0.0/16']);
  const net = pick(g, V4_NETS);
  if (plen === 24) return `${net}.0/24`;
  return `${net}.${pick(g, [4, 8, 12])}/${plen}`;
}

function v4Host(g: Gen): string { return `${pick(g, V4_NETS)}.${pick(g, [1, 2, 3, 9, 254])}`; }
function v6Host(g: Gen): string { return `${pick(g, V6_NETS)}::${pick(g, [1, 2, 3, 9])}`; }
function v6Prefix(g: Gen): string {
  const plen = pick(g, [32, 48, 64, 64, 128]);
  if (plen === 32) return '2001:db8::/32';
  if (plen === 48) return `${pick(g, V6_NETS)}::/48`;
  if (plen === 128) return v6Host(g);
  return `${pick(g, V6_NETS)}::/64`;
}

function linkName(g: Gen): string {
  return g.links.length > 0 && chance(g, 0.95) ? pick(g, g.links) : 'v9';
}

function genCommand(g: Gen): string[] {
  const k = g.r();
  if (k < 0.08 || g.links.length === 0) {
    const i = g.made;
    const a = `v${i}`, b = `v${i + 1}`;
    if (i >= 6) return ['link', 'set', pick(g, g.links), pick(g, ['up', 'down'])];
    g.made += 2;
    g.links.push(a, b);
    return ['link', 'add', a, 'address', formatMac(deriveMac(g.host, a)), 'type', 'veth', 'peer', 'name', b,
      'address', formatMac(deriveMac(g.host, b))];
  }
  if (k < 0.21) return ['link', 'set', linkName(g), chance(g, 0.8) ? 'up' : 'down'];
  if (k < 0.215) {
    // Deleting one end of a veth deletes both.
    const n = linkName(g);
    const i = g.links.indexOf(n);
    if (i >= 0) g.links.splice(i - (i % 2), 2);
    return ['link', 'del', n];
  }
  if (k < 0.22) return ['addr', 'flush', 'dev', linkName(g)];
  if (k < 0.24) return ['link', 'set', linkName(g), 'mtu', String(pick(g, [1280, 1400, 9000]))];
  if (k < 0.42) {
    const v6 = chance(g, 0.3);
    const cmd = ['addr', chance(g, 0.8) ? 'add' : 'del'];
    if (v6) cmd.push(`${v6Host(g)}/${pick(g, [64, 64, 48, 128])}`);
    else {
      const net = pick(g, V4_NETS);
      cmd.push(`${net}.${pick(g, [1, 2, 3, 200])}/${pick(g, [24, 24, 16, 30, 32])}`);
      if (cmd[1] === 'add' && chance(g, 0.2)) cmd.push('brd', '+');
    }
    cmd.push('dev', linkName(g));
    return cmd;
  }
  if (k < 0.72) {
    const v6 = chance(g, 0.3);
    const op = pick(g, ['add', 'add', 'add', 'del', 'replace', 'append']);
    const cmd = [...(v6 ? ['-6'] : []), 'route', op];
    const type = chance(g, 0.12) ? pick(g, ['blackhole', 'unreachable', 'prohibit', 'throw']) : undefined;
    if (type) cmd.push(type);
    cmd.push(chance(g, 0.15) ? 'default' : v6 ? v6Prefix(g) : v4Prefix(g));
    if (!type) {
      if (chance(g, 0.5)) cmd.push('via', v6 ? v6Host(g) : v4Host(g));
      if (chance(g, 0.6) || cmd.length === 4 + (v6 ? 1 : 0)) cmd.push('dev', linkName(g));
      if (!v6 && chance(g, 0.1)) cmd.push('src', v4Host(g));
    }
    if (chance(g, 0.3)) cmd.push('metric', String(pick(g, [1, 5, 100, 1024])));
    if (chance(g, 0.3)) cmd.push('table', pick(g, TABLES));
    if (!v6 && chance(g, 0.05)) cmd.push('mtu', '1400');
    if (chance(g, 0.05)) cmd.push('proto', pick(g, ['static', '99']));
    return cmd;
  }
  if (k < 0.88) {
    const v6 = chance(g, 0.2);
    const cmd = [...(v6 ? ['-6'] : []), 'rule', chance(g, 0.8) ? 'add' : 'del'];
    if (chance(g, 0.1)) cmd.push('not');
    if (chance(g, 0.4)) cmd.push('from', v6 ? v6Prefix(g) : v4Prefix(g));
    if (chance(g, 0.3)) cmd.push('to', v6 ? v6Prefix(g) : v4Prefix(g));
    if (chance(g, 0.4)) cmd.push('fwmark', chance(g, 0.5) ? String(pick(g, [1, 2, 3])) : `0x${pick(g, [1, 16, 256]).toString(16)}/0x${pick(g, [0xff, 0xffff]).toString(16)}`);
    if (chance(g, 0.2)) cmd.push('iif', linkName(g));
    if (chance(g, 0.1)) cmd.push('oif', linkName(g));
    if (chance(g, 0.5)) cmd.push('pref', String(pick(g, [10, 100, 1000, 32000])));
    if (chance(g, 0.15)) cmd.push(pick(g, ['prohibit', 'unreachable', 'blackhole']));
    else cmd.push('table', pick(g, ['100', '200', 'main']));
    return cmd;
  }
  const v6 = chance(g, 0.3);
  const op = pick(g, ['add', 'add', 'del', 'replace']);
  const cmd = ['neigh', op, v6 ? v6Host(g) : v4Host(g)];
  if (op !== 'del') cmd.push('lladdr', `02:00:00:00:00:${pick(g, ['01', '0a', 'ff'])}`, 'nud', pick(g, ['permanent', 'reachable']));
  cmd.push('dev', linkName(g));
  return cmd;
}

function kernel(ns: string, args: string[]): { status: number; out: string; err: string } {
  const r = spawnSync('ip', ['-n', ns, ...args], { encoding: 'utf8' });
  return { status: r.status ?? -1, out: r.stdout, err: r.stderr };
}

function nfx(host: Host, args: string[]): { status: number; out: string; err: string } {
  let out = '', err = '';
  const status = runIp(host, args, { out: (t) => { out += t; }, err: (t) => { err += t; } });
  return { status, out, err };
}

/**
 * IPv6 routes the kernel adds for several links at one carrier change (fe80::/64,
 * ff00::/8) are inserted in the order linkwatch happens to process the links: sort
 * runs of such routes with the same destination by device.
 */
function normaliseRoutes(text: string): string {
  const v = JSON.parse(text) as Record<string, unknown>[];
  const key = (r: Record<string, unknown>): string =>
    r['protocol'] === 'kernel' && (r['dst'] === 'fe80::/64' || r['dst'] === 'ff00::/8') ? `${r['table']}|${r['type']}|${r['dst']}` : '';
  for (let i = 0; i < v.length; ) {
    const k = key(v[i]!);
    let j = i + 1;
    if (k) while (j < v.length && key(v[j]!) === k) j++;
    const run = v.slice(i, j).sort((a, b) => String(a['dev']).localeCompare(String(b['dev'])));
    v.splice(i, j - i, ...run);
    i = j;
  }
  return JSON.stringify(v);
}

/** The text form of normaliseRoutes(). */
function normaliseRouteText(text: string): string {
  const lines = text.split('\n').filter(Boolean);
  const key = (l: string): string => {
    const m = /^((?:multicast )?(?:fe80::\/64|ff00::\/8)) dev \S+ (.*proto kernel.*)$/.exec(l);
    return m ? `${m[1]}|${m[2]}` : '';
  };
  for (let i = 0; i < lines.length; ) {
    const k = key(lines[i]!);
    let j = i + 1;
    if (k) while (j < lines.length && key(lines[j]!) === k) j++;
    const run = lines.slice(i, j).sort();
    lines.splice(i, j - i, ...run);
    i = j;
  }
  return lines.join('\n');
}

function sortedJson(text: string): string {
  const v = JSON.parse(text) as unknown[];
  return JSON.stringify(v.map((x) => JSON.stringify(x)).sort());
}

type Norm = (text: string) => string;
const asIs: Norm = (t) => t.trim();
const SNAPSHOTS: [string[], Norm][] = [
  [['-j', 'link', 'show'], asIs],
  [['-j', 'addr', 'show'], asIs],
  [['-j', 'route', 'show', 'table', 'all'], normaliseRoutes],
  [['-j', 'rule', 'show'], asIs],
  [['-j', '-6', 'rule', 'show'], asIs],
  [['-j', 'neigh', 'show'], sortedJson],
  [['link', 'show'], asIs],
  [['-br', 'addr', 'show'], asIs],
  [['-br', 'link', 'show'], asIs],
  [['-br', '-j', 'addr', 'show'], asIs],
  [['addr', 'show'], asIs],
  [['route', 'show', 'table', 'all'], normaliseRouteText],
  [['route', 'show'], normaliseRouteText],
  [['-6', 'route', 'show'], normaliseRouteText],
  [['rule', 'show'], asIs],
  [['-6', 'rule', 'show'], asIs],
  [['neigh', 'show'], (t) => t.split('\n').filter(Boolean).sort().join('\n')],
];

test('nfx agrees with the kernel on random ip link/addr/route/rule/neigh sequences', (t) => {
  const why = canRun();
  if (why) { t.skip(why); return; }
  const seqs = Number(process.env['NFX_KERNEL_SEQS'] ?? 120);
  // A fixed default seed keeps CI deterministic; NFX_KERNEL_SEED=random (or a number) explores.
  const asked = process.env['NFX_KERNEL_SEED'];
  const seed = asked === 'random' ? Math.floor(Math.random() * 2 ** 31) : Number(asked ?? 20261128);
  const created: string[] = [];
  let agreeCmds = 0, totalCmds = 0, agreeGets = 0, totalGets = 0, okSeqs = 0;
  const failures: string[] = [];
  try {
    for (let s = 0; s < seqs; s++) {
      const ns = `nfxhost-${process.pid}-${s}`;
      execFileSync('ip', ['netns', 'add', ns]);
      created.push(ns);
      // Test bed: no DAD, so IPv6 addresses are usable at once as in nfx.
      execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
      const host = newHost(ns);
      const g: Gen = { r: rng(seed + s), links: [], host: ns, made: 0 };
      const log: string[] = [];
      let bad: string | undefined;
      const n = 10 + Math.floor(g.r() * 25);
      for (let c = 0; c < n && !bad; c++) {
        const args = c === 0 ? ['link', 'set', 'lo', 'up'] : genCommand(g);
        const k = kernel(ns, args);
        const x = nfx(host, args);
        log.push(`ip ${args.join(' ')}  -> kernel ${k.status} ${k.err.trim()}`);
        totalCmds++;
        if (k.status === x.status && k.err === x.err) agreeCmds++;
        else bad = `command "ip ${args.join(' ')}": kernel status ${k.status} ${JSON.stringify(k.err)}, nfx ${x.status} ${JSON.stringify(x.err)}`;
      }
      for (const [args, norm] of SNAPSHOTS) {
        if (bad) break;
        const x = nfx(host, args);
        const xo = norm(x.out);
        let ko = '';
        // The kernel settles carrier and operstate asynchronously (linkwatch): re-read
        // its listing for up to ~0.5 s before calling it a mismatch.
        for (let tries = 0; tries < 25; tries++) {
          const k = kernel(ns, args);
          ko = norm(k.out);
          if (ko === xo) break;
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
        }
        if (ko !== xo) bad = `listing "ip ${args.join(' ')}":\n  kernel ${ko}\n  nfx    ${xo}`;
      }
      for (let q = 0; q < 12 && !bad; q++) {
        const v6 = chance(g, 0.3);
        const args = [...(v6 ? ['-6'] : []), 'route', 'get', v6 ? v6Host(g) : chance(g, 0.2) ? pick(g, ['8.8.8.8', '172.16.3.3', '10.0.0.0']) : v4Host(g)];
        if (chance(g, 0.3)) args.push('mark', String(pick(g, [1, 2, 3, 16, 256])));
        const k = kernel(ns, args), x = nfx(host, args);
        totalGets++;
        if (k.status === x.status && k.out === x.out && k.err === x.err) agreeGets++;
        else bad = `"ip ${args.join(' ')}": kernel ${k.status} ${JSON.stringify(k.out + k.err)}, nfx ${x.status} ${JSON.stringify(x.out + x.err)}`;
      }
      execFileSync('ip', ['netns', 'del', ns]);
      created.pop();
      if (bad) failures.push(`sequence ${s} (seed ${seed + s}):\n    ${log.join('\n    ')}\n  MISMATCH ${bad}`);
      else okSeqs++;
    }
  } finally {
    for (const ns of created) spawnSync('ip', ['netns', 'del', ns]);
  }
  t.diagnostic(`seed ${seed}: ${okSeqs}/${seqs} sequences agree; commands ${agreeCmds}/${totalCmds}; route get ${agreeGets}/${totalGets}`);
  console.log(`host-kernel: seed ${seed}: ${okSeqs}/${seqs} sequences agree; commands ${agreeCmds}/${totalCmds}; route get ${agreeGets}/${totalGets}`);
  assert.equal(failures.length, 0, failures.slice(0, 3).join('\n\n'));
});
