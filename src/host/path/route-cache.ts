/**
 * A cache of IPv4 input-route answers for one path, so a flow's packets do
 * not each walk the policy rules and the FIB twice (the input lookup and
 * fib_validate_source's reverse lookup). The kernel keeps the same kind of
 * answer with the next hop (fib_nh_common's cached input dst); here an entry
 * is the whole `route()` result for a flow key.
 *
 * Correctness rests on invalidation. For IPv4, `route()` reads the routes,
 * rules, addresses, the list of links (to find a route's device) and that
 * device's MTU (the path MTU when the route sets none); not the links' names
 * or state. So every lookup compares a stamp — array identities and lengths,
 * `host.seq` (every route change takes a new one), the rules-in-use flag —
 * and drops the cache when anything differs; a hit whose MTU came from its
 * device is used only while the device still has that MTU.
 */
import type { Host, Link } from '../types.js';
import { route } from '../fib.js';
import type { FlowKey, RouteResult } from '../fib.js';

interface Entry {
  saddr: number;
  daddr: number;
  iif: string | undefined;
  mark: number;
  tos: number;
  rt: RouteResult;
  /**
   * The reverse lookup fib_validate_source() makes for the same packet (to `saddr`
   * from `daddr`, no input interface, the same mark, tos 0), once made: the second
   * lookup of a forwarded packet then costs no hash lookup.
   */
  rev: Entry | undefined;
  /** The next entry under the same key. */
  next: Entry | undefined;
}

/**
 * The table key of a (destination, source) pair: both addresses hashed, so one
 * destination with many sources (a server, the masqueraded address) does not make a
 * long chain; kept below 2^30 so V8 holds it as a small integer.
 */
function keyOf(dst: number, src: number): number {
  return Math.imul(dst ^ Math.imul(src, 0x85ebca6b), 0x9e3779b1) >>> 2;
}

/** resultFor(): `mtu` is the route's metric, else the device's (read when the answer was made). */
function usable(rt: RouteResult): boolean {
  return rt.dev === undefined || !!rt.route?.mtu || rt.mtu === rt.dev.mtu;
}

/** Entries past this many clear the cache (random sources must not grow it without bound). */
const MAX_ENTRIES = 8192;

export class RouteCache4 {
  private byKey = new Map<number, Entry>();
  private size = 0;
  private routes: unknown;
  private routeCount = -1;
  private seq = -1;
  private rules: unknown;
  private ruleCount = -1;
  private addrs: unknown;
  private addrCount = -1;
  private rulesInUse = false;
  private links: Link[] | undefined;
  private linkCount = -1;
  /** The entry the last input-direction lookup answered with (cleared with the cache). */
  private lastFwd: Entry | undefined;

  constructor(private readonly host: Host) {}

  /**
   * route() for an IPv4 flow given as numbers, with `daddr`/`saddr` at `off + 16` /
   * `off + 12` of `b` (an IPv4 header) or swapped when `reverse` (the reverse-path
   * check looks up the source). The result is shared: callers read it, never change it.
   */
  lookup(b: Uint8Array, off: number, reverse: boolean, iif: string | undefined, mark: number, tos: number): RouteResult {
    this.check();
    const s = ((b[off + 12]! << 24) | (b[off + 13]! << 16) | (b[off + 14]! << 8) | b[off + 15]!) | 0;
    const d = ((b[off + 16]! << 24) | (b[off + 17]! << 16) | (b[off + 18]! << 8) | b[off + 19]!) | 0;
    const dst = reverse ? s : d, src = reverse ? d : s;
    // The reverse lookup of the packet whose input route was just answered: kept on that entry.
    const f = reverse && iif === undefined && tos === 0 ? this.lastFwd : undefined;
    const paired = f !== undefined && f.saddr === s && f.daddr === d && f.mark === mark;
    if (paired && f.rev !== undefined && usable(f.rev.rt)) return f.rev.rt;
    const key = keyOf(dst, src);
    let head = this.byKey.get(key);
    for (let e = head, prev: Entry | undefined; e !== undefined; prev = e, e = e.next) {
      if (e.daddr === dst && e.saddr === src && e.iif === iif && e.mark === mark && e.tos === tos) {
        if (usable(e.rt)) {
          if (paired) f.rev = e;
          else if (!reverse) this.lastFwd = e;
          return e.rt;
        }
        // Its device's MTU changed: made again below.
        if (prev !== undefined) prev.next = e.next;
        else if (e.next !== undefined) this.byKey.set(key, head = e.next);
        else { this.byKey.delete(key); head = undefined; }
        this.size--;
        break;
      }
    }
    // A miss: the full lookup, on copies (the answer's `src` must not follow later rewrites of the packet).
    const so = reverse ? off + 16 : off + 12, dof = reverse ? off + 12 : off + 16;
    const flow: FlowKey = { family: 4, daddr: b.slice(dof, dof + 4), saddr: b.slice(so, so + 4), mark };
    if (iif !== undefined) flow.iif = iif;
    if (tos !== 0) flow.tos = tos;
    const rt = route(this.host, flow);
    if (this.size >= MAX_ENTRIES) { this.byKey = new Map(); this.size = 0; head = undefined; this.lastFwd = undefined; }
    const e: Entry = { saddr: src, daddr: dst, iif, mark, tos, rt, rev: undefined, next: head };
    this.byKey.set(key, e);
    this.size++;
    if (paired && this.lastFwd === f) f.rev = e;
    else if (!reverse) this.lastFwd = e;
    return rt;
  }

  /** Drops every entry when the host's routing state differs from when they were made. */
  private check(): void {
    const h = this.host;
    if (h.routes === this.routes && h.routes.length === this.routeCount && h.seq === this.seq &&
      h.rules === this.rules && h.rules.length === this.ruleCount && h.addrs === this.addrs && h.addrs.length === this.addrCount &&
      h.rulesInUse[4] === this.rulesInUse && h.links === this.links && h.links.length === this.linkCount) return;
    this.byKey = new Map();
    this.size = 0;
    this.lastFwd = undefined;
    this.routes = h.routes; this.routeCount = h.routes.length; this.seq = h.seq;
    this.rules = h.rules; this.ruleCount = h.rules.length;
    this.addrs = h.addrs; this.addrCount = h.addrs.length;
    this.rulesInUse = h.rulesInUse[4];
    this.links = h.links;
    this.linkCount = h.links.length;
  }
}
