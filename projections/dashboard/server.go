package dashboard

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"time"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/aggregates/seal"
	"github.com/gantry-sh/gantry/projections"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options are what the dashboard reads.
type Options struct {
	View   *projections.View    // the live current state
	Store  Store                // the event store: history, events, past views
	Kinds  *aggregates.Registry // the kinds to show
	Sealer *seal.Sealer         // opens Secret events, to show their keys; nil: keys of past Secrets unknown
}

// Server serves the dashboard. It only reads.
type Server struct {
	view   *projections.View
	store  Store
	kinds  *aggregates.Registry
	sealer *seal.Sealer
	past   *history
	feed   *feed
	pages  map[string]*template.Template
}

// New makes a dashboard over o. It registers a View.OnChange callback
// (which never blocks) to wake the live event feed.
func New(o Options) (*Server, error) {
	if o.View == nil || o.Store == nil || o.Kinds == nil {
		return nil, errors.New("dashboard: a view, a store and the kinds are required")
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	s := &Server{
		view: o.View, store: o.Store, kinds: o.Kinds, sealer: o.Sealer,
		past:  &history{store: o.Store, sealer: o.Sealer},
		feed:  newFeed(),
		pages: pages,
	}
	o.View.OnChange(s.feed.changed)
	return s, nil
}

// Handler routes the pages, the API and the static files.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", cacheFor(time.Hour, http.FileServerFS(static))))

	mux.HandleFunc("GET /{$}", s.page("overview", s.overview))
	mux.HandleFunc("GET /kinds/{kind}", s.page("kind", s.kindTable))
	mux.HandleFunc("GET /objects/{kind}/{name}", s.page("object", s.object))
	mux.HandleFunc("GET /objects/{kind}/{namespace}/{name}", s.page("object", s.object))

	mux.HandleFunc("GET /api/overview", s.api(s.overview))
	mux.HandleFunc("GET /api/kinds/{kind}", s.api(s.kindTable))
	mux.HandleFunc("GET /api/objects/{kind}/{name}", s.api(s.object))
	mux.HandleFunc("GET /api/objects/{kind}/{namespace}/{name}", s.api(s.object))
	mux.HandleFunc("GET /api/events", s.api(s.events))
	mux.HandleFunc("GET /api/events/stream", s.stream)
	return securityHeaders(mux)
}

// Serve runs the dashboard on addr until ctx ends; an empty addr turns it
// off.
func Serve(ctx context.Context, addr string, o Options) error {
	if addr == "" {
		return nil
	}
	s, err := New(o)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("dashboard on %s: %w", addr, err)
	}
	// No write timeout: the live feed is one long response.
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("dashboard on %s: %w", addr, err)
	}
	return nil
}

func cacheFor(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(d.Seconds())))
		h.ServeHTTP(w, r)
	})
}

// securityHeaders: everything the page loads comes from here.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		h.ServeHTTP(w, r)
	})
}
