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

	"github.com/gantry-sh/gantry/schemas/jsonscan"
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
	if !bus.IsCommandType(env.Type, k.Token, verb) {
		return cmd, env, k, apierrors.NewBadRequest(fmt.Sprintf("CloudEvent type %q does not match subject %s: want %q", env.Type, m.Subject, bus.CommandType(k.Token, verb)))
	}
	if !k.Allows(verb) {
		return cmd, env, k, apierrors.NewMethodNotSupported(k.GroupResource(), verb)
	}
	if s.opt.Validator != nil {
		if err := s.opt.Validator.ValidateCommand(k.Token, verb, env.Data); err != nil {
			return cmd, env, k, apierrors.NewBadRequest(fmt.Sprintf("%s %s: CloudEvent data does not match schema %s: %v", verb, k.Plural, bus.CommandType(k.Token, verb), err))
		}
	}
	cmd, err = decodeCommand(env.Data, s.opt.Validator != nil)
	if err != nil {
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

// decodeCommand reads a command's data strictly: an unknown field is an
// error. Data that passed the schema is JSON, and when its members are
// known fields, each given once, it is read member by member: the object
// is taken as it is instead of being scanned twice more (the strict
// decoder's readValue, then its skip into the RawMessage). Anything else,
// and any error, goes through the strict decoder, for its message.
func decodeCommand(data []byte, isJSON bool) (aggregates.Command, error) {
	if isJSON {
		if cmd, ok := decodeKnownCommand(data); ok {
			return cmd, nil
		}
	}
	var cmd aggregates.Command
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(&cmd)
	return cmd, err
}

// decodeKnownCommand is decodeCommand's fast path over known-valid JSON;
// ok is false whenever the strict decoder might read data differently.
func decodeKnownCommand(b []byte) (cmd aggregates.Command, ok bool) {
	var seen uint16
	ok = jsonscan.Object(b, func(key []byte, _ bool, value []byte) bool {
		// an escaped or differently cased key misses every case of commandField
		bit, ok := commandField(&cmd, string(key), value)
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	})
	return cmd, ok
}

// commandField sets the field of cmd named key (its JSON name, exactly)
// from v, and returns a bit for the field to catch repeats.
func commandField(cmd *aggregates.Command, key string, v []byte) (uint16, bool) {
	switch key {
	case "namespace":
		return 1 << 0, stringField(&cmd.Namespace, v)
	case "name":
		return 1 << 1, stringField(&cmd.Name, v)
	case "resourceVersion":
		return 1 << 2, stringField(&cmd.ResourceVersion, v)
	case "nodeName":
		return 1 << 3, stringField(&cmd.NodeName, v)
	case "object":
		return 1 << 4, rawField(&cmd.Object, v)
	case "status":
		return 1 << 5, rawField(&cmd.Status, v)
	case "patch":
		return 1 << 6, rawField(&cmd.Patch, v)
	case "replicas":
		if n, ok := jsonscan.Int(v, 32); ok {
			cmd.Replicas = new(int32(n))
			return 1 << 7, true
		}
		return 1 << 7, json.Unmarshal(v, &cmd.Replicas) == nil
	case "labels":
		return 1 << 8, labelsField(&cmd.Labels, v) || json.Unmarshal(v, &cmd.Labels) == nil
	case "gracePeriodSeconds":
		return 1 << 9, json.Unmarshal(v, &cmd.GracePeriodSeconds) == nil
	}
	return 0, false
}

func stringField(dst *string, v []byte) bool {
	if jsonscan.ASCIIString(v) {
		*dst = string(v[1 : len(v)-1])
		return true
	}
	return json.Unmarshal(v, dst) == nil
}

// labelsField reads a label command's map when every key and value is a
// string of ASCII without escapes, or a value null; false: decode it.
func labelsField(dst *map[string]*string, v []byte) bool {
	labels := map[string]*string{}
	ok := jsonscan.Object(v, func(key []byte, plain bool, value []byte) bool {
		if !plain || !jsonscan.ASCII(key) {
			return false
		}
		if string(value) == "null" {
			labels[string(key)] = nil
			return true
		}
		if !jsonscan.ASCIIString(value) {
			return false
		}
		labels[string(key)] = new(string(value[1 : len(value)-1]))
		return true
	})
	if ok {
		*dst = labels
	}
	return ok
}

// rawField takes a JSON value as it is; null is left to the strict decoder.
func rawField(dst *json.RawMessage, v []byte) bool {
	if string(v) == "null" {
		return false
	}
	*dst = v
	return true
}
