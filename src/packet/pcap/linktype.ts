/**
 * Link-layer header types as they appear in capture files: the LINKTYPE_*
 * values of the tcpdump.org registry (pcap-linktype(7)), which are what the
 * `network` field of a pcap header and the LinkType of a pcapng IDB hold.
 * They are not always the DLT_* values of the capturing OS (DLT_RAW is 12 or
 * 14 on some BSDs but files say 101).
 */

/** BSD loopback: a 4-byte host-order address family, then the packet. */
export const LINKTYPE_NULL = 0;
/** IEEE 802.3 Ethernet (DIX and 802.3 framing), no FCS. */
export const LINKTYPE_ETHERNET = 1;
/** Raw IP; the version nibble of the first byte says IPv4 or IPv6. */
export const LINKTYPE_RAW = 101;
/** Linux "cooked" capture v1 (`tcpdump -i any` before libpcap 1.10): 16-byte SLL header. */
export const LINKTYPE_LINUX_SLL = 113;
/** Raw IPv4, no link header. */
export const LINKTYPE_IPV4 = 228;
/** Raw IPv6, no link header. */
export const LINKTYPE_IPV6 = 229;
/** Linux "cooked" capture v2 (libpcap ≥ 1.10): 20-byte SLL2 header with the ifindex. */
export const LINKTYPE_LINUX_SLL2 = 276;

const NAMES: ReadonlyMap<number, string> = new Map([
  [LINKTYPE_NULL, 'NULL'],
  [LINKTYPE_ETHERNET, 'EN10MB'],
  [LINKTYPE_RAW, 'RAW'],
  [LINKTYPE_LINUX_SLL, 'LINUX_SLL'],
  [LINKTYPE_IPV4, 'IPV4'],
  [LINKTYPE_IPV6, 'IPV6'],
  [LINKTYPE_LINUX_SLL2, 'LINUX_SLL2'],
]);

/** The name tcpdump prints for a link type (`tcpdump -r f` → "link-type EN10MB"), or `LINKTYPE_<n>`. */
export function linkTypeName(linkType: number): string {
  return NAMES.get(linkType) ?? `LINKTYPE_${linkType}`;
}

/** The link types nfx can take packets from (the others are read, and left to the caller). */
export function isSupportedLinkType(linkType: number): boolean {
  return NAMES.has(linkType) && linkType !== LINKTYPE_NULL;
}
