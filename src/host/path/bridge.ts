/**
 * The Linux bridge on the packet path (net/bridge/br_input.c, br_forward.c,
 * br_device.c), reached from the walk at two points:
 * - `bridgeInput`: a frame received on a bridge port, after the port's netdev
 *   ingress hook — br_handle_frame is the port's rx_handler;
 * - `bridgeXmit`: a packet the host routed out of a bridge device, after the
 *   bridge's netdev egress hook — br_dev_xmit.
 * In between: bridge-family PREROUTING, FDB learning (bridge-fdb.ts), then
 * delivery up the stack through bridge INPUT with the bridge as the input
 * device, forwarding to the port the FDB names through FORWARD and
 * POSTROUTING, or flooding a copy to every other forwarding port.
 *
 * A frame can leave by several ports and go up the stack too: its fate is
 * `forwarded` when some copy left, else what the local stack made of it, else
 * the last copy's drop.
 */
import type { Packet } from '../../packet/packet.js';
import type { Link } from '../types.js';
import type { HostPath } from './walk.js';
import { linkByIndex, deriveMac } from '../links.js';
import { formatAddr, formatMac } from '../inet.js';
import { BR_STATE_FORWARDING, BR_STATE_LEARNING, BR_STATE_NAMES, bridgePorts, masterOf } from '../bridge.js';
import { fdbLearn, fdbLookup } from '../bridge-fdb.js';
import { fragmentIpv4 } from './fragment.js';
import { IPS_CONFIRMED } from '../../netfilter/conntrack/index.js';
import { setIpv4Headers, setIpv6Headers } from './headers.js';
import type { BrResult } from './bridge-hooks.js';
import {
  GO, asCopy, endCopy, NF_BR_FORWARD, NF_BR_LOCAL_IN, NF_BR_LOCAL_OUT, NF_BR_POST_ROUTING, NF_BR_PRE_ROUTING, brDrop, bridgeHook,
  bridgeUsesConntrack, netdevHook, settle,
} from './bridge-hooks.js';
import { bridgeFragInfo, copyFragInfo, ctBridgeIn, ctBridgePost, ctBridgePre, refragment6 } from './bridge-ct.js';
import { bridgeVlanGroup, portVlanGroup, VLAN_VID_MASK } from '../bridge-vlan.js';
import { allowedEgress, allowedIngress, clearTag, handleVlan, hasTag, shouldLearnVid, tagTci, vlanUntagRx } from './bridge-vlan.js';

/** skb->pkt_type PACKET_HOST, PACKET_OTHERHOST (uapi/linux/if_packet.h). */
const PACKET_HOST = 0;
const PACKET_OTHERHOST = 3;
/** NF_IP_PRI_CONNTRACK and NF_IP_PRI_CONNTRACK_CONFIRM (uapi/linux/netfilter_ipv4.h). */
const PRI_CONNTRACK = -200;
const PRI_CONFIRM = 0x7fffffff;
/** VLAN_HLEN: is_skb_forwardable() allows a tag's worth over mtu + ETH_HLEN. */
const VLAN_HLEN = 4;

/** br_pkt_type. */
type BrPktType = 'unicast' | 'multicast' | 'broadcast';

/** Bridge conntrack per path: whether a bridge-family table uses ct (nf_ct_netns_get(NFPROTO_BRIDGE)). */
const ctOn = new WeakMap<HostPath, boolean>();
function bridgeCt(path: HostPath): boolean {
  let v = ctOn.get(path);
  if (v === undefined) { v = path.ct !== undefined && bridgeUsesConntrack(path.ruleset); ctOn.set(path, v); }
  return v;
}

/** How the copies of one frame fared. */
class Copies {
  sent = 0;
  last: BrResult | undefined;
  note(r: BrResult, sent: boolean): void { if (sent) this.sent++; else this.last = r; }
}

const isMulticastMac = (b: Uint8Array, o: number): boolean => (b[o]! & 1) !== 0;
function isBroadcastMac(b: Uint8Array, o: number): boolean {
  for (let i = 0; i < 6; i++) if (b[o + i] !== 0xff) return false;
  return true;
}
/** is_valid_ether_addr(): not multicast, not all zeros. */
function validSource(b: Uint8Array, o: number): boolean {
  if (b[o]! & 1) return false;
  for (let i = 0; i < 6; i++) if (b[o + i] !== 0) return true;
  return false;
}
/** is_link_local_ether_addr(): 01:80:c2:00:00:0X, the IEEE 802.1D reserved group addresses. */
function isLinkLocal(b: Uint8Array, o: number): boolean {
  return b[o] === 0x01 && b[o + 1] === 0x80 && b[o + 2] === 0xc2 && b[o + 3] === 0 && b[o + 4] === 0 && (b[o + 5]! & 0xf0) === 0;
}
function sameMac(a: Uint8Array, b: Uint8Array, o: number): boolean {
  for (let i = 0; i < 6; i++) if (a[i] !== b[o + i]) return false;
  return true;
}

/**
 * A frame a bridge port received (br_handle_frame). Returns false when the
 * bridge passes it on (RX_HANDLER_PASS: link-local control frames), so the
 * walk goes on with the port's own protocol handlers.
 */
export function bridgeInput(path: HostPath, pkt: Packet, port: Link): boolean {
  const host = path.host;
  const br = masterOf(host, port);
  if (!br || !port.brport) return false;
  if (pkt.macHeader < 0 || pkt.macHeader + 14 > pkt.head) addEthernet(path, pkt, port);
  // The tag goes aside before the rx handler (skb_vlan_untag in __netif_receive_skb_core).
  vlanUntagRx(pkt);
  const b = pkt.buffer, m = pkt.macHeader;
  if (!validSource(b, m + 6)) {
    settle(path, brDrop(path, 'MAC_INVALID_SOURCE', `source MAC ${formatMac(b.subarray(m + 6, m + 12))} is not a valid station address (br_handle_frame)`));
    return true;
  }
  const p = port.brport;
  if (path.detail) path.step('link', `${port.name} is a port of ${br.name} (state ${BR_STATE_NAMES[p.state] ?? p.state}): bridged`);
  if (isLinkLocal(b, m)) {
    const last = b[m + 5]!;
    if (last === 0x01) {
      settle(path, brDrop(path, 'MAC_IEEE_MAC_CONTROL', 'IEEE MAC control (pause) frame'));
      return true;
    }
    // 01:80:c2:00:00:00 with STP off is forwarded like any frame; the other reserved addresses
    // (group_fwd_mask 0) are learnt from and handed to the port's own stack (RX_HANDLER_PASS),
    // all but LLDP after the bridge's INPUT hook.
    if (last !== 0x00) {
      if (last !== 0x0e) {
        const r = bridgeHook(path, pkt, NF_BR_LOCAL_IN, port, undefined);
        if (!r.go) { settle(path, r); return true; }
      }
      // __br_handle_local_finish(): learnt in the frame's VLAN if the port has it (br_should_learn).
      const lvid = shouldLearnVid(br, port, pkt);
      if (p.learning && lvid >= 0 && (p.state === BR_STATE_LEARNING || p.state === BR_STATE_FORWARDING)) fdbLearn(host, br, port.index, b, m + 6, path.clock.nowMs(), lvid);
      if (path.detail) path.step('link', `link-local group address ${formatMac(b.subarray(m, m + 6))}: not bridged, handed to ${port.name}'s own stack`);
      return false;
    }
  }
  if (p.state !== BR_STATE_FORWARDING && p.state !== BR_STATE_LEARNING) {
    settle(path, brDrop(path, 'BRIDGE_INGRESS_STP_STATE', `${port.name} is ${BR_STATE_NAMES[p.state] ?? p.state} in ${br.name}`));
    return true;
  }
  if (sameMac(br.mac, b, m)) pkt.meta.pktType = PACKET_HOST;
  const pre = bridgeHook(path, pkt, NF_BR_PRE_ROUTING, port, undefined,
    bridgeCt(path) ? ctBridgePre : undefined, PRI_CONNTRACK);
  if (!pre.go) { settle(path, pre); releaseCt(path, pkt); return true; }
  handleFrameFinish(path, pkt, port, br);
  releaseCt(path, pkt);
  return true;
}

/** An unconfirmed entry nothing holds any more dies with the frame (nf_ct_put of the last reference). */
function releaseCt(path: HostPath, pkt: Packet): void {
  const ct = path.ct;
  if (ct && bridgeCt(path) && pkt.meta.ctSlot >= 8) {
    const c = ct.slots[pkt.meta.ctSlot >> 3];
    if (c && !(c.status & IPS_CONFIRMED)) ct.remove(c);
  }
}

/** br_handle_frame_finish(): VLAN ingress filtering, learning, then deliver locally, forward, or flood. */
function handleFrameFinish(path: HostPath, pkt: Packet, port: Link, br: Link): void {
  const host = path.host;
  const p = port.brport!;
  const wasTagged = hasTag(pkt);
  const inVid = wasTagged ? tagTci(pkt) & VLAN_VID_MASK : 0;
  const vid = allowedIngress(br, port, pkt);
  if (vid < 0) {
    // __allowed_ingress() frees the frame without a reason of its own.
    settle(path, brDrop(path, 'NOT_SPECIFIED', inVid
      ? `VLAN ${inVid} is not configured on ${port.name} (br_allowed_ingress)`
      : `${wasTagged ? 'priority-tagged' : 'untagged'} frame and ${port.name} has no PVID (br_allowed_ingress)`));
    return;
  }
  const b = pkt.buffer, m = pkt.macHeader;
  const now = path.clock.nowMs();
  // Text for `why` only (the replay without detail builds no strings).
  const inVlan = path.detail && vid ? ` in VLAN ${vid}` : '';
  if (path.detail && vid) path.step('link', `${br.name}: VLAN ${vid} on ${port.name} (${inVid ? 'tagged' : wasTagged ? 'priority-tagged, PVID' : 'untagged, PVID'})`);
  if (p.learning) {
    const how = fdbLearn(host, br, port.index, b, m + 6, now, vid);
    if (path.detail && how === 'local') path.step('link', `${br.name}: received on ${port.name} with its own address ${formatMac(b.subarray(m + 6, m + 12))} as source; not learnt`);
    else if (path.detail && how !== 'off' && how !== 'refreshed') path.step('link', `${br.name}: learnt ${formatMac(b.subarray(m + 6, m + 12))}${inVlan} on ${port.name}${how === 'moved' ? ' (moved from another port)' : ''}`);
  }
  let type: BrPktType = 'unicast';
  let localRcv = false;
  if (isMulticastMac(b, m)) {
    // No IGMP/MLD querier on the segment (br_multicast_querier_exists): multicast floods
    // everywhere and goes up the stack, like broadcast.
    type = isBroadcastMac(b, m) ? 'broadcast' : 'multicast';
    localRcv = true;
  }
  if (p.state === BR_STATE_LEARNING) {
    settle(path, brDrop(path, 'BRIDGE_INGRESS_STP_STATE', `${port.name} is learning in ${br.name}: learnt, not forwarded`));
    return;
  }
  const copies = new Copies();
  if (type === 'unicast') {
    const dst = fdbLookup(host, br, b, m, now, vid);
    if (dst?.local) {
      if (path.detail) path.step('link', `${br.name}: ${formatMac(b.subarray(m, m + 6))}${inVlan} is this host's: up the stack`);
      passUp(path, pkt, port, br, vid);
      return;
    }
    if (dst) {
      const to = linkByIndex(host, dst.port)!;
      if (path.detail) path.step('link', `${br.name}: fdb says ${formatMac(b.subarray(m, m + 6))}${inVlan} is behind ${to.name}`);
      forward(path, pkt, port, br, to, false, copies, true, vid);
      if (copies.sent > 0) path.decideForwarded();
      else settle(path, copies.last ?? brDrop(path, 'NOT_SPECIFIED', 'br_forward: no delivery'));
      return;
    }
    if (path.detail) path.step('link', `${br.name}: ${formatMac(b.subarray(m, m + 6))}${inVlan} unknown: flooded`);
  } else if (path.detail) path.step('link', `${br.name}: ${type} ${formatMac(b.subarray(m, m + 6))}: flooded${inVlan}${localRcv ? ' and passed up' : ''}`);
  flood(path, pkt, port, br, type, false, copies, !localRcv, vid);
  if (copies.sent > 0) path.decideForwarded();
  if (localRcv) { passUp(path, pkt, port, br, vid); return; }
  if (copies.sent === 0) settle(path, copies.last ?? brDrop(path, 'NO_TX_TARGET', `${br.name} has no other port to flood to`));
}

/**
 * should_deliver(): not back out of the port it came in by (unless hairpin),
 * only by a forwarding port, and for a filtered frame (vid > 0) only by a
 * member of its VLAN (br_allowed_egress).
 */
function shouldDeliver(to: Link, from: Link, br: Link, vid: number): boolean {
  const p = to.brport!;
  return (p.hairpin || to.index !== from.index) && p.state === BR_STATE_FORWARDING && (vid <= 0 || allowedEgress(portVlanGroup(br, to), vid));
}

/** br_forward(): to one port; `own` when nothing else needs the frame afterwards (no clone, as __br_forward). */
function forward(path: HostPath, pkt: Packet, from: Link, br: Link, to: Link, localOrig: boolean, copies: Copies, own: boolean, vid: number): void {
  if (!shouldDeliver(to, from, br, vid)) {
    const p = to.brport!;
    copies.note(brDrop(path, 'NOT_SPECIFIED', (p.hairpin || to.index !== from.index) && p.state === BR_STATE_FORWARDING
      ? `${to.name} is not in VLAN ${vid} (br_allowed_egress)`
      : to.index === from.index ? `${to.name} is the port the frame came in by (hairpin off)` : `${to.name} is ${BR_STATE_NAMES[p.state]}, not forwarding`), false);
    return;
  }
  deliverCopy(path, pkt, from, br, to, localOrig, copies, own, vid);
}

/**
 * br_flood(): a copy to every port that should get one, in port-list order;
 * as maybe_deliver() does, every port but the last gets a clone, and the last
 * the frame itself when `own` (nothing goes up the stack).
 */
function flood(path: HostPath, pkt: Packet, from: Link, br: Link, type: BrPktType, localOrig: boolean, copies: Copies, own: boolean, vid: number): void {
  let prev: Link | undefined;
  for (const to of bridgePorts(path.host, br)) {
    const p = to.brport!;
    if (type === 'unicast' && !p.flood) continue;
    if (type === 'multicast' && !p.mcastFlood && !localOrig) continue;
    if (type === 'broadcast' && !p.bcastFlood && !localOrig) continue;
    if (!shouldDeliver(to, from, br, vid)) continue;
    if (prev) deliverCopy(path, pkt, from, br, prev, localOrig, copies, false, vid);
    prev = to;
  }
  if (prev) deliverCopy(path, pkt, from, br, prev, localOrig, copies, own, vid);
}

/** __br_forward(): FORWARD (or OUTPUT for the host's own), POSTROUTING, then the port's transmit — on a clone unless `own`. */
function deliverCopy(path: HostPath, orig: Packet, from: Link, br: Link, to: Link, localOrig: boolean, copies: Copies, own: boolean, vid: number): void {
  let pkt = orig;
  if (!own) { pkt = orig.clone(); copyFragInfo(orig, pkt); }
  asCopy(path);
  try {
    // br_handle_vlan(): the port's egress policy, before the FORWARD/OUTPUT hook sees the frame.
    handleVlan(portVlanGroup(br, to), vid, pkt);
    if (path.detail) path.step('forward', `${br.name}: a copy out ${to.name}${vid ? ` (VLAN ${vid}, ${hasTag(pkt) ? 'tagged' : 'untagged'})` : ''}`);
    let r = bridgeHook(path, pkt, localOrig ? NF_BR_LOCAL_OUT : NF_BR_FORWARD, localOrig ? undefined : from, to);
    if (r.go) {
      r = bridgeHook(path, pkt, NF_BR_POST_ROUTING, undefined, to,
        bridgeCt(path) ? ctBridgePost : undefined, PRI_CONFIRM);
    }
    if (!r.go) { copies.note(r, false); return; }
    const frag = bridgeFragInfo(pkt);
    if (frag && frag.fragMax > 0) {
      // nf_ct_bridge_frag_save() at POSTROUTING: the link header as the frame leaves, tag included.
      const mac = pkt.buffer.slice(pkt.macHeader, pkt.head);
      // nf_ct_bridge_refrag(): the datagram leaves in fragments no larger than the largest that came in.
      const v6 = pkt.protocol === 0x86dd;
      const parts = v6 ? refragment6(pkt.data, frag.fragMax, to.mtu, path.random() >>> 0) : fragmentIpv4(pkt.data, frag.fragMax);
      if (!parts) {
        copies.note(brDrop(path, 'NOT_SPECIFIED', `br_ip6_fragment: largest fragment ${frag.fragMax} is over ${to.name}'s MTU or under 1280`), false);
        return;
      }
      if (v6 && path.detail) path.step('transmit', `refragmented to ${parts.length} fragments with a new identification (ipv6_select_ident)`);
      let sent = 0;
      for (const f of parts) {
        const fp = pkt.clone();
        fp.head = fp.tail = pkt.head;
        fp.put(f.length);
        fp.buffer.set(f, fp.head);
        if (v6) setIpv6Headers(fp); else setIpv4Headers(fp);
        const fr = pushXmit(path, fp, to, mac);
        if (fr.go) sent++; else copies.note(fr, false);
      }
      if (sent > 0) copies.note(GO, true);
      return;
    }
    const x = pushXmit(path, pkt, to, undefined);
    copies.note(x, x.go);
  } finally {
    endCopy(path);
  }
}

/** br_dev_queue_push_xmit(): the Ethernet header back on, the size check, the port's egress hook, the wire. */
function pushXmit(path: HostPath, pkt: Packet, to: Link, mac: Uint8Array | undefined): BrResult {
  if (mac) { pkt.push(mac.length); pkt.buffer.set(mac, pkt.head); pkt.macHeader = pkt.head; pkt.pull(mac.length); }
  // is_skb_forwardable(): up, and no longer than mtu + hard_header_len + VLAN_HLEN (skb->len counts the
  // Ethernet header but not a tag the skb carries aside).
  if (!to.up) return brDrop(path, 'DEV_READY', `${to.name} is down`);
  if (pkt.length + 14 > to.mtu + 14 + VLAN_HLEN) {
    return brDrop(path, 'NOT_SPECIFIED', `${pkt.length + 14} bytes do not fit ${to.name}'s MTU ${to.mtu} (is_skb_forwardable)`);
  }
  const e = netdevHook(path, pkt, 1, to);
  if (!e.go) return e;
  const frame = pkt.buffer.slice(pkt.macHeader, pkt.tail);
  path.emit(to.name, frame, true);
  if (path.detail) path.step('transmit', `sent on ${to.name}: ${frame.length} bytes`);
  return GO;
}

/**
 * br_pass_frame_up(): bridge INPUT (in = the port), then the frame is received
 * again with the bridge as its device — its netdev ingress hook and the
 * protocol handlers — so the IP layer sees `iif br0`.
 */
function passUp(path: HostPath, pkt: Packet, port: Link, br: Link, vid: number): void {
  if (vid > 0) {
    // The bridge device is a port like any other (br_allowed_egress, then br_handle_vlan with its own group).
    const g = bridgeVlanGroup(br);
    if (!allowedEgress(g, vid)) { settle(path, brDrop(path, 'NOT_SPECIFIED', `${br.name} itself is not in VLAN ${vid} (br_pass_frame_up → br_allowed_egress)`)); return; }
    handleVlan(g, vid, pkt);
  }
  const r = bridgeHook(path, pkt, NF_BR_LOCAL_IN, port, undefined,
    bridgeCt(path) ? ctBridgeIn : undefined, PRI_CONFIRM);
  if (!r.go) { settle(path, r); return; }
  pkt.meta.iif = br.index;
  pkt.meta.oif = 0;
  if (path.detail) path.step('link', `received on ${br.name} (from port ${port.name})`);
  if (!br.up) { settle(path, brDrop(path, 'DEV_READY', `${br.name} is down`)); return; }
  const ing = netdevHook(path, pkt, 0, br);
  if (!ing.go) { settle(path, ing); return; }
  if (hasTag(pkt)) {
    // __netif_receive_skb_core(): no VLAN device (nfx has none) takes a tagged frame, so a VID makes it
    // PACKET_OTHERHOST; a priority tag (VID 0) is just cleared.
    const tvid = tagTci(pkt) & VLAN_VID_MASK;
    if (tvid) {
      pkt.meta.pktType = PACKET_OTHERHOST;
      if (path.detail) path.step('link', `tagged VLAN ${tvid} on ${br.name}, which has no VLAN device for it: PACKET_OTHERHOST`);
    } else clearTag(pkt);
  }
  if (pkt.protocol === 0x0800) path.ipRcv4(pkt, br);
  else if (pkt.protocol === 0x86dd) path.ipRcv6(pkt, br);
  else if (pkt.protocol === 0x0806) {
    // arp_rcv() consumes (does not drop) a PACKET_OTHERHOST frame.
    path.step('deliver', pkt.meta.pktType === PACKET_OTHERHOST ? 'ARP for another host: consumed (arp_rcv)' : 'ARP: handled by the neighbour layer');
    path.decideDelivered();
  }
  else settle(path, brDrop(path, 'UNHANDLED_PROTO', `no handler for ethertype 0x${pkt.protocol.toString(16).padStart(4, '0')}`));
}

/**
 * br_dev_xmit(): a packet the host sends out of the bridge device (its
 * Ethernet header already built) goes to the port the FDB names, or is
 * flooded, through bridge OUTPUT and POSTROUTING. True when a copy left.
 */
export function bridgeXmit(path: HostPath, pkt: Packet, br: Link): boolean {
  const copies = new Copies();
  if (path.detail) path.step('link', `${br.name} is a bridge: br_dev_xmit`);
  // br_allowed_ingress() with the bridge's own group: an untagged packet takes its PVID.
  const tagged = hasTag(pkt);
  const vid = allowedIngress(br, undefined, pkt);
  if (vid < 0) {
    settle(path, brDrop(path, 'NOT_SPECIFIED', `${br.name} has no PVID for an untagged packet (br_dev_xmit → br_allowed_ingress)`));
    return false;
  }
  const b = pkt.buffer, m = pkt.macHeader;
  const inVlan = path.detail && vid ? ` in VLAN ${vid}` : '';
  // The walk still holds the packet afterwards: every copy is a clone.
  if (isMulticastMac(b, m)) flood(path, pkt, br, br, isBroadcastMac(b, m) ? 'broadcast' : 'multicast', true, copies, false, vid);
  else {
    const dst = fdbLookup(path.host, br, b, m, path.clock.nowMs(), vid);
    if (dst && dst.port === 0) copies.note(brDrop(path, 'NOT_SPECIFIED', `${formatMac(b.subarray(m, m + 6))} is ${br.name}'s own address`), false);
    else if (dst) {
      const to = linkByIndex(path.host, dst.port)!;
      if (path.detail) path.step('link', `${br.name}: fdb says ${formatMac(b.subarray(m, m + 6))}${inVlan} is behind ${to.name}`);
      forward(path, pkt, br, br, to, true, copies, false, vid);
    } else {
      if (path.detail) path.step('link', `${br.name}: ${formatMac(b.subarray(m, m + 6))}${inVlan} unknown: flooded`);
      flood(path, pkt, br, br, 'unicast', true, copies, false, vid);
    }
  }
  // The PVID tag was put on here: the walk gets its packet back as it was.
  if (!tagged && hasTag(pkt)) clearTag(pkt);
  if (copies.sent > 0) return true;
  settle(path, copies.last ?? brDrop(path, 'NO_TX_TARGET', `${br.name} has no port to send on`));
  return false;
}

/**
 * br_forward(to, skb, false, true) for a frame the bridge made itself, its
 * Ethernet header built (nft_reject_bridge's replies): no input device, so
 * should_deliver() only asks that `to` forwards (hairpin does not matter);
 * then bridge OUTPUT and POSTROUTING as __br_forward(local_orig) runs them,
 * and the port's transmit. True when it left.
 */
export function bridgeForwardLocal(path: HostPath, pkt: Packet, to: Link): boolean {
  const br = masterOf(path.host, to);
  if (!br || !to.brport) return false;
  if (to.brport.state !== BR_STATE_FORWARDING) {
    if (path.detail) path.step('forward', `${to.name} is ${BR_STATE_NAMES[to.brport.state]}, not forwarding: not sent (br_forward)`);
    return false;
  }
  const copies = new Copies();
  // A frame the bridge made has a zeroed control block: vlan_filtered is false, its tag (if any) stays.
  deliverCopy(path, pkt, br, br, to, true, copies, true, 0);
  return copies.sent > 0;
}

/**
 * A packet injected at layer 3 on a port gets the Ethernet header CLI.md
 * promises — addressed to the port — from the station nfx would resolve the
 * source address to (the derived neighbour MAC).
 */
function addEthernet(path: HostPath, pkt: Packet, port: Link): void {
  const b0 = pkt.buffer, n = pkt.head;
  const v6 = b0[n]! >> 4 === 6;
  const src = v6 ? b0.subarray(n + 8, n + 24) : b0.subarray(n + 12, n + 16);
  const srcMac = deriveMac('neighbour', formatAddr(new Uint8Array(src)));
  pkt.push(14);
  const b = pkt.buffer, m = pkt.head;
  b.set(port.mac, m); b.set(srcMac, m + 6);
  b[m + 12] = v6 ? 0x86 : 0x08; b[m + 13] = v6 ? 0xdd : 0x00;
  pkt.macHeader = m;
  pkt.pull(14);
  pkt.meta.pktType = PACKET_HOST;
  if (v6) setIpv6Headers(pkt); else setIpv4Headers(pkt);
}
