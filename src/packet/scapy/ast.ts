/** Syntax tree of a packet expression; every node carries its source location. */
import type { SourceLocation } from './errors.js';

export type ValueNode =
  | { kind: 'int'; value: bigint; loc: SourceLocation }
  | { kind: 'str'; value: string; loc: SourceLocation }
  | { kind: 'bytes'; value: Uint8Array; loc: SourceLocation }
  | { kind: 'none' | 'true' | 'false'; loc: SourceLocation }
  | { kind: 'list' | 'tuple'; items: ValueNode[]; loc: SourceLocation }
  | { kind: 'call'; call: CallNode; loc: SourceLocation }
  /** A whole packet as a value (`pkt=IPv6()/UDP()`), for fields that hold one. */
  | { kind: 'packet'; layers: CallNode[]; loc: SourceLocation };

export interface ArgNode {
  name: string;
  nameLoc: SourceLocation;
  value: ValueNode;
}

/** `Name(positional..., key=value...)`: a layer, or an option inside a field. */
export interface CallNode {
  name: string;
  nameLoc: SourceLocation;
  positional: ValueNode[];
  args: ArgNode[];
  loc: SourceLocation;
}

/** The layers of `A()/B()/...`, outermost first; a bare string term is a `Raw` call. */
export interface ExpressionNode {
  source: string;
  layers: CallNode[];
}
