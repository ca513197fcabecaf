/**
 * Which local process dialed a TCP connection to 127.0.0.1: read from Linux's /proc, so a
 * peer proxy can tell which member a connection comes from whatever protocol the members speak.
 * The client socket is found in /proc/net/tcp{,6} by its two ports, then its inode among the
 * open files of the candidate processes (and their children).
 */
import * as fs from 'node:fs/promises';

/** Bound on processes searched per lookup (candidates plus their descendants). */
const MAX_PROCESSES = 64;

/** The inode of the socket with local port `localPort` connected to remote port `remotePort`. */
async function socketInode(localPort: number, remotePort: number): Promise<string | undefined> {
  const hex = (port: number): string => port.toString(16).toUpperCase().padStart(4, '0');
  const local = `:${hex(localPort)}`;
  const remote = `:${hex(remotePort)}`;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const f = line.trim().split(/\s+/);
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      if (f.length < 10 || !f[1]!.endsWith(local) || !f[2]!.endsWith(remote)) continue;
      if (f[9] !== '0') return f[9];
    }
  }
  return undefined;
}

async function childrenOf(pid: number): Promise<number[]> {
  try {
    const text = await fs.readFile(`/proc/${pid}/task/${pid}/children`, 'utf8');
    return text.trim() === '' ? [] : text.trim().split(/\s+/).map(Number);
  } catch {
    return [];
  }
}

async function holdsInode(pid: number, inode: string): Promise<boolean> {
  let fds: string[];
  try {
    fds = await fs.readdir(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  const want = `socket:[${inode}]`;
  for (const fd of fds) {
    try {
      if ((await fs.readlink(`/proc/${pid}/fd/${fd}`)) === want) return true;
    } catch {
      // Closed meanwhile.
    }
  }
  return false;
}

/**
 * The label of the candidate whose process (or a descendant) owns the client end of the
 * connection from 127.0.0.1:`clientPort` to 127.0.0.1:`serverPort`; undefined if none does.
 */
export async function socketOwner(
  clientPort: number,
  serverPort: number,
  candidates: ReadonlyMap<string, number>,
): Promise<string | undefined> {
  const inode = await socketInode(clientPort, serverPort);
  if (inode === undefined) return undefined;
  for (const [label, root] of candidates) {
    const queue = [root];
    for (let seen = 0; queue.length > 0 && seen < MAX_PROCESSES; seen++) {
      const pid = queue.shift()!;
      if (await holdsInode(pid, inode)) return label;
      queue.push(...(await childrenOf(pid)));
    }
  }
  return undefined;
}
