/**
 * Netfilter hooks: the base chains registered at a (protocol family, hook)
 * run in priority order (nf_hook_slow). Accept passes the packet to the next
 * chain, drop and stolen end it, queue hands it to a listener — with none the
 * packet is dropped, unless the rule said `bypass`, in which case it goes on
 * as accepted (nf_queue: -ESRCH with NF_VERDICT_FLAG_QUEUE_BYPASS).
 */
import type { Packet } from '../packet/packet.js';
import { NF_ACCEPT, NF_DROP, NF_QUEUE, NF_STOLEN, NFT_CONTINUE, NFT_JUMP, NFT_GOTO } from './bytecode.js';
import type { Ruleset } from './ruleset.js';
import { runtimeOf } from './runtime.js';
import type { CompiledChain, Runtime } from './runtime.js';
import { Vm } from './vm.js';
import type { EvalEnv, Tracer } from './vm.js';
import { doChain } from './chain-eval.js';
import type { ChainTracer, ChainOutcome } from './chain-eval.js';
import type { HostServices } from './host-services.js';
import type { Clock } from './clock.js';
import type { TraceEvent } from './trace.js';
import { NF_VERDICT_FLAG_QUEUE_BYPASS } from './expr/queue.js';
import { jitRuntime } from './jit/compile.js';

/** NF_INET_* hooks (uapi/linux/netfilter.h); bridge uses the same numbers; netdev ingress 0, egress 1; arp in 0, out 1, forward 2. */
export const NF_INET_PRE_ROUTING = 0;
export const NF_INET_LOCAL_IN = 1;
export const NF_INET_FORWARD = 2;
export const NF_INET_LOCAL_OUT = 3;
export const NF_INET_POST_ROUTING = 4;
export const NF_INET_INGRESS = 5;
export const NF_NETDEV_INGRESS = 0;
export const NF_NETDEV_EGRESS = 1;

export interface HookContext {
  host: HostServices;
  clock: Clock;
  /** NFPROTO of the packet itself (2 or 10) for `meta nfproto` in inet/bridge/netdev chains; defaults to the hook's family, or from the ethertype. */
  pf?: number;
  cpu?: number;
  random?: () => number;
  /** Use compiled chains (default true); false runs the reference interpreter. */
  jit?: boolean;
  /** Emit trace events for packets with nftrace set (`nft monitor trace`). */
  trace?: boolean;
  /** Trace every packet as if nftrace were set (`nfx inject --trace`). */
  traceAll?: boolean;
  /** The trace id (the kernel derives it from the skb). */
  traceId?: number;
}

export interface HookResult {
  /** NF_ACCEPT, NF_DROP, NF_STOLEN or NF_QUEUE (the bare code). */
  verdict: number;
  /** Queue number when verdict is NF_QUEUE. */
  queueNum: number;
  /** The deciding base chain's table, chain and rule handle (handle -1 = the policy). */
  table: string | undefined;
  /** NFPROTO_* of that table (an ip, inet or netdev table can decide for an IPv4 packet); -1 when none decided. */
  tableFamily: number;
  chain: string | undefined;
  handle: number;
  traces: TraceEvent[];
}

export function newHookResult(): HookResult {
  return { verdict: NF_ACCEPT, queueNum: 0, table: undefined, tableFamily: -1, chain: undefined, handle: -1, traces: [] };
}

class EventTracer implements Tracer, ChainTracer {
  events: TraceEvent[] = [];
  dumped = false;
  constructor(readonly id: number, readonly all: boolean) {}
  private on(vm: Vm): boolean { return this.all || vm.pkt.meta.nftrace; }
  private push(vm: Vm, ev: TraceEvent): void {
    if (!this.dumped) {
      ev.packet = { iif: vm.pkt.meta.iif, oif: vm.pkt.meta.oif, nfproto: vm.env.pf };
      this.dumped = true;
    }
    this.events.push(ev);
  }
  private base(vm: Vm, chain: CompiledChain): Pick<TraceEvent, 'id' | 'family' | 'table' | 'chain' | 'mark'> {
    return { id: this.id, family: chain.family, table: chain.table.name, chain: chain.name, mark: vm.pkt.meta.mark };
  }
  ruleContinue(vm: Vm, chain: CompiledChain, i: number): void {
    if (!this.on(vm)) return;
    const r = chain.rules[i]!;
    const ev: TraceEvent = { ...this.base(vm, chain), type: 'rule', handle: r.handle, verdict: { code: NFT_CONTINUE } };
    if (r.rule.source !== undefined) ev.ruleText = r.rule.source;
    this.push(vm, ev);
  }
  /**
   * After a chain's rule loop (nft_trace_verdict). Measured on Linux 6.18 with
   * `nft monitor trace`: a rule that ends the walk, `return` included, is a
   * rule event with its verdict; running off the end of a chain is a rule
   * event without a rule, which nft prints nothing for.
   */
  verdict(vm: Vm, chain: CompiledChain, i: number): void {
    if (!this.on(vm)) return;
    const code = vm.code[0]!;
    const r = chain.rules[i];
    const ev: TraceEvent = { ...this.base(vm, chain), type: 'rule', verdict: vm.chain !== undefined && (code === NFT_JUMP || code === NFT_GOTO) ? { code, chain: vm.chain } : { code } };
    if (r) {
      ev.handle = r.handle;
      if (r.rule.source !== undefined) ev.ruleText = r.rule.source;
    }
    this.push(vm, ev);
  }
  policy(vm: Vm, base: CompiledChain, policy: number): void {
    if (!this.on(vm)) return;
    this.push(vm, { ...this.base(vm, base), type: 'policy', verdict: { code: policy } });
  }
}

/**
 * VMs by nesting depth: a host service may run hooks again from inside an
 * expression (reject's reply crosses OUTPUT, dup/fwd transmit), as the kernel
 * does, so a hook evaluation never reuses the VM of one still running.
 */
const vms: Vm[] = [];
const outcomes: ChainOutcome[] = [];
let depth = 0;
/** One evaluation environment per context object and depth, reused packet after packet. */
const envs: Array<WeakMap<HookContext, EvalEnv>> = [];
let seq = 0;
const lastCtx: Array<HookContext | undefined> = [];
const lastEnv: Array<EvalEnv | undefined> = [];

/** A netdev (or inet ingress) chain registered for some devices runs only for packets of those (one hook registration per device, nft_netdev_register_hooks). */
function deviceMatches(vm: Vm, chain: CompiledChain, hook: number, host: HostServices): boolean {
  if (!chain.devices) return true;
  const idx = hook === NF_NETDEV_EGRESS ? vm.pkt.meta.oif : vm.pkt.meta.iif;
  const dev = idx ? host.device(idx) : undefined;
  return dev !== undefined && chain.devices.includes(dev.name);
}

function pfOf(pkt: Packet, family: number): number {
  if (family === 2 || family === 10) return family;
  if (pkt.protocol === 0x0800) return 2;
  if (pkt.protocol === 0x86dd) return 10;
  return family;
}

/**
 * Runs the packet through every base chain registered at (`family`, `hook`):
 * for an IPv4 packet `family` is NFPROTO_IPV4 (2) and the ip and inet tables'
 * chains interleave by priority, as in the kernel.
 */
export function evaluateHook(ruleset: Ruleset, family: number, hook: number, packet: Packet, ctx: HookContext, out: HookResult = newHookResult()): HookResult {
  const rt: Runtime = runtimeOf(ruleset);
  const chains = family >= 0 && family < 16 && hook >= 0 && hook < 8 ? rt.hookTable[family * 8 + hook] : undefined;
  return evaluateChainList(rt, chains, family, hook, packet, ctx, out);
}

/**
 * evaluateHook over exactly `chains`, base chains of `rt` at (`family`, `hook`)
 * in priority order — the hook's whole list or a slice of it (the host path
 * runs conntrack and NAT between slices). The caller holds the runtime of the
 * current generation, so nothing is looked up per call.
 */
export function evaluateChainList(rt: Runtime, chains: readonly CompiledChain[] | undefined, family: number, hook: number, packet: Packet, ctx: HookContext, out: HookResult): HookResult {
  const useJit = ctx.jit !== false;
  if (useJit && !rt.jitted) {
    jitRuntime(rt);
    rt.jitted = true;
  }
  out.verdict = NF_ACCEPT;
  out.queueNum = 0;
  out.table = undefined;
  out.tableFamily = -1;
  out.chain = undefined;
  out.handle = -1;
  if (out.traces.length) out.traces = [];
  if (chains === undefined) return out;
  if (vms[depth] === undefined) {
    vms[depth] = new Vm();
    outcomes[depth] = { chain: undefined, ruleIndex: -1 };
    envs[depth] = new WeakMap();
  }
  const vm = vms[depth]!;
  const outcome = outcomes[depth]!;
  // The last context per depth first: a WeakMap lookup per packet is a measurable share of a short chain.
  let env = lastCtx[depth] === ctx ? lastEnv[depth] : envs[depth]!.get(ctx);
  if (env === undefined) {
    env = {
      family, pf: 0, hook, host: ctx.host, clock: ctx.clock, cpu: ctx.cpu ?? 0,
      random: ctx.random ?? (() => (Math.random() * 0x100000000) >>> 0),
    };
    envs[depth]!.set(ctx, env);
  }
  lastCtx[depth] = ctx;
  lastEnv[depth] = env;
  env.family = family;
  env.hook = hook;
  env.pf = ctx.pf ?? pfOf(packet, family);
  const tracing = ctx.trace === true || ctx.traceAll === true;
  const tracer = tracing ? new EventTracer(ctx.traceId ?? (++seq * 0x9e3779b1) >>> 0, ctx.traceAll === true) : undefined;
  vm.tracer = tracer;
  depth++;
  try {
    for (let k = 0; k < chains.length; k++) {
      const chain = chains[k]!;
      vm.reset(packet, env);
      if (chain.devices !== undefined && !deviceMatches(vm, chain, hook, ctx.host)) continue;
      const v = doChain(vm, chain, useJit, tracer, outcome);
      const base = v & 0xff;
      if (base === NF_ACCEPT) continue;
      if (base === NF_QUEUE) {
        const q = v >>> 16;
        if (ctx.host.queueListener(q)) {
          setOutcome(out, NF_QUEUE, chain, outcome);
          out.queueNum = q;
          return out;
        }
        if (v & NF_VERDICT_FLAG_QUEUE_BYPASS) continue;
        setOutcome(out, NF_DROP, chain, outcome);
        return out;
      }
      setOutcome(out, base === NF_STOLEN ? NF_STOLEN : NF_DROP, chain, outcome);
      return out;
    }
    return out;
  } finally {
    depth--;
    vm.tracer = undefined;
    if (tracer) out.traces = tracer.events;
  }
}

function setOutcome(out: HookResult, verdict: number, base: CompiledChain, outcome: ChainOutcome): void {
  out.verdict = verdict;
  const c = outcome.chain;
  out.table = (c ?? base).table.name;
  out.tableFamily = (c ?? base).family;
  out.chain = (c ?? base).name;
  out.handle = c ? c.rules[outcome.ruleIndex]?.handle ?? -1 : -1;
}
