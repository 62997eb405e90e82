// Package deploy holds deployment files: the Dockerfile, docker-compose.yml
// and the ClickHouse configuration for local runs, embedded here so the
// binary renders the same file a reader finds in deploy/clickhouse.
package deploy

import "embed"

// ClickHouse holds config.xml.tmpl and users.xml.
//
//go:embed clickhouse/config.xml.tmpl clickhouse/users.xml
var ClickHouse embed.FS
