/**
 * Why an ESP packet was dropped, in the kernel's words.
 *
 * Every drop carries the `/proc/net/xfrm_stat` counter Linux increments for
 * it (the LINUX_MIB_XFRM* SNMP items, names as net/xfrm/xfrm_proc.c prints
 * them) and the `SKB_DROP_REASON_*` the skb is freed with. Linux's
 * xfrm_input()/xfrm_output_one() free with plain kfree_skb(), so the skb
 * reason is NOT_SPECIFIED for nearly every xfrm drop; the counter is the
 * precise part.
 */

/** The counters of /proc/net/xfrm_stat, in the order xfrm_proc.c prints them. */
export const XFRM_STAT_NAMES = [
  'XfrmInError',
  'XfrmInBufferError',
  'XfrmInHdrError',
  'XfrmInNoStates',
  'XfrmInStateProtoError',
  'XfrmInStateModeError',
  'XfrmInStateSeqError',
  'XfrmInStateExpired',
  'XfrmInStateMismatch',
  'XfrmInStateInvalid',
  'XfrmInTmplMismatch',
  'XfrmInNoPols',
  'XfrmInPolBlock',
  'XfrmInPolError',
  'XfrmOutError',
  'XfrmOutBundleGenError',
  'XfrmOutBundleCheckError',
  'XfrmOutNoStates',
  'XfrmOutStateProtoError',
  'XfrmOutStateModeError',
  'XfrmOutStateSeqError',
  'XfrmOutStateExpired',
  'XfrmOutPolBlock',
  'XfrmOutPolDead',
  'XfrmOutPolError',
  'XfrmFwdHdrError',
  'XfrmOutStateInvalid',
  'XfrmAcquireError',
  'XfrmOutStateDirError',
  'XfrmInStateDirError',
  'XfrmInIptfsError',
  'XfrmOutNoQueueSpace',
] as const;

export type XfrmStatName = (typeof XFRM_STAT_NAMES)[number];

/** The skb drop reasons ESP processing can end with (include/net/dropreason-core.h). */
export type SkbDropReason =
  | 'SKB_DROP_REASON_NOT_SPECIFIED'
  | 'SKB_DROP_REASON_PKT_TOO_SMALL'
  | 'SKB_DROP_REASON_XFRM_POLICY';

/** A drop: the counter, the skb reason, and a sentence for `why`. */
export interface EspDrop {
  readonly ok: false;
  readonly counter: XfrmStatName;
  readonly skbReason: SkbDropReason;
  /** Human explanation; never contains key material. */
  readonly detail: string;
}

/**
 * Drops are interned: one frozen object per (counter, detail), so the hot
 * path allocates nothing when it drops.
 */
const interned = new Map<string, EspDrop>();
export function espDrop(counter: XfrmStatName, detail: string, skbReason: SkbDropReason = 'SKB_DROP_REASON_NOT_SPECIFIED'): EspDrop {
  const key = `${counter}\0${detail}\0${skbReason}`;
  let d = interned.get(key);
  if (!d) {
    d = Object.freeze({ ok: false as const, counter, skbReason, detail });
    interned.set(key, d);
  }
  return d;
}
