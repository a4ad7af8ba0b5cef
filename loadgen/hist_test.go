package loadgen

import (
	"math"
	"testing"
	"time"
)

func TestHistogramBucketsCoverAndOrder(t *testing.T) {
	prev := -1
	for v := int64(0); v < 1<<20; v += 1 + v/97 {
		i := bucketOf(v)
		if i < prev {
			t.Fatalf("bucketOf(%d) = %d, below the previous %d", v, i, prev)
		}
		prev = i
		if mid := bucketMid(i); math.Abs(mid-float64(v)) > float64(v)/64+0.5 {
			t.Fatalf("value %d lands in bucket %d whose middle %.1f is off by more than 1/64", v, i, mid)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	tests := []struct {
		name   string
		values []time.Duration
		q      float64
		want   time.Duration
	}{
		{"single", []time.Duration{7 * time.Millisecond}, 0.99, 7 * time.Millisecond},
		{"exact small", []time.Duration{1 * time.Microsecond, 2 * time.Microsecond, 3 * time.Microsecond, 4 * time.Microsecond}, 0.5, 2 * time.Microsecond},
		{"max is clamped", []time.Duration{10 * time.Millisecond, 20 * time.Millisecond}, 1, 20 * time.Millisecond},
		{"negative is zero", []time.Duration{-time.Second}, 0.5, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Histogram
			for _, v := range tt.values {
				h.Record(v)
			}
			got := h.Quantile(tt.q)
			if d := math.Abs(float64(got - tt.want)); d > float64(tt.want)/64 {
				t.Fatalf("Quantile(%v) = %v, want %v", tt.q, got, tt.want)
			}
		})
	}
}

func TestHistogramPercentilesOfUniform(t *testing.T) {
	var h Histogram
	for i := 1; i <= 10000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want float64
	}{{0.5, 5000}, {0.95, 9500}, {0.99, 9900}} {
		got := float64(h.Quantile(c.q).Microseconds())
		if math.Abs(got-c.want)/c.want > 0.02 {
			t.Errorf("p%v = %v µs, want %v ± 2%%", c.q*100, got, c.want)
		}
	}
	if h.Max() != 10*time.Millisecond || h.Count() != 10000 {
		t.Errorf("max %v count %d", h.Max(), h.Count())
	}
	if m := h.Mean(); m < 5000*time.Microsecond || m > 5001*time.Microsecond {
		t.Errorf("mean %v, want 5000.5 µs", m)
	}
}

func TestHistogramMerge(t *testing.T) {
	var a, b Histogram
	a.Record(time.Millisecond)
	b.Record(time.Second)
	b.Record(2 * time.Second)
	a.Merge(&b)
	if a.Count() != 3 || a.Max() != 2*time.Second || a.Quantile(0.01) != time.Millisecond {
		t.Fatalf("merged: count %d max %v min-ish %v", a.Count(), a.Max(), a.Quantile(0.01))
	}
	var empty Histogram
	if empty.Quantile(0.5) != 0 || empty.Mean() != 0 {
		t.Fatal("an empty histogram answers 0")
	}
}

func TestNewDist(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want Dist
	}{
		{"empty", nil, Dist{}},
		{"one", []float64{3}, Dist{Count: 1, Mean: 3, P50: 3, P95: 3, Max: 3}},
		{"ten unsorted", []float64{10, 1, 9, 2, 8, 3, 7, 4, 6, 5}, Dist{Count: 10, Mean: 5.5, P50: 5, P95: 10, Max: 10}},
		{"twenty", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, Dist{Count: 20, Mean: 10.5, P50: 10, P95: 19, Max: 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]float64(nil), tt.in...)
			if got := NewDist(tt.in); got != tt.want {
				t.Fatalf("NewDist = %+v, want %+v", got, tt.want)
			}
			for i := range in {
				if in[i] != tt.in[i] {
					t.Fatal("NewDist modified its input")
				}
			}
		})
	}
}
