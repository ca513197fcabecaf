/**
 * The npm `etcd3` client against a real Floe process (bin/floe, etcd's flags): the calls an
 * application makes — get/put/delete with prefixes, txn (if/then/else), leases with
 * keep-alive and expiry, watches, locks and elections' building blocks (STM), compaction —
 * and the typed errors the client derives from etcd's messages. The same script runs against
 * real etcd 3.4 first, so every expectation is one etcd meets too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { Etcd3, EtcdLeaseInvalidError, GRPCOutOfRangeError, type Lease } from 'etcd3';
import { scratchDir } from '../../src/pkg';
import { commandFromSpec, etcdCommand, startServer, type ServerCommand } from '../compat/server';

const floe = path.resolve(__dirname, '..', '..', '..', 'bin', 'floe');

/** Runs the script against one server; returns what it saw, for comparing across servers. */
async function script(command: ServerCommand): Promise<string[]> {
  const dir = scratchDir('floe-etcd3-');
  const server = await startServer(command, { name: 'etcd3', dataDir: path.join(dir, 'data'), logFile: path.join(dir, 'log') });
  const client = new Etcd3({ hosts: `http://${server.endpoint}` });
  const seen: string[] = [];
  try {
    await client.put('app/a').value('1');
    await client.put('app/b').value('2');
    await client.put('other').value('x');
    seen.push(`get a: ${await client.get('app/a').string()}`);
    seen.push(`prefix: ${JSON.stringify(await client.getAll().prefix('app/').strings())}`);
    seen.push(`count: ${await client.getAll().prefix('app/').count()}`);
    const first = await client.get('app/a').exec();
    seen.push(`a: create=${first.kvs[0]!.create_revision} mod=${first.kvs[0]!.mod_revision} version=${first.kvs[0]!.version}`);

    const txn = await client.if('app/a', 'Value', '==', '1').then(client.put('app/c').value('3')).else(client.put('app/c').value('no')).commit();
    seen.push(`txn succeeded=${txn.succeeded} c=${await client.get('app/c').string()}`);

    // Watch from now on: a put and a delete arrive in order.
    const watcher = await client.watch().prefix('app/').create();
    const events: string[] = [];
    const twoEvents = new Promise<void>((resolve) => {
      watcher.on('put', (kv) => { events.push(`put ${kv.key.toString()}=${kv.value.toString()}`); if (events.length === 2) resolve(); });
      watcher.on('delete', (kv) => { events.push(`delete ${kv.key.toString()}`); if (events.length === 2) resolve(); });
    });
    await client.put('app/d').value('4');
    await client.delete().key('app/b');
    await twoEvents;
    await watcher.cancel();
    seen.push(`watch: ${events.join(', ')}`);

    // A lease with an attached key; revoking it deletes the key.
    const lease: Lease = client.lease(30, { autoKeepAlive: false });
    await lease.put('leased').value('v');
    const ttl = await client.leaseClient.leaseTimeToLive({ ID: await lease.grant(), keys: true });
    seen.push(`lease ttl in (20, 30]: ${Number(ttl.TTL) > 20 && Number(ttl.TTL) <= 30}, keys: ${ttl.keys.map((k) => k.toString()).join(',')}`);
    await lease.keepaliveOnce();
    await lease.revoke();
    seen.push(`leased after revoke: ${await client.get('leased').string()}`);
    const dead = client.lease(30, { autoKeepAlive: false });
    const deadId = await dead.grant();
    await dead.revoke();
    await assert.rejects(client.put('z').value('1').lease(deadId).exec(), EtcdLeaseInvalidError);
    seen.push('put with a revoked lease: EtcdLeaseInvalidError');

    // Compaction makes old revisions unreadable with etcd's error.
    const now = (await client.get('app/a').exec()).header.revision;
    const compacted = await client.kv.compact({ revision: now, physical: true });
    seen.push(`compacted at ${now}: header revision ${compacted.header.revision}`);
    await assert.rejects(client.get('app/a').revision(Number(first.header.revision)).exec(), (e: unknown) => e instanceof GRPCOutOfRangeError && /required revision has been compacted/.test((e as Error).message));
    seen.push('read below compaction: GRPCOutOfRangeError');

    // STM (software transactional memory) retries on conflict and applies atomically.
    await client.stm().transact((tx) => tx.get('app/a').then((v) => tx.put('app/a').value(String(Number(v) + 1))));
    seen.push(`stm: ${await client.get('app/a').string()}`);
    seen.push(`delete prefix: ${(await client.delete().prefix('app/').exec()).deleted}`);
  } finally {
    client.close();
    await server.stop();
  }
  return seen;
}

test('the npm etcd3 client sees the same from Floe as from etcd 3.4', { timeout: 120_000 }, async () => {
  const reference = await script(etcdCommand());
  const target = await script(commandFromSpec(floe));
  assert.equal(reference.length, 13, `the script ran to its end against etcd:\n${reference.join('\n')}`);
  assert.deepEqual(target, reference);
});
