package demo

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vigilhealth/vigil/internal/config"
	"github.com/vigilhealth/vigil/internal/testenv"
)

func TestDemoOnceDeliversAndStoresTheExpectedAlerts(t *testing.T) {
	addr, database := testenv.ClickHouse(t)
	for _, k := range []string{"VIGIL_SLACK_TOKEN", "VIGIL_FEEDS_FILE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = t.TempDir()
	cfg.ClickHouseDatabase = database
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := Run(ctx, cfg, Options{Once: true, ClickHouseAddr: addr, Timeout: 90 * time.Second}, &out, testenv.Logger(t)); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	s := out.String()
	if n := strings.Count(s, "] ALERT "); n != ExpectedAlerts {
		t.Fatalf("%d alerts printed, want %d:\n%s", n, ExpectedAlerts, s)
	}
	for _, want := range []string{
		"version 2.0.2 < 2.1", "version C.00.03 <= C.00.04", "PUMP-ONC-07",
		"Polled the feed again: 304 Not Modified; still 3 Slack, 3 email and 3 webhook messages",
		"Tables: advisories 5 rows, alerts 3, deliveries 9",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// Precision: the pump on the fixed version and the controller the
	// hospital does not own raise nothing.
	for _, never := range []string{"ALERT P3 possible  B. Braun", "SIMATIC S7-1500 CPU: Denial", "MON-ICU-02:"} {
		if strings.Contains(s, never) {
			t.Errorf("output has %q", never)
		}
	}
	if rows := regexp.MustCompile(`(?m)^\S+ \S+\s+st-example\s+A-[0-9a-f]{16}\s+P[1-4]`).FindAllString(s, -1); len(rows) != ExpectedAlerts {
		t.Errorf("ClickHouse table shows %d rows, want %d:\n%s", len(rows), ExpectedAlerts, s)
	}
	if t.Failed() {
		t.Log(s)
	}
}
