/** IGMP v1 (RFC 1112 App. I), v2 (RFC 2236 §2) and v3 (RFC 3376 §4) basics. */
import { PacketParseError } from '../errors.js';
import { formatIPv4, need, u16, u32 } from './bytes.js';

export const IGMP_MIN_LEN = 8;

/** IGMP types (include/uapi/linux/igmp.h). */
export const IGMP_HOST_MEMBERSHIP_QUERY = 0x11;
export const IGMP_HOST_MEMBERSHIP_REPORT = 0x12;
export const IGMPV2_HOST_MEMBERSHIP_REPORT = 0x16;
export const IGMP_HOST_LEAVE_MESSAGE = 0x17;
export const IGMPV3_HOST_MEMBERSHIP_REPORT = 0x22;

export class IgmpView {
  constructor(readonly buf: Uint8Array, readonly off = 0, readonly end = buf.length) {
    need(buf, off, IGMP_MIN_LEN, 'igmp');
    if (end < off + IGMP_MIN_LEN || end > buf.length) throw new PacketParseError(`igmp: message ends at ${end}`, off);
  }
  get type(): number {
    return this.buf[this.off]!;
  }
  /** Max response time (v2) or code (v3); 0 in v1. */
  get maxResponse(): number {
    return this.buf[this.off + 1]!;
  }
  get checksum(): number {
    return u16(this.buf, this.off + 2);
  }
  get group(): number {
    return u32(this.buf, this.off + 4);
  }
  get groupText(): string {
    return formatIPv4(this.buf, this.off + 4);
  }
  get length(): number {
    return this.end - this.off;
  }
  /**
   * The version, decided as RFC 3376 §7.1 says a host does: a query of 12
   * bytes or more is v3, an 8-byte query with max response 0 is v1, else v2;
   * reports by type.
   */
  get version(): number {
    switch (this.type) {
      case IGMP_HOST_MEMBERSHIP_QUERY:
        if (this.length >= 12) return 3;
        return this.maxResponse === 0 ? 1 : 2;
      case IGMP_HOST_MEMBERSHIP_REPORT: return 1;
      case IGMPV2_HOST_MEMBERSHIP_REPORT:
      case IGMP_HOST_LEAVE_MESSAGE: return 2;
      case IGMPV3_HOST_MEMBERSHIP_REPORT: return 3;
      default: return 0;
    }
  }
  /** v3 query: S flag, QRV, QQIC and number of sources (RFC 3376 §4.1). */
  get v3QueryQrv(): number {
    need(this.buf, this.off, 12, 'igmpv3 query');
    return this.buf[this.off + 8]! & 7;
  }
  get v3QueryQqic(): number {
    need(this.buf, this.off, 12, 'igmpv3 query');
    return this.buf[this.off + 9]!;
  }
  get v3QueryNumberOfSources(): number {
    need(this.buf, this.off, 12, 'igmpv3 query');
    return u16(this.buf, this.off + 10);
  }
  /** v3 report: number of group records (RFC 3376 §4.2). */
  get v3ReportNumberOfRecords(): number {
    return u16(this.buf, this.off + 6);
  }
}
