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
import type { Xfrm, XfrmSA } from '../../xfrm/index.js';
import { AF_INET6, XFRM_MODE_TRANSPORT, lookupOutput, outputStateCheck, stateAccount } from '../../xfrm/index.js';
import type { XfrmMibName } from '../../xfrm/index.js';
import { espOutput } from '../../xfrm/esp/index.js';
import { route } from '../fib.js';
import type { RouteResult } from '../fib.js';
import { formatAddr } from '../inet.js';
import { setIpv4Headers, setIpv6Headers } from './headers.js';
import { describeRoute } from './describe.js';
import type { HostPath } from './walk.js';
import { bundleOf, flowOf, setBundle } from './xfrm-flow.js';
import { espSaOf, syncReplay } from './xfrm-state.js';
import { xfrmDrop } from './xfrm-input.js';

const PF_INET = 2, PF_INET6 = 10;
/** NF_INET_LOCAL_OUT, NF_INET_POST_ROUTING */
const OUT = 3, POST = 4;

function hex(n: number): string { return `0x${(n >>> 0).toString(16).padStart(8, '0')}`; }

/**
 * xfrm_lookup() for the packet at `pkt.head` going out by `rt`: attaches the
 * bundle (or nothing for bypass). False when the packet is dropped.
 */
export function xfrmRouteOutput(p: HostPath, x: Xfrm, pkt: Packet, how: 'forward' | 'output'): boolean {
  const fl = flowOf(pkt);
  const d = lookupOutput(x, fl, {
    // xfrm_get_saddr(): the source the route towards a tunnel endpoint would pick.
    resolveSaddr: (daddr, family) => {
      const r = route(p.host, { family: family === AF_INET6 ? 6 : 4, daddr: family === AF_INET6 ? daddr : daddr.subarray(0, 4) });
      if (!r.src) return null;
      const a = new Uint8Array(16);
      a.set(r.src);
      return a;
    },
  });
  if (d.action === 'drop') {
    const counter = d.counter ?? 'XfrmOutPolBlock';
    return xfrmDrop(p, counter, `${how} policy lookup: ${d.why}${d.policy ? ` (policy index ${d.policy.index})` : ''}`, 'XFRM_POLICY');
  }
  if (d.action === 'bypass') {
    if (d.policy && p.detail) p.step('route', `xfrm lookup (out): policy index ${d.policy.index} allows it in clear`);
    return true;
  }
  setBundle(pkt, d.bundle);
  if (p.detail) p.step('route', `xfrm lookup (out): policy index ${d.policy.index} → ${d.bundle.map(saText).join(', ')}`);
  return true;
}

function saText(sa: XfrmSA): string {
  const fam = sa.family;
  const tunnel = sa.mode !== XFRM_MODE_TRANSPORT;
  return `ESP spi ${hex(sa.spi)} reqid ${sa.reqid} ${tunnel ? `tunnel ${addr(fam, sa.saddr)} > ${addr(fam, sa.daddr)}` : 'transport'}`;
}
function addr(family: number, a: Uint8Array): string { return formatAddr(family === AF_INET6 ? a : a.subarray(0, 4)); }

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
  let rt: RouteResult | undefined;
  let pf = PF_INET;
  for (let i = 0; i < bundle.length; i++) {
    const sa = bundle[i]!;
    const bad = outputStateCheck(x, sa);
    if (bad) return xfrmDrop(p, bad, `SA ${hex(sa.spi)} cannot send`);
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
