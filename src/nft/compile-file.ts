/**
 * Compiles a whole nft input (`nft -f FILE`): walks the commands in order,
 * keeps each table's named sets, objects and chain hooks as nft's cache
 * would, and compiles every rule to bytecode. The kernel-side ruleset
 * (tables, transactions) is the engine's; this is the userspace half.
 */
import type * as B from '../netfilter/bytecode.js';
import type { Command, Family, RuleAst } from './ast.js';
import { NftError } from './diagnostics.js';
import type { EvalEnv } from './evaluate.js';
import { namedSetFromTypes } from './index.js';
import { compileRule } from './linearize.js';
import { parse, type ParseOptions } from './parser.js';
import { BINDING_CHAIN } from './parser-stmt.js';

export interface CompiledRule {
  family: Family;
  table: string;
  chain: string;
  rule: B.Rule;
  sets: B.SetDescriptor[];
}

interface TableState { sets: EvalEnv['sets']; objects: Map<string, string>; hooks: Map<string, string>; bound: number }

/** Compiles every rule of an nft input. Throws NftError at the first error, located in `file`. */
export function compileFile(src: string, file: string, opts: ParseOptions = {}): CompiledRule[] {
  const { commands, defines } = parse(src, file, opts);
  const tables = new Map<string, TableState>();
  const state = (family: Family, table: string): TableState => {
    const k = `${family} ${table}`;
    let t = tables.get(k);
    if (!t) tables.set(k, (t = { sets: new Map(), objects: new Map(), hooks: new Map(), bound: 0 }));
    return t;
  };
  const out: CompiledRule[] = [];
  const addRule = (family: Family, table: string, chain: string, r: RuleAst): void => {
    const t = state(family, table);
    const env: EvalEnv = { family, sets: t.sets, defines, hook: t.hooks.get(chain), objects: t.objects };
    const c = compileRule(r, env, table);
    // Anonymous chains (`jump { ... }`) get the kernel's names, __chain0, __chain1, ... per table.
    let exprs = c.exprs;
    for (const b of c.bindings ?? []) {
      const name = `__chain${t.bound++}`;
      for (const inner of b.rules) out.push({ family, table, chain: name, rule: { exprs: inner.exprs, source: r.text, loc: r.loc }, sets: inner.sets });
      exprs = exprs.map((e) => (e.type === 'immediate' && e.verdict?.chain === BINDING_CHAIN ? { ...e, verdict: { ...e.verdict, chain: name } } : e));
    }
    const rule: B.Rule = { exprs, source: r.text, loc: r.loc };
    if (c.comment !== undefined) rule.comment = c.comment;
    out.push({ family, table, chain, rule, sets: c.sets });
  };
  const walk = (cmds: Command[]): void => {
    for (const cmd of cmds) {
      const t = cmd.target;
      if (cmd.verb !== 'add' && cmd.verb !== 'create' && cmd.verb !== 'insert' && cmd.verb !== 'replace') continue;
      switch (t.obj) {
        case 'table':
          state(t.spec.family, t.spec.table);
          if (t.children) walk(t.children);
          break;
        case 'chain': {
          const st = state(t.spec.family, t.spec.table);
          if (t.body?.hook && t.spec.chain) st.hooks.set(t.spec.chain, t.body.hook);
          for (const r of t.body?.rules ?? []) addRule(t.spec.family, t.spec.table, t.spec.chain!, r);
          break;
        }
        case 'rule':
          if (t.rule) addRule(t.spec.family, t.spec.table, t.spec.chain!, t.rule);
          break;
        case 'set': case 'map': {
          const b = t.body;
          if (!b || !t.spec.name) break;
          if (!b.keyType) throw new NftError('GENERIC', ['set definition does not specify key'], cmd.loc);
          state(t.spec.family, t.spec.table).sets.set(t.spec.name, namedSetFromTypes(b.keyType, t.obj === 'map', b.flags, b.dataType?.[0]));
          break;
        }
        case 'object':
          if (t.spec.name) state(t.spec.family, t.spec.table).objects.set(t.spec.name, t.objType);
          break;
        default:
          break;
      }
    }
  };
  walk(commands);
  return out;
}
