-- Analytics: the products of each advisory revision, vulnerability clusters,
-- one row per matched asset, ingest runs and analysts' verdicts on alerts;
-- on alerts, the advisory's vendor, whether a fix is out, vendor-watch and
-- digest marks. ClickHouse 18.16 and current releases.
ALTER TABLE alerts ADD COLUMN vendor_id String;
ALTER TABLE alerts ADD COLUMN fix_available UInt8;
ALTER TABLE alerts ADD COLUMN watch UInt8;
ALTER TABLE alerts ADD COLUMN digest UInt8;

CREATE TABLE IF NOT EXISTS advisory_products (
    source      String,
    id          String,
    revision    String,
    pos         UInt16,
    vendor_id   String,
    vendor      String,
    product     String,
    versions    Array(String),
    status      String,
    cpe         String,
    purl        String,
    published   DateTime,
    inserted_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree(inserted_at)
PARTITION BY toYYYYMM(published)
ORDER BY (source, id, revision, pos);

CREATE TABLE IF NOT EXISTS clusters (
    cluster_id     String,
    source         String,
    id             String,
    revision       String,
    cves           Array(String),
    vendor_id      String,
    published      DateTime,
    kev            UInt8,
    kev_date_added Nullable(DateTime),
    inserted_at    DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree(inserted_at)
PARTITION BY toYYYYMM(published)
ORDER BY (cluster_id, source, id, revision);

CREATE TABLE IF NOT EXISTS alert_assets (
    tenant      String,
    alert_id    String,
    revision    String,
    asset_id    String,
    vendor      String,
    product     String,
    model       String,
    version     String,
    category    String,
    criticality String,
    location    String,
    zone        String,
    confidence  String,
    rule        String,
    reasons     Array(String),
    priority    String,
    created_at  DateTime,
    inserted_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree(inserted_at)
PARTITION BY toYYYYMM(created_at)
ORDER BY (tenant, alert_id, revision, asset_id);

CREATE TABLE IF NOT EXISTS ingest_runs (
    source       String,
    kind         String,
    started_at   DateTime,
    duration_ms  UInt32,
    status       UInt16,
    not_modified UInt8,
    items        UInt32,
    published    UInt32,
    unchanged    UInt32,
    rejected     UInt32,
    item_errors  UInt32,
    error        String,
    inserted_at  DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree(inserted_at)
PARTITION BY toYYYYMM(started_at)
ORDER BY (source, started_at);

CREATE TABLE IF NOT EXISTS alert_feedback (
    tenant      String,
    alert_id    String,
    verdict     String,
    note        String,
    analyst     String,
    at          DateTime,
    inserted_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree(inserted_at)
PARTITION BY toYYYYMM(at)
ORDER BY (tenant, alert_id, at);
