/**
 * The packet path of one host, in the kernel's order (the Netfilter
 * packet-flow diagram):
 *   receive: link layer (eth_type_trans) → netdev ingress → ip_rcv_core checks
 *     → PREROUTING → input routing (ip_route_input_slow: martians, rp_filter,
 *     local/broadcast/forward/unreachable) → INPUT → local stack,
 *     or ip_forward (TTL, MTU, decrement) → FORWARD → POSTROUTING → neighbour → egress → wire;
 *   output: routing → OUTPUT → (reroute) → POSTROUTING → neighbour → egress → wire,
 *     or back in through `lo` for a local destination.
 * Packets the host makes because of another (reject, ICMP errors, replies of
 * the local stack) take the output path and are reported with the packet that
 * caused them.
 */
import { Packet } from '../../packet/packet.js';
import type { Host, Link } from '../types.js';
import { route } from '../fib.js';
import type { RouteResult } from '../fib.js';
import { deriveMac, linkByName } from '../links.js';
import { equalAddr, formatAddr, formatMac } from '../inet.js';
import { ipv4Conf, ipv6Conf, sysctlGet, sysctlInt } from '../sysctl.js';
import { Ruleset } from '../../netfilter/ruleset.js';
import { evaluateHook, newHookResult } from '../../netfilter/hooks.js';
import type { HookContext } from '../../netfilter/hooks.js';
import { FAMILY_NAME } from '../../netfilter/batch.js';
import { NF_ACCEPT, NF_DROP, NF_QUEUE, NF_STOLEN } from '../../netfilter/bytecode.js';
import { verdictName } from '../../netfilter/bytecode-text.js';
import type { Clock } from '../../netfilter/clock.js';
import { VirtualClock } from '../../netfilter/clock.js';
import type { TraceEvent } from '../../netfilter/trace.js';
import type { DropBy, DropReason, Fate, HookName, PacketOutcome, PathStep, RuleTraceEntry, StepKind } from './types.js';
import { be16 } from './build.js';
import { IP_DF, isLbcast4, isLinkLocal6, isLoopback6, isMulticast4, isMulticast6, setIpv4Headers, setIpv6Headers } from './headers.js';
import {
  IcmpRateLimiter, ICMP_DEST_UNREACH, ICMP_EXC_TTL, ICMP_FRAG_NEEDED, ICMP_TIME_EXCEEDED, ICMPV6_DEST_UNREACH, ICMPV6_EXC_HOPLIMIT, ICMPV6_NOT_NEIGHBOUR, ICMPV6_PKT_TOOBIG, ICMPV6_TIME_EXCEED,
} from './icmp-error.js';
import { deliverLocal } from '../local-stack.js';
import type { Cast, Listener } from '../local-stack.js';
import { PathServices } from '../services.js';
import { adoptPacket, addrs, CTINFO_NAME, describeL3, describeRoute, emptyOutcome, natView, seeded, verdictText } from './describe.js';
import { fragmentIpv4 } from './fragment.js';
import { routeInput4, routeInput6 } from './route-input.js';
import { icmpSend4, icmpSend6 } from './icmp-send.js';
import { evaluateSlice, familyHasNat, natChains, NF_IP_PRI_CONNTRACK, NF_IP_PRI_NAT_DST, NF_IP_PRI_NAT_SRC, rulesetUsesConntrack } from './hooks.js';
import { natNeedsChains, natPacket } from '../../netfilter/nat/index.js';
import { conntrackAttach } from '../../netfilter/conntrack/index.js';
import type { ChainFilter } from './hooks.js';
import { ConntrackTable, conntrackConfirm, conntrackIn, conntrackRelease, defragIn, defragMaxSize } from '../../netfilter/conntrack/index.js';
import type { Xfrm } from '../../xfrm/index.js';
import { xfrmActive } from './xfrm-state.js';
import { xfrmForwardCheck, xfrmLocalIn } from './xfrm-input.js';
import { hasBundle, xfrmOutput, xfrmRouteOutput } from './xfrm-output.js';

/** skb->pkt_type (uapi/linux/if_packet.h). */
const PACKET_HOST = 0, PACKET_BROADCAST = 1, PACKET_MULTICAST = 2, PACKET_OTHERHOST = 3;
/** NFPROTO_* */
const PF_INET = 2, PF_NETDEV = 5, PF_INET6 = 10;
const INET_HOOKS: HookName[] = ['prerouting', 'input', 'forward', 'output', 'postrouting'];
/** NF_INET_* */
const PRE = 0, IN = 1, FWD = 2, OUT = 3, POST = 4;

export function hookName(pf: number, hooknum: number): HookName {
  if (pf === PF_NETDEV) return hooknum === 0 ? 'ingress' : 'egress';
  return INET_HOOKS[hooknum] ?? 'prerouting';
}

export interface HostPathOptions {
  ruleset?: Ruleset;
  clock?: Clock;
  listeners?: Listener[];
  /** The connection tracking table to use (kept across packets and commands); made on demand when the ruleset needs one. */
  conntrack?: ConntrackTable;
  /**
   * Record the steps and rule events (default true). False is the fast mode
   * for replays that need only fates and emitted frames (benchmarks).
   */
  detail?: boolean;
  /** Use the JIT (default true); false runs the reference interpreter. */
  jit?: boolean;
  /** Random numbers (IPv4 IDs of the host's own non-DF packets, `numgen random`); deterministic by default. */
  random?: () => number;
  /** The host's SAD and SPD; IPsec takes part in the walk only when it holds states or policies. */
  xfrm?: Xfrm;
}

export class HostPath {
  readonly host: Host;
  readonly ruleset: Ruleset;
  readonly clock: Clock;
  listeners: Listener[];
  readonly services: PathServices;
  readonly random: () => number;
  readonly detail: boolean;
  /** Conntrack, present exactly when the ruleset uses ct or NAT (as the kernel loads it). */
  readonly ct: ConntrackTable | undefined;
  /** The SAD/SPD (xfrm-input.ts, xfrm-output.ts); kept even when empty so `storePath` saves it. */
  readonly xfrmState: Xfrm | undefined;
  private readonly ctx: HookContext;
  private readonly hookOut = newHookResult();
  /** @internal */
  readonly limiter = new IcmpRateLimiter();
  private outcome: PacketOutcome = emptyOutcome();
  private decided = false;
  /** @internal How deep in generated packets the walk is (0: the input packet). */
  depth = 0;
  /** Packets made while a hook ran (reject, dup): sent once the VM is free again. */
  private readonly pending: Array<() => void> = [];
  /** The hook being evaluated (NF_INET_*), for services that depend on it (reject). */
  currentHook = -1;
  /** Reassembled packets and the largest fragment they came in (frag_max_size). */
  private readonly fragMax = new WeakMap<Packet, number>();
  /** Packets looped back through lo with their local route attached. */
  private readonly looped = new WeakSet<Packet>();

  constructor(host: Host, o: HostPathOptions = {}) {
    this.host = host;
    this.ruleset = o.ruleset ?? new Ruleset();
    this.clock = o.clock ?? new VirtualClock();
    this.listeners = o.listeners ?? [];
    this.random = o.random ?? seeded(0x6e6678);
    this.ct = o.conntrack ?? (rulesetUsesConntrack(this.ruleset)
      ? new ConntrackTable(this.clock, (k) => { const v = sysctlGet(host, k); return v === undefined ? undefined : Number(v); })
      : undefined);
    this.xfrmState = o.xfrm;
    this.services = new PathServices(this);
    this.detail = o.detail !== false;
    this.ctx = { host: this.services, clock: this.clock, traceAll: this.detail, random: this.random };
    if (o.jit === false) this.ctx.jit = false;
  }

  /** The xfrm state when IPsec can affect a packet (states or policies exist), else undefined: the walk skips xfrm. */
  get xfrm(): Xfrm | undefined { return xfrmActive(this.xfrmState) ? this.xfrmState : undefined; }

  // -------------------------------------------------------------------------
  // Sysctls, read once per path: the host's configuration does not change while packets run.

  private readonly confCache = new Map<string, number>();

  /** Forget cached sysctl values (after changing the host's configuration under a live path). */
  refresh(): void { this.confCache.clear(); }

  /** @internal (route-input.ts, icmp-send.ts) */
  conf4(dev: string, key: string): number {
    const k = `4/${dev}/${key}`;
    let v = this.confCache.get(k);
    if (v === undefined) { v = ipv4Conf(this.host, dev, key); this.confCache.set(k, v); }
    return v;
  }

  /** @internal (route-input.ts, icmp-send.ts) */
  conf6(dev: string, key: string): number {
    const k = `6/${dev}/${key}`;
    let v = this.confCache.get(k);
    if (v === undefined) { v = ipv6Conf(this.host, dev, key); this.confCache.set(k, v); }
    return v;
  }

  /** @internal (route-input.ts, icmp-send.ts) */
  sysInt(key: string): number {
    let v = this.confCache.get(key);
    if (v === undefined) { v = sysctlInt(this.host, key); this.confCache.set(key, v); }
    return v;
  }

  // -------------------------------------------------------------------------
  // Entry points

  /**
   * A frame arrives on `ifname`. `l3` says the bytes start at the IP header
   * (a raw-IP capture on an ethernet link: CLI.md adds an Ethernet header
   * addressed to the interface, which is the same as starting here).
   */
  receive(ifname: string, frame: Uint8Array, l3 = false): PacketOutcome {
    const link = linkByName(this.host, ifname);
    if (!link) throw new Error(`Cannot find device "${ifname}"`);
    this.begin();
    const pkt = Packet.from(frame);
    this.stamp(pkt);
    pkt.meta.iif = link.index;
    if (this.detail) this.step('link', `received on ${link.name}: ${frame.length} bytes`);
    this.linkReceive(pkt, link, l3 || link.kind === 'loopback');
    return this.end();
  }

  /** A local process sends `l3` (an IPv4 or IPv6 packet). */
  output(l3: Uint8Array): PacketOutcome {
    this.begin();
    this.step('local', `sent by a local process: ${l3.length} bytes`);
    this.depth = -1;
    this.localOut(l3, 'a local process');
    this.depth = 0;
    if (!this.decided) this.decide('forwarded');
    return this.end();
  }

  private begin(): void {
    this.outcome = emptyOutcome();
    this.decided = false;
    this.depth = 0;
  }

  private end(): PacketOutcome {
    this.flush();
    const o = this.outcome;
    if (!this.decided) { o.fate = 'dropped'; o.reason = 'NOT_SPECIFIED'; }
    return o;
  }

  private stamp(pkt: Packet): void {
    const ms = this.clock.nowMs();
    pkt.meta.tsSec = Math.floor(ms / 1000);
    pkt.meta.tsNsec = Math.round((ms - pkt.meta.tsSec * 1000) * 1e6);
  }

  // -------------------------------------------------------------------------
  // Reporting

  step(kind: StepKind, text: string, extra: Partial<PathStep> = {}): void {
    if (!this.detail) return;
    this.outcome.steps.push({ kind, text, depth: this.depth, ...extra });
  }

  private decide(fate: Fate, reason?: DropReason, by?: DropBy): void {
    if (this.depth !== 0 || this.decided) return;
    this.decided = true;
    this.outcome.fate = fate;
    if (reason !== undefined) this.outcome.reason = reason;
    if (by !== undefined) this.outcome.dropBy = by;
  }

  /** A drop by a check of the stack (not a rule). */
  /** @internal (route-input.ts, icmp-send.ts) */
  drop(reason: DropReason, check: string): false {
    this.step('drop', `dropped: ${check} (SKB_DROP_REASON_${reason})`);
    this.decide('dropped', reason, { kind: 'check', check });
    return false;
  }

  // -------------------------------------------------------------------------
  // Hooks

  /** @internal (xfrm-*.ts) A decision that the packet was consumed locally. */
  decideDelivered(): void { this.decide('delivered'); }

  /** @internal (xfrm-output.ts) The hooks at (pf, hooknum) for a packet xfrm made. */
  runHook(pkt: Packet, pf: number, hooknum: number): boolean { return this.hook(pkt, pf, hooknum); }

  /**
   * @internal (xfrm-input.ts) A decapsulated packet re-enters the stack: tunnel mode as a
   * new arrival on `link` (netdev ingress, ip_rcv, PREROUTING), transport mode
   * through xfrm4_transport_finish's PREROUTING.
   */
  reenter(pkt: Packet, link: Link, tunnel: boolean): void {
    pkt.meta.iif = link.index;
    pkt.networkHeader = pkt.head;
    if (tunnel) { this.linkReceive(pkt, link, true); return; }
    if (pkt.buffer[pkt.head]! >> 4 === 6) { pkt.protocol = 0x86dd; this.ipRcv6(pkt, link); }
    else { pkt.protocol = 0x0800; this.ipRcv4(pkt, link); }
  }

  /** Runs every base chain at (pf, hook), with conntrack's hook functions between them; true when the packet goes on. */
  private hook(pkt: Packet, pf: number, hooknum: number): boolean {
    const name = hookName(pf, hooknum);
    const ct = pf !== PF_NETDEV ? this.ct : undefined;
    const traces: TraceEvent[] = [];
    let verdict = NF_ACCEPT, table: string | undefined, chain: string | undefined, handle = -1;
    let ctDrop = '';
    const run = (f: ChainFilter | undefined): void => {
      if (verdict !== NF_ACCEPT) return;
      this.currentHook = hooknum;
      const r = f ? evaluateSlice(this.ruleset, pf, hooknum, pkt, this.ctx, this.hookOut, f)
        : evaluateHook(this.ruleset, pf, hooknum, pkt, this.ctx, this.hookOut);
      this.currentHook = -1;
      for (const ev of r.traces) traces.push(ev);
      r.traces = [];
      if (r.verdict !== NF_ACCEPT) { verdict = r.verdict; table = r.table; chain = r.chain; handle = r.handle; }
    };
    // NAT: nat chains run inside the NAT hook function (-100 for destinations, 100 for sources).
    const nat = ct && hooknum !== FWD && familyHasNat(this.ruleset, pf);
    const natPrio = hooknum === PRE || hooknum === OUT ? NF_IP_PRI_NAT_DST : NF_IP_PRI_NAT_SRC;
    const runFrom = (min: number): void => {
      if (!nat) { run({ min, max: Infinity, skipNat: true }); return; }
      run({ min, max: natPrio, skipNat: true });
      if (verdict !== NF_ACCEPT || ctDrop) return;
      const before = natView(pkt);
      for (const c of natChains(this.ruleset, pf, hooknum)) {
        if (verdict !== NF_ACCEPT || !natNeedsChains(ct, pkt, hooknum)) break;
        run({ min: -Infinity, max: Infinity, skipNat: false, only: c });
      }
      if (verdict !== NF_ACCEPT) return;
      if (natPacket(ct, pkt, hooknum) === NF_DROP) { ctDrop = 'NAT could not map the packet'; return; }
      const after = natView(pkt);
      if (after !== before) this.step('rewrite', `${name}: NAT rewrote ${before} → ${after}`);
      run({ min: natPrio, max: Infinity, skipNat: true });
    };
    if (ct && (hooknum === PRE || hooknum === OUT)) {
      // nf_defrag (-400): fragments are held and reassembled before conntrack.
      const d = defragIn(ct, pkt, pf === PF_INET ? 2 : 10);
      if (d === 'queued') {
        this.step('ct', `${name}: fragment held for reassembly (nf_defrag, priority -400)`);
        this.decide('stolen');
        return false;
      }
      if (!(d instanceof Packet)) return this.drop('NOT_SPECIFIED', `reassembly failed: ${d.drop}`);
      if (d !== pkt) {
        // IPCB(skb)->frag_max_size: the output refragments to the sizes that came in.
        const max = defragMaxSize(ct, d);
        if (max > 0) this.fragMax.set(pkt, max);
        adoptPacket(pkt, d);
        this.step('ct', `${name}: reassembled ${pkt.length} bytes from fragments`); }
      run({ min: -Infinity, max: NF_IP_PRI_CONNTRACK, skipNat: true });
      if (verdict === NF_ACCEPT && hooknum === OUT && pkt.meta.ctSlot >= 0) {
        // nf_conntrack_in(): a reply made for another packet carries that packet's entry
        // (nf_ct_attach), so it is not looked up again — and NAT translates it back.
        this.step('ct', `${name}: conntrack (-200): ${CTINFO_NAME[pkt.meta.ctSlot & 7] ?? 'related'}, attached from the packet it answers`);
        runFrom(NF_IP_PRI_CONNTRACK);
      } else if (verdict === NF_ACCEPT) {
        const r = conntrackIn(ct, pkt, pf === PF_INET ? 2 : 10, hooknum);
        const info = r.ctinfo;
        this.step('ct', `${name}: conntrack (-200): ${CTINFO_NAME[info] ?? `ctinfo ${info}`}${r.reason ? ` (${r.reason})` : ''}`);
        if (r.verdict === NF_DROP) ctDrop = r.reason || 'conntrack';
        else runFrom(NF_IP_PRI_CONNTRACK);
      }
    } else if (ct) {
      runFrom(-Infinity);
    } else {
      run(undefined);
    }
    if (verdict === NF_ACCEPT && !ctDrop && ct && (hooknum === IN || hooknum === POST)) {
      if (conntrackConfirm(ct, pkt) === NF_DROP) ctDrop = 'confirmation clashed with an existing entry';
    }
    if (traces.length > 0) {
      for (const ev of traces) {
        // 'return' events and the handle-less event that carries the "packet:" line are not rule events.
        if (ev.type === 'return' || (ev.type === 'rule' && ev.handle === undefined)) continue;
        const e: RuleTraceEntry = {
          hook: name, family: FAMILY_NAME[ev.family] ?? String(ev.family), table: ev.table, chain: ev.chain,
          handle: ev.type === 'policy' ? null : ev.handle ?? null, verdict: verdictText(ev.verdict),
        };
        if (this.depth > 0) e.generated = true;
        this.outcome.trace.push(e);
      }
      this.step('hook', `${name}: ${verdict === NF_ACCEPT ? 'accepted' : verdictName(verdict)}`, { hook: name, pf, traces });
    }
    let go = true;
    if (ctDrop) {
      this.drop('NETFILTER_DROP', `conntrack at ${name}: ${ctDrop}`);
      go = false;
    } else if (verdict === NF_DROP) {
      const last = [...traces].reverse().find((ev) => ev.type === 'policy' || (ev.type === 'rule' && ev.handle !== undefined));
      const family = FAMILY_NAME[last ? last.family : this.tableFamily(pf, table, chain)] ?? String(pf);
      const by: DropBy = { kind: 'rule', hook: name, family, table: table ?? '', chain: chain ?? '', handle: handle < 0 ? null : handle };
      this.step('drop', `dropped by ${family} ${table} ${chain} ${handle < 0 ? 'policy' : `rule handle ${handle}`} at ${name} (SKB_DROP_REASON_NETFILTER_DROP)`);
      this.decide('dropped', 'NETFILTER_DROP', by);
      go = false;
    } else if (verdict === NF_STOLEN) {
      this.step('drop', `stolen at ${name} by ${table} ${chain}`);
      this.decide('stolen');
      go = false;
    } else if (verdict === NF_QUEUE) {
      this.step('drop', `queued to userspace at ${name} by ${table} ${chain}`);
      this.decide('queued');
      go = false;
    }
    // Replies a rule queued (reject) still hold the dropped packet's entry (nf_ct_attach takes a
    // reference): send them before the unconfirmed entry is released.
    this.flush();
    if (!go && ct) conntrackRelease(ct, pkt);
    return go;
  }

  /** The family of the table holding `chain` that a packet of `pf` can meet (its own family, inet, or netdev). */
  private tableFamily(pf: number, table: string | undefined, chain: string | undefined): number {
    for (const f of [pf, 1, 5]) if (table !== undefined && chain !== undefined && this.ruleset.table(f, table)?.chains.has(chain)) return f;
    return pf;
  }

  /** Queued by services while the VM ran. */
  queueOutput(l3: Uint8Array, why: string, cause?: Packet): void { this.pending.push(() => this.localOut(l3, why, cause)); }
  queueAction(fn: () => void): void { this.pending.push(fn); }
  queueTransmit(pkt: Packet, dev: Link): void {
    this.pending.push(() => {
      this.depth++;
      try {
        this.step('generate', `a copy of the packet (dup/fwd) to ${dev.name}`);
        this.xmit(pkt, dev, undefined);
      } finally { this.depth--; }
    });
  }

  private flush(): void {
    for (let i = 0; i < 10_000 && this.pending.length > 0; i++) this.pending.shift()!();
  }

  // -------------------------------------------------------------------------
  // Receive

  /** @internal */
  linkReceive(pkt: Packet, link: Link, l3: boolean): void {
    if (!link.up) { this.drop('DEV_READY', `${link.name} is down`); return; }
    let proto: number;
    if (l3) {
      const v = pkt.length > 0 ? pkt.buffer[pkt.head]! >> 4 : 0;
      proto = v === 4 ? 0x0800 : v === 6 ? 0x86dd : 0;
      pkt.meta.pktType = PACKET_HOST;
    } else {
      if (pkt.length < 14) { this.drop('PKT_TOO_SMALL', 'frame shorter than an Ethernet header'); return; }
      const b = pkt.buffer, m = pkt.head;
      pkt.macHeader = m;
      // eth_type_trans(): the destination MAC decides pkt_type.
      if (b[m]! & 1) {
        let all = true;
        for (let i = 0; i < 6; i++) if (b[m + i] !== 0xff) { all = false; break; }
        pkt.meta.pktType = all ? PACKET_BROADCAST : PACKET_MULTICAST;
      } else {
        let ours = true;
        for (let i = 0; i < 6; i++) if (b[m + i] !== link.mac[i]) { ours = false; break; }
        pkt.meta.pktType = ours ? PACKET_HOST : PACKET_OTHERHOST;
      }
      proto = be16(b, m + 12);
      pkt.pull(14);
      if (pkt.meta.pktType === PACKET_OTHERHOST) this.step('link', `destination MAC ${formatMac(b.subarray(m, m + 6))} is not ${link.name}'s (${formatMac(link.mac)}): PACKET_OTHERHOST`);
    }
    pkt.protocol = proto;
    pkt.networkHeader = pkt.head;
    if (proto === 0x0800 && pkt.length >= 20) setIpv4Headers(pkt);
    else if (proto === 0x86dd && pkt.length >= 40) setIpv6Headers(pkt);
    // __netif_receive_skb_core(): the netdev ingress hook (and inet ingress) before the protocol handlers.
    if (!this.hook(pkt, PF_NETDEV, 0)) return;
    if (proto === 0x0800) this.ipRcv4(pkt, link);
    else if (proto === 0x86dd) this.ipRcv6(pkt, link);
    else if (proto === 0x0806) { this.step('deliver', 'ARP: handled by the neighbour layer'); this.decide('delivered'); }
    else this.drop('UNHANDLED_PROTO', `no handler for ethertype 0x${proto.toString(16).padStart(4, '0')}`);
  }

  /** ip_rcv_core() then PREROUTING then ip_rcv_finish(). */
  /** @internal */
  ipRcv4(pkt: Packet, link: Link): void {
    if (pkt.meta.pktType === PACKET_OTHERHOST) { this.drop('OTHERHOST', 'frame addressed to another host\'s MAC'); return; }
    const b = pkt.buffer, n = pkt.head;
    if (pkt.length < 20) { this.drop('IP_INHDR', 'shorter than an IPv4 header'); return; }
    const ihl = (b[n]! & 0x0f) * 4;
    if (b[n]! >> 4 !== 4 || ihl < 20) { this.drop('IP_INHDR', 'bad IPv4 version or header length'); return; }
    if (pkt.length < ihl) { this.drop('IP_INHDR', 'IPv4 header truncated'); return; }
    let sum = 0;
    for (let i = 0; i < ihl; i += 2) sum += (b[n + i]! << 8) | b[n + i + 1]!;
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    if (sum !== 0xffff) { this.drop('IP_CSUM', 'bad IPv4 header checksum (ip_rcv_core, before PREROUTING)'); return; }
    const total = be16(b, n + 2);
    if (pkt.length < total) { this.drop('PKT_TOO_SMALL', `IPv4 total length ${total} longer than the ${pkt.length} bytes received`); return; }
    if (total < ihl) { this.drop('IP_INHDR', 'IPv4 total length shorter than its header'); return; }
    if (pkt.length > total) pkt.trim(total);
    setIpv4Headers(pkt);
    if (this.detail) this.step('check', `IPv4 ${formatAddr(b.subarray(n + 12, n + 16))} > ${formatAddr(b.subarray(n + 16, n + 20))} ttl ${b[n + 8]}: header valid`);
    if (!this.hook(pkt, PF_INET, PRE)) return;
    if (this.looped.has(pkt)) { this.localDeliver(pkt, 4, 'unicast', link, undefined); return; }
    routeInput4(this, pkt, link);
  }

  /** @internal */
  ipRcv6(pkt: Packet, link: Link): void {
    if (pkt.meta.pktType === PACKET_OTHERHOST) { this.drop('OTHERHOST', 'frame addressed to another host\'s MAC'); return; }
    const b = pkt.buffer, n = pkt.head;
    if (this.conf6(link.name, 'disable_ipv6')) { this.drop('IPV6DISABLED', `IPv6 is disabled on ${link.name}`); return; }
    if (pkt.length < 40 || b[n]! >> 4 !== 6) { this.drop('IP_INHDR', 'bad IPv6 header'); return; }
    const src = b.subarray(n + 8, n + 24), dst = b.subarray(n + 24, n + 40);
    // ipv6_rcv(): multicast sources, and loopback addresses from outside lo, are header errors (RFC 4291 §2.5.3, §2.7).
    if (isMulticast6(src)) { this.drop('IP_INHDR', 'multicast source address'); return; }
    if (link.kind !== 'loopback' && (isLoopback6(src) || isLoopback6(dst))) { this.drop('IP_INHDR', 'loopback address from a wire'); return; }
    const total = 40 + be16(b, n + 4);
    if (pkt.length < total) { this.drop('PKT_TOO_SMALL', `IPv6 payload length says ${total} bytes, ${pkt.length} received`); return; }
    if (pkt.length > total) pkt.trim(total);
    setIpv6Headers(pkt);
    if (this.detail) this.step('check', `IPv6 ${formatAddr(src)} > ${formatAddr(dst)} hlim ${b[n + 7]}: header valid`);
    if (!this.hook(pkt, PF_INET6, PRE)) return;
    if (this.looped.has(pkt)) { this.localDeliver(pkt, 6, 'unicast', link, undefined); return; }
    routeInput6(this, pkt, link);
  }

  // -------------------------------------------------------------------------
  // Input routing

  // -------------------------------------------------------------------------
  // Local delivery

  /** @internal (route-input.ts, icmp-send.ts) */
  localDeliver(pkt: Packet, family: 4 | 6, cast: Cast, link: Link, _rt: RouteResult | undefined): void {
    pkt.meta.oif = 0;
    if (!this.hook(pkt, family === 4 ? PF_INET : PF_INET6, IN)) return;
    const x = this.xfrm;
    if (x && !xfrmLocalIn(this, x, pkt, link)) return;
    const ans = deliverLocal(pkt, family, cast, this.listeners, {
      ttl4: this.sysInt('net.ipv4.ip_default_ttl') || 64,
      hlim6: this.conf6(link.name, 'hop_limit') || 64,
      echoIgnoreAll4: this.sysInt('net.ipv4.icmp_echo_ignore_all') !== 0,
      echoIgnoreBroadcasts4: this.sysInt('net.ipv4.icmp_echo_ignore_broadcasts') !== 0,
      echoIgnoreAll6: this.sysInt('net.ipv6.icmp.echo_ignore_all') !== 0,
      echoIgnoreMulticast6: this.sysInt('net.ipv6.icmp.echo_ignore_multicast') !== 0,
      nextId: () => this.random() & 0xffff,
    });
    this.step('deliver', `local stack: ${ans.text}`);
    if (ans.fate === 'delivered') this.decide('delivered');
    else this.decide('dropped', ans.reason ?? 'NOT_SPECIFIED', { kind: 'check', check: ans.text });
    if (ans.reply) this.localOut(ans.reply, 'the local stack\'s reply');
    if (ans.icmpError) {
      if (family === 4) icmpSend4(this, pkt, link, ans.icmpError.type, ans.icmpError.code, 0, true);
      else icmpSend6(this, pkt, link, ans.icmpError.type, ans.icmpError.code, ans.icmpError.type === 4 ? 6 : 0);
    }
  }

  // -------------------------------------------------------------------------
  // Forwarding

  /** ip_forward() (net/ipv4/ip_forward.c). */
  /** @internal (route-input.ts, icmp-send.ts) */
  forward4(pkt: Packet, link: Link, rt: RouteResult): void {
    const b = pkt.buffer, n = pkt.head;
    if (pkt.meta.pktType !== PACKET_HOST) { this.drop('OTHERHOST', 'not addressed to this host at the link layer'); return; }
    const x = this.xfrm;
    if (x && !xfrmForwardCheck(this, x, pkt)) return;
    const ttl = b[n + 8]!;
    if (ttl <= 1) {
      this.drop('IP_INHDR', `TTL ${ttl} expires here (ip_forward: time exceeded, before FORWARD)`);
      icmpSend4(this, pkt, link, ICMP_TIME_EXCEEDED, ICMP_EXC_TTL, 0, false);
      return;
    }
    if (x && !xfrmRouteOutput(this, x, pkt, 'forward')) return;
    const dev = rt.dev!;
    const mtu = rt.mtu || dev.mtu;
    const total = pkt.length;
    const df = (be16(b, n + 6) & IP_DF) !== 0;
    if (total > mtu && df) {
      this.drop('PKT_TOO_BIG', `${total} bytes with DF over the path MTU ${mtu} of ${dev.name}`);
      icmpSend4(this, pkt, link, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, mtu, false);
      return;
    }
    // ip_decrease_ttl(): RFC 1624 incremental update of the header checksum.
    let check = be16(b, n + 10) + 0x0100;
    check = (check + (check >= 0xffff ? 1 : 0)) & 0xffff;
    b[n + 10] = check >> 8; b[n + 11] = check & 0xff;
    b[n + 8] = ttl - 1;
    if (this.detail) this.step('forward', `forwarded: TTL ${ttl} → ${ttl - 1} (decremented before FORWARD), out ${dev.name}`);
    pkt.meta.oif = dev.index;
    if (!this.hook(pkt, PF_INET, FWD)) return;
    if (this.postAndTransmit(pkt, PF_INET, rt)) this.decide('forwarded');
  }

  /** ip6_forward() (net/ipv6/ip6_output.c). */
  /** @internal (route-input.ts, icmp-send.ts) */
  forward6(pkt: Packet, link: Link, rt: RouteResult): void {
    const b = pkt.buffer, n = pkt.head;
    if (this.conf6(link.name, 'forwarding') === 0) {
      this.drop('NOT_SPECIFIED', 'IPv6 forwarding is disabled (net.ipv6.conf.all.forwarding=0)');
      return;
    }
    if (pkt.meta.pktType !== PACKET_HOST) { this.drop('OTHERHOST', 'not addressed to this host at the link layer'); return; }
    const saddr = b.subarray(n + 8, n + 24);
    if (isLinkLocal6(saddr) || isLoopback6(saddr)) {
      this.drop('NOT_SPECIFIED', `link-local source ${formatAddr(saddr)} is not forwarded`);
      icmpSend6(this, pkt, link, ICMPV6_DEST_UNREACH, ICMPV6_NOT_NEIGHBOUR, 0);
      return;
    }
    const x = this.xfrm;
    if (x && !xfrmForwardCheck(this, x, pkt)) return;
    const hlim = b[n + 7]!;
    if (hlim <= 1) {
      this.drop('IP_INHDR', `hop limit ${hlim} expires here (ip6_forward: time exceeded, before FORWARD)`);
      icmpSend6(this, pkt, link, ICMPV6_TIME_EXCEED, ICMPV6_EXC_HOPLIMIT, 0);
      return;
    }
    if (x && !xfrmRouteOutput(this, x, pkt, 'forward')) return;
    const dev = rt.dev!;
    const mtu = Math.max(rt.mtu || dev.mtu, 1280);
    if (pkt.length > mtu) {
      this.drop('PKT_TOO_BIG', `${pkt.length} bytes over the path MTU ${mtu} of ${dev.name}`);
      icmpSend6(this, pkt, link, ICMPV6_PKT_TOOBIG, 0, mtu);
      return;
    }
    b[n + 7] = hlim - 1;
    if (this.detail) this.step('forward', `forwarded: hop limit ${hlim} → ${hlim - 1} (decremented before FORWARD), out ${dev.name}`);
    pkt.meta.oif = dev.index;
    if (!this.hook(pkt, PF_INET6, FWD)) return;
    if (this.postAndTransmit(pkt, PF_INET6, rt)) this.decide('forwarded');
  }

  // -------------------------------------------------------------------------
  // Output

  /** ip_local_out() for a packet the host makes: route, OUTPUT, POSTROUTING, wire (or back in via lo). */
  /** @internal (route-input.ts, icmp-send.ts) */
  /**
   * A locally generated packet: OUTPUT → routing → POSTROUTING. `cause` is the packet it
   * answers (a reject's reset or ICMP error): its conntrack entry is attached to the reply
   * (nf_ct_attach), so NAT translates the reply and the packet it quotes back.
   */
  localOut(l3: Uint8Array, why: string, cause?: Packet): void {
    this.depth++;
    try {
      const pkt = Packet.from(l3);
      if (cause && this.ct) conntrackAttach(this.ct, pkt, cause);
      this.stamp(pkt);
      const v = l3[0]! >> 4;
      if (v === 4) setIpv4Headers(pkt); else if (v === 6) setIpv6Headers(pkt);
      else { this.drop('UNHANDLED_PROTO', 'not an IP packet'); return; }
      const family: 4 | 6 = v === 4 ? 4 : 6;
      const pf = family === 4 ? PF_INET : PF_INET6;
      const { src, dst } = addrs(pkt, family);
      if (this.depth > 0) this.step('generate', `${why}: ${describeL3(pkt, family)}`);
      let rt = route(this.host, { family, daddr: dst, saddr: src, mark: pkt.meta.mark });
      if (this.detail) this.step('route', `route lookup for ${formatAddr(dst)}: ${describeRoute(this.host, rt)}`);
      if (rt.errno !== undefined || (rt.type !== 'unicast' && rt.type !== 'local' && rt.type !== 'broadcast' && rt.type !== 'multicast')) {
        this.drop('IP_OUTNOROUTES', `no route to ${formatAddr(dst)} (${rt.errno ?? rt.type})`);
        return;
      }
      const lo = this.host.links.find((l) => l.kind === 'loopback');
      pkt.meta.oif = rt.type === 'local' ? lo?.index ?? 0 : rt.dev?.index ?? 0;
      // ip_route_output_flow() → xfrm_lookup_route(): the SPD decides before OUTPUT.
      const x = this.xfrm;
      if (x && rt.type !== 'local' && !xfrmRouteOutput(this, x, pkt, 'output')) return;
      if (!this.hook(pkt, pf, OUT)) return;
      // ip_route_me_harder(): a rule that changed the destination or mark re-routes the packet.
      const after = addrs(pkt, family);
      if (!equalAddr(after.dst, dst)) {
        rt = route(this.host, { family, daddr: after.dst, saddr: after.src, mark: pkt.meta.mark });
        this.step('route', `re-routed after OUTPUT: ${describeRoute(this.host, rt)}`);
        if (rt.errno !== undefined) { this.drop('IP_OUTNOROUTES', `no route to ${formatAddr(after.dst)}`); return; }
        pkt.meta.oif = rt.type === 'local' ? lo?.index ?? 0 : rt.dev?.index ?? 0;
      }
      if (rt.type === 'local' && lo) {
        if (!this.hook(pkt, pf, POST)) return;
        this.step('transmit', 'looped back through lo');
        const copy = Packet.from(pkt.data);
        copy.meta.iif = lo.index;
        copy.meta.mark = pkt.meta.mark;
        // The looped packet keeps its route (skb_dst): ip_rcv_finish() does no input lookup for it.
        this.looped.add(copy);
        this.stamp(copy);
        this.linkReceive(copy, lo, true);
        return;
      }
      this.postAndTransmit(pkt, pf, rt);
    } finally {
      this.depth--;
    }
  }

  /** ip_output → POSTROUTING → ip_finish_output2 (neighbour) → dev_queue_xmit (egress). */
  /** @internal (xfrm-output.ts) */
  postAndTransmit(pkt: Packet, pf: number, rt: RouteResult): boolean {
    if (!this.hook(pkt, pf, POST)) return false;
    // xfrm4_output(): after the inner packet's POSTROUTING the bundle transforms it.
    const x = this.xfrm;
    if (x && hasBundle(pkt)) return xfrmOutput(this, x, pkt);
    const dev = rt.dev;
    if (!dev) return this.drop('IP_OUTNOROUTES', 'route without an output device');
    let mtu = rt.mtu || dev.mtu;
    // ip_finish_output(): over the MTU, or reassembled by conntrack's defrag, the packet goes through
    // ip_fragment(), which uses the largest incoming fragment's size when that is smaller.
    const fms = this.fragMax.get(pkt) ?? 0;
    if (fms > 0 && fms < mtu) mtu = fms;
    if (pf === PF_INET && (pkt.length > mtu) && dev.kind !== 'loopback') {
      if (fms > 0) return this.fragmentReassembled(pkt, dev, rt, mtu);
      return this.fragment4(pkt, dev, rt, mtu);
    }
    return this.xmit(pkt, dev, rt);
  }

  /** A datagram conntrack reassembled leaves as fragments again, DF or not (skb->ignore_df). */
  private fragmentReassembled(pkt: Packet, dev: Link, rt: RouteResult, mtu: number): boolean {
    if (this.detail) this.step('transmit', `reassembled ${pkt.length} bytes leave as fragments of at most ${mtu} (frag_max_size)`);
    let ok = true;
    for (const f of fragmentIpv4(pkt.data, mtu)) {
      const fp = Packet.from(f);
      fp.meta = { ...pkt.meta };
      setIpv4Headers(fp);
      ok = this.xmit(fp, dev, rt) && ok;
    }
    return ok;
  }

  /** ip_fragment(): a DF packet over the MTU cannot go; others leave as fragments (fragment.ts). */
  private fragment4(pkt: Packet, dev: Link, rt: RouteResult, mtu: number): boolean {
    if (be16(pkt.buffer, pkt.head + 6) & IP_DF) {
      // A locally generated DF packet over the MTU: the sender gets EMSGSIZE.
      return this.drop('PKT_TOO_BIG', `${pkt.length} bytes with DF over the MTU ${mtu} of ${dev.name}`);
    }
    if (this.detail) this.step('transmit', `${pkt.length} bytes over the MTU ${mtu} of ${dev.name}: fragmented (ip_fragment)`);
    let ok = true;
    for (const f of fragmentIpv4(pkt.data, mtu)) {
      const fp = Packet.from(f);
      fp.meta = { ...pkt.meta };
      setIpv4Headers(fp);
      ok = this.xmit(fp, dev, rt) && ok;
    }
    return ok;
  }

  /** Neighbour resolution, the Ethernet header, netdev egress, the wire. */
  private xmit(pkt: Packet, dev: Link, rt: RouteResult | undefined): boolean {
    if (!dev.up) return this.drop('DEV_READY', `${dev.name} is down`);
    const family: 4 | 6 = pkt.protocol === 0x86dd ? 6 : 4;
    const { dst } = addrs(pkt, family);
    if (dev.kind !== 'loopback') {
      const mac = this.resolve(dev, family, rt?.gateway ?? dst, rt);
      if (!mac) return false;
      pkt.push(14);
      const b = pkt.buffer, m = pkt.head;
      pkt.macHeader = m;
      b.set(mac, m); b.set(dev.mac, m + 6);
      b[m + 12] = family === 4 ? 0x08 : 0x86; b[m + 13] = family === 4 ? 0x00 : 0xdd;
      pkt.pull(14);
    }
    pkt.meta.oif = dev.index;
    if (!this.hook(pkt, PF_NETDEV, 1)) return false;
    const frame = dev.kind !== 'loopback' ? pkt.buffer.slice(pkt.macHeader, pkt.tail) : pkt.data.slice();
    this.outcome.emitted.push({ dev: dev.name, frame, ether: dev.kind !== 'loopback' });
    if (this.detail) this.step('transmit', `sent on ${dev.name}: ${frame.length} bytes`);
    return true;
  }

  /**
   * The next hop's link-layer address: a neighbour entry, the broadcast or
   * multicast mapping, or — with no entry — the answer ARP/NDP would have given,
   * derived from the address, which the trace says.
   */
  private resolve(dev: Link, family: 4 | 6, nexthop: Uint8Array, rt: RouteResult | undefined): Uint8Array | undefined {
    if (family === 4 && (isLbcast4(nexthop) || rt?.type === 'broadcast')) return new Uint8Array([255, 255, 255, 255, 255, 255]);
    if (family === 4 && isMulticast4(nexthop)) return new Uint8Array([1, 0, 0x5e, nexthop[1]! & 0x7f, nexthop[2]!, nexthop[3]!]);
    if (family === 6 && isMulticast6(nexthop)) return new Uint8Array([0x33, 0x33, nexthop[12]!, nexthop[13]!, nexthop[14]!, nexthop[15]!]);
    const ne = this.host.neighs.find((x) => x.family === family && x.dev === dev.index && equalAddr(x.dst, nexthop));
    if (ne && ne.state === 'FAILED') { this.drop('NEIGH_FAILED', `neighbour ${formatAddr(nexthop)} on ${dev.name} is FAILED`); return undefined; }
    if (ne?.lladdr) {
      if (this.detail) this.step('neigh', `neighbour ${formatAddr(nexthop)} dev ${dev.name} lladdr ${formatMac(ne.lladdr)} ${ne.state}`);
      return ne.lladdr;
    }
    const mac = deriveMac('neighbour', formatAddr(nexthop));
    if (this.detail) this.step('neigh', `no neighbour entry for ${formatAddr(nexthop)} on ${dev.name}: resolved as if ${family === 4 ? 'ARP' : 'NDP'} answered ${formatMac(mac)}`);
    return mac;
  }

  // -------------------------------------------------------------------------
  // ICMP errors
}

