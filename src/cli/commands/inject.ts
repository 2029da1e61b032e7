/**
 * `nfx -n H inject (--iif DEV | --local) [--json] [--trace] [-w OUT.pcap] [--listen PROTO/PORT]...
 *   (-r FILE | --hex HEX | PACKET...)`
 *
 * Sends each packet through the host as received on DEV (or sent by a local
 * process), in order, at the capture's timestamps on the host's virtual clock
 * (CLI.md "Packets through a host"), and keeps the host's state — ruleset
 * counters and sets, conntrack, the clock — saved only when the command succeeds.
 */
import { readCapture } from '../../packet/pcap/index.js';
import { LINKTYPE_ETHERNET, LINKTYPE_RAW, linkL3 } from '../../packet/pcap/index.js';
import { writePcapFile, type WritableRecord } from '../../packet/pcap/writer.js';
import { PcapFormatError } from '../../packet/pcap/errors.js';
import { PacketExpressionError, packetFromExpression } from '../../packet/scapy/index.js';
import { dissect } from '../../packet/dissect.js';
import { describe } from '../../packet/describe.js';
import { formatTrace } from '../../netfilter/trace.js';
import { loadHost, saveHost } from '../../host/store.js';
import { HostError } from '../../host/errors.js';
import { linkByName } from '../../host/links.js';
import type { Host } from '../../host/types.js';
import type { Listener } from '../../host/local-stack.js';
import { openPath, storePath } from '../../host/path/state.js';
import type { HostPath } from '../../host/path/walk.js';
import type { PacketOutcome } from '../../host/path/types.js';
import { CommandError, EXIT_OK, UsageError, type CliContext } from '../context.js';
import { guessLinkType } from './packet.js';

export const INJECT_USAGE = 'Usage: nfx [-n NETNS] inject (--iif DEV | --local) [--json] [--trace] [-w OUT.pcap] [--listen tcp|udp/PORT]... (-r FILE | --hex HEX | PACKET...)';

export interface InjectOptions {
  iif?: string;
  local: boolean;
  json: boolean;
  trace: boolean;
  write?: string;
  read?: string;
  hexInputs: string[];
  expressions: string[];
  listeners: Listener[];
}

const HEX_INPUT = /^(?:[0-9a-fA-F]{2}[:\s]?)+$/;

export function parseInjectArgs(argv: readonly string[], cmd = 'inject', usage = INJECT_USAGE): InjectOptions {
  const o: InjectOptions = { local: false, json: false, trace: false, hexInputs: [], expressions: [], listeners: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${cmd}: option "${a}" requires an argument\n${usage}`);
      return v;
    };
    switch (a) {
      case '--iif': case '-i': o.iif = value(); break;
      case '--local': o.local = true; break;
      case '--json': case '-j': o.json = true; break;
      case '--trace': o.trace = true; break;
      case '-w': o.write = value(); break;
      case '-r': o.read = value(); break;
      case '--hex': {
        const v = value();
        if (!HEX_INPUT.test(v)) throw new UsageError(`${cmd}: --hex takes hex digits, not "${v}"`);
        o.hexInputs.push(v);
        break;
      }
      case '--listen': {
        const v = value();
        const m = /^(tcp|udp)\/(\d+)$/.exec(v);
        if (!m || +m[2]! > 65535) throw new UsageError(`${cmd}: --listen takes tcp/PORT or udp/PORT, not "${v}"`);
        o.listeners.push({ proto: m[1] as 'tcp' | 'udp', port: +m[2]! });
        break;
      }
      case '--': o.expressions.push(...argv.slice(i + 1)); i = argv.length; break;
      default:
        if (a.startsWith('-') && a.length > 1) throw new UsageError(`${cmd}: unknown option "${a}"\n${usage}`);
        o.expressions.push(a);
    }
  }
  if ((o.iif !== undefined) === o.local) throw new UsageError(`${cmd}: say where packets come from: --iif DEV or --local\n${usage}`);
  const sources = (o.read !== undefined ? 1 : 0) + (o.hexInputs.length > 0 ? 1 : 0) + (o.expressions.length > 0 ? 1 : 0);
  if (sources === 0) throw new UsageError(`${cmd}: no packets given\n${usage}`);
  if (sources > 1) throw new UsageError(`${cmd}: give packets one way: -r FILE, --hex HEX or expressions\n${usage}`);
  return o;
}

/** One input packet: bytes, whether they start at layer 3, and the capture time. */
export interface InputPacket { data: Uint8Array; l3: boolean; tsSec: number; tsNsec: number; timed: boolean }

export async function* inputPackets(o: InjectOptions, ctx: CliContext): AsyncGenerator<InputPacket> {
  if (o.read !== undefined) {
    const source = o.read === '-' ? (async function* () { yield await ctx.readStdin(); })() : o.read;
    for await (const rec of readCapture(source)) {
      if (rec.linkType === LINKTYPE_ETHERNET) { yield { data: rec.data.slice(), l3: false, tsSec: rec.tsSec, tsNsec: rec.tsNsec, timed: true }; continue; }
      const l3 = linkL3(rec.linkType, rec.data);
      if (!l3) throw new CommandError(`nfx ${'inject'}: ${o.read}: a frame of link type ${rec.linkType} nfx cannot read`);
      yield { data: rec.data.slice(l3.offset), l3: true, tsSec: rec.tsSec, tsNsec: rec.tsNsec, timed: true };
    }
    return;
  }
  for (const hex of o.hexInputs) {
    const data = Uint8Array.from(Buffer.from(hex.replace(/[:\s]/g, ''), 'hex'));
    yield { data, l3: guessLinkType(data) === LINKTYPE_RAW, tsSec: 0, tsNsec: 0, timed: false };
  }
  for (const expr of o.expressions) {
    const ether = /^\s*Ether\s*\(/.test(expr);
    yield { data: packetFromExpression(expr, { link: 'raw' }), l3: !ether, tsSec: 0, tsNsec: 0, timed: false };
  }
}

/**
 * Moves the host's virtual clock to the packet's time (never backwards: the
 * host's time only runs forward). Timers due before it (IP-TFS init-delay and
 * drop-time) fire first, at their own deadlines, through `path.advance`.
 */
export function advanceClock(path: HostPath, p: InputPacket): void {
  if (!p.timed) return;
  const ms = p.tsSec * 1000 + p.tsNsec / 1e6;
  if (ms > path.clock.nowMs()) path.advance(ms);
}

/** Runs one input packet through the path. */
export function injectOne(path: HostPath, o: InjectOptions, p: InputPacket): PacketOutcome {
  if (o.local) return path.output(p.l3 ? p.data : p.data.subarray(14));
  return path.receive(o.iif!, p.data, p.l3);
}

export function checkDevice(host: Host, o: InjectOptions): void {
  if (o.iif !== undefined && !linkByName(host, o.iif)) throw new CommandError(`Cannot find device "${o.iif}"`);
}

export function loadHostOrFail(ctx: CliContext): Host {
  try {
    return loadHost(ctx);
  } catch (e) {
    if (e instanceof HostError) throw new CommandError(e.message);
    throw e;
  }
}

function hex(b: Uint8Array): string { return Buffer.from(b).toString('hex'); }

/** The JSON object CLI.md fixes for one packet (plus `by` for drops). */
export function outcomeJson(index: number, out: PacketOutcome): Record<string, unknown> {
  const o: Record<string, unknown> = { index, fate: out.fate };
  if (out.fate === 'dropped' && out.reason) o['reason'] = out.reason;
  o['emitted'] = out.emitted.map((e) => ({ dev: e.dev, hex: hex(e.frame) }));
  o['trace'] = out.trace;
  if (out.dropBy) o['by'] = out.dropBy;
  return o;
}

/** One readable line for a packet. */
export function outcomeLine(index: number, p: InputPacket, out: PacketOutcome): string {
  const what = describe(dissect(p.data, p.l3 ? LINKTYPE_RAW : LINKTYPE_ETHERNET));
  let fate: string = out.fate;
  if (out.fate === 'dropped') {
    fate += ` (${out.reason ?? 'NOT_SPECIFIED'})`;
    const by = out.dropBy;
    if (by?.kind === 'rule') fate += ` by ${by.family} ${by.table} ${by.chain} ${by.handle === null ? 'policy' : `handle ${by.handle}`} at ${by.hook}`;
    else if (by?.kind === 'check') fate += `: ${by.check}`;
  }
  const sent = out.emitted.length ? `; sent ${out.emitted.map((e) => e.dev).join(', ')}` : '';
  return `${index} ${what}: ${fate}${sent}`;
}

export async function injectCommand(argv: string[], ctx: CliContext): Promise<number> {
  const o = parseInjectArgs(argv);
  const host = loadHostOrFail(ctx);
  checkDevice(host, o);
  // Steps and rule events cost time; a plain replay needs only fates and frames.
  const path = openPath(host, { listeners: o.listeners, detail: o.json || o.trace });
  const written: (WritableRecord & { linkType: number })[] = [];
  // A packet an IP-TFS SA queued has no final fate until a timer fires (or a later
  // packet fills its payload): its line, and every line after it, wait so the
  // output stays in input order.
  const pending: { index: number; p: InputPacket; out: PacketOutcome }[] = [];
  const flush = (all: boolean): void => {
    while (pending.length && (all || pending[0]!.out.fate !== 'queued')) {
      const { index: i, p, out } = pending.shift()!;
      if (o.json) ctx.stdout(JSON.stringify(outcomeJson(i, out)) + '\n');
      else {
        ctx.stdout(outcomeLine(i, p, out) + '\n');
        if (o.trace) {
          for (const s of out.steps) for (const ev of s.traces ?? []) for (const line of formatTrace(ev)) ctx.stdout(`  ${line.trimEnd()}\n`);
        }
      }
      if (o.write !== undefined) {
        const ms = path.clock.nowMs();
        const tsSec = Math.floor(ms / 1000), tsNsec = Math.round((ms - tsSec * 1000) * 1e6);
        for (const e of out.emitted) written.push({ tsSec, tsNsec, data: e.frame, linkType: e.ether ? LINKTYPE_ETHERNET : LINKTYPE_RAW });
      }
    }
  };
  let index = 0;
  try {
    for await (const p of inputPackets(o, ctx)) {
      advanceClock(path, p);
      pending.push({ index: index++, p, out: injectOne(path, o, p) });
      flush(false);
    }
    // The end of the input: queues empty out, held payloads give up their gaps.
    path.drain();
    flush(true);
  } catch (e) {
    if (e instanceof PacketExpressionError) throw new CommandError(e.format());
    if (e instanceof PcapFormatError) throw new CommandError(`nfx inject: ${o.read}: ${e.message}`);
    if (e instanceof Error && 'code' in e && e.code === 'ENOENT') throw new CommandError(`nfx inject: ${o.read}: No such file or directory`);
    throw e;
  }
  if (o.write !== undefined) await writeCapture(o.write, written);
  storePath(host, path);
  saveHost(ctx, host);
  return EXIT_OK;
}

/** One link type: a classic pcap; Ethernet and bare IP mixed: pcapng with one interface each. */
async function writeCapture(path: string, records: (WritableRecord & { linkType: number })[]): Promise<void> {
  const types = [...new Set(records.map((r) => r.linkType))];
  if (types.length <= 1 && !path.endsWith('.pcapng')) {
    await writePcapFile(path, records, { linkType: types[0] ?? LINKTYPE_ETHERNET, nanosecond: false });
    return;
  }
  await writePcapFile(path, records.map((r) => ({ ...r, ifIndex: types.indexOf(r.linkType) })), { format: 'pcapng', interfaces: types.map((linkType) => ({ linkType })) });
}
