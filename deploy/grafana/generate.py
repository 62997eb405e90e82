#!/usr/bin/env python3
"""Writes dashboards/vigil.json from docs/analytics.md: one panel per
documented query (store's TestGrafanaDashboardShowsTheDocumentedQueries
checks they stay in step). Run from the repository root."""
import json
import re

doc = open("docs/analytics.md").read()
queries = re.findall(r"### (\d+)\. ([^\n]+)\n.*?```sql\n(.*?)```", doc, re.S)
charts = {"4": ("barchart", {"xField": "month", "stacking": "normal"})}
ds = {"type": "grafana-clickhouse-datasource", "uid": "vigil-clickhouse"}
panels, x, y, row_h = [], 0, 0, 0
for i, (n, title, sql) in enumerate(queries):
    kind, options = charts.get(n, ("table", {}))
    h = 9 if kind == "barchart" else 8
    panels.append({
        "id": i + 1, "title": f"{n}. {title}", "type": kind, "datasource": ds,
        "gridPos": {"x": x, "y": y, "w": 12, "h": h},
        "targets": [{"refId": "A", "datasource": ds, "editorType": "sql", "format": 1,
                     "queryType": "table", "rawSql": sql.strip()}],
        "options": options, "fieldConfig": {"defaults": {}, "overrides": []},
    })
    row_h = max(row_h, h)
    x += 12
    if x >= 24:
        x, y, row_h = 0, y + row_h, 0
dash = {
    "uid": "vigil-analytics", "title": "Vigil: alerts, exposure and delivery",
    "tags": ["vigil", "security", "healthcare"], "timezone": "utc", "schemaVersion": 39,
    "version": 1, "editable": True, "refresh": "5m", "time": {"from": "now-30d", "to": "now"},
    "description": "The analyst queries of docs/analytics.md over Vigil's ClickHouse "
                   "database (each panel is one documented, tested query).",
    "panels": panels,
}
with open("deploy/grafana/dashboards/vigil.json", "w") as f:
    f.write(json.dumps(dash, indent=2) + "\n")
