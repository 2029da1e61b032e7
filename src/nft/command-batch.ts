/**
 * From parsed nft commands to one engine batch (nftables src/rule.c
 * do_command + src/mnl.c batch building): a table block expands as nft's
 * nft_cmd_expand does — the table, then its chains, objects, sets,
 * flowtables, and only then the rules, so a rule can name any set and a
 * verdict map any chain of the block. A cache of the committed ruleset plus
 * what the batch adds so far gives the compiler the named sets, objects and
 * chain hooks it checks rules against.
 */
import * as B from '../netfilter/bytecode.js';
import type { BatchOp } from '../netfilter/batch.js';
import type { Ruleset, TableState } from '../netfilter/ruleset.js';
import { tableKey } from '../netfilter/ruleset.js';
import type { Command, Expr, Family, Loc, RuleAst, SetBody } from './ast.js';
import { NftError } from './diagnostics.js';
import { type EvalEnv, type Operand, evalOperand } from './evaluate.js';
import { compileRuleAst, debugNetlinkLines, namedSetFromTypes, type NamedSet } from './index.js';
import { Linearizer } from './linearize.js';
import { buildSet, type SetData } from './sets.js';
import { DT, lookupDatatype } from './datatypes.js';
import { unitBytes } from './parser-stmt.js';
import {
  FAMILY_NUM, OBJ_TYPE, concatTypeId, datatypeById, evalPriority, hookNumber, splitConcatType,
} from './command-names.js';

/** What nfx keeps in a named set's userdata so `list` can print the declaration as written. */
export interface SetUserdata {
  keyTypes?: string[];
  /** Every key field's datatype, width and byte order (also for `typeof` keys). */
  keyParts?: { t: string; bits: number; order: 'big' | 'host' }[];
  data?: { t: string; bits: number; order: 'big' | 'host' };
  dataType?: string;
  typeofKey?: string;
  typeofData?: string;
  flagWords: string[];
  comment?: string;
  autoMerge?: boolean;
  stmts?: string;
}

/** One message of the batch, with where it came from (for error echoes) and its `--debug=netlink` lines. */
export interface PlannedOp {
  op: BatchOp;
  loc?: Loc;
  /** The whole command's location, where the table and chain names are (rules: `loc` is the rule's statements). */
  cmdLoc?: Loc;
  debug: string[];
}

export interface Plan {
  ops: PlannedOp[];
  /** Commands that read or reset state (`list`, `reset`), run after the commit in order. */
  queries: Command[];
  /** Userspace (evaluation) errors: nothing is sent when there is one. */
  errors: NftError[];
}

interface SetInfo { named: NamedSet; key: Operand; data?: SetData; flags: number }
interface TableCache {
  sets: EvalEnv['sets'];
  info: Map<string, SetInfo>;
  objects: Map<string, string>;
  hooks: Map<string, string>;
}

const noLoad = (): B.Expr[] => [];

/** An operand for a set key (or map data) declared by type names. */
function typeOperand(named: NamedSet, loc: Loc): Operand {
  const base = { shift: 0, deps: [], load: noLoad, loc };
  if (named.parts) {
    const parts = named.parts.map((p) => ({ ...base, dtype: p.dtype, bits: p.bits, byteorder: p.byteorder, regBytes: Math.ceil(p.bits / 8) }));
    return { ...base, dtype: DT.invalid, bits: named.keyBits, byteorder: 'big', regBytes: named.keyBits / 8, parts };
  }
  return { ...base, dtype: named.keyDtype, bits: named.keyBits, byteorder: named.keyByteorder, regBytes: Math.ceil(named.keyBits / 8) };
}

/** Flag words of a set declaration → NFT_SET_* bits. */
function setFlags(words: string[], isMap: boolean, concat: boolean, objMap: boolean): number {
  let f = 0;
  if (words.includes('constant')) f |= B.NFT_SET_CONSTANT;
  if (words.includes('interval')) f |= B.NFT_SET_INTERVAL;
  if (words.includes('timeout')) f |= B.NFT_SET_TIMEOUT;
  if (words.includes('dynamic')) f |= B.NFT_SET_EVAL;
  if (objMap) f |= B.NFT_SET_OBJECT;
  else if (isMap) f |= B.NFT_SET_MAP;
  if (concat && f & B.NFT_SET_INTERVAL) f |= B.NFT_SET_CONCAT;
  return f;
}

/** The text of a located expression, whitespace-normalised (for `typeof` declarations). */
function locText(sources: Map<string, string>, e: Expr | undefined): string | undefined {
  if (!e) return undefined;
  const src = sources.get(e.loc.file);
  const line = src?.split('\n')[e.loc.line - 1];
  return line?.slice(e.loc.first - 1, e.loc.last).replace(/\s+/g, ' ').trim();
}

export class BatchPlanner {
  readonly ops: PlannedOp[] = [];
  readonly queries: Command[] = [];
  readonly errors: NftError[] = [];
  private readonly cache = new Map<string, TableCache>();

  constructor(readonly ruleset: Ruleset, readonly defines: Map<string, Expr>, readonly sources: Map<string, string>) {}

  plan(commands: Command[]): Plan {
    for (const c of commands) this.guard(() => this.command(c));
    return { ops: this.ops, queries: this.queries, errors: this.errors };
  }

  private guard(f: () => void): void {
    try {
      f();
    } catch (e) {
      if (e instanceof NftError) this.errors.push(e);
      else throw e;
    }
  }

  private committed(family: Family, table: string): TableState | undefined {
    return this.ruleset.tables.get(tableKey(FAMILY_NUM[family], table));
  }

  /** The cache of one table: seeded from the committed ruleset, then kept up to date by the batch. */
  private tc(family: Family, table: string): TableCache {
    const k = `${family} ${table}`;
    let c = this.cache.get(k);
    if (c) return c;
    c = { sets: new Map(), info: new Map(), objects: new Map(), hooks: new Map() };
    const t = this.committed(family, table);
    if (t) {
      for (const s of t.sets.values()) {
        if (s.decl.flags & B.NFT_SET_ANONYMOUS) continue;
        const info = infoFromDecl(s.decl);
        if (info) { c.sets.set(s.name, info.named); c.info.set(s.name, info); }
      }
      for (const o of t.objects.values()) c.objects.set(o.name, Object.keys(OBJ_TYPE).find((n) => OBJ_TYPE[n] === o.type) ?? 'counter');
      for (const ch of t.chains.values()) if (ch.hook) c.hooks.set(ch.name, hookNameOf(family, ch.hook.hooknum));
    }
    this.cache.set(k, c);
    return c;
  }

  private curCmd: Loc | undefined;

  private push(op: BatchOp, loc: Loc | undefined, debug: string[] = []): void {
    this.ops.push({ op, loc, cmdLoc: this.curCmd ?? loc, debug });
  }

  private command(cmd: Command): void {
    this.curCmd = cmd.loc;
    const t = cmd.target;
    switch (cmd.verb) {
      case 'add': case 'create': case 'insert': case 'replace':
        return this.add(cmd);
      case 'delete': case 'destroy':
        return this.del(cmd);
      case 'flush':
        return this.flush(cmd);
      case 'rename': {
        if (t.obj !== 'chain' || !t.spec.chain || !cmd.newName) throw new NftError('GENERIC', ['rename: only chains can be renamed'], cmd.loc);
        const ch = this.committed(t.spec.family, t.spec.table)?.chains.get(t.spec.chain);
        if (!ch) throw new NftError('GENERIC', ['Could not process rule: No such file or directory'], cmd.loc);
        this.push({ op: 'newchain', family: FAMILY_NUM[t.spec.family], table: t.spec.table, chain: cmd.newName, handle: ch.handle }, cmd.loc);
        return;
      }
      default:
        this.queries.push(cmd);
    }
  }

  private add(cmd: Command): void {
    this.curCmd = cmd.loc;
    const t = cmd.target;
    const excl = cmd.verb === 'create';
    switch (t.obj) {
      case 'table': {
        const { family, table } = t.spec;
        const op: BatchOp = { op: 'newtable', family: FAMILY_NUM[family], table };
        if (excl) op.excl = true;
        if (t.flags?.includes('dormant')) op.flags = 1;
        if (t.comment !== undefined) op.comment = t.comment;
        this.tc(family, table);
        this.push(op, cmd.loc);
        // nft_cmd_expand: chains, objects, sets, flowtables, then rules.
        const kids = t.children ?? [];
        const order = ['chain', 'object', 'set', 'flowtable'];
        for (const kind of order) {
          for (const k of kids) {
            const obj = k.target.obj === 'map' ? 'set' : k.target.obj;
            if (obj === kind) this.guard(() => this.add(kind === 'chain' ? { ...k, target: { ...k.target, body: k.target.obj === 'chain' && k.target.body ? { ...k.target.body, rules: [] } : undefined } as typeof k.target } : k));
          }
        }
        for (const k of kids) {
          const kt = k.target;
          if (kt.obj === 'chain') {
            const { family: f, table: tb, chain: ch } = kt.spec;
            if (ch) for (const r of kt.body?.rules ?? []) this.guard(() => this.rule(f, tb, ch, r, { append: true }));
          } else if (!order.includes(k.target.obj === 'map' ? 'set' : k.target.obj)) this.guard(() => this.command(k));
        }
        return;
      }
      case 'chain': {
        const { family, table, chain } = t.spec;
        if (!chain) throw new NftError('GENERIC', ['chain name missing'], cmd.loc);
        const b = t.body;
        const op: Extract<BatchOp, { op: 'newchain' }> = { op: 'newchain', family: FAMILY_NUM[family], table, chain };
        if (excl) op.excl = true;
        const debug: string[] = [];
        if (b?.hook) {
          const hooknum = hookNumber(family, b.hook);
          if (hooknum === undefined) throw new NftError('GENERIC', [`unknown chain hook`], b.priority?.loc ?? cmd.loc);
          const pText = b.priority ? (b.priority.kind === 'symbol' ? b.priority.text : '') : '';
          const prio = b.priority ? evalPriority(pText, family, b.hook) : 0;
          if (typeof prio === 'string') throw new NftError('GENERIC', [prio], b.priority?.loc ?? cmd.loc);
          op.hook = { hooknum, priority: prio };
          if (b.device?.length) op.hook.devices = b.device;
          op.type = b.type ?? 'filter';
          if (b.policy !== undefined) op.policy = b.policy === 'drop' ? B.NF_DROP : B.NF_ACCEPT;
          this.tc(family, table).hooks.set(chain, b.hook);
          debug.push(`${family} (null) (null) use 0 type ${op.type} hook ${b.hook} prio ${prio} packets 0 bytes 0`);
        } else debug.push(`${family} (null) (null) use 0`);
        if (b?.comment !== undefined) op.comment = b.comment;
        this.push(op, cmd.loc, debug);
        for (const r of b?.rules ?? []) this.guard(() => this.rule(family, table, chain, r, { append: true }));
        return;
      }
      case 'rule': {
        const { family, table, chain } = t.spec;
        if (!chain || !t.rule) throw new NftError('GENERIC', ['rule missing'], cmd.loc);
        const pos = t.position;
        let position: number | undefined;
        if (pos?.kind === 'index') {
          const rules = this.committed(family, table)?.chains.get(chain)?.rules ?? [];
          const r = rules[pos.value];
          if (!r) throw new NftError('GENERIC', ['Could not process rule: No such file or directory'], cmd.loc);
          position = r.handle;
        } else if (pos) position = pos.value;
        const mode = cmd.verb === 'replace' ? { replace: true } : cmd.verb === 'insert' ? { append: false } : { append: true };
        this.rule(family, table, chain, t.rule, { ...mode, position });
        return;
      }
      case 'set': case 'map': {
        if (!t.spec.name || !t.body) throw new NftError('GENERIC', ['set definition missing'], cmd.loc);
        this.set(t.spec.family, t.spec.table, t.spec.name, t.body, excl, cmd.loc);
        return;
      }
      case 'element': {
        const { family, table, name } = t.spec;
        const info = this.tc(family, table).info.get(name);
        if (!info) throw new NftError('GENERIC', ['Could not process rule: No such file or directory'], cmd.loc);
        const elements = this.elements(family, table, info, t.elements, cmd.loc);
        this.push({ op: 'newsetelem', family: FAMILY_NUM[family], table, set: name, elements, ...(excl ? { excl: true } : {}) }, cmd.loc, [
          `${name} ${table} 0`, elementLine(elements),
        ]);
        return;
      }
      case 'object': {
        const { family, table, name } = t.spec;
        if (!name) throw new NftError('GENERIC', ['object name missing'], cmd.loc);
        const objType = OBJ_TYPE[t.objType];
        if (!objType) throw new NftError('GENERIC', [`unsupported object type ${t.objType}`], cmd.loc);
        const op: Extract<BatchOp, { op: 'newobj' }> = { op: 'newobj', family: FAMILY_NUM[family], table, name, objType };
        if (excl) op.excl = true;
        const tokens = t.body?.tokens ?? [];
        const expr = objectExpr(t.objType, tokens);
        if (expr) op.expr = expr;
        else op.data = { tokens };
        this.tc(family, table).objects.set(name, t.objType);
        this.push(op, cmd.loc, [`table (null) name (null) use 0 [ ${expr ? objDebug(expr) : t.objType} ]`]);
        return;
      }
      case 'flowtable': {
        const { family, table, name } = t.spec;
        if (!name) throw new NftError('GENERIC', ['flowtable name missing'], cmd.loc);
        const prio = t.priority?.kind === 'symbol' ? evalPriority(t.priority.text, family, 'ingress') : 0;
        const op: Extract<BatchOp, { op: 'newflowtable' }> = { op: 'newflowtable', family: FAMILY_NUM[family], table, name, hooknum: 0, priority: typeof prio === 'number' ? prio : 0 };
        if (t.devices) op.devices = t.devices;
        if (excl) op.excl = true;
        this.push(op, cmd.loc);
        return;
      }
      default:
        throw new NftError('GENERIC', [`${cmd.verb} ${t.obj} is not supported by nfx yet`], cmd.loc);
    }
  }

  private rule(family: Family, table: string, chain: string, r: RuleAst, mode: { append?: boolean; replace?: boolean; position?: number }): void {
    const c = this.tc(family, table);
    const compiled = compileRuleAst(r, { family, table, chain, sets: c.sets, defines: this.defines, hook: c.hooks.get(chain), objects: c.objects });
    const fam = FAMILY_NUM[family];
    // Anonymous sets go first, each with its elements (NFT_MSG_NEWSET + NEWSETELEM in nft's batch).
    for (const s of compiled.sets) this.push({ op: 'newset', family: fam, set: { ...s } }, r.loc);
    const rule: B.Rule = { exprs: compiled.exprs, source: r.text, loc: r.loc };
    if (compiled.comment !== undefined) rule.comment = compiled.comment;
    const op: Extract<BatchOp, { op: 'newrule' }> = { op: 'newrule', family: fam, table, chain, rule };
    if (mode.replace) op.replace = true;
    else if (mode.append) op.append = true;
    if (mode.position !== undefined) op.position = mode.position;
    const debug = debugNetlinkLines(compiled, family, table, chain);
    // The anonymous sets' lines come first; then the rule, then a blank line.
    this.push(op, r.loc, [...debug, '']);
  }

  private set(family: Family, table: string, name: string, b: SetBody, excl: boolean, loc: Loc): void {
    const c = this.tc(family, table);
    const env: EvalEnv = { family, sets: c.sets, defines: this.defines, objects: c.objects };
    let key: Operand;
    let named: NamedSet;
    const ud: SetUserdata = { flagWords: [...b.flags] };
    if (b.keyTypeof) {
      key = evalOperand(b.keyTypeof, env);
      ud.typeofKey = locText(this.sources, b.keyTypeof);
      const parts = key.parts?.map((p) => ({ dtype: p.dtype, bits: p.bits, byteorder: p.byteorder }));
      named = { keyDtype: key.parts ? DT.invalid : key.dtype, keyBits: key.parts ? key.bits : key.bits, keyByteorder: key.byteorder, isMap: b.isMap, flags: 0, parts };
    } else if (b.keyType) {
      const types = b.keyType.map((x) => (x === 'ifname' ? 'ifname' : x));
      for (const ty of types) if (!lookupDatatype(ty)) throw new NftError('GENERIC', [`unknown datatype ${ty}`], loc);
      named = namedSetFromTypes(types, false, b.flags);
      key = typeOperand(named, loc);
      ud.keyTypes = types;
    } else throw new NftError('GENERIC', ['set definition does not specify key'], loc);
    let data: SetData | undefined;
    const dataName = b.dataType?.[0];
    const objType = dataName ? OBJ_TYPE[dataName] : undefined;
    if (b.dataTypeof) {
      const op = evalOperand(b.dataTypeof, env);
      data = { kind: 'value', op };
      ud.typeofData = locText(this.sources, b.dataTypeof);
      named.dataDtype = op.dtype; named.dataBits = op.bits;
    } else if (dataName === 'verdict') {
      data = { kind: 'verdict' };
      ud.dataType = 'verdict';
      named.dataDtype = DT.verdict;
    } else if (objType !== undefined) {
      data = { kind: 'object', objType };
      ud.dataType = dataName;
    } else if (b.dataType) {
      const dn = namedSetFromTypes(b.dataType, false);
      data = { kind: 'value', op: typeOperand(dn, loc) };
      ud.dataType = b.dataType.join(' . ');
      named.dataDtype = dn.keyDtype; named.dataBits = dn.keyBits;
    }
    ud.keyParts = (key.parts ?? [key]).map((p) => ({ t: p.dtype.name, bits: p.bits, order: p.byteorder }));
    if (data?.kind === 'value') ud.data = { t: data.op!.dtype.name, bits: data.op!.bits, order: data.op!.byteorder };
    const isMap = b.isMap || data !== undefined;
    named.isMap = isMap && objType === undefined;
    // set_evaluate: a default timeout makes it a timeout set.
    const flags = setFlags(b.timeout !== undefined && !b.flags.includes('timeout') ? [...b.flags, 'timeout'] : b.flags, named.isMap, key.parts !== undefined, objType !== undefined);
    named.flags = flags;
    if (b.comment !== undefined) ud.comment = b.comment;
    if (b.autoMerge) ud.autoMerge = true;
    const info: SetInfo = { named, key, data, flags };
    c.sets.set(name, named);
    c.info.set(name, info);
    const desc: B.SetDescriptor = {
      table, name, flags, keyType: key.parts ? concatTypeId(key.parts.map((p) => p.dtype.id)) : key.dtype.id,
      keyLen: key.parts ? key.bits / 8 : Math.ceil(key.bits / 8), elements: [], userdata: { nfx: ud },
    };
    if (key.parts) desc.fieldLengths = key.parts.map((p) => p.regBytes);
    if (data?.kind === 'verdict') { desc.dataType = B.NFT_DATA_VERDICT; desc.dataLen = 0; }
    else if (data?.kind === 'value') { desc.dataType = data.op!.dtype.id; desc.dataLen = data.op!.regBytes; }
    else if (data?.kind === 'object') desc.objType = data.objType;
    if (b.timeout !== undefined) desc.timeout = b.timeout;
    if (b.gcInterval !== undefined) desc.gcInterval = b.gcInterval;
    if (b.size !== undefined) desc.size = b.size;
    if (b.policy === 'memory') desc.policy = 1;
    const debug = [setDeclDebug(desc)];
    this.push({ op: 'newset', family: FAMILY_NUM[family], set: desc, ...(excl ? { excl: true } : {}) }, loc, debug);
    if (b.elements?.length) {
      const elements = this.elements(family, table, info, b.elements, loc);
      this.push({ op: 'newsetelem', family: FAMILY_NUM[family], table, set: name, elements }, loc, [`${name} ${table} 0`, elementLine(elements)]);
    }
  }

  /** Element expressions → encoded elements, as nft's set element evaluation and segtree do. */
  elements(family: Family, table: string, info: SetInfo, elems: Expr[], loc: Loc): B.SetElement[] {
    const c = this.tc(family, table);
    const lin = new Linearizer({ family, sets: c.sets, defines: this.defines, objects: c.objects }, table);
    const interval = (info.flags & B.NFT_SET_INTERVAL) !== 0;
    const flat = flattenElems(elems, this.defines);
    const shaped = interval ? flat.map(asRange) : flat;
    buildSet(lin, { kind: 'set', elems: shaped, loc }, info.key, info.data);
    const out = lin.sets[0]?.elements ?? [];
    if (!interval && out.length === flat.length) {
      flat.forEach((x, i) => {
        const el = (x.kind === 'mapping' ? x.key : x);
        if (el.kind !== 'elem') return;
        const o = out[i]!;
        if (el.timeout !== undefined) o.timeout = el.timeout;
        if (el.expires !== undefined) o.expiration = el.expires;
        if (el.comment !== undefined) o.comment = el.comment;
      });
    }
    return out;
  }

  private del(cmd: Command): void {
    const t = cmd.target;
    const destroy = cmd.verb === 'destroy' ? { destroy: true } : {};
    switch (t.obj) {
      case 'table': {
        const op: BatchOp = { op: 'deltable', family: FAMILY_NUM[t.spec.family], ...destroy };
        if (t.spec.table) op.table = t.spec.table;
        else if ((t.spec as { handle?: number }).handle !== undefined) op.handle = (t.spec as { handle?: number }).handle;
        this.cache.delete(`${t.spec.family} ${t.spec.table}`);
        return this.push(op, cmd.loc);
      }
      case 'chain': {
        const op: BatchOp = { op: 'delchain', family: FAMILY_NUM[t.spec.family], table: t.spec.table, ...destroy };
        if (t.spec.chain !== undefined) op.chain = t.spec.chain;
        if (t.spec.handle !== undefined) op.handle = t.spec.handle;
        return this.push(op, cmd.loc);
      }
      case 'rule': {
        const handle = t.position?.kind === 'handle' ? t.position.value : t.spec.handle;
        if (handle === undefined) throw new NftError('GENERIC', ['delete rule needs a handle'], cmd.loc);
        return this.push({ op: 'delrule', family: FAMILY_NUM[t.spec.family], table: t.spec.table, chain: t.spec.chain!, handle, ...destroy }, cmd.loc);
      }
      case 'set': case 'map': {
        const op: BatchOp = { op: 'delset', family: FAMILY_NUM[t.spec.family], table: t.spec.table, ...destroy };
        if (t.spec.name !== undefined) { op.set = t.spec.name; this.tc(t.spec.family, t.spec.table).sets.delete(t.spec.name); }
        if (t.spec.handle !== undefined) op.handle = t.spec.handle;
        return this.push(op, cmd.loc);
      }
      case 'element': {
        const { family, table, name } = t.spec;
        const info = this.tc(family, table).info.get(name);
        if (!info) throw new NftError('GENERIC', ['Could not process rule: No such file or directory'], cmd.loc);
        const elements = this.elements(family, table, info, t.elements, cmd.loc);
        return this.push({ op: 'delsetelem', family: FAMILY_NUM[family], table, set: name, elements, ...destroy }, cmd.loc);
      }
      case 'object': {
        const objType = OBJ_TYPE[t.objType] ?? 0;
        const op: BatchOp = { op: 'delobj', family: FAMILY_NUM[t.spec.family], table: t.spec.table, objType, ...destroy };
        if (t.spec.name !== undefined) op.name = t.spec.name;
        if (t.spec.handle !== undefined) op.handle = t.spec.handle;
        return this.push(op, cmd.loc);
      }
      case 'flowtable': {
        const op: BatchOp = { op: 'delflowtable', family: FAMILY_NUM[t.spec.family], table: t.spec.table, ...destroy };
        if (t.spec.name !== undefined) op.name = t.spec.name;
        return this.push(op, cmd.loc);
      }
      default:
        throw new NftError('GENERIC', [`delete ${t.obj} is not supported by nfx yet`], cmd.loc);
    }
  }

  private flush(cmd: Command): void {
    const t = cmd.target;
    switch (t.obj) {
      case 'ruleset':
        this.cache.clear();
        return this.push({ op: 'deltable', family: t.family ? FAMILY_NUM[t.family] : 0 }, cmd.loc);
      case 'table':
        return this.push({ op: 'delrule', family: FAMILY_NUM[t.spec.family], table: t.spec.table }, cmd.loc);
      case 'chain':
        return this.push({ op: 'delrule', family: FAMILY_NUM[t.spec.family], table: t.spec.table, chain: t.spec.chain! }, cmd.loc);
      case 'set': case 'map':
        return this.push({ op: 'delsetelem', family: FAMILY_NUM[t.spec.family], table: t.spec.table, set: t.spec.name! }, cmd.loc);
      default:
        throw new NftError('GENERIC', [`flush ${t.obj} is not supported by nfx yet`], cmd.loc);
    }
  }
}

function hookNameOf(family: Family, num: number): string {
  const names = family === 'netdev' ? ['ingress', 'egress'] : family === 'arp' ? ['input', 'output', 'forward'] : ['prerouting', 'input', 'forward', 'output', 'postrouting', 'ingress'];
  return names[num] ?? String(num);
}

/** A committed set's cache entry, from the userdata nfx stored or from its type ids. */
export function infoFromDecl(decl: Omit<B.SetDescriptor, 'elements'>): SetInfo | undefined {
  const ud = (decl.userdata?.['nfx'] ?? undefined) as SetUserdata | undefined;
  if (ud?.keyParts?.length) {
    const parts = ud.keyParts.map((p) => ({ dtype: lookupDatatype(p.t) ?? DT.integer, bits: p.bits, byteorder: p.order }));
    const concat = parts.length > 1;
    const named: NamedSet = {
      keyDtype: concat ? DT.invalid : parts[0]!.dtype, keyBits: concat ? parts.reduce((n, p) => n + Math.ceil(p.bits / 32) * 32, 0) : parts[0]!.bits,
      keyByteorder: parts[0]!.byteorder, isMap: (decl.flags & B.NFT_SET_MAP) !== 0, flags: decl.flags, parts: concat ? parts : undefined,
    };
    if (decl.dataType === B.NFT_DATA_VERDICT) named.dataDtype = DT.verdict;
    else if (ud.data) { named.dataDtype = lookupDatatype(ud.data.t); named.dataBits = ud.data.bits; }
    const data = dataOf(decl);
    if (data?.kind === 'value' && ud.data) data.op = { ...data.op!, dtype: lookupDatatype(ud.data.t) ?? DT.integer, bits: ud.data.bits, byteorder: ud.data.order };
    return { named, key: typeOperand(named, { file: '', line: 0, first: 0, last: 0 }), flags: decl.flags, data };
  }
  let types = ud?.keyTypes;
  if (!types) {
    const n = decl.fieldLengths && decl.fieldLengths.length > 1 ? decl.fieldLengths.length : 1;
    const ids = n > 1 ? splitConcatType(decl.keyType, n) : [decl.keyType];
    const names = ids.map((id) => datatypeById(id)?.name);
    if (names.some((x) => !x || x === 'invalid' || x === 'integer' || x === 'string')) {
      // typeof sets of integers/strings: an integer of the key's length is all the compiler needs.
      if (n > 1) return undefined;
      const dt = datatypeById(decl.keyType) ?? DT.integer;
      const named: NamedSet = { keyDtype: dt, keyBits: decl.keyLen * 8, keyByteorder: dt.byteorder, isMap: (decl.flags & B.NFT_SET_MAP) !== 0, flags: decl.flags };
      return { named, key: typeOperand(named, { file: '', line: 0, first: 0, last: 0 }), flags: decl.flags, data: dataOf(decl) };
    }
    types = names as string[];
  }
  const named = namedSetFromTypes(types, (decl.flags & B.NFT_SET_MAP) !== 0, [], undefined);
  named.flags = decl.flags;
  if (decl.dataType === B.NFT_DATA_VERDICT) named.dataDtype = DT.verdict;
  else if (decl.dataType !== undefined) { named.dataDtype = datatypeById(decl.dataType); named.dataBits = (decl.dataLen ?? 0) * 8; }
  return { named, key: typeOperand(named, { file: '', line: 0, first: 0, last: 0 }), flags: decl.flags, data: dataOf(decl) };
}

function dataOf(decl: Omit<B.SetDescriptor, 'elements'>): SetData | undefined {
  if (decl.flags & B.NFT_SET_OBJECT) return { kind: 'object', objType: decl.objType ?? 1 };
  if (!(decl.flags & B.NFT_SET_MAP)) return undefined;
  if (decl.dataType === B.NFT_DATA_VERDICT) return { kind: 'verdict' };
  const dt = datatypeById(decl.dataType ?? 0) ?? DT.integer;
  const bits = (decl.dataLen ?? 4) * 8;
  return { kind: 'value', op: { dtype: dt, bits: dt.size || bits, byteorder: dt.byteorder, regBytes: decl.dataLen ?? 4, shift: 0, deps: [], load: noLoad, loc: { file: '', line: 0, first: 0, last: 0 } } };
}

function flattenElems(elems: Expr[], defines: Map<string, Expr>, out: Expr[] = [], depth = 0): Expr[] {
  if (depth > 32) return out;
  for (const e of elems) {
    if (e.kind === 'set') flattenElems(e.elems, defines, out, depth + 1);
    else if (e.kind === 'variable') {
      const v = defines.get(e.name);
      if (!v) throw new NftError('UNDEFINED_VAR', [e.name], e.loc);
      flattenElems([v], defines, out, depth + 1);
    } else out.push(e);
  }
  return out;
}

/** In an interval set a single value is the range [v, v]. */
function asRange(x: Expr): Expr {
  if (x.kind === 'mapping') return { ...x, key: asRange(x.key) };
  if (x.kind === 'elem') return { ...x, key: asRange(x.key) };
  if (x.kind === 'range' || x.kind === 'prefix' || x.kind === 'wildcard') return x;
  if (x.kind === 'concat') return x.parts.some((p) => p.kind === 'range' || p.kind === 'prefix') ? x : { ...x, parts: [asRange(x.parts[0]!), ...x.parts.slice(1)] };
  return { kind: 'range', low: x, high: x, loc: x.loc };
}

/** Named counter/quota state from the object's body words. */
function objectExpr(type: string, tokens: string[]): B.Expr | undefined {
  if (type === 'counter') {
    const num = (w: string): number => { const i = tokens.indexOf(w); return i >= 0 ? Number(tokens[i + 1]) || 0 : 0; };
    return { type: 'counter', packets: num('packets'), bytes: num('bytes') };
  }
  if (type === 'quota') {
    let i = 0;
    let flags = 0;
    if (tokens[i] === 'over') { flags = 1; i++; } else if (tokens[i] === 'until') i++;
    const n = Number(tokens[i++]);
    const unit = tokens[i] && /bytes$/.test(tokens[i]!) ? tokens[i++]! : 'bytes';
    let consumed = 0;
    if (tokens[i] === 'used') { consumed = Number(tokens[i + 1]) * unitBytes(tokens[i + 2] ?? 'bytes'); }
    return { type: 'quota', bytes: n * unitBytes(unit), consumed, flags };
  }
  return undefined;
}

function objDebug(e: B.Expr): string {
  if (e.type === 'counter') return `counter pkts ${e.packets} bytes ${e.bytes}`;
  if (e.type === 'quota') return `quota bytes ${e.bytes} consumed ${e.consumed} flags ${e.flags}`;
  return e.type;
}

function setDeclDebug(d: B.SetDescriptor): string {
  let s = `${d.name} ${d.table} ${(d.flags >>> 0).toString(16)}`;
  if (d.timeout !== undefined) s += ` timeout ${d.timeout}ms`;
  if (d.gcInterval !== undefined) s += ` gc_interval ${d.gcInterval}ms`;
  if (d.policy !== undefined) s += ` policy ${d.policy}`;
  if (d.size !== undefined) s += ` size ${d.size}`;
  return s;
}

function elementLine(els: B.SetElement[]): string {
  const hex = (b: Uint8Array): string => {
    const w: string[] = [];
    for (let i = 0; i < b.length; i += 4) {
      let v = 0;
      for (let j = 3; j >= 0; j--) v = v * 256 + (b[i + j] ?? 0);
      w.push(v.toString(16).padStart(8, '0'));
    }
    return w.join(' ');
  };
  return els.map((e) => `\telement ${hex(e.key)}  : ${e.flags} [end]`).join('');
}
