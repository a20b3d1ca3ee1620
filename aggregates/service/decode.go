package service

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
)

// decode reads the command CloudEvent: the envelope, its type against the
// subject, its data against the command's schema, then the command itself.
func (s *Service) decode(m *nats.Msg) (aggregates.Command, bus.Envelope, *aggregates.Kind, error) {
	var cmd aggregates.Command
	kindName, verb, err := bus.ParseCommandSubject(m.Subject)
	if err != nil {
		return cmd, bus.Envelope{}, nil, apierrors.NewBadRequest(err.Error())
	}
	k, ok := s.opt.Kinds.Lookup(kindName)
	if !ok {
		return cmd, bus.Envelope{}, nil, apierrors.NewBadRequest(fmt.Sprintf("the server doesn't have a resource type %q", kindName))
	}
	env, err := bus.DecodeCloudEvent(m.Data, m.Header)
	if err != nil {
		return cmd, env, k, apierrors.NewBadRequest(fmt.Sprintf("%s %s: %v", verb, k.Plural, err))
	}
	if want := bus.CommandType(k.Token, verb); env.Type != want {
		return cmd, env, k, apierrors.NewBadRequest(fmt.Sprintf("CloudEvent type %q does not match subject %s: want %q", env.Type, m.Subject, want))
	}
	if !k.Allows(verb) {
		return cmd, env, k, apierrors.NewMethodNotSupported(k.GroupResource(), verb)
	}
	if s.opt.Validator != nil {
		if err := s.opt.Validator.ValidateCommand(k.Token, verb, env.Data); err != nil {
			return cmd, env, k, apierrors.NewBadRequest(fmt.Sprintf("%s %s: CloudEvent data does not match schema %s: %v", verb, k.Plural, bus.CommandType(k.Token, verb), err))
		}
	}
	dec := json.NewDecoder(bytes.NewReader(env.Data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cmd); err != nil {
		return cmd, env, k, apierrors.NewBadRequest(fmt.Sprintf("%s %s: command data: %v", verb, k.Plural, err))
	}
	cmd.Kind, cmd.Verb = k.Token, verb
	if err := scope(k, &cmd); err != nil {
		return cmd, env, k, err
	}
	if env.Actor == "" {
		env.Actor = env.Source
	}
	return cmd, env, k, nil
}

// scope checks name and namespace against the kind's scope.
func scope(k *aggregates.Kind, c *aggregates.Command) error {
	if c.Name == "" {
		return apierrors.NewBadRequest(fmt.Sprintf("%s %s: a name is required", c.Verb, k.Plural))
	}
	if k.Namespaced && c.Namespace == "" {
		c.Namespace = metav1.NamespaceDefault
	}
	if !k.Namespaced && c.Namespace != "" {
		return apierrors.NewBadRequest(fmt.Sprintf("%s %q is cluster-scoped: no namespace may be given (got %q)", k.Name, c.Name, c.Namespace))
	}
	return nil
}
