package dashboard

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gantry-sh/gantry/projections"
)

// maxBacklog bounds how many missed events one wake-up of the live feed
// sends; a client further behind skips to the newest.
const maxBacklog = 500

// keepAlive is how often an idle live feed sends a comment, so proxies
// and browsers keep the connection.
const keepAlive = 25 * time.Second

// feed wakes live streams when the view folds something. changed runs in
// the projector's goroutine: it never blocks.
type feed struct {
	mu sync.Mutex
	ch chan struct{}
}

func newFeed() *feed { return &feed{ch: make(chan struct{})} }

func (f *feed) changed(projections.Change) {
	f.mu.Lock()
	close(f.ch)
	f.ch = make(chan struct{})
	f.mu.Unlock()
}

// wait is closed at the next change.
func (f *feed) wait() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ch
}

// stream sends every event folded from now on (or after Last-Event-ID, or
// ?after=) as Server-Sent Events: "event: gantry", the id its sequence,
// the data an Event as JSON. The view is only the wake-up; events are
// read from the store, so each carries who and why.
func (s *Server) stream(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	f := Frame{Namespace: r.URL.Query().Get("namespace")}
	cursor := s.view.Applied()
	for _, after := range []string{r.Header.Get("Last-Event-ID"), r.URL.Query().Get("after")} {
		if n, err := strconv.ParseUint(after, 10, 64); err == nil {
			cursor = min(n, cursor)
		}
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	fmt.Fprint(w, "retry: 2000\n\n")
	flusher.Flush()
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		woken := s.feed.wait()
		if applied := s.view.Applied(); applied > cursor {
			if applied-cursor > maxBacklog {
				cursor = applied - maxBacklog
			}
			if err := s.send(w, r, f, cursor+1, applied); err != nil {
				return
			}
			cursor = applied
			flusher.Flush()
		}
		select {
		case <-woken:
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			flusher.Flush()
		case <-r.Context().Done():
			return
		}
	}
}

func (s *Server) send(w http.ResponseWriter, r *http.Request, f Frame, from, upTo uint64) error {
	return s.replay(r.Context(), f, from, upTo, func(e Event) error {
		body, err := json.Marshal(e)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "id: %d\nevent: gantry\ndata: %s\n\n", e.Seq, body)
		return err
	})
}
