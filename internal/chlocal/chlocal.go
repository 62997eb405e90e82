// Package chlocal runs a clickhouse-server binary from PATH in a directory of
// its own on free ports: for `vigil demo` and for tests.
package chlocal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"text/template"
	"time"

	"github.com/vigilhealth/vigil/deploy"
)

// ErrNoBinary means no clickhouse-server was found.
var ErrNoBinary = errors.New("clickhouse-server not found on PATH or in /usr/sbin, /usr/bin (install Debian's clickhouse-server package)")

// Server is a running local ClickHouse.
type Server struct {
	Addr     string // native protocol host:port
	HTTPAddr string
	Dir      string
	cmd      *exec.Cmd
	done     chan error
}

// Binary finds clickhouse-server; the Debian package puts it in /usr/sbin,
// which is not on every user's PATH.
func Binary() (string, error) {
	if p, err := exec.LookPath("clickhouse-server"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"} {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	// The upstream packages ship one "clickhouse" binary with a server mode.
	if p, err := exec.LookPath("clickhouse"); err == nil {
		return p, nil
	}
	return "", ErrNoBinary
}

var configTmpl = template.Must(template.ParseFS(deploy.ClickHouse, "clickhouse/config.xml.tmpl"))

// Start launches clickhouse-server in dir on free loopback ports and waits
// until it accepts native connections.
func Start(ctx context.Context, dir string) (*Server, error) { return StartOn(ctx, dir, 0) }

// StartOn is Start with a given native port (0 picks a free one): a server
// restarted on its old directory and port is the same server to its clients.
func StartOn(ctx context.Context, dir string, tcp int) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	if tcp == 0 {
		if tcp, err = freePort(); err != nil {
			return nil, err
		}
	}
	httpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "config.xml")
	var conf bytes.Buffer
	if err := configTmpl.Execute(&conf, struct {
		Dir               string
		TCPPort, HTTPPort int
	}{dir, tcp, httpPort}); err != nil {
		return nil, fmt.Errorf("clickhouse: config: %w", err)
	}
	users, err := deploy.ClickHouse.ReadFile("clickhouse/users.xml")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(cfg, conf.Bytes(), 0o644); err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "users.xml"), users, 0o644); err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	args := []string{"--config-file=" + cfg}
	if filepath.Base(bin) == "clickhouse" {
		args = append([]string{"server"}, args...)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, err := os.Create(filepath.Join(dir, "stdout.log"))
	if err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	// The server must not outlive us if we are killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("clickhouse: start %s: %w", bin, err)
	}
	s := &Server{
		Addr:     net.JoinHostPort("127.0.0.1", strconv.Itoa(tcp)),
		HTTPAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(httpPort)),
		Dir:      dir, cmd: cmd, done: make(chan error, 1),
	}
	go func() { s.done <- cmd.Wait() }()
	if err := s.waitReady(ctx, 60*time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			log, _ := os.ReadFile(filepath.Join(s.Dir, "server.err.log"))
			return fmt.Errorf("clickhouse: server exited during start (%v); %s", err, tail(string(log), 800))
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		c, err := net.DialTimeout("tcp", s.Addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("clickhouse: not accepting connections on %s after %s", s.Addr, limit)
}

// Stop terminates the server and waits for it.
func (s *Server) Stop() {
	if s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd.Process = nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("clickhouse: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
