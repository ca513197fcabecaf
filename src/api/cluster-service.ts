/**
 * etcdserverpb.Cluster: membership calls, answered by the member. The one check etcd's v3rpc
 * makes itself (member.go) is that MemberAdd's peer URLs parse; a bad one gets etcd's
 * "given member URLs are invalid". Headers are the member's: etcd's cluster service sends
 * cluster id, member id and raft term without a revision.
 */
import type { ClusterHandlers } from '../etcdpb';
import type { EtcdServerApi } from '../server';
import { unary } from './call';
import { etcdError } from './errors';
import { badUrlReason } from './validate';

/** The Cluster service's handlers over the member. */
export function clusterHandlers(api: EtcdServerApi): ClusterHandlers {
  return {
    MemberAdd: unary((req) => {
      if (badUrlReason(req.peerURLs) !== null) throw etcdError('MEMBER_BAD_URLS');
      return api.memberAdd(req);
    }),
    MemberRemove: unary((req) => api.memberRemove(req)),
    MemberUpdate: unary((req) => api.memberUpdate(req)),
    MemberList: unary((req) => api.memberList(req)),
    MemberPromote: unary((req) => api.memberPromote(req)),
  };
}
