/**
 * Per-socket IPsec policies and if_id in the host packet path, as Linux:
 *  - a socket's `out` policy (setsockopt IP_XFRM_POLICY; Xfrm.setSocketPolicy)
 *    is consulted before the SPD for what that socket sends
 *    (xfrm_sk_policy_lookup in xfrm_lookup_with_ifid) — the IKE daemon's
 *    bypass is the classic use — and its `in` policy before the SPD for
 *    what is delivered to it (__xfrm_policy_check with the socket);
 *  - a packet not routed through an xfrm interface has if_id 0: only if_id-0
 *    policies match it, an if_id-0 policy's template only finds if_id-0 SAs,
 *    and inbound SAs are found by (daddr, SPI, proto, mark) whatever their
 *    if_id (xfrmi_rcv_cb leaves a packet no xfrm interface claims alone).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostPath } from '../src/host/path/walk.js';
import { outputFromSocket } from '../src/host/path/xfrm-socket.js';
import { expectFate, routerHost } from '../src/host/path/testing.js';
import { Packet } from '../src/packet/packet.js';
import { packetFromExpression } from '../src/packet/scapy/index.js';
import { Xfrm, ManualClock, ipXfrm, espSaConfigFromXfrm, emptySelector, infiniteLifetime, XFRM_POLICY_IN, XFRM_POLICY_OUT } from '../src/xfrm/index.js';
import type { PolicyConfig, XfrmTmpl } from '../src/xfrm/index.js';
import { createEspSa, espOutput } from '../src/xfrm/esp/index.js';

const KEY_OUT = '0x' + '11'.repeat(20), KEY_IN = '0x' + '22'.repeat(20);

function l3(expr: string): Uint8Array { return packetFromExpression(expr, { link: 'raw' }); }

function xfrmCmd(x: Xfrm, line: string): void {
  const r = ipXfrm(line.split(/\s+/).filter(Boolean), x, {});
  assert.equal(r.status, 0, `ip xfrm ${line}: ${r.stderr}`);
}

/** Host-to-host transport mode with the peer 198.51.100.1: everything between the two is protected. */
function transportXfrm(): Xfrm {
  const x = new Xfrm({ clock: new ManualClock(1_700_000_000_000) });
  xfrmCmd(x, `state add src 192.0.2.1 dst 198.51.100.1 proto esp spi 0x3001 reqid 3 mode transport aead rfc4106(gcm(aes)) ${KEY_OUT} 128`);
  xfrmCmd(x, `state add src 198.51.100.1 dst 192.0.2.1 proto esp spi 0x3000 reqid 3 mode transport replay-window 32 aead rfc4106(gcm(aes)) ${KEY_IN} 128`);
  xfrmCmd(x, 'policy add src 192.0.2.1/32 dst 198.51.100.1/32 dir out tmpl proto esp reqid 3 mode transport');
  xfrmCmd(x, 'policy add src 198.51.100.1/32 dst 192.0.2.1/32 dir in tmpl proto esp reqid 3 mode transport');
  return x;
}

/** A socket policy as an IKE daemon sets it: any flow of the family, allow, no templates (bypass). */
function bypass(dir: number): PolicyConfig {
  return { sel: emptySelector(2), dir, action: 0, priority: 0, index: 0, flags: 0, tmpls: [], lft: infiniteLifetime() };
}

const IKE_OUT = 'IP(src="192.0.2.1",dst="198.51.100.1")/UDP(sport=500,dport=500)/Raw(load=b"ike-sa-init")';
const IKE_IN = 'IP(src="198.51.100.1",dst="192.0.2.1")/UDP(sport=500,dport=500)/Raw(load=b"ike-sa-init")';

test('the IKE daemon\'s bypass socket policy lets its UDP 500 leave in clear; the same packet from elsewhere is encrypted by the SPD', () => {
  const x = transportXfrm();
  x.setSocketPolicy('charon', XFRM_POLICY_OUT, bypass(XFRM_POLICY_OUT));
  const path = new HostPath(routerHost(), { xfrm: x });
  const plain = outputFromSocket(path, 'charon', l3(IKE_OUT));
  expectFate(plain, { fate: 'forwarded', emitted: ['wan0'] });
  assert.equal(plain.emitted[0]!.frame[14 + 9], 17, 'UDP in clear');
  assert.ok(plain.steps.some((s) => /xfrm lookup \(out\): socket policy of charon allows it in clear/.test(s.text)));
  const other = path.output(l3(IKE_OUT));
  expectFate(other, { fate: 'forwarded', emitted: ['wan0'] });
  assert.equal(other.emitted[0]!.frame[14 + 9], 50, 'ESP: the SPD policy applies to a packet without the socket');
  assert.equal(outputFromSocket(path, 'nobody', l3(IKE_OUT)).emitted[0]!.frame[14 + 9], 50, 'a socket without a policy falls through to the SPD');
});

test('a socket policy with a template protects only that socket\'s traffic; a block socket policy drops it with XfrmOutPolBlock', () => {
  const x = new Xfrm({ clock: new ManualClock(1_700_000_000_000) });
  xfrmCmd(x, `state add src 192.0.2.1 dst 198.51.100.1 proto esp spi 0x3001 reqid 3 mode transport aead rfc4106(gcm(aes)) ${KEY_OUT} 128`);
  const tmpl: XfrmTmpl = { family: 2, daddr: new Uint8Array(16), saddr: new Uint8Array(16), spi: 0, proto: 50, mode: 0, reqid: 3, optional: 0, share: 0, aalgos: ~0 >>> 0, ealgos: ~0 >>> 0, calgos: ~0 >>> 0 };
  x.setSocketPolicy('app', XFRM_POLICY_OUT, { ...bypass(XFRM_POLICY_OUT), tmpls: [tmpl] });
  x.setSocketPolicy('jail', XFRM_POLICY_OUT, { ...bypass(XFRM_POLICY_OUT), action: 1 });
  const path = new HostPath(routerHost(), { xfrm: x });
  const sent = outputFromSocket(path, 'app', l3(IKE_OUT));
  expectFate(sent, { fate: 'forwarded', emitted: ['wan0'] });
  assert.equal(sent.emitted[0]!.frame[14 + 9], 50, 'ESP from the socket with the policy');
  assert.ok(sent.steps.some((s) => /socket policy of app → ESP spi 0x00003001 reqid 3 transport/.test(s.text)));
  assert.equal(path.output(l3(IKE_OUT)).emitted[0]!.frame[14 + 9], 17, 'UDP in clear from anyone else (no SPD policy)');
  const blocked = outputFromSocket(path, 'jail', l3(IKE_OUT));
  expectFate(blocked, { fate: 'dropped', reason: 'XFRM_POLICY', check: /XfrmOutPolBlock/, emitted: [] });
});

test('a packet delivered to a listener consults the socket\'s in policy first: IKE in clear reaches charon, not another socket', () => {
  const x = transportXfrm();
  x.setSocketPolicy('charon', XFRM_POLICY_IN, bypass(XFRM_POLICY_IN));
  const path = new HostPath(routerHost(), { xfrm: x, listeners: [{ proto: 'udp', port: 500, sockId: 'charon' }, { proto: 'udp', port: 4500 }] });
  const ike = path.receive('wan0', l3(IKE_IN), true);
  expectFate(ike, { fate: 'delivered', emitted: [] });
  assert.ok(ike.steps.some((s) => /xfrm policy check \(in\): allowed by the socket policy of charon/.test(s.text)));
  // The same in clear to the other socket: the SPD's transport policy wants ESP.
  const natt = path.receive('wan0', l3(IKE_IN.replace('dport=500', 'dport=4500')), true);
  expectFate(natt, { fate: 'dropped', reason: 'XFRM_POLICY', check: /XfrmInTmplMismatch/, emitted: [] });
  // Without its socket policy charon is held to the SPD too.
  x.setSocketPolicy('charon', XFRM_POLICY_IN, null);
  expectFate(path.receive('wan0', l3(IKE_IN), true), { fate: 'dropped', reason: 'XFRM_POLICY', check: /XfrmInTmplMismatch/ });
});

test('a socket in policy that requires ESP refuses clear text to that socket only (XfrmInTmplMismatch naming the socket)', () => {
  const x = new Xfrm({ clock: new ManualClock(1_700_000_000_000) });
  xfrmCmd(x, `state add src 198.51.100.1 dst 192.0.2.1 proto esp spi 0x3000 reqid 3 mode transport replay-window 32 aead rfc4106(gcm(aes)) ${KEY_IN} 128`);
  const tmpl: XfrmTmpl = { family: 2, daddr: new Uint8Array(16), saddr: new Uint8Array(16), spi: 0, proto: 50, mode: 0, reqid: 3, optional: 0, share: 0, aalgos: ~0 >>> 0, ealgos: ~0 >>> 0, calgos: ~0 >>> 0 };
  x.setSocketPolicy('vault', XFRM_POLICY_IN, { ...bypass(XFRM_POLICY_IN), tmpls: [tmpl] });
  const path = new HostPath(routerHost(), { xfrm: x, listeners: [{ proto: 'tcp', port: 9000, sockId: 'vault' }, { proto: 'tcp', port: 80 }] });
  const syn = (dport: number): string => `IP(src="198.51.100.1",dst="192.0.2.1")/TCP(sport=40000,dport=${dport},flags="S")`;
  expectFate(path.receive('wan0', l3(syn(9000)), true), { fate: 'dropped', reason: 'XFRM_POLICY', check: /XfrmInTmplMismatch.*socket vault/ });
  expectFate(path.receive('wan0', l3(syn(80)), true), { fate: 'delivered' });
  // In ESP it is welcome.
  const peer = createEspSa(espSaConfigFromXfrm(x.sad.states.find((s) => s.spi === 0x3000)!));
  const pkt = Packet.from(l3(syn(9000)));
  assert.ok(espOutput(peer, pkt).ok);
  expectFate(path.receive('wan0', pkt.data.slice(), true), { fate: 'delivered' });
});

test('if_id: a policy with an if_id is not used for traffic that is not routed through an xfrm interface (if_id 0)', () => {
  const x = new Xfrm({ clock: new ManualClock(1_700_000_000_000) });
  xfrmCmd(x, `state add src 192.0.2.1 dst 198.51.100.1 proto esp spi 0x1000 reqid 1 mode tunnel if_id 5 aead rfc4106(gcm(aes)) ${KEY_OUT} 128`);
  xfrmCmd(x, 'policy add src 10.0.1.0/24 dst 10.0.2.0/24 dir out if_id 5 tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 1 mode tunnel');
  const path = new HostPath(routerHost(), { xfrm: x });
  const out = path.receive('lan0', l3('IP(src="10.0.1.2",dst="10.0.2.5")/UDP(sport=1,dport=9)'), true);
  expectFate(out, { fate: 'forwarded', emitted: ['wan0'] });
  assert.equal(out.emitted[0]!.frame[14 + 9], 17, 'sent in clear: the if_id 5 policy needs the xfrm interface');
  // An if_id-0 policy for the same flow finds only if_id-0 SAs: the if_id 5 SA is not its.
  xfrmCmd(x, 'policy add src 10.0.1.0/24 dst 10.0.2.0/24 dir out tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 1 mode tunnel');
  expectFate(path.receive('lan0', l3('IP(src="10.0.1.2",dst="10.0.2.5")/UDP(sport=1,dport=9)'), true), { fate: 'dropped', check: /XfrmOutNoStates/ });
});

test('if_id: an inbound SA with an if_id still decrypts; the fwd check then sees if_id 0, so only if_id-0 policies admit it', () => {
  const x = new Xfrm({ clock: new ManualClock(1_700_000_000_000) });
  xfrmCmd(x, `state add src 198.51.100.1 dst 192.0.2.1 proto esp spi 0x2000 reqid 2 mode tunnel if_id 5 replay-window 32 aead rfc4106(gcm(aes)) ${KEY_IN} 128`);
  xfrmCmd(x, 'policy add src 10.0.2.0/24 dst 10.0.1.0/24 dir fwd if_id 5 tmpl src 198.51.100.1 dst 192.0.2.1 proto esp reqid 2 mode tunnel');
  const peer = createEspSa(espSaConfigFromXfrm(x.sad.states[0]!));
  const esp = (): Uint8Array => {
    const pkt = Packet.from(l3('IP(src="10.0.2.5",dst="10.0.1.2")/UDP(sport=1,dport=9)'));
    assert.ok(espOutput(peer, pkt).ok);
    return pkt.data.slice();
  };
  const path = new HostPath(routerHost(), { xfrm: x });
  // Only an if_id 5 fwd policy: a tunnel-mode SA was used and no policy (of if_id 0) matches.
  const first = path.receive('wan0', esp(), true);
  expectFate(first, { fate: 'dropped', reason: 'XFRM_POLICY', check: /XfrmInNoPols: forward policy check: tunnel-mode SA used but no policy/ });
  assert.ok(first.steps.some((s) => /decrypted by SA 0x00002000/.test(s.text)), 'the SA was found and used');
  xfrmCmd(x, 'policy add src 10.0.2.0/24 dst 10.0.1.0/24 dir fwd tmpl src 198.51.100.1 dst 192.0.2.1 proto esp reqid 2 mode tunnel');
  expectFate(path.receive('wan0', esp(), true), { fate: 'forwarded', emitted: ['lan0'] });
});
