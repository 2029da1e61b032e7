/**
 * Defragmentation before conntrack: nf_defrag_ipv4 (ip_defrag() with the
 * IP_DEFRAG_CONNTRACK_IN user) and nf_defrag_ipv6 (nf_ct_frag6_gather()).
 * Only runs when conntrack is in use — the caller decides. Fragments are held
 * until the datagram is whole; queues expire after net.ipv4.ipfrag_time /
 * net.netfilter.nf_conntrack_frag6_timeout on the table's clock, silently
 * (a conntrack defrag user sends no ICMP time-exceeded).
 */
import { Packet } from '../../packet/packet.js';
import type { ConntrackTable } from './table.js';
import { internetChecksum } from '../../packet/checksum.js';
import { IPPROTO_AH, IPPROTO_DSTOPTS, IPPROTO_FRAGMENT, IPPROTO_HOPOPTS, IPPROTO_ROUTING } from '../../packet/wire/constants.js';

/** The reassembled (or untouched) packet, 'queued' while fragments are missing, or a drop with its reason. */
export type DefragResult = Packet | 'queued' | { drop: string };

interface Frag {
  off: number;
  end: number;
  data: Uint8Array;
}

interface FragQueue {
  expiresAt: number;
  frags: Frag[];
  /** Header bytes of the first fragment (IPv4 header; IPv6 unfragmentable part), once it arrived. */
  head: Uint8Array | null;
  /** IPv6: offset, inside `head`, of the next-header byte that named the fragment header; and the fragment header's next header. */
  nhOff: number;
  nexthdr: number;
  /** Length of the whole payload, known when the last fragment arrived; -1 before. */
  total: number;
  /** Largest fragment seen (IPCB(skb)->frag_max_size), for refragmenting on output. */
  maxSize: number;
  bytes: number;
  /** The first fragment's metadata: skb_morph() gives the reassembled packet the head's. */
  headMeta: Packet['meta'] | null;
}

export class DefragState {
  readonly queues = new Map<string, FragQueue>();
  /** frag_max_size of reassembled packets, for the output path's refragmentation. */
  readonly maxSize = new WeakMap<Packet, number>();
  memory = 0;
}

const states = new WeakMap<ConntrackTable, DefragState>();

/** The defragmentation state of a table (created on first use). */
export function defragState(table: ConntrackTable): DefragState {
  // Every packet asks (defragIn): the last table's state is kept at hand.
  if (table === lastTable) return lastState!;
  let s = states.get(table);
  if (s === undefined) {
    s = new DefragState();
    states.set(table, s);
  }
  lastTable = table;
  lastState = s;
  return s;
}

let lastTable: ConntrackTable | undefined;
let lastState: DefragState | undefined;

/** The largest fragment a reassembled packet was made of (0 when it was not reassembled). */
export function defragMaxSize(table: ConntrackTable, pkt: Packet): number {
  return defragState(table).maxSize.get(pkt) ?? 0;
}

function expire(table: ConntrackTable, st: DefragState): void {
  const now = table.now();
  for (const [k, q] of st.queues) {
    if (q.expiresAt <= now) {
      st.queues.delete(k);
      st.memory -= q.bytes;
    }
  }
}

const hexOf = (b: Uint8Array, o: number, n: number): string => Buffer.from(b.subarray(o, o + n)).toString('hex');

/**
 * Feeds a packet to defragmentation. A non-fragment comes back unchanged; a
 * fragment is held ('queued') until its datagram is complete, which comes
 * back as a new Packet (metadata of the completing fragment, fragment header
 * fields cleared), or a drop with the kernel's reason.
 */
export function defragIn(table: ConntrackTable, pkt: Packet, family: 2 | 10, zone = 0): DefragResult {
  const st = defragState(table);
  // Nothing can expire while no datagram is being reassembled (the common case: skip the walk).
  if (st.queues.size > 0) expire(table, st);
  const buf = pkt.buffer;
  const l3 = pkt.networkHeader >= 0 ? pkt.networkHeader : pkt.head;
  if (family === 2) return defrag4(table, st, pkt, buf, l3, zone);
  return defrag6(table, st, pkt, buf, l3, zone);
}

function insert(q: FragQueue, off: number, end: number, data: Uint8Array): 'ok' | 'dup' | 'overlap' {
  for (const f of q.frags) {
    if (off < f.end && end > f.off) return f.off === off && f.end === end ? 'dup' : 'overlap';
  }
  q.frags.push({ off, end, data: data.slice() });
  q.bytes += data.length;
  return 'ok';
}

function complete(q: FragQueue): Uint8Array | null {
  if (q.total < 0 || q.head === null) return null;
  q.frags.sort((a, b) => a.off - b.off);
  let at = 0;
  for (const f of q.frags) {
    if (f.off !== at) return null;
    at = f.end;
  }
  if (at !== q.total) return null;
  const out = new Uint8Array(q.total);
  for (const f of q.frags) out.set(f.data, f.off);
  return out;
}

function fragResult(table: ConntrackTable, st: DefragState, key: string, q: FragQueue, from: Packet, bytes: Uint8Array, ethertype: number): Packet {
  st.queues.delete(key);
  st.memory -= q.bytes;
  const p = Packet.from(bytes);
  p.meta = { ...(q.headMeta ?? from.meta) };
  p.networkHeader = p.head;
  p.protocol = ethertype;
  st.maxSize.set(p, q.maxSize);
  void table;
  return p;
}

function queueFor(table: ConntrackTable, st: DefragState, key: string, timeoutKey: string): FragQueue {
  let q = st.queues.get(key);
  if (q === undefined) {
    q = { expiresAt: table.now() + table.sysctl(timeoutKey) * 1000, frags: [], head: null, nhOff: -1, nexthdr: 0, total: -1, maxSize: 0, bytes: 0, headMeta: null };
    st.queues.set(key, q);
  }
  return q;
}

function defrag4(table: ConntrackTable, st: DefragState, pkt: Packet, buf: Uint8Array, l3: number, zone: number): DefragResult {
  if (l3 + 20 > pkt.tail) return pkt;
  const fw = (buf[l3 + 6]! << 8) | buf[l3 + 7]!;
  if ((fw & 0x3fff) === 0) return pkt; // neither MF nor an offset: not a fragment
  const ihl = (buf[l3]! & 15) * 4;
  const tot = Math.min((buf[l3 + 2]! << 8) | buf[l3 + 3]!, pkt.tail - l3);
  const off = (fw & 0x1fff) * 8;
  const mf = (fw & 0x2000) !== 0;
  let end = off + tot - ihl;
  // ip_frag_queue(): a non-last fragment's data is cut to a multiple of 8.
  if (mf) end &= ~7;
  if (end > 65535 - ihl) return { drop: 'SKB_DROP_REASON_PKT_TOO_BIG' };
  const key = `4/${zone}/${hexOf(buf, l3 + 12, 8)}/${hexOf(buf, l3 + 4, 2)}/${buf[l3 + 9]}`;
  const q = queueFor(table, st, key, 'net.ipv4.ipfrag_time');
  if (!mf) {
    if (q.total >= 0 && q.total !== end) return dropQueue(st, key, q, 'SKB_DROP_REASON_DUP_FRAG');
    q.total = end;
  }
  const r = insert(q, off, end, buf.subarray(l3 + ihl, l3 + ihl + (end - off)));
  if (r === 'dup') return { drop: 'SKB_DROP_REASON_DUP_FRAG' };
  // Linux drops the whole datagram on overlapping fragments (RFC 5722's reasoning, applied to IPv4 since 4.19).
  if (r === 'overlap') return dropQueue(st, key, q, 'SKB_DROP_REASON_DUP_FRAG');
  if (off === 0) {
    q.head = buf.slice(l3, l3 + ihl);
    q.headMeta = { ...pkt.meta };
  }
  q.maxSize = Math.max(q.maxSize, tot);
  st.memory += end - off;
  if (st.memory > table.sysctl('net.ipv4.ipfrag_high_thresh')) return dropQueue(st, key, q, 'SKB_DROP_REASON_FRAG_REASM_TIMEOUT');
  const payload = complete(q);
  if (payload === null) return 'queued';
  const head = q.head!;
  const out = new Uint8Array(head.length + payload.length);
  out.set(head);
  out.set(payload, head.length);
  const len = out.length;
  out[2] = len >> 8; out[3] = len & 0xff;
  out[6] = 0; out[7] = 0;
  out[10] = 0; out[11] = 0;
  const c = internetChecksum(out, 0, head.length);
  out[10] = c >> 8; out[11] = c & 0xff;
  return fragResult(table, st, key, q, pkt, out, 0x0800);
}

function dropQueue(st: DefragState, key: string, q: FragQueue, reason: string): DefragResult {
  st.queues.delete(key);
  st.memory -= q.bytes;
  return { drop: reason };
}

function defrag6(table: ConntrackTable, st: DefragState, pkt: Packet, buf: Uint8Array, l3: number, zone: number): DefragResult {
  if (l3 + 40 > pkt.tail) return pkt;
  const plen = (buf[l3 + 4]! << 8) | buf[l3 + 5]!;
  const dend = Math.min(l3 + 40 + plen, pkt.tail);
  // Find the fragment header, remembering which byte named it.
  let nh = buf[l3 + 6]!;
  let nhAt = l3 + 6;
  let off = l3 + 40;
  for (let guard = 0; guard < 32; guard++) {
    if (nh === IPPROTO_FRAGMENT) break;
    if (nh !== IPPROTO_HOPOPTS && nh !== IPPROTO_ROUTING && nh !== IPPROTO_DSTOPTS && nh !== IPPROTO_AH) return pkt;
    if (off + 8 > dend) return pkt;
    const len = nh === IPPROTO_AH ? (buf[off + 1]! + 2) * 4 : (buf[off + 1]! + 1) * 8;
    nhAt = off;
    nh = buf[off]!;
    off += len;
  }
  if (nh !== IPPROTO_FRAGMENT || off + 8 > dend) return pkt;
  const fw = (buf[off + 2]! << 8) | buf[off + 3]!;
  const foff = fw & ~7;
  const mf = (fw & 1) !== 0;
  const dataStart = off + 8;
  let end = foff + (dend - dataStart);
  if (mf) {
    // RFC 8200 §4.5: a non-last fragment's length is a multiple of 8; the kernel drops the packet otherwise.
    if ((end & 7) !== 0) return { drop: 'SKB_DROP_REASON_PROTO_MEM' };
  }
  if (end > 65535) return { drop: 'SKB_DROP_REASON_PKT_TOO_BIG' };
  const key = `6/${zone}/${hexOf(buf, l3 + 8, 32)}/${hexOf(buf, off + 4, 4)}`;
  const q = queueFor(table, st, key, 'net.netfilter.nf_conntrack_frag6_timeout');
  if (!mf) {
    if (q.total >= 0 && q.total !== end) return dropQueue(st, key, q, 'SKB_DROP_REASON_DUP_FRAG');
    q.total = end;
  }
  const r = insert(q, foff, end, buf.subarray(dataStart, dend));
  if (r === 'dup') return { drop: 'SKB_DROP_REASON_DUP_FRAG' };
  // RFC 5722 §4: overlapping fragments discard the whole datagram.
  if (r === 'overlap') return dropQueue(st, key, q, 'SKB_DROP_REASON_DUP_FRAG');
  if (foff === 0) {
    q.head = buf.slice(l3, off);
    q.nhOff = nhAt - l3;
    q.nexthdr = buf[off]!;
    q.headMeta = { ...pkt.meta };
  }
  q.maxSize = Math.max(q.maxSize, dend - l3);
  st.memory += end - foff;
  if (st.memory > table.sysctl('net.netfilter.nf_conntrack_frag6_high_thresh')) return dropQueue(st, key, q, 'SKB_DROP_REASON_FRAG_REASM_TIMEOUT');
  const payload = complete(q);
  if (payload === null) return 'queued';
  const head = q.head!;
  const out = new Uint8Array(head.length + payload.length);
  out.set(head);
  out.set(payload, head.length);
  out[q.nhOff] = q.nexthdr;
  const pl = out.length - 40;
  out[4] = pl >> 8; out[5] = pl & 0xff;
  return fragResult(table, st, key, q, pkt, out, 0x86dd);
}
