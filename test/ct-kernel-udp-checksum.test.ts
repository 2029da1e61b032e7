/**
 * udp_error() and udplite_error() against a real Linux router (kernel
 * differential): which UDP and UDP-Lite datagrams conntrack calls invalid at
 * PREROUTING — a bad checksum, but not a zero one ("no checksum", IPv4 and
 * IPv6 alike); the checksum summed over the whole IP payload; UDP-Lite's
 * coverage, its mandatory checksum, and the IPPROTO_UDP pseudo-header Linux
 * verifies it with. A forward chain drops `ct state invalid`; both routers
 * must forward the same datagrams.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostPath } from '../src/host/path/walk.js';
import { routerHost } from '../src/host/path/testing.js';
import { packetFromExpression } from '../src/packet/scapy/index.js';
import { Ruleset } from '../src/netfilter/ruleset.js';
import { VirtualClock } from '../src/netfilter/clock.js';
import { executeNft, parseNftArgs } from '../src/nft/command.js';
import { l4Checksum4, l4Checksum6 } from '../src/packet/wire/l4checksum.js';
import { ConntrackTable, CT_INVALID, IP_CT_NEW } from '../src/netfilter/conntrack/index.js';
import { forward, ipPacket } from '../src/netfilter/conntrack/testing.js';
import { KernelRouter, kernelRouterUnavailable, ROUTER_MAC } from './support/kernel-router.js';

const RULESET = `table inet f {
  chain filt {
    type filter hook forward priority 0; policy accept;
    ct state invalid counter drop
  }
}
`;

/** The checksum of the datagram made over its whole IP payload with `proto` in the pseudo-header, covering `covered` bytes. */
function checksumAs(proto: number, covered?: number): (ip: Uint8Array) => void {
  return (ip) => {
    const six = ip[0]! >> 4 === 6;
    const l4 = six ? 40 : 20;
    const len = ip.length - l4;
    ip[l4 + 6] = 0; ip[l4 + 7] = 0;
    const c = (six ? l4Checksum6 : l4Checksum4)(ip, 0, l4, len, proto, 6, covered ?? len);
    ip[l4 + 6] = c >> 8; ip[l4 + 7] = c & 0xff;
  };
}

const V4 = 'IP(src="10.0.1.2",dst="198.51.100.7")';
const V6 = 'IPv6(src="2001:db8:1::2",dst="2001:db8:ff::7")';
const CASES: Array<[string, string, ((ip: Uint8Array) => void)?]> = [
  ['IPv4, no checksum', `${V4}/UDP(sport=4000,dport=53,chksum=0)/"zero"`],
  ['IPv4, bad checksum', `${V4}/UDP(sport=4001,dport=53,chksum=0x1234)/"bad"`],
  ['IPv4, good checksum', `${V4}/UDP(sport=4002,dport=53)/"good"`],
  ['IPv6, no checksum', `${V6}/UDP(sport=4000,dport=53,chksum=0)/"zero"`],
  ['IPv6, bad checksum', `${V6}/UDP(sport=4001,dport=53,chksum=0x1234)/"bad"`],
  ['IPv6, good checksum', `${V6}/UDP(sport=4002,dport=53)/"good"`],
  // A UDP length short of the IP payload: the kernel sums the whole payload.
  ['UDP length < payload, checksum over the UDP length', `${V4}/UDP(sport=4003,dport=53,len=12)/"abcdefgh"`, (ip) => {
    ip[26] = 0; ip[27] = 0;
    const c = l4Checksum4(ip, 0, 20, 12, 17, 6);
    ip[26] = c >> 8; ip[27] = c & 0xff;
  }],
  ['UDP length < payload, checksum over the payload', `${V4}/UDP(sport=4004,dport=53,len=12)/"abcdefgh"`, checksumAs(17)],
  // UDP-Lite: coverage, a zero checksum, and the pseudo-header udplite_error() verifies with.
  ['UDP-Lite, RFC 3828 checksum', `${V4}/UDPLite(sport=5000,dport=53)/"payload-lite"`],
  ['UDP-Lite, coverage 8', `${V4}/UDPLite(sport=5001,dport=53,cscov=8)/"payload-lite"`],
  ['UDP-Lite, coverage 4', `${V4}/UDPLite(sport=5002,dport=53,cscov=4)/"payload-lite"`, checksumAs(17)],
  ['UDP-Lite, coverage past the end', `${V4}/UDPLite(sport=5003,dport=53,cscov=1000)/"payload-lite"`, checksumAs(17)],
  ['UDP-Lite, no checksum', `${V4}/UDPLite(sport=5004,dport=53,chksum=0)/"payload-lite"`],
  ['UDP-Lite, checksummed as UDP', `${V4}/UDPLite(sport=5005,dport=53,cscov=0)/"payload-lite"`, checksumAs(17)],
  ['UDP-Lite, coverage 8, checksummed as UDP', `${V4}/UDPLite(sport=5006,dport=53,cscov=8)/"payload-lite"`, checksumAs(17, 8)],
  ['UDP-Lite over IPv6, RFC 3828 checksum', `${V6}/UDPLite(sport=5007,dport=53)/"payload-lite"`],
  ['UDP-Lite over IPv6, checksummed as UDP', `${V6}/UDPLite(sport=5008,dport=53,cscov=12)/"payload-lite"`, checksumAs(17, 12)],
];

function macBytes(m: string): Uint8Array {
  return Uint8Array.from(m.split(':').map((x) => parseInt(x, 16)));
}

function frameFromLan(ip: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + ip.length);
  f.set(macBytes(ROUTER_MAC.lan0), 0);
  f.set(macBytes(ROUTER_MAC.lanPeer), 6);
  f[12] = ip[0]! >> 4 === 6 ? 0x86 : 0x08; f[13] = ip[0]! >> 4 === 6 ? 0xdd : 0x00;
  f.set(ip, 14);
  return f;
}

test('conntrack marks the same UDP datagrams invalid as Linux (zero and bad checksums, IPv4 and IPv6)', async (t) => {
  const why = kernelRouterUnavailable();
  if (why) { t.skip(why); return; }
  const ruleset = new Ruleset();
  const clock = new VirtualClock(1_000_000);
  let err = '';
  const st = executeNft(ruleset, RULESET, '/dev/stdin', { ...parseNftArgs(['-f', '-']), interfaces: ['lan0', 'wan0'] }, { out: () => {}, err: (s) => { err += s; } }, clock);
  assert.equal(st, 0, err);
  const path = new HostPath(routerHost(), { ruleset, clock });
  const kr = new KernelRouter(`nfxcu${process.pid}`);
  try {
    await kr.open();
    assert.equal(kr.load(RULESET), undefined);
    for (const [name, expr, fix] of CASES) {
      const ip = packetFromExpression(expr);
      fix?.(ip);
      const frame = frameFromLan(ip);
      const kernel = (await kr.send('lan0', frame)).wan0.length > 0;
      const nfx = path.receive('lan0', frame.slice()).fate === 'forwarded';
      assert.equal(nfx, kernel, `${name}: nfx ${nfx ? 'forwards' : 'drops'}, Linux ${kernel ? 'forwards' : 'drops'}`);
    }
  } finally {
    kr.close();
  }
});

test('UDP-Lite coverage and its mandatory checksum are checked at every hook, whatever nf_conntrack_checksum says', () => {
  const t = new ConntrackTable(new VirtualClock(0), (k) => (k === 'net.netfilter.nf_conntrack_checksum' ? 0 : undefined));
  const lite = (o: string) => forward(t, ipPacket(`${V4}/UDPLite(sport=5000,dport=53${o})/"payload-lite"`), 2);
  assert.equal(lite(',cscov=4').reason, 'nf_ct_udplite: invalid checksum coverage');
  assert.equal(lite(',cscov=21').reason, 'nf_ct_udplite: invalid checksum coverage', 'past the 20 bytes there are');
  assert.equal(lite(',chksum=0').reason, 'nf_ct_udplite: checksum missing');
  assert.equal(lite(',cscov=20,chksum=0x1234').ctinfo, IP_CT_NEW, 'checksums are not verified with nf_conntrack_checksum=0');
});

test('a zero UDP checksum passes over IPv6 too; a bad one does not (PREROUTING)', () => {
  const t = new ConntrackTable(new VirtualClock(0));
  assert.equal(forward(t, ipPacket(`${V6}/UDP(sport=7,dport=9,chksum=0)/"x"`), 10).ctinfo, IP_CT_NEW);
  const bad = forward(t, ipPacket(`${V6}/UDP(sport=8,dport=9,chksum=0x1234)/"x"`), 10);
  assert.equal(bad.ctinfo, CT_INVALID);
  assert.equal(bad.reason, 'nf_ct_udp: bad checksum');
});
