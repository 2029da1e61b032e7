/**
 * `nfx packet [--json] [--hex] [--link ether|raw] [-w OUT.pcap] (-r FILE | --hex HEX | PACKET...)`
 *
 * Dissects or builds packets (CLI.md "Packets alone"). Without --json each
 * packet is one tcpdump-style line; with --json one object of Wireshark
 * display-filter fields per line. `--hex` has two roles, told apart by what
 * follows it: `--hex 4500...` is a frame given as hex digits; a bare `--hex`
 * prints each packet's bytes as hex.
 */
import { readCapture } from '../../packet/pcap/index.js';
import { LINKTYPE_ETHERNET, LINKTYPE_RAW } from '../../packet/pcap/linktype.js';
import { writePcapFile, type WritableRecord } from '../../packet/pcap/writer.js';
import { dissect } from '../../packet/dissect.js';
import { describe } from '../../packet/describe.js';
import { PacketExpressionError, packetFromExpression } from '../../packet/scapy/index.js';
import { PcapFormatError } from '../../packet/pcap/errors.js';
import { CommandError, EXIT_OK, UsageError, type CliContext } from '../context.js';

export const PACKET_USAGE = 'Usage: nfx packet [--json] [--hex] [--link ether|raw] [-w OUT.pcap] (-r FILE | --hex HEX | PACKET...)';

interface PacketOptions {
  json: boolean;
  printHex: boolean;
  link: 'ether' | 'raw' | 'auto';
  write?: string;
  read?: string;
  hexInputs: string[];
  expressions: string[];
}

const HEX_INPUT = /^(?:[0-9a-fA-F]{2}[:\s]?)+$/;

export function parsePacketArgs(argv: readonly string[]): PacketOptions {
  const o: PacketOptions = { json: false, printHex: false, link: 'auto', hexInputs: [], expressions: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`packet: option "${a}" requires an argument\n${PACKET_USAGE}`);
      return v;
    };
    switch (a) {
      case '--json': case '-j': o.json = true; break;
      case '-w': o.write = value(); break;
      case '-r': o.read = value(); break;
      case '--link': {
        const v = value();
        if (v !== 'ether' && v !== 'raw') throw new UsageError(`packet: --link takes "ether" or "raw", not "${v}"`);
        o.link = v;
        break;
      }
      case '--hex': {
        const next = argv[i + 1];
        if (next !== undefined && HEX_INPUT.test(next)) o.hexInputs.push(argv[++i]!);
        else o.printHex = true;
        break;
      }
      case '--': o.expressions.push(...argv.slice(i + 1)); i = argv.length; break;
      default:
        if (a.startsWith('-') && a.length > 1) throw new UsageError(`packet: unknown option "${a}"\n${PACKET_USAGE}`);
        o.expressions.push(a);
    }
  }
  const sources = (o.read !== undefined ? 1 : 0) + (o.hexInputs.length > 0 ? 1 : 0) + (o.expressions.length > 0 ? 1 : 0);
  if (sources === 0) throw new UsageError(`packet: no packets given\n${PACKET_USAGE}`);
  if (sources > 1) throw new UsageError(`packet: give packets one way: -r FILE, --hex HEX or expressions\n${PACKET_USAGE}`);
  return o;
}

/**
 * A frame given as bytes with no link type: an IPv4 or IPv6 header that is
 * consistent with the byte count is taken as raw IP, anything else as Ethernet.
 */
export function guessLinkType(bytes: Uint8Array): number {
  const v = bytes[0]! >> 4;
  if (v === 4 && bytes.length >= 20 && (bytes[0]! & 0x0f) >= 5 && ((bytes[2]! << 8) | bytes[3]!) === bytes.length) return LINKTYPE_RAW;
  if (v === 6 && bytes.length >= 40 && ((bytes[4]! << 8) | bytes[5]!) + 40 === bytes.length) return LINKTYPE_RAW;
  return LINKTYPE_ETHERNET;
}

async function* packets(o: PacketOptions, ctx: CliContext): AsyncGenerator<WritableRecord & { linkType: number }> {
  if (o.read !== undefined) {
    const source = o.read === '-' ? (async function* () { yield await ctx.readStdin(); })() : o.read;
    yield* readCapture(source);
    return;
  }
  for (const hex of o.hexInputs) {
    const data = Uint8Array.from(Buffer.from(hex.replace(/[:\s]/g, ''), 'hex'));
    const linkType = o.link === 'ether' ? LINKTYPE_ETHERNET : o.link === 'raw' ? LINKTYPE_RAW : guessLinkType(data);
    yield { tsSec: 0, tsNsec: 0, data, linkType };
  }
  for (const expr of o.expressions) {
    const data = packetFromExpression(expr, { link: o.link === 'ether' ? 'ether' : 'raw' });
    // An expression that starts with Ether() (or had one added) is a frame; otherwise layer 3.
    const startsWithEther = o.link === 'ether' || /^\s*Ether\s*\(/.test(expr);
    yield { tsSec: 0, tsNsec: 0, data, linkType: startsWithEther ? LINKTYPE_ETHERNET : LINKTYPE_RAW };
  }
}

export async function packetCommand(argv: string[], ctx: CliContext): Promise<number> {
  const o = parsePacketArgs(argv);
  const written: (WritableRecord & { linkType: number })[] = [];
  try {
    for await (const rec of packets(o, ctx)) {
      const d = dissect(rec.data, rec.linkType);
      if (o.json) {
        const obj: Record<string, unknown> = { ...d.fields };
        if (o.printHex) obj['hex'] = Buffer.from(rec.data).toString('hex');
        if (d.malformed !== undefined) obj['malformed'] = d.malformed;
        ctx.stdout(JSON.stringify(obj) + '\n');
      } else {
        ctx.stdout(describe(d) + '\n');
        if (o.printHex) ctx.stdout(Buffer.from(rec.data).toString('hex') + '\n');
      }
      // Records from a capture are views into the reader's buffers, kept alive only as long as needed.
      if (o.write !== undefined) written.push({ ...rec, data: rec.data.slice() });
    }
  } catch (e) {
    if (e instanceof PacketExpressionError) throw new CommandError(e.format());
    if (e instanceof PcapFormatError) throw new CommandError(`nfx packet: ${o.read}: ${e.message}`);
    if (e instanceof Error && 'code' in e && e.code === 'ENOENT') throw new CommandError(`nfx packet: ${o.read}: No such file or directory`);
    throw e;
  }
  if (o.write !== undefined) await writeCapture(o.write, written);
  return EXIT_OK;
}

/** One link type: a classic pcap; mixed (Ethernet frames and bare IP): pcapng, one interface each. */
async function writeCapture(path: string, records: (WritableRecord & { linkType: number })[]): Promise<void> {
  const types = [...new Set(records.map((r) => r.linkType))];
  if (types.length <= 1 && !path.endsWith('.pcapng')) {
    await writePcapFile(path, records, { linkType: types[0] ?? LINKTYPE_ETHERNET, nanosecond: false });
    return;
  }
  const interfaces = types.map((linkType) => ({ linkType }));
  await writePcapFile(path, records.map((r) => ({ ...r, ifIndex: types.indexOf(r.linkType) })), { format: 'pcapng', interfaces });
}
