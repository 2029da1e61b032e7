/** pcap and pcapng: read (streaming or in memory) and write. */
export { PcapFormatError } from './errors.js';
export type { CaptureRecord } from './parser.js';
export { MAX_PACKET_LEN, MAX_BLOCK_LEN } from './parser.js';
export { readCapture, readCaptureSync, DEFAULT_CHUNK_SIZE } from './reader.js';
export type { ReadCaptureOptions } from './reader.js';
export { PcapWriter, PcapngWriter, writePcapFile } from './writer.js';
export type {
  CaptureSink, PcapngInterfaceOptions, PcapngWriterOptions, PcapWriterOptions, WritableRecord, WritePcapFileOptions,
} from './writer.js';
export * from './linktype.js';
export {
  ETH_HLEN, ETH_P_IP, ETH_P_IPV6, linkL3, PACKET_BROADCAST, PACKET_HOST, PACKET_MULTICAST, PACKET_OTHERHOST,
  PACKET_OUTGOING, Sll2View, SLL2_HDR_LEN, SllView, SLL_HDR_LEN, stripCooked,
} from './cooked.js';
export type { L3Start } from './cooked.js';
