package datastore

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/k3s-io/kine/pkg/drivers"
	"github.com/k3s-io/kine/pkg/server"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	// The SQL backends only. kine's endpoint package links every driver it
	// has, NATS with an embedded NATS server and t4 with pebble and an S3
	// client among them: ~20 MB of edgelet that no edgelet setup uses.
	_ "github.com/k3s-io/kine/pkg/drivers/mysql"
	_ "github.com/k3s-io/kine/pkg/drivers/pgsql"
	_ "github.com/k3s-io/kine/pkg/drivers/sqlite"
)

// listen serves the etcd v3 API of kine's backend for dsn on a unix socket
// until ctx ends.
func listen(ctx context.Context, sock, dsn string) error {
	var wg sync.WaitGroup
	// The backend outlives ctx by the gRPC server's graceful stop.
	bctx, bcancel := context.WithCancel(context.WithoutCancel(ctx))
	_, backend, err := drivers.New(bctx, &wg, &drivers.Config{
		Endpoint: dsn,
		// kine's library API has no defaults (its CLI does). Compaction is
		// the API server's, as on etcd: every 5 minutes it compacts to the
		// revision it saw 5 minutes before. kine's own compactor kept the
		// newest 1000 revisions besides, so on a quiet cluster a list's
		// continue token never expired (upstream conformance expects a 410
		// within 10 minutes).
		CompactInterval:  0,
		CompactTimeout:   5 * time.Second,
		CompactMinRetain: 0,
		CompactBatchSize: 1000,
		PollBatchSize:    500,
	})
	if err != nil {
		bcancel()
		return err
	}
	if err := backend.Start(bctx); err != nil {
		bcancel()
		return fmt.Errorf("start backend: %w", err)
	}
	// The API server's etcd client pings every 30 s and sends requests of
	// up to 1.5 MiB (etcd's limit) plus gRPC framing.
	srv := grpc.NewServer(
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 2 * time.Hour, Timeout: 20 * time.Second}),
		grpc.MaxRecvMsgSize(2*1024*1024),
		grpc.MaxSendMsgSize(64*1024*1024),
	)
	server.New(backend, "unix", 5*time.Second, "3.6.11").Register(srv)

	_ = os.Remove(sock) // a stale socket from an unclean stop blocks the listener
	l, err := (&net.ListenConfig{}).Listen(ctx, "unix", sock)
	if err != nil {
		bcancel()
		return err
	}
	if err := os.Chmod(sock, 0o600); err != nil {
		l.Close()
		bcancel()
		return err
	}
	go func() {
		<-ctx.Done()
		stopped := make(chan struct{})
		go func() { srv.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(5 * time.Second):
			srv.Stop()
		}
		bcancel()
	}()
	go func() { _ = srv.Serve(l) }()
	return nil
}
