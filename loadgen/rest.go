package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// restError is a REST answer other than 2xx.
type restError struct {
	Status int
	Code   string
	Detail string
}

func (e *restError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Code, e.Detail)
}

// restCode is the error code of err for the statistics.
func restCode(err error) string {
	var re *restError
	if errors.As(err, &re) {
		if re.Code != "" {
			return re.Code
		}
		return codeHTTP + "_" + strconv.Itoa(re.Status)
	}
	return codeTransport
}

// rest calls the server from src and decodes a 2xx JSON answer into out.
// label names the route in the statistics ("POST /auth/social-login").
// Calls without a bearer are paced by src's limiter: the server limits
// them per client IP, and the generator must not be what trips it.
func (r *runner) rest(ctx context.Context, src *source, label, method, path, bearer string, body, out any) error {
	if bearer == "" {
		if err := src.limiter.Wait(ctx); err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s: encode: %w", label, err)
		}
		rd = bytes.NewReader(b)
	}
	// A REST answer is due within the request timeout, like a frame's.
	ctx, cancel := context.WithTimeout(ctx, r.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, src.node.base+path, rd)
	if err != nil {
		return fmt.Errorf("%s: %w", label, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	r.stats.Sent(label)
	start := time.Now()
	res, err := src.http.Do(req)
	if err != nil {
		switch {
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			r.stats.Answered(label, 0, codeTimeout)
		case ctx.Err() == nil:
			r.stats.Answered(label, time.Since(start), codeTransport)
		}
		return fmt.Errorf("%s: %w", label, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	lat := time.Since(start)
	r.stats.Received(label)
	if err != nil {
		r.stats.Answered(label, lat, codeTransport)
		return fmt.Errorf("%s: read: %w", label, err)
	}
	if res.StatusCode/100 != 2 {
		re := &restError{Status: res.StatusCode}
		var e struct {
			Detail string `json:"detail"`
			Code   string `json:"code"`
		}
		if json.Unmarshal(b, &e) == nil {
			re.Code, re.Detail = e.Code, e.Detail
		}
		r.stats.Answered(label, lat, restCode(re))
		return fmt.Errorf("%s: %w", label, re)
	}
	r.stats.Answered(label, lat, "")
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s: decode: %w", label, err)
		}
	}
	return nil
}
