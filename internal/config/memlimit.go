package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
)

// CgroupRoot is where the container's memory limit is read.
const CgroupRoot = "/sys/fs/cgroup"

// ContainerMemoryLimit returns the memory limit of the cgroup the process
// runs in, in bytes, and the file it came from: cgroup v2's memory.max,
// else v1's memory/memory.limit_in_bytes. 0 means no limit ("max", or
// v1's page-rounded maximum). An unreadable or malformed file is an error
// naming it.
func ContainerMemoryLimit(root string) (int64, string, error) {
	for _, name := range []string{"memory.max", filepath.Join("memory", "memory.limit_in_bytes")} {
		file := filepath.Join(root, name)
		data, err := os.ReadFile(file)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, file, err
		}
		v := strings.TrimSpace(string(data))
		if v == "max" {
			return 0, file, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return 0, file, fmt.Errorf("%s: %q is not a memory limit in bytes", file, v)
		}
		if n >= 1<<60 { // v1 writes "no limit" as the largest page-aligned int64
			return 0, file, nil
		}
		return n, file, nil
	}
	return 0, "", nil
}

// SetMemoryLimit gives the Go runtime a soft memory limit of 90% of the
// container's, unless GOMEMLIMIT sets one: the collector then works harder
// as the process nears the container's limit instead of letting the heap
// grow to twice what is live (the NATS file store's block caches and a
// saturated pipeline can take it over a 1 GiB limit otherwise), and the
// process is not killed for memory at a load peak. It returns the limit in
// effect (0: none) and where it came from.
func SetMemoryLimit(root string) (int64, string, error) {
	switch v := os.Getenv("GOMEMLIMIT"); v {
	case "":
	case "off":
		return 0, "GOMEMLIMIT", nil
	default:
		return debug.SetMemoryLimit(-1), "GOMEMLIMIT", nil // the runtime read it at start
	}
	n, file, err := ContainerMemoryLimit(root)
	if err != nil || n == 0 {
		return 0, file, err
	}
	limit := n / 10 * 9
	debug.SetMemoryLimit(limit)
	return limit, file, nil
}
