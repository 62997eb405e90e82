-- Vigil's first schema. Kept to what ClickHouse 18.16 (Debian bookworm) and
-- current releases both accept: MergeTree family, Array, Nullable, DateTime.
-- ReplacingMergeTree collapses rows written twice by a redelivery; read with FINAL.

CREATE TABLE IF NOT EXISTS advisories (
    source      String,
    id          String,
    revision    String,
    title       String,
    url         String,
    summary     String,
    published   DateTime,
    updated     DateTime,
    fetched_at  DateTime,
    enriched_at DateTime,
    tlp         String,
    cves        Array(String),
    vendors     Array(String),
    kev         UInt8,
    cvss_score  Nullable(Float32),
    cvss_vector String,
    inserted_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree(inserted_at)
PARTITION BY toYYYYMM(published)
ORDER BY (source, id, revision);

CREATE TABLE IF NOT EXISTS alerts (
    tenant          String,
    alert_id        String,
    revision        String,
    priority        String,
    confidence      String,
    advisory_source String,
    advisory_id     String,
    title           String,
    url             String,
    cves            Array(String),
    kev             UInt8,
    assets          Array(String),
    asset_reasons   Array(String),
    published       DateTime,
    fetched_at      DateTime,
    created_at      DateTime,
    inserted_at     DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree(inserted_at)
PARTITION BY toYYYYMM(created_at)
ORDER BY (tenant, alert_id, revision);

CREATE TABLE IF NOT EXISTS deliveries (
    tenant      String,
    alert_id    String,
    revision    String,
    channel     String,
    status      String,
    error       String,
    attempt     UInt16,
    priority    String,
    at          DateTime,
    latency_ms  Int64,
    inserted_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree(inserted_at)
PARTITION BY toYYYYMM(at)
ORDER BY (tenant, alert_id, revision, channel, attempt, status);
