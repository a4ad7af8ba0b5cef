/*
Package storagetest holds what every storage.Store must do, as tests, and a
real store for other packages' tests.

The contract lives in one suite rather than in each implementation's tests so
that a second backend (PostgreSQL) is held to exactly the behaviour the
services were written against: the same sentinels, soft delete that frees the
identity, reuse detection that revokes a family, devices that move between
accounts.

# Basics

Services test against a real store instead of a fake, so index and error
behaviour is what production sees:

	func TestLogin(t *testing.T) {
		st := storagetest.New(t) // bbolt in t.TempDir(), closed by t.Cleanup
		svc := auth.NewService(st.Users(), st.Tokens())
		...
	}

An implementation runs the contract from its own tests:

	func TestContract(t *testing.T) {
		storagetest.RunContract(t, func(t *testing.T) storage.Store { return open(t) })
	}

# Caveats

RunContract calls open from parallel subtests; every call must return an
independent, empty store that is released when its t ends. The suite calls
Close itself in some cases, so Close must be idempotent.

The suite pins choices storage.go leaves open: Users.Put of an unknown user
is ErrNotFound (Put never creates, so no account exists without its identity
link); an empty username is no username; Block keeps the first CreatedAt;
Reminders.Delete of an unknown reminder succeeds; Due rejects a non-positive
limit; Pairs.Save refuses a pair whose id is not PairID of its users, whose
users are equal, or whose requests or connections are not between its two
users or repeat an id, and answers ErrConflict for a request or connection
id that belongs to another pair; Pairs.Of of a stranger is an empty slice;
Messages.Append refuses a message with ReadAt set and answers ErrConflict
for a seq that is not above the pair's last (gaps are allowed), while
AppendAsync answers each batch once and refuses (ErrConflict) a batch whose
first seq is not the pair's last plus one, so a batch queued behind a failed
one fails too, and any batch with a gap or a second pair; MarkRead of
an unknown pair, or up to a seq beyond the last, marks what exists, and a
reader outside the pair is an error; Page and Since reject a non-positive
limit and Conversations a negative one; Conversations ties on the last
message's CreatedAt go by pair id; Page, Since and Conversations of an
unknown pair or user are empty slices; a cancelled context fails with the
context's error.

Times in the suite have microsecond precision and are compared with Equal,
so backends that store microseconds or return another Location still pass.

New opens a bbolt store, so a write in a test waits for a commit and its
fsyncs, shared only with the writes queued beside it; tests with many
writes should run in parallel.
*/
package storagetest
