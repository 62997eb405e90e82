package cli

import (
	"fmt"

	"github.com/vigilhealth/vigil/internal/bus"
	"github.com/vigilhealth/vigil/internal/pipeline"
	"github.com/vigilhealth/vigil/store"
)

func (e *env) run(args []string) error {
	fs := newFlags("run")
	roles := fs.String("roles", "all", "comma-separated roles")
	if err := parse(fs, args); err != nil {
		return err
	}
	rs, err := pipeline.ParseRoles(*roles)
	if err != nil {
		return usagef("run: %v", err)
	}
	b, err := bus.Open(e.ctx, e.busOptions(), e.log)
	if err != nil {
		return err
	}
	defer b.Close()
	err = pipeline.Run(e.ctx, e.cfg, rs, b, pipeline.Deps{}, e.log)
	e.log.Info("vigil stopped")
	return err
}

func (e *env) migrate(args []string) error {
	if err := parse(newFlags("migrate"), args); err != nil {
		return err
	}
	db, err := store.Open(e.ctx, e.storeConfig())
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := db.Migrate(e.ctx)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintf(e.stdout, "database %s is up to date\n", e.cfg.ClickHouseDatabase)
		return nil
	}
	fmt.Fprintf(e.stdout, "database %s: applied migrations %v\n", e.cfg.ClickHouseDatabase, applied)
	return nil
}

func (e *env) storeConfig() store.Config {
	return store.Config{Addr: e.cfg.ClickHouseAddr, Database: e.cfg.ClickHouseDatabase, User: e.cfg.ClickHouseUser, Password: e.cfg.ClickHousePassword}
}
