package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// ServerConfig configures an HTTP server for the API.
type ServerConfig struct {
	// Addr is host:port to listen on; port 0 picks a free one.
	Addr string
	// Handler is what it serves (API.Handler, usually). Required.
	Handler http.Handler
	// Timeouts (defaults 30s read, 60s write, 120s idle; header read 10s).
	ReadTimeout, WriteTimeout, IdleTimeout, ReadHeaderTimeout time.Duration
	// Logger; nil discards.
	Logger *slog.Logger
}

// Server is a running HTTP server; Stop drains it.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	log  *slog.Logger
	done chan struct{}
	err  error

	stopOnce sync.Once
	stopErr  error
}

// StartServer listens on cfg.Addr and serves in the background until Stop.
func StartServer(cfg ServerConfig) (*Server, error) {
	if cfg.Handler == nil {
		return nil, errors.New("gateway: server: Handler is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.ReadTimeout, 30*time.Second)
	def(&cfg.WriteTimeout, 60*time.Second)
	def(&cfg.IdleTimeout, 120*time.Second)
	def(&cfg.ReadHeaderTimeout, 10*time.Second)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("gateway: listen %s: %w", cfg.Addr, err)
	}
	s := &Server{
		srv: &http.Server{
			Handler:           cfg.Handler,
			ReadTimeout:       cfg.ReadTimeout,
			ReadHeaderTimeout: cfg.ReadHeaderTimeout,
			WriteTimeout:      cfg.WriteTimeout,
			IdleTimeout:       cfg.IdleTimeout,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
		},
		ln: ln, log: cfg.Logger, done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.err = err
			s.log.Error("http server stopped", "err", err)
		}
	}()
	s.log.Info("http api listening", "addr", ln.Addr().String())
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Stop stops accepting connections, waits for requests in flight until ctx
// ends (then closes what is left) and waits for the serve loop. Safe to
// call twice.
func (s *Server) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		err := s.srv.Shutdown(ctx)
		if err != nil {
			_ = s.srv.Close()
		}
		<-s.done
		s.stopErr = errors.Join(err, s.err)
	})
	return s.stopErr
}
