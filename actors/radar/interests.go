package radar

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// interestMinLetters is the shortest word that counts as an interest when a
// vibe has no tags: shorter words are mostly "the", "and", "for", "fun".
const interestMinLetters = 4

// Interests extracts the comparable interests of a vibe: its #tags,
// lower-cased and without the '#'; or, if the vibe has no tags, its words of
// 4+ letters, lower-cased. Either way deduplicated and sorted (nil when
// there are none), so two results intersect with a merge.
//
// A tag is '#' followed by letters, digits, marks or '_', at least one of
// them a letter ("#Jazz", "#café_2"; "#1" is a rank, not a tag), and the '#'
// must not follow such a character, so "c#" and "a#b" are not tags. A word is a run of letters and combining marks
// (marks keep scripts such as Devanagari in one word; only letters count
// towards the four); anything else separates words, so "rock'n'roll" gives
// "rock" and "roll".
func Interests(vibe string) []string {
	if out := interestTags(vibe); out != nil {
		return interestNormalize(out)
	}
	return interestNormalize(interestWords(vibe))
}

func interestTagRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}

func interestTags(s string) []string {
	var out []string
	prevTag := false // previous rune could be part of a tag
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r != '#' || prevTag {
			prevTag = interestTagRune(r)
			i += n
			continue
		}
		j, letter := i+n, false
		for j < len(s) {
			r2, n2 := utf8.DecodeRuneInString(s[j:])
			if !interestTagRune(r2) {
				break
			}
			letter = letter || unicode.IsLetter(r2)
			j += n2
		}
		if letter {
			out = append(out, s[i+n:j])
		}
		prevTag = j > i+n
		i = j
	}
	return out
}

func interestWords(s string) []string {
	var out []string
	start, letters := -1, 0
	flush := func(end int) {
		if start >= 0 && letters >= interestMinLetters {
			out = append(out, s[start:end])
		}
		start, letters = -1, 0
	}
	for i, r := range s {
		switch {
		case unicode.IsLetter(r):
			if start < 0 {
				start = i
			}
			letters++
		case unicode.IsMark(r) && start >= 0:
			// a combining mark continues the word it follows
		default:
			flush(i)
		}
	}
	flush(len(s))
	return out
}

// interestNormalize lower-cases, sorts and deduplicates in place.
func interestNormalize(xs []string) []string {
	if len(xs) == 0 {
		return nil
	}
	for i, x := range xs {
		xs[i] = strings.ToLower(x)
	}
	slices.Sort(xs)
	return slices.Clip(slices.Compact(xs))
}

// SharedInterests returns the sorted intersection of two Interests results.
// It is never nil, so it encodes as [] rather than null.
func SharedInterests(a, b []string) []string {
	return appendShared([]string{}, a, b)
}

// appendShared appends the sorted intersection of a and b to out; the radar
// encoder reuses one out for every hit of an answer.
func appendShared(out, a, b []string) []string {
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch c := strings.Compare(a[i], b[j]); {
		case c < 0:
			i++
		case c > 0:
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}
