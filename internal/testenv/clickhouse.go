package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	tc "github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/vigilhealth/vigil/internal/chlocal"
)

// ClickHouseImage is the image used when ClickHouse runs under Docker.
const ClickHouseImage = "clickhouse/clickhouse-server:24.8"

// ClickHouse returns the native address of a real ClickHouse server and a
// fresh database name for this test. In order: VIGIL_TEST_CLICKHOUSE_ADDR; a
// clickhouse-server binary started in t.TempDir(); a testcontainers-go
// container when Docker answers; else skip (fail under CI=true).
func ClickHouse(t testing.TB) (addr, database string) {
	t.Helper()
	database = "vigil_test_" + randomHex(6)
	if a := os.Getenv("VIGIL_TEST_CLICKHOUSE_ADDR"); a != "" {
		return a, database
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv, err := chlocal.Start(ctx, t.TempDir())
	if err == nil {
		t.Cleanup(srv.Stop)
		return srv.Addr, database
	}
	if !errors.Is(err, chlocal.ErrNoBinary) {
		t.Fatalf("local clickhouse-server: %v", err)
	}
	if a, ok := clickHouseContainer(ctx, t); ok {
		return a, database
	}
	Unavailable(t, "no ClickHouse: set VIGIL_TEST_CLICKHOUSE_ADDR, install clickhouse-server, or run Docker")
	return "", ""
}

func clickHouseContainer(ctx context.Context, t testing.TB) (string, bool) {
	p, err := tc.NewDockerProvider()
	if err != nil {
		return "", false
	}
	defer p.Close()
	hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if p.Health(hctx) != nil {
		return "", false
	}
	c, err := tc.Run(ctx, ClickHouseImage,
		tc.WithExposedPorts("9000/tcp"),
		tc.WithEnv(map[string]string{"CLICKHOUSE_SKIP_USER_SETUP": "1"}),
		tc.WithWaitStrategy(wait.ForListeningPort("9000/tcp").WithStartupTimeout(2*time.Minute)),
	)
	if err != nil {
		t.Fatalf("clickhouse container: %v", err)
	}
	t.Cleanup(func() { _ = tc.TerminateContainer(c) })
	addr, err := c.PortEndpoint(ctx, "9000/tcp", "")
	if err != nil {
		t.Fatalf("clickhouse container port: %v", err)
	}
	return addr, true
}

// ClickHouseConn opens a connection to addr (default database) for asserting.
func ClickHouseConn(t testing.TB, addr string) clickhouse.Conn {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, Auth: clickhouse.Auth{Username: "default"}})
	if err != nil {
		t.Fatalf("clickhouse open: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
