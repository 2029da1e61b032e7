/**
 * Differential test: ≥ 1,000 generated rules compiled by nfx and by the real
 * `nft --debug=netlink` 1.0.6 inside a throwaway network namespace. For every
 * rule the bytecode lines must agree, and nfx must reject what nft rejects.
 * Agreement is ratcheted in test/fixtures/nft-conformance-baseline.json.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileRuleText, debugNetlinkLines } from '../src/nft/index.js';
import { listRule } from '../src/nft/print.js';
import type { Family } from '../src/nft/ast.js';
import { mulberry32Float as rng } from '../src/netfilter/random.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const baselineFile = path.resolve(here, '..', '..', 'test', 'fixtures', 'nft-conformance-baseline.json');


const MATCHES: Record<string, string[]> = {
  any: [
    'tcp dport 22', 'tcp dport != 80', 'tcp dport { 22, 80, 443 }', 'tcp dport 1000-2000', 'udp sport 53', 'udp dport { 53, 123 }',
    'tcp flags syn', 'tcp flags & (syn | ack) == syn', 'ct state established,related', 'ct state new', 'ct mark 0x10', 'meta mark 0x1',
    'meta mark != 0x2', 'iifname "eth0"', 'oifname { "eth0", "eth1" }', 'meta l4proto tcp', 'meta l4proto { tcp, udp }', 'ct status dnat',
    'th dport 8080', 'tcp dport { 1-100, 200-300 }', 'meta skuid 0', 'ct direction original', 'meta pkttype broadcast', 'udp length 20',
    'tcp sequence 5', 'meta mark 0x10-0x20', 'ct mark { 0x1, 0x2 }', 'meta length > 1000',
    'tcp dport vmap { 22 : accept, 80 : drop }', 'meta mark . tcp dport { 0x1 . 22, 0x2 . 80 }', 'tcp flags != syn',
    'ct state { new, established }', 'udp sport . udp dport { 53 . 1024-65535 }', 'meta l4proto . th dport { tcp . 22, udp . 53 }',
    'iifname "eth*"', 'tcp dport { 22 }', 'meta priority 1:2', 'ct direction reply ct status assured',
  ],
  ip: ['ip saddr 10.0.0.1', 'ip daddr 192.168.0.0/16', 'ip saddr { 10.0.0.1, 10.0.0.2 }', 'ip ttl 64', 'ip protocol icmp', 'icmp type echo-request', 'ip saddr . tcp dport { 10.0.0.1 . 22 }', 'ip dscp cs1', 'ip daddr 10.0.0.0-10.0.0.255', 'ip length < 100'],
  ip6: ['ip6 saddr ::1', 'ip6 daddr fe80::/10', 'ip6 hoplimit 255', 'icmpv6 type echo-request', 'ip6 nexthdr tcp', 'ip6 saddr { ::1, ::2 }'],
};
const ACTIONS = [
  'accept', 'drop', 'counter', 'counter accept', 'log prefix "x " drop', 'limit rate 10/second accept', 'meta mark set 0x1', 'ct mark set 0x2',
  'reject', 'jump other', 'return', 'quota 10 mbytes', '', 'meta mark set tcp dport map { 22 : 0x1, 80 : 0x2 }', 'ct mark set meta mark',
  'log level info', 'limit rate over 1 mbytes/second drop', 'reject with tcp reset', 'meta mark set meta mark | 0x10', 'notrack',
  'ct mark set ct mark and 0xff', 'log group 2 accept', 'counter goto other',
];
const NAT = ['dnat to 10.0.0.1', 'dnat to 10.0.0.1:80', 'snat to 10.0.0.2', 'masquerade', 'redirect to :8080', 'masquerade random', 'dnat to ip saddr map { 10.0.0.1 : 10.1.1.1 }', 'snat to 10.0.0.2-10.0.0.9', 'masquerade to :1024-2048'];

interface Case { family: Family; chain: 'filter' | 'nat' | 'natpost'; rule: string }

function generate(n: number, seed: number): Case[] {
  const r = rng(seed);
  const pick = <T>(a: T[]): T => a[Math.floor(r() * a.length)]!;
  const out: Case[] = [];
  for (let i = 0; i < n; i++) {
    const family = pick<Family>(['ip', 'ip6', 'inet']);
    const nat = r() < 0.25 && family === 'ip';
    const pool = [...MATCHES.any!, ...(family === 'ip' ? MATCHES.ip! : family === 'ip6' ? MATCHES.ip6! : [...MATCHES.ip!, ...MATCHES.ip6!])];
    const k = 1 + Math.floor(r() * 3);
    const parts: string[] = [];
    for (let j = 0; j < k; j++) parts.push(pick(pool));
    parts.push(nat ? pick(NAT) : pick(ACTIONS));
    const rule = parts.filter(Boolean).join(' ');
    if (rule) out.push({ family, chain: nat ? (r() < 0.5 ? 'nat' : 'natpost') : 'filter', rule });
  }
  return out;
}

const HOOK = { filter: 'input', nat: 'prerouting', natpost: 'postrouting' } as const;

function haveNft(): boolean {
  return fs.existsSync('/usr/sbin/nft') && spawnSync('ip', ['netns', 'list']).status === 0 && process.getuid?.() === 0;
}

test('differential: nfx vs nft --debug=netlink on generated rules', { timeout: 600_000 }, (t) => {
  if (!haveNft()) { t.skip('nft, ip netns or root not available'); return; }
  const ns = `nfxtest-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    const nft = (args: string[]): { ok: boolean; out: string } => {
      const p = spawnSync('ip', ['netns', 'exec', ns, 'nft', ...args], { encoding: 'utf8' });
      return { ok: p.status === 0, out: p.stdout };
    };
    for (const f of ['ip', 'ip6', 'inet']) {
      const setup = `add table ${f} t\nadd chain ${f} t other\nadd chain ${f} t filter { type filter hook input priority 0; }\nadd chain ${f} t nat { type nat hook prerouting priority -100; }\nadd chain ${f} t natpost { type nat hook postrouting priority 100; }\n`;
      const p = spawnSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: setup, encoding: 'utf8' });
      assert.equal(p.status, 0, p.stderr);
    }
    const cases = generate(1000, 20261128);
    const accepted: { c: Case; listing: string }[] = [];
    let agree = 0;
    const mismatches: string[] = [];
    for (const c of cases) {
      const real = nft(['--debug=netlink', 'add', 'rule', c.family, 't', c.chain, ...splitWords(c.rule)]);
      const realLines = real.out.split('\n').filter((l) => l.startsWith('  [ ')).map((l) => l.trim());
      let mine: string[] | undefined;
      try {
        mine = debugNetlinkLines(compileRuleText(c.rule, { family: c.family, table: 't', chain: c.chain, hook: HOOK[c.chain] }), c.family, 't', c.chain).filter((l) => l.startsWith('  [ ')).map((l) => l.trim());
      } catch { mine = undefined; }
      const same = real.ok ? mine !== undefined && mine.join('\n') === realLines.join('\n') : mine === undefined;
      if (same) agree++;
      else mismatches.push(`${c.family}/${c.chain}: ${c.rule}\n  nft: ${real.ok ? realLines.join(' ') : 'rejected'}\n  nfx: ${mine ? mine.join(' ') : 'rejected'}`);
      // Every rule nft accepted stays in its chain, in order: keep the list aligned with it.
      if (real.ok) {
        let listing = '(rejected by nfx)';
        if (mine) {
          const compiled = compileRuleText(c.rule, { family: c.family, table: 't', chain: c.chain, hook: HOOK[c.chain] });
          listing = listRule(compiled.exprs, compiled.sets, c.family, {});
        }
        accepted.push({ c, listing });
      }
    }
    // Listings: the accepted rules stayed in their chains, in order; list each table once.
    let listAgree = 0;
    const listMismatches: string[] = [];
    for (const f of ['ip', 'ip6', 'inet'] as const) {
      const text = nft(['-s', 'list', 'table', f, 't']).out;
      for (const chain of ['filter', 'nat', 'natpost'] as const) {
        const m = new RegExp(`chain ${chain} \\{\\n([\\s\\S]*?)\\n\\t\\}`).exec(text);
        const lines = (m?.[1] ?? '').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('type '));
        const mine = accepted.filter((a) => a.c.family === f && a.c.chain === chain);
        mine.forEach((a, i) => {
          if (lines[i] === a.listing) listAgree++;
          else listMismatches.push(`${f}/${chain}: ${a.c.rule}\n  nft: ${lines[i]}\n  nfx: ${a.listing}`);
        });
      }
    }
    t.diagnostic(`nft-differential listing agreement: ${listAgree}/${accepted.length}`);
    console.log(`nft-differential listing agreement: ${listAgree}/${accepted.length}`);
    if (listMismatches.length) t.diagnostic(`first listing mismatches:\n${listMismatches.slice(0, 8).join('\n')}`);
    const baseline = JSON.parse(fs.readFileSync(baselineFile, 'utf8')) as Record<string, { pass: number }>;
    t.diagnostic(`nft-differential agreement: ${agree}/${cases.length}`);
    console.log(`nft-differential agreement: ${agree}/${cases.length}`);
    if (mismatches.length) t.diagnostic(`first mismatches:\n${mismatches.slice(0, 5).join('\n')}`);
    assert.ok(agree >= (baseline['differential']?.pass ?? 0), `agreement fell below the baseline\n${mismatches.slice(0, 5).join('\n')}`);
    assert.ok(listAgree >= (baseline['differential listing']?.pass ?? 0), `listing agreement fell below the baseline\n${listMismatches.slice(0, 5).join('\n')}`);
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
});

/** nft joins its argv with blanks; quoted strings must survive as one argument. */
function splitWords(s: string): string[] {
  return s.match(/"[^"]*"|\S+/g) ?? [];
}
