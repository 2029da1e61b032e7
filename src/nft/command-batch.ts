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
import type { Compiled } from './linearize.js';
import { BINDING_CHAIN } from './parser-stmt.js';

/** NFT_CHAIN_BINDING (uapi nf_tables.h enum nft_chain_flags): an anonymous chain. */
const NFT_CHAIN_BINDING = 0x4;
import { Linearizer } from './linearize.js';
import { buildSet, type SetData } from './sets.js';
import { DT, lookupDatatype } from './datatypes.js';
import { FAMILY_NUM, OBJ_TYPE, concatTypeId, evalPriority, hookNumber } from './command-names.js';
import {
  type SetInfo, type SetUserdata, asRange, commentUdata, elementLine, udataText, flattenElems, infoFromDecl, objDataDebug, objDebug, objectData, objectExpr, setDeclDebug, setFlags, typeOperand,
} from './command-sets.js';

export type { SetUserdata } from './command-sets.js';
export { infoFromDecl } from './command-sets.js';

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
interface TableCache {
  sets: EvalEnv['sets'];
  info: Map<string, SetInfo>;
  objects: Map<string, string>;
  hooks: Map<string, string>;
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
        if (info && (s.decl.userdata?.['nfx'] as SetUserdata | undefined)?.autoMerge) info.autoMerge = true;
        if (info) { c.sets.set(s.name, info.named); c.info.set(s.name, info); }
      }
      for (const o of t.objects.values()) c.objects.set(o.name, Object.keys(OBJ_TYPE).find((n) => OBJ_TYPE[n] === o.type) ?? 'counter');
      for (const ch of t.chains.values()) if (ch.hook) c.hooks.set(ch.name, hookNameOf(family, ch.hook.hooknum));
    }
    this.cache.set(k, c);
    return c;
  }

  private curCmd: Loc | undefined;
  private setIdSeq = 0;

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
          if (typeof prio === 'string') throw new NftError('GENERIC', [prio], this.withKeyword(b.priority?.loc ?? cmd.loc, 'priority'));
          op.hook = { hooknum, priority: prio };
          if (b.device?.length) op.hook.devices = b.device;
          op.type = b.type ?? 'filter';
          if (b.policy !== undefined) op.policy = b.policy === 'drop' ? B.NF_DROP : B.NF_ACCEPT;
          this.tc(family, table).hooks.set(chain, b.hook);
          // libnftnl's chain line; a netdev chain names its device(s) after it.
          const devs = op.hook.devices ?? [];
          const dev = devs.length === 1 ? ` dev ${devs[0]} ` : devs.length > 1 ? ` dev { ${[...devs].reverse().map((d) => ` ${d} `).join('')} } ` : '';
          debug.push(`${family} (null) (null) use 0 type ${op.type} hook ${b.hook} prio ${prio} packets 0 bytes 0${dev}`);
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
        if (!info) throw new NftError('GENERIC', ['No such file or directory'], this.nameLoc(cmd.loc, name));
        const elements = this.elements(family, table, info, t.elements, cmd.loc);
        let shown = elements;
        if (info.flags & B.NFT_SET_INTERVAL) {
          this.noteIntervalElements(family, table, name, t.elements);
          const first = elements[0];
          if (first && first.flags & B.NFT_SET_ELEM_INTERVAL_END && first.key.every((x) => x === 0)) shown = elements.slice(1);
        }
        // A refused element is marked by its own location (the first one's: the kernel stops there).
        this.push({ op: 'newsetelem', family: FAMILY_NUM[family], table, set: name, elements, ...(excl ? { excl: true } : {}) }, t.elements[0]?.loc ?? cmd.loc, [
          `${name} ${table} 0`, elementLine(shown, true),
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
        else op.data = objectData(t.objType, tokens.filter((w) => w !== ';' && w.trim() !== ''), family);
        this.tc(family, table).objects.set(name, t.objType);
        this.push(op, cmd.loc, [`table (null) name (null) use 0 [ ${expr ? objDebug(expr) : objDataDebug(t.objType, op.data ?? {})} ]`]);
        return;
      }
      case 'flowtable': {
        const { family, table, name } = t.spec;
        if (!name) throw new NftError('GENERIC', ['flowtable name missing'], cmd.loc);
        // Until the parser hands over the block's hook, priority and devices, read them from the source.
        const block = t.priority === undefined && t.devices === undefined ? this.blockText(cmd.loc) : '';
        const prioText = t.priority?.kind === 'symbol' ? t.priority.text : /priority\s+([^;\n}]+)/.exec(block)?.[1]?.trim() ?? '0';
        // flowtable_evaluate(): the priority is a netdev ingress one whatever the table's family
        // (only `filter` has a name there); one that does not fit is an error of its own wording.
        const prio = evalPriority(prioText, 'netdev', 'ingress');
        if (typeof prio === 'string') {
          const at = t.priority?.kind === 'symbol' ? this.withKeyword(t.priority.loc, 'priority') : this.wordInBlock(cmd.loc, /priority\s+[^;\n}]*[^;\n}\s]/) ?? cmd.loc;
          throw new NftError('GENERIC', ['invalid priority expression value.'], at);
        }
        const devices = t.devices ?? /devices\s*=\s*\{([^}]*)\}/.exec(block)?.[1]?.split(',').map((d) => d.trim().replace(/^"|"$/g, '')).filter(Boolean);
        const op: Extract<BatchOp, { op: 'newflowtable' }> = { op: 'newflowtable', family: FAMILY_NUM[family], table, name, hooknum: 0, priority: prio };
        if (devices?.length) op.devices = devices;
        // NFT_FLOWTABLE_HW_OFFLOAD (`flags offload`) and NFT_FLOWTABLE_COUNTER (`counter`).
        const flags = (/\bflags\s+offload\b/.test(block) ? 0x1 : 0) | (/(^|[\s;])counter\s*(;|$)/m.test(block) ? 0x2 : 0);
        if (flags) op.flags = flags;
        if (excl) op.excl = true;
        // libnftnl's flowtable line (it names hook 0 after the inet hooks).
        // nft hands the devices over last first.
        const devText = devices?.length ? ` dev { ${[...devices].reverse().map((d) => ` ${d} `).join('')} } ` : '';
        this.push(op, cmd.loc, [`flow table (null) (null) use 0 size 0 flags ${(op.flags ?? 0).toString(16)} hook prerouting prio ${op.priority} ${devText}`]);
        return;
      }
      default:
        throw new NftError('GENERIC', [`${cmd.verb} ${t.obj} is not supported by nfx yet`], cmd.loc);
    }
  }

  /** The `{ ... }` block that follows a location (a flowtable's body), or ''. */
  private blockText(loc: Loc): string {
    const src = this.sources.get(loc.file);
    if (!src) return '';
    const lines = src.split('\n');
    let off = 0;
    for (let i = 0; i < loc.line - 1; i++) off += lines[i]!.length + 1;
    const open = src.indexOf('{', off + loc.first - 1);
    if (open < 0) return '';
    let depth = 0;
    for (let i = open; i < src.length; i++) {
      if (src[i] === '{') depth++;
      else if (src[i] === '}' && --depth === 0) return src.slice(open + 1, i);
    }
    return '';
  }

  /** Where a name is written in a command (for userspace lookup errors). */
  private nameLoc(loc: Loc, name: string): Loc {
    const line = this.sources.get(loc.file)?.split('\n')[loc.line - 1];
    const re = new RegExp(`(^|[\\s])(${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')})(?=[\\s{;]|$)`);
    const m = line ? re.exec(line.slice(loc.first - 1)) : null;
    if (!m) return loc;
    const first = loc.first + m.index + m[1]!.length;
    return { ...loc, first, last: first + name.length - 1 };
  }

  /** nft marks `priority VALUE` as a whole: widen a value's location back to its keyword on the same line. */
  /** Where `re` first matches in the `{ ... }` block after `loc`, as a location on its line. */
  private wordInBlock(loc: Loc, re: RegExp): Loc | undefined {
    const src = this.sources.get(loc.file);
    if (!src) return undefined;
    const lines = src.split('\n');
    let off = 0;
    for (let i = 0; i < loc.line - 1; i++) off += lines[i]!.length + 1;
    const open = src.indexOf('{', off + loc.first - 1);
    const m = open < 0 ? null : re.exec(src.slice(open));
    if (m === null) return undefined;
    const at = open + m.index;
    const line = src.slice(0, at).split('\n').length;
    const first = at - src.lastIndexOf('\n', at - 1);
    return { file: loc.file, line, first, last: first + m[0].length - 1 };
  }

  private withKeyword(loc: Loc, word: string): Loc {
    const line = this.sources.get(loc.file)?.split('\n')[loc.line - 1];
    const i = line ? line.lastIndexOf(word, loc.first - 1) : -1;
    return i >= 0 ? { ...loc, first: i + 1 } : loc;
  }

  private rule(family: Family, table: string, chain: string, r: RuleAst, mode: { append?: boolean; replace?: boolean; position?: number }): void {
    const c = this.tc(family, table);
    const compiled = compileRuleAst(r, { family, table, chain, sets: c.sets, defines: this.defines, hook: c.hooks.get(chain), objects: c.objects });
    // stmt_evaluate_chain: an anonymous chain and its rules go before the rule that jumps to
    // it; the kernel names it and binds it to that rule (NFT_CHAIN_BINDING).
    for (const b of compiled.bindings ?? []) {
      this.push({ op: 'newchain', family: FAMILY_NUM[family], table, chain: BINDING_CHAIN, flags: NFT_CHAIN_BINDING }, r.loc, [`${family} (null) (null) use 0`]);
      for (const inner of b.rules) this.emitRule(family, table, BINDING_CHAIN, inner, r, { append: true });
    }
    this.emitRule(family, table, chain, { ...compiled, bindings: undefined }, r, mode);
  }

  private emitRule(family: Family, table: string, chain: string, compiled: Compiled, r: RuleAst, mode: { append?: boolean; replace?: boolean; position?: number }): void {
    const fam = FAMILY_NUM[family];
    // Anonymous sets go first, each with its elements (NFT_MSG_NEWSET + NEWSETELEM in nft's batch).
    // Each gets a batch-wide NFTA_SET_ID and the expression naming it the same id, so that two
    // anonymous sets of one rule are told apart (the kernel names them only at commit).
    const ids: number[] = [];
    for (const s of compiled.sets) {
      const id = ++this.setIdSeq;
      ids.push(id);
      this.push({ op: 'newset', family: fam, set: { ...s, id } }, r.loc);
    }
    let next = 0;
    const exprs = compiled.exprs.map((e) => {
      if ((e.type === 'lookup' || e.type === 'dynset' || e.type === 'objref') && e.set !== undefined && e.set.includes('%d') && next < ids.length) {
        return { ...e, setId: ids[next++]! };
      }
      return e;
    });
    const rule: B.Rule = { exprs, source: r.text, loc: r.loc };
    if (compiled.comment !== undefined) rule.comment = compiled.comment;
    const op: Extract<BatchOp, { op: 'newrule' }> = { op: 'newrule', family: fam, table, chain, rule };
    if (mode.replace) op.replace = true;
    else if (mode.append) op.append = true;
    if (mode.position !== undefined) op.position = mode.position;
    // The anonymous sets' lines come first; then the rule (its header has no trailing blank in
    // nft's output) and its comment as userdata (NFTNL_UDATA_RULE_COMMENT).
    const header = `${family} ${table} ${chain} `;
    const debug = debugNetlinkLines(compiled, family, table, chain === BINDING_CHAIN ? '' : chain).map((l) => (l === header ? l.trimEnd() : l));
    // libnftnl ends the rule with its userdata line, or else with an empty line.
    if (compiled.comment !== undefined) debug.push(`  userdata = { ${udataText(commentUdata(compiled.comment))} }`);
    else debug.push('');
    this.push(op, r.loc, debug);
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
    const info: SetInfo = { named, key, data, flags, autoMerge: b.autoMerge };
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
    // `counter` in a set declaration: every element carries one (NFTA_SET_EXPR).
    if (b.stmts?.some((st) => st.kind === 'counter')) {
      desc.exprs = [{ type: 'counter', packets: 0, bytes: 0 }];
      ud.stmts = 'counter';
    }
    const debug = [setDeclDebug(desc)];
    this.push({ op: 'newset', family: FAMILY_NUM[family], set: desc, ...(excl ? { excl: true } : {}) }, loc, debug);
    const interval = (flags & B.NFT_SET_INTERVAL) !== 0;
    if (interval) this.intervalDecls.set(`${family} ${table} ${name}`, { planned: this.ops[this.ops.length - 1]!, exprs: [], info, loc });
    if (b.elements?.length) {
      const elements = this.elements(family, table, info, b.elements, loc);
      this.push({ op: 'newsetelem', family: FAMILY_NUM[family], table, set: name, elements }, loc, interval ? [] : [`${name} ${table} 0`, elementLine(elements)]);
      if (interval) this.noteIntervalElements(family, table, name, b.elements);
    }
  }

  /** Named interval sets declared in this batch: their declaration's debug lines and the element expressions added so far. */
  private readonly intervalDecls = new Map<string, { planned: PlannedOp; exprs: Expr[]; info: SetInfo; loc: Loc }>();

  /**
   * nft 1.0.6 prints a named interval set's declaration with every element the batch gives
   * it (its cache has merged them by then), and each later `add element` without the
   * interval end at 0 that only the whole set needs.
   */
  private noteIntervalElements(family: Family, table: string, name: string, exprs: Expr[]): boolean {
    const d = this.intervalDecls.get(`${family} ${table} ${name}`);
    if (!d) return false;
    d.exprs.push(...exprs);
    const all = this.elements(family, table, d.info, d.exprs, d.loc);
    d.planned.debug = [d.planned.debug[0]!, `${name} ${table} 0`, elementLine(all, true)];
    return true;
  }

  /** Element expressions → encoded elements, as nft's set element evaluation and segtree do. */
  elements(family: Family, table: string, info: SetInfo, elems: Expr[], loc: Loc): B.SetElement[] {
    const c = this.tc(family, table);
    const lin = new Linearizer({ family, sets: c.sets, defines: this.defines, objects: c.objects }, table);
    const interval = (info.flags & B.NFT_SET_INTERVAL) !== 0;
    const flat = flattenElems(elems, this.defines);
    const shaped = interval ? flat.map(asRange) : flat;
    buildSet(lin, { kind: 'set', elems: shaped, loc }, info.key, info.data, interval && !info.autoMerge);
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
        else if (t.spec.handle !== undefined) op.handle = t.spec.handle;
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
        if (!info) throw new NftError('GENERIC', ['No such file or directory'], this.nameLoc(cmd.loc, name));
        const elements = this.elements(family, table, info, t.elements, cmd.loc);
        return this.push({ op: 'delsetelem', family: FAMILY_NUM[family], table, set: name, elements, ...destroy }, t.elements[0]?.loc ?? cmd.loc);
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
        if (t.spec.handle !== undefined) op.handle = t.spec.handle;
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
