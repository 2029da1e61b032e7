/**
 * The capture-file state machine shared by the streaming and the in-memory
 * readers. It is fed a window of bytes and cuts one unit (file header,
 * record, block) at a time, so the caller decides how bytes arrive and the
 * parser never reads ahead. Records are views into the window — no copy.
 *
 * Formats: classic pcap (libpcap's savefile format, pcap-savefile(5);
 * draft-ietf-opsawg-pcap) and pcapng (draft-ietf-opsawg-pcapng).
 */
import { PcapFormatError } from './errors.js';
import { tsResolution, TSRESOL_USEC, unitsToTime } from './timestamp.js';
import type { TimeOut, TsResolution } from './timestamp.js';

/** One captured packet as read from a file. */
export interface CaptureRecord {
  /** LINKTYPE_* of the interface the packet was captured on. */
  linkType: number;
  /** Capture time: seconds since the epoch, and nanoseconds within the second. */
  tsSec: number;
  tsNsec: number;
  /** Length of the packet on the wire; `data.length` is less when it was truncated by a snaplen. */
  origLen: number;
  /** The captured bytes (a view into the reader's buffer; see readCapture). */
  data: Uint8Array;
  /** Interface index in the file: 0 for pcap; for pcapng the IDB's position counted over all sections. */
  ifIndex: number;
}

/**
 * Largest packet we accept: libpcap's MAXIMUM_SNAPLEN and Wireshark's
 * WTAP_MAX_PACKET_SIZE_STANDARD (256 KiB). Longer lengths in a header are
 * corruption, and refusing them bounds the reader's memory.
 */
export const MAX_PACKET_LEN = 262144;
/** Largest pcapng block: a maximal packet plus room for the block header and options. */
export const MAX_BLOCK_LEN = MAX_PACKET_LEN + 65536;
/** Interfaces per pcapng section; more is a corrupt or hostile file. */
const MAX_INTERFACES = 65536;

// Classic pcap magic numbers as read big-endian (pcap-savefile(5)).
export const PCAP_MAGIC_USEC = 0xa1b2c3d4;
export const PCAP_MAGIC_NSEC = 0xa1b23c4d;
const PCAP_MAGIC_USEC_SWAPPED = 0xd4c3b2a1;
const PCAP_MAGIC_NSEC_SWAPPED = 0x4d3cb2a1;
export const PCAP_FILE_HDR_LEN = 24;
export const PCAP_REC_HDR_LEN = 16;

// pcapng block types (draft-ietf-opsawg-pcapng §11.1).
export const BT_SHB = 0x0a0d0d0a;
export const BT_IDB = 0x00000001;
/** The obsolete Packet Block (Appendix A), still written by old tools. */
export const BT_PB = 0x00000002;
export const BT_SPB = 0x00000003;
export const BT_EPB = 0x00000006;
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
// Option codes (§4.2): the two that change how packets are read.
export const OPT_ENDOFOPT = 0;
export const IF_TSRESOL = 9;
export const IF_TSOFFSET = 14;

const FMT_UNKNOWN = 0;
const FMT_PCAP = 1;
const FMT_PCAPNG = 2;

interface Interface {
  linkType: number;
  snaplen: number;
  res: TsResolution;
  /** if_tsoffset: seconds added to every timestamp. */
  tsOffset: number;
  globalIndex: number;
}

export class CaptureParser {
  /** Set by step() when the unit it consumed was a packet; the caller takes it and clears it. */
  record: CaptureRecord | null = null;
  /** After step() returned 0: how many bytes the pending unit needs in all. */
  needed = 4;
  private what = 'file header';
  private format = FMT_UNKNOWN;
  private le = true;
  private linkType = 0;
  private nanosecond = false;
  private ifaces: Interface[] = [];
  private ifaceTotal = 0;
  private readonly time: TimeOut = { sec: 0, nsec: 0 };

  /**
   * Cuts one unit from `b[off, end)`; `pos` is the absolute file offset of
   * `b[off]` and `dv` a DataView on `b.buffer`. Returns the bytes consumed,
   * or 0 when the unit is not complete yet (see `needed`). Throws only
   * PcapFormatError.
   */
  step(b: Uint8Array, dv: DataView, off: number, end: number, pos: number): number {
    const avail = end - off;
    const at = b.byteOffset + off;
    if (this.format === FMT_PCAP) return this.pcapRecord(b, dv, off, at, avail, pos);
    if (this.format === FMT_PCAPNG) return this.pcapngBlock(b, dv, off, at, avail, pos);
    if (avail < 4) return this.need(4, 'file header');
    const magic = dv.getUint32(at, false);
    switch (magic) {
      case PCAP_MAGIC_USEC: case PCAP_MAGIC_NSEC: case PCAP_MAGIC_USEC_SWAPPED: case PCAP_MAGIC_NSEC_SWAPPED: {
        if (avail < PCAP_FILE_HDR_LEN) return this.need(PCAP_FILE_HDR_LEN, 'pcap file header');
        this.le = magic === PCAP_MAGIC_USEC_SWAPPED || magic === PCAP_MAGIC_NSEC_SWAPPED;
        this.nanosecond = magic === PCAP_MAGIC_NSEC || magic === PCAP_MAGIC_NSEC_SWAPPED;
        const major = dv.getUint16(at + 4, this.le);
        if (major !== 2) throw new PcapFormatError(`unsupported pcap version ${major}.${dv.getUint16(at + 6, this.le)}`, pos + 4);
        // The top 6 bits of the link-type word carry FCS information (LT_LINKTYPE in libpcap).
        this.linkType = dv.getUint32(at + 20, this.le) & 0x03ffffff;
        this.format = FMT_PCAP;
        return PCAP_FILE_HDR_LEN;
      }
      case BT_SHB:
        this.format = FMT_PCAPNG;
        return this.pcapngBlock(b, dv, off, at, avail, pos);
      default:
        throw new PcapFormatError(`not a pcap or pcapng file: magic 0x${magic.toString(16).padStart(8, '0')}`, pos);
    }
  }

  /** Called at end of input with the bytes left unconsumed; throws if the file ended mid-unit. */
  finish(leftover: number, pos: number): void {
    if (this.format === FMT_UNKNOWN) {
      throw new PcapFormatError(leftover === 0 ? 'empty capture file' : `truncated ${this.what}`, pos);
    }
    if (leftover > 0) throw new PcapFormatError(`truncated ${this.what}: ${leftover} of ${this.needed} bytes`, pos);
  }

  private need(n: number, what: string): number {
    this.needed = n;
    this.what = what;
    return 0;
  }

  private pcapRecord(b: Uint8Array, dv: DataView, off: number, at: number, avail: number, pos: number): number {
    if (avail < PCAP_REC_HDR_LEN) return this.need(PCAP_REC_HDR_LEN, 'pcap record header');
    const le = this.le;
    const caplen = dv.getUint32(at + 8, le);
    if (caplen > MAX_PACKET_LEN) throw new PcapFormatError(`pcap record length ${caplen} exceeds ${MAX_PACKET_LEN}`, pos + 8);
    const total = PCAP_REC_HDR_LEN + caplen;
    if (avail < total) return this.need(total, 'pcap record');
    let sec = dv.getUint32(at, le);
    let nsec = dv.getUint32(at + 4, le);
    if (!this.nanosecond) nsec *= 1000;
    if (nsec >= 1e9) {
      // Out-of-range fraction (some writers carry badly): fold it into the seconds.
      const carry = Math.floor(nsec / 1e9);
      sec += carry;
      nsec -= carry * 1e9;
    }
    const data = b.subarray(off + PCAP_REC_HDR_LEN, off + total);
    this.record = { linkType: this.linkType, tsSec: sec, tsNsec: nsec, origLen: dv.getUint32(at + 12, le), data, ifIndex: 0 };
    return total;
  }

  private pcapngBlock(b: Uint8Array, dv: DataView, off: number, at: number, avail: number, pos: number): number {
    if (avail < 12) return this.need(12, 'pcapng block header');
    let le = this.le;
    const type = dv.getUint32(at, le);
    if (type === BT_SHB) {
      // The section's byte order is only known from its byte-order magic.
      const bom = dv.getUint32(at + 8, false);
      if (bom === BYTE_ORDER_MAGIC) le = false;
      else if (bom === 0x4d3c2b1a) le = true;
      else throw new PcapFormatError(`bad pcapng byte-order magic 0x${bom.toString(16).padStart(8, '0')}`, pos + 8);
    }
    const total = dv.getUint32(at + 4, le);
    const minimum = type === BT_SHB ? 28 : 12;
    if (total < minimum) throw new PcapFormatError(`pcapng block length ${total} below ${minimum}`, pos + 4);
    if (total % 4 !== 0) throw new PcapFormatError(`pcapng block length ${total} not a multiple of 4`, pos + 4);
    if (total > MAX_BLOCK_LEN) throw new PcapFormatError(`pcapng block length ${total} exceeds ${MAX_BLOCK_LEN}`, pos + 4);
    if (avail < total) return this.need(total, 'pcapng block');
    const trailer = dv.getUint32(at + total - 4, le);
    if (trailer !== total) {
      throw new PcapFormatError(`pcapng block trailing length ${trailer} differs from ${total}`, pos + total - 4);
    }
    const bodyLen = total - 12;
    switch (type) {
      case BT_SHB: {
        const major = dv.getUint16(at + 12, le);
        if (major !== 1) throw new PcapFormatError(`unsupported pcapng version ${major}`, pos + 12);
        this.le = le;
        this.ifaces = [];
        return total;
      }
      case BT_IDB:
        this.interfaceBlock(dv, at, bodyLen, pos);
        return total;
      case BT_EPB: {
        if (bodyLen < 20) throw new PcapFormatError(`enhanced packet block too short (${total})`, pos + 4);
        const iface = this.iface(dv.getUint32(at + 8, le), pos + 8);
        const caplen = dv.getUint32(at + 20, le);
        if (caplen > MAX_PACKET_LEN) throw new PcapFormatError(`packet length ${caplen} exceeds ${MAX_PACKET_LEN}`, pos + 20);
        if (caplen > bodyLen - 20) throw new PcapFormatError(`packet length ${caplen} overruns its block`, pos + 20);
        unitsToTime(dv.getUint32(at + 12, le), dv.getUint32(at + 16, le), iface.res, this.time);
        this.emit(iface, b.subarray(off + 28, off + 28 + caplen), dv.getUint32(at + 24, le));
        return total;
      }
      case BT_SPB: {
        if (bodyLen < 4) throw new PcapFormatError(`simple packet block too short (${total})`, pos + 4);
        const iface = this.iface(0, pos);
        const origLen = dv.getUint32(at + 8, le);
        // §4.4: the captured length is what the block, the snaplen and the original length all allow.
        let caplen = Math.min(origLen, bodyLen - 4, MAX_PACKET_LEN);
        if (iface.snaplen !== 0) caplen = Math.min(caplen, iface.snaplen);
        this.time.sec = 0;
        this.time.nsec = 0;
        this.emit(iface, b.subarray(off + 12, off + 12 + caplen), origLen, false);
        return total;
      }
      case BT_PB: {
        if (bodyLen < 20) throw new PcapFormatError(`packet block too short (${total})`, pos + 4);
        const iface = this.iface(dv.getUint16(at + 8, le), pos + 8);
        const caplen = dv.getUint32(at + 20, le);
        if (caplen > MAX_PACKET_LEN) throw new PcapFormatError(`packet length ${caplen} exceeds ${MAX_PACKET_LEN}`, pos + 20);
        if (caplen > bodyLen - 20) throw new PcapFormatError(`packet length ${caplen} overruns its block`, pos + 20);
        unitsToTime(dv.getUint32(at + 12, le), dv.getUint32(at + 16, le), iface.res, this.time);
        this.emit(iface, b.subarray(off + 28, off + 28 + caplen), dv.getUint32(at + 24, le));
        return total;
      }
      default:
        // NRB, ISB, DSB, custom and future blocks carry nothing a packet reader needs (§3.1: skip unknown).
        return total;
    }
  }

  private iface(id: number, pos: number): Interface {
    const iface = this.ifaces[id];
    if (iface === undefined) throw new PcapFormatError(`packet on interface ${id}, but the section defines ${this.ifaces.length}`, pos);
    return iface;
  }

  private emit(iface: Interface, data: Uint8Array, origLen: number, applyOffset = true): void {
    const t = this.time;
    this.record = {
      linkType: iface.linkType,
      tsSec: applyOffset ? t.sec + iface.tsOffset : 0,
      tsNsec: t.nsec,
      origLen,
      data,
      ifIndex: iface.globalIndex,
    };
  }

  private interfaceBlock(dv: DataView, at: number, bodyLen: number, pos: number): void {
    if (bodyLen < 8) throw new PcapFormatError(`interface description block too short (${bodyLen + 12})`, pos + 4);
    if (this.ifaces.length >= MAX_INTERFACES) throw new PcapFormatError(`more than ${MAX_INTERFACES} interfaces in a section`, pos);
    const le = this.le;
    let res = TSRESOL_USEC;
    let tsOffset = 0;
    const end = at + 8 + bodyLen;
    let p = at + 16;
    while (p + 4 <= end) {
      const code = dv.getUint16(p, le);
      const len = dv.getUint16(p + 2, le);
      if (code === OPT_ENDOFOPT) break;
      if (p + 4 + len > end) throw new PcapFormatError(`interface option ${code} overruns its block`, pos + (p - at));
      if (code === IF_TSRESOL && len >= 1) {
        res = tsResolution(dv.getUint8(p + 4));
      } else if (code === IF_TSOFFSET && len >= 8) {
        // A signed 64-bit count of seconds, in the section's byte order.
        const hi = dv.getInt32(p + 4 + (le ? 4 : 0), le);
        const lo = dv.getUint32(p + 4 + (le ? 0 : 4), le);
        tsOffset = hi * 4294967296 + lo;
      }
      p += 4 + ((len + 3) & ~3);
    }
    this.ifaces.push({
      linkType: dv.getUint16(at + 8, le),
      snaplen: dv.getUint32(at + 12, le),
      res,
      tsOffset,
      globalIndex: this.ifaceTotal++,
    });
  }
}
