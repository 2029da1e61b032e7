/**
 * The nf_tables transaction (nf_tables_api.c): a batch is applied to a draft
 * copy message by message, each message checked as the kernel checks it
 * (recording every error, as nfnetlink_rcv_batch does); then the tables are
 * validated (hook restrictions of every expression a base chain reaches,
 * jump depth and loops); then either the draft replaces the ruleset and the
 * generation id moves on, or nothing changes at all.
 */
import type { Rule, Expr, SetDescriptor } from './bytecode.js';
import {
  NFT_JUMP, NFT_GOTO, NF_ACCEPT, NF_DROP, NFT_SET_ANONYMOUS, NFT_SET_MAP, NFT_SET_OBJECT, NFT_DATA_VERDICT, NFT_SET_ELEM_CATCHALL,
  NFT_SET_TIMEOUT, NFT_SET_INTERVAL, NFT_SET_ELEM_INTERVAL_END,
} from './bytecode.js';
import type { Batch, BatchOp } from './batch.js';
import type { Ruleset, TableState, ChainState } from './ruleset.js';
import { cloneForTransaction, tableKey, objKey } from './ruleset.js';
import { NftSet } from './set/set.js';
import { EXPR_OPS } from './expr/index.js';
import type { BindContext } from './expr/types.js';
import { NftKernelError, ERRNO } from './errors.js';
import { ruleTargets, validateTable, NFT_JUMP_STACK_SIZE } from './validate.js';

export { ruleTargets, validateTable, NFT_JUMP_STACK_SIZE };
import type { Clock } from './clock.js';

/** enum nf_ip_hook_priorities (uapi/linux/netfilter_ipv4.h). */
const NF_IP_PRI_CONNTRACK = -200;

/** NFT_CHAIN_BINDING (enum nft_chain_flags). */
const NFT_CHAIN_BINDING = 0x4;
/** NFT_NAME_MAXLEN / NFT_CHAIN_MAXNAMELEN / NFT_SET_MAXNAMELEN / NFT_OBJ_MAXNAMELEN. */
const NAME_MAXLEN = 256;

export interface BatchError { index: number; errno: number; message: string; detail?: string }
export type CommitResult = { ok: true; generation: number } | { ok: false; errors: BatchError[] };

/** Hooks each family accepts (NF_INET_* numbering; netdev ingress 0/egress 1; arp in 0/out 1). */
function hookAllowed(family: number, type: string, hook: number): boolean {
  switch (family) {
    case 2: case 10:
      if (type === 'nat') return hook === 0 || hook === 1 || hook === 3 || hook === 4;
      if (type === 'route') return hook === 3;
      return hook >= 0 && hook <= 4;
    case 1:
      if (type === 'nat') return hook === 0 || hook === 1 || hook === 3 || hook === 4;
      if (type === 'route') return hook === 3;
      return hook >= 0 && hook <= 5;
    case 3: return type === 'filter' && (hook === 0 || hook === 1 || hook === 2);
    case 7: return type === 'filter' && hook >= 0 && hook <= 4;
    case 5: return type === 'filter' && (hook === 0 || hook === 1);
    default: return false;
  }
}

class Tx {
  readonly draft: Ruleset;
  errors: BatchError[] = [];
  /** Sets created in this batch by NFTA_SET_ID. */
  private setIds = new Map<string, string>();
  /** Sets whose elements this batch changes: copied once before the first change. */
  private ownSets = new Set<NftSet>();
  /** Which op introduced each rule (to blame validation errors). */
  ruleOp = new Map<Rule, number>();
  lastJumpOp = -1;

  constructor(readonly base: Ruleset, readonly clock: Clock) {
    this.draft = cloneForTransaction(base);
  }

  table(family: number, name: string): TableState {
    const t = this.draft.tables.get(tableKey(family, name));
    if (!t) throw new NftKernelError(ERRNO.ENOENT, `table ${name} does not exist`);
    return t;
  }
  handle(t: TableState): number { return ++t.hgenerator; }

  bindContext(t: TableState): BindContext {
    return {
      family: t.family,
      table: t.name,
      set: (name, id) => {
        if (id !== undefined) {
          const n = this.setIds.get(`${t.family}:${t.name}:${id}`);
          if (n) return t.sets.get(n);
        }
        return t.sets.get(name);
      },
      obj: (type, name) => t.objects.get(objKey(type, name)),
    };
  }

  /** A set whose elements may be changed: the committed copy is never touched. */
  writableSet(t: TableState, name: string): NftSet {
    const s = t.sets.get(name);
    if (!s) throw new NftKernelError(ERRNO.ENOENT, `set ${name} does not exist`);
    if (this.ownSets.has(s)) return s;
    const c = s.clone();
    c.use = s.use;
    t.sets.set(name, c);
    this.ownSets.add(c);
    return c;
  }

  apply(op: BatchOp, index: number): void {
    switch (op.op) {
      case 'newtable': return this.newTable(op);
      case 'deltable': return this.delTable(op);
      case 'newchain': return this.newChain(op);
      case 'delchain': return this.delChain(op);
      case 'newrule': return this.newRule(op, index);
      case 'delrule': return this.delRule(op);
      case 'newset': return this.newSet(op);
      case 'delset': return this.delSet(op);
      case 'newsetelem': return this.newSetElem(op, index);
      case 'delsetelem': return this.delSetElem(op);
      case 'newobj': return this.newObj(op);
      case 'delobj': return this.delObj(op);
      case 'newflowtable': return this.newFlowtable(op);
      case 'delflowtable': return this.delFlowtable(op);
    }
  }

  private checkName(name: string): void {
    if (name.length === 0 || name.length >= NAME_MAXLEN) throw new NftKernelError(name.length ? ERRNO.ENAMETOOLONG : ERRNO.EINVAL);
  }

  private newTable(op: Extract<BatchOp, { op: 'newtable' }>): void {
    this.checkName(op.table);
    if (![1, 2, 3, 5, 7, 10].includes(op.family)) throw new NftKernelError(ERRNO.EAFNOSUPPORT);
    const k = tableKey(op.family, op.table);
    const t = this.draft.tables.get(k);
    if (t) {
      if (op.excl) throw new NftKernelError(ERRNO.EEXIST, `table ${op.table} exists`);
      if (op.flags !== undefined) t.flags = op.flags;
      if (op.comment !== undefined) t.comment = op.comment;
      return;
    }
    const nt: TableState = {
      family: op.family, name: op.table, handle: ++this.draft.tableHandle, flags: op.flags ?? 0, hgenerator: 0,
      chains: new Map(), sets: new Map(), objects: new Map(), flowtables: new Map(),
    };
    if (op.comment !== undefined) nt.comment = op.comment;
    this.draft.tables.set(k, nt);
  }

  private findTable(family: number, name?: string, handle?: number): TableState | undefined {
    if (name !== undefined) return this.draft.tables.get(tableKey(family, name));
    for (const t of this.draft.tables.values()) if (t.family === family && t.handle === handle) return t;
    return undefined;
  }

  private delTable(op: Extract<BatchOp, { op: 'deltable' }>): void {
    if (op.table === undefined && op.handle === undefined) {
      // `flush ruleset`: NFT_MSG_DELTABLE without a name removes every table of the family (NFPROTO_UNSPEC: all).
      for (const [k, t] of this.draft.tables) if (op.family === 0 || t.family === op.family) this.draft.tables.delete(k);
      return;
    }
    const t = this.findTable(op.family, op.table, op.handle);
    if (!t) {
      if (op.destroy) return;
      throw new NftKernelError(ERRNO.ENOENT, `table ${op.table ?? op.handle} does not exist`);
    }
    this.draft.tables.delete(tableKey(t.family, t.name));
  }

  private newChain(op: Extract<BatchOp, { op: 'newchain' }>): void {
    this.checkName(op.chain);
    const t = this.table(op.family, op.table);
    if (op.handle !== undefined) {
      // Rename (nf_tables_updchain with NFTA_CHAIN_HANDLE and a new name).
      const ch = [...t.chains.values()].find((c) => c.handle === op.handle);
      if (!ch) throw new NftKernelError(ERRNO.ENOENT);
      if (t.chains.has(op.chain)) throw new NftKernelError(ERRNO.EEXIST);
      if (this.referencedChain(t, ch.name)) throw new NftKernelError(ERRNO.EBUSY, `chain ${ch.name} is in use`);
      t.chains.delete(ch.name);
      ch.name = op.chain;
      t.chains.set(op.chain, ch);
      return;
    }
    if (op.chain.includes('%d')) {
      // A binding chain (`jump { ... }`, NFT_CHAIN_BINDING): the kernel names it __chain<N>, the lowest free N.
      let n = 0;
      while (t.chains.has(op.chain.replace('%d', String(n)))) n++;
      const name = op.chain.replace('%d', String(n));
      const bound: ChainState = { name, handle: this.handle(t), flags: op.flags ?? NFT_CHAIN_BINDING, rules: [] };
      t.chains.set(name, bound);
      this.freshChains.add(bound);
      this.lastAnonChain.set(`${t.family}:${t.name}:${op.chain}`, name);
      return;
    }
    const existing = t.chains.get(op.chain);
    if (op.hook) {
      const type = op.type ?? 'filter';
      if (!['filter', 'nat', 'route'].includes(type)) throw new NftKernelError(ERRNO.ENOENT, `chain type ${type}`);
      if (!hookAllowed(t.family, type, op.hook.hooknum)) throw new NftKernelError(ERRNO.EOPNOTSUPP, `hook ${op.hook.hooknum} is not valid for a ${type} chain in this family`);
      const needsDev = t.family === 5 || (t.family === 1 && op.hook.hooknum === 5);
      if (needsDev && !(op.hook.devices && op.hook.devices.length)) throw new NftKernelError(ERRNO.EOPNOTSUPP, 'a device is required');
      if (!needsDev && op.hook.devices && op.hook.devices.length) throw new NftKernelError(ERRNO.EOPNOTSUPP, 'devices only for netdev/ingress');
      if (op.hook.priority < -0x80000000 || op.hook.priority > 0x7fffffff) throw new NftKernelError(ERRNO.ERANGE);
      // nft_chain_parse_hook(): NAT must run after conntrack has attached an entry (NF_IP_PRI_CONNTRACK = -200).
      if (type === 'nat' && op.hook.priority <= NF_IP_PRI_CONNTRACK) throw new NftKernelError(ERRNO.EOPNOTSUPP, `a nat chain needs a priority above conntrack's (${NF_IP_PRI_CONNTRACK})`);
    }
    if (op.policy !== undefined && op.policy !== NF_ACCEPT && op.policy !== NF_DROP) throw new NftKernelError(ERRNO.EINVAL);
    if (existing) {
      if (op.excl) throw new NftKernelError(ERRNO.EEXIST, `chain ${op.chain} exists`);
      if (op.hook) {
        if (!existing.hook) throw new NftKernelError(ERRNO.EBUSY, 'a regular chain cannot become a base chain');
        if (existing.hook.hooknum !== op.hook.hooknum || existing.hook.priority !== op.hook.priority || (op.type ?? 'filter') !== existing.type) {
          throw new NftKernelError(ERRNO.EEXIST, `chain ${op.chain} exists with another hook`);
        }
        if (op.hook.devices) existing.hook = { ...existing.hook, devices: op.hook.devices };
      }
      if (op.policy !== undefined) {
        if (!existing.hook) throw new NftKernelError(ERRNO.EOPNOTSUPP);
        t.chains.set(op.chain, { ...existing, policy: op.policy });
      }
      return;
    }
    if (op.policy !== undefined && !op.hook) throw new NftKernelError(ERRNO.EOPNOTSUPP);
    const ch: ChainState = { name: op.chain, handle: this.handle(t), flags: op.flags ?? 0, rules: [] };
    if (op.hook) {
      ch.hook = op.hook;
      ch.type = op.type ?? 'filter';
      ch.policy = op.policy ?? NF_ACCEPT;
      ch.hookSeq = ++this.draft.hookSeq;
    }
    if (op.comment !== undefined) ch.comment = op.comment;
    t.chains.set(op.chain, ch);
  }

  /** Rules or verdict maps that jump/goto to `name` (chain->use in the kernel). */
  private referencedChain(t: TableState, name: string): boolean {
    for (const ch of t.chains.values()) for (const r of ch.rules) if (ruleTargets(r.exprs, t).includes(name)) return true;
    for (const s of t.sets.values()) {
      if (s.decl.dataType !== NFT_DATA_VERDICT) continue;
      for (const el of s.backend.elements()) if (el.verdict?.chain === name) return true;
    }
    return false;
  }

  private delChain(op: Extract<BatchOp, { op: 'delchain' }>): void {
    const t = this.table(op.family, op.table);
    const ch = op.chain !== undefined ? t.chains.get(op.chain) : [...t.chains.values()].find((c) => c.handle === op.handle);
    if (!ch) {
      if (op.destroy) return;
      throw new NftKernelError(ERRNO.ENOENT, `chain ${op.chain ?? op.handle} does not exist`);
    }
    if (this.referencedChain(t, ch.name)) throw new NftKernelError(ERRNO.EBUSY, `chain ${ch.name} is referenced`);
    // The chain's own rules go with it (nft_delrule_by_chain).
    t.chains.delete(ch.name);
    this.gcAnonymousSets(t);
  }

  /** ->init of every expression; returns the expressions with batch set ids resolved to set names. */
  private prepareRule(t: TableState, rule: Rule): Expr[] {
    const out: Expr[] = [];
    for (const e0 of rule.exprs) {
      let e = e0;
      if ((e.type === 'lookup' || e.type === 'dynset' || e.type === 'objref') && e.set !== undefined && (e.setId !== undefined || e.set.includes('%d'))) {
        // Without an id (bytecode parsed from --debug=netlink text) the template names the latest anonymous set of that kind.
        const n = e.setId !== undefined ? this.setIds.get(`${t.family}:${t.name}:${e.setId}`) : this.lastAnon.get(`${t.family}:${t.name}:${e.set}`);
        if (n && n !== e.set) e = { ...e, set: n };
      }
      if (e.type === 'immediate' && e.verdict?.chain?.includes('%d')) e = { ...e, verdict: { ...e.verdict, chain: this.chainName(t, e.verdict.chain) } };
      out.push(e);
      const b = this.bindContext(t);
      const ops = EXPR_OPS[e.type];
      if (!ops) throw new NftKernelError(ERRNO.EOPNOTSUPP, `expression ${String((e as Expr).type)}`);
      ops.prepare(e, b);
      if (e.type === 'immediate' && e.verdict && (e.verdict.code === NFT_JUMP || e.verdict.code === NFT_GOTO)) {
        const target = t.chains.get(e.verdict.chain ?? '');
        if (!target) throw new NftKernelError(ERRNO.ENOENT, `chain ${e.verdict.chain} does not exist`);
        // nft_verdict_init: no jumps to base chains.
        if (target.hook) throw new NftKernelError(ERRNO.EOPNOTSUPP, `cannot jump to base chain ${target.name}`);
      }
    }
    return out;
  }

  private newRule(op: Extract<BatchOp, { op: 'newrule' }>, index: number): void {
    const t = this.table(op.family, op.table);
    const ch = t.chains.get(this.chainName(t, op.chain));
    if (!ch) throw new NftKernelError(ERRNO.ENOENT, `chain ${op.chain} does not exist`);
    const exprs = this.prepareRule(t, op.rule);
    // nft_dynset_init(): a set that a dynset binds and that has no size gets 65535, which then
    // bounds it and is what the kernel reports (meters always are such sets).
    for (const e of exprs) {
      if (e.type !== 'dynset' || t.sets.get(e.set)?.decl.size) continue;
      const w = this.writableSet(t, e.set);
      w.decl = { ...w.decl, size: 0xffff };
    }
    const rules = ch.rules;
    const rule: Rule = { ...op.rule, exprs };
    let at: number;
    if (op.replace) {
      const i = rules.findIndex((r) => r.handle === op.position);
      if (i < 0) throw new NftKernelError(ERRNO.ENOENT, `rule handle ${op.position} does not exist`);
      rule.handle = this.handle(t);
      rules[i] = rule;
      at = -1;
    } else if (op.position !== undefined) {
      const i = rules.findIndex((r) => r.handle === op.position);
      if (i < 0) throw new NftKernelError(ERRNO.ENOENT, `rule handle ${op.position} does not exist`);
      at = op.append ? i + 1 : i;
    } else at = op.append ? rules.length : 0;
    if (at >= 0) {
      rule.handle = this.handle(t);
      rules.splice(at, 0, rule);
    }
    this.ruleOp.set(rule, index);
    if (ruleTargets(rule.exprs, t).length) this.lastJumpOp = index;
    if (op.replace) this.gcAnonymousSets(t);
  }

  private delRule(op: Extract<BatchOp, { op: 'delrule' }>): void {
    const t = this.table(op.family, op.table);
    if (op.chain === undefined) {
      for (const ch of t.chains.values()) ch.rules = [];
    } else {
      const ch = t.chains.get(op.chain);
      if (!ch) throw new NftKernelError(ERRNO.ENOENT, `chain ${op.chain} does not exist`);
      if (op.handle === undefined) ch.rules = [];
      else {
        const i = ch.rules.findIndex((r) => r.handle === op.handle);
        if (i < 0) {
          if (op.destroy) return;
          throw new NftKernelError(ERRNO.ENOENT, `rule handle ${op.handle} does not exist`);
        }
        ch.rules.splice(i, 1);
      }
    }
    this.gcAnonymousSets(t);
  }

  /** Anonymous sets live as long as a rule uses them. */
  private gcAnonymousSets(t: TableState): void {
    const used = new Set<string>();
    for (const ch of t.chains.values()) for (const r of ch.rules) for (const e of r.exprs) {
      if (e.type === 'lookup' || e.type === 'dynset') used.add(e.set);
      if (e.type === 'objref' && e.set) used.add(e.set);
    }
    for (const [name, s] of t.sets) if (s.decl.flags & NFT_SET_ANONYMOUS && !used.has(name) && !this.fresh.has(s)) t.sets.delete(name);
    // Binding chains (`jump { ... }`) go with the rule that jumps to them.
    const targets = new Set<string>();
    for (const ch of t.chains.values()) for (const r of ch.rules) for (const c of ruleTargets(r.exprs, t)) targets.add(c);
    for (const [name, ch] of t.chains) if (ch.flags & NFT_CHAIN_BINDING && !targets.has(name) && !this.freshChains.has(ch)) t.chains.delete(name);
  }
  private freshChains = new Set<ChainState>();
  private fresh = new Set<NftSet>();
  private lastAnonChain = new Map<string, string>();

  /** A chain name as written in the batch: `__chain%d` means the binding chain created last. */
  chainName(t: TableState, name: string): string {
    return name.includes('%d') ? this.lastAnonChain.get(`${t.family}:${t.name}:${name}`) ?? name : name;
  }
  private lastAnon = new Map<string, string>();

  private newSet(op: Extract<BatchOp, { op: 'newset' }>): void {
    const t = this.table(op.family, op.set.table);
    const d: SetDescriptor = op.set;
    if (d.keyLen === 0 || d.keyLen > 64) throw new NftKernelError(ERRNO.EINVAL, 'bad key length');
    if (d.flags & NFT_SET_MAP && d.dataType === undefined) throw new NftKernelError(ERRNO.EINVAL, 'map without data type');
    if (!(d.flags & NFT_SET_MAP) && d.dataType !== undefined && !(d.flags & NFT_SET_OBJECT)) throw new NftKernelError(ERRNO.EINVAL);
    if (d.flags & NFT_SET_OBJECT && d.flags & NFT_SET_MAP) throw new NftKernelError(ERRNO.EINVAL);
    let name = d.name;
    if (name.includes('%d')) {
      // nf_tables_set_alloc_name: the lowest free number.
      let n = 0;
      while (t.sets.has(name.replace('%d', String(n)))) n++;
      name = name.replace('%d', String(n));
    }
    this.checkName(name);
    const existing = t.sets.get(name);
    if (existing) {
      if (op.excl) throw new NftKernelError(ERRNO.EEXIST, `set ${name} exists`);
      if (existing.decl.keyLen !== d.keyLen || existing.decl.flags !== d.flags || existing.decl.dataType !== d.dataType) {
        throw new NftKernelError(ERRNO.EEXIST, `set ${name} exists with another type`);
      }
    } else {
      const { elements: _els, ...decl } = d;
      void _els;
      const set = new NftSet({ ...decl, name, handle: this.handle(t) });
      t.sets.set(name, set);
      this.ownSets.add(set);
      this.fresh.add(set);
    }
    if (d.id !== undefined) this.setIds.set(`${t.family}:${t.name}:${d.id}`, name);
    if (d.name.includes('%d')) this.lastAnon.set(`${t.family}:${t.name}:${d.name}`, name);
    if (d.elements.length) this.addElements(t, name, d.elements, op.excl ?? false);
  }

  private addElements(t: TableState, name: string, elements: SetDescriptor['elements'], excl: boolean): void {
    const set = this.writableSet(t, name);
    const now = this.clock.nowMs();
    for (const el of elements) {
      const catchall = (el.flags & NFT_SET_ELEM_CATCHALL) !== 0;
      if (!catchall && el.key.length !== set.decl.keyLen && !(el.key.length === ((set.decl.keyLen + 3) & ~3))) {
        throw new NftKernelError(ERRNO.EINVAL, `element key length ${el.key.length} for a ${set.decl.keyLen}-byte key`);
      }
      // nft_add_set_elem: timeouts need a set with NFT_SET_TIMEOUT, interval ends an interval set.
      if (el.timeout && !(set.decl.flags & NFT_SET_TIMEOUT)) throw new NftKernelError(ERRNO.EINVAL, 'element timeout in a set without timeouts');
      if (el.flags & NFT_SET_ELEM_INTERVAL_END && !(set.decl.flags & NFT_SET_INTERVAL)) throw new NftKernelError(ERRNO.EINVAL, 'interval end in a set without intervals');
      const isMap = (set.decl.flags & NFT_SET_MAP) !== 0;
      if (!isMap && (el.data || el.verdict)) throw new NftKernelError(ERRNO.EINVAL, 'data for a set that is not a map');
      if (isMap && !el.data && !el.verdict && !(el.flags & 1)) throw new NftKernelError(ERRNO.EINVAL, 'map element without data');
      if (el.verdict && (el.verdict.code === NFT_JUMP || el.verdict.code === NFT_GOTO)) {
        const target = t.chains.get(el.verdict.chain ?? '');
        if (!target) throw new NftKernelError(ERRNO.ENOENT, `chain ${el.verdict.chain} does not exist`);
        if (target.hook) throw new NftKernelError(ERRNO.EOPNOTSUPP);
      }
      if (el.objref !== undefined && !t.objects.has(objKey(set.decl.objType ?? 0, el.objref))) throw new NftKernelError(ERRNO.ENOENT, `object ${el.objref} does not exist`);
      const err = set.add(el, now, excl);
      if (err) throw new NftKernelError(err);
    }
  }

  private newSetElem(op: Extract<BatchOp, { op: 'newsetelem' }>, index: number): void {
    const t = this.table(op.family, op.table);
    let name = op.set;
    if (op.setId !== undefined) name = this.setIds.get(`${t.family}:${t.name}:${op.setId}`) ?? name;
    this.addElements(t, name, op.elements, op.excl ?? false);
    if (op.elements.some((e) => e.verdict && (e.verdict.code === NFT_JUMP || e.verdict.code === NFT_GOTO))) this.lastJumpOp = index;
  }

  private delSetElem(op: Extract<BatchOp, { op: 'delsetelem' }>): void {
    const t = this.table(op.family, op.table);
    const set = this.writableSet(t, op.set);
    if (!op.elements) { set.backend.clear(); set.catchall = undefined; return; }
    const now = this.clock.nowMs();
    for (const el of op.elements) {
      const err = set.remove(el, now);
      if (err && !op.destroy) throw new NftKernelError(err);
    }
  }

  private setInUse(t: TableState, name: string): boolean {
    for (const ch of t.chains.values()) for (const r of ch.rules) for (const e of r.exprs) {
      if ((e.type === 'lookup' || e.type === 'dynset') && e.set === name) return true;
      if (e.type === 'objref' && e.set === name) return true;
    }
    return false;
  }

  private delSet(op: Extract<BatchOp, { op: 'delset' }>): void {
    const t = this.table(op.family, op.table);
    const s = op.set !== undefined ? t.sets.get(op.set) : [...t.sets.values()].find((x) => x.decl.handle === op.handle);
    if (!s) {
      if (op.destroy) return;
      throw new NftKernelError(ERRNO.ENOENT, `set ${op.set ?? op.handle} does not exist`);
    }
    if (this.setInUse(t, s.name)) throw new NftKernelError(ERRNO.EBUSY, `set ${s.name} is in use`);
    t.sets.delete(s.name);
  }

  private newObj(op: Extract<BatchOp, { op: 'newobj' }>): void {
    this.checkName(op.name);
    const t = this.table(op.family, op.table);
    const k = objKey(op.objType, op.name);
    const existing = t.objects.get(k);
    if (existing) {
      if (op.excl) throw new NftKernelError(ERRNO.EEXIST, `object ${op.name} exists`);
      return;
    }
    if (op.objType < 1 || op.objType > 10) throw new NftKernelError(ERRNO.EOPNOTSUPP);
    if (op.expr) EXPR_OPS[op.expr.type].prepare(op.expr, this.bindContext(t));
    const o: { table: string; name: string; type: number; handle: number; expr?: Expr; data?: Record<string, unknown>; comment?: string } =
      { table: t.name, name: op.name, type: op.objType, handle: this.handle(t) };
    if (op.expr) o.expr = { ...op.expr };
    if (op.data) o.data = op.data;
    if (op.comment !== undefined) o.comment = op.comment;
    t.objects.set(k, o);
  }

  private delObj(op: Extract<BatchOp, { op: 'delobj' }>): void {
    const t = this.table(op.family, op.table);
    const o = op.name !== undefined ? t.objects.get(objKey(op.objType, op.name)) : [...t.objects.values()].find((x) => x.handle === op.handle && x.type === op.objType);
    if (!o) {
      if (op.destroy) return;
      throw new NftKernelError(ERRNO.ENOENT, `object ${op.name ?? op.handle} does not exist`);
    }
    for (const ch of t.chains.values()) for (const r of ch.rules) for (const e of r.exprs) {
      if (e.type === 'objref' && e.name === o.name && e.objType === o.type) throw new NftKernelError(ERRNO.EBUSY, `object ${o.name} is in use`);
    }
    for (const s of t.sets.values()) {
      if (!(s.decl.flags & NFT_SET_OBJECT) || s.decl.objType !== o.type) continue;
      for (const el of s.backend.elements()) if (el.objref === o.name) throw new NftKernelError(ERRNO.EBUSY, `object ${o.name} is in use`);
    }
    t.objects.delete(objKey(o.type, o.name));
  }

  private newFlowtable(op: Extract<BatchOp, { op: 'newflowtable' }>): void {
    this.checkName(op.name);
    const t = this.table(op.family, op.table);
    const existing = t.flowtables.get(op.name);
    if (existing) {
      if (op.excl) throw new NftKernelError(ERRNO.EEXIST);
      if (op.devices) t.flowtables.set(op.name, { ...existing, devices: [...new Set([...existing.devices, ...op.devices])] });
      return;
    }
    // nf_tables_flowtable_parse_hook: only the ingress hook.
    if (op.hooknum !== undefined && op.hooknum !== 0) throw new NftKernelError(ERRNO.EOPNOTSUPP);
    // NFT_FLOWTABLE_MASK; and hardware offload needs a NIC that can do it (ndo_setup_tc), which no nfx device is.
    if ((op.flags ?? 0) & ~0x3) throw new NftKernelError(ERRNO.EOPNOTSUPP);
    if ((op.flags ?? 0) & 0x1) throw new NftKernelError(ERRNO.EOPNOTSUPP);
    t.flowtables.set(op.name, { name: op.name, handle: this.handle(t), hooknum: op.hooknum ?? 0, priority: op.priority ?? 0, devices: op.devices ?? [], flags: op.flags ?? 0 });
  }

  private delFlowtable(op: Extract<BatchOp, { op: 'delflowtable' }>): void {
    const t = this.table(op.family, op.table);
    const f = op.name !== undefined ? t.flowtables.get(op.name) : [...t.flowtables.values()].find((x) => x.handle === op.handle);
    if (!f) {
      if (op.destroy) return;
      throw new NftKernelError(ERRNO.ENOENT);
    }
    for (const ch of t.chains.values()) for (const r of ch.rules) for (const e of r.exprs) {
      if (e.type === 'flow_offload' && e.table === f.name) throw new NftKernelError(ERRNO.EBUSY);
    }
    t.flowtables.delete(f.name);
  }
}

/**
 * Applies a batch atomically. On success the ruleset is replaced by the new
 * state and its generation incremented; on failure it is left exactly as it
 * was and every error is returned with the index of its message.
 */
export function commitBatch(ruleset: Ruleset, batch: Batch, clock: Clock): CommitResult {
  if (batch.length === 0) return { ok: true, generation: ruleset.generation };
  const tx = new Tx(ruleset, clock);
  batch.forEach((op, i) => {
    try {
      tx.apply(op, i);
    } catch (e) {
      if (!(e instanceof NftKernelError)) throw e;
      tx.errors.push({ index: i, errno: e.errno, message: e.nftMessage, ...(e.detail ? { detail: e.detail } : {}) });
    }
  });
  if (tx.errors.length === 0) {
    for (const t of tx.draft.tables.values()) {
      const err = validateTable(t);
      if (err) {
        tx.errors.push({ index: tx.lastJumpOp >= 0 ? tx.lastJumpOp : batch.length - 1, errno: err.errno, message: err.nftMessage, ...(err.detail ? { detail: err.detail } : {}) });
        break;
      }
    }
  }
  if (tx.errors.length) {
    // The kernel does not roll back its handle generators on abort.
    for (const [k, t] of ruleset.tables) {
      const d = tx.draft.tables.get(k);
      if (d) t.hgenerator = Math.max(t.hgenerator, d.hgenerator);
    }
    return { ok: false, errors: tx.errors };
  }
  ruleset.tables = tx.draft.tables;
  ruleset.tableHandle = tx.draft.tableHandle;
  ruleset.hookSeq = tx.draft.hookSeq;
  ruleset.generation++;
  ruleset.runtimeCache = undefined;
  return { ok: true, generation: ruleset.generation };
}
