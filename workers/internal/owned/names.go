package owned

import (
	"math/rand/v2"
	"sync"
)

// nameAlphabet is the Kubernetes generateName alphabet (no vowels, no
// look-alike digits, so names do not spell words).
const nameAlphabet = "bcdfghjklmnpqrstvwxz2456789"

// Names returns a name generator that appends five characters drawn from
// r to the prefix, as the Kubernetes API server does for generateName. It
// is safe for concurrent use.
func Names(r *rand.Rand) func(prefix string) string {
	var mu sync.Mutex
	return func(prefix string) string {
		b := make([]byte, 5)
		mu.Lock()
		for i := range b {
			b[i] = nameAlphabet[r.IntN(len(nameAlphabet))]
		}
		mu.Unlock()
		return prefix + string(b)
	}
}

// RandomNames is Names with a randomly seeded source.
func RandomNames() func(prefix string) string {
	return Names(rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())))
}
