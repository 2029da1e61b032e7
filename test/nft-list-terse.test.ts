/**
 * The listings narrower than a table print as nft 1.0.6 prints them (src/rule.c
 * do_list_sets, do_list_chains, do_list_chain, do_list_set, do_list_obj; src/json.c
 * do_command_list_json):
 * - the table line is table_print_declaration's bare `table FAMILY NAME {`: no `# handle`
 *   under -a, no flags, no comment (only `list table` and `list ruleset` print those);
 * - `list sets` shows sets (dynamic ones too) but not maps, `list maps` only maps; every table
 *   of the family appears, empty or not; Debian's 1.0.6 prints the elements (unless -t);
 * - `list counters|quotas|...` leaves out tables with no stateful object at all, and `TABLE
 *   table_spec` narrows any of them to one table;
 * - with -j they print only the objects they list, never their tables; `-j list tables` prints
 *   the table objects; a table's JSON has no comment and a chain's none either;
 * - a missing table or object is ENOENT with nft's own "did you mean" (misspell.c).
 * Fixed expectations first; then the same commands against the real nft in a namespace of its
 * own when `unshare` and `nft` are there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { executeNft, parseNftArgs } from '../src/nft/command.js';
import { Ruleset } from '../src/netfilter/ruleset.js';
import { VirtualClock } from '../src/netfilter/clock.js';
import { misspelt } from '../src/nft/command-names.js';
import { realNftRuns } from './support/real-nft.js';

const clock = new VirtualClock(0);

interface Run { status: number; out: string; err: string }

function run(r: Ruleset, src: string, file: string, opts: ReturnType<typeof parseNftArgs>): Run {
  let out = '';
  let err = '';
  const status = executeNft(r, src, file, opts, { out: (t) => { out += t; }, err: (t) => { err += t; } }, clock);
  return { status, out, err };
}
/** `nft ARGV...` on the command line (one word each, as a shell would split it). */
function nft(r: Ruleset, argv: string[]): Run {
  const opts = parseNftArgs(argv);
  return run(r, opts.words.join(' '), '<cmdline>', opts);
}

/** ip t: dormant with a comment, a counter and a quota, a set, a map, a dynamic set, two chains; inet e: empty; ip6 w: a set and a counter. */
const RULESET = `table ip t {
	flags dormant
	comment "tc"
	counter c1 {
		packets 3 bytes 4
	}
	quota q1 {
		over 100 bytes
	}
	set s {
		type ipv4_addr
		flags interval
		comment "sc"
		elements = { 10.0.0.0/8 }
	}
	map m {
		type ipv4_addr : inet_service
		elements = { 1.1.1.1 : 22 }
	}
	set d {
		type ipv4_addr
		size 64
		flags dynamic,timeout
	}
	chain base {
		comment "bc"
		type filter hook input priority filter; policy drop;
		counter
	}
	chain reg {
		ip saddr @s accept
		update @d { ip saddr }
	}
}
table inet e {
}
table ip6 w {
	set s6 {
		type ipv6_addr
	}
	counter c2 {
	}
}
`;

function loaded(): Ruleset {
  const r = new Ruleset();
  const res = run(r, RULESET, 'terse.nft', parseNftArgs(['-f', 'terse.nft']));
  assert.equal(res.err, '');
  return r;
}

function expectListing(argv: string[], want: string): void {
  const res = nft(loaded(), argv);
  assert.deepEqual(res, { status: 0, out: want, err: '' }, `nft ${argv.join(' ')}`);
}

const META = '{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}';
const doc = (...items: string[]): string => `{"nftables": [${[META, ...items].join(', ')}]}\n`;

const SET_S = '\tset s {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\tcomment "sc"\n\t\telements = { 10.0.0.0/8 }\n\t}\n';
const SET_D = '\tset d {\n\t\ttype ipv4_addr\n\t\tsize 64\n\t\tflags dynamic,timeout\n\t}\n';

test('list sets: a bare table line for every table, sets with their elements, no maps', () => {
  expectListing(['list', 'sets'], `table ip t {\n${SET_S}${SET_D}}\ntable inet e {\n}\ntable ip6 w {\n\tset s6 {\n\t\ttype ipv6_addr\n\t}\n}\n`);
  expectListing(['list', 'sets', 'ip'], `table ip t {\n${SET_S}${SET_D}}\n`);
  expectListing(['list', 'sets', 'table', 'ip', 't'], `table ip t {\n${SET_S}${SET_D}}\n`);
  expectListing(['-a', 'list', 'sets', 'ip6'], 'table ip6 w {\n\tset s6 { # handle 2\n\t\ttype ipv6_addr\n\t}\n}\n');
  expectListing(['-t', 'list', 'maps'], 'table ip t {\n\tmap m {\n\t\ttype ipv4_addr : inet_service\n\t}\n}\ntable inet e {\n}\ntable ip6 w {\n}\n');
  expectListing(['list', 'meters'], 'table ip t {\n}\ntable inet e {\n}\ntable ip6 w {\n}\n');
});

test('list chains, list chain, list set: the table line stays bare under -a', () => {
  expectListing(['-a', 'list', 'chains', 'ip'],
    'table ip t {\n\tchain base { # handle 1\n\t\tcomment "bc"\n\t\ttype filter hook input priority filter; policy drop;\n\t}\n\tchain reg { # handle 2\n\t}\n}\n');
  expectListing(['-a', 'list', 'chain', 'ip', 't', 'base'],
    'table ip t {\n\tchain base { # handle 1\n\t\tcomment "bc"\n\t\ttype filter hook input priority filter; policy drop;\n\t\tcounter packets 0 bytes 0 # handle 8\n\t}\n}\n');
  expectListing(['list', 'set', 'ip', 't', 'd'], `table ip t {\n${SET_D}}\n`);
});

test('list table keeps handle, flags and comment, and a blank line after a flags line', () => {
  const res = nft(loaded(), ['-a', 'list', 'table', 'ip', 't']);
  assert.ok(res.out.startsWith('table ip t { # handle 1\n\tflags dormant\n\tcomment "tc"\n\n\tcounter c1 { # handle 3\n'), res.out);
});

test('list counters and friends: tables without any object are left out, TABLE narrows to one', () => {
  const C1 = '\tcounter c1 {\n\t\tpackets 3 bytes 4\n\t}\n';
  expectListing(['list', 'counters'], `table ip t {\n${C1}}\ntable ip6 w {\n\tcounter c2 {\n\t\tpackets 0 bytes 0\n\t}\n}\n`);
  expectListing(['list', 'quotas'], 'table ip t {\n\tquota q1 {\n\t\tover 100 bytes\n\t}\n}\ntable ip6 w {\n}\n');
  expectListing(['list', 'counters', 'table', 'ip', 't'], `table ip t {\n${C1}}\n`);
  expectListing(['list', 'counter', 'ip', 't', 'c1'], `table ip t {\n${C1}}\n`);
  expectListing(['list', 'limits'], 'table ip t {\n}\ntable ip6 w {\n}\n');
});

test('-j: only the listed objects, no table objects; -j list tables prints the tables', () => {
  const setS = '{"set": {"family": "ip", "name": "s", "table": "t", "type": "ipv4_addr", "handle": 5, "comment": "sc", "flags": ["interval"], "elem": [{"prefix": {"addr": "10.0.0.0", "len": 8}}]}}';
  const setD = '{"set": {"family": "ip", "name": "d", "table": "t", "type": "ipv4_addr", "handle": 7, "size": 64, "flags": ["timeout"]}}';
  const base = '{"chain": {"family": "ip", "table": "t", "name": "base", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}}';
  expectListing(['-j', 'list', 'sets', 'ip'], doc(setS, setD));
  expectListing(['-j', 'list', 'maps', 'ip6'], doc());
  expectListing(['-j', 'list', 'chains', 'ip'], doc(base, '{"chain": {"family": "ip", "table": "t", "name": "reg", "handle": 2}}'));
  expectListing(['-j', 'list', 'chain', 'ip', 't', 'base'], doc(base, '{"rule": {"family": "ip", "table": "t", "chain": "base", "handle": 8, "expr": [{"counter": {"packets": 0, "bytes": 0}}]}}'));
  expectListing(['-j', 'list', 'counters'], doc('{"counter": {"family": "ip", "name": "c1", "table": "t", "handle": 3, "packets": 3, "bytes": 4}}',
    '{"counter": {"family": "ip6", "name": "c2", "table": "w", "handle": 1, "packets": 0, "bytes": 0}}'));
  expectListing(['-j', 'list', 'quota', 'ip', 't', 'q1'], doc('{"quota": {"family": "ip", "name": "q1", "table": "t", "handle": 4, "bytes": 100, "used": 0, "inv": true}}'));
  expectListing(['-j', 'list', 'set', 'ip', 't', 'd'], doc(setD));
  expectListing(['-j', 'list', 'tables', 'ip6'], doc('{"table": {"family": "ip6", "name": "w", "handle": 3}}'));
});

test('missing tables and objects: ENOENT at the name, with misspell.c\'s suggestion', () => {
  const r = loaded();
  assert.deepEqual(nft(r, ['list', 'counter', 'ip', 't', 'zz']), { status: 1, out: '',
    err: 'Error: No such file or directory; did you mean obj ‘c1’ in table ip ‘t’?\nlist counter ip t zz\n                  ^^\n' });
  // Any type and any table: a quota named like a counter elsewhere is suggested.
  assert.match(nft(r, ['list', 'quota', 'ip6', 'w', 'c2']).err, /did you mean obj ‘c2’ in table ip6 ‘w’\?/);
  assert.match(nft(r, ['list', 'sets', 'table', 'ip', 'zz']).err, /^Error: No such file or directory; did you mean table ‘t’ in family ip\?\n/);
  // One-letter names are never suggested.
  assert.equal(nft(r, ['list', 'counters', 'table', 'inet', 't']).err.split('\n')[0], 'Error: No such file or directory');
  assert.match(nft(r, ['list', 'set', 'ip', 't', 'm']).err, /^Error: No such file or directory\n/);
  assert.match(nft(r, ['list', 'map', 'ip', 't', 's']).err, /^Error: No such file or directory\n/);
});

test('misspelt() keeps string_distance()\'s quirks', () => {
  const pick = (name: string, names: string[]): string | undefined => misspelt(name, names.map((n) => [n, n] as const));
  assert.equal(pick('zz', ['c1']), 'c1'); // the closing NULs meet: nft suggests c1 for zz
  assert.equal(pick('filtr', ['nat', 'filter']), 'filter');
  assert.equal(pick('t', ['t']), undefined); // max length 1
  assert.equal(pick('cc', ['c1', 'c2']), 'c1'); // the first at the least distance
  assert.equal(pick('abcdefgh', ['c1']), undefined);
});

/** A meter: an anonymous dynamic set that only `list meters` shows, under its own keyword. */
const METER_RULESET = `table ip t {
	chain c {
		tcp dport 22 meter flood size 128 { ip saddr limit rate over 10/second } drop
	}
}
`;

test('list meters shows a meter as `meter`; list sets does not show it', () => {
  const r = new Ruleset();
  assert.equal(run(r, METER_RULESET, 'meter.nft', parseNftArgs(['-f', 'meter.nft'])).err, '');
  assert.equal(nft(r, ['list', 'meters']).out, 'table ip t {\n\tmeter flood {\n\t\ttype ipv4_addr\n\t\tsize 128\n\t\tflags dynamic\n\t}\n}\n');
  assert.equal(nft(r, ['list', 'sets']).out, 'table ip t {\n}\n');
  assert.equal(nft(r, ['-j', 'list', 'meters']).out,
    doc('{"meter": {"family": "ip", "name": "flood", "table": "t", "type": "ipv4_addr", "handle": 2, "size": 128}}'));
});

/** The real nft: load `ruleset` in a fresh namespace, then run each argv; or why it cannot run. */
const realNft = (argvs: string[][], ruleset = RULESET): Run[] | string => realNftRuns(ruleset, argvs);

/** 1.0.6's table_flags_json prints a freed string for a lone flag; the JSON of a dormant table is compared without it. */
function withoutTableFlags(run: Run): Run {
  return { ...run, out: run.out.replace(/("table": \{[^}]*?), "flags": "[^"]*"/g, '$1') };
}

test('differential: the real nft 1.0.6 lists the same', (t) => {
  const argvs = [
    ['list', 'sets'], ['list', 'maps'], ['list', 'meters'], ['list', 'chains'], ['list', 'counters'], ['list', 'quotas'], ['list', 'limits'],
    ['-a', 'list', 'sets'], ['-a', 'list', 'chains'], ['-a', 'list', 'counters'], ['-t', 'list', 'sets'], ['-t', 'list', 'maps'],
    ['list', 'sets', 'ip'], ['list', 'sets', 'table', 'ip', 't'], ['list', 'counters', 'table', 'ip6', 'w'], ['list', 'quotas', 'ip6'],
    ['list', 'counter', 'ip', 't', 'c1'], ['-a', 'list', 'set', 'ip', 't', 's'], ['-a', 'list', 'map', 'ip', 't', 'm'], ['-a', 'list', 'chain', 'ip', 't', 'base'],
    ['list', 'set', 'ip', 't', 'd'], ['-a', 'list', 'table', 'ip', 't'], ['list', 'table', 'ip6', 'w'], ['list', 'ruleset'],
    ['-j', 'list', 'sets'], ['-j', 'list', 'maps'], ['-j', 'list', 'meters'], ['-j', 'list', 'chains'], ['-j', 'list', 'counters'],
    ['-j', 'list', 'quotas'], ['-j', 'list', 'limits'], ['-j', 'list', 'counter', 'ip', 't', 'c1'], ['-j', 'list', 'set', 'ip', 't', 's'],
    ['-j', 'list', 'map', 'ip', 't', 'm'], ['-j', 'list', 'chain', 'ip', 't', 'base'], ['-j', 'list', 'chain', 'ip', 't', 'reg'], ['-j', '-t', 'list', 'sets'],
    ['-j', 'list', 'counters', 'table', 'ip', 't'], ['-j', 'list', 'tables'], ['-j', 'list', 'table', 'ip', 't'], ['-j', 'list', 'ruleset'],
    ['list', 'set', 'ip', 't', 'm'], ['list', 'map', 'ip', 't', 's'], ['list', 'counter', 'ip', 't', 'zz'], ['list', 'quota', 'ip6', 'w', 'c2'],
    ['list', 'counter', 'ip6', 'w', 'cc'], ['list', 'counter', 'ip', 't', 'c11'], ['list', 'counter', 'ip', 'tt', 'c1'], ['list', 'counter', 'ip6', 't', 'c1'],
    ['list', 'sets', 'table', 'ip', 'zz'], ['list', 'sets', 'table', 'ip6', 't'], ['list', 'counters', 'table', 'inet', 't'], ['list', 'quotas', 'table', 'ip6', 'ww'],
  ];
  const real = realNft(argvs);
  if (typeof real === 'string') { t.skip(real); return; }
  const r = loaded();
  argvs.forEach((argv, i) => {
    assert.deepEqual(withoutTableFlags(nft(r, argv)), withoutTableFlags(real[i]!), `nft ${argv.join(' ')}`);
  });
});

test('differential: meters, as the real nft 1.0.6 lists them', (t) => {
  const argvs = [['list', 'meters'], ['-j', 'list', 'meters'], ['-t', 'list', 'meters'], ['list', 'sets'], ['-j', 'list', 'sets']];
  const real = realNft(argvs, METER_RULESET);
  if (typeof real === 'string') { t.skip(real); return; }
  const r = new Ruleset();
  assert.equal(run(r, METER_RULESET, 'meter.nft', parseNftArgs(['-f', 'meter.nft'])).err, '');
  argvs.forEach((argv, i) => assert.deepEqual(nft(r, argv), real[i], `nft ${argv.join(' ')}`));
});

/** A rule that jumps to an anonymous chain. */
const BINDING_RULESET = `table ip t {
	chain c {
		type filter hook input priority filter; policy accept;
		tcp dport 22 jump {
			counter
			accept
		}
	}
}
`;

test('-j: an anonymous chain is no chain object; its jump is the statement text, with nft\'s warning', () => {
  const r = new Ruleset();
  assert.equal(run(r, BINDING_RULESET, 'bind.nft', parseNftArgs(['-f', 'bind.nft'])).err, '');
  const base = '{"chain": {"family": "ip", "table": "t", "name": "c", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}}';
  assert.deepEqual(nft(r, ['-j', 'list', 'chains']), { status: 0, out: doc(base), err: '' });
  assert.deepEqual(nft(r, ['-j', 'list', 'chain', 'ip', 't', 'c']), {
    status: 0, err: 'warning: stmt ops chain have no json callback\n',
    out: doc(base, '{"rule": {"family": "ip", "table": "t", "chain": "c", "handle": 5, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}}, '
      + '"jump {\\n\\t\\t\\tcounter packets 0 bytes 0\\n\\t\\t\\taccept\\n\\t\\t}"]}}'),
  });
});

test('differential: anonymous chains, as the real nft 1.0.6 lists them', (t) => {
  const argvs = [['-j', 'list', 'ruleset'], ['-j', 'list', 'chains'], ['list', 'chains'], ['-j', 'list', 'chain', 'ip', 't', 'c'], ['-a', 'list', 'chain', 'ip', 't', 'c']];
  const real = realNft(argvs, BINDING_RULESET);
  if (typeof real === 'string') { t.skip(real); return; }
  const r = new Ruleset();
  assert.equal(run(r, BINDING_RULESET, 'bind.nft', parseNftArgs(['-f', 'bind.nft'])).err, '');
  argvs.forEach((argv, i) => assert.deepEqual(nft(r, argv), real[i], `nft ${argv.join(' ')}`));
});
