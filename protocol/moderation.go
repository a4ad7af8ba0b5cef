package protocol

import "strings"

// AdminReport is a safety report as operators see it: the report, who
// filed it, how it was resolved, and how many unresolved reports its
// target has (the worst accounts surface first).
type AdminReport struct {
	ReportID               string  `json:"reportId"`
	ReporterID             string  `json:"reporterId"`
	ReportedUserID         string  `json:"reportedUserId"`
	Reason                 string  `json:"reason"`
	Status                 string  `json:"status"`
	CreatedAt              string  `json:"createdAt"`
	Resolution             *string `json:"resolution"`
	ResolvedBy             *string `json:"resolvedBy"`
	ResolvedAt             *string `json:"resolvedAt"`
	OpenReportsAgainstUser int     `json:"openReportsAgainstUser"`
}

// AdminReportList is a page of the report queue.
type AdminReportList struct {
	Reports    []AdminReport `json:"reports"`
	NextCursor *string       `json:"nextCursor"`
}

// AdminReportPatch moves a report through the workflow.
type AdminReportPatch struct {
	Status     string  `json:"status"`
	Resolution *string `json:"resolution"`
}

// MaxResolutionChars bounds a resolution or termination reason.
const MaxResolutionChars = 1000

// Validate checks the patch: a known status and a bounded resolution.
func (p *AdminReportPatch) Validate() *Error {
	switch p.Status {
	case "open", "reviewing", "resolved":
	default:
		return Errorf(CodeInvalidPayload, DomainSafety, "status must be open, reviewing or resolved")
	}
	if p.Resolution != nil && len([]rune(*p.Resolution)) > MaxResolutionChars {
		return Errorf(CodeInvalidPayload, DomainSafety, "resolution longer than %d characters", MaxResolutionChars)
	}
	return nil
}

// AdminUserSummary is one account in an operator's search.
type AdminUserSummary struct {
	ID                     string  `json:"id"`
	Name                   string  `json:"name"`
	Username               *string `json:"username"`
	Avatar                 *string `json:"avatar"`
	CreatedAt              string  `json:"createdAt"`
	DeletedAt              *string `json:"deletedAt"`
	TerminatedAt           *string `json:"terminatedAt"`
	OpenReportsAgainstUser int     `json:"openReportsAgainstUser"`
}

// AdminUserList answers a user search.
type AdminUserList struct {
	Users []AdminUserSummary `json:"users"`
}

// TerminateRequest is the body of an account termination.
type TerminateRequest struct {
	Reason string `json:"reason"`
}

// Validate requires a reason, for the audit log and the record.
func (p *TerminateRequest) Validate() *Error {
	p.Reason = strings.TrimSpace(p.Reason)
	switch {
	case p.Reason == "":
		return Errorf(CodeInvalidPayload, DomainSafety, "reason is required")
	case len([]rune(p.Reason)) > MaxResolutionChars:
		return Errorf(CodeInvalidPayload, DomainSafety, "reason longer than %d characters", MaxResolutionChars)
	}
	return nil
}

// TerminateReply answers a termination.
type TerminateReply struct {
	User            AdminUserSummary `json:"user"`
	ResolvedReports int              `json:"resolvedReports"`
}

// AuditEntry is one operator action.
type AuditEntry struct {
	ID       string `json:"id"`
	At       string `json:"at"`
	Operator string `json:"operator"`
	Action   string `json:"action"`
	Target   string `json:"target"`
	Detail   string `json:"detail"`
}

// AuditList is a page of the audit log, newest first.
type AuditList struct {
	Entries    []AuditEntry `json:"entries"`
	NextCursor *string      `json:"nextCursor"`
}
