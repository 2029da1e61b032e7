/**
 * nf_conntrack_bridge (net/bridge/netfilter/nf_conntrack_bridge.c): connection
 * tracking for frames crossing a bridge, loaded when a bridge-family table
 * uses ct. IPv4/IPv6 frames are trimmed to their IP length, defragmented and
 * looked up at PREROUTING; the entry is confirmed at POSTROUTING, where a
 * datagram reassembled here leaves as fragments again with its Ethernet
 * header restored (nf_ct_bridge_refrag). Other frames are untracked.
 */
import { Packet } from '../../packet/packet.js';
import type { HostPath } from './walk.js';
import { confirmDropReason, conntrackConfirm, conntrackIn, conntrackRelease, defragIn, defragMaxSize, IPS_CONFIRMED } from '../../netfilter/conntrack/index.js';
import { NF_DROP } from '../../netfilter/bytecode.js';
import { adoptPacket, CTINFO_NAME } from './describe.js';
import { setIpv4Headers, setIpv6Headers } from './headers.js';
import { be16 } from './build.js';
import type { BrResult } from './bridge-hooks.js';
import { GO, brDrop } from './bridge-hooks.js';

/** IP_CT_UNTRACKED (uapi/linux/netfilter/nf_conntrack_common.h), as pkt.meta.ctSlot carries it. */
const IP_CT_UNTRACKED = 7;
const PACKET_HOST = 0;

/** What nf_ct_bridge_frag_save() keeps of a reassembled frame: its Ethernet header and the largest fragment (BR_INPUT_SKB_CB frag_max_size). */
export interface BridgeFragInfo { mac: Uint8Array; fragMax: number }
const fragInfo = new WeakMap<Packet, BridgeFragInfo>();

export function bridgeFragInfo(pkt: Packet): BridgeFragInfo | undefined { return fragInfo.get(pkt); }
export function copyFragInfo(from: Packet, to: Packet): void { const f = fragInfo.get(from); if (f) fragInfo.set(to, f); }

/** nf_ct_bridge_pre(), at PREROUTING priority -200. */
export function ctBridgePre(path: HostPath, pkt: Packet): BrResult {
  const ct = path.ct;
  if (!ct) return GO;
  // Already tracked (or untracked by a raw `notrack`): nothing to do.
  if (pkt.meta.ctSlot >= 0) return GO;
  const b = pkt.buffer, n = pkt.head;
  let family: 2 | 10;
  if (pkt.protocol === 0x0800) {
    if (pkt.length < 20) return GO;
    const len = be16(b, n + 2);
    // pskb_trim_rcsum(): the Ethernet padding goes (it never grows the frame).
    if (len < pkt.length) pkt.trim(len);
    // nf_ct_br_ip_check(): a bad header is left alone (and untracked: `ct state invalid`).
    const ihl = (b[n]! & 0x0f) * 4;
    if (ihl < 20 || b[n]! >> 4 !== 4 || pkt.length < len || len < ihl) return GO;
    family = 2;
  } else if (pkt.protocol === 0x86dd) {
    if (pkt.length < 40) return GO;
    const len = 40 + be16(b, n + 4);
    if (len < pkt.length) pkt.trim(len);
    if (b[n]! >> 4 !== 6 || pkt.length < len) return GO;
    family = 10;
  } else {
    pkt.meta.ctSlot = IP_CT_UNTRACKED;
    path.step('ct', 'bridge prerouting: conntrack (-200): not IP, untracked');
    return GO;
  }
  // nf_ct_br_defrag4/6(): fragments are held until the datagram is whole (IP_DEFRAG_CONNTRACK_BRIDGE_IN).
  // The link header as the frame carried it (a VLAN tag included).
  const mac = pkt.buffer.slice(pkt.macHeader, pkt.head);
  const d = defragIn(ct, pkt, family);
  if (d === 'queued') {
    path.step('ct', 'bridge prerouting: fragment held for reassembly (nf_ct_br_defrag)');
    return { go: false, fate: 'stolen' };
  }
  if (!(d instanceof Packet)) return brDrop(path, 'NOT_SPECIFIED', `bridge reassembly failed: ${d.drop}`);
  if (d !== pkt) {
    const max = defragMaxSize(ct, d);
    adoptPacket(pkt, d);
    if (family === 2) setIpv4Headers(pkt); else setIpv6Headers(pkt);
    // The Ethernet header goes back in front of the reassembled datagram, as the frame carried it.
    pkt.push(mac.length);
    pkt.buffer.set(mac, pkt.head);
    pkt.macHeader = pkt.head;
    pkt.pull(mac.length);
    fragInfo.set(pkt, { mac, fragMax: max });
    path.step('ct', `bridge prerouting: reassembled ${pkt.length} bytes from fragments (largest ${max})`);
  }
  const r = conntrackIn(ct, pkt, family, 0);
  path.step('ct', `bridge prerouting: conntrack (-200): ${CTINFO_NAME[r.ctinfo] ?? `ctinfo ${r.ctinfo}`}${r.reason ? ` (${r.reason})` : ''}`);
  if (r.verdict === NF_DROP) return brDrop(path, 'NETFILTER_DROP', `conntrack at bridge prerouting: ${r.reason || 'conntrack'}`);
  return GO;
}

/**
 * nf_ct_bridge_in(), last at INPUT: a frame for this host keeps its entry for
 * the IP layer (which confirms it at its INPUT); a broadcast or multicast copy
 * going up drops an unconfirmed entry so inet PREROUTING looks it up again.
 */
export function ctBridgeIn(path: HostPath, pkt: Packet): BrResult {
  const ct = path.ct;
  if (!ct || pkt.meta.pktType === PACKET_HOST || pkt.meta.ctSlot < 8) return GO;
  const c = ct.slots[pkt.meta.ctSlot >> 3];
  if (!c || (c.status & IPS_CONFIRMED)) return GO;
  conntrackRelease(ct, pkt);
  pkt.meta.ctSlot = -1;
  return GO;
}

/** nf_ct_bridge_post() → nf_ct_bridge_confirm(), last at POSTROUTING. */
export function ctBridgePost(path: HostPath, pkt: Packet): BrResult {
  const ct = path.ct;
  if (!ct) return GO;
  if (conntrackConfirm(ct, pkt) === NF_DROP) return brDrop(path, 'NETFILTER_DROP', `conntrack at bridge postrouting: ${confirmDropReason()}`);
  return GO;
}

/**
 * br_ip6_fragment() (net/ipv6/netfilter.c), as nf_ct_bridge_refrag() calls it
 * for a datagram reassembled at bridge PREROUTING: fragments of the largest
 * size that came in (frag_max_size), each with a fresh fragment header after
 * the unfragmentable part (ip6_find_1stfragopt) and a new identification
 * (ipv6_select_ident). A frag_max_size above the port's MTU, or below the
 * IPv6 minimum MTU, blackholes the datagram: returns undefined.
 */
export function refragment6(l3: Uint8Array, fragMax: number, mtu: number, id: number): Uint8Array[] | undefined {
  if (fragMax > mtu || fragMax < 1280) return undefined;
  // The unfragmentable part: the header, hop-by-hop options, and destination options only when a routing header follows.
  let hlen = 40, nhAt = 6, nh = l3[6]!;
  for (let guard = 0; guard < 16 && hlen + 8 <= l3.length; guard++) {
    if (nh === 0 || nh === 43 || (nh === 60 && l3[hlen] === 43)) {
      nhAt = hlen;
      const len = (l3[hlen + 1]! + 1) * 8;
      nh = l3[hlen]!;
      hlen += len;
      continue;
    }
    break;
  }
  const room = (fragMax - hlen - 8) & ~7;
  if (room <= 0) return undefined;
  const total = l3.length - hlen;
  const out: Uint8Array[] = [];
  for (let off = 0; off < total; off += room) {
    const len = Math.min(room, total - off);
    const f = new Uint8Array(hlen + 8 + len);
    f.set(l3.subarray(0, hlen), 0);
    f[nhAt] = 44; // NEXTHDR_FRAGMENT
    f[hlen] = nh;
    const more = off + len < total ? 1 : 0;
    const word = off | more;
    f[hlen + 2] = word >> 8; f[hlen + 3] = word & 0xff;
    f[hlen + 4] = id >>> 24; f[hlen + 5] = (id >>> 16) & 0xff; f[hlen + 6] = (id >>> 8) & 0xff; f[hlen + 7] = id & 0xff;
    f.set(l3.subarray(hlen + off, hlen + off + len), hlen + 8);
    const pl = f.length - 40;
    f[4] = pl >> 8; f[5] = pl & 0xff;
    out.push(f);
  }
  return out;
}
