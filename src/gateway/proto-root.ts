/**
 * Our copy of etcd's .proto files loaded as protobufjs reflection (keeping the .proto field
 * names), which the gateway's JSON mapping walks. Loaded once, on first use.
 */
import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import { findProtoDir } from '../etcdpb';

let root: protobuf.Root | null = null;

/** The resolved reflection root of etcd's services and messages. */
export function gatewayRoot(): protobuf.Root {
  if (root !== null) return root;
  const dir = findProtoDir();
  const r = new protobuf.Root();
  r.resolvePath = (_origin, target) => path.join(dir, target);
  r.loadSync(['rpc.proto', 'v3lock.proto', 'v3election.proto'], { keepCase: true });
  r.resolveAll();
  root = r;
  return r;
}
