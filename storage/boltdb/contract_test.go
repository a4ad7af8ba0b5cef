package boltdb_test

import (
	"testing"

	"github.com/gisbi/engine/storage"
	"github.com/gisbi/engine/storage/storagetest"
)

func TestContract(t *testing.T) {
	storagetest.RunContract(t, func(t *testing.T) storage.Store { return storagetest.New(t) })
}
