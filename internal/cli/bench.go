package cli

import (
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"github.com/vigilhealth/vigil/internal/bench"
	"github.com/vigilhealth/vigil/internal/chlocal"
)

// benchCmd runs the benchmarks: `vigil bench` (the pipeline) and
// `vigil bench store` (the ClickHouse writer and the analyst queries).
func (e *env) benchCmd(args []string) error {
	if len(args) > 0 && args[0] == "store" {
		return e.benchStore(args[1:])
	}
	return e.benchPipeline(args)
}

// clickHouse is VIGIL_CLICKHOUSE_ADDR when set, else a clickhouse-server
// started in a scratch directory (stop it when done).
func (e *env) clickHouse(what string) (string, func(), error) {
	if _, set := os.LookupEnv("VIGIL_CLICKHOUSE_ADDR"); set {
		return e.cfg.ClickHouseAddr, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "vigil-"+what+"-")
	if err != nil {
		return "", nil, err
	}
	srv, err := chlocal.Start(e.ctx, dir)
	if errors.Is(err, chlocal.ErrNoBinary) {
		_ = os.RemoveAll(dir)
		return "", nil, fmt.Errorf("%w; or set VIGIL_CLICKHOUSE_ADDR to a running server", err)
	}
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, err
	}
	return srv.Addr, func() { srv.Stop(); _ = os.RemoveAll(dir) }, nil
}

func (e *env) benchStore(args []string) error {
	fs := newFlags("bench store")
	alerts := fs.Int("alerts", 10_000_000, "alert rows of generated history")
	writer := fs.Int("writer-rows", 500_000, "of which written through the store's writer path (timed)")
	tenants := fs.Int("tenants", 1000, "hospitals in the generated history")
	runs := fs.Int("runs", 3, "timed runs per query (the median is reported)")
	keep := fs.Bool("keep", false, "keep the scratch database vigil_bench")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parse(fs, args); err != nil {
		return err
	}
	addr, stop, err := e.clickHouse("bench-store")
	if err != nil {
		return err
	}
	defer stop()
	cfg := e.storeConfig()
	cfg.Addr, cfg.Database = addr, "vigil_bench"
	_, err = bench.Store(e.ctx, cfg, bench.StoreOptions{Alerts: *alerts, WriterRows: *writer, BatchSize: e.cfg.StoreBatchSize, Tenants: *tenants, Runs: *runs, KeepData: *keep, JSON: *asJSON}, e.stdout)
	return err
}

func (e *env) benchPipeline(args []string) error {
	fs := newFlags("bench")
	tenants := fs.Int("tenants", 1000, "hospitals")
	assets := fs.Int("assets", 1000, "assets per hospital")
	rate := fs.Float64("rate", 0, "advisories per second; 0: as fast as the pipeline takes them")
	duration := fs.Duration("duration", 30*time.Second, "how long to load")
	poll := fs.Duration("poll-interval", e.cfg.PollInterval, "poll interval for the time-to-alert phase (default VIGIL_POLL_INTERVAL); 0 skips it")
	_, chSet := os.LookupEnv("VIGIL_CLICKHOUSE_ADDR")
	withStore := fs.Bool("store", chSet, "run the store role too (VIGIL_CLICKHOUSE_ADDR, else a local clickhouse-server)")
	share := fs.Float64("match-share", bench.DefaultMatchShare, "share of advisories about products the hospitals run, 0 to 1 (0: advisories alone, no alerts)")
	warmup := fs.Duration("warmup", 10*time.Second, "pause after start-up before the load (start-up is reported separately)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile (go tool pprof) of the load phase, until the pipeline has drained it")
	memProfile := fs.String("memprofile", "", "write a heap profile at the end of the run")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("bench: unexpected %q (subcommands: store)", fs.Arg(0))
	}
	switch {
	case *tenants < 1 || *assets < 1:
		return usagef("bench: --tenants and --assets must be at least 1 (got %d and %d)", *tenants, *assets)
	case *rate < 0:
		return usagef("bench: --rate must be 0 (as fast as possible) or more (got %g)", *rate)
	case *duration <= 0:
		return usagef("bench: --duration must be positive (got %s)", *duration)
	case *share < 0 || *share > 1:
		return usagef("bench: --match-share must be between 0 and 1 (got %g)", *share)
	}
	o := bench.PipelineOptions{Tenants: *tenants, Assets: *assets, Rate: *rate, Duration: *duration, PollInterval: *poll, JSON: *asJSON, MatchShare: *share, Warmup: *warmup}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		o.OnLoad = func() func() {
			if err := pprof.StartCPUProfile(f); err != nil {
				e.log.Error("bench: cpu profile", "err", err)
				return func() {}
			}
			return pprof.StopCPUProfile
		}
	}
	if *withStore {
		addr, stop, err := e.clickHouse("bench")
		if err != nil {
			return err
		}
		defer stop()
		o.ClickHouseAddr = addr
	}
	log := e.log
	if _, set := os.LookupEnv("VIGIL_LOG_LEVEL"); !set {
		quiet := e.cfg
		quiet.LogLevel = "error"
		log = quiet.Logger(e.stderr)
	}
	_, err := bench.Pipeline(e.ctx, e.cfg, o, e.stdout, log)
	if *memProfile != "" {
		f, ferr := os.Create(*memProfile)
		if ferr != nil {
			return ferr
		}
		defer f.Close()
		if werr := pprof.Lookup("heap").WriteTo(f, 0); werr != nil {
			return werr
		}
	}
	return err
}
