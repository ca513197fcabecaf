/**
 * Reading a Prometheus text exposition for the comparison: families with their type, and
 * samples by series (name plus labels as written).
 */
import * as http from 'node:http';

/** One scrape, parsed. */
export interface Scrape {
  /** Family name → type, from the `# TYPE` lines. */
  readonly families: ReadonlyMap<string, string>;
  /** Series (`name{labels}` exactly as written) → value. */
  readonly samples: ReadonlyMap<string, number>;
}

/** Parses the text format (comments other than TYPE are skipped). */
export function parseExposition(text: string): Scrape {
  const families = new Map<string, string>();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice(7).split(' ');
      families.set(name as string, type as string);
      continue;
    }
    if (line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return { families, samples };
}

/** GETs `url` and returns status, content type and body. */
export function httpGet(url: string, timeoutMs = 5000): Promise<{ status: number; contentType: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}
