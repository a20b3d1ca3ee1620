package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
)

// read answers a request with a page title and a body (which embeds Frame).
type read func(r *http.Request) (title string, body any, err error)

// pageData is what the layout renders.
type pageData struct {
	Title string
	Frame Frame
	Body  any
}

func (s *Server) api(h read) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, body, err := h(r)
		if err != nil {
			code, msg := status(err)
			writeJSON(w, code, map[string]string{"error": msg})
			return
		}
		writeJSON(w, http.StatusOK, body)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func (s *Server) page(name string, h read) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		title, body, err := h(r)
		code := http.StatusOK
		if err != nil {
			var msg string
			code, msg = status(err)
			name, title, body = "error", http.StatusText(code), msg
		}
		data := pageData{Title: title, Body: body}
		if f, ok := frameOf(body); ok {
			data.Frame = f
		}
		var buf bytes.Buffer
		if err := s.pages[name].ExecuteTemplate(&buf, "layout", data); err != nil {
			slog.Error("dashboard: render", "page", name, "err", err)
			http.Error(w, "the page could not be drawn", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		_, _ = buf.WriteTo(w)
	}
}

func frameOf(body any) (Frame, bool) {
	switch b := body.(type) {
	case Overview:
		return b.Frame, true
	case KindTable:
		return b.Frame, true
	case ObjectPage:
		return b.Frame, true
	case EventList:
		return b.Frame, true
	}
	return Frame{}, false
}

func status(err error) (int, string) {
	var he *httpError
	if errors.As(err, &he) {
		return he.code, he.msg
	}
	slog.Error("dashboard", "err", err)
	return http.StatusInternalServerError, err.Error()
}

// parsePages parses each page with the layout, as a set of its own.
func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"link":  func(f Frame, path string) string { return f.link(path) },
		"upper": strings.ToUpper,
		"lower": strings.ToLower,
		"short": func(t string) string { return strings.TrimSuffix(strings.TrimPrefix(t, "dev.gantry."), ".v1") },
	}
	pages := map[string]*template.Template{}
	for _, name := range []string{"overview", "kind", "object", "error"} {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/events.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		pages[name] = t
	}
	return pages, nil
}
