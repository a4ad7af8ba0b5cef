package httpapi

import (
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/time/rate"

	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/protocol"
)

// The moderation half of the operator API: the report queue, user search,
// termination and the audit log. The rules live in package moderation and
// the User grain; these handlers decode, call and encode.

const (
	operatorHeader  = "X-Operator"
	defaultOperator = "operator"
	maxOperatorLen  = 64
)

// operator names who acts, for the audit log: the X-Operator header the
// console sends, or "operator".
func operator(c *fiber.Ctx) string {
	name := strings.TrimSpace(c.Get(operatorHeader))
	if name == "" || len(name) > maxOperatorLen || !utf8.ValidString(name) || strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return defaultOperator
	}
	return name
}

func (a *API) adminReports(c *fiber.Ctx) error {
	limit, err := intQuery(c, "limit", 50, 1, 200)
	if err != nil {
		return err
	}
	sortBy := c.Query("sort")
	if sortBy != "" && sortBy != "worst" && sortBy != "oldest" {
		return protocol.Errorf(protocol.CodeInvalidPayload, protocol.DomainSafety, "sort must be oldest or worst")
	}
	list, err := a.d.Moderation.Reports(c.UserContext(), c.Query("status"), c.Query("cursor"), limit, sortBy == "worst")
	if err != nil {
		return err
	}
	return c.JSON(list)
}

func (a *API) patchReport(c *fiber.Ctx) error {
	id := c.Params("reportId")
	if !protocol.ValidID(id) {
		return protocol.Errorf(protocol.CodeNotFound, protocol.DomainSafety, "report not found")
	}
	var p protocol.AdminReportPatch
	if err := protocol.DecodeStrictIn(c.Body(), protocol.DomainSafety, &p); err != nil {
		return err
	}
	r, err := a.d.Moderation.UpdateReport(c.UserContext(), id, &p, operator(c))
	if err != nil {
		return err
	}
	return c.JSON(r)
}

func (a *API) searchUsers(c *fiber.Ctx) error {
	q := strings.TrimSpace(c.Query("q"))
	if q == "" || len(q) > 200 {
		return protocol.Errorf(protocol.CodeInvalidPayload, protocol.DomainUsers, "q must be 1 to 200 characters")
	}
	list, err := a.d.Moderation.Search(c.UserContext(), q)
	if err != nil {
		return err
	}
	return c.JSON(list)
}

// terminateUser has the User grain terminate the account (it tells and
// closes its sockets, refuses its tokens and ends its pairs), then
// resolves the reports against it and records who did it.
func (a *API) terminateUser(c *fiber.Ctx) error {
	id := c.Params("userId")
	if !protocol.ValidID(id) {
		return protocol.Errorf(protocol.CodeUserNotFound, protocol.DomainUsers, "user not found")
	}
	var p protocol.TerminateRequest
	if err := protocol.DecodeStrictIn(c.Body(), protocol.DomainSafety, &p); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	who := operator(c)
	rep, err := cluster.Call[*grainpb.Ack](c.UserContext(), a.d.Node, cluster.KindUser, id, &grainpb.TerminateAccount{Reason: p.Reason, Operator: who})
	if err != nil {
		return err
	}
	if err := rep.Failure.Err(); err != nil {
		return err
	}
	out, err := a.d.Moderation.Terminated(c.UserContext(), id, p.Reason, who)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (a *API) auditLog(c *fiber.Ctx) error {
	limit, err := intQuery(c, "limit", 50, 1, 200)
	if err != nil {
		return err
	}
	list, err := a.d.Moderation.AuditLog(c.UserContext(), c.Query("cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(list)
}

// audited records an operator action after its handler succeeded; the
// action is done by then, so a failed record is logged, not answered.
func (a *API) audited(c *fiber.Ctx, action, target, detail string) {
	if err := a.d.Moderation.Audit(c.UserContext(), operator(c), action, target, detail); err != nil {
		a.d.Logger.Error("admin: audit", "action", action, "target", target, "err", err)
	}
}

// adminFailures locks out an address that keeps presenting wrong operator
// tokens: a few tries, then one more every adminRetryEvery. Guessing a
// long random token is hopeless anyway; this keeps the log and the CPU
// quiet and makes a scan visible.
type adminFailures struct {
	mu sync.Mutex
	by map[string]*rate.Limiter
}

const (
	adminFailureBurst = 10
	adminRetryEvery   = 10 * time.Second
	// adminFailureKeys bounds the table: past it, it starts over.
	adminFailureKeys = 10000
)

func newAdminFailures() *adminFailures { return &adminFailures{by: map[string]*rate.Limiter{}} }

func (f *adminFailures) limiter(ip string) *rate.Limiter {
	l := f.by[ip]
	if l == nil {
		if len(f.by) >= adminFailureKeys {
			f.by = map[string]*rate.Limiter{}
		}
		l = rate.NewLimiter(rate.Every(adminRetryEvery), adminFailureBurst)
		f.by[ip] = l
	}
	return l
}

// lockedOut reports whether ip has used up its failures.
func (f *adminFailures) lockedOut(ip string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.limiter(ip).Tokens() < 1
}

// failed counts one wrong token from ip.
func (f *adminFailures) failed(ip string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.limiter(ip).Allow()
}
