// Package score keeps each user's daily social score: which actions of the
// catalog (config.ScoreCatalog) the user did today, in the server's day
// zone.
//
// The rules are pure (rules.go): a Day is the start of the user's day and
// a count per action type; Current rolls it over at the zone's midnight,
// Complete and Observe count an action, View renders protocol.Score. The
// Score grain (one per user) holds the Day, stores every change before it
// answers or pushes score-updated to the user's legacy sockets, and keeps
// one durable "reset" reminder at the next midnight while the day has
// something completed: idle users cost no reminder and no scan.
//
// Three actions complete themselves: the Pair grain observes a request
// sent, a friend added (both users) and chat messages stored, and tells
// the sender's Score grain without waiting (actors/pair/score.go). The
// rest are completed by the client (POST /score/actions/:type).
package score
