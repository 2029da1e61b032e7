/**
 * 802.1Q on the bridge's packet path (net/bridge/br_vlan.c: br_allowed_ingress,
 * br_allowed_egress, br_should_learn, br_handle_vlan).
 *
 * The kernel keeps a received frame's tag out of the data, in skb->vlan_tci
 * (skb_vlan_untag() in __netif_receive_skb_core), and nf_tables rebuilds it
 * for link-layer payload loads. nfx keeps the tag in place instead — the
 * same bytes a payload load sees: the Ethernet header at `macHeader`, the
 * tag after it, and `head`/`networkHeader` past the tag, with `protocol` the
 * encapsulated ethertype. A frame "has a tag" when its link header is 18
 * bytes with a VLAN TPID at offset 12. Putting a tag on (the PVID of an
 * untagged frame) moves the MAC addresses 4 bytes towards the headroom;
 * taking it off moves them back — the payload never moves.
 */
import type { Packet } from '../../packet/packet.js';
import type { Link } from '../types.js';
import { setIpv4Headers, setIpv6Headers } from './headers.js';
import { bridgeVlanGroup, ETH_P_8021AD, ETH_P_8021Q, portVlanGroup, vlanBitmap, vlanFiltering, VLAN_VID_MASK } from '../bridge-vlan.js';
import type { VlanGroup } from '../bridge-vlan.js';

/** VLAN_HLEN (include/linux/if_vlan.h). */
export const VLAN_HLEN = 4;

const be16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;

/**
 * skb_vlan_untag() as __netif_receive_skb_core() does it before the rx
 * handler: the outer 802.1Q or 802.1ad tag of a frame whose network header
 * still starts at the tag becomes the link header's, and `protocol` the
 * encapsulated type. Only the outer tag: an inner one stays in the payload.
 */
export function vlanUntagRx(pkt: Packet): void {
  const p = pkt.protocol;
  if ((p !== ETH_P_8021Q && p !== ETH_P_8021AD) || pkt.head - pkt.macHeader !== 14 || pkt.length < VLAN_HLEN) return;
  const b = pkt.buffer, n = pkt.head;
  const inner = be16(b, n + 2);
  pkt.pull(VLAN_HLEN);
  pkt.protocol = inner;
  pkt.networkHeader = pkt.head;
  if (inner === 0x0800 && pkt.length >= 20) setIpv4Headers(pkt);
  else if (inner === 0x86dd && pkt.length >= 40) setIpv6Headers(pkt);
}

/** skb_vlan_tag_present(): the link header carries a tag. */
export function hasTag(pkt: Packet): boolean {
  const m = pkt.macHeader;
  if (m < 0 || pkt.head - m !== 14 + VLAN_HLEN) return false;
  const t = be16(pkt.buffer, m + 12);
  return t === ETH_P_8021Q || t === ETH_P_8021AD;
}

/** The tag's TPID (skb->vlan_proto); call only when hasTag(). */
export function tagProto(pkt: Packet): number { return be16(pkt.buffer, pkt.macHeader + 12); }
/** The tag's TCI (skb->vlan_tci); call only when hasTag(). */
export function tagTci(pkt: Packet): number { return be16(pkt.buffer, pkt.macHeader + 14); }

function setTci(pkt: Packet, tci: number): void {
  const b = pkt.buffer, m = pkt.macHeader;
  b[m + 14] = tci >> 8; b[m + 15] = tci & 0xff;
}

/** __vlan_hwaccel_put_tag(): a tag goes on an untagged frame, after the MAC addresses. */
export function putTag(pkt: Packet, proto: number, tci: number): void {
  // Room before the link header (push reallocates when the headroom is short).
  const linkLen = pkt.head - pkt.macHeader;
  pkt.push(linkLen + VLAN_HLEN);
  pkt.pull(linkLen + VLAN_HLEN);
  const b = pkt.buffer, m = pkt.macHeader;
  for (let i = 0; i < 12; i++) b[m - VLAN_HLEN + i] = b[m + i]!;
  pkt.macHeader = m - VLAN_HLEN;
  const t = pkt.macHeader;
  b[t + 12] = proto >> 8; b[t + 13] = proto & 0xff;
  setTci(pkt, tci);
}

/** __vlan_hwaccel_clear_tag(): the frame leaves untagged; the encapsulated type is the Ethernet type again. */
export function clearTag(pkt: Packet): void {
  const b = pkt.buffer, m = pkt.macHeader;
  for (let i = 11; i >= 0; i--) b[m + VLAN_HLEN + i] = b[m + i]!;
  pkt.macHeader = m + VLAN_HLEN;
}

/**
 * br_allowed_ingress() → __allowed_ingress() for a frame entering the bridge
 * by `port` (or by the bridge device itself, br_dev_xmit): the VID the frame
 * belongs to, 0 when the bridge does not filter (vlan_filtered false), -1
 * when it is dropped: an untagged or priority-tagged frame takes the PVID
 * (none: dropped) and now carries it (a priority tag keeps its PCP); a tagged
 * one must be in a VLAN of the port. A tag of the other protocol (802.1ad on
 * an 802.1Q bridge) is payload: the frame counts as untagged.
 */
export function allowedIngress(br: Link, port: Link | undefined, pkt: Packet): number {
  if (!vlanFiltering(br)) return 0;
  const g: VlanGroup = port ? portVlanGroup(br, port) : bridgeVlanGroup(br);
  let tagged = hasTag(pkt);
  if (tagged && tagProto(pkt) !== ETH_P_8021Q) {
    // vlan_insert_tag_set_proto(): the foreign tag goes back into the payload — its bytes are
    // already where the payload starts; the network header moves back onto them.
    pkt.protocol = tagProto(pkt);
    pkt.push(VLAN_HLEN);
    pkt.networkHeader = pkt.head;
    tagged = false;
  }
  let vid = tagged ? tagTci(pkt) & VLAN_VID_MASK : 0;
  if (vid === 0) {
    const pvid = g.pvid;
    if (!pvid) return -1;
    vid = pvid;
    if (!tagged) putTag(pkt, ETH_P_8021Q, pvid);
    else setTci(pkt, tagTci(pkt) | pvid);
    return vid;
  }
  return vlanBitmap(g)[vid] ? vid : -1;
}

/** br_allowed_egress(): a frame that was filtered at input leaves only by a member of its VLAN. */
export function allowedEgress(g: VlanGroup, vid: number): boolean {
  return vid <= 0 || vlanBitmap(g)[vid] !== 0;
}

/** br_handle_vlan(): a filtered frame leaves untagged where its VLAN is egress-untagged. */
export function handleVlan(g: VlanGroup, vid: number, pkt: Packet): void {
  if (vid > 0 && vlanBitmap(g)[vid] === 3 && hasTag(pkt)) clearTag(pkt);
}

/**
 * br_should_learn() for frames the bridge does not forward (link-local):
 * the VID to learn in, or -1 when the frame's VLAN is not the port's.
 */
export function shouldLearnVid(br: Link, port: Link, pkt: Packet): number {
  if (!vlanFiltering(br)) return 0;
  const g = portVlanGroup(br, port);
  if (g.vlans.length === 0) return -1;
  let vid = hasTag(pkt) && tagProto(pkt) === ETH_P_8021Q ? tagTci(pkt) & VLAN_VID_MASK : 0;
  if (!vid) return g.pvid ? g.pvid : -1;
  return vlanBitmap(g)[vid] ? vid : -1;
}
