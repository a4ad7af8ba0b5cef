// Package moderation is the operators' side of safety: the report queue
// and its workflow (open → reviewing → resolved, with the resolution and
// who resolved it), user search, and the audit log of every operator
// action. Terminating an account belongs to the account's User grain;
// this package resolves the reports against it and records who did it.
package moderation
