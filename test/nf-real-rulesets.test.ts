import { fileURLToPath } from 'node:url';
/**
 * The 29 real-world rulesets nft 1.0.6 loads: their tables, chains, sets and
 * objects (from `nft -j list ruleset`) and their rules and set elements as the
 * real nft sent them (`--debug=netlink`) commit as one nfx batch, and the
 * committed state has the rules and elements the kernel listed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Ruleset } from '../src/netfilter/ruleset.js';
import { commitBatch } from '../src/netfilter/transaction.js';
import { VirtualClock } from '../src/netfilter/clock.js';
import { parseExprLine, parseElementLine, parseSetDeclLine } from '../src/netfilter/bytecode-text.js';
import type { BatchOp } from '../src/netfilter/batch.js';
import type { Expr, SetElement } from '../src/netfilter/bytecode.js';
import { NFT_DATA_VERDICT, NFT_SET_MAP, NFT_OBJECT } from '../src/netfilter/bytecode.js';

const DIR = fileURLToPath(new URL('../../../shared/conformance/real-rulesets', import.meta.url));
const FAMILIES: Record<string, number> = { inet: 1, ip: 2, arp: 3, netdev: 5, bridge: 7, ip6: 10 };
const HOOKS: Record<string, number> = { prerouting: 0, input: 1, forward: 2, output: 3, postrouting: 4, egress: 1 };
/** nft datatype sizes in bytes (as stored in registers before padding). */
const TYPE_LEN: Record<string, number> = {
  ipv4_addr: 4, ipv6_addr: 16, inet_service: 2, inet_proto: 1, ifname: 16, iface_index: 4, mark: 4, ether_addr: 6,
  integer: 4, ether_type: 2, ct_state: 4, verdict: 16,
};
const pad = (n: number): number => (n + 3) & ~3;

type Json = Record<string, unknown>;

function keyLen(type: unknown): number {
  if (Array.isArray(type)) return type.reduce((s: number, t) => s + pad(TYPE_LEN[String(t)] ?? 4), 0);
  return TYPE_LEN[String(type)] ?? 4;
}

function batchFor(dir: string): { ops: BatchOp[]; rulesPerChain: Map<string, number> } {
  const json = (JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as { nftables: Json[] }).nftables;
  const list = readFileSync(join(dir, 'expected.list'), 'utf8');
  const debug = readFileSync(join(dir, 'expected.debug-netlink'), 'utf8');
  const ops: BatchOp[] = [];
  const rulesPerChain = new Map<string, number>();
  const setFlags = new Map<string, number>();
  for (const line of debug.split('\n')) {
    const d = parseSetDeclLine(line);
    if (d && !d.name.startsWith('__') && d.flags !== 0) setFlags.set(`${d.table}:${d.name}`, d.flags);
  }
  for (const item of json) {
    const [kind, v] = Object.entries(item)[0] as [string, Json];
    const family = FAMILIES[String(v['family'])]!;
    if (kind === 'table') ops.push({ op: 'newtable', family, table: String(v['name']) });
    else if (kind === 'chain') {
      const chain = String(v['name']);
      if (v['hook'] !== undefined) {
        const hookName = String(v['hook']);
        // NF_ARP_IN 0, NF_ARP_OUT 1, NF_ARP_FORWARD 2; netdev ingress 0; inet ingress NF_INET_INGRESS 5.
        const hooknum = family === 3 ? ['input', 'output', 'forward'].indexOf(hookName)
          : hookName === 'ingress' ? (family === 5 ? 0 : 5) : HOOKS[hookName]!;
        let devices: string[] | undefined;
        if (hookName === 'ingress' || hookName === 'egress') {
          const m = new RegExp(`chain ${chain} \\{[^}]*?hook ${hookName} devices? = ?\\{? ?"?([^";}]+)`).exec(list) ??
            new RegExp(`chain ${chain} \\{[^}]*?hook ${hookName} device "?([^" ]+)"?`).exec(list);
          devices = m ? m[1]!.split(',').map((x) => x.trim().replace(/"/g, '')) : ['lo'];
        }
        ops.push({
          op: 'newchain', family, table: String(v['table']), chain, type: String(v['type']),
          hook: devices ? { hooknum, priority: Number(v['prio']), devices } : { hooknum, priority: Number(v['prio']) },
          policy: v['policy'] === 'drop' ? 0 : 1,
        });
      } else ops.push({ op: 'newchain', family, table: String(v['table']), chain });
      rulesPerChain.set(`${v['family']}:${v['table']}:${chain}`, 0);
    } else if (kind === 'set' || kind === 'map') {
      const table = String(v['table']);
      const name = String(v['name']);
      const isMap = kind === 'map';
      const flags = setFlags.get(`${table}:${name}`) ?? (isMap ? NFT_SET_MAP : 0);
      const dataType = isMap ? (v['map'] === 'verdict' ? NFT_DATA_VERDICT : 0) : undefined;
      ops.push({ op: 'newset', family, set: {
        table, name, flags, keyType: 0, keyLen: keyLen(v['type']), elements: [],
        ...(v['timeout'] !== undefined ? { timeout: Number(v['timeout']) * 1000 } : {}),
        ...(isMap ? { dataType, dataLen: dataType === NFT_DATA_VERDICT ? 16 : keyLen(v['map']) } : {}),
        ...(v['size'] !== undefined ? { size: Number(v['size']) } : {}),
      } });
    } else if (kind === 'counter') {
      ops.push({ op: 'newobj', family, table: String(v['table']), name: String(v['name']), objType: NFT_OBJECT.COUNTER, expr: { type: 'counter', packets: 0, bytes: 0 } });
    } else if (kind === 'ct helper') {
      ops.push({ op: 'newobj', family, table: String(v['table']), name: String(v['name']), objType: NFT_OBJECT.CT_HELPER, data: { type: v['type'], protocol: v['protocol'] } });
    } else if (kind === 'flowtable') {
      ops.push({ op: 'newflowtable', family, table: String(v['table']), name: String(v['name']), devices: [] });
    }
  }
  // Rules and elements, in the order nft sent them.
  const lines = debug.split('\n');
  // A binding chain's rules follow one "(null)" declaration; consecutive rule blocks belong to the same chain.
  const boundChains = new Set<number>();
  for (let i = 0, open = false; i < lines.length; i++) {
    if (/^\w+ \(null\) \(null\) use 0\s*$/.test(lines[i]!)) open = true;
    else if (/^(inet|ip6?|arp|bridge|netdev) \S+\s*$/.test(lines[i]!)) {
      // Rule i+1.. of an anonymous chain: the first after a declaration creates it.
      let j = i;
      while ((lines[j + 1] ?? '').trim().startsWith('[')) j++;
      if (!open) boundChains.add(j);
      open = false;
    } else if (/^(inet|ip6?|arp|bridge|netdev) \S+ \S+\s*$/.test(lines[i]!)) open = false;
  }
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const decl = parseSetDeclLine(line);
    if (decl && decl.name.startsWith('__') && decl.flags !== 0) {
      const elLine = lines[i + 2] ?? '';
      const elements: SetElement[] = elLine.includes('element') ? parseElementLine(elLine) : [];
      const klen = Math.max(4, ...elements.map((e) => e.key.length));
      const verdicts = elements.some((e) => e.verdict);
      const isMap = (decl.flags & NFT_SET_MAP) !== 0;
      const fam = FAMILIES[/^(\w+) /.exec(lines.slice(i).find((l) => /^(inet|ip6?|arp|bridge|netdev) \S+ \S+/.test(l)) ?? 'ip')?.[1] ?? 'ip']!;
      ops.push({ op: 'newset', family: fam, set: {
        table: decl.table, name: decl.name, flags: decl.flags, keyType: 0, keyLen: klen, elements,
        ...(isMap ? { dataType: verdicts ? NFT_DATA_VERDICT : 0, dataLen: verdicts ? 16 : Math.max(4, ...elements.map((e) => e.data?.length ?? 4)) } : {}),
      } });
      i += elLine.includes('element') ? 2 : 1;
      continue;
    }
    if (decl && !decl.name.startsWith('__') && decl.flags === 0 && (lines[i + 1] ?? '').includes('element')) {
      // The text does not say which family's table: pick the set whose key length fits the elements.
      const elements = parseElementLine(lines[i + 1]!);
      const owners = ops.filter((o): o is Extract<BatchOp, { op: 'newset' }> => o.op === 'newset' && o.set.name === decl.name && o.set.table === decl.table);
      const owner = owners.find((o) => elements.every((e) => pad(e.key.length) === pad(o.set.keyLen))) ?? owners[0];
      ops.push({ op: 'newsetelem', family: owner?.family ?? 2, table: decl.table, set: decl.name, elements });
      i++;
      continue;
    }
    // An anonymous (binding) chain: declared as "FAMILY (null) (null) use 0" without a hook, its rules under "FAMILY TABLE".
    const h = /^(inet|ip6?|arp|bridge|netdev) (\S+)(?: (\S+))?\s*$/.exec(line);
    if (h && (lines[i + 1] ?? '').trim().startsWith('[')) {
      const exprs: Expr[] = [];
      while ((lines[i + 1] ?? '').trim().startsWith('[')) {
        let e = parseExprLine(lines[++i]!);
        if (e.type === 'immediate' && e.verdict && (e.verdict.code === -3 || e.verdict.code === -4) && e.verdict.chain === undefined) {
          e = { ...e, verdict: { ...e.verdict, chain: '__chain%d' } };
        }
        exprs.push(e);
      }
      const family = FAMILIES[h[1]!]!;
      const chain = h[3] ?? '__chain%d';
      if (h[3] === undefined && !boundChains.has(i)) {
        ops.push({ op: 'newchain', family, table: h[2]!, chain: '__chain%d', flags: 4 });
      }
      ops.push({ op: 'newrule', family, table: h[2]!, chain, append: true, rule: { exprs } });
    }
  }
  for (const item of json) {
    const r = item['rule'] as Json | undefined;
    if (r) {
      const k = `${r['family']}:${r['table']}:${r['chain']}`;
      rulesPerChain.set(k, (rulesPerChain.get(k) ?? 0) + 1);
    }
  }
  return { ops, rulesPerChain };
}

test('the real-world rulesets nft loads commit in nfx with the same rules', (t) => {
  if (!existsSync(DIR)) { t.skip('real-rulesets corpus not present'); return; }
  const clock = new VirtualClock(0);
  const failures: string[] = [];
  let loaded = 0;
  for (const d of readdirSync(DIR).sort()) {
    const dir = join(DIR, d);
    if (!existsSync(join(dir, 'expected.verdict')) || !readFileSync(join(dir, 'expected.verdict'), 'utf8').startsWith('loaded')) continue;
    const { ops, rulesPerChain } = batchFor(dir);
    const rs = new Ruleset();
    const res = commitBatch(rs, ops, clock);
    if (!res.ok) {
      failures.push(`${d}: ${res.errors.slice(0, 3).map((e) => `#${e.index} ${JSON.stringify(ops[e.index]).slice(0, 160)}: ${e.message} ${e.detail ?? ''}`).join('; ')}`);
      continue;
    }
    for (const [k, n] of rulesPerChain) {
      const [fam, table, chain] = k.split(':') as [string, string, string];
      const got = rs.table(FAMILIES[fam]!, table)?.chains.get(chain)?.rules.length;
      // Anonymous chains (nft 1.0.6 JSON omits them) are not compared.
      if (got !== n) failures.push(`${d}: ${k} has ${got} rules, nft listed ${n}`);
    }
    loaded++;
  }
  assert.deepEqual(failures, []);
  assert.ok(loaded >= 29, `${loaded} loaded`);
});
