package httpapi

import (
	"context"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/gisbi/engine/actors/user"
	"github.com/gisbi/engine/auth"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/ids"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

// maxIDTokenBytes bounds what we hand to a JWT parser.
const maxIDTokenBytes = 8192

func (a *API) socialLogin(c *fiber.Ctx) error {
	var req protocol.SocialLoginRequest
	if err := decodeBody(c, protocol.DomainAuth, &req); err != nil {
		return err
	}
	if req.IDToken == "" {
		return protocol.Errorf(protocol.CodeInvalidPayload, protocol.DomainAuth, "idToken is required")
	}
	if len(req.IDToken) > maxIDTokenBytes {
		return protocol.Errorf(protocol.CodeInvalidPayload, protocol.DomainAuth, "idToken is too long")
	}
	if req.DeviceToken != "" {
		if err := validateDevice(req.DeviceToken, req.DevicePlatform); err != nil {
			return err
		}
	}
	id, err := a.verifyIdentity(c.UserContext(), req.Provider, req.IDToken)
	if err != nil {
		return err
	}
	u, err := a.findOrCreateUser(c.UserContext(), id)
	if err != nil {
		return err
	}
	pair, err := a.issuePair(c.UserContext(), u.ID)
	if err != nil {
		return err
	}
	if req.DeviceToken != "" {
		if err := a.d.Store.Devices().Register(c.UserContext(), &storage.Device{
			Token: req.DeviceToken, Platform: req.DevicePlatform, UserID: u.ID, IsActive: true, UpdatedAt: a.d.Clock.Now(),
		}); err != nil {
			return err
		}
	}
	res := protocol.LoginResponse{TokenPair: pair, User: user.Wire(u, a.d.Clock.Now())}
	if a.d.Firebase != nil {
		ft, err := a.d.Firebase.Mint(u.ID)
		if err != nil {
			return err
		}
		res.FirebaseToken = &ft
	}
	return c.JSON(res)
}

func (a *API) verifyIdentity(ctx context.Context, provider, idToken string) (*auth.Identity, error) {
	var v *auth.IDTokenVerifier
	switch provider {
	case "google":
		v = a.d.Google
	case "apple":
		v = a.d.Apple
	case "dev":
		if !a.d.Config.Dev {
			return nil, protocol.Errorf(protocol.CodeProviderDisabled, protocol.DomainAuth, "provider dev is only available in dev mode")
		}
		handle := strings.TrimSpace(idToken)
		// A control character (NUL above all) would reach the store's keys
		// and the logs; no handle needs one.
		if n := utf8.RuneCountInString(handle); n < 1 || n > 64 || !utf8.ValidString(handle) || strings.ContainsFunc(handle, unicode.IsControl) {
			return nil, protocol.Errorf(protocol.CodeInvalidPayload, protocol.DomainAuth, "dev idToken must be a handle of 1-64 printable characters")
		}
		return &auth.Identity{Provider: "dev", Subject: handle, Name: handle}, nil
	case "":
		return nil, protocol.Errorf(protocol.CodeInvalidPayload, protocol.DomainAuth, "provider is required")
	default:
		return nil, protocol.Errorf(protocol.CodeInvalidPayload, protocol.DomainAuth, "provider must be google or apple")
	}
	if v == nil {
		return nil, protocol.Errorf(protocol.CodeProviderDisabled, protocol.DomainAuth, "provider %s is not enabled on this server", provider)
	}
	id, err := v.Verify(ctx, idToken)
	if err != nil {
		if errors.Is(err, auth.ErrInvalidIDToken) {
			a.d.Logger.Info("rest: id token refused", "provider", provider, "reason", err)
		}
		return nil, err
	}
	return id, nil
}

// findOrCreateUser links a provider identity to its live account, creating
// one on first sight. The login flow owns the identity index (provider and
// subject to user id), which no grain can: the user id is what it finds.
// From then on the account belongs to its User grain. Two racing first logins both end on the same account:
// the loser of Create's uniqueness check reads the winner's.
func (a *API) findOrCreateUser(ctx context.Context, id *auth.Identity) (*storage.User, error) {
	users := a.d.Store.Users()
	for attempt := 0; attempt < 3; attempt++ {
		u, err := users.ByIdentity(ctx, id.Provider, id.Subject)
		if err == nil && u.Terminated() {
			return nil, protocol.Errorf(protocol.CodeAccountTerminated, protocol.DomainAuth, protocol.TerminatedMessage)
		}
		if err == nil {
			return u, nil
		}
		if !errors.Is(err, storage.ErrNotFound) {
			return nil, err
		}
		now := a.d.Clock.Now()
		u = &storage.User{
			ID: ids.New("user"), Name: id.Name,
			Provider: id.Provider, Subject: id.Subject, Email: id.Email,
			CreatedAt: now, UpdatedAt: now,
		}
		if id.Picture != "" {
			pic := id.Picture
			u.Avatar = &pic
		}
		err = users.Create(ctx, u)
		if err == nil {
			return u, nil
		}
		if !errors.Is(err, storage.ErrConflict) {
			return nil, err
		}
	}
	return nil, errors.New("login: identity kept conflicting")
}

// issuePair signs an access token and the first refresh token of a new
// family, and stores the refresh token before handing it out.
func (a *API) issuePair(ctx context.Context, userID string) (protocol.TokenPair, error) {
	access, _, err := a.d.Issuer.IssueAccess(userID)
	if err != nil {
		return protocol.TokenPair{}, err
	}
	refresh, rc, err := a.d.Issuer.IssueRefresh(userID, "")
	if err != nil {
		return protocol.TokenPair{}, err
	}
	if err := a.d.Store.Tokens().Put(ctx, refreshRecord(&rc)); err != nil {
		return protocol.TokenPair{}, err
	}
	return protocol.TokenPair{AccessToken: access, RefreshToken: refresh}, nil
}

func refreshRecord(c *auth.Claims) *storage.RefreshToken {
	return &storage.RefreshToken{ID: c.TokenID, Family: c.Family, UserID: c.UserID, IssuedAt: c.IssuedAt, ExpiresAt: c.ExpiresAt}
}

func (a *API) refresh(c *fiber.Ctx) error {
	var req protocol.RefreshRequest
	if err := decodeBody(c, protocol.DomainAuth, &req); err != nil {
		return err
	}
	if req.RefreshToken == "" {
		return protocol.Errorf(protocol.CodeInvalidPayload, protocol.DomainAuth, "refreshToken is required")
	}
	old, err := a.d.Issuer.VerifyRefresh(req.RefreshToken)
	if err != nil {
		if errors.Is(err, auth.ErrTokenExpired) {
			return protocol.Errorf(protocol.CodeUnauthorized, protocol.DomainAuth, "refresh token expired, sign in again")
		}
		return err
	}
	ctx := c.UserContext()
	// The User grain owns the account: it says whether it still exists.
	ex, err := cluster.Call[*grainpb.ExistsReply](ctx, a.d.Node, cluster.KindUser, old.UserID, &grainpb.ExistsQuery{})
	if err != nil {
		return err
	}
	if err := goneError(ex); err != nil {
		return err
	}
	access, _, err := a.d.Issuer.IssueAccess(old.UserID)
	if err != nil {
		return err
	}
	refresh, next, err := a.d.Issuer.IssueRefresh(old.UserID, old.Family)
	if err != nil {
		return err
	}
	if err := a.d.Store.Tokens().Rotate(ctx, old.TokenID, refreshRecord(&next), a.d.Clock.Now()); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			a.d.Logger.Warn("rest: refresh token reuse, family revoked", "user", old.UserID, "family", old.Family)
			return protocol.Errorf(protocol.CodeUnauthorized, protocol.DomainAuth, "refresh token already used or revoked; sign in again")
		}
		if errors.Is(err, storage.ErrNotFound) {
			return protocol.Errorf(protocol.CodeUnauthorized, protocol.DomainAuth, "unknown refresh token")
		}
		return err
	}
	return c.JSON(protocol.TokenPair{AccessToken: access, RefreshToken: refresh})
}

// logout works with an access token, a refresh token, or both: a client
// whose access token has expired must still be able to sign out.
func (a *API) logout(c *fiber.Ctx) error {
	var req protocol.LogoutRequest
	if err := decodeBody(c, protocol.DomainAuth, &req); err != nil {
		return err
	}
	ctx := c.UserContext()
	var uid string
	if tok := bearer(c); tok != "" {
		claims, err := a.d.Issuer.VerifyAccess(tok)
		if err != nil {
			return err
		}
		uid = claims.UserID
	}
	if req.RefreshToken != "" {
		rc, err := a.d.Issuer.VerifyRefresh(req.RefreshToken)
		if err != nil && !errors.Is(err, auth.ErrTokenExpired) {
			return err
		}
		if err == nil {
			if uid != "" && rc.UserID != uid {
				return protocol.Errorf(protocol.CodeForbidden, protocol.DomainAuth, "refresh token belongs to another user")
			}
			uid = rc.UserID
			if err := a.d.Store.Tokens().Revoke(ctx, rc.TokenID, a.d.Clock.Now()); err != nil && !errors.Is(err, storage.ErrNotFound) {
				return err
			}
		}
	}
	if uid == "" {
		return protocol.Errorf(protocol.CodeUnauthorized, protocol.DomainAuth, "an access token or a refresh token is required")
	}
	if req.DeviceToken != "" {
		err := a.d.Store.Devices().Deactivate(ctx, uid, req.DeviceToken, a.d.Clock.Now())
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
	}
	return c.JSON(protocol.StatusOK)
}

func (a *API) deleteAccount(c *fiber.Ctx) error {
	var req protocol.DeleteAccountRequest
	if err := decodeBody(c, protocol.DomainAuth, &req); err != nil {
		return err
	}
	req.Reason = strings.TrimSpace(req.Reason)
	if req.Reason == "" {
		return protocol.Errorf(protocol.CodeInvalidPayload, protocol.DomainAuth, "reason is required")
	}
	if utf8.RuneCountInString(req.Reason) > protocol.MaxReasonChars {
		return protocol.Errorf(protocol.CodeInvalidPayload, protocol.DomainAuth, "reason is longer than %d characters", protocol.MaxReasonChars)
	}
	rep, err := cluster.Call[*grainpb.Ack](c.UserContext(), a.d.Node, cluster.KindUser, userID(c), &grainpb.DeleteAccount{Reason: req.Reason})
	if err != nil {
		return err
	}
	if err := rep.Failure.Err(); err != nil {
		return err
	}
	return c.JSON(protocol.StatusOK)
}
