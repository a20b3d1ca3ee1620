package runtime

import (
	"testing"
)

func TestLastLines(t *testing.T) {
	cases := []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\nc\n", 1, "c\n"},
		{"a\nb\nc\n", 2, "b\nc\n"},
		{"a\nb\nc", 1, "c"},
		{"a\nb\n", 5, "a\nb\n"},
		{"", 3, ""},
	}
	for _, c := range cases {
		if got := string(lastLines([]byte(c.in), c.n)); got != c.want {
			t.Errorf("lastLines(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}

func TestReason(t *testing.T) {
	cases := []struct {
		code int
		oom  bool
		want string
	}{{0, false, ReasonCompleted}, {1, false, ReasonError}, {137, true, ReasonOOMKilled}, {137, false, ReasonError}}
	for _, c := range cases {
		if got := reason(c.code, c.oom); got != c.want {
			t.Errorf("reason(%d, %t) = %s, want %s", c.code, c.oom, got, c.want)
		}
	}
}

func TestContainerID(t *testing.T) {
	short := containerID("uid-1", "web", 2)
	if short != "uid-1-web-2" {
		t.Errorf("short id = %s", short)
	}
	long := containerID("0123456789abcdef0123456789abcdef0123", "a-very-long-container-name-that-goes-on-and-on", 0)
	if len(long) > 76 || !validID.MatchString(long) {
		t.Errorf("long id %q invalid", long)
	}
}

func TestResolvConf(t *testing.T) {
	got := resolvConf(DNSConfig{Nameservers: []string{"10.96.0.10"}, Searches: []string{"a.svc", "svc"}, Options: []string{"ndots:5"}})
	want := "nameserver 10.96.0.10\nsearch a.svc svc\noptions ndots:5\n"
	if got != want {
		t.Errorf("resolv.conf = %q", got)
	}
}
