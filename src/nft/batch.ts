/**
 * nft input → the netlink batch the engine commits (src/netfilter/batch.ts):
 * what `nft -f FILE` sends. Tables, chains (hook numbers and priorities
 * resolved as nft does), rules with their anonymous sets, named sets and
 * maps with encoded elements, objects, flowtables, deletes and flushes.
 * One pass, in order; state the compiler needs (named sets, objects, hooks)
 * is tracked per table like nft's cache.
 */
import * as B from '../netfilter/bytecode.js';
import type { BatchOp } from '../netfilter/batch.js';
import type { Command, Expr, Family, SetBody } from './ast.js';
import { DT, type Datatype, lookupDatatype, setInterfaces } from './datatypes.js';
import { NftError } from './diagnostics.js';
import { type EvalEnv, type Operand, evalOperand } from './evaluate.js';
import { compileRule } from './linearize.js';
import { parse, type ParseOptions } from './parser.js';
import { encodeElements, type SetData } from './sets.js';

export const NFPROTO_OF: Record<Family, number> = { inet: 1, ip: 2, arp: 3, netdev: 5, bridge: 7, ip6: 10 };

// uapi/linux/netfilter.h enum nf_inet_hooks, NF_NETDEV_*, NF_ARP_*
const INET_HOOKS: Record<string, number> = { prerouting: 0, input: 1, forward: 2, output: 3, postrouting: 4, ingress: 5 };
const NETDEV_HOOKS: Record<string, number> = { ingress: 0, egress: 1 };
const ARP_HOOKS: Record<string, number> = { input: 0, output: 1, forward: 2 };

/** Standard priority names (nftables src/rule.c std_prios / bridge_std_prios). */
function namedPriority(family: Family, name: string): number | undefined {
  if (family === 'bridge') return { dstnat: -300, filter: -200, out: 100, srcnat: 300 }[name];
  return { raw: -300, mangle: -150, dstnat: -100, filter: 0, security: 50, srcnat: 100 }[name];
}

export function parsePriority(family: Family, e: Expr | undefined): number {
  if (!e || e.kind !== 'symbol') return 0;
  const m = /^(-?[a-z]+|-?\d+)(?:([+-])(\d+))?$/.exec(e.text);
  if (!m) throw new NftError('GENERIC', [`invalid priority expression ${e.text}`], e.loc);
  let base = /^-?\d+$/.test(m[1]!) ? Number(m[1]) : namedPriority(family, m[1]!);
  if (base === undefined) throw new NftError('GENERIC', [`'${m[1]}' is not a valid priority in this family`], e.loc);
  if (m[2]) base += (m[2] === '+' ? 1 : -1) * Number(m[3]);
  return base;
}

/** nft's id for a concatenated type: each part's id in 6 bits (datatype.c concat_type_alloc). */
function concatTypeId(parts: Datatype[]): number {
  return parts.reduce((id, d) => (id << 6) | d.id, 0);
}

function keyOperand(types: Datatype[], loc: Expr['loc']): Operand {
  const part = (d: Datatype): Operand => {
    const bits = d === DT.ifname || d === DT.string ? 128 : d.size || 32;
    return { dtype: d, bits, byteorder: d.byteorder, regBytes: Math.ceil(bits / 8), shift: 0, deps: [], load: () => [], loc };
  };
  if (types.length === 1) return part(types[0]!);
  const parts = types.map(part);
  const bits = parts.reduce((n, p) => n + Math.ceil(p.regBytes / 4) * 32, 0);
  return { dtype: DT.invalid, bits, byteorder: 'big', regBytes: bits / 8, shift: 0, deps: [], load: () => [], loc, parts };
}

interface TableState { sets: EvalEnv['sets']; objects: Map<string, string>; hooks: Map<string, string>; keys: Map<string, { key: Operand; data?: SetData; interval: boolean }> }

/** Builds the batch for an nft input. Throws a located NftError at the first error. */
export function buildBatch(src: string, file: string, opts: ParseOptions & { interfaces?: readonly string[] } = {}): BatchOp[] {
  if (opts.interfaces) setInterfaces(opts.interfaces);
  const { commands, defines } = parse(src, file, opts);
  const tables = new Map<string, TableState>();
  const st = (family: Family, table: string): TableState => {
    const k = `${family} ${table}`;
    let t = tables.get(k);
    if (!t) tables.set(k, (t = { sets: new Map(), objects: new Map(), hooks: new Map(), keys: new Map() }));
    return t;
  };
  const out: BatchOp[] = [];
  let nextSetId = 1;

  const addSet = (family: Family, table: string, name: string, isMap: boolean, body: SetBody, loc: Expr['loc'], excl: boolean): void => {
    const t = st(family, table);
    const env: EvalEnv = { family, sets: t.sets, defines, objects: t.objects };
    let key: Operand;
    let keyTypes: Datatype[];
    if (body.keyTypeof) {
      key = evalOperand(body.keyTypeof, env);
      keyTypes = key.parts ? key.parts.map((p) => p.dtype) : [key.dtype];
    } else if (body.keyType) {
      keyTypes = body.keyType.map((n) => { const d = lookupDatatype(n); if (!d) throw new NftError('GENERIC', [`unknown datatype ${n}`], loc); return d; });
      key = keyOperand(keyTypes, loc);
    } else throw new NftError('GENERIC', ['set definition does not specify key'], loc);
    let flags = 0;
    for (const f of body.flags) {
      flags |= { constant: B.NFT_SET_CONSTANT, interval: B.NFT_SET_INTERVAL, timeout: B.NFT_SET_TIMEOUT, dynamic: B.NFT_SET_EVAL }[f] ?? 0;
    }
    if (body.timeout !== undefined) flags |= B.NFT_SET_TIMEOUT;
    let data: SetData | undefined;
    const desc: B.SetDescriptor = { table, name, flags, keyType: key.parts ? concatTypeId(keyTypes) : key.dtype.id, keyLen: key.regBytes, elements: [] };
    if (isMap) {
      const dt = body.dataType?.filter((x) => x !== 'interval') ?? [];
      if (body.dataType?.[0] === 'interval') flags |= B.NFT_SET_INTERVAL;
      if (dt[0] === 'verdict') { data = { kind: 'verdict' }; desc.dataType = B.NFT_DATA_VERDICT; desc.dataLen = 0; flags |= B.NFT_SET_MAP; }
      else if (dt[0] && ['counter', 'quota', 'limit', 'secmark', 'synproxy'].includes(dt[0])) {
        const objType = { counter: 1, quota: 2, limit: 4, secmark: 8, synproxy: 10 }[dt[0]]!;
        data = { kind: 'object', objType };
        desc.objType = objType;
        flags |= B.NFT_SET_OBJECT;
      } else {
        const dop = body.dataTypeof ? evalOperand(body.dataTypeof, env) : keyOperand(dt.map((n) => lookupDatatype(n) ?? DT.integer), loc);
        data = { kind: 'value', op: dop };
        desc.dataType = dop.parts ? concatTypeId(dop.parts.map((p) => p.dtype)) : dop.dtype.id;
        desc.dataLen = dop.regBytes;
        flags |= B.NFT_SET_MAP;
      }
    }
    const interval = (flags & B.NFT_SET_INTERVAL) !== 0;
    if (interval && key.parts) flags |= B.NFT_SET_CONCAT;
    desc.flags = flags;
    if (key.parts) desc.fieldLengths = key.parts.map((p) => p.regBytes);
    if (body.timeout !== undefined) desc.timeout = body.timeout;
    if (body.gcInterval !== undefined) desc.gcInterval = body.gcInterval;
    if (body.size !== undefined) desc.size = body.size;
    if (body.policy !== undefined) desc.policy = body.policy === 'memory' ? 1 : 0;
    if (body.comment !== undefined || body.autoMerge) desc.userdata = { ...(body.comment !== undefined ? { comment: body.comment } : {}), ...(body.autoMerge ? { autoMerge: true } : {}) };
    t.keys.set(name, { key, data, interval });
    t.sets.set(name, {
      keyDtype: key.parts ? DT.invalid : key.dtype, keyBits: key.bits, keyByteorder: key.byteorder, isMap, flags,
      dataDtype: data?.op?.dtype, dataBits: data?.op?.bits, parts: key.parts?.map((p) => ({ dtype: p.dtype, bits: p.bits, byteorder: p.byteorder })),
    });
    out.push({ op: 'newset', family: NFPROTO_OF[family], set: desc, excl });
    if (body.elements?.length) {
      const enc = encodeElements(defines, body.elements, key, data, loc, interval);
      out.push({ op: 'newsetelem', family: NFPROTO_OF[family], table, set: name, elements: enc.elements });
    }
  };

  const walk = (cmds: Command[]): void => {
    for (const cmd of cmds) {
      const t = cmd.target;
      const adding = cmd.verb === 'add' || cmd.verb === 'create' || cmd.verb === 'insert' || cmd.verb === 'replace';
      const excl = cmd.verb === 'create';
      const destroy = cmd.verb === 'destroy';
      switch (t.obj) {
        case 'table': {
          const fam = NFPROTO_OF[t.spec.family];
          if (adding) {
            st(t.spec.family, t.spec.table);
            out.push({ op: 'newtable', family: fam, table: t.spec.table, excl });
            if (t.children) {
              // cmd_expand: a table block adds its chains, then objects, sets (with elements) and
              // flowtables, then every rule, so anything may reference what is defined further down.
              const kids = t.children;
              const rank = (c: Command): number => (c.target.obj === 'chain' ? 0 : c.target.obj === 'object' ? 1 : c.target.obj === 'set' || c.target.obj === 'map' ? 2 : 3);
              walk([...kids].sort((a, b) => rank(a) - rank(b)).map((c) => (c.target.obj === 'chain' && c.target.body ? { ...c, target: { ...c.target, body: { ...c.target.body, rules: [] } } } : c)));
              for (const c of kids) {
                if (c.target.obj !== 'chain' || !c.target.body) continue;
                const spec = c.target.spec;
                walk(c.target.body.rules.map((r) => ({ verb: 'add' as const, loc: r.loc, target: { obj: 'rule' as const, spec, rule: r } })));
              }
            }
          } else if (cmd.verb === 'delete' || destroy) out.push({ op: 'deltable', family: fam, table: t.spec.table, destroy });
          else if (cmd.verb === 'flush') out.push({ op: 'delrule', family: fam, table: t.spec.table });
          break;
        }
        case 'chain': {
          const fam = NFPROTO_OF[t.spec.family];
          if (adding) {
            const s = st(t.spec.family, t.spec.table);
            const b = t.body;
            const op: BatchOp & { op: 'newchain' } = { op: 'newchain', family: fam, table: t.spec.table, chain: t.spec.chain!, excl };
            if (b?.hook) {
              const table = t.spec.family === 'netdev' ? NETDEV_HOOKS : t.spec.family === 'arp' ? ARP_HOOKS : INET_HOOKS;
              const hooknum = table[b.hook];
              if (hooknum === undefined) throw new NftError('GENERIC', [`unknown chain hook ${b.hook}`], cmd.loc);
              op.hook = { hooknum, priority: parsePriority(t.spec.family, b.priority) };
              if (b.device) op.hook.devices = b.device;
              op.type = b.type;
              s.hooks.set(t.spec.chain!, b.hook);
            }
            if (b?.policy) op.policy = b.policy === 'drop' ? B.NF_DROP : B.NF_ACCEPT;
            if (b?.comment) op.comment = b.comment;
            out.push(op);
            for (const r of b?.rules ?? []) walk([{ verb: 'add', loc: r.loc, target: { obj: 'rule', spec: t.spec, rule: r } }]);
          } else if (cmd.verb === 'delete' || destroy) out.push({ op: 'delchain', family: fam, table: t.spec.table, chain: t.spec.chain, handle: t.spec.handle, destroy });
          else if (cmd.verb === 'flush') out.push({ op: 'delrule', family: fam, table: t.spec.table, chain: t.spec.chain });
          else if (cmd.verb === 'rename') out.push({ op: 'newchain', family: fam, table: t.spec.table, chain: cmd.newName!, handle: t.spec.handle });
          break;
        }
        case 'rule': {
          const fam = NFPROTO_OF[t.spec.family];
          if (cmd.verb === 'delete' || destroy) { out.push({ op: 'delrule', family: fam, table: t.spec.table, chain: t.spec.chain, handle: t.position?.value, destroy }); break; }
          if (!adding || !t.rule) break;
          const s = st(t.spec.family, t.spec.table);
          const env: EvalEnv = { family: t.spec.family, sets: s.sets, defines, hook: s.hooks.get(t.spec.chain!), objects: s.objects };
          const c = compileRule(t.rule, env, t.spec.table);
          // Anonymous sets go first; lookups name them by the batch-local set id.
          const ids: number[] = [];
          for (const set of c.sets) {
            const id = nextSetId++;
            ids.push(id);
            out.push({ op: 'newset', family: fam, set: { ...set, id, elements: [] } });
            out.push({ op: 'newsetelem', family: fam, table: t.spec.table, set: set.name, setId: id, elements: set.elements });
          }
          let k = 0;
          for (const e of c.exprs) {
            if ((e.type === 'lookup' || e.type === 'objref' || e.type === 'dynset') && e.set?.includes('%d')) e.setId = ids[k++];
          }
          const rule: B.Rule = { exprs: c.exprs, source: t.rule.text, loc: t.rule.loc };
          if (c.comment !== undefined) rule.comment = c.comment;
          const op: BatchOp & { op: 'newrule' } = { op: 'newrule', family: fam, table: t.spec.table, chain: t.spec.chain!, rule };
          if (cmd.verb === 'add' || cmd.verb === 'create') op.append = true;
          if (cmd.verb === 'replace') op.replace = true;
          if (t.position) op.position = t.position.value;
          out.push(op);
          break;
        }
        case 'set': case 'map': {
          const fam = NFPROTO_OF[t.spec.family];
          if (adding && t.body && t.spec.name) addSet(t.spec.family, t.spec.table, t.spec.name, t.obj === 'map', t.body, cmd.loc, excl);
          else if (cmd.verb === 'delete' || destroy) out.push({ op: 'delset', family: fam, table: t.spec.table, set: t.spec.name, handle: t.spec.handle, destroy });
          else if (cmd.verb === 'flush' && t.spec.name) out.push({ op: 'delsetelem', family: fam, table: t.spec.table, set: t.spec.name });
          break;
        }
        case 'element': {
          const fam = NFPROTO_OF[t.spec.family];
          const s = st(t.spec.family, t.spec.table);
          const info = s.keys.get(t.spec.name);
          if (!info) throw new NftError('GENERIC', [`Could not process rule: No such file or directory`], cmd.loc);
          const enc = encodeElements(defines, t.elements, info.key, info.data, cmd.loc, info.interval);
          if (adding) out.push({ op: 'newsetelem', family: fam, table: t.spec.table, set: t.spec.name, elements: enc.elements, excl });
          else if (cmd.verb === 'delete' || destroy) out.push({ op: 'delsetelem', family: fam, table: t.spec.table, set: t.spec.name, elements: enc.elements, destroy });
          break;
        }
        case 'object': {
          const fam = NFPROTO_OF[t.spec.family];
          const objType = { counter: 1, quota: 2, 'ct helper': 3, limit: 4, 'ct timeout': 7, secmark: 8, 'ct expectation': 9, synproxy: 10 }[t.objType] ?? 0;
          if (adding && t.spec.name) {
            st(t.spec.family, t.spec.table).objects.set(t.spec.name, t.objType);
            out.push({ op: 'newobj', family: fam, table: t.spec.table, name: t.spec.name, objType, excl, data: { spec: t.body?.tokens.join(' ') ?? '' } });
          } else if (cmd.verb === 'delete' || destroy) out.push({ op: 'delobj', family: fam, table: t.spec.table, name: t.spec.name, objType, handle: t.spec.handle, destroy });
          break;
        }
        case 'flowtable': {
          const fam = NFPROTO_OF[t.spec.family];
          if (adding && t.spec.name) out.push({ op: 'newflowtable', family: fam, table: t.spec.table, name: t.spec.name, excl });
          else if ((cmd.verb === 'delete' || destroy) && t.spec.name) out.push({ op: 'delflowtable', family: fam, table: t.spec.table, name: t.spec.name, destroy });
          break;
        }
        case 'ruleset':
          if (cmd.verb === 'flush') out.push({ op: 'deltable', family: t.family ? NFPROTO_OF[t.family] : 0 });
          break;
        default:
          break;
      }
    }
  };
  walk(commands);
  return out;
}
