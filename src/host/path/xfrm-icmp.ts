/**
 * ICMP errors and IPsec (RFC 4301 §6): an error about a packet that an SA
 * carried belongs in the tunnel the packet's flow uses.
 *
 *  - sending: icmp_route_lookup() (net/ipv4/icmp.c; icmpv6_route_lookup in
 *    net/ipv6/icmp.c) first looks the error's own flow up in the SPD; a
 *    bundle wins, a block (-EPERM) forgets the route, any other error drops
 *    the error. Else it decodes the offending packet reversed
 *    (xfrm_decode_session_reverse: its destination as source, ports
 *    swapped) and looks that flow up with XFRM_LOOKUP_ICMP: only a policy
 *    with `flag icmp` may answer (no policy or no flag: -ENOENT, the first
 *    route stands); a block there drops the error. When the reverse flow
 *    wins, the error is sent with that flow — from the offending packet's
 *    destination (memcpy(fl4, &fl4_dec) in icmp_route_lookup).
 *  - receiving: the inbound policy check of an ICMP error gets the quoted
 *    packet's reversed flow (xfrm_icmp_flow_decode), which datapath.ts uses
 *    for `flag icmp` SAs and for icmp_rcv's xfrm4_policy_check_reverse.
 */
import type { Packet } from '../../packet/packet.js';
import type { OutputOptions, PolicyCheckOptions, XfrmFlow, XfrmSA } from '../../xfrm/index.js';
import { AF_INET, AF_INET6, XFRM_POLICY_ICMP, XFRM_POLICY_OUT, lookupOutput, formatAddress } from '../../xfrm/index.js';
import { route } from '../fib.js';
import type { HostPath } from './walk.js';
import { policyRef } from './xfrm-text.js';

/** The route the error takes, decided by icmp_route_lookup before the host's output path. */
export interface IcmpXfrmRoute {
  /** The error's source address (the reversed flow's, when that flow won). */
  src: Uint8Array;
  /** The bundle to apply, or none (sent in clear). */
  bundle: XfrmSA[] | undefined;
  /** For `why`: how the route was chosen. */
  text: string;
}

/** Decisions made for an error's bytes, taken by localOut in place of its own SPD lookup. */
const presets = new WeakMap<Uint8Array, IcmpXfrmRoute>();

export function presetIcmpRoute(l3: Uint8Array, r: IcmpXfrmRoute): void { presets.set(l3, r); }

/** The decision icmp_route_lookup made for these bytes, once. */
export function takeIcmpRoute(l3: Uint8Array): IcmpXfrmRoute | undefined {
  const r = presets.get(l3);
  if (r) presets.delete(l3);
  return r;
}

/** icmp_err_packet(): ICMP destination unreachable / time exceeded; ICMPv6 unreachable, too big, time exceeded. */
function icmpError(fl: XfrmFlow): boolean {
  if (fl.family === AF_INET) return fl.proto === 1 && (fl.sport === 3 || fl.sport === 11);
  return fl.proto === 58 && (fl.sport === 1 || fl.sport === 2 || fl.sport === 3);
}

/**
 * decode_session4/6 with `reverse` for the IP packet at `off` (up to `end`):
 * addresses and ports swapped, ICMP type and code as they are. Undefined
 * when the header is cut short.
 */
export function reverseFlow(b: Uint8Array, off: number, end: number, mark: number, oif: number): XfrmFlow | undefined {
  if (off + 1 > end) return undefined;
  const v = b[off]! >> 4;
  const saddr = new Uint8Array(16), daddr = new Uint8Array(16);
  let proto: number, t: number;
  let family: number;
  if (v === 4) {
    if (off + 20 > end) return undefined;
    family = AF_INET;
    for (let i = 0; i < 4; i++) { saddr[i] = b[off + 16 + i]!; daddr[i] = b[off + 12 + i]!; }
    proto = b[off + 9]!;
    t = off + (b[off]! & 0x0f) * 4;
    // A non-first fragment carries no ports.
    if (((b[off + 6]! << 8) | b[off + 7]!) & 0x1fff) t = end;
  } else if (v === 6) {
    if (off + 40 > end) return undefined;
    family = AF_INET6;
    for (let i = 0; i < 16; i++) { saddr[i] = b[off + 24 + i]!; daddr[i] = b[off + 8 + i]!; }
    proto = b[off + 6]!;
    t = off + 40;
    // hop-by-hop, routing, fragment, destination options (decode_session6), bounded.
    for (let i = 0; i < 8 && (proto === 0 || proto === 43 || proto === 44 || proto === 60) && t + 8 <= end; i++) {
      const next = b[t]!;
      if (proto === 44) {
        if (((b[t + 2]! << 8) | b[t + 3]!) & 0xfff8) { t = end; proto = next; break; }
        t += 8;
      } else t += (b[t + 1]! + 1) * 8;
      proto = next;
    }
  } else return undefined;
  let sport = 0, dport = 0;
  if (t + 4 <= end) {
    if (proto === 6 || proto === 17 || proto === 132 || proto === 33 || proto === 136) {
      dport = (b[t]! << 8) | b[t + 1]!;
      sport = (b[t + 2]! << 8) | b[t + 3]!;
    } else if (proto === 1 || proto === 58) {
      sport = b[t]!;
      dport = b[t + 1]!;
    }
  }
  return { family: family as XfrmFlow['family'], saddr, daddr, proto, sport, dport, mark, iif: 0, oif, ifId: 0 };
}

const NO_OPTIONS: PolicyCheckOptions = Object.freeze({});

/**
 * The options of an inbound (`in` or `fwd`) policy check: the socket, and for
 * an ICMP error the quoted packet's reversed flow (xfrm_icmp_flow_decode:
 * oif and mark from the outer flow). Other packets get a shared empty object.
 */
export function icmpCheckOptions(pkt: Packet, fl: XfrmFlow, sockId: string | undefined): PolicyCheckOptions {
  if (!icmpError(fl) || pkt.transportHeader < 0) return sockId !== undefined ? { sockId } : NO_OPTIONS;
  const inner = reverseFlow(pkt.buffer, pkt.transportHeader + 8, pkt.tail, fl.mark ?? 0, fl.oif ?? 0);
  if (!inner) return sockId !== undefined ? { sockId } : NO_OPTIONS;
  return sockId !== undefined ? { sockId, icmpInnerFlow: inner } : { icmpInnerFlow: inner };
}

/**
 * __xfrm_route_forward() → xfrm_out_fwd_icmp(): a forwarded ICMP error that
 * needs no transform of its own may take the quoted flow's bundle when that
 * flow's policy has `flag icmp` (datapath.ts lookupOutput). Other packets get `base`.
 */
export function icmpForwardOptions(pkt: Packet, fl: XfrmFlow, base: OutputOptions): OutputOptions {
  if (!icmpError(fl) || pkt.transportHeader < 0) return base;
  const inner = reverseFlow(pkt.buffer, pkt.transportHeader + 8, pkt.tail, fl.mark ?? 0, fl.oif ?? 0);
  return inner ? { ...base, icmpInnerFlow: inner } : base;
}

/** Whether some `out` policy has `flag icmp`: otherwise the reverse lookup can only end in -ENOENT. */
function anyIcmpPolicy(p: HostPath): boolean {
  const x = p.xfrm;
  if (!x) return false;
  for (const pol of x.spd.policies) if (pol.dir === XFRM_POLICY_OUT && !pol.socket && pol.flags & XFRM_POLICY_ICMP) return true;
  return false;
}

/**
 * icmp_route_lookup()'s xfrm half for an error of `type`/`code` from `src`
 * about `cause` (the IP packet at its head). Undefined: no policy can take
 * part (the host's output path decides as for any packet); `null`: the
 * error is dropped (why already recorded); else the route to preset.
 */
export function icmpXfrmRoute(p: HostPath, cause: Packet, src: Uint8Array, type: number, code: number): IcmpXfrmRoute | null | undefined {
  if (!anyIcmpPolicy(p)) return undefined;
  const x = p.xfrm!;
  const b = cause.buffer, h = cause.head;
  const v6 = b[h]! >> 4 === 6;
  const family = v6 ? AF_INET6 : AF_INET;
  const alen = v6 ? 16 : 4;
  const own: XfrmFlow = { family, saddr: new Uint8Array(16), daddr: new Uint8Array(16), proto: v6 ? 58 : 1, sport: type, dport: code, mark: 0, iif: 0, oif: 0, ifId: 0 };
  own.saddr.set(src.subarray(0, alen));
  for (let i = 0; i < alen; i++) own.daddr[i] = b[h + (v6 ? 8 : 12) + i]!;
  const opts = { resolveSaddr: (daddr: Uint8Array, fam: number) => resolveSaddr(p, daddr, fam) };
  const step = (t: string): void => { if (p.detail) p.step('route', `icmp_route_lookup: ${t}`, { depth: p.depth + 1 }); };
  const d = lookupOutput(x, own, opts);
  let blocked = false;
  if (d.action === 'transform') return { src, bundle: d.bundle, text: `the error's own flow matches policy index ${d.policy.index}` };
  if (d.action === 'drop') {
    // -EPERM (a block, or the default block) forgets the route; other errors end the error.
    if (d.counter !== null && d.counter !== 'XfrmOutPolBlock') { step(`the error's own flow: ${d.counter} ${d.why}: not sent`); return null; }
    blocked = true;
  }
  const rev = reverseFlow(b, h, cause.tail, cause.meta.mark, cause.meta.iif);
  const fallback = (why: string): IcmpXfrmRoute | null => {
    // relookup_failed: the first route if there was one, else the error.
    step(`reverse flow: ${why}; ${blocked ? 'the error\'s own flow is blocked: not sent' : 'the error goes by its own route'}`);
    return blocked ? null : { src, bundle: undefined, text: `reverse lookup: ${why}` };
  };
  if (!rev) return fallback('the offending packet cannot be decoded');
  const revText = `${formatAddress(family, rev.saddr)} > ${formatAddress(family, rev.daddr)} proto ${rev.proto}`;
  const pol = x.spd.lookup(rev, family, XFRM_POLICY_OUT, 0);
  if (!pol) {
    // nopol: the default block is -EPERM before XFRM_LOOKUP_ICMP's -ENOENT.
    if (x.policyDefault.out === 'block') { step(`reverse flow ${revText}: no policy and default block: not sent`); return null; }
    return fallback(`no policy for ${revText}`);
  }
  if (!(pol.flags & XFRM_POLICY_ICMP)) return fallback(`${policyRef(pol)} covers ${revText} but has no \`flag icmp\``);
  const d2 = lookupOutput(x, rev, opts);
  const revSrc = rev.saddr.slice(0, alen);
  if (d2.action === 'transform') {
    step(`reverse flow ${revText} matches ${policyRef(d2.policy)} with flag icmp: the error goes into the tunnel from ${formatAddress(family, rev.saddr)}`);
    return { src: revSrc, bundle: d2.bundle, text: `reverse flow ${revText}` };
  }
  if (d2.action === 'bypass') return { src: revSrc, bundle: undefined, text: `reverse flow ${revText} allowed in clear` };
  if (d2.counter === null || d2.counter === 'XfrmOutPolBlock') { step(`reverse flow ${revText}: ${d2.why}: not sent`); return null; }
  return fallback(`${d2.counter} ${d2.why}`);
}

/** xfrm_get_saddr(): the source the route towards a tunnel endpoint would pick. */
function resolveSaddr(p: HostPath, daddr: Uint8Array, family: number): Uint8Array | null {
  const r = route(p.host, { family: family === AF_INET6 ? 6 : 4, daddr: family === AF_INET6 ? daddr : daddr.subarray(0, 4) });
  if (!r.src) return null;
  const a = new Uint8Array(16);
  a.set(r.src);
  return a;
}
