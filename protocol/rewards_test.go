package protocol

import (
	"strings"
	"testing"
)

func TestBrandCreateValidate(t *testing.T) {
	cases := []struct {
		body, slug, err string
	}{
		{`{"name":"Skyline Lounge"}`, "skyline-lounge", ""},
		{`{"name":"  Café  Ñoño & Co. "}`, "caf-o-o-co", ""},
		{`{"name":"Skyline","slug":"sky-1"}`, "sky-1", ""},
		{`{"name":""}`, "", "name is required"},
		{`{"name":"!!!"}`, "", "slug is required"},
		{`{"name":"x","slug":"Bad Slug"}`, "", "slug must be"},
		{`{"name":"x","logo":"ftp://x"}`, "", "logo must be"},
		{`{"name":"x","logo":"/media/brands/x.png"}`, "x", ""},
		{`{"name":"x","nmae":"typo"}`, "", "nmae is not a known field"},
		{`{"name":5}`, "", "name must be a string"},
		{`[1]`, "", "body must be a JSON object"},
		{`{"name":"x"} {}`, "", "data after"},
		{`{"name":"` + strings.Repeat("x", 81) + `"}`, "", "name is longer"},
	}
	for _, c := range cases {
		t.Run(c.body, func(t *testing.T) {
			var p BrandCreate
			err := DecodeStrict([]byte(c.body), &p)
			if err == nil {
				err = p.Validate()
			}
			if c.err == "" {
				if err != nil || *p.Slug != c.slug {
					t.Fatalf("got %v, slug %v; want slug %q", err, p.Slug, c.slug)
				}
				return
			}
			if err == nil || !strings.Contains(err.Message, c.err) {
				t.Fatalf("got %v, want an error containing %q", err, c.err)
			}
		})
	}
}

func TestCampaignCreateValidate(t *testing.T) {
	milestones := []int{5, 15, 30}
	base := func() string {
		return `"brandId":"brand_1","title":"T","description":"D","terms":"","triggerType":"connectionAccepted",` +
			`"minTotalTogetherMinutes":0,"minDistinctQualifyingDays":0,"requireActiveProximityForClaim":false,"rewardTtl":"72h","codeTtl":"30m"`
	}
	cases := []struct {
		name, body, err string
	}{
		{"valid", base(), ""},
		{"milestone campaign", strings.Replace(base(), `"connectionAccepted"`, `"proximityMilestone","milestoneMinutes":15`, 1), ""},
		{"milestone not configured", strings.Replace(base(), `"connectionAccepted"`, `"proximityMilestone","milestoneMinutes":16`, 1), "milestoneMinutes must be one of"},
		{"milestone missing", strings.Replace(base(), `"connectionAccepted"`, `"proximityMilestone"`, 1), "milestoneMinutes is required"},
		{"milestone on accept", base() + `,"milestoneMinutes":5`, "milestoneMinutes applies only"},
		{"bad trigger", strings.Replace(base(), `"connectionAccepted"`, `"sunrise"`, 1), "triggerType must be"},
		{"no brand", strings.Replace(base(), `"brandId":"brand_1",`, ``, 1), "brandId is required"},
		{"no title", strings.Replace(base(), `"title":"T"`, `"title":"  "`, 1), "title is required"},
		{"no terms", strings.Replace(base(), `"terms":"",`, ``, 1), "terms is required"},
		{"negative minutes", strings.Replace(base(), `"minTotalTogetherMinutes":0`, `"minTotalTogetherMinutes":-1`, 1), "minTotalTogetherMinutes must be between"},
		{"minutes missing", strings.Replace(base(), `"minTotalTogetherMinutes":0,`, ``, 1), "minTotalTogetherMinutes is required"},
		{"daily zero", base() + `,"minDailyTogetherMinutes":0`, "minDailyTogetherMinutes must be between"},
		{"active flag missing", strings.Replace(base(), `"requireActiveProximityForClaim":false,`, ``, 1), "requireActiveProximityForClaim is required"},
		{"stock zero", base() + `,"stock":0`, "stock must be between"},
		{"ttl junk", strings.Replace(base(), `"72h"`, `"3 days"`, 1), "rewardTtl must be a Go duration"},
		{"code ttl too short", strings.Replace(base(), `"30m"`, `"30s"`, 1), "codeTtl must be between"},
		{"window backwards", base() + `,"startsAt":"2026-05-01T00:00:00Z","endsAt":"2026-04-01T00:00:00Z"`, "endsAt must be after startsAt"},
		{"bad time", base() + `,"startsAt":"tomorrow"`, "RFC 3339"},
		{"image", base() + `,"rewardImageUrl":"javascript:alert(1)"}`, "rewardImageUrl must be"},
		{"unknown field", base() + `,"stok":5`, "stok is not a known field"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p CampaignCreate
			err := DecodeStrict([]byte("{"+c.body+"}"), &p)
			if err == nil {
				err = p.Validate(milestones)
			}
			if c.err == "" {
				if err != nil {
					t.Fatalf("got %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Message, c.err) || (err.Code != CodeInvalidPayload && err.Code != CodeInvalidJSON) {
				t.Fatalf("got %v, want invalid_payload containing %q", err, c.err)
			}
		})
	}
}

func TestGiftHistoryRequestValidate(t *testing.T) {
	for _, c := range []struct {
		limit *int
		ok    bool
	}{{nil, true}, {ptr(1), true}, {ptr(100), true}, {ptr(0), false}, {ptr(101), false}} {
		p := GiftHistoryRequest{Limit: c.limit}
		if err := p.Validate(); (err == nil) != c.ok || (c.ok && *p.Limit < 1) {
			t.Errorf("limit %v: %v", c.limit, err)
		}
	}
}

func ptr[T any](v T) *T { return &v }
