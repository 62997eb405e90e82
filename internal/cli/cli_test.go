package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func setEnv(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("VIGIL_DATA_DIR", dir)
	t.Setenv("VIGIL_NATS_LISTEN", "127.0.0.1:1") // nothing runs there: commands use the data dir
	t.Setenv("VIGIL_LOG_LEVEL", "warn")
	t.Setenv("VIGIL_METRICS_ADDR", "")
	return dir
}

func vigil(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

func write(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTenantAndInventoryApplyPersistInTheDataDir(t *testing.T) {
	dir := setEnv(t)
	ctx := context.Background()
	tenant := write(t, dir, "tenant.yaml", "id: st-mary\nname: St Mary's\nchannels:\n  email:\n    to: [soc@st-mary.example]\n")
	if code, out, errs := vigil(t, ctx, "tenant", "apply", "-f", tenant); code != 0 || !strings.Contains(out, "tenant st-mary (St Mary's) applied") {
		t.Fatalf("tenant apply: %d %q %q", code, out, errs)
	}
	inv := write(t, dir, "inv.csv", "id,vendor,product,version\nP1,Baxter,Sigma Spectrum,8.0\nP2,Baxter,,8.0\nP3,Philips,IntelliVue MX40,B.01\n")
	code, out, errs := vigil(t, ctx, "inventory", "validate", inv)
	if code != 1 || !strings.Contains(out, "2 assets valid, 1 row rejected") || !strings.Contains(errs, "inv.csv:3: field \"product\": is required") {
		t.Fatalf("validate: %d %q %q", code, out, errs)
	}
	code, out, errs = vigil(t, ctx, "inventory", "apply", "--tenant", "st-mary", inv)
	if code != 0 || !strings.Contains(out, "tenant st-mary: 2 assets applied (1 row rejected") {
		t.Fatalf("apply: %d %q %q", code, out, errs)
	}
	if code, _, errs = vigil(t, ctx, "inventory", "apply", "--tenant", "st-mary", "--strict", inv); code != 1 || !strings.Contains(errs, "nothing applied") {
		t.Fatalf("strict apply: %d %q", code, errs)
	}
	if code, _, errs = vigil(t, ctx, "inventory", "apply", "--tenant", "nobody", inv); code != 1 || !strings.Contains(errs, `tenant "nobody"`) {
		t.Fatalf("apply to unknown tenant: %d %q", code, errs)
	}
	// A later command (a new process in real life) sees the tenant.
	if code, out, _ = vigil(t, ctx, "tenant", "list"); code != 0 || !strings.Contains(out, "st-mary") || !strings.Contains(out, "1 recipient(s)") {
		t.Fatalf("tenant list: %d %q", code, out)
	}
}

func TestBadInputExitCodes(t *testing.T) {
	dir := setEnv(t)
	ctx := context.Background()
	bad := write(t, dir, "bad.yaml", "id: St Mary\nname: x\n")
	tests := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"run", "--roles=ingest,teleport"}, 2, `unknown role "teleport"`},
		{[]string{"tenant", "apply"}, 2, "-f FILE is required"},
		{[]string{"bench", "--match-share", "1.5"}, 2, "--match-share must be between 0 and 1 (got 1.5)"},
		{[]string{"bench", "--tenants", "0"}, 2, "--tenants and --assets must be at least 1"},
		{[]string{"bench", "--duration", "-1s"}, 2, "--duration must be positive"},
		{[]string{"tenant", "apply", "-f", bad}, 1, "bad.yaml: field id"},
		{[]string{"inventory", "validate", filepath.Join(dir, "missing.csv")}, 1, "missing.csv"},
	}
	for _, tt := range tests {
		code, _, errs := vigil(t, ctx, tt.args...)
		if code != tt.code || !strings.Contains(errs, tt.msg) {
			t.Errorf("vigil %v: exit %d, stderr %q; want %d and %q", tt.args, code, errs, tt.code, tt.msg)
		}
	}
	t.Setenv("VIGIL_POLL_INTERVAL", "often")
	if code, _, errs := vigil(t, ctx, "config"); code != 2 || !strings.Contains(errs, "POLL_INTERVAL") {
		t.Errorf("bad config: exit %d %q", code, errs)
	}
}

func TestCommandFlagsHelp(t *testing.T) {
	setEnv(t)
	ctx := context.Background()
	for _, args := range [][]string{{"bench", "-h"}, {"match", "--help"}, {"alerts", "-h"}} {
		code, out, errs := vigil(t, ctx, args...)
		if code != 0 || !strings.HasPrefix(out, "usage: vigil "+args[0]) || errs != "" {
			t.Errorf("vigil %v: exit %d, stdout %q, stderr %q; want 0 and the usage on stdout", args, code, out, errs)
		}
	}
	_, out, _ := vigil(t, ctx, "bench", "-h")
	for _, flag := range []string{"-rate", "-tenants", "-json", "as fast as the pipeline takes them"} {
		if !strings.Contains(out, flag) {
			t.Errorf("vigil bench -h does not mention %q:\n%s", flag, out)
		}
	}
	// Commands whose subcommands come first answer with their usage lines.
	// So do their subcommands without flags.
	for _, args := range [][]string{{"inventory", "-h"}, {"inventory", "validate", "-h"}, {"inventory", "validate", "--help"}} {
		code, out, errs := vigil(t, ctx, args...)
		if code != 0 || !strings.Contains(out, "inventory validate FILE") || !strings.Contains(out, "inventory apply --tenant ID FILE") ||
			strings.Contains(out, "tenant list") {
			t.Errorf("vigil %v: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
	code, out, errs := vigil(t, ctx, "inventory", "validate", "--strict")
	if code != 2 || !strings.Contains(errs, "inventory validate: want one FILE") || out != "" {
		t.Errorf("vigil inventory validate --strict: exit %d, stdout %q, stderr %q; want a usage error", code, out, errs)
	}
	if code, out, _ = vigil(t, ctx, "config", "--help"); code != 0 || !strings.Contains(out, "config ") || strings.Contains(out, "VIGIL_") {
		t.Errorf("vigil config --help: exit %d, stdout %q; want its usage line, not the configuration", code, out)
	}
	code, _, errs = vigil(t, ctx, "bench", "--rtae", "5")
	if code != 2 || !strings.Contains(errs, "flag provided but not defined: -rtae") || !strings.Contains(errs, "'vigil bench -h'") {
		t.Errorf("unknown flag: exit %d, stderr %q", code, errs)
	}
}

func TestConfigRedactsSecrets(t *testing.T) {
	setEnv(t)
	t.Setenv("VIGIL_SLACK_TOKEN", "xoxb-cli-secret")
	code, out, _ := vigil(t, context.Background(), "config")
	if code != 0 || strings.Contains(out, "xoxb-cli-secret") || !strings.Contains(out, "VIGIL_SLACK_TOKEN") {
		t.Fatalf("config: %d\n%s", code, out)
	}
}

func TestRunStopsCleanlyOnSignal(t *testing.T) {
	setEnv(t)
	t.Setenv("VIGIL_NATS_LISTEN", "127.0.0.1:-1")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		code, _, _ := vigil(t, ctx, "run", "--roles=enrich,match,notify")
		done <- code
	}()
	time.Sleep(time.Second)
	cancel() // what SIGINT/SIGTERM does through signal.NotifyContext
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("run exited %d", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop within 30s")
	}
}

func TestParseCommand(t *testing.T) {
	setEnv(t)
	ctx := context.Background()
	code, out, errs := vigil(t, ctx, "parse", "../../feeds/csaf/testdata/infusion-pump.json", "../../feeds/kev/testdata/catalog.json", "../../feeds/rss/testdata/truncated.rss.xml")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], `"id":"VHC-2026-0042"`) || !strings.Contains(lines[0], `"cvss_version":"3.1"`) {
		t.Fatalf("output:\n%s", out)
	}
	// The truncated feed and the bad KEV entry are reported with their file.
	if !strings.Contains(errs, "truncated.rss.xml: feed rss: parse") || !strings.Contains(errs, "catalog.json: kev kev: vulnerabilities[2]") {
		t.Fatalf("stderr:\n%s", errs)
	}
	code, _, errs = vigil(t, ctx, "parse", "../../feeds/rss/testdata/truncated.rss.xml")
	if code != 1 || !strings.Contains(errs, "nothing parsed") {
		t.Fatalf("nothing parsable: exit %d %q", code, errs)
	}
	if code, _, _ = vigil(t, ctx, "parse", "--format", "docx", "x"); code != 2 {
		t.Fatalf("bad format: exit %d", code)
	}
}

func TestMatchCommandOffline(t *testing.T) {
	setEnv(t)
	code, out, errs := vigil(t, context.Background(), "match", "--inventory", "../demo/data/inventory.csv",
		"--tenant-file", "../demo/data/tenant.yaml", "../demo/data/advisories.rss.xml", "../../feeds/kev/testdata/catalog.json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(errs, "7 advisories, 8 assets, 3 alert(s)") {
		t.Fatalf("%d alerts:\n%s\n%s", len(lines), out, errs)
	}
	for _, want := range []string{`"tenant":"st-example"`, `"asset_id":"MON-ICU-01"`, `"rule":"text-product"`, `version 2.0.2 \u003c 2.1`} {
		if !strings.Contains(out, want) && !strings.Contains(out, strings.ReplaceAll(want, `\u003c`, "<")) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
	if code, _, _ := vigil(t, context.Background(), "match", "../demo/data/advisories.rss.xml"); code != 2 {
		t.Errorf("missing --inventory: exit %d", code)
	}
}
