package config

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

func TestDefaultsWorkAlone(t *testing.T) {
	for _, k := range []string{"VIGIL_DATA_DIR", "VIGIL_SLACK_TOKEN", "VIGIL_POLL_INTERVAL"} {
		t.Setenv(k, "")
		os.Unsetenv(k) // t.Setenv restores the outer value afterwards
	}
	c, err := Load()
	if err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	if c.DataDir != "./data" || c.PollInterval != 5*time.Minute || c.StoreBatchSize != 25000 {
		t.Fatalf("unexpected defaults: %+v", c)
	}
}

func TestInvalidValuesNameTheVariable(t *testing.T) {
	tests := []struct {
		env, value, want string
	}{
		{"VIGIL_POLL_INTERVAL", "soon", "POLL_INTERVAL"},
		{"VIGIL_SMTP_TLS", "maybe", "VIGIL_SMTP_TLS"},
		{"VIGIL_SMTP_PORT", "70000", "VIGIL_SMTP_PORT"},
		{"VIGIL_LOG_LEVEL", "loud", "VIGIL_LOG_LEVEL"},
		{"VIGIL_STORE_BATCH_SIZE", "0", "VIGIL_STORE_BATCH_SIZE"},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			t.Setenv(tt.env, tt.value)
			_, err := Load()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load with %s=%q: err %v, want it to name %s", tt.env, tt.value, err, tt.want)
			}
		})
	}
}

func TestPrintRedactsSecrets(t *testing.T) {
	t.Setenv("VIGIL_SLACK_TOKEN", "xoxb-very-secret-token")
	t.Setenv("VIGIL_SMTP_PASSWORD", "hunter2-smtp")
	t.Setenv("VIGIL_CLICKHOUSE_PASSWORD", "ch-pass-123")
	t.Setenv("VIGIL_NVD_API_KEY", "nvd-key-456")
	t.Setenv("VIGIL_SMTP_HOST", "mail.example-hospital.org")
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := c.Print(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, s := range []string{"xoxb-very-secret-token", "hunter2-smtp", "ch-pass-123", "nvd-key-456"} {
		if strings.Contains(out, s) {
			t.Fatalf("config output leaks %q:\n%s", s, out)
		}
	}
	if !strings.Contains(out, "mail.example-hospital.org") || strings.Count(out, Redacted) != 4 {
		t.Fatalf("expected the host shown and four redacted secrets:\n%s", out)
	}
	if got := len(c.Secrets()); got != 4 {
		t.Fatalf("Secrets() = %d values, want 4", got)
	}
}

// TestREADMEDocumentsEveryVariable keeps the README's table in step.
func TestREADMEDocumentsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := (Config{}).Print(&buf); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(buf.String(), "\n")[1:] {
		if f := strings.Fields(line); len(f) > 0 && !strings.Contains(string(readme), "`"+f[0]+"`") {
			t.Errorf("README.md does not document %s", f[0])
		}
	}
}
