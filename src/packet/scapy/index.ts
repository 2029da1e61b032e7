/**
 * Packet expressions in scapy's notation:
 *   Ether(dst="…")/Dot1Q(vlan=5)/IP(src="10.0.0.1",dst="10.0.0.2",ttl=3)/TCP(dport=22,flags="S")/Raw(load="hi")
 * scanner.ts → parser.ts → evaluate.ts (layer tables in layers*.ts) → build.ts.
 */
import { buildLayers, type BuildOptions } from './build.js';
import { evaluate } from './evaluate.js';
import { REGISTRY } from './layers.js';
import type { LayerInst } from './model.js';
import { parseExpressionSyntax } from './parser.js';

export { PacketExpressionError } from './errors.js';
export type { PacketExpressionErrorCode, SourceLocation } from './errors.js';
export type { BuildOptions } from './build.js';
export type { LayerDef, LayerInst, FieldValue } from './model.js';
export { LAYERS } from './layers.js';

export interface ParsedPacket {
  source: string;
  /** Layers outermost first, fields checked and converted. */
  layers: LayerInst[];
}

/** Parses and checks an expression; throws PacketExpressionError (with a location) when it is wrong. */
export function parsePacketExpression(text: string): ParsedPacket {
  return { source: text, layers: evaluate(parseExpressionSyntax(text), REGISTRY) };
}

/** The packet's bytes, with lengths, checksums and defaults filled in as scapy fills them. */
export function buildPacket(parsed: ParsedPacket, opts?: BuildOptions): Uint8Array {
  return buildLayers(parsed.layers, opts);
}

export function packetFromExpression(text: string, opts?: BuildOptions): Uint8Array {
  return buildPacket(parsePacketExpression(text), opts);
}
