/**
 * The forwarding path skips IPsec for a packet when no SA brought it, the
 * defaults accept and no `fwd` or `out` policy can match its addresses
 * (xfrmForwardInClear, noPolicyMatches). That shortcut must never be taken for
 * a packet the full checks would treat otherwise: for random SPDs and random
 * packets — TCP, UDP, ESP, ICMP echoes and ICMP errors quoting another packet
 * (whose quoted flow a `flag icmp` policy may claim), IPv6 with and without
 * extension headers — whenever the shortcut says "in clear", the forward
 * policy check allows with no policy and the output lookup bypasses with no
 * policy, decided on the decoded flow as ip_forward() decides without it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ManualClock, Xfrm, ipXfrm, lookupOutput, parseAddress, policyCheck, XFRM_POLICY_FWD, XFRM_POLICY_OUT } from '../src/xfrm/index.js';
import { Packet } from '../src/packet/packet.js';
import { setIpv4Headers, setIpv6Headers } from '../src/host/path/headers.js';
import { flowOf, noPolicyMatches } from '../src/host/path/xfrm-flow.js';
import { xfrmForwardInClear } from '../src/host/path/xfrm-input.js';
import { icmpCheckOptions, icmpForwardOptions } from '../src/host/path/xfrm-icmp.js';

const A = (s: string) => parseAddress(s)!.addr;
const V4 = ['192.168.1.23', '192.168.2.7', '192.168.2.200', '93.184.216.30', '10.0.0.1', '198.51.100.9'];
const V6 = ['2001:db8:1::23', '2001:db8:2::7', '2001:db8:ff::1'];

const P4 = ['192.168.1.0/24', '192.168.2.0/24', '192.168.2.128/25', '0.0.0.0/0', '93.184.216.30/32', '192.168.0.0/16', '10.0.0.1/32'];
const P6 = ['2001:db8:1::/64', '2001:db8::/32', '::/0'];
const AES = '0x' + '11'.repeat(16);

const policyArb = fc.record({
  v6: fc.constantFrom(false, false, false, true), s: fc.nat(9), d: fc.nat(9),
  dir: fc.constantFrom('out', 'fwd', 'in'), priority: fc.nat(3),
  proto: fc.constantFrom('', '', 'proto tcp', 'proto icmp'), icmp: fc.boolean(), block: fc.boolean(), tmpl: fc.boolean(),
});
type PolicySpec = typeof policyArb extends fc.Arbitrary<infer T> ? T : never;

/** `ip xfrm policy add` for the spec: a tunnel template (an SA exists for it) makes `out` lookups find a bundle. */
function policyLine(p: PolicySpec): string {
  const pool = p.v6 ? P6 : P4;
  return `policy add src ${pool[p.s % pool.length]} dst ${pool[p.d % pool.length]} ${p.proto} dir ${p.dir} priority ${p.priority}` +
    (p.block ? ' action block' : '') + (p.icmp ? ' flag icmp' : '') +
    (p.tmpl && !p.v6 && !p.block ? ' tmpl src 203.0.113.2 dst 203.0.113.30 proto esp reqid 1 mode tunnel' : '');
}

function spd(policies: PolicySpec[]): Xfrm {
  const x = new Xfrm({ clock: new ManualClock(0) });
  ipXfrm(`state add src 203.0.113.2 dst 203.0.113.30 proto esp spi 0x1001 reqid 1 mode tunnel enc cbc(aes) ${AES}`.split(' '), x);
  // A duplicate selector fails with EEXIST, as with ip xfrm: the first stays.
  for (const p of policies) {
    const r = ipXfrm(policyLine(p).split(/\s+/), x);
    assert.ok(r.status === 0 || /File exists/.test(r.stderr), `${policyLine(p)}: ${r.stderr}`);
  }
  return x;
}

const packetArb = fc.record({
  v6: fc.constantFrom(false, false, true), s: fc.nat(9), d: fc.nat(9),
  kind: fc.constantFrom('tcp', 'udp', 'esp', 'echo', 'unreach', 'exceeded', 'hopopts', 'hop-unreach'),
  innerS: fc.nat(9), innerD: fc.nat(9), innerV6: fc.boolean(),
});
type PacketSpec = typeof packetArb extends fc.Arbitrary<infer T> ? T : never;

/** An IP header (and what follows) as the forwarding path holds it: network header at pkt.head. */
function ipPacket(v6: boolean, s: Uint8Array, d: Uint8Array, proto: number, payload: Uint8Array): Packet {
  const h = v6 ? 40 : 20;
  const b = new Uint8Array(h + payload.length);
  if (v6) {
    b[0] = 0x60; b[4] = payload.length >> 8; b[5] = payload.length & 0xff; b[6] = proto; b[7] = 64;
    b.set(s.subarray(0, 16), 8); b.set(d.subarray(0, 16), 24);
  } else {
    b[0] = 0x45; b[2] = b.length >> 8; b[3] = b.length & 0xff; b[8] = 64; b[9] = proto;
    b.set(s.subarray(0, 4), 12); b.set(d.subarray(0, 4), 16);
  }
  b.set(payload, h);
  const pkt = Packet.from(b);
  if (v6) setIpv6Headers(pkt); else setIpv4Headers(pkt);
  return pkt;
}

function packetOf(p: PacketSpec): Packet {
  const pool = p.v6 ? V6 : V4;
  const s = A(pool[p.s % pool.length]!), d = A(pool[p.d % pool.length]!);
  const ports = Uint8Array.of(0x9c, 0x40, 0x01, 0xbb, 0, 0, 0, 0);
  const icmp = p.v6 ? 58 : 1;
  if (p.kind === 'tcp') return ipPacket(p.v6, s, d, 6, new Uint8Array([...ports, ...new Uint8Array(12)]));
  if (p.kind === 'udp') return ipPacket(p.v6, s, d, 17, ports);
  if (p.kind === 'esp') return ipPacket(p.v6, s, d, 50, new Uint8Array(16));
  if (p.kind === 'hopopts') return ipPacket(p.v6, s, d, p.v6 ? 0 : 6, new Uint8Array([6, 0, 1, 4, 0, 0, 0, 0, ...ports, ...new Uint8Array(12)]));
  if (p.kind === 'echo') return ipPacket(p.v6, s, d, icmp, Uint8Array.of(p.v6 ? 128 : 8, 0, 0, 0, 0, 1, 0, 1));
  // An ICMP error quoting a packet sent the other way (its source is the error's destination).
  const ipool = p.innerV6 ? V6 : V4;
  const inner = ipPacket(p.innerV6, A(ipool[p.innerS % ipool.length]!), A(ipool[p.innerD % ipool.length]!), 6, new Uint8Array([...ports, ...new Uint8Array(12)])).data;
  const type = p.kind === 'exceeded' ? (p.v6 ? 3 : 11) : p.v6 ? 1 : 3;
  const error = [type, 0, 0, 0, 0, 0, 0, 0, ...inner];
  // ICMPv6 behind a hop-by-hop options header (decode_session6 walks past it).
  if (p.kind === 'hop-unreach' && p.v6) return ipPacket(true, s, d, 0, new Uint8Array([58, 0, 1, 4, 0, 0, 0, 0, ...error]));
  return ipPacket(p.v6, s, d, icmp, new Uint8Array(error));
}

test('a forwarded packet is said to be in clear only when the policy check and the output lookup would find no policy', () => {
  let clear = 0, checked = 0, bundles = 0, fwdPolicies = 0;
  fc.assert(
    fc.property(fc.array(policyArb, { minLength: 1, maxLength: 8 }), fc.array(packetArb, { minLength: 1, maxLength: 8 }), (policies, packets) => {
      const x = spd(policies);
      for (const spec of packets) {
        const pkt = packetOf(spec);
        const fl = flowOf(pkt);
        const fwd = policyCheck(x, XFRM_POLICY_FWD, fl, [], icmpCheckOptions(pkt, fl, undefined));
        const out = lookupOutput(x, fl, icmpForwardOptions(pkt, fl, {}));
        const noFwd = fwd.ok && fwd.policy === null, noOut = out.action === 'bypass' && out.policy === null;
        if (out.action === 'transform') bundles++;
        if (!noFwd) fwdPolicies++;
        if (noPolicyMatches(x, pkt, XFRM_POLICY_FWD)) assert.ok(noFwd, `no fwd policy said for ${spec.kind}, yet the check found one`);
        if (noPolicyMatches(x, pkt, XFRM_POLICY_OUT)) assert.ok(noOut, `no out policy said for ${spec.kind}, yet the lookup found one`);
        if (xfrmForwardInClear(x, pkt)) { clear++; assert.ok(noFwd && noOut, `${spec.kind} said to be in clear`); }
        checked++;
      }
    }),
    { numRuns: 500 },
  );
  // The shortcut is taken for a good share of the packets (it is not trivially "never"), and
  // the SPDs made are ones where policies, bundles included, do decide for many packets.
  assert.ok(clear > checked / 10, `in clear ${clear} of ${checked}`);
  assert.ok(bundles > checked / 200 && fwdPolicies > checked / 20, `bundles ${bundles}, fwd policies ${fwdPolicies} of ${checked}`);
});

test('an SA on the packet, or a default block, always takes the full checks', () => {
  const x = new Xfrm({ clock: new ManualClock(0) });
  const pkt = ipPacket(false, A('192.168.1.23'), A('93.184.216.30'), 17, new Uint8Array(8));
  assert.equal(xfrmForwardInClear(x, pkt), true, 'no policy at all');
  x.setPolicyDefault({ fwd: 'block' });
  assert.equal(xfrmForwardInClear(x, pkt), false);
  x.setPolicyDefault({ fwd: 'accept', out: 'block' });
  assert.equal(xfrmForwardInClear(x, pkt), false);
});

test('an ICMPv6 error behind an extension header may be claimed by the quoted IPv4 flow\'s `flag icmp` policy', () => {
  const x = spd([]);
  // The quoted packet went 192.168.2.7 → 192.168.1.23; the error travels back towards its source.
  ipXfrm('policy add src 192.168.1.0/24 dst 192.168.2.0/24 dir out priority 1 flag icmp tmpl src 203.0.113.2 dst 203.0.113.30 proto esp reqid 1 mode tunnel'.split(' '), x);
  const pkt = packetOf({ v6: true, s: 0, d: 1, kind: 'hop-unreach', innerS: 1, innerD: 0, innerV6: false });
  const fl = flowOf(pkt);
  assert.equal(lookupOutput(x, fl, icmpForwardOptions(pkt, fl, {})).action, 'transform', 'the quoted flow\'s bundle carries the error');
  assert.equal(noPolicyMatches(x, pkt, XFRM_POLICY_OUT), false);
  assert.equal(xfrmForwardInClear(x, pkt), false);
});
