package service

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
)

// Rejection is what GANTRY_REJECTED records of a refused command.
type Rejection struct {
	Time    time.Time       `json:"time"`
	ID      string          `json:"id,omitempty"`
	Source  string          `json:"source,omitempty"`
	Actor   string          `json:"actor,omitempty"`
	Type    string          `json:"type,omitempty"`
	Command json.RawMessage `json:"command,omitempty"` // omitted for secrets
	Status  *metav1.Status  `json:"status"`
}

// reject records a refused command for audit. A Secret command's body is
// not recorded: it may hold the values the stream must never show.
func (s *Service) reject(ctx context.Context, kind, verb string, body []byte, env bus.Envelope, st *metav1.Status) {
	r := Rejection{Time: s.opt.Now().UTC(), ID: env.ID, Source: env.Source, Actor: env.Actor, Type: env.Type, Status: st}
	if !aggregates.IsSealed(kind) {
		if json.Valid(body) {
			r.Command = body
		} else {
			r.Command, _ = json.Marshal(string(body))
		}
	}
	data, _ := json.Marshal(r)
	if _, err := s.conn.JS.Publish(ctx, bus.RejectedSubject(kind, verb), data); err != nil {
		s.opt.Metrics.RejectRecordFailures.Inc()
	}
}

// statusOf turns any error into a Kubernetes Status for the reply.
func statusOf(err error) *metav1.Status {
	var se apierrors.APIStatus
	if errors.As(err, &se) {
		st := se.Status()
		return &st
	}
	st := apierrors.NewInternalError(err).Status()
	return &st
}
