package auth

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
)

const (
	// defaultCacheTTL is how long fetched keys are fresh when the response
	// has no Cache-Control max-age.
	defaultCacheTTL = time.Hour
	// minMaxAge and maxMaxAge bound a max-age read from a response.
	minMaxAge = time.Minute
	maxMaxAge = 24 * time.Hour
	// maxJWKSBytes bounds the size of a JWKS response.
	maxJWKSBytes = 1 << 20
	// minRSABits is the smallest RSA modulus accepted from a JWKS.
	minRSABits = 2048
)

// jwksCache holds the RS256 verification keys of one provider, fetched from
// its JWKS URL.
//
// Keys are fetched lazily, kept for a TTL, and refetched when stale or when a
// token names an unknown key ID. Fetch attempts (successful or not) are at
// least minRefetch apart, and concurrent callers share one fetch. When the
// provider cannot be reached, keys already known keep being used, stale or
// not: the provider being down must not log everybody out.
type jwksCache struct {
	url        string
	client     *http.Client
	now        func() time.Time
	minRefetch time.Duration
	ttl        time.Duration // 0: from Cache-Control max-age, else defaultCacheTTL

	// fetching is a one-slot semaphore held during a fetch. A channel rather
	// than a mutex so that waiting for another caller's fetch honours ctx.
	fetching chan struct{}

	mu          sync.Mutex
	keys        map[string]*rsa.PublicKey // nil until the first successful fetch
	expires     time.Time                 // when keys become stale
	lastAttempt time.Time                 // zero: never fetched
	lastErr     error                     // error of the last attempt, nil if it succeeded
	generation  uint64                    // incremented by every attempt
}

func newJWKSCache(url string, cfg verifierConfig) *jwksCache {
	return &jwksCache{
		url:        url,
		client:     cfg.client,
		now:        cfg.now,
		minRefetch: cfg.minRefetch,
		ttl:        cfg.cacheTTL,
		fetching:   make(chan struct{}, 1),
	}
}

// key returns the verification key named kid. Errors wrap ErrInvalidIDToken
// (the provider does not know the key) or ErrProviderUnavailable (the keys
// could not be fetched).
func (c *jwksCache) key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	c.mu.Lock()
	key, generation := c.keys[kid], c.generation
	stale := !c.now().Before(c.expires)
	c.mu.Unlock()
	if key != nil && !stale {
		return key, nil
	}

	ctxErr := c.refresh(ctx, generation)

	c.mu.Lock()
	defer c.mu.Unlock()
	switch key = c.keys[kid]; {
	case key != nil:
		// Fresh from the refetch or, if it could not happen, the cached key.
		return key, nil
	case ctxErr != nil:
		return nil, ctxErr
	case c.lastErr != nil:
		// The key may well exist: we cannot tell.
		return nil, fmt.Errorf("%w: %w", ErrProviderUnavailable, c.lastErr)
	default:
		return nil, fmt.Errorf("%w: unknown key ID %q", ErrInvalidIDToken, kid)
	}
}

// refresh fetches the key set, unless another caller made an attempt since
// the caller read generation, or the last attempt is less than minRefetch
// ago. Fetch errors are recorded in lastErr; refresh returns an error only
// when ctx ends first, wrapping ErrProviderUnavailable and ctx's error.
func (c *jwksCache) refresh(ctx context.Context, generation uint64) error {
	select {
	case c.fetching <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting for the JWKS: %w", ErrProviderUnavailable, ctx.Err())
	}
	defer func() { <-c.fetching }()

	c.mu.Lock()
	skip := c.generation != generation ||
		(!c.lastAttempt.IsZero() && c.now().Sub(c.lastAttempt) < c.minRefetch)
	c.mu.Unlock()
	if skip {
		return nil
	}

	keys, ttl, err := c.fetch(ctx)
	if err != nil && ctx.Err() != nil {
		// Our caller gave up, which says nothing about the provider: leave
		// the attempt unrecorded so that other callers fetch for themselves.
		return fmt.Errorf("%w: %w", ErrProviderUnavailable, err)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	c.generation++
	c.lastAttempt = c.now()
	c.lastErr = err
	if err == nil {
		c.keys = keys
		c.expires = c.lastAttempt.Add(ttl)
	}
	return nil
}

// fetch downloads and parses the key set. It keeps the RSA signing keys
// usable with RS256 and skips any other key, so that one odd key does not
// hide the others.
func (c *jwksCache) fetch(ctx context.Context) (map[string]*rsa.PublicKey, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("JWKS request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("fetch JWKS %s: status %s", c.url, resp.Status)
	}

	var set jwkset.JWKSMarshal
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxJWKSBytes)).Decode(&set); err != nil {
		return nil, 0, fmt.Errorf("decode JWKS %s: %w", c.url, err)
	}
	keys := make(map[string]*rsa.PublicKey, len(set.Keys))
	for _, m := range set.Keys {
		if m.KID == "" || m.KTY != jwkset.KtyRSA ||
			(m.USE != "" && m.USE != jwkset.UseSig) ||
			(m.ALG != "" && m.ALG != jwkset.AlgRS256) {
			continue
		}
		jwk, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
		if err != nil {
			continue
		}
		pub, ok := jwk.Key().(*rsa.PublicKey)
		if !ok || pub.N.BitLen() < minRSABits {
			continue
		}
		keys[m.KID] = pub
	}
	if len(keys) == 0 {
		return nil, 0, errors.New("JWKS " + c.url + " has no usable RS256 key")
	}

	ttl := c.ttl
	if ttl == 0 {
		ttl = defaultCacheTTL
		if maxAge, ok := parseMaxAge(resp.Header.Get("Cache-Control")); ok {
			ttl = min(max(maxAge, minMaxAge), maxMaxAge)
		}
	}
	return keys, ttl, nil
}

// parseMaxAge returns the max-age directive of a Cache-Control header.
func parseMaxAge(header string) (time.Duration, bool) {
	for directive := range strings.SplitSeq(header, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(directive), "=")
		if !ok || !strings.EqualFold(name, "max-age") {
			continue
		}
		seconds, err := strconv.Atoi(strings.Trim(value, `"`))
		if err != nil || seconds < 0 {
			return 0, false
		}
		seconds = min(seconds, int(maxMaxAge/time.Second))
		return time.Duration(seconds) * time.Second, true
	}
	return 0, false
}
