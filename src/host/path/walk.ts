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
 *
 * This module holds the HostPath object (options, entry points, the outcome,
 * and the hooks with conntrack and NAT between the base chains); the stages
 * are receive.ts, route-input.ts, forward.ts and output.ts.
 *
 * The fast mode (`detail: false`, replays and benchmarks) builds no text and
 * allocates per packet only what its fate needs (the packet, its outcome, the
 * frames sent): texts for `why` are made behind `if (this.detail)`, sysctls
 * are read once per path, routes come from a cache (route-cache.ts), and each
 * hook's chain slices are computed once per ruleset generation (hooks.ts).
 */
import { Packet } from '../../packet/packet.js';
import type { Host, Link } from '../types.js';
import type { RouteResult } from '../fib.js';
import { linkByName } from '../links.js';
import { ipv4Conf, ipv6Conf, sysctlGet, sysctlInt } from '../sysctl.js';
import { Ruleset } from '../../netfilter/ruleset.js';
import { newHookResult } from '../../netfilter/hooks.js';
import type { HookContext } from '../../netfilter/hooks.js';
import { FAMILY_NAME } from '../../netfilter/batch.js';
import { NF_ACCEPT, NF_DROP, NF_QUEUE, NF_STOLEN } from '../../netfilter/bytecode.js';
import { verdictName } from '../../netfilter/bytecode-text.js';
import type { Clock } from '../../netfilter/clock.js';
import { VirtualClock } from '../../netfilter/clock.js';
import type { TraceEvent } from '../../netfilter/trace.js';
import type { DropBy, DropReason, Fate, HookName, PacketOutcome, PathStep, RuleTraceEntry, StepKind } from './types.js';
import { IcmpRateLimiter } from './icmp-error.js';
import type { Cast, Listener } from '../local-stack.js';
import { PathServices } from '../services.js';
import { adoptPacket, CTINFO_NAME, emptyOutcome, natView, verdictText } from './describe.js';
import { mulberry32 } from '../../netfilter/random.js';
import { evaluateChains, hookPlan, rulesetUsesConntrack } from './hooks.js';
import type { HookPlan } from './hooks.js';
import { runtimeOf } from '../../netfilter/runtime.js';
import type { CompiledChain, Runtime } from '../../netfilter/runtime.js';
import { natNeedsChains, natPacket } from '../../netfilter/nat/index.js';
import { ConntrackTable, confirmDropReason, conntrackConfirm, conntrackIn, conntrackRelease, defragIn, defragMaxSize } from '../../netfilter/conntrack/index.js';
import type { Xfrm } from '../../xfrm/index.js';
import { xfrmActive } from './xfrm-state.js';
import { ipRcv4, ipRcv6, linkReceive, localDeliver } from './receive.js';
import { forward4, forward6 } from './forward.js';
import { RouteCache4 } from './route-cache.js';
import { localOut, postAndTransmit, xmit } from './output.js';
import { iptfsAdvance } from './xfrm-iptfs.js';
import { flowtableFront, flowtableIngress, PathFlowtables } from './flowtable.js';
import type { Hooked } from './flowtable.js';

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
  /** The flowtables' offloaded flows to start from (kept across paths and commands like the conntrack table they belong to). */
  flowtables?: PathFlowtables;
}

/** The per-interface sysctls the receive and forward paths read (ipv4Conf/ipv6Conf's answers). */
export interface LinkConf {
  name: string;
  forwarding: number;
  routeLocalnet: number;
  rpFilter: number;
  acceptLocal: number;
  disableIpv6: number;
  forwarding6: number;
  hopLimit: number;
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
  /** @internal (route-input.ts) IPv4 input-route answers of this path's flows. */
  readonly routes4: RouteCache4;
  /** The flowtables' offloaded flows (flowtable.ts): `flow add` fills them, their devices' ingress reads them. */
  readonly flowtables: PathFlowtables;
  private outcome: PacketOutcome = emptyOutcome();
  private decided = false;
  /** @internal How deep in generated packets the walk is (0: the input packet). */
  depth = 0;
  /**
   * @internal (flowtable.ts) flowtableFront looked the received frame up and no flow matched:
   * the frame's first flowtable hook takes that answer instead of looking again.
   */
  flowtableMissed = false;
  /** Packets made while a hook ran (reject, dup): sent once the VM is free again. */
  private readonly pending: Array<() => void> = [];
  /** The hook being evaluated (NF_INET_*), for services that depend on it (reject). */
  currentHook = -1;
  /** Reassembled packets and the largest fragment they came in (frag_max_size); `anyFragMax` saves the lookup until one exists. */
  private readonly fragMax = new WeakMap<Packet, number>();
  private anyFragMax = false;
  /** Packets looped back through lo with their local route attached; `anyLooped` saves the lookup until one exists. */
  private readonly looped = new WeakSet<Packet>();
  private anyLooped = false;

  constructor(host: Host, o: HostPathOptions = {}) {
    this.host = host;
    this.ruleset = o.ruleset ?? new Ruleset();
    this.clock = o.clock ?? new VirtualClock();
    this.listeners = o.listeners ?? [];
    this.random = o.random ?? mulberry32(0x6e6678);
    this.ct = o.conntrack ?? (rulesetUsesConntrack(this.ruleset)
      ? new ConntrackTable(this.clock, (k) => { const v = sysctlGet(host, k); return v === undefined ? undefined : Number(v); })
      : undefined);
    this.xfrmState = o.xfrm;
    this.routes4 = new RouteCache4(host);
    this.flowtables = o.flowtables ?? new PathFlowtables(host, this.ct);
    this.services = new PathServices(this);
    this.detail = o.detail !== false;
    this.ctx = { host: this.services, clock: this.clock, traceAll: this.detail, random: this.random };
    if (o.jit === false) this.ctx.jit = false;
  }

  /** The xfrm state when IPsec can affect a packet (states or policies exist), else undefined: the walk skips xfrm. */
  get xfrm(): Xfrm | undefined { return xfrmActive(this.xfrmState) ? this.xfrmState : undefined; }

  // -------------------------------------------------------------------------
  // Sysctls, read once per path: the host's configuration does not change while packets run.

  // Keys are looked up by device, then by name: building a combined string key per
  // packet cost more than the lookup itself.
  private readonly confCache = new Map<string, number>();
  private readonly textCache = new Map<string, string | undefined>();
  private readonly conf4Cache = new Map<string, Map<string, number>>();
  private readonly conf6Cache = new Map<string, Map<string, number>>();
  /** The per-interface values the receive path reads for every packet, by ifindex. */
  private linkConfs: Array<LinkConf | undefined> = [];

  /** Forget cached sysctl values (after changing the host's configuration under a live path). */
  refresh(): void { this.confCache.clear(); this.textCache.clear(); this.conf4Cache.clear(); this.conf6Cache.clear(); this.linkConfs = []; }

  /** @internal (route-input.ts, icmp-send.ts) */
  conf4(dev: string, key: string): number {
    let m = this.conf4Cache.get(dev);
    if (m === undefined) { m = new Map(); this.conf4Cache.set(dev, m); }
    let v = m.get(key);
    if (v === undefined) { v = ipv4Conf(this.host, dev, key); m.set(key, v); }
    return v;
  }

  /** @internal (route-input.ts, icmp-send.ts) */
  conf6(dev: string, key: string): number {
    let m = this.conf6Cache.get(dev);
    if (m === undefined) { m = new Map(); this.conf6Cache.set(dev, m); }
    let v = m.get(key);
    if (v === undefined) { v = ipv6Conf(this.host, dev, key); m.set(key, v); }
    return v;
  }

  /** @internal (receive.ts, route-input.ts, forward.ts) The interface's conf values of the hot path, read once. */
  linkConf(link: Link): LinkConf {
    let c = this.linkConfs[link.index];
    if (c === undefined || c.name !== link.name) {
      const d = link.name;
      c = {
        name: d,
        forwarding: this.conf4(d, 'forwarding'), routeLocalnet: this.conf4(d, 'route_localnet'),
        rpFilter: this.conf4(d, 'rp_filter'), acceptLocal: this.conf4(d, 'accept_local'),
        disableIpv6: this.conf6(d, 'disable_ipv6'), forwarding6: this.conf6(d, 'forwarding'), hopLimit: this.conf6(d, 'hop_limit'),
      };
      this.linkConfs[link.index] = c;
    }
    return c;
  }

  /** @internal (icmp-send.ts) A sysctl's text, read once per path. */
  sysText(key: string): string | undefined {
    let v = this.textCache.get(key);
    if (v === undefined && !this.textCache.has(key)) { v = sysctlGet(this.host, key); this.textCache.set(key, v); }
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
    // The fast mode lets an offloaded flow's frame leave before it becomes a packet (flowtable.ts).
    this.flowtableMissed = false;
    if (!this.detail && !l3 && this.flowtables.any && link.kind !== 'loopback' && flowtableFront(this, link, frame)) return this.end();
    const pkt = Packet.from(frame);
    this.stamp(pkt);
    pkt.meta.iif = link.index;
    if (this.detail) this.step('link', `received on ${link.name}: ${frame.length} bytes`);
    this.linkReceive(pkt, link, l3 || link.kind === 'loopback');
    const o = this.end();
    // The walk is over: a conntrack entry the packet still holds unconfirmed (it was dropped by a
    // check after PREROUTING, e.g. no route) dies with it, as nf_conntrack_put() on the freed skb.
    if (this.ct) conntrackRelease(this.ct, pkt);
    return o;
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

  /** @internal (output.ts) */
  stamp(pkt: Packet): void {
    const ms = this.clock.nowMs();
    pkt.meta.tsSec = Math.floor(ms / 1000);
    pkt.meta.tsNsec = Math.round((ms - pkt.meta.tsSec * 1000) * 1e6);
  }

  // -------------------------------------------------------------------------
  // Reporting

  step(kind: StepKind, text: string, extra?: Partial<PathStep>): void {
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
    if (this.detail) this.step('drop', `dropped: ${check} (SKB_DROP_REASON_${reason})`);
    this.decide('dropped', reason, { kind: 'check', check });
    return false;
  }

  // -------------------------------------------------------------------------
  // Hooks

  /** @internal (xfrm-*.ts) A decision that the packet was consumed locally. */
  decideDelivered(): void { this.decide('delivered'); }

  /** @internal (forward.ts) The packet left towards its destination. */
  decideForwarded(): void { this.decide('forwarded'); }

  /** @internal (receive.ts) The local stack refused the packet. */
  decideDropped(reason: DropReason, by: DropBy): void { this.decide('dropped', reason, by); }

  /** @internal (output.ts) A frame put on a link because of the packet. */
  emit(dev: string, frame: Uint8Array, ether: boolean): void {
    const e = { dev, frame, ether }, list = this.outcome.emitted;
    // Most packets send one frame: a one-element literal is smaller than an empty array grown by push().
    if (list.length === 0) this.outcome.emitted = [e];
    else list.push(e);
  }

  /** @internal (output.ts) A packet looped back through lo keeps its local route (skb_dst). */
  markLooped(pkt: Packet): void { this.looped.add(pkt); this.anyLooped = true; }

  /** @internal (receive.ts) */
  isLooped(pkt: Packet): boolean { return this.anyLooped && this.looped.has(pkt); }

  /** @internal (output.ts) frag_max_size of a datagram conntrack reassembled, 0 for others. */
  fragMaxOf(pkt: Packet): number { return this.anyFragMax ? this.fragMax.get(pkt) ?? 0 : 0; }

  /** @internal (xfrm-iptfs.ts) The packet waits in a queue (IP-TFS): not a drop, it leaves when a timer fires. */
  decideQueued(): void { this.decide('queued'); }

  /** @internal (xfrm-iptfs.ts) The outcome being built for the packet now walking. */
  get current(): PacketOutcome { return this.outcome; }

  /**
   * @internal (xfrm-iptfs.ts) Runs `fn` as later work of the packet whose outcome is `o`
   * (an IP-TFS timer fired, or a held payload was released): its steps and frames go
   * there, and a packet still 'queued' takes the fate of what `fn` does with it.
   */
  attach(o: PacketOutcome, fn: () => void): void {
    const outcome = this.outcome, decided = this.decided, depth = this.depth;
    this.outcome = o; this.decided = o.fate !== 'queued'; this.depth = 0;
    try { fn(); this.flush(); } finally { this.outcome = outcome; this.decided = decided; this.depth = depth; }
  }

  /**
   * Moves the virtual clock on to `ms`, first firing the timers due before it
   * (IP-TFS init-delay and drop-time) at their own deadlines; what they send or
   * deliver is added to the outcome of the packet that caused it (returned, in
   * the order they changed). Packets given at the same time form a burst.
   */
  advance(ms: number): PacketOutcome[] { return iptfsAdvance(this, ms); }

  /** Runs the clock on until no timer is pending (the end of a replay). */
  drain(): PacketOutcome[] { return iptfsAdvance(this, Infinity); }

  /** @internal (receive.ts, output.ts, xfrm-*.ts, flowtable.ts) The hooks at (pf, hooknum). */
  runHook(pkt: Packet, pf: number, hooknum: number): boolean {
    // Every packet crosses netdev ingress and egress, which usually have no chain: answer that
    // from a flag kept per ruleset generation instead of looking the hook's plan up.
    if (pf === PF_NETDEV && this.pending.length === 0 && !this.netdevHooked(hooknum)) return true;
    return this.hook(pkt, pf, hooknum);
  }

  /** @internal (flowtable.ts) Whether any base chain hooks netdev ingress (0) or egress (1), from a flag kept per ruleset generation. */
  netdevHooked(hooknum: number): boolean {
    const rs = this.ruleset;
    if (rs.generation !== this.netdevGeneration || rs !== this.netdevRuleset) {
      this.netdevRuleset = rs;
      this.netdevGeneration = rs.generation;
      this.netdevChains = (this.plan(PF_NETDEV, 0).all !== undefined ? 1 : 0) | (this.plan(PF_NETDEV, 1).all !== undefined ? 2 : 0);
    }
    return (this.netdevChains & (1 << hooknum)) !== 0;
  }

  /**
   * @internal (receive.ts) The netdev ingress hook of `link`, whose flowtables `hooked` (by
   * priority) sit among its base chains: the chains up to the first one's priority, the flowtables, then
   * the chains above — which an offloaded flow's packets never meet (nf_hook_ingress runs the
   * device's hook entries in priority order; among equal priorities nfx puts chains first).
   * True when the packet goes on into the stack.
   */
  ingressAround(pkt: Packet, link: Link, hooked: Hooked[]): boolean {
    if (!this.netdevHooked(0)) return this.runHook(pkt, PF_NETDEV, 0) && !flowtableIngress(this, pkt, link, hooked);
    const priority = hooked[0]!.priority;
    const all = this.plan(PF_NETDEV, 0).all!;
    let split = this.ingressSplits.get(priority);
    if (split === undefined || split.all !== all) {
      split = { all, before: all.filter((c) => c.priority <= priority), after: all.filter((c) => c.priority > priority) };
      this.ingressSplits.set(priority, split);
    }
    if (split.before.length > 0 && !this.hook(pkt, PF_NETDEV, 0, split.before)) return false;
    if (flowtableIngress(this, pkt, link, hooked)) return false;
    return split.after.length === 0 || this.hook(pkt, PF_NETDEV, 0, split.after);
  }

  /** The netdev ingress chains split around a flowtable priority, kept while the plan stays the same. */
  private readonly ingressSplits = new Map<number, { all: CompiledChain[]; before: CompiledChain[]; after: CompiledChain[] }>();

  /** Which netdev hooks have base chains (bit 0 ingress, bit 1 egress), for the ruleset generation below. */
  private netdevChains = 0;
  private netdevGeneration = -1;
  private netdevRuleset: Ruleset | undefined;

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

  // The state of the hook being run, in fields rather than closures: hooks run five or more
  // times per packet. A nested walk (a reply a rule queued) starts only from flush() at the
  // end of hook(), after this state has been read.
  private hVerdict = NF_ACCEPT;
  private hTable: string | undefined;
  /** NFPROTO_* of hTable (HookResult.tableFamily). */
  private hFamily = -1;
  private hChain: string | undefined;
  private hHandle = -1;
  private hTraces: TraceEvent[] | undefined;

  /** Runs every base chain at (pf, hook), with conntrack's hook functions between them; true when the packet goes on. */
  private hook(pkt: Packet, pf: number, hooknum: number, only?: CompiledChain[]): boolean {
    const plan = this.plan(pf, hooknum);
    const ct = pf !== PF_NETDEV ? this.ct : undefined;
    // A netdev hook split around a flowtable (ingressAround) runs the part it is given.
    const all = only ?? plan.all;
    // No base chain and no conntrack here: nothing can happen to the packet at this hook.
    if (ct === undefined && all === undefined && this.pending.length === 0) return true;
    this.hVerdict = NF_ACCEPT; this.hTable = undefined; this.hFamily = -1; this.hChain = undefined; this.hHandle = -1;
    const traces: TraceEvent[] | undefined = this.detail ? [] : undefined;
    this.hTraces = traces;
    let ctDrop = '';
    if (ct && (hooknum === PRE || hooknum === OUT)) {
      // nf_defrag (-400): fragments are held and reassembled before conntrack.
      const d = defragIn(ct, pkt, pf === PF_INET ? 2 : 10);
      if (d === 'queued') {
        if (this.detail) this.step('ct', `${hookName(pf, hooknum)}: fragment held for reassembly (nf_defrag, priority -400)`);
        this.decide('stolen');
        return false;
      }
      if (!(d instanceof Packet)) return this.drop('NOT_SPECIFIED', `reassembly failed: ${d.drop}`);
      if (d !== pkt) {
        // IPCB(skb)->frag_max_size: the output refragments to the sizes that came in.
        const max = defragMaxSize(ct, d);
        if (max > 0) { this.fragMax.set(pkt, max); this.anyFragMax = true; }
        adoptPacket(pkt, d);
        if (this.detail) this.step('ct', `${hookName(pf, hooknum)}: reassembled ${pkt.length} bytes from fragments`);
      }
      this.runChains(pkt, pf, hooknum, plan.belowCt);
      if (this.hVerdict === NF_ACCEPT && hooknum === OUT && pkt.meta.ctSlot >= 0) {
        // nf_conntrack_in(): a reply made for another packet carries that packet's entry
        // (nf_ct_attach), so it is not looked up again — and NAT translates it back.
        if (this.detail) this.step('ct', `${hookName(pf, hooknum)}: conntrack (-200): ${CTINFO_NAME[pkt.meta.ctSlot & 7] ?? 'related'}, attached from the packet it answers`);
        ctDrop = this.natStage(pkt, pf, hooknum, plan, ct, true);
      } else if (this.hVerdict === NF_ACCEPT) {
        const r = conntrackIn(ct, pkt, pf === PF_INET ? 2 : 10, hooknum);
        const info = r.ctinfo;
        if (this.detail) this.step('ct', `${hookName(pf, hooknum)}: conntrack (-200): ${CTINFO_NAME[info] ?? `ctinfo ${info}`}${r.reason ? ` (${r.reason})` : ''}`);
        if (r.verdict === NF_DROP) ctDrop = r.reason || 'conntrack';
        else ctDrop = this.natStage(pkt, pf, hooknum, plan, ct, true);
      }
    } else if (ct) {
      ctDrop = this.natStage(pkt, pf, hooknum, plan, ct, false);
    } else {
      this.runChains(pkt, pf, hooknum, all);
    }
    const verdict = this.hVerdict, table = this.hTable, tableFamily = this.hFamily, chain = this.hChain, handle = this.hHandle;
    this.hTraces = undefined;
    if (verdict === NF_ACCEPT && !ctDrop && ct && (hooknum === IN || hooknum === POST)) {
      if (conntrackConfirm(ct, pkt) === NF_DROP) ctDrop = confirmDropReason();
    }
    if (verdict === NF_ACCEPT && !ctDrop && (traces === undefined || traces.length === 0)) {
      // The common case: the packet goes on and there is nothing to report.
      this.flush();
      return true;
    }
    const name = hookName(pf, hooknum);
    if (traces !== undefined && traces.length > 0) {
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
      const last = traces ? [...traces].reverse().find((ev) => ev.type === 'policy' || (ev.type === 'rule' && ev.handle !== undefined)) : undefined;
      const family = FAMILY_NAME[last ? last.family : tableFamily] ?? String(pf);
      const by: DropBy = { kind: 'rule', hook: name, family, table: table ?? '', chain: chain ?? '', handle: handle < 0 ? null : handle };
      if (this.detail) this.step('drop', `dropped by ${family} ${table} ${chain} ${handle < 0 ? 'policy' : `rule handle ${handle}`} at ${name} (SKB_DROP_REASON_NETFILTER_DROP)`);
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

  /** The hook's plan (hooks.ts), kept per path while the ruleset's runtime stays the same. */
  private plan(pf: number, hooknum: number): HookPlan {
    const rt = runtimeOf(this.ruleset);
    if (rt !== this.planRuntime) { this.planRuntime = rt; this.plans = []; }
    return this.plans[pf * 8 + hooknum] ??= hookPlan(this.ruleset, pf, hooknum);
  }

  private planRuntime: Runtime | undefined;
  private plans: HookPlan[] = [];

  /** Runs one slice of the hook's base chains (hooks.ts hookPlan) unless a verdict is already in. */
  private runChains(pkt: Packet, pf: number, hooknum: number, chains: CompiledChain[] | undefined): void {
    if (chains === undefined || this.hVerdict !== NF_ACCEPT) return;
    this.currentHook = hooknum;
    const r = evaluateChains(this.ruleset, pf, hooknum, pkt, this.ctx, this.hookOut, chains);
    this.currentHook = -1;
    if (r.traces.length > 0) {
      if (this.hTraces !== undefined) for (const ev of r.traces) this.hTraces.push(ev);
      r.traces = [];
    }
    if (r.verdict !== NF_ACCEPT) { this.hVerdict = r.verdict; this.hTable = r.table; this.hFamily = r.tableFamily; this.hChain = r.chain; this.hHandle = r.handle; }
  }

  /**
   * The chains from conntrack (`fromCt`) or from the start on, with the NAT hook function
   * (nf_nat_inet_fn) at its priority: nat chains run only while the connection has no
   * binding, then the packet is translated. Returns why conntrack/NAT dropped it, or ''.
   */
  private natStage(pkt: Packet, pf: number, hooknum: number, plan: HookPlan, ct: ConntrackTable, fromCt: boolean): string {
    if (hooknum === FWD || !plan.nat) { this.runChains(pkt, pf, hooknum, fromCt ? plan.fromCt : plan.nonNat); return ''; }
    this.runChains(pkt, pf, hooknum, fromCt ? plan.ctToNat : plan.toNat);
    if (this.hVerdict !== NF_ACCEPT) return '';
    const before = this.detail ? natView(pkt) : '';
    const nc = plan.natChains;
    for (let i = 0; i < nc.length; i++) {
      if (this.hVerdict !== NF_ACCEPT || !natNeedsChains(ct, pkt, hooknum)) break;
      this.runChains(pkt, pf, hooknum, nc[i]);
    }
    if (this.hVerdict !== NF_ACCEPT) return '';
    if (natPacket(ct, pkt, hooknum) === NF_DROP) return 'NAT could not map the packet';
    if (this.detail) {
      const after = natView(pkt);
      if (after !== before) this.step('rewrite', `${hookName(pf, hooknum)}: NAT rewrote ${before} → ${after}`);
    }
    this.runChains(pkt, pf, hooknum, plan.fromNat);
    return '';
  }

  /** Queued by services while the VM ran. */
  queueOutput(l3: Uint8Array, why: string, cause?: Packet): void { this.pending.push(() => this.localOut(l3, why, cause)); }
  queueAction(fn: () => void): void { this.pending.push(fn); }
  queueTransmit(pkt: Packet, dev: Link): void {
    this.pending.push(() => {
      this.depth++;
      try {
        this.step('generate', `a copy of the packet (dup/fwd) to ${dev.name}`);
        xmit(this, pkt, dev, undefined);
      } finally { this.depth--; }
    });
  }

  private flush(): void {
    for (let i = 0; i < 10_000 && this.pending.length > 0; i++) this.pending.shift()!();
  }

  // -------------------------------------------------------------------------
  // The stages, in their own modules: receive.ts (link layer, ip_rcv, local
  // delivery), route-input.ts, forward.ts, output.ts (local out, POSTROUTING,
  // fragmentation, neighbour, egress). These entry points are their API for
  // route-input.ts, icmp-send.ts and xfrm-*.ts.

  /** @internal */
  linkReceive(pkt: Packet, link: Link, l3: boolean): void { linkReceive(this, pkt, link, l3); }

  /** @internal */
  ipRcv4(pkt: Packet, link: Link): void { ipRcv4(this, pkt, link); }

  /** @internal */
  ipRcv6(pkt: Packet, link: Link): void { ipRcv6(this, pkt, link); }

  /** @internal (route-input.ts, icmp-send.ts) */
  localDeliver(pkt: Packet, family: 4 | 6, cast: Cast, link: Link, rt: RouteResult | undefined): void { localDeliver(this, pkt, family, cast, link, rt); }

  /** @internal (route-input.ts) */
  forward4(pkt: Packet, link: Link, rt: RouteResult): void { forward4(this, pkt, link, rt); }

  /** @internal (route-input.ts) */
  forward6(pkt: Packet, link: Link, rt: RouteResult): void { forward6(this, pkt, link, rt); }

  /** @internal (icmp-send.ts) A packet the host makes, through OUTPUT and POSTROUTING (output.ts). */
  localOut(l3: Uint8Array, why: string, cause?: Packet): void { localOut(this, l3, why, cause); }

  /** @internal (xfrm-output.ts) */
  postAndTransmit(pkt: Packet, pf: number, rt: RouteResult): boolean { return postAndTransmit(this, pkt, pf, rt); }
}

