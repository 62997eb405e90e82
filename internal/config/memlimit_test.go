package config

import (
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func cgroupDir(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestContainerMemoryLimit(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  int64
		err   string
	}{
		{"v2 limit", map[string]string{"memory.max": "1073741824\n"}, 1 << 30, ""},
		{"v2 none", map[string]string{"memory.max": "max\n"}, 0, ""},
		{"v1 limit", map[string]string{"memory/memory.limit_in_bytes": "536870912\n"}, 512 << 20, ""},
		{"v1 none", map[string]string{"memory/memory.limit_in_bytes": "9223372036854771712\n"}, 0, ""},
		{"v2 before v1", map[string]string{"memory.max": "2147483648", "memory/memory.limit_in_bytes": "536870912"}, 2 << 30, ""},
		{"no cgroup files", map[string]string{}, 0, ""},
		{"malformed", map[string]string{"memory.max": "lots\n"}, 0, `memory.max: "lots" is not a memory limit`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := ContainerMemoryLimit(cgroupDir(t, tc.files))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

func TestSetMemoryLimitFollowsTheContainerUnlessGOMEMLIMIT(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(before)
	root := cgroupDir(t, map[string]string{"memory.max": "2147483648\n"})

	t.Setenv("GOMEMLIMIT", "")
	got, from, err := SetMemoryLimit(root)
	if err != nil || got != 2147483648/10*9 || debug.SetMemoryLimit(-1) != got || !strings.HasSuffix(from, "memory.max") {
		t.Fatalf("limit %d from %q (%v); runtime %d; want 90%% of 2 GiB", got, from, err, debug.SetMemoryLimit(-1))
	}

	debug.SetMemoryLimit(math.MaxInt64)
	t.Setenv("GOMEMLIMIT", "700MiB") // the operator's choice stands: the runtime read it at start
	if _, from, _ := SetMemoryLimit(root); from != "GOMEMLIMIT" || debug.SetMemoryLimit(-1) != math.MaxInt64 {
		t.Fatalf("with GOMEMLIMIT set: from %q, runtime limit %d changed", from, debug.SetMemoryLimit(-1))
	}
	t.Setenv("GOMEMLIMIT", "off")
	if got, _, _ := SetMemoryLimit(root); got != 0 || debug.SetMemoryLimit(-1) != math.MaxInt64 {
		t.Fatalf("GOMEMLIMIT=off: limit %d", got)
	}
}
