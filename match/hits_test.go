package match

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// byTenant orders hits by tenant, then asset position, whichever way it
// sorts (small positions: two counting sorts; large: counting and
// comparison sorts).
func TestByTenantOrdersByTenantThenAsset(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	for _, maxOrder := range []int32{50, 1 << 20} {
		h := newHits(nil, 0)
		for i := range 3000 {
			h.list = append(h.list, hit{ti: int32(rng.IntN(40)), order: rng.Int32N(maxOrder), k: int32(i)})
		}
		want := slices.Clone(h.list)
		slices.SortStableFunc(want, func(a, b hit) int {
			if a.ti != b.ti {
				return int(a.ti - b.ti)
			}
			return int(a.order - b.order)
		})
		got := h.byTenant(40)
		for i := range want {
			if got[i].ti != want[i].ti || got[i].order != want[i].order {
				t.Fatalf("positions up to %d: hit %d is (tenant %d, asset %d), want (%d, %d)", maxOrder, i, got[i].ti, got[i].order, want[i].ti, want[i].order)
			}
		}
		if maxOrder == 50 && !slices.Equal(got, want) { // two stable passes keep the input order of equal keys
			t.Fatal("the counting sorts are not stable")
		}
		h.release()
	}
}
