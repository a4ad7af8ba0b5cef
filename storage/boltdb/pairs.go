package boltdb

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/gisbi/engine/storage"
)

type pairs struct{ s *Store }

// pairSep is the separator storage.PairID puts between the two user ids. A
// user id containing it would make two different pairs share one id
// ("a|b"+"c" and "a"+"b|c"), so such ids are refused.
const pairSep = "|"

// maxPairID bounds a pair id: two ids of at most maxKeyPart and pairSep.
const maxPairID = 2*maxKeyPart + len(pairSep)

func checkPairID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: pair id is empty", ErrInvalid)
	case len(id) > maxPairID:
		return fmt.Errorf("%w: pair id is %d bytes, limit %d", ErrInvalid, len(id), maxPairID)
	case strings.IndexByte(id, sep) >= 0:
		return fmt.Errorf("%w: pair id contains a NUL byte", ErrInvalid)
	}
	return nil
}

// checkPair validates p (storage.CheckPair with bbolt's id rule) and
// returns the request and connection ids to index.
func checkPair(p *storage.Pair) (reqIDs, connIDs [][]byte, err error) {
	if err := storage.CheckPair(p, checkID); err != nil {
		return nil, nil, err
	}
	reqIDs = make([][]byte, len(p.Requests))
	for i, r := range p.Requests {
		reqIDs[i] = []byte(r.ID)
	}
	connIDs = make([][]byte, len(p.Connections))
	for i, c := range p.Connections {
		connIDs[i] = []byte(c.ID)
	}
	return reqIDs, connIDs, nil
}

func pairBuckets(tx *bolt.Tx) (pb, byUser, byReq, byConn *bolt.Bucket, err error) {
	bs, err := buckets(tx, bucketPairs, bucketPairsByUser, bucketPairsByRequest, bucketPairsByConnection)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	return bs[0], bs[1], bs[2], bs[3], nil
}

func (r pairs) Get(ctx context.Context, pairID string) (*storage.Pair, error) {
	if err := checkPairID(pairID); err != nil {
		return nil, err
	}
	var p storage.Pair
	err := r.s.view(ctx, "pairs.get", func(tx *bolt.Tx) error {
		pb, _, _, _, err := pairBuckets(tx)
		if err != nil {
			return err
		}
		found, err := getJSON(pb, []byte(pairID), &p)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("boltdb: pair %q: %w", pairID, storage.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// Save replaces the record and adds the index entries it lacks. Entries that
// are already in place are not written again, so a re-Save touches only the
// record's page. Ids never leave a pair, so nothing is ever removed from an
// index; a request or connection id already indexed under another pair is
// ErrConflict and nothing is written.
func (r pairs) Save(ctx context.Context, p *storage.Pair) error {
	reqIDs, connIDs, err := checkPair(p)
	if err != nil {
		return err
	}
	next := *p
	next.Version++
	raw, err := marshal(&next)
	if err != nil {
		return err
	}
	id := []byte(p.ID)
	userKeys := [][]byte{join(p.UserA, p.ID), join(p.UserB, p.ID)}
	err = r.s.update(ctx, "pairs.save", func(tx *bolt.Tx) error {
		pb, byUser, byReq, byConn, err := pairBuckets(tx)
		if err != nil {
			return err
		}
		stored, err := storedVersion(pb, id)
		if err != nil {
			return err
		}
		if err := fence("pair "+p.ID, stored, p.Version); err != nil {
			return err
		}
		// Check both id indexes before writing either, so a conflict leaves
		// nothing half-done even if the batch machinery did not roll back.
		missingReqs, err := unclaimed(byReq, "request", reqIDs, id)
		if err != nil {
			return err
		}
		missingConns, err := unclaimed(byConn, "connection", connIDs, id)
		if err != nil {
			return err
		}
		for _, k := range userKeys {
			if has(byUser, k) {
				continue
			}
			if err := byUser.Put(k, []byte{}); err != nil {
				return err
			}
		}
		for _, k := range missingReqs {
			if err := byReq.Put(k, id); err != nil {
				return err
			}
		}
		for _, k := range missingConns {
			if err := byConn.Put(k, id); err != nil {
				return err
			}
		}
		return pb.Put(id, raw)
	})
	if err == nil {
		p.Version = next.Version
	}
	return err
}

// unclaimed returns the keys not yet in the unique index b, and ErrConflict
// when one of them points at a pair other than id.
func unclaimed(b *bolt.Bucket, what string, keys [][]byte, id []byte) ([][]byte, error) {
	var missing [][]byte
	for _, k := range keys {
		owner := b.Get(k)
		switch {
		case owner == nil:
			missing = append(missing, k)
		case !bytes.Equal(owner, id):
			return nil, fmt.Errorf("boltdb: pair %q: %s %q already belongs to pair %q: %w", id, what, k, owner, storage.ErrConflict)
		}
	}
	return missing, nil
}

// has reports whether key exists. It seeks instead of testing Get for nil,
// which would depend on how bbolt returns an empty value.
func has(b *bolt.Bucket, key []byte) bool {
	k, _ := b.Cursor().Seek(key)
	return bytes.Equal(k, key)
}

// Of lists the user's pair ids in key order, which is pair id order.
func (r pairs) Of(ctx context.Context, userID string) ([]string, error) {
	if err := checkID("user id", userID); err != nil {
		return nil, err
	}
	var out []string
	err := r.s.view(ctx, "pairs.of", func(tx *bolt.Tx) error {
		_, byUser, _, _, err := pairBuckets(tx)
		if err != nil {
			return err
		}
		out, err = suffixes(byUser, prefix(userID))
		return err
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}

func (r pairs) ByRequest(ctx context.Context, requestID string) (string, error) {
	return r.lookup(ctx, "pairs.by_request", "request", requestID, bucketPairsByRequest)
}

func (r pairs) ByConnection(ctx context.Context, connectionID string) (string, error) {
	return r.lookup(ctx, "pairs.by_connection", "connection", connectionID, bucketPairsByConnection)
}

func (r pairs) lookup(ctx context.Context, op, what, id string, bucket []byte) (string, error) {
	if err := checkID(what+" id", id); err != nil {
		return "", err
	}
	var pairID string
	err := r.s.view(ctx, op, func(tx *bolt.Tx) error {
		bs, err := buckets(tx, bucket)
		if err != nil {
			return err
		}
		v := bs[0].Get([]byte(id))
		if v == nil {
			return fmt.Errorf("boltdb: no pair for %s %q: %w", what, id, storage.ErrNotFound)
		}
		pairID = string(v) // copies: v is only valid inside the transaction
		return nil
	})
	if err != nil {
		return "", err
	}
	return pairID, nil
}
