// Command gisbi runs the GISBI engine and its operator tasks.
//
//	gisbi serve [--dev] [--addr :8080] [--data-dir ./data] [--config file] ...
//	gisbi backup [--server URL] <file>
//	gisbi settings
//	gisbi version
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/server"
	"github.com/gisbi/engine/storage/boltdb"
	"github.com/gisbi/engine/storage/postgres"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stdout, stderr)
	case "backup":
		return backup(args[1:], stdout, stderr)
	case "migrate":
		return migrate(args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, version())
		return 0
	case "settings":
		fmt.Fprint(stdout, config.MarkdownTable())
		return 0
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "gisbi: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage:
  gisbi serve [settings]           run the server (gisbi serve --help lists every setting)
  gisbi backup [--server URL] FILE write a consistent copy of the database to FILE
                                   (a PostgreSQL store is backed up with pg_dump)
  gisbi migrate [settings]         bring the store's schema up to this binary's
  gisbi settings                   print every setting as a Markdown table
  gisbi version                    print the version
`)
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return "gisbi " + bi.Main.Version + " (" + bi.GoVersion + ")"
	}
	return "gisbi (unknown version)"
}

func loadConfig(args []string, stdout, stderr io.Writer) (*config.Config, int) {
	cfg, err := config.Load(args, os.Environ())
	if errors.Is(err, pflag.ErrHelp) {
		fmt.Fprintln(stdout, "settings (flags; each also GISBI_<NAME> in the environment or a --config file):")
		fmt.Fprint(stdout, config.FlagSet().FlagUsages())
		return nil, 0
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return nil, 2
	}
	return cfg, -1
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func serve(args []string, stdout, stderr io.Writer) int {
	cfg, code := loadConfig(args, stdout, stderr)
	if cfg == nil {
		return code
	}
	logger := newLogger(cfg, stderr)
	for _, w := range cfg.Warnings {
		logger.Warn(w)
	}
	if cfg.Dev {
		logger.Warn("dev mode: any origin, dev logins and a fast clock are allowed; never run it in production")
	}
	srv, err := server.New(cfg, logger)
	if err != nil {
		logger.Error("start-up failed", "err", err)
		return 1
	}
	if err := srv.Start(); err != nil {
		logger.Error("start-up failed", "err", err)
		_ = srv.Shutdown(context.Background())
		return 1
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	// SIGHUP reloads the TLS certificate. Without TLS it is left alone, so
	// it stops the process as it always has.
	var hup chan os.Signal
	var reload func() error
	if srv.Certs != nil {
		hup = make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		reload = srv.Certs.Reload
	}
	exit, timeout := 0, cfg.ShutdownTimeout
	if err := awaitStop(logger, stop, hup, reload, srv.Errors()); err != nil {
		exit = 1
		if errors.Is(err, cluster.ErrMembershipLost) {
			// Peers have already taken this node's grains over and its
			// writes are fenced: a long drain would only delay the restart.
			timeout = min(timeout, lostShutdownTimeout)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		logger.Error("shutdown", "err", err)
		exit = 1
	}
	logger.Info("stopped")
	return exit
}

// lostShutdownTimeout bounds the shutdown of a node that lost its cluster
// membership: enough to close sockets with 1001 so phones reconnect to
// the other nodes, short enough for its supervisor to restart it promptly.
const lostShutdownTimeout = 2 * time.Second

// awaitStop blocks until a stop signal (nil) or a serve loop that ended on
// its own, or a lost cluster membership (its error), reloading the TLS
// certificate at each SIGHUP on the way. A nil hup never fires.
func awaitStop(logger *slog.Logger, stop, hup <-chan os.Signal, reload func() error, serveErr <-chan error) error {
	for {
		select {
		case <-hup:
			logger.Info("SIGHUP: reloading the TLS certificate")
			// Reload logs its own outcome, and a failure keeps the
			// certificate being served: nothing more to do here.
			_ = reload()
		case s := <-stop:
			logger.Info("shutting down", "signal", s.String())
			return nil
		case err := <-serveErr:
			if errors.Is(err, cluster.ErrMembershipLost) {
				logger.Error("lost cluster membership; exiting for the supervisor to restart", "err", err)
			} else {
				logger.Error("server stopped", "err", err)
			}
			if err == nil {
				err = errors.New("serve loop ended")
			}
			return err
		}
	}
}

// backup copies the database. A running server holds the file lock, so it is
// asked over the operator API (--server, GISBI_ADMIN_TOKEN); a stopped one is
// read directly from the data directory.
func backup(args []string, stdout, stderr io.Writer) int {
	var serverURL, target string
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--server" && i+1 < len(args):
			serverURL = args[i+1]
			i++
		case strings.HasPrefix(a, "--server="):
			serverURL = strings.TrimPrefix(a, "--server=")
		case !strings.HasPrefix(a, "-") && target == "" && (i == 0 || !strings.HasPrefix(args[i-1], "--") || strings.Contains(args[i-1], "=")):
			target = a
		default:
			rest = append(rest, a)
		}
	}
	if target == "" {
		fmt.Fprintln(stderr, "gisbi backup: missing target FILE")
		return 2
	}
	cfg, code := loadConfig(rest, stdout, stderr)
	if cfg == nil {
		return code
	}
	if cfg.PostgresStore() {
		fmt.Fprintln(stderr, "gisbi backup: the store is PostgreSQL; back it up with its own tool, e.g.\n  pg_dump --format=custom --file="+target+" \"$GISBI_STORE\"\nand restore with pg_restore --dbname=URL "+target)
		return 2
	}
	var err error
	if serverURL != "" {
		err = backupRemote(serverURL, cfg.AdminToken, target)
	} else {
		err = backupLocal(filepath.Join(cfg.DataDir, server.DBFile), target)
	}
	if err != nil {
		fmt.Fprintln(stderr, "gisbi backup:", err)
		return 1
	}
	fmt.Fprintln(stdout, "backup written to", target)
	return 0
}

func backupLocal(dbPath, target string) error {
	if _, err := os.Stat(dbPath); err != nil {
		return fmt.Errorf("no database at %s: %w", dbPath, err)
	}
	st, err := boltdb.Open(dbPath, boltdb.Options{Timeout: 2 * time.Second})
	if err != nil {
		return fmt.Errorf("%w (is the server running? then pass --server URL with GISBI_ADMIN_TOKEN set)", err)
	}
	defer st.Close()
	return st.Backup(context.Background(), target)
}

func backupRemote(base, token, target string) error {
	if token == "" {
		return errors.New("GISBI_ADMIN_TOKEN (--admin-token) is required to back up a running server")
	}
	req, err := http.NewRequest(http.MethodGet, strings.TrimRight(base, "/")+"/admin/backup", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 1024))
		return fmt.Errorf("server answered %s: %s", res.Status, strings.TrimSpace(string(b)))
	}
	tmp, err := os.CreateTemp(filepath.Dir(target), ".gisbi-backup-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, res.Body); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), target)
}

// migrate applies the schema migrations this binary carries, so operators
// can migrate ahead of a rollout instead of on the first node's start. On
// PostgreSQL it takes the same advisory lock as a starting node; on bbolt
// it needs the server stopped (the file is locked while it runs).
func migrate(args []string, stdout, stderr io.Writer) int {
	cfg, code := loadConfig(args, stdout, stderr)
	if cfg == nil {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if cfg.PostgresStore() {
		from, to, err := postgres.Migrate(ctx, cfg.Store)
		if err != nil {
			fmt.Fprintln(stderr, "gisbi migrate:", err)
			return 1
		}
		fmt.Fprintf(stdout, "PostgreSQL schema at version %d (was %d)\n", to, from)
		return 0
	}
	path := filepath.Join(cfg.DataDir, server.DBFile)
	st, err := boltdb.Open(path, boltdb.Options{Timeout: 2 * time.Second})
	if err != nil {
		fmt.Fprintf(stderr, "gisbi migrate: %v (is the server running? bbolt migrates on start anyway)\n", err)
		return 1
	}
	if err := st.Close(); err != nil {
		fmt.Fprintln(stderr, "gisbi migrate:", err)
		return 1
	}
	fmt.Fprintf(stdout, "bbolt file %s at schema version %d\n", path, boltdb.SchemaVersion)
	return 0
}
