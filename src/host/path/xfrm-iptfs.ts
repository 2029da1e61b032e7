/**
 * IP-TFS (RFC 9347) SAs on the host's packet path, where Linux 6.14 puts them
 * (net/xfrm/xfrm_iptfs.c as an xfrm mode):
 *  - output: after the inner packet's POSTROUTING, xfrm_output() hands it to
 *    the mode's output_collect (iptfs_output_collect()): it is queued (the
 *    fate "queued", like NF_STOLEN it is not a drop) and the init-delay timer
 *    is armed. When the timer fires, iptfs_output_queued() packs the queue
 *    into AGGFRAG payloads; each is ESP-encrypted (next header 144) and takes
 *    OUTPUT and POSTROUTING to the wire exactly as a tunnel-mode ESP packet.
 *  - input: xfrm_input() decrypts; the mode's input (iptfs_input()) reorders
 *    the payloads, reassembles, and every inner packet re-enters the stack on
 *    the receiving device with its secpath, as a decapsulated tunnel packet
 *    (gro_cells_receive). A payload held for order or a reassembly waits;
 *    the drop timer gives up on what does not come.
 *
 * The walk is synchronous per packet, so the per-SA sender and receiver live
 * beside the host path (one per path and SA), and their hrtimers run on a
 * scheduler that HostPath.advance()/drain() moves with the virtual clock.
 * What a packet lets through at once is reported with it (an outer packet
 * that fills a gap releases the payloads held behind it). What a timer sends
 * or delivers is added to the outcome of the packet that caused it: an
 * outer frame to the first inner packet it carries bytes of, an inner packet
 * the drop timer releases to the outer packet that carried its last bytes.
 */
import type { Packet } from '../../packet/packet.js';
import type { Link } from '../types.js';
import type { Xfrm, XfrmSA } from '../../xfrm/index.js';
import { checkNatMapping, outputStateCheck, stateAccount, XFRM_MODE_TRANSPORT } from '../../xfrm/index.js';
import type { XfrmMibName } from '../../xfrm/index.js';
import { Packet as PacketClass } from '../../packet/packet.js';
import {
  defaultIptfsOptions, IptfsCcEcho, IptfsFixedRateSender, IptfsLossEstimator, IptfsRateController, IptfsReceiver, IptfsSender,
  iptfsEspInput, iptfsEspOutput, iptfsOverhead, iptfsPayloadMtu, IPTFS_BASIC_HDR_LEN, IPTFS_CC_HDR_LEN,
} from '../../xfrm/esp/iptfs/index.js';
import type { IptfsCcHeader, IptfsEnqueueResult, IptfsOptions, IptfsPayloadInfo, IptfsScheduler, IptfsTimer } from '../../xfrm/esp/iptfs/index.js';
import { addrEqual, XFRM_MODE_IPTFS, XFRM_SA_DIR_OUT } from '../../xfrm/index.js';
import { emptyOutcome } from './describe.js';
import type { EspSa } from '../../xfrm/esp/index.js';
import { route } from '../fib.js';
import { formatAddr } from '../inet.js';
import { setIpv4Headers, setIpv6Headers } from './headers.js';
import { describeRoute } from './describe.js';
import type { PacketOutcome } from './types.js';
import type { HostPath } from './walk.js';
import { secpathOf, secpathPush, xaddr } from './xfrm-flow.js';
import { espSaOf, syncReplay } from './xfrm-state.js';

const PF_INET = 2, PF_INET6 = 10;
/** NF_INET_LOCAL_OUT */
const OUT = 3;
/** XFRM_STATE_NOECN, XFRM_STATE_DECAP_DSCP (uapi/linux/xfrm.h). */
const XFRM_STATE_NOECN = 1, XFRM_STATE_DECAP_DSCP = 2;

/** The SA's IP-TFS options; an SA built without them (a library user's) gets the kernel's defaults. */
function optsOf(sa: XfrmSA): IptfsOptions {
  if (!sa.iptfs) sa.iptfs = defaultIptfsOptions();
  return sa.iptfs;
}

function hex(n: number): string { return `0x${(n >>> 0).toString(16).padStart(8, '0')}`; }

// ---------------------------------------------------------------------------
// Timers on the host's clock

interface HostTimer extends IptfsTimer { due: number; fn: () => void; queued: boolean }

/**
 * The IP-TFS hrtimers of one host path. Deadlines are on the path's clock;
 * fire() runs the ones due, each at its own deadline (the virtual clock is
 * set there while it runs, so timestamps and conntrack see that time).
 */
class HostScheduler implements IptfsScheduler {
  private readonly timers: HostTimer[] = [];
  constructor(private readonly path: HostPath) {}

  nowMs(): number { return this.path.clock.nowMs(); }

  timer(fn: () => void): IptfsTimer {
    const t: HostTimer = {
      due: Infinity, fn, queued: false,
      start: (delayMs: number) => { t.due = this.nowMs() + Math.max(0, delayMs); t.queued = true; },
      cancel: () => { t.queued = false; t.due = Infinity; },
    };
    this.timers.push(t);
    return t;
  }

  /** The earliest armed timer due before `until` (or at it, when `inclusive`). */
  next(until: number, inclusive: boolean): HostTimer | null {
    let n: HostTimer | null = null;
    for (const t of this.timers) {
      if (!t.queued || (inclusive ? t.due > until : t.due >= until)) continue;
      if (!n || t.due < n.due) n = t;
    }
    return n;
  }
}

// ---------------------------------------------------------------------------
// Per path and SA state

/** What the path needs of a sender: Linux's demand-driven one, or nfx's fixed-rate one (nfx-rate). */
interface TxSender {
  enqueue(pkt: Uint8Array): IptfsEnqueueResult;
  readonly queuedPackets: number;
  readonly queueSize: number;
  readonly idle: boolean;
}

/** Congestion control of an output SA with nfx-cc (cc.ts): fed by the reverse input SA's receiver. */
interface CcState { rate: IptfsRateController; loss: IptfsLossEstimator; echo: IptfsCcEcho; sender: IptfsFixedRateSender | null }

interface TxState {
  readonly sa: XfrmSA;
  readonly esp: EspSa;
  readonly sender: TxSender;
  /** Inner bytes per payload. */
  readonly mtu: number;
  /** Outcomes of the queued packets by queue ordinal, from `base` on. */
  outcomes: PacketOutcome[];
  /** When each of those packets was queued (ms). */
  queuedAt: number[];
  base: number;
}

/** What the receiver needs to re-inject an inner packet: where its outer packet arrived. */
interface RxTag { outcome: PacketOutcome; link: Link; secpath: readonly XfrmSA[]; mark: number; seq: number }

interface RxState {
  readonly sa: XfrmSA;
  readonly receiver: IptfsReceiver;
  /** Set while the outer packet's own walk is on the stack: its inner packets continue it. */
  current: RxTag | null;
  /** Inner packets of the current outer packet delivered during its input() call. */
  delivered: number;
  /** Inner packets of earlier outer packets released during it (held payloads). */
  released: number;
}

interface PathIptfs {
  readonly sched: HostScheduler;
  readonly x: Xfrm;
  readonly tx: Map<XfrmSA, TxState>;
  readonly rx: Map<XfrmSA, RxState>;
  readonly cc: Map<XfrmSA, CcState>;
  /** Outcomes changed by timer work during one advance(). */
  changed: PacketOutcome[] | null;
}

const perPath = new WeakMap<HostPath, PathIptfs>();

function pathState(p: HostPath, x: Xfrm): PathIptfs {
  let s = perPath.get(p);
  if (!s) {
    s = { sched: new HostScheduler(p), x, tx: new Map(), rx: new Map(), cc: new Map(), changed: null };
    perPath.set(p, s);
  }
  return s;
}

/**
 * An output SA's payload geometry: the inner bytes per payload (after a
 * basic or, with nfx-cc, a CC header) and `s`, the outer packet's size.
 */
function geometry(p: HostPath, sa: XfrmSA, esp: EspSa): { mtu: number; size: number } {
  // iptfs_get_cur_pmtu(): the route towards the tunnel's far end gives the path MTU.
  const v6 = sa.family === PF_INET6;
  const rt = route(p.host, { family: v6 ? 6 : 4, daddr: v6 ? sa.daddr : sa.daddr.subarray(0, 4) });
  const pmtu = rt.mtu || rt.dev?.mtu || 1500;
  const ov = iptfsOverhead(esp);
  const o = optsOf(sa);
  // A CC header is 20 bytes longer than the basic one: the data shrinks by as much.
  const extra = o.nfxCc ? IPTFS_CC_HDR_LEN - IPTFS_BASIC_HDR_LEN : 0;
  const mtu = iptfsPayloadMtu(ov, o, pmtu) - extra;
  if (mtu < 1) throw new Error(`no room for data after the CC header`);
  // Outer header + ESP + IV + AGGFRAG header + data + pad length and next header + ICV (ESP padding left out).
  return { mtu, size: ov.headerLen + extra + mtu + 2 + ov.icvLen };
}

/** nfx-cc: the rate controller and feedback of output SA `sa` (made on first use, by either direction). */
function ccOf(p: HostPath, ps: PathIptfs, sa: XfrmSA): CcState {
  let c = ps.cc.get(sa);
  if (!c) {
    const o = optsOf(sa);
    const { size } = geometry(p, sa, espSaOf(sa));
    const max = o.nfxRate ?? size * 1000;
    // RFC 5348 §4.2: start at 4 packets per RTT, taken as 100 ms until an RTT is measured.
    c = { rate: new IptfsRateController({ packetSize: size, initialRate: Math.min(max, 40 * size), maxRate: max }), loss: new IptfsLossEstimator(), echo: new IptfsCcEcho(), sender: null };
    ps.cc.set(sa, c);
  }
  return c;
}

/** The output SA with nfx-cc that an input SA's traffic gives feedback for: the same tunnel the other way. */
function pairedCc(p: HostPath, ps: PathIptfs, x: Xfrm, sa: XfrmSA): CcState | null {
  for (const o of x.sad.states) {
    if (o.mode === XFRM_MODE_IPTFS && o.dir === XFRM_SA_DIR_OUT && o.iptfs?.nfxCc && o.family === sa.family &&
      addrEqual(o.saddr, sa.daddr, sa.family) && addrEqual(o.daddr, sa.saddr, sa.family)) return ccOf(p, ps, o);
  }
  return null;
}

/** The IP-TFS output state of `sa` on this path (the sender is made on first use, as iptfs_create_state()). */
function txState(p: HostPath, x: Xfrm, sa: XfrmSA): TxState {
  const ps = pathState(p, x);
  let st = ps.tx.get(sa);
  if (st) return st;
  const esp = espSaOf(sa);
  const o = optsOf(sa);
  const { mtu, size } = geometry(p, sa, esp);
  const output = (payload: Packet, info: IptfsPayloadInfo): void => sendPayload(p, x, tx, payload, info);
  let sender: TxSender;
  if (o.nfxRate) {
    // nfx-rate: one full-size payload every interval, padded; nfx-cc adapts the interval.
    const cc = o.nfxCc ? ccOf(p, ps, sa) : null;
    const fr = new IptfsFixedRateSender({
      options: o, scheduler: ps.sched, mtu, output, stats: x.stats,
      intervalUs: cc ? cc.rate.intervalUs : (size / o.nfxRate) * 1e6,
      ...(cc ? { cc: () => ccFields(ps, cc, fr) } : {}),
    });
    if (cc) cc.sender = fr;
    fr.start();
    sender = fr;
  } else {
    sender = new IptfsSender({ options: o, scheduler: ps.sched, mtu, stats: x.stats, output });
  }
  const tx: TxState = { sa, esp, sender, mtu, outcomes: [], queuedAt: [], base: 0 };
  ps.tx.set(sa, tx);
  return tx;
}

/** The CC header of the next payload (RFC 9347 §2.2.6; cc.ts). */
function ccFields(ps: PathIptfs, cc: CcState, fr: IptfsFixedRateSender): Omit<IptfsCcHeader, 'blockOffset' | 'flags'> {
  const now = ps.sched.nowMs();
  const e = cc.echo.fields(now);
  return {
    lossEventRate: cc.loss.field,
    rtt: cc.rate.rttMs === null ? 0 : Math.min(0x3fffff, Math.round(cc.rate.rttMs)),
    delay: e.delay,
    xmitDelay: Math.min(0x1fffff, Math.round(fr.intervalUs / 1000)),
    tval: IptfsRateController.tval(now),
    techo: e.techo,
  };
}

function rxState(p: HostPath, x: Xfrm, sa: XfrmSA): RxState {
  const ps = pathState(p, x);
  let st = ps.rx.get(sa);
  if (st) return st;
  const rx: RxState = {
    sa, current: null, delivered: 0, released: 0,
    receiver: new IptfsReceiver({
      options: optsOf(sa), scheduler: ps.sched, stats: x.stats,
      noecn: (sa.flags & XFRM_STATE_NOECN) !== 0, decapDscp: (sa.flags & XFRM_STATE_DECAP_DSCP) !== 0,
      deliver: (inner, tag, reassembled) => deliverInner(p, rx, inner, tag as RxTag, reassembled),
      // nfx-cc on the reverse output SA: this receiver measures the loss and echoes the peer's TVal.
      onOrdered: (_seq, lost) => {
        const cc = pairedCc(p, ps, x, sa);
        if (cc) cc.loss.record(lost, ps.sched.nowMs(), cc.rate.rttMs ?? 0);
      },
      onCc: (h) => {
        const cc = pairedCc(p, ps, x, sa);
        if (!cc) return;
        const now = ps.sched.nowMs();
        cc.echo.onHeader(h, now);
        cc.rate.onFeedback(h, now);
        if (cc.sender) cc.sender.intervalUs = cc.rate.intervalUs;
      },
    }),
  };
  ps.rx.set(sa, rx);
  return rx;
}

function noteChanged(p: HostPath, o: PacketOutcome): void {
  const c = perPath.get(p)?.changed;
  if (c && !c.includes(o)) c.push(o);
}

// ---------------------------------------------------------------------------
// Output

/**
 * iptfs_output_collect() for the inner packet at `pkt.head` (after its
 * POSTROUTING). Always false: the packet is queued (fate "queued") or dropped.
 */
export function iptfsOutput(p: HostPath, x: Xfrm, sa: XfrmSA, pkt: Packet, outermost: boolean): boolean {
  if (!outermost) {
    // nfx sends IP-TFS only as the outermost transform of a bundle.
    x.stats.inc('XfrmOutStateModeError');
    return p.drop('NOT_SPECIFIED', `xfrm XfrmOutStateModeError: IP-TFS SA ${hex(sa.spi)} is not the outermost transform of the bundle`);
  }
  let st: TxState;
  try {
    st = txState(p, x, sa);
  } catch (e) {
    x.stats.inc('XfrmOutError');
    return p.drop('NOT_SPECIFIED', `xfrm XfrmOutError: IP-TFS SA ${hex(sa.spi)}: ${(e as Error).message}`);
  }
  const s = st.sender;
  // The sender owns the bytes from here (zero-copy; CE may be set in place).
  const r = s.enqueue(pkt.buffer.subarray(pkt.head, pkt.tail));
  if (!r.ok) {
    const what = `IP-TFS SA ${hex(sa.spi)}: ${r.detail}`;
    if (r.skbReason === 'SKB_DROP_REASON_PKT_TOO_BIG') return p.drop('PKT_TOO_BIG', `xfrm ${r.counter}: ${what} (Linux answers with ICMP, MTU ${r.mtu})`);
    return p.drop('NOT_SPECIFIED', `xfrm ${r.counter}: ${what} (SKB_DROP_REASON_FULL_RING)`);
  }
  st.outcomes.push(p.current);
  st.queuedAt.push(p.clock.nowMs());
  if (p.detail) {
    const o = optsOf(sa);
    const when = o.nfxRate ? `nfx-rate ${o.nfxRate} B/s${o.nfxCc ? ', congestion-controlled' : ''}` : `init-delay ${o.initDelayUs} µs`;
    p.step('rewrite', `xfrm: queued by IP-TFS SA ${hex(sa.spi)} reqid ${sa.reqid}: ${s.queuedPackets} packets, ${s.queueSize} bytes waiting` +
      ` (${when}, payload ${st.mtu} bytes)${r.ceMarked ? '; ECN set to CE: the queue is above 95% of max-queue-size' : ''}`);
  }
  p.decideQueued();
  return false;
}

/** One AGGFRAG payload from the sender: ESP, then OUTPUT and POSTROUTING as tunnel-mode ESP (xfrm-output.ts). */
function sendPayload(p: HostPath, x: Xfrm, st: TxState, payload: Packet, info: IptfsPayloadInfo): void {
  const i = info.first - st.base;
  // An all-pad payload (nfx-rate) has no packet to report it with: it gets an outcome of its own.
  const o = info.packets > 0 ? st.outcomes[i] ?? p.current : { ...emptyOutcome(), fate: 'forwarded' as const };
  const at = st.queuedAt[i] ?? p.clock.nowMs();
  const others = info.packets > 0 ? st.outcomes.slice(i + 1, i + info.packets) : [];
  // Packets before the first one here have left completely: forget them now and then (no O(n) shift per payload).
  if (i > 1024 && i > st.outcomes.length >> 1) {
    st.outcomes.splice(0, i);
    st.queuedAt.splice(0, i);
    st.base = info.first;
  }
  const run = (): void => {
    if (p.detail) {
      p.step('rewrite', info.packets === 0
        ? `xfrm: IP-TFS SA ${hex(st.sa.spi)} sends an all-pad payload (nfx-rate: a full payload every interval, data or not)`
        : `xfrm: the IP-TFS output timer of SA ${hex(st.sa.spi)} fired ${Math.round((p.clock.nowMs() - at) * 1000)} µs after this packet was queued`);
    }
    const sent = transmitPayload(p, x, st, payload, info);
    if (sent && o.fate === 'queued') o.fate = 'forwarded';
    // The other packets aggregated here share the first one's fate; its outcome has the frame.
    for (const q of others) if (q.fate === 'queued' && (sent || o.fate === 'dropped')) { q.fate = o.fate; if (o.reason) q.reason = o.reason; if (o.dropBy) q.dropBy = o.dropBy; }
  };
  // Payloads leave only from the timer, after the packets' own walks ended.
  p.attach(o, run);
  noteChanged(p, o);
  for (const q of others) noteChanged(p, q);
}

function transmitPayload(p: HostPath, x: Xfrm, st: TxState, pkt: Packet, info: IptfsPayloadInfo): boolean {
  const sa = st.sa;
  const bad = outputStateCheck(x, sa);
  if (bad) return p.drop('NOT_SPECIFIED', `xfrm ${bad}: SA ${hex(sa.spi)} cannot send`);
  const r = iptfsEspOutput(st.esp, pkt, { ttl: p.sysInt('net.ipv4.ip_default_ttl') || 64, ipId: p.random() & 0xffff });
  if (!r.ok) {
    x.stats.inc(r.counter as XfrmMibName);
    return p.drop('NOT_SPECIFIED', `xfrm ${r.counter}: ${r.detail}`);
  }
  stateAccount(x, sa, pkt.length);
  syncReplay(sa, st.esp);
  const b = pkt.buffer, h = pkt.head;
  const v6 = b[h]! >> 4 === 6;
  if (v6) setIpv6Headers(pkt); else setIpv4Headers(pkt);
  const pf = v6 ? PF_INET6 : PF_INET;
  pkt.meta.ctSlot = -1;
  const src = v6 ? b.slice(h + 8, h + 24) : b.slice(h + 12, h + 16);
  const dst = v6 ? b.slice(h + 24, h + 40) : b.slice(h + 16, h + 20);
  if (p.detail) {
    const what = info.fragment
      ? `a fragment of inner packet #${info.first} (block offset ${info.blockOffset})${info.packets > 1 ? ` and ${info.packets - 1} more packets` : ''}`
      : `${info.packets} inner packet${info.packets > 1 ? 's aggregated' : ''}${info.blockOffset ? ` after ${info.blockOffset} bytes continuing the previous packet` : ''}`;
    p.step('rewrite', `xfrm: encrypted by SA ${hex(sa.spi)} reqid ${sa.reqid} (iptfs mode), AGGFRAG payload seq ${r.seq}: ${what}; ` +
      `${formatAddr(src)} > ${formatAddr(dst)} ESP, ${pkt.length} bytes`);
  }
  const rt = route(p.host, { family: v6 ? 6 : 4, daddr: dst, saddr: src, mark: pkt.meta.mark });
  if (p.detail) p.step('route', `route lookup for ${formatAddr(dst)}: ${describeRoute(p.host, rt)}`);
  if (rt.errno !== undefined || !rt.dev) return p.drop('IP_OUTNOROUTES', `no route to the SA's destination ${formatAddr(dst)}`);
  pkt.meta.oif = rt.dev.index;
  if (!p.runHook(pkt, pf, OUT)) return false;
  return p.postAndTransmit(pkt, pf, rt);
}

// ---------------------------------------------------------------------------
// Input

/**
 * xfrm_input() for an IP-TFS SA found by SPI: decrypt, then iptfs_input().
 * Inner packets re-enter the stack on `link`; if none is ready the outer
 * packet's fate is "queued" (held for order or reassembly).
 */
export function iptfsInput(p: HostPath, x: Xfrm, sa: XfrmSA, pkt: Packet, link: Link, what: string): void {
  const e = espSaOf(sa);
  const r = iptfsEspInput(e, pkt);
  if (!r.ok) {
    x.stats.inc(r.counter as XfrmMibName);
    if (r.counter === 'XfrmInStateSeqError') sa.stats.replay++;
    else if (r.counter === 'XfrmInStateProtoError') sa.stats.integrityFailed++;
    p.drop('NOT_SPECIFIED', `xfrm ${r.counter}: ${r.detail} (${what})`);
    return;
  }
  stateAccount(x, sa, pkt.length);
  syncReplay(sa, e);
  if (sa.encap) {
    // esp_input_done2(): a NAT-T peer that moved is reported (km_new_mapping), after the ICV verified.
    const b = pkt.buffer, h = pkt.head, v6 = b[h]! >> 4 === 6;
    const u = v6 ? h + 40 : h + (b[h]! & 0x0f) * 4;
    checkNatMapping(x, sa, xaddr(v6 ? b.subarray(h + 8, h + 24) : b.subarray(h + 12, h + 16)), (b[u]! << 8) | b[u + 1]!);
  }
  const st = rxState(p, x, sa);
  const rx = st.receiver;
  const before = { ...rx.counters };
  const tag: RxTag = { outcome: p.current, link, secpath: secpathOf(pkt).slice(), mark: pkt.meta.mark, seq: r.seq };
  if (p.detail) p.step('rewrite', `xfrm: decrypted by SA ${hex(sa.spi)} reqid ${sa.reqid} (iptfs mode): AGGFRAG payload seq ${r.seq}, ${r.payload.length} bytes`);
  st.current = tag;
  st.delivered = 0;
  st.released = 0;
  const held = rx.totals.tooOld + rx.totals.duplicates;
  try {
    // The payload is kept if it must wait: copy it out of the packet's buffer.
    rx.input(r.payload.slice(), r.seq, r.outerTos, tag);
  } finally {
    st.current = null;
  }
  if (st.delivered > 0) return;
  const moved = (Object.keys(before) as (keyof typeof before)[]).find((k) => rx.counters[k] > before[k]);
  if (moved) {
    p.drop('NOT_SPECIFIED', `xfrm ${moved}: IP-TFS payload seq ${r.seq} of SA ${hex(sa.spi)} is malformed or breaks a reassembly`);
    return;
  }
  if (rx.totals.tooOld + rx.totals.duplicates > held) {
    p.drop('NOT_SPECIFIED', `IP-TFS SA ${hex(sa.spi)}: payload seq ${r.seq} is older than the reorder window or a duplicate (freed uncounted, as Linux)`);
    return;
  }
  const w = rx.waiting;
  if (w.payloads > 0 || w.reassembling) {
    if (p.detail) p.step('check', `IP-TFS: held (${w.payloads} payloads wait in the reorder window of ${optsOf(sa).reorderWindow}${w.reassembling ? ', an inner packet is being reassembled' : ''}; drop-time ${optsOf(sa).dropTimeUs} µs)`);
    p.decideQueued();
    return;
  }
  // An all-pad payload, or one whose blocks all belonged to packets given up on.
  if (p.detail) p.step('deliver', `IP-TFS: payload seq ${r.seq} carried no complete inner packet (pad or the rest of a lost packet)`);
  p.decideDelivered();
}

/** An inner packet from the receiver: it re-enters the stack as a decapsulated tunnel packet. */
function deliverInner(p: HostPath, st: RxState, inner: Uint8Array, tag: RxTag, reassembled: boolean): void {
  const run = (): void => {
    const ip = PacketClass.from(inner);
    ip.meta.mark = tag.mark;
    for (const s of tag.secpath) secpathPush(ip, s);
    secpathPush(ip, st.sa);
    // The ESP flow's conntrack entry is not the inner packet's.
    ip.meta.ctSlot = -1;
    if (p.detail) p.step('rewrite', `xfrm: IP-TFS SA ${hex(st.sa.spi)} delivers an inner packet of ${inner.length} bytes (${reassembled ? 'reassembled from fragments, the last in' : 'whole in'} payload seq ${tag.seq}); it re-enters the stack on ${tag.link.name} with a secpath of ${secpathOf(ip).length}`);
    p.reenter(ip, tag.link, st.sa.mode !== XFRM_MODE_TRANSPORT);
  };
  // While an outer packet is being received, everything it lets through continues its walk
  // (its own blocks, and held payloads it released): reported with the packet that caused it.
  if (st.current) { st.delivered++; if (tag !== st.current) st.released++; run(); return; }
  // Released by the drop timer: reported with the outer packet that carried its last bytes.
  p.attach(tag.outcome, () => {
    if (p.detail) p.step('check', `xfrm: the IP-TFS drop timer of SA ${hex(st.sa.spi)} gave up on missing payloads (drop-time ${optsOf(st.sa).dropTimeUs} µs)`);
    run();
  });
  noteChanged(p, tag.outcome);
}

// ---------------------------------------------------------------------------
// The clock

/**
 * HostPath.advance(): fires the IP-TFS timers due before `until` (all of them
 * for Infinity) in deadline order, each with the virtual clock at its
 * deadline, then sets the clock to `until`. Returns the outcomes changed.
 */
export function iptfsAdvance(p: HostPath, until: number): PacketOutcome[] {
  const ps = perPath.get(p);
  const clock = p.clock as { nowMs(): number; set?: (ms: number) => void };
  const changed: PacketOutcome[] = [];
  if (ps) {
    ps.changed = changed;
    try {
      // Bounded: each firing disarms its timer or re-arms it later.
      for (let guard = 0; guard < 1_000_000; guard++) {
        // Draining stops when nothing waits: fixed-rate senders (nfx-rate) would pad forever.
        if (until === Infinity && quiet(ps)) break;
        const t = ps.sched.next(until, until === Infinity);
        if (!t) break;
        if (clock.set && t.due > clock.nowMs()) clock.set(t.due);
        t.queued = false;
        t.due = Infinity;
        t.fn();
      }
    } finally {
      ps.changed = null;
    }
  }
  if (until !== Infinity && clock.set && until > clock.nowMs()) clock.set(until);
  return changed;
}

/** No packet queued, no payload held, no reassembly under way. */
function quiet(ps: PathIptfs): boolean {
  for (const t of ps.tx.values()) if (!t.sender.idle) return false;
  for (const r of ps.rx.values()) { const w = r.receiver.waiting; if (w.payloads > 0 || w.reassembling) return false; }
  return true;
}

/** The live IP-TFS sender and receiver of `sa` on this path, if it was used (counters, tests, reports). */
export function iptfsStateOf(p: HostPath, sa: XfrmSA): { sender?: IptfsSender | IptfsFixedRateSender; receiver?: IptfsReceiver; rate?: IptfsRateController } {
  const ps = perPath.get(p);
  const o: { sender?: IptfsSender | IptfsFixedRateSender; receiver?: IptfsReceiver; rate?: IptfsRateController } = {};
  const t = ps?.tx.get(sa), r = ps?.rx.get(sa), c = ps?.cc.get(sa);
  if (t) o.sender = t.sender as IptfsSender | IptfsFixedRateSender;
  if (r) o.receiver = r.receiver;
  if (c) o.rate = c.rate;
  return o;
}

/** Inner packets queued and payloads held by the IP-TFS SAs of this path (for reports). */
export function iptfsPending(p: HostPath): { queued: number; held: number } {
  const ps = perPath.get(p);
  let queued = 0, held = 0;
  if (ps) {
    for (const t of ps.tx.values()) queued += t.sender.queuedPackets;
    for (const r of ps.rx.values()) held += r.receiver.waiting.payloads;
  }
  return { queued, held };
}
