package cronjob

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
)

// maxWalk bounds how many schedule times one search steps through.
const maxWalk = 1000

// schedule parses spec.schedule (five fields, or @yearly, @monthly,
// @weekly, @daily, @midnight, @hourly, @every <duration>) and spec.timeZone
// (an IANA name; unset means UTC).
func schedule(cj *batchv1.CronJob) (cron.Schedule, *time.Location, error) {
	loc := time.UTC
	if tz := cj.Spec.TimeZone; tz != nil && *tz != "" {
		l, err := time.LoadLocation(*tz)
		if err != nil {
			return nil, nil, fmt.Errorf("cronjob %s/%s: spec.timeZone %q: unknown time zone", cj.Namespace, cj.Name, *tz)
		}
		loc = l
	}
	s, err := cron.ParseStandard(cj.Spec.Schedule)
	if err != nil {
		return nil, nil, fmt.Errorf("cronjob %s/%s: spec.schedule %q: %w", cj.Namespace, cj.Name, cj.Spec.Schedule, err)
	}
	return s, loc, nil
}

// mostRecent is the latest schedule time after earliest and not after
// now (zero if none), and how many schedule times fell in between
// (maxWalk+1 meaning "more than maxWalk").
func mostRecent(s cron.Schedule, earliest, now time.Time) (time.Time, int) {
	last, n := walk(s, earliest, now)
	if n <= maxWalk {
		return last, n
	}
	// Too many to step through: find the latest from ever wider windows
	// back from now.
	for _, w := range []time.Duration{time.Hour, 24 * time.Hour, 31 * 24 * time.Hour, 366 * 24 * time.Hour, 5 * 366 * 24 * time.Hour} {
		from := now.Add(-w)
		if !from.After(earliest) {
			break
		}
		if l, m := walk(s, from, now); m > 0 && m <= maxWalk {
			return l, n
		}
	}
	return time.Time{}, n
}

func walk(s cron.Schedule, from, now time.Time) (time.Time, int) {
	var last time.Time
	n := 0
	for t := s.Next(from); !t.After(now); t = s.Next(t) {
		last = t
		if n++; n > maxWalk {
			break
		}
	}
	return last, n
}
