/**
 * IP-TFS SA options: the `iptfs-opts` words of `ip xfrm state ... mode iptfs`
 * (iproute2's IP-TFS support) and the XFRMA_IPTFS_* attributes they become,
 * with the defaults net/xfrm/xfrm_iptfs.c applies in iptfs_user_init().
 *
 * Times are microseconds, as on the netlink wire (XFRMA_IPTFS_DROP_TIME and
 * XFRMA_IPTFS_INIT_DELAY are u32 µs) and in `ip xfrm state` listings
 * (`drop-time 1000000`).
 */

/** IPTFS_DEFAULT_DROP_TIME_USECS: 1 s before a missing outer packet is declared lost. */
export const IPTFS_DEFAULT_DROP_TIME_USECS = 1_000_000;
/** IPTFS_DEFAULT_INIT_DELAY_USECS: send as soon as the output timer runs. */
export const IPTFS_DEFAULT_INIT_DELAY_USECS = 0;
/** IPTFS_DEFAULT_MAX_QUEUE_SIZE: 1024 * 10240 octets queued for the tunnel. */
export const IPTFS_DEFAULT_MAX_QUEUE_SIZE = 1024 * 10240;
/** IPTFS_DEFAULT_REORDER_WINDOW: outer packets held out of order on input. */
export const IPTFS_DEFAULT_REORDER_WINDOW = 3;
/** iptfs_user_init(): CE marking starts when the queue passes 95% of max-queue-size. */
export const IPTFS_ECN_QUEUE_PERCENT = 95;

export interface IptfsOptions {
  /** Outer packet size in bytes (XFRMA_IPTFS_PKT_SIZE); 0 = follow the path MTU. */
  pktSize: number;
  /** Octets of inner packets that may wait for the tunnel (XFRMA_IPTFS_MAX_QSIZE). */
  maxQueueSize: number;
  /** µs before a missing outer packet is considered lost (XFRMA_IPTFS_DROP_TIME, dir in). */
  dropTimeUs: number;
  /** Outer packets held to restore order (XFRMA_IPTFS_REORDER_WINDOW, u16, dir in); 0 = none. */
  reorderWindow: number;
  /** µs between the first packet on an empty queue and sending (XFRMA_IPTFS_INIT_DELAY, dir out). */
  initDelayUs: number;
  /** Never fragment inner packets across outer packets (XFRMA_IPTFS_DONT_FRAG, dir out). */
  dontFrag: boolean;
  /**
   * nfx extension (word `nfx-rate N`, dir out; not an iproute2 word, Linux has no such
   * attribute): send at a constant rate of N bytes/s with full-size payloads, padded
   * (RFC 9347 §2.4, traffic flow confidentiality). Absent: demand-driven, as Linux.
   */
  nfxRate?: number;
  /**
   * nfx extension (word `nfx-cc`, dir out, with nfx-rate as the highest rate):
   * congestion-controlled mode (RFC 9347 §2.4.2): CC headers, the rate from the peer's
   * loss event rate and the RTT (cc.ts). The SA's reverse-direction input SA carries
   * the feedback.
   */
  nfxCc?: boolean;
}

export class IptfsConfigError extends Error {
  override name = 'IptfsConfigError';
}

/** The kernel's defaults (iptfs_user_init()). */
export function defaultIptfsOptions(): IptfsOptions {
  return {
    pktSize: 0,
    maxQueueSize: IPTFS_DEFAULT_MAX_QUEUE_SIZE,
    dropTimeUs: IPTFS_DEFAULT_DROP_TIME_USECS,
    reorderWindow: IPTFS_DEFAULT_REORDER_WINDOW,
    initDelayUs: IPTFS_DEFAULT_INIT_DELAY_USECS,
    dontFrag: false,
  };
}

/** xtfs->ecn_queue_size: max_queue_size * 95 / 100, integer division as do_div(). */
export function ecnQueueSize(opts: IptfsOptions): number {
  return Math.floor((opts.maxQueueSize * IPTFS_ECN_QUEUE_PERCENT) / 100);
}

const U32_WORDS = { 'pkt-size': 'pktSize', 'max-queue-size': 'maxQueueSize', 'drop-time': 'dropTimeUs', 'init-delay': 'initDelayUs' } as const;

function parseUint(word: string, value: string | undefined, max: number): number {
  if (value === undefined) throw new IptfsConfigError(`"${word}" needs a value`);
  // iproute2 reads these with get_u32()/get_u16(): decimal, 0x hex or 0 octal.
  let n: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(value)) n = parseInt(value, 16);
  else if (/^0[0-7]+$/.test(value)) n = parseInt(value, 8);
  else if (/^\d+$/.test(value)) n = Number(value);
  else throw new IptfsConfigError(`argument "${value}" to "${word}" is invalid`);
  if (n > max) throw new IptfsConfigError(`argument "${value}" to "${word}" is out of range (max ${max})`);
  return n;
}

/**
 * Reads `iptfs-opts` words from the start of `words` and stops at the first
 * word that is not an IP-TFS option (the rest of the `ip xfrm state` line),
 * returning the options (defaults for words not given) and how many words
 * were used.
 */
export function parseIptfsOptsPrefix(words: readonly string[], base: IptfsOptions = defaultIptfsOptions()): { options: IptfsOptions; consumed: number } {
  const { attrs, consumed } = parseIptfsAttrsPrefix(words);
  return { options: { ...base, ...attrs }, consumed };
}

/**
 * The XFRMA_IPTFS_* attributes `ip xfrm state` sends: only the options the
 * user wrote (the kernel checks per direction which may be present, and
 * fills the rest with its defaults in iptfs_user_init()).
 */
export type IptfsAttrs = Partial<IptfsOptions>;

/** Like parseIptfsOptsPrefix, but returns only the words given (the netlink attributes). */
export function parseIptfsAttrsPrefix(words: readonly string[]): { attrs: IptfsAttrs; consumed: number } {
  const attrs: IptfsAttrs = {};
  let i = 0;
  while (i < words.length) {
    const w = words[i]!;
    if (w === 'dont-frag') {
      attrs.dontFrag = true;
      i++;
    } else if (w === 'nfx-cc') {
      attrs.nfxCc = true;
      i++;
    } else if (w === 'nfx-rate') {
      attrs.nfxRate = parseUint(w, words[i + 1], 0xffffffff);
      if (attrs.nfxRate === 0) throw new IptfsConfigError(`argument "0" to "nfx-rate" is invalid`);
      i += 2;
    } else if (w === 'reorder-window') {
      attrs.reorderWindow = parseUint(w, words[i + 1], 0xffff);
      i += 2;
    } else if (w in U32_WORDS) {
      attrs[U32_WORDS[w as keyof typeof U32_WORDS]] = parseUint(w, words[i + 1], 0xffffffff);
      i += 2;
    } else break;
  }
  return { attrs, consumed: i };
}

/** Parses the words after `iptfs-opts`; every word must be an IP-TFS option. */
export function parseIptfsOpts(words: readonly string[]): IptfsOptions {
  const { options, consumed } = parseIptfsOptsPrefix(words);
  if (consumed !== words.length) throw new IptfsConfigError(`unknown iptfs-opts word "${words[consumed]}"`);
  return options;
}

/**
 * The `iptfs-opts` line of `ip xfrm state` for an SA of direction `dir`:
 * the kernel reports only the attributes of that direction
 * (iptfs_copy_to_user()), iproute2 prints them in attribute order.
 */
export function formatIptfsOpts(o: IptfsOptions, dir: 'in' | 'out'): string {
  if (dir === 'in') return `iptfs-opts drop-time ${o.dropTimeUs} reorder-window ${o.reorderWindow}`;
  // nfx's extensions follow the kernel's words (iproute2 never prints them: Linux has no such attributes).
  const ext = `${o.nfxRate ? ` nfx-rate ${o.nfxRate}` : ''}${o.nfxCc ? ' nfx-cc' : ''}`;
  return `iptfs-opts ${o.dontFrag ? 'dont-frag ' : ''}init-delay ${o.initDelayUs} max-queue-size ${o.maxQueueSize} pkt-size ${o.pktSize}${ext}`;
}
