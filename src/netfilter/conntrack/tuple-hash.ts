/**
 * The tuple hash of confirmed entries (nf_conntrack_hash): every entry is
 * hashed under both of its tuples, as the kernel links both tuplehash[]
 * nodes of a struct nf_conn into its hash table.
 *
 * Laid out in typed arrays rather than a Map of arrays of objects, because
 * every packet looks up here: a tuple becomes ten 32-bit key words, the
 * chains are indexes, and a packet's lookup reads its bytes and typed
 * arrays, no object (findPacket). An
 * entry is `slot * 2 + dir` (the kernel's NF_CT_DIRECTION(h) of a
 * tuplehash), so the caller finds the entry and the direction in one number.
 */
import type { Tuple } from './types.js';
import type { L4Info } from './tuple.js';
import { hasPorts } from './tuple.js';
import { IPPROTO_ICMP, IPPROTO_ICMPV6 } from '../../packet/wire/constants.js';

/** Key words per entry: [zone << 16 | proto << 8 | family, srcPort << 16 | dstPort, src × 4, dst × 4]. */
const KEY_WORDS = 10;
/** An IPv4 key is its first four words; the address words after them are always zero. */
const KEY_WORDS_V4 = 4;

/** A 32-bit address word of `a` at byte `i`, big-endian, as an int32. */
function word(a: Uint8Array, i: number): number {
  return (a[i]! << 24) | (a[i + 1]! << 16) | (a[i + 2]! << 8) | a[i + 3]!;
}

/** Writes the key words of (zone, family, proto, t) at `k[at..]`; only the family's address bytes count. */
function keyOf(k: Int32Array, at: number, zone: number, family: number, proto: number, t: Tuple): void {
  k[at] = (zone << 16) | (proto << 8) | family;
  k[at + 1] = (t.srcPort << 16) | t.dstPort;
  const s = t.src, d = t.dst;
  if (family === 2) {
    k[at + 2] = word(s, 0);
    k[at + 3] = word(d, 0);
    for (let i = 4; i < KEY_WORDS; i++) k[at + i] = 0;
  } else {
    for (let i = 0; i < 4; i++) {
      k[at + 2 + i] = word(s, 4 * i);
      k[at + 6 + i] = word(d, 4 * i);
    }
  }
}

/** murmur3's 32-bit mixing over the key words (the kernel uses siphash with a boot-time seed; any good spread will do). */
function hashKey(k: Int32Array, at: number, n: number): number {
  let h = 0x6e667874;
  for (let i = 0; i < n; i++) {
    let x = Math.imul(k[at + i]!, 0xcc9e2d51);
    x = (x << 15) | (x >>> 17);
    h ^= Math.imul(x, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

export class TupleHash {
  /** Key words per entry. */
  private keys = new Int32Array(64 * KEY_WORDS);
  /** Next entry in the same bucket, -1 at the end. */
  private next = new Int32Array(64);
  /** 1 while the entry is in the hash. */
  private hashed = new Uint8Array(64);
  /** First entry of each bucket, -1 when empty; a power of two long. */
  private heads = new Int32Array(64).fill(-1);
  private size = 0;
  /** The looked-up tuple's key. */
  private readonly probe = new Int32Array(KEY_WORDS);

  /** Adds entry `e` (slot * 2 + dir) for tuple `t`, after the entries already in its bucket. */
  add(e: number, zone: number, family: number, proto: number, t: Tuple): void {
    if (e >= this.hashed.length) this.growEntries(e);
    if (this.hashed[e] === 1) return;
    keyOf(this.keys, e * KEY_WORDS, zone, family, proto, t);
    this.hashed[e] = 1;
    if (++this.size > this.heads.length) this.rehash(this.heads.length * 2);
    this.link(e);
  }

  /** Takes entry `e` out of the hash (nothing when it is not in). */
  del(e: number): void {
    if (e >= this.hashed.length || this.hashed[e] === 0) return;
    this.hashed[e] = 0;
    this.size--;
    const b = this.bucketOf(e);
    const next = this.next;
    let p = this.heads[b]!;
    if (p === e) { this.heads[b] = next[e]!; return; }
    while (p >= 0 && next[p] !== e) p = next[p]!;
    if (p >= 0) next[p] = next[e]!;
  }

  /** The first entry whose tuple is `t` in (zone, family, proto), or -1. */
  find(zone: number, family: number, proto: number, t: Tuple): number {
    keyOf(this.probe, 0, zone, family, proto, t);
    return this.findProbe(family);
  }

  /**
   * find() for the tuple of the datagram `info` describes, read from the
   * packet's bytes (what getTuple() would put in a Tuple): every packet
   * looks up, and most need no Tuple. -2 when the layer-4 header is too
   * short for its tuple part (getTuple() would return false).
   */
  findPacket(zone: number, family: number, buf: Uint8Array, info: L4Info): number {
    const k = this.probe;
    const proto = info.proto, o = info.l4off;
    // The ports, as getTuple() reads them for each protocol.
    if (hasPorts(proto)) {
      if (o + 4 > info.l4end) return -2;
      k[1] = (buf[o]! << 24) | (buf[o + 1]! << 16) | (buf[o + 2]! << 8) | buf[o + 3]!;
    } else if (proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6) {
      if (o + 8 > info.l4end) return -2;
      // srcPort is the echo id, dstPort the type and code.
      k[1] = (buf[o + 4]! << 24) | (buf[o + 5]! << 16) | (buf[o]! << 8) | buf[o + 1]!;
    } else {
      k[1] = 0;
    }
    k[0] = (zone << 16) | (proto << 8) | family;
    const l3 = info.l3off;
    if (family === 2) {
      k[2] = word(buf, l3 + 12);
      k[3] = word(buf, l3 + 16);
    } else {
      for (let i = 0; i < 4; i++) {
        k[2 + i] = word(buf, l3 + 8 + 4 * i);
        k[6 + i] = word(buf, l3 + 24 + 4 * i);
      }
    }
    return this.findProbe(family);
  }

  /** The first entry whose key is the probe's. */
  private findProbe(family: number): number {
    const k = this.probe;
    const n = family === 2 ? KEY_WORDS_V4 : KEY_WORDS;
    const keys = this.keys, next = this.next;
    let e = this.heads[hashKey(k, 0, n) & (this.heads.length - 1)]!;
    for (; e >= 0; e = next[e]!) {
      const at = e * KEY_WORDS;
      let i = 0;
      while (i < n && keys[at + i] === k[i]) i++;
      if (i === n) return e;
    }
    return -1;
  }

  private bucketOf(e: number): number {
    const keys = this.keys;
    return hashKey(keys, e * KEY_WORDS, (keys[e * KEY_WORDS]! & 0xff) === 2 ? KEY_WORDS_V4 : KEY_WORDS) & (this.heads.length - 1);
  }

  /** Appends `e` to its bucket's chain: the order of insertion decides which of two equal tuples a lookup finds. */
  private link(e: number): void {
    const b = this.bucketOf(e);
    this.next[e] = -1;
    let p = this.heads[b]!;
    if (p < 0) { this.heads[b] = e; return; }
    while (this.next[p]! >= 0) p = this.next[p]!;
    this.next[p] = e;
  }

  private growEntries(e: number): void {
    let n = this.hashed.length;
    while (n <= e) n *= 2;
    const keys = new Int32Array(n * KEY_WORDS);
    keys.set(this.keys);
    const next = new Int32Array(n);
    next.set(this.next);
    const hashed = new Uint8Array(n);
    hashed.set(this.hashed);
    this.keys = keys;
    this.next = next;
    this.hashed = hashed;
  }

  /** A bigger bucket array; the chains are rebuilt keeping their order. */
  private rehash(buckets: number): void {
    const order: number[] = [];
    for (let b = 0; b < this.heads.length; b++) for (let e = this.heads[b]!; e >= 0; e = this.next[e]!) order.push(e);
    this.heads = new Int32Array(buckets).fill(-1);
    for (const e of order) this.link(e);
  }
}
