/**
 * `nft` commands against an in-memory ruleset: one invocation is one batch,
 * committed whole or not at all; listings as nft 1.0.6 prints them; handles;
 * `--debug=netlink` against the real nft where a namespace can be made; and a
 * ratchet over the real-ruleset corpus.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { executeNft, parseNftArgs } from '../src/nft/command.js';
import { Ruleset } from '../src/netfilter/ruleset.js';
import { VirtualClock } from '../src/netfilter/clock.js';
import { realNftRuns } from './support/real-nft.js';

const clock = new VirtualClock(0);

/** Runs `nft ARGS...` (argv words) on `r`; returns status and both streams. */
/** The interfaces of the host the commands run on (lo is always 1). */
let interfaces: string[] = [];

function nft(r: Ruleset, ...argv: string[]): { status: number; out: string; err: string } {
  let out = '';
  let err = '';
  const opts = parseNftArgs(argv);
  opts.interfaces = interfaces;
  const src = opts.words.join(' ');
  const status = executeNft(r, src, '<cmdline>', opts, { out: (t) => { out += t; }, err: (t) => { err += t; } }, clock);
  return { status, out, err };
}
function nftFile(r: Ruleset, text: string, ...flags: string[]): { status: number; out: string; err: string } {
  let out = '';
  let err = '';
  const opts = parseNftArgs([...flags, '-f', 'ruleset.nft']);
  const status = executeNft(r, text, 'ruleset.nft', opts, { out: (t) => { out += t; }, err: (t) => { err += t; } }, clock);
  return { status, out, err };
}

function expectListing(r: Ruleset, want: string, ...flags: string[]): void {
  const res = nft(r, ...flags, 'list', 'ruleset');
  assert.equal(res.err, '');
  assert.equal(res.out, want);
}

const FILTER = `table ip filter {
	chain input {
		type filter hook input priority filter; policy drop;
		tcp dport 22 counter packets 0 bytes 0 accept
		ip saddr { 10.0.0.0/8, 192.168.1.1 } counter packets 0 bytes 0
	}
}
`;

test('add table, chain and rules, then list them as nft does', () => {
  const r = new Ruleset();
  assert.equal(nft(r, 'add', 'table', 'ip', 'filter').status, 0);
  assert.equal(nft(r, 'add chain ip filter input { type filter hook input priority 0; policy drop; }').status, 0);
  assert.equal(nft(r, 'add', 'rule', 'ip', 'filter', 'input', 'tcp', 'dport', '22', 'counter', 'accept').status, 0);
  assert.equal(nft(r, 'add rule ip filter input ip saddr { 10.0.0.0/8, 192.168.1.1 } counter').status, 0);
  expectListing(r, FILTER);
});

test('a whole file is one batch, and -a shows the handles the kernel gave', () => {
  const r = new Ruleset();
  const res = nftFile(r, `table ip filter {
	chain input {
		type filter hook input priority 0; policy drop;
		tcp dport 22 counter accept
		ip saddr { 10.0.0.0/8, 192.168.1.1 } counter
	}
}
`);
  assert.equal(res.status, 0, res.err);
  expectListing(r, FILTER);
  expectListing(r, `table ip filter { # handle 1
	chain input { # handle 1
		type filter hook input priority filter; policy drop;
		tcp dport 22 counter packets 0 bytes 0 accept # handle 2
		ip saddr { 10.0.0.0/8, 192.168.1.1 } counter packets 0 bytes 0 # handle 4
	}
}
`, '-a');
  // -s leaves the counter values out.
  assert.match(nft(r, '-s', 'list', 'ruleset').out, /\t\ttcp dport 22 counter accept\n/);
});

test('a failing batch changes nothing and every refusal is reported as nft does', () => {
  const r = new Ruleset();
  nft(r, 'add table ip filter');
  const before = nft(r, 'list', 'ruleset').out;
  const res = nft(r, 'add chain ip filter ok; add rule ip filter nochain accept');
  assert.equal(res.status, 1);
  assert.equal(res.err, `Error: Could not process rule: No such file or directory
add chain ip filter ok; add rule ip filter nochain accept
                                           ^^^^^^^
`);
  assert.equal(nft(r, 'list', 'ruleset').out, before, 'the chain of the failed batch must not exist');
  assert.equal(r.table(2, 'filter')?.chains.size, 0);
});

test('refusals are echoed and marked as nft 1.0.6 marks them (one command per invocation)', () => {
  const r = new Ruleset();
  const cmds = [
    'add table ip filter', 'create table ip filter', 'add chain ip filter a', 'add chain ip filter b', 'add rule ip filter a jump b',
    'delete chain ip filter b', 'add element ip filter nosuch { 1.2.3.4 }', 'add set ip filter s { type ipv4_addr; }',
    'add element ip filter s { 1.2.3.4 }', 'create element ip filter s { 1.2.3.4 }', 'delete element ip filter s { 5.6.7.8 }',
    'flush chain ip filter zz', 'list chain ip filter zz', 'list set ip filter zz',
  ];
  let err = '';
  for (const c of cmds) err += nft(r, ...c.split(' ')).err;
  // Recorded from the real nft 1.0.6 in a fresh namespace.
  assert.equal(err, `Error: Could not process rule: File exists
create table ip filter
                ^^^^^^
Error: Could not process rule: Device or resource busy
delete chain ip filter b
                       ^
Error: No such file or directory
add element ip filter nosuch { 1.2.3.4 }
                      ^^^^^^
Error: Could not process rule: File exists
create element ip filter s { 1.2.3.4 }
                             ^^^^^^^
Error: Could not process rule: No such file or directory
delete element ip filter s { 5.6.7.8 }
                             ^^^^^^^
Error: Could not process rule: No such file or directory
flush chain ip filter zz
                      ^^
Error: No such file or directory
list chain ip filter zz
                     ^^
Error: No such file or directory
list set ip filter zz
                   ^^
`);
});

test('an evaluation error is located in the file and nothing is sent', () => {
  const r = new Ruleset();
  const res = nftFile(r, 'table ip t {\n\tchain c {\n\t\ttcp dport foo accept\n\t}\n}\n');
  assert.equal(res.status, 1);
  assert.match(res.err, /^ruleset\.nft:3:13-15: Error: .*\n\t\ttcp dport foo accept\n\t\t {10}\^\^\^\n$/);
  assert.equal(r.tables.size, 0);
});

test('-c checks without committing', () => {
  const r = new Ruleset();
  assert.equal(nft(r, '-c', 'add table ip t').status, 0);
  assert.equal(r.tables.size, 0);
  assert.equal(nft(r, '-c', 'add rule ip t c accept').status, 1);
});

test('insert, replace and delete by handle; rename and flush a chain', () => {
  const r = new Ruleset();
  nft(r, 'add table inet t; add chain inet t c; add rule inet t c tcp dport 1 accept; add rule inet t c tcp dport 2 accept');
  assert.equal(nft(r, 'insert rule inet t c tcp dport 0 accept').status, 0);
  assert.equal(nft(r, 'add rule inet t c position 2 tcp dport 15 accept').status, 0);
  assert.equal(nft(r, 'replace rule inet t c handle 3 tcp dport 20 drop').status, 0);
  assert.equal(nft(r, 'delete rule inet t c handle 4').status, 0);
  expectListing(r, `table inet t { # handle 1
	chain c { # handle 1
		tcp dport 0 accept # handle 4
		tcp dport 1 accept # handle 2
		tcp dport 15 accept # handle 5
		tcp dport 20 drop # handle 6
	}
}
`.replace('\t\ttcp dport 0 accept # handle 4\n', ''), '-a');
  assert.equal(nft(r, 'rename chain inet t c d').status, 0);
  assert.equal(nft(r, 'flush chain inet t d').status, 0);
  expectListing(r, 'table inet t {\n\tchain d {\n\t}\n}\n');
  const gone = nft(r, 'delete rule inet t d handle 99');
  assert.equal(gone.status, 1);
  assert.equal(gone.err, 'Error: Could not process rule: No such file or directory\ndelete rule inet t d handle 99\n                            ^^\n');
});

test('named sets and maps: declaration, elements added and deleted later', () => {
  const r = new Ruleset();
  const res = nftFile(r, `table ip t {
	set blocked {
		type ipv4_addr
		flags interval
		elements = { 10.0.0.0/8, 192.168.0.1 }
	}
	set ports {
		type inet_service
		elements = { 22, 80 }
	}
	map m {
		type ipv4_addr : verdict
		elements = { 1.2.3.4 : accept }
	}
	chain c {
		ip saddr @blocked drop
		tcp dport @ports accept
		ip daddr vmap @m
	}
}
`);
  assert.equal(res.status, 0, res.err);
  assert.equal(nft(r, 'add element ip t blocked { 172.16.0.0/12 }').status, 0);
  assert.equal(nft(r, 'delete element ip t ports { 80 }').status, 0);
  expectListing(r, `table ip t {
	set blocked {
		type ipv4_addr
		flags interval
		elements = { 10.0.0.0/8, 172.16.0.0/12,
			     192.168.0.1 }
	}

	set ports {
		type inet_service
		elements = { 22 }
	}

	map m {
		type ipv4_addr : verdict
		elements = { 1.2.3.4 : accept }
	}

	chain c {
		ip saddr @blocked drop
		tcp dport @ports accept
		ip daddr vmap @m
	}
}
`);
  assert.equal(nft(r, 'list set ip t ports').out, 'table ip t {\n\tset ports {\n\t\ttype inet_service\n\t\telements = { 22 }\n\t}\n}\n');
});

test('named counters, list counters, reset counters', () => {
  const r = new Ruleset();
  assert.equal(nft(r, 'add table ip t; add counter ip t hits { packets 5 bytes 300 }').status, 0);
  assert.equal(nft(r, 'list counters').out, 'table ip t {\n\tcounter hits {\n\t\tpackets 5 bytes 300\n\t}\n}\n');
  assert.equal(nft(r, 'reset counters').out, 'table ip t {\n\tcounter hits {\n\t\tpackets 5 bytes 300\n\t}\n}\n');
  assert.match(nft(r, 'list ruleset').out, /packets 0 bytes 0/);
});

test('-j prints libnftables JSON', () => {
  const r = new Ruleset();
  nft(r, 'add table ip filter; add chain ip filter input { type filter hook input priority 0; policy drop; }; add rule ip filter input tcp dport 22 counter accept');
  const res = nft(r, '-j', 'list', 'ruleset');
  assert.equal(res.out, '{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, '
    + '{"table": {"family": "ip", "name": "filter", "handle": 1}}, '
    + '{"chain": {"family": "ip", "table": "filter", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}}, '
    + '{"rule": {"family": "ip", "table": "filter", "chain": "input", "handle": 2, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}}, {"counter": {"packets": 0, "bytes": 0}}, {"accept": null}]}}]}\n');
});

test('-j -f loads libnftables JSON: commands and bare objects', () => {
  const r = new Ruleset();
  const doc = JSON.stringify({ nftables: [
    { metainfo: { json_schema_version: 1 } },
    { add: { table: { family: 'inet', name: 'fw' } } },
    { chain: { family: 'inet', table: 'fw', name: 'in', type: 'filter', hook: 'input', prio: 0, policy: 'drop' } },
    { add: { set: { family: 'inet', table: 'fw', name: 'ok', type: 'ipv4_addr', elem: ['10.0.0.1', { prefix: { addr: '192.168.0.0', len: 16 } }], flags: ['interval'] } } },
    { add: { rule: { family: 'inet', table: 'fw', chain: 'in', expr: [
      { match: { op: '==', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: '@ok' } }, { accept: null }] } } },
  ] });
  let err = '';
  const opts = parseNftArgs(['-j', '-f', 'fw.json']);
  assert.equal(executeNft(r, doc, 'fw.json', opts, { out: () => {}, err: (t) => { err += t; } }, clock), 0, err);
  expectListing(r, `table inet fw {
	set ok {
		type ipv4_addr
		flags interval
		elements = { 10.0.0.1, 192.168.0.0/16 }
	}

	chain in {
		type filter hook input priority filter; policy drop;
		ip saddr @ok accept
	}
}
`);
  // And -j list output loads back to the same ruleset.
  const back = new Ruleset();
  assert.equal(executeNft(back, nft(r, '-j', 'list', 'ruleset').out, 'x.json', parseNftArgs(['-j', '-f', 'x.json']), { out: () => {}, err: () => {} }, clock), 0);
  assert.equal(nft(back, 'list', 'ruleset').out, nft(r, 'list', 'ruleset').out);
});

test('flush ruleset and delete table', () => {
  const r = new Ruleset();
  nft(r, 'add table ip a; add table ip6 b');
  assert.equal(nft(r, 'delete table ip a').status, 0);
  assert.equal(nft(r, 'list tables').out, 'table ip6 b\n');
  assert.equal(nft(r, 'flush ruleset').status, 0);
  assert.equal(nft(r, 'list ruleset').out, '');
  const missing = nft(r, 'list table ip nosuch');
  assert.equal(missing.err, 'Error: No such file or directory\nlist table ip nosuch\n              ^^^^^^\n');
});

function haveNftAndNetns(): boolean {
  if (!fs.existsSync('/usr/sbin/nft')) return false;
  return spawnSync('ip', ['netns', 'list']).status === 0 && process.getuid?.() === 0;
}

const DIFF_RULESET = `table inet t {
	counter cnt {
	}
	set s {
		type ipv4_addr
		elements = { 10.0.0.1, 10.0.0.2 }
	}
	map m {
		type inet_service : verdict
		elements = { 22 : jump other }
	}
	set ps {
		type ipv4_addr . inet_service
		flags interval
		elements = { 10.0.0.0/8 . 22 }
	}
	chain other {
	}
	chain input {
		type filter hook input priority filter; policy accept;
		ip saddr @s counter name "cnt"
		tcp dport vmap @m
		ip saddr . tcp dport @ps accept
		tcp dport { 22, 80 } counter accept
		ip saddr 10.0.0.0/8 drop
		ct state established,related accept
		iifname "lo" accept
	}
}
`;

test('--debug=netlink, list and -j list print what the real nft prints', (t) => {
  if (!haveNftAndNetns()) { t.skip('real nft or network namespaces not available (needs root, /usr/sbin/nft, ip)'); return; }
  const ns = `nfxq-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
  const dir = fs.mkdtempSync('/tmp/nfx-nft-');
  const f = path.join(dir, 'ruleset.nft');
  fs.writeFileSync(f, DIFF_RULESET);
  execFileSync('ip', ['netns', 'add', ns]);
  const inNs = (...args: string[]): string => execFileSync('ip', ['netns', 'exec', ns, '/usr/sbin/nft', ...args], { encoding: 'utf8' });
  let want: { debug: string; list: string; json: string };
  try {
    want = { debug: inNs('--debug=netlink', '-f', f), list: inNs('list', 'ruleset'), json: inNs('-j', 'list', 'ruleset') };
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const r = new Ruleset();
  const got = nftFile(r, DIFF_RULESET, '--debug=netlink');
  assert.equal(got.status, 0, got.err);
  assert.equal(got.out, want.debug);
  assert.equal(nft(r, 'list', 'ruleset').out, want.list);
  assert.equal(nft(r, '-j', 'list', 'ruleset').out, want.json);
});

// --- the real-ruleset corpus: a ratchet on how many load and list identically ---

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const corpus = path.resolve(repo, '..', 'shared', 'conformance', 'real-rulesets');
const baselineFile = path.join(repo, 'test', 'fixtures', 'nft-real-rulesets-baseline.json');

/** Table handles in the corpus's JSON depend on how many tables `nft -c` made (and threw away) first. */
function jsonWithoutTableHandles(text: string): string {
  const doc = JSON.parse(text) as { nftables: Record<string, Record<string, unknown>>[] };
  for (const x of doc.nftables) if (x['table']) delete x['table']['handle'];
  return JSON.stringify(doc);
}

test('real rulesets: verdicts, listings, JSON and --debug=netlink (ratchet)', (t) => {
  if (!fs.existsSync(corpus)) { t.skip(`corpus not found at ${corpus}`); return; }
  const score = { agree: 0, listed: 0, json: 0, debug: 0, errors: 0, jsonIn: 0 };
  let total = 0;
  for (const d of fs.readdirSync(corpus).sort()) {
    const dir = path.join(corpus, d);
    if (!fs.statSync(dir).isDirectory() || !fs.existsSync(path.join(dir, 'ruleset.nft'))) continue;
    total++;
    const readFile = (p: string): string => fs.readFileSync(path.isAbsolute(p) ? p : path.join(dir, p), 'utf8');
    const verdict = readFile('expected.verdict').split(' ')[0];
    const r = new Ruleset();
    // The namespace the corpus was recorded in had these links (ifindex 2, 3, ...).
    interfaces = fs.existsSync(path.join(dir, 'netdevs.txt'))
      ? readFile('netdevs.txt').split('\n').map((l) => l.trim().split(/\s+/)[0]!).filter((n) => n && !n.startsWith('#')) : [];
    let debug = '';
    let errors = '';
    const io = { out: (x: string) => { debug += x; }, err: (x: string) => { errors += x; }, readFile };
    let status: number;
    try {
      const opts = parseNftArgs(['--debug=netlink', '-f', 'ruleset.nft']);
      opts.interfaces = interfaces;
      status = executeNft(r, readFile('ruleset.nft'), 'ruleset.nft', opts, io, clock, readFile);
    } catch {
      status = 70;
    }
    if ((status === 0) === (verdict === 'loaded')) score.agree++;
    const wantDebug = fs.existsSync(path.join(dir, 'expected.debug-netlink')) ? readFile('expected.debug-netlink') : '';
    if (debug === wantDebug) score.debug++;
    if (verdict !== 'loaded' && status !== 0 && fs.existsSync(path.join(dir, 'expected.error')) && errors === readFile('expected.error')) score.errors++;
    if (status !== 0 || verdict !== 'loaded') continue;
    if (nft(r, 'list', 'ruleset').out === readFile('expected.list')) score.listed++;
    try {
      if (jsonWithoutTableHandles(nft(r, '-j', 'list', 'ruleset').out) === jsonWithoutTableHandles(readFile('expected.json'))) score.json++;
    } catch { /* unparsable output counts as a miss */ }
    // JSON in: nft's own JSON listing loads back into the same ruleset.
    const back = new Ruleset();
    const jopts = parseNftArgs(['-j', '-f', 'expected.json']);
    jopts.interfaces = interfaces;
    try {
      if (executeNft(back, readFile('expected.json'), 'expected.json', jopts, { out: () => {}, err: () => {} }, clock) === 0
        && nft(back, 'list', 'ruleset').out === readFile('expected.list')) score.jsonIn++;
    } catch { /* a crash counts as a miss */ }
  }
  interfaces = [];
  const baseline = JSON.parse(fs.readFileSync(baselineFile, 'utf8')) as typeof score;
  t.diagnostic(`real rulesets (${total}): verdict agreement ${score.agree}, identical listing ${score.listed}, `
    + `identical JSON ${score.json}, identical --debug=netlink ${score.debug}, identical error output ${score.errors}, JSON listing loads back identically ${score.jsonIn}; baseline ${JSON.stringify(baseline)}`);
  for (const k of Object.keys(score) as (keyof typeof score)[]) {
    assert.ok(score[k] >= (baseline[k] ?? 0), `${k} fell to ${score[k]} (baseline ${baseline[k]})`);
  }
});

// nft_run_cmd_from_buffer() puts a newline after the command line, so a command cut short is
// "unexpected newline" there; a file that ends too early is "unexpected end of file".
// A complete command ends there — a list command over a whole ruleset (`ruleset_spec`) or one
// table (`TABLE table_spec`) as any other: a word too many is a syntax error, named as bison names it.
const TOO_LONG = (line: string, at: number, word: string, kind = 'string'): [string, string] =>
  [line, `Error: syntax error, unexpected ${kind}, expecting end of file or newline or semicolon\n${line}\n${' '.repeat(at)}${'^'.repeat(word.length)}\n`];
const CUT_SHORT: Array<[string, string]> = [
  ['add rule ip t c tcp dport', 'Error: syntax error, unexpected newline\nadd rule ip t c tcp dport\n                         ^\n'],
  ['list meter ip t', 'Error: syntax error, unexpected newline, expecting string\nlist meter ip t\n               ^\n'],
  TOO_LONG('list tables ip extra', 15, 'extra'),
  TOO_LONG('list chains extra', 12, 'extra'),
  TOO_LONG('list ruleset ip extra', 16, 'extra'),
  TOO_LONG('list sets ip extra', 13, 'extra'),
  TOO_LONG('list tables 5', 12, '5', 'number'),
  TOO_LONG('list sets table ip t x', 21, 'x'),
  TOO_LONG('list flowtables extra', 16, 'extra'),
  // chain_spec needs the chain's name, whatever the verb; `flush chain ip t` used to flush every chain of t.
  ['list chain ip t', 'Error: syntax error, unexpected newline, expecting string\nlist chain ip t\n               ^\n'],
  ['flush chain ip t', 'Error: syntax error, unexpected newline, expecting string\nflush chain ip t\n                ^\n'],
  ['delete chain ip t', 'Error: syntax error, unexpected newline, expecting handle or string\ndelete chain ip t\n                 ^\n'],
  ['rename chain ip t', 'Error: syntax error, unexpected newline, expecting string\nrename chain ip t\n                 ^\n'],
];
// The same for every object named after its table (set_spec, obj_spec, flowtable_spec ...) and
// for the table itself; verbs that also take `handle N` say so.
for (const line of ['list set ip t', 'flush set ip t', 'delete set ip t', 'flush map ip t', 'delete flowtable ip t', 'list table',
  'delete table', 'list counter ip t', 'reset counter ip t', 'delete counter ip t', 'add set ip t']) {
  const want = /^delete /.test(line) ? 'handle or string' : 'string';
  CUT_SHORT.push([line, `Error: syntax error, unexpected newline, expecting ${want}\n${line}\n${' '.repeat(line.length)}^\n`]);
}
CUT_SHORT.push(['delete element ip t s', "Error: syntax error, unexpected newline, expecting '{' or '$'\ndelete element ip t s\n                     ^\n"]);
// Any command that is complete ends there, and a rule is deleted by its handle only.
for (const line of ['list table ip t extra', 'add table ip t extra', 'flush ruleset ip extra', 'list chain ip t c extra', 'add chain ip t c2 extra', 'flush table ip t extra']) {
  CUT_SHORT.push(TOO_LONG(line, line.length - 'extra'.length, 'extra'));
}
CUT_SHORT.push(['delete rule ip t c', 'Error: syntax error, unexpected newline, expecting handle\ndelete rule ip t c\n                  ^\n']);
CUT_SHORT.push(['delete rule ip t c position 5', 'Error: syntax error, unexpected position, expecting handle\ndelete rule ip t c position 5\n                   ^^^^^^^^\n']);

test('a command line cut short is "unexpected newline", a file cut short "unexpected end of file"; a list command with a word too many is refused', () => {
  const r = new Ruleset();
  assert.equal(nft(r, 'add table ip t').status, 0);
  assert.equal(nft(r, 'add chain ip t c').status, 0);
  assert.equal(nft(r, 'add rule ip t c accept').status, 0);
  for (const [line, err] of CUT_SHORT) assert.deepEqual(nft(r, ...line.split(' ')), { status: 1, out: '', err }, line);
  assert.match(nft(r, 'list ruleset').out, /\t\taccept\n/, 'the chain kept its rule');
  assert.match(nftFile(r, 'add rule ip t c tcp dport').err, /^ruleset\.nft:1:26-26: Error: syntax error, unexpected end of file\n/);
});

test('differential: the real nft says the same of command lines cut short or too long', (t) => {
  const real = realNftRuns('add table ip t\nadd chain ip t c\n', CUT_SHORT.map(([line]) => line.split(' ')));
  if (typeof real === 'string') { t.skip(real); return; }
  CUT_SHORT.forEach(([line, err], i) => assert.deepEqual([real[i]!.status, real[i]!.err], [1, err], line));
});

// tableid_spec, chainid_spec, setid_spec, obj_spec and flowtableid_spec: `delete ... handle N`.
// A handle that is not there is ENOENT at the number (at the table for objects and flowtables,
// as the kernel's extended ack points there).
const BY_HANDLE_SETUP = ['add table ip t', 'add table ip u', 'add chain ip u c', 'add set ip u s { type ipv4_addr; }', 'add counter ip u k'];
const BY_HANDLE = ['delete table ip handle 99', 'delete table handle 99', '-a list tables', 'delete table ip handle 2', 'list tables',
  'delete chain ip u handle 99', 'delete set ip u handle 99', 'delete counter ip u handle 99', 'delete flowtable ip u handle 99',
  'delete rule ip u c handle 99', 'delete chain ip nope handle 99', 'delete set ip nope handle 3'];

test('objects are deleted by handle; a missing handle is ENOENT at the number', () => {
  const r = new Ruleset();
  for (const line of BY_HANDLE_SETUP) assert.equal(nft(r, ...line.split(' ')).status, 0, line);
  assert.deepEqual(nft(r, 'delete', 'table', 'ip', 'handle', '99'), { status: 1, out: '', err: 'Error: Could not process rule: No such file or directory\ndelete table ip handle 99\n                       ^^\n' });
  assert.equal(nft(r, 'delete', 'table', 'ip', 'handle', '2').status, 0);
  assert.equal(nft(r, 'list', 'tables').out, 'table ip t\n');
});

test('differential: deleting by handle answers as the real nft does', (t) => {
  const real = realNftRuns(BY_HANDLE_SETUP.join('\n') + '\n', BY_HANDLE.map((line) => line.split(' ')));
  if (typeof real === 'string') { t.skip(real); return; }
  const ours = new Ruleset();
  for (const line of BY_HANDLE_SETUP) nft(ours, ...line.split(' '));
  BY_HANDLE.forEach((line, i) => assert.deepEqual(nft(ours, ...line.split(' ')), real[i], line));
});
