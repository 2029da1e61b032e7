/**
 * The evaluated form of a packet expression: layer instances whose fields
 * hold checked, converted values, linked to the layers around them, and the
 * layer definitions (field tables) they are checked against.
 */
import type { TcpOptionRepr } from '../build/tcp.js';
import type { SourceLocation } from './errors.js';

/**
 * How a field's value is written in an expression and held after checking:
 * int → number (enum names and flag strings resolved), mac/ip4/ip6 → address
 * text, bytes → Uint8Array, lists → arrays, sub → nested layer instances.
 * null stands for scapy's None ("compute it").
 */
export type FieldType =
  | { kind: 'int'; bits: number; enum?: Readonly<Record<string, number>>; enumBy?: { field: string; tables: Readonly<Record<number, Readonly<Record<string, number>>>> } }
  | { kind: 'flags'; bits: number; names: string | readonly string[] }
  | { kind: 'mac' }
  | { kind: 'ip4' }
  | { kind: 'ip6' }
  | { kind: 'bytes' }
  | { kind: 'ip4list' }
  | { kind: 'ip6list' }
  | { kind: 'tcpoptions' }
  | { kind: 'sub'; of: readonly string[] }
  /** A whole packet (a layer chain), built to bytes when the field is written. */
  | { kind: 'packet' };

export type FieldValue = number | string | Uint8Array | null | string[] | LayerInst[] | TcpOptionRepr[];

export interface FieldSpec {
  name: string;
  type: FieldType;
  default: FieldValue;
}

export interface LayerDef {
  /** The scapy class name used in expressions. */
  name: string;
  /** Python isinstance() ancestry, own name first (e.g. IPerror → IPerror, IP). */
  classes: readonly string[];
  fields: readonly FieldSpec[];
  /** Network layer: when it is outermost on an Ethernet link, Ether() is added. */
  l3?: boolean;
  /** A sub-packet that only appears inside a field (options, records), never in the layer chain. */
  inner?: boolean;
  /** scapy's Padding: contributes nothing to lengths, appended after everything. */
  padding?: boolean;
  /** Builds this layer over its already-built payload. */
  emit(l: LayerInst, payload: Uint8Array): Uint8Array;
  /** Positional argument accepted (Raw/Padding load), by field name. */
  positional?: string;
}

export interface LayerInst {
  def: LayerDef;
  loc: SourceLocation;
  /** Fields given in the expression. */
  set: Map<string, FieldValue>;
  /** Fields imposed by the layer above (bindings). */
  over: Readonly<Record<string, FieldValue>>;
  under: LayerInst | null;
  upper: LayerInst | null;
}

export function spec(def: LayerDef, name: string): FieldSpec | undefined {
  return def.fields.find((f) => f.name === name);
}

/** The value scapy would use: given, else imposed by the upper layer, else the default. */
export function get(l: LayerInst, name: string): FieldValue {
  if (l.set.has(name)) return l.set.get(name)!;
  if (Object.hasOwn(l.over, name) && spec(l.def, name)) return l.over[name]!;
  const s = spec(l.def, name);
  if (!s) throw new Error(`${l.def.name} has no field ${name}`);
  return s.default;
}

export const num = (l: LayerInst, name: string): number => {
  const v = get(l, name);
  return typeof v === 'number' ? v : 0;
};
export const numOrNull = (l: LayerInst, name: string): number | null => {
  const v = get(l, name);
  return typeof v === 'number' ? v : null;
};
export const str = (l: LayerInst, name: string): string => get(l, name) as string;
export const bytesOf = (l: LayerInst, name: string): Uint8Array => {
  const v = get(l, name);
  return v instanceof Uint8Array ? v : new Uint8Array(0);
};
export const list = (l: LayerInst, name: string): string[] => (get(l, name) as string[] | null) ?? [];
export const subs = (l: LayerInst, name: string): LayerInst[] => (get(l, name) as LayerInst[] | null) ?? [];

export function isA(l: LayerInst | null, cls: string): boolean {
  return l !== null && l.def.classes.includes(cls);
}

/** Shorthands for field tables. */
export const F = {
  int: (name: string, bits: number, def: number | null, e?: Readonly<Record<string, number>>): FieldSpec =>
    ({ name, type: e ? { kind: 'int', bits, enum: e } : { kind: 'int', bits }, default: def }),
  flags: (name: string, bits: number, def: number, names: string | readonly string[]): FieldSpec => ({ name, type: { kind: 'flags', bits, names }, default: def }),
  mac: (name: string, def: string | null): FieldSpec => ({ name, type: { kind: 'mac' }, default: def }),
  ip4: (name: string, def: string | null): FieldSpec => ({ name, type: { kind: 'ip4' }, default: def }),
  ip6: (name: string, def: string | null): FieldSpec => ({ name, type: { kind: 'ip6' }, default: def }),
  bytes: (name: string, def: Uint8Array | null = new Uint8Array(0)): FieldSpec => ({ name, type: { kind: 'bytes' }, default: def }),
  ip4list: (name: string): FieldSpec => ({ name, type: { kind: 'ip4list' }, default: [] }),
  ip6list: (name: string, def: string[] = []): FieldSpec => ({ name, type: { kind: 'ip6list' }, default: def }),
  sub: (name: string, of: readonly string[]): FieldSpec => ({ name, type: { kind: 'sub', of }, default: [] }),
};
