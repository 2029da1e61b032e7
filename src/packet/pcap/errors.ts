import { PacketParseError } from '../errors.js';

/**
 * A capture file that is not a well-formed pcap or pcapng file. It is the
 * only exception the capture readers throw on bad input, and it always says
 * where: `offset` is the absolute byte offset in the file (or stream) of the
 * header, record or field at fault. It extends PacketParseError so code that
 * guards "any parse error from untrusted bytes" catches it too.
 */
export class PcapFormatError extends PacketParseError {
  constructor(message: string, offset: number) {
    super(`${message} (at byte ${offset})`, offset);
    // PacketParseError fixes `name` as a literal; the subclass still wants its own in stack traces.
    Object.defineProperty(this, 'name', { value: 'PcapFormatError' });
  }
}
