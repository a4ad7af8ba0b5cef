package httpapi

import (
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// routeTable answers which methods a path is served under, for 405. Fiber
// itself answers 404 for a known path under the wrong method.
type routeTable struct {
	routes []routePattern
}

type routePattern struct {
	method   string
	segments []string // ":name" matches one segment, "*" the rest
}

func newRouteTable(rs []fiber.Route) *routeTable {
	t := &routeTable{}
	for _, r := range rs {
		t.routes = append(t.routes, routePattern{method: r.Method, segments: splitPath(r.Path)})
	}
	return t
}

func splitPath(p string) []string {
	return strings.Split(strings.Trim(p, "/"), "/")
}

// allowed lists the methods that serve path, sorted; nil when none does.
func (t *routeTable) allowed(path string) []string {
	segs := splitPath(path)
	var out []string
	for _, r := range t.routes {
		if r.matches(segs) && !slices.Contains(out, r.method) {
			out = append(out, r.method)
		}
	}
	slices.Sort(out)
	return out
}

func (r routePattern) matches(segs []string) bool {
	for i, p := range r.segments {
		if p == "*" || strings.HasPrefix(p, "*") {
			return true
		}
		if i >= len(segs) {
			return false
		}
		if strings.HasPrefix(p, ":") {
			if segs[i] == "" {
				return false
			}
			continue
		}
		if p != segs[i] {
			return false
		}
	}
	return len(segs) == len(r.segments)
}
