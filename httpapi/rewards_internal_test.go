package httpapi

import "testing"

// TestGuessesReserveBeforeTheLookup: lookups in flight at once share the
// allowance; a lookup that found its code spends nothing.
func TestGuessesReserveBeforeTheLookup(t *testing.T) {
	g := newGuesses(3)
	started := 0
	for range 10 { // ten lookups begin before any of them ends
		if g.begin("brand_a") {
			started++
		}
	}
	if started != 3 {
		t.Fatalf("%d lookups started on an allowance of 3", started)
	}
	for range started {
		g.end("brand_a", true)
	}
	if g.begin("brand_a") {
		t.Fatal("a lookup started after the allowance was spent")
	}
	if !g.begin("brand_b") {
		t.Fatal("one brand's misses limited another")
	}

	h := newGuesses(1)
	for i := range 3 {
		if !h.begin("brand_c") {
			t.Fatalf("hit %d refused: hits must not spend the allowance", i)
		}
		h.end("brand_c", false)
	}
	h.begin("brand_c")
	h.end("brand_c", true)
	if h.begin("brand_c") {
		t.Fatal("a lookup started after the only miss was spent")
	}
}
