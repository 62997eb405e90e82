package enrich

import (
	"fmt"
	"sort"
	"strings"

	"github.com/vigilhealth/vigil/advisory"
)

// signals is what one scan of an advisory's words found.
type signals struct {
	healthcare []string // distinct healthcare words
	safety     []string // distinct safety words
}

// scan looks every lexicon word up in the product names, the title and the
// summary (in that order, so a category's reason names the strongest
// evidence), and assigns categories.
func (e *Enricher) scan(a *advisory.Advisory, title, sum string) signals {
	en := a.Enrichment
	var sig signals
	cats := map[string]bool{}
	var primary *Vendor
	if en.VendorID != "" {
		primary = e.vendors.byID[en.VendorID]
	}
	medicalVendor := primary != nil && primary.Healthcare()
	visit := func(norm, where string) {
		e.lexScan(norm, func(le lexEntry) {
			if le.medicalOnly && !medicalVendor {
				le.category = ""
			}
			if le.category != "" && !cats[le.category] {
				cats[le.category] = true
				en.Categories = append(en.Categories, advisory.Category{ID: le.category, Reason: fmt.Sprintf("%s mentions %q", where, le.word)})
			}
			if le.healthcare && !containsWord(sig.healthcare, le.word) {
				sig.healthcare = append(sig.healthcare, le.word)
			}
			if le.safety && !containsWord(sig.safety, le.word) {
				sig.safety = append(sig.safety, le.word)
			}
		})
	}
	seenNames := map[string]bool{}
	for _, p := range a.Products {
		if p.Name != "" && !seenNames[p.Name] {
			seenNames[p.Name] = true
			visit(Normalize(p.Name), fmt.Sprintf("product %q", p.Name))
		}
	}
	visit(title, "title")
	visit(sum, "summary")
	// Clinical categories first, then building OT, then general IT: an
	// embedded web server in a monitor does not make it general IT.
	sort.SliceStable(en.Categories, func(i, j int) bool {
		return categoryRank(en.Categories[i].ID) < categoryRank(en.Categories[j].ID)
	})
	if len(en.Categories) == 0 && primary != nil {
		vd := primary
		switch {
		case vd.Category != "":
			en.Categories = append(en.Categories, advisory.Category{ID: vd.Category, Reason: fmt.Sprintf("vendor %s mainly makes %s", vd.Name, vd.Category)})
		case vd.Kind == KindOT:
			en.Categories = append(en.Categories, advisory.Category{ID: CatBuildingOT, Reason: fmt.Sprintf("vendor %s makes building and facility OT", vd.Name)})
		case vd.Kind == KindIT:
			en.Categories = append(en.Categories, advisory.Category{ID: CatGeneralIT, Reason: fmt.Sprintf("vendor %s makes general IT", vd.Name)})
		}
	}
	return sig
}

// lexScan calls f for the longest lexicon entry at each token position.
func (e *Enricher) lexScan(norm string, f func(lexEntry)) {
	starts := tokenStarts(norm)
	for i := 0; i < len(starts); i++ {
		for n := min(e.lexMax, len(starts)-i); n >= 1; n-- {
			end := len(norm)
			if i+n < len(starts) {
				end = starts[i+n] - 1
			}
			if le, ok := e.lex[norm[starts[i]:end]]; ok {
				f(le)
				i += n - 1
				break
			}
		}
	}
}

func categoryRank(id string) int {
	switch {
	case clinical[id]:
		return 0
	case id == CatBuildingOT:
		return 1
	}
	return 2
}

func containsWord(list []string, w string) bool {
	for _, x := range list {
		if x == w {
			return true
		}
	}
	return false
}

// Relevance weights (documented; the score is capped at 100):
//
//	medical-device vendor                     40
//	clinical IT vendor                        30
//	first clinical device category            25
//	building/facility OT category             10
//	CISA ICS medical advisory (ICSMA id)      30
//	each healthcare word, up to 4              5
const (
	weightMedicalVendor  = 40
	weightHealthITVendor = 30
	weightClinicalCat    = 25
	weightBuildingOT     = 10
	weightICSMA          = 30
	weightHealthWord     = 5
	maxHealthWords       = 4
)

func (e *Enricher) relevance(a *advisory.Advisory, sig signals) {
	en := a.Enrichment
	score := 0
	var reasons []string
	add := func(w int, format string, args ...any) {
		score += w
		reasons = append(reasons, fmt.Sprintf("+%d ", w)+fmt.Sprintf(format, args...))
	}
	for _, v := range en.Vendors {
		switch v.Kind {
		case KindMedical:
			add(weightMedicalVendor, "medical-device vendor %s", v.Name)
		case KindHealthIT:
			add(weightHealthITVendor, "clinical IT vendor %s", v.Name)
		default:
			continue
		}
		break
	}
	for _, c := range en.Categories {
		if clinical[c.ID] {
			add(weightClinicalCat, "device category %s (%s)", c.ID, c.Reason)
			break
		}
		if c.ID == CatBuildingOT {
			add(weightBuildingOT, "hospital building OT (%s)", c.Reason)
			break
		}
	}
	if id := icsmaID(a); id != "" {
		add(weightICSMA, "CISA ICS medical advisory %s", id)
	}
	for i, w := range sig.healthcare {
		if i == maxHealthWords {
			break
		}
		add(weightHealthWord, "healthcare word %q", w)
	}
	en.Relevance = advisory.Relevance{Score: min(score, 100), Reasons: reasons}
	if reasons == nil {
		en.Relevance.Reasons = []string{"no medical vendor, device category or healthcare words"}
	}
	for _, c := range en.Categories {
		if why, ok := safetyCategories[c.ID]; ok {
			en.PatientSafety = true
			en.SafetyReasons = append(en.SafetyReasons, fmt.Sprintf("category %s: %s", c.ID, why))
		}
	}
	// Safety words count only for advisories that concern healthcare at
	// all, so "alarm" in a burglar-alarm advisory is not a patient risk.
	if score >= weightHealthITVendor {
		for _, w := range sig.safety {
			en.PatientSafety = true
			en.SafetyReasons = append(en.SafetyReasons, fmt.Sprintf("text mentions %q", w))
		}
	}
}

// icsmaID finds a CISA ICS medical advisory id, "ICSMA-24-151-01".
func icsmaID(a *advisory.Advisory) string {
	for _, s := range append([]string{a.ID, a.Title, a.URL}, a.References...) {
		for i := 0; i+15 <= len(s); i++ {
			if (s[i]|0x20) != 'i' || !strings.EqualFold(s[i:i+6], "icsma-") {
				continue
			}
			id := s[i+6 : i+15] // "24-151-01"
			if shape(id, "dd-ddd-dd") {
				return "ICSMA-" + id
			}
		}
	}
	return ""
}

func shape(s, pattern string) bool {
	for i := 0; i < len(pattern); i++ {
		if pattern[i] == 'd' && (s[i] < '0' || s[i] > '9') || pattern[i] == '-' && s[i] != '-' {
			return false
		}
	}
	return true
}
