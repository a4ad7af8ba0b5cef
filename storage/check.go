package storage

import (
	"fmt"
	"slices"
	"strings"
)

// The checks in this file are the record validation both stores share.
// Each store passes its own id rule (an IDCheck: bbolt bounds key parts,
// PostgreSQL also wants UTF-8) and adds its own limits afterwards. Every
// error wraps ErrInvalid.

// IDCheck is a store's rule for one id: what names it in the error.
type IDCheck func(what, v string) error

// pairSep is the separator PairID puts between the two user ids. A user id
// containing it would make two different pairs share one id ("a|b"+"c" and
// "a"+"b|c"), so such ids are refused.
const pairSep = "|"

// CampaignStatuses are the statuses a campaign may have.
var CampaignStatuses = []string{CampaignActive, CampaignPaused, CampaignEnded}

// GiftStages are the stages a gift may be in.
var GiftStages = []string{GiftGranted, GiftVerified, GiftRedeemed, GiftExpired, GiftCancelled}

// CheckID refuses what no store can hold as an id: the empty string, more
// than limit bytes, a NUL byte.
func CheckID(what, v string, limit int) error {
	switch {
	case v == "":
		return fmt.Errorf("%w: %s is empty", ErrInvalid, what)
	case len(v) > limit:
		return fmt.Errorf("%w: %s is %d bytes, limit %d", ErrInvalid, what, len(v), limit)
	case strings.IndexByte(v, 0) >= 0:
		return fmt.Errorf("%w: %s contains a NUL byte", ErrInvalid, what)
	}
	return nil
}

// CheckIDs applies id to name/value pairs and returns the first error.
func CheckIDs(id IDCheck, pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := id(pairs[i], pairs[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// CheckLimit refuses a non-positive page size.
func CheckLimit(op string, limit int) error {
	if limit <= 0 {
		return fmt.Errorf("%w: %s limit %d, must be positive", ErrInvalid, op, limit)
	}
	return nil
}

// checkUsers checks the two distinct users of a pair-shaped record (of kind
// what, with id name) and that pairID is their PairID.
func checkUsers(id IDCheck, what, name, a, b, pairID string) error {
	if err := CheckIDs(id, "user a", a, "user b", b); err != nil {
		return fmt.Errorf("storage: %s %q: %w", what, name, err)
	}
	for _, u := range []string{a, b} {
		if strings.Contains(u, pairSep) {
			return fmt.Errorf("%w: %s %q: user id %q contains %q, the pair id separator", ErrInvalid, what, name, u, pairSep)
		}
	}
	if a == b {
		return fmt.Errorf("%w: %s %q: user a and user b are both %q", ErrInvalid, what, name, a)
	}
	if want := PairID(a, b); pairID != want {
		return fmt.Errorf("%w: %s %q: pair id %q does not match its users, want %q", ErrInvalid, what, name, pairID, want)
	}
	return nil
}

// CheckPair refuses a pair the indexes could not hold: its users must be
// two different users whose PairID is its ID, every request and
// connection must be between them, and no request or connection id may
// appear twice, since the indexes map each id to one pair.
func CheckPair(p *Pair, id IDCheck) error {
	if p == nil {
		return fmt.Errorf("%w: pair is nil", ErrInvalid)
	}
	if err := checkUsers(id, "pair", p.ID, p.UserA, p.UserB, p.ID); err != nil {
		return err
	}
	between := func(x, y string) bool {
		return x == p.UserA && y == p.UserB || x == p.UserB && y == p.UserA
	}
	seen := make(map[string]struct{}, len(p.Requests))
	for i, r := range p.Requests {
		if err := id("request id", r.ID); err != nil {
			return fmt.Errorf("storage: pair %q: request %d: %w", p.ID, i, err)
		}
		if _, dup := seen[r.ID]; dup {
			return fmt.Errorf("%w: pair %q: request %q appears twice", ErrInvalid, p.ID, r.ID)
		}
		seen[r.ID] = struct{}{}
		if !between(r.FromUserID, r.ToUserID) {
			return fmt.Errorf("%w: pair %q: request %q is from %q to %q", ErrInvalid, p.ID, r.ID, r.FromUserID, r.ToUserID)
		}
	}
	clear(seen)
	for i, c := range p.Connections {
		if err := id("connection id", c.ID); err != nil {
			return fmt.Errorf("storage: pair %q: connection %d: %w", p.ID, i, err)
		}
		if _, dup := seen[c.ID]; dup {
			return fmt.Errorf("%w: pair %q: connection %q appears twice", ErrInvalid, p.ID, c.ID)
		}
		seen[c.ID] = struct{}{}
		if !between(c.SenderID, c.ReceiverID) {
			return fmt.Errorf("%w: pair %q: connection %q is from %q to %q", ErrInvalid, p.ID, c.ID, c.SenderID, c.ReceiverID)
		}
	}
	return nil
}

// CheckMessage refuses a new message the stores could not keep in order:
// it must be between two different users whose PairID is its PairID, with
// a seq from 1, content and a creation time, and not yet read (a stored
// read message could sit above unread ones and break the invariant
// MarkRead relies on).
func CheckMessage(m *Message, id IDCheck) error {
	if m == nil {
		return fmt.Errorf("%w: message is nil", ErrInvalid)
	}
	if err := CheckIDs(id, "message id", m.ID, "sender id", m.SenderID, "recipient id", m.RecipientID); err != nil {
		return fmt.Errorf("storage: message %q: %w", m.ID, err)
	}
	if m.ClientMessageID != "" {
		if err := id("client message id", m.ClientMessageID); err != nil {
			return fmt.Errorf("storage: message %q: %w", m.ID, err)
		}
	}
	for _, u := range []string{m.SenderID, m.RecipientID} {
		if strings.Contains(u, pairSep) {
			return fmt.Errorf("%w: message %q: user id %q contains %q, the pair id separator", ErrInvalid, m.ID, u, pairSep)
		}
	}
	switch {
	case m.SenderID == m.RecipientID:
		return fmt.Errorf("%w: message %q: sender and recipient are both %q", ErrInvalid, m.ID, m.SenderID)
	case m.PairID != PairID(m.SenderID, m.RecipientID):
		return fmt.Errorf("%w: message %q: pair id %q does not match sender and recipient, want %q",
			ErrInvalid, m.ID, m.PairID, PairID(m.SenderID, m.RecipientID))
	case m.Seq == 0:
		return fmt.Errorf("%w: message %q: seq is 0, sequences start at 1", ErrInvalid, m.ID)
	case m.Content == "":
		return fmt.Errorf("%w: message %q: content is empty", ErrInvalid, m.ID)
	case m.CreatedAt.IsZero():
		return fmt.Errorf("%w: message %q: createdAt is zero", ErrInvalid, m.ID)
	case m.ReadAt != nil:
		return fmt.Errorf("%w: message %q: readAt is set on a new message; use MarkRead", ErrInvalid, m.ID)
	}
	return nil
}

// CheckStatus refuses unknown campaign statuses: Grant treats anything but
// active as exhausted, so a typo would silently stop a campaign.
func CheckStatus(status string) error {
	if !slices.Contains(CampaignStatuses, status) {
		return fmt.Errorf("%w: campaign status %q, want one of %v", ErrInvalid, status, CampaignStatuses)
	}
	return nil
}

// CheckKeyHash insists on the shape of a hex SHA-256 so a raw sponsor key
// passed by mistake is refused rather than stored, and so the lowercase
// encoding BrandByKeyHash is called with is the one indexed.
func CheckKeyHash(h string) error {
	if len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
		return fmt.Errorf("%w: brand key hash is not 64 lowercase hex digits (hex SHA-256)", ErrInvalid)
	}
	return nil
}

// CheckBrand checks a brand's id, slug and key hash.
func CheckBrand(b *Brand, id IDCheck) error {
	if b == nil {
		return fmt.Errorf("%w: brand is nil", ErrInvalid)
	}
	if err := CheckIDs(id, "brand id", b.ID, "brand slug", b.Slug); err != nil {
		return fmt.Errorf("storage: brand %q: %w", b.ID, err)
	}
	if err := CheckKeyHash(b.KeyHash); err != nil {
		return fmt.Errorf("storage: brand %q: %w", b.ID, err)
	}
	return nil
}

// CheckCampaign checks a campaign's ids, status and stock.
func CheckCampaign(c *Campaign, id IDCheck) error {
	if c == nil {
		return fmt.Errorf("%w: campaign is nil", ErrInvalid)
	}
	if err := CheckIDs(id, "campaign id", c.ID, "brand id", c.BrandID); err != nil {
		return fmt.Errorf("storage: campaign %q: %w", c.ID, err)
	}
	if err := CheckStatus(c.Status); err != nil {
		return fmt.Errorf("storage: campaign %q: %w", c.ID, err)
	}
	if c.Stock != nil && *c.Stock < 0 {
		return fmt.Errorf("%w: campaign %q: stock %d is negative", ErrInvalid, c.ID, *c.Stock)
	}
	return nil
}

// CheckGift refuses a gift whose indexes would lie: gifts are found by
// UserA and UserB, so they must be the two users of PairID (which makes
// PairID a well-formed pair id too). The stage must be known, and a code,
// when set, must be a valid id.
func CheckGift(g *Gift, id IDCheck) error {
	if g == nil {
		return fmt.Errorf("%w: gift is nil", ErrInvalid)
	}
	if err := CheckIDs(id, "gift id", g.ID, "campaign id", g.CampaignID, "brand id", g.BrandID); err != nil {
		return fmt.Errorf("storage: gift %q: %w", g.ID, err)
	}
	if err := checkUsers(id, "gift", g.ID, g.UserA, g.UserB, g.PairID); err != nil {
		return err
	}
	if !slices.Contains(GiftStages, g.Stage) {
		return fmt.Errorf("%w: gift %q: stage %q, want one of %v", ErrInvalid, g.ID, g.Stage, GiftStages)
	}
	if g.Code != "" {
		if err := id("gift code", g.Code); err != nil {
			return fmt.Errorf("storage: gift %q: %w", g.ID, err)
		}
	}
	return nil
}

// CheckReport checks a report's own id and the ids of the two users it
// is about.
func CheckReport(r *Report, id IDCheck) error {
	if r == nil {
		return fmt.Errorf("%w: report is nil", ErrInvalid)
	}
	return CheckIDs(id, "report id", r.ID, "reporter id", r.ReporterID, "reported user id", r.ReportedUserID)
}

// CheckReportUpdate checks what UpdateReport needs: a report with an id.
func CheckReportUpdate(r *Report, id IDCheck) error {
	if r == nil {
		return fmt.Errorf("%w: report is nil", ErrInvalid)
	}
	return id("report id", r.ID)
}

// CheckUser checks a user's id and identity, and its username when set.
func CheckUser(u *User, id IDCheck) error {
	if u == nil {
		return fmt.Errorf("%w: user is nil", ErrInvalid)
	}
	if err := CheckIDs(id, "user id", u.ID, "provider", u.Provider, "subject", u.Subject); err != nil {
		return err
	}
	if u.Username != nil && *u.Username != "" {
		return id("username", *u.Username)
	}
	return nil
}

// CheckToken checks a refresh token's id, family and user.
func CheckToken(t *RefreshToken, id IDCheck) error {
	if t == nil {
		return fmt.Errorf("%w: refresh token is nil", ErrInvalid)
	}
	return CheckIDs(id, "token id", t.ID, "token family", t.Family, "user id", t.UserID)
}

// CheckRotation checks the arguments of Tokens.Rotate: the old token's id,
// the next token, and that the next token has an id of its own.
func CheckRotation(oldID string, next *RefreshToken, id IDCheck) error {
	if err := id("old token id", oldID); err != nil {
		return err
	}
	if err := CheckToken(next, id); err != nil {
		return err
	}
	if next.ID == oldID {
		return fmt.Errorf("%w: next token reuses id %q", ErrInvalid, oldID)
	}
	return nil
}

// SplitPairID splits a pair id made by PairID into its two user ids.
func SplitPairID(pairID string) (a, b string, err error) {
	a, b, ok := strings.Cut(pairID, pairSep)
	if !ok || a == "" || b == "" || strings.Contains(b, pairSep) || a >= b {
		return "", "", fmt.Errorf("%w: pair id %q is not storage.PairID of two users", ErrInvalid, pairID)
	}
	return a, b, nil
}

// CheckReader checks that readerID is a valid id and one of the two users
// of pairID (whose own id rule the store has checked).
func CheckReader(pairID, readerID string, id IDCheck) error {
	if err := id("reader id", readerID); err != nil {
		return err
	}
	a, b, err := SplitPairID(pairID)
	if err != nil {
		return err
	}
	if readerID != a && readerID != b {
		return fmt.Errorf("%w: reader %q is not in pair %q", ErrInvalid, readerID, pairID)
	}
	return nil
}
