/**
 * The kernel differential over generated rulesets (issue 5, "Done when"):
 * a seeded generator writes ≥ 300 cases — a ruleset from a small grammar
 * (address, port, TCP flag and ct state matches; named and anonymous sets,
 * concatenations, verdict maps, a dnat map; jumps and gotos; snat, dnat,
 * masquerade; reject in its forms; counters; ip, ip6 and inet tables) and
 * 5–20 packets (TCP handshakes both ways, replies built from what crossed the
 * router after NAT, UDP, ICMP echo, ICMP errors quoting the translated
 * packet, TTL/hop-limit 1 probes, packets to the router itself, IPv6). Each
 * case runs through a real Linux router made of network namespaces (the
 * ruleset loaded by the real nft, frames injected from the peers, every frame
 * the router transmits captured on both wires) and through nfx's HostPath on
 * `routerHost()`. The frames on each wire — and so each packet's fate as the
 * wires show it — must be identical, except the fields in RANDOMISED.
 *
 * One set of namespaces serves every case: `flush ruleset` and a load per
 * case. The kernel's conntrack table is not flushed (no conntrack tool here),
 * so each case uses its own source ports and ICMP ids and old entries never
 * meet new packets. Seed: printed; NFX_SEED overrides; NFX_CASES sets the
 * count (default 300); NFX_DIFF_OUT=FILE appends every mismatching case to FILE. Needs root, ip, nft and /usr/bin/python3; skips
 * otherwise. Creates and removes its own namespaces; sends nothing outside.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { HostPath } from '../src/host/path/walk.js';
import { routerHost } from '../src/host/path/testing.js';
import { packetFromExpression } from '../src/packet/scapy/index.js';
import { Ruleset } from '../src/netfilter/ruleset.js';
import { VirtualClock } from '../src/netfilter/clock.js';
import { executeNft, parseNftArgs } from '../src/nft/command.js';
import { KernelRouter, kernelRouterUnavailable, ROUTER_MAC } from './support/kernel-router.js';
import type { WireCapture } from './support/kernel-router.js';
import { mulberry32 } from '../src/netfilter/random.js';

/** Fields the kernel randomises (or leaves to checksum offload on veth), masked on both sides. */
export const RANDOMISED = [
  'IPv4 identification (and the header checksum over it) of non-DF ICMP the router sends from its own address, except echo requests',
  'TCP checksum of RST segments (the router\'s own resets leave veth with a partial checksum)',
  'IPv6 flow label (the automatic label hashes the flow with a per-boot secret)',
];

const ROUTER4 = ['0a000101', 'c0000201'];

function mask(hex: string): string {
  const b = Buffer.from(hex, 'hex');
  if (b.length >= 34 && b[12] === 0x08 && b[13] === 0x00) {
    const ihl = (b[14]! & 15) * 4;
    const own = ROUTER4.includes(b.subarray(26, 30).toString('hex'));
    if (own && b[23] === 1 && b[14 + ihl] !== 8 && (b[20]! & 0x40) === 0) { b[18] = 0; b[19] = 0; b[24] = 0; b[25] = 0; }
    if (b[23] === 6 && b.length >= 14 + ihl + 18 && (b[14 + ihl + 13]! & 4)) { b[14 + ihl + 16] = 0; b[14 + ihl + 17] = 0; }
  }
  if (b.length >= 54 && b[12] === 0x86 && b[13] === 0xdd) {
    b[15] = b[15]! & 0xf0; b[16] = 0; b[17] = 0;
    if (b[20] === 6 && b.length >= 54 + 18 && (b[54 + 13]! & 4)) { b[54 + 16] = 0; b[54 + 17] = 0; }
  }
  return b.toString('hex');
}

// ---------------------------------------------------------------------------
// The generator.

type Rng = (n: number) => number;
function rng(seed: number): Rng {
  const next = mulberry32(seed);
  return (n) => next() % n;
}
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[r(xs.length)]!;

type Fam = 'ip' | 'ip6' | 'inet';

/** Matches by the protocol they imply ('' = any), so a rule never asks for two transport protocols. */
const MATCH4: Record<string, string[]> = {
  '': ['ip saddr 10.0.1.2', 'ip daddr 198.51.100.0/24', 'ip daddr != 203.0.113.5', 'ip daddr @blk4', 'ip saddr . ip daddr { 10.0.1.2 . 203.0.113.5 }'],
  udp: ['ip daddr . udp dport { 198.51.100.7 . 53, 203.0.113.5 . 123 }', 'ip protocol udp'],
  tcp: ['ip saddr . tcp dport @svc'],
  icmp: ['icmp type echo-request'],
};
const MATCH6: Record<string, string[]> = {
  '': ['ip6 saddr 2001:db8:1::2', 'ip6 daddr 2001:db8:99::/48', 'ip6 daddr @blk6'],
  udp: ['ip6 nexthdr udp'],
  tcp: [],
  icmp: ['icmpv6 type echo-request'],
};
const MATCH: Record<string, string[]> = {
  '': ['ct state established,related', 'ct state new', 'ct state invalid', 'iifname "lan0"', 'iifname "wan0"', 'oifname "wan0"', 'ct status dnat'],
  tcp: ['tcp dport 80', 'tcp dport { 22, 80, 443 }', 'tcp sport 80', 'tcp flags & (syn|ack) == syn', 'tcp flags & (fin|syn|rst|ack) == ack', 'meta l4proto tcp', 'tcp dport 8080'],
  udp: ['udp dport 53', 'udp dport 1000-2000', 'udp sport 53'],
  icmp: [],
};

function action(r: Rng, fam: Fam, canJump: boolean, proto: string): string {
  const a = [' accept', ' drop', ' drop', ' accept', ''];
  if (canJump) a.push(' jump sub', ' goto sub2');
  if (canJump && (proto === '' || proto === 'tcp')) a.push(' tcp dport vmap { 80 : accept, 23 : drop, 25 : jump sub }');
  const rej = [' reject'];
  if (proto === '' || proto === 'tcp') rej.push(' meta l4proto tcp reject with tcp reset');
  // nft wants `meta nfproto` only in inet; an ip or ip6 table knows its family.
  const nf = (v: string) => (fam === 'inet' ? ` meta nfproto ${v}` : '');
  if (fam !== 'ip6') rej.push(`${nf('ipv4')} reject with icmp type host-unreachable`, `${nf('ipv4')} reject with icmp type admin-prohibited`);
  if (fam !== 'ip') rej.push(`${nf('ipv6')} reject with icmpv6 type admin-prohibited`);
  if (fam === 'inet') rej.push(' reject with icmpx type port-unreachable');
  if (r(4) === 0) a.push(pick(r, rej));
  return pick(r, a);
}

function ruleText(r: Rng, fam: Fam, canJump: boolean): string {
  const proto = pick(r, ['', '', 'tcp', 'tcp', 'udp', 'icmp']);
  const from = (m: Record<string, string[]>) => [...m[''], ...(proto ? m[proto]! : [])];
  const pool = [...from(MATCH), ...(fam === 'ip6' ? from(MATCH6) : fam === 'ip' ? from(MATCH4) : proto === 'icmp' ? from(MATCH4) : [...from(MATCH4), ...from(MATCH6)])];
  const parts: string[] = [];
  for (let i = 0, n = r(3); i < n; i++) parts.push(pick(r, pool));
  // In inet, one rule sticks to one address family: ip matches and ip6 matches together never match anything nft would accept.
  const has4 = parts.some((p) => /^(ip |icmp )/.test(p)), has6 = parts.some((p) => /^(ip6|icmpv6)/.test(p));
  const kept = has4 && has6 ? parts.filter((p) => !/^(ip6|icmpv6)/.test(p)) : parts;
  let act = action(r, fam, canJump, proto);
  if (has6 && !has4 && /icmp type/.test(act)) act = ' drop';
  if (has4 && /icmpv6 type/.test(act)) act = ' drop';
  const counter = r(3) === 0 || !act ? ' counter' : '';
  return `${kept.join(' ')}${counter}${act}`.trim();
}

const NAT4 = ['oifname "wan0" masquerade', 'oifname "wan0" ip saddr 10.0.1.0/24 snat to 192.0.2.1', 'oifname "wan0" udp dport 53 snat to 192.0.2.1', 'oifname "wan0" meta l4proto tcp masquerade'];
const DNAT4 = ['iifname "wan0" tcp dport 8080 dnat to 10.0.1.2:80', 'iifname "wan0" udp dport 5353 dnat to 10.0.1.2'];
const NAT6 = ['oifname "wan0" masquerade', 'oifname "wan0" ip6 saddr 2001:db8:1::/64 snat to 2001:db8:2::1'];
const DNAT6 = ['iifname "wan0" tcp dport 8080 dnat to [2001:db8:1::2]:80'];

function sets(fam: Fam): string {
  const s: string[] = [];
  if (fam !== 'ip6') {
    s.push('  set blk4 { type ipv4_addr; flags interval; elements = { 203.0.113.0/28, 198.51.100.66 } }');
    s.push('  set svc { type ipv4_addr . inet_service; elements = { 10.0.1.2 . 80, 10.0.1.2 . 443 } }');
  }
  if (fam !== 'ip') s.push('  set blk6 { type ipv6_addr; flags interval; elements = { 2001:db8:99:6::/64 } }');
  return s.join('\n');
}

function rulesetText(r: Rng): string {
  const out: string[] = [];
  const fams: Fam[] = pick(r, [['inet'], ['ip'], ['ip6'], ['ip', 'ip6'], ['inet', 'ip'], ['inet']] as Fam[][]);
  for (const fam of fams) {
    const chain = (name: string, head: string, n: number, jump: boolean) =>
      `  chain ${name} {\n${head ? `    ${head}\n` : ''}${Array.from({ length: n }, () => `    ${ruleText(r, fam, jump)}\n`).join('')}  }`;
    const pol = () => pick(r, ['accept', 'accept', 'drop']);
    out.push(`table ${fam} f {\n${sets(fam)}\n` +
      `${chain('fw', `type filter hook forward priority 0; policy ${pol()};`, 1 + r(6), true)}\n` +
      `${r(2) ? `${chain('inp', `type filter hook input priority 0; policy ${pol()};`, r(4), true)}\n` : ''}` +
      `${chain('sub', '', 1 + r(3), false)}\n${chain('sub2', '', 1 + r(3), false)}\n}`);
  }
  // NAT: a nat table per address family that gets one, in an ip/ip6 table or in inet.
  const nat = r(4);
  if (nat > 0) {
    const where = pick(r, ['ip', 'inet'] as const);
    const v4post = pick(r, NAT4), v4pre = r(2) ? pick(r, DNAT4) : r(2) ? 'iifname "wan0" dnat to tcp dport map { 8080 : 10.0.1.2, 8081 : 10.0.1.2 }' : '';
    const inetize = (s: string) => (where === 'inet' ? s.replace(/ (snat|dnat) to/, ' $1 ip to') : s);
    const pre = v4pre && !(where === 'inet' && v4pre.includes('map')) ? inetize(v4pre) : '';
    out.push(`table ${where} nat {\n  chain pre { type nat hook prerouting priority -100; policy accept;\n${pre ? `    ${pre}\n` : ''}  }\n` +
      `  chain post { type nat hook postrouting priority 100; policy accept;\n    ${inetize(v4post).replace(/ (snat|masquerade)/, r(2) ? ' counter $1' : ' $1')}\n  }\n}`);
    if (nat > 1) {
      out.push(`table ip6 nat {\n  chain pre { type nat hook prerouting priority -100; policy accept;\n${r(2) ? `    ${pick(r, DNAT6)}\n` : ''}  }\n` +
        `  chain post { type nat hook postrouting priority 100; policy accept;\n    ${pick(r, NAT6)}\n  }\n}`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** One packet: from a peer, either a fixed scapy expression or a reply built from what an earlier step put on a wire. */
interface Step {
  from: 'lan0' | 'wan0';
  expr?: string;
  /** Reply to step `ref`: swap what the router transmitted for it (or the original when it transmitted nothing). */
  ref?: number;
  reply?: (o: Seen) => string;
}

interface Seen { v6: boolean; src: string; dst: string; sport: number; dport: number; seq: number; hdr: Uint8Array }

const WAN4 = ['198.51.100.7', '203.0.113.5', '198.51.100.66', '203.0.113.77'];
const WAN6 = ['2001:db8:99::7', '2001:db8:99:6::9'];

function packets(r: Rng, k: number): Step[] {
  const steps: Step[] = [];
  let port = 10000 + k * 24;
  const want = 5 + r(16);
  for (let guard = 0; steps.length < want && guard < 50; guard++) {
    const v6 = r(4) === 0;
    const IP = (src: string, dst: string, extra = '') => (v6 ? `IPv6(src="${src}",dst="${dst}"${extra ? `,${extra.replace('ttl', 'hlim')}` : ''})` : `IP(src="${src}",dst="${dst}"${extra ? `,${extra}` : ''})`);
    const lan = v6 ? '2001:db8:1::2' : '10.0.1.2';
    const wan = pick(r, v6 ? WAN6 : WAN4);
    const me = v6 ? pick(r, ['2001:db8:1::1', '2001:db8:2::1']) : pick(r, ['10.0.1.1', '192.0.2.1']);
    const sp = port++;
    const kind = r(9);
    const base = steps.length;
    const L = (o: Seen) => (o.v6 ? `IPv6(src="${o.dst}",dst="${o.src}")` : `IP(src="${o.dst}",dst="${o.src}")`);
    if (kind <= 2) {
      // A TCP handshake from the LAN (or, for dnat, from the WAN to 8080), the reply to what crossed, the ACK and data.
      const inbound = kind === 2;
      const [a, b, dport] = inbound ? ['wan0', 'lan0', pick(r, [8080, 8081, 80])] as const : ['lan0', 'wan0', pick(r, [80, 443, 22, 23, 25, 8080])] as const;
      const src = inbound ? wan : lan, dst = inbound ? (v6 ? '2001:db8:2::1' : '192.0.2.1') : wan;
      steps.push({ from: a, expr: `${IP(src, dst)}/TCP(sport=${sp},dport=${dport},flags="S",seq=1000,window=64240)` });
      steps.push({ from: b, ref: base, reply: (o) => `${L(o)}/TCP(sport=${o.dport},dport=${o.sport},flags="SA",seq=5000,ack=${o.seq + 1},window=65000)` });
      steps.push({ from: a, expr: `${IP(src, dst)}/TCP(sport=${sp},dport=${dport},flags="A",seq=1001,ack=5001,window=64240)` });
      if (r(2)) steps.push({ from: a, expr: `${IP(src, dst)}/TCP(sport=${sp},dport=${dport},flags="PA",seq=1001,ack=5001,window=64240)/"hello ${k}"` });
    } else if (kind === 3) {
      const dport = pick(r, [53, 1500, 123, 5353]);
      steps.push({ from: 'lan0', expr: `${IP(lan, wan)}/UDP(sport=${sp},dport=${dport})/"q${k}"` });
      steps.push({ from: 'wan0', ref: base, reply: (o) => `${L(o)}/UDP(sport=${o.dport},dport=${o.sport})/"a${k}"` });
      // An ICMP error from the far end, quoting the packet as it crossed (after NAT).
      if (r(2)) {
        steps.push({ from: 'wan0', ref: base, reply: (o) => `${L(o)}/${o.v6 ? 'ICMPv6DestUnreach(code=4)' : 'ICMP(type=3,code=3)'}/Raw(load=b"${[...o.hdr].map((x) => `\\x${x.toString(16).padStart(2, '0')}`).join('')}")` });
      }
    } else if (kind === 4) {
      steps.push({ from: 'lan0', expr: `${IP(lan, wan)}/${v6 ? `ICMPv6EchoRequest(id=${sp},seq=1)` : `ICMP(type=8,id=${sp},seq=1)`}/"ping"` });
      steps.push({ from: 'wan0', ref: base, reply: (o) => `${L(o)}/${o.v6 ? `ICMPv6EchoReply(id=${o.sport},seq=1)` : `ICMP(type=0,id=${o.sport},seq=1)`}/"ping"` });
    } else if (kind === 5) {
      // TTL / hop limit 1: time exceeded from the router (unless a rule drops it first).
      steps.push({ from: 'lan0', expr: `${IP(lan, wan, 'ttl=1')}/UDP(sport=${sp},dport=33434)/"probe"` });
    } else if (kind === 6) {
      // To the router itself: echo, a closed TCP port, a closed UDP port.
      const l4 = pick(r, [v6 ? `ICMPv6EchoRequest(id=${sp},seq=2)` : `ICMP(type=8,id=${sp},seq=2)`, `TCP(sport=${sp},dport=22,flags="S",seq=7)`, `UDP(sport=${sp},dport=9)/"x"`]);
      const from = me.startsWith('10.') || me.startsWith('2001:db8:1:') ? 'lan0' : pick(r, ['lan0', 'wan0'] as const);
      steps.push({ from, expr: `${IP(from === 'lan0' ? lan : wan, me)}/${l4}` });
    } else if (kind === 7) {
      // From the WAN, unsolicited: new, or a stray ACK/RST (invalid or loose pickup).
      const flags = pick(r, ['S', 'A', 'R', 'SA', 'FA']);
      steps.push({ from: 'wan0', expr: `${IP(wan, lan)}/TCP(sport=${sp},dport=${pick(r, [80, 22, 443])},flags="${flags}",seq=1,ack=1)` });
    } else {
      steps.push({ from: 'wan0', expr: `${IP(wan, v6 ? '2001:db8:2::1' : '192.0.2.1')}/UDP(sport=${sp},dport=5353)/"m"` });
      steps.push({ from: 'lan0', ref: base, reply: (o) => `${L(o)}/UDP(sport=${o.dport},dport=${o.sport})/"r"` });
    }
  }
  return steps.slice(0, 20);
}

// ---------------------------------------------------------------------------
// Frames.

const macBytes = (m: string) => m.split(':').map((x) => parseInt(x, 16));

function frameOf(port: 'lan0' | 'wan0', ip: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + ip.length);
  f.set(macBytes(port === 'lan0' ? ROUTER_MAC.lan0 : ROUTER_MAC.wan0), 0);
  f.set(macBytes(port === 'lan0' ? ROUTER_MAC.lanPeer : ROUTER_MAC.wanPeer), 6);
  f[12] = ip[0]! >> 4 === 6 ? 0x86 : 0x08; f[13] = ip[0]! >> 4 === 6 ? 0xdd : 0x00;
  f.set(ip, 14);
  return f;
}

function v6text(b: Uint8Array, o: number): string {
  const w: string[] = [];
  for (let i = 0; i < 16; i += 2) w.push(((b[o + i]! << 8) | b[o + i + 1]!).toString(16));
  return w.join(':');
}

/** Addresses, ports (or echo id) and sequence of an IP packet (no Ethernet header). */
function seen(ip: Uint8Array): Seen {
  const v6 = ip[0]! >> 4 === 6;
  const l4 = v6 ? 40 : (ip[0]! & 15) * 4;
  const proto = v6 ? ip[6]! : ip[9]!;
  const src = v6 ? v6text(ip, 8) : [...ip.subarray(12, 16)].join('.');
  const dst = v6 ? v6text(ip, 24) : [...ip.subarray(16, 20)].join('.');
  const u16 = (o: number) => (ip[o]! << 8) | ip[o + 1]!;
  const echo = proto === 1 || proto === 58;
  const sport = echo ? u16(l4 + 4) : u16(l4), dport = echo ? u16(l4 + 4) : u16(l4 + 2);
  const seq = proto === 6 ? ((ip[l4 + 4]! << 24) | (ip[l4 + 5]! << 16) | (ip[l4 + 6]! << 8) | ip[l4 + 7]!) >>> 0 : 0;
  return { v6, src, dst, sport, dport, seq, hdr: ip.subarray(0, Math.min(ip.length, v6 ? 1232 : l4 + 8)) };
}

/** The expression of a step, given what each side transmitted so far. */
function exprOf(step: Step, on: WireCapture[], origs: Uint8Array[]): string {
  if (step.expr) return step.expr;
  const ref = step.ref!;
  const other = step.from === 'wan0' ? 'wan0' : 'lan0';
  const hex = on[ref]![other].find((h) => h);
  return step.reply!(seen(hex ? Buffer.from(hex, 'hex').subarray(14) : origs[ref]!));
}

// ---------------------------------------------------------------------------

interface CaseResult { ok: boolean; packets: number; report: string }

function nfxRouter(text: string): { path?: HostPath; err?: string } {
  const host = routerHost();
  const ruleset = new Ruleset();
  const clock = new VirtualClock(1_000_000);
  let err = '';
  const opts = { ...parseNftArgs(['-f', '-']), interfaces: ['lan0', 'wan0'] };
  const st = executeNft(ruleset, text, '/dev/stdin', opts, { out: () => {}, err: (t) => { err += t; } }, clock);
  if (st !== 0) return { err: err || `nft exit ${st}` };
  return { path: new HostPath(host, { ruleset, clock }) };
}

async function runCase(k: number, seed: number, kr: KernelRouter): Promise<CaseResult> {
  const r = rng(seed ^ Math.imul(k + 1, 0x9e3779b1));
  const text = rulesetText(r);
  const steps = packets(r, k);
  const kerr = kr.load(text);
  const mine = nfxRouter(text);
  const head = `case ${k} (NFX_SEED=${seed})\n--- ruleset ---\n${text}`;
  if (kerr !== undefined || !mine.path) {
    // nfx refusing what nft takes is a mismatch; nft refusing is the generator's bug. Either way: shown, and failed.
    return { ok: false, packets: 0, report: `${head}--- nft: ${kerr ?? 'accepted'}\n--- nfx: ${mine.err ?? 'accepted'}` };
  }
  const kOn: WireCapture[] = [], nOn: WireCapture[] = [], kOrig: Uint8Array[] = [], nOrig: Uint8Array[] = [];
  const lines: string[] = [];
  let ok = true;
  for (const [i, step] of steps.entries()) {
    const kExpr = exprOf(step, kOn, kOrig), nExpr = exprOf(step, nOn, nOrig);
    const kIp = packetFromExpression(kExpr), nIp = packetFromExpression(nExpr);
    kOrig.push(kIp); nOrig.push(nIp);
    const kc = await kr.send(step.from, frameOf(step.from, kIp));
    (mine.path.clock as VirtualClock).advance(10);
    const out = mine.path.receive(step.from, frameOf(step.from, nIp));
    const nc: WireCapture = { lan0: [], wan0: [] };
    for (const e of out.emitted) {
      if (!e.ether || (e.frame[0]! & 1) || (e.dev !== 'lan0' && e.dev !== 'wan0')) continue;
      nc[e.dev].push(Buffer.from(e.frame).toString('hex'));
    }
    kOn.push(kc); nOn.push(nc);
    const km = { lan0: kc.lan0.map(mask), wan0: kc.wan0.map(mask) }, nm = { lan0: nc.lan0.map(mask), wan0: nc.wan0.map(mask) };
    const same = kExpr === nExpr && JSON.stringify(km) === JSON.stringify(nm);
    const wires = (c: WireCapture) => `${c.lan0.length ? `lan0×${c.lan0.length}` : ''} ${c.wan0.length ? `wan0×${c.wan0.length}` : ''}`.trim() || 'nothing (dropped or delivered)';
    lines.push(`${same ? ' ' : '!'} ${i + 1} ${step.from}: ${nExpr}\n    kernel: ${wires(kc)}  nfx: ${out.fate}${out.reason ? ` ${out.reason}` : ''}, ${wires(nc)}`);
    if (!same) {
      ok = false;
      if (kExpr !== nExpr) lines.push(`    kernel's step: ${kExpr}`);
      for (const dev of ['lan0', 'wan0'] as const) lines.push(`    ${dev} kernel: ${km[dev].join(' ') || '-'}\n    ${dev} nfx:    ${nm[dev].join(' ') || '-'}`);
    }
  }
  return { ok, packets: steps.length, report: `${head}--- packets ---\n${lines.join('\n')}` };
}

test('generated rulesets: the frames on every wire match a real Linux router (kernel differential)', async (t) => {
  const why = kernelRouterUnavailable();
  if (why) { t.skip(why); return; }
  const seed = Number(process.env.NFX_SEED ?? 20261128);
  const count = Number(process.env.NFX_CASES ?? 300);
  t.diagnostic(`seed ${seed} (NFX_SEED=n for another), ${count} cases (NFX_CASES); masked: ${RANDOMISED.join('; ')}`);
  const kr = new KernelRouter(`nfxkd${process.pid}`);
  const t0 = Date.now();
  try {
    await kr.open();
    let agree = 0, packetsRun = 0;
    const bad: string[] = [];
    const badCases: number[] = [];
    for (let k = 0; k < count; k++) {
      const res = await runCase(k, seed, kr);
      packetsRun += res.packets;
      if (res.ok) agree++;
      else {
        badCases.push(k);
        if (process.env.NFX_DIFF_OUT) appendFileSync(process.env.NFX_DIFF_OUT, `${res.report}\n\n`);
        if (bad.length < 3) bad.push(res.report);
      }
      if (process.env.NFX_SHOW === String(k)) t.diagnostic(res.report);
    }
    const line = `kernel differential: ${agree}/${count} cases agree (${packetsRun} packets) in ${((Date.now() - t0) / 1000).toFixed(0)} s`;
    console.log(line);
    t.diagnostic(line);
    assert.equal(agree, count, `${line}\nmismatching cases (NFX_SHOW=k prints one): ${badCases.join(', ')}\nthe first:\n${bad.join('\n\n')}`);
  } finally {
    kr.close();
  }
});
