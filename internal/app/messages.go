package app

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/netip"
	"os"
	"sync"

	"github.com/valvhq/valv/internal/message"
)

// buildMessages builds the message service and its delivery transport.
func (a *App) buildMessages() error {
	c := a.cfg.Messages
	var allow []netip.Prefix
	for _, n := range c.AllowNetworks {
		p, err := netip.ParsePrefix(n)
		if err != nil {
			return fmt.Errorf("messages.allow_networks: %w", err)
		}
		allow = append(allow, p)
	}
	var roots *x509.CertPool
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return fmt.Errorf("messages.ca_file: %w", err)
		}
		if roots, err = x509.SystemCertPool(); err != nil || roots == nil {
			roots = x509.NewCertPool()
		}
		if !roots.AppendCertsFromPEM(pem) {
			return fmt.Errorf("messages.ca_file: %s holds no PEM certificate", c.CAFile)
		}
	}
	a.webhookRoots = roots
	a.msgTransport = message.NewTransport(message.TransportOptions{Policy: message.NetworkPolicy{Allow: allow, Resolver: a.resolver},
		RootCAs: roots, Timeout: c.Timeout, Now: a.now})
	a.closers = append(a.closers, func() error { a.msgTransport.Close(); return nil })
	a.Messages = message.New(message.Options{DB: a.db, Keys: a.Keys, Trail: a.Trail, Documents: a.Documents, Alerts: alerts{a},
		Sender: a.msgTransport, Node: a.Jobs.Node(), RetryFor: c.RetryFor, Timeout: c.Timeout, Workers: c.Workers, MaxSize: c.MaxSize,
		Kick: a.kickDeliveries, Pins: pins{a}, Logger: a.log, Now: a.now})
	return nil
}

// kickDeliveries asks for a delivery pass now (after a message is queued).
func (a *App) kickDeliveries() {
	select {
	case a.msgKick <- struct{}{}:
	default:
	}
}

// DeliverMessages makes the delivery attempts that are due.
func (a *App) DeliverMessages(ctx context.Context) (message.DeliverResult, error) {
	if a.Keys.Sealed() {
		return message.DeliverResult{}, nil
	}
	return a.Messages.Deliver(a.systemContext(ctx, "message.deliver"))
}

// startDeliveries delivers queued messages as soon as they are queued on
// this node (the messages.deliver job catches up with the rest); the
// returned function waits for it to stop after ctx ends.
func (a *App) startDeliveries(ctx context.Context) (wait func()) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-a.msgKick:
				if _, err := a.DeliverMessages(ctx); err != nil && ctx.Err() == nil {
					a.log.Error("message delivery pass failed", "error", err)
				}
			}
		}
	}()
	return wg.Wait
}
