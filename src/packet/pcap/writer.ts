/**
 * Writing captures: classic pcap and pcapng, byte-exact to what libpcap and
 * Wireshark write, so every file nfx produces opens in tshark without a
 * warning. Writers encode into a chunk buffer and hand full chunks to a sink:
 * memory (collect, then `bytes()`), a file descriptor, or a callback (e.g. a
 * Node WriteStream's `write`).
 */
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { LINKTYPE_ETHERNET } from './linktype.js';
import {
  BT_EPB, BT_IDB, BT_SHB, BYTE_ORDER_MAGIC, IF_TSRESOL, MAX_PACKET_LEN, PCAP_FILE_HDR_LEN,
  PCAP_MAGIC_NSEC, PCAP_MAGIC_USEC, PCAP_REC_HDR_LEN,
} from './parser.js';
import { timeToUnits } from './timestamp.js';
import type { UnitsOut } from './timestamp.js';

/** What a writer needs of a packet. A CaptureRecord is one. */
export interface WritableRecord {
  tsSec: number;
  tsNsec: number;
  data: Uint8Array;
  /** Length on the wire; defaults to `data.length`. */
  origLen?: number;
  /** pcapng interface (IDB index); 0 by default. Ignored by PcapWriter. */
  ifIndex?: number;
  /** When given, must match the link type of the file (pcap) or interface (pcapng). */
  linkType?: number;
}

/**
 * Where encoded bytes go: a callback or a stream (a Node Writable such as
 * fs.createWriteStream) that takes ownership of each chunk, or a file
 * descriptor written synchronously.
 */
export type CaptureSink = ((chunk: Uint8Array) => void) | { write(chunk: Uint8Array): unknown } | { fd: number };

/** Chunks handed to a sink are at most this big; buffers start small and grow to it. */
const CHUNK = 1 << 20;
const FIRST_CHUNK = 1 << 16;
/** Option codes used when writing (draft-ietf-opsawg-pcapng §4.1, §4.2). */
const SHB_USERAPPL = 4;
const IF_NAME = 2;

class ChunkedOutput {
  protected buf = new Uint8Array(FIRST_CHUNK);
  protected dv = new DataView(this.buf.buffer);
  protected len = 0;
  protected readonly le: boolean;
  private readonly collected: Uint8Array[] = [];
  private closed = false;

  constructor(private readonly sink: CaptureSink | undefined, littleEndian: boolean) {
    this.le = littleEndian;
  }

  /** Makes room for `n` more bytes (n ≤ CHUNK) and returns where they start. */
  protected reserve(n: number): number {
    if (this.closed) throw new Error('capture writer is closed');
    if (this.len + n > this.buf.length) {
      if (this.len + n > CHUNK) this.flush();
      if (this.len + n > this.buf.length) {
        const bigger = new Uint8Array(Math.min(CHUNK, Math.max(this.buf.length * 2, this.len + n)));
        bigger.set(this.buf.subarray(0, this.len));
        this.buf = bigger;
        this.dv = new DataView(bigger.buffer);
      }
    }
    const at = this.len;
    this.len += n;
    return at;
  }

  /** Hands everything encoded so far to the sink. */
  flush(): void {
    if (this.len === 0) return;
    const sink = this.sink;
    // Checked by `write`, not `fd`: a WriteStream has both.
    if (sink !== undefined && typeof sink === 'object' && !('write' in sink)) {
      let off = 0;
      while (off < this.len) off += writeSync(sink.fd, this.buf, off, this.len - off);
    } else {
      const chunk = this.buf.subarray(0, this.len);
      if (sink === undefined) this.collected.push(chunk);
      else if (typeof sink === 'function') sink(chunk);
      else sink.write(chunk);
      // The sink owns the chunk now; encode on into a fresh buffer.
      this.buf = new Uint8Array(this.buf.length);
      this.dv = new DataView(this.buf.buffer);
    }
    this.len = 0;
  }

  /** Flushes; further writes throw. Does not close a caller's file descriptor. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
  }

  /** The whole file so far (writers created without a sink only). */
  bytes(): Uint8Array {
    if (this.sink !== undefined) throw new Error('bytes() is only for writers that collect in memory');
    if (!this.closed) this.flush();
    const chunks = this.collected;
    if (chunks.length === 1) return chunks[0]!;
    let total = 0;
    for (const c of chunks) total += c.length;
    const out = new Uint8Array(total);
    let off = 0;
    for (const c of chunks) { out.set(c, off); off += c.length; }
    chunks.length = 0;
    if (total > 0) chunks.push(out);
    return out;
  }
}

export interface PcapWriterOptions {
  /** LINKTYPE_* of every packet in the file. */
  linkType: number;
  /** Nanosecond timestamps (magic a1b23c4d) instead of microseconds. Default false. */
  nanosecond?: boolean;
  /** Longest captured length; longer packets are truncated to it, as a capture would. Default 262144. */
  snaplen?: number;
  /** Byte order of the file; default little-endian (what x86 libpcap writes). */
  littleEndian?: boolean;
}

/** Writes a classic pcap file (pcap-savefile(5)). */
export class PcapWriter extends ChunkedOutput {
  readonly linkType: number;
  private readonly nanosecond: boolean;
  private readonly snaplen: number;

  constructor(options: PcapWriterOptions, sink?: CaptureSink) {
    super(sink, options.littleEndian ?? true);
    this.linkType = options.linkType;
    this.nanosecond = options.nanosecond ?? false;
    this.snaplen = checkSnaplen(options.snaplen ?? MAX_PACKET_LEN);
    const at = this.reserve(PCAP_FILE_HDR_LEN);
    const dv = this.dv, le = this.le;
    dv.setUint32(at, this.nanosecond ? PCAP_MAGIC_NSEC : PCAP_MAGIC_USEC, le);
    dv.setUint16(at + 4, 2, le); // version 2.4, the only one in use since 1998
    dv.setUint16(at + 6, 4, le);
    dv.setInt32(at + 8, 0, le); // thiszone: always 0 (UTC)
    dv.setUint32(at + 12, 0, le); // sigfigs: always 0
    dv.setUint32(at + 16, this.snaplen, le);
    dv.setUint32(at + 20, this.linkType, le);
  }

  write(record: WritableRecord): void {
    if (record.linkType !== undefined && record.linkType !== this.linkType) {
      throw new RangeError(`record of link type ${record.linkType} in a pcap of link type ${this.linkType}`);
    }
    const { tsSec, tsNsec } = record;
    if (!(tsSec >= 0 && tsSec <= 0xffffffff && Number.isInteger(tsSec)) || !(tsNsec >= 0 && tsNsec < 1e9)) {
      throw new RangeError(`timestamp ${tsSec}.${tsNsec} does not fit a pcap record`);
    }
    const data = record.data;
    const caplen = Math.min(data.length, this.snaplen);
    const origLen = Math.max(record.origLen ?? data.length, data.length);
    const at = this.reserve(PCAP_REC_HDR_LEN + caplen);
    const dv = this.dv, le = this.le;
    dv.setUint32(at, tsSec, le);
    dv.setUint32(at + 4, this.nanosecond ? Math.floor(tsNsec) : Math.floor(tsNsec / 1000), le);
    dv.setUint32(at + 8, caplen, le);
    dv.setUint32(at + 12, origLen, le);
    this.buf.set(caplen === data.length ? data : data.subarray(0, caplen), at + PCAP_REC_HDR_LEN);
  }
}

export interface PcapngInterfaceOptions {
  linkType: number;
  /** Default 262144. */
  snaplen?: number;
  /** Timestamp resolution 10^-tsresol s, 0..9. Default 9 (nanoseconds). */
  tsresol?: number;
  /** if_name, e.g. "eth0". */
  name?: string;
}

export interface PcapngWriterOptions {
  /** Interfaces to declare up front, in IDB order. */
  interfaces?: PcapngInterfaceOptions[];
  /** Link type of interfaces added on demand (a record naming an ifIndex not declared yet). */
  linkType?: number;
  /** tsresol of interfaces added on demand; default 9. */
  tsresol?: number;
  littleEndian?: boolean;
  /** shb_userappl; default "nfx". */
  application?: string;
}

/** Writes a pcapng file: one section (SHB), an IDB per interface, an EPB per packet. */
export class PcapngWriter extends ChunkedOutput {
  private readonly ifaces: { linkType: number; snaplen: number; tsresol: number }[] = [];
  private readonly units: UnitsOut = { hi: 0, lo: 0 };
  private readonly defaultLinkType: number | undefined;
  private readonly defaultTsresol: number;

  constructor(options: PcapngWriterOptions = {}, sink?: CaptureSink) {
    super(sink, options.littleEndian ?? true);
    this.defaultLinkType = options.linkType;
    this.defaultTsresol = options.tsresol ?? 9;
    const app = new TextEncoder().encode(options.application ?? 'nfx');
    const total = 28 + optionLen(app.length) + 4;
    const at = this.reserve(total);
    const dv = this.dv, le = this.le;
    dv.setUint32(at, BT_SHB, le);
    dv.setUint32(at + 4, total, le);
    dv.setUint32(at + 8, BYTE_ORDER_MAGIC, le);
    dv.setUint16(at + 12, 1, le);
    dv.setUint16(at + 14, 0, le);
    // Section length -1: "not specified", so the file can be streamed.
    dv.setInt32(at + 16, -1, le);
    dv.setInt32(at + 20, -1, le);
    let p = this.putOption(at + 24, SHB_USERAPPL, app);
    dv.setUint32(p, 0, le); // opt_endofopt
    p += 4;
    dv.setUint32(p, total, le);
    for (const iface of options.interfaces ?? []) this.addInterface(iface);
  }

  /** Declares an interface (writes its IDB) and returns its index. */
  addInterface(options: PcapngInterfaceOptions): number {
    const snaplen = checkSnaplen(options.snaplen ?? MAX_PACKET_LEN);
    const tsresol = options.tsresol ?? 9;
    if (!(Number.isInteger(tsresol) && tsresol >= 0 && tsresol <= 9)) throw new RangeError(`tsresol ${tsresol} not in 0..9`);
    const name = options.name !== undefined ? new TextEncoder().encode(options.name) : undefined;
    const total = 16 + (name !== undefined ? optionLen(name.length) : 0) + optionLen(1) + 4 + 4;
    const at = this.reserve(total);
    const dv = this.dv, le = this.le;
    dv.setUint32(at, BT_IDB, le);
    dv.setUint32(at + 4, total, le);
    dv.setUint16(at + 8, options.linkType, le);
    dv.setUint16(at + 10, 0, le);
    dv.setUint32(at + 12, snaplen, le);
    let p = at + 16;
    if (name !== undefined) p = this.putOption(p, IF_NAME, name);
    p = this.putOption(p, IF_TSRESOL, Uint8Array.of(tsresol));
    dv.setUint32(p, 0, le);
    dv.setUint32(p + 4, total, le);
    this.ifaces.push({ linkType: options.linkType, snaplen, tsresol });
    return this.ifaces.length - 1;
  }

  write(record: WritableRecord): void {
    const id = record.ifIndex ?? 0;
    if (id >= this.ifaces.length) {
      const linkType = record.linkType ?? this.defaultLinkType;
      if (linkType === undefined || id > this.ifaces.length + 1024) {
        throw new RangeError(`record on interface ${id}, but only ${this.ifaces.length} declared`);
      }
      while (this.ifaces.length <= id) this.addInterface({ linkType, tsresol: this.defaultTsresol });
    }
    const iface = this.ifaces[id]!;
    if (record.linkType !== undefined && record.linkType !== iface.linkType) {
      throw new RangeError(`record of link type ${record.linkType} on interface ${id} of link type ${iface.linkType}`);
    }
    const units = this.units;
    timeToUnits(record.tsSec, record.tsNsec, iface.tsresol, units);
    const data = record.data;
    const caplen = Math.min(data.length, iface.snaplen);
    const origLen = Math.max(record.origLen ?? data.length, data.length);
    const total = 32 + ((caplen + 3) & ~3);
    const at = this.reserve(total);
    const dv = this.dv, le = this.le;
    dv.setUint32(at, BT_EPB, le);
    dv.setUint32(at + 4, total, le);
    dv.setUint32(at + 8, id, le);
    dv.setUint32(at + 12, units.hi, le);
    dv.setUint32(at + 16, units.lo, le);
    dv.setUint32(at + 20, caplen, le);
    dv.setUint32(at + 24, origLen, le);
    this.buf.set(caplen === data.length ? data : data.subarray(0, caplen), at + 28);
    // Zero the padding: the buffer may be reused after a flush to a file descriptor.
    this.buf.fill(0, at + 28 + caplen, at + total - 4);
    dv.setUint32(at + total - 4, total, le);
  }

  private putOption(p: number, code: number, value: Uint8Array): number {
    this.dv.setUint16(p, code, this.le);
    this.dv.setUint16(p + 2, value.length, this.le);
    this.buf.set(value, p + 4);
    const padded = optionLen(value.length);
    this.buf.fill(0, p + 4 + value.length, p + padded);
    return p + padded;
  }
}

function optionLen(valueLen: number): number {
  return 4 + ((valueLen + 3) & ~3);
}

function checkSnaplen(snaplen: number): number {
  if (!(Number.isInteger(snaplen) && snaplen > 0 && snaplen <= MAX_PACKET_LEN)) {
    throw new RangeError(`snaplen ${snaplen} not in 1..${MAX_PACKET_LEN}`);
  }
  return snaplen;
}

export interface WritePcapFileOptions {
  /** Default 'pcap'. */
  format?: 'pcap' | 'pcapng';
  /** For pcap: the file's link type (default: the first record's, else Ethernet). For pcapng: of interfaces added on demand. */
  linkType?: number;
  /** pcap only: nanosecond timestamps. */
  nanosecond?: boolean;
  snaplen?: number;
  /** pcapng only: interfaces declared up front. */
  interfaces?: PcapngInterfaceOptions[];
}

/**
 * Writes `records` to `path` atomically: into a temporary file in the same
 * directory, flushed to disk, then renamed over `path` — readers never see a
 * half-written capture, and a failure leaves any old file in place. Returns
 * the number of packets written.
 */
export async function writePcapFile(
  path: string,
  records: Iterable<WritableRecord> | AsyncIterable<WritableRecord>,
  options: WritePcapFileOptions = {},
): Promise<number> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o644);
  let count = 0;
  try {
    let writer: PcapWriter | PcapngWriter | undefined;
    const make = (first: WritableRecord | undefined): PcapWriter | PcapngWriter => {
      const linkType = options.linkType ?? first?.linkType ?? LINKTYPE_ETHERNET;
      if (options.format === 'pcapng') {
        const o: PcapngWriterOptions = { linkType };
        if (options.interfaces !== undefined) o.interfaces = options.interfaces;
        return new PcapngWriter(o, { fd });
      }
      const o: PcapWriterOptions = { linkType, nanosecond: options.nanosecond ?? false };
      if (options.snaplen !== undefined) o.snaplen = options.snaplen;
      return new PcapWriter(o, { fd });
    };
    for await (const record of records) {
      writer ??= make(record);
      writer.write(record);
      count++;
    }
    writer ??= make(undefined);
    writer.close();
    fsyncSync(fd);
    closeSync(fd);
  } catch (err) {
    try { closeSync(fd); } catch { /* already closed */ }
    try { unlinkSync(tmp); } catch { /* never created */ }
    throw err;
  }
  renameSync(tmp, path);
  return count;
}
