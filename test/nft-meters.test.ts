/**
 * Meters and the per-table ct helper listing, as nft 1.0.6 prints them:
 * - a rule's meter lists as meter_stmt_print writes it, `meter NAME size N { KEY [timeout T]
 *   STMT }`, the size always printed (the kernel gives a meter declared without one 65535,
 *   nft_dynset_init), the inner statement stateless; netlink_parse_dynset tells a meter from
 *   `add @set` by its anonymous set. -j: meter_stmt_json's key, stmt, size, name;
 * - `list meters [FAMILY]` (no `table` form) and `list meter [FAMILY] TABLE NAME` print the
 *   meter's set (type, size, `flags dynamic`, elements with their statements before timeout
 *   and expires, set_elem_expr_print); a name that is no meter is ENOENT;
 * - `list ct helpers table [FAMILY] TABLE` lists one table's helpers (there is no form without
 *   `table`); `list ct timeout|expectation table ...` is the same grammar (1.0.6 crashes on it,
 *   nfx lists the table's objects).
 * Fixed expectations first, then the real nft in a namespace of its own, with traffic through
 * lo for the elements.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { executeNft, parseNftArgs } from '../src/nft/command.js';
import { Ruleset } from '../src/netfilter/ruleset.js';
import { VirtualClock } from '../src/netfilter/clock.js';
import { evaluateHook, NF_INET_LOCAL_IN } from '../src/netfilter/hooks.js';
import { NullHostServices } from '../src/netfilter/host-services.js';
import { ipv4Packet } from '../src/netfilter/testing.js';
import { realNftRuns } from './support/real-nft.js';

interface Run { status: number; out: string; err: string }

const clock = new VirtualClock(0);

function run(r: Ruleset, src: string, file: string, argv: string[]): Run {
  let out = '';
  let err = '';
  const status = executeNft(r, src, file, parseNftArgs(argv), { out: (t) => { out += t; }, err: (t) => { err += t; } }, clock);
  return { status, out, err };
}
/** `nft ARGV...` on the command line, one word each. */
function nft(r: Ruleset, argv: string[]): Run {
  return run(r, parseNftArgs(argv).words.join(' '), '<cmdline>', argv);
}
function loaded(ruleset = RULESET): Ruleset {
  const r = new Ruleset();
  const res = run(r, ruleset, 'meters.nft', ['-f', 'meters.nft']);
  assert.deepEqual(res, { status: 0, out: '', err: '' });
  return r;
}

/** Three meters (a size, a timeout, a concatenation, none of those), counters in and after one, a ct helper, a ct timeout. */
const RULESET = `table ip t {
	ct helper ftp-std {
		type "ftp" protocol tcp
		l3proto ip
	}

	chain c {
		type filter hook input priority filter; policy accept;
		meter flood size 128 { ip saddr timeout 10s limit rate over 10/second } drop
		meter m2 { ip saddr . tcp dport counter } counter
		meter m3 { ip saddr limit rate 5/minute } accept
	}
}
table ip6 w {
	chain c {
		meter m6 size 10 { ip6 saddr . ip6 daddr timeout 1m counter }
	}
}
`;

const LISTED_RULES = [
  '\t\tmeter flood size 128 { ip saddr timeout 10s limit rate over 10/second } drop\n',
  '\t\tmeter m2 size 65535 { ip saddr . tcp dport counter } counter packets 0 bytes 0\n',
  '\t\tmeter m3 size 65535 { ip saddr limit rate 5/minute } accept\n',
].join('');
const FLOOD = '\tmeter flood {\n\t\ttype ipv4_addr\n\t\tsize 128\n\t\tflags dynamic,timeout\n\t}\n';
const M2 = '\tmeter m2 {\n\t\ttype ipv4_addr . inet_service\n\t\tsize 65535\n\t\tflags dynamic\n\t}\n';
const M3 = '\tmeter m3 {\n\t\ttype ipv4_addr\n\t\tsize 65535\n\t\tflags dynamic\n\t}\n';
const M6 = '\tmeter m6 {\n\t\ttype ipv6_addr . ipv6_addr\n\t\tsize 10\n\t\tflags dynamic,timeout\n\t}\n';
const HELPER = '\tct helper ftp-std {\n\t\ttype "ftp" protocol tcp\n\t\tl3proto ip\n\t}\n';

const META = '{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}';
const doc = (...items: string[]): string => `{"nftables": [${[META, ...items].join(', ')}]}\n`;

function expectListing(r: Ruleset, argv: string[], out: string): void {
  assert.deepEqual(nft(r, argv), { status: 0, out, err: '' }, `nft ${argv.join(' ')}`);
}

test('a meter lists as meter_stmt_print writes it: the size always, the inner counter bare', () => {
  const r = loaded();
  const table = nft(r, ['list', 'table', 'ip', 't']).out;
  assert.ok(table.includes(LISTED_RULES), table);
  // -s: every counter bare.
  assert.ok(nft(r, ['-s', 'list', 'table', 'ip', 't']).out.includes('\t\tmeter m2 size 65535 { ip saddr . tcp dport counter } counter\n'));
  expectListing(r, ['list', 'chain', 'ip6', 'w', 'c'], 'table ip6 w {\n\tchain c {\n\t\tmeter m6 size 10 { ip6 saddr . ip6 daddr timeout 1m counter }\n\t}\n}\n');
});

test('-j: a meter is {"meter": {key, stmt, size, name}}, the timeout on the key as an elem', () => {
  const r = loaded();
  const rules = JSON.parse(nft(r, ['-j', 'list', 'chain', 'ip', 't', 'c']).out).nftables.filter((x: Record<string, unknown>) => 'rule' in x);
  const exprs = rules.map((x: { rule: { expr: unknown[] } }) => JSON.stringify(x.rule.expr[0]));
  assert.deepEqual(exprs, [
    '{"meter":{"key":{"elem":{"val":{"payload":{"protocol":"ip","field":"saddr"}},"timeout":10}},"stmt":{"limit":{"rate":10,"burst":5,"per":"second","inv":true}},"size":128,"name":"flood"}}',
    '{"meter":{"key":{"concat":[{"payload":{"protocol":"ip","field":"saddr"}},{"payload":{"protocol":"tcp","field":"dport"}}]},"stmt":{"counter":null},"size":65535,"name":"m2"}}',
    '{"meter":{"key":{"payload":{"protocol":"ip","field":"saddr"}},"stmt":{"limit":{"rate":5,"burst":5,"per":"minute"}},"size":65535,"name":"m3"}}',
  ]);
});

test('list meters [FAMILY] and list meter [FAMILY] TABLE NAME print the meters\' sets', () => {
  const r = loaded();
  expectListing(r, ['list', 'meters'], `table ip t {\n${FLOOD}${M2}${M3}}\ntable ip6 w {\n${M6}}\n`);
  expectListing(r, ['list', 'meters', 'ip6'], `table ip6 w {\n${M6}}\n`);
  expectListing(r, ['list', 'meter', 'ip', 't', 'flood'], `table ip t {\n${FLOOD}}\n`);
  expectListing(r, ['list', 'meter', 't', 'm2'], `table ip t {\n${M2}}\n`);
  expectListing(r, ['-j', 'list', 'meter', 'ip', 't', 'm2'],
    doc('{"meter": {"family": "ip", "name": "m2", "table": "t", "type": ["ipv4_addr", "inet_service"], "handle": 5, "size": 65535}}'));
  expectListing(r, ['-j', 'list', 'meters', 'ip6'],
    doc('{"meter": {"family": "ip6", "name": "m6", "table": "w", "type": ["ipv6_addr", "ipv6_addr"], "handle": 2, "size": 10, "flags": ["timeout"]}}'));
});

test('list meter refuses what is not a meter; list meters has no table form', () => {
  const r = loaded();
  assert.deepEqual(nft(r, ['list', 'meter', 'ip', 't', 'c']), { status: 1, out: '', err: 'Error: No such file or directory\nlist meter ip t c\n                ^\n' });
  assert.deepEqual(nft(r, ['list', 'meter', 'ip', 'nope', 'flood']), { status: 1, out: '', err: 'Error: No such file or directory\nlist meter ip nope flood\n              ^^^^\n' });
  assert.deepEqual(nft(r, ['list', 'meters', 'table', 'ip', 't']),
    { status: 1, out: '', err: 'Error: syntax error, unexpected table, expecting end of file or newline or semicolon\nlist meters table ip t\n            ^^^^^\n' });
  assert.match(nft(r, ['list', 'meter', 'ip', 't']).err, /^Error: syntax error, unexpected .*, expecting string\n/);
  // A meter is no set: `list set` does not find it.
  assert.equal(nft(r, ['list', 'set', 'ip', 't', 'flood']).status, 1);
});

/** The packets `echo > /dev/tcp/127.0.0.1/1` makes pass INPUT on lo: the SYN and the RST. */
function connectToClosedPort(r: Ruleset): void {
  const host = new NullHostServices();
  evaluateHook(r, 2, NF_INET_LOCAL_IN, ipv4Packet({ src: '127.0.0.1', dst: '127.0.0.1', sport: 40000, dport: 1 }), { host, clock });
  evaluateHook(r, 2, NF_INET_LOCAL_IN, ipv4Packet({ src: '127.0.0.1', dst: '127.0.0.1', sport: 1, dport: 40000, flags: 0x14 }), { host, clock });
}

/** Meters keyed by the source address only, so the elements do not depend on the client's port. */
const TRAFFIC_RULESET = `table ip t {
	chain c {
		type filter hook input priority filter; policy accept;
		meter flood size 128 { ip saddr timeout 10s limit rate over 10/second } drop
		meter m3 { ip saddr limit rate 5/minute } accept
	}
}
`;

test('a meter\'s elements carry their statement, before timeout and expires', () => {
  const r = loaded(TRAFFIC_RULESET);
  connectToClosedPort(r);
  expectListing(r, ['list', 'meter', 'ip', 't', 'flood'],
    'table ip t {\n\tmeter flood {\n\t\ttype ipv4_addr\n\t\tsize 128\n\t\tflags dynamic,timeout\n\t\telements = { 127.0.0.1 limit rate over 10/second timeout 10s expires 10s }\n\t}\n}\n');
  expectListing(r, ['-j', 'list', 'meter', 'ip', 't', 'm3'],
    doc('{"meter": {"family": "ip", "name": "m3", "table": "t", "type": "ipv4_addr", "handle": 4, "size": 65535, "elem": [{"elem": {"val": "127.0.0.1", "limit": {"rate": 5, "burst": 5, "per": "minute"}}}]}}'));
  // -s leaves a meter's elements out of the text, not out of the JSON.
  assert.ok(!nft(r, ['-s', 'list', 'meters']).out.includes('elements'));
  assert.ok(nft(r, ['-s', '-j', 'list', 'meters']).out.includes('"elem"'));
  // A counter in an element counts; under -s -j it is null.
  const r2 = loaded();
  connectToClosedPort(r2);
  assert.ok(nft(r2, ['list', 'meter', 'ip', 't', 'm2']).out.includes('\t\telements = { 127.0.0.1 . 1 counter packets 1 bytes 40, 127.0.0.1 . 40000 counter packets 1 bytes 40 }\n'));
  assert.ok(nft(r2, ['-s', '-j', 'list', 'meter', 'ip', 't', 'm2']).out.includes('{"elem": {"val": {"concat": ["127.0.0.1", 1]}, "counter": null}}'));
  // The rule's own counter after the meter counts both packets; the meter's template stays bare.
  assert.ok(nft(r2, ['list', 'chain', 'ip', 't', 'c']).out.includes('\t\tmeter m2 size 65535 { ip saddr . tcp dport counter } counter packets 2 bytes 80\n'));
});

test('list ct helpers table [FAMILY] TABLE; the form without `table` is a syntax error', () => {
  const r = loaded();
  expectListing(r, ['list', 'ct', 'helpers', 'table', 'ip', 't'], `table ip t {\n${HELPER}}\n`);
  expectListing(r, ['list', 'ct', 'helpers', 'table', 't'], `table ip t {\n${HELPER}}\n`);
  // A table without any stateful object is left out, as `list counters` leaves it out.
  expectListing(r, ['list', 'ct', 'helpers', 'table', 'ip6', 'w'], '');
  expectListing(r, ['-j', 'list', 'ct', 'helpers', 'table', 'ip', 't'],
    doc('{"ct helper": {"family": "ip", "name": "ftp-std", "table": "t", "handle": 2, "type": "ftp", "protocol": "tcp", "l3proto": "ip"}}'));
  expectListing(r, ['list', 'ct', 'timeout', 'table', 'ip', 't'], 'table ip t {\n}\n');
  assert.match(nft(r, ['list', 'ct', 'helpers']).err, /^Error: syntax error, unexpected .*, expecting table\n/);
  assert.match(nft(r, ['list', 'ct', 'helpers', 'ip', 't']).err, /^Error: syntax error, unexpected ip, expecting table\n/);
  assert.deepEqual(nft(r, ['list', 'ct', 'helpers', 'table', 'inet', 't']),
    { status: 1, out: '', err: 'Error: No such file or directory\nlist ct helpers table inet t\n                           ^\n' });
});

/** The real nft: load `ruleset` in a fresh namespace, optionally knock on lo, then run each argv; or why it cannot run. */
function realNft(argvs: string[][], ruleset: string, traffic = false): Run[] | string {
  // The traffic: a connection attempt to a closed port on lo, which the meters' rules see.
  return realNftRuns(ruleset, argvs, traffic ? 'ip link set lo up && (echo > /dev/tcp/127.0.0.1/1) 2>/dev/null' : 'true');
}

test('differential: the real nft 1.0.6 lists meters and ct helpers the same', (t) => {
  const argvs = [
    ['list', 'ruleset'], ['-s', 'list', 'ruleset'], ['-a', 'list', 'ruleset'], ['-j', 'list', 'ruleset'],
    ['list', 'meters'], ['list', 'meters', 'ip'], ['list', 'meters', 'ip6'], ['list', 'meters', 'inet'], ['-a', 'list', 'meters'], ['-j', 'list', 'meters'],
    ['list', 'meter', 'ip', 't', 'flood'], ['list', 'meter', 't', 'm2'], ['list', 'meter', 'ip6', 'w', 'm6'], ['-j', 'list', 'meter', 'ip', 't', 'm3'],
    ['list', 'sets'], ['list', 'set', 'ip', 't', 'flood'], ['list', 'meter', 'ip', 't', 'c'], ['list', 'meter', 'ip', 'nope', 'flood'], ['list', 'meter', 'ip', 't', 'flod'],
    ['list', 'ct', 'helpers', 'table', 'ip', 't'], ['list', 'ct', 'helpers', 'table', 't'], ['list', 'ct', 'helpers', 'table', 'ip6', 'w'],
    ['-j', 'list', 'ct', 'helpers', 'table', 'ip', 't'], ['list', 'ct', 'helper', 'ip', 't', 'ftp-std'], ['list', 'ct', 'helpers', 'table', 'inet', 't'],
  ];
  const real = realNft(argvs, RULESET);
  if (typeof real === 'string') { t.skip(real); return; }
  const r = loaded();
  argvs.forEach((argv, i) => assert.deepEqual(nft(r, argv), real[i], `nft ${argv.join(' ')}`));
});

test('differential: after traffic, the real nft lists the same elements (expires aside)', (t) => {
  const argvs = [['list', 'meters'], ['-j', 'list', 'meters'], ['-s', 'list', 'meters'], ['-s', '-j', 'list', 'meters'], ['list', 'ruleset']];
  const real = realNft(argvs, TRAFFIC_RULESET, true);
  if (typeof real === 'string') { t.skip(real); return; }
  const r = loaded(TRAFFIC_RULESET);
  connectToClosedPort(r);
  // The real clock moved between the packet and the listing; the virtual one did not.
  const norm = (x: Run): Run => ({ ...x, out: x.out.replace(/expires \w+/g, 'expires T').replace(/"expires": \d+/g, '"expires": T') });
  argvs.forEach((argv, i) => assert.deepEqual(norm(nft(r, argv)), norm(real[i]!), `nft ${argv.join(' ')}`));
});

// nft_dynset_init: a named set that an `add`/`update @set` binds and that was declared without a
// size gets 65535, which is what the kernel reports (and what bounds it from then on).
const DYNSET_RULESET = `table ip d {
	set seen {
		type ipv4_addr
		flags dynamic
	}
	set capped {
		type ipv4_addr
		size 16
		flags dynamic
	}
	set unbound {
		type ipv4_addr
	}
	chain c {
		type filter hook input priority 0; policy accept;
		update @seen { ip saddr }
		add @capped { ip saddr }
	}
}
`;

test('a set a dynset binds without a size lists size 65535; a declared size stays; an unbound set has none', () => {
  const r = loaded(DYNSET_RULESET);
  const text = nft(r, ['list', 'table', 'ip', 'd']).out;
  assert.match(text, /set seen \{\n\t\ttype ipv4_addr\n\t\tsize 65535\n\t\tflags dynamic\n/);
  assert.match(text, /set capped \{\n\t\ttype ipv4_addr\n\t\tsize 16\n/);
  assert.match(text, /set unbound \{\n\t\ttype ipv4_addr\n\t\}/);
  assert.match(nft(r, ['-j', 'list', 'set', 'ip', 'd', 'seen']).out, /"size": 65535/);
});

test('a batch that fails after binding a set leaves its size as it was', () => {
  const r = loaded('table ip d { set s { type ipv4_addr; flags dynamic; }; chain c { type filter hook input priority 0; }; }\n');
  const bad = run(r, 'add rule ip d c update @s { ip saddr }\nadd rule ip d nochain accept\n', 'bad.nft', ['-f', 'bad.nft']);
  assert.equal(bad.status, 1);
  assert.doesNotMatch(nft(r, ['list', 'set', 'ip', 'd', 's']).out, /size/);
});

test('differential: the real nft lists the sizes a dynset gave', (t) => {
  const argvs = [['list', 'ruleset'], ['-j', 'list', 'sets']];
  const real = realNft(argvs, DYNSET_RULESET);
  if (typeof real === 'string') { t.skip(real); return; }
  const r = loaded(DYNSET_RULESET);
  argvs.forEach((argv, i) => assert.deepEqual(nft(r, argv), real[i], `nft ${argv.join(' ')}`));
});
