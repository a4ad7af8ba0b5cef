package boltdb

import (
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/gisbi/engine/storage"
)

// Bucket names. They are part of the on-disk format: renaming one needs a
// migration, never an edit here.
var (
	bucketMeta = []byte("meta")

	bucketUsers      = []byte("users")      // user id → User JSON
	bucketIdentities = []byte("identities") // provider \x00 subject → user id
	bucketUsernames  = []byte("usernames")  // lower(username) → user id

	bucketTokens          = []byte("tokens")           // jti → RefreshToken JSON
	bucketTokensByUser    = []byte("tokens_by_user")   // user \x00 jti → ""
	bucketTokensByFamily  = []byte("tokens_by_family") // family \x00 jti → ""
	bucketRevokedFamilies = []byte("revoked_families") // family → revocation time (RFC 3339)

	bucketDevices       = []byte("devices")         // push token → Device JSON
	bucketDevicesByUser = []byte("devices_by_user") // user \x00 token → ""

	bucketBlocks    = []byte("blocks")     // blocker \x00 blocked → Block JSON
	bucketBlocksRev = []byte("blocks_rev") // blocked \x00 blocker → ""

	bucketReports           = []byte("reports")             // report id → Report JSON
	bucketReportsByReporter = []byte("reports_by_reporter") // reporter \x00 time(8) id → ""

	bucketReminders    = []byte("reminders")     // kind \x00 identity \x00 name → Reminder JSON
	bucketRemindersDue = []byte("reminders_due") // time(8) kind \x00 identity \x00 name → ""

	bucketPairs             = []byte("pairs")               // pair id → Pair JSON
	bucketPairsByUser       = []byte("pairs_by_user")       // user \x00 pair id → ""
	bucketPairsByRequest    = []byte("pairs_by_request")    // request id → pair id
	bucketPairsByConnection = []byte("pairs_by_connection") // connection id → pair id

	bucketSnapshots     = []byte("snapshots")      // kind \x00 id → grain snapshot bytes
	bucketMessages      = []byte("messages")       // pair id \x00 seq(8) → Message JSON
	bucketMessagesByID  = []byte("messages_by_id") // message id → pair id \x00 seq(8)
	bucketInbox         = []byte("inbox")          // recipient \x00 created(8) \x00 message id → pair id \x00 seq(8)
	bucketConversations = []byte("conversations")  // user \x00 pair id → conversation summary JSON

	bucketBrands              = []byte("brands")                 // brand id → Brand JSON
	bucketBrandsBySlug        = []byte("brands_by_slug")         // slug → brand id
	bucketBrandsByKey         = []byte("brands_by_key")          // key hash → brand id
	bucketCampaigns           = []byte("campaigns")              // campaign id → Campaign JSON, counters included
	bucketGifts               = []byte("gifts")                  // gift id → Gift JSON
	bucketGiftsByPairCampaign = []byte("gifts_by_pair_campaign") // pair id \x00 campaign id → gift id (one gift per pair per campaign, ever)
	bucketGiftsByPair         = []byte("gifts_by_pair")          // pair id \x00 gift id → ""
	bucketGiftsByUser         = []byte("gifts_by_user")          // user id \x00 gift id → "", for both users of the pair
	bucketGiftCodes           = []byte("gift_codes")             // code → gift id, never deleted

	bucketScores = []byte("scores") // user id → ScoreDay JSON (the user's current day only)

	bucketReportsByStatus = []byte("reports_by_status") // status \x00 report id → ""
	bucketReportsAgainst  = []byte("reports_against")   // reported user \x00 report id → status
	bucketAudit           = []byte("audit")             // audit id (time-ordered) → AuditEntry JSON

	bucketSnapshotVersions = []byte("snapshot_versions") // kind \x00 id → version(8); absent = 0

	bucketMessagesByClientID = []byte("messages_by_client_id") // pair id \x00 sender \x00 client message id → pair id \x00 seq(8)
)

var keySchemaVersion = []byte("schema_version")

// SchemaVersion is the newest schema this code knows; Open migrates older
// files up to it and refuses newer ones.
const SchemaVersion = 9

// ErrSchemaVersion is returned by Open for a file written by a newer binary.
// Running old code on a newer schema could silently corrupt indexes it does
// not know about, so the only safe answer is to refuse.
var ErrSchemaVersion = errors.New("boltdb: unsupported schema version")

// migration upgrades the schema from version-1 to version. Migrations are
// append-only: a released one is never edited, because files already past it
// would not run the edit.
type migration struct {
	version int
	name    string
	up      func(*bolt.Tx) error
}

var migrations = []migration{
	{version: 1, name: "create buckets", up: createBuckets(
		bucketUsers, bucketIdentities, bucketUsernames,
		bucketTokens, bucketTokensByUser, bucketTokensByFamily, bucketRevokedFamilies,
		bucketDevices, bucketDevicesByUser,
		bucketBlocks, bucketBlocksRev,
		bucketReports, bucketReportsByReporter,
		bucketReminders, bucketRemindersDue,
	)},
	{version: 2, name: "create pair buckets", up: createBuckets(
		bucketPairs, bucketPairsByUser, bucketPairsByRequest, bucketPairsByConnection,
	)},
	{version: 3, name: "create message buckets", up: createBuckets(
		bucketMessages, bucketMessagesByID, bucketInbox, bucketConversations,
	)},
	{version: 4, name: "create snapshot bucket", up: createBuckets(bucketSnapshots)},
	{version: 5, name: "create reward buckets", up: createBuckets(
		bucketBrands, bucketBrandsBySlug, bucketBrandsByKey,
		bucketCampaigns,
		bucketGifts, bucketGiftsByPairCampaign, bucketGiftsByPair, bucketGiftsByUser, bucketGiftCodes,
	)},
	{version: 6, name: "create score bucket", up: createBuckets(bucketScores)},
	{version: 7, name: "create moderation buckets and index the reports", up: moderationBuckets},
	{version: 8, name: "create snapshot version bucket", up: createBuckets(bucketSnapshotVersions)},
	// Messages stored before it have no client message id: nothing to index.
	{version: 9, name: "create client message id bucket", up: createBuckets(bucketMessagesByClientID)},
}

// moderationBuckets creates the report queue's indexes and fills them from
// the reports filed before they existed.
func moderationBuckets(tx *bolt.Tx) error {
	if err := createBuckets(bucketReportsByStatus, bucketReportsAgainst, bucketAudit)(tx); err != nil {
		return err
	}
	bs, err := buckets(tx, bucketReports, bucketReportsByStatus, bucketReportsAgainst)
	if err != nil {
		return err
	}
	return bs[0].ForEach(func(_, v []byte) error {
		var r storage.Report
		if err := jsonUnmarshal(v, &r); err != nil {
			return err
		}
		return indexReport(bs[1], bs[2], &r)
	})
}

// createBuckets tolerates existing buckets so a v0 file (written before the
// meta bucket existed) keeps its data while gaining the missing buckets.
func createBuckets(names ...[]byte) func(*bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		for _, n := range names {
			if _, err := tx.CreateBucketIfNotExists(n); err != nil {
				return fmt.Errorf("create bucket %s: %w", n, err)
			}
		}
		return nil
	}
}

// readVersion returns 0 for a file without a meta bucket: that is either a
// brand-new file or one from before versioning, and both need every migration.
func readVersion(tx *bolt.Tx) (int, error) {
	b := tx.Bucket(bucketMeta)
	if b == nil {
		return 0, nil
	}
	v := b.Get(keySchemaVersion)
	if v == nil {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("boltdb: corrupt schema version (%d bytes)", len(v))
	}
	return int(binary.BigEndian.Uint64(v)), nil
}

func writeVersion(tx *bolt.Tx, version int) error {
	b, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	v := make([]byte, 8)
	binary.BigEndian.PutUint64(v, uint64(version))
	return b.Put(keySchemaVersion, v)
}

// migrate runs, inside tx, every migration newer than the file's version. The
// caller commits once, so a crash mid-upgrade leaves the old schema intact.
// It reports the versions before and after.
func migrate(tx *bolt.Tx, ms []migration) (from, to int, err error) {
	latest := 0
	for i, m := range ms {
		if m.version != i+1 {
			return 0, 0, fmt.Errorf("boltdb: migration %q has version %d, want %d", m.name, m.version, i+1)
		}
		latest = m.version
	}
	from, err = readVersion(tx)
	if err != nil {
		return 0, 0, err
	}
	if from > latest {
		return from, from, fmt.Errorf("%w: file has schema version %d, this binary supports up to %d; upgrade the binary or restore a backup",
			ErrSchemaVersion, from, latest)
	}
	for _, m := range ms[from:] {
		if err := m.up(tx); err != nil {
			return from, from, fmt.Errorf("boltdb: migration %d (%s): %w", m.version, m.name, err)
		}
	}
	if from == latest && tx.Bucket(bucketMeta) != nil {
		return from, latest, nil
	}
	if err := writeVersion(tx, latest); err != nil {
		return from, from, fmt.Errorf("boltdb: write schema version: %w", err)
	}
	return from, latest, nil
}
