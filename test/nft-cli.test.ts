/**
 * `nfx nft` front end (src/nft/cli.ts): check mode, --debug=netlink output,
 * commit into a ruleset, listing back, and nft-shaped errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runNft, type NftHost } from '../src/nft/cli.js';
import { Ruleset } from '../src/netfilter/ruleset.js';
import { commitBatch } from '../src/netfilter/transaction.js';
import { VirtualClock } from '../src/netfilter/clock.js';

function host(files: Record<string, string> = {}): NftHost {
  const ruleset = new Ruleset();
  const clock = new VirtualClock(0);
  return {
    ruleset,
    commit: (b) => commitBatch(ruleset, b, clock),
    readFile: (p) => files[p],
    readStdin: async () => files['-'] ?? '',
  };
}

test('nft -f FILE loads, `list ruleset` prints it back as nft does', async () => {
  const h = host({ 'fw.nft': 'table inet filter {\n  chain input {\n    type filter hook input priority 0; policy drop;\n    ct state established,related accept\n    tcp dport { 22, 80 } counter accept\n  }\n}\n' });
  assert.equal((await runNft(['-f', 'fw.nft'], h)).code, 0);
  const list = await runNft(['list', 'ruleset'], h);
  assert.equal(list.stdout, 'table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n\t\tct state established,related accept\n\t\ttcp dport { 22, 80 } counter packets 0 bytes 0 accept\n\t}\n}\n');
});

test('--debug=netlink prints the bytecode; -c does not commit', async () => {
  const h = host();
  await runNft(['add', 'table', 'ip', 't'], h);
  await runNft(['add', 'chain', 'ip', 't', 'c'], h);
  const r = await runNft(['-c', '--debug=netlink', 'add', 'rule', 'ip', 't', 'c', 'tcp', 'dport', '22', 'accept'], h);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /\[ payload load 2b @ transport header \+ 2 => reg 1 \]/);
  assert.match(r.stdout, /\[ immediate reg 0 accept \]/);
  assert.equal(h.ruleset.table(2, 't')!.chains.get('c')!.rules.length, 0);
});

test('errors come back nft-shaped with exit status 1', async () => {
  const r = await runNft(['add', 'rule', 'ip', 't', 'c', 'tcp', 'dportt', '22'], host());
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'Error: syntax error, unexpected dportt; did you mean `dport`?\nadd rule ip t c tcp dportt 22\n                ~~~ ^^^^^^\n');
});
