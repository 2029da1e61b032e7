/**
 * Checks a parsed expression against the layer tables and converts every
 * value to its field's type, the way scapy's fields convert what a user
 * writes (enum names, flag strings, text into bytes). Errors point at the
 * offending token.
 */
import { parseIPv4, parseIPv6, parseMac } from '../build/fields.js';
import type { TcpOptionRepr } from '../build/tcp.js';
import { TCP_OPTION_KINDS } from '../build/tcp.js';
import { BINDINGS } from './bindings.js';
import type { CallNode, ExpressionNode, ValueNode } from './ast.js';
import { PacketExpressionError, suggest, type PacketExpressionErrorCode, type SourceLocation } from './errors.js';
import type { FieldSpec, FieldType, FieldValue, LayerDef, LayerInst } from './model.js';

export type Registry = ReadonlyMap<string, LayerDef>;

export function evaluate(expr: ExpressionNode, registry: Registry): LayerInst[] {
  const src = expr.source;
  const fail = (code: PacketExpressionErrorCode, msg: string, loc: SourceLocation): never => {
    throw new PacketExpressionError(code, msg, loc, src);
  };

  function lookup(c: CallNode): LayerDef {
    const def = registry.get(c.name);
    if (!def) {
      const s = suggest(c.name, registry.keys());
      fail('unknown-layer', `unknown layer "${c.name}"${s ? `, did you mean "${s}"?` : ''}`, c.nameLoc);
    }
    return def!;
  }

  function intValue(v: ValueNode, f: FieldSpec, t: Extract<FieldType, { kind: 'int' }>, layer: string, names?: Readonly<Record<string, number>>): number | null {
    if (v.kind === 'none') return null;
    if (v.kind === 'true' || v.kind === 'false') return v.kind === 'true' ? 1 : 0;
    if (v.kind === 'str' && names) {
      if (Object.hasOwn(names, v.value)) return names[v.value]!;
      const s = suggest(v.value, Object.keys(names));
      return fail('bad-value', `unknown value "${v.value}" for ${layer}.${f.name}${s ? `, did you mean "${s}"?` : ''}`, v.loc);
    }
    if (v.kind !== 'int') return fail('bad-value', `${layer}.${f.name} takes a number${names ? ' or a name' : ''}`, v.loc);
    const max = 2n ** BigInt(t.bits);
    if (v.value < 0n || v.value >= max) fail('bad-value', `${v.value} does not fit in ${layer}.${f.name} (${t.bits} bits)`, v.loc);
    return Number(v.value);
  }

  function flagsValue(v: ValueNode, f: FieldSpec, t: Extract<FieldType, { kind: 'flags' }>, layer: string): number {
    if (v.kind === 'int') {
      if (v.value < 0n || v.value >= 2n ** BigInt(t.bits)) fail('bad-value', `${v.value} does not fit in ${layer}.${f.name} (${t.bits} bits)`, v.loc);
      return Number(v.value);
    }
    if (v.kind !== 'str') return fail('bad-value', `${layer}.${f.name} takes a number or a flag string`, v.loc);
    let out = 0;
    if (typeof t.names === 'string') {
      // Single-letter flags ("SA" for TCP): each letter is one bit.
      for (const ch of v.value) {
        const i = t.names.indexOf(ch);
        if (i < 0) fail('bad-value', `unknown flag "${ch}" for ${layer}.${f.name} (flags are ${t.names})`, v.loc);
        out |= 1 << i;
      }
    } else if (v.value !== '') {
      // Multi-letter flag names joined by '+' ("MF+DF" for IP).
      for (const name of v.value.split('+')) {
        const i = t.names.indexOf(name);
        if (i < 0) fail('bad-value', `unknown flag "${name}" for ${layer}.${f.name} (flags are ${t.names.join(', ')})`, v.loc);
        out |= 1 << i;
      }
    }
    return out;
  }

  function addr(v: ValueNode, f: FieldSpec, layer: string, kind: 'mac' | 'ip4' | 'ip6'): string | null {
    if (v.kind === 'none') return null;
    const what = kind === 'mac' ? 'a MAC address' : kind === 'ip4' ? 'an IPv4 address' : 'an IPv6 address';
    if (v.kind !== 'str') return fail('bad-value', `${layer}.${f.name} takes ${what} in quotes`, v.loc);
    const ok = kind === 'mac' ? parseMac(v.value) : kind === 'ip4' ? parseIPv4(v.value) : parseIPv6(v.value);
    if (!ok) fail('bad-value', `"${v.value}" is not ${what}${kind !== 'mac' ? ' (host names and networks are not supported)' : ''}`, v.loc);
    return v.value;
  }

  function tcpOptions(v: ValueNode, layer: string): TcpOptionRepr[] {
    if (v.kind !== 'list') return fail('bad-value', `${layer}.options takes a list of (name, value) tuples`, v.loc);
    return v.items.map((it): TcpOptionRepr => {
      if (it.kind !== 'tuple' || it.items.length !== 2) return fail('bad-value', 'a TCP option is a (name, value) tuple', it.loc);
      const [k, val] = it.items as [ValueNode, ValueNode];
      let kind: string | number;
      if (k.kind === 'str') {
        if (!Object.hasOwn(TCP_OPTION_KINDS, k.value)) {
          const s = suggest(k.value, Object.keys(TCP_OPTION_KINDS));
          fail('bad-value', `unknown TCP option "${k.value}"${s ? `, did you mean "${s}"?` : ''}`, k.loc);
        }
        kind = k.value;
      } else if (k.kind === 'int' && k.value >= 0n && k.value < 256n) kind = Number(k.value);
      else return fail('bad-value', 'a TCP option kind is a name such as "MSS" or a number 0-255', k.loc);
      const n = typeof kind === 'number' ? kind : TCP_OPTION_KINDS[kind]!;
      if (val.kind === 'none') return [kind, null];
      if (val.kind === 'str' || val.kind === 'bytes') return [kind, val.value];
      if (typeof kind === 'number' && n > 1) fail('bad-value', 'an option given by number takes a bytes value', val.loc);
      const ints = val.kind === 'int' ? [val] : val.kind === 'tuple' || val.kind === 'list' ? val.items : null;
      if (!ints || ints.some((x) => x.kind !== 'int' || x.value < 0n || x.value >= 2n ** 32n)) {
        return fail('bad-value', `the value of TCP option ${String(kind)} is a number, a tuple of numbers, or bytes`, val.loc);
      }
      const nums = ints.map((x) => Number((x as { value: bigint }).value));
      return [kind, val.kind === 'int' ? nums[0]! : nums];
    });
  }

  function fieldValue(v: ValueNode, f: FieldSpec, layer: string): FieldValue {
    const t = f.type;
    switch (t.kind) {
      case 'int':
        return intValue(v, f, t, layer, t.enum);
      case 'flags':
        return v.kind === 'none' ? null : flagsValue(v, f, t, layer);
      case 'mac':
      case 'ip4':
      case 'ip6':
        return addr(v, f, layer, t.kind);
      case 'bytes':
        if (v.kind === 'none') return null;
        if (v.kind === 'str') return new TextEncoder().encode(v.value);
        if (v.kind === 'bytes') return v.value;
        return fail('bad-value', `${layer}.${f.name} takes a string or bytes`, v.loc);
      case 'ip4list':
      case 'ip6list': {
        if (v.kind !== 'list') return fail('bad-value', `${layer}.${f.name} takes a list of addresses`, v.loc);
        const k = t.kind === 'ip4list' ? 'ip4' : 'ip6';
        return v.items.map((it) => addr(it, f, layer, k) ?? fail('bad-value', 'None is not an address', it.loc));
      }
      case 'tcpoptions':
        return tcpOptions(v, layer);
      case 'packet': {
        if (v.kind === 'call') return chain([v.call]);
        if (v.kind === 'packet') return chain(v.layers);
        return fail('bad-value', `${layer}.${f.name} takes a packet such as IPv6(...)/UDP()`, v.loc);
      }
      case 'sub': {
        if (v.kind !== 'list') return fail('bad-value', `${layer}.${f.name} takes a list such as [${t.of[0]}()]`, v.loc);
        return v.items.map((it) => {
          if (it.kind !== 'call') return fail('bad-value', `${layer}.${f.name} takes ${t.of.slice(0, 3).join('(), ')}() ...`, it.loc);
          if (!t.of.includes(it.call.name)) {
            const s = suggest(it.call.name, t.of);
            return fail('bad-value', `${it.call.name} cannot go in ${layer}.${f.name}${s ? `, did you mean "${s}"?` : ''}`, it.call.nameLoc);
          }
          return layerOf(it.call, true);
        });
      }
    }
  }

  function layerOf(c: CallNode, inner: boolean): LayerInst {
    const def = lookup(c);
    if (!inner && def.inner) fail('unsupported', `${def.name} only goes inside a field (a list of options or records)`, c.nameLoc);
    const set = new Map<string, FieldValue>();
    if (c.positional.length) {
      if (!def.positional || c.positional.length > 1) {
        fail('unsupported', `${def.name} takes keyword arguments only (a positional argument would be dissected as raw bytes by scapy)`, c.positional[0]!.loc);
      }
      set.set(def.positional!, fieldValue(c.positional[0]!, def.fields.find((f) => f.name === def.positional)!, def.name));
    }
    const deferred: Array<[ValueNode, FieldSpec]> = [];
    for (const a of c.args) {
      const f = def.fields.find((x) => x.name === a.name);
      if (!f) {
        const s = suggest(a.name, def.fields.map((x) => x.name));
        fail('unknown-field', `unknown field "${a.name}" for ${def.name}${s ? `, did you mean "${s}"?` : ''}`, a.nameLoc);
      }
      if (set.has(a.name)) fail('duplicate-field', `field "${a.name}" given twice`, a.nameLoc);
      if (f!.type.kind === 'int' && f!.type.enumBy && a.value.kind === 'str') {
        set.set(a.name, null);
        deferred.push([a.value, f!]);
        continue;
      }
      set.set(a.name, fieldValue(a.value, f!, def.name));
    }
    const inst: LayerInst = { def, loc: c.loc, set, over: {}, under: null, upper: null };
    for (const [v, f] of deferred) {
      // A name whose meaning depends on another field (ICMP code names depend on the type).
      const t = f.type as Extract<FieldType, { kind: 'int' }>;
      // scapy's MultiEnumField tries the table for the current type, then the names of every type.
      const dep = set.get(t.enumBy!.field) ?? def.fields.find((x) => x.name === t.enumBy!.field)!.default;
      const own = t.enumBy!.tables[dep as number] ?? {};
      const all = Object.assign({}, ...Object.values(t.enumBy!.tables).reverse()) as Record<string, number>;
      set.set(f.name, intValue(v, f, t, def.name, { ...all, ...own }));
    }
    return inst;
  }

  /** Layers linked below/above, each taking the binding values of the one above it. */
  function chain(calls: readonly CallNode[]): LayerInst[] {
    const layers = calls.map((c) => layerOf(c, false));
    for (let i = 0; i < layers.length; i++) {
      const l = layers[i]!;
      l.under = layers[i - 1] ?? null;
      l.upper = layers[i + 1] ?? null;
      // scapy add_payload: the upper layer's binding to this lower layer fills its unset fields.
      if (l.upper) l.over = BINDINGS[l.upper.def.name]?.[l.def.name] ?? {};
    }
    return layers;
  }

  return chain(expr.layers);
}
