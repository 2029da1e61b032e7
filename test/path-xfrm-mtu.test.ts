/**
 * IPsec and the path MTU, as Linux: a forwarded packet is checked against
 * the bundle's MTU (xfrm_init_pmtu: the route MTU less the ESP overhead,
 * xfrm_state_mtu), an IPv4 packet with DF over it — and any IPv6 packet —
 * is answered with ICMP "fragmentation needed" / "packet too big" carrying
 * that MTU; without DF the ESP packet leaves in fragments; a local packet
 * too big for a tunnel gets EMSGSIZE (xfrm_local_error) and no ICMP.
 *
 * The gateway is routerHost() (wan0 MTU 1500) with a tunnel to 198.51.100.1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostPath } from '../src/host/path/walk.js';
import { expectFate, routerHost, ipLines } from '../src/host/path/testing.js';
import { Packet } from '../src/packet/packet.js';
import { packetFromExpression } from '../src/packet/scapy/index.js';
import { Xfrm, ManualClock, ipXfrm, espSaConfigFromXfrm } from '../src/xfrm/index.js';
import { createEspSa, espInput } from '../src/xfrm/esp/index.js';

const KEY = '0x' + '11'.repeat(20);
const GCM = `aead rfc4106(gcm(aes)) ${KEY} 128`;
const CBC = `enc cbc(aes) 0x${'33'.repeat(16)} auth-trunc hmac(sha256) 0x${'44'.repeat(32)} 128`;

function l3(expr: string): Uint8Array { return packetFromExpression(expr, { link: 'raw' }); }

function xfrmCmd(x: Xfrm, line: string): void {
  const r = ipXfrm(line.split(/\s+/).filter(Boolean), x, {});
  assert.equal(r.status, 0, `ip xfrm ${line}: ${r.stderr}`);
}

/** 10.0.1.0/24 → 10.0.2.0/24 through SA 0x1000 (tunnel, or transport when asked). */
function tunnel(alg = GCM): Xfrm {
  const x = new Xfrm({ clock: new ManualClock(1_700_000_000_000) });
  xfrmCmd(x, `state add src 192.0.2.1 dst 198.51.100.1 proto esp spi 0x1000 reqid 1 mode tunnel ${alg}`);
  xfrmCmd(x, 'policy add src 10.0.1.0/24 dst 10.0.2.0/24 dir out tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 1 mode tunnel');
  xfrmCmd(x, 'policy add src 10.0.1.0/24 dst 10.0.2.0/24 dir fwd');
  return x;
}

/** An IPv4 UDP datagram of exactly `total` bytes from the LAN to the far LAN. */
function datagram(total: number, df: boolean, src = '10.0.1.2'): Uint8Array {
  const p = l3(`IP(src="${src}",dst="10.0.2.5",ttl=64${df ? ',flags="DF"' : ''})/UDP(sport=5000,dport=9)/Raw(load=b"${'a'.repeat(total - 28)}")`);
  assert.equal(p.length, total);
  return p;
}

/** The ICMP error's type, code and next-hop MTU (RFC 1191 §4), from an Ethernet frame. */
function icmpOf(frame: Uint8Array): { type: number; code: number; mtu: number; quotedDst: string } {
  const ip = frame.subarray(14);
  const t = (ip[0]! & 15) * 4;
  return { type: ip[t]!, code: ip[t + 1]!, mtu: (ip[t + 6]! << 8) | ip[t + 7]!, quotedDst: [...ip.subarray(t + 8 + 16, t + 8 + 20)].join('.') };
}

test('xfrm_state_mtu: the largest inner packet of a 1500-byte link is 1446 for AES-GCM tunnel mode, 1438 for CBC + HMAC-SHA256', () => {
  // GCM: ((1500 - (8 ESP + 8 IV + 20 outer IPv4) - 16 ICV) & ~3) - 2 = 1446.
  // CBC: ((1500 - (8 + 16 IV + 20) - 16 ICV) & ~15) - 2 = 1438.
  for (const [alg, mtu] of [[GCM, 1446], [CBC, 1438]] as const) {
    const x = tunnel(alg);
    const path = new HostPath(routerHost(), { xfrm: x });
    expectFate(path.receive('lan0', datagram(mtu, true), true), { fate: 'forwarded', emitted: ['wan0'] });
    const fits = path.receive('lan0', datagram(mtu, true), true);
    assert.equal(fits.emitted[0]!.frame.length - 14, 1500, 'the largest packet makes a 1500-byte ESP packet');
    const big = path.receive('lan0', datagram(mtu + 1, true), true);
    expectFate(big, { fate: 'dropped', reason: 'PKT_TOO_BIG', check: new RegExp(`ip_forward: ${mtu + 1} bytes with DF over the IPsec path MTU ${mtu}: route MTU 1500 less the ESP overhead of SA 0x00001000`), emitted: ['lan0'] });
    assert.deepEqual(icmpOf(big.emitted[0]!.frame), { type: 3, code: 4, mtu, quotedDst: '10.0.2.5' }, 'ICMP fragmentation needed with the reduced MTU');
  }
});

test('the ICMP error goes back to the sender before the TTL is decremented, from the inbound address, and quotes the original', () => {
  const path = new HostPath(routerHost(), { xfrm: tunnel() });
  const sent = datagram(1500, true);
  const out = path.receive('lan0', sent, true);
  const ip = out.emitted[0]!.frame.subarray(14);
  assert.equal([...ip.subarray(12, 20)].join('.'), '10.0.1.1.10.0.1.2', '10.0.1.1 > 10.0.1.2');
  assert.equal(ip[20 + 8 + 8], 64, 'the quoted TTL is the one sent: ip_forward checks the MTU before ip_decrease_ttl');
  assert.ok(out.steps.some((s) => /xfrm lookup \(out\): policy index \d+ → ESP spi 0x00001000/.test(s.text)), 'the bundle was chosen first');
});

test('a route MTU metric lowers the bundle MTU too: route to the peer with mtu 1400 gives 1346', () => {
  const host = routerHost();
  ipLines(host, 'route add 198.51.100.1/32 via 192.0.2.254 dev wan0 mtu 1400');
  const path = new HostPath(host, { xfrm: tunnel() });
  expectFate(path.receive('lan0', datagram(1346, true), true), { fate: 'forwarded', emitted: ['wan0'] });
  const big = path.receive('lan0', datagram(1347, true), true);
  expectFate(big, { fate: 'dropped', reason: 'PKT_TOO_BIG', emitted: ['lan0'] });
  assert.equal(icmpOf(big.emitted[0]!.frame).mtu, 1346);
});

test('without DF the packet is encrypted and the ESP packet leaves in fragments the peer can reassemble and decrypt', () => {
  const x = tunnel();
  const path = new HostPath(routerHost(), { xfrm: x });
  const inner = datagram(1500, false);
  const out = path.receive('lan0', inner, true);
  expectFate(out, { fate: 'forwarded', emitted: ['wan0', 'wan0'] });
  const frags = out.emitted.map((e) => e.frame.subarray(14));
  for (const f of frags) {
    assert.ok(f.length <= 1500);
    assert.equal(f[9], 50, 'fragments of the ESP packet');
  }
  assert.equal(frags[0]![6]! & 0x20, 0x20, 'MF on the first');
  assert.equal(frags[0]![6]! & 0x40, 0, 'no DF: the outer header copies it from the inner');
  // Reassemble by hand: the first fragment's payload then the second's.
  const h1 = (frags[0]![0]! & 15) * 4, h2 = (frags[1]![0]! & 15) * 4;
  const payload = new Uint8Array([...frags[0]!.subarray(h1), ...frags[1]!.subarray(h2)]);
  const whole = new Uint8Array(20 + payload.length);
  whole.set(frags[0]!.subarray(0, 20));
  whole.set(payload, 20);
  whole[2] = whole.length >> 8; whole[3] = whole.length & 0xff; whole[6] = 0; whole[7] = 0;
  assert.equal(whole.length, 1500 + 8 + 8 + 20 + 2 + 16 + 2, 'inner + ESP header + IV + outer + padding to 4 + ICV + pad length/next header');
  const pkt = Packet.from(whole);
  const sa = createEspSa(espSaConfigFromXfrm(x.sad.states.find((s) => s.spi === 0x1000)!));
  const r = espInput(sa, pkt);
  assert.ok(r.ok && r.kind === 'esp', 'the peer decrypts the reassembled packet');
  assert.equal(pkt.length, 1500);
  assert.equal(pkt.data[8], 63, 'the inner packet, forwarded (TTL 63)');
});

test('IPv6: any packet over the bundle MTU gets packet too big with 1500 - 56 - 16 - 2 = 1426', () => {
  const x = new Xfrm({ clock: new ManualClock(1_700_000_000_000) });
  xfrmCmd(x, `state add src 2001:db8:2::1 dst 2001:db8:9::1 proto esp spi 0x6001 reqid 6 mode tunnel ${GCM}`);
  xfrmCmd(x, 'policy add src 2001:db8:1::/64 dst 2001:db8:7::/64 dir out tmpl src 2001:db8:2::1 dst 2001:db8:9::1 proto esp reqid 6 mode tunnel');
  const path = new HostPath(routerHost(), { xfrm: x });
  const pkt = (total: number): Uint8Array => l3(`IPv6(src="2001:db8:1::2",dst="2001:db8:7::5",hlim=64)/UDP(sport=1,dport=9)/Raw(load=b"${'b'.repeat(total - 48)}")`);
  expectFate(path.receive('lan0', pkt(1426), true), { fate: 'forwarded', emitted: ['wan0'] });
  const big = path.receive('lan0', pkt(1427), true);
  expectFate(big, { fate: 'dropped', reason: 'PKT_TOO_BIG', check: /ip6_forward: 1427 bytes over the IPsec path MTU 1426/, emitted: ['lan0'] });
  const ip = big.emitted[0]!.frame.subarray(14);
  assert.equal(ip[40], 2, 'ICMPv6 packet too big');
  assert.equal((ip[44]! << 24) | (ip[45]! << 16) | (ip[46]! << 8) | ip[47]!, 1426);
});

test('a packet that fits the link but not the tunnel: the plain route would have taken it', () => {
  const path = new HostPath(routerHost(), { xfrm: tunnel() });
  // 1480 bytes to a destination outside the tunnel leaves as it is.
  expectFate(path.receive('lan0', l3(`IP(src="10.0.1.2",dst="203.0.113.9",flags="DF")/UDP(sport=1,dport=9)/Raw(load=b"${'c'.repeat(1452)}")`), true), { fate: 'forwarded', emitted: ['wan0'] });
  expectFate(path.receive('lan0', datagram(1480, true), true), { fate: 'dropped', reason: 'PKT_TOO_BIG', emitted: ['lan0'] });
});

test('a local packet too big for the tunnel gets EMSGSIZE (xfrm_local_error): dropped, no ICMP', () => {
  const x = tunnel();
  xfrmCmd(x, 'policy add src 10.0.1.1/32 dst 10.0.2.0/24 dir out priority 1 tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 1 mode tunnel');
  const path = new HostPath(routerHost(), { xfrm: x });
  const big = path.output(datagram(1480, true, '10.0.1.1'));
  expectFate(big, { fate: 'dropped', reason: 'PKT_TOO_BIG', check: /EMSGSIZE \(xfrm_local_error\)/, emitted: [] });
  const fits = path.output(datagram(1446, true, '10.0.1.1'));
  expectFate(fits, { fate: 'forwarded', emitted: ['wan0'] });
  // Without DF the local packet is encrypted and fragmented, as a forwarded one.
  expectFate(path.output(datagram(1480, false, '10.0.1.1')), { fate: 'forwarded', emitted: ['wan0', 'wan0'] });
});

test('4in6: an IPv4 packet into an IPv6 tunnel is held to the IPv6 tunnel\'s MTU (header_len counts the outer IPv6 header): 1426', () => {
  const x = new Xfrm({ clock: new ManualClock(1_700_000_000_000) });
  // An inner family other than the SA's needs the selector said (or flag af-unspec).
  xfrmCmd(x, `state add src 2001:db8:2::1 dst 2001:db8:9::1 proto esp spi 0x4601 reqid 46 mode tunnel sel src 10.0.1.0/24 dst 10.0.2.0/24 ${GCM}`);
  xfrmCmd(x, 'policy add src 10.0.1.0/24 dst 10.0.2.0/24 dir out tmpl src 2001:db8:2::1 dst 2001:db8:9::1 proto esp reqid 46 mode tunnel');
  const path = new HostPath(routerHost(), { xfrm: x });
  const ok = path.receive('lan0', datagram(1426, true), true);
  expectFate(ok, { fate: 'forwarded', emitted: ['wan0'] });
  assert.equal(ok.emitted[0]!.frame.length - 14, 1500, 'a 1500-byte IPv6 ESP packet');
  const big = path.receive('lan0', datagram(1427, true), true);
  expectFate(big, { fate: 'dropped', reason: 'PKT_TOO_BIG', emitted: ['lan0'] });
  assert.deepEqual(icmpOf(big.emitted[0]!.frame), { type: 3, code: 4, mtu: 1426, quotedDst: '10.0.2.5' });
});
