/**
 * `nft list ruleset` / `list table` (nftables rule.c table_print,
 * chain_print, set_print): the committed state (src/netfilter/ruleset.ts)
 * as text, rules via the delinearizer and printer.
 */
import * as B from '../netfilter/bytecode.js';
import type { Ruleset, TableState } from '../netfilter/ruleset.js';
import { FAMILY_NAME } from '../netfilter/batch.js';
import type { Family } from './ast.js';
import { DT, type Datatype } from './datatypes.js';
import type { PrintOptions } from './print-value.js';
import { timeText, valueText } from './print-value.js';
import { RulePrinter, listRule, type Resolved } from './print.js';

const ALL_TYPES: Datatype[] = Object.values(DT);
const typeById = (id: number): Datatype | undefined => ALL_TYPES.find((d) => d.id === id);

/** Concatenated type ids hold one 6-bit id per field (datatype.c concat_type_alloc). */
function keyTypes(id: number, n: number): Datatype[] {
  if (n <= 1) return [typeById(id) ?? DT.integer];
  const out: Datatype[] = [];
  for (let i = n - 1; i >= 0; i--) out.push(typeById((id >> (6 * i)) & 0x3f) ?? DT.integer);
  return out;
}

const INET_HOOK_NAMES = ['prerouting', 'input', 'forward', 'output', 'postrouting', 'ingress'];

/** nft prints a priority as a standard name, name ± offset, or a number (rule.c prio2str). */
function priorityText(family: Family, prio: number): string {
  const std: [string, number][] = family === 'bridge'
    ? [['dstnat', -300], ['filter', -200], ['out', 100], ['srcnat', 300]]
    : family === 'netdev' ? [['filter', 0]]
    : [['raw', -300], ['mangle', -150], ['dstnat', -100], ['filter', 0], ['security', 50], ['srcnat', 100]];
  for (const [n, v] of std) if (v === prio) return n;
  for (const [n, v] of std) {
    const d = prio - v;
    if (Math.abs(d) <= 10) return `${n} ${d < 0 ? '-' : '+'} ${Math.abs(d)}`;
  }
  return String(prio);
}

function setFlagsText(flags: number): string[] {
  const out: string[] = [];
  if (flags & B.NFT_SET_CONSTANT) out.push('constant');
  if (flags & B.NFT_SET_INTERVAL) out.push('interval');
  if (flags & B.NFT_SET_TIMEOUT) out.push('timeout');
  if (flags & B.NFT_SET_EVAL) out.push('dynamic');
  return out;
}

function listTable(t: TableState, opts: PrintOptions, now: number): string {
  const family = FAMILY_NAME[t.family] as Family;
  const blocks: string[] = [];
  const anon: B.SetDescriptor[] = [];
  for (const s of t.sets.values()) {
    const desc: B.SetDescriptor = { ...s.decl, elements: s.toElements(now) };
    if (s.decl.flags & B.NFT_SET_ANONYMOUS) { anon.push(desc); continue; }
    const nKeys = desc.fieldLengths?.length ?? 1;
    const types = keyTypes(desc.keyType, nKeys);
    const lines = [`\t${desc.flags & B.NFT_SET_MAP ? 'map' : 'set'} ${desc.name} {`];
    let typeLine = `\t\ttype ${types.map((d) => d.name).join(' . ')}`;
    if (desc.flags & B.NFT_SET_MAP) typeLine += ` : ${desc.dataType === B.NFT_DATA_VERDICT ? 'verdict' : typeById(desc.dataType ?? 0)?.name ?? 'integer'}`;
    if (desc.flags & B.NFT_SET_OBJECT) typeLine += ` : ${({ 1: 'counter', 2: 'quota', 4: 'limit', 8: 'secmark' } as Record<number, string>)[desc.objType ?? 0] ?? 'counter'}`;
    lines.push(typeLine);
    const f = setFlagsText(desc.flags);
    if (f.length) lines.push(`\t\tflags ${f.join(',')}`);
    if (desc.timeout) lines.push(`\t\ttimeout ${timeText(BigInt(desc.timeout))}`);
    if (desc.size !== undefined && !(desc.flags & B.NFT_SET_ANONYMOUS)) lines.push(`\t\tsize ${desc.size}`);
    if ((desc.userdata as { autoMerge?: boolean } | undefined)?.autoMerge) lines.push('\t\tauto-merge');
    if (desc.elements.length) {
      const p = new RulePrinter(family, opts);
      const r: Resolved = { text: '', dtype: types[0]!, shift: 0, bits: types[0] === DT.ifname ? 128 : types[0]!.size, order: types[0]!.byteorder };
      const dataDt = desc.dataType !== undefined && desc.dataType !== B.NFT_DATA_VERDICT ? typeById(desc.dataType) : undefined;
      const md: Resolved | undefined = dataDt ? { text: '', dtype: dataDt, shift: 0, bits: dataDt.size, order: dataDt.byteorder } : undefined;
      if (nKeys > 1) {
        const items = desc.elements.filter((el) => !(el.flags & B.NFT_SET_ELEM_INTERVAL_END)).map((el) => {
          let off = 0;
          const k = types.map((d, i) => { const n = desc.fieldLengths![i]!; const t2 = valueText(d, el.key.subarray(off, off + Math.min(n, Math.ceil((d.size || n * 8) / 8))), opts); off += Math.ceil(n / 4) * 4; return t2; }).join(' . ');
          if (el.verdict) return `${k} : ${el.verdict.code === B.NFT_JUMP ? `jump ${el.verdict.chain}` : el.verdict.code === B.NFT_GOTO ? `goto ${el.verdict.chain}` : el.verdict.code === B.NF_ACCEPT ? 'accept' : 'drop'}`;
          if (el.data && md) return `${k} : ${valueText(md.dtype, el.data, opts)}`;
          return k;
        });
        lines.push(`\t\telements = { ${items.join(',\n\t\t\t     ')} }`);
      } else {
        // Integer-like keys print 16 per line, others 2 (expression.c calculate_delim).
        const dense = ['integer', 'inet_service', 'inet_proto', 'mark', 'nf_proto', 'arp_op', 'tcp_flag', 'iface_index', 'classid', 'uid', 'gid', 'ct_dir'].includes(r.dtype.name);
        p.wrap = desc.flags & B.NFT_SET_MAP || r.dtype === DT.ipv6_addr ? 1 : dense ? 16 : 2;
        lines.push(`\t\telements = ${p.setText({ k: 'imm', data: new Uint8Array(0) }, r, desc, desc.name, md)}`);
      }
    }
    lines.push('\t}');
    blocks.push(lines.join('\n'));
  }
  for (const c of t.chains.values()) {
    const lines = [`\tchain ${c.name} {`];
    if (c.hook) {
      const hookName = family === 'netdev' ? ['ingress', 'egress'][c.hook.hooknum] : family === 'arp' ? ['input', 'output', 'forward'][c.hook.hooknum] : INET_HOOK_NAMES[c.hook.hooknum];
      const dev = c.hook.devices?.length ? ` device ${c.hook.devices.length === 1 ? `"${c.hook.devices[0]}"` : `{ ${c.hook.devices.map((d) => `"${d}"`).join(', ')} }`}` : '';
      lines.push(`\t\ttype ${c.type ?? 'filter'} hook ${hookName}${dev} priority ${priorityText(family, c.hook.priority)}; policy ${c.policy === B.NF_DROP ? 'drop' : 'accept'};`);
    }
    if (c.comment) lines.push(`\t\tcomment "${c.comment}"`);
    for (const r of c.rules) {
      let text = listRule(r.exprs, anon, family, opts);
      if (r.comment !== undefined) text += ` comment "${r.comment}"`;
      lines.push(`\t\t${text}`);
    }
    lines.push('\t}');
    blocks.push(lines.join('\n'));
  }
  return `table ${family} ${t.name} {\n${blocks.join('\n\n')}${blocks.length ? '\n' : ''}}`;
}

/** The text of `nft list ruleset` (stateful unless opts say otherwise). */
export function listRuleset(rs: Ruleset, opts: PrintOptions = { stateful: true }, now = 0): string {
  const tables = [...rs.tables.values()].sort((a, b) => a.handle - b.handle);
  return tables.map((t) => listTable(t, opts, now)).join('\n') + (tables.length ? '\n' : '');
}
