/**
 * acceptH2Connection: a connection whose first request needs no fix is handed to the HTTP/2
 * server as the raw socket (Node's native path, no filter cost), one that does goes through
 * the filter; both get their answers.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { acceptH2Connection } from './h2-authority';

/** One GET on `client`; the body (the server echoes the :authority it saw). */
function request(client: http2.ClientHttp2Session, authority?: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const req = client.request(authority === undefined ? { ':path': '/' } : { ':path': '/', ':authority': authority });
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => resolve(body));
    req.on('error', reject);
    req.end();
  });
}

async function get(port: number, authority?: string): Promise<string> {
  const client = http2.connect(`http://127.0.0.1:${port}`);
  try {
    return await request(client, authority);
  } finally {
    client.close();
  }
}

test('a clean connection goes native, a URL authority goes through the filter; both are answered', async () => {
  const l = await listen();
  try {
    assert.equal(await get(l.port), `127.0.0.1:${l.port}`);
    assert.equal(await get(l.port, `http://127.0.0.1:${l.port}`), `127.0.0.1:${l.port}`);
    assert.deepEqual(l.kinds, ['native', 'filter']);
  } finally {
    l.close();
  }
});

/** A listener that hands connections to an HTTP/2 server through acceptH2Connection; records how. */
async function listen(): Promise<{ port: number; kinds: string[]; close: () => void }> {
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    stream.respond({ ':status': 200 });
    stream.end(String(headers[':authority']));
  });
  const kinds: string[] = [];
  const listener = net.createServer((socket) =>
    acceptH2Connection(socket, (conn) => {
      kinds.push(conn instanceof net.Socket ? 'native' : 'filter');
      server.emit('connection', conn);
    }),
  );
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  return { port: (listener.address() as net.AddressInfo).port, kinds, close: () => (listener.close(), server.close()) };
}

test('a client whose first request comes late (a loaded client) still goes native', async () => {
  const l = await listen();
  const client = http2.connect(`http://127.0.0.1:${l.port}`);
  try {
    await new Promise((r) => setTimeout(r, 600));
    assert.deepEqual(l.kinds, [], 'undecided while the client is quiet');
    assert.equal(await request(client), `127.0.0.1:${l.port}`);
    assert.deepEqual(l.kinds, ['native']);
  } finally {
    client.close();
    l.close();
  }
});

test('a PING before any request is answered at once (the connection goes through the filter)', async () => {
  const l = await listen();
  const client = http2.connect(`http://127.0.0.1:${l.port}`);
  try {
    await new Promise<void>((r) => client.once('connect', () => r()));
    const start = Date.now();
    await new Promise<void>((resolve, reject) => client.ping((err) => (err ? reject(err) : resolve())));
    assert.ok(Date.now() - start < 1000, `PING answered after ${Date.now() - start} ms`);
    assert.deepEqual(l.kinds, ['filter']);
  } finally {
    client.close();
    l.close();
  }
});
