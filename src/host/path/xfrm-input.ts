/**
 * IPsec on the receive side, where Linux puts it:
 *  - ESP addressed to us (IPPROTO_ESP, or UDP to an encapsulation port —
 *    a port some `encap espinudp` SA receives on, standing in for the IKE
 *    daemon's UDP_ENCAP socket) is handed to xfrm after the INPUT hooks saw
 *    it (ip_local_deliver → xfrm4_rcv / xfrm4_udp_encap_rcv → xfrm_input):
 *    SA lookup by (daddr, SPI, proto, mark), expiry, replay check, ICV,
 *    decryption; then the inner packet re-enters the stack with its secpath —
 *    tunnel mode as a new arrival on the same device (gro_cells_receive →
 *    netdev ingress → ip_rcv → PREROUTING), transport mode through
 *    xfrm4_transport_finish(), which re-runs PREROUTING on the restored header;
 *  - every other packet delivered locally passes xfrm4_policy_check(IN) after
 *    INPUT, before its protocol handler (ip_protocol_deliver_rcu; ESP's own
 *    handler is no_policy), and a forwarded packet passes
 *    xfrm4_policy_check(FWD) at the top of ip_forward().
 * Every drop names the /proc/net/xfrm_stat counter Linux increments.
 */
import type { Packet } from '../../packet/packet.js';
import type { Link } from '../types.js';
import type { Xfrm, XfrmSA } from '../../xfrm/index.js';
import {
  AF_INET, AF_INET6, UDP_ENCAP_ESPINUDP, XFRM_MAX_DEPTH, XFRM_MODE_IPTFS, XFRM_MODE_TRANSPORT, XFRM_POLICY_FWD, XFRM_POLICY_IN, XFRM_POLICY_OUT,
  checkNatMapping, inputCheckExpire, policyCheck, stateAccount, stateLookupInput,
} from '../../xfrm/index.js';
import type { XfrmMibName } from '../../xfrm/index.js';
import { espInput, espLocate } from '../../xfrm/esp/index.js';
import type { EspSa } from '../../xfrm/esp/index.js';
import { formatAddr } from '../inet.js';
import type { HostPath } from './walk.js';
import { borrowFlow, noPolicyMatches, releaseFlow, secpathOf, secpathPush, xaddr } from './xfrm-flow.js';
import { policyCheckPassesAll } from '../../xfrm/datapath.js';
import { espSaOf, syncReplay } from './xfrm-state.js';
import { iptfsInput } from './xfrm-iptfs.js';
import { findListener } from '../local-stack.js';
import { policyRef, saRef } from './xfrm-text.js';
import { xfrmiPolicyIfId, xfrmiReceive } from './xfrmi.js';
import { icmpCheckOptions } from './xfrm-icmp.js';
import type { XfrmFlow, XfrmPolicy } from '../../xfrm/index.js';
import { formatAddress } from '../../xfrm/index.js';

const IPPROTO_ESP = 50, IPPROTO_UDP = 17;

/**
 * A drop by xfrm: the check names the counter, so `why` and `--json` show it.
 * Policy refusals carry SKB_DROP_REASON_XFRM_POLICY, as ip_forward() and
 * ip_protocol_deliver_rcu() set it; the transforms free with plain kfree_skb().
 */
export function xfrmDrop(p: HostPath, counter: XfrmMibName | string, what: string, reason: 'NOT_SPECIFIED' | 'XFRM_POLICY' = 'NOT_SPECIFIED'): false {
  return p.drop(reason, `xfrm ${counter}: ${what}`);
}

function hex(n: number): string { return `0x${(n >>> 0).toString(16).padStart(8, '0')}`; }

/** Whether an inbound `encap espinudp` SA receives on UDP port `dport` (an encapsulation socket is bound there). */
function encapPort(x: Xfrm, dport: number): boolean {
  for (const sa of x.sad.states) if (sa.encap && sa.encap.type === UDP_ENCAP_ESPINUDP && sa.encap.dport === dport) return true;
  return false;
}

/**
 * After the INPUT hooks accepted a locally delivered packet: ESP goes to
 * xfrm_input (and the walk continues with the inner packet); anything else
 * must pass the inbound policy check. True when the local stack gets it.
 */
export function xfrmLocalIn(p: HostPath, x: Xfrm, pkt: Packet, link: Link): boolean {
  const fl = borrowFlow(pkt);
  // xfrmi_decode_session(): received on an xfrm interface, the check uses its if_id.
  fl.ifId = xfrmiPolicyIfId(p.host, pkt);
  try { return localIn(p, x, pkt, link, fl); } finally { fl.ifId = 0; releaseFlow(); }
}

function localIn(p: HostPath, x: Xfrm, pkt: Packet, link: Link, fl: XfrmFlow): boolean {
  if (fl.proto === IPPROTO_ESP || (fl.proto === IPPROTO_UDP && encapPort(x, fl.dport))) {
    const loc = espLocate(pkt);
    if (loc.kind === 'keepalive') {
      // xfrm4_udp_encap_rcv(): a NAT keepalive is consumed by the encapsulation socket.
      p.step('deliver', `NAT keepalive (RFC 3948 §2.3) to UDP ${fl.dport}: consumed by the encapsulation socket`);
      p.decideDelivered();
      return false;
    }
    if (loc.kind === 'esp') { xfrmInput(p, x, pkt, link, loc.spi, loc.seq, loc.udpOffset >= 0); return false; }
    if (loc.kind === 'truncated') {
      // xfrm_parse_spi() failed.
      x.stats.inc('XfrmInHdrError');
      return xfrmDrop(p, 'XfrmInHdrError', 'ESP header truncated');
    }
    // IKE behind the non-ESP marker: the IKE daemon's socket receives it, after the policy check.
  }
  // tcp_v4_rcv / udp_queue_rcv_one_skb: with a socket, xfrm4_policy_check(sk, ...) consults
  // the socket's own `in` policy before the SPD (xfrm_sk_policy_lookup).
  const sockId = receivingSocket(p, pkt, fl.proto, fl.dport);
  const r = policyCheck(x, XFRM_POLICY_IN, fl, secpathOf(pkt), icmpCheckOptions(pkt, fl, sockId));
  const who = (pol: { socket: boolean; index: number }): string => pol.socket ? `the socket policy of ${sockId ?? '?'}` : `policy index ${pol.index}`;
  if (!r.ok) return xfrmDrop(p, r.counter ?? 'XfrmInNoPols', `inbound policy check: ${refusal(r, fl, secpathOf(pkt))} (xfrm_policy_check dir in${sockId !== undefined ? `, socket ${sockId}` : ''})`, 'XFRM_POLICY');
  if (p.detail && (r.policy || secpathOf(pkt).length)) p.step('check', `xfrm policy check (in): ${r.policy ? `allowed by ${who(r.policy)}` : 'no policy'}`);
  return true;
}

function flowText(fl: XfrmFlow): string {
  const ports = fl.proto === 6 || fl.proto === 17 ? [`.${fl.sport}`, `.${fl.dport}`] : ['', ''];
  return `${formatAddress(fl.family, fl.saddr)}${ports[0]} > ${formatAddress(fl.family, fl.daddr)}${ports[1]}`;
}

/** Why __xfrm_policy_check refused the packet, naming the policy and SAs involved. */
function refusal(r: { counter: string | null; why: string; policy: XfrmPolicy | null }, fl: XfrmFlow, sp: readonly XfrmSA[]): string {
  const last = sp[sp.length - 1];
  if (r.counter === 'XfrmInTmplMismatch' && sp.length === 0 && r.policy)
    return `${flowText(fl)} arrived in clear, but ${policyRef(r.policy)} requires IPsec`;
  if (r.counter === 'XfrmInTmplMismatch' && last && r.policy)
    return `${flowText(fl)} came through ${saRef(last)}, which ${policyRef(r.policy)} does not ask for`;
  if (r.counter === 'XfrmInNoPols' && last)
    return `${r.why}: ${flowText(fl)} came through ${saRef(last)} and no policy covers it`;
  if (r.counter === 'XfrmInPolBlock' && r.policy) return `${r.why}: ${flowText(fl)} is refused by ${policyRef(r.policy)}`;
  return `${r.why}${r.policy ? ` — ${policyRef(r.policy)}` : ''}`;
}

/** The declared socket (with a sockId) a TCP or UDP packet is delivered to, if any. */
function receivingSocket(p: HostPath, pkt: Packet, proto: number, dport: number): string | undefined {
  if ((proto !== 6 && proto !== 17) || p.listeners.length === 0) return undefined;
  const b = pkt.buffer, h = pkt.head;
  const v6 = b[h]! >> 4 === 6;
  const daddr = v6 ? b.subarray(h + 24, h + 40) : b.subarray(h + 16, h + 20);
  return findListener(p.listeners, proto === 6 ? 'tcp' : 'udp', v6 ? 6 : 4, dport, daddr)?.sockId;
}

/**
 * Whether IPsec leaves a packet to forward alone: no SA brought it, the defaults accept, and
 * no `fwd` or `out` policy can match its addresses — what xfrmForwardCheck() and
 * xfrmRouteOutput(…, 'forward') would each answer with no policy, told with one look at the
 * header for both. False says nothing: make both calls.
 */
export function xfrmForwardInClear(x: Xfrm, pkt: Packet): boolean {
  const d = x.policyDefault;
  return d.fwd !== 'block' && d.out !== 'block' && secpathOf(pkt).length === 0 &&
    noPolicyMatches(x, pkt, XFRM_POLICY_FWD, XFRM_POLICY_OUT);
}

/** xfrm4_policy_check(NULL, XFRM_POLICY_FWD, skb) at the top of ip_forward(). */
export function xfrmForwardCheck(p: HostPath, x: Xfrm, pkt: Packet): boolean {
  const spLen = secpathOf(pkt).length;
  if (policyCheckPassesAll(x, XFRM_POLICY_FWD, spLen)) return true;
  // No SA to check and no `fwd` policy for these addresses: what policyCheck() would allow
  // with no policy, told without decoding the flow.
  if (spLen === 0 && x.policyDefault.fwd !== 'block' && noPolicyMatches(x, pkt, XFRM_POLICY_FWD)) return true;
  const fl = borrowFlow(pkt);
  fl.ifId = xfrmiPolicyIfId(p.host, pkt);
  try { return forwardCheck(p, x, pkt, fl); } finally { fl.ifId = 0; releaseFlow(); }
}

function forwardCheck(p: HostPath, x: Xfrm, pkt: Packet, fl: XfrmFlow): boolean {
  const r = policyCheck(x, XFRM_POLICY_FWD, fl, secpathOf(pkt), icmpCheckOptions(pkt, fl, undefined));
  if (!r.ok) return xfrmDrop(p, r.counter ?? 'XfrmFwdHdrError', `forward policy check: ${refusal(r, fl, secpathOf(pkt))} (xfrm_policy_check dir fwd)`, 'XFRM_POLICY');
  if (p.detail && (r.policy || secpathOf(pkt).length)) p.step('check', `xfrm policy check (fwd): ${r.policy ? `allowed by policy index ${r.policy.index}` : 'no policy'}`);
  return true;
}

/** xfrm_input() for one ESP packet whose SPI was found at the transport header. */
function xfrmInput(p: HostPath, x: Xfrm, pkt: Packet, link: Link, spi: number, seq: number, udp: boolean): void {
  const b = pkt.buffer, h = pkt.head;
  const v6 = b[h]! >> 4 === 6;
  const daddr = v6 ? b.subarray(h + 24, h + 40) : b.subarray(h + 16, h + 20);
  const what = (): string => `ESP spi ${hex(spi)} seq ${seq} to ${formatAddr(daddr)}${udp ? ' in UDP' : ''}`;
  if (p.detail) p.step('check', `xfrm input: ${what()}`);
  if (secpathOf(pkt).length >= XFRM_MAX_DEPTH) {
    // secpath_set(): no room for another SA.
    x.stats.inc('XfrmInBufferError');
    xfrmDrop(p, 'XfrmInBufferError', `more than ${XFRM_MAX_DEPTH} nested SAs`);
    return;
  }
  const q = stateLookupInput(x, {
    family: v6 ? AF_INET6 : AF_INET, daddr: xaddr(daddr), spi, proto: IPPROTO_ESP, mark: pkt.meta.mark,
    encapType: udp ? UDP_ENCAP_ESPINUDP : 0,
  });
  if (q.counter) {
    const why = q.counter === 'XfrmInNoStates'
      ? `no SA for ${what()} (xfrm_state_lookup by daddr, SPI, proto, mark)${knownSpis(x, v6 ? AF_INET6 : AF_INET, xaddr(daddr))}`
      : `SA for ${what()} cannot be used`;
    xfrmDrop(p, q.counter, why);
    return;
  }
  const sa = q.sa;
  if (!inputCheckExpire(x, sa)) { xfrmDrop(p, 'XfrmInStateExpired', `SA ${hex(spi)} reached its hard lifetime`); return; }
  if (sa.mode === XFRM_MODE_IPTFS) { iptfsInput(p, x, sa, pkt, link, what()); return; }
  const e = espSaOf(sa);
  const r = espInput(e, pkt);
  if (!r.ok) {
    x.stats.inc(r.counter as XfrmMibName);
    countOnSa(sa, r.counter);
    xfrmDrop(p, r.counter, `${r.detail} (${what()})${espDropWhy(r.counter, r.detail, e, seq)}`);
    return;
  }
  if (r.kind !== 'esp') { p.decideDelivered(); return; }
  stateAccount(x, sa, pkt.length);
  syncReplay(sa, e);
  if (r.mapping) checkNatMapping(x, sa, xaddr(r.mapping.saddr), r.mapping.sport);
  secpathPush(pkt, sa);
  // The ESP flow's conntrack entry is not the inner packet's.
  pkt.meta.ctSlot = -1;
  const tunnel = sa.mode !== XFRM_MODE_TRANSPORT;
  if (p.detail) p.step('rewrite', `xfrm: decrypted by SA ${hex(spi)} reqid ${sa.reqid} (${tunnel ? 'tunnel' : 'transport'} mode), ` +
    `${pkt.length} bytes re-enter ${tunnel ? `the stack on ${link.name}` : 'PREROUTING'} with a secpath of ${secpathOf(pkt).length}`);
  // xfrmi_rcv_cb(): an xfrm interface with the SA's if_id becomes skb->dev.
  p.reenter(pkt, xfrmiReceive(p, sa, pkt, link), tunnel);
}

/** What the replay window and the ICV say about a refused packet, for `why`. */
function espDropWhy(counter: string, detail: string, e: EspSa, seq: number): string {
  const w = e.replay;
  if (counter === 'XfrmInStateSeqError' && w.window > 0) {
    // RFC 4303 §3.4.3: the window is checked before the ICV, and moves only after it verifies.
    const top = w.seq >>> 0;
    const left = top >= w.window && seq <= top - w.window;
    return left ? `: sequence number ${seq} is left of the ${w.window}-packet window whose top is ${top}`
      : `: sequence number ${seq} was already received (window of ${w.window} packets, top ${top})`;
  }
  if (counter === 'XfrmInStateProtoError' && /ICV/.test(detail)) {
    return ': the packet was changed on the way or not made with this SA\'s key, so nothing of it is delivered and the replay window does not move (RFC 4303 §3.4.4)';
  }
  return '';
}

/** The SPIs this host does have for a destination, to set beside an unknown one. */
function knownSpis(x: Xfrm, family: number, daddr: Uint8Array): string {
  const spis: string[] = [];
  for (const sa of x.sad.states) {
    if (sa.family !== family || sa.proto !== IPPROTO_ESP) continue;
    let same = true;
    for (let i = 0; i < (family === AF_INET6 ? 16 : 4) && same; i++) same = sa.daddr[i] === daddr[i];
    if (same) spis.push(hex(sa.spi));
  }
  return spis.length ? `; the SAs to that address are ${spis.join(', ')}` : '; there is no SA to that address';
}

/** x->stats: replays and ICV failures are also counted on the SA (`ip -s xfrm state`). */
function countOnSa(sa: XfrmSA, counter: string): void {
  if (counter === 'XfrmInStateSeqError') sa.stats.replay++;
  else if (counter === 'XfrmInStateProtoError') sa.stats.integrityFailed++;
}
