/**
 * The packet layer's public surface (`nfx/packet`): the Packet buffer,
 * checksums, zero-copy header views, the dissector and the one-line printer;
 * pcap/pcapng and scapy-style expressions as namespaces (their names would
 * otherwise clash with the views'), with their main entry points also
 * exported by name.
 */
export * from './packet.js';
export * from './checksum.js';
export * from './errors.js';
export * from './wire/index.js';
export { dissect, CLI_FIELDS, SUPPORTED_LINK_TYPES } from './dissect.js';
export type { Dissection, FieldValue, Layer } from './dissect.js';
export { describe } from './describe.js';
export * as pcap from './pcap/index.js';
export { readCapture, readCaptureSync, PcapWriter, PcapngWriter, writePcapFile, PcapFormatError } from './pcap/index.js';
export type { CaptureRecord } from './pcap/index.js';
export * as scapy from './scapy/index.js';
export { packetFromExpression, parsePacketExpression, buildPacket, PacketExpressionError } from './scapy/index.js';
