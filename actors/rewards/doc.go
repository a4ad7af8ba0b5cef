/*
Package rewards serves sponsored pair rewards: brands fund campaigns, the
server grants a pair a gift when its connection is accepted or its verified
together-time crosses a milestone, either partner claims it for a
redemption code, and a venue redeems the code with the brand's key.

# Shape

  - rules.go, gift.go and view.go are pure: a campaign's rule applied to a
    pair's proximity facts (Evaluate, with the sponsorConfidenceScore
    formula), the lifecycle of one gift (Claim, Redeem, Expire, ExpireCode,
    Cancel, and Current, which applies due timers when reading), and the
    SponsoredGift a viewer sees.
  - grain.go is the Rewards grain, one per pair (identity: the pair id). It
    is the only writer of the pair's gifts once granted, grants them when a
    trigger arrives, and keeps a durable reminder for each gift's expiry and
    its code's expiry.
  - triggers.go is the outbox the Pair and Proximity grains write to: an
    accept, a close or a milestone is a reminder addressed to the pair's
    Rewards grain, stored before the change is, so a crash between the two
    can delay a grant but never lose it.
  - commands.go holds the socket commands (gift.claim, gift.history.fetch)
    and the bootstrap source; history and bootstrap read the store only.
  - admin.go is the operator's brands and campaigns: configuration records
    that belong to no grain.

# Invariants and who keeps them

At most one gift per pair per campaign, and a campaign's stock, are kept by
the store's Grant transaction (storage.Rewards): grants for one campaign
come from many pairs at once, on any node, so neither a pair's grain nor a
campaign grain could keep the count without a round trip on every grant.
Everything after the grant is the pair grain's: claims and redemptions of
one gift are serialised in its mailbox.

Claims and redemptions ask the connection's Proximity grain for its live
facts (cluster.Request: the grain never waits); views read the stored
snapshot through Deps.Facts.
*/
package rewards
