/**
 * Trace events (NFT_MSG_TRACE, enum nft_trace_types) and their text as
 * `nft monitor trace` prints it (nftables src/netlink.c netlink_events_trace_cb):
 *   trace id 1a2b3c4d ip filter input packet: <packet fields>
 *   trace id 1a2b3c4d ip filter input rule tcp dport 22 accept (verdict accept)
 *   trace id 1a2b3c4d ip filter sub verdict continue
 *   trace id 1a2b3c4d ip filter input policy drop
 * A rule event is printed only for events that carry a rule handle; the
 * packet line only for the first rule event of a packet. Linux 6.18 reports
 * `return` as a rule event and the end of a chain as a rule event without a
 * rule (nothing printed); `return` events (NFT_TRACETYPE_RETURN) are kept in
 * the type for older kernels but not produced.
 */
import { verdictName } from './bytecode-text.js';
import { FAMILY_NAME } from './batch.js';
import { NFT_JUMP, NFT_GOTO } from './bytecode.js';

export interface TraceEvent {
  type: 'rule' | 'return' | 'policy';
  id: number;
  /** Family of the table (NFPROTO_*). */
  family: number;
  table: string;
  chain: string;
  /** Rule handle; absent when the chain ran out of rules. */
  handle?: number;
  /** The rule's text (Rule.source), when known. */
  ruleText?: string;
  verdict: { code: number; chain?: string };
  /** skb->mark at the event, printed when non-zero. */
  mark: number;
  /** On the first event of a packet: the fields for the "packet:" line. */
  packet?: { iif: number; oif: number; nfproto: number };
}

function verdictText(v: { code: number; chain?: string }): string {
  const name = verdictName(v.code >= 0 ? v.code & 0xff : v.code);
  return (v.code === NFT_JUMP || v.code === NFT_GOTO) && v.chain ? `${name} ${v.chain}` : name;
}

export interface TraceFormatOptions {
  /** Renders the packet fields after "packet: " (nft delinearizes the headers; the host/nft layer supplies this). */
  packetText?: (ev: TraceEvent) => string;
}

/** The lines `nft monitor trace` prints for one event (zero, one or two lines). */
export function formatTrace(ev: TraceEvent, opts: TraceFormatOptions = {}): string[] {
  const hdr = `trace id ${(ev.id >>> 0).toString(16).padStart(8, '0')} ${FAMILY_NAME[ev.family] ?? 'unknown'} ${ev.table} ${ev.chain} `;
  const mark = ev.mark ? `meta mark 0x${(ev.mark >>> 0).toString(16).padStart(8, '0')} ` : '';
  switch (ev.type) {
    case 'rule': {
      const out: string[] = [];
      if (ev.packet) out.push(hdr + 'packet: ' + (opts.packetText ? opts.packetText(ev) : ''));
      if (ev.handle !== undefined) out.push(`${hdr}rule ${ev.ruleText ?? `handle ${ev.handle}`} (verdict ${verdictText(ev.verdict)})`);
      return out;
    }
    case 'return': return [`${hdr}verdict ${verdictText(ev.verdict)} ${mark}`];
    case 'policy': return [`${hdr}policy ${verdictText(ev.verdict)} ${mark}`];
  }
}
