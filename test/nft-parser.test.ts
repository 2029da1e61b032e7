/**
 * The nft front end: scanner tokens and locations, the command and rule
 * grammar, and nft-shaped errors with "did you mean" hints.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Scanner } from '../src/nft/scanner.js';
import { parse, renderError, NftError, compileRuleText } from '../src/nft/index.js';
import { compileFile } from '../src/nft/compile-file.js';

function tokens(src: string): string[] {
  return new Scanner(src, 'f').tokenize().filter((t) => t.kind !== 'eof').map((t) => `${t.kind}:${t.text}`);
}

function expectParseError(src: string, rendered: string): void {
  try {
    parse(src, 'f.nft');
  } catch (e) {
    assert.ok(e instanceof NftError, `not an NftError: ${e}`);
    assert.equal(renderError(e, src, 'f.nft'), rendered);
    return;
  }
  assert.fail(`parsed: ${src}`);
}

test('scanner: addresses, ranges, prefixes and map separators split as nft does', () => {
  assert.deepEqual(tokens('ip saddr 10.0.0.0/8'), ['word:ip', 'word:saddr', 'word:10.0.0.0', 'punct:/', 'number:8']);
  assert.deepEqual(tokens('tcp dport 22-25'), ['word:tcp', 'word:dport', 'number:22', 'punct:-', 'number:25']);
  assert.deepEqual(tokens('{ 25:accept }'), ['punct:{', 'number:25', 'punct::', 'word:accept', 'punct:}']);
  assert.deepEqual(tokens('ip6 daddr dead::beef'), ['word:ip6', 'word:daddr', 'word:dead::beef']);
  assert.deepEqual(tokens('ether saddr 00:0f:54:0c:11:04'), ['word:ether', 'word:saddr', 'word:00:0f:54:0c:11:04']);
  assert.deepEqual(tokens('dnat to 10.0.0.1:80'), ['word:dnat', 'word:to', 'word:10.0.0.1', 'punct::', 'number:80']);
  assert.deepEqual(tokens('limit rate 1 mbytes/second'), ['word:limit', 'word:rate', 'number:1', 'word:mbytes/second']);
  assert.deepEqual(tokens('iifname "eth0" # comment'), ['word:iifname', 'string:eth0']);
});

test('scanner: tokens carry 1-based line and column spans', () => {
  const toks = new Scanner('table ip t {\n  chain c\n}', 'f').tokenize();
  const chain = toks.find((t) => t.text === 'chain')!;
  assert.deepEqual(chain.loc, { file: 'f', line: 2, first: 3, last: 7 });
});

test('parser: commands, table blocks, defines', () => {
  const { commands, defines } = parse('define ports = { 22, 80 }\ntable inet f {\n  chain input {\n    type filter hook input priority 0; policy drop;\n    tcp dport $ports accept\n  }\n}\n', 'f.nft');
  assert.equal(defines.has('ports'), true);
  assert.equal(commands.length, 1);
  const t = commands[0]!.target;
  assert.equal(t.obj, 'table');
  if (t.obj !== 'table') return;
  const chain = t.children![0]!.target;
  assert.equal(chain.obj, 'chain');
  if (chain.obj !== 'chain') return;
  assert.equal(chain.body!.hook, 'input');
  assert.equal(chain.body!.policy, 'drop');
  assert.equal(chain.body!.rules.length, 1);
  assert.equal(chain.body!.rules[0]!.text, 'tcp dport $ports accept');
});

test('parser: every command verb parses', () => {
  for (const src of [
    'add table ip t', 'delete table ip t', 'flush ruleset', 'list ruleset', 'add chain ip t c { type nat hook postrouting priority srcnat; }',
    'insert rule ip t c position 3 accept', 'delete rule ip t c handle 4', 'add set ip t s { type ipv4_addr; flags interval; }',
    'add map ip t m { type ipv4_addr : verdict; }', 'add element ip t s { 10.0.0.0/8, 192.168.0.1 }', 'add counter ip t c1',
    'add quota ip t q over 1 mbytes', 'rename chain ip t c d', 'list table inet filter',
  ]) assert.doesNotThrow(() => parse(src, '<cmdline>'), src);
});

test('errors: nft shape with the culprit underlined and a hint', () => {
  expectParseError('add rule ip t c tcp dportt 22', 'f.nft:1:21-26: Error: syntax error, unexpected dportt; did you mean `dport`?\nadd rule ip t c tcp dportt 22\n                ~~~ ^^^^^^');
  expectParseError('add rulx ip t c', 'f.nft:1:5-8: Error: syntax error, unexpected rulx; did you mean `rule`?\nadd rulx ip t c\n    ^^^^');
  expectParseError('add rule ip t c acept', 'f.nft:1:17-21: Error: syntax error, unexpected acept; did you mean `accept`?\nadd rule ip t c acept\n                ^^^^^');
});

test('errors: evaluation errors point at the value', () => {
  try {
    compileRuleText('tcp dport sshh accept', { family: 'ip', table: 't', chain: 'c' });
    assert.fail('accepted');
  } catch (e) {
    assert.ok(e instanceof NftError);
    assert.equal(renderError(e, 'add rule ip t c tcp dport sshh accept'), 'Error: Could not parse inet_service; did you mean `ssh`?\nadd rule ip t c tcp dport sshh accept\n                          ^^^^');
  }
});

test('fuzz: mutated rules never crash; every rejection is a located NftError', () => {
  const seeds = ['tcp dport { 22, 80 } accept', 'ip saddr 10.0.0.0/8 ct state established,related counter', 'meta mark set 0x10 log prefix "x" drop', 'iifname "eth0" tcp flags syn / syn,ack dnat ip to 10.0.0.1:80'];
  const chars = [' ', '{', '}', ',', ':', '-', '/', '.', '"', '@', '$', ';', 'x', '0', '!', '=', '\n'];
  fc.assert(fc.property(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(60), fc.constantFrom(...chars), fc.boolean()), { maxLength: 4 }), (seed, edits) => {
    let s = seed;
    for (const [pos, ch, del] of edits) {
      const p = pos % (s.length + 1);
      s = del ? s.slice(0, p) + s.slice(p + 1) : s.slice(0, p) + ch + s.slice(p);
    }
    for (const family of ['ip', 'inet'] as const) {
      try { compileRuleText(s, { family, table: 't', chain: 'c' }); } catch (e) {
        if (!(e instanceof NftError)) throw new Error(`crash on ${JSON.stringify(s)}: ${(e as Error).stack}`);
        if (!e.loc) throw new Error(`unlocated error on ${JSON.stringify(s)}: ${e.message}`);
      }
    }
  }), { numRuns: 50_000 });
});

test('fuzz: mutated whole files never crash or hang; rejections are located', () => {
  const file = 'define ports = { 22, 80 }\ntable inet f {\n  set s { type ipv4_addr; flags interval; }\n  chain input {\n    type filter hook input priority 0; policy drop;\n    tcp dport $ports accept\n    ip saddr @s drop\n    ct state established,related counter accept\n  }\n}\n';
  const chars = [' ', '{', '}', ';', '\n', '"', '$', '@', ':', '-', '/', ',', '#', 'x', '\\'];
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(file.length), fc.constantFrom(...chars), fc.boolean()), { maxLength: 5 }), (edits) => {
    let s = file;
    for (const [pos, ch, del] of edits) {
      const p = pos % (s.length + 1);
      s = del ? s.slice(0, p) + s.slice(p + 1) : s.slice(0, p) + ch + s.slice(p);
    }
    try { compileFile(s, 'f.nft'); } catch (e) {
      if (!(e instanceof NftError)) throw new Error(`crash on ${JSON.stringify(s)}: ${(e as Error).stack}`);
      // Located errors render with the file name; only errors without a token (end of batch) may lack one.
      if (e.loc) assert.equal(e.loc.file, 'f.nft');
    }
  }), { numRuns: 5000 });
});

test('listings resolve overlapping ICMP fields through the `icmp type` seen before them', async () => {
  const { compileRuleText } = await import('../src/nft/index.js');
  const { listRule } = await import('../src/nft/print.js');
  const list = (family: 'ip' | 'ip6', rule: string): string => {
    const c = compileRuleText(rule, { family, table: 't', chain: 'c' });
    return listRule(c.exprs, c.sets, family);
  };
  // What the real nft 1.0.6 lists for these rules.
  assert.equal(list('ip', 'icmp mtu 33'), 'icmp mtu 33');
  assert.equal(list('ip', 'icmp id 22'), 'icmp type { echo-reply, echo-request } icmp id 22');
  assert.equal(list('ip', 'icmp type echo-reply icmp id 1'), 'icmp type echo-reply icmp id 1');
  assert.equal(list('ip', 'icmp id 1 icmp sequence 2'), 'icmp type { echo-reply, echo-request } icmp id 1 icmp sequence 2');
  assert.equal(list('ip6', 'icmpv6 max-delay 33'), 'icmpv6 max-delay 33');
  assert.equal(list('ip', 'tcp flags & (fin | syn | rst | psh | ack | urg) == { fin, ack }'), 'tcp flags & (fin | syn | rst | psh | ack | urg) == { fin, ack }');
  assert.equal(list('ip', 'ct mark set (meta mark | 0x10) << 8'), 'ct mark set (meta mark | 0x00000010) << 8');
});
