/**
 * `reject` in a bridge table, as net/bridge/netfilter/nft_reject_bridge.c
 * does it: the reset or unreachable that nf_reject_skb_v{4,6}_* build, with
 * the frame's MACs swapped, sent back out the port the frame came in by
 * through bridge OUTPUT and POSTROUTING (br_forward, local_orig) — never the
 * IP routing path; only in PREROUTING and INPUT; and no reply where the
 * kernel's builders return NULL.
 *
 * Expected replies are scapy expressions with every field the kernel sets
 * spelled out (nf_reject_iphdr_put: TOS 0, ID 0, DF, ip_default_ttl;
 * nf_reject_ip6hdr_put: class 0, flow 0, all.hop_limit); checksums are left
 * to scapy. One test runs real scapy on the same expressions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { expectFate } from '../src/host/path/testing.js';
import { sysctlSet } from '../src/host/sysctl.js';
import type { CounterExpr } from '../src/netfilter/bytecode.js';
import { Ruleset } from '../src/netfilter/ruleset.js';
import { VirtualClock } from '../src/netfilter/clock.js';
import { executeNft, parseNftArgs } from '../src/nft/command.js';
import { BR_MAC, bridgeHost, bridgePath, frame, hex, ip } from './support/bridge-host.js';

const A = BR_MAC.a, B = BR_MAC.b;
/** The bridge's own MAC: its lowest port MAC (p0's). */
const BR0 = BR_MAC.p0;

const table = (hook: string, rules: string, extra = ''): string => `
table bridge t {
  chain c {
    type filter hook ${hook} priority 0; policy accept;
    ${rules}
  }
  ${extra}
}`;

/** A frame from station A (behind p0) to station B (behind p1), through br0. */
const fromA = (l3: string, dst: string = B): Uint8Array => frame(`Ether(src="${A}",dst="${dst}")/${l3}`);

const SYN4 = 'IP(src="10.0.0.2",dst="10.0.0.3")/TCP(sport=1000,dport=2000,seq=1000,flags="S",window=8192)';
const UDP4 = 'IP(src="10.0.0.2",dst="10.0.0.3")/UDP(sport=1000,dport=2000)/Raw(load=b"hi")';
const SYN6 = 'IPv6(src="2001:db8::2",dst="2001:db8::3")/TCP(sport=1000,dport=2000,seq=1000,flags="S",window=8192)';
const UDP6 = 'IPv6(src="2001:db8::2",dst="2001:db8::3")/UDP(sport=1000,dport=2000)/Raw(load=b"hi")';

/** A bytes literal for an expression (the quoted original inside an ICMP error). */
const lit = (b: Uint8Array): string => `b"${[...b].map((x) => `\\x${x.toString(16).padStart(2, '0')}`).join('')}"`;
/** The IP packet of an expression, as scapy's bytes(...) gives it. */
const l3bytes = (l3: string): Uint8Array => frame(`Ether()/${l3}`).subarray(14);

/** The replies the kernel builds for the frames above (scapy expressions). */
const EXPECTED = {
  // nf_reject_ip_tcphdr_put(): no ACK in the SYN, so seq 0 and ack = seq + SYN + data length.
  rst4: `Ether(src="${B}",dst="${A}")/IP(src="10.0.0.3",dst="10.0.0.2",tos=0,id=0,flags="DF",ttl=64)/TCP(sport=2000,dport=1000,seq=0,ack=1001,flags="RA",window=0)`,
  // An ACKing segment is answered with its ack number as seq, and no ACK.
  rst4ack: `Ether(src="${B}",dst="${A}")/IP(src="10.0.0.3",dst="10.0.0.2",id=0,flags="DF",ttl=64)/TCP(sport=2000,dport=1000,seq=5555,ack=0,flags="R",window=0)`,
  // nf_reject_skb_v4_unreach(): the whole original (under 536 bytes) after an 8-byte ICMP header.
  unreach4: `Ether(src="${B}",dst="${A}")/IP(src="10.0.0.3",dst="10.0.0.2",id=0,flags="DF",ttl=64,proto=1)/ICMP(type=3,code=3)/Raw(load=${lit(l3bytes(UDP4))})`,
  // icmpx admin-prohibited → ICMP_PKT_FILTERED (13), as nft_reject_icmp_code() maps it.
  filtered4: `Ether(src="${B}",dst="${A}")/IP(src="10.0.0.3",dst="10.0.0.2",id=0,flags="DF",ttl=64,proto=1)/ICMP(type=3,code=13)/Raw(load=${lit(l3bytes(UDP4))})`,
  rst6: `Ether(src="${B}",dst="${A}")/IPv6(src="2001:db8::3",dst="2001:db8::2",tc=0,fl=0,hlim=64)/TCP(sport=2000,dport=1000,seq=0,ack=1001,flags="RA",window=0)`,
  // icmpx admin-prohibited → ICMPV6_ADM_PROHIBITED (1), nft_reject_icmpv6_code().
  unreach6: `Ether(src="${B}",dst="${A}")/IPv6(src="2001:db8::3",dst="2001:db8::2",hlim=64)/ICMPv6DestUnreach(code=1)/Raw(load=${lit(l3bytes(UDP6))})`,
  // In INPUT the frame was for the bridge itself: the reply comes from br0's MAC.
  rst4local: `Ether(src="${BR0}",dst="${A}")/IP(src="10.0.0.1",dst="10.0.0.2",id=0,flags="DF",ttl=64)/TCP(sport=2000,dport=1000,seq=0,ack=1001,flags="RA",window=0)`,
} as const;

/** nft's answer to a ruleset, as `nft -f` prints it. */
function nftErr(text: string): { status: number; err: string } {
  let err = '';
  const opts = parseNftArgs(['-f', 'ruleset.nft']);
  const status = executeNft(new Ruleset(), text, 'ruleset.nft', opts, { out: () => {}, err: (t) => { err += t; } }, new VirtualClock(0));
  return { status, err };
}

// ---------------------------------------------------------------------------
// Replies

test('reject with tcp reset in PREROUTING: the reset leaves by the port the SYN came in by, MACs swapped', () => {
  const path = bridgePath(bridgeHost(), table('prerouting', 'tcp dport 2000 reject with tcp reset'));
  const out = path.receive('p0', fromA(SYN4));
  expectFate(out, { fate: 'dropped', rule: { family: 'bridge', table: 't', chain: 'c', handle: 2 }, emitted: ['p0'] });
  assert.equal(hex(out.emitted[0]!.frame), hex(frame(EXPECTED.rst4)));
});

test('a segment carrying an ACK is reset with its ack number as sequence number', () => {
  const path = bridgePath(bridgeHost(), table('prerouting', 'reject with tcp reset'));
  const out = path.receive('p0', fromA('IP(src="10.0.0.2",dst="10.0.0.3")/TCP(sport=1000,dport=2000,seq=9,ack=5555,flags="PA")/Raw(load=b"hello")'));
  expectFate(out, { fate: 'dropped', emitted: ['p0'] });
  assert.equal(hex(out.emitted[0]!.frame), hex(frame(EXPECTED.rst4ack)));
});

test('reject (icmpx port-unreachable, nft\'s default in a bridge table) quotes the datagram in an ICMP unreachable', () => {
  const path = bridgePath(bridgeHost(), table('prerouting', 'udp dport 2000 reject'));
  const out = path.receive('p0', fromA(UDP4));
  expectFate(out, { fate: 'dropped', emitted: ['p0'] });
  assert.equal(hex(out.emitted[0]!.frame), hex(frame(EXPECTED.unreach4)));
  const filtered = bridgePath(bridgeHost(), table('prerouting', 'reject with icmpx admin-prohibited')).receive('p0', fromA(UDP4));
  assert.equal(hex(filtered.emitted[0]!.frame), hex(frame(EXPECTED.filtered4)));
});

test('reject with icmp CODE sends that code as it is', () => {
  const path = bridgePath(bridgeHost(), table('prerouting', 'ether type ip reject with icmp host-prohibited'));
  const out = path.receive('p0', fromA(UDP4));
  assert.equal(out.emitted.length, 1);
  const f = out.emitted[0]!.frame;
  assert.equal(f[14 + 20], 3, 'destination unreachable');
  assert.equal(f[14 + 21], 10, 'ICMP_HOST_ANO');
});

test('the TTL and hop limit are the sysctls nf_reject_iphdr_put / nf_reject_ip6hdr_put read', () => {
  const h = bridgeHost();
  sysctlSet(h, 'net.ipv4.ip_default_ttl', '33');
  sysctlSet(h, 'net.ipv6.conf.all.hop_limit', '7');
  const path = bridgePath(h, table('prerouting', 'reject with tcp reset'));
  assert.equal(path.receive('p0', fromA(SYN4)).emitted[0]!.frame[14 + 8], 33);
  assert.equal(path.receive('p0', fromA(SYN6)).emitted[0]!.frame[14 + 7], 7);
});

test('IPv6: a reset and an ICMPv6 unreachable, built as nf_reject_skb_v6_* build them', () => {
  const path = bridgePath(bridgeHost(), table('prerouting', 'meta l4proto tcp reject with tcp reset\nreject with icmpx admin-prohibited'));
  const rst = path.receive('p0', fromA(SYN6));
  expectFate(rst, { fate: 'dropped', emitted: ['p0'] });
  assert.equal(hex(rst.emitted[0]!.frame), hex(frame(EXPECTED.rst6)));
  const un = path.receive('p0', fromA(UDP6));
  expectFate(un, { fate: 'dropped', emitted: ['p0'] });
  assert.equal(hex(un.emitted[0]!.frame), hex(frame(EXPECTED.unreach6)));
});

test('in INPUT (a frame for the bridge itself) the reply\'s source is the bridge\'s MAC, and it still leaves by the port', () => {
  const path = bridgePath(bridgeHost({ addr4: '10.0.0.1/24' }), table('input', 'reject with tcp reset'));
  const out = path.receive('p0', fromA('IP(src="10.0.0.2",dst="10.0.0.1")/TCP(sport=1000,dport=2000,seq=1000,flags="S",window=8192)', BR0));
  expectFate(out, { fate: 'dropped', emitted: ['p0'] });
  assert.equal(hex(out.emitted[0]!.frame), hex(frame(EXPECTED.rst4local)));
});

test('the reply crosses bridge OUTPUT and POSTROUTING, not FORWARD, and no IP hook or route', () => {
  const h = bridgeHost();
  // No address and no route on the host: the inet reject could not send anything here.
  const seen = `
  chain fw { type filter hook forward priority 0; drop; }
  chain out { type filter hook output priority 0; counter; }
  chain post { type filter hook postrouting priority 0; tcp flags rst counter; }`;
  const path = bridgePath(h, table('prerouting', 'reject with tcp reset', seen) + '\ntable ip t4 {\n chain o { type filter hook output priority 0; drop; }\n chain p { type filter hook postrouting priority 0; drop; }\n}');
  const out = path.receive('p0', fromA(SYN4));
  expectFate(out, { fate: 'dropped', emitted: ['p0'] });
  const counter = (chain: string): number =>
    (path.ruleset.table(7, 't')!.chains.get(chain)!.rules[0]!.exprs.find((x) => x.type === 'counter') as CounterExpr).packets;
  assert.equal(counter('out'), 1, 'bridge OUTPUT saw the reset');
  assert.equal(counter('post'), 1, 'bridge POSTROUTING saw the reset');
  // A POSTROUTING drop keeps it off the wire.
  const blocked = bridgePath(bridgeHost(), table('prerouting', 'reject with tcp reset', 'chain post { type filter hook postrouting priority 0; tcp flags rst drop; }'));
  expectFate(blocked.receive('p0', fromA(SYN4)), { fate: 'dropped', emitted: [] });
  const outDrop = bridgePath(bridgeHost(), table('prerouting', 'reject with tcp reset', 'chain out { type filter hook output priority 0; ether saddr ' + B + ' drop; }'));
  expectFate(outDrop.receive('p0', fromA(SYN4)), { fate: 'dropped', emitted: [] });
});

test('with bridge conntrack loaded the reply still leaves, with no conntrack entry of its own (ct state invalid)', () => {
  const path = bridgePath(bridgeHost(), table('prerouting', 'ct state new reject with tcp reset',
    'chain post { type filter hook postrouting priority 0; ct state invalid counter; }'));
  const out = path.receive('p0', fromA(SYN4));
  expectFate(out, { fate: 'dropped', emitted: ['p0'] });
  assert.equal(hex(out.emitted[0]!.frame), hex(frame(EXPECTED.rst4)));
  // The nf_reject_skb_* builders attach nothing (no nf_ct_attach), unlike nf_send_reset.
  assert.equal((path.ruleset.table(7, 't')!.chains.get('post')!.rules[0]!.exprs.find((x) => x.type === 'counter') as CounterExpr).packets, 1);
});

test('the reply goes out the port even with hairpin off, but not out a port that does not forward', () => {
  const h = bridgeHost();
  const path = bridgePath(h, table('prerouting', 'reject with tcp reset'));
  // should_deliver(): the reply has no input device, so "not back where it came from" does not apply.
  expectFate(path.receive('p0', fromA(SYN4)), { fate: 'dropped', emitted: ['p0'] });
  // A learning port passes frames to PREROUTING (and learns), but br_forward() sends nothing out of it.
  ip(h, 'link set p0 type bridge_slave state 2');
  const out = path.receive('p0', fromA(SYN4));
  expectFate(out, { fate: 'dropped', emitted: [] });
  assert.ok(out.steps.some((s) => /p0 is learning, not forwarding/.test(s.text)));
});

// ---------------------------------------------------------------------------
// No reply

test('no reply where the kernel builds none: resets, non-first fragments, unreachables, broadcast and multicast frames, other ethertypes', () => {
  const path = bridgePath(bridgeHost(), table('prerouting', 'meta l4proto tcp reject with tcp reset\nreject'));
  const none = (f: Uint8Array, why: string): void => {
    const out = path.receive('p0', f);
    expectFate(out, { fate: 'dropped', emitted: [] });
    assert.ok(out.steps.some((s) => s.text.includes(why)), `${why}:\n${out.steps.map((s) => s.text).join('\n')}`);
  };
  none(fromA('IP(src="10.0.0.2",dst="10.0.0.3")/TCP(sport=1000,dport=2000,flags="R")'), 'no reset for a reset');
  none(fromA('IP(src="10.0.0.2",dst="10.0.0.3",frag=8,proto=17)/Raw(load=b"0123456789abcdef")'), 'non-first fragment');
  none(fromA('IP(src="10.0.0.2",dst="10.0.0.3",frag=8,proto=6)/Raw(load=b"0123456789abcdefghijklmn")'), 'non-first fragment');
  none(fromA(`IP(src="10.0.0.2",dst="10.0.0.3")/ICMP(type=3,code=1)/Raw(load=${lit(l3bytes('IP(src="10.0.0.3",dst="9.9.9.9")/UDP()'))})`), 'no unreachable for an unreachable');
  none(fromA(UDP4, 'ff:ff:ff:ff:ff:ff'), 'broadcast or multicast');
  none(fromA(UDP4, '01:00:5e:00:00:01'), 'broadcast or multicast');
  none(frame(`Ether(src="${A}",dst="${B}",type=0x0806)/ARP(psrc="10.0.0.2",pdst="10.0.0.3")`), 'ethertype 0x0806');
  none(fromA('IPv6(src="2001:db8::2",dst="2001:db8::3")/IPv6ExtHdrFragment(offset=8,nh=17)/Raw(load=b"0123456789abcdef")'), 'non-first fragment');
  none(fromA('IPv6(src="2001:db8::2",dst="2001:db8::3")/TCP(sport=1000,dport=2000,flags="RA")'), 'no reset for a reset');
  none(fromA('IPv6(src="2001:db8::2",dst="2001:db8::3")/ICMPv6DestUnreach()/Raw(load=b"x")'), 'no unreachable for an unreachable');
});

test('no reply to a datagram whose checksum is wrong (nf_ip_checksum, nf_ip6_checksum; frames arrive CHECKSUM_NONE)', () => {
  const path = bridgePath(bridgeHost(), table('prerouting', 'meta l4proto tcp reject with tcp reset\nreject'));
  const none = (l3: string): void => {
    const out = path.receive('p0', fromA(l3));
    expectFate(out, { fate: 'dropped', emitted: [] });
    assert.ok(out.steps.some((s) => /bad checksum/.test(s.text)), l3);
  };
  none('IP(src="10.0.0.2",dst="10.0.0.3")/TCP(sport=1000,dport=2000,seq=1000,flags="S",chksum=0x1234)');
  none('IP(src="10.0.0.2",dst="10.0.0.3")/UDP(sport=1000,dport=2000,chksum=0x1234)/Raw(load=b"hi")');
  none('IP(src="10.0.0.2",dst="10.0.0.3")/ICMP(type=8,chksum=0x1234)');
  // The IP header is inside nf_ip_checksum's sum too: a bad header checksum spoils it.
  none('IP(src="10.0.0.2",dst="10.0.0.3",chksum=0x1234)/TCP(sport=1000,dport=2000,seq=1000,flags="S")');
  none('IPv6(src="2001:db8::2",dst="2001:db8::3")/TCP(sport=1000,dport=2000,flags="S",chksum=0x1234)');
  none('IPv6(src="2001:db8::2",dst="2001:db8::3")/UDP(sport=1000,dport=2000,chksum=0x1234)');
});

test('nf_reject_verify_csum: IPv4 UDP without checksum, and SCTP/ESP/GRE, are answered unchecked; IPv6 UDP is always checked', () => {
  const path = bridgePath(bridgeHost(), table('prerouting', 'reject'));
  for (const l3 of [
    'IP(src="10.0.0.2",dst="10.0.0.3")/UDP(sport=1000,dport=2000,chksum=0)/Raw(load=b"hi")',
    'IP(src="10.0.0.2",dst="10.0.0.3",proto=132)/Raw(load=b"not really sctp at all")',
    'IP(src="10.0.0.2",dst="10.0.0.3",proto=50)/Raw(load=b"\\x00\\x00\\x00\\x01\\x00\\x00\\x00\\x01")',
  ]) expectFate(path.receive('p0', fromA(l3)), { fate: 'dropped', emitted: ['p0'] });
  expectFate(path.receive('p0', fromA('IPv6(src="2001:db8::2",dst="2001:db8::3")/UDP(sport=1000,dport=2000,chksum=0)')), { fate: 'dropped', emitted: [] });
});

test('a malformed IPv4 header gets no reply (nf_reject_iphdr_validate)', () => {
  const path = bridgePath(bridgeHost(), table('prerouting', 'reject'));
  // A total length beyond the frame.
  const f = fromA(UDP4);
  f[14 + 3] = 200;
  const out = path.receive('p0', f);
  assert.equal(out.emitted.length, 0);
});

test('Ethernet padding counts in skb->len at the bridge hooks: quoted in the unreachable, and in the reset\'s checksum check', () => {
  const path = bridgePath(bridgeHost(), table('prerouting', 'meta l4proto tcp reject with tcp reset\nreject'));
  // A 30-byte datagram padded to a 60-byte frame: the 16 pad bytes follow it in the quote
  // (len = min(536, skb->len) is taken before pskb_trim_rcsum()).
  const padded = fromA(`${UDP4}/Padding(load=${lit(new Uint8Array(16))})`);
  assert.equal(padded.length, 60);
  const un = path.receive('p0', padded);
  expectFate(un, { fate: 'dropped', emitted: ['p0'] });
  assert.equal(hex(un.emitted[0]!.frame), hex(frame(
    `Ether(src="${B}",dst="${A}")/IP(src="10.0.0.3",dst="10.0.0.2",id=0,flags="DF",ttl=64,proto=1)/ICMP(type=3,code=3)/Raw(load=${lit(new Uint8Array([...l3bytes(UDP4), ...new Uint8Array(16)]))})`)));
  // nf_reject_ip_tcphdr_get() checks the TCP sum over skb->len - ihl, padding included, so
  // a bare 40-byte SYN padded to 46 bytes fails it and gets no reset.
  const syn = fromA(`IP(src="10.0.0.2",dst="10.0.0.3")/TCP(sport=1000,dport=2000,seq=1000,flags="S")/Padding(load=${lit(new Uint8Array(6))})`);
  const out = path.receive('p0', syn);
  expectFate(out, { fate: 'dropped', emitted: [] });
  assert.ok(out.steps.some((s) => /bad checksum/.test(s.text)));
});

// ---------------------------------------------------------------------------
// Where reject may stand

test('reject is refused outside bridge PREROUTING and INPUT, also through a jump, as nft reports EOPNOTSUPP', () => {
  for (const hook of ['forward', 'output', 'postrouting']) {
    const r = nftErr(table(hook, 'reject'));
    assert.notEqual(r.status, 0, hook);
    assert.match(r.err, /Error: Could not process rule: Operation not supported/, `${hook}: ${r.err}`);
  }
  const viaJump = nftErr(table('forward', 'jump j', 'chain j { reject with tcp reset; }'));
  assert.notEqual(viaJump.status, 0);
  assert.match(viaJump.err, /Operation not supported/);
  for (const hook of ['prerouting', 'input']) assert.equal(nftErr(table(hook, 'reject with tcp reset')).status, 0, hook);
});

// ---------------------------------------------------------------------------
// Cross-check with real scapy

test('the expected replies are what real scapy builds from the same expressions', (t) => {
  const py = '/usr/bin/python3';
  if (!existsSync(py)) { t.skip('no /usr/bin/python3'); return; }
  const exprs = Object.values(EXPECTED);
  const script = 'import sys\nfrom scapy.all import *\nfor e in sys.stdin.read().split("\\n"):\n  print(bytes(eval(e)).hex())\n';
  const r = spawnSync(py, ['-c', script], { input: exprs.join('\n'), encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0 && /No module named .scapy/.test(r.stderr)) { t.skip('scapy not installed'); return; }
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  exprs.forEach((e, i) => assert.equal(hex(frame(e)), lines[i], e));
});

// ---------------------------------------------------------------------------
// netdev: nft_reject_netdev

test('reject in a netdev ingress chain: the reply goes straight back out of the device, MACs swapped, no routing', async () => {
  const { routerHost } = await import('../src/host/path/testing.js');
  const host = routerHost();
  // No route back to the sender is needed: the reply never meets the FIB.
  const text = 'table netdev t {\n  chain c {\n    type filter hook ingress device "lan0" priority 0; policy accept;\n    tcp dport 23 reject with tcp reset\n  }\n}';
  const path = bridgePath(host, text);
  const syn = frame('Ether(src="02:00:00:00:01:02",dst="02:00:00:00:01:01")/IP(src="10.0.9.2",dst="10.0.1.1")/TCP(sport=40000,dport=23,seq=1000,flags="S")');
  const out = path.receive('lan0', syn);
  expectFate(out, { fate: 'dropped', rule: { family: 'netdev', table: 't', chain: 'c', handle: 2 }, emitted: ['lan0'] });
  const want = frame('Ether(src="02:00:00:00:01:01",dst="02:00:00:00:01:02")/IP(src="10.0.1.1",dst="10.0.9.2",tos=0,id=0,flags="DF",ttl=64)/TCP(sport=23,dport=40000,seq=0,ack=1001,flags="RA",window=0)');
  assert.equal(hex(out.emitted[0]!.frame), hex(want));
});
