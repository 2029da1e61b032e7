/**
 * IPsec on the send side, where Linux puts it:
 *  - the SPD `out` lookup happens at routing: for a forwarded packet in
 *    ip_forward() (xfrm4_route_forward, after the TTL check, before FORWARD),
 *    for a local one in the output route lookup (ip_route_output_flow →
 *    xfrm_lookup_route, before OUTPUT). A `transform` bundle becomes the
 *    packet's route (skb_dst is the xfrm_dst); no SA → XfrmOutNoStates
 *    (and an ACQUIRE when a key manager listens); `block` → XfrmOutPolBlock.
 *  - the transform happens at the route's output: xfrm4_output() runs the
 *    inner packet's POSTROUTING, then xfrm_output_resume() applies each SA
 *    and sends the result through LOCAL_OUT (__ip_local_out: the OUTPUT
 *    hooks see the ESP packet, with a fresh conntrack — nf_reset_ct), then
 *    POSTROUTING for every SA but the last, whose packet takes dst_output()
 *    → ip_output() → POSTROUTING → the wire, routed by the outer destination.
 */
import type { Packet } from '../../packet/packet.js';
import type { Xfrm, XfrmFlow, XfrmPolicy, XfrmSA } from '../../xfrm/index.js';
import { AF_INET6, XFRM_MODE_IPTFS, XFRM_MODE_TRANSPORT, XFRM_POLICY_OUT, lookupOutput, outputStateCheck, stateAccount } from '../../xfrm/index.js';
import type { OutputOptions, XfrmMibName } from '../../xfrm/index.js';
import { espOutput } from '../../xfrm/esp/index.js';
import { route } from '../fib.js';
import type { RouteResult } from '../fib.js';
import { formatAddr } from '../inet.js';
import { setIpv4Headers, setIpv6Headers } from './headers.js';
import { describeRoute } from './describe.js';
import type { HostPath } from './walk.js';
import { borrowFlow, bundleOf, noPolicyMatches, releaseFlow, setBundle } from './xfrm-flow.js';
import { outputBypassesAll } from '../../xfrm/datapath.js';
import { espSaOf, syncReplay } from './xfrm-state.js';
import { xfrmDrop } from './xfrm-input.js';
import { iptfsOutput } from './xfrm-iptfs.js';
import { xfrmForwardMtuOk, xfrmLocalMtuOk } from './xfrm-mtu.js';
import { sendingSocket } from './xfrm-socket.js';
import { policyRef } from './xfrm-text.js';
import { icmpForwardOptions } from './xfrm-icmp.js';

const PF_INET = 2, PF_INET6 = 10;
/** NF_INET_LOCAL_OUT, NF_INET_POST_ROUTING */
const OUT = 3, POST = 4;

function hex(n: number): string { return `0x${(n >>> 0).toString(16).padStart(8, '0')}`; }

/** Packets a local socket (or the host's own stack) sent: skb->sk is set, so size errors go back to it. */
const localOrigin = new WeakSet<Packet>();

/**
 * xfrm_lookup() for the packet at `pkt.head` going out by `rt`: attaches the
 * bundle (or nothing for bypass). False when the packet is dropped.
 * `sockId` names the sending socket of a local packet: its per-socket
 * policy (setsockopt IP_XFRM_POLICY) is consulted before the SPD
 * (xfrm_sk_policy_lookup in xfrm_lookup_with_ifid).
 */
export function xfrmRouteOutput(p: HostPath, x: Xfrm, pkt: Packet, how: 'forward' | 'output', sockId?: string): boolean {
  // A forwarded packet has no socket: with no `out` policy it goes in clear.
  if (how === 'forward' && sockId === undefined) {
    if (outputBypassesAll(x)) return true;
    // No `out` policy for these addresses (and default accept): lookupOutput() would answer
    // bypass with no policy; told without decoding the flow.
    if (x.policyDefault.out !== 'block' && noPolicyMatches(x, pkt, XFRM_POLICY_OUT)) return true;
  }
  const fl = borrowFlow(pkt);
  const prev = lookupPath;
  lookupPath = p;
  try { return routeOutput(p, x, pkt, how, sockId, fl); } finally { lookupPath = prev; releaseFlow(); }
}

function routeOutput(p: HostPath, x: Xfrm, pkt: Packet, how: 'forward' | 'output', sockId: string | undefined, fl: XfrmFlow): boolean {
  if (sockId === undefined && how === 'output') sockId = sendingSocket(p);
  // A forwarded ICMP error may use the quoted flow's policy (xfrm_out_fwd_icmp, xfrm-icmp.ts).
  const d = lookupOutput(x, fl, sockId === undefined ? (how === 'forward' ? icmpForwardOptions(pkt, fl, NO_SOCKET) : NO_SOCKET) : { ...NO_SOCKET, sockId });
  if (d.action === 'drop') {
    const counter = d.counter ?? 'XfrmOutPolBlock';
    return xfrmDrop(p, counter, `${how} policy lookup: ${d.why}${d.policy ? ` — ${policyRef(d.policy)}` : ''}`, 'XFRM_POLICY');
  }
  if (d.action === 'bypass') {
    if (d.policy && p.detail) p.step('route', `xfrm lookup (out): ${polName(d.policy)} allows it in clear`);
    return true;
  }
  setBundle(pkt, d.bundle);
  if (p.detail) p.step('route', `xfrm lookup (out): ${polName(d.policy)} → ${d.bundle.map(saText).join(', ')}`);
  // ip_forward(): the MTU check uses the bundle's MTU (skb_dst is now the xfrm_dst).
  if (how === 'forward' && !xfrmForwardMtuOk(p, pkt, d.bundle)) { setBundle(pkt, undefined); return false; }
  if (how === 'output') localOrigin.add(pkt);
  return true;
}

/**
 * The path of the xfrmRouteOutput() in progress, whose routes
 * xfrm_get_saddr() consults; saved and restored around each lookup, as
 * lookups nest when a walk re-enters the path. One options object then
 * serves every lookup without a socket.
 */
let lookupPath: HostPath | null = null;
const NO_SOCKET: OutputOptions = Object.freeze({ resolveSaddr: (daddr: Uint8Array, family: number) => (lookupPath ? resolveSaddr(lookupPath, daddr, family) : null) });

/** xfrm_get_saddr(): the source the route towards a tunnel endpoint would pick. */
function resolveSaddr(p: HostPath, daddr: Uint8Array, family: number): Uint8Array | null {
  const r = route(p.host, { family: family === AF_INET6 ? 6 : 4, daddr: family === AF_INET6 ? daddr : daddr.subarray(0, 4) });
  if (!r.src) return null;
  const a = new Uint8Array(16);
  a.set(r.src);
  return a;
}

/** How a step names the policy that decided: by index, or the socket whose policy it is. */
function polName(pol: XfrmPolicy): string {
  return pol.socket ? `socket policy of ${pol.sockId ?? '?'}` : `policy index ${pol.index}`;
}

function saText(sa: XfrmSA): string {
  const fam = sa.family;
  const tunnel = sa.mode !== XFRM_MODE_TRANSPORT;
  return `ESP spi ${hex(sa.spi)} reqid ${sa.reqid} ${tunnel ? `${sa.mode === XFRM_MODE_IPTFS ? 'iptfs' : 'tunnel'} ${addr(fam, sa.saddr)} > ${addr(fam, sa.daddr)}` : 'transport'}`;
}
function addr(family: number, a: Uint8Array): string { return formatAddr(family === AF_INET6 ? a : a.subarray(0, 4)); }

/** Inner packets (and their IP bytes) each outermost SA was given to carry, for reports of a tunnel's efficiency. */
const carried = new WeakMap<XfrmSA, { packets: number; bytes: number }>();

/** What the bundles ending in `sa` handed it to carry: inner packets and their IP bytes (0 when unused). */
export function tunnelCarried(sa: XfrmSA): { packets: number; bytes: number } {
  const c = carried.get(sa);
  return { packets: c?.packets ?? 0, bytes: c?.bytes ?? 0 };
}

/** Whether the packet carries an output bundle (skb_dst(skb)->xfrm). */
export function hasBundle(pkt: Packet): boolean { return bundleOf(pkt) !== undefined; }

/**
 * After the inner packet's POSTROUTING: apply the bundle and send the ESP
 * packet through OUTPUT and POSTROUTING to the wire. True when it left.
 */
export function xfrmOutput(p: HostPath, x: Xfrm, pkt: Packet): boolean {
  const bundle = bundleOf(pkt);
  if (!bundle) return false;
  setBundle(pkt, undefined);
  // xfrm4_tunnel_check_size(): a local packet too big for the tunnel never leaves.
  if (localOrigin.has(pkt) && !xfrmLocalMtuOk(p, pkt, bundle)) return false;
  const top = bundle[bundle.length - 1]!;
  const c = carried.get(top);
  if (c) { c.packets++; c.bytes += pkt.length; } else carried.set(top, { packets: 1, bytes: pkt.length });
  let rt: RouteResult | undefined;
  let pf = PF_INET;
  for (let i = 0; i < bundle.length; i++) {
    const sa = bundle[i]!;
    const bad = outputStateCheck(x, sa);
    if (bad) return xfrmDrop(p, bad, `SA ${hex(sa.spi)} cannot send`);
    if (sa.mode === XFRM_MODE_IPTFS) return iptfsOutput(p, x, sa, pkt, i === bundle.length - 1);
    const e = espSaOf(sa);
    const r = espOutput(e, pkt, { ttl: p.sysInt('net.ipv4.ip_default_ttl') || 64, ipId: p.random() & 0xffff });
    if (!r.ok) {
      x.stats.inc(r.counter as XfrmMibName);
      return xfrmDrop(p, r.counter, r.detail);
    }
    stateAccount(x, sa, pkt.length);
    syncReplay(sa, e);
    const v6 = pkt.buffer[pkt.head]! >> 4 === 6;
    pkt.protocol = v6 ? 0x86dd : 0x0800;
    pkt.networkHeader = pkt.head;
    if (v6) setIpv6Headers(pkt); else setIpv4Headers(pkt);
    pf = v6 ? PF_INET6 : PF_INET;
    // nf_reset_ct(): the ESP packet is a new flow for conntrack.
    pkt.meta.ctSlot = -1;
    const b = pkt.buffer, h = pkt.head;
    const src = v6 ? b.slice(h + 8, h + 24) : b.slice(h + 12, h + 16);
    const dst = v6 ? b.slice(h + 24, h + 40) : b.slice(h + 16, h + 20);
    if (p.detail) p.step('rewrite', `xfrm: encrypted by ${saText(sa)} seq ${r.seq}: ${formatAddr(src)} > ${formatAddr(dst)} ESP, ${pkt.length} bytes`);
    // The bundle's next dst: routed by the outer destination (xfrm_dst_lookup in xfrm_bundle_create).
    rt = route(p.host, { family: v6 ? 6 : 4, daddr: dst, saddr: src, mark: pkt.meta.mark });
    if (p.detail) p.step('route', `route lookup for ${formatAddr(dst)}: ${describeRoute(p.host, rt)}`);
    if (rt.errno !== undefined || !rt.dev) return p.drop('IP_OUTNOROUTES', `no route to the SA's destination ${formatAddr(dst)}`);
    pkt.meta.oif = rt.dev.index;
    if (!p.runHook(pkt, pf, OUT)) return false;
    if (i < bundle.length - 1 && !p.runHook(pkt, pf, POST)) return false;
  }
  return p.postAndTransmit(pkt, pf, rt!);
}
