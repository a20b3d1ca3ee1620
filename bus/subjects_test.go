package bus

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTokenRoundTrip(t *testing.T) {
	for _, s := range []string{"web", "my.app", "a_b", "_", "x>y", "a*b c", "Ünï", "kube-system", "10.96.0.1", ""} {
		tok := EncodeToken(s)
		if strings.ContainsAny(tok, ".*> \t") {
			t.Errorf("EncodeToken(%q) = %q: not a single safe token", s, tok)
		}
		got, err := DecodeToken(tok)
		if err != nil || got != s {
			t.Errorf("DecodeToken(EncodeToken(%q)=%q) = %q, %v", s, tok, got, err)
		}
	}
}

func TestEventSubjectRoundTrip(t *testing.T) {
	cases := []struct{ kind, ns, name, want string }{
		{"deployment", "default", "web", "gantry.evt.deployment.default.web"},
		{"configmap", "team.a", "app.config", "gantry.evt.configmap.team_2Ea.app_2Econfig"},
		{"namespace", "", "prod", "gantry.evt.namespace._.prod"},
	}
	for _, c := range cases {
		got := EventSubject(c.kind, c.ns, c.name)
		if got != c.want {
			t.Errorf("EventSubject(%q,%q,%q) = %q, want %q", c.kind, c.ns, c.name, got, c.want)
		}
		k, n, name, err := ParseEventSubject(got)
		if err != nil || k != c.kind || n != c.ns || name != c.name {
			t.Errorf("ParseEventSubject(%q) = %q %q %q %v", got, k, n, name, err)
		}
	}
}

func TestDecodeTokenRejectsBadEscapes(t *testing.T) {
	for _, tok := range []string{"a_", "a_2", "a_zz", "a_2e"} {
		if _, err := DecodeToken(tok); err == nil {
			t.Errorf("DecodeToken(%q) accepted a bad escape", tok)
		}
	}
}

func FuzzTokenRoundTrip(f *testing.F) {
	for _, s := range []string{"web", "a.b", "_", "_2E", "ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok := EncodeToken(s)
		if strings.ContainsAny(tok, ".*> \t\r\n") || !utf8.ValidString(tok) {
			t.Fatalf("unsafe token %q for %q", tok, s)
		}
		got, err := DecodeToken(tok)
		if err != nil || got != s {
			t.Fatalf("round trip %q -> %q -> %q, %v", s, tok, got, err)
		}
	})
}

func TestParseCommandSubject(t *testing.T) {
	for _, c := range []struct{ subject, kind, verb string }{
		{CommandSubject("deployment", "scale"), "deployment", "scale"},
		{CommandSubject("my.kind", "a_b"), "my.kind", "a_b"},
		{"gantry.cmd..scale", "", "scale"},
	} {
		kind, verb, err := ParseCommandSubject(c.subject)
		if err != nil || kind != c.kind || verb != c.verb {
			t.Errorf("ParseCommandSubject(%q) = %q, %q, %v; want %q, %q", c.subject, kind, verb, err, c.kind, c.verb)
		}
	}
	for _, s := range []string{"gantry.cmd.pod", "gantry.cmd.pod.bind.extra", "gantry.evt.pod.bind", "gantry.cmdx.pod.bind", "xgantry.cmd.pod.bind", "gantry.cmd.pod.a_zz"} {
		if _, _, err := ParseCommandSubject(s); err == nil {
			t.Errorf("ParseCommandSubject(%q) accepted it", s)
		}
	}
}
