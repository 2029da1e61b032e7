/**
 * ICMP errors and IPsec (RFC 4301 §6), as Linux does them:
 *  - an error the gateway makes about a packet of a protected flow goes
 *    into the tunnel when the reversed flow's `out` policy has `flag icmp`
 *    (icmp_route_lookup: the error's own flow first, then
 *    xfrm_decode_session_reverse + XFRM_LOOKUP_ICMP), and then leaves with
 *    the reversed flow's source — the offending packet's destination;
 *  - an error arriving through an SA with `flag icmp` passes that SA's
 *    selector by the packet it quotes (xfrm_selector_inner_icmp_match) and
 *    the `fwd` policy of the quoted flow (xfrm_in_fwd_icmp).
 * The gateway is routerHost() (lan0 10.0.1.1/24, wan0 192.0.2.1/24) with a
 * tunnel to 198.51.100.1 for 10.0.1.0/24 <-> 10.0.2.0/24.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostPath } from '../src/host/path/walk.js';
import { expectFate, routerHost } from '../src/host/path/testing.js';
import { Packet } from '../src/packet/packet.js';
import { packetFromExpression } from '../src/packet/scapy/index.js';
import { Xfrm, ManualClock, ipXfrm, espSaConfigFromXfrm, formatXfrmStat } from '../src/xfrm/index.js';
import { createEspSa, espInput, espOutput } from '../src/xfrm/esp/index.js';

const KEY_OUT = '0x' + '11'.repeat(20), KEY_IN = '0x' + '22'.repeat(20);

function l3(expr: string): Uint8Array { return packetFromExpression(expr, { link: 'raw' }); }
function hex(b: Uint8Array): string { return Buffer.from(b).toString('hex'); }
function xfrmCmd(x: Xfrm, line: string): void {
  const r = ipXfrm(line.split(/\s+/).filter(Boolean), x, {});
  assert.equal(r.status, 0, `ip xfrm ${line}: ${r.stderr}`);
}
function stat(x: Xfrm, name: string): number {
  const m = new RegExp(`^${name}\\s+(\\d+)$`, 'm').exec(formatXfrmStat(x));
  return m ? Number(m[1]) : NaN;
}

/** SAs 0x1000 (out) and 0x2000 (in), the out policy with `outFlags`, in/fwd policies. */
function gateway(o: { outPolicy?: string; inSa?: string } = {}): Xfrm {
  const x = new Xfrm({ clock: new ManualClock(1_700_000_000_000) });
  xfrmCmd(x, `state add src 192.0.2.1 dst 198.51.100.1 proto esp spi 0x1000 reqid 1 mode tunnel aead rfc4106(gcm(aes)) ${KEY_OUT} 128`);
  xfrmCmd(x, `state add src 198.51.100.1 dst 192.0.2.1 proto esp spi 0x2000 reqid 2 mode tunnel replay-window 32 aead rfc4106(gcm(aes)) ${KEY_IN} 128 ${o.inSa ?? ''}`);
  xfrmCmd(x, `policy add src 10.0.1.0/24 dst 10.0.2.0/24 dir out ${o.outPolicy ?? 'flag icmp tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 1 mode tunnel'}`);
  for (const dir of ['in', 'fwd'])
    xfrmCmd(x, `policy add src 10.0.2.0/24 dst 10.0.1.0/24 dir ${dir} tmpl src 198.51.100.1 dst 192.0.2.1 proto esp reqid 2 mode tunnel`);
  return x;
}

function sa(x: Xfrm, spi: number) { return x.sad.states.find((s) => s.spi === spi)!; }
function fromPeer(x: Xfrm, inner: Uint8Array): Uint8Array {
  const pkt = Packet.from(inner);
  assert.ok(espOutput(createEspSa(espSaConfigFromXfrm(sa(x, 0x2000))), pkt).ok);
  return pkt.data.slice();
}
function peerDecrypts(x: Xfrm, frame: Uint8Array): Uint8Array {
  const pkt = Packet.from(frame.subarray(14));
  const r = espInput(createEspSa(espSaConfigFromXfrm(sa(x, 0x1000))), pkt);
  assert.ok(r.ok && r.kind === 'esp', 'the peer decrypts the ESP packet');
  return pkt.data.slice();
}

/** A packet from the peer's LAN whose TTL runs out here. */
const EXPIRING = 'IP(src="10.0.2.5",dst="10.0.1.2",ttl=1)/UDP(sport=5000,dport=53)/Raw(load=b"ping")';

test('time exceeded for a decapsulated packet goes back into the tunnel when the reversed flow\'s policy has flag icmp, from the packet\'s destination', () => {
  const x = gateway();
  const path = new HostPath(routerHost(), { xfrm: x });
  const out = path.receive('wan0', fromPeer(x, l3(EXPIRING)), true);
  assert.equal(out.fate, 'dropped');
  assert.deepEqual(out.emitted.map((e) => e.dev), ['wan0']);
  const frame = out.emitted[0]!.frame;
  assert.equal(frame[14 + 9], 50, 'the error left as ESP');
  const icmp = peerDecrypts(x, frame);
  assert.equal(icmp[9], 1, 'ICMP inside');
  assert.deepEqual([icmp[20], icmp[21]], [11, 0], 'time exceeded, TTL');
  // memcpy(fl4, &fl4_dec): the reversed flow's addresses — 10.0.1.2 > 10.0.2.5.
  assert.equal(hex(icmp.subarray(12, 20)), '0a0001020a000205');
  assert.equal(hex(icmp.subarray(28 + 12, 28 + 20)), '0a0002050a000102', 'it quotes the expired packet');
  assert.match(out.steps.map((s) => s.text).join('\n'), /reverse flow 10\.0\.1\.2 > 10\.0\.2\.5 proto 17 matches .* with flag icmp/);
});

test('without flag icmp on the policy the error stays out of the tunnel: in clear from wan0\'s address', () => {
  const x = gateway({ outPolicy: 'tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 1 mode tunnel' });
  const out = new HostPath(routerHost(), { xfrm: x }).receive('wan0', fromPeer(x, l3(EXPIRING)), true);
  assert.deepEqual(out.emitted.map((e) => e.dev), ['wan0']);
  const ip = out.emitted[0]!.frame.subarray(14);
  assert.deepEqual([ip[9], ip[20]], [1, 11], 'a plain ICMP time exceeded');
  assert.equal(hex(ip.subarray(12, 20)), 'c00002010a000205', '192.0.2.1 > 10.0.2.5');
});

test('a block policy with flag icmp for the reversed flow stops the error (-EPERM)', () => {
  const x = gateway({ outPolicy: 'action block flag icmp' });
  const out = new HostPath(routerHost(), { xfrm: x }).receive('wan0', fromPeer(x, l3(EXPIRING)), true);
  assert.deepEqual(out.emitted.map((e) => e.dev), []);
  assert.match(out.steps.map((s) => s.text).join('\n'), /no ICMP error: refused by IPsec policy/);
});

test('the error\'s own flow is looked up first: an allow without templates or a block there still leaves the reverse flow to decide', () => {
  for (const action of ['allow', 'block']) {
    const x = gateway();
    // The error's own flow 192.0.2.1 > 10.0.2.5 icmp: bypass (rt == rt2) or -EPERM (rt = NULL) both go on to the reverse lookup.
    xfrmCmd(x, `policy add src 192.0.2.1/32 dst 10.0.2.0/24 proto icmp dir out priority 1 action ${action}`);
    const out = new HostPath(routerHost(), { xfrm: x }).receive('wan0', fromPeer(x, l3(EXPIRING)), true);
    assert.deepEqual(out.emitted.map((e) => e.dev), ['wan0'], action);
    assert.equal(out.emitted[0]!.frame[14 + 9], 50, `${action}: into the tunnel by the reversed flow`);
    assert.equal(stat(x, 'XfrmOutPolBlock'), action === 'block' ? 1 : 0);
  }
});

test('when the reverse lookup fails, a blocked own flow means no error at all (relookup_failed with rt NULL)', () => {
  const x = gateway({ outPolicy: 'tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 1 mode tunnel' });
  // Some policy has flag icmp (so the reverse lookup runs), but not the reversed flow's.
  xfrmCmd(x, 'policy add src 10.9.0.0/16 dst 10.9.0.0/16 dir out flag icmp');
  xfrmCmd(x, 'policy add src 192.0.2.1/32 dst 10.0.2.0/24 proto icmp dir out priority 1 action block');
  const out = new HostPath(routerHost(), { xfrm: x }).receive('wan0', fromPeer(x, l3(EXPIRING)), true);
  assert.deepEqual(out.emitted.map((e) => e.dev), []);
  assert.match(out.steps.map((s) => s.text).join('\n'), /has no `flag icmp`; the error's own flow is blocked: not sent/);
});

/** An ICMP host unreachable from a router in the peer's network, about our 10.0.1.2 > 10.0.2.5 datagram. */
const UNREACH_FROM_PEER_SIDE = 'IP(src="172.16.0.1",dst="10.0.1.2",ttl=60)/ICMP(type=3,code=1)/IP(src="10.0.1.2",dst="10.0.2.5",ttl=63)/UDP(sport=40000,dport=53)';

test('an ICMP error through an SA without flag icmp fails the SA selector (XfrmInStateMismatch)', () => {
  const x = gateway({ inSa: 'sel src 10.0.2.0/24 dst 10.0.1.0/24' });
  const out = new HostPath(routerHost(), { xfrm: x }).receive('wan0', fromPeer(x, l3(UNREACH_FROM_PEER_SIDE)), true);
  expectFate(out, { fate: 'dropped', reason: 'XFRM_POLICY', check: /XfrmInStateMismatch/, emitted: [] });
  assert.equal(stat(x, 'XfrmInStateMismatch'), 1);
});

test('with flag icmp on the SA the error passes by the packet it quotes and the quoted flow\'s fwd policy, and is forwarded', () => {
  const x = gateway({ inSa: 'sel src 10.0.2.0/24 dst 10.0.1.0/24 flag icmp' });
  const out = new HostPath(routerHost(), { xfrm: x }).receive('wan0', fromPeer(x, l3(UNREACH_FROM_PEER_SIDE)), true);
  expectFate(out, { fate: 'forwarded', emitted: ['lan0'] });
  const ip = out.emitted[0]!.frame.subarray(14);
  assert.deepEqual([ip[9], ip[20], ip[21]], [1, 3, 1]);
  assert.equal(stat(x, 'XfrmInStateMismatch'), 0);
});

/** An ICMP error a router on our side (10.9.9.9, outside the selector) sends to the peer's LAN about a packet that came through the tunnel. */
const UNREACH_FROM_OUR_SIDE = 'IP(src="10.9.9.9",dst="10.0.2.5",ttl=64)/ICMP(type=3,code=1)/IP(src="10.0.2.5",dst="10.0.1.2",ttl=62)/UDP(sport=53,dport=40000)';

test('a forwarded ICMP error outside every selector takes the quoted flow\'s bundle when its policy has flag icmp (xfrm_out_fwd_icmp)', () => {
  for (const flag of [true, false]) {
    const x = gateway(flag ? {} : { outPolicy: 'tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 1 mode tunnel' });
    const out = new HostPath(routerHost(), { xfrm: x }).receive('lan0', l3(UNREACH_FROM_OUR_SIDE), true);
    expectFate(out, { fate: 'forwarded', emitted: ['wan0'] });
    const ip = out.emitted[0]!.frame.subarray(14);
    if (!flag) { assert.deepEqual([ip[9], ip[20]], [1, 3], 'without flag icmp: forwarded in clear'); continue; }
    assert.equal(ip[9], 50, 'with flag icmp: into the tunnel');
    const inner = peerDecrypts(x, out.emitted[0]!.frame);
    assert.equal(hex(inner.subarray(12, 20)), '0a0909090a000205', 'the error itself, 10.9.9.9 > 10.0.2.5, unchanged');
  }
});
