package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smsgw/smsgw/bridge"
	"github.com/smsgw/smsgw/bus"
	"github.com/smsgw/smsgw/config"
	"github.com/smsgw/smsgw/httpapi"
)

// startBridge runs the webhook side in this process: it opens the endpoint
// store and brings the config-declared endpoints in line, starts the
// delivery workers and registers the /v1/webhooks… routes on mux.
//
// The routes are mounted on mux under /v1/webhooks, wrapped in their own
// httpapi.Auth(keys) and body cap, so mux may be the gateway's root mux or
// its already-authenticated /v1/ mux (authenticating twice with the same
// keys is harmless).
//
// reg (nil: none) receives the bridge's metrics. ready is the bridge's
// readiness (a stalled delivery queue names its endpoint) for /readyz.
// stop stops the delivery workers, letting in-flight attempts finish
// within its context; it is safe to call twice.
func startBridge(ctx context.Context, cfg config.Config, b *bus.Bus, mux *http.ServeMux, keys httpapi.Keys, reg prometheus.Registerer, log *slog.Logger) (stop func(context.Context) error, ready func() error, err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "bridge")
	store, err := bridge.NewEndpointStore(ctx, b)
	if err != nil {
		return nil, nil, err
	}
	if err := store.SyncStatic(ctx, cfg.Webhooks); err != nil {
		return nil, nil, err
	}
	if n := len(cfg.Webhooks); n > 0 {
		log.Info("static webhook endpoints synced", "count", n)
	}

	// Delivery workers (bridge-delivery engineer's part).
	br, err := bridge.New(bridge.Config{
		Bus:      b,
		Store:    store,
		Settings: cfg.Bridge,
		Version:  version,
		Logger:   log,
		Registry: reg,
	})
	if err != nil {
		return nil, nil, err
	}
	if err := br.Start(ctx); err != nil {
		return nil, nil, errors.Join(err, br.Close(context.WithoutCancel(ctx)))
	}

	api, err := bridge.NewAPI(bridge.APIConfig{
		Store:               store,
		Bus:                 b,
		Deliverer:           br.Deliverer(),
		AllowPrivateTargets: cfg.Bridge.AllowPrivateTargets,
		Logger:              log,
	})
	if err != nil {
		return nil, nil, errors.Join(err, br.Close(context.WithoutCancel(ctx)))
	}
	inner := http.NewServeMux()
	api.Register(inner)
	h := httpapi.ProblemErrors(httpapi.Auth(keys, httpapi.MaxBytes(cfg.HTTP.MaxBodyBytes, inner)))
	mux.Handle("/v1/webhooks", h)
	mux.Handle("/v1/webhooks/", h)
	return func(ctx context.Context) error {
		if err := br.Close(ctx); err != nil {
			return fmt.Errorf("bridge: stop: %w", err)
		}
		return nil
	}, br.Ready, nil
}
