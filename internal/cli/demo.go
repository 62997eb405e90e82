package cli

import (
	"os"

	"github.com/vigilhealth/vigil/internal/demo"
)

func (e *env) demo(args []string) error {
	fs := newFlags("demo")
	once := fs.Bool("once", false, "stop after the demo alerts are delivered and stored, and print what ClickHouse holds")
	timeout := fs.Duration("timeout", 0, "with --once: give up after this long (default 2m)")
	if err := parse(fs, args); err != nil {
		return err
	}
	o := demo.Options{Once: *once, Timeout: *timeout}
	if _, set := os.LookupEnv("VIGIL_CLICKHOUSE_ADDR"); set {
		o.ClickHouseAddr = e.cfg.ClickHouseAddr
	}
	// The demo tells its own story on stdout; the pipeline's info logs would
	// bury it, so they show only when asked for.
	log := e.log
	if _, set := os.LookupEnv("VIGIL_LOG_LEVEL"); !set {
		quiet := e.cfg
		quiet.LogLevel = "warn"
		log = quiet.Logger(e.stderr)
	}
	return demo.Run(e.ctx, e.cfg, o, e.stdout, log)
}
