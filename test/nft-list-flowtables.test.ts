/**
 * `nft list flowtables [FAMILY]` and `nft list flowtable FAMILY TABLE NAME` as nft 1.0.6
 * prints them (src/rule.c do_list_flowtables / do_list_flowtable, src/json.c
 * flowtable_print_json): every table of the family with its flowtables' whole declarations,
 * the bare `table F T {` line (no handle, even with -a), priorities named for netdev, JSON
 * with one document per list command, and errors as nft reports them. The real nft cannot
 * load a flowtable on this kernel (no nf_flow_table), so the expectations are written out
 * from nft's source; what it can run here (tables without flowtables, the errors) is compared
 * with it in a namespace of its own when `unshare` and `nft` are there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { executeNft, parseNftArgs } from '../src/nft/command.js';
import { Ruleset } from '../src/netfilter/ruleset.js';
import { VirtualClock } from '../src/netfilter/clock.js';

const clock = new VirtualClock(0);
const INTERFACES = ['lan0', 'wan0'];

interface Run { status: number; out: string; err: string }

/** `nft ARGV...` on the command line, against `r`. */
function nft(r: Ruleset, ...argv: string[]): Run {
  const opts = parseNftArgs(argv);
  opts.interfaces = INTERFACES;
  return run(r, opts.words.join(' '), '<cmdline>', opts);
}

/** `nft FLAGS... -f FILE` with `text` as the file. */
function nftFile(r: Ruleset, text: string, ...flags: string[]): Run {
  const opts = parseNftArgs([...flags, '-f', 'ft.nft']);
  opts.interfaces = INTERFACES;
  return run(r, text, 'ft.nft', opts);
}

function run(r: Ruleset, src: string, file: string, opts: ReturnType<typeof parseNftArgs>): Run {
  let out = '';
  let err = '';
  const status = executeNft(r, src, file, opts, { out: (t) => { out += t; }, err: (t) => { err += t; } }, clock);
  return { status, out, err };
}

function expectOutput(r: Ruleset, argv: string[], want: string): void {
  const res = nft(r, ...argv);
  assert.equal(res.err, '', `nft ${argv.join(' ')}`);
  assert.equal(res.status, 0);
  assert.equal(res.out, want);
}

function expectError(r: Ruleset, argv: string[], want: string): void {
  const res = nft(r, ...argv);
  assert.equal(res.status, 1, `nft ${argv.join(' ')}`);
  assert.equal(res.out, '', 'nothing on stdout, not even a JSON document');
  assert.equal(res.err, want);
}

const METAINFO = '{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}';

/**
 * inet filter: ft0 at -300 (a number for netdev: `raw` is an ip/inet name) on one device,
 * ft1 at filter + 5 on two with the counter flag; ip nat: no flowtable; ip6 edge: one
 * flowtable with no device.
 */
function twoTables(): Ruleset {
  const r = new Ruleset();
  const res = nftFile(r, `table inet filter {
	flowtable ft0 {
		hook ingress priority -300
		devices = { lan0 }
	}
	flowtable ft1 {
		hook ingress priority filter + 5; devices = { lan0, wan0 }; counter
	}
	chain fastpath {
		type filter hook forward priority filter; policy accept;
		ip protocol tcp flow add @ft1
	}
}
table ip nat {
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
	}
}
`);
  assert.equal(res.status, 0, res.err);
  return r;
}

const FT0 = `	flowtable ft0 {
		hook ingress priority -300
		devices = { lan0 }
	}
`;
const FT1 = `	flowtable ft1 {
		hook ingress priority filter + 5
		devices = { lan0, wan0 }
		counter
	}
`;

test('list flowtables: every table, those without flowtables too, each flowtable declared in full', () => {
  expectOutput(twoTables(), ['list', 'flowtables'], `table inet filter {\n${FT0}${FT1}}\ntable ip nat {\n}\n`);
});

test('list flowtables FAMILY keeps to that family', () => {
  const r = twoTables();
  expectOutput(r, ['list', 'flowtables', 'inet'], `table inet filter {\n${FT0}${FT1}}\n`);
  expectOutput(r, ['list', 'flowtables', 'ip'], 'table ip nat {\n}\n');
  expectOutput(r, ['list', 'flowtables', 'ip6'], '');
});

test('-a puts handles on the flowtables only (the table\'s handle counter: the chain took 1); the table line stays bare, as do_list_flowtables prints it', () => {
  expectOutput(twoTables(), ['-a', 'list', 'flowtables'], `table inet filter {
	flowtable ft0 { # handle 2
		hook ingress priority -300
		devices = { lan0 }
	}
	flowtable ft1 { # handle 3
		hook ingress priority filter + 5
		devices = { lan0, wan0 }
		counter
	}
}
table ip nat {
}
`);
});

test('-y prints the priority as a number', () => {
  expectOutput(twoTables(), ['-y', 'list', 'flowtables', 'inet'], `table inet filter {\n${FT0}${FT1.replace('filter + 5', '5')}}\n`);
});

test('list flowtable FAMILY TABLE NAME: the one flowtable inside its table\'s braces', () => {
  const r = twoTables();
  expectOutput(r, ['list', 'flowtable', 'inet', 'filter', 'ft1'], `table inet filter {\n${FT1}}\n`);
  expectOutput(r, ['-a', 'list', 'flowtable', 'inet', 'filter', 'ft0'], `table inet filter {\n${FT0.replace('ft0 {', 'ft0 { # handle 2')}}\n`);
  expectOutput(r, ['-y', 'list', 'flowtable', 'inet', 'filter', 'ft1'], `table inet filter {\n${FT1.replace('filter + 5', '5')}}\n`);
});

test('list table and list ruleset name a flowtable\'s priority for netdev too', () => {
  const text = nft(twoTables(), 'list', 'table', 'inet', 'filter').out;
  assert.ok(text.includes(FT0 + '\n' + FT1), text);
});

test('-j list flowtables: one flowtable object each; dev a string for one device, an array for more', () => {
  const r = twoTables();
  const ft0 = '{"flowtable": {"family": "inet", "name": "ft0", "table": "filter", "handle": 2, "hook": "ingress", "prio": -300, "dev": "lan0"}}';
  const ft1 = '{"flowtable": {"family": "inet", "name": "ft1", "table": "filter", "handle": 3, "hook": "ingress", "prio": 5, "dev": ["lan0", "wan0"]}}';
  expectOutput(r, ['-j', 'list', 'flowtables'], `{"nftables": [${METAINFO}, ${ft0}, ${ft1}]}\n`);
  // -y changes nothing: JSON has no named priorities.
  expectOutput(r, ['-j', '-y', 'list', 'flowtables', 'inet'], `{"nftables": [${METAINFO}, ${ft0}, ${ft1}]}\n`);
  // A family without flowtables still prints the document, as do_command_list_json does.
  expectOutput(r, ['-j', 'list', 'flowtables', 'ip'], `{"nftables": [${METAINFO}]}\n`);
  expectOutput(r, ['-j', 'list', 'flowtable', 'inet', 'filter', 'ft0'], `{"nftables": [${METAINFO}, ${ft0}]}\n`);
});

test('-j: a flowtable without devices has no dev key, in list flowtable and list ruleset alike', () => {
  const r = twoTables();
  assert.equal(nft(r, 'add flowtable ip nat bare { hook ingress priority 0; }').status, 0);
  const bare = '{"flowtable": {"family": "ip", "name": "bare", "table": "nat", "handle": 2, "hook": "ingress", "prio": 0}}';
  expectOutput(r, ['-j', 'list', 'flowtable', 'ip', 'nat', 'bare'], `{"nftables": [${METAINFO}, ${bare}]}\n`);
  assert.ok(nft(r, '-j', 'list', 'ruleset').out.includes(bare));
  expectOutput(r, ['list', 'flowtable', 'ip', 'nat', 'bare'], 'table ip nat {\n\tflowtable bare {\n\t\thook ingress priority filter\n\t}\n}\n');
});

test('-j with two list commands prints two documents, as nft does', () => {
  const r = twoTables();
  const res = nft(r, '-j', 'list flowtables ip; list flowtables ip6');
  assert.equal(res.out, `{"nftables": [${METAINFO}]}\n{"nftables": [${METAINFO}]}\n`);
});

test('a missing flowtable or table: No such file or directory under the missing name, status 1', () => {
  const r = twoTables();
  expectError(r, ['list', 'flowtable', 'inet', 'filter', 'ft9'],
    'Error: No such file or directory\nlist flowtable inet filter ft9\n                           ^^^\n');
  expectError(r, ['list', 'flowtable', 'inet', 'filtr', 'ft0'],
    'Error: No such file or directory\nlist flowtable inet filtr ft0\n                    ^^^^^\n');
  // The flowtable is looked up in the table of that family only.
  expectError(r, ['list', 'flowtable', 'ip', 'filter', 'ft0'],
    'Error: No such file or directory\nlist flowtable ip filter ft0\n                  ^^^^^^\n');
  // A flowtable named like its table: the name is the one underlined.
  expectError(r, ['list', 'flowtable', 'ip', 'nat', 'nat'],
    'Error: No such file or directory\nlist flowtable ip nat nat\n                      ^^^\n');
  expectError(r, ['-j', 'list', 'flowtable', 'inet', 'filter', 'ft9'],
    'Error: No such file or directory\nlist flowtable inet filter ft9\n                           ^^^\n');
});

test('syntax errors bison reports for these commands (checked against nft 1.0.6)', () => {
  const r = twoTables();
  expectError(r, ['list', 'flowtable', 'inet', 'filter'],
    'Error: syntax error, unexpected newline, expecting string\nlist flowtable inet filter\n                          ^\n');
  expectError(r, ['list', 'flowtables', 'filter'],
    'Error: syntax error, unexpected string, expecting end of file or newline or semicolon\nlist flowtables filter\n                ^^^^^^\n');
  expectError(r, ['list', 'flowtables', 'inet', 'filter'],
    'Error: syntax error, unexpected string, expecting end of file or newline or semicolon\nlist flowtables inet filter\n                     ^^^^^^\n');
  expectError(r, ['list', 'flowtables', '5'],
    'Error: syntax error, unexpected number, expecting end of file or newline or semicolon\nlist flowtables 5\n                ^\n');
});

test('round trip: what list flowtable prints loads back with -f and lists the same', () => {
  const r = twoTables();
  for (const name of ['ft0', 'ft1']) {
    for (const flags of [[], ['-y']]) {
      const listed = nft(r, ...flags, 'list', 'flowtable', 'inet', 'filter', name).out;
      const back = new Ruleset();
      const load = nftFile(back, listed);
      assert.equal(load.status, 0, load.err);
      assert.equal(nft(back, ...flags, 'list', 'flowtable', 'inet', 'filter', name).out, listed);
      assert.equal(nft(back, '-j', 'list', 'flowtables').out.replace(/"handle": \d+/, ''),
        nft(r, '-j', 'list', 'flowtable', 'inet', 'filter', name).out.replace(/"handle": \d+/, ''));
    }
  }
  // And the plural listing, whole, loads back too.
  const all = nft(r, 'list', 'flowtables').out;
  const back = new Ruleset();
  assert.equal(nftFile(back, all).status, 0);
  assert.equal(nft(back, 'list', 'flowtables').out, all);
});

/** The real `nft ARGV` in a fresh namespace holding `setup` (nft lines), or why it cannot run. */
function realNft(setup: string[], argv: string[]): Run | string {
  if (process.getuid?.() !== 0) return 'not root';
  const script = [...setup.map((l) => `nft '${l}' || exit 99`), 'exec nft "$@"'].join('\n');
  const r = spawnSync('unshare', ['-n', 'sh', '-c', script, 'sh', ...argv], { encoding: 'utf8' });
  if (r.error) return `unshare: ${r.error.message}`;
  if (r.status === 99 || /unshare failed|Operation not permitted|not found/.test(r.stderr)) return `real nft unusable: ${r.stderr.trim()}`;
  return { status: r.status ?? -1, out: r.stdout, err: r.stderr };
}

test('differential: what the real nft 1.0.6 can show here (tables without flowtables, errors) matches', (t) => {
  const setup = ['add table inet filter', 'add table ip nat', 'add chain ip nat post { type nat hook postrouting priority srcnat; }'];
  const cases = [
    ['list', 'flowtables'], ['list', 'flowtables', 'ip'], ['list', 'flowtables', 'ip6'], ['-a', 'list', 'flowtables'],
    ['-j', 'list', 'flowtables'], ['-j', 'list', 'flowtables', 'arp'],
    ['list', 'flowtable', 'inet', 'filter', 'ft0'], ['list', 'flowtable', 'inet', 'filtr', 'ft0'], ['list', 'flowtable', 'ip', 'nat', 'nat'],
    ['-j', 'list', 'flowtable', 'inet', 'filter', 'ft0'],
    ['list', 'flowtable', 'inet', 'filter'], ['list', 'flowtables', 'filter'], ['list', 'flowtables', 'inet', 'filter'], ['list', 'flowtables', '5'],
  ];
  const probe = realNft(setup, ['list', 'tables']);
  if (typeof probe === 'string') { t.skip(probe); return; }
  if (probe.status !== 0) { t.skip(`real nft: ${probe.err.trim()}`); return; }
  const r = new Ruleset();
  for (const line of setup) assert.equal(nft(r, line).status, 0);
  for (const argv of cases) {
    const real = realNft(setup, argv);
    if (typeof real === 'string') { t.skip(real); return; }
    assert.deepEqual(nft(r, ...argv), real, `nft ${argv.join(' ')}`);
  }
});
