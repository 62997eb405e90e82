package feeds

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// benchFiles are real documents when the corpus is present, else fixtures.
func benchFiles(b *testing.B, corpusGlob string, fixtures []string) [][]byte {
	files, _ := filepath.Glob(filepath.Join("..", "..", "shared", "corpus", corpusGlob))
	if len(files) == 0 {
		files = fixtures
	}
	var out [][]byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

func benchParse(b *testing.B, format string, docs [][]byte) {
	var size int64
	for _, d := range docs {
		size += int64(len(d))
	}
	// One operation parses every document once, so each run weighs the
	// same mix of small and large documents.
	b.SetBytes(size)
	b.ReportAllocs()
	fetched := time.Now()
	advisories := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, d := range docs {
			res, err := Parse(format, "bench", d, fetched)
			if err != nil {
				b.Fatal(err)
			}
			advisories += len(res.Advisories)
		}
	}
	b.ReportMetric(float64(advisories)/b.Elapsed().Seconds(), "advisories/s")
}

func BenchmarkParseCSAF(b *testing.B) {
	benchParse(b, FormatCSAF, benchFiles(b, "csaf/*/*.json", conformance[FormatCSAF]))
}

func BenchmarkParseKEV(b *testing.B) {
	benchParse(b, FormatKEV, benchFiles(b, "kev/known_exploited_vulnerabilities.json", conformance[FormatKEV]))
}

func BenchmarkParseNVD(b *testing.B) {
	benchParse(b, FormatNVD, benchFiles(b, "nvd/nvd-api-2.0-*.json", conformance[FormatNVD]))
}

func BenchmarkParseRSS(b *testing.B) {
	benchParse(b, FormatRSS, benchFiles(b, "feeds/*", conformance[FormatRSS]))
}

func BenchmarkParseCVE5(b *testing.B) {
	benchParse(b, FormatCVE5, benchFiles(b, "cve5/*.json", conformance[FormatCVE5]))
}
