// goclient: runs a fixed script of etcd v3 calls through etcd's own Go client (clientv3 3.4,
// from Debian's golang-etcd-server-dev) and prints a transcript that is the same for any two
// fresh servers that behave like etcd: revisions, values, versions, counts, events and error
// messages, but no member ids, lease ids or timestamps.
//
//	goclient --endpoints 127.0.0.1:2379
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"go.etcd.io/etcd/clientv3"
	"go.etcd.io/etcd/mvcc/mvccpb"
)

var out strings.Builder

func say(format string, a ...interface{}) { fmt.Fprintf(&out, format+"\n", a...) }

// kvs prints a range result under label: kvs("x")(cli.Get(...)).
func kvs(label string) func(*clientv3.GetResponse, error) {
	return func(resp *clientv3.GetResponse, err error) { printKvs(label, resp, err) }
}

func printKvs(label string, resp *clientv3.GetResponse, err error) {
	if err != nil {
		say("%s: error %v", label, err)
		return
	}
	say("%s: rev=%d count=%d more=%v", label, resp.Header.Revision, resp.Count, resp.More)
	for _, kv := range resp.Kvs {
		say("  %s=%q create=%d mod=%d ver=%d lease=%v", kv.Key, kv.Value, kv.CreateRevision, kv.ModRevision, kv.Version, kv.Lease != 0)
	}
}

func main() {
	endpoints := flag.String("endpoints", "127.0.0.1:2379", "comma-separated endpoints")
	flag.Parse()
	cli, err := clientv3.New(clientv3.Config{Endpoints: strings.Split(*endpoints, ","), DialTimeout: 5 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "goclient: connect:", err)
		os.Exit(1)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	script(ctx, cli)
	fmt.Print(out.String())
}

func script(ctx context.Context, cli *clientv3.Client) {
	put, err := cli.Put(ctx, "k/a", "1")
	if err != nil {
		say("put: error %v", err)
		return
	}
	start := put.Header.Revision
	say("put k/a: rev=%d", put.Header.Revision)
	prev, err := cli.Put(ctx, "k/a", "2", clientv3.WithPrevKV())
	if err == nil {
		say("put k/a prev: rev=%d prev=%q", prev.Header.Revision, prev.PrevKv.Value)
	}
	for _, k := range []string{"k/b", "k/c", "k/d", "z"} {
		_, _ = cli.Put(ctx, k, "v-"+k)
	}
	kvs("get k/a")(cli.Get(ctx, "k/a"))
	kvs("get prefix k/ limit 2 desc")(cli.Get(ctx, "k/", clientv3.WithPrefix(), clientv3.WithLimit(2), clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend)))
	kvs("get prefix k/ keys-only")(cli.Get(ctx, "k/", clientv3.WithPrefix(), clientv3.WithKeysOnly()))
	kvs("get prefix k/ count-only")(cli.Get(ctx, "k/", clientv3.WithPrefix(), clientv3.WithCountOnly()))
	kvs("get from-key k/c")(cli.Get(ctx, "k/c", clientv3.WithFromKey()))
	kvs("get k/a at first rev")(cli.Get(ctx, "k/a", clientv3.WithRev(start)))
	kvs("get serializable")(cli.Get(ctx, "k/b", clientv3.WithSerializable()))

	txn, err := cli.Txn(ctx).
		If(clientv3.Compare(clientv3.Value("k/a"), "=", "2"), clientv3.Compare(clientv3.Version("k/b"), ">", 0)).
		Then(clientv3.OpPut("k/t", "yes"), clientv3.OpGet("k/a")).
		Else(clientv3.OpPut("k/t", "no")).Commit()
	if err != nil {
		say("txn: error %v", err)
	} else {
		say("txn: succeeded=%v rev=%d responses=%d", txn.Succeeded, txn.Header.Revision, len(txn.Responses))
	}
	txn2, err := cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision("k/a"), "<", 1)).Then(clientv3.OpDelete("k/a")).Else(clientv3.OpGet("k/", clientv3.WithPrefix(), clientv3.WithCountOnly())).Commit()
	if err == nil {
		say("txn2: succeeded=%v count=%d", txn2.Succeeded, txn2.Responses[0].GetResponseRange().Count)
	}

	del, err := cli.Delete(ctx, "k/c", clientv3.WithPrevKV())
	if err == nil {
		say("delete k/c: deleted=%d prev=%q rev=%d", del.Deleted, del.PrevKvs[0].Value, del.Header.Revision)
	}

	lease, err := cli.Grant(ctx, 30)
	if err != nil {
		say("grant: error %v", err)
	} else {
		say("grant: ttl=%d", lease.TTL)
		_, _ = cli.Put(ctx, "l/x", "leased", clientv3.WithLease(lease.ID))
		ttl, err := cli.TimeToLive(ctx, lease.ID, clientv3.WithAttachedKeys())
		if err == nil {
			say("timetolive: granted=%d ttl-ok=%v keys=%q", ttl.GrantedTTL, ttl.TTL > 20 && ttl.TTL <= 30, ttl.Keys)
		}
		ka, err := cli.KeepAliveOnce(ctx, lease.ID)
		if err == nil {
			say("keepalive once: ttl=%d", ka.TTL)
		}
		leases, err := cli.Leases(ctx)
		if err == nil {
			say("leases: %d", len(leases.Leases))
		}
		rev, err := cli.Revoke(ctx, lease.ID)
		if err == nil {
			say("revoke: rev=%d", rev.Header.Revision)
		}
		kvs("get l/x after revoke")(cli.Get(ctx, "l/x"))
		_, err = cli.Revoke(ctx, lease.ID)
		say("revoke again: %v", err)
	}

	// Watch history from the first revision: every event, in order.
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	wch := cli.Watch(wctx, "k/", clientv3.WithPrefix(), clientv3.WithRev(start), clientv3.WithPrevKV())
	seen := 0
	for resp := range wch {
		if err := resp.Err(); err != nil {
			say("watch: error %v", err)
			break
		}
		for _, ev := range resp.Events {
			prevVal := ""
			if ev.PrevKv != nil {
				prevVal = string(ev.PrevKv.Value)
			}
			typ := "PUT"
			if ev.Type == mvccpb.DELETE {
				typ = "DELETE"
			}
			say("  event %s %s=%q mod=%d prev=%q", typ, ev.Kv.Key, ev.Kv.Value, ev.Kv.ModRevision, prevVal)
			seen++
		}
		if seen >= 7 {
			break
		}
	}
	wcancel()
	say("watch: %d events", seen)

	// Compaction and what it does to old revisions.
	cur, _ := cli.Get(ctx, "z")
	_, err = cli.Compact(ctx, cur.Header.Revision-2, clientv3.WithCompactPhysical())
	say("compact: %v", err)
	_, err = cli.Get(ctx, "k/a", clientv3.WithRev(start))
	say("get compacted: %v", err)
	_, err = cli.Get(ctx, "k/a", clientv3.WithRev(cur.Header.Revision+100))
	say("get future: %v", err)
	_, err = cli.Compact(ctx, cur.Header.Revision-3)
	say("compact again lower: %v", err)

	// Errors clients match on.
	_, err = cli.Put(ctx, "", "x")
	say("put empty key: %v", err)
	ops := make([]clientv3.Op, 129)
	for i := range ops {
		ops[i] = clientv3.OpPut(fmt.Sprintf("t/%03d", i), "x")
	}
	_, err = cli.Txn(ctx).Then(ops...).Commit()
	say("txn 129 ops: %v", err)
	_, err = cli.Txn(ctx).Then(clientv3.OpPut("dup", "1"), clientv3.OpPut("dup", "2")).Commit()
	say("txn duplicate: %v", err)
	_, err = cli.Put(ctx, "big", strings.Repeat("x", 1600*1024))
	say("put 1600 KiB: %v", err)
	_, err = cli.TimeToLive(ctx, clientv3.LeaseID(12345))
	say("timetolive unknown: %v", err)

	st, err := cli.Status(ctx, cli.Endpoints()[0])
	if err == nil {
		say("status: version=%s db>0=%v leader=self:%v", st.Version, st.DbSize > 0, st.Leader == st.Header.MemberId)
	}
	ml, err := cli.MemberList(ctx)
	if err == nil {
		say("member list: %d members, first name=%s", len(ml.Members), ml.Members[0].Name)
	}
}

