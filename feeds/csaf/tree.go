package csaf

import (
	"strings"

	gocsaf "github.com/gocsaf/csaf/v3/csaf"

	"github.com/vigilhealth/vigil/advisory"
)

// tree is a flattened CSAF product tree: every product id with its vendor,
// name and version expression, in document order.
type tree struct {
	products map[string]advisory.Product
	order    []string
	groups   map[string][]string
}

func walkTree(pt *productTree) *tree {
	t := &tree{products: map[string]advisory.Product{}, groups: map[string][]string{}}
	if pt == nil {
		return t
	}
	for _, b := range pt.Branches {
		t.branch(b, advisory.Product{})
	}
	if pt.FullProductNames != nil {
		for _, fpn := range *pt.FullProductNames {
			t.add(fpn, advisory.Product{Name: str(fpn.Name)})
		}
	}
	if pt.Relationships != nil {
		for _, r := range *pt.Relationships {
			t.relationship(r)
		}
	}
	for _, g := range pt.ProductGroups {
		if g != nil && g.GroupID != nil && g.ProductIDs != nil {
			t.groups[*g.GroupID] = ids(*g.ProductIDs)
		}
	}
	return t
}

// branch descends vendor -> product_family -> product_name -> version,
// carrying what each level says.
func (t *tree) branch(b *gocsaf.Branch, ctx advisory.Product) {
	if b == nil {
		return
	}
	name := str(b.Name)
	cat := ""
	if b.Category != nil {
		cat = string(*b.Category)
	}
	switch cat {
	case "vendor":
		ctx.Vendor = name
	case "product_family":
		ctx.Name = joinName(ctx.Name, name)
	case "product_name":
		ctx.Name = joinName(ctx.Name, name)
	case "product_version":
		ctx.Versions = []string{versionExpr(name, false)}
	case "product_version_range":
		ctx.Versions = []string{versionExpr(name, true)}
	case "service_pack", "patch_level", "specification", "host_name", "language", "legacy", "architecture", "instance", "platform":
		// Qualifiers: kept in the name so matching stays conservative.
		ctx.Name = joinName(ctx.Name, name)
	}
	if b.Product != nil {
		t.add(b.Product, ctx)
	}
	for _, c := range b.Branches {
		t.branch(c, ctx)
	}
}

func (t *tree) add(fpn *gocsaf.FullProductName, p advisory.Product) {
	if fpn == nil || fpn.ProductID == nil {
		return
	}
	id := string(*fpn.ProductID)
	p.ID = id
	if p.Name == "" {
		p.Name = str(fpn.Name)
	}
	if h := fpn.ProductIdentificationHelper; h != nil {
		if h.CPE != nil {
			p.CPE = string(*h.CPE)
		}
		if h.PURL != nil {
			p.PURL = string(*h.PURL)
		}
		for _, m := range h.ModelNumbers {
			if m != nil {
				p.Models = append(p.Models, *m)
			}
		}
	}
	if _, seen := t.products[id]; !seen {
		t.order = append(t.order, id)
	}
	t.products[id] = p
}

// relationship makes a product of a component installed on, or part of,
// another: it takes the component's vendor, name and versions and names the
// platform it relates to.
func (t *tree) relationship(r *gocsaf.Relationship) {
	if r == nil || r.FullProductName == nil || r.ProductReference == nil {
		return
	}
	p := t.products[string(*r.ProductReference)]
	p.Versions = append([]string(nil), p.Versions...)
	if r.RelatesToProductReference != nil {
		if host, ok := t.products[string(*r.RelatesToProductReference)]; ok && host.Name != "" {
			cat := "relates to"
			if r.Category != nil {
				cat = strings.ReplaceAll(string(*r.Category), "_", " ")
			}
			p.Name = joinName(p.Name, "("+cat+" "+host.Name+")")
		}
	}
	if p.Name == "" {
		p.Name = str(r.FullProductName.Name)
	}
	t.add(r.FullProductName, p)
}

func joinName(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "" || strings.HasPrefix(strings.ToLower(b), strings.ToLower(a)):
		// "CARESCAPE" family then "CARESCAPE B450" product: keep the longer.
		if b == "" {
			return a
		}
		return b
	}
	return a + " " + b
}

// versionExpr turns a CSAF version or range into a range expression (see
// advisory.Product): "1.2" -> "=1.2"; "<=1.9.4.1", "vers:..." and "*" kept;
// "all versions" -> "*"; other text kept as the vendor wrote it.
func versionExpr(v string, isRange bool) string {
	v = strings.TrimSpace(v)
	lv := strings.ToLower(v)
	switch {
	case lv == "vers:all/*" || lv == "all versions" || lv == "all" || lv == "*":
		return "*"
	case strings.HasPrefix(lv, "vers:"):
		return v
	case strings.HasPrefix(v, "<") || strings.HasPrefix(v, ">") || strings.HasPrefix(v, "="):
		return v
	case !isRange:
		return "=" + v
	}
	return v
}
