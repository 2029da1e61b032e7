/**
 * The xfrm MIB: /proc/net/xfrm_stat. Names and order from xfrm_mib_list[] in
 * net/xfrm/xfrm_proc.c (Linux 6.14+, with the SA-direction and IP-TFS
 * counters); each line is printed with "%-24s\t%lu\n" as
 * xfrm_statistics_seq_show() does.
 */
export const XFRM_MIB_NAMES = [
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

export type XfrmMibName = (typeof XFRM_MIB_NAMES)[number];

const INDEX = new Map<string, number>(XFRM_MIB_NAMES.map((n, i) => [n, i]));

/** Counters in a flat array so the data path increments without allocating. */
export class XfrmStats {
  readonly counters = new Float64Array(XFRM_MIB_NAMES.length);

  inc(name: XfrmMibName, by = 1): void {
    this.counters[INDEX.get(name)!]! += by;
  }

  get(name: XfrmMibName): number {
    return this.counters[INDEX.get(name)!]!;
  }

  reset(): void {
    this.counters.fill(0);
  }

  /** The text of /proc/net/xfrm_stat. */
  format(): string {
    let s = '';
    for (let i = 0; i < XFRM_MIB_NAMES.length; i++) s += `${XFRM_MIB_NAMES[i]!.padEnd(24)}\t${this.counters[i]}\n`;
    return s;
  }

  toJSON(): Record<string, number> {
    const o: Record<string, number> = {};
    XFRM_MIB_NAMES.forEach((n, i) => {
      if (this.counters[i]) o[n] = this.counters[i]!;
    });
    return o;
  }

  load(o: Record<string, number>): void {
    this.reset();
    for (const [k, v] of Object.entries(o)) {
      const i = INDEX.get(k);
      if (i !== undefined) this.counters[i] = v;
    }
  }
}
