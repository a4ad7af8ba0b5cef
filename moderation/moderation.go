package moderation

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/gisbi/engine/ids"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

// Service reads and moves the report queue and keeps the audit log.
type Service struct {
	Store storage.Store
	Now   func() time.Time
}

// Page sizes of the operator lists.
const (
	DefaultLimit = 50
	MaxLimit     = 200
	// worstScan bounds the reports read to rank accounts worst first.
	worstScan = 5000
	// SearchLimit is the most accounts a search answers.
	SearchLimit = 50
)

var errBadCursor = protocol.Errorf(protocol.CodeInvalidPayload, protocol.DomainSafety, "bad cursor")

// Reports answers a page of the queue. With worst, the reports of the
// status are ranked by how many unresolved reports their target has (then
// oldest first) and paged by position; otherwise they come oldest first,
// paged by report id.
func (s *Service) Reports(ctx context.Context, status, cursor string, limit int, worst bool) (*protocol.AdminReportList, error) {
	switch status {
	case "", storage.ReportOpen, storage.ReportReviewing, storage.ReportResolved:
	default:
		return nil, protocol.Errorf(protocol.CodeInvalidPayload, protocol.DomainSafety, "status must be open, reviewing or resolved")
	}
	m := s.Store.Moderation()
	if !worst {
		if cursor != "" && !protocol.ValidID(cursor) {
			return nil, errBadCursor
		}
		rs, err := m.Reports(ctx, status, cursor, limit+1)
		if err != nil {
			return nil, fmt.Errorf("moderation: reports: %w", err)
		}
		var next *string
		if len(rs) > limit {
			rs = rs[:limit]
			id := rs[limit-1].ID
			next = &id
		}
		return s.render(ctx, rs, next)
	}
	offset := 0
	if cursor != "" {
		n, err := strconv.Atoi(cursor)
		if err != nil || n < 0 {
			return nil, errBadCursor
		}
		offset = n
	}
	rs, err := m.Reports(ctx, status, "", worstScan)
	if err != nil {
		return nil, fmt.Errorf("moderation: reports: %w", err)
	}
	counts, err := m.OpenAgainst(ctx, targets(rs))
	if err != nil {
		return nil, fmt.Errorf("moderation: open reports: %w", err)
	}
	RankWorst(rs, counts)
	var next *string
	switch {
	case offset >= len(rs):
		rs = nil
	case offset+limit < len(rs):
		n := strconv.Itoa(offset + limit)
		next = &n
		rs = rs[offset : offset+limit]
	default:
		rs = rs[offset:]
	}
	return s.render(ctx, rs, next)
}

// RankWorst orders reports by their target's unresolved reports, most
// first, then by filing order.
func RankWorst(rs []storage.Report, openAgainst map[string]int) {
	sort.SliceStable(rs, func(i, j int) bool {
		ci, cj := openAgainst[rs[i].ReportedUserID], openAgainst[rs[j].ReportedUserID]
		if ci != cj {
			return ci > cj
		}
		return rs[i].ID < rs[j].ID
	})
}

func targets(rs []storage.Report) []string {
	out := make([]string, 0, len(rs))
	for i := range rs {
		out = append(out, rs[i].ReportedUserID)
	}
	return out
}

func (s *Service) render(ctx context.Context, rs []storage.Report, next *string) (*protocol.AdminReportList, error) {
	counts, err := s.Store.Moderation().OpenAgainst(ctx, targets(rs))
	if err != nil {
		return nil, fmt.Errorf("moderation: open reports: %w", err)
	}
	out := &protocol.AdminReportList{Reports: make([]protocol.AdminReport, 0, len(rs)), NextCursor: next}
	for i := range rs {
		out.Reports = append(out.Reports, View(&rs[i], counts[rs[i].ReportedUserID]))
	}
	return out, nil
}

// View renders a report for operators.
func View(r *storage.Report, openAgainst int) protocol.AdminReport {
	return protocol.AdminReport{
		ReportID: r.ID, ReporterID: r.ReporterID, ReportedUserID: r.ReportedUserID, Reason: r.Reason,
		Status: r.Status, CreatedAt: protocol.FormatTime(r.CreatedAt), Resolution: r.Resolution,
		ResolvedBy: r.ResolvedBy, ResolvedAt: protocol.FormatTimePtr(r.ResolvedAt), OpenReportsAgainstUser: openAgainst,
	}
}

// Move applies a patch to a report at now by operator: resolving records
// the resolution, who and when; leaving resolved clears them. It reports
// whether anything changed.
func Move(r *storage.Report, p *protocol.AdminReportPatch, operator string, now time.Time) bool {
	changed := r.Status != p.Status
	r.Status = p.Status
	if p.Resolution != nil && (r.Resolution == nil || *r.Resolution != *p.Resolution) {
		res := *p.Resolution
		r.Resolution, changed = &res, true
	}
	if p.Status == storage.ReportResolved {
		if r.ResolvedAt == nil {
			by, at := operator, now
			r.ResolvedBy, r.ResolvedAt, changed = &by, &at, true
		}
	} else if r.ResolvedAt != nil {
		r.ResolvedBy, r.ResolvedAt, changed = nil, nil, true
	}
	if changed {
		at := now
		r.UpdatedAt = &at
	}
	return changed
}

// UpdateReport moves one report and records it in the audit log.
func (s *Service) UpdateReport(ctx context.Context, id string, p *protocol.AdminReportPatch, operator string) (*protocol.AdminReport, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	m := s.Store.Moderation()
	r, err := m.GetReport(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, protocol.Errorf(protocol.CodeNotFound, protocol.DomainSafety, "report not found")
	}
	if err != nil {
		return nil, fmt.Errorf("moderation: read report: %w", err)
	}
	now := s.Now()
	if Move(r, p, operator, now) {
		if err := m.UpdateReport(ctx, r); err != nil {
			return nil, fmt.Errorf("moderation: store report: %w", err)
		}
		detail := "status " + r.Status
		if r.Resolution != nil {
			detail += ": " + *r.Resolution
		}
		if err := s.Audit(ctx, operator, "report.update", r.ID, detail); err != nil {
			return nil, err
		}
	}
	counts, err := m.OpenAgainst(ctx, []string{r.ReportedUserID})
	if err != nil {
		return nil, fmt.Errorf("moderation: open reports: %w", err)
	}
	v := View(r, counts[r.ReportedUserID])
	return &v, nil
}

// Terminated resolves the reports against an account an operator just
// terminated, and records the termination. It answers the account as
// operators see it and how many reports it resolved.
func (s *Service) Terminated(ctx context.Context, userID, reason, operator string) (*protocol.TerminateReply, error) {
	m := s.Store.Moderation()
	done, err := m.ResolveAgainst(ctx, userID, "account terminated: "+reason, operator, s.Now())
	if err != nil {
		return nil, fmt.Errorf("moderation: resolve reports: %w", err)
	}
	if err := s.Audit(ctx, operator, "user.terminate", userID, reason); err != nil {
		return nil, err
	}
	u, err := s.Store.Users().Get(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("moderation: read user: %w", err)
	}
	return &protocol.TerminateReply{User: Summary(u, 0), ResolvedReports: len(done)}, nil
}

// Search finds accounts by id, username or part of a name.
func (s *Service) Search(ctx context.Context, q string) (*protocol.AdminUserList, error) {
	us, err := s.Store.Moderation().SearchUsers(ctx, q, SearchLimit)
	if err != nil {
		return nil, fmt.Errorf("moderation: search: %w", err)
	}
	ids := make([]string, len(us))
	for i := range us {
		ids[i] = us[i].ID
	}
	counts, err := s.Store.Moderation().OpenAgainst(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("moderation: open reports: %w", err)
	}
	out := &protocol.AdminUserList{Users: make([]protocol.AdminUserSummary, 0, len(us))}
	for i := range us {
		out.Users = append(out.Users, Summary(&us[i], counts[us[i].ID]))
	}
	return out, nil
}

// Summary renders an account for operators.
func Summary(u *storage.User, openAgainst int) protocol.AdminUserSummary {
	return protocol.AdminUserSummary{
		ID: u.ID, Name: u.Name, Username: u.Username, Avatar: u.Avatar, CreatedAt: protocol.FormatTime(u.CreatedAt),
		DeletedAt: protocol.FormatTimePtr(u.DeletedAt), TerminatedAt: protocol.FormatTimePtr(u.TerminatedAt),
		OpenReportsAgainstUser: openAgainst,
	}
}

// Audit records one operator action.
func (s *Service) Audit(ctx context.Context, operator, action, target, detail string) error {
	e := &storage.AuditEntry{ID: ids.New("aud"), At: s.Now(), Operator: operator, Action: action, Target: target, Detail: detail}
	if err := s.Store.Moderation().AppendAudit(ctx, e); err != nil {
		return fmt.Errorf("moderation: audit %s: %w", action, err)
	}
	return nil
}

// AuditLog answers a page of the audit log, newest first.
func (s *Service) AuditLog(ctx context.Context, cursor string, limit int) (*protocol.AuditList, error) {
	if cursor != "" && !protocol.ValidID(cursor) {
		return nil, errBadCursor
	}
	es, err := s.Store.Moderation().Audit(ctx, cursor, limit+1)
	if err != nil {
		return nil, fmt.Errorf("moderation: audit log: %w", err)
	}
	out := &protocol.AuditList{Entries: make([]protocol.AuditEntry, 0, len(es))}
	if len(es) > limit {
		es = es[:limit]
		id := es[limit-1].ID
		out.NextCursor = &id
	}
	for _, e := range es {
		out.Entries = append(out.Entries, protocol.AuditEntry{ID: e.ID, At: protocol.FormatTime(e.At), Operator: e.Operator, Action: e.Action, Target: e.Target, Detail: e.Detail})
	}
	return out, nil
}
