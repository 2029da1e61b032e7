/**
 * secmark (nft_secmark.c, nft_meta.c): a secmark object referenced by a rule
 * sets the packet's secmark to the id of its context; `meta secmark` reads
 * it (always present: 0 when unset) and `meta secmark set` writes it. The
 * interpreter and the JIT agree.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ruleset } from '../src/netfilter/ruleset.js';
import { commitBatch } from '../src/netfilter/transaction.js';
import { evaluateHook } from '../src/netfilter/hooks.js';
import { NullHostServices } from '../src/netfilter/host-services.js';
import { VirtualClock } from '../src/netfilter/clock.js';
import { ipv4Packet } from '../src/netfilter/testing.js';
import type { BatchOp } from '../src/netfilter/batch.js';
import type { Expr } from '../src/netfilter/bytecode.js';
import { NF_ACCEPT, NF_DROP, NFT_META, NFT_OBJECT } from '../src/netfilter/bytecode.js';
import { secmarkId } from '../src/netfilter/expr/objref.js';
import { defaultMeta } from '../src/packet/packet.js';

const clock = new VirtualClock(0);
const host = new NullHostServices();
const SSH = 'system_u:object_r:ssh_server_packet_t:s0';
const HTTP = 'system_u:object_r:http_server_packet_t:s0';

function ruleset(rules: Expr[][]): Ruleset {
  const rs = new Ruleset();
  const ops: BatchOp[] = [
    { op: 'newtable', family: 2, table: 't' },
    { op: 'newchain', family: 2, table: 't', chain: 'in', hook: { hooknum: 1, priority: 0 }, type: 'filter', policy: NF_ACCEPT },
    { op: 'newobj', family: 2, table: 't', name: 'ssh', objType: NFT_OBJECT.SECMARK, data: { ctx: SSH } },
    { op: 'newobj', family: 2, table: 't', name: 'http', objType: NFT_OBJECT.SECMARK, data: { ctx: HTTP } },
    ...rules.map((exprs): BatchOp => ({ op: 'newrule', family: 2, table: 't', chain: 'in', append: true, rule: { exprs } })),
  ];
  const res = commitBatch(rs, ops, clock);
  assert.ok(res.ok, JSON.stringify(res));
  return rs;
}

/** `tcp dport P meta secmark set <obj>`. */
const portToObj = (port: number, obj: string): Expr[] => [
  { type: 'payload', base: 2, offset: 2, len: 2, dreg: 1 },
  { type: 'cmp', sreg: 1, op: 0, data: Uint8Array.of(port >> 8, port & 0xff) },
  { type: 'objref', objType: NFT_OBJECT.SECMARK, name: obj },
];

for (const jit of [false, true]) {
  const mode = jit ? 'JIT' : 'interpreter';

  test(`${mode}: a packet starts with secmark 0`, () => {
    assert.equal(defaultMeta().secmark, 0);
    assert.equal(ipv4Packet({}).meta.secmark, 0);
  });

  test(`${mode}: a secmark object sets the packet's secmark to its context's id`, () => {
    const rs = ruleset([portToObj(22, 'ssh'), portToObj(80, 'http')]);
    const ssh = ipv4Packet({ dport: 22 });
    const web = ipv4Packet({ dport: 80 });
    const other = ipv4Packet({ dport: 443 });
    for (const p of [ssh, web, other]) evaluateHook(rs, 2, 1, p, { host, clock, jit });
    assert.equal(ssh.meta.secmark, secmarkId(SSH));
    assert.equal(web.meta.secmark, secmarkId(HTTP));
    assert.notEqual(secmarkId(SSH), secmarkId(HTTP));
    assert.ok(secmarkId(SSH) > 0, 'ids are 1-based: 0 means no secmark');
    assert.equal(other.meta.secmark, 0);
  });

  test(`${mode}: meta secmark reads the packet's secmark, 0 included`, () => {
    // meta secmark => reg 1; cmp eq reg 1 <id of ssh>; drop
    const id = secmarkId(SSH);
    const rs = ruleset([
      portToObj(22, 'ssh'),
      [{ type: 'meta', key: NFT_META.SECMARK, dreg: 1 }, { type: 'cmp', sreg: 1, op: 0, data: Uint8Array.of(id & 0xff, (id >> 8) & 0xff, 0, 0) },
        { type: 'immediate', dreg: 0, verdict: { code: NF_DROP } }],
    ]);
    assert.equal(evaluateHook(rs, 2, 1, ipv4Packet({ dport: 22 }), { host, clock, jit }).verdict, NF_DROP);
    assert.equal(evaluateHook(rs, 2, 1, ipv4Packet({ dport: 80 }), { host, clock, jit }).verdict, NF_ACCEPT);
    // Unset secmark reads as 0 (nft_meta_get_eval does not break the rule).
    const zero = ruleset([[{ type: 'meta', key: NFT_META.SECMARK, dreg: 1 }, { type: 'cmp', sreg: 1, op: 0, data: Uint8Array.of(0, 0, 0, 0) },
      { type: 'immediate', dreg: 0, verdict: { code: NF_DROP } }]]);
    assert.equal(evaluateHook(zero, 2, 1, ipv4Packet({}), { host, clock, jit }).verdict, NF_DROP);
  });

  test(`${mode}: meta secmark set writes a register's value`, () => {
    const rs = ruleset([[{ type: 'immediate', dreg: 1, data: Uint8Array.of(0x2a, 0, 0, 0) }, { type: 'meta', key: NFT_META.SECMARK, sreg: 1 }]]);
    const p = ipv4Packet({});
    evaluateHook(rs, 2, 1, p, { host, clock, jit });
    assert.equal(p.meta.secmark, 0x2a);
  });
}

test('secmark ids are stable per context string', () => {
  assert.equal(secmarkId(SSH), secmarkId(SSH));
  assert.equal(secmarkId('a:b:c'), secmarkId('a:b:c'));
  assert.notEqual(secmarkId('a:b:c'), secmarkId('a:b:d'));
});
