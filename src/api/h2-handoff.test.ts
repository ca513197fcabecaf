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

async function get(port: number, authority?: string): Promise<string> {
  const client = http2.connect(`http://127.0.0.1:${port}`);
  try {
    return await new Promise<string>((resolve, reject) => {
      const req = client.request(authority === undefined ? { ':path': '/' } : { ':path': '/', ':authority': authority });
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => resolve(body));
      req.on('error', reject);
      req.end();
    });
  } finally {
    client.close();
  }
}

test('a clean connection goes native, a URL authority goes through the filter; both are answered', async () => {
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
  const port = (listener.address() as net.AddressInfo).port;
  try {
    assert.equal(await get(port), `127.0.0.1:${port}`);
    assert.equal(await get(port, `http://127.0.0.1:${port}`), `127.0.0.1:${port}`);
    assert.deepEqual(kinds, ['native', 'filter']);
  } finally {
    listener.close();
    server.close();
  }
});
