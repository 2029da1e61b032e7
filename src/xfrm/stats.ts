/**
 * The xfrm MIB: /proc/net/xfrm_stat. Names and order from xfrm_mib_list[] in
 * net/xfrm/xfrm_proc.c (Linux 6.14+, with the SA-direction and IP-TFS
 * counters); each line is printed with "%-24s\t%lu\n" as
 * xfrm_statistics_seq_show() does.
 */
import { XFRM_STAT_NAMES, type XfrmStatName } from './esp/reasons.js';

/** The counter names, defined once next to the ESP drops that use them. */
export const XFRM_MIB_NAMES = XFRM_STAT_NAMES;

export type XfrmMibName = XfrmStatName;

const INDEX = new Map<string, number>(XFRM_MIB_NAMES.map((n, i) => [n, i]));

/** Counters in a flat array so the data path increments without allocating. */
export class XfrmStats {
  readonly counters = new Float64Array(XFRM_MIB_NAMES.length);

  inc(name: XfrmMibName, by = 1): void {
    this.counters[INDEX.get(name)!]! += by;
  }

  /**
   * RFC 3948 §2.3 NAT keepalives consumed and non-ESP-marker (IKE) datagrams handed on.
   * Linux counts neither; nfx does, outside the xfrm_stat list.
   */
  natKeepalives = 0;
  ikeMessages = 0;

  /** Counts an espInput/espOutput result: its drop counter, or a keepalive/IKE arrival. */
  account(r: { ok: boolean; counter?: XfrmMibName; kind?: string }): void {
    if (!r.ok && r.counter) this.inc(r.counter);
    else if (r.kind === 'keepalive') this.natKeepalives++;
    else if (r.kind === 'ike') this.ikeMessages++;
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
