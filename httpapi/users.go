package httpapi

import (
	"encoding/json"
	"os"

	"github.com/gofiber/fiber/v2"
	"google.golang.org/protobuf/proto"

	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

// Device platforms accepted by /devices/register.
var platforms = map[string]bool{"android": true, "ios": true, "web": true}

const maxDeviceTokenBytes = 4096

func validateDevice(token, platform string) error {
	if token == "" {
		return protocol.Errorf(protocol.CodeInvalidPayload, protocol.DomainUsers, "token is required")
	}
	if len(token) > maxDeviceTokenBytes {
		return protocol.Errorf(protocol.CodeInvalidPayload, protocol.DomainUsers, "token is too long")
	}
	if !platforms[platform] {
		return protocol.Errorf(protocol.CodeInvalidPayload, protocol.DomainUsers, "platform must be android, ios or web")
	}
	return nil
}

type deviceRequest struct {
	Token    string `json:"token"`
	Platform string `json:"platform"`
}

type deviceView struct {
	Token    string `json:"token"`
	Platform string `json:"platform"`
	IsActive bool   `json:"isActive"`
}

func (a *API) registerDevice(c *fiber.Ctx) error {
	var req deviceRequest
	if err := decodeBody(c, protocol.DomainUsers, &req); err != nil {
		return err
	}
	if err := validateDevice(req.Token, req.Platform); err != nil {
		return err
	}
	if err := a.liveUser(c); err != nil {
		return err
	}
	d := &storage.Device{Token: req.Token, Platform: req.Platform, UserID: userID(c), IsActive: true, UpdatedAt: a.d.Clock.Now()}
	if err := a.d.Store.Devices().Register(c.UserContext(), d); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"status": "ok", "device": deviceView{Token: d.Token, Platform: d.Platform, IsActive: true}})
}

// liveUser refuses tokens of deleted accounts on routes that write to the
// store without passing through the User grain.
func (a *API) liveUser(c *fiber.Ctx) error {
	rep, err := cluster.Call[*grainpb.ExistsReply](c.UserContext(), a.d.Node, cluster.KindUser, userID(c), &grainpb.ExistsQuery{})
	if err != nil {
		return err
	}
	return goneError(rep)
}

// goneError refuses an account that no longer exists, saying whether an
// operator terminated it or its owner deleted it. A subject that never
// existed is an unauthorized token, not a deleted account, and an account
// that could not be read is neither.
func goneError(ex *grainpb.ExistsReply) error {
	switch {
	case ex.Failure != nil:
		return ex.Failure.Err()
	case ex.Terminated:
		return protocol.Errorf(protocol.CodeAccountTerminated, protocol.DomainAuth, protocol.TerminatedMessage)
	case ex.Unknown:
		return protocol.Errorf(protocol.CodeUnauthorized, protocol.DomainAuth, "no such account")
	case !ex.Exists:
		return protocol.Errorf(protocol.CodeAccountDeleted, protocol.DomainAuth, "account deleted")
	}
	return nil
}

func (a *API) patchProfile(c *fiber.Ctx) error {
	p, perr := protocol.DecodeProfilePatch(c.Body())
	if perr != nil {
		return perr
	}
	return a.userCall(c, toUpdate(&p))
}

// userCall asks the caller's User grain and answers its User JSON as is.
func (a *API) userCall(c *fiber.Ctx, req proto.Message) error {
	rep, err := cluster.Call[*grainpb.UserReply](c.UserContext(), a.d.Node, cluster.KindUser, userID(c), req)
	if err != nil {
		return err
	}
	if rep.Failure != nil && rep.Failure.Code == string(protocol.CodeUserNotFound) {
		// The caller is the user named: a token whose subject was never
		// created is unauthorized, as at the socket handshake.
		return protocol.Errorf(protocol.CodeUnauthorized, protocol.DomainAuth, "no such account")
	}
	if err := rep.Failure.Err(); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(rep.UserJson)
}

func toUpdate(p *protocol.ProfilePatch) *grainpb.UpdateProfile {
	str := func(n protocol.Nullable[string]) *grainpb.NullableString {
		if !n.Set {
			return nil
		}
		return &grainpb.NullableString{Null: n.Null, Value: n.Value}
	}
	u := &grainpb.UpdateProfile{
		Avatar: str(p.Avatar), Gender: str(p.Gender), Username: str(p.Username),
		Bio: str(p.Bio), Vibe: str(p.Vibe),
	}
	if p.Name.Set {
		u.Name = &p.Name.Value
	}
	if p.Age.Set {
		u.Age = &grainpb.NullableInt{Null: p.Age.Null, Value: int64(p.Age.Value)}
	}
	if p.VibeDurationMinutes.Set && !p.VibeDurationMinutes.Null {
		u.VibeDurationMinutes = int32(p.VibeDurationMinutes.Value)
	}
	return u
}

func (a *API) me(c *fiber.Ctx) error {
	return a.userCall(c, &grainpb.GetUser{})
}

// adminUser shows an operator the stored account, deleted ones included.
// The User grain answers for the account and its safety records; devices
// belong to no grain and are read from the store.
func (a *API) adminUser(c *fiber.Ctx) error {
	id := c.Params("userId")
	if !protocol.ValidID(id) {
		return protocol.Errorf(protocol.CodeUserNotFound, protocol.DomainUsers, "user not found")
	}
	rep, err := cluster.Call[*grainpb.AdminViewReply](c.UserContext(), a.d.Node, cluster.KindUser, id, &grainpb.GetAdminView{})
	if err != nil {
		return err
	}
	if err := rep.Failure.Err(); err != nil {
		return err
	}
	devices, err := a.d.Store.Devices().ListByUser(c.UserContext(), id)
	if err != nil {
		return err
	}
	dj, err := json.Marshal(devices)
	if err != nil {
		return err
	}
	b, err := json.Marshal(protocol.AdminUser{User: rep.UserJson, Blocks: rep.BlocksJson, ReportsFiled: rep.ReportsJson, Devices: dj})
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(b)
}

// adminBackup streams a consistent copy of the live database. The copy is
// made to a temp file first (a read transaction, writers keep going), then
// unlinked while open so nothing is left behind whatever the client does.
func (a *API) adminBackup(c *fiber.Ctx) error {
	if a.d.Config.PostgresStore() {
		return protocol.Errorf(protocol.CodeNotFound, "", "this server keeps its data in PostgreSQL: back it up with pg_dump")
	}
	dir := a.d.Config.DataDir
	f, err := os.CreateTemp(dir, ".backup-*")
	if err != nil {
		return err
	}
	path := f.Name()
	_ = f.Close()
	if err := a.d.Store.Backup(c.UserContext(), path); err != nil {
		_ = os.Remove(path)
		return err
	}
	f, err = os.Open(path)
	_ = os.Remove(path)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return err
	}
	c.Set(fiber.HeaderContentType, "application/octet-stream")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="gisbi.db"`)
	return c.SendStream(f, int(st.Size()))
}
