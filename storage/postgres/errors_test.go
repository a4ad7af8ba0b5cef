package postgres

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gisbi/engine/storage"
)

func TestMapErrSentinels(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want error // nil: no sentinel
	}{
		{"unique violation", &pgconn.PgError{Code: "23505", ConstraintName: "users_pkey"}, storage.ErrConflict},
		{"disk full", fmt.Errorf("commit: %w", &pgconn.PgError{Code: "53100", Message: "could not extend file"}), storage.ErrUnavailable},
		{"out of memory is no full disk", &pgconn.PgError{Code: "53200"}, nil},
		{"syntax error", &pgconn.PgError{Code: "42601"}, nil},
	}
	sentinels := []error{storage.ErrConflict, storage.ErrUnavailable, storage.ErrNotFound}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := mapErr("op", tt.err)
			for _, s := range sentinels {
				if got := errors.Is(err, s); got != (s == tt.want) {
					t.Errorf("errors.Is(%v, %v) = %v", err, s, got)
				}
			}
		})
	}
}
