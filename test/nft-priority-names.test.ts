/**
 * Base-chain priorities are listed as nft 1.0.6 lists them (src/rule.c prio2str and
 * std_prio_family_hook_compat): within 10 of a standard priority that suits the family and
 * hook, by name (`raw`, `mangle - 5`, `dstnat` at prerouting only ...); otherwise, and always
 * with `-y`, as a number. Only `filter` has a name in arp and netdev; bridge has its own
 * table (dstnat -300 at prerouting, filter -200 anywhere, out 100 at output, srcnat 300 at
 * postrouting). The same names are accepted when read only where they are printed. Fixed
 * expectations first, then every family × hook × priority against the real nft in a namespace
 * of its own (with a veth pair for netdev and inet ingress) when `unshare` and `nft` are there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { executeNft, parseNftArgs } from '../src/nft/command.js';
import { Ruleset } from '../src/netfilter/ruleset.js';
import { VirtualClock } from '../src/netfilter/clock.js';

const clock = new VirtualClock(0);
const INTERFACES = ['d0', 'd1'];

interface Run { status: number; out: string; err: string }

function run(r: Ruleset, src: string, file: string, argv: string[]): Run {
  const opts = parseNftArgs(argv);
  opts.interfaces = INTERFACES;
  let out = '';
  let err = '';
  const status = executeNft(r, src, file, opts, { out: (t) => { out += t; }, err: (t) => { err += t; } }, clock);
  return { status, out, err };
}
const nft = (r: Ruleset, ...argv: string[]): Run => run(r, argv.filter((a) => !a.startsWith('-')).join(' '), '<cmdline>', argv);
const nftFile = (r: Ruleset, text: string): Run => run(r, text, 'prio.nft', ['-f', 'prio.nft']);

/** One base chain at `prio` (a number or a name as written) in a fresh table; its listed priority. */
function listedPriority(family: string, hook: string, prio: string, numeric = false): string {
  const r = new Ruleset();
  const dev = family === 'netdev' || hook === 'ingress' ? ' device d0' : '';
  const res = nftFile(r, `table ${family} t {\n\tchain c {\n\t\ttype filter hook ${hook}${dev} priority ${prio}; policy accept;\n\t}\n}\n`);
  assert.equal(res.err, '', `${family} ${hook} ${prio}`);
  const out = nft(r, ...(numeric ? ['-y'] : []), 'list', 'ruleset').out;
  const m = / priority (.*); policy/.exec(out);
  assert.ok(m, out);
  return m[1]!;
}

function expectPriorities(family: string, hook: string, cases: [number, string][]): void {
  for (const [prio, want] of cases) {
    assert.equal(listedPriority(family, hook, String(prio)), want, `${family} ${hook} ${prio}`);
    assert.equal(listedPriority(family, hook, String(prio), true), String(prio), `-y ${family} ${hook} ${prio}`);
  }
}

test('ip, ip6 and inet name raw, mangle, filter and security at every hook', () => {
  for (const family of ['ip', 'ip6', 'inet']) {
    for (const hook of ['input', 'forward', 'output']) {
      expectPriorities(family, hook, [[-300, 'raw'], [-290, 'raw + 10'], [-289, '-289'], [-150, 'mangle'], [-155, 'mangle - 5'],
        [0, 'filter'], [10, 'filter + 10'], [50, 'security'], [-400, '-400'], [200, '200']]);
    }
  }
  expectPriorities('inet', 'ingress', [[-300, 'raw'], [-150, 'mangle'], [-5, 'filter - 5']]);
});

test('dstnat is named at prerouting only and srcnat at postrouting only (1.0.6); nft stops at the first near name', () => {
  for (const family of ['ip', 'ip6', 'inet']) {
    expectPriorities(family, 'prerouting', [[-100, 'dstnat'], [-95, 'dstnat + 5'], [100, '100']]);
    expectPriorities(family, 'postrouting', [[100, 'srcnat'], [90, 'srcnat - 10'], [-100, '-100']]);
    expectPriorities(family, 'output', [[-100, '-100'], [100, '100'], [-95, '-95']]);
    expectPriorities(family, 'input', [[-100, '-100'], [100, '100']]);
  }
});

test('arp and netdev name only filter: -300 is -300, not raw', () => {
  for (const hook of ['input', 'output']) {
    expectPriorities('arp', hook, [[-300, '-300'], [-150, '-150'], [-100, '-100'], [0, 'filter'], [5, 'filter + 5'], [50, '50'], [100, '100']]);
  }
  for (const hook of ['ingress', 'egress']) {
    expectPriorities('netdev', hook, [[-300, '-300'], [-150, '-150'], [-100, '-100'], [-10, 'filter - 10'], [0, 'filter'], [50, '50'], [100, '100']]);
  }
});

test('bridge uses its own names: dstnat, out and srcnat only at their hooks, filter everywhere', () => {
  expectPriorities('bridge', 'prerouting', [[-300, 'dstnat'], [-200, 'filter'], [100, '100'], [300, '300'], [0, '0'], [-150, '-150']]);
  expectPriorities('bridge', 'input', [[-300, '-300'], [-195, 'filter + 5'], [100, '100'], [300, '300']]);
  expectPriorities('bridge', 'forward', [[-300, '-300'], [-200, 'filter'], [100, '100']]);
  expectPriorities('bridge', 'output', [[-300, '-300'], [100, 'out'], [110, 'out + 10'], [300, '300']]);
  expectPriorities('bridge', 'postrouting', [[-300, '-300'], [100, '100'], [300, 'srcnat'], [291, 'srcnat - 9']]);
});

test('a name is accepted where it is printed and refused elsewhere, as std_prio_lookup does', () => {
  assert.equal(listedPriority('netdev', 'ingress', 'filter - 5'), 'filter - 5');
  assert.equal(listedPriority('bridge', 'output', 'out'), 'out');
  assert.equal(listedPriority('ip', 'input', 'raw + 1'), 'raw + 1');
  for (const [family, hook, prio] of [['netdev', 'ingress', 'raw'], ['arp', 'input', 'mangle + 1'], ['bridge', 'input', 'out'],
    ['ip', 'input', 'dstnat'], ['inet', 'output', 'srcnat'], ['arp', 'output', 'security'], ['bridge', 'forward', 'raw']]) {
    const r = new Ruleset();
    const dev = family === 'netdev' ? ' device d0' : '';
    const res = nft(r, 'add', 'table', family!, 't');
    assert.equal(res.status, 0);
    const bad = nftFile(r, `add chain ${family} t c { type filter hook ${hook}${dev} priority ${prio}; }\n`);
    assert.equal(bad.status, 1, `${family} ${hook} ${prio}`);
    assert.match(bad.err, /Error: invalid priority expression value in this context\./);
  }
});

// The differential: every family and hook at priorities on both sides of each standard value.
const PRIOS = [-400, -310, -300, -290, -289, -210, -200, -190, -160, -150, -140, -110, -100, -90, -11, -10, -5, 0, 5, 10, 11,
  40, 50, 60, 90, 100, 110, 150, 200, 290, 300, 310, 400];
const HOOKS: Record<string, string[]> = {
  ip: ['prerouting', 'input', 'forward', 'output', 'postrouting'],
  ip6: ['prerouting', 'input', 'forward', 'output', 'postrouting'],
  inet: ['prerouting', 'input', 'forward', 'output', 'postrouting', 'ingress'],
  arp: ['input', 'output'],
  bridge: ['prerouting', 'input', 'forward', 'output', 'postrouting'],
  netdev: ['ingress', 'egress'],
};

function rulesetText(): string {
  let s = '';
  for (const [family, hooks] of Object.entries(HOOKS)) {
    s += `table ${family} t {\n`;
    for (const hook of hooks) {
      const dev = family === 'netdev' || hook === 'ingress' ? ' device "d0"' : '';
      for (const p of PRIOS) s += `\tchain ${hook}_${p < 0 ? `m${-p}` : p} {\n\t\ttype filter hook ${hook}${dev} priority ${p}; policy accept;\n\t}\n`;
    }
    s += '}\n';
  }
  return s;
}

/** The real nft in a fresh namespace with the veth pair d0/d1: load `text`, then run each argv. */
function realNft(text: string, argvs: string[][]): Run[] | string {
  if (process.getuid?.() !== 0) return 'not root';
  const script = ['ip link add d0 type veth peer name d1 || exit 98', 'printf %s "$1" | nft -f - || exit 99', 'shift',
    ...argvs.map((a) => `nft ${a.join(' ')}; echo "@@rc=$?"`)].join('\n');
  const r = spawnSync('unshare', ['-n', 'sh', '-c', script, 'sh', text], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.error) return `unshare: ${r.error.message}`;
  if (r.status === 98) return `no veth device in a namespace: ${r.stderr.trim()}`;
  if (r.status === 99 || /unshare failed|Operation not permitted|not found/.test(r.stderr)) return `real nft unusable: ${r.stderr.trim()}`;
  const parts = r.stdout.split(/@@rc=(\d+)\n/);
  const runs: Run[] = [];
  for (let i = 0; i + 1 < parts.length; i += 2) runs.push({ status: Number(parts[i + 1]), out: parts[i]!, err: '' });
  return runs;
}

test('differential: every family × hook × priority lists as the real nft 1.0.6 lists it, with and without -y', (t) => {
  const text = rulesetText();
  const argvs = [['list', 'ruleset'], ['-y', 'list', 'ruleset'], ['list', 'chains'], ['-y', 'list', 'chains']];
  const real = realNft(text, argvs);
  if (typeof real === 'string') { t.skip(real); return; }
  assert.equal(real.length, argvs.length);
  const r = new Ruleset();
  assert.equal(nftFile(r, text).err, '');
  argvs.forEach((argv, i) => {
    const mine = nft(r, ...argv);
    assert.equal(real[i]!.status, 0, `real nft ${argv.join(' ')}`);
    assert.ok(real[i]!.out.split('\n').length > 1000, 'the real nft listed every chain');
    assert.equal(mine.status, 0);
    // Line by line first, so a failure names the chain rather than a 100 KB diff.
    const a = mine.out.split('\n');
    const b = real[i]!.out.split('\n');
    for (let k = 0; k < Math.max(a.length, b.length); k++) assert.equal(a[k], b[k], `nft ${argv.join(' ')}, line ${k + 1} (${a.slice(Math.max(0, k - 3), k).join(' | ')})`);
  });
  // What nfx lists, nfx (like nft) reads back to the same ruleset.
  const listed = nft(r, 'list', 'ruleset').out;
  const back = new Ruleset();
  assert.equal(nftFile(back, listed).err, '');
  assert.equal(nft(back, 'list', 'ruleset').out, listed);
});

// A flowtable's priority is a netdev ingress one in every family (flowtable_evaluate), with an
// error of its own wording that points at `priority ...`.
const FLOWTABLE_PRIOS: Array<[string, string, string | undefined]> = [
  ['inet', 'filter + 5', 'filter + 5'], ['ip', '-300', '-300'], ['ip6', 'filter', 'filter'],
  ['inet', 'raw', undefined], ['ip', 'dstnat', undefined], ['inet', 'mangle - 3', undefined],
];
const flowtableText = (family: string, prio: string): string =>
  `table ${family} t {\n\tflowtable ft { hook ingress priority ${prio}; devices = { d0 }; }\n}\n`;

test('a flowtable takes netdev priority names in every family; another name is refused at `priority`', () => {
  for (const [family, prio, listed] of FLOWTABLE_PRIOS) {
    const r = new Ruleset();
    const res = nftFile(r, flowtableText(family, prio));
    if (listed === undefined) {
      const col = 30;
      assert.equal(res.status, 1, `${family} ${prio}`);
      assert.equal(res.err, `prio.nft:2:${col}-${col + 'priority '.length + prio.length - 1}: Error: invalid priority expression value.\n`
        + `\tflowtable ft { hook ingress priority ${prio}; devices = { d0 }; }\n\t${' '.repeat(col - 2)}${'^'.repeat('priority '.length + prio.length)}\n`);
      assert.equal(r.tables.size, 0, 'nothing was added');
    } else {
      assert.equal(res.status, 0, res.err);
      assert.match(nft(r, 'list', 'flowtables').out, new RegExp(`hook ingress priority ${listed.replace(/[+]/g, '\\+')}\n`));
    }
  }
});

test('differential: the real nft -c accepts and refuses the same flowtable priorities with the same error', (t) => {
  if (process.getuid?.() !== 0) { t.skip('not root: no namespace for the real nft'); return; }
  for (const [family, prio, listed] of FLOWTABLE_PRIOS) {
    // -c: this kernel has no nf_flow_table, so only the check (which runs before the kernel) can be compared.
    const r = spawnSync('unshare', ['-n', 'sh', '-c', 'ip link add d0 type veth peer name d1 || exit 98; printf %s "$1" > /tmp/prio.$$.nft; cd /tmp; nft -c -f prio.$$.nft; rc=$?; rm -f /tmp/prio.$$.nft; exit $rc', 'sh', flowtableText(family, prio)], { encoding: 'utf8' });
    if (r.error || r.status === 98 || /unshare failed|Operation not permitted|not found/.test(r.stderr)) { t.skip(`real nft unusable: ${r.error?.message ?? r.stderr.trim()}`); return; }
    const ours = nftFile(new Ruleset(), flowtableText(family, prio));
    if (listed === undefined) {
      assert.equal(r.status, 1, r.stderr);
      // The file name differs (nft reads a temporary file); the message, the line and the caret agree.
      assert.equal(ours.err.replace(/^prio\.nft:/, ''), r.stderr.replace(/^prio\.\d+\.nft:/, ''), `${family} ${prio}`);
    } else {
      // Accepted by the check; the kernel then has no flowtable support here (EOPNOTSUPP/ENOENT).
      assert.doesNotMatch(r.stderr, /invalid priority/, `${family} ${prio}: ${r.stderr}`);
    }
  }
});
