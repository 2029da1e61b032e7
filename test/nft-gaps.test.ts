/**
 * Corner cases of nft 1.0.6 that the tests/py corpus exposed: each spec is what
 * /usr/sbin/nft 1.0.6 prints with --debug=netlink (or the error the kernel
 * returns at commit) for the same rule.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileRuleText, debugNetlinkLines, namedSetFromTypes, NftError } from '../src/nft/index.js';
import { listRule } from '../src/nft/print.js';
import type { Family } from '../src/nft/ast.js';
import type { RuleContext } from '../src/nft/index.js';

function lines(family: Family, rule: string, extra: Partial<RuleContext> = {}): string[] {
  const c = compileRuleText(rule, { family, table: 't', chain: 'c', ...extra });
  return debugNetlinkLines(c, family, 't', 'c').filter((l) => l.startsWith('  [ ') || l.includes('element ')).map((l) => l.trim());
}
function expectBytecode(family: Family, rule: string, want: string[], extra: Partial<RuleContext> = {}): void {
  assert.deepEqual(lines(family, rule, extra).filter((l) => l.startsWith('[ ')), want, rule);
}
function expectRefused(family: Family, rule: string, message: string, extra: Partial<RuleContext> = {}): void {
  assert.throws(() => compileRuleText(rule, { family, table: 't', chain: 'c', ...extra }), (e: unknown) => e instanceof NftError && e.message === message, rule);
}
function expectListing(family: Family, rule: string, want: string, extra: Partial<RuleContext> = {}): void {
  const c = compileRuleText(rule, { family, table: 't', chain: 'c', ...extra });
  assert.equal(listRule(c.exprs, c.sets, family), want, rule);
}

test('kernel: bridge meta keys exist only in bridge tables (nft_meta_bridge)', () => {
  for (const f of ['ip', 'ip6', 'inet', 'netdev'] as const) {
    for (const k of ['ibrname "br0"', 'obrname "br0"', 'ibrpvid 1', 'ibrvproto 0x8100']) expectRefused(f, `meta ${k}`, 'Could not process rule: Operation not supported');
  }
  expectBytecode('bridge', 'meta ibrname "br0"', ['[ meta load bri_iifname => reg 1 ]', '[ cmp eq reg 1 0x00307262 0x00000000 0x00000000 0x00000000 ]']);
});

test('kernel: nft_fib_validate limits fib lookups to the hooks that have the interface', () => {
  const ok = (hook: string, rule: string): void => { assert.doesNotThrow(() => compileRuleText(rule, { family: 'ip', table: 't', chain: 'c', hook }), `${rule} in ${hook}`); };
  const no = (hook: string, rule: string): void => expectRefused('ip', rule, 'Could not process rule: Operation not supported', { hook });
  for (const h of ['prerouting', 'input']) { no(h, 'fib daddr . oif type local'); ok(h, 'fib daddr oif 1'); ok(h, 'fib daddr . iif type local'); }
  for (const h of ['output', 'postrouting']) { ok(h, 'fib daddr . oif type local'); no(h, 'fib daddr oif 1'); no(h, 'fib daddr . iif type local'); }
  for (const h of ['prerouting', 'input', 'forward', 'output', 'postrouting']) ok(h, 'fib saddr type local');
  ok('forward', 'fib daddr . oif type local');
});

test('nat: an inet rule that maps only a port keeps NFPROTO_INET (nat_evaluate_family)', () => {
  expectBytecode('inet', 'meta l4proto tcp dnat to :80', ['[ meta load l4proto => reg 1 ]', '[ cmp eq reg 1 0x00000006 ]', '[ immediate reg 1 0x00005000 ]', '[ nat dnat inet proto_min reg 1 flags 0x2 ]'], { hook: 'prerouting' });
  expectListing('inet', 'meta l4proto tcp dnat to :80', 'meta l4proto 6 dnat to :80', { hook: 'prerouting' });
});

test('interval lookups convert every host-order integer part of a concatenation to big endian', () => {
  const got = lines('inet', 'meta mark . tcp dport { 0x0000000a-0x00000014 . 80-90, 0x00100000-0x00100123 . 100-120 }');
  assert.deepEqual(got.filter((l) => l.startsWith('[ ')), [
    '[ meta load l4proto => reg 1 ]', '[ cmp eq reg 1 0x00000006 ]', '[ meta load mark => reg 1 ]', '[ byteorder reg 1 = hton(reg 1, 4, 4) ]',
    '[ payload load 2b @ transport header + 2 => reg 9 ]', '[ lookup reg 1 set __set%d ]',
  ]);
  const els = got.find((l) => l.includes('element'))!;
  assert.match(els, /element 0a000000 00005000\s+- 14000000 00005a00/);
  expectListing('inet', 'meta mark . tcp dport { 0x0000000a-0x00000014 . 80-90, 0x00100000-0x00100123 . 100-120 }', 'meta mark . tcp dport { 0x0000000a-0x00000014 . 80-90, 0x00100000-0x00100123 . 100-120 }');
  // Named interval sets get the same conversion; strings (ifname) are left alone.
  const sets = new Map([['s', namedSetFromTypes(['mark'], false, ['interval'])], ['s3', namedSetFromTypes(['mark', 'ifname'], false, ['interval'])]]);
  expectBytecode('inet', 'meta mark @s', ['[ meta load mark => reg 1 ]', '[ byteorder reg 1 = hton(reg 1, 4, 4) ]', '[ lookup reg 1 set s ]'], { sets });
  expectBytecode('inet', 'meta mark . iifname @s3', ['[ meta load mark => reg 1 ]', '[ byteorder reg 1 = hton(reg 1, 4, 4) ]', '[ meta load iifname => reg 9 ]', '[ lookup reg 1 set s3 ]'], { sets });
});

test('routing headers: `srh sid[N]` and `rt0 addr[N]` index nft\'s templates; listings try rt, srh, rt0, rt2', () => {
  expectBytecode('ip6', 'srh sid[1] dead::beef', ['[ exthdr load ipv6 16b @ 43 + 8 => reg 1 ]', '[ cmp eq reg 1 0x0000adde 0x00000000 0x00000000 0xefbe0000 ]']);
  expectBytecode('ip6', 'srh sid[2] dead::beef', ['[ exthdr load ipv6 16b @ 43 + 24 => reg 1 ]', '[ cmp eq reg 1 0x0000adde 0x00000000 0x00000000 0xefbe0000 ]']);
  expectListing('ip6', 'srh sid[2] dead::beef', 'srh sid[2] dead::beef');
  // Index 0 is the template before the list; past the two templates there is no type.
  expectListing('ip6', 'srh sid[0] 5', 'srh tag 5');
  expectRefused('ip6', 'srh sid[3] dead::beef', 'No symbol type information');
  expectRefused('ip6', 'rt2 addr dead::beef', 'No symbol type information');
  expectListing('ip6', 'rt0 addr[1] dead::beef', 'srh sid[1] dead::beef');
  expectBytecode('ip6', 'rt0 addr[0] 1', ['[ exthdr load ipv6 1b @ 43 + 4 => reg 1 ]', '[ cmp eq reg 1 0x00000001 ]']);
  expectListing('ip6', 'rt0 addr[0] 1', 'srh last-entry 1');
});

test('nat maps whose data are ranges or prefixes: low ends then high ends, registers in nft\'s order', () => {
  const post = { hook: 'postrouting' };
  const got = lines('ip', 'snat ip to ip saddr map { 10.141.11.4 : 192.168.2.2-192.168.2.4 }', post);
  assert.deepEqual(got, [
    'element 040b8d0a  : 0202a8c0 0402a8c0 0 [end]',
    '[ payload load 4b @ network header + 12 => reg 1 ]', '[ lookup reg 1 set __map%d dreg 1 ]', '[ nat snat ip addr_min reg 1 addr_max reg 9 ]',
  ]);
  expectListing('ip', 'snat ip to ip saddr map { 10.141.11.4 : 192.168.2.2-192.168.2.4 }', 'snat ip to ip saddr map { 10.141.11.4 : 192.168.2.2-192.168.2.4 }', post);
  expectListing('ip', 'snat ip to ip saddr map { 10.141.12.14 : 192.168.2.0/24 }', 'snat ip to ip saddr map { 10.141.12.14 : 192.168.2.0/24 }', post);
  expectBytecode('ip', 'snat ip prefix to ip saddr map { 10.141.11.0/24 : 192.168.2.0/24 }', [
    '[ payload load 4b @ network header + 12 => reg 1 ]', '[ lookup reg 1 set __map%d dreg 1 ]', '[ nat snat ip addr_min reg 1 addr_max reg 9 flags 0x40 ]',
  ], post);
  expectListing('ip', 'snat ip prefix to ip saddr map { 10.141.11.0/24 : 192.168.2.0/24 }', 'snat ip prefix to ip saddr map { 10.141.11.0/24 : 192.168.2.0/24 }', post);
  const pre = { hook: 'prerouting' };
  const rule = 'dnat ip to ip saddr . tcp dport map { 192.168.1.2 . 80 : 10.141.10.0/24 . 8888-8999 }';
  assert.deepEqual(lines('ip', rule, pre), [
    'element 0201a8c0 00005000  : 000a8d0a 0000b822 ff0a8d0a 00002723 0 [end]',
    '[ meta load l4proto => reg 1 ]', '[ cmp eq reg 1 0x00000006 ]', '[ payload load 4b @ network header + 12 => reg 1 ]',
    '[ payload load 2b @ transport header + 2 => reg 9 ]', '[ lookup reg 1 set __map%d dreg 1 ]',
    '[ nat dnat ip addr_min reg 1 addr_max reg 10 proto_min reg 9 proto_max reg 11 ]',
  ]);
  expectListing('ip', rule, rule, pre);
  // An address . port map without ranges lists with its family too (is_nat_proto_map).
  expectListing('ip', 'ip daddr 192.168.0.1 dnat ip to tcp dport map { 443 : 10.141.10.4 . 8443, 80 : 10.141.10.4 . 8080 }', 'ip daddr 192.168.0.1 dnat ip to tcp dport map { 80 : 10.141.10.4 . 8080, 443 : 10.141.10.4 . 8443 }', pre);
  // A plain prefix NAT lists with the `prefix` keyword (NF_NAT_RANGE_NETMAP).
  expectListing('ip', 'snat ip prefix to 10.0.0.0/24', 'snat prefix to 10.0.0.0/24', post);
});

test('meter: an update (add without timeout) of a set the rule declares, listed back as a meter', () => {
  const c = compileRuleText('meter xyz size 8192 { ip saddr timeout 30s counter }', { family: 'ip', table: 't', chain: 'c' });
  assert.equal(c.sets.length, 1);
  assert.equal(c.sets[0]!.name, 'xyz');
  assert.equal(c.sets[0]!.flags, 0x31);
  assert.equal(c.sets[0]!.size, 8192);
  expectBytecode('ip', 'meter xyz size 8192 { ip saddr timeout 30s counter }', ['[ payload load 4b @ network header + 12 => reg 1 ]', '[ dynset update reg_key 1 set xyz timeout 30000ms expr [ counter pkts 0 bytes 0 ] ]']);
  expectBytecode('ip', 'meter xyz { ip saddr counter }', ['[ payload load 4b @ network header + 12 => reg 1 ]', '[ dynset add reg_key 1 set xyz expr [ counter pkts 0 bytes 0 ] ]']);
  expectListing('ip', 'meter xyz { ip saddr counter }', 'meter xyz size 65535 { ip saddr counter }');
  expectBytecode('ip6', 'meter acct_out size 12345 { ip6 saddr . meta iif timeout 600s counter }', ['[ payload load 16b @ network header + 8 => reg 1 ]', '[ meta load iif => reg 2 ]', '[ dynset update reg_key 1 set acct_out timeout 600000ms expr [ counter pkts 0 bytes 0 ] ]']);
  expectListing('ip6', 'meter acct_out size 4096 { meta iif . ip6 saddr timeout 600s counter }', 'meter acct_out size 4096 { iif . ip6 saddr timeout 10m counter }');
});

test('stmt_reduce: `meta protocol ip` in an ip table goes once another statement follows', () => {
  expectBytecode('ip', 'meta protocol ip udp dport 67', ['[ meta load l4proto => reg 1 ]', '[ cmp eq reg 1 0x00000011 ]', '[ payload load 2b @ transport header + 2 => reg 1 ]', '[ cmp eq reg 1 0x00004300 ]']);
  expectBytecode('ip', 'meta protocol ip counter', ['[ counter pkts 0 bytes 0 ]']);
  expectBytecode('ip', 'meta protocol ip', ['[ meta load protocol => reg 1 ]', '[ cmp eq reg 1 0x00000008 ]']);
  expectBytecode('ip', 'meta protocol ip6 counter', ['[ meta load protocol => reg 1 ]', '[ cmp eq reg 1 0x0000dd86 ]', '[ counter pkts 0 bytes 0 ]']);
  expectBytecode('ip6', 'meta protocol ip6 counter', ['[ counter pkts 0 bytes 0 ]']);
});

test('payload merging keeps a merged protocol key where the dependency was', () => {
  // `ether saddr` (ll+6) and the `ether type 8021q` that `vlan id` needs (ll+12) merge into
  // one load at the dependency's place, before the vlan match.
  expectBytecode('bridge', 'vlan id 2 ether saddr 0:1:2:3:4:6', [
    '[ payload load 8b @ link header + 6 => reg 1 ]', '[ cmp eq reg 1 0x03020100 0x00810604 ]',
    '[ payload load 2b @ link header + 14 => reg 1 ]', '[ bitwise reg 1 = ( reg 1 & 0x0000ff0f ) ^ 0x00000000 ]', '[ cmp eq reg 1 0x00000200 ]',
  ]);
  expectListing('bridge', 'vlan id 2 ether saddr 0:1:2:3:4:6', 'ether saddr 00:01:02:03:04:06 vlan id 2');
  // In inet, once the link layer is known to be Ethernet, the ip dependency is `ether type ip`.
  const rule = 'ether saddr aa:bb:cc:dd:ee:ff ip daddr 192.168.0.1 reject';
  expectBytecode('inet', rule, [
    '[ meta load iiftype => reg 1 ]', '[ cmp eq reg 1 0x00000001 ]', '[ payload load 8b @ link header + 6 => reg 1 ]', '[ cmp eq reg 1 0xddccbbaa 0x0008ffee ]',
    '[ payload load 4b @ network header + 16 => reg 1 ]', '[ cmp eq reg 1 0x0100a8c0 ]', '[ reject type 0 code 3 ]',
  ]);
  expectListing('inet', rule, 'ether saddr aa:bb:cc:dd:ee:ff ip daddr 192.168.0.1 reject with icmp port-unreachable');
});

test('stacked VLAN tags: fields after `vlan type 8021q` are in the inner tag', () => {
  const rule = 'ether type 8021ad vlan id 1 vlan type 8021q vlan id 2 vlan type ip ip protocol 6';
  expectBytecode('bridge', rule, [
    '[ payload load 2b @ link header + 12 => reg 1 ]', '[ cmp eq reg 1 0x0000a888 ]',
    '[ payload load 2b @ link header + 14 => reg 1 ]', '[ bitwise reg 1 = ( reg 1 & 0x0000ff0f ) ^ 0x00000000 ]', '[ cmp eq reg 1 0x00000100 ]',
    '[ payload load 2b @ link header + 16 => reg 1 ]', '[ cmp eq reg 1 0x00000081 ]',
    '[ payload load 2b @ link header + 18 => reg 1 ]', '[ bitwise reg 1 = ( reg 1 & 0x0000ff0f ) ^ 0x00000000 ]', '[ cmp eq reg 1 0x00000200 ]',
    '[ payload load 2b @ link header + 20 => reg 1 ]', '[ cmp eq reg 1 0x00000008 ]',
    '[ payload load 1b @ network header + 9 => reg 1 ]', '[ cmp eq reg 1 0x00000006 ]',
  ]);
  // 8021ad is not what a vlan field implies, so it stays in the listing; `vlan type ip` goes.
  expectListing('bridge', rule, 'ether type 8021ad vlan id 1 vlan type 8021q vlan id 2 ip protocol 6');
});

test('listing: ct directions as the kernel dumps them, ct addresses with their family', () => {
  expectListing('ip', 'ct original protocol 17 ct reply proto-src 53', 'ct protocol 17 ct reply proto-src 53');
  expectListing('ip', 'ct original l3proto ipv4', 'ct l3proto ipv4');
  expectListing('ip', 'ct original bytes > 5', 'ct original bytes > 5');
  expectListing('ip', 'ct original saddr 1.2.3.4', 'ct original ip saddr 1.2.3.4');
  expectListing('inet', 'meta nfproto ipv4 ct original saddr 1.2.3.4', 'ct original ip saddr 1.2.3.4');
});

test('listing: a jhash seed is listed only when one was written', () => {
  expectBytecode('ip', 'ct mark set jhash ip saddr mod 2', ['[ payload load 4b @ network header + 12 => reg 2 ]', '[ hash reg 1 = jhash(reg 2, 4, 0x0) % mod 2 ]', '[ ct set mark with reg 1 ]']);
  expectListing('ip', 'ct mark set jhash ip saddr mod 2', 'ct mark set jhash ip saddr mod 2');
  expectListing('ip', 'ct mark set jhash ip saddr mod 2 seed 0x0', 'ct mark set jhash ip saddr mod 2 seed 0x0');
});

test('listing: object maps, NAT port maps keep their transport dependency, zero networks', () => {
  const objects = new Map([['cnt1', 'counter'], ['cnt2', 'counter'], ['h', 'ct helper']]);
  expectListing('ip', 'counter name tcp dport map { 443 : "cnt1", 80 : "cnt2" }', 'counter name tcp dport map { 80 : "cnt2", 443 : "cnt1" }', { objects });
  expectListing('ip', 'ct helper set tcp dport map { 21 : "h" }', 'ct helper set tcp dport map { 21 : "h" }', { objects });
  const out = { hook: 'output' };
  expectListing('ip', 'ip protocol 6 redirect to :tcp dport map { 22 : 8000, 80 : 8080 }', 'ip protocol 6 redirect to :tcp dport map { 22 : 8000, 80 : 8080 }', out);
  expectListing('ip', 'ip protocol 6 dnat to tcp dport map { 22 : 1.2.3.4 }', 'dnat to tcp dport map { 22 : 1.2.3.4 }', out);
  expectListing('inet', 'ip daddr 0.0.0.0/0', 'ip daddr 0.0.0.0/0');
  expectListing('ip', 'ip daddr != 0.0.0.0/1', 'ip daddr != 0.0.0.0/1');
  expectListing('ip6', 'ip6 daddr ::/3', 'ip6 daddr ::/3');
  expectListing('ip', 'ip daddr & 0.0.0.255 == 0', 'ip daddr & 0.0.0.255 == 0.0.0.0');
});

test('JSON listings: interface indexes as strings, OR trees for parenthesised masks, netmap, meters', async () => {
  const { listingToJson } = await import('../src/nft/json-out.js');
  const { canonicalJson } = await import('../src/nft/conformance/corpus.js');
  const j = (family: Family, text: string, extra: Record<string, unknown> = {}): string => canonicalJson(listingToJson(text, { family, sets: new Map(), defines: new Map(), ...extra }));
  const c = (json: string): string => canonicalJson(JSON.parse(json));
  assert.equal(j('ip', 'fib saddr . iif oif ne 0'), c('[{"match":{"op":"!=","left":{"fib":{"result":"oif","flags":["saddr","iif"]}},"right":"0"}}]'));
  assert.equal(j('ip', 'tcp flags & (fin | syn | rst) == { fin, ack }'), c('[{"match":{"op":"==","left":{"&":[{"payload":{"protocol":"tcp","field":"flags"}},{"|":[{"|":["fin","syn"]},"rst"]}]},"right":{"set":["fin","ack"]}}}]'));
  assert.match(j('ip', 'snat ip prefix to ip saddr map { 10.141.11.0/24 : 192.168.2.0/24 }', { hook: 'postrouting' }), /"flags":"netmap".*"type_flags":"prefix"/);
  assert.equal(j('ip', 'meter xyz size 8192 { ip saddr timeout 30s counter }'), c('[{"meter":{"key":{"elem":{"val":{"payload":{"protocol":"ip","field":"saddr"}},"timeout":30}},"name":"xyz","size":8192,"stmt":{"counter":null}}}]'));
});

test('concatenated set elements list in the order of their whole key read as a host-order number', () => {
  // new . 0x12345678 < established . 0x12785634 < new . 0x34127856: the mark weighs most.
  expectListing('ip', 'ct state . ct mark { new . 0x12345678, new . 0x34127856, established . 0x12785634 }', 'ct state . ct mark { new . 0x12345678, established . 0x12785634, new . 0x34127856 }');
});

test('blocks: every chain, set and rule item ends with a newline or semicolon (stmt_separator)', async () => {
  const { parse, renderError } = await import('../src/nft/index.js');
  const err = (src: string): string | undefined => {
    try { parse(src, 'f.nft'); return undefined; } catch (e) { return renderError(e as NftError, src, 'f.nft').split('\n')[0]; }
  };
  assert.equal(err('table ip t { chain c { } }'), "f.nft:1:26-26: Error: syntax error, unexpected '}', expecting newline or semicolon");
  assert.equal(err('table ip t {\n chain c {\n  accept }\n}'), "f.nft:3:10-10: Error: syntax error, unexpected '}', expecting newline or semicolon");
  assert.equal(err('table ip t {\n set s { type ipv4_addr; flags interval }\n}'), "f.nft:2:41-41: Error: syntax error, unexpected '}', expecting newline or semicolon or comma");
  // `elements = { }` needs no separator.
  assert.equal(err('table ip t {\n set s { type ipv4_addr; elements = { 1.2.3.4 } }\n chain c { type filter hook input priority 0; policy drop; }\n}'), undefined);
});

test('object listings: one setting per line in nft\'s order', async () => {
  const { executeNft, parseNftArgs } = await import('../src/nft/command.js');
  const { Ruleset } = await import('../src/netfilter/ruleset.js');
  const { VirtualClock } = await import('../src/netfilter/clock.js');
  const r = new Ruleset();
  const clock = new VirtualClock(0);
  let out = '';
  const io = { out: (t: string) => { out += t; }, err: (t: string) => { out += t; } };
  const src = 'table ip t {\n\tlimit l1 { rate over 400/minute burst 5 packets; }\n\tsynproxy s1 { mss 1460; wscale 7; timestamp sack-perm; }\n\tct timeout ct1 { protocol tcp; l3proto ip; policy = { close : 13, established : 100 }; }\n\tct expectation e1 { l3proto ip; protocol tcp; size 10; dport 22; timeout 100ms; }\n\tquota q1 {\n\t\tover 100 mbytes\n\t}\n}\n';
  assert.equal(executeNft(r, src, 'f.nft', parseNftArgs(['-f', 'f.nft']), io, clock), 0, out);
  executeNft(r, 'list ruleset', '<cmdline>', parseNftArgs(['list', 'ruleset']), io, clock);
  assert.equal(out, [
    'table ip t {', '\tlimit l1 {', '\t\trate over 400/minute', '\t}', '',
    '\tsynproxy s1 {', '\t\tmss 1460', '\t\twscale 7', '\t\ttimestamp sack-perm', '\t}', '',
    '\tct timeout ct1 {', '\t\tprotocol tcp', '\t\tl3proto ip', '\t\tpolicy = { established : 100, close : 13 }', '\t}', '',
    '\tct expectation e1 {', '\t\tprotocol tcp', '\t\tdport 22', '\t\ttimeout 100ms', '\t\tsize 10', '\t\tl3proto ip', '\t}', '',
    '\tquota q1 {', '\t\tover 100 mbytes', '\t}', '}', '',
  ].join('\n'));
});

test('anonymous chains: `jump { ... }` creates a binding chain before the rule, listed inside it', async () => {
  const c = compileRuleText('ip saddr 1.2.3.4 jump { tcp dport 22 accept; udp dport 53 drop; }', { family: 'ip', table: 't', chain: 'c' });
  assert.deepEqual(debugNetlinkLines(c, 'ip', 't', 'c').filter((l) => !l.startsWith('  [ ') || l.includes('immediate')).map((l) => l.trim()), [
    'ip (null) (null) use 0', 'ip t', '[ immediate reg 0 accept ]', 'ip t', '[ immediate reg 0 drop ]', 'ip t c', '[ immediate reg 0 jump ]',
  ]);
  // Every rule of the block ends with a separator, as in a chain block.
  assert.throws(() => compileRuleText('jump { accept }', { family: 'ip', table: 't', chain: 'c' }), /unexpected '\}', expecting newline or semicolon/);
  const { executeNft, parseNftArgs } = await import('../src/nft/command.js');
  const { Ruleset } = await import('../src/netfilter/ruleset.js');
  const { VirtualClock } = await import('../src/netfilter/clock.js');
  const r = new Ruleset();
  const clock = new VirtualClock(0);
  let out = '';
  const io = { out: (t: string) => { out += t; }, err: (t: string) => { out += t; } };
  const run = (...argv: string[]): number => { const o = parseNftArgs(argv); return executeNft(r, o.words.join(' '), '<cmdline>', o, io, clock); };
  const src = 'table ip t {\n\tchain c {\n\t\ttype filter hook input priority 0;\n\t\tip saddr 1.2.3.4 jump { tcp dport 22 accept; udp dport 53 drop; }\n\t\tgoto {\n\t\t\tcounter\n\t\t}\n\t}\n}\n';
  assert.equal(executeNft(r, src, 'f.nft', parseNftArgs(['-f', 'f.nft']), io, clock), 0, out);
  out = '';
  run('-a', 'list', 'ruleset');
  assert.equal(out, [
    'table ip t { # handle 1', '\tchain c { # handle 1', '\t\ttype filter hook input priority filter; policy accept;',
    '\t\tip saddr 1.2.3.4 jump {', '\t\t\ttcp dport 22 accept', '\t\t\tudp dport 53 drop', '\t\t} # handle 5',
    '\t\tgoto {', '\t\t\tcounter packets 0 bytes 0', '\t\t} # handle 8', '\t}', '}', '',
  ].join('\n'));
  // `list chains` does not show binding chains; deleting the rule takes its chain along.
  out = '';
  run('list', 'chains');
  assert.doesNotMatch(out, /__chain/);
  assert.equal(run('delete', 'rule', 'ip', 't', 'c', 'handle', '5'), 0);
  assert.equal([...r.tables.values()].flatMap((t) => [...t.chains.keys()]).sort().join(','), '__chain1,c');
});

test('ruleset listing: table comments, named set elements sorted as nft sorts them, masks against zero', async () => {
  const { executeNft, parseNftArgs } = await import('../src/nft/command.js');
  const { Ruleset } = await import('../src/netfilter/ruleset.js');
  const { VirtualClock } = await import('../src/netfilter/clock.js');
  const r = new Ruleset();
  let out = '';
  const io = { out: (t: string) => { out += t; }, err: (t: string) => { out += t; } };
  const src = 'add table ip t { comment "kp" ; }\nadd map ip t m { type ipv4_addr . inet_proto . inet_service : verdict ; }\n'
    + 'add element ip t m { 5.6.7.8 . tcp . 80 : drop, 1.2.3.4 . tcp . 80 : accept, 192.168.99.22 . tcp . 80 : drop }\n'
    + 'add chain ip t c\nadd rule ip t c meta mark & 0x4000 == 0 return\n';
  assert.equal(executeNft(r, src, 'f.nft', parseNftArgs(['-f', 'f.nft']), io, new VirtualClock(0)), 0, out);
  const o = parseNftArgs(['list', 'ruleset']);
  executeNft(r, o.words.join(' '), '<cmdline>', o, io, new VirtualClock(0));
  assert.match(out, /^table ip t \{\n\tcomment "kp"\n/);
  assert.match(out, /elements = \{ 1\.2\.3\.4 \. tcp \. 80 : accept,\n\t+ +5\.6\.7\.8 \. tcp \. 80 : drop,\n\t+ +192\.168\.99\.22 \. tcp \. 80 : drop \}/);
  assert.match(out, /meta mark & 0x00004000 == 0x00000000 return/);
});

test('listing: a dependency used inside a statement expression (jhash key) goes', () => {
  expectListing('netdev', 'ether saddr set 01:01:01:01:01:01 ether daddr set jhash ip saddr mod 10 map { 0-4 : 02:02:02:02:02:02, 5-9 : 03:03:03:03:03:03 } fwd to "lo"',
    'ether saddr set 01:01:01:01:01:01 ether daddr set jhash ip saddr mod 10 map { 0-4 : 02:02:02:02:02:02, 5-9 : 03:03:03:03:03:03 } fwd to "lo"', { hook: 'ingress' });
});

test('interval sets: declared size as nft counts it, the open top interval, touching intervals of named sets', async () => {
  const size = (rule: string): number => compileRuleText(rule, { family: 'ip', table: 't', chain: 'c' }).sets[0]!.size!;
  assert.equal(size('tcp dport { 1-3, 7-9 }'), 5);
  assert.equal(size('tcp dport { 1-3, 4-6 }'), 3);
  assert.equal(size('tcp dport { 1-3, 5-65535 }'), 5);
  assert.equal(size('tcp dport vmap { 1-3 : accept, 4-6 : drop }'), 5);
  assert.equal(size('ip saddr { 10.0.0.0/8, 192.168.0.0/16 }'), 5);
  assert.match(lines('ip', 'tcp dport { 1-2, 5-65535 }').find((l) => l.includes('element'))!, /element 00000500 {2}: 0 \[end\] {2}userdata = \{ \\x01\\x04\\x01\\x00\\x00\\x00 \}$/);
  // A named set without auto-merge keeps 1.0.1.0/24 and 1.0.2.0/23 apart: an end and a start at 1.0.2.0.
  const { executeNft, parseNftArgs } = await import('../src/nft/command.js');
  const { Ruleset } = await import('../src/netfilter/ruleset.js');
  const { VirtualClock } = await import('../src/netfilter/clock.js');
  let out = '';
  const io = { out: (t: string) => { out += t; }, err: (t: string) => { out += t; } };
  const src = 'add table ip t\nadd set ip t s { type ipv4_addr; flags interval; }\nadd element ip t s { 1.0.1.0/24 }\nadd element ip t s { 1.0.2.0/23 }\n';
  assert.equal(executeNft(new Ruleset(), src, 'f.nft', parseNftArgs(['--debug=netlink', '-f', 'f.nft']), io, new VirtualClock(0)), 0, out);
  assert.match(out, /element 00020001 {2}: 1 \[end\]\telement 00020001 {2}: 0 \[end\]/);
});

test('an ARP ethertype and an IP header in one rule conflict, as nft refuses them (resolve_protocol_conflict)', () => {
  for (const family of ['bridge', 'netdev', 'inet'] as Family[]) {
    expectRefused(family, 'ether type arp ip daddr 1.2.3.4 accept', 'conflicting protocols specified: arp vs. ip');
  }
  // The same protocol twice is no conflict: the dependency is simply not repeated.
  expectBytecode('bridge', 'ether type ip ip daddr 1.2.3.4', [
    '[ payload load 2b @ link header + 12 => reg 1 ]',
    '[ cmp eq reg 1 0x00000008 ]',
    '[ payload load 4b @ network header + 16 => reg 1 ]',
    '[ cmp eq reg 1 0x04030201 ]',
  ]);
});

test('byte units as nft 1.0.6 reads them: data_unit_parse matches a prefix of bytes/kbytes/mbytes; others are located errors', () => {
  // strncmp(): "kbytesx" is kbytes; gbytes is not a unit in 1.0.6.
  expectBytecode('ip', 'quota 1 kbytesx', ['[ quota bytes 1024 consumed 0 flags 0 ]']);
  expectRefused('ip', 'quota 1 gbytes', 'Wrong rate format');
  expectRefused('ip', 'quota 1 kbytes used 3 foo', 'Wrong rate format');
  expectRefused('ip', 'limit rate 1 gbytes/second', 'Wrong rate format');
  expectRefused('ip', 'limit rate 1 kbytes/second burst 5 foo', 'Wrong rate format');
  // quota_unit is BYTES or STRING: another keyword is a syntax error.
  expectRefused('ip', 'quota over 1023000 counter', 'syntax error, unexpected counter, expecting string or bytes');
});
