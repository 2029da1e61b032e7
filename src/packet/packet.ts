/**
 * A packet as the data path sees it: the kernel's sk_buff reduced to what
 * nfx needs. The bytes live in one buffer with headroom in front, so
 * encapsulation (ESP, UDP, an outer IP header) prepends in place, the way
 * skb_push() does, instead of copying the packet.
 */

/** Headroom reserved in front of received frames: outer IPv6 + UDP + ESP + IV and a link header. */
export const DEFAULT_HEADROOM = 128;

/**
 * Packet buffers are cut from shared slabs. V8 gives every typed array over 64
 * bytes its own off-heap backing store, and making one costs more than a
 * microsecond (measured on Node 20: ~1.4 µs for 300 bytes, ~0.17 µs for a view
 * into an existing ArrayBuffer) — more than the rest of a packet's walk. A
 * region is handed out once and never reused, so a buffer starts zeroed and no
 * two share bytes; a slab is freed once nothing cut from it is referenced.
 * Consumers must honour `byteOffset` (as every user of `.buffer` here does).
 */
const SLAB_SIZE = 64 * 1024;
/** Larger buffers get their own store (and do not pin a slab). */
const SLAB_MAX = 4 * 1024;
let slab = new ArrayBuffer(SLAB_SIZE);
let slabOff = 0;

/**
 * Where the last allocBytes() result lives: its slab and its offset there (undefined for a
 * buffer of its own). Packet keeps them to make views of its bytes without asking the
 * array for `.buffer`/`.byteOffset`, which are runtime calls in Node 20's V8.
 */
let lastSlab: ArrayBuffer | undefined;
let lastOff = 0;

/** `n` zeroed bytes, cut from the current slab when small. */
export function allocBytes(n: number): Uint8Array {
  if (n > SLAB_MAX) { lastSlab = undefined; return new Uint8Array(n); }
  if (slabOff + n > SLAB_SIZE) {
    slab = new ArrayBuffer(SLAB_SIZE);
    slabOff = 0;
  }
  const u = new Uint8Array(slab, slabOff, n);
  lastSlab = slab; lastOff = slabOff;
  // 8-byte alignment keeps wider views (DataView, Uint32Array over a header) cheap.
  slabOff += (n + 7) & ~7;
  return u;
}

/** A copy of `bytes` (like `bytes.slice()`) in slab memory. */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  const u = allocBytes(bytes.length);
  u.set(bytes);
  return u;
}

/** The secpath an IPsec input leaves on a decapsulated packet (struct sec_path). */
export interface SecPathEntry {
  spi: number;
  reqid: number;
  /** Outer addresses of the SA, in text form. */
  saddr: string;
  daddr: string;
  family: 2 | 10;
  mode: 'transport' | 'tunnel' | 'beet' | 'iptfs';
}

/** Per-packet metadata: the sk_buff fields `meta` expressions read and set. */
export interface PacketMeta {
  mark: number;
  /** Input interface index, 0 when none (locally generated). */
  iif: number;
  /** Output interface index, 0 until routing picks one. */
  oif: number;
  priority: number;
  nftrace: boolean;
  /** skb->pkt_type: PACKET_HOST 0, BROADCAST 1, MULTICAST 2, OTHERHOST 3 (uapi/linux/if_packet.h). */
  pktType: number;
  secpath: SecPathEntry[] | null;
  /** Index of the conntrack entry in the host's table, -1 when untracked or not looked up. */
  ctSlot: number;
  /** Arrival time: seconds and nanoseconds since the epoch (virtual or real clock). */
  tsSec: number;
  tsNsec: number;
  /**
   * skb->secmark: the security id `meta secmark set` and secmark objects
   * store. The kernel's is an LSM secid; ours is the number the netfilter
   * engine gives the object's context string (see secmarkId in
   * src/netfilter/expr/objref.ts), 0 = none.
   */
  secmark: number;
}

export function defaultMeta(): PacketMeta {
  return { mark: 0, iif: 0, oif: 0, priority: 0, nftrace: false, pktType: 0, secpath: null, ctSlot: -1, tsSec: 0, tsNsec: 0, secmark: 0 };
}

export class Packet {
  /** Backing store; the packet occupies [head, tail). */
  buffer: Uint8Array;
  head: number;
  tail: number;
  /**
   * Header offsets, absolute in `buffer`, -1 when not set. As in the kernel,
   * they are set by the layer that parsed or built the header and stay valid
   * across push/pull because they are absolute.
   */
  macHeader = -1;
  networkHeader = -1;
  transportHeader = -1;
  /** Set by tunnel decapsulation and by `payload @inner` users. */
  innerNetworkHeader = -1;
  /** Layer-3 protocol (ethertype) of the network header, e.g. 0x0800; 0 when unknown. */
  protocol = 0;
  /** Layer-4 protocol number once known (IPPROTO_*), -1 when unknown. */
  l4proto = -1;
  meta: PacketMeta;
  /**
   * The slab a buffer was cut from and where (allocBytes), and which buffer that was:
   * view() uses them while `buffer` is still that one (code may assign `buffer`).
   */
  private slab: ArrayBuffer | undefined = undefined;
  private slabOff = 0;
  private slabFor: Uint8Array | undefined = undefined;

  constructor(buffer: Uint8Array, head: number, tail: number, meta: PacketMeta = defaultMeta()) {
    if (head < 0 || tail < head || tail > buffer.length) throw new RangeError(`bad packet bounds ${head}..${tail} in ${buffer.length}`);
    this.buffer = buffer;
    this.head = head;
    this.tail = tail;
    this.meta = meta;
  }

  /** Copies `bytes` into a fresh buffer with `headroom` bytes free in front. */
  static from(bytes: Uint8Array, headroom = DEFAULT_HEADROOM, tailroom = 64): Packet {
    const buffer = allocBytes(headroom + bytes.length + tailroom);
    const p = new Packet(buffer, headroom, headroom + bytes.length);
    p.slab = lastSlab; p.slabOff = lastOff; p.slabFor = buffer;
    buffer.set(bytes, headroom);
    return p;
  }

  /** Wraps bytes without copying; no headroom, so a push reallocates once. */
  static wrap(bytes: Uint8Array): Packet {
    return new Packet(bytes, 0, bytes.length);
  }

  get length(): number {
    return this.tail - this.head;
  }

  /** The packet's bytes, a view (no copy). */
  get data(): Uint8Array {
    return this.view(this.head, this.tail);
  }

  /**
   * `buffer.subarray(from, to)`, made straight on the slab when the buffer came from one:
   * subarray() first looks up the array's species constructor and its buffer, which costs
   * more than the view itself (every transmitted frame is one).
   */
  view(from: number, to: number): Uint8Array {
    const slab = this.slab;
    // Out-of-range and negative bounds keep subarray()'s meaning (the constructor would throw).
    if (slab === undefined || this.slabFor !== this.buffer || from < 0 || from > to || to > this.buffer.length) return this.buffer.subarray(from, to);
    return new Uint8Array(slab, this.slabOff + from, to - from);
  }

  get headroom(): number {
    return this.head;
  }

  /** skb_push(): grows the packet at the front by `n` bytes and returns the new head offset. */
  push(n: number): number {
    if (n > this.head) this.reserveHeadroom(n - this.head + DEFAULT_HEADROOM);
    this.head -= n;
    return this.head;
  }

  /** skb_pull(): removes `n` bytes from the front. */
  pull(n: number): number {
    if (n > this.length) throw new RangeError(`pull ${n} past the end of a ${this.length}-byte packet`);
    this.head += n;
    return this.head;
  }

  /** skb_put(): grows the packet at the end by `n` bytes and returns the offset of the new bytes. */
  put(n: number): number {
    if (this.tail + n > this.buffer.length) this.grow(0, this.tail + n - this.buffer.length + 64);
    const at = this.tail;
    this.tail += n;
    return at;
  }

  /** skb_trim(): cuts the packet to `len` bytes. */
  trim(len: number): void {
    if (len < 0 || len > this.length) throw new RangeError(`trim to ${len} of a ${this.length}-byte packet`);
    this.tail = this.head + len;
  }

  /** An independent copy (pskb_copy): same metadata, own bytes, same headroom. */
  clone(): Packet {
    const p = new Packet(copyBytes(this.buffer), this.head, this.tail, { ...this.meta, secpath: this.meta.secpath && [...this.meta.secpath] });
    p.slab = lastSlab; p.slabOff = lastOff; p.slabFor = p.buffer;
    p.macHeader = this.macHeader;
    p.networkHeader = this.networkHeader;
    p.transportHeader = this.transportHeader;
    p.innerNetworkHeader = this.innerNetworkHeader;
    p.protocol = this.protocol;
    p.l4proto = this.l4proto;
    return p;
  }

  private reserveHeadroom(extra: number): void {
    this.grow(extra, 0);
  }

  /** Reallocates with `front` more bytes before and `back` more after; shifts header offsets. */
  private grow(front: number, back: number): void {
    const buffer = allocBytes(this.buffer.length + front + back);
    this.slab = lastSlab; this.slabOff = lastOff; this.slabFor = buffer;
    buffer.set(this.buffer, front);
    this.buffer = buffer;
    this.head += front;
    this.tail += front;
    for (const k of ['macHeader', 'networkHeader', 'transportHeader', 'innerNetworkHeader'] as const) {
      if (this[k] >= 0) this[k] += front;
    }
  }
}
