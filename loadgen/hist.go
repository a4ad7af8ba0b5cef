package loadgen

import (
	"math"
	"math/bits"
	"slices"
	"time"
)

// Histogram records durations in microseconds with about 1.6% relative
// precision in fixed memory (a few KB), so a long run at thousands of
// frames per second never keeps its samples: values below 64 µs are exact,
// larger ones fall into 64 linear sub-buckets per power of two. It is not
// safe for concurrent use; Stats guards it.
type Histogram struct {
	counts   []uint64
	n        uint64
	sum      float64
	min, max int64
}

const subBuckets = 64

func bucketOf(v int64) int {
	if v < subBuckets {
		return int(v)
	}
	e := bits.Len64(uint64(v)) - 7 // v>>e is in [64, 128)
	return subBuckets + e*subBuckets + int(v>>e) - subBuckets
}

// bucketMid is the middle of bucket i, in microseconds.
func bucketMid(i int) float64 {
	if i < subBuckets {
		return float64(i)
	}
	e := (i - subBuckets) / subBuckets
	sub := (i-subBuckets)%subBuckets + subBuckets
	lo := float64(int64(sub) << e)
	return lo + float64((int64(1)<<e)-1)/2 // values are whole microseconds
}

// Record adds one duration; negative ones count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := max(d.Microseconds(), 0)
	i := bucketOf(v)
	if i >= len(h.counts) {
		h.counts = append(h.counts, make([]uint64, i+1-len(h.counts))...)
	}
	h.counts[i]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += float64(v)
}

// Count is the number of recorded values.
func (h *Histogram) Count() uint64 { return h.n }

// Quantile returns the q-quantile (0 < q ≤ 1) by nearest rank, within the
// bucket precision and clamped to the exact min and max.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	switch rank {
	case 1:
		return time.Duration(h.min) * time.Microsecond
	case h.n:
		return time.Duration(h.max) * time.Microsecond
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			v := min(max(bucketMid(i), float64(h.min)), float64(h.max))
			return time.Duration(v * float64(time.Microsecond))
		}
	}
	return time.Duration(h.max) * time.Microsecond
}

// Max is the largest value recorded, exactly.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) * time.Microsecond }

// Mean is the exact mean.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n) * float64(time.Microsecond))
}

// Merge adds o's values into h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	if len(o.counts) > len(h.counts) {
		h.counts = append(h.counts, make([]uint64, len(o.counts)-len(h.counts))...)
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// Dist summarises a small set of exact values (one per pair, say).
type Dist struct {
	Count int     `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P95   float64 `json:"p95"`
	Max   float64 `json:"max"`
}

// NewDist computes the distribution of vs by nearest rank; vs is not modified.
func NewDist(vs []float64) Dist {
	if len(vs) == 0 {
		return Dist{}
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	var sum float64
	for _, v := range s {
		sum += v
	}
	return Dist{Count: len(s), Mean: sum / float64(len(s)), P50: nearestRank(s, 0.50), P95: nearestRank(s, 0.95), Max: s[len(s)-1]}
}

// nearestRank is the q-quantile of sorted s: the smallest value with at
// least q of the values at or below it.
func nearestRank(s []float64, q float64) float64 {
	r := int(math.Ceil(q * float64(len(s))))
	return s[min(max(r, 1), len(s))-1]
}
