/**
 * The public face of the nft compiler: text in, bytecode and
 * `--debug=netlink` text out. The CLI and the engine call these.
 */
import * as B from '../netfilter/bytecode.js';
import { printElementLine, printExpr, printSetDecl } from '../netfilter/bytecode-text.js';
import type { Command, Family, Expr as AstExpr, RuleAst } from './ast.js';
import { DT, type Datatype, lookupDatatype } from './datatypes.js';
import { NftError, formatError } from './diagnostics.js';
import { type EvalEnv } from './evaluate.js';
import { compileRule, type Compiled } from './linearize.js';
import { parse } from './parser.js';
import { BINDING_CHAIN } from './parser-stmt.js';
import { INTERVAL_OPEN_UDATA, openIntervalIndex } from './command-sets.js';

export { NftError, formatError } from './diagnostics.js';
export { parse } from './parser.js';
export type { Compiled } from './linearize.js';

export type NamedSet = EvalEnv['sets'] extends Map<string, infer V> ? V : never;

/** A table's named sets as the evaluator needs them. */
export function namedSetFromTypes(keyTypes: string[], isMap = false, flags: string[] = [], dataType?: string): NamedSet {
  const dts = keyTypes.map((t) => {
    const d = lookupDatatype(t === 'ifname' ? 'ifname' : t);
    if (!d) throw new NftError('GENERIC', [`unknown datatype ${t}`], undefined);
    return d;
  });
  const bitsOf = (d: Datatype): number => (d === DT.ifname ? 128 : d.size);
  const parts = dts.map((d) => ({ dtype: d, bits: bitsOf(d), byteorder: d.byteorder }));
  const keyBits = dts.length > 1 ? parts.reduce((n, p) => n + Math.ceil(p.bits / 32) * 32, 0) : bitsOf(dts[0]!);
  let f = 0;
  if (flags.includes('interval')) f |= B.NFT_SET_INTERVAL;
  if (flags.includes('timeout')) f |= B.NFT_SET_TIMEOUT;
  if (isMap) f |= B.NFT_SET_MAP;
  const data = dataType ? lookupDatatype(dataType) : undefined;
  return {
    keyDtype: dts.length > 1 ? DT.invalid : dts[0]!, keyBits, keyByteorder: dts[0]!.byteorder, isMap, flags: f,
    dataDtype: data, dataBits: data?.size, parts: dts.length > 1 ? parts : undefined,
  };
}

export interface RuleContext {
  family: Family;
  table: string;
  chain: string;
  sets?: EvalEnv['sets'];
  defines?: Map<string, AstExpr>;
  /** Hook of the chain, for the checks the kernel makes at rule-add time (NAT hooks). */
  hook?: string;
  /** Named objects of the table (name → `counter`, `quota`, `ct helper` ...). */
  objects?: Map<string, string>;
}

/** Compiles the text of one rule (what follows `add rule FAMILY TABLE CHAIN`). Throws NftError. */
export function compileRuleText(text: string, ctx: RuleContext): Compiled {
  const src = `add rule ${ctx.family} ${ctx.table} ${ctx.chain} ${text}`;
  const { commands, defines } = parse(src, '<cmdline>', { defines: ctx.defines });
  const cmd = commands[0] as Command | undefined;
  if (!cmd || cmd.target.obj !== 'rule' || !cmd.target.rule) throw new NftError('GENERIC', ['no rule'], undefined);
  const env: EvalEnv = { family: ctx.family, sets: ctx.sets ?? new Map(), defines, hook: ctx.hook, objects: ctx.objects };
  return compileRule(cmd.target.rule, env, ctx.table);
}

/** Compiles a parsed rule (from text or from JSON, see json.ts). Throws NftError. */
export function compileRuleAst(rule: RuleAst, ctx: RuleContext): Compiled {
  const env: EvalEnv = { family: ctx.family, sets: ctx.sets ?? new Map(), defines: ctx.defines ?? new Map(), hook: ctx.hook, objects: ctx.objects };
  return compileRule(rule, env, ctx.table);
}

/** The lines `nft --debug=netlink add rule ...` prints for a compiled rule. */
export function debugNetlinkLines(c: Compiled, family: Family, table: string, chain: string): string[] {
  const out: string[] = [];
  // Anonymous chains come first: the chain (no name yet) and its rules (no chain name).
  for (const b of c.bindings ?? []) {
    out.push(`${family} (null) (null) use 0`);
    for (const r of b.rules) out.push(...debugNetlinkLines(r, family, table, ''));
  }
  for (const s of c.sets) {
    out.push(printSetDecl(s));
    out.push(printSetDecl({ name: s.name, table: s.table, flags: 0 }));
    // An interval running to the top of the key space carries nft's "open" element flag.
    const open = s.flags & B.NFT_SET_INTERVAL && !(s.flags & B.NFT_SET_CONCAT) ? openIntervalIndex(s.elements) : -1;
    out.push(printElementLine(s.elements.map((e, i) => (i === open ? { ...e, userdata: INTERVAL_OPEN_UDATA } : e))));
  }
  out.push(chain ? `${family} ${table} ${chain} ` : `${family} ${table}`);
  // A jump to an anonymous chain goes by NFTA_CHAIN_ID: libnftnl prints no name.
  for (const e of c.exprs) out.push(`  ${printExpr(e)}`.replace(` -> ${BINDING_CHAIN}`, ''));
  return out;
}

/** Renders an error the way nft does, for the given input text. */
export function renderError(err: NftError, src: string, file = '<cmdline>'): string {
  return formatError(err, new Map([[file, src]]));
}
